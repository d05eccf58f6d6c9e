#include "perturbfit/analysis/predict_run.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <iomanip>
#include <limits>
#include <map>
#include <set>
#include <sstream>

#include "perturbfit/analysis/cell_sampler.hpp"
#include "perturbfit/analysis/contexts.hpp"
#include "perturbfit/analysis/interactions.hpp"
#include "perturbfit/analysis/prediction.hpp"
#include "perturbfit/core/error.hpp"
#include "perturbfit/core/json_text.hpp"
#include "perturbfit/core/text.hpp"
#include "perturbfit/io/atomic_file.hpp"
#include "perturbfit/io/h5ad_writer.hpp"
#include "perturbfit/parallel/decomposition.hpp"

namespace perturbfit::analysis {

namespace {

using nlohmann::json;
const std::vector<std::string> kSplits{"train", "validation", "test", "new"};
const std::vector<std::string> kKinds{"single", "pair", "combination"};
const std::vector<std::string> kInteractionKinds{"n/a",       "neomorphic", "dominance", "suppression",
                                                 "synergy",   "buffering",  "additive"};
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Queries solved together: one batch of rows per progress report.
constexpr std::size_t kChunk = 256;

struct Row {
  PredictionQuery query;
  int perturbation = -1;  // listed: index into the listing's labels; groups: the screen's perturbation
  int batch = -1;         // -1: no batch (the de-noised control)
  int split = 3;          // into kSplits
  int single_a = -1, single_b = -1;  // pairs: their singles in the singles table
  int group_id = -1;                 // --groups: the screen's group (ScreenData::groups())
};

int kind_of(const std::vector<int>& targets) {
  return targets.size() <= 1 ? 0 : targets.size() == 2 ? 1 : 2;
}

int code_of(const std::vector<std::string>& names, const std::string& name) {
  return static_cast<int>(std::find(names.begin(), names.end(), name) - names.begin());
}

// The screen's split of every set of target nodes it perturbs.
std::map<std::vector<int>, int> screen_splits(const fit::FitProblem& problem) {
  std::map<std::vector<int>, int> out;
  const auto& perts = problem.data().perturbations();
  for (std::size_t p = 0; p < perts.size(); ++p) {
    if (perts[p].control || perts[p].excluded) continue;
    auto t = perts[p].target_nodes;
    std::sort(t.begin(), t.end());
    out[t] = static_cast<int>(problem.splits()[p]);
  }
  return out;
}

// Solves queries in chunks with progress output.
std::vector<PredictedRow> predict_all(const Predictor& predictor, const std::vector<PredictionQuery>& queries,
                                      const PredictionProtocol* protocol, const Reporter& reporter,
                                      const std::string& what) {
  std::vector<PredictedRow> out;
  Progress progress(reporter, what, queries.size());
  for (std::size_t begin = 0; begin < queries.size(); begin += kChunk) {
    const std::vector<PredictionQuery> chunk(queries.begin() + static_cast<long>(begin),
                                             queries.begin() + static_cast<long>(std::min(queries.size(), begin + kChunk)));
    auto rows = protocol ? predictor.predict(chunk, *protocol) : predictor.predict(chunk);
    for (auto& r : rows) out.push_back(std::move(r));
    progress.update(out.size());
  }
  progress.finish();
  return out;
}

}  // namespace

json run_predict(const parallel::Comm& comm, fit::FitProblem& problem, const PredictRequest& request,
                 const Reporter& reporter) {
  const auto start = std::chrono::steady_clock::now();
  const auto& data = problem.data();
  const auto G = static_cast<std::size_t>(problem.measured_genes());
  const int modes = (!request.perturbations.empty()) + (!request.all_pairs.empty()) + (!request.groups.empty());
  if (modes != 1)
    throw UsageError("predict needs exactly one of --perturbations, --all-pairs and --groups");
  const auto splits_of = screen_splits(problem);
  const bool with_protocol = !request.protocol.empty();
  if (with_protocol && (!request.groups.empty() || !request.media.empty()))
    throw UsageError("--protocol predicts listed perturbations (--perturbations, --all-pairs) under its own "
                     "steps: it does not take --groups or --medium");
  PredictionProtocol protocol;
  if (with_protocol) protocol = parse_prediction_protocol(problem, request.protocol);
  // Contexts: the selected control references, or the protocol's one (row.query.reference 0).
  const auto refs = with_protocol ? std::vector<int>{0} : selected_references(problem, request.media);
  auto media_names = data.media();
  if (with_protocol && std::find(media_names.begin(), media_names.end(), protocol.final_medium()) == media_names.end())
    media_names.push_back(protocol.final_medium());

  // The table: every rank holds the listed rows (the groups' rows are each rank's own).
  std::vector<std::string> labels;
  std::vector<Row> rows;
  std::vector<PredictionQuery> singles;  // (target, reference) of every pair's single, every rank
  std::map<std::pair<int, int>, int> single_of;
  auto single_index = [&](int node, int reference) {
    const auto key = std::make_pair(node, reference);
    if (!single_of.count(key)) {
      single_of[key] = static_cast<int>(singles.size());
      const auto& names = problem.field().params().gene_names;
      singles.push_back({names[static_cast<std::size_t>(node)], {node}, reference, -1});
    }
    return single_of[key];
  };
  bool listed = request.groups.empty();
  if (listed) {
    std::vector<std::string> listing = request.perturbations;
    if (!request.all_pairs.empty()) {
      std::vector<std::string> genes;
      for (const auto& g : request.all_pairs)
        if (std::find(genes.begin(), genes.end(), trim(g)) == genes.end()) genes.push_back(trim(g));
      listing = genes;
      for (std::size_t i = 0; i < genes.size(); ++i)
        for (std::size_t j = i + 1; j < genes.size(); ++j) listing.push_back(genes[i] + "+" + genes[j]);
    }
    std::set<std::vector<int>> seen;
    for (const auto& label : listing) {
      auto targets = resolve_targets(problem, label);
      if (!seen.insert(targets).second) continue;  // listed twice (or as B+A)
      labels.push_back(label);
      for (int r : refs) {
        Row row;
        row.query = {label, targets, r, -1};
        row.perturbation = static_cast<int>(labels.size()) - 1;
        const auto it = splits_of.find(targets);
        row.split = it == splits_of.end() ? 3 : it->second;
        if (targets.size() == 2) row.single_a = single_index(targets[0], r), row.single_b = single_index(targets[1], r);
        rows.push_back(std::move(row));
      }
    }
  } else {
    const int wanted = request.groups == "all" ? -1 : code_of(kSplits, request.groups);
    if (wanted == 3 || wanted >= static_cast<int>(kSplits.size()))
      throw UsageError("--groups '" + request.groups + "': use train, validation, test or all");
    const auto& perts = data.perturbations();
    for (const auto& label : perts) labels.push_back(label.label);
    for (const auto& o : problem.groups()) {
      const auto& p = perts[static_cast<std::size_t>(o.perturbation)];
      if (!o.owned || o.control < 0 || o.condition < 0 || p.control) continue;
      if (wanted >= 0 && static_cast<int>(o.split) != wanted) continue;
      if (std::find(refs.begin(), refs.end(), o.reference) == refs.end()) continue;
      Row row;
      row.query = {p.label, p.target_nodes, o.reference, o.control};
      row.perturbation = o.perturbation, row.batch = o.batch, row.split = static_cast<int>(o.split);
      row.group_id = o.group;
      rows.push_back(std::move(row));
    }
  }
  const std::size_t listed_rows = rows.size();
  const auto mine = listed ? parallel::block_range(listed_rows, comm.size(), comm.rank())
                           : parallel::Range{0, listed_rows};
  const std::int64_t total_rows = listed ? static_cast<std::int64_t>(listed_rows)
                                         : comm.sum(static_cast<std::int64_t>(listed_rows));
  reporter.info("predict: " + std::to_string(total_rows) + " rows (" + std::to_string(labels.size()) +
                (listed ? " perturbations x " + std::to_string(refs.size()) + " context(s))"
                        : " perturbations; the screen's groups, split " + request.groups + ")") +
                (singles.empty() ? "" : ", " + std::to_string(singles.size()) + " singles for the interaction view") +
                ", " + std::to_string(request.other_starts) + " other start(s) per row");

  const Predictor predictor(problem, comm, request.other_starts);
  const PredictionProtocol* steps = with_protocol ? &protocol : nullptr;
  // The singles first (every rank), then this rank's block.
  const auto single_rows = singles.empty() ? std::vector<PredictedRow>{}
                                           : predict_all(predictor, singles, steps, reporter, "singles (every rank)");
  std::vector<PredictionQuery> queries;
  for (std::size_t i = mine.begin; i < mine.end; ++i) queries.push_back(rows[i].query);
  const auto predicted = predict_all(predictor, queries, steps, reporter, "predictions");

  // obs columns and matrices of this rank's rows.
  io::H5adBlock block;
  block.var_names = data.genes();
  block.n_obs = total_rows;
  block.row_begin = comm.exclusive_prefix_sum(static_cast<std::int64_t>(queries.size()));
  io::DenseMatrix X{"X", {}}, effect{"effect", {}};
  io::CategoricalColumn c_pert{"perturbation", labels, {}}, c_medium{"medium", media_names, {}},
      c_time{"time", data.times(), {}}, c_split{"split", kSplits, {}}, c_kind{"kind", kKinds, {}},
      c_inter{"interaction", kInteractionKinds, {}};
  auto batches = data.batches();
  batches.push_back("none");
  io::CategoricalColumn c_batch{"batch", batches, {}};
  io::NumericColumn n_stable{"stable", {}}, n_eig{"leading_eigenvalue", {}}, n_spread{"start_spread", {}},
      n_score{"interaction_score", {}}, n_ca{"c_a", {}}, n_cb{"c_b", {}}, n_r2{"interaction_fit_r2", {}},
      n_mag{"interaction_magnitude", {}};
  io::IntegerColumn i_conv{"converged", {}}, i_unique{"non_unique", {}}, i_fallback{"fallback", {}},
      i_starts{"other_starts_converged", {}};
  std::vector<double> pair_stats;  // per pair row: row, score, c_a, c_b, r2, magnitude, kind, dominant
  std::int64_t failed = 0, unstable = 0, non_unique = 0, fallbacks = 0;
  std::map<std::string, std::int64_t> kinds;
  for (std::size_t k = 0; k < queries.size(); ++k) {
    const auto& row = rows[mine.begin + k];
    const auto& p = predicted[k];
    const auto& ref = problem.references()[static_cast<std::size_t>(row.query.reference)];
    const bool ok = p.converged;
    failed += ok ? 0 : 1, unstable += ok && !p.stable ? 1 : 0, non_unique += p.non_unique ? 1 : 0;
    fallbacks += p.informative ? 0 : 1;
    for (std::size_t g = 0; g < G; ++g) {
      X.values.push_back(ok ? p.expression[g] : kNaN);
      effect.values.push_back(ok ? p.effect[g] : kNaN);
    }
    c_pert.codes.push_back(row.perturbation);
    c_medium.codes.push_back(with_protocol ? code_of(media_names, protocol.final_medium()) : ref.medium);
    c_time.codes.push_back(ref.time);
    c_batch.codes.push_back(row.batch < 0 ? static_cast<int>(batches.size()) - 1 : row.batch);
    c_split.codes.push_back(row.split);
    c_kind.codes.push_back(kind_of(row.query.targets));
    i_conv.values.push_back(ok), i_unique.values.push_back(p.non_unique), i_fallback.values.push_back(!p.informative);
    i_starts.values.push_back(p.other_starts_converged);
    n_stable.values.push_back(ok ? (p.stable ? 1.0 : 0.0) : kNaN);
    n_eig.values.push_back(ok ? p.leading_eigenvalue : kNaN), n_spread.values.push_back(ok ? p.start_spread : kNaN);
    Interaction gi;
    bool has_gi = false;
    if (row.single_a >= 0 && ok) {
      const auto& a = single_rows[static_cast<std::size_t>(row.single_a)];
      const auto& b = single_rows[static_cast<std::size_t>(row.single_b)];
      if (a.converged && b.converged) {
        // Beyond the response every targeting guide shares (counted once in a pair, once in each single).
        const auto common = predictor.common_effect(row.query.reference);
        auto beyond = [&](std::vector<double> e) {
          for (std::size_t g = 0; g < G; ++g) e[g] -= common[g];
          return e;
        };
        gi = classify_interaction(beyond(a.effect), beyond(b.effect), beyond(p.effect)), has_gi = true;
      }
    }
    c_inter.codes.push_back(has_gi ? code_of(kInteractionKinds, gi.kind) : 0);
    n_score.values.push_back(has_gi ? gi.score : kNaN), n_ca.values.push_back(has_gi ? gi.c_a : kNaN);
    n_cb.values.push_back(has_gi ? gi.c_b : kNaN), n_r2.values.push_back(has_gi ? gi.fit_r2 : kNaN);
    n_mag.values.push_back(has_gi ? gi.magnitude : kNaN);
    if (has_gi)
      pair_stats.insert(pair_stats.end(), {static_cast<double>(mine.begin + k), gi.score, gi.c_a, gi.c_b, gi.fit_r2,
                                           gi.magnitude, static_cast<double>(code_of(kInteractionKinds, gi.kind)),
                                           static_cast<double>(gi.dominant)});
  }
  // Row names: every row's on the root (the groups' from the ranks that hold them).
  std::vector<int> ids;
  for (std::size_t k = 0; k < queries.size(); ++k) {
    const auto& row = rows[mine.begin + k];
    ids.insert(ids.end(), {row.perturbation, row.batch, row.query.reference});
  }
  const auto all_ids = listed ? std::vector<int>{} : comm.all_gather(ids);
  if (comm.is_root()) {
    auto name = [&](int pert, int batch, int reference) {
      const auto& ref = problem.references()[static_cast<std::size_t>(reference)];
      std::string n = labels[static_cast<std::size_t>(pert)] + "|" +
                      (with_protocol ? protocol.final_medium() : data.media()[static_cast<std::size_t>(ref.medium)]);
      if (data.times().size() > 1) n += "|" + data.times()[static_cast<std::size_t>(ref.time)];
      if (batch >= 0) n += "|" + data.batches()[static_cast<std::size_t>(batch)];
      return n;
    };
    if (listed)
      for (const auto& row : rows) block.obs_names.push_back(name(row.perturbation, -1, row.query.reference));
    else
      for (std::size_t i = 0; i + 2 < all_ids.size(); i += 3)
        block.obs_names.push_back(name(all_ids[i], all_ids[i + 1], all_ids[i + 2]));
  }
  block.indptr.assign(1, 0);
  block.dense = {std::move(X), std::move(effect)};
  block.categorical = {c_pert, c_medium, c_time, c_batch, c_split, c_kind, c_inter};
  block.numeric = {n_stable, n_eig, n_spread, n_score, n_ca, n_cb, n_r2, n_mag};
  block.integer = {i_conv, i_unique, i_fallback, i_starts};
  for (const auto& c : block.categorical) block.column_order.push_back(c.name);
  for (const auto& c : block.integer) block.column_order.push_back(c.name);
  for (const auto& c : block.numeric) block.column_order.push_back(c.name);

  io::OutputSet staged;
  io::write_h5ad(comm, (request.output / "predictions.h5ad").string(), block, &staged);
  std::int64_t sampled = 0;
  if (request.cells_per_row > 0) {
    const CellSampler sampler(comm, data, problem.options().pseudocount, problem.nb_size(), problem.nb_dropout());
    io::H5adBlock cells;
    cells.var_names = data.genes();
    std::vector<double> size_factors;
    std::vector<int> sampled_rows;  // global rows with cells, for the names on the root
    io::CategoricalColumn cell_pert{"perturbation", labels, {}}, cell_medium{"medium", media_names, {}},
        cell_batch{"batch", batches, {}};
    io::IntegerColumn cell_row{"row", {}}, cell_counts{"n_counts", {}};
    for (std::size_t k = 0; k < queries.size(); ++k) {
      if (!predicted[k].converged) continue;
      const auto& row = rows[mine.begin + k];
      const auto global = block.row_begin + static_cast<std::int64_t>(k);
      // Listed rows are the same at any rank count; a screen group is keyed by its group id.
      const std::int64_t key = listed ? global : row.group_id;
      const auto before = cells.indptr.size();
      std::vector<double> x(block.dense[0].values.begin() + static_cast<long>(k * G),
                            block.dense[0].values.begin() + static_cast<long>((k + 1) * G));
      sampler.sample(x, key, request.cells_per_row, cells.indptr, cells.indices, cells.data, size_factors);
      for (auto c = before; c < cells.indptr.size(); ++c) {
        std::int64_t total = 0;
        for (auto q = cells.indptr[c - 1]; q < cells.indptr[c]; ++q) total += cells.data[static_cast<std::size_t>(q)];
        cell_pert.codes.push_back(row.perturbation);
        cell_medium.codes.push_back(block.categorical[1].codes[k]);
        cell_batch.codes.push_back(block.categorical[3].codes[k]);
        cell_row.values.push_back(global), cell_counts.values.push_back(total);
      }
      sampled_rows.push_back(static_cast<int>(global));
    }
    const auto local_cells = static_cast<std::int64_t>(cells.indptr.size() - 1);
    cells.n_obs = comm.sum(local_cells);
    cells.row_begin = comm.exclusive_prefix_sum(local_cells);
    const auto all_rows = comm.all_gather(sampled_rows);
    if (comm.is_root())
      for (int r : all_rows)
        for (int c = 0; c < request.cells_per_row; ++c)
          cells.obs_names.push_back("row" + std::to_string(r) + "_cell" + std::to_string(c));
    cells.categorical = {cell_pert, cell_medium, cell_batch};
    cells.integer = {cell_row, cell_counts};
    cells.numeric = {io::NumericColumn{"size_factor", size_factors}};
    cells.column_order = {"perturbation", "medium", "batch", "row", "n_counts", "size_factor"};
    io::write_h5ad(comm, (request.output / "cells.h5ad").string(), cells, &staged);
    sampled = cells.n_obs;
  }
  const auto all_pairs = comm.all_gather(pair_stats);
  json summary{{"command", "predict"},
               {"protocol", with_protocol ? json(request.protocol) : json(nullptr)},
               {"rows", total_rows},
               {"genes", G},
               {"contexts", refs.size()},
               {"failed", comm.sum(failed)},
               {"unstable", comm.sum(unstable)},
               {"non_unique", comm.sum(non_unique)},
               {"fallback", comm.sum(fallbacks)},
               {"other_starts", request.other_starts},
               {"sampled_cells", sampled},
               {"pairs_with_interaction", all_pairs.size() / 8}};
  for (std::size_t i = 0; i + 7 < all_pairs.size(); i += 8)
    ++kinds[kInteractionKinds[static_cast<std::size_t>(all_pairs[i + 6])]];
  summary["interaction_kinds"] = kinds;
  if (comm.is_root() && !all_pairs.empty()) {
    std::vector<std::size_t> order(all_pairs.size() / 8);
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return all_pairs[8 * a + 1] > all_pairs[8 * b + 1]; });
    std::ostringstream tsv;
    tsv << std::setprecision(6)
        << "rank\tpair\tmedium\tsplit\tscore\tinteraction\tdominant\tc_a\tc_b\tfit_r2\tmagnitude\n";
    json top = json::array();
    for (std::size_t k = 0; k < order.size(); ++k) {
      const double* s = &all_pairs[8 * order[k]];
      const auto& row = rows[static_cast<std::size_t>(s[0])];
      const auto& ref = problem.references()[static_cast<std::size_t>(row.query.reference)];
      const std::string dominant =
          s[7] < 0 ? "" : problem.field().params().gene_names[static_cast<std::size_t>(row.query.targets[static_cast<std::size_t>(s[7])])];
      const auto& kind = kInteractionKinds[static_cast<std::size_t>(s[6])];
      const auto medium = with_protocol ? protocol.final_medium() : data.media()[static_cast<std::size_t>(ref.medium)];
      tsv << k + 1 << '\t' << row.query.label << '\t' << medium << '\t'
          << kSplits[static_cast<std::size_t>(row.split)] << '\t' << s[1] << '\t' << kind << '\t' << dominant << '\t'
          << s[2] << '\t' << s[3] << '\t' << s[4] << '\t' << s[5] << '\n';
      if (k < 10) top.push_back({{"pair", row.query.label}, {"score", s[1]}, {"interaction", kind}});
    }
    summary["top_interactions"] = top;
    io::write_file_atomically(request.output / "interactions.tsv", tsv.str(), &staged);
  }
  summary["wall_seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  comm.run_on_root([&] {
    io::write_file_atomically(request.output / "summary.json", json_text(summary) + "\n", &staged);
    staged.commit();
  });
  comm.barrier();
  return summary;
}

}  // namespace perturbfit::analysis
