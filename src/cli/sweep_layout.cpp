#include "perturbfit/cli/sweep_layout.hpp"

#include <cstdio>
#include <fstream>

namespace perturbfit::cli {

namespace fs = std::filesystem;

fs::path point_directory(const fs::path& sweep_dir, std::size_t index) {
  char name[32];
  std::snprintf(name, sizeof name, "%04zu", index);
  return sweep_dir / "points" / name;
}

std::string command_status(const fs::path& output_dir) {
  // failure.json is removed by the next success (cli/provenance.hpp)
  if (fs::exists(output_dir / "failure.json")) return "failed";
  std::ifstream in(output_dir / "provenance.json");
  if (!in) return "missing";
  const auto record = nlohmann::json::parse(in, nullptr, false);
  if (record.is_discarded() || !record.contains("status") || !record["status"].is_string()) return "unreadable";
  return record["status"].get<std::string>();
}

std::string describe_settings(const std::vector<config::Setting>& settings) {
  std::string out;
  for (const auto& s : settings) out += (out.empty() ? "" : ", ") + config::assignment(s);
  return out;
}

}  // namespace perturbfit::cli
