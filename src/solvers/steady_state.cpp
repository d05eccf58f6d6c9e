#include "perturbfit/solvers/steady_state.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "perturbfit/core/petsc_check.hpp"
#include "perturbfit/core/petsc_handle.hpp"
#include "perturbfit/core/random.hpp"

namespace perturbfit::solvers {

namespace {
constexpr double kInfinity = std::numeric_limits<double>::infinity();
}

struct SteadyStateSolver::Impl {
  const model::VectorField& field;
  SteadyStateOptions opt;
  OdeIntegrator ode;
  const model::Condition* cond = nullptr;
  model::Linearization lin;  // at the last Jacobian evaluation
  std::vector<double> sparse_vals;

  VecHandle x, r;
  MatHandle P;  // assembled sparse part on W's pattern plus the diagonal
  MatHandle A;  // the operator: P itself, or a shell adding the low-rank term
  SnesHandle snes;
  // Stability test: M = I - (h/2) J
  MatHandle stab_P, stab_A;
  KspHandle stab_ksp;
  double stab_half_h = 0.0;

  Impl(const model::VectorField& f, const SteadyStateOptions& o) : field(f), opt(o), ode(f, o.ode) {}
};

namespace {

using Impl = SteadyStateSolver::Impl;

PetscErrorCode residual(SNES, Vec X, Vec F, void* ctx) {
  PetscFunctionBeginUser;
  auto* s = static_cast<Impl*>(ctx);
  const PetscScalar* x;
  PetscScalar* f;
  PetscCall(VecGetArrayRead(X, &x));
  PetscCall(VecGetArray(F, &f));
  s->field.evaluate(x, *s->cond, kInfinity, f);
  PetscCall(VecRestoreArray(F, &f));
  PetscCall(VecRestoreArrayRead(X, &x));
  PetscFunctionReturn(0);
}

PetscErrorCode copy_sparse_values(Mat P, const std::vector<double>& vals) {
  PetscFunctionBeginUser;
  PetscScalar* a;
  PetscCall(MatSeqAIJGetArray(P, &a));
  std::copy(vals.begin(), vals.end(), a);
  PetscCall(MatSeqAIJRestoreArray(P, &a));
  PetscCall(MatAssemblyBegin(P, MAT_FINAL_ASSEMBLY));
  PetscCall(MatAssemblyEnd(P, MAT_FINAL_ASSEMBLY));
  PetscFunctionReturn(0);
}

PetscErrorCode jacobian(SNES, Vec X, Mat A, Mat P, void* ctx) {
  PetscFunctionBeginUser;
  auto* s = static_cast<Impl*>(ctx);
  const PetscScalar* x;
  PetscCall(VecGetArrayRead(X, &x));
  s->field.linearize(x, *s->cond, kInfinity, s->lin);
  PetscCall(VecRestoreArrayRead(X, &x));
  s->field.sparse_values(s->lin, s->sparse_vals);
  PetscCall(copy_sparse_values(P, s->sparse_vals));
  if (A != P) {
    PetscCall(MatAssemblyBegin(A, MAT_FINAL_ASSEMBLY));
    PetscCall(MatAssemblyEnd(A, MAT_FINAL_ASSEMBLY));
  }
  PetscFunctionReturn(0);
}

// y = J v with the exact Jacobian (sparse plus low rank) at the last linearization.
PetscErrorCode apply_jacobian(const Impl& s, Vec v, Vec y) {
  PetscFunctionBeginUser;
  const PetscScalar* vv;
  PetscScalar* yy;
  PetscCall(VecGetArrayRead(v, &vv));
  PetscCall(VecGetArray(y, &yy));
  s.field.jvp(s.lin, vv, yy);
  PetscCall(VecRestoreArray(y, &yy));
  PetscCall(VecRestoreArrayRead(v, &vv));
  PetscFunctionReturn(0);
}

PetscErrorCode jacobian_mult(Mat J, Vec v, Vec y) {
  PetscFunctionBeginUser;
  Impl* s;
  PetscCall(MatShellGetContext(J, &s));
  PetscCall(apply_jacobian(*s, v, y));
  PetscFunctionReturn(0);
}

// y = v - (h/2) J v, the Cayley denominator.
PetscErrorCode cayley_mult(Mat M, Vec v, Vec y) {
  PetscFunctionBeginUser;
  Impl* s;
  PetscCall(MatShellGetContext(M, &s));
  PetscCall(apply_jacobian(*s, v, y));
  PetscCall(VecAYPX(y, -s->stab_half_h, v));
  PetscFunctionReturn(0);
}

PetscErrorCode create_sparse_matrix(const model::CsrMatrix& pattern, Mat* P) {
  PetscFunctionBeginUser;
  std::vector<PetscInt> ia(pattern.row_ptr.begin(), pattern.row_ptr.end());
  std::vector<PetscInt> ja(pattern.col.begin(), pattern.col.end());
  std::vector<PetscScalar> zeros(pattern.col.size(), 0.0);
  PetscCall(MatCreate(PETSC_COMM_SELF, P));
  PetscCall(MatSetSizes(*P, pattern.rows, pattern.cols, pattern.rows, pattern.cols));
  PetscCall(MatSetType(*P, MATSEQAIJ));
  PetscCall(MatSeqAIJSetPreallocationCSR(*P, ia.data(), ja.data(), zeros.data()));
  PetscFunctionReturn(0);
}

// P: the assembled sparse part on W's pattern. A: the exact operator, which is P itself
// for the mechanistic model and a shell applying `mult` when there is a low-rank term.
PetscErrorCode create_operator(Impl& s, PetscErrorCode (*mult)(Mat, Vec, Vec), MatHandle& P, MatHandle& A) {
  PetscFunctionBeginUser;
  const PetscInt G = s.field.size();
  PetscCall(create_sparse_matrix(s.field.sparse_pattern(), P.address()));
  if (s.field.has_low_rank()) {
    PetscCall(MatCreateShell(PETSC_COMM_SELF, G, G, G, G, &s, A.address()));
    PetscCall(MatShellSetOperation(A, MATOP_MULT, reinterpret_cast<void (*)(void)>(mult)));
  } else {
    PetscCall(PetscObjectReference(reinterpret_cast<PetscObject>(P.get())));
    *A.address() = P.get();
  }
  PetscFunctionReturn(0);
}

PetscErrorCode setup(Impl& s) {
  PetscFunctionBeginUser;
  const PetscInt G = s.field.size();
  PetscCall(VecCreateSeq(PETSC_COMM_SELF, G, s.x.address()));
  PetscCall(VecDuplicate(s.x, s.r.address()));
  PetscCall(create_operator(s, jacobian_mult, s.P, s.A));
  PetscCall(SNESCreate(PETSC_COMM_SELF, s.snes.address()));
  PetscCall(SNESSetType(s.snes, SNESNEWTONLS));
  PetscCall(SNESSetFunction(s.snes, s.r, residual, &s));
  PetscCall(SNESSetJacobian(s.snes, s.A, s.P, jacobian, &s));
  // stol is tiny: acceptance is decided by ||f|| alone, never by a short Newton step.
  PetscCall(SNESSetTolerances(s.snes, s.opt.atol, s.opt.rtol, 1e-14, s.opt.max_iterations, 100 * s.opt.max_iterations));
  KSP ksp;
  PC pc;
  PetscCall(SNESGetKSP(s.snes, &ksp));
  PetscCall(KSPSetType(ksp, KSPGMRES));
  PetscCall(KSPSetTolerances(ksp, 1e-10, 1e-14, PETSC_DEFAULT, 500));
  PetscCall(KSPGetPC(ksp, &pc));
  // Defaults measured on bench/bench_steady_state (G = 5000, nnz = 100k): decay makes the
  // Jacobian diagonally dominant, so Jacobi + Eisenstat-Walker beat ILU(0) by 2-3x.
  // -pc_type ilu (or lu) is the robust choice for strongly coupled networks.
  PetscCall(PCSetType(pc, PCJACOBI));
  PetscCall(SNESKSPSetUseEW(s.snes, PETSC_TRUE));
  PetscCall(SNESSetFromOptions(s.snes));
  PetscFunctionReturn(0);
}

double residual_norm(const Impl& s, const std::vector<double>& x) {
  std::vector<double> f(x.size());
  s.field.evaluate(x.data(), *s.cond, kInfinity, f.data());
  double n = 0.0;
  for (double v : f) n += v * v;
  return std::isfinite(n) ? std::sqrt(n) : kInfinity;
}

// One Newton attempt from x; returns ||f|| at the result.
double newton(Impl& s, std::vector<double>& x, SteadyStateReport& report) {
  PetscScalar* a;
  PF_PETSC(VecGetArray(s.x, &a));
  std::copy(x.begin(), x.end(), a);
  PF_PETSC(VecRestoreArray(s.x, &a));
  PF_PETSC(SNESSolve(s.snes, nullptr, s.x));
  SNESConvergedReason reason;
  PetscInt its = 0, lits = 0;
  PF_PETSC(SNESGetConvergedReason(s.snes, &reason));
  PF_PETSC(SNESGetIterationNumber(s.snes, &its));
  PF_PETSC(SNESGetLinearSolveIterations(s.snes, &lits));
  report.newton_iterations += static_cast<int>(its);
  report.linear_iterations += static_cast<int>(lits);
  report.snes_reason = SNESConvergedReasons[reason];
  const PetscScalar* xa;
  PF_PETSC(VecGetArrayRead(s.x, &xa));
  std::vector<double> candidate(xa, xa + x.size());
  PF_PETSC(VecRestoreArrayRead(s.x, &xa));
  const double n = residual_norm(s, candidate);
  if (std::isfinite(n)) x = candidate;
  return n;
}

// Sufficient condition: every Gershgorin disc of df/dx lies in the open left half plane.
bool gershgorin_certifies(const Impl& s) {
  const auto& p = s.field.params();
  const auto G = static_cast<std::size_t>(p.genes), h = static_cast<std::size_t>(p.neural_rank);
  std::vector<double> low_rank_row(G, 0.0), col_abs(h, 0.0);
  if (s.field.has_low_rank()) {
    for (std::size_t r = 0; r < h; ++r)
      for (std::size_t g = 0; g < G; ++g) col_abs[r] += std::fabs(p.B[r * G + g]);
    for (std::size_t g = 0; g < G; ++g)
      for (std::size_t r = 0; r < h; ++r) low_rank_row[g] += std::fabs(p.A[g * h + r]) * s.lin.z[r] * col_abs[r];
  }
  for (std::size_t g = 0; g < G; ++g) {
    double row = 0.0, wgg = 0.0;
    for (auto k = p.W.row_ptr[g]; k < p.W.row_ptr[g + 1]; ++k) {
      const double w = p.W.val[static_cast<std::size_t>(k)];
      if (static_cast<std::size_t>(p.W.col[static_cast<std::size_t>(k)]) == g)
        wgg += w;
      else
        row += std::fabs(w);
    }
    // centre a_g W_gg - gamma_g, radius a_g * sum_{j != g} |W_gj| (+ the low-rank bound, which
    // covers its own diagonal contribution too)
    if (s.lin.a[g] * (wgg + row) + low_rank_row[g] - p.gamma[g] >= 0.0) return false;
  }
  return true;
}

PetscErrorCode setup_stability(Impl& s) {
  PetscFunctionBeginUser;
  const auto& gamma = s.field.params().gamma;
  s.stab_half_h = 1.0 / (std::accumulate(gamma.begin(), gamma.end(), 0.0) / static_cast<double>(gamma.size()));
  PetscCall(create_operator(s, cayley_mult, s.stab_P, s.stab_A));
  PetscCall(KSPCreate(PETSC_COMM_SELF, s.stab_ksp.address()));
  PetscCall(KSPSetOptionsPrefix(s.stab_ksp, "stability_"));
  PetscCall(KSPSetType(s.stab_ksp, KSPGMRES));
  PetscCall(KSPSetTolerances(s.stab_ksp, 1e-10, 1e-14, PETSC_DEFAULT, 500));
  PC pc;
  PetscCall(KSPGetPC(s.stab_ksp, &pc));
  PetscCall(PCSetType(pc, PCILU));
  PetscCall(KSPSetFromOptions(s.stab_ksp));
  PetscFunctionReturn(0);
}

// Power iteration on the Cayley transform C = (I - hJ/2)^{-1} (I + hJ/2), which maps the
// open left half plane onto the open unit disc: x* is stable iff the spectral radius of C
// is below one. The growth rate over the last half of the iterations estimates it.
PetscErrorCode cayley_power(Impl& s, SteadyStateReport& report) {
  PetscFunctionBeginUser;
  if (!s.stab_ksp) PetscCall(setup_stability(s));
  const auto G = static_cast<std::size_t>(s.field.size());
  s.field.sparse_values(s.lin, s.sparse_vals);
  for (auto& v : s.sparse_vals) v *= -s.stab_half_h;
  const auto& pattern = s.field.sparse_pattern();
  for (std::size_t g = 0; g < G; ++g) {
    const auto it = std::lower_bound(pattern.col.begin() + pattern.row_ptr[g],
                                     pattern.col.begin() + pattern.row_ptr[g + 1], static_cast<int>(g));
    s.sparse_vals[static_cast<std::size_t>(it - pattern.col.begin())] += 1.0;
  }
  PetscCall(copy_sparse_values(s.stab_P, s.sparse_vals));
  if (s.stab_A.get() != s.stab_P.get()) {
    PetscCall(MatAssemblyBegin(s.stab_A, MAT_FINAL_ASSEMBLY));
    PetscCall(MatAssemblyEnd(s.stab_A, MAT_FINAL_ASSEMBLY));
  }
  PetscCall(KSPSetOperators(s.stab_ksp, s.stab_A, s.stab_P));

  VecHandle v, w, y;
  PetscCall(VecDuplicate(s.x, v.address()));
  PetscCall(VecDuplicate(s.x, w.address()));
  PetscCall(VecDuplicate(s.x, y.address()));
  {
    RandomStream rs(0x5eed, StreamDomain::kStart, 0);  // fixed: the test must be reproducible
    PetscScalar* a;
    PetscCall(VecGetArray(v, &a));
    for (std::size_t g = 0; g < G; ++g) a[g] = rs.normal();
    PetscCall(VecRestoreArray(v, &a));
  }
  PetscReal nrm;
  PetscCall(VecNormalize(v, &nrm));
  const int iters = std::max(2, s.opt.stability_iterations);
  double log_growth = 0.0, rayleigh = 0.0;
  int counted = 0;
  for (int k = 0; k < iters; ++k) {
    PetscCall(apply_jacobian(s, v, w));
    PetscCall(VecAYPX(w, s.stab_half_h, v));  // w = v + (h/2) J v
    PetscCall(KSPSolve(s.stab_ksp, w, y));    // y = C v
    PetscCall(VecNorm(y, NORM_2, &nrm));
    if (!(nrm > 0.0)) break;
    PetscCall(VecDot(y, v, &rayleigh));
    if (k >= iters / 2) log_growth += std::log(nrm), ++counted;
    PetscCall(VecScale(y, 1.0 / nrm));
    PetscCall(VecCopy(y, v));
  }
  const double rho = counted > 0 ? std::exp(log_growth / counted) : 0.0;
  report.stability_method = StabilityMethod::kCayleyPower;
  report.stable = rho < 1.0;
  // Invert mu = (1 + h l/2) / (1 - h l/2). When the iteration has settled on a real
  // eigenvector the Rayleigh quotient is the signed mu; otherwise (a complex pair) only
  // |mu| is known, which still fixes the sign of Re(l).
  const bool real_mode = std::fabs(std::fabs(rayleigh) - nrm) <= 1e-3 * nrm;
  const double mu = real_mode ? rayleigh : rho;
  report.leading_eigenvalue = (mu - 1.0) / (mu + 1.0) / s.stab_half_h;
  PetscFunctionReturn(0);
}

}  // namespace

const char* to_string(SolveMethod m) {
  switch (m) {
    case SolveMethod::kBatchedNewton:
      return "batched-newton";
    case SolveMethod::kNewton:
      return "newton";
    case SolveMethod::kCvodesNewton:
      return "cvodes+newton";
    case SolveMethod::kFailed:
      return "failed";
    case SolveMethod::kTimeCourse:
      return "time-course";
    case SolveMethod::kBatchedRelaxation:
      return "batched-relaxation";
  }
  return "?";
}

const char* to_string(StabilityMethod m) {
  switch (m) {
    case StabilityMethod::kSkipped:
      return "skipped";
    case StabilityMethod::kGershgorin:
      return "gershgorin";
    case StabilityMethod::kCayleyPower:
      return "cayley-power";
  }
  return "?";
}

SteadyStateSolver::SteadyStateSolver(const model::VectorField& field, const SteadyStateOptions& options)
    : impl_(std::make_unique<Impl>(field, options)) {
  PF_PETSC(setup(*impl_));
}

SteadyStateSolver::~SteadyStateSolver() = default;

void SteadyStateSolver::assess_stability(const model::Condition& cond, const std::vector<double>& x,
                                         SteadyStateReport& report) {
  Impl& s = *impl_;
  s.cond = &cond;
  if (s.opt.stability == StabilityMode::kSkip) {
    report.stability_method = StabilityMethod::kSkipped;
    return;
  }
  s.field.linearize(x.data(), cond, kInfinity, s.lin);
  if (gershgorin_certifies(s)) {
    report.stability_method = StabilityMethod::kGershgorin;
    report.stable = true;
    return;
  }
  PF_PETSC(cayley_power(s, report));
}

SteadyStateReport SteadyStateSolver::solve(const model::Condition& cond, std::vector<double>& x) {
  Impl& s = *impl_;
  s.cond = &cond;
  SteadyStateReport report;
  const std::vector<double> start = x;
  report.residual_norm = newton(s, x, report);
  if (report.residual_norm <= s.opt.atol) {
    report.converged = true;
    report.method = SolveMethod::kNewton;
  } else if (s.opt.fallback) {
    // Integrate towards the attractor with full knockdown (onset already complete), then polish.
    model::Condition settled = cond;
    settled.tau = 0.0;
    std::vector<double> y = start;
    const OdeReport ode = s.ode.integrate(settled, 0.0, s.opt.fallback_time, y);
    if (ode.ok) {
      x = y;
      report.residual_norm = residual_norm(s, x);
      if (report.residual_norm > s.opt.atol) report.residual_norm = newton(s, x, report);
      report.converged = report.residual_norm <= s.opt.atol;
      report.method = report.converged ? SolveMethod::kCvodesNewton : SolveMethod::kFailed;
    } else {
      report.method = SolveMethod::kFailed;
    }
  } else {
    report.method = SolveMethod::kFailed;
  }
  if (report.converged) assess_stability(cond, x, report);
  return report;
}

}  // namespace perturbfit::solvers
