// A screen's design from its obs columns: how perturbation labels become targets, how
// targets become model nodes (measured genes first, then the latent nodes of targets
// missing from the panel, sorted; what "skip" does instead), and how cells form groups
// with their same-batch controls.
#include <gtest/gtest.h>

#include <set>

#include "perturbfit/data/design.hpp"
#include "perturbfit/data/gene_selection.hpp"

using perturbfit::data::assign_target_nodes;
using perturbfit::data::missing_targets;
using perturbfit::data::Perturbation;

namespace {
std::vector<Perturbation> screen_targets() {
  auto p = [](std::vector<std::string> targets) {
    Perturbation x;
    x.targets = std::move(targets);
    x.control = x.targets.empty();
    return x;
  };
  return {p({}), p({"b"}), p({"zeta", "a"}), p({"delta"}), p({"zeta"})};
}
const std::vector<std::string> kGenes{"a", "b", "c"};
}  // namespace

TEST(TargetNodes, MissingTargetsAreSortedAndUnique) {
  EXPECT_EQ(missing_targets(kGenes, screen_targets()), (std::vector<std::string>{"delta", "zeta"}));
}

TEST(TargetNodes, LatentNodesAreNumberedAfterTheGenesInSortedOrder) {
  auto perts = screen_targets();
  const auto latent = assign_target_nodes(kGenes, "latent", perts);
  EXPECT_EQ(latent, (std::vector<std::string>{"delta", "zeta"}));
  EXPECT_EQ(perts[1].target_nodes, (std::vector<int>{1}));
  EXPECT_EQ(perts[2].target_nodes, (std::vector<int>{4, 0}));  // zeta = 3 + 1, a = 0
  EXPECT_EQ(perts[2].target_genes, (std::vector<int>{-1, 0}));
  EXPECT_EQ(perts[3].target_nodes, (std::vector<int>{3}));
  for (const auto& p : perts) EXPECT_FALSE(p.excluded);
  EXPECT_TRUE(perts[0].target_nodes.empty());
}

TEST(TargetNodes, SkipExcludesEveryPerturbationWithAMissingTarget) {
  auto perts = screen_targets();
  EXPECT_TRUE(assign_target_nodes(kGenes, "skip", perts).empty());
  EXPECT_EQ((std::vector<bool>{perts[0].excluded, perts[1].excluded, perts[2].excluded, perts[3].excluded,
                               perts[4].excluded}),
            (std::vector<bool>{false, false, true, true, true}));
  EXPECT_EQ(perts[2].target_nodes, (std::vector<int>{-1, 0}));
}

TEST(TargetNodes, AssigningAgainReplacesThePreviousNodes) {
  auto perts = screen_targets();
  assign_target_nodes(kGenes, "latent", perts);
  assign_target_nodes({"a", "b", "c", "zeta"}, "latent", perts);  // a panel that gained zeta
  EXPECT_EQ(perts[2].target_nodes, (std::vector<int>{3, 0}));
  EXPECT_EQ(perts[3].target_nodes, (std::vector<int>{4}));  // delta: the only latent node
  EXPECT_EQ(perts[2].target_nodes.size(), perts[2].targets.size());
}

TEST(LabelTargets, SplitTrimAndDropControlLabels) {
  const std::set<std::string> controls{"ctrl", "non-targeting"};
  using V = std::vector<std::string>;
  EXPECT_EQ(perturbfit::data::label_targets("A+B", "+", controls), (V{"A", "B"}));
  EXPECT_EQ(perturbfit::data::label_targets(" A + B ", "+", controls), (V{"A", "B"}));
  EXPECT_EQ(perturbfit::data::label_targets("A+ctrl", "+", controls), (V{"A"}));  // GEARS' single
  EXPECT_EQ(perturbfit::data::label_targets("ctrl+ctrl", "+", controls), V{});
  EXPECT_EQ(perturbfit::data::label_targets("A__B__C", "__", controls), (V{"A", "B", "C"}));
  EXPECT_EQ(perturbfit::data::label_targets("A_B", "__", controls), (V{"A_B"}));
  EXPECT_EQ(perturbfit::data::label_targets("A++B", "+", controls), (V{"A", "B"}));
}

// Cells: (perturbation, batch); time and medium all 0. Batch 1 has no controls.
TEST(GroupCells, GroupsCountCellsAndLinkTheirSameBatchControls) {
  const std::vector<std::int32_t> pert{1, 0, 1, 2, 0, 1, 2}, batch{0, 0, 0, 0, 0, 1, 1}, zero(7, 0);
  const auto g = perturbfit::data::group_cells(pert, batch, zero, zero);
  // Lexicographic (perturbation, batch): (0,0) (1,0) (1,1) (2,0) (2,1).
  ASSERT_EQ(g.groups.size(), 5u);
  EXPECT_EQ(g.cell_group, (std::vector<std::int32_t>{1, 0, 1, 3, 0, 2, 4}));
  EXPECT_EQ(g.groups[0].cells, 2);
  EXPECT_EQ(g.groups[1].cells, 2);
  for (int k : {0, 1, 3}) EXPECT_EQ(g.groups[static_cast<std::size_t>(k)].control_group, 0) << "group " << k;
  for (int k : {2, 4}) EXPECT_EQ(g.groups[static_cast<std::size_t>(k)].control_group, -1) << "group " << k;
  EXPECT_EQ(g.groups[2].batch, 1);
  EXPECT_EQ(g.groups[4].perturbation, 2);
}

