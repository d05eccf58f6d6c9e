// Tests of the hidden assumptions of MODEL.md section 1 point 4 on a screen and a fitted
// model. Each reports a statistic, the threshold it is judged by, a verdict and what to
// change. Noise scales come from the groups' cells: the sampling variance of a group's
// log pseudo-bulk is taken as the variance over its cells of log1p(y / s) divided by its
// cell count (the delta method's order of magnitude; exact for small effects).
//   controls_at_steady_state   the residual of the fitted f at the observed control state,
//                              relative to decay (r_g = f_g / (gamma_g (eps / S_g + z_g))),
//                              RMS over genes, against the RMS change of r when the control
//                              state is redrawn within its sampling noise (8 draws);
//   unique_attractor           perturbations whose steady state depends on the start
//                              (solved by `perturbfit check`, which has the multistart);
//   instant_perturbation       with several time points: a perturbation's effect at its
//                              earliest time against its latest (median ratio of RMS);
//   exchangeable_batches       the batch offsets against the control groups' sampling noise;
//   controls_ignore_medium     with several media: the control profiles' differences between
//                              media against their sampling noise.
#pragma once
#include <nlohmann/json.hpp>

#include "perturbfit/fit/problem.hpp"
#include "perturbfit/parallel/comm.hpp"

namespace perturbfit::fit {

inline constexpr double kSteadyStateRatio = 3.0;   // residual / its noise above this: not at a steady state
inline constexpr double kInstantRatio = 0.8;       // early / late effect below this: not instant
inline constexpr double kExchangeableRatio = 3.0;  // offset / noise above this: batches differ
inline constexpr double kMediumRatio = 3.0;        // between-media / noise above this: controls respond

// One verdict: "pass", "fail", "not applicable" or "not tested".
nlohmann::json assumption(const std::string& name, const nlohmann::json& statistic, const std::string& statistic_meaning,
                          const nlohmann::json& threshold, const std::string& verdict, const std::string& detail,
                          const std::string& what_to_change);

// Collective: every test but unique_attractor (reported "not tested" unless `attractors` is
// given: the result of a multistart, see analysis/assumption_report.hpp). At the problem's
// current point.
nlohmann::json assumption_checks(const FitProblem& problem, const parallel::Comm& comm,
                                 const nlohmann::json& attractors = nullptr);

// A human table of the checks.
std::string assumption_table(const nlohmann::json& checks);

}  // namespace perturbfit::fit
