#include "perturbfit/simulate/simulation.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "perturbfit/config/deck.hpp"
#include "perturbfit/core/error.hpp"
#include "perturbfit/core/random.hpp"
#include "perturbfit/solvers/niche_steady_state.hpp"

namespace perturbfit::simulate {

using nlohmann::json;

namespace {
template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};

constexpr double kInf = std::numeric_limits<double>::infinity();

bool transplant_follows(const Protocol& protocol, int index) {
  for (const auto& s : protocol)
    if (s.index > index && std::holds_alternative<TransplantStep>(s.action)) return true;
  return false;
}

// Normalised weights from log weights (max-shifted so that nothing overflows).
std::vector<double> normalised(const std::vector<double>& log_w) {
  double top = -kInf;
  for (double l : log_w) top = std::max(top, l);
  if (!std::isfinite(top)) throw NumericalError("every population class has died out (all weights are zero)");
  std::vector<double> w(log_w.size());
  double total = 0.0;
  for (std::size_t i = 0; i < w.size(); ++i) total += (w[i] = std::exp(log_w[i] - top));
  for (auto& x : w) x /= total;
  return w;
}

std::vector<double> cumulative(const std::vector<double>& w) {
  std::vector<double> c(w.size());
  double run = 0.0;
  for (std::size_t i = 0; i < w.size(); ++i) c[i] = (run += w[i]);
  c.back() = 1.0;
  return c;
}

std::int32_t draw_class(const std::vector<double>& cum, double u) {
  auto it = std::upper_bound(cum.begin(), cum.end(), u);
  if (it == cum.end()) --it;
  return static_cast<std::int32_t>(it - cum.begin());
}

// A bottleneck: how many of `cells` cells drawn by weight (cumulative cum) fall in each class.
std::vector<std::int64_t> draw_counts(const std::vector<double>& cum, int cells, RandomStream& rs) {
  std::vector<std::int64_t> counts(cum.size(), 0);
  for (int i = 0; i < cells; ++i) ++counts[static_cast<std::size_t>(draw_class(cum, rs.uniform()))];
  return counts;
}

// The log weight of a class that kept n cells (-inf: extinct).
double log_count(std::int64_t n) { return n > 0 ? std::log(static_cast<double>(n)) : -kInf; }
}  // namespace

json SolveTally::to_json() const {
  return {{"steady_state_solves", solves},
          {"batched_newton", batched},
          {"newton", newton},
          {"cvodes_fallback", fallback},
          {"failed", failed},
          {"unstable", unstable},
          {"newton_iterations", newton_iterations},
          {"ode_integrations", ode_integrations},
          {"ode_steps", ode_steps}};
}

Simulation::Simulation(parallel::Comm comm, model::ModelParameters params, SimulationSettings settings,
                       const Reporter& reporter)
    : comm_(comm), params_(std::move(params)), field_(params_), settings_(std::move(settings)), reporter_(reporter) {
  params_.validate();
  steady_ = std::make_unique<solvers::SteadyStateProblem>(field_, settings_.steady, settings_.batch_size);
  ode_ = std::make_unique<solvers::OdeIntegrator>(field_, settings_.steady.ode);
  medium_channels_ = params_.media;
  medium_.assign(static_cast<std::size_t>(medium_channels_), 0.0);
  niche_ = model::draw_niche(params_, settings_.niche, settings_.seed);
  if (niche_.ligands() > 0 && params_.media == 0)
    throw UsageError(
        "[niche] has ligand genes but the model has no medium channels for its factors: set network.media >= 1");
  // Each cell type's bias is one more medium channel (after the deck's K); field_ reads U
  // and the channel count from params_, so it sees them.
  model::add_cell_types(params_, niche_, settings_.cell_types, settings_.seed);
}

Simulation::~Simulation() = default;

