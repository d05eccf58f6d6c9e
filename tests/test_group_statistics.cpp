// The pseudo-bulk statistics of groups from a rank's cells: sums of z = log1p(y / s), z^2
// and y / s per gene, against hand-computed values; and, split over the ranks of
// MPI_COMM_WORLD by perturbation, the same numbers as one rank holding every cell, with the
// control rows on every rank; and a request for less (no log moments, controls only).
#include <gtest/gtest.h>
#include <mpi.h>

#include <cmath>

#include "perturbfit/data/group_statistics.hpp"
#include "perturbfit/parallel/decomposition.hpp"

namespace pd = perturbfit::data;

namespace {
// Five cells x 3 genes; cells 0, 3 are controls (perturbation 0), 1, 4 perturbation 1,
// 2 perturbation 2. Cell 4 has size factor 0 (an empty cell).
struct TinyScreen {
  std::vector<std::int64_t> rows{0, 1, 2, 3, 4}, indptr{0, 2, 3, 5, 6, 6};
  std::vector<std::int32_t> cols{0, 2, 1, 0, 1, 2};
  std::vector<double> values{1, 3, 2, 4, 1, 5}, size_factors{0.5, 1.0, 2.0, 1.0, 0.0};
  std::vector<std::int32_t> cell_perturbation{0, 1, 2, 0, 1};
  pd::CellSlice slice(const std::vector<std::size_t>& keep) {
    sub_rows.clear(), sub_indptr = {0}, sub_cols.clear(), sub_values.clear(), sub_s.clear();
    for (auto r : keep) {
      sub_rows.push_back(rows[r]);
      for (auto q = indptr[r]; q < indptr[r + 1]; ++q)
        sub_cols.push_back(cols[static_cast<std::size_t>(q)]),
            sub_values.push_back(values[static_cast<std::size_t>(q)]);
      sub_indptr.push_back(static_cast<std::int64_t>(sub_cols.size()));
      sub_s.push_back(size_factors[r]);
    }
    return {sub_rows, sub_indptr, sub_cols, sub_values, sub_s};
  }
  std::vector<std::int64_t> sub_rows, sub_indptr;
  std::vector<std::int32_t> sub_cols;
  std::vector<double> sub_values, sub_s;
};

// Three perturbations (0 the control) split over the ranks of `world` by weighted blocks;
// `mine`: this rank's cells of t; `all`: one rank's sums of every group.
struct SplitScreen {
  explicit SplitScreen(const perturbfit::parallel::Comm& world) : groups(3), perts(3) {
    for (int g = 0; g < 3; ++g) groups[static_cast<std::size_t>(g)].perturbation = g;
    perts[0].control = true;
    all = pd::sum_groups({0, 1, 2}, 3, t.slice({0, 1, 2, 3, 4}), cell_group);
    owned =
        perturbfit::parallel::weighted_block_ranges({2, 2, 1}, world.size())[static_cast<std::size_t>(world.rank())];
    for (std::size_t r = 0; r < 5; ++r)
      if (owned.contains(static_cast<std::size_t>(t.cell_perturbation[r]))) mine.push_back(r);
  }
  pd::GroupStatistics statistics(const perturbfit::parallel::Comm& world, pd::StatisticsRequest request = {}) {
    return pd::group_statistics(world, t.slice(mine), cell_group, groups, perts, owned, 3, request);
  }
  TinyScreen t;
  std::vector<std::int32_t> cell_group{0, 1, 2, 0, 1};
  std::vector<pd::Group> groups;
  std::vector<pd::Perturbation> perts;
  pd::GroupStatistics all;
  perturbfit::parallel::Range owned;
  std::vector<std::size_t> mine;
};
}  // namespace

