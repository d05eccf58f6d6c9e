#include "perturbfit/simulate/guide_library.hpp"

#include <algorithm>
#include <cmath>
#include <set>
#include <sstream>

#include "perturbfit/core/error.hpp"
#include "perturbfit/core/random.hpp"

namespace perturbfit::simulate {

namespace {

// A guide's efficiency depends only on its name, so a guide used alone and in a pair acts alike.
double guide_kappa(const LibraryOptions& o, std::uint64_t seed, const std::string& guide) {
  RandomStream rs(seed, StreamDomain::kGuide, stream_id(guide));
  const double k = o.kappa + o.kappa_sd * rs.normal();
  return o.kappa >= 0 ? std::clamp(k, 0.01, 1.0) : std::min(k, -0.01);
}

int lookup_gene(const model::ModelParameters& p, const std::string& name, const std::string& where) {
  const int g = p.gene_index(name);
  if (g < 0) {
    std::string hint;
    std::size_t best = std::string::npos;
    for (const auto& n : p.gene_names) {
      std::size_t d = 0;
      for (std::size_t i = 0; i < std::max(n.size(), name.size()); ++i)
        d += (i < n.size() && i < name.size() && n[i] == name[i]) ? 0 : 1;
      if (d < best) best = d, hint = n;
    }
    throw UsageError(where + ": guide target '" + name + "' is not a gene of the model (" + std::to_string(p.genes) +
                     " genes, e.g. '" + hint + "')");
  }
  return g;
}

PopulationClass targeting_class(const LibraryOptions& o, const model::ModelParameters& p, std::uint64_t seed,
                                std::vector<int> targets, int guide_index) {
  std::sort(targets.begin(), targets.end());
  PopulationClass c;
  for (int g : targets) {
    const std::string name = p.gene_names[static_cast<std::size_t>(g)];
    const std::string guide = name + "_g" + std::to_string(guide_index + 1);
    c.perturbation += (c.perturbation.empty() ? "" : "+") + name;
    c.guide += (c.guide.empty() ? "" : "+") + guide;
    c.knock.emplace_back(g, guide_kappa(o, seed, guide));
  }
  return c;
}

// Two library elements in one cell: the union of their knocks; a gene hit twice keeps
// the residual expression of both guides, 1 - (1-k1)(1-k2).
PopulationClass combine(const PopulationClass& a, const PopulationClass& b, const model::ModelParameters& p,
                        const std::string& control_label) {
  PopulationClass c;
  std::vector<std::pair<int, double>> knock = a.knock;
  for (const auto& [g, k] : b.knock) {
    auto it = std::find_if(knock.begin(), knock.end(), [&](const auto& e) { return e.first == g; });
    if (it == knock.end())
      knock.emplace_back(g, k);
    else
      it->second = 1.0 - (1.0 - it->second) * (1.0 - k);
  }
  std::sort(knock.begin(), knock.end());
  c.knock = knock;
  for (const auto& [g, k] : knock)
    c.perturbation += (c.perturbation.empty() ? "" : "+") + p.gene_names[static_cast<std::size_t>(g)];
  c.control = knock.empty();
  if (c.control) c.perturbation = control_label;
  c.guide = a.guide + "+" + b.guide;
  return c;
}

}  // namespace

std::vector<PopulationClass> build_library(const LibraryOptions& o, const model::ModelParameters& p, std::uint64_t seed,
                                           const std::string& where) {
  if (o.guides_per_target < 1) throw UsageError(where + ": guides_per_target must be >= 1");
  if (o.control_guides < 0 || o.singles < 0 || o.pairs < 0)
    throw UsageError(where + ": singles, pairs and control_guides must be >= 0");
  if (o.controls_fraction < 0.0 || o.controls_fraction >= 1.0)
    throw UsageError(where + ": controls_fraction must be in [0, 1)");
  if (o.controls_fraction > 0.0 && o.control_guides == 0)
    throw UsageError(where + ": controls_fraction > 0 needs control_guides >= 1");
  if (o.kappa > 1.0 || o.kappa == 0.0)
    throw UsageError(where + ": kappa must be in (0, 1] (knockdown) or < 0 (activation)");
  if (o.tau < 0.0) throw UsageError(where + ": tau must be >= 0");
  if (o.moi < 0.0) throw UsageError(where + ": moi must be >= 0");

  // Single targets: the explicit ones, then random distinct others.
  std::vector<int> singles;
  std::set<int> used;
  for (const auto& name : o.targets) {
    const int g = lookup_gene(p, name, where);
    if (used.insert(g).second) singles.push_back(g);
  }
  if (static_cast<int>(used.size()) + o.singles > p.genes)
    throw UsageError(where + ": cannot draw " + std::to_string(o.singles) + " single targets from " +
                     std::to_string(p.genes) + " genes");
  {
    RandomStream rs(seed, StreamDomain::kLibrary, 0);
    std::vector<int> pool;
    for (int g = 0; g < p.genes; ++g)
      if (!used.count(g)) pool.push_back(g);
    for (int i = 0; i < o.singles; ++i) {
      const auto j = static_cast<std::size_t>(i) + rs.below(pool.size() - static_cast<std::size_t>(i));
      std::swap(pool[static_cast<std::size_t>(i)], pool[j]);
      singles.push_back(pool[static_cast<std::size_t>(i)]);
    }
  }
  // Pairs: the explicit combinations, then random distinct pairs of single targets.
  std::vector<std::vector<int>> pairs;
  std::set<std::pair<int, int>> seen;
  for (const auto& combo : o.combinations) {
    std::vector<int> t;
    std::stringstream ss(combo);
    for (std::string name; std::getline(ss, name, '+');) t.push_back(lookup_gene(p, name, where));
    std::sort(t.begin(), t.end());
    t.erase(std::unique(t.begin(), t.end()), t.end());
    if (t.size() < 2) throw UsageError(where + ": combination '" + combo + "' needs two different genes");
    if (t.size() == 2) seen.insert({t[0], t[1]});
    pairs.push_back(t);
  }
  const std::size_t possible = singles.size() * (singles.size() - (singles.empty() ? 0 : 1)) / 2;
  if (static_cast<std::size_t>(o.pairs) + seen.size() > possible)
    throw UsageError(where + ": cannot draw " + std::to_string(o.pairs) + " pairs from " +
                     std::to_string(singles.size()) + " single targets");
  {
    RandomStream rs(seed, StreamDomain::kLibrary, 1);
    while (static_cast<int>(pairs.size()) < o.pairs + static_cast<int>(o.combinations.size())) {
      int a = singles[rs.below(singles.size())], b = singles[rs.below(singles.size())];
      if (a == b) continue;
      if (a > b) std::swap(a, b);
      if (seen.insert({a, b}).second) pairs.push_back({a, b});
    }
  }

  std::vector<PopulationClass> classes;
  for (int j = 0; j < o.control_guides; ++j) {
    PopulationClass c;
    c.perturbation = o.control_label;
    c.guide = "NT_g" + std::to_string(j + 1);
    c.control = true;
    classes.push_back(c);
  }
  for (int g : singles)
    for (int j = 0; j < o.guides_per_target; ++j) classes.push_back(targeting_class(o, p, seed, {g}, j));
  for (const auto& t : pairs)
    for (int j = 0; j < o.guides_per_target; ++j) classes.push_back(targeting_class(o, p, seed, t, j));
  const std::size_t n_control = static_cast<std::size_t>(o.control_guides);
  const std::size_t n_target = classes.size() - n_control;
  if (classes.empty()) throw UsageError(where + ": the library is empty (no targets and no control guides)");
  const double control_share = n_target == 0 ? 1.0 : (n_control == 0 ? 0.0 : o.controls_fraction);
  for (std::size_t i = 0; i < classes.size(); ++i) {
    const double share = i < n_control ? control_share / static_cast<double>(n_control)
                                       : (1.0 - control_share) / static_cast<double>(n_target);
    classes[i].log_weight = std::log(share);
  }
  // Multiple infection: a fraction P(k >= 2 | k >= 1) of cells carries two library elements.
  if (o.moi > 0.0) {
    const double e = std::exp(-o.moi);
    const double doublet_share = (1.0 - e - o.moi * e) / (1.0 - e);
    const std::size_t n_single_classes = classes.size();
    const auto n_doublets = std::max<std::size_t>(
        1, static_cast<std::size_t>(std::lround(doublet_share * static_cast<double>(n_single_classes))));
    RandomStream rs(seed, StreamDomain::kLibrary, 2);
    for (auto& c : classes) c.log_weight += std::log1p(-doublet_share);
    for (std::size_t k = 0; k < n_doublets && n_single_classes > 1; ++k) {
      const auto a = rs.below(n_single_classes);
      auto b = rs.below(n_single_classes - 1);
      if (b >= a) ++b;
      PopulationClass d = combine(classes[a], classes[b], p, o.control_label);
      d.log_weight = std::log(doublet_share / static_cast<double>(n_doublets));
      classes.push_back(d);
    }
  }
  return classes;
}

}  // namespace perturbfit::simulate