void Simulation::validate(const Protocol& protocol) const {
  bool medium_seen = medium_channels_ == 0, perturbed = false, measured = false, transplanted = false;
  bool settled = false;  // at a steady state since the transplant (expand in the niches needs one)
  for (const auto& step : protocol) {
    const std::string where = step.where();
    if (const auto* m = std::get_if<MediumStep>(&step.action)) {
      if (!m->values.empty() && static_cast<int>(m->values.size()) != medium_channels_)
        throw UsageError(where + ": values has " + std::to_string(m->values.size()) + " entries but the model has " +
                         std::to_string(medium_channels_) + " medium inputs (network.media)");
      medium_seen = true;
      continue;
    }
    if (!medium_seen)
      throw UsageError(where + " comes before any medium step, but the model has " + std::to_string(medium_channels_) +
                       " medium input(s) (network.media): add a step = \"medium\" before it, or set network.media = 0");
    std::visit(
        Overloaded{
            [&](const PerturbStep& s) {
              if (perturbed) throw UsageError(where + ": a protocol may have only one perturb step");
              perturbed = true;
              build_library(s.library, params_, settings_.seed, where);
            },
            [&](const MeasureStep& s) {
              if (s.batches > s.cells) throw UsageError(where + ": batches must be in [1, cells]");
              if (perturbed && !transplanted && transplant_follows(protocol, step.index))
                throw UsageError(where + ": a measure step between perturb and transplant is not supported yet");
              measured = true;
            },
            [&](const TransplantStep&) {
              if (!perturbed) throw UsageError(where + ": transplant comes after the perturb step");
              if (transplanted) throw UsageError(where + ": a protocol may have only one transplant step");
              if (niche_.ligands() == 0)
                throw UsageError(where +
                                 ": the animals' niche has no ligand genes: set niche.ligands or niche.ligand_genes");
              transplanted = true;
              settled = false;
            },
            [&](const EquilibrateStep&) { settled = true; },
            [&](const CountGuidesStep&) {
              if (!perturbed) throw UsageError(where + ": count_guides comes after the perturb step (it counts guides)");
            },
            [&](const EvolveStep&) {
              if (transplanted)
                throw UsageError(
                    where +
                    ": evolve after transplant is not supported yet (the niche's dynamics are not integrated); use equilibrate");
            },
            [&](const ExpandStep&) {
              if (transplanted && !settled)
                throw UsageError(where +
                                 ": expand after transplant needs the animals at their coupled steady state: add a "
                                 "step = \"equilibrate\" between the transplant and the expand");
            },
            [](const auto&) {},  // dt, cells and depth: their ranges are the schema's
        },
        step.action);
  }
  if (!measured) throw UsageError("the protocol never measures: add a [[protocol]] step = \"measure\"");
}

void Simulation::run(const Protocol& protocol) {
  validate(protocol);
  for (const auto& step : protocol) {
    const std::string where = step.where();
    reporter_.info(where);
    const auto* medium = std::get_if<MediumStep>(&step.action);
    // Cells start at the control steady state of the first medium (or of m = 0 if K = 0).
    if (medium) step_medium(*medium);
    if (!medium || !initialised_) ensure_initial_state(where);
    std::visit(Overloaded{
                   [](const MediumStep&) {},
                   [&](const PerturbStep& s) { step_perturb(s, where); },
                   [&](const EvolveStep& s) { step_advance(s.dt, "evolve"); },
                   [&](const ExpandStep& s) {
                     if (animals_ > 0)
                       step_expand_in_niches(s.dt);
                     else
                       step_advance(s.dt, "expand");
                   },
                   [&](const EquilibrateStep&) { step_equilibrate(); },
                   [&](const PassageStep& s) { step_passage(s.cells, step.index); },
                   [&](const TransplantStep& s) { step_transplant(s, step.index); },
                   [&](const CountGuidesStep& s) { step_count_guides(s, step.index); },
                   [&](const MeasureStep& s) { step_measure(s, step.index); },
               },
               step.action);
  }
}

model::Condition Simulation::condition_of(std::size_t cls) const {
  model::Condition c;
  c.medium = medium_;
  c.tau = tau_;
  if (perturbed_) c.knock = classes_[cls].knock;
  if (classes_[cls].cell_type >= 0) {  // the type's bias channel (model::add_cell_types)
    c.medium.resize(static_cast<std::size_t>(params_.media), 0.0);
    c.medium[static_cast<std::size_t>(medium_channels_ + classes_[cls].cell_type)] = 1.0;
  }
  return c;
}

