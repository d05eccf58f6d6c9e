// `perturbfit sweep SWEEP.toml -o DIR [--point N]`: the grid of a sweep file
// (config/sweep.hpp), each point simulated (or given a screen) and fitted by the same code
// as `perturbfit simulate` and `perturbfit fit`, into DIR/points/NNNN/. A point whose fit
// finished is skipped; an interrupted one continues from its checkpoint. Points that agree
// on every key outside [fit] and [data] share one simulated screen (DIR/screens/<hash>/),
// made once under a file lock, so the tasks of a SLURM job array can run in any order.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>

#include "perturbfit/cli/commands.hpp"
#include "perturbfit/cli/sweep_layout.hpp"
#include "perturbfit/config/sweep.hpp"
#include "perturbfit/core/error.hpp"
#include "perturbfit/core/hash.hpp"
#include "perturbfit/core/json_text.hpp"
#include "perturbfit/io/atomic_file.hpp"

namespace perturbfit::cli {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// The subcommands print their summaries on stdout; within a sweep the sweep reports.
class SilencedStdout {
 public:
  SilencedStdout() : previous_(std::cout.rdbuf(nullptr)) {}
  ~SilencedStdout() { std::cout.rdbuf(previous_); }
  SilencedStdout(const SilencedStdout&) = delete;
  SilencedStdout& operator=(const SilencedStdout&) = delete;

