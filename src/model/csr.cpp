#include "perturbfit/model/csr.hpp"

#include <algorithm>
#include <numeric>

#include "perturbfit/core/openmp.hpp"

namespace perturbfit::model {

void CsrMatrix::multiply(const double* x, double* y) const {
  for (int i = 0; i < rows; ++i) {
    double s = 0.0;
    for (auto k = row_ptr[static_cast<std::size_t>(i)]; k < row_ptr[static_cast<std::size_t>(i) + 1]; ++k)
      s += val[static_cast<std::size_t>(k)] * x[col[static_cast<std::size_t>(k)]];
    y[i] = s;
  }
}

void CsrMatrix::multiply_transpose(const double* x, double* y) const {
  std::fill(y, y + cols, 0.0);
  for (int i = 0; i < rows; ++i)
    for (auto k = row_ptr[static_cast<std::size_t>(i)]; k < row_ptr[static_cast<std::size_t>(i) + 1]; ++k)
      y[col[static_cast<std::size_t>(k)]] += val[static_cast<std::size_t>(k)] * x[i];
}

namespace {
// Columns [offset, offset + NV) of Y = A X: the accumulators stay in registers across a
// row (a run-time width would load and store y at every nonzero); same summation order as
// multiply, so every column's result is independent of the batch it is computed in.
template <std::size_t NV>
void multiply_columns(const CsrMatrix& A, const double* x, double* y, std::size_t nv, std::size_t offset) {
#pragma omp parallel for schedule(static) if (static_cast<std::size_t>(A.nnz()) * NV >= kOpenMpMinWork)
  for (int i = 0; i < A.rows; ++i) {
    double acc[NV] = {};
    for (auto k = A.row_ptr[static_cast<std::size_t>(i)]; k < A.row_ptr[static_cast<std::size_t>(i) + 1]; ++k) {
      const double w = A.val[static_cast<std::size_t>(k)];
      const double* xj = x + static_cast<std::size_t>(A.col[static_cast<std::size_t>(k)]) * nv + offset;
      for (std::size_t v = 0; v < NV; ++v) acc[v] += w * xj[v];
    }
    std::copy(acc, acc + NV, y + static_cast<std::size_t>(i) * nv + offset);
  }
}
}  // namespace

void CsrMatrix::multiply_many(const double* x, double* y, int nvec) const {
  const auto nv = static_cast<std::size_t>(nvec);
  std::size_t offset = 0;
  for (; offset + 16 <= nv; offset += 16) multiply_columns<16>(*this, x, y, nv, offset);
  if (offset + 8 <= nv) multiply_columns<8>(*this, x, y, nv, offset), offset += 8;
  if (offset + 4 <= nv) multiply_columns<4>(*this, x, y, nv, offset), offset += 4;
  if (offset + 2 <= nv) multiply_columns<2>(*this, x, y, nv, offset), offset += 2;
  if (offset < nv) multiply_columns<1>(*this, x, y, nv, offset);
}

CsrMatrix CsrMatrix::transposed() const {
  CsrMatrix t;
  t.rows = cols;
  t.cols = rows;
  t.row_ptr.assign(static_cast<std::size_t>(cols) + 1, 0);
  for (int c : col) ++t.row_ptr[static_cast<std::size_t>(c) + 1];
  std::partial_sum(t.row_ptr.begin(), t.row_ptr.end(), t.row_ptr.begin());
  t.col.resize(col.size());
  t.val.resize(val.size());
  std::vector<std::int64_t> next(t.row_ptr.begin(), t.row_ptr.end() - 1);
  for (int i = 0; i < rows; ++i)  // rows in ascending order, so each row of A^T comes out sorted
    for (auto k = row_ptr[static_cast<std::size_t>(i)]; k < row_ptr[static_cast<std::size_t>(i) + 1]; ++k) {
      const auto pos = static_cast<std::size_t>(next[static_cast<std::size_t>(col[static_cast<std::size_t>(k)])]++);
      t.col[pos] = i;
      t.val[pos] = val[static_cast<std::size_t>(k)];
    }
  return t;
}

CsrMatrix CsrMatrix::from_triplets(int rows, int cols, std::vector<int> r, std::vector<int> c, std::vector<double> v) {
  std::vector<std::size_t> order(r.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(),
            [&](std::size_t a, std::size_t b) { return r[a] != r[b] ? r[a] < r[b] : c[a] < c[b]; });
  CsrMatrix m;
  m.rows = rows;
  m.cols = cols;
  m.row_ptr.assign(static_cast<std::size_t>(rows) + 1, 0);
  for (std::size_t idx : order) {
    if (!m.col.empty() && m.row_ptr[static_cast<std::size_t>(r[idx]) + 1] > 0 && m.col.back() == c[idx] &&
        static_cast<std::size_t>(m.row_ptr[static_cast<std::size_t>(r[idx]) + 1]) == m.col.size()) {
      m.val.back() += v[idx];  // duplicate entry in the same row
      continue;
    }
    m.col.push_back(c[idx]);
    m.val.push_back(v[idx]);
    m.row_ptr[static_cast<std::size_t>(r[idx]) + 1] = static_cast<std::int64_t>(m.col.size());
  }
  for (std::size_t i = 1; i < m.row_ptr.size(); ++i) m.row_ptr[i] = std::max(m.row_ptr[i], m.row_ptr[i - 1]);
  return m;
}

}  // namespace perturbfit::model