void Simulation::reduce_tally(const SolveTally& local) {
  std::vector<std::int64_t> v{local.solves,   local.newton,  local.fallback,          local.failed,
                              local.unstable, local.batched, local.newton_iterations, local.ode_integrations,
                              local.ode_steps};
  comm_.sum_in_place(v);
  tally_.solves += v[0], tally_.newton += v[1], tally_.fallback += v[2], tally_.failed += v[3], tally_.unstable += v[4];
  tally_.batched += v[5], tally_.newton_iterations += v[6], tally_.ode_integrations += v[7], tally_.ode_steps += v[8];
}

// Cells start at the control steady state of the first medium (MODEL.md section 4). Every
// rank computes it (one G-sized solve) so that no broadcast is needed before the perturbation.
void Simulation::ensure_initial_state(const std::string& where) {
  if (initialised_) return;
  const auto& p = params_;
  const auto G = static_cast<std::size_t>(p.genes);
  model::Condition cond;
  cond.medium = medium_;
  std::vector<double> x(G);
  for (std::size_t g = 0; g < G; ++g) x[g] = (p.beta[g] + 0.5 * p.v[g]) / p.gamma[g];
  const auto report = steady_->solve_one(cond, x);
  if (!report.converged)
    throw NumericalError(
        where + ": the control steady state did not converge (||f|| = " + std::to_string(report.residual_norm) + ", " +
        report.snes_reason + "); raise solver.fallback_time or solver.steady_max_it, or lower network.contraction");
  if (!report.stable && report.stability_method != solvers::StabilityMethod::kSkipped)
    reporter_.warn("the control steady state is unstable (leading eigenvalue ~ " +
                   std::to_string(report.leading_eigenvalue) + "); cells will drift away from it");
  attractors_ = {x};
  // Multistart: look for other attractors of the control condition.
  for (int k = 0; k < settings_.multistart; ++k) {
    RandomStream rs(settings_.seed, StreamDomain::kStart, static_cast<std::uint64_t>(k));
    std::vector<double> y(G);
    for (std::size_t g = 0; g < G; ++g) y[g] = 2.0 * rs.uniform() * (p.beta[g] + p.v[g]) / p.gamma[g];
    const auto r = steady_->solve_one(cond, y);
    if (!r.converged || (!r.stable && r.stability_method != solvers::StabilityMethod::kSkipped)) continue;
    bool known = false;
    for (const auto& a : attractors_) {
      double d = 0.0, n = 0.0;
      for (std::size_t g = 0; g < G; ++g) d += (a[g] - y[g]) * (a[g] - y[g]), n += a[g] * a[g];
      if (std::sqrt(d) <= 1e-6 * (1.0 + std::sqrt(n))) known = true;
    }
    if (!known) attractors_.push_back(y);
  }
  if (attractors_.size() > 1)
    reporter_.warn("the control condition has " + std::to_string(attractors_.size()) +
                   " stable attractors (found from " + std::to_string(settings_.multistart + 1) +
                   " starts): the 'unique attractor' assumption fails; cells start in the first one");
  control_state_ = x;
  double total = 0.0;
  for (double v : x) total += std::max(0.0, v);
  measurement_ = std::make_unique<MeasurementModel>(settings_.measurement, p.genes, total);
  classes_ = {PopulationClass{"unperturbed", "none", {}, 0.0, true}};
  owned_ = {0, 1};  // every rank holds the single unperturbed class until the perturbation
  states_ = std::make_shared<ClassStates>(ClassStates{x});
  owned_log_weights_ = {0.0};
  initialised_ = true;
}

void Simulation::step_medium(const MediumStep& s) {
  medium_.assign(static_cast<std::size_t>(medium_channels_), 0.0);
  std::copy(s.values.begin(), s.values.end(), medium_.begin());
  medium_name_ = s.name;
  medium_set_ = true;
}

