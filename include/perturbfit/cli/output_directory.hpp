// Who owns an output directory. A directory belongs to the command whose provenance.json
// is in it; another command refuses to write there (exit 2) unless --force, which first
// removes the previous owner's results (never a file this run reads). A rerun of the same
// command replaces its results only when it succeeds: results are published together at
// the end, provenance.json is written only with them, and a failure is recorded in
// failure.json, leaving the previous run's files as they were.
#pragma once
#include <filesystem>
#include <string>
#include <vector>

#include "perturbfit/parallel/comm.hpp"

namespace perturbfit::cli {

// The files a command publishes into its output directory (besides provenance.json).
const std::vector<std::string>& result_files(const std::string& command);

// Collective. Creates `dir` if needed and claims it for `command`; `inputs` are the files
// this run reads (deck, screen, truth, edge lists): a result file may never be one of them.
void claim_output_directory(const parallel::Comm& comm, const std::filesystem::path& dir, const std::string& command,
                            bool force, const std::vector<std::filesystem::path>& inputs);

}  // namespace perturbfit::cli
