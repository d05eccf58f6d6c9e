// The interconnect as the fit sees it: ping-pong latency and bandwidth between ranks 0 and
// 1, and MPI_Allreduce of n doubles (the fit reduces its gradient, |theta| doubles, once
// per evaluation). The numbers feed the performance model of bench/scaling_study.py.
// Run at >= 2 ranks: tools/mpirun.sh 2 build/bench/bench_mpi --out bench/results/mpi_np2.json
#include <mpi.h>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <iostream>
#include <vector>

#include "perturbfit/cli/provenance.hpp"
#include "perturbfit/cli/runtime.hpp"
#include "perturbfit/io/atomic_file.hpp"
#include "perturbfit/parallel/comm.hpp"

namespace {

// Median of `repeat` timings of `op`, each averaged over `inner` calls, ranks synchronised.
template <class Op>
double median_seconds(const perturbfit::parallel::Comm& comm, int repeat, int inner, Op op) {
  std::vector<double> t;
  for (int r = 0; r < repeat; ++r) {
    comm.barrier();
    const double t0 = MPI_Wtime();
    for (int i = 0; i < inner; ++i) op();
    t.push_back(comm.max((MPI_Wtime() - t0) / inner));
  }
  std::nth_element(t.begin(), t.begin() + static_cast<long>(t.size() / 2), t.end());
  return t[t.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string out;
  int repeat = 7;
  CLI::App app("MPI latency, bandwidth and allreduce times");
  app.add_option("--out", out, "write the JSON here too");
  app.add_option("--repeat", repeat)->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);
  perturbfit::cli::PetscRuntime runtime(std::vector<std::string>(argv, argv + argc));
  const perturbfit::parallel::Comm comm(MPI_COMM_WORLD);
  const int rank = comm.rank(), size = comm.size();
  if (size < 2) {
    std::cerr << "bench_mpi: run at 2 or more ranks (tools/mpirun.sh 2 ...)\n";
    return 2;
  }
  nlohmann::json j{{"benchmark", "mpi"}, {"ranks", size}};
  // Ping-pong between 0 and 1: half the round trip.
  for (const std::size_t bytes : {std::size_t{8}, std::size_t{1} << 20, std::size_t{8} << 20}) {
    std::vector<char> buf(bytes);
    const int inner = bytes > 1000 ? 20 : 2000;
    const double rt = median_seconds(comm, repeat, inner, [&] {
      if (rank == 0) {
        MPI_Send(buf.data(), static_cast<int>(bytes), MPI_CHAR, 1, 0, MPI_COMM_WORLD);
        MPI_Recv(buf.data(), static_cast<int>(bytes), MPI_CHAR, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      } else if (rank == 1) {
        MPI_Recv(buf.data(), static_cast<int>(bytes), MPI_CHAR, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        MPI_Send(buf.data(), static_cast<int>(bytes), MPI_CHAR, 0, 0, MPI_COMM_WORLD);
      }
    });
    j["ping_pong"].push_back({{"bytes", bytes},
                              {"one_way_seconds", rt / 2},
                              {"bandwidth_bytes_per_second", static_cast<double>(bytes) / (rt / 2)}});
  }
  // Allreduce of n doubles: 1 (a loss), W1's |theta| (120,090), W1-G's (~500,000), 10^6.
  for (const std::size_t n : {std::size_t{1}, std::size_t{1000}, std::size_t{10000}, std::size_t{120090},
                              std::size_t{500000}, std::size_t{1000000}}) {
    std::vector<double> a(n, 1.0), b(n);
    const int inner = n > 100000 ? 10 : 200;
    const double t = median_seconds(comm, repeat, inner, [&] {
      MPI_Allreduce(a.data(), b.data(), static_cast<int>(n), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    });
    j["allreduce"].push_back({{"doubles", n}, {"seconds", t}});
  }
  if (rank == 0) {
    j["libraries"] = perturbfit::cli::library_versions();
    j["date"] = perturbfit::cli::utc_now();
    std::cout << j.dump(2) << std::endl;
    if (!out.empty()) perturbfit::io::write_file_atomically(out, j.dump(2) + "\n");
  }
  return 0;
}