void Simulation::step_perturb(const PerturbStep& s, const std::string& where) {
  const std::vector<double> pre = states().at(0);
  const double pre_log_weight = owned_log_weights_.at(0);
  classes_ = build_library(s.library, params_, settings_.seed, where);
  split_cell_types();
  tau_ = s.library.tau;
  perturbed_ = true;
  time_since_perturbation_ = 0.0;
  owned_ = parallel::block_range(classes_.size(), comm_.size(), comm_.rank());
  states_ = std::make_shared<ClassStates>(owned_.size(), pre);
  owned_log_weights_.clear();
  for (std::size_t c = owned_.begin; c < owned_.end; ++c)
    owned_log_weights_.push_back(pre_log_weight + classes_[c].log_weight);
  std::size_t n_control = 0;
  for (const auto& c : classes_) n_control += c.control ? 1 : 0;
  reporter_.info("library: " + std::to_string(classes_.size()) + " guide classes (" + std::to_string(n_control) +
                 " control), split over " + std::to_string(comm_.size()) + " rank(s)");
}

// Cell types are assigned with the guides: each guide class becomes one class per type, in
// the type's share of the population (before the perturbation the culture has no types).
void Simulation::split_cell_types() {
  const auto& types = settings_.cell_types;
  const auto T = types.names.size();
  if (T < 2) return;
  std::vector<PopulationClass> split;
  split.reserve(classes_.size() * T);
  for (const auto& c : classes_)
    for (std::size_t t = 0; t < T; ++t) {
      split.push_back(c);
      split.back().cell_type = static_cast<int>(t);
      split.back().log_weight += std::log(types.fractions.empty() ? 1.0 / static_cast<double>(T) : types.fractions[t]);
    }
  classes_ = std::move(split);
}

void Simulation::step_advance(double dt, const std::string& what) {
  SolveTally local;
  auto& held = writable_states();
  Progress progress(reporter_, what + " dt=" + std::to_string(dt), held.size());
  std::string failure;
  // After an equilibrate (time since the perturbation infinite) the knockdown is complete:
  // integrate from 0 with an instantaneous onset, which is the same field.
  const bool complete = !std::isfinite(time_since_perturbation_);
  for (std::size_t i = 0; i < held.size(); ++i) {
    const std::size_t cls = owned_.begin + i;
    auto condition = condition_of(cls);
    if (complete) condition.tau = 0.0;
    const auto report = ode_->integrate(condition, perturbed_ && !complete ? time_since_perturbation_ : 0.0, dt,
                                        held[i], &owned_log_weights_[i]);
    ++local.ode_integrations;
    local.ode_steps += report.steps;
    if (!report.ok && failure.empty()) failure = classes_[cls].guide + ": " + report.message;
    progress.update(i + 1);
  }
  progress.finish();
  const std::int64_t failed = comm_.sum(static_cast<std::int64_t>(failure.empty() ? 0 : 1));
  reduce_tally(local);
  if (failed > 0)
    throw NumericalError(what + ": time integration failed on " + std::to_string(failed) + " rank(s)" +
                         (failure.empty() ? "" : " (e.g. class " + failure + ")") +
                         "; raise solver.ode_max_steps or loosen solver.ode_rtol");
  if (perturbed_) time_since_perturbation_ += dt;
  elapsed_ += dt;
}

// Selection in the animals, quasi-steady: expression relaxes much faster than selection
// acts, so each class grows at the rate of its coupled steady state, r = r0 + phi . x, for
// dt; the new composition changes every niche, which is then solved again.
void Simulation::step_expand_in_niches(double dt) {
  for (std::size_t i = 0; i < states().size(); ++i) {
    double r = params_.growth_rate;
    for (std::size_t g = 0; g < params_.fitness.size(); ++g) r += params_.fitness[g] * states()[i][g];
    owned_log_weights_[i] += r * dt;
  }
  elapsed_ += dt;
  reporter_.info("expand dt=" + std::to_string(dt) + " in " + std::to_string(animals_) +
                 " animal(s) at their steady states; solving the niches for the new composition");
  step_equilibrate();
}

