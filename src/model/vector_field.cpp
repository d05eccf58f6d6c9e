#include "perturbfit/model/vector_field.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "perturbfit/core/openmp.hpp"

namespace perturbfit::model {

namespace {
// Work arrays of the batched products (G x nb each), kept per thread between calls: a fresh
// one per pass over W cost page faults and a memset every time (7% of a batched fit).
std::vector<double>& batch_scratch(int slot) {
  thread_local std::vector<double> buffers[3];
  return buffers[slot];
}
}  // namespace

double Condition::kappa_at(double kappa, double t) const {
  if (tau <= 0.0 || std::isinf(t)) return kappa;
  return t <= 0.0 ? 0.0 : kappa * (1.0 - std::exp(-t / tau));
}

VectorField::VectorField(const ModelParameters& params) : p_(params), wt_(params.W.transposed()) {
  // Pattern = W's pattern plus every diagonal entry, so the assembled Jacobian has room
  // for -gamma even where W has no self-loop.
  const int G = p_.genes;
  std::vector<int> r, c;
  for (int i = 0; i < G; ++i) {
    for (auto k = p_.W.row_ptr[static_cast<std::size_t>(i)]; k < p_.W.row_ptr[static_cast<std::size_t>(i) + 1]; ++k)
      r.push_back(i), c.push_back(p_.W.col[static_cast<std::size_t>(k)]);
    r.push_back(i), c.push_back(i);
  }
  pattern_ = CsrMatrix::from_triplets(G, G, r, c, std::vector<double>(r.size(), 0.0));
  w_to_pattern_.resize(static_cast<std::size_t>(p_.W.nnz()));
  diag_pos_.resize(static_cast<std::size_t>(G));
  for (int i = 0; i < G; ++i) {
    const auto b = pattern_.row_ptr[static_cast<std::size_t>(i)], e = pattern_.row_ptr[static_cast<std::size_t>(i) + 1];
    auto find = [&](int col) {
      const auto it = std::lower_bound(pattern_.col.begin() + b, pattern_.col.begin() + e, col);
      return static_cast<std::int64_t>(it - pattern_.col.begin());
    };
    diag_pos_[static_cast<std::size_t>(i)] = find(i);
    w_diag_.push_back(0.0);
    for (auto k = p_.W.row_ptr[static_cast<std::size_t>(i)]; k < p_.W.row_ptr[static_cast<std::size_t>(i) + 1]; ++k)
      if (p_.W.col[static_cast<std::size_t>(k)] == i) w_diag_.back() += p_.W.val[static_cast<std::size_t>(k)];
    for (auto k = p_.W.row_ptr[static_cast<std::size_t>(i)]; k < p_.W.row_ptr[static_cast<std::size_t>(i) + 1]; ++k)
      w_to_pattern_[static_cast<std::size_t>(k)] = find(p_.W.col[static_cast<std::size_t>(k)]);
  }
}

double VectorField::production_scale(std::size_t g, const std::vector<double>& medium) const {
  if (p_.Q.empty()) return 1.0;
  const auto K = static_cast<std::size_t>(p_.media);
  double e = 0.0;
  for (std::size_t k = 0; k < K && k < medium.size(); ++k) e += p_.Q[g * K + k] * medium[k];
  return std::exp(e);
}

void VectorField::kappa_vector(const Condition& cond, double t, std::vector<double>& kappa) const {
  kappa.assign(static_cast<std::size_t>(p_.genes), 0.0);
  for (const auto& [g, k] : cond.knock) kappa[static_cast<std::size_t>(g)] = cond.kappa_at(k, t);
}

// u = B x + C m + d (h values)
void VectorField::hidden_input(const double* x, const Condition& cond, std::vector<double>& u) const {
  const auto G = static_cast<std::size_t>(p_.genes), K = static_cast<std::size_t>(p_.media),
             h = static_cast<std::size_t>(p_.neural_rank);
  u.assign(h, 0.0);
  for (std::size_t r = 0; r < h; ++r) {
    double s = p_.d[r];
    for (std::size_t g = 0; g < G; ++g) s += p_.B[r * G + g] * x[g];
    for (std::size_t k = 0; k < K && k < cond.medium.size(); ++k) s += p_.C[r * K + k] * cond.medium[k];
    u[r] = s;
  }
}

void VectorField::evaluate(const double* x, const Condition& cond, double t, double* f) const {
  const auto G = static_cast<std::size_t>(p_.genes), K = static_cast<std::size_t>(p_.media),
             h = static_cast<std::size_t>(p_.neural_rank);
  if (p_.kind != ModelKind::kNeural) {
    std::vector<double> kappa;
    kappa_vector(cond, t, kappa);
    p_.W.multiply(x, f);  // f holds s = W x for now
    for (std::size_t g = 0; g < G; ++g) {
      double s = f[g] + p_.c[g];
      for (std::size_t k = 0; k < K && k < cond.medium.size(); ++k) s += p_.U[g * K + k] * cond.medium[k];
      f[g] = (1.0 - kappa[g]) * p_.v[g] * production_scale(g, cond.medium) * logistic(s) + p_.beta[g] -
             p_.gamma[g] * x[g];
    }
  } else {
    for (std::size_t g = 0; g < G; ++g) f[g] = -p_.gamma[g] * x[g];
  }
  if (has_low_rank()) {
    std::vector<double> u;
    hidden_input(x, cond, u);
    for (auto& ur : u) ur = std::tanh(ur);
    for (std::size_t g = 0; g < G; ++g)
      for (std::size_t r = 0; r < h; ++r) f[g] += p_.A[g * h + r] * u[r];
  }
}

void VectorField::linearize(const double* x, const Condition& cond, double t, Linearization& lin) const {
  const auto G = static_cast<std::size_t>(p_.genes), K = static_cast<std::size_t>(p_.media);
  lin.a.assign(G, 0.0);
  lin.production.clear();
  if (p_.kind != ModelKind::kNeural) {
    if (!p_.Q.empty()) lin.production.assign(G, 0.0);
    std::vector<double> kappa, s(G);
    kappa_vector(cond, t, kappa);
    p_.W.multiply(x, s.data());
    for (std::size_t g = 0; g < G; ++g) {
      double sg = s[g] + p_.c[g];
      for (std::size_t k = 0; k < K && k < cond.medium.size(); ++k) sg += p_.U[g * K + k] * cond.medium[k];
      const double sig = logistic(sg);
      const double vmax = (1.0 - kappa[g]) * p_.v[g] * production_scale(g, cond.medium);
      lin.a[g] = vmax * sig * (1.0 - sig);
      if (!lin.production.empty()) lin.production[g] = vmax * sig;
    }
  }
  lin.z.clear();
  if (has_low_rank()) {
    hidden_input(x, cond, lin.z);
    for (auto& zr : lin.z) {
      const double th = std::tanh(zr);
      zr = 1.0 - th * th;
    }
  }
}

void VectorField::medium_vjp(const Linearization& lin, const double* y, double* out) const {
  const auto G = static_cast<std::size_t>(p_.genes), K = static_cast<std::size_t>(p_.media),
             h = static_cast<std::size_t>(p_.neural_rank);
  std::fill(out, out + K, 0.0);
  for (std::size_t g = 0; g < G; ++g) {
    const double ay = lin.a[g] * y[g];
    if (ay != 0.0)
      for (std::size_t k = 0; k < K; ++k) out[k] += p_.U[g * K + k] * ay;
    const double py = lin.production.empty() ? 0.0 : lin.production[g] * y[g];
    if (py != 0.0)
      for (std::size_t k = 0; k < K; ++k) out[k] += p_.Q[g * K + k] * py;
  }
  if (!has_low_rank()) return;
  for (std::size_t r = 0; r < h; ++r) {
    double aty = 0.0;  // (A^T y)_r
    for (std::size_t g = 0; g < G; ++g) aty += p_.A[g * h + r] * y[g];
    for (std::size_t k = 0; k < K; ++k) out[k] += p_.C[r * K + k] * lin.z[r] * aty;
  }
}

void VectorField::jvp(const Linearization& lin, const double* v, double* out) const {
  const auto G = static_cast<std::size_t>(p_.genes), h = static_cast<std::size_t>(p_.neural_rank);
  p_.W.multiply(v, out);
  for (std::size_t g = 0; g < G; ++g) out[g] = lin.a[g] * out[g] - p_.gamma[g] * v[g];
  if (has_low_rank()) {
    std::vector<double> bv(h, 0.0);
    for (std::size_t r = 0; r < h; ++r) {
      for (std::size_t g = 0; g < G; ++g) bv[r] += p_.B[r * G + g] * v[g];
      bv[r] *= lin.z[r];
    }
    for (std::size_t g = 0; g < G; ++g)
      for (std::size_t r = 0; r < h; ++r) out[g] += p_.A[g * h + r] * bv[r];
  }
}

void VectorField::jtvp(const Linearization& lin, const double* v, double* out) const {
  const auto G = static_cast<std::size_t>(p_.genes), h = static_cast<std::size_t>(p_.neural_rank);
  std::vector<double> av(G);
  for (std::size_t g = 0; g < G; ++g) av[g] = lin.a[g] * v[g];
  p_.W.multiply_transpose(av.data(), out);
  for (std::size_t g = 0; g < G; ++g) out[g] -= p_.gamma[g] * v[g];
  if (has_low_rank()) {
    std::vector<double> atv(h, 0.0);
    for (std::size_t g = 0; g < G; ++g)
      for (std::size_t r = 0; r < h; ++r) atv[r] += p_.A[g * h + r] * v[g];
    for (std::size_t r = 0; r < h; ++r) {
      const double w = lin.z[r] * atv[r];
      for (std::size_t g = 0; g < G; ++g) out[g] += p_.B[r * G + g] * w;
    }
  }
}

void VectorField::jacobian_diagonal(const Linearization& lin, double* diag) const {
  const auto G = static_cast<std::size_t>(p_.genes), h = static_cast<std::size_t>(p_.neural_rank);
  for (std::size_t g = 0; g < G; ++g) {
    double wgg = 0.0;
    for (auto k = p_.W.row_ptr[g]; k < p_.W.row_ptr[g + 1]; ++k)
      if (static_cast<std::size_t>(p_.W.col[static_cast<std::size_t>(k)]) == g)
        wgg += p_.W.val[static_cast<std::size_t>(k)];
    diag[g] = lin.a[g] * wgg - p_.gamma[g];
    if (has_low_rank())
      for (std::size_t r = 0; r < h; ++r) diag[g] += p_.A[g * h + r] * lin.z[r] * p_.B[r * G + g];
  }
}

void VectorField::sparse_values(const Linearization& lin, std::vector<double>& values) const {
  values.assign(pattern_.val.size(), 0.0);
  const auto G = static_cast<std::size_t>(p_.genes);
  for (std::size_t g = 0; g < G; ++g) {
    for (auto k = p_.W.row_ptr[g]; k < p_.W.row_ptr[g + 1]; ++k)
      values[static_cast<std::size_t>(w_to_pattern_[static_cast<std::size_t>(k)])] +=
          lin.a[g] * p_.W.val[static_cast<std::size_t>(k)];
    values[static_cast<std::size_t>(diag_pos_[g])] -= p_.gamma[g];
  }
}

void VectorField::batch_inputs(const double* X, int nb, const std::vector<const Condition*>& conds, double t,
                               std::vector<double>& s, std::vector<double>& factor) const {
  const auto G = static_cast<std::size_t>(p_.genes), K = static_cast<std::size_t>(p_.media),
             B = static_cast<std::size_t>(nb);
  s.resize(G * B);
  batch_factors(nb, conds, t, factor);
  p_.W.multiply_many(X, s.data(), nb);  // the one pass over W for all columns
#pragma omp parallel for schedule(static) if (G * B >= kOpenMpMinWork)
  for (std::size_t g = 0; g < G; ++g)
    for (std::size_t k = 0; k < B; ++k) {
      double sg = s[g * B + k] + p_.c[g];
      for (std::size_t q = 0; q < K && q < conds[k]->medium.size(); ++q) sg += p_.U[g * K + q] * conds[k]->medium[q];
      s[g * B + k] = sg;
    }
}

void VectorField::batch_factors(int nb, const std::vector<const Condition*>& conds, double t,
                                std::vector<double>& factor) const {
  const auto G = static_cast<std::size_t>(p_.genes), B = static_cast<std::size_t>(nb);
  factor.assign(G * B, 1.0);
  for (std::size_t k = 0; k < B; ++k)
    for (const auto& [g, kappa] : conds[k]->knock)
      factor[static_cast<std::size_t>(g) * B + k] = 1.0 - conds[k]->kappa_at(kappa, t);
  if (!p_.Q.empty())
    for (std::size_t g = 0; g < G; ++g)
      for (std::size_t k = 0; k < B; ++k) factor[g * B + k] *= production_scale(g, conds[k]->medium);
}

void VectorField::batch_hidden(const double* X, int nb, const std::vector<const Condition*>& conds,
                               std::vector<double>& u) const {
  const auto G = static_cast<std::size_t>(p_.genes), K = static_cast<std::size_t>(p_.media),
             h = static_cast<std::size_t>(p_.neural_rank), B = static_cast<std::size_t>(nb);
  u.assign(h * B, 0.0);
  for (std::size_t r = 0; r < h; ++r) {
    double* ur = u.data() + r * B;
    for (std::size_t k = 0; k < B; ++k) {
      ur[k] = p_.d[r];
      for (std::size_t q = 0; q < K && q < conds[k]->medium.size(); ++q) ur[k] += p_.C[r * K + q] * conds[k]->medium[q];
    }
    for (std::size_t g = 0; g < G; ++g) {
      const double b = p_.B[r * G + g];
      for (std::size_t k = 0; k < B; ++k) ur[k] += b * X[g * B + k];
    }
  }
}

void VectorField::evaluate_batch(const double* X, int nb, const std::vector<const Condition*>& conds, double t,
                                 double* F, BatchLinearization* lin) const {
  const auto G = static_cast<std::size_t>(p_.genes), h = static_cast<std::size_t>(p_.neural_rank),
             B = static_cast<std::size_t>(nb);
  if (lin) {
    lin->nb = nb;
    lin->a.assign(G * B, 0.0);
    lin->z.clear();
  }
  if (p_.kind != ModelKind::kNeural) {
    auto& s = batch_scratch(0);
    auto& factor = batch_scratch(1);
    batch_inputs(X, nb, conds, t, s, factor);
    logistic_many(s.data(), s.data(), s.size());  // s holds sigma(s) from here
    double* a = lin ? lin->a.data() : nullptr;
#pragma omp parallel for schedule(static) if (G * B >= kOpenMpMinWork)
    for (std::size_t g = 0; g < G; ++g)
      for (std::size_t k = 0; k < B; ++k) {
        const std::size_t i = g * B + k;
        const double sig = s[i];
        F[i] = factor[i] * p_.v[g] * sig + p_.beta[g] - p_.gamma[g] * X[i];
        if (a) a[i] = factor[i] * p_.v[g] * sig * (1.0 - sig);
      }
  } else {
    for (std::size_t g = 0; g < G; ++g)
      for (std::size_t k = 0; k < B; ++k) F[g * B + k] = -p_.gamma[g] * X[g * B + k];
  }
  if (has_low_rank()) {
    std::vector<double> u;
    batch_hidden(X, nb, conds, u);
    for (auto& x : u) x = std::tanh(x);
    for (std::size_t g = 0; g < G; ++g)
      for (std::size_t r = 0; r < h; ++r)
        for (std::size_t k = 0; k < B; ++k) F[g * B + k] += p_.A[g * h + r] * u[r * B + k];
    if (lin) {
      lin->z = u;
      for (auto& z : lin->z) z = 1.0 - z * z;
    }
  }
}

void VectorField::linearize_batch(const double* X, int nb, const std::vector<const Condition*>& conds, double t,
                                  BatchLinearization& lin) const {
  std::vector<double> F(static_cast<std::size_t>(p_.genes) * static_cast<std::size_t>(nb));
  evaluate_batch(X, nb, conds, t, F.data(), &lin);
}

namespace {
// out += M2 diag(z) M1 V for nb interleaved columns, with M1 (h x G) and M2 (G x h) given
// by strides: M1(r, g) = m1[r * r1 + g * g1], M2(g, r) = m2[g * g2 + r * r2]. With
// (M1, M2) = (B, A) this is the low-rank part of J V; with (A^T, B^T), of J^T V. Sums run
// over g, then r, in ascending order either way.
void add_low_rank_batch(const double* m1, std::size_t r1, std::size_t g1, const double* m2, std::size_t g2,
                        std::size_t r2, const std::vector<double>& z, std::size_t G, std::size_t h, std::size_t nb,
                        const double* V, double* out) {
  std::vector<double> t(h * nb, 0.0);
  for (std::size_t r = 0; r < h; ++r)
    for (std::size_t g = 0; g < G; ++g)
      for (std::size_t k = 0; k < nb; ++k) t[r * nb + k] += m1[r * r1 + g * g1] * V[g * nb + k];
  for (std::size_t i = 0; i < t.size(); ++i) t[i] *= z[i];
  for (std::size_t g = 0; g < G; ++g)
    for (std::size_t r = 0; r < h; ++r)
      for (std::size_t k = 0; k < nb; ++k) out[g * nb + k] += m2[g * g2 + r * r2] * t[r * nb + k];
}
}  // namespace

void VectorField::jvp_batch(const BatchLinearization& lin, const double* V, double* out) const {
  const auto G = static_cast<std::size_t>(p_.genes), h = static_cast<std::size_t>(p_.neural_rank),
             B = static_cast<std::size_t>(lin.nb);
  p_.W.multiply_many(V, out, lin.nb);
#pragma omp parallel for schedule(static) if (G * B >= kOpenMpMinWork)
  for (std::size_t g = 0; g < G; ++g)
    for (std::size_t k = 0; k < B; ++k) out[g * B + k] = lin.a[g * B + k] * out[g * B + k] - p_.gamma[g] * V[g * B + k];
  if (has_low_rank()) add_low_rank_batch(p_.B.data(), G, 1, p_.A.data(), h, 1, lin.z, G, h, B, V, out);  // A z B V
}

void VectorField::jtvp_batch(const BatchLinearization& lin, const double* V, double* out) const {
  const auto G = static_cast<std::size_t>(p_.genes), h = static_cast<std::size_t>(p_.neural_rank),
             B = static_cast<std::size_t>(lin.nb);
  auto& av = batch_scratch(2);
  av.resize(G * B);
#pragma omp parallel for schedule(static) if (G * B >= kOpenMpMinWork)
  for (std::size_t i = 0; i < G * B; ++i) av[i] = lin.a[i] * V[i];
  wt_.multiply_many(av.data(), out, lin.nb);
#pragma omp parallel for schedule(static) if (G * B >= kOpenMpMinWork)
  for (std::size_t g = 0; g < G; ++g)
    for (std::size_t k = 0; k < B; ++k) out[g * B + k] -= p_.gamma[g] * V[g * B + k];
  if (has_low_rank()) add_low_rank_batch(p_.A.data(), 1, h, p_.B.data(), 1, G, lin.z, G, h, B, V, out);  // B^T z A^T V
}

void VectorField::jacobian_diagonal_batch(const BatchLinearization& lin, double* diag) const {
  const auto G = static_cast<std::size_t>(p_.genes), h = static_cast<std::size_t>(p_.neural_rank),
             B = static_cast<std::size_t>(lin.nb);
  for (std::size_t g = 0; g < G; ++g)
    for (std::size_t k = 0; k < B; ++k) diag[g * B + k] = lin.a[g * B + k] * w_diag_[g] - p_.gamma[g];
  if (has_low_rank())
    for (std::size_t g = 0; g < G; ++g)
      for (std::size_t k = 0; k < B; ++k)
        for (std::size_t r = 0; r < h; ++r) diag[g * B + k] += p_.A[g * h + r] * lin.z[r * B + k] * p_.B[r * G + g];
}

}  // namespace perturbfit::model
