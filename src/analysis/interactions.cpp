#include "perturbfit/analysis/interactions.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace perturbfit::analysis {

Interaction classify_interaction(const std::vector<double>& a, const std::vector<double>& b,
                                 const std::vector<double>& ab) {
  if (a.size() != b.size() || a.size() != ab.size() || a.empty())
    throw std::invalid_argument("classify_interaction: effects over different genes");
  double aa = 0, bb = 0, ab_ = 0, ya = 0, yb = 0, yy = 0, dev = 0;
  for (std::size_t g = 0; g < a.size(); ++g) {
    aa += a[g] * a[g], bb += b[g] * b[g], ab_ += a[g] * b[g];
    ya += ab[g] * a[g], yb += ab[g] * b[g], yy += ab[g] * ab[g];
    const double d = ab[g] - a[g] - b[g];
    dev += d * d;
  }
  Interaction out;
  out.score = std::sqrt(dev / static_cast<double>(a.size()));
  // Normal equations of the 2-coefficient regression; collinear singles share one coefficient.
  const double det = aa * bb - ab_ * ab_;
  if (det > 1e-12 * std::max(aa * bb, 1e-300)) {
    out.c_a = (ya * bb - yb * ab_) / det, out.c_b = (yb * aa - ya * ab_) / det;
  } else if (aa + bb > 0) {
    const double c = (ya + yb) / (aa + bb + 2 * ab_ > 0 ? aa + bb + 2 * ab_ : aa + bb);
    out.c_a = out.c_b = c;
  } else {
    out.kind = "additive";
    return out;
  }
  double residual = 0;
  for (std::size_t g = 0; g < a.size(); ++g) {
    const double r = ab[g] - out.c_a * a[g] - out.c_b * b[g];
    residual += r * r;
  }
  out.fit_r2 = yy > 0 ? 1.0 - residual / yy : 1.0;
  out.magnitude = 0.5 * (out.c_a + out.c_b);
  const double na = std::sqrt(aa), nb = std::sqrt(bb), nab = std::sqrt(yy);
  const double hi = std::max(std::abs(out.c_a), std::abs(out.c_b)), lo = std::min(std::abs(out.c_a), std::abs(out.c_b));
  if (out.fit_r2 < kNeomorphicFit) {
    out.kind = "neomorphic";
  } else if (out.c_a * out.c_b >= 0 && hi > kDominanceRatio * lo) {
    out.kind = "dominance";
    out.dominant = std::abs(out.c_a) >= std::abs(out.c_b) ? 0 : 1;
  } else if (nab < kWeak * std::max(na, nb)) {
    out.kind = "suppression";
  } else if (out.magnitude > kStrong) {
    out.kind = "synergy";
  } else if (out.magnitude < kWeak) {
    out.kind = "buffering";
  } else {
    out.kind = "additive";
  }
  return out;
}

}  // namespace perturbfit::analysis
