// `perturbfit collect DIR`: every point of a sweep (cli/sweep_layout.hpp) into one table:
// DIR/sweep.csv (a row per point: its settings, its fit's status and metrics) and
// DIR/sweep.md (a row per grid combination: mean ± sd over the seeds of the finished points).
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include "perturbfit/cli/commands.hpp"
#include "perturbfit/cli/sweep_layout.hpp"
#include "perturbfit/config/sweep.hpp"
#include "perturbfit/core/error.hpp"
#include "perturbfit/io/atomic_file.hpp"

namespace perturbfit::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct Column {
  std::string name;
  json::json_pointer where;  // in metrics.json
};

// The held-out error of the model beside the baselines any claim is measured against, the
// network's recovery where the truth is known, and the cost.
const std::vector<std::pair<std::string, std::string>> kDefaultColumns{
    {"model_test_mse_effect", "/metrics/model/test/mse_effect"},
    {"control_mean_test_mse_effect", "/metrics/control_mean/test/mse_effect"},
    {"train_mean_test_mse_effect", "/metrics/train_mean/test/mse_effect"},
    {"noise_floor_test_mse_effect", "/metrics/replicate/test/noise_floor_mse_effect"},
    {"model_test_pearson_effect", "/metrics/model/test/pearson_effect"},
    {"auprc_W", "/truth_recovery/auprc_W"},
    {"iterations", "/iterations"},
    {"final_loss", "/final_loss/total"},
    {"wall_seconds", "/wall_seconds"}};

std::vector<Column> columns(const std::vector<std::string>& extra) {
  std::vector<Column> out;
  for (const auto& [name, pointer] : kDefaultColumns) out.push_back({name, json::json_pointer(pointer)});
  for (const auto& e : extra) {
    const auto eq = e.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 >= e.size() || e[eq + 1] != '/')
      throw UsageError("--column expects NAME=/json/pointer into metrics.json, e.g. "
                       "single_mse=/metrics/model/test/single/mse_effect; got '" + e + "'");
    try {
      out.push_back({e.substr(0, eq), json::json_pointer(e.substr(eq + 1))});
    } catch (const json::exception& x) {
      throw UsageError("--column '" + e + "': " + x.what());
    }
  }
  return out;
}

json read_json(const fs::path& path) {
  std::ifstream in(path);
  if (!in) return nullptr;
  auto j = json::parse(in, nullptr, false);
  return j.is_discarded() ? json(nullptr) : j;
}

std::string csv_field(const json& v) {
  if (v.is_null()) return "";
  if (v.is_number_float()) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.10g", v.get<double>());
    return buf;
  }
  const std::string text = v.is_string() ? v.get<std::string>() : v.dump();
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string q = "\"";
  for (char c : text) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

std::string mean_sd(const std::vector<double>& v) {
  if (v.empty()) return "n/a";
  double mean = 0, var = 0;
  for (double x : v) mean += x / static_cast<double>(v.size());
  for (double x : v) var += (x - mean) * (x - mean);
  char buf[64];
  if (v.size() > 1)
    std::snprintf(buf, sizeof buf, "%.5g ± %.2g", mean, std::sqrt(var / static_cast<double>(v.size() - 1)));
  else
    std::snprintf(buf, sizeof buf, "%.5g", mean);
  return buf;
}

}  // namespace

void add_collect(CLI::App& app, CollectArgs& args) {
  auto* cmd = app.add_subcommand(
      "collect",
      "tabulate a sweep's points (perturbfit sweep -o DIR): DIR/sweep.csv, a row per point, and DIR/sweep.md, "
      "mean ± sd over seeds per grid combination (also printed)");
  cmd->add_option("dir", args.dir, "the sweep's output directory")->required();
  cmd->add_option("--column", args.columns,
                  "add a column NAME=/json/pointer into each point's metrics.json "
                  "(e.g. single=/metrics/model/test/single/mse_effect)")
      ->allow_extra_args(false);
  args.command = cmd;
}

