// Time courses in the fit (MODEL.md sections 6 and 8): which groups are time points, their
// trajectories, and the trajectories' CVODES adjoints.
//
// A group at a numeric time t (fit.dynamics) is predicted by the state at t of the
// trajectory dx/dt = f(x; m, p, t) started, at the perturbation (t = 0), from the observed
// control state of its medium at the medium's earliest time, with the knockdown's onset
// kappa(t) = kappa (1 - exp(-t / fit.onset_tau)). Control groups are trajectories too (no
// knock): in a non-differentiating system the model must hold them where they are, in a
// differentiating one it must move them as the time-matched controls move. The initial
// state is data, not a function of theta: the model is judged on what it does from where
// the cells are, and the steady-state term (lambda_ss) is what asks the controls to be a
// fixed point. One trajectory per (perturbation, medium) serves all its times.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "perturbfit/core/error.hpp"
#include "perturbfit/core/text.hpp"
#include "perturbfit/fit/problem.hpp"
#include "perturbfit/solvers/trajectory.hpp"

namespace perturbfit::fit {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

// The label's value if the whole label is a finite number.
bool parse_time(const std::string& label, double& value) {
  try {
    std::size_t used = 0;
    value = std::stod(label, &used);
    return used == label.size() && std::isfinite(value);
  } catch (const std::exception&) {
    return false;
  }
}
}  // namespace

void FitProblem::setup_times() {
  const auto& labels = data_.times();
  std::vector<double> values(labels.size(), kInf);
  int numeric = 0;
  std::string not_numeric;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    const auto& steady = opt_.steady_times;
    if (std::find(steady.begin(), steady.end(), labels[i]) != steady.end()) continue;
    if (parse_time(labels[i], values[i]))
      ++numeric;
    else if (not_numeric.empty())
      not_numeric = labels[i];
  }
  using D = FitOptions::Dynamics;
  const bool wanted = opt_.dynamics == D::kTimeCourse || (opt_.dynamics == D::kAuto && numeric >= 2 && not_numeric.empty());
  if (!wanted) {
    if (labels.size() > 1)
      reporter_.warn("the screen has " + std::to_string(labels.size()) +
                     " time points; fit treats every group as at its steady state (fit.dynamics = " +
                     (opt_.dynamics == D::kSteady ? "steady" : "auto, and not every time label is a number") +
                     "), and each time point keeps its own groups and controls; fit.dynamics = time_course fits them "
                     "as a time course");
    return;
  }
  if (!not_numeric.empty())
    throw UsageError("fit.dynamics = time_course: the time label '" + not_numeric +
                     "' is not a number (in the model's time unit); if its groups are at a steady state, list it in "
                     "fit.steady_times");
  if (numeric == 0)
    throw UsageError("fit.dynamics = time_course, but every time label is in fit.steady_times: nothing is a time course");
  for (std::size_t i = 0; i < labels.size(); ++i)
    if (values[i] < 0)
      throw DataError("time '" + labels[i] + "' is negative; times are counted from the perturbation (t = 0)");
  if (opt_.niche)
    throw UsageError("time courses with fit.niche = coupled are not implemented; set fit.dynamics = steady");
  if (!data_.abundance().empty())
    throw UsageError("time courses with data.guide_counts are not implemented; set fit.dynamics = steady");
  time_values_ = std::move(values);
}

