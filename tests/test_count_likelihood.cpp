// The per-cell ZINB likelihood (fit/count_likelihood.hpp) against its definition written
// out independently, against central differences in every parameter, and in its Poisson limit.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

#include "perturbfit/fit/count_likelihood.hpp"

using namespace perturbfit;

namespace {

// Three cells x four genes in CSR, with a zero stored explicitly, a large count (the
// digamma path) and a cell of size factor 0 (which adds nothing).
struct Cells {
  std::vector<std::int64_t> indptr{0, 3, 5, 6, 7};
  std::vector<std::int32_t> cols{0, 2, 3, 1, 2, 0, 3};
  std::vector<double> values{1, 4, 0, 2, 57, 3, 9};
  std::vector<double> s{0.7, 1.6, 1.1, 0.0};
  std::vector<std::int32_t> rows{0, 1, 2, 3};
  fit::CountMatrix matrix() const { return {indptr, cols, values, s}; }
  double count(std::size_t cell, std::size_t gene) const {
    for (auto q = indptr[cell]; q < indptr[cell + 1]; ++q)
      if (static_cast<std::size_t>(cols[static_cast<std::size_t>(q)]) == gene) return values[static_cast<std::size_t>(q)];
    return 0.0;
  }
};

// -log P(y) of the ZINB from its probability mass function.
double zinb_nll(double y, double mu, double r, double pi) {
  const double log_nb = std::lgamma(y + r) - std::lgamma(r) - std::lgamma(y + 1) + r * std::log(r / (r + mu)) +
                        (y > 0 ? y * std::log(mu / (r + mu)) : 0.0);
  const double p = (1 - pi) * std::exp(log_nb) + (y == 0 ? pi : 0.0);
  return -std::log(p);
}

const std::vector<double> kMean{0.8, 1.9, 3.0, 0.05}, kSize{2.0, 0.7, 15.0, 4.0}, kDropout{0.1, 0.3, 0.02, 0.5};

double nll(const Cells& c, const std::vector<double>& m, const std::vector<double>& r, const std::vector<double>* pi,
           fit::CountGradient* grad = nullptr) {
  return fit::count_nll(c.matrix(), c.rows, m.size(), m.data(), r.data(), pi ? pi->data() : nullptr, grad);
}

}  // namespace

TEST(CountLikelihood, DigammaMatchesTheDerivativeOfLogGamma) {
  EXPECT_NEAR(fit::digamma(1.0), -0.57721566490153286, 1e-13);
  for (double x : {0.05, 0.5, 1.7, 6.0, 42.5, 3e4}) {
    const double h = 1e-5 * std::max(1.0, x);
    EXPECT_NEAR(fit::digamma(x), (std::lgamma(x + h) - std::lgamma(x - h)) / (2 * h), 1e-7 * std::max(1.0, std::abs(fit::digamma(x))))
        << x;
  }
}

TEST(CountLikelihood, ValueIsTheSumOfEachCountsNegativeLogProbability) {
  Cells c;
  for (const bool inflated : {false, true}) {
    double expected = 0;
    for (std::size_t i = 0; i < 3; ++i)  // cell 3 has s = 0
      for (std::size_t g = 0; g < 4; ++g)
        expected += zinb_nll(c.count(i, g), c.s[i] * kMean[g], kSize[g], inflated ? kDropout[g] : 0.0);
    EXPECT_NEAR(nll(c, kMean, kSize, inflated ? &kDropout : nullptr), expected, 1e-11 * std::abs(expected)) << inflated;
  }
}

TEST(CountLikelihood, GradientMatchesCentralDifferences) {
  Cells c;
  for (const bool inflated : {false, true}) {
    fit::CountGradient grad(4);
    const auto* pi = inflated ? &kDropout : nullptr;
    nll(c, kMean, kSize, pi, &grad);
    for (std::size_t g = 0; g < 4; ++g) {
      const double h = 1e-6;
      auto m = kMean, r = kSize;
      m[g] *= 1 + h;
      const double up = nll(c, m, r, pi);
      m[g] = kMean[g] * (1 - h);
      EXPECT_NEAR(grad.mean[g], (up - nll(c, m, r, pi)) / (2 * h * kMean[g]), 1e-6 * (1 + std::abs(grad.mean[g])));
      m = kMean;
      r[g] = kSize[g] * std::exp(h);
      const double r_up = nll(c, m, r, pi);
      r[g] = kSize[g] * std::exp(-h);
      EXPECT_NEAR(grad.log_size[g], (r_up - nll(c, m, r, pi)) / (2 * h), 1e-6 * (1 + std::abs(grad.log_size[g])));
      if (!inflated) {
        EXPECT_EQ(grad.logit_dropout[g], 0.0);
        continue;
      }
      auto p = kDropout;
      const double logit = std::log(p[g] / (1 - p[g]));
      p[g] = 1 / (1 + std::exp(-(logit + h)));
      const double p_up = nll(c, kMean, kSize, &p);
      p[g] = 1 / (1 + std::exp(-(logit - h)));
      EXPECT_NEAR(grad.logit_dropout[g], (p_up - nll(c, kMean, kSize, &p)) / (2 * h),
                  1e-6 * (1 + std::abs(grad.logit_dropout[g])));
    }
  }
}

TEST(CountLikelihood, LargeSizeIsThePoissonLikelihood) {
  Cells c;
  double poisson = 0;
  for (std::size_t i = 0; i < 3; ++i)
    for (std::size_t g = 0; g < 4; ++g) {
      const double y = c.count(i, g), mu = c.s[i] * kMean[g];
      poisson += mu - y * std::log(mu) + std::lgamma(y + 1);
    }
  const std::vector<double> huge(4, 1e9);
  EXPECT_NEAR(nll(c, kMean, huge, nullptr), poisson, 1e-5 * poisson);
}

TEST(CountLikelihood, InformationIsTheSumOfSquaredPerCellGradients) {
  Cells c;
  fit::CountGradient info(4);
  fit::count_information(c.matrix(), c.rows, 4, kMean.data(), kSize.data(), kDropout.data(), info);
  std::vector<double> log_size(4, 0.0), dropout(4, 0.0);
  for (const std::int32_t cell : c.rows) {  // one cell: its gradient is each count's own derivative
    fit::CountGradient g(4);
    const std::vector<std::int32_t> one{cell};
    fit::count_nll(c.matrix(), one, 4, kMean.data(), kSize.data(), kDropout.data(), &g);
    for (std::size_t k = 0; k < 4; ++k) log_size[k] += g.log_size[k] * g.log_size[k], dropout[k] += g.logit_dropout[k] * g.logit_dropout[k];
  }
  for (std::size_t k = 0; k < 4; ++k) {
    EXPECT_GT(info.log_size[k], 0.0);
    EXPECT_NEAR(info.log_size[k], log_size[k], 1e-12 * log_size[k]);
    EXPECT_NEAR(info.logit_dropout[k], dropout[k], 1e-12 * dropout[k]);
  }
}