// Every guide's reads: Poisson with mean reads x its share of the sample (the population,
// or one animal), one stream per (step, sample) drawn on every rank from the gathered weights.
void Simulation::step_count_guides(const CountGuidesStep& s, int step_index) {
  const auto log_weights = gathered_log_weights();
  const int samples = animals_ > 0 ? animals_ : 1;
  std::vector<std::int64_t> counts(classes_.size(), 0);
  for (int a = 0; a < samples; ++a) {
    std::vector<std::size_t> members;
    std::vector<double> lw;
    for (std::size_t c = 0; c < classes_.size(); ++c)
      if (animals_ == 0 || classes_[c].animal == a) members.push_back(c), lw.push_back(log_weights[c]);
    const auto share = normalised(lw);
    RandomStream rs(settings_.seed, StreamDomain::kGuideCounts,
                    (static_cast<std::uint64_t>(step_index) << 32) + static_cast<std::uint64_t>(a));
    for (std::size_t k = 0; k < members.size(); ++k)
      counts[members[k]] = static_cast<std::int64_t>(rs.poisson(s.reads * share[k]));
  }
  reporter_.info("count_guides: " + std::to_string(samples) + " sample(s) of " + std::to_string(s.reads) +
                 " reads at time " + std::to_string(elapsed_));
  // One row per (guide, sample): the reads of a guide's cell types are summed (guide
  // reads come from DNA, which does not say the cell type).
  std::map<std::pair<std::string, int>, std::size_t> row_of;
  for (std::size_t c = 0; c < classes_.size(); ++c) {
    const auto& cls = classes_[c];
    const auto [it, inserted] = row_of.emplace(std::make_pair(cls.guide, cls.animal), guide_counts_.size());
    if (inserted)
      guide_counts_.push_back({cls.guide, cls.perturbation,
                               cls.animal >= 0 ? "animal" + std::to_string(cls.animal) : "population", medium_name_,
                               elapsed_, 0});
    guide_counts_[it->second].count += counts[c];
  }
}

void Simulation::step_equilibrate() {
  SolveTally local;
  auto& held = writable_states();
  Progress progress(reporter_, "equilibrate", held.size());
  std::string first_failure;
  std::vector<model::Condition> conds;
  for (std::size_t i = 0; i < held.size(); ++i) conds.push_back(condition_of(owned_.begin + i));
  std::vector<const model::Condition*> cp;
  for (const auto& c : conds) cp.push_back(&c);
  std::vector<solvers::SteadyStateReport> reports;
  if (animals_ > 0)
    equilibrate_niches(conds, reports);
  else
    reports = steady_->solve(cp, held);  // a failed batched column goes on from its iterate
  for (std::size_t i = 0; i < held.size(); ++i) {
    const std::size_t cls = owned_.begin + i;
    const auto& r = reports[i];
    ++local.solves;
    local.newton_iterations += r.newton_iterations;
    if (solvers::is_batched(r.method)) ++local.batched;
    if (r.method == solvers::SolveMethod::kNewton) ++local.newton;
    if (r.method == solvers::SolveMethod::kCvodesNewton) ++local.fallback;
    if (!r.converged) {
      ++local.failed;
      if (first_failure.empty())
        first_failure = classes_[cls].guide + " (||f|| = " + std::to_string(r.residual_norm) + ")";
    }
    if (r.converged && r.stability_method != solvers::StabilityMethod::kSkipped && !r.stable) ++local.unstable;
    if (perturbed_) {
      if (reports_.size() != held.size()) reports_.resize(held.size());
      reports_[i] = r;
    }
    progress.update(i + 1);
  }
  progress.finish();
  if (perturbed_) equilibrated_after_perturbation_ = true;  // on every rank, even one without classes
  const std::int64_t failed_before = tally_.failed, unstable_before = tally_.unstable;
  reduce_tally(local);
  const std::int64_t failed = tally_.failed - failed_before, unstable = tally_.unstable - unstable_before;
  reporter_.info("equilibrate: " + std::to_string(tally_.solves) + " steady-state solves so far; this step: " +
                 std::to_string(failed) + " failed, " + std::to_string(unstable) + " unstable");
  if (failed > 0) {
    const std::string example = comm_.broadcast(first_failure);
    throw NumericalError("equilibrate: " + std::to_string(failed) + " steady state(s) did not converge" +
                         (example.empty() ? "" : " (e.g. guide " + example + " on rank 0)") +
                         "; raise solver.steady_max_it or solver.fallback_time, or pass -snes_monitor to see why");
  }
  if (unstable > 0)
    reporter_.warn(std::to_string(unstable) +
                   " steady state(s) are unstable: those perturbations do not map to a "
                   "stable attractor (MODEL.md section 6)");
  if (perturbed_) time_since_perturbation_ = kInf;
}

