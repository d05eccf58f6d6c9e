// Run under `mpiexec -n 2`: the decomposition over ranks must not change any result.
#include <gtest/gtest.h>
#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <functional>

#include "perturbfit/cli/deck_schema.hpp"
#include "perturbfit/config/deck.hpp"
#include "perturbfit/core/error.hpp"
#include "perturbfit/io/h5ad_writer.hpp"
#include "perturbfit/parallel/exchange.hpp"
#include "perturbfit/io/hdf5.hpp"
#include "perturbfit/model/generators.hpp"
#include "perturbfit/simulate/screen.hpp"
#include "perturbfit/simulate/settings.hpp"

using namespace perturbfit;

namespace {

parallel::Comm world_comm() { return parallel::Comm(MPI_COMM_WORLD); }

std::vector<char> read_raw(const std::string& path, const std::string& dataset) {
  const io::H5File f = io::H5File::open_read(path);
  io::H5Id d(H5Dopen2(f.id(), dataset.c_str(), H5P_DEFAULT), H5Dclose);
  EXPECT_TRUE(d.valid()) << dataset;
  io::H5Id type(H5Dget_type(d), H5Tclose), space(H5Dget_space(d), H5Sclose);
  const auto n = static_cast<std::size_t>(H5Sget_simple_extent_npoints(space)) * H5Tget_size(type);
  std::vector<char> buf(n);
  if (n > 0) H5Dread(d, type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf.data());
  return buf;
}

struct SimRun {
  std::vector<double> states;
  std::string screen;
};

SimRun simulate_on(const parallel::Comm& comm, const std::string& out) {
  const Reporter quiet(comm.is_root(), true);
  const auto deck = config::Deck::load(std::string(PERTURBFIT_TEST_DATA) + "/small.toml", cli::deck_schema());
  simulate::Simulation sim(comm, model::generate_model(simulate::generator_options(deck)),
                           simulate::simulation_settings(deck), quiet);
  sim.run(simulate::parse_protocol(deck));
  const auto rows = simulate::assemble_screen(sim, quiet);
  io::write_h5ad(comm, out, rows.h5ad);
  return {sim.gather_states(), out};
}

TEST(MpiComm, CollectivesAgree) {
  const auto world = world_comm();
  ASSERT_EQ(world.size(), 2) << "run this test with mpiexec -n 2";
  EXPECT_DOUBLE_EQ(world.sum(1.5), 3.0);
  EXPECT_EQ(world.exclusive_prefix_sum(std::int64_t{10 + world.rank()}), world.rank() == 0 ? 0 : 10);
  const auto all = world.all_gather(std::vector<int>(static_cast<std::size_t>(world.rank() + 1), world.rank()));
  EXPECT_EQ(all, (std::vector<int>{0, 1, 1}));
  try {
    world.rethrow_any(world.rank() == 1 ? "rank 1 failed" : "", 3);
    FAIL() << "every rank must throw";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), "rank 1 failed");
    EXPECT_EQ(e.code(), ExitCode::kData);
  }
}

TEST(MpiSimulate, TwoRanksGiveTheSameStatesAndBytesAsOne) {
  const auto world = world_comm();
  const std::string dir = (std::filesystem::temp_directory_path() / "perturbfit-mpi-test").string();
  if (world.is_root()) std::filesystem::create_directories(dir);
  world.barrier();
  const SimRun two = simulate_on(world, dir + "/two.h5ad");
  if (world.is_root()) {
    const SimRun one = simulate_on(parallel::Comm(MPI_COMM_SELF), dir + "/one.h5ad");
    EXPECT_EQ(one.states, two.states);
    for (const char* ds : {"/X/data", "/X/indices", "/X/indptr", "/obs/perturbation/codes", "/obs/guide/codes",
                           "/obs/batch/codes", "/obs/time", "/obs/n_counts"}) {
      EXPECT_EQ(read_raw(one.screen, ds), read_raw(two.screen, ds)) << ds;
    }
    std::filesystem::remove_all(dir);
  }
  world.barrier();
}

}  // namespace

// Rows 0..9 live on rank row % 2; each rank sends every row in two rounds of uneven size
// (rank 1 runs out first), and each entry arrives once, at its owner, in its sender's order.
TEST(MpiExchange, EveryEntryReachesTheRankOfItsRowInOrder) {
  const auto world = world_comm();
  ASSERT_EQ(world.size(), 2) << "run this test with mpiexec -n 2";
  const int me = world.rank();
  parallel::Exchange ex(world);
  const std::function<int(std::int64_t)> owner = [](std::int64_t row) { return static_cast<int>(row % 2); };
  std::vector<std::int64_t> got_rows;
  std::vector<double> got_values;
  for (int chunk = 0;; ++chunk) {
    const bool more = chunk < (me == 0 ? 2 : 1);
    std::vector<std::int64_t> row;
    std::vector<std::int32_t> col;
    std::vector<double> value;
    if (more)
      for (std::int64_t r = chunk * 5; r < chunk * 5 + 5; ++r)
        row.push_back(r), col.push_back(me), value.push_back(100.0 * me + static_cast<double>(r));
    if (!ex.round(row, col, value, more, owner)) break;
    const auto& in = ex.received();
    for (std::size_t k = 0; k < in.row.size(); ++k) {
      EXPECT_EQ(in.row[k] % 2, me) << "entry of row " << in.row[k] << " arrived at rank " << me;
      EXPECT_DOUBLE_EQ(in.value[k], 100.0 * in.col[k] + static_cast<double>(in.row[k]));
      got_rows.push_back(in.row[k]), got_values.push_back(in.value[k]);
    }
  }
  // Rank 0 sent rows 0..9, rank 1 rows 0..4: this rank's rows from rank 0, then from rank 1.
  std::vector<std::int64_t> expected;
  for (int r = me; r < 5; r += 2) expected.push_back(r);
  for (int r = me; r < 5; r += 2) expected.push_back(r);
  for (int r = 5 + (me == 1 ? 0 : 1); r < 10; r += 2) expected.push_back(r);
  std::sort(got_rows.begin(), got_rows.end());
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(got_rows, expected);
}
