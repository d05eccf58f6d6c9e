#include "perturbfit/core/reporter.hpp"

#include <cstdio>
#include <iostream>

namespace perturbfit {

void Reporter::info(const std::string& message) const {
  if (root_ && !quiet_) std::cerr << "perturbfit: " << message << std::endl;
}

void Reporter::warn(const std::string& message) const {
  if (root_) std::cerr << "perturbfit: warning: " << message << std::endl;
}

Progress::Progress(const Reporter& reporter, std::string what, std::size_t total, double interval_seconds)
    : reporter_(reporter),
      what_(std::move(what)),
      total_(total),
      interval_(interval_seconds),
      start_(std::chrono::steady_clock::now()),
      last_(start_) {}

void Progress::update(std::size_t done) {
  const auto now = std::chrono::steady_clock::now();
  const bool final_tick = done >= total_;
  if (!final_tick && std::chrono::duration<double>(now - last_).count() < interval_) return;
  last_ = now;
  const double elapsed = std::chrono::duration<double>(now - start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0.0;
  char line[256];
  if (final_tick)
    std::snprintf(line, sizeof line, "%s: %zu/%zu done in %.2f s (%.1f/s on rank 0)", what_.c_str(), done, total_,
                  elapsed, rate);
  else
    std::snprintf(line, sizeof line, "%s: %zu/%zu (%.1f/s, ETA %.0f s)", what_.c_str(), done, total_, rate,
                  rate > 0 ? static_cast<double>(total_ - done) / rate : 0.0);
  reporter_.info(line);
  if (final_tick) finished_ = true;
}

void Progress::finish() {
  if (!finished_) update(total_);
}

}  // namespace perturbfit
