#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "perturbfit/core/error.hpp"
#include "perturbfit/model/generators.hpp"
#include "test_support.hpp"

using namespace perturbfit;

TEST(Generators, RandomNetworkIsDeterministicAndContracted) {
  model::GeneratorOptions o;
  o.genes = 300;
  o.mean_in_degree = 5;
  o.contraction = 0.7;
  const auto a = model::generate_model(o), b = model::generate_model(o);
  EXPECT_EQ(a.W.val, b.W.val);
  EXPECT_EQ(a.W.col, b.W.col);
  EXPECT_NEAR(static_cast<double>(a.W.nnz()) / o.genes, 5.0, 0.5);
  for (int g = 0; g < a.genes; ++g) {
    double row = 0;
    for (auto k = a.W.row_ptr[static_cast<std::size_t>(g)]; k < a.W.row_ptr[static_cast<std::size_t>(g) + 1]; ++k) {
      row += std::fabs(a.W.val[static_cast<std::size_t>(k)]);
      EXPECT_NE(a.W.col[static_cast<std::size_t>(k)], g);  // no self-loops drawn
    }
    EXPECT_LE(0.25 * a.v[static_cast<std::size_t>(g)] * row, 0.7 * a.gamma[static_cast<std::size_t>(g)] * (1 + 1e-12));
  }
  o.seed = 2;
  EXPECT_NE(model::generate_model(o).W.val, a.W.val);
}

TEST(Generators, ModularKeepsMostEdgesInsideModules) {
  model::GeneratorOptions o;
  o.generator = "modular";
  o.genes = 400;
  o.modules = 4;
  o.between_module_fraction = 0.05;
  const auto p = model::generate_model(o);
  std::int64_t inside = 0;
  for (int g = 0; g < p.genes; ++g)
    for (auto k = p.W.row_ptr[static_cast<std::size_t>(g)]; k < p.W.row_ptr[static_cast<std::size_t>(g) + 1]; ++k)
      inside += (p.W.col[static_cast<std::size_t>(k)] / 100) == (g / 100);
  EXPECT_GT(static_cast<double>(inside) / static_cast<double>(p.W.nnz()), 0.9);
}

TEST(Generators, EdgeListIsReadAndValidated) {
  const std::string dir = test_support::temp_dir("edges");
  {
    std::ofstream(dir + "/ok.tsv") << "source\ttarget\tweight\nTF1\tA\t1.5\nTF1\tB\t-0.5\nA\tB\t0.25\n";
    std::ofstream(dir + "/bad.tsv") << "TF1\tA\t1.5\nTF1\tB\tstrong\n";
    std::ofstream(dir + "/short.tsv") << "TF1\tA\n";
  }
  model::GeneratorOptions o;
  o.generator = "edgelist";
  o.contraction = 0;  // keep the weights as given
  o.edge_list = dir + "/ok.tsv";
  const auto p = model::generate_model(o);
  EXPECT_EQ(p.gene_names, (std::vector<std::string>{"TF1", "A", "B"}));
  EXPECT_EQ(p.W.nnz(), 3);
  EXPECT_DOUBLE_EQ(p.W.val[0], 1.5);  // row A: TF1 -> A
  o.edge_list = dir + "/bad.tsv";
  EXPECT_THROW(model::generate_model(o), DataError);
  o.edge_list = dir + "/short.tsv";
  EXPECT_THROW(model::generate_model(o), DataError);
  o.edge_list = dir + "/missing.tsv";
  EXPECT_THROW(model::generate_model(o), DataError);
  std::filesystem::remove_all(dir);
}

TEST(Generators, BadOptionsAreUsageErrors) {
  model::GeneratorOptions o;
  o.generator = "scale-free";
  EXPECT_THROW(model::generate_model(o), UsageError);
  o.generator = "random";
  o.genes = 1;
  EXPECT_THROW(model::generate_model(o), UsageError);
}
