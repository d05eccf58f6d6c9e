// GMRES(m) run in lockstep over many right-hand sides stored interleaved (V[i * nb + k] is
// row i of column k), so each operator application is one pass over W for the whole batch.
// Every column keeps its own Krylov basis, Hessenberg matrix and Givens rotations: a
// column's iterates do not depend on which other columns share the batch (results are the
// same at any rank count). Right preconditioning by a per-column diagonal (Jacobi).
// Shared by the batched Newton solver (J dx = -F) and the batched adjoint (J^T l = g).
#pragma once
#include <cstddef>
#include <functional>
#include <vector>

namespace perturbfit::solvers {

// Euclidean norm of each column of an interleaved n x nb array; +inf for a non-finite column.
void column_norms(const double* A, std::size_t n, std::size_t nb, std::vector<double>& out);

class BatchedGmres {
 public:
  // out = A in, for all nb columns at once
  using Operator = std::function<void(const double* in, double* out)>;

  struct Result {
    std::vector<int> iterations;  // Krylov iterations per column
    std::vector<char> converged;  // ||b - A x|| <= target (the GMRES estimate at the last cycle)
  };

  explicit BatchedGmres(int restart_dim = 30);
  int restart_dim() const { return static_cast<int>(m_); }

  // Solves A x_k = b_k for n rows and nb columns, preconditioned by diag(D), starting from
  // x = 0 (x is overwritten). Column k stops once its residual norm is <= target[k]; at
  // most max_cycles restart cycles of m iterations. Non-finite residuals: not converged.
  Result solve(const Operator& A, std::size_t n, int nb, const double* D, const double* b, double* x,
               const std::vector<double>& target, int max_cycles);

 private:
  void classical_gram_schmidt(std::size_t q, std::size_t n, std::size_t nb, std::vector<double>& dots);
  std::size_t m_;
  std::vector<std::vector<double>> basis_;  // m + 1 blocks of n x nb, reused between solves
  std::vector<double> z_, w_, h_, cs_, sn_, g_;
};

}  // namespace perturbfit::solvers
