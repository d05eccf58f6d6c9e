#include "perturbfit/fit/lbfgs.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include <petscksp.h>

#include "perturbfit/core/petsc_check.hpp"

namespace perturbfit::fit {

namespace {
double dot(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (std::size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}
void copy_in(Vec v, const std::vector<double>& values) {
  PetscScalar* p;
  PF_PETSC(VecGetArray(v, &p));
  std::copy(values.begin(), values.end(), p);
  PF_PETSC(VecRestoreArray(v, &p));
}
constexpr double kArmijo = 1e-4, kCurvature = 0.9;
constexpr int kMaxTrials = 30;
}  // namespace

ProjectedLbfgs::ProjectedLbfgs(std::vector<double> lower, std::vector<double> upper, int memory, double gatol)
    : lower_(std::move(lower)),
      upper_(std::move(upper)),
      memory_(static_cast<std::size_t>(std::max(memory, 1))),
      gatol_(gatol) {
  const auto n = static_cast<PetscInt>(lower_.size());
  // The LMVM matrix types are registered by the KSP package, not by Mat's.
  PF_PETSC(KSPInitializePackage());
  PF_PETSC(VecCreateSeq(PETSC_COMM_SELF, n, x_.address()));
  PF_PETSC(VecDuplicate(x_, f_.address()));
  PF_PETSC(VecDuplicate(x_, out_.address()));
  // Not MatCreateLMVMBFGS: its MatSetUp leaves storage that PETSc 3.18's
  // MatLMVMSetHistorySize then frees twice (a crash); the history size goes first.
  PF_PETSC(MatCreate(PETSC_COMM_SELF, matrix_.address()));
  PF_PETSC(MatSetSizes(matrix_, n, n, n, n));
  PF_PETSC(MatSetType(matrix_, MATLMVMBFGS));
  PF_PETSC(MatLMVMSetHistorySize(matrix_, static_cast<PetscInt>(memory_)));
  PF_PETSC(MatSetOptionsPrefix(matrix_, "fit_lbfgs_"));
  PF_PETSC(MatSetFromOptions(matrix_));
  PF_PETSC(MatLMVMAllocate(matrix_, x_, f_));
}

const char* ProjectedLbfgs::to_string(Status s) {
  switch (s) {
    case Status::kContinue:
      return "continue";
    case Status::kConverged:
      return "converged (projected gradient norm below fit.gatol)";
    case Status::kLineSearchFailed:
      return "line search failed (no decrease along the gradient: a minimum to the loss's accuracy)";
  }
  return "?";
}

std::vector<double> ProjectedLbfgs::projected_gradient(const std::vector<double>& x,
                                                       const std::vector<double>& g) const {
  std::vector<double> pg(g);
  for (std::size_t i = 0; i < pg.size(); ++i)
    if ((x[i] <= lower_[i] && pg[i] > 0) || (x[i] >= upper_[i] && pg[i] < 0)) pg[i] = 0;
  return pg;
}

double ProjectedLbfgs::projected_gradient_norm(const LbfgsState& st) const {
  const auto pg = projected_gradient(st.x, st.g);
  return std::sqrt(dot(pg, pg));
}

void ProjectedLbfgs::rebuild(const LbfgsState& st) {
  PF_PETSC(MatLMVMReset(matrix_, PETSC_FALSE));
  for (std::size_t k = 0; k < st.points.size(); ++k) {
    PF_PETSC(MatLMVMSymBroydenSetDelta(matrix_, st.deltas[k]));
    copy_in(x_, st.points[k]), copy_in(f_, st.gradients[k]);
    PF_PETSC(MatLMVMUpdate(matrix_, x_, f_));
  }
}

// The matrix update at the current point (after a reset if asked), recorded in the state.
void ProjectedLbfgs::update(LbfgsState& st, const std::vector<double>& pg, bool reset) {
  if (reset) {
    PF_PETSC(MatLMVMReset(matrix_, PETSC_FALSE));
    st.points.clear(), st.gradients.clear(), st.deltas.clear();
  }
  const double pg2 = std::max(dot(pg, pg), std::numeric_limits<double>::epsilon());
  const double delta = st.f == 0 ? 2.0 / pg2 : 2.0 * std::abs(st.f) / pg2;
  PF_PETSC(MatLMVMSymBroydenSetDelta(matrix_, delta));
  copy_in(x_, st.x), copy_in(f_, pg);
  PF_PETSC(MatLMVMUpdate(matrix_, x_, f_));
  st.points.push_back(st.x), st.gradients.push_back(pg), st.deltas.push_back(delta);
  if (st.points.size() > memory_ + 1) {
    st.points.erase(st.points.begin()), st.gradients.erase(st.gradients.begin());
    st.deltas.erase(st.deltas.begin());
  }
}

std::vector<double> ProjectedLbfgs::direction(const std::vector<double>& pg) {
  copy_in(f_, pg);
  PF_PETSC(MatSolve(matrix_, f_, out_));
  const PetscScalar* p;
  PF_PETSC(VecGetArrayRead(out_, &p));
  std::vector<double> d(p, p + pg.size());
  PF_PETSC(VecRestoreArrayRead(out_, &p));
  for (std::size_t i = 0; i < d.size(); ++i) d[i] = pg[i] == 0 ? 0.0 : -d[i];  // not against an active bound
  return d;
}

// Weak Wolfe conditions along the projected path x(a) = P(x + a d), with s = x(a) - x:
// sufficient decrease f(x(a)) <= f + c1 g's, and curvature g(x(a))'s >= c2 g's (the slope
// has flattened: otherwise the step is too short, and it doubles until it brackets a
// minimum, then bisects).
bool ProjectedLbfgs::search(LbfgsState& st, const std::vector<double>& d, const Objective& objective,
                            const Observer& observer) const {
  const std::size_t n = st.x.size();
  LbfgsState trial, best;  // best: the last point that satisfied sufficient decrease
  bool have_best = false;
  double a = 1.0, lo = 0.0, hi = std::numeric_limits<double>::infinity();
  for (int k = 0; k < kMaxTrials; ++k) {
    trial.x.resize(n);
    for (std::size_t i = 0; i < n; ++i) trial.x[i] = std::clamp(st.x[i] + a * d[i], lower_[i], upper_[i]);
    double slope = 0;  // g's: the first-order change along the realised (projected) step
    for (std::size_t i = 0; i < n; ++i) slope += st.g[i] * (trial.x[i] - st.x[i]);
    if (!(slope < 0)) break;  // the projection left no descent
    trial.g.clear();  // an objective that fails (infinite value) need not set it
    trial.f = objective(trial.x, trial.g);
    if (!std::isfinite(trial.f) || trial.g.size() != n || trial.f > st.f + kArmijo * slope) {
      hi = a;
    } else {
      best = trial, have_best = true;
      if (observer.keep) observer.keep();
      double end_slope = 0;
      for (std::size_t i = 0; i < n; ++i) end_slope += trial.g[i] * (trial.x[i] - st.x[i]);
      if (end_slope >= kCurvature * slope) break;  // both conditions hold
      lo = a;
    }
    a = std::isinf(hi) ? 2.0 * a : 0.5 * (lo + hi);
  }
  if (!have_best) return false;
  if (observer.accept) observer.accept();
  st.x = std::move(best.x), st.g = std::move(best.g), st.f = best.f;
  return true;
}

ProjectedLbfgs::Status ProjectedLbfgs::iterate(LbfgsState& st, const Objective& objective, const Observer& observer) {
  if (!st.evaluated) {
    for (std::size_t i = 0; i < st.x.size(); ++i) st.x[i] = std::clamp(st.x[i], lower_[i], upper_[i]);
    st.f = objective(st.x, st.g);
    st.evaluated = true;
    if (observer.keep) observer.keep();
    if (observer.accept) observer.accept();
  }
  const auto pg = projected_gradient(st.x, st.g);
  if (std::sqrt(dot(pg, pg)) < gatol_) return Status::kConverged;
  update(st, pg, false);
  auto d = direction(pg);
  if (dot(d, pg) < 0 && search(st, d, objective, observer)) return Status::kContinue;
  update(st, pg, true);  // not a descent direction, or no decrease along it: start afresh
  d = direction(pg);
  return search(st, d, objective, observer) ? Status::kContinue : Status::kLineSearchFailed;
}

}  // namespace perturbfit::fit
