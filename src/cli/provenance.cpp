#include "perturbfit/cli/provenance.hpp"

#include <hdf5.h>
#include <mpi.h>
#include <petscsys.h>
#include <sundials/sundials_version.h>
#include <unistd.h>

#include <ctime>
#include <fstream>

#include "perturbfit/core/error.hpp"
#include "perturbfit/core/json_text.hpp"
#include "perturbfit/io/atomic_file.hpp"
#include "perturbfit/version_info.hpp"

#ifdef _OPENMP
#include <omp.h>
#endif

namespace perturbfit::cli {

using nlohmann::json;

std::string utc_now() {
  const std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

json library_versions() {
  json v;
  char petsc[256] = {0};
  PetscGetVersion(petsc, sizeof petsc);
  v["petsc"] = petsc;
  char sundials[64] = {0};
  SUNDIALSGetVersion(sundials, sizeof sundials);
  v["sundials"] = sundials;
  unsigned maj = 0, min = 0, rel = 0;
  H5get_libversion(&maj, &min, &rel);
  v["hdf5"] = std::to_string(maj) + "." + std::to_string(min) + "." + std::to_string(rel);
  char mpi[MPI_MAX_LIBRARY_VERSION_STRING] = {0};
  int len = 0;
  MPI_Get_library_version(mpi, &len);
  std::string mpi_s(mpi, static_cast<std::size_t>(len));
  v["mpi"] = mpi_s.substr(0, mpi_s.find_first_of(",\n"));
  v["compiler"] = build::kCompiler;
  return v;
}

Provenance::Provenance(std::string command, std::vector<std::string> argv, int ranks)
    : start_(std::chrono::steady_clock::now()) {
  char host[256] = {0};
  gethostname(host, sizeof host - 1);
  record_ = {{"command", command},
             {"argv", argv},
             {"version", build::kVersion},
             {"git_sha", build::kGitSha},
             {"build_type", build::kBuildType},
             {"ranks", ranks},
#ifdef _OPENMP
             {"threads_per_rank", omp_get_max_threads()},
#else
             {"threads_per_rank", 1},
#endif
             {"host", host},
             {"libraries", library_versions()},
             {"start", utc_now()}};
}

void Provenance::set_deck(const json& deck, const std::string& path) {
  record_["deck"] = deck;
  record_["deck_path"] = path;
}

double Provenance::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Provenance::write(const std::filesystem::path& dir, const std::string& status, const std::string& error) {
  record_["end"] = utc_now();
  record_["wall_seconds"] = elapsed_seconds();
  record_["status"] = status;
  if (!error.empty()) record_["error"] = error;
  // A failure describes no results: it must not replace the record of the results there.
  const bool failed = status == "failed";
  io::write_file_atomically(dir / (failed ? "failure.json" : "provenance.json"), json_text(record_) + "\n");
  std::error_code ec;
  if (!failed) std::filesystem::remove(dir / "failure.json", ec);  // a stale record of an earlier failure
}

int run_recorded(const parallel::Comm& comm, Provenance& provenance, const std::filesystem::path& dir,
                 const std::function<int()>& body) {
  try {
    return body();
  } catch (const Error& e) {
    if (comm.is_root()) {
      try {
        provenance.write(dir, "failed", e.what());
      } catch (const std::exception&) {  // the original error matters more than a failed record
      }
    }
    throw;
  }
}

}  // namespace perturbfit::cli
