#include "perturbfit/model/generators.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iomanip>
#include <map>
#include <sstream>

#include "perturbfit/core/error.hpp"
#include "perturbfit/core/random.hpp"
#include "perturbfit/model/edge_list.hpp"

namespace perturbfit::model {

std::string gene_name(int index, int total) {
  const auto width = static_cast<int>(std::to_string(std::max(total, 1)).size());
  std::ostringstream name;
  name << 'G' << std::setfill('0') << std::setw(width) << index + 1;
  return name.str();
}

namespace {

struct Edges {
  std::vector<int> target, source;
  std::vector<double> weight;
};

Edges random_edges(const GeneratorOptions& o) {
  Edges e;
  const int G = o.genes;
  const int module_size = std::max(1, (G + std::max(o.modules, 1) - 1) / std::max(o.modules, 1));
  const bool modular = o.generator == "modular";
  for (int g = 0; g < G; ++g) {
    RandomStream rs(o.seed, StreamDomain::kNetwork, static_cast<std::uint64_t>(g));
    const int degree = std::min<int>(G - 1, static_cast<int>(rs.poisson(o.mean_in_degree)));
    std::vector<int> chosen;
    const int m0 = (g / module_size) * module_size, m1 = std::min(G, m0 + module_size);
    for (int tries = 0; static_cast<int>(chosen.size()) < degree && tries < 100 * (degree + 1); ++tries) {
      int src;
      if (modular && m1 - m0 > 1 && rs.uniform() >= o.between_module_fraction)
        src = m0 + static_cast<int>(rs.below(static_cast<std::uint64_t>(m1 - m0)));
      else
        src = static_cast<int>(rs.below(static_cast<std::uint64_t>(G)));
      if (src == g || std::find(chosen.begin(), chosen.end(), src) != chosen.end()) continue;
      chosen.push_back(src);
    }
    std::sort(chosen.begin(), chosen.end());
    for (int src : chosen) {
      const double sign = rs.uniform() < o.activating_fraction ? 1.0 : -1.0;
      e.target.push_back(g);
      e.source.push_back(src);
      e.weight.push_back(sign * o.weight_scale * (0.25 + std::fabs(rs.normal())));
    }
  }
  return e;
}

Edges edges_from_list(const std::filesystem::path& path, std::vector<std::string>& names) {
  std::map<std::string, int> index;
  auto id = [&](const std::string& n) {
    const auto [it, added] = index.emplace(n, static_cast<int>(names.size()));
    if (added) names.push_back(n);
    return it->second;
  };
  Edges e;
  for (const auto& r : read_edge_list(path, "network.edge_list", true)) {
    e.source.push_back(id(r.source));
    e.target.push_back(id(r.target));
    e.weight.push_back(r.weight);
  }
  return e;
}

void draw_gene_parameters(const GeneratorOptions& o, ModelParameters& p) {
  const auto G = static_cast<std::size_t>(p.genes), K = static_cast<std::size_t>(p.media),
             h = static_cast<std::size_t>(p.neural_rank);
  p.v.resize(G), p.beta.resize(G), p.gamma.resize(G), p.c.resize(G);
  p.U.assign(G * K, 0.0);
  p.fitness.assign(G, 0.0);
  for (std::size_t g = 0; g < G; ++g) {
    RandomStream rs(o.seed, StreamDomain::kGeneParams, g);
    p.gamma[g] = o.decay_mean * std::exp(o.decay_sd * rs.normal());
    p.v[g] = o.production_mean * std::exp(0.3 * rs.normal());
    p.beta[g] = o.basal_mean * std::exp(0.3 * rs.normal());
    p.c[g] = o.bias_sd * rs.normal();
    for (std::size_t k = 0; k < K; ++k)
      if (rs.uniform() < o.medium_gene_fraction) p.U[g * K + k] = o.medium_weight * rs.normal();
  }
  p.growth_rate = o.growth_rate;
  RandomStream fs(o.seed, StreamDomain::kGeneParams, G + 1);
  for (int i = 0; i < std::min(o.fitness_genes, p.genes); ++i) p.fitness[fs.below(G)] = o.fitness_scale * fs.normal();
  p.A.assign(G * h, 0.0), p.B.assign(h * G, 0.0), p.C.assign(h * K, 0.0), p.d.assign(h, 0.0);
  if (h > 0) {
    RandomStream ns(o.seed, StreamDomain::kNeural, 0);
    for (auto& a : p.A) a = o.neural_scale * ns.normal() / std::sqrt(static_cast<double>(h));
    for (auto& b : p.B) b = o.neural_scale * ns.normal() / std::sqrt(static_cast<double>(G));
    for (auto& c : p.C) c = o.neural_scale * ns.normal();
    for (auto& d : p.d) d = o.neural_scale * ns.normal();
  }
}

// Scales rows of W so that v/4 * sum_j |W_gj| <= rho * gamma_g: by Gershgorin every
// eigenvalue of diag(a) W - diag(gamma) then has negative real part at every x, so the
// mechanistic model has one stable steady state per condition.
void apply_contraction(double rho, ModelParameters& p) {
  if (rho <= 0.0) return;
  for (int g = 0; g < p.genes; ++g) {
    const auto b = p.W.row_ptr[static_cast<std::size_t>(g)], e = p.W.row_ptr[static_cast<std::size_t>(g) + 1];
    double row = 0.0;
    for (auto k = b; k < e; ++k) row += std::fabs(p.W.val[static_cast<std::size_t>(k)]);
    const double bound = 0.25 * p.v[static_cast<std::size_t>(g)] * row,
                 limit = rho * p.gamma[static_cast<std::size_t>(g)];
    if (bound > limit)
      for (auto k = b; k < e; ++k) p.W.val[static_cast<std::size_t>(k)] *= limit / bound;
  }
}

}  // namespace

ModelParameters toggle_switch(int media, double medium_weight) {
  ModelParameters p;
  p.kind = ModelKind::kMechanistic;
  p.genes = 2;
  p.media = media;
  p.gene_names = {"toggleA", "toggleB"};
  p.W = CsrMatrix::from_triplets(2, 2, {0, 1}, {1, 0}, {-4.0, -4.0});
  p.c = {4.0, 4.0};
  p.v = {4.0, 4.0};
  p.beta = {0.05, 0.05};
  p.gamma = {1.0, 1.0};
  p.U.assign(static_cast<std::size_t>(2 * media), 0.0);
  if (media > 0) p.U[0] = medium_weight;  // the medium drives toggleA
  p.fitness.assign(2, 0.0);
  return p;
}

ModelParameters generate_model(const GeneratorOptions& o) {
  if (o.media < 0) throw UsageError("network.media must be >= 0");
  if (o.neural_rank < 0) throw UsageError("model.neural_rank must be >= 0");
  ModelParameters p;
  if (o.generator == "toggle") {
    p = toggle_switch(o.media, o.medium_weight);
  } else {
    Edges e;
    if (o.generator == "random" || o.generator == "modular") {
      if (o.genes < 2) throw UsageError("network.genes must be >= 2, got " + std::to_string(o.genes));
      if (o.mean_in_degree < 0) throw UsageError("network.mean_in_degree must be >= 0");
      p.genes = o.genes;
      for (int g = 0; g < o.genes; ++g) p.gene_names.push_back(gene_name(g, o.genes));
      e = random_edges(o);
    } else if (o.generator == "edgelist") {
      if (o.edge_list.empty())
        throw UsageError("network.generator = 'edgelist' needs network.edge_list = \"file.tsv\"");
      e = edges_from_list(o.edge_list, p.gene_names);
      p.genes = static_cast<int>(p.gene_names.size());
    } else {
      throw UsageError("network.generator = '" + o.generator + "' is unknown; use random, modular, toggle or edgelist");
    }
    p.W = CsrMatrix::from_triplets(p.genes, p.genes, e.target, e.source, e.weight);
    p.media = o.media;
  }
  p.kind = o.kind;
  p.neural_rank = o.kind == ModelKind::kMechanistic ? 0 : o.neural_rank;
  if (o.generator != "toggle") {
    draw_gene_parameters(o, p);
    apply_contraction(o.contraction, p);
  } else {
    const auto h = static_cast<std::size_t>(p.neural_rank);
    p.A.assign(2 * h, 0.0), p.B.assign(2 * h, 0.0), p.C.assign(h * static_cast<std::size_t>(p.media), 0.0),
        p.d.assign(h, 0.0);
  }
  p.validate();
  return p;
}

NicheCoupling draw_niche(const ModelParameters& p, const NicheOptions& opt, std::uint64_t seed) {
  NicheCoupling n;
  std::vector<char> taken(static_cast<std::size_t>(p.genes), 0);
  for (const auto& name : opt.ligand_genes) {
    const int g = p.gene_index(name);
    if (g < 0) throw UsageError("niche.ligand_genes: '" + name + "' is not a gene of the network");
    if (taken[static_cast<std::size_t>(g)]) throw UsageError("niche.ligand_genes: '" + name + "' is listed twice");
    taken[static_cast<std::size_t>(g)] = 1;
    n.ligand_genes.push_back(g);
  }
  if (static_cast<int>(n.ligand_genes.size()) + opt.ligands > p.genes)
    throw UsageError("niche: " + std::to_string(n.ligand_genes.size() + static_cast<std::size_t>(opt.ligands)) +
                     " ligand genes requested but the network has " + std::to_string(p.genes) + " genes");
  RandomStream rs(seed, StreamDomain::kNiche, 0);
  for (int k = 0; k < opt.ligands;) {
    const auto g = static_cast<int>(rs.below(static_cast<std::uint64_t>(p.genes)));
    if (taken[static_cast<std::size_t>(g)]) continue;
    taken[static_cast<std::size_t>(g)] = 1;
    n.ligand_genes.push_back(g);
    ++k;
  }
  const auto L = n.ligand_genes.size();
  const double sd = L > 0 ? opt.coupling_scale / std::sqrt(static_cast<double>(L)) : 0.0;
  n.gamma.resize(static_cast<std::size_t>(p.media) * L);
  for (auto& x : n.gamma) x = sd * rs.normal();
  return n;
}

}  // namespace perturbfit::model
