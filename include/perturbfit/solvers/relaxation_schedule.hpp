// When each column of a batch of Gauss-Seidel sweeps (model/relaxation.hpp) goes on, is
// checked, or stops. A sweep reports the residual met on the way, which estimates the
// residual at the sweep's start; the ratio of two of them is the column's contraction. A
// column whose predicted residual (last estimate x contraction) is at its target waits for
// a check of its true residual; one that contracts by less than `rate` per sweep stops for
// Newton-GMRES (GMRES) to finish; one that gains nothing goes back to where relaxation
// began (Newton-GMRES then solves it as if there had been no relaxation).
// Every decision reads the column's own numbers only, so a column's iterates do not depend
// on the others in its batch.
#pragma once
#include <cstddef>
#include <vector>

namespace perturbfit::solvers {

class RelaxationSchedule {
 public:
  // targets[k]: the residual norm column k must reach; norms[k]: its true residual now.
  RelaxationSchedule(std::vector<double> targets, double rate, const std::vector<double>& norms);

  const std::vector<char>& step() const { return step_; }  // 1: update column k in the next sweep
  bool sweeping() const;
  bool checking() const;  // some column waits for its true residual
  // After a sweep over the columns of step() with in-sweep residual norms estimates[k]:
  // the columns to put back where relaxation began (the sweeps made things worse).
  std::vector<std::size_t> after_sweep(const std::vector<double>& estimates);
  // After the true residual norms of every column: checked columns at target are done, the
  // others sweep on.
  void after_check(const std::vector<double>& norms);
  int sweeps(std::size_t k) const { return sweeps_[k]; }

 private:
  enum State : char { kSweeping, kChecking, kDone };
  std::vector<double> targets_, last_;
  double rate_;
  std::vector<State> state_;
  std::vector<char> step_, fresh_;  // fresh: the next estimate restates a known residual
  std::vector<int> sweeps_;
  void update_steps();
};

}  // namespace perturbfit::solvers