int run_collect(const CommandContext& ctx, const CollectArgs& args) {
  const json description = read_json(args.dir / "sweep.json");
  if (description.is_null())
    throw UsageError("'" + args.dir.string() + "' is not a sweep's output directory (no readable sweep.json); " +
                     "give the -o of `perturbfit sweep`");
  const auto sweep = config::Sweep::from_json(description, args.dir, (args.dir / "sweep.json").string());
  const auto cols = columns(args.columns);
  std::vector<std::string> keys = sweep.grid_keys();
  if (sweep.has_seeds()) keys.push_back(sweep.seed_key());

  std::ostringstream csv;
  csv << "point";
  for (const auto& k : keys) csv << "," << csv_field(k);
  csv << ",status";
  for (const auto& c : cols) csv << "," << c.name;
  csv << "\n";
  // Grid combinations in point order; the seeds of one combination are adjacent.
  std::vector<std::string> order;
  std::map<std::string, std::vector<std::vector<double>>> values;  // combination -> column -> finished points
  std::map<std::string, std::pair<int, int>> finished;             // combination -> (finished, points)
  std::map<std::string, int> statuses;
  for (std::size_t i = 0; i < sweep.size(); ++i) {
    const auto point = sweep.point(i);
    const fs::path fit_dir = point_directory(args.dir, i) / "fit";
    const std::string status = command_status(fit_dir);
    ++statuses[status];
    const json metrics = status == "ok" ? read_json(fit_dir / "metrics.json") : json(nullptr);
    csv << i;
    std::string combination;
    for (const auto& s : point.settings) {
      csv << "," << csv_field(s.second);
      if (!(sweep.has_seeds() && s.first == sweep.seed_key()))
        combination += (combination.empty() ? "" : " | ") + s.second.dump();
    }
    csv << "," << status;
    if (!values.count(combination)) order.push_back(combination), values[combination].resize(cols.size());
    ++finished[combination].second;
    if (!metrics.is_null()) ++finished[combination].first;
    for (std::size_t c = 0; c < cols.size(); ++c) {
      const json v = metrics.is_null() || !metrics.contains(cols[c].where) ? json(nullptr) : metrics[cols[c].where];
      csv << "," << csv_field(v);
      if (v.is_number()) values[combination][c].push_back(v.get<double>());
    }
    csv << "\n";
  }

  std::ostringstream md;
  md << "| " << (sweep.grid_keys().empty() ? std::string("all points") : "");
  for (std::size_t k = 0; k < sweep.grid_keys().size(); ++k) md << (k ? " | " : "") << sweep.grid_keys()[k];
  md << " | finished";
  for (const auto& c : cols) md << " | " << c.name;
  md << " |\n|";
  for (std::size_t k = 0; k < std::max<std::size_t>(1, sweep.grid_keys().size()) + 1 + cols.size(); ++k) md << "---|";
  md << "\n";
  for (const auto& combination : order) {
    md << "| " << (combination.empty() ? "all" : combination) << " | " << finished[combination].first << "/"
       << finished[combination].second;
    for (const auto& v : values[combination]) md << " | " << mean_sd(v);
    md << " |\n";
  }
  std::ostringstream counts;
  for (const auto& [s, n] : statuses) counts << (counts.tellp() > 0 ? ", " : "") << n << " " << s;
  const std::string note = "\n" + std::to_string(sweep.size()) + " points (" + counts.str() + "); mean ± sd over " +
                           (sweep.has_seeds() ? sweep.seed_key() : std::string("points")) +
                           " of the finished points; deck " + sweep.deck().string() + "\n";
  ctx.comm.run_on_root([&] {
    io::write_file_atomically(args.dir / "sweep.csv", csv.str());
    io::write_file_atomically(args.dir / "sweep.md", md.str() + note);
    std::cout << md.str() << note << "  " << (args.dir / "sweep.csv").string() << "\n  "
              << (args.dir / "sweep.md").string() << "\n";
  });
  return 0;
}

}  // namespace perturbfit::cli
