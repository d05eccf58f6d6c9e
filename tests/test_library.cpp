#include <gtest/gtest.h>

#include <cmath>

#include "perturbfit/core/error.hpp"
#include "perturbfit/simulate/guide_library.hpp"
#include "perturbfit/simulate/measurement.hpp"
#include "test_support.hpp"

using namespace perturbfit;

TEST(GuideLibrary, CountsSharesAndLabels) {
  const auto p = test_support::small_model(model::ModelKind::kMechanistic, 30, 0, 1);
  simulate::LibraryOptions o;
  o.singles = 5;
  o.pairs = 2;
  o.targets = {"G03"};
  o.combinations = {"G10+G03"};
  o.guides_per_target = 2;
  o.control_guides = 3;
  o.controls_fraction = 0.2;
  const auto classes = simulate::build_library(o, p, 1, "step");
  // 3 controls + (1 + 5) singles x 2 guides + (1 + 2) pairs x 2 guides
  ASSERT_EQ(classes.size(), 3u + 12u + 6u);
  double total = 0, control = 0;
  for (const auto& c : classes) {
    total += std::exp(c.log_weight);
    if (c.control) control += std::exp(c.log_weight);
    for (const auto& [g, k] : c.knock) EXPECT_TRUE(k > 0 && k <= 1);
  }
  EXPECT_NEAR(total, 1.0, 1e-12);
  EXPECT_NEAR(control, 0.2, 1e-12);
  EXPECT_EQ(classes[0].perturbation, "control");
  EXPECT_EQ(classes[3].perturbation, "G03");
  bool found = false;
  for (const auto& c : classes) found |= c.perturbation == "G03+G10" && c.guide == "G03_g1+G10_g1";
  EXPECT_TRUE(found) << "explicit combinations are labelled in gene order";
  // A guide has one efficiency wherever it is used.
  double single = 0, in_pair = 0;
  for (const auto& c : classes) {
    if (c.guide == "G03_g1") single = c.knock[0].second;
    if (c.guide == "G03_g1+G10_g1") in_pair = c.knock[0].second;
  }
  EXPECT_GT(single, 0.0);
  EXPECT_EQ(single, in_pair);
}

TEST(GuideLibrary, MultipleInfectionAddsDoublets) {
  const auto p = test_support::small_model(model::ModelKind::kMechanistic, 30, 0, 1);
  simulate::LibraryOptions o;
  o.singles = 10;
  o.moi = 0.5;
  const auto classes = simulate::build_library(o, p, 1, "step");
  const std::size_t base = 4 + 20;
  EXPECT_GT(classes.size(), base);
  double total = 0;
  for (const auto& c : classes) total += std::exp(c.log_weight);
  EXPECT_NEAR(total, 1.0, 1e-12);
}

TEST(GuideLibrary, ImpossibleRequestsAreUsageErrors) {
  const auto p = test_support::small_model(model::ModelKind::kMechanistic, 10, 0, 1);
  simulate::LibraryOptions o;
  o.singles = 11;
  EXPECT_THROW(simulate::build_library(o, p, 1, "s"), UsageError);
  o.singles = 2;
  o.pairs = 5;
  EXPECT_THROW(simulate::build_library(o, p, 1, "s"), UsageError);
  o.pairs = 0;
  o.combinations = {"G01+G01"};
  EXPECT_THROW(simulate::build_library(o, p, 1, "s"), UsageError);
}

TEST(Measurement, CountsFollowTheNegativeBinomialMean) {
  simulate::MeasurementOptions o;
  o.dropout = 0.1;
  o.dispersion_sd = 0.0;
  o.depth_sd = 0.0;
  const int G = 4;
  const simulate::MeasurementModel m(o, G, 10.0);
  const std::vector<double> x{1.0, 2.0, 3.0, 4.0}, offsets(G, 0.0);
  std::vector<double> mean(G, 0.0);
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const auto cell = m.draw(static_cast<std::uint64_t>(i), x.data(), offsets, 1000.0);
    EXPECT_NEAR(cell.size_factor, 100.0, 1e-9);
    for (std::size_t k = 0; k < cell.genes.size(); ++k) mean[static_cast<std::size_t>(cell.genes[k])] += cell.counts[k];
  }
  for (int g = 0; g < G; ++g) {
    const double expect = (1 - m.dropout()[static_cast<std::size_t>(g)]) * 100.0 * x[static_cast<std::size_t>(g)];
    EXPECT_NEAR(mean[static_cast<std::size_t>(g)] / n, expect, 0.02 * expect);
  }
  // the same cell id gives the same cell, whoever draws it
  const auto a = m.draw(77, x.data(), offsets, 1000.0), b = m.draw(77, x.data(), offsets, 1000.0);
  EXPECT_EQ(a.counts, b.counts);
}