TEST(GroupStatistics, SumsOfOneGroupByHand) {
  TinyScreen t;
  const std::vector<std::int32_t> cell_group{0, 1, 2, 0, 1};
  const auto st = pd::sum_groups({0, 1}, 3, t.slice({0, 1, 2, 3, 4}), cell_group);
  ASSERT_EQ(st.groups, (std::vector<int>{0, 1}));
  // Group 0: cell 0 (s 0.5: y = 2 at gene 0, 6 at gene 2) and cell 3 (s 1: y = 5 at gene 2).
  EXPECT_DOUBLE_EQ(st.size_factor_sum[0], 1.5);
  EXPECT_DOUBLE_EQ(st.sum_linear_row(0)[0], 2.0);
  EXPECT_DOUBLE_EQ(st.sum_linear_row(0)[1], 0.0);
  EXPECT_DOUBLE_EQ(st.sum_linear_row(0)[2], 11.0);
  EXPECT_DOUBLE_EQ(st.sum_row(0)[2], std::log1p(6.0) + std::log1p(5.0));
  EXPECT_DOUBLE_EQ(st.sum_sq_row(0)[0], std::log1p(2.0) * std::log1p(2.0));
  // Group 1: cell 1 (y = 2 at gene 1) and the empty cell 4 (s = 0: counted in s only).
  EXPECT_DOUBLE_EQ(st.size_factor_sum[1], 1.0);
  EXPECT_DOUBLE_EQ(st.sum_linear_row(1)[1], 2.0);
  EXPECT_DOUBLE_EQ(st.sum_linear_row(1)[2], 0.0);
  EXPECT_EQ(st.sum.size(), 6u);  // group 2 is not held
}

TEST(GroupStatistics, SplitByPerturbationOverRanksEqualsOneRank) {
  perturbfit::parallel::Comm world(MPI_COMM_WORLD);
  SplitScreen split(world);
  const auto& all = split.all;
  const auto st = split.statistics(world);
  bool has_control = false;
  for (std::size_t h = 0; h < st.groups.size(); ++h) {
    const auto g = static_cast<std::size_t>(st.groups[h]);
    has_control = has_control || g == 0;
    EXPECT_EQ(st.size_factor_sum[h], all.size_factor_sum[g]) << "group " << g;
    for (std::size_t j = 0; j < 3; ++j) {
      EXPECT_EQ(st.sum_row(h)[j], all.sum_row(g)[j]) << "group " << g << " gene " << j;
      EXPECT_EQ(st.sum_sq_row(h)[j], all.sum_sq_row(g)[j]) << "group " << g << " gene " << j;
      EXPECT_EQ(st.sum_linear_row(h)[j], all.sum_linear_row(g)[j]) << "group " << g << " gene " << j;
    }
  }
  EXPECT_TRUE(has_control) << "every rank holds the control group";
  EXPECT_EQ(world.sum(static_cast<std::int64_t>(st.groups.size())), 3 + (world.size() - 1));
}

// A request for less gives the same numbers for what it holds: without the log moments the
// linear sums are unchanged and sum, sum_sq are empty; without the perturbed groups every
// rank holds exactly the control group, with the one-rank values.
TEST(GroupStatistics, ARequestForLessHoldsLessAndTheSameNumbers) {
  perturbfit::parallel::Comm world(MPI_COMM_WORLD);
  SplitScreen split(world);
  const auto& all = split.all;
  const auto full = split.statistics(world);
  const auto linear = split.statistics(world, {.log_moments = false, .perturbed_groups = true});
  EXPECT_EQ(linear.groups, full.groups);
  EXPECT_TRUE(linear.sum.empty());
  EXPECT_TRUE(linear.sum_sq.empty());
  EXPECT_EQ(linear.sum_linear, full.sum_linear);
  EXPECT_EQ(linear.size_factor_sum, full.size_factor_sum);

  const auto controls = split.statistics(world, {.log_moments = true, .perturbed_groups = false});
  ASSERT_EQ(controls.groups, (std::vector<int>{0}));
  EXPECT_EQ(controls.size_factor_sum[0], all.size_factor_sum[0]);
  for (std::size_t j = 0; j < 3; ++j) {
    EXPECT_EQ(controls.sum_row(0)[j], all.sum_row(0)[j]) << "gene " << j;
    EXPECT_EQ(controls.sum_sq_row(0)[j], all.sum_sq_row(0)[j]) << "gene " << j;
    EXPECT_EQ(controls.sum_linear_row(0)[j], all.sum_linear_row(0)[j]) << "gene " << j;
  }
}