 private:
  std::streambuf* previous_;
};

// An exclusive advisory lock on a file (flock), held by one rank while a shared screen is
// made: another job-array task that needs the same screen waits for it.
class FileLock {
 public:
  explicit FileLock(const fs::path& path) : fd_(::open(path.c_str(), O_CREAT | O_RDWR, 0644)) {
    if (fd_ < 0) throw IOError("cannot create the lock file '" + path.string() + "'");
    if (::flock(fd_, LOCK_EX) != 0) {
      ::close(fd_);
      throw IOError("cannot lock '" + path.string() + "'");
    }
  }
  ~FileLock() {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_;
};

std::vector<std::string> command_line(const std::string& command, const std::string& deck,
                                      const std::vector<std::string>& overrides, const fs::path& output) {
  std::vector<std::string> argv{"perturbfit", command, deck};
  for (const auto& o : overrides) argv.insert(argv.end(), {"--set", o});
  argv.insert(argv.end(), {"-o", output.string()});
  return argv;
}

// The simulated screen of a point: made by the first point that needs it.
fs::path shared_screen(const CommandContext& ctx, const config::Sweep& sweep, const config::SweepPoint& point,
                       const fs::path& dir) {
  const auto overrides = sweep.simulation_overrides(point);
  Fnv1a h;
  h.text(sweep.deck().string());
  for (const auto& o : overrides) h.text(o);
  const fs::path screen = dir / "screens" / h.hex();
  const auto& comm = ctx.comm;
  comm.run_on_root([&] { fs::create_directories(dir / "screens"); });
  comm.barrier();
  std::unique_ptr<FileLock> lock;
  if (comm.is_root()) lock = std::make_unique<FileLock>(fs::path(screen.string() + ".lock"));
  const bool done = comm.broadcast(command_status(screen) == "ok" ? "1" : "0") == "1";
  if (!done) {
    ctx.reporter.info("sweep: simulating the screen of point " + std::to_string(point.index) + " into " +
                      screen.string());
    CommandContext sim_ctx{comm, Reporter(comm.is_root(), true), false,
                           command_line("simulate", sweep.deck().string(), overrides, screen)};
    const SilencedStdout silence;
    run_simulate(sim_ctx, SimulateArgs{sweep.deck().string(), overrides, screen, true});
  }
  comm.barrier();  // the screen is complete before the lock is released
  return screen;
}

void write_point(const parallel::Comm& comm, const config::SweepPoint& point, const fs::path& dir) {
  json settings = json::object();
  for (const auto& [k, v] : point.settings) settings[k] = v;
  comm.run_on_root([&] {
    fs::create_directories(dir);
    io::write_file_atomically(dir / "point.json", json_text(json{{"index", point.index}, {"settings", settings}}) + "\n");
  });
}

// Runs one point; returns false if a signal interrupted its fit (the sweep stops there).
bool run_point(const CommandContext& ctx, const config::Sweep& sweep, const config::SweepPoint& point,
               const fs::path& dir) {
  const fs::path point_dir = point_directory(dir, point.index);
  const fs::path fit_dir = point_dir / "fit";
  write_point(ctx.comm, point, point_dir);
  const auto status = ctx.comm.broadcast(command_status(fit_dir));
  if (status == "ok") {
    ctx.reporter.info("sweep: point " + std::to_string(point.index) + " is complete; skipped");
    return true;
  }
  FitArgs fit;
  fit.deck = sweep.deck().string();
  fit.overrides = sweep.overrides(point);
  fit.output = fit_dir;
  if (!sweep.data().empty()) {
    fit.data = sweep.data().string();
  } else {
    const fs::path screen = shared_screen(ctx, sweep, point, dir);
    fit.data = (screen / "screen.h5ad").string();
    if (!sweep.sets("fit.truth") && fs::exists(screen / "truth.h5"))
      fit.overrides.push_back(config::assignment({"fit.truth", fs::absolute(screen / "truth.h5").string()}));
  }
  if (status == "interrupted" && fs::exists(fit_dir / "checkpoint.h5")) fit.restart = fit_dir;
  auto argv = command_line("fit", fit.deck, fit.overrides, fit_dir);
  argv.insert(argv.end(), {"--data", fit.data});
  if (!fit.restart.empty()) argv.insert(argv.end(), {"--restart", fit_dir.string()});
  ctx.reporter.info("sweep: point " + std::to_string(point.index) + (fit.restart.empty() ? "" : " (restarted)") +
                    ": " + describe_settings(point.settings));
  CommandContext fit_ctx{ctx.comm, Reporter(ctx.comm.is_root(), true), false, argv};
  {
    const SilencedStdout silence;
    run_fit(fit_ctx, fit);
  }
  const auto after = ctx.comm.broadcast(command_status(fit_dir));
  if (after == "interrupted") {
    ctx.reporter.info("sweep: interrupted by a signal in point " + std::to_string(point.index) +
                      "; run the same command again to continue (finished points are skipped)");
    return false;
  }
  return true;
}

}  // namespace

void add_sweep(CLI::App& app, SweepArgs& args) {
  auto* cmd = app.add_subcommand(
      "sweep",
      "run a sweep file's grid (deck keys x values x seeds): each point simulated (or given data) and fitted into "
      "OUTDIR/points/NNNN; finished points are skipped, interrupted ones continue; `perturbfit collect OUTDIR` "
      "tabulates them");
  cmd->add_option("sweep", args.file, "the sweep file (TOML); see docs/sweeps.md")->required();
  cmd->add_option("-o,--output", args.output, "output directory (created if missing)")->capture_default_str();
  cmd->add_option("--point", args.point,
                  "run only this point (0-based; a SLURM array task id): jobs/sweep.slurm passes $SLURM_ARRAY_TASK_ID")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--count", args.count, "print the number of points and exit");
  cmd->add_flag("--list", args.list, "print every point's index and settings and exit");
  args.command = cmd;
}

int run_sweep(const CommandContext& ctx, const SweepArgs& args) {
  const auto sweep = config::Sweep::load(args.file);
  const auto& comm = ctx.comm;
  if (args.count || args.list) {
    if (comm.is_root()) {
      if (args.count) std::cout << sweep.size() << "\n";
      for (std::size_t i = 0; args.list && i < sweep.size(); ++i)
        std::cout << i << "\t" << describe_settings(sweep.point(i).settings) << "\n";
    }
    return 0;
  }
  const auto description = sweep.describe();
  const fs::path record = args.output / "sweep.json";
  // The directory remembers its sweep: another sweep's points would mix into the table.
  const std::string mismatch = comm.broadcast([&]() -> std::string {
    if (!comm.is_root()) return "";
    fs::create_directories(args.output);
    const FileLock lock(args.output / "sweep.lock");  // the array's tasks start together
    if (fs::exists(record)) {
      std::ifstream in(record);
      const json previous = json::parse(in, nullptr, false);
      if (previous.is_discarded() || previous != description)
        return "'" + args.output.string() + "' holds the points of another sweep (" + record.string() +
               " differs from " + args.file + "); use a new output directory";
      return "";
    }
    io::write_file_atomically(record, json_text(description) + "\n");
    return "";
  }());
  if (!mismatch.empty()) throw UsageError(mismatch);

  std::vector<std::size_t> indices;
  if (args.point >= 0) {
    indices.push_back(sweep.point(static_cast<std::size_t>(args.point)).index);  // checks the range
  } else {
    for (std::size_t i = 0; i < sweep.size(); ++i) indices.push_back(i);
  }
  int first_error = 0, failed = 0;
  for (const auto i : indices) {
    try {
      if (!run_point(ctx, sweep, sweep.point(i), args.output)) return 0;
    } catch (const Error& e) {  // a failed point (recorded in its failure.json) does not stop the others
      if (comm.is_root()) std::cerr << "perturbfit: error: sweep point " << i << ": " << e.what() << std::endl;
      if (first_error == 0) first_error = static_cast<int>(e.code());
      ++failed;
    }
  }
  if (comm.is_root())
    std::cout << "sweep: " << indices.size() - static_cast<std::size_t>(failed) << " of " << indices.size()
              << " point(s) complete in " << args.output.string() << (failed ? " (" : "")
              << (failed ? std::to_string(failed) + " failed: see their failure.json)" : "")
              << "\n  tabulate with: perturbfit collect " << args.output.string() << "\n";
  return first_error;
}

}  // namespace perturbfit::cli
