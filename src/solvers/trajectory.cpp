#include "perturbfit/solvers/trajectory.hpp"

#include <cvodes/cvodes.h>
#include <nvector/nvector_serial.h>
#include <sundials/sundials_context.h>
#include <sunlinsol/sunlinsol_spgmr.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "perturbfit/core/error.hpp"
#include "perturbfit/solvers/cvodes_support.hpp"

namespace perturbfit::solvers {

using cvodes::check;

struct Trajectory::Impl {
  const model::VectorField& field;
  TrajectoryOptions options;
  SUNContext ctx = nullptr;
  // One forward pass's integrator (with its checkpoints) and the backward pass's pieces;
  // destroyed before the context.
  cvodes::Vector y, yb;
  cvodes::LinearSolver ls, lsb;
  cvodes::Memory cvode;
  int which = -1;  // the backward problem's index

  const model::Condition* cond = nullptr;
  std::vector<double> times;
  model::Linearization lin, lin_b, lin_rhs_b;  // products (forward, backward); the backward right-hand side
  std::vector<double> diag, precond, diag_b, precond_b;
  std::vector<double> knock_work;

  Impl(const model::VectorField& f, const TrajectoryOptions& o) : field(f), options(o) {
    if (SUNContext_Create(nullptr, &ctx) != 0) throw NumericalError("SUNDIALS: cannot create a context");
  }
  ~Impl() {
    cvode.reset(), ls.reset(), lsb.reset(), y.reset(), yb.reset();
    if (ctx) SUNContext_Free(&ctx);
  }
  int size() const { return field.size(); }
};

namespace {
using Impl = Trajectory::Impl;

int rhs(realtype t, N_Vector y, N_Vector ydot, void* user) {
  auto* s = static_cast<Impl*>(user);
  double* f = N_VGetArrayPointer(ydot);
  s->field.evaluate(N_VGetArrayPointer(y), *s->cond, t, f);
  for (int g = 0; g < s->size(); ++g)
    if (!std::isfinite(f[g])) return 1;  // recoverable: CVODES retries with a smaller step
  return 0;
}

int jac_times(N_Vector v, N_Vector jv, realtype, N_Vector, N_Vector, void* user, N_Vector) {
  auto* s = static_cast<Impl*>(user);
  s->field.jvp(s->lin, N_VGetArrayPointer(v), N_VGetArrayPointer(jv));
  return 0;
}

// Jacobi: P = I - gamma * diag(df/dx) (forward) or I + gamma * diag(df/dx) (backward, whose
// Jacobian is -(df/dx)^T with the same diagonal negated).
void jacobi_setup(Impl& s, realtype t, N_Vector y, booleantype jok, booleantype* jcur, realtype gamma, double sign,
                  std::vector<double>& diag, std::vector<double>& precond) {
  const auto G = static_cast<std::size_t>(s.size());
  if (!jok || diag.size() != G) {
    model::Linearization lin;
    s.field.linearize(N_VGetArrayPointer(y), *s.cond, t, lin);
    diag.assign(G, 0.0);
    s.field.jacobian_diagonal(lin, diag.data());
    *jcur = SUNTRUE;
  } else {
    *jcur = SUNFALSE;
  }
  precond.resize(G);
  for (std::size_t g = 0; g < G; ++g) precond[g] = 1.0 - sign * gamma * diag[g];
}

int prec_setup(realtype t, N_Vector y, N_Vector, booleantype jok, booleantype* jcur, realtype gamma, void* user) {
  auto* s = static_cast<Impl*>(user);
  jacobi_setup(*s, t, y, jok, jcur, gamma, 1.0, s->diag, s->precond);
  return 0;
}

void jacobi_solve(const std::vector<double>& precond, N_Vector r, N_Vector z) {
  const double* rr = N_VGetArrayPointer(r);
  double* zz = N_VGetArrayPointer(z);
  for (std::size_t g = 0; g < precond.size(); ++g) zz[g] = rr[g] / precond[g];
}

int prec_solve(realtype, N_Vector, N_Vector, N_Vector r, N_Vector z, realtype, realtype, int, void* user) {
  jacobi_solve(static_cast<Impl*>(user)->precond, r, z);
  return 0;
}

// Backward: lambda' = -(df/dx)^T lambda at the (interpolated) forward state y.
int rhs_b(realtype t, N_Vector y, N_Vector yb, N_Vector ybdot, void* user) {
  auto* s = static_cast<Impl*>(user);
  s->field.linearize(N_VGetArrayPointer(y), *s->cond, t, s->lin_rhs_b);  // reused: called every stage
  double* out = N_VGetArrayPointer(ybdot);
  s->field.jtvp(s->lin_rhs_b, N_VGetArrayPointer(yb), out);
  for (int g = 0; g < s->size(); ++g) {
    out[g] = -out[g];
    if (!std::isfinite(out[g])) return 1;
  }
  return 0;
}

int jac_times_setup_b(realtype t, N_Vector y, N_Vector, N_Vector, void* user) {
  auto* s = static_cast<Impl*>(user);
  s->field.linearize(N_VGetArrayPointer(y), *s->cond, t, s->lin_b);
  return 0;
}

int jac_times_b(N_Vector v, N_Vector jv, realtype, N_Vector, N_Vector, N_Vector, void* user, N_Vector) {
  auto* s = static_cast<Impl*>(user);
  double* out = N_VGetArrayPointer(jv);
  s->field.jtvp(s->lin_b, N_VGetArrayPointer(v), out);
  for (int g = 0; g < s->size(); ++g) out[g] = -out[g];
  return 0;
}

int prec_setup_b(realtype t, N_Vector y, N_Vector, N_Vector, booleantype jok, booleantype* jcur, realtype gamma,
                 void* user) {
  auto* s = static_cast<Impl*>(user);
  jacobi_setup(*s, t, y, jok, jcur, gamma, -1.0, s->diag_b, s->precond_b);
  return 0;
}

int prec_solve_b(realtype, N_Vector, N_Vector, N_Vector, N_Vector r, N_Vector z, realtype, realtype, int, void* user) {
  jacobi_solve(static_cast<Impl*>(user)->precond_b, r, z);
  return 0;
}

}  // namespace

Trajectory::Trajectory(const model::VectorField& field, const TrajectoryOptions& options)
    : impl_(std::make_unique<Impl>(field, options)) {}

Trajectory::~Trajectory() = default;

TrajectoryReport Trajectory::forward(const model::Condition& cond, const std::vector<double>& x0,
                                     const std::vector<double>& times, std::vector<std::vector<double>>& states,
                                     bool record) {
  Impl& s = *impl_;
  const int G = s.size();
  if (static_cast<int>(x0.size()) != G) throw std::invalid_argument("Trajectory::forward: x0 has the wrong size");
  if (!std::is_sorted(times.begin(), times.end()) || (!times.empty() && times.front() < 0))
    throw std::invalid_argument("Trajectory::forward: times must be ascending and >= 0");
  s.cvode.reset(), s.ls.reset(), s.lsb.reset(), s.yb.reset();
  s.which = -1;
  s.cond = &cond;
  s.times = times;
  s.diag.clear(), s.diag_b.clear();
  s.y.reset(N_VNew_Serial(G, s.ctx));
  if (!s.y) throw NumericalError("SUNDIALS: cannot allocate a vector");
  std::copy(x0.begin(), x0.end(), N_VGetArrayPointer(s.y.get()));
  states.assign(times.size(), x0);
  TrajectoryReport report;
  report.ok = true;
  if (times.empty() || times.back() <= 0.0) return report;
  s.cvode.reset(CVodeCreate(CV_BDF, s.ctx));
  if (!s.cvode) throw NumericalError("CVODES: cannot create the integrator");
  void* mem = s.cvode.get();
  check(CVodeInit(mem, rhs, 0.0, s.y.get()), "CVodeInit");
  check(CVodeSetUserData(mem, &s), "CVodeSetUserData");
  check(CVodeSStolerances(mem, s.options.ode.rtol, s.options.ode.atol), "CVodeSStolerances");
  check(CVodeSetMaxNumSteps(mem, s.options.ode.max_steps), "CVodeSetMaxNumSteps");
  s.ls.reset(SUNLinSol_SPGMR(s.y.get(), SUN_PREC_LEFT, 30, s.ctx));
  if (!s.ls) throw NumericalError("CVODES: cannot create the GMRES solver");
  check(CVodeSetLinearSolver(mem, s.ls.get(), nullptr), "CVodeSetLinearSolver");
  check(CVodeSetJacTimes(mem, cvodes::linearize_for_products<Impl>, jac_times), "CVodeSetJacTimes");
  check(CVodeSetPreconditioner(mem, prec_setup, prec_solve), "CVodeSetPreconditioner");
  if (record) check(CVodeAdjInit(mem, s.options.checkpoint_steps, CV_HERMITE), "CVodeAdjInit");
  // Never past the last sampled time: the onset and the backward pass start there.
  check(CVodeSetStopTime(mem, times.back()), "CVodeSetStopTime");
  cvodes::Vector out(N_VNew_Serial(G, s.ctx));
  if (!out) throw NumericalError("SUNDIALS: cannot allocate a vector");
  for (std::size_t i = 0; i < times.size(); ++i) {
    if (times[i] <= 0.0) continue;  // x(0) = x0
    realtype reached = 0;
    int checkpoints = 0;
    const int flag = record ? CVodeF(mem, times[i], out.get(), &reached, CV_NORMAL, &checkpoints)
                            : CVode(mem, times[i], out.get(), &reached, CV_NORMAL);
    report.checkpoints = checkpoints;
    if (flag < 0) {
      report.ok = false;
      report.message = CVodeGetReturnFlagName(flag);
      break;
    }
    const double* o = N_VGetArrayPointer(out.get());
    states[i].assign(o, o + G);
  }
  CVodeGetNumSteps(mem, &report.steps);
  return report;
}

// The parameter gradient integral_0^T lambda^T df/dtheta dt is summed step by step of the
// backward integration, by 2-point Gauss-Legendre on each step with lambda and x from the
// solvers' own interpolants (exact to degree 3; its error per step is below the solvers' own
// at the fit's tolerances: the gradient checks agree to 1e-8 as with 3 points). A CVODES quadrature
// would carry a Nordsieck history of |theta| values (tens of times G) through every step:
// on a 60-gene fit that made the backward pass most of the cost.
TrajectoryReport Trajectory::gradient(const std::vector<std::vector<double>>& dl_dx, ParameterGradient& grad,
                                      std::vector<double>& knock_grad, std::vector<double>& lambda0) {
  Impl& s = *impl_;
  const int G = s.size();
  const auto Gs = static_cast<std::size_t>(G);
  if (!s.cond || dl_dx.size() != s.times.size())
    throw std::logic_error("Trajectory::gradient needs a recorded forward pass with one dl/dx per time");
  knock_grad.assign(s.cond->knock.size(), 0.0);
  lambda0.assign(Gs, 0.0);
  TrajectoryReport report;
  report.ok = true;
  std::vector<double> lambda(Gs, 0.0);
  auto add = [&](std::size_t i) {
    for (std::size_t g = 0; g < dl_dx[i].size(); ++g) lambda[g] += dl_dx[i][g];
  };
  long last = static_cast<long>(s.times.size()) - 1;
  if (last >= 0 && s.times.back() > 0.0) {
    if (!s.cvode) throw std::logic_error("Trajectory::gradient without a recorded forward pass");
    void* mem = s.cvode.get();
    s.yb.reset(N_VNew_Serial(G, s.ctx));
    cvodes::Vector at_lambda(N_VNew_Serial(G, s.ctx)), at_x(N_VNew_Serial(G, s.ctx));
    if (!s.yb || !at_lambda || !at_x) throw NumericalError("SUNDIALS: cannot allocate a vector");
    double t = s.times.back();
    for (; last >= 0 && s.times[static_cast<std::size_t>(last)] == t; --last) add(static_cast<std::size_t>(last));
    std::copy(lambda.begin(), lambda.end(), N_VGetArrayPointer(s.yb.get()));
    check(CVodeCreateB(mem, CV_BDF, &s.which), "CVodeCreateB");
    check(CVodeInitB(mem, s.which, rhs_b, t, s.yb.get()), "CVodeInitB");
    check(CVodeSetUserDataB(mem, s.which, &s), "CVodeSetUserDataB");
    check(CVodeSStolerancesB(mem, s.which, s.options.ode.rtol, s.options.ode.atol), "CVodeSStolerancesB");
    check(CVodeSetMaxNumStepsB(mem, s.which, s.options.ode.max_steps), "CVodeSetMaxNumStepsB");
    s.lsb.reset(SUNLinSol_SPGMR(s.yb.get(), SUN_PREC_LEFT, 30, s.ctx));
    if (!s.lsb) throw NumericalError("CVODES: cannot create the GMRES solver");
    check(CVodeSetLinearSolverB(mem, s.which, s.lsb.get(), nullptr), "CVodeSetLinearSolverB");
    check(CVodeSetJacTimesB(mem, s.which, jac_times_setup_b, jac_times_b), "CVodeSetJacTimesB");
    check(CVodeSetPreconditionerB(mem, s.which, prec_setup_b, prec_solve_b), "CVodeSetPreconditionerB");
    void* backward = CVodeGetAdjCVodeBmem(mem, s.which);
    // Gauss-Legendre nodes on [0, 1] and weights.
    constexpr double kNode = 0.28867513459481288225;  // 1 / (2 sqrt(3))
    const double nodes[2] = {0.5 - kNode, 0.5 + kNode}, weights[2] = {0.5, 0.5};
    std::vector<double> x(Gs), l(Gs);
    // integral over [lo, hi] of lambda^T df/dtheta, from the interpolants of the last step
    auto integrate_step = [&](double lo, double hi) {
      for (int k = 0; k < 2; ++k) {
        const double tau = lo + nodes[k] * (hi - lo);
        check(CVodeGetDky(backward, tau, 0, at_lambda.get()), "CVodeGetDky");
        check(CVodeGetAdjY(mem, tau, at_x.get()), "CVodeGetAdjY");
        const double* lp = N_VGetArrayPointer(at_lambda.get());
        const double* xp = N_VGetArrayPointer(at_x.get());
        const double w = weights[k] * (hi - lo);
        for (std::size_t g = 0; g < Gs; ++g) l[g] = w * lp[g], x[g] = xp[g];
        add_parameter_vjp(s.field, *s.cond, x, l, grad, &s.knock_work, tau);
        for (std::size_t i = 0; i < knock_grad.size(); ++i) knock_grad[i] += s.knock_work[i];
      }
    };
    // Backwards one step at a time, to each earlier time, where its loss jumps lambda.
    while (t > 0.0) {
      const double next = last >= 0 ? std::max(s.times[static_cast<std::size_t>(last)], 0.0) : 0.0;
      double hi = t;
      while (hi > next) {
        const int flag = CVodeB(mem, next, CV_ONE_STEP);
        if (flag < 0) {
          report.ok = false;
          report.message = CVodeGetReturnFlagName(flag);
          return report;
        }
        realtype reached = 0;
        check(CVodeGetB(mem, s.which, &reached, s.yb.get()), "CVodeGetB");
        const double lo = std::max(static_cast<double>(reached), next);
        if (lo < hi) integrate_step(lo, hi);
        hi = lo;
      }
      check(CVodeGetDky(backward, next, 0, s.yb.get()), "CVodeGetDky");  // lambda at `next` exactly
      long steps = 0;
      CVodeGetNumSteps(backward, &steps);  // since the last (re)initialisation
      report.steps += steps;
      const double* yb = N_VGetArrayPointer(s.yb.get());
      lambda.assign(yb, yb + G);
      t = next;
      if (t <= 0.0) break;
      for (; last >= 0 && s.times[static_cast<std::size_t>(last)] == t; --last) add(static_cast<std::size_t>(last));
      std::copy(lambda.begin(), lambda.end(), N_VGetArrayPointer(s.yb.get()));
      check(CVodeReInitB(mem, s.which, t, s.yb.get()), "CVodeReInitB");
    }
  }
  for (; last >= 0; --last) add(static_cast<std::size_t>(last));  // losses at t = 0
  lambda0 = lambda;
  return report;
}

}  // namespace perturbfit::solvers
