#include "perturbfit/fit/optimizer.hpp"

#include <petsctao.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <numeric>
#include <sstream>

#include "perturbfit/core/error.hpp"
#include "perturbfit/core/petsc_check.hpp"
#include "perturbfit/core/petsc_handle.hpp"
#include "perturbfit/core/random.hpp"

namespace perturbfit::fit {

namespace {
using Clock = std::chrono::steady_clock;
constexpr double kUnboundedTheta = 1e20;  // FitProblem::bounds' "no bound"

double norm(const std::vector<double>& g) {
  double s = 0;
  for (double v : g) s += v * v;
  return std::sqrt(s);
}

void progress(const Reporter& reporter, const IterationRecord& r, int max_iterations) {
  std::ostringstream os;
  os.precision(6);
  os << "iteration " << r.iteration << "/" << max_iterations << "  loss " << r.loss << " (data " << r.data
     << ", steady-state " << r.steady_state << ", penalty " << r.regulariser << ")  |grad| " << r.gradient_norm;
  if (r.batch >= 0) os << "  batch " << r.batch;
  if (r.failed_steady_states > 0) os << "  FAILED steady states " << r.failed_steady_states;
  if (!std::isnan(r.validation)) os << "  validation " << r.validation;
  os.precision(3);
  os << "  " << r.seconds << " s";
  reporter.info(os.str());
}

IterationRecord record(int iteration, const LossValue& v, double gnorm, double seconds, std::int64_t batch) {
  return IterationRecord{
      iteration, v.total, v.data, v.steady_state, v.l1 + v.l2, gnorm, seconds, v.failed_steady_states, batch};
}

// The validation losses at the current iterate, every fit.validation_every iterations, at
// the initial point and at the last one; returns true when early stopping's patience is
// exhausted. Collective.
bool validate(FitProblem& problem, OptimizerState& state, bool last) {
  const auto& opt = problem.options();
  if (opt.validation_every <= 0 || (!last && state.iteration % opt.validation_every != 0)) return false;
  if (!state.history.empty() && !std::isnan(state.history.back().validation)) return false;  // done here
  if (state.iteration == 0 && state.early.best_iteration >= 0) return false;
  const auto losses = problem.validation_losses(state.theta);
  double mean = 0;
  std::size_t n = 0;
  for (double x : losses)
    if (std::isfinite(x)) mean += x, ++n;
  if (!state.history.empty()) state.history.back().validation = n ? mean / static_cast<double>(n) : mean;
  return state.early.record(state.iteration, state.theta, losses, opt.validation_patience);
}

// Non-empty (the reason) when the last recorded loss shows a diverging run: not finite, or
// kDivergenceFactor times the first one. Every rank holds the same losses, so every rank
// decides alike.
constexpr double kDivergenceFactor = 1e3;
std::string divergence(const OptimizerState& state) {
  const auto& h = state.history;
  if (h.empty()) return "";
  const double loss = h.back().loss, first = h.front().loss;
  std::ostringstream os;
  os.precision(4);
  if (!std::isfinite(loss))
    os << "the loss became " << loss << " at iteration " << h.back().iteration;
  else if (std::isfinite(first) && first > 0 && loss > kDivergenceFactor * first)
    os << "the loss grew from " << first << " to " << loss << " by iteration " << h.back().iteration;
  else
    return "";
  os << "; the fit diverged and stops (the last checkpoint written before is kept). Lower fit.learning_rate "
        "(adam), use fit.optimizer = lbfgs, or check the screen";
  return os.str();
}

// Records an accepted iterate, validates and reports it. Returns why the run ends when
// early stopping's patience is exhausted, else "". Collective.
std::string accept_iterate(FitProblem& problem, OptimizerState& state, const IterationRecord& r,
                           const Reporter& reporter) {
  state.history.push_back(r);
  if (const auto why = divergence(state); !why.empty()) throw NumericalError(why);
  const bool patience_out = validate(problem, state, false);
  progress(reporter, state.history.back(), problem.options().max_iterations);
  if (!patience_out) return "";
  return "early stopping: the validation loss has not improved for " +
         std::to_string(problem.options().validation_patience) + " checks";
}

// TAO works on phi = theta / D (D = FitProblem::variable_scale), so that every gene's
// parameters move its predicted log expression at the same rate whatever its level.
struct TaoContext {
  FitProblem& problem;
  OptimizerState& state;
  const std::vector<double>& scale;
  const parallel::Comm& comm;
  const parallel::StopSignal& stop;
  const Reporter& reporter;
  int first_iteration = 0;
  LossValue last;
  Clock::time_point start = Clock::now();
  bool interrupted = false;
  std::string error;            // an exception inside a PETSc callback, rethrown after TaoSolve
  std::int64_t tolerated = -1;  // failed steady states allowed (as in run_lbfgs): those of the segment's start
};

PetscErrorCode objective_and_gradient(Tao, Vec x, PetscReal* f, Vec g, void* ctx) {
  PetscFunctionBeginUser;
  auto* c = static_cast<TaoContext*>(ctx);
  PetscInt n;
  PetscCall(VecGetLocalSize(x, &n));
  const PetscScalar* xx;
  PetscCall(VecGetArrayRead(x, &xx));
  std::vector<double> theta(xx, xx + n), grad;
  PetscCall(VecRestoreArrayRead(x, &xx));
  for (std::size_t i = 0; i < theta.size(); ++i) theta[i] *= c->scale[i];
  try {
    c->last = c->problem.evaluate(theta, &grad);
  } catch (const std::exception& e) {
    c->error = e.what();
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_USER, "loss evaluation failed");
  }
  if (c->tolerated < 0) c->tolerated = c->last.failed_steady_states;
  *f = c->last.failed_steady_states > c->tolerated ? std::numeric_limits<double>::infinity() : c->last.total;
  PetscScalar* gg;
  PetscCall(VecGetArray(g, &gg));
  for (std::size_t i = 0; i < grad.size(); ++i) gg[i] = grad[i] * c->scale[i];
  PetscCall(VecRestoreArray(g, &gg));
  PetscFunctionReturn(0);
}

PetscErrorCode monitor(Tao tao, void* ctx) {
  PetscFunctionBeginUser;
  auto* c = static_cast<TaoContext*>(ctx);
  PetscInt its;
  PetscReal f, gnorm, cnorm, xdiff;
  TaoConvergedReason reason;
  PetscCall(TaoGetSolutionStatus(tao, &its, &f, &gnorm, &cnorm, &xdiff, &reason));
  if (its == 0 && c->first_iteration > 0) PetscFunctionReturn(0);  // the restart point is already recorded
  const double seconds = std::chrono::duration<double>(Clock::now() - c->start).count();
  auto r = record(c->first_iteration + static_cast<int>(its), c->last, gnorm, seconds, -1);
  r.loss = f;
  c->state.history.push_back(r);
  c->state.iteration = r.iteration;
  if (const auto why = divergence(c->state); !why.empty()) {
    c->error = why;
    SETERRQ(PETSC_COMM_SELF, PETSC_ERR_USER, "the fit diverged");
  }
  Vec x;
  PetscCall(TaoGetSolution(tao, &x));
  const PetscScalar* xx;
  PetscCall(VecGetArrayRead(x, &xx));
  for (std::size_t i = 0; i < c->state.theta.size(); ++i) c->state.theta[i] = xx[i] * c->scale[i];
  PetscCall(VecRestoreArrayRead(x, &xx));
  progress(c->reporter, r, c->problem.options().max_iterations);
  PetscFunctionReturn(0);
}

PetscErrorCode converged(Tao tao, void* ctx) {
  PetscFunctionBeginUser;
  auto* c = static_cast<TaoContext*>(ctx);
  PetscCall(TaoDefaultConvergenceTest(tao, nullptr));
  if (c->stop.requested(c->comm)) {  // collective: every rank calls the test equally often
    c->interrupted = true;
    PetscCall(TaoSetConvergedReason(tao, TAO_CONVERGED_USER));
  }
  PetscFunctionReturn(0);
}

struct TaoHandle {
  Tao tao = nullptr;
  ~TaoHandle() {
    if (tao) TaoDestroy(&tao);
  }
};

// TAO runs in segments of checkpoint_every iterations, each a fresh TaoSolve from the last
// checkpoint: the quasi-Newton memory (which TAO cannot save) restarts at every checkpoint
// whether or not the run is interrupted, so a restarted run retraces the uninterrupted one.
// On a signal the run stops at once and keeps the last checkpoint (the iterations of the
// unfinished segment are recomputed after --restart).
OptimizeResult run_tao(FitProblem& problem, OptimizerState& state, const parallel::Comm& comm,
                       const parallel::StopSignal& stop, const CheckpointWriter& checkpoint, const Reporter& reporter) {
  const auto& opt = problem.options();
  const auto n = static_cast<PetscInt>(state.theta.size());
  std::vector<double> lower, upper;
  problem.bounds(lower, upper);
  const auto scale = problem.variable_scale();
  VecHandle x, xl, xu;
  auto fill = [&](Vec v, const std::vector<double>& values) {  // theta -> phi
    PetscScalar* p;
    PF_PETSC(VecGetArray(v, &p));
    for (std::size_t i = 0; i < values.size(); ++i)
      p[i] = std::abs(values[i]) >= kUnboundedTheta ? values[i] : values[i] / scale[i];
    PF_PETSC(VecRestoreArray(v, &p));
  };
  PF_PETSC(VecCreateSeq(PETSC_COMM_SELF, n, x.address()));
  PF_PETSC(VecDuplicate(x, xl.address()));
  PF_PETSC(VecDuplicate(x, xu.address()));
  fill(xl, lower), fill(xu, upper);
  OptimizeResult result{"max_iterations", false};
  const auto start = Clock::now();
  while (state.iteration < opt.max_iterations) {
    const OptimizerState boundary = state;
    problem.reset_warm_starts();
    const int segment = opt.checkpoint_every > 0 ? std::min(opt.checkpoint_every, opt.max_iterations - state.iteration)
                                                 : opt.max_iterations - state.iteration;
    TaoContext ctx{problem, state, scale, comm, stop, reporter, state.iteration, LossValue{}, start, false, {}, -1};
    fill(x, state.theta);
    TaoHandle tao;
    PF_PETSC(TaoCreate(PETSC_COMM_SELF, &tao.tao));
    PF_PETSC(TaoSetOptionsPrefix(tao.tao, "fit_"));
    PF_PETSC(TaoSetType(tao.tao, TAOBLMVM));
    PF_PETSC(TaoSetSolution(tao.tao, x));
    PF_PETSC(TaoSetVariableBounds(tao.tao, xl, xu));
    PF_PETSC(TaoSetObjectiveAndGradient(tao.tao, nullptr, objective_and_gradient, &ctx));
    PF_PETSC(TaoSetMaximumIterations(tao.tao, segment));
    PF_PETSC(TaoSetMaximumFunctionEvaluations(tao.tao, 20 * segment + 100));
    PF_PETSC(TaoSetTolerances(tao.tao, opt.gatol, 0.0, 0.0));
    PF_PETSC(TaoSetMonitor(tao.tao, monitor, &ctx, nullptr));
    PF_PETSC(TaoSetConvergenceTest(tao.tao, converged, &ctx));
    PF_PETSC(TaoSetFromOptions(tao.tao));
    const PetscErrorCode rc = TaoSolve(tao.tao);
    if (!ctx.error.empty()) throw NumericalError("fit: " + ctx.error);
    PF_PETSC(rc);
    if (ctx.interrupted) {
      reporter.info("stopped by a signal at iteration " + std::to_string(state.iteration) +
                    "; keeping the checkpoint of iteration " + std::to_string(boundary.iteration));
      state = boundary;
      return {"signal", true};
    }
    TaoConvergedReason reason;
    PF_PETSC(TaoGetConvergedReason(tao.tao, &reason));
    const PetscScalar* xx;
    PF_PETSC(VecGetArrayRead(x, &xx));
    for (std::size_t i = 0; i < static_cast<std::size_t>(n); ++i) state.theta[i] = xx[i] * scale[i];
    PF_PETSC(VecRestoreArrayRead(x, &xx));
    const bool segment_done = reason == TAO_DIVERGED_MAXITS && state.iteration - boundary.iteration >= segment;
    if (state.iteration < opt.max_iterations && segment_done) checkpoint(state);
    if (!segment_done) {
      result.reason = TaoConvergedReasons[reason];
      break;
    }
  }
  return result;
}

// Projected L-BFGS on the scaled variables; the whole state (point, gradient, memory) is
// in every checkpoint, and the steady-state warm starts are reset at each one, so a run
// restarted from a checkpoint retraces the uninterrupted run bit for bit.
OptimizeResult run_lbfgs(FitProblem& problem, OptimizerState& state, const parallel::Comm& comm,
                         const parallel::StopSignal& stop, const CheckpointWriter& checkpoint,
                         const Reporter& reporter) {
  const auto& opt = problem.options();
  const auto& scale = problem.variable_scale();
  const std::size_t n = state.theta.size();
  std::vector<double> lower, upper;
  problem.bounds(lower, upper);
  for (std::size_t i = 0; i < n; ++i) {
    if (std::abs(lower[i]) < kUnboundedTheta) lower[i] /= scale[i];
    if (std::abs(upper[i]) < kUnboundedTheta) upper[i] /= scale[i];
  }
  ProjectedLbfgs lbfgs(std::move(lower), std::move(upper), opt.lbfgs_memory, opt.gatol);
  auto& st = state.lbfgs;
  if (st.x.size() != n) {
    st = LbfgsState{};
    st.x.resize(n);
    for (std::size_t i = 0; i < n; ++i) st.x[i] = state.theta[i] / scale[i];
  }
  lbfgs.rebuild(st);
  // A group whose steady state fails drops out of that evaluation's loss, so a step could
  // lower the loss by breaking steady states: a trial with more failures than the current
  // point counts as infinite and the search steps back. `tolerated` is -1 when the current
  // point is being (re)evaluated; `kept` is the value at the search's best point.
  LossValue last, kept;
  std::int64_t tolerated = -1;
  std::vector<double> theta(n), grad;
  const ProjectedLbfgs::Objective objective = [&](const std::vector<double>& x, std::vector<double>& g) {
    for (std::size_t i = 0; i < n; ++i) theta[i] = x[i] * scale[i];
    try {
      last = problem.evaluate(theta, &grad);
    } catch (const NumericalError&) {                  // no steady state at this trial point: the search steps back
      return std::numeric_limits<double>::infinity();  // (collective: every rank throws alike)
    }
    g.resize(n);
    for (std::size_t i = 0; i < n; ++i) g[i] = grad[i] * scale[i];
    if (tolerated < 0) tolerated = last.failed_steady_states;
    return last.failed_steady_states > tolerated ? std::numeric_limits<double>::infinity() : last.total;
  };
  const ProjectedLbfgs::Observer anchor{[&] { problem.keep_candidate(), kept = last; },
                                        [&] { problem.accept_candidate(), tolerated = kept.failed_steady_states; }};
  problem.set_warm_start(FitProblem::WarmStart::kAnchored);
  const auto start = Clock::now();
  OptimizeResult result{"max_iterations", false};
  problem.reset_warm_starts();
  if (state.iteration == 0 && state.history.empty()) {  // the initial point is iteration 0 of the history
    st.f = objective(st.x, st.g);
    st.evaluated = true;
    anchor.keep(), anchor.accept();
    state.history.push_back(record(0, kept, lbfgs.projected_gradient_norm(st), 0.0, -1));
    validate(problem, state, false);
  }
  OptimizerState boundary = state;
  while (state.iteration < opt.max_iterations) {
    if (stop.requested(comm)) {
      reporter.info("stopped by a signal at iteration " + std::to_string(state.iteration) +
                    "; keeping the checkpoint of iteration " + std::to_string(boundary.iteration));
      state = boundary;
      problem.set_warm_start(FitProblem::WarmStart::kLastSolution);
      return {"signal", true};
    }
    const auto status = lbfgs.iterate(st, objective, anchor);
    if (status != ProjectedLbfgs::Status::kContinue) {
      result.reason = ProjectedLbfgs::to_string(status);
      break;
    }
    const int t = ++state.iteration;
    for (std::size_t i = 0; i < n; ++i) state.theta[i] = st.x[i] * scale[i];
    const auto r = record(t, kept, lbfgs.projected_gradient_norm(st),
                          std::chrono::duration<double>(Clock::now() - start).count(), -1);
    if (auto stop_reason = accept_iterate(problem, state, r, reporter); !stop_reason.empty()) {
      result.reason = std::move(stop_reason);
      break;
    }
    if (opt.checkpoint_every > 0 && t % opt.checkpoint_every == 0 && t < opt.max_iterations) {
      // From here on as a fresh process would continue: steady states from the observed
      // control states (of a multistable model they may be other ones than the path had
      // reached, so the loss and gradient at this point are evaluated again), and the
      // matrix rebuilt from the recorded updates.
      st.evaluated = false;
      tolerated = -1;
      checkpoint(state);
      boundary = state;
      problem.reset_warm_starts();
      lbfgs.rebuild(st);
    }
  }
  validate(problem, state, true);
  problem.set_warm_start(FitProblem::WarmStart::kLastSolution);
  return result;
}

// Adam on minibatches = one experimental batch (with its controls) per step; the order of
// batches is reshuffled every epoch from the seed, so a restart replays the same sequence.
// As for TAO, a signal keeps the last checkpoint, where the warm starts were reset.
OptimizeResult run_adam(FitProblem& problem, OptimizerState& state, const parallel::Comm& comm,
                        const parallel::StopSignal& stop, const CheckpointWriter& checkpoint,
                        const Reporter& reporter) {
  const auto& opt = problem.options();
  const int batches = static_cast<int>(problem.data().batches().size());
  std::vector<double> lower, upper, grad;
  problem.bounds(lower, upper);
  const std::size_t n = state.theta.size();
  if (state.adam_m.size() != n) state.adam_m.assign(n, 0.0), state.adam_v.assign(n, 0.0);
  constexpr double b1 = 0.9, b2 = 0.999, tiny = 1e-8;
  const auto start = Clock::now();
  OptimizeResult result{"max_iterations", false};
  if (state.iteration == 0) validate(problem, state, false);
  OptimizerState boundary = state;
  problem.reset_warm_starts();
  while (state.iteration < opt.max_iterations) {
    if (stop.requested(comm)) {
      reporter.info("stopped by a signal at iteration " + std::to_string(state.iteration) +
                    "; keeping the checkpoint of iteration " + std::to_string(boundary.iteration));
      state = boundary;
      result = {"signal", true};
      break;
    }
    const int epoch = state.iteration / batches, position = state.iteration % batches;
    std::vector<int> order(static_cast<std::size_t>(batches));
    std::iota(order.begin(), order.end(), 0);
    RandomStream rng(opt.seed, StreamDomain::kSplit, 0x9e3779b97f4a7c15ULL ^ static_cast<std::uint64_t>(epoch));
    for (int i = batches - 1; i > 0; --i)
      std::swap(order[static_cast<std::size_t>(i)], order[rng.below(static_cast<std::uint64_t>(i) + 1)]);
    const int batch = order[static_cast<std::size_t>(position)];
    const LossValue v = problem.evaluate(state.theta, &grad, {batch});
    const int t = ++state.iteration;
    for (std::size_t i = 0; i < n; ++i) {
      state.adam_m[i] = b1 * state.adam_m[i] + (1 - b1) * grad[i];
      state.adam_v[i] = b2 * state.adam_v[i] + (1 - b2) * grad[i] * grad[i];
      const double mhat = state.adam_m[i] / (1 - std::pow(b1, t)), vhat = state.adam_v[i] / (1 - std::pow(b2, t));
      state.theta[i] =
          std::clamp(state.theta[i] - opt.learning_rate * mhat / (std::sqrt(vhat) + tiny), lower[i], upper[i]);
    }
    const auto r = record(t, v, norm(grad), std::chrono::duration<double>(Clock::now() - start).count(), batch);
    if (auto stop_reason = accept_iterate(problem, state, r, reporter); !stop_reason.empty()) {
      result.reason = std::move(stop_reason);
      break;
    }
    if (opt.checkpoint_every > 0 && t % opt.checkpoint_every == 0 && t < opt.max_iterations) {
      checkpoint(state);
      boundary = state;
      problem.reset_warm_starts();
    }
  }
  if (!result.interrupted) validate(problem, state, true);
  return result;
}
}  // namespace

OptimizeResult optimize(FitProblem& problem, OptimizerState& state, const parallel::Comm& comm,
                        const parallel::StopSignal& stop, const CheckpointWriter& checkpoint,
                        const Reporter& reporter) {
  if (state.theta.empty()) state.theta = problem.initial_point();
  if (state.theta.size() != problem.size())
    throw UsageError("the checkpoint has " + std::to_string(state.theta.size()) +
                     " parameters but this deck and screen give " + std::to_string(problem.size()) +
                     "; restart with the same deck and data");
  switch (problem.options().optimizer) {
    case Optimizer::kAdam:
      return run_adam(problem, state, comm, stop, checkpoint, reporter);
    case Optimizer::kTao:
      return run_tao(problem, state, comm, stop, checkpoint, reporter);
    case Optimizer::kLbfgs:
      break;
  }
  return run_lbfgs(problem, state, comm, stop, checkpoint, reporter);
}

}  // namespace perturbfit::fit
