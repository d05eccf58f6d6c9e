#include "perturbfit/fit/count_likelihood.hpp"

#include <cmath>

namespace perturbfit::fit {

double digamma(double x) {
  double shift = 0.0;
  while (x < 10.0) shift -= 1.0 / x, x += 1.0;
  const double inv = 1.0 / x, inv2 = inv * inv;
  // psi(x) ~ log x - 1/(2x) - sum B_2k / (2k x^2k)
  return shift + std::log(x) - 0.5 * inv -
         inv2 * (1.0 / 12 - inv2 * (1.0 / 120 - inv2 * (1.0 / 252 - inv2 * (1.0 / 240 - inv2 * (1.0 / 132)))));
}

GroupCells::GroupCells(const data::ScreenData& data, const std::vector<int>& groups) {
  const auto& cell_group = data.cell_groups();
  slot_.assign(data.groups().size(), -1);
  for (std::size_t h = 0; h < groups.size(); ++h) slot_[static_cast<std::size_t>(groups[h])] = static_cast<int>(h);
  std::vector<std::vector<std::int32_t>> members(groups.size());
  const auto& rows = data.local_rows();
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const int g = cell_group[static_cast<std::size_t>(rows[r])];
    if (g >= 0 && slot_[static_cast<std::size_t>(g)] >= 0)
      members[static_cast<std::size_t>(slot_[static_cast<std::size_t>(g)])].push_back(static_cast<std::int32_t>(r));
  }
  offsets_.push_back(0);
  for (const auto& m : members) {
    rows_.insert(rows_.end(), m.begin(), m.end());
    offsets_.push_back(static_cast<std::int64_t>(rows_.size()));
  }
}

std::span<const std::int32_t> GroupCells::of(int group) const {
  const int h = group >= 0 && static_cast<std::size_t>(group) < slot_.size() ? slot_[static_cast<std::size_t>(group)] : -1;
  if (h < 0) return {};
  const auto b = offsets_[static_cast<std::size_t>(h)], e = offsets_[static_cast<std::size_t>(h) + 1];
  return {rows_.data() + b, static_cast<std::size_t>(e - b)};
}

namespace {

// One count's NLL and its derivatives in mu, r and pi.
struct Term {
  double nll, d_mu, d_r, d_pi;
};

// y = 0: -log(pi + (1 - pi) q), q = (r / (r + mu))^r the NB probability of a zero.
Term zero_term(double mu, double r, double pi) {
  const double l0 = r * std::log1p(mu / r), dl0_dmu = r / (r + mu), dl0_dr = std::log1p(mu / r) - mu / (r + mu);
  if (pi == 0.0) return {l0, dl0_dmu, dl0_dr, 0.0};
  const double q = std::exp(-l0), p0 = pi + (1.0 - pi) * q, w = (1.0 - pi) * q / p0;
  return {-std::log(p0), w * dl0_dmu, w * dl0_dr, -(1.0 - q) / p0};
}

// y > 0: -log(1 - pi) - log NB(y; mu, r).
Term count_term(double y, double mu, double r, double pi) {
  // psi(y + r) - psi(r): a short sum for the small counts of shallow data.
  double dpsi = 0.0;
  if (y <= 32.0 && y == std::floor(y))
    for (double k = 0; k < y; k += 1.0) dpsi += 1.0 / (r + k);
  else
    dpsi = digamma(y + r) - digamma(r);
  const double nll = -std::log1p(-pi) + std::lgamma(y + 1.0) + std::lgamma(r) - std::lgamma(y + r) +
                     r * std::log1p(mu / r) + y * std::log((r + mu) / mu);
  return {nll, (r + y) / (r + mu) - y / mu, -dpsi + std::log1p(mu / r) + (y - mu) / (r + mu), 1.0 / (1.0 - pi)};
}

}  // namespace

double count_nll(const CountMatrix& counts, std::span<const std::int32_t> cells, std::size_t genes, const double* m,
                 const double* r, const double* pi, CountGradient* grad) {
  double nll = 0.0;
  auto add = [&](std::size_t g, double s, const Term& t, double sign) {
    nll += sign * t.nll;
    if (!grad) return;
    grad->mean[g] += sign * s * t.d_mu;  // d mu / d m = s
    grad->log_size[g] += sign * r[g] * t.d_r;
    if (pi) grad->logit_dropout[g] += sign * pi[g] * (1.0 - pi[g]) * t.d_pi;
  };
  for (const auto cell : cells) {
    const auto c = static_cast<std::size_t>(cell);
    const double s = counts.size_factors[c];
    if (!(s > 0)) continue;
    // Every gene as a zero, then each stored count replaces its zero.
    for (std::size_t g = 0; g < genes; ++g) add(g, s, zero_term(s * m[g], r[g], pi ? pi[g] : 0.0), 1.0);
    for (auto q = counts.indptr[c]; q < counts.indptr[c + 1]; ++q) {
      const double y = counts.values[static_cast<std::size_t>(q)];
      if (y == 0.0) continue;
      const auto g = static_cast<std::size_t>(counts.cols[static_cast<std::size_t>(q)]);
      const double mu = s * m[g], p = pi ? pi[g] : 0.0;
      add(g, s, zero_term(mu, r[g], p), -1.0);
      add(g, s, count_term(y, mu, r[g], p), 1.0);
    }
  }
  return nll;
}

void count_information(const CountMatrix& counts, std::span<const std::int32_t> cells, std::size_t genes,
                       const double* m, const double* r, const double* pi, CountGradient& info) {
  std::vector<Term> terms(genes);
  for (const auto cell : cells) {
    const auto c = static_cast<std::size_t>(cell);
    const double s = counts.size_factors[c];
    if (!(s > 0)) continue;
    for (std::size_t g = 0; g < genes; ++g) terms[g] = zero_term(s * m[g], r[g], pi ? pi[g] : 0.0);
    for (auto q = counts.indptr[c]; q < counts.indptr[c + 1]; ++q) {
      const double y = counts.values[static_cast<std::size_t>(q)];
      const auto g = static_cast<std::size_t>(counts.cols[static_cast<std::size_t>(q)]);
      if (y != 0.0) terms[g] = count_term(y, s * m[g], r[g], pi ? pi[g] : 0.0);
    }
    for (std::size_t g = 0; g < genes; ++g) {
      const double d_log_r = r[g] * terms[g].d_r;
      info.log_size[g] += d_log_r * d_log_r;
      if (!pi) continue;
      const double d_logit = pi[g] * (1.0 - pi[g]) * terms[g].d_pi;
      info.logit_dropout[g] += d_logit * d_logit;
    }
  }
}

}  // namespace perturbfit::fit
