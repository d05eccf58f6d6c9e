#include "perturbfit/solvers/adjoint.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "perturbfit/core/error.hpp"
#include "perturbfit/core/petsc_check.hpp"
#include "perturbfit/core/petsc_handle.hpp"

namespace perturbfit::solvers {

// Every loop over the parts follows model::for_each_part: the parameter vector's one order.
ParameterGradient::ParameterGradient(const model::ModelParameters& p) {
  std::vector<std::size_t> sizes;
  model::for_each_part(p, [&](const std::vector<double>& part) { sizes.push_back(part.size()); });
  std::size_t i = 0;
  model::for_each_part(*this, [&](std::vector<double>& part) { part.assign(sizes[i++], 0.0); });
}

void ParameterGradient::add(const ParameterGradient& o) {
  std::vector<const std::vector<double>*> theirs;
  model::for_each_part(o, [&](const std::vector<double>& part) { theirs.push_back(&part); });
  std::size_t i = 0;
  model::for_each_part(*this, [&](std::vector<double>& part) {
    const auto& b = *theirs[i++];
    for (std::size_t k = 0; k < part.size(); ++k) part[k] += b[k];
  });
}

std::vector<double> ParameterGradient::flatten() const {
  std::vector<double> out;
  model::for_each_part(*this,
                       [&](const std::vector<double>& part) { out.insert(out.end(), part.begin(), part.end()); });
  return out;
}

void ParameterGradient::unflatten(const double* values) {
  model::for_each_part(*this, [&](std::vector<double>& part) {
    std::copy_n(values, part.size(), part.begin());
    values += part.size();
  });
}

struct SteadyStateAdjoint::Impl {
  const model::VectorField& field;
  model::Linearization lin;
  VecHandle rhs, lambda;
  MatHandle op;  // (df/dx)^T as a shell
  KspHandle ksp;
  explicit Impl(const model::VectorField& f) : field(f) {}
};

namespace {
using Impl = SteadyStateAdjoint::Impl;

PetscErrorCode transpose_mult(Mat M, Vec x, Vec y) {
  PetscFunctionBeginUser;
  Impl* s;
  PetscCall(MatShellGetContext(M, &s));
  const PetscScalar* xx;
  PetscScalar* yy;
  PetscCall(VecGetArrayRead(x, &xx));
  PetscCall(VecGetArray(y, &yy));
  s->field.jtvp(s->lin, xx, yy);
  PetscCall(VecRestoreArray(y, &yy));
  PetscCall(VecRestoreArrayRead(x, &xx));
  PetscFunctionReturn(0);
}

PetscErrorCode diagonal(Mat M, Vec d) {  // the same for J and J^T: feeds -pc_type jacobi
  PetscFunctionBeginUser;
  Impl* s;
  PetscCall(MatShellGetContext(M, &s));
  PetscScalar* dd;
  PetscCall(VecGetArray(d, &dd));
  s->field.jacobian_diagonal(s->lin, dd);
  PetscCall(VecRestoreArray(d, &dd));
  PetscFunctionReturn(0);
}

PetscErrorCode setup(Impl& s, double rtol) {
  PetscFunctionBeginUser;
  const PetscInt G = s.field.size();
  PetscCall(VecCreateSeq(PETSC_COMM_SELF, G, s.rhs.address()));
  PetscCall(VecDuplicate(s.rhs, s.lambda.address()));
  PetscCall(MatCreateShell(PETSC_COMM_SELF, G, G, G, G, &s, s.op.address()));
  PetscCall(MatShellSetOperation(s.op, MATOP_MULT, reinterpret_cast<void (*)(void)>(transpose_mult)));
  PetscCall(MatShellSetOperation(s.op, MATOP_GET_DIAGONAL, reinterpret_cast<void (*)(void)>(diagonal)));
  PetscCall(KSPCreate(PETSC_COMM_SELF, s.ksp.address()));
  PetscCall(KSPSetOptionsPrefix(s.ksp, "adjoint_"));
  PetscCall(KSPSetType(s.ksp, KSPGMRES));
  PetscCall(KSPSetTolerances(s.ksp, rtol, 1e-300, PETSC_DEFAULT, 1000));
  PC pc;
  PetscCall(KSPGetPC(s.ksp, &pc));
  PetscCall(PCSetType(pc, PCJACOBI));
  PetscCall(KSPSetFromOptions(s.ksp));
  PetscFunctionReturn(0);
}
}  // namespace

SteadyStateAdjoint::SteadyStateAdjoint(const model::VectorField& field, double rtol)
    : impl_(std::make_unique<Impl>(field)) {
  PF_PETSC(setup(*impl_, rtol));
}

SteadyStateAdjoint::~SteadyStateAdjoint() = default;

int SteadyStateAdjoint::solve(const model::Condition& cond, const std::vector<double>& x,
                              const std::vector<double>& dl_dx, std::vector<double>& lambda) {
  Impl& s = *impl_;
  constexpr double kInf = std::numeric_limits<double>::infinity();
  s.field.linearize(x.data(), cond, kInf, s.lin);
  PetscScalar* r;
  PF_PETSC(VecGetArray(s.rhs, &r));
  std::copy(dl_dx.begin(), dl_dx.end(), r);
  PF_PETSC(VecRestoreArray(s.rhs, &r));
  PF_PETSC(KSPSetOperators(s.ksp, s.op, s.op));
  PF_PETSC(KSPSolve(s.ksp, s.rhs, s.lambda));
  KSPConvergedReason reason;
  PetscInt its = 0;
  PF_PETSC(KSPGetConvergedReason(s.ksp, &reason));
  PF_PETSC(KSPGetIterationNumber(s.ksp, &its));
  if (reason < 0)
    throw NumericalError(std::string("adjoint solve did not converge (") + KSPConvergedReasons[reason] +
                         "); the steady state may be singular or unstable");
  const PetscScalar* lam;
  PF_PETSC(VecGetArrayRead(s.lambda, &lam));
  lambda.assign(lam, lam + x.size());
  PF_PETSC(VecRestoreArrayRead(s.lambda, &lam));
  return static_cast<int>(its);
}

int SteadyStateAdjoint::accumulate(const model::Condition& cond, const std::vector<double>& x,
                                   const std::vector<double>& dl_dx, ParameterGradient& grad) {
  std::vector<double> lambda;
  const int its = solve(cond, x, dl_dx, lambda);
  for (auto& l : lambda) l = -l;  // dl/dtheta = -lambda^T df/dtheta
  add_parameter_vjp(impl_->field, cond, x, lambda, grad);
  return its;
}

namespace {
// The low-rank (A, B, C, d) part of grad += w^T df/dtheta at one state.
void add_low_rank_vjp(const model::VectorField& field, const model::Condition& cond, const double* x, const double* w,
                      ParameterGradient& grad) {
  const auto& p = field.params();
  const auto G = static_cast<std::size_t>(p.genes), K = static_cast<std::size_t>(p.media),
             h = static_cast<std::size_t>(p.neural_rank);
  std::vector<double> u(h, 0.0), wz(h, 0.0);  // wz_r = (A^T w)_r * (1 - tanh^2 u_r)
  for (std::size_t q = 0; q < h; ++q) {
    u[q] = p.d[q];
    for (std::size_t g = 0; g < G; ++g) u[q] += p.B[q * G + g] * x[g];
    for (std::size_t k = 0; k < K && k < cond.medium.size(); ++k) u[q] += p.C[q * K + k] * cond.medium[k];
  }
  for (std::size_t g = 0; g < G; ++g)
    for (std::size_t q = 0; q < h; ++q) {
      grad.A[g * h + q] += w[g] * std::tanh(u[q]);
      wz[q] += w[g] * p.A[g * h + q];
    }
  for (std::size_t q = 0; q < h; ++q) {
    const double t = std::tanh(u[q]);
    wz[q] *= 1.0 - t * t;
    for (std::size_t g = 0; g < G; ++g) grad.B[q * G + g] += wz[q] * x[g];
    for (std::size_t k = 0; k < K && k < cond.medium.size(); ++k) grad.C[q * K + k] += wz[q] * cond.medium[k];
    grad.d[q] += wz[q];
  }
}
}  // namespace

void add_parameter_vjp(const model::VectorField& field, const model::Condition& cond, const std::vector<double>& x,
                       const std::vector<double>& w, ParameterGradient& grad, std::vector<double>* knock_grad,
                       double t) {
  const auto& p = field.params();
  const auto G = static_cast<std::size_t>(p.genes), K = static_cast<std::size_t>(p.media);
  if (knock_grad) knock_grad->assign(cond.knock.size(), 0.0);
  if (p.kind != model::ModelKind::kNeural) {
    std::vector<double> sx(G), kappa(G, 0.0);
    p.W.multiply(x.data(), sx.data());
    for (const auto& [g, k] : cond.knock) kappa[static_cast<std::size_t>(g)] = cond.kappa_at(k, t);
    for (std::size_t g = 0; g < G; ++g) {
      double sg = sx[g] + p.c[g];
      for (std::size_t q = 0; q < K && q < cond.medium.size(); ++q) sg += p.U[g * K + q] * cond.medium[q];
      sx[g] = model::logistic(sg);  // sigma(s_g) from here on
      const double sig = sx[g];
      const double scale = field.production_scale(g, cond.medium);
      const double wa = w[g] * (1.0 - kappa[g]) * scale * p.v[g] * sig * (1.0 - sig);  // w_g * df_g/ds_g
      for (auto k = p.W.row_ptr[g]; k < p.W.row_ptr[g + 1]; ++k)
        grad.W[static_cast<std::size_t>(k)] += wa * x[static_cast<std::size_t>(p.W.col[static_cast<std::size_t>(k)])];
      for (std::size_t q = 0; q < K && q < cond.medium.size(); ++q) grad.U[g * K + q] += wa * cond.medium[q];
      grad.c[g] += wa;
      grad.v[g] += w[g] * (1.0 - kappa[g]) * scale * sig;
      grad.beta[g] += w[g];
      if (!p.Q.empty())
        for (std::size_t q = 0; q < K && q < cond.medium.size(); ++q)
          grad.Q[g * K + q] += w[g] * (1.0 - kappa[g]) * scale * p.v[g] * sig * cond.medium[q];
    }
    if (knock_grad)
      for (std::size_t i = 0; i < cond.knock.size(); ++i) {
        const auto g = static_cast<std::size_t>(cond.knock[i].first);
        (*knock_grad)[i] = -w[g] * p.v[g] * field.production_scale(g, cond.medium) * sx[g] *
                           cond.kappa_at(1.0, t);  // w_g * df_g/dkappa_g(t) * dkappa_g(t)/dkappa
      }
  }
  for (std::size_t g = 0; g < G; ++g) grad.gamma[g] -= w[g] * x[g];
  if (field.has_low_rank()) add_low_rank_vjp(field, cond, x.data(), w.data(), grad);
}

void add_parameter_vjp_batch(const model::VectorField& field, const std::vector<const model::Condition*>& conds,
                             const double* X, const double* Wt, ParameterGradient& grad,
                             std::vector<std::vector<double>>* knock_grads) {
  const auto& p = field.params();
  const auto G = static_cast<std::size_t>(p.genes), K = static_cast<std::size_t>(p.media), B = conds.size();
  const int nb = static_cast<int>(B);
  constexpr double kInf = std::numeric_limits<double>::infinity();
  if (knock_grads) {
    knock_grads->resize(B);
    for (std::size_t b = 0; b < B; ++b) (*knock_grads)[b].assign(conds[b]->knock.size(), 0.0);
  }
  if (p.kind != model::ModelKind::kNeural) {
    std::vector<double> s, factor, wa(B);
    field.batch_inputs(X, nb, conds, kInf, s, factor);
    model::logistic_many(s.data(), s.data(), s.size());  // sigma(s) from here on (the kappa gradient reads it)
    for (std::size_t g = 0; g < G; ++g) {
      double gc = 0, gv = 0, gb = 0;
      for (std::size_t b = 0; b < B; ++b) {
        const std::size_t i = g * B + b;
        const double sig = s[i];
        wa[b] = Wt[i] * factor[i] * p.v[g] * sig * (1.0 - sig);  // w_g * df_g/ds_g
        gc += wa[b];
        gv += Wt[i] * factor[i] * sig;
        gb += Wt[i];
      }
      for (auto k = p.W.row_ptr[g]; k < p.W.row_ptr[g + 1]; ++k) {  // one pass over W for the batch
        const double* xj = X + static_cast<std::size_t>(p.W.col[static_cast<std::size_t>(k)]) * B;
        double sum = 0;
        for (std::size_t b = 0; b < B; ++b) sum += wa[b] * xj[b];
        grad.W[static_cast<std::size_t>(k)] += sum;
      }
      for (std::size_t b = 0; b < B; ++b)
        for (std::size_t q = 0; q < K && q < conds[b]->medium.size(); ++q)
          grad.U[g * K + q] += wa[b] * conds[b]->medium[q];
      grad.c[g] += gc;
      grad.v[g] += gv;
      grad.beta[g] += gb;
      if (!p.Q.empty())
        for (std::size_t b = 0; b < B; ++b) {
          const double wp = Wt[g * B + b] * factor[g * B + b] * p.v[g] * s[g * B + b];  // w_g * production_g
          for (std::size_t q = 0; q < K && q < conds[b]->medium.size(); ++q)
            grad.Q[g * K + q] += wp * conds[b]->medium[q];
        }
    }
    if (knock_grads)
      for (std::size_t b = 0; b < B; ++b)
        for (std::size_t i = 0; i < conds[b]->knock.size(); ++i) {
          const auto g = static_cast<std::size_t>(conds[b]->knock[i].first);
          (*knock_grads)[b][i] = -Wt[g * B + b] * p.v[g] * field.production_scale(g, conds[b]->medium) *
                                 s[g * B + b];  // w_g * df_g/dkappa_g
        }
  }
  for (std::size_t g = 0; g < G; ++g) {
    double sum = 0;
    for (std::size_t b = 0; b < B; ++b) sum += Wt[g * B + b] * X[g * B + b];
    grad.gamma[g] -= sum;
  }
  if (field.has_low_rank()) {
    std::vector<double> x(G), w(G);
    for (std::size_t b = 0; b < B; ++b) {
      for (std::size_t g = 0; g < G; ++g) x[g] = X[g * B + b], w[g] = Wt[g * B + b];
      add_low_rank_vjp(field, *conds[b], x.data(), w.data(), grad);
    }
  }
}

}  // namespace perturbfit::solvers
