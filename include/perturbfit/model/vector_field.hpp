// f(x; m, p, t) and its derivatives. The Jacobian is never formed densely: it is
// diag(a) W - diag(gamma) + A diag(z) B, with a = (1-kappa) v sigma'(s) and
// z = 1 - tanh^2, applied as products (jvp, jtvp) or assembled only on W's pattern.
#pragma once
#include <utility>
#include <vector>

#include "perturbfit/model/logistic.hpp"
#include "perturbfit/model/parameters.hpp"

namespace perturbfit::model {

// What a cell experiences: its medium and the genes its guides act on.
struct Condition {
  std::vector<double> medium;                 // m, K values
  std::vector<std::pair<int, double>> knock;  // (gene, kappa of the guide(s))
  double tau = 0.0;                           // onset time constant; 0 = instantaneous
  // kappa_g at time t since the perturbation (t = +infinity for steady states).
  double kappa_at(double kappa, double t) const;
};

// The pieces of df/dx at one state, reused by many products.
struct Linearization {
  std::vector<double> a;  // G: (1-kappa_g) v_g sigma'(s_g); zero for the neural kind
  std::vector<double> z;  // h: 1 - tanh^2(B x + C m + d)
  std::vector<double> production;  // G: (1-kappa_g) v_g exp(Q_g . m) sigma(s_g), only with Q (for df/dm)
};

class VectorField {
 public:
  explicit VectorField(const ModelParameters& params);
  const ModelParameters& params() const { return p_; }
  int size() const { return p_.genes; }

  // f(x) at time t since the perturbation.
  void evaluate(const double* x, const Condition& cond, double t, double* f) const;
  void linearize(const double* x, const Condition& cond, double t, Linearization& lin) const;
  void jvp(const Linearization& lin, const double* v, double* out) const;   // (df/dx) v
  void jtvp(const Linearization& lin, const double* v, double* out) const;  // (df/dx)^T v
  // (df/dm)^T y, K values: how f responds to the medium (and to niche factors, which enter
  // as medium), df_g/dm_k = a_g U_gk + production_g Q_gk + sum_r A_gr z_r C_rk.
  void medium_vjp(const Linearization& lin, const double* y, double* out) const;
  // Diagonal of df/dx (for Jacobi preconditioners).
  void jacobian_diagonal(const Linearization& lin, double* diag) const;
  // Values of the sparse part diag(a) W - diag(gamma) on the pattern of W plus the diagonal,
  // in CSR order of `sparse_pattern()` (which is computed once).
  const CsrMatrix& sparse_pattern() const { return pattern_; }
  void sparse_values(const Linearization& lin, std::vector<double>& values) const;
  bool has_low_rank() const { return p_.neural_rank > 0 && p_.kind != ModelKind::kMechanistic; }
  // exp(Q_g . m): how medium m scales gene g's maximal production (1 without Q).
  double production_scale(std::size_t g, const std::vector<double>& medium) const;

  // Batched forms: nb states stored interleaved (X[g * nb + k] is gene g of column k), so
  // that one pass over W serves all nb columns (CsrMatrix::multiply_many).
  struct BatchLinearization {
    int nb = 0;
    std::vector<double> a;  // G x nb
    std::vector<double> z;  // h x nb
  };
  // F = f(X); with lin, also the linearization at X (at no extra pass over W).
  void evaluate_batch(const double* X, int nb, const std::vector<const Condition*>& conds, double t, double* F,
                      BatchLinearization* lin = nullptr) const;
  void linearize_batch(const double* X, int nb, const std::vector<const Condition*>& conds, double t,
                       BatchLinearization& lin) const;
  void jvp_batch(const BatchLinearization& lin, const double* V, double* out) const;
  void jtvp_batch(const BatchLinearization& lin, const double* V, double* out) const;  // (df/dx)^T per column
  void jacobian_diagonal_batch(const BatchLinearization& lin, double* diag) const;
  // s = W X + U m + c and the production factor (1 - kappa) exp(Q m), both G x nb
  void batch_inputs(const double* X, int nb, const std::vector<const Condition*>& conds, double t,
                    std::vector<double>& s, std::vector<double>& factor) const;
  void batch_factors(int nb, const std::vector<const Condition*>& conds, double t, std::vector<double>& factor) const;
  const CsrMatrix& transposed_W() const { return wt_; }
  const std::vector<double>& self_weights() const { return w_diag_; }  // W_gg

 private:
  void kappa_vector(const Condition& cond, double t, std::vector<double>& kappa) const;
  // u = B x + C m + d, h x nb
  void batch_hidden(const double* X, int nb, const std::vector<const Condition*>& conds, std::vector<double>& u) const;
  void hidden_input(const double* x, const Condition& cond, std::vector<double>& u) const;

  const ModelParameters& p_;
  CsrMatrix pattern_;                       // W's pattern plus the diagonal
  std::vector<std::int64_t> w_to_pattern_;  // position of each W entry in pattern_
  std::vector<std::int64_t> diag_pos_;      // position of (g, g) in pattern_
  CsrMatrix wt_;                            // W^T, for batched transposed products
  std::vector<double> w_diag_;              // W_gg
};

}  // namespace perturbfit::model
