// Pieces of the fit with known answers: ranking metrics, correlation, the split.
#include <gtest/gtest.h>

#include <cmath>

#include "perturbfit/fit/evaluation.hpp"
#include "perturbfit/fit/splits.hpp"
#include "perturbfit/fit/truth_recovery.hpp"

using namespace perturbfit;

TEST(AveragePrecision, PerfectRankingIsOne) {
  EXPECT_DOUBLE_EQ(fit::average_precision({0.9, 0.8, 0.1, 0.05}, {1, 1, 0, 0}, 2), 1.0);
}

TEST(AveragePrecision, HandComputedExample) {
  // ranking: pos, neg, pos -> precision at hits 1/1 and 2/3 -> (1 + 2/3) / 2
  EXPECT_NEAR(fit::average_precision({3, 2, 1}, {1, 0, 1}, 2), (1.0 + 2.0 / 3.0) / 2.0, 1e-15);
  // a true edge missing from the candidates counts as never found
  EXPECT_NEAR(fit::average_precision({3, 2, 1}, {1, 0, 1}, 3), (1.0 + 2.0 / 3.0) / 3.0, 1e-15);
}

TEST(Pearson, LinearRelationAndConstant) {
  EXPECT_NEAR(fit::pearson({1, 2, 3, 4}, {-2, -4, -6, -8}), -1.0, 1e-15);
  EXPECT_NEAR(fit::pearson({1, 2, 3}, {1, 3, 2}), 0.5, 1e-15);
  EXPECT_TRUE(std::isnan(fit::pearson({1, 1, 1}, {1, 2, 3})));
}

namespace {
std::vector<data::Perturbation> library(int singles) {
  std::vector<data::Perturbation> p(1);
  p[0].label = "control", p[0].control = true;
  for (int i = 0; i < singles; ++i) {
    data::Perturbation q;
    q.label = "G" + std::to_string(i);
    q.targets = {q.label};
    q.target_genes = q.target_nodes = {i};
    p.push_back(q);
  }
  data::Perturbation pair;
  pair.label = "G0+G1", pair.targets = {"G0", "G1"}, pair.target_genes = pair.target_nodes = {0, 1};
  p.push_back(pair);
  return p;
}
}  // namespace

TEST(Splits, SeededByLabelControlsInTrainFractionsRespected) {
  const auto perts = library(2000);
  const auto a = fit::assign_splits(perts, 0.1, 0.2, 5), b = fit::assign_splits(perts, 0.1, 0.2, 5),
             c = fit::assign_splits(perts, 0.1, 0.2, 6);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(a[0], fit::Split::kTrain);
  int test = 0, validation = 0;
  for (auto s : a) test += s == fit::Split::kTest, validation += s == fit::Split::kValidation;
  EXPECT_NEAR(test / 2001.0, 0.2, 0.03);  // binomial sd ~ 0.009
  EXPECT_NEAR(validation / 2001.0, 0.1, 0.03);
  // the same label gets the same split whatever its position in the table
  auto shuffled = perts;
  std::swap(shuffled[5], shuffled[900]);
  const auto d = fit::assign_splits(shuffled, 0.1, 0.2, 5);
  EXPECT_EQ(d[5], a[900]);
  EXPECT_EQ(d[900], a[5]);
}

TEST(Splits, HoldoutCategoryOfCombinations) {
  const auto perts = library(2);  // control, G0, G1, G0+G1
  std::vector<fit::Split> s{fit::Split::kTrain, fit::Split::kTrain, fit::Split::kTrain, fit::Split::kTest};
  EXPECT_EQ(fit::holdout_category(perts, s, 3), "combination (singles seen)");
  EXPECT_EQ(fit::holdout_category(perts, s, 1), "single");
  s[2] = fit::Split::kTest;
  EXPECT_EQ(fit::holdout_category(perts, s, 3), "combination (unseen single)");
}

TEST(Splits, LatentTargetsAreToldApartByNodeNotByTheMissingGene) {
  auto perts = library(2);  // the same screen with both targets absent from var: latent nodes 7 and 8
  perts[1].target_genes = {-1}, perts[1].target_nodes = {7};
  perts[2].target_genes = {-1}, perts[2].target_nodes = {8};
  perts[3].target_genes = {-1, -1}, perts[3].target_nodes = {7, 8};
  std::vector<fit::Split> s{fit::Split::kTrain, fit::Split::kTrain, fit::Split::kTest, fit::Split::kTest};
  EXPECT_EQ(fit::holdout_category(perts, s, 3), "combination (unseen single)");
  s[2] = fit::Split::kTrain;
  EXPECT_EQ(fit::holdout_category(perts, s, 3), "combination (singles seen)");
}
