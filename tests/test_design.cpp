// How perturbation targets become model nodes: measured genes first, then the latent nodes
// of targets missing from the panel (sorted), and what "skip" and "error" do instead.
#include <gtest/gtest.h>

#include "perturbfit/data/design.hpp"

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