std::vector<double> Simulation::gathered_log_weights() const {
  if (!perturbed_) return owned_log_weights_;
  return comm_.all_gather(owned_log_weights_);
}

void Simulation::step_passage(int cells, int step_index) {
  RandomStream rs(settings_.seed, StreamDomain::kPassage, static_cast<std::uint64_t>(step_index));
  const auto counts = draw_counts(cumulative(normalised(gathered_log_weights())), cells, rs);
  std::size_t extinct = 0;
  for (std::size_t i = 0; i < owned_log_weights_.size(); ++i)
    owned_log_weights_[i] = log_count(counts[owned_.begin + i]);
  for (auto n : counts) extinct += n == 0 ? 1 : 0;
  reporter_.info("passage: " + std::to_string(cells) + " cells kept; " + std::to_string(extinct) + " of " +
                 std::to_string(counts.size()) + " classes lost");
}

void Simulation::step_transplant(const TransplantStep& s, int step_index) {
  const auto log_weights_all = gathered_log_weights();
  const auto cum = cumulative(normalised(log_weights_all));
  const auto A = static_cast<std::size_t>(s.animals), n_classes = classes_.size();
  std::vector<std::int64_t> counts(n_classes * A, 0);  // class-major: class c, animal a at c * A + a
  for (std::size_t a = 0; a < A; ++a) {
    RandomStream rs(settings_.seed, StreamDomain::kTransplant, static_cast<std::uint64_t>(a));
    // Engraftment: each class takes in each animal with its own log-normal efficiency (its
    // own stream per animal, after the cell draws' streams, so sd = 0 changes no draw).
    auto engrafted = cum;
    if (s.engraftment_sd > 0) {
      RandomStream eng(settings_.seed, StreamDomain::kTransplant, (std::uint64_t{1} << 32) + a);
      auto lw = log_weights_all;
      for (auto& l : lw) l += s.engraftment_sd * eng.normal();
      engrafted = cumulative(normalised(lw));
    }
    const auto drawn = draw_counts(engrafted, s.cells, rs);
    for (std::size_t c = 0; c < n_classes; ++c) counts[c * A + a] = drawn[c];
  }
  // Each class becomes one class per animal; a rank keeps the animals of its own classes,
  // so every state stays where it is.
  std::vector<PopulationClass> split;
  split.reserve(n_classes * A);
  for (const auto& c : classes_)
    for (std::size_t a = 0; a < A; ++a) {
      split.push_back(c);
      split.back().animal = static_cast<int>(a);
    }
  ClassStates per_animal;
  std::vector<double> log_weights;
  for (std::size_t i = 0; i < states().size(); ++i)
    for (std::size_t a = 0; a < A; ++a) {
      per_animal.push_back(states()[i]);
      log_weights.push_back(log_count(counts[(owned_.begin + i) * A + a]));
    }
  classes_ = std::move(split);
  states_ = std::make_shared<ClassStates>(std::move(per_animal));
  owned_log_weights_ = std::move(log_weights);
  owned_ = {owned_.begin * A, owned_.end * A};
  animals_ = s.animals;
  niche_factors_.assign(A * static_cast<std::size_t>(params_.media), 0.0);
  std::size_t absent = 0;
  for (auto n : counts) absent += n == 0 ? 1 : 0;
  reporter_.info("transplant (step " + std::to_string(step_index) + "): " + std::to_string(s.cells) +
                 " cells into each of " + std::to_string(A) + " animals; " + std::to_string(absent) + " of " +
                 std::to_string(counts.size()) + " (guide class, animal) pairs received no cells; niche of " +
                 std::to_string(niche_.ligands()) + " ligand genes");
}