TEST(GroupCells, TimeAndMediumSeparateGroupsAndTheirControls) {
  const std::vector<std::int32_t> pert{0, 1, 1, 0}, batch(4, 0), time{0, 0, 1, 1}, medium{0, 0, 0, 1};
  const auto g = perturbfit::data::group_cells(pert, batch, time, medium);
  // (0,0,0,0) (0,0,1,1) (1,0,0,0) (1,0,1,0): the time-1 perturbed group has no control in medium 0.
  ASSERT_EQ(g.groups.size(), 4u);
  EXPECT_EQ(g.groups[2].control_group, 0);
  EXPECT_EQ(g.groups[3].control_group, -1);
}

// Gene variances from (sum z, sum z^2) over n = 4 cells: 0.25, 1, 0, 1 (a tie).
TEST(GeneSelection, MostVariableGenesByVarianceTiesToTheLowerIndex) {
  const std::vector<double> moments{2, 4, 0, 0, /* sums of squares */ 2, 8, 0, 4};
  using V = std::vector<char>;
  EXPECT_EQ(perturbfit::data::most_variable_genes(moments, 4.0, 1), (V{0, 1, 0, 0}));
  EXPECT_EQ(perturbfit::data::most_variable_genes(moments, 4.0, 2), (V{0, 1, 0, 1}));
  EXPECT_EQ(perturbfit::data::most_variable_genes(moments, 4.0, 3), (V{1, 1, 0, 1}));
  EXPECT_EQ(perturbfit::data::most_variable_genes(moments, 4.0, 9), (V{1, 1, 1, 1}));
}

TEST(GeneSelection, TargetsAreAddedAndListedGenesKept) {
  auto perts = screen_targets();
  std::vector<char> selected = perturbfit::data::listed_genes(kGenes, {"c", "not-a-gene"});
  EXPECT_EQ(selected, (std::vector<char>{0, 0, 1}));
  EXPECT_EQ(perturbfit::data::add_targets(kGenes, perts, selected), 2u);  // a and b; zeta, delta are not genes
  EXPECT_EQ(selected, (std::vector<char>{1, 1, 1}));
}

TEST(GeneSelection, RemapColumnsDropsAndRenumbersInPlace) {
  // Rows: {0: 1, 2: 2, 3: 3}, {}, {1: 4, 3: 5}; keep columns 3 -> 0 and 1 -> 1.
  std::vector<std::int64_t> indptr{0, 3, 3, 5};
  std::vector<std::int32_t> cols{0, 2, 3, 1, 3};
  std::vector<double> values{1, 2, 3, 4, 5};
  perturbfit::data::remap_columns(indptr, cols, values, {-1, 1, -1, 0});
  EXPECT_EQ(indptr, (std::vector<std::int64_t>{0, 1, 1, 3}));
  EXPECT_EQ(cols, (std::vector<std::int32_t>{0, 1, 0}));
  EXPECT_EQ(values, (std::vector<double>{3, 4, 5}));
}

TEST(Classify, ControlLabelsMergeFirstAndCellsAreRecoded) {
  // Categories as in a file: a single, a control, a pair, a second control label, GEARS'
  // control pair, an unused label.
  const std::vector<std::string> labels{"A", "ctrl", "A+B", "non-targeting", "ctrl+ctrl", "C"};
  const std::vector<std::int32_t> cells{0, 1, 2, 3, 4, 1, 0};
  const auto c = perturbfit::data::classify_perturbations(labels, cells, {"ctrl", "non-targeting"}, "+");
  ASSERT_EQ(c.perturbations.size(), 4u);  // control, A, A+B, C
  EXPECT_TRUE(c.perturbations[0].control);
  EXPECT_EQ(c.perturbations[0].label, "ctrl");
  EXPECT_EQ(c.perturbations[2].targets, (std::vector<std::string>{"A", "B"}));
  EXPECT_EQ(c.cell_perturbation, (std::vector<std::int32_t>{1, 0, 2, 0, 0, 0, 1}));
  EXPECT_EQ(c.perturbations[0].cells, 4);
  EXPECT_EQ(c.perturbations[1].cells, 2);
  EXPECT_EQ(c.perturbations[3].cells, 0);  // 'C': no cells (the caller decides whether that is allowed)
  EXPECT_EQ(c.control_labels_found, (std::vector<std::string>{"ctrl", "non-targeting", "ctrl+ctrl"}));
}

TEST(Classify, NoControlLabelGivesNoPerturbations) {
  const auto c = perturbfit::data::classify_perturbations({"A", "B"}, {0, 1}, {"ctrl"}, "+");
  EXPECT_TRUE(c.perturbations.empty());
  EXPECT_TRUE(c.control_labels_found.empty());
}

TEST(DesignChecks, BatchesWithCellsButNoControlsAreNamed) {
  const std::vector<std::int32_t> pert{0, 1, 1, 1, 2, 0}, batch{0, 0, 1, 2, 2, 3}, zero(6, 0);
  const auto g = perturbfit::data::group_cells(pert, batch, zero, zero);
  std::vector<Perturbation> perts(3);
  perts[0].control = true;
  // Batch 4 has no cells at all: not reported.
  EXPECT_EQ(perturbfit::data::batches_without_controls(g.groups, perts, {"b0", "b1", "b2", "b3", "b4"}),
            (std::vector<std::string>{"b1", "b2"}));
}
