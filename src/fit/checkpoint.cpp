#include "perturbfit/fit/checkpoint.hpp"

#include <cmath>

#include "perturbfit/core/error.hpp"
#include "perturbfit/core/hash.hpp"
#include "perturbfit/core/json_text.hpp"

namespace perturbfit::fit {

using io::H5File;
namespace fs = std::filesystem;

namespace {
template <class F>
std::vector<double> column(const std::vector<IterationRecord>& h, F&& f) {
  std::vector<double> out;
  for (const auto& r : h) out.push_back(static_cast<double>(f(r)));
  return out;
}

// Everything a restart continues from, in one digest (with the identity it belongs to).
std::string state_checksum(const OptimizerState& s, const CheckpointIdentity& id) {
  Fnv1a h;
  for (const auto& g : id.genes) h.text(g);
  h.text(id.optimizer).text(id.deck_fingerprint).text(id.screen_digest);
  h.values(s.theta).value(static_cast<std::int64_t>(s.iteration)).values(s.adam_m).values(s.adam_v);
  const auto& lb = s.lbfgs;
  h.values(lb.x).values(lb.g).value(lb.f).value(static_cast<char>(lb.evaluated)).values(lb.deltas);
  for (std::size_t k = 0; k < lb.points.size(); ++k) h.values(lb.points[k]).values(lb.gradients[k]);
  const auto& es = s.early;
  h.values(es.best_groups).values(es.selected_theta).value(es.best).value(es.best_iteration);
  h.value(es.selected_iteration).value(es.checks_since_best);
  for (const auto& r : s.history) h.value(r.iteration).value(r.loss).value(r.data).value(r.validation);
  return h.hex();
}

bool all_finite(const std::vector<double>& v) {
  for (double x : v)
    if (!std::isfinite(x)) return false;
  return true;
}
}  // namespace

void write_history(const io::H5File& f, const std::vector<IterationRecord>& h) {
  f.group("/history");
  f.write("/history/iteration", column(h, [](const auto& r) { return r.iteration; }));
  f.write("/history/loss", column(h, [](const auto& r) { return r.loss; }));
  f.write("/history/data", column(h, [](const auto& r) { return r.data; }));
  f.write("/history/steady_state", column(h, [](const auto& r) { return r.steady_state; }));
  f.write("/history/regulariser", column(h, [](const auto& r) { return r.regulariser; }));
  f.write("/history/gradient_norm", column(h, [](const auto& r) { return r.gradient_norm; }));
  f.write("/history/seconds", column(h, [](const auto& r) { return r.seconds; }));
  f.write("/history/failed_steady_states", column(h, [](const auto& r) { return r.failed_steady_states; }));
  f.write("/history/batch", column(h, [](const auto& r) { return r.batch; }));
  f.write("/history/validation", column(h, [](const auto& r) { return r.validation; }));
}

std::vector<IterationRecord> read_history(const io::H5File& f) {
  const auto it = f.read<double>("/history/iteration"), loss = f.read<double>("/history/loss"),
             data = f.read<double>("/history/data"), ss = f.read<double>("/history/steady_state"),
             reg = f.read<double>("/history/regulariser"), gn = f.read<double>("/history/gradient_norm"),
             sec = f.read<double>("/history/seconds"), failed = f.read<double>("/history/failed_steady_states"),
             batch = f.read<double>("/history/batch"), validation = f.read<double>("/history/validation");
  std::vector<IterationRecord> h;
  for (std::size_t i = 0; i < it.size(); ++i)
    h.push_back({static_cast<int>(it[i]), loss[i], data[i], ss[i], reg[i], gn[i], sec[i],
                 static_cast<std::int64_t>(failed[i]), static_cast<std::int64_t>(batch[i]), validation.at(i)});
  return h;
}

std::string deck_fingerprint(const config::Deck& deck) {
  nlohmann::json v = deck.values();
  for (const char* key : {"max_iterations", "checkpoint_every", "truth", "gradient_directions", "validation_patience"})
    v["fit"].erase(key);
  v["run"].erase("name");
  v["data"].erase("path");
  v.erase("output");
  return Fnv1a().text(json_text(v, -1)).hex();
}

void write_checkpoint(const fs::path& path, const OptimizerState& state, const CheckpointIdentity& id) {
  io::write_h5_serially(path, [&](const H5File& f) {
    f.write_strings("/optimizer", {id.optimizer});
    f.write_strings("/genes", id.genes);
    f.write_strings("/identity", {id.deck_fingerprint, id.screen_digest});
    f.write_strings("/checksum", {state_checksum(state, id)});
    f.write("/theta", state.theta);
    f.write("/iteration", std::vector<std::int64_t>{state.iteration});
    f.write("/adam_m", state.adam_m);
    f.write("/adam_v", state.adam_v);
    const auto& lb = state.lbfgs;  // lbfgs: point, gradient, the matrix's updates (oldest first)
    f.group("/lbfgs");
    f.write("/lbfgs/x", lb.x), f.write("/lbfgs/g", lb.g);
    f.write("/lbfgs/f", std::vector<double>{lb.f, lb.evaluated ? 1.0 : 0.0});
    std::vector<double> points, gradients;
    for (std::size_t k = 0; k < lb.points.size(); ++k) {
      points.insert(points.end(), lb.points[k].begin(), lb.points[k].end());
      gradients.insert(gradients.end(), lb.gradients[k].begin(), lb.gradients[k].end());
    }
    const std::vector<hsize_t> dims{static_cast<hsize_t>(lb.points.size()), static_cast<hsize_t>(lb.x.size())};
    f.write("/lbfgs/points", points, dims), f.write("/lbfgs/gradients", gradients, dims);
    f.write("/lbfgs/deltas", lb.deltas);
    f.group("/early_stopping");
    const auto& es = state.early;  // early stopping
    f.write("/early_stopping/best_groups", es.best_groups);
    f.write("/early_stopping/selected_theta", es.selected_theta);
    f.write("/early_stopping/state",
            std::vector<double>{es.best, static_cast<double>(es.best_iteration),
                                static_cast<double>(es.selected_iteration), static_cast<double>(es.checks_since_best)});
    write_history(f, state.history);
  });
}

OptimizerState read_checkpoint(const fs::path& path, const CheckpointIdentity& id) {
  const std::string where = "checkpoint '" + path.string() + "'";
  if (!fs::exists(path))
    throw UsageError("no checkpoint at '" + path.string() +
                     "': --restart needs the output directory of an earlier fit");
  const auto f = [&] {
    try {
      return H5File::open_read(path.string());
    } catch (const IOError& e) {
      throw DataError(where + " cannot be read (" + e.what() + "); start afresh without --restart");
    }
  }();
  OptimizerState s;
  std::vector<std::string> identity, checksum, written_by;
  try {
    identity = f.read_strings("/identity");
    checksum = f.read_strings("/checksum");
    written_by = f.read_strings("/optimizer");
    if (f.read_strings("/genes") != id.genes)
      throw UsageError(where + " was written for other genes; restart with the same deck and screen");
    s.theta = f.read<double>("/theta");
    const auto iteration = f.read<std::int64_t>("/iteration");
    if (iteration.size() != 1 || iteration[0] < 0 || iteration[0] > 1000000000)
      throw DataError(where + " holds an invalid iteration count");
    s.iteration = static_cast<int>(iteration[0]);
    s.adam_m = f.read<double>("/adam_m");
    s.adam_v = f.read<double>("/adam_v");
    auto& lb = s.lbfgs;
    lb.x = f.read<double>("/lbfgs/x"), lb.g = f.read<double>("/lbfgs/g");
    const auto fe = f.read<double>("/lbfgs/f");
    if (fe.size() == 2) lb.f = fe[0], lb.evaluated = fe[1] != 0;
    const auto points = f.read<double>("/lbfgs/points"), gradients = f.read<double>("/lbfgs/gradients");
    lb.deltas = f.read<double>("/lbfgs/deltas");
    const std::size_t n = lb.x.size();
    if ((n == 0 && !points.empty()) ||
        (n > 0 && (points.size() != lb.deltas.size() * n || gradients.size() != points.size())))
      throw DataError(where + " holds an inconsistent L-BFGS state");
    for (std::size_t k = 0; k < lb.deltas.size(); ++k) {
      lb.points.emplace_back(points.begin() + static_cast<long>(k * n),
                             points.begin() + static_cast<long>((k + 1) * n));
      lb.gradients.emplace_back(gradients.begin() + static_cast<long>(k * n),
                                gradients.begin() + static_cast<long>((k + 1) * n));
    }
    s.history = read_history(f);
    auto& es = s.early;
    es.best_groups = f.read<double>("/early_stopping/best_groups");
    es.selected_theta = f.read<double>("/early_stopping/selected_theta");
    const auto es_state = f.read<double>("/early_stopping/state");
    if (es_state.size() != 4) throw DataError(where + " holds no early-stopping state");
    es.best = es_state[0], es.best_iteration = static_cast<int>(es_state[1]);
    es.selected_iteration = static_cast<int>(es_state[2]), es.checks_since_best = static_cast<int>(es_state[3]);
  } catch (const IOError& e) {
    throw DataError(where + " is incomplete or not a perturbfit checkpoint (" + e.what() +
                    "); start afresh without --restart");
  }
  if (written_by.empty() || written_by[0] != id.optimizer)
    throw UsageError(where + " was written by fit.optimizer = " +
                     (written_by.empty() ? std::string("?") : written_by[0]) + "; restart with the same optimizer");
  if (identity.size() != 2 || identity[0] != id.deck_fingerprint)
    throw UsageError(where +
                     " belongs to a fit with another deck or other --set values (only fit.max_iterations, "
                     "fit.checkpoint_every, fit.validation_patience, fit.truth and run.name may change on a restart); "
                     "restart with the original deck and overrides, or start afresh in a new output directory");
  if (identity[1] != id.screen_digest)
    throw UsageError(where +
                     " belongs to a fit of another screen (its genes, perturbations or counts differ); "
                     "restart with the original screen, or start afresh in a new output directory");
  if (checksum.size() != 1 || checksum[0] != state_checksum(s, id))
    throw DataError(where + " is damaged (its contents do not match its checksum); start afresh without --restart");
  if (!all_finite(s.theta) || !all_finite(s.lbfgs.x))
    throw DataError(where + " holds non-finite parameters; start afresh without --restart");
  return s;
}

}  // namespace perturbfit::fit
