// Read + pseudo-bulk statistics of an .h5ad screen (issue 4's benchmark): wall time,
// throughput and peak memory per rank, as JSON.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <iostream>

#include "perturbfit/cli/provenance.hpp"
#include "perturbfit/io/atomic_file.hpp"
#include "perturbfit/cli/runtime.hpp"
#include "perturbfit/data/screen_data.hpp"

using namespace perturbfit;

int main(int argc, char** argv) {
  std::string file, out;
  CLI::App app("h5ad read + statistics benchmark");
  app.add_option("file", file)->required();
  app.add_option("--out", out, "JSON file (rank 0)");
  CLI11_PARSE(app, argc, argv);
  cli::PetscRuntime runtime({argv[0]});
  const parallel::Comm comm(MPI_COMM_WORLD);
  const Reporter quiet(comm.is_root(), true);

  comm.barrier();
  const auto t0 = std::chrono::steady_clock::now();
  data::DataOptions opt;
  opt.path = file;
  const data::ScreenData screen(comm, opt, quiet);
  const auto t1 = std::chrono::steady_clock::now();
  const auto stats = screen.statistics();
  comm.barrier();
  const auto t2 = std::chrono::steady_clock::now();

  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const std::vector<double> peak_mb = comm.all_gather(std::vector<double>{static_cast<double>(ru.ru_maxrss) / 1024.0});
  const std::int64_t local_nnz = comm.sum(static_cast<std::int64_t>(screen.local_values().size()));
  if (comm.is_root()) {
    const double read_s = std::chrono::duration<double>(t1 - t0).count();
    const double total_s = std::chrono::duration<double>(t2 - t0).count();
    const auto& L = screen.matrix();
    const double file_mb = static_cast<double>(std::filesystem::file_size(file)) / 1e6;
    // the stored sparse data as written: int32 values + int32 indices
    const double sparse_mb = static_cast<double>(L.nnz) * 8.0 / 1e6;
    nlohmann::json j{{"benchmark", "h5ad_read_statistics"},
                     {"file", file},
                     {"ranks", comm.size()},
                     {"cells", L.rows},
                     {"genes", L.cols},
                     {"stored_values", L.nnz},
                     {"values_held_after_redistribution", local_nnz},
                     {"groups", screen.groups().size()},
                     {"file_mb", file_mb},
                     {"read_and_distribute_seconds", read_s},
                     {"statistics_seconds", total_s - read_s},
                     {"wall_seconds", total_s},
                     {"file_mb_per_second", file_mb / total_s},
                     {"peak_rss_mb_per_rank", peak_mb},
                     {"sparse_share_mb_per_rank", sparse_mb / comm.size()},
                     {"peak_over_share", peak_mb[0] / (sparse_mb / comm.size())},
                     {"libraries", cli::library_versions()},
                     {"date", cli::utc_now()}};
    std::cout << j.dump(2) << std::endl;
    if (!out.empty()) io::write_file_atomically(out, j.dump(2) + "\n");
  }
  return 0;
}