void FitProblem::build_time_courses() {
  if (!time_course()) return;
  // Each medium's initial state: its controls at the earliest numeric time.
  std::map<int, int> initial;
  for (std::size_t r = 0; r < references_.size(); ++r) {
    const auto& ref = references_[r];
    const double t = time_values_[static_cast<std::size_t>(ref.time)];
    if (!std::isfinite(t)) continue;
    const auto it = initial.find(ref.medium);
    if (it == initial.end() ||
        t < time_values_[static_cast<std::size_t>(references_[static_cast<std::size_t>(it->second)].time)])
      initial[ref.medium] = static_cast<int>(r);
  }
  initial_of_reference_.assign(references_.size(), -1);
  for (std::size_t r = 0; r < references_.size(); ++r) {
    const auto it = initial.find(references_[r].medium);
    if (it != initial.end() && std::isfinite(time_values_[static_cast<std::size_t>(references_[r].time)]))
      initial_of_reference_[r] = it->second;
  }
  std::map<std::pair<int, int>, int> course_of;  // (perturbation, or -1 for the shared knock alone; medium)
  for (std::size_t i = 0; i < conditions_.size(); ++i) {
    auto& c = conditions_[i];
    if (!std::isfinite(c.time)) continue;
    const int medium = references_[static_cast<std::size_t>(c.reference)].medium;
    const auto start = initial.find(medium);
    if (start == initial.end())
      throw DataError("medium '" + data_.media()[static_cast<std::size_t>(medium)] +
                      "' has groups at numeric times but no control cells at any numeric time: its trajectories have "
                      "no observed initial state; add controls (ideally at time 0)");
    const auto key = std::make_pair(c.generic ? -1 : c.perturbation, medium);
    if (!course_of.count(key)) {
      course_of[key] = static_cast<int>(time_courses_.size());
      time_courses_.push_back({start->second, {}});
    }
    c.trajectory = course_of[key];
    time_courses_[static_cast<std::size_t>(c.trajectory)].members.push_back(static_cast<int>(i));
  }
  for (auto& tc : time_courses_)
    std::stable_sort(tc.members.begin(), tc.members.end(), [&](int a, int b) {
      return conditions_[static_cast<std::size_t>(a)].time < conditions_[static_cast<std::size_t>(b)].time;
    });
  std::string times;
  for (std::size_t i = 0; i < time_values_.size(); ++i)
    times += (times.empty() ? "" : ", ") + data_.times()[i] + (std::isfinite(time_values_[i]) ? "" : " (steady)");
  reporter_.info("time-course fit: times " + times + "; onset tau " + format_number(opt_.onset_tau) +
                 "; trajectories start from the observed controls of each medium's earliest time");
  for (const auto& [medium, r] : initial) {
    const auto& ref = references_[static_cast<std::size_t>(r)];
    if (time_values_[static_cast<std::size_t>(ref.time)] > 0)
      reporter_.warn("medium '" + data_.media()[static_cast<std::size_t>(medium)] +
                     "': its earliest time-course controls are at time " +
                     data_.times()[static_cast<std::size_t>(ref.time)] +
                     ", not 0: its trajectories start at the perturbation from them, which assumes the controls do not "
                     "change before then (not so in a differentiating system: measure controls at time 0)");
  }
}

std::int64_t FitProblem::integrate(const std::vector<int>& which, LossValue* tally) {
  std::vector<char> needed(time_courses_.size(), 0), asked(conditions_.size(), 0);
  for (int i : which) {
    needed[static_cast<std::size_t>(conditions_[static_cast<std::size_t>(i)].trajectory)] = 1;
    asked[static_cast<std::size_t>(i)] = 1;
  }
  solvers::Trajectory trajectory(*field_, opt_.trajectory);
  std::vector<double> times;
  std::vector<std::vector<double>> states;
  std::int64_t failed = 0, integrated = 0;
  for (std::size_t k = 0; k < time_courses_.size(); ++k) {
    if (!needed[k]) continue;
    const auto& tc = time_courses_[k];
    times.clear();
    for (int m : tc.members) times.push_back(conditions_[static_cast<std::size_t>(m)].time);
    const auto& start = references_[static_cast<std::size_t>(tc.initial)].state;
    const auto report = trajectory.forward(conditions_[static_cast<std::size_t>(tc.members.front())].condition, start,
                                           times, states, false);
    ++integrated;
    for (std::size_t j = 0; j < tc.members.size(); ++j) {
      auto& c = conditions_[static_cast<std::size_t>(tc.members[j])];
      c.method = solvers::SolveMethod::kTimeCourse;
      c.stable = true, c.leading_eigenvalue = 0.0;
      c.solved = report.ok;
      if (report.ok) {
        c.x = std::move(states[j]);
      } else {
        c.x = start;
        failed += asked[static_cast<std::size_t>(tc.members[j])];
      }
    }
  }
  if (tally) tally->time_courses += integrated;
  return failed;
}

double FitProblem::time_course_gradient(const std::vector<std::vector<double>>& dl_dx,
                                        solvers::ParameterGradient& grad) {
  solvers::Trajectory trajectory(*field_, opt_.trajectory);
  double kappa_grad = 0;
  std::vector<double> times, knock_grad, lambda0;  // lambda0: the initial state is data
  std::vector<std::vector<double>> states, dl;
  for (const auto& tc : time_courses_) {
    const bool any = std::any_of(tc.members.begin(), tc.members.end(),
                                 [&](int m) { return !dl_dx[static_cast<std::size_t>(m)].empty(); });
    if (!any) continue;
    times.clear(), dl.clear();
    for (int m : tc.members) {
      times.push_back(conditions_[static_cast<std::size_t>(m)].time);
      dl.push_back(dl_dx[static_cast<std::size_t>(m)]);
    }
    const auto& cond = conditions_[static_cast<std::size_t>(tc.members.front())].condition;
    // Integrated again, storing checkpoints: keeping every trajectory's would hold them all at once.
    auto report =
        trajectory.forward(cond, references_[static_cast<std::size_t>(tc.initial)].state, times, states, true);
    if (report.ok) report = trajectory.gradient(dl, grad, knock_grad, lambda0);
    if (!report.ok)
      throw NumericalError("the adjoint of a time course failed (CVODES: " + report.message +
                           "); loosen fit.ode_rtol or check the model for blow-up");
    kappa_grad += kappa_gradient(cond, knock_grad);
  }
  return kappa_grad;
}

}  // namespace perturbfit::fit
