// Small dense linear algebra (K x K systems, G x K panels with K ~ 10) through PETSc's
// bundled LAPACK: never used on anything of size G x G.
#pragma once
#include <complex>
#include <vector>

namespace perturbfit::solvers {

// Solves A X = B for symmetric positive definite A (n x n, row-major; overwritten by its
// Cholesky factor) and B (n x nrhs, row-major; overwritten by X). NumericalError if A is
// not positive definite.
void solve_spd(int n, std::vector<double>& A, std::vector<double>& B, int nrhs);

// Solves A X = B for a general square A (n x n, row-major; overwritten by its LU factors)
// and B (n x nrhs, row-major; overwritten by X); transpose = true solves A^T X = B.
// NumericalError if A is singular.
void solve_general(int n, std::vector<double>& A, std::vector<double>& B, int nrhs, bool transpose = false);

// The determinant of a general square A (n x n, row-major), by LU with partial pivoting; 0
// if A is singular.
double determinant(int n, std::vector<double> A);

// The eigenvalues of a general square A (n x n, row-major), by LAPACK geev (no vectors).
std::vector<std::complex<double>> eigenvalues(int n, std::vector<double> A);

// Orthonormalises the columns of Q (rows x cols, row-major) in place by modified
// Gram-Schmidt, twice for stability; a column that depends on the earlier ones (its norm
// falls by 1e10 or more) becomes zero.
void orthonormalize_columns(int rows, int cols, std::vector<double>& Q);

}  // namespace perturbfit::solvers
