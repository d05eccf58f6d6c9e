#include "perturbfit/cli/output_directory.hpp"

#include <nlohmann/json.hpp>

#include <fstream>
#include <map>

#include "perturbfit/core/error.hpp"

namespace perturbfit::cli {

namespace fs = std::filesystem;

const std::vector<std::string>& result_files(const std::string& command) {
  static const std::map<std::string, std::vector<std::string>> files = {
      {"simulate", {"screen.h5ad", "truth.h5"}},
      {"fit", {"fit.h5", "metrics.json", "checkpoint.h5", "gradient_check.json"}},
      {"predict", {"predictions.h5ad", "interactions.tsv", "summary.json", "cells.h5ad"}},
      {"export", {"edges.tsv", "network.graphml", "total_effects.tsv", "summary.json"}},
      {"check", {"assumptions.json"}},
      {"design", {"design.json", "study"}},
  };
  static const std::vector<std::string> none;
  const auto it = files.find(command);
  return it == files.end() ? none : it->second;
}

namespace {
// The command recorded in dir/provenance.json ("" if there is none; "unknown" if unreadable).
std::string owner_of(const fs::path& dir) {
  const fs::path record = dir / "provenance.json";
  std::error_code ec;
  if (!fs::exists(fs::symlink_status(record, ec))) return "";
  try {
    std::ifstream in(record);
    const auto j = nlohmann::json::parse(in);
    return j.value("command", std::string("unknown"));
  } catch (const std::exception&) {
    return "unknown";
  }
}

bool same_file(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  return fs::equivalent(a, b, ec);
}
}  // namespace

void claim_output_directory(const parallel::Comm& comm, const fs::path& dir, const std::string& command, bool force,
                            const std::vector<fs::path>& inputs) {
  comm.run_on_root([&] {
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec || !fs::is_directory(dir))
      throw IOError("cannot create output directory '" + dir.string() +
                    "': " + (ec ? ec.message() : "not a directory"));
    auto check_not_input = [&](const fs::path& file, const std::string& why) {
      for (const auto& in : inputs)
        if (!in.empty() && same_file(file, in))
          throw UsageError("'" + file.string() + "' is an input of this run (" + in.string() + ") and " + why +
                           "; choose another output directory with -o");
    };
    for (const auto& name : result_files(command)) check_not_input(dir / name, "would be overwritten by its results");
    check_not_input(dir / "provenance.json", "would be overwritten by its provenance record");

    const std::string owner = owner_of(dir);
    if (owner.empty() || owner == command) return;
    if (!force)
      throw UsageError("output directory '" + dir.string() + "' holds the results of `perturbfit " + owner +
                       "` (see its provenance.json); write " + command + " results elsewhere (-o " +
                       (dir / command).string() + ") or pass --force to replace them");
    std::vector<std::string> old = result_files(owner);
    old.push_back("provenance.json");
    old.push_back("failure.json");
    for (const auto& name : old) check_not_input(dir / name, "--force would delete it");
    for (const auto& name : old) {
      fs::remove_all(dir / name, ec);  // "study" (design) is a directory
      if (ec) throw IOError("--force: cannot remove '" + (dir / name).string() + "': " + ec.message());
    }
  });
}

}  // namespace perturbfit::cli
