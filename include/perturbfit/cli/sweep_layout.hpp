// Where a sweep's results live (one source of truth for `sweep` and `collect`):
// DIR/sweep.json (the sweep's definition), DIR/points/NNNN/point.json (a point's
// settings), DIR/points/NNNN/fit/ (its fit), DIR/screens/<hash>/ (shared simulated screens).
#pragma once
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "perturbfit/config/sweep.hpp"

namespace perturbfit::cli {

std::filesystem::path point_directory(const std::filesystem::path& sweep_dir, std::size_t index);
// The status in a command's provenance.json ("ok", "interrupted"), "failed" (its
// failure.json), or "missing".
std::string command_status(const std::filesystem::path& output_dir);
// "fit.lambda_ss=0.1, run.seed=2"
std::string describe_settings(const std::vector<config::Setting>& settings);

}  // namespace perturbfit::cli
