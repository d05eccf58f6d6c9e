#include "perturbfit/solvers/relaxation_schedule.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace perturbfit::solvers {

RelaxationSchedule::RelaxationSchedule(std::vector<double> targets, double rate, const std::vector<double>& norms)
    : targets_(std::move(targets)),
      last_(norms),
      rate_(rate),
      state_(norms.size(), kDone),
      step_(norms.size(), 0),
      fresh_(norms.size(), 1),
      sweeps_(norms.size(), 0) {
  for (std::size_t k = 0; k < norms.size(); ++k)
    if (std::isfinite(norms[k]) && norms[k] > targets_[k]) state_[k] = kSweeping;
  update_steps();
}

bool RelaxationSchedule::sweeping() const {
  return std::any_of(state_.begin(), state_.end(), [](State s) { return s == kSweeping; });
}

bool RelaxationSchedule::checking() const {
  return std::any_of(state_.begin(), state_.end(), [](State s) { return s == kChecking; });
}

void RelaxationSchedule::update_steps() {
  for (std::size_t k = 0; k < state_.size(); ++k) step_[k] = state_[k] == kSweeping;
}

std::vector<std::size_t> RelaxationSchedule::after_sweep(const std::vector<double>& estimates) {
  std::vector<std::size_t> revert;
  for (std::size_t k = 0; k < state_.size(); ++k) {
    if (!step_[k]) continue;
    const double t = estimates[k];
    ++sweeps_[k];
    // A fresh column's first estimate restates its known residual: no contraction yet.
    const bool fresh = fresh_[k] != 0;
    fresh_[k] = 0;
    if (!std::isfinite(t) || (!fresh && t >= last_[k])) {
      revert.push_back(k);
      state_[k] = kDone;
      continue;
    }
    const double ratio = fresh ? rate_ : t / last_[k];
    last_[k] = t;
    if (t * ratio <= targets_[k])
      state_[k] = kChecking;
    else if (ratio > rate_)
      state_[k] = kDone;
  }
  update_steps();
  return revert;
}

void RelaxationSchedule::after_check(const std::vector<double>& norms) {
  for (std::size_t k = 0; k < state_.size(); ++k) {
    if (state_[k] != kChecking) continue;
    if (norms[k] <= targets_[k] || !std::isfinite(norms[k])) {
      state_[k] = kDone;
    } else {
      state_[k] = kSweeping;
      last_[k] = norms[k];
      fresh_[k] = 1;
    }
  }
  update_steps();
}

}  // namespace perturbfit::solvers
