// support = knn at genome scale: the sketched search (random sign sketch, then exact
// scores of the best candidates) finds the same co-expressed regulators as the exact scan
// on a panel with known modules.
#include <gtest/gtest.h>

#include <set>

#include "perturbfit/core/random.hpp"
#include "perturbfit/core/reporter.hpp"
#include "perturbfit/fit/support.hpp"

using namespace perturbfit;

namespace {
// 300 genes in modules of 6 that share a factor (correlation ~0.9 within a module), 400
// groups.
struct Panel {
  int genes = 300, groups = 400;
  std::vector<std::vector<double>> rows;
  std::vector<const double*> pointers;
  std::vector<int> ids;
};

Panel modular_panel() {
  Panel p;
  RandomStream rng(5, StreamDomain::kNetwork, 1);
  for (int i = 0; i < p.groups; ++i) {
    std::vector<double> factor(static_cast<std::size_t>(p.genes / 6));
    for (auto& f : factor) f = rng.normal();
    std::vector<double> y(static_cast<std::size_t>(p.genes));
    for (int g = 0; g < p.genes; ++g) y[static_cast<std::size_t>(g)] = 3.0 * factor[static_cast<std::size_t>(g / 6)] + rng.normal();
    p.rows.push_back(std::move(y));
    p.ids.push_back(i);
  }
  for (const auto& r : p.rows) p.pointers.push_back(r.data());
  return p;
}

std::set<std::pair<int, int>> edges(const model::CsrMatrix& m) {
  std::set<std::pair<int, int>> out;
  for (int i = 0; i < m.rows; ++i)
    for (auto k = m.row_ptr[static_cast<std::size_t>(i)]; k < m.row_ptr[static_cast<std::size_t>(i) + 1]; ++k)
      out.insert({i, m.col[static_cast<std::size_t>(k)]});
  return out;
}
}  // namespace

TEST(KnnSupport, SketchedSearchFindsTheExactScansRegulators) {
  const auto p = modular_panel();
  const parallel::Comm comm(MPI_COMM_SELF);
  const Reporter quiet(true, true);
  const auto exact = fit::nearest_coexpressed(p.genes, 5, p.pointers, p.ids, comm, quiet);
  const auto sketched = fit::nearest_coexpressed(p.genes, 5, p.pointers, p.ids, comm, quiet, 0.0);
  ASSERT_EQ(exact.nnz(), 300 * 5);
  ASSERT_EQ(sketched.nnz(), 300 * 5);
  // Every regulator found is in the gene's module, as the exact scan's are.
  int in_module = 0;
  for (const auto& [t, j] : edges(sketched)) in_module += t / 6 == j / 6;
  EXPECT_EQ(in_module, 300 * 5);
  const auto a = edges(exact), b = edges(sketched);
  std::size_t common = 0;
  for (const auto& e : b) common += a.count(e);
  EXPECT_EQ(common, a.size());
}

TEST(KnnSupport, SketchDependsOnGroupIdsNotTheirOrder) {
  auto p = modular_panel();
  const parallel::Comm comm(MPI_COMM_SELF);
  const Reporter quiet(true, true);
  // Weakly structured data, so that the sketch's ranking decides.
  RandomStream rng(9, StreamDomain::kNetwork, 2);
  for (auto& r : p.rows)
    for (auto& v : r) v = 0.2 * v + rng.normal();
  const auto forward = fit::nearest_coexpressed(p.genes, 3, p.pointers, p.ids, comm, quiet, 0.0);
  std::vector<const double*> reversed(p.pointers.rbegin(), p.pointers.rend());
  std::vector<int> reversed_ids(p.ids.rbegin(), p.ids.rend());
  const auto backward = fit::nearest_coexpressed(p.genes, 3, reversed, reversed_ids, comm, quiet, 0.0);
  EXPECT_EQ(edges(forward), edges(backward));
}

// Run at 2 ranks by test_mpi_simulate_np2: the groups spread over the ranks give the
// support one rank finds with all of them (the sketch is keyed by group ids).
TEST(KnnSupport, SketchedSearchDoesNotDependOnTheRanks) {
  const auto p = modular_panel();
  const Reporter quiet(true, true);
  const parallel::Comm world(MPI_COMM_WORLD), self(MPI_COMM_SELF);
  std::vector<const double*> mine;
  std::vector<int> mine_ids;
  for (std::size_t i = 0; i < p.pointers.size(); ++i)
    if (static_cast<int>(i % static_cast<std::size_t>(world.size())) == world.rank())
      mine.push_back(p.pointers[i]), mine_ids.push_back(p.ids[i]);
  const auto spread = fit::nearest_coexpressed(p.genes, 5, mine, mine_ids, world, quiet, 0.0);
  const auto alone = fit::nearest_coexpressed(p.genes, 5, p.pointers, p.ids, self, quiet, 0.0);
  EXPECT_EQ(edges(spread), edges(alone));
}
