#include "perturbfit/model/csr.hpp"

#include <algorithm>
#include <numeric>

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

void CsrMatrix::multiply_many(const double* x, double* y, int nvec) const {
  const auto nv = static_cast<std::size_t>(nvec);
#pragma omp parallel for schedule(static)
  for (int i = 0; i < rows; ++i) {
    double* yi = y + static_cast<std::size_t>(i) * nv;
    std::fill(yi, yi + nv, 0.0);
    for (auto k = row_ptr[static_cast<std::size_t>(i)]; k < row_ptr[static_cast<std::size_t>(i) + 1]; ++k) {
      const double w = val[static_cast<std::size_t>(k)];
      const double* xj = x + static_cast<std::size_t>(col[static_cast<std::size_t>(k)]) * nv;
      for (std::size_t v = 0; v < nv; ++v) yi[v] += w * xj[v];
    }
  }
}

CsrMatrix CsrMatrix::from_triplets(int rows, int cols, std::vector<int> r, std::vector<int> c,
                                   std::vector<double> v) {
  std::vector<std::size_t> order(r.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return r[a] != r[b] ? r[a] < r[b] : c[a] < c[b];
  });
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
