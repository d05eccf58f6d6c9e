// The one edge-list grammar (network.edge_list, fit.edge_list) and the FNV-1a hasher.
#include <gtest/gtest.h>

#include <fstream>

#include "perturbfit/core/error.hpp"
#include "perturbfit/core/hash.hpp"
#include "perturbfit/core/random.hpp"
#include "perturbfit/model/edge_list.hpp"
#include "test_support.hpp"

namespace {

using perturbfit::DataError;
using perturbfit::model::read_edge_list;

std::string file_with(const std::string& dir, const std::string& name, const std::string& text) {
  const std::string path = dir + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

std::string message_of(const std::string& path, bool weighted) {
  try {
    (void)read_edge_list(path, "fit.edge_list", weighted);
  } catch (const DataError& e) {
    return e.what();
  }
  return "";
}

TEST(EdgeList, TabsOrBlanksCommentsAndAHeader) {
  const auto dir = perturbfit::test_support::temp_dir("edge_list");
  const auto weighted = read_edge_list(
      file_with(dir, "w.tsv", "source\ttarget\tweight\n# a comment\n\nTF1\tA\t1.5\r\nTF1\tB\t-0.5\n"), "k", true);
  ASSERT_EQ(weighted.size(), 2u);
  EXPECT_EQ(weighted[0].source, "TF1");
  EXPECT_EQ(weighted[0].target, "A");
  EXPECT_DOUBLE_EQ(weighted[0].weight, 1.5);  // the \r of a Windows line is not part of the weight
  EXPECT_EQ(weighted[1].line, 5);
  const auto blanks = read_edge_list(file_with(dir, "u.txt", "TF1 A\nTF2   B extra\n"), "k", false);
  ASSERT_EQ(blanks.size(), 2u);
  EXPECT_EQ(blanks[1].source, "TF2");
  EXPECT_EQ(blanks[1].target, "B");
  std::filesystem::remove_all(dir);
}

TEST(EdgeList, ErrorsNameTheLineNeverItsText) {
  const auto dir = perturbfit::test_support::temp_dir("edge_list_bad");
  const auto bad_weight = message_of(file_with(dir, "a.tsv", "A\tB\t1\nA\tC\tSECRET\n"), true);
  EXPECT_NE(bad_weight.find("a.tsv:2"), std::string::npos) << bad_weight;
  EXPECT_EQ(bad_weight.find("SECRET"), std::string::npos) << bad_weight;
  const auto one_field = message_of(file_with(dir, "b.tsv", "SECRET\n"), false);
  EXPECT_NE(one_field.find("b.tsv:1: expected 2 tab-separated fields"), std::string::npos) << one_field;
  EXPECT_EQ(one_field.find("SECRET"), std::string::npos) << one_field;
  const auto binary = message_of(file_with(dir, "c.bin", std::string("A\tB\0SECRET\n", 12)), false);
  EXPECT_NE(binary.find("not a text file"), std::string::npos) << binary;
  EXPECT_NE(message_of(file_with(dir, "d.tsv", "A\tB\tinf\n"), true).find("not finite"), std::string::npos);
  EXPECT_NE(message_of(file_with(dir, "e.tsv", "# only a comment\n"), true).find("holds no edge"), std::string::npos);
  EXPECT_NE(message_of(dir + "/missing.tsv", true).find("no such file"), std::string::npos);
  EXPECT_NE(message_of(dir, true).find("not a regular file"), std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST(Hash, Fnv1aMatchesTheReferenceValuesAndSeparatesFields) {
  // The project's basis (see core/hash.hpp), then one FNV-1a step per byte.
  constexpr std::uint64_t basis = 1469598103934665603ULL, prime = 1099511628211ULL;
  EXPECT_EQ(perturbfit::Fnv1a().digest(), basis);
  EXPECT_EQ(perturbfit::Fnv1a().bytes("a", 1).digest(), (basis ^ 'a') * prime);
  EXPECT_EQ(perturbfit::stream_id("ab"), (((basis ^ 'a') * prime) ^ 'b') * prime);
  EXPECT_NE(perturbfit::Fnv1a().text("ab").text("c").digest(), perturbfit::Fnv1a().text("a").text("bc").digest());
  EXPECT_EQ(perturbfit::Fnv1a().value(std::uint64_t{0}).hex().size(), 16u);
}

}  // namespace
