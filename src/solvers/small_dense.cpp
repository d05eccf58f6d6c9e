#include "perturbfit/solvers/small_dense.hpp"

#include <petscsys.h>
#include <petscblaslapack.h>

#include <cmath>
#include <string>

#include "perturbfit/core/error.hpp"

namespace perturbfit::solvers {

void solve_spd(int n, std::vector<double>& A, std::vector<double>& B, int nrhs) {
  if (n == 0 || nrhs == 0) return;
  // Row-major A is its own transpose (symmetric); row-major B (n x nrhs) is column-major
  // B^T, so solve in the transposed layout and transpose back.
  std::vector<double> Bc(static_cast<std::size_t>(n) * static_cast<std::size_t>(nrhs));
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < nrhs; ++j) Bc[static_cast<std::size_t>(j * n + i)] = B[static_cast<std::size_t>(i * nrhs + j)];
  PetscBLASInt N = n, NRHS = nrhs, info = 0;
  char uplo = 'L';
  LAPACKpotrf_(&uplo, &N, A.data(), &N, &info);
  if (info != 0)
    throw NumericalError("a small linear system is not positive definite (LAPACK potrf info " + std::to_string(info) +
                         ")");
  LAPACKpotrs_(&uplo, &N, &NRHS, A.data(), &N, Bc.data(), &N, &info);
  if (info != 0) throw NumericalError("LAPACK potrs failed (info " + std::to_string(info) + ")");
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < nrhs; ++j) B[static_cast<std::size_t>(i * nrhs + j)] = Bc[static_cast<std::size_t>(j * n + i)];
}

void solve_general(int n, std::vector<double>& A, std::vector<double>& B, int nrhs, bool transpose) {
  if (n == 0 || nrhs == 0) return;
  // Row-major A is column-major A^T: LAPACK's 'N' on it solves A^T, its 'T' solves A.
  std::vector<double> Bc(static_cast<std::size_t>(n) * static_cast<std::size_t>(nrhs));
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < nrhs; ++j) Bc[static_cast<std::size_t>(j * n + i)] = B[static_cast<std::size_t>(i * nrhs + j)];
  PetscBLASInt N = n, NRHS = nrhs, info = 0;
  std::vector<PetscBLASInt> pivots(static_cast<std::size_t>(n));
  LAPACKgetrf_(&N, &N, A.data(), &N, pivots.data(), &info);
  if (info != 0)
    throw NumericalError("a small linear system is singular (LAPACK getrf info " + std::to_string(info) + ")");
  char trans = transpose ? 'N' : 'T';
  LAPACKgetrs_(&trans, &N, &NRHS, A.data(), &N, pivots.data(), Bc.data(), &N, &info);
  if (info != 0) throw NumericalError("LAPACK getrs failed (info " + std::to_string(info) + ")");
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < nrhs; ++j) B[static_cast<std::size_t>(i * nrhs + j)] = Bc[static_cast<std::size_t>(j * n + i)];
}

double determinant(int n, std::vector<double> A) {
  if (n == 0) return 1.0;
  PetscBLASInt N = n, info = 0;
  std::vector<PetscBLASInt> pivots(static_cast<std::size_t>(n));
  LAPACKgetrf_(&N, &N, A.data(), &N, pivots.data(), &info);  // det(A^T) = det(A): the layout does not matter
  if (info > 0) return 0.0;
  if (info < 0) throw NumericalError("LAPACK getrf failed (info " + std::to_string(info) + ")");
  double det = 1.0;
  for (int i = 0; i < n; ++i) det *= (pivots[static_cast<std::size_t>(i)] != i + 1 ? -1.0 : 1.0) * A[static_cast<std::size_t>(i * n + i)];
  return det;
}

void orthonormalize_columns(int rows, int cols, std::vector<double>& Q) {
  const auto R = static_cast<std::size_t>(rows), C = static_cast<std::size_t>(cols);
  std::vector<double> before(C, 0.0);
  for (std::size_t j = 0; j < C; ++j)
    for (std::size_t r = 0; r < R; ++r) before[j] += Q[r * C + j] * Q[r * C + j];
  for (int pass = 0; pass < 2; ++pass)
    for (std::size_t j = 0; j < C; ++j) {
      for (std::size_t i = 0; i < j; ++i) {
        double dot = 0;
        for (std::size_t r = 0; r < R; ++r) dot += Q[r * C + i] * Q[r * C + j];
        for (std::size_t r = 0; r < R; ++r) Q[r * C + j] -= dot * Q[r * C + i];
      }
      double norm = 0;
      for (std::size_t r = 0; r < R; ++r) norm += Q[r * C + j] * Q[r * C + j];
      // Dependent on the earlier columns (only rounding left): zero, not a random direction.
      const bool vanished = pass == 0 ? norm <= 1e-20 * before[j] || norm == 0 : norm == 0;
      norm = std::sqrt(norm);
      for (std::size_t r = 0; r < R; ++r) Q[r * C + j] = vanished ? 0.0 : Q[r * C + j] / norm;
    }
}

std::vector<std::complex<double>> eigenvalues(int n, std::vector<double> A) {
  if (n == 0) return {};
  // The eigenvalues of A^T (the row-major array read column-major) are A's.
  PetscBLASInt N = n, one = 1, info = 0, lwork = 4 * n;
  std::vector<double> re(static_cast<std::size_t>(n)), im(static_cast<std::size_t>(n)), work(static_cast<std::size_t>(lwork));
  double unused = 0;
  const char no = 'N';
  LAPACKgeev_(&no, &no, &N, A.data(), &N, re.data(), im.data(), &unused, &one, &unused, &one, work.data(), &lwork,
              &info);
  if (info != 0) throw NumericalError("LAPACK geev failed (info " + std::to_string(info) + ")");
  std::vector<std::complex<double>> out(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < out.size(); ++i) out[i] = {re[i], im[i]};
  return out;
}

}  // namespace perturbfit::solvers
