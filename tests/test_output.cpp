// The output layer (io/atomic_file, H5File's creation and close): a published file is
// whole, a failure leaves the previous file as it was, and a symlink planted under the
// temporary name is never followed.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "perturbfit/core/error.hpp"
#include "perturbfit/io/atomic_file.hpp"
#include "perturbfit/io/hdf5.hpp"
#include "perturbfit/model/parameter_file.hpp"

namespace fs = std::filesystem;
using namespace perturbfit;

namespace {
fs::path fresh_dir(const std::string& name) {
  const auto dir = fs::temp_directory_path() / ("perturbfit_test_output_" + std::to_string(::getpid()) + "_" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}
std::string contents(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

TEST(AtomicFile, ReplacesTheFileAndLeavesNoPartial) {
  const auto dir = fresh_dir("replace");
  io::write_file_atomically(dir / "a.json", "first\n");
  io::write_file_atomically(dir / "a.json", "second\n");
  EXPECT_EQ(contents(dir / "a.json"), "second\n");
  EXPECT_FALSE(fs::exists(dir / "a.json.partial"));
  fs::remove_all(dir);
}

TEST(AtomicFile, APlantedSymlinkIsNotFollowed) {
  const auto dir = fresh_dir("symlink");
  std::ofstream(dir / "victim") << "keep";
  fs::create_symlink(dir / "victim", dir / "out.json.partial");
  io::write_file_atomically(dir / "out.json", "new");
  EXPECT_EQ(contents(dir / "victim"), "keep");
  EXPECT_EQ(contents(dir / "out.json"), "new");
  EXPECT_FALSE(fs::is_symlink(dir / "out.json"));
  fs::remove_all(dir);
}

TEST(AtomicFile, AFailedHdf5WriteKeepsThePreviousFile) {
  const auto dir = fresh_dir("h5");
  const auto path = dir / "result.h5";
  io::write_h5_serially(path, [](const io::H5File& f) { f.write("/x", std::vector<double>{1, 2, 3}); });
  EXPECT_THROW(io::write_h5_serially(path,
                                     [](const io::H5File& f) {
                                       f.write("/x", std::vector<double>{9});
                                       throw IOError("simulated failure half way");
                                     }),
               IOError);
  EXPECT_EQ(io::H5File::open_read(path.string()).read<double>("/x"), (std::vector<double>{1, 2, 3}));
  fs::remove_all(dir);
}

TEST(AtomicFile, Hdf5FilesAreOnlyCreatedUnderAPartialName) {
  const auto dir = fresh_dir("final");
  std::ofstream(dir / "screen.h5ad") << "input";
  EXPECT_THROW(io::H5File::create_serial((dir / "screen.h5ad").string()), IOError);
  EXPECT_EQ(contents(dir / "screen.h5ad"), "input");
  fs::remove_all(dir);
}

TEST(ParameterFile, RoundTripsEveryField) {
  const auto dir = fresh_dir("parameters");
  model::ModelParameters p;
  p.kind = model::ModelKind::kHybrid;
  p.genes = 3, p.media = 2, p.neural_rank = 1;
  p.gene_names = {"a", "b", "c"};
  p.W.row_ptr = {0, 1, 1, 3};
  p.W.col = {1, 0, 1};
  p.W.val = {0.5, -1.0, 2.0};
  p.U = {1, 2, 3, 4, 5, 6};
  p.c = {0.1, 0.2, 0.3}, p.v = {1, 2, 3}, p.beta = {0.01, 0.02, 0.03}, p.gamma = {1, 1, 2};
  p.A = {1, 2, 3}, p.B = {4, 5, 6}, p.C = {7, 8}, p.d = {9};
  p.fitness = {0, 0.1, -0.1}, p.growth_rate = 0.7;
  io::write_h5_serially(dir / "p.h5", [&](const io::H5File& f) { model::write_parameters(f, p); });
  const auto q = model::read_parameters(io::H5File::open_read((dir / "p.h5").string()));
  EXPECT_EQ(q.kind, p.kind);
  EXPECT_EQ(q.genes, 3);
  EXPECT_EQ(q.media, 2);
  EXPECT_EQ(q.neural_rank, 1);
  EXPECT_EQ(q.gene_names, p.gene_names);
  EXPECT_EQ(q.W.row_ptr, p.W.row_ptr);
  EXPECT_EQ(q.W.col, p.W.col);
  EXPECT_EQ(q.W.val, p.W.val);
  EXPECT_EQ(q.U, p.U);
  EXPECT_EQ(q.c, p.c);
  EXPECT_EQ(q.v, p.v);
  EXPECT_EQ(q.beta, p.beta);
  EXPECT_EQ(q.gamma, p.gamma);
  EXPECT_EQ(q.A, p.A);
  EXPECT_EQ(q.B, p.B);
  EXPECT_EQ(q.C, p.C);
  EXPECT_EQ(q.d, p.d);
  EXPECT_EQ(q.fitness, p.fitness);
  EXPECT_EQ(q.growth_rate, p.growth_rate);
  fs::remove_all(dir);
}
