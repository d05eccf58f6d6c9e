#include "perturbfit/fit/support.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <tuple>
#include <unordered_map>

#include "perturbfit/core/error.hpp"
#include "perturbfit/core/random.hpp"
#include "perturbfit/parallel/decomposition.hpp"
#include "perturbfit/model/edge_list.hpp"

namespace perturbfit::fit {

namespace {

model::CsrMatrix all_to_all(int G) {
  std::vector<int> r, c;
  for (int i = 0; i < G; ++i)
    for (int j = 0; j < G; ++j)
      if (i != j) r.push_back(i), c.push_back(j);
  return model::CsrMatrix::from_triplets(G, G, r, c, std::vector<double>(r.size(), 0.0));
}

model::CsrMatrix from_edge_list(const std::filesystem::path& path, const std::vector<std::string>& genes,
                                const Reporter& reporter) {
  std::unordered_map<std::string, int> index;
  for (std::size_t g = 0; g < genes.size(); ++g) index[genes[g]] = static_cast<int>(g);
  std::vector<int> r, c;
  const auto edges = model::read_edge_list(path, "fit.edge_list", false);
  const auto lines = static_cast<long>(edges.size());
  long unknown = 0;
  for (const auto& e : edges) {
    const auto s = index.find(e.source), t = index.find(e.target);
    if (s == index.end() || t == index.end() || s->second == t->second) {
      ++unknown;
      continue;
    }
    r.push_back(t->second), c.push_back(s->second);
  }
  if (r.empty())
    throw UsageError(path.string() + ": none of its " + std::to_string(lines) +
                     " edges joins two genes of the screen; check the gene names (var_names) or use fit.support = knn");
  if (unknown > 0)
    reporter.warn(std::to_string(unknown) + " of " + std::to_string(lines) + " edges of " + path.string() +
                  " name a gene not in the screen (or a self-loop) and were skipped");
  auto m = model::CsrMatrix::from_triplets(static_cast<int>(genes.size()), static_cast<int>(genes.size()), r, c,
                                           std::vector<double>(r.size(), 0.0));
  std::fill(m.val.begin(), m.val.end(), 0.0);  // duplicates summed zeros; keep the pattern only
  return m;
}

// The pattern over N nodes: the given one plus the response edges of every regulator (only
// of regulators without an out-edge in it when it is a prior). A latent target that ends
// without out-edges (no training perturbation touches it, nothing in a prior) is counted:
// its out-weights could only learn a constant, confounded with c. Latent nodes get in-edges
// only from a prior edge list: nothing in the data sees their level.
std::pair<model::CsrMatrix, int> with_response_edges(const model::CsrMatrix& m, int N, int measured, int latent,
                                                     const std::vector<std::pair<int, int>>& edges, bool prior) {
  std::vector<int> r, c;
  std::vector<char> in_prior(static_cast<std::size_t>(N), 0), has_out(static_cast<std::size_t>(N), 0);
  for (int i = 0; i < m.rows; ++i)
    for (auto k = m.row_ptr[static_cast<std::size_t>(i)]; k < m.row_ptr[static_cast<std::size_t>(i) + 1]; ++k) {
      const int j = m.col[static_cast<std::size_t>(k)];
      r.push_back(i), c.push_back(j);
      in_prior[static_cast<std::size_t>(j)] = has_out[static_cast<std::size_t>(j)] = 1;
    }
  for (const auto& [target, regulator] : edges) {
    if (prior && in_prior[static_cast<std::size_t>(regulator)]) continue;
    r.push_back(target), c.push_back(regulator);
    has_out[static_cast<std::size_t>(regulator)] = 1;
  }
  int unlearnable = 0;
  for (int l = measured; l < measured + latent; ++l) unlearnable += !has_out[static_cast<std::size_t>(l)];
  auto out = model::CsrMatrix::from_triplets(N, N, r, c, std::vector<double>(r.size(), 0.0));
  std::fill(out.val.begin(), out.val.end(), 0.0);  // duplicates summed zeros; keep the pattern only
  return {out, unlearnable};
}

struct Standardised {
  std::vector<double> mean, sd;
  double n = 0;  // training groups, all ranks
};

Standardised gene_moments(int G, const std::vector<const double*>& rows, const parallel::Comm& comm) {
  const auto g_count = static_cast<std::size_t>(G);
  std::vector<double> moments(2 * g_count + 1, 0.0);  // sum, sum of squares, rows
  for (const double* y : rows)
    for (std::size_t g = 0; g < g_count; ++g) moments[g] += y[g], moments[g_count + g] += y[g] * y[g];
  moments[2 * g_count] = static_cast<double>(rows.size());
  comm.replicated_sum_in_place(moments);
  Standardised z;
  z.n = moments[2 * g_count];
  if (z.n < 3) throw DataError("fit.support = knn needs at least 3 training groups to estimate co-expression");
  z.mean.resize(g_count), z.sd.resize(g_count);
  for (std::size_t g = 0; g < g_count; ++g) {
    z.mean[g] = moments[g] / z.n;
    z.sd[g] = std::sqrt(std::max(moments[g_count + g] / z.n - z.mean[g] * z.mean[g], 0.0));
  }
  return z;
}

// The k candidates of `score` (|correlation|, regulator) with the largest score, ties to
// the lower index, appended as edges regulator -> t.
void keep_top(std::vector<std::pair<double, int>>& score, int t, int k, std::vector<int>& r, std::vector<int>& c) {
  const auto keep = std::min<std::size_t>(static_cast<std::size_t>(k), score.size());
  std::partial_sort(
      score.begin(), score.begin() + static_cast<long>(keep), score.end(),
      [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
  for (std::size_t q = 0; q < keep; ++q) r.push_back(t), c.push_back(score[q].second);
}

// Exact: every pair's correlation, in blocks of target genes (G^2 n multiply-adds).
model::CsrMatrix exact_coexpressed(int G, int k, const std::vector<const double*>& rows, const Standardised& z,
                                   const parallel::Comm& comm) {
  const auto g_count = static_cast<std::size_t>(G);
  const auto& mean = z.mean;
  const auto& sd = z.sd;
  const std::size_t block = std::max<std::size_t>(1, (1u << 22) / g_count);  // about 32 MB of covariances
  std::vector<int> r, c;
  for (std::size_t b0 = 0; b0 < g_count; b0 += block) {
    const std::size_t b1 = std::min(g_count, b0 + block);
    std::vector<double> cov((b1 - b0) * g_count, 0.0);
    for (const double* y : rows)
      for (std::size_t t = b0; t < b1; ++t) {
        const double yt = y[t] - mean[t];
        double* row = cov.data() + (t - b0) * g_count;
        for (std::size_t j = 0; j < g_count; ++j) row[j] += yt * (y[j] - mean[j]);
      }
    comm.replicated_sum_in_place(cov);
    std::vector<std::pair<double, int>> score;
    for (std::size_t t = b0; t < b1; ++t) {
      score.clear();
      for (std::size_t j = 0; j < g_count; ++j) {
        if (j == t) continue;
        const double denom = sd[t] * sd[j] * z.n;
        score.emplace_back(denom > 0 ? std::abs(cov[(t - b0) * g_count + j]) / denom : 0.0, static_cast<int>(j));
      }
      keep_top(score, static_cast<int>(t), k, r, c);
    }
  }
  return model::CsrMatrix::from_triplets(G, G, r, c, std::vector<double>(r.size(), 0.0));
}

// Genome scale: the exact scan costs G^2 n (hours at G = 20k, n = 7k training groups). A
// random sign sketch of the standardised group means (kSketch rows: s_g = Omega^T z_g,
// <s_i, s_j> ~ corr(i, j), Johnson-Lindenstrauss) ranks every pair in G^2 kSketch; the
// kCandidates * k best per gene are then scored exactly over the training groups, and the
// k best of those kept. A row's signs are keyed by its group's id, so the sketch does not
// depend on how groups are spread over ranks. Target genes are split over ranks.
constexpr std::size_t kSketch = 128;
constexpr std::size_t kCandidates = 10;

model::CsrMatrix sketched_coexpressed(int G, int k, const std::vector<const double*>& rows,
                                      const std::vector<int>& row_ids, const Standardised& z,
                                      const parallel::Comm& comm) {
  const auto g_count = static_cast<std::size_t>(G);
  std::vector<double> inv(g_count);  // 1 / (sd sqrt(n)): z_g has unit norm over the groups
  for (std::size_t g = 0; g < g_count; ++g) inv[g] = z.sd[g] > 0 ? 1.0 / (z.sd[g] * std::sqrt(z.n)) : 0.0;
  std::vector<double> sketch(g_count * kSketch, 0.0);  // gene-major: a gene's sketch is contiguous
  std::vector<double> sign(kSketch);
  const double unit = 1.0 / std::sqrt(static_cast<double>(kSketch));
  for (std::size_t i = 0; i < rows.size(); ++i) {
    RandomStream rng(0, StreamDomain::kCoexpressionSketch, static_cast<std::uint64_t>(row_ids[i]));
    for (auto& s : sign) s = (rng.next_u64() & 1) ? unit : -unit;
    const double* y = rows[i];
    for (std::size_t g = 0; g < g_count; ++g) {
      const double v = (y[g] - z.mean[g]) * inv[g];
      double* sg = sketch.data() + g * kSketch;
      for (std::size_t q = 0; q < kSketch; ++q) sg[q] += v * sign[q];
    }
  }
  comm.replicated_sum_in_place(sketch);
  const auto mine = parallel::block_range(g_count, comm.size(), comm.rank());
  const std::size_t keep = std::min<std::size_t>(kCandidates * static_cast<std::size_t>(k), g_count - 1);
  std::vector<int> cand;  // (mine.end - mine.begin) x keep regulators
  std::vector<std::pair<double, int>> score;
  for (std::size_t t = mine.begin; t < mine.end; ++t) {
    score.clear();
    const double* st = sketch.data() + t * kSketch;
    for (std::size_t j = 0; j < g_count; ++j) {
      if (j == t) continue;
      const double* sj = sketch.data() + j * kSketch;
      double d = 0;
      for (std::size_t q = 0; q < kSketch; ++q) d += st[q] * sj[q];
      score.emplace_back(std::abs(d), static_cast<int>(j));
    }
    std::partial_sort(
        score.begin(), score.begin() + static_cast<long>(keep), score.end(),
        [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
    for (std::size_t q = 0; q < keep; ++q) cand.push_back(score[q].second);
  }
  // Exact correlations of every rank's candidates (gathered in rank order, which is gene
  // order): each rank adds its rows' products.
  const std::vector<int> all_cand = comm.all_gather(cand);
  if (all_cand.size() != g_count * keep)
    throw std::logic_error("sketched_coexpressed: candidates of a gene are missing");
  std::vector<double> corr(all_cand.size(), 0.0);
  std::vector<double> zrow(g_count);
  for (const double* y : rows) {
    for (std::size_t g = 0; g < g_count; ++g) zrow[g] = (y[g] - z.mean[g]) * inv[g];
    for (std::size_t e = 0; e < all_cand.size(); ++e)
      corr[e] += zrow[e / keep] * zrow[static_cast<std::size_t>(all_cand[e])];
  }
  comm.replicated_sum_in_place(corr);
  std::vector<int> r, c;
  for (std::size_t t = 0, e = 0; t < g_count; ++t, e += keep) {
    score.clear();
    for (std::size_t q = 0; q < keep; ++q) score.emplace_back(std::abs(corr[e + q]), all_cand[e + q]);
    keep_top(score, static_cast<int>(t), k, r, c);
  }
  return model::CsrMatrix::from_triplets(G, G, r, c, std::vector<double>(r.size(), 0.0));
}

}  // namespace

model::CsrMatrix nearest_coexpressed(int G, int k, const std::vector<const double*>& rows,
                                     const std::vector<int>& row_ids, const parallel::Comm& comm,
                                     const Reporter& reporter, double exact_work_limit) {
  const auto z = gene_moments(G, rows, comm);
  const double work = static_cast<double>(G) * static_cast<double>(G) * z.n;
  if (work <= exact_work_limit) return exact_coexpressed(G, k, rows, z, comm);
  reporter.info("support of W: knn by a " + std::to_string(kSketch) + "-row sketch of the " +
                std::to_string(static_cast<long>(z.n)) + " training groups, then exact correlations of the " +
                std::to_string(kCandidates * static_cast<std::size_t>(k)) + " best candidates per gene (" +
                std::to_string(G) + " genes: the exact scan would take G^2 n = " +
                [work] {
                  std::ostringstream os;
                  os.precision(2);
                  os << work;
                  return os.str();
                }() +
                " multiply-adds)");
  return sketched_coexpressed(G, k, rows, row_ids, z, comm);
}

std::vector<int> top_responders(const double* response, int genes, int self, int k) {
  std::vector<std::pair<double, int>> score;
  for (int g = 0; g < genes; ++g)
    if (response[g] > 0 && g != self) score.emplace_back(response[g], g);
  const auto keep = std::min(score.size(), static_cast<std::size_t>(std::max(k, 0)));
  std::partial_sort(
      score.begin(), score.begin() + static_cast<long>(keep), score.end(),
      [](const auto& a, const auto& b) { return a.first > b.first || (a.first == b.first && a.second < b.second); });
  std::vector<int> out;
  for (std::size_t q = 0; q < keep; ++q) out.push_back(score[q].second);
  return out;
}

model::CsrMatrix support_pattern(const FitOptions& o, const std::vector<std::string>& nodes, int measured, int latent,
                                 const std::vector<std::pair<int, int>>& response_edges,
                                 const std::vector<const double*>& rows, const std::vector<int>& row_ids,
                                 const parallel::Comm& comm, const Reporter& reporter) {
  const int G = measured, N = static_cast<int>(nodes.size());
  std::string kind = o.support;
  if (kind == "auto") kind = G <= o.all_max_genes ? "all" : "knn";
  model::CsrMatrix m;
  if (kind == "all") {
    if (G > 5000)
      throw UsageError("fit.support = all with " + std::to_string(G) +
                       " genes would give G^2 weights; use knn or edgelist (or fewer genes: data.top_variable)");
    m = all_to_all(G);
  } else if (kind == "edgelist") {
    m = from_edge_list(o.edge_list, std::vector<std::string>(nodes.begin(), nodes.begin() + G + latent), reporter);
  } else {
    m = nearest_coexpressed(G, std::min(o.knn, G - 1), rows, row_ids, comm, reporter);
  }
  m.rows = m.cols = N;  // the same entries over all nodes (rows of unobserved nodes stay empty)
  m.row_ptr.resize(static_cast<std::size_t>(N) + 1, m.row_ptr.back());
  const auto [pattern, unlearnable] = with_response_edges(m, N, G, latent, response_edges, kind == "edgelist");
  if (unlearnable > 0)
    reporter.warn(std::to_string(unlearnable) + " of " + std::to_string(latent) +
                  " latent targets are perturbed by no training perturbation and the prior gives them no out-edge: "
                  "the model cannot learn what they regulate and predicts no change for them");
  reporter.info("support of W: " + kind + ", " + std::to_string(pattern.nnz()) + " candidate edges (" +
                std::to_string(G) + " genes" +
                (N > G ? ", " + std::to_string(N - G) + " unobserved nodes" : std::string()) + ")");
  return pattern;
}

}  // namespace perturbfit::fit
