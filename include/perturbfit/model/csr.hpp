// Compressed sparse row matrix: the storage of W (never dense at scale).
#pragma once
#include <cstdint>
#include <vector>

namespace perturbfit::model {

struct CsrMatrix {
  int rows = 0, cols = 0;
  std::vector<std::int64_t> row_ptr{0};
  std::vector<int> col;
  std::vector<double> val;

  std::int64_t nnz() const { return row_ptr.back(); }
  // y = A x
  void multiply(const double* x, double* y) const;
  // y = A^T x (y has cols entries)
  void multiply_transpose(const double* x, double* y) const;
  // Y = A X for nvec vectors stored interleaved (X[j*nvec + k]): one pass over A serves all.
  void multiply_many(const double* x, double* y, int nvec) const;
  // A^T in CSR, columns sorted: multiply_many on it is a batched A^T product without the
  // scatter (and sums in the same order as multiply_transpose).
  CsrMatrix transposed() const;
  // Builds from (row, col, value) triplets; duplicates are summed, columns sorted per row.
  static CsrMatrix from_triplets(int rows, int cols, std::vector<int> r, std::vector<int> c, std::vector<double> v);
};

}  // namespace perturbfit::model
