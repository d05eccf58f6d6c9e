// `perturbfit design`: the precision of a planned screen's effect estimates (MODEL.md
// section 9 (d)). The plan is the deck's protocol: P perturbations (singles + pairs) of g
// guides each, N cells of which a fraction f are controls, B batches, every perturbation in
// every batch. Effects are contrasts with same-batch controls on the log pseudo-bulk scale,
// averaged over batches; per gene, with sigma^2 the per-cell variance of that scale and
// tau^2 the variance of an effect between guides of one target:
//   Var(e_p) = sigma^2 / N_p + sigma^2 / N_c + tau^2 / g,   N_p = (1 - f) N / P,  N_c = f N
// (a batch contributes sigma^2 (1/n_p + 1/n_c) and B batches average). For a fixed number of
// cells the sum over perturbations is smallest with N_c = N_p sqrt(P): per batch, controls
// = n_p sqrt(k) with k = P perturbations sharing them (Dunnett's square-root rule).
// sigma^2 is given, or estimated from a screen (--from) by the method of moments over batch
// replicates: for the same perturbation in batches b and b' (same guides, so tau^2 cancels)
//   E (e_pb - e_pb')^2 = sigma^2 (1/n_pb + 1/n_pb' + 1/n_cb + 1/n_cb');
// a screen without batch replicates splits each group's cells in two halves (by row parity,
// the same at any rank count): E (y_half1 - y_half2)^2 = sigma^2 (1/n_1 + 1/n_2), at half the
// group's cells (where the first-order form understates the variance of shallow groups).
// tau^2 is given, or estimated from a screen with a guide column (--guide-key): two guides
// of one perturbation in the same batch (their controls cancel) differ by
//   E (y_g1b - y_g2b)^2 = 2 tau^2 + sigma^2 (1/n_g1b + 1/n_g2b)   (clipped at 0).
#pragma once
#include <nlohmann/json.hpp>

#include <string>

#include "perturbfit/config/deck.hpp"
#include "perturbfit/core/reporter.hpp"
#include "perturbfit/data/options.hpp"
#include "perturbfit/parallel/comm.hpp"

namespace perturbfit::analysis {

struct PlannedScreen {
  int perturbations = 0, guides_per_target = 2, batches = 1;
  std::int64_t cells = 0;
  double controls_fraction = 0.1;
  int perturb_step = -1, measure_step = -1;  // protocol indices (for --set protocol.N.key)
};

// The deck's last perturb and measure steps; UsageError if it has none.
PlannedScreen planned_screen(const config::Deck& deck);

struct NoiseEstimate {
  double sigma2 = 0;        // gene-averaged
  double sigma2_median = 0, sigma2_p90 = 0;  // over genes
  std::int64_t replicate_pairs = 0;
  std::string method;  // "batch replicates" or "split halves"
  int genes = 0;
  bool has_tau2 = false;  // the screen has the guide column and guide pairs
  double tau2 = 0, tau2_unclipped = 0;
  std::int64_t guide_pairs = 0;
};

// Collective: sigma^2 from the batch replicates of a screen (else from split halves of its
// groups; DataError if it has neither) and,
// when obs has `guide_key` with two or more guides per perturbation, tau^2.
NoiseEstimate estimate_noise(const parallel::Comm& comm, const data::DataOptions& data, double pseudocount,
                             const std::string& guide_key, const Reporter& reporter);

struct EffectPrecision {
  double variance = 0, standard_error = 0;
  double replicate_difference_variance = 0;  // of e_pb - e_pb' between two batches (the estimate's check)
  double cells_per_perturbation = 0, control_cells = 0;
};
EffectPrecision effect_precision(const PlannedScreen& plan, double sigma2, double tau2);

// The controls fraction of the square-root rule: sqrt(P) / (P + sqrt(P)).
double recommended_controls_fraction(int perturbations);

// The design report: the plan, sigma^2 and tau^2 with their source, the expected precision
// at the plan's allocation and at the recommended one, controls per batch, and curves of
// the standard error against the budget (cells per perturbation, controls included) at both
// allocations (for tools/plot.py).
nlohmann::json design_report(const PlannedScreen& plan, double sigma2, double tau2, const nlohmann::json& noise_source);

// A human table of design_report's JSON.
std::string design_table(const nlohmann::json& report);

}  // namespace perturbfit::analysis
