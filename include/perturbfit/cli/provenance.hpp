// The provenance record written into every output directory: what ran, on what, with
// which deck (after overrides), how long, and whether it succeeded.
#pragma once
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "perturbfit/parallel/comm.hpp"

namespace perturbfit::cli {

nlohmann::json library_versions();  // PETSc, SUNDIALS, HDF5, MPI, compiler

class Provenance {
 public:
  Provenance(std::string command, std::vector<std::string> argv, int ranks);
  void set_deck(const nlohmann::json& deck, const std::string& path);
  void set(const std::string& key, nlohmann::json value) { record_[key] = std::move(value); }
  double elapsed_seconds() const;
  // Adds end time, wall time and status, and writes `dir/provenance.json` atomically, or
  // `dir/failure.json` when the status is "failed" (provenance.json describes results).
  void write(const std::filesystem::path& dir, const std::string& status, const std::string& error = "");
  const nlohmann::json& record() const { return record_; }

 private:
  nlohmann::json record_;
  std::chrono::steady_clock::time_point start_;
};

// Runs a command's body; if it throws a perturbfit Error, the root records status "failed"
// with the message in dir/failure.json before the error propagates.
int run_recorded(const parallel::Comm& comm, Provenance& provenance, const std::filesystem::path& dir,
                 const std::function<int()>& body);

std::string utc_now();

}  // namespace perturbfit::cli
