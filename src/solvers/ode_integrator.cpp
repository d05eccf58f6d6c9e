#include "perturbfit/solvers/ode_integrator.hpp"

#include <cvodes/cvodes.h>
#include <nvector/nvector_serial.h>
#include <sundials/sundials_context.h>
#include <sunlinsol/sunlinsol_spgmr.h>

#include <algorithm>
#include <cmath>

#include "perturbfit/core/error.hpp"
#include "perturbfit/solvers/cvodes_support.hpp"

namespace perturbfit::solvers {

struct OdeIntegrator::Impl {
  const model::VectorField& field;
  OdeOptions options;
  SUNContext ctx = nullptr;
  N_Vector y = nullptr;
  SUNLinearSolver ls = nullptr;
  void* cvode = nullptr;
  bool initialised = false;

  const model::Condition* cond = nullptr;
  model::Linearization lin;
  std::vector<double> diag;     // diag(df/dx) at the last preconditioner setup
  std::vector<double> precond;  // 1 - gamma * diag, per component

  Impl(const model::VectorField& f, const OdeOptions& o) : field(f), options(o) {}
  ~Impl() {
    if (cvode) CVodeFree(&cvode);
    if (ls) SUNLinSolFree(ls);
    if (y) N_VDestroy(y);
    if (ctx) SUNContext_Free(&ctx);
  }
  int size() const { return field.size() + 1; }
};

namespace {

using Impl = OdeIntegrator::Impl;

using cvodes::check;

int rhs(realtype t, N_Vector y, N_Vector ydot, void* user) {
  auto* s = static_cast<Impl*>(user);
  const double* x = N_VGetArrayPointer(y);
  double* f = N_VGetArrayPointer(ydot);
  s->field.evaluate(x, *s->cond, t, f);
  const auto& p = s->field.params();
  double r = p.growth_rate;
  for (int g = 0; g < p.genes; ++g) r += p.fitness[static_cast<std::size_t>(g)] * x[g];
  f[p.genes] = r;
  for (int g = 0; g <= p.genes; ++g)
    if (!std::isfinite(f[g])) return 1;  // recoverable: CVODES retries with a smaller step
  return 0;
}

int jac_times(N_Vector v, N_Vector jv, realtype, N_Vector, N_Vector, void* user, N_Vector) {
  auto* s = static_cast<Impl*>(user);
  const double* vv = N_VGetArrayPointer(v);
  double* out = N_VGetArrayPointer(jv);
  s->field.jvp(s->lin, vv, out);
  const auto& p = s->field.params();
  double r = 0.0;
  for (int g = 0; g < p.genes; ++g) r += p.fitness[static_cast<std::size_t>(g)] * vv[g];
  out[p.genes] = r;
  return 0;
}

int prec_setup(realtype t, N_Vector y, N_Vector, booleantype jok, booleantype* jcur, realtype gamma, void* user) {
  auto* s = static_cast<Impl*>(user);
  const auto G = static_cast<std::size_t>(s->field.size());
  if (!jok || s->diag.size() != G + 1) {
    model::Linearization lin;
    s->field.linearize(N_VGetArrayPointer(y), *s->cond, t, lin);
    s->diag.assign(G + 1, 0.0);  // the log-weight row has no diagonal
    s->field.jacobian_diagonal(lin, s->diag.data());
    *jcur = SUNTRUE;
  } else {
    *jcur = SUNFALSE;
  }
  s->precond.resize(G + 1);
  for (std::size_t g = 0; g <= G; ++g) s->precond[g] = 1.0 - gamma * s->diag[g];
  return 0;
}

int prec_solve(realtype, N_Vector, N_Vector, N_Vector r, N_Vector z, realtype, realtype, int, void* user) {
  auto* s = static_cast<Impl*>(user);
  const double* rr = N_VGetArrayPointer(r);
  double* zz = N_VGetArrayPointer(z);
  for (int g = 0; g < s->size(); ++g) zz[g] = rr[g] / s->precond[static_cast<std::size_t>(g)];
  return 0;
}

}  // namespace

OdeIntegrator::OdeIntegrator(const model::VectorField& field, const OdeOptions& options)
    : impl_(std::make_unique<Impl>(field, options)) {
  if (SUNContext_Create(nullptr, &impl_->ctx) != 0) throw NumericalError("SUNDIALS: cannot create a context");
  impl_->y = N_VNew_Serial(impl_->size(), impl_->ctx);
  if (!impl_->y) throw NumericalError("SUNDIALS: cannot allocate a vector");
}

OdeIntegrator::~OdeIntegrator() = default;

OdeReport OdeIntegrator::integrate(const model::Condition& cond, double t0, double dt, std::vector<double>& x,
                                   double* log_weight) {
  Impl& s = *impl_;
  const int G = s.field.size();
  double* y = N_VGetArrayPointer(s.y);
  std::copy(x.begin(), x.end(), y);
  y[G] = log_weight ? *log_weight : 0.0;
  s.cond = &cond;
  OdeReport report;
  if (dt <= 0.0) {
    report.ok = true;
    return report;
  }
  if (!s.initialised) {
    s.cvode = CVodeCreate(CV_BDF, s.ctx);
    if (!s.cvode) throw NumericalError("CVODES: cannot create the integrator");
    check(CVodeInit(s.cvode, rhs, t0, s.y), "CVodeInit");
    check(CVodeSetUserData(s.cvode, &s), "CVodeSetUserData");
    s.ls = SUNLinSol_SPGMR(s.y, SUN_PREC_LEFT, 30, s.ctx);
    if (!s.ls) throw NumericalError("CVODES: cannot create the GMRES solver");
    check(CVodeSetLinearSolver(s.cvode, s.ls, nullptr), "CVodeSetLinearSolver");
    check(CVodeSetJacTimes(s.cvode, cvodes::linearize_for_products<Impl>, jac_times), "CVodeSetJacTimes");
    check(CVodeSetPreconditioner(s.cvode, prec_setup, prec_solve), "CVodeSetPreconditioner");
    s.initialised = true;
  } else {
    check(CVodeReInit(s.cvode, t0, s.y), "CVodeReInit");
  }
  check(CVodeSStolerances(s.cvode, s.options.rtol, s.options.atol), "CVodeSStolerances");
  check(CVodeSetMaxNumSteps(s.cvode, s.options.max_steps), "CVodeSetMaxNumSteps");
  check(CVodeSetStopTime(s.cvode, t0 + dt), "CVodeSetStopTime");
  realtype t_reached = t0;
  const int flag = CVode(s.cvode, t0 + dt, s.y, &t_reached, CV_NORMAL);
  report.ok = flag >= 0;
  if (!report.ok) report.message = CVodeGetReturnFlagName(flag);
  CVodeGetNumSteps(s.cvode, &report.steps);
  CVodeGetNumRhsEvals(s.cvode, &report.rhs_evaluations);
  CVodeGetNumLinIters(s.cvode, &report.linear_iterations);
  std::copy(y, y + G, x.begin());
  if (log_weight) *log_weight = y[G];
  return report;
}

}  // namespace perturbfit::solvers