// Each animal's groups and niche factors as one coupled system (solvers::NicheSteadyState).
void Simulation::equilibrate_niches(const std::vector<model::Condition>& conds,
                                    std::vector<solvers::SteadyStateReport>& reports) {
  double top = -kInf;
  for (double lw : owned_log_weights_) top = std::max(top, lw);
  top = comm_.max(top);
  std::vector<solvers::NicheMember> members;
  for (std::size_t i = 0; i < conds.size(); ++i)
    members.push_back({&conds[i], classes_[owned_.begin + i].animal, std::exp(owned_log_weights_[i] - top)});
  solvers::NicheSteadyState coupled(comm_, field_, niche_, settings_.steady, settings_.batch_size, animals_);
  const auto r = coupled.solve(members, writable_states(), niche_factors_);
  reports = r.groups;
  if (r.failed_groups > 0) return;  // step_equilibrate reports the failed steady states
  if (!r.converged)
    throw NumericalError(
        "equilibrate: the niche of " + std::to_string(animals_) + " animal(s) did not converge in " +
        std::to_string(r.iterations) + " Newton iterations (residual " + std::to_string(r.residual) +
        "); a strong niche feedback may have no or several coupled steady states: lower niche.coupling_scale");
  if (r.unstable_animals > 0) {
    std::string which;
    for (std::size_t a = 0; a < r.niche_determinants.size(); ++a)
      if (r.niche_determinants[a] < 0)
        which += (which.empty() ? "" : ", ") + std::string("animal") + std::to_string(a) + " (det(I - Gamma D) = " +
                 std::to_string(r.niche_determinants[a]) + ")";
    throw NumericalError("equilibrate: the coupled steady state of " + which +
                         " is unstable through its niche (the coupled Jacobian has a real eigenvalue > 0: the niche "
                         "feedback makes this state a saddle between other coupled states); lower niche.coupling_scale or "
                         "niche.ligand_genes, or pass [solver] stability = \"skip\" to keep it anyway");
  }
  double largest = 0.0, smallest_det = std::numeric_limits<double>::infinity();
  for (double v : niche_factors_) largest = std::max(largest, std::abs(v));
  for (double d : r.niche_determinants) smallest_det = std::min(smallest_det, d);
  reporter_.info("niche: " + std::to_string(animals_) + " animal(s) coupled, " + std::to_string(r.iterations) +
                 " Newton iteration(s), residual " + std::to_string(r.residual) + ", largest factor " +
                 std::to_string(largest) +
                 (r.niche_determinants.empty() ? std::string()
                                               : ", stable through the niche (smallest det(I - Gamma D) " +
                                                     std::to_string(smallest_det) + ")"));
}

void Simulation::step_measure(const MeasureStep& s, int step_index) {
  MeasureSnapshot snap;
  snap.step_index = step_index;
  snap.first_cell_id = cells_drawn_;
  snap.batches = s.batches;
  snap.first_batch = static_cast<int>(batch_names_.size());
  snap.depth = s.depth;
  snap.time = perturbed_ ? time_since_perturbation_ : 0.0;
  snap.medium = medium_name_;
  const auto cum = cumulative(normalised(gathered_log_weights()));
  const int n = s.cells;
  snap.cell_class.resize(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    RandomStream rs(settings_.seed, StreamDomain::kCellDraw, static_cast<std::uint64_t>(cells_drawn_ + i));
    snap.cell_class[static_cast<std::size_t>(i)] = draw_class(cum, rs.uniform());
  }
  if (animals_ > 0) {  // the animal is the batch
    snap.batches = animals_;
    for (const auto& c : classes_) snap.class_animal.push_back(c.animal);
    for (int a = 0; a < animals_; ++a) batch_names_.push_back("animal" + std::to_string(a));
  } else {
    for (int b = 0; b < snap.batches; ++b)
      batch_names_.push_back(s.batch_prefix + std::to_string(snap.first_batch + b));
  }
  // Before the perturbation all ranks hold the one class, but only rank 0 measures it.
  snap.before_perturbation = !perturbed_;
  snap.owned = perturbed_ ? owned_ : (comm_.is_root() ? parallel::Range{0, 1} : parallel::Range{0, 0});
  if (snap.owned.size() > 0) snap.owned_states = states_;  // shared, not copied
  cells_drawn_ += n;
  snapshots_.push_back(std::move(snap));
}

std::vector<double> Simulation::gather_states() const {
  if (!perturbed_) return states().empty() ? std::vector<double>{} : states()[0];
  std::vector<double> flat;
  for (const auto& x : states()) flat.insert(flat.end(), x.begin(), x.end());
  return comm_.all_gather(flat);
}

}  // namespace perturbfit::simulate
