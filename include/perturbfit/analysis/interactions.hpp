// The genetic-interaction view of a pair (after Norman et al. 2019, Science 365:786): the
// pair's effect ab (log scale, over genes) regressed on its singles' effects a and b,
//   ab ~ c_a a + c_b b   (least squares, no intercept),
// and compared with the additive expectation a + b. The pair's rank is its deviation from
// additive (RMS over genes); its class, in this order:
//   neomorphic   R^2 of the regression < kNeomorphicFit: the pair does what neither single does;
//   dominance    one coefficient > kDominanceRatio x the other's (both of one sign): one
//                single's phenotype explains the pair (dominant = that target);
//   suppression  the pair's effect is smaller than kWeak x the stronger single's (one
//                target suppresses the other's phenotype);
//   synergy      magnitude (c_a + c_b) / 2 > kStrong: more than additive;
//   buffering    magnitude < kWeak: less than additive, more than either single;
//   additive     otherwise.
// Norman et al. name these from the same two coefficients (magnitude, and the ratio of
// the coefficients for epistasis/dominance); the thresholds here are ours and documented
// in docs/predict.md.
#pragma once
#include <string>
#include <vector>

namespace perturbfit::analysis {

inline constexpr double kNeomorphicFit = 0.5, kDominanceRatio = 3.0, kStrong = 1.25, kWeak = 0.75;

struct Interaction {
  double score = 0;  // RMS over genes of ab - (a + b): the ranking key
  double c_a = 0, c_b = 0;
  double fit_r2 = 0;     // of ab ~ c_a a + c_b b
  double magnitude = 0;  // (c_a + c_b) / 2; 1 for an additive pair
  std::string kind;      // neomorphic, dominance, suppression, synergy, buffering, additive
  int dominant = -1;     // dominance: 0 (a) or 1 (b)
};

// a, b, ab: effects over the same genes. Singles with no effect at all give kind "additive"
// with zero coefficients (nothing to regress on).
Interaction classify_interaction(const std::vector<double>& a, const std::vector<double>& b,
                                 const std::vector<double>& ab);

}  // namespace perturbfit::analysis
