// Human-readable output: rank 0 only, to stderr, silenced by --quiet (warnings never are).
#pragma once
#include <chrono>
#include <cstddef>
#include <string>

namespace perturbfit {

class Reporter {
 public:
  Reporter(bool is_root, bool quiet) : root_(is_root), quiet_(quiet) {}
  void info(const std::string& message) const;
  void warn(const std::string& message) const;
  bool quiet() const { return quiet_; }

 private:
  bool root_;
  bool quiet_;
};

// Progress of a long loop over this rank's share of the work: what, count, rate, ETA.
// Prints at most every `interval` seconds and once at the end.
class Progress {
 public:
  Progress(const Reporter& reporter, std::string what, std::size_t total, double interval_seconds = 2.0);
  void update(std::size_t done);
  void finish();

 private:
  const Reporter& reporter_;
  std::string what_;
  std::size_t total_;
  double interval_;
  std::chrono::steady_clock::time_point start_, last_;
  bool finished_ = false;
};

}  // namespace perturbfit
