#include "perturbfit/simulate/screen.hpp"

#include <algorithm>
#include <map>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace perturbfit::simulate {

namespace {

// Index of `label` in `categories`, appending it the first time it is seen.
std::int32_t category(std::vector<std::string>& categories, std::map<std::string, std::int32_t>& index,
                      const std::string& label) {
  auto [it, inserted] = index.emplace(label, static_cast<std::int32_t>(categories.size()));
  if (inserted) categories.push_back(label);
  return it->second;
}

struct Row {
  std::int32_t cls, snapshot;
  std::int64_t cell;  // index within the snapshot
};

}  // namespace

ScreenRows assemble_screen(const Simulation& sim, const Reporter& reporter, std::size_t cells_per_chunk) {
  const auto& snaps = sim.snapshots();
  const auto& comm = sim.comm();
  const auto& classes = sim.classes();

  // Every rank walks the global row order (cheap: one integer per cell) to find its block
  // and, on rank 0, the cell names. Pre-perturbation cells come first (rank 0 owns them).
  std::vector<Row> order;
  std::int64_t total = 0;
  for (std::size_t s = 0; s < snaps.size(); ++s) total += static_cast<std::int64_t>(snaps[s].cell_class.size());
  std::vector<std::vector<Row>> by_class(classes.size());
  std::vector<Row> pre;
  for (std::size_t s = 0; s < snaps.size(); ++s)
    for (std::size_t i = 0; i < snaps[s].cell_class.size(); ++i) {
      const Row r{snaps[s].cell_class[i], static_cast<std::int32_t>(s), static_cast<std::int64_t>(i)};
      if (snaps[s].before_perturbation)
        pre.push_back(r);
      else
        by_class[static_cast<std::size_t>(r.cls)].push_back(r);
    }
  order.reserve(static_cast<std::size_t>(total));
  order.insert(order.end(), pre.begin(), pre.end());
  for (auto& rows : by_class) order.insert(order.end(), rows.begin(), rows.end());

  // Which rows are mine: pre-perturbation rows if I measured them, then my classes' rows.
  auto mine = [&](const Row& r) {
    return snaps[static_cast<std::size_t>(r.snapshot)].owned.contains(static_cast<std::size_t>(r.cls));
  };
  std::int64_t begin = -1, end = -1;
  for (std::size_t k = 0; k < order.size(); ++k)
    if (mine(order[k])) {
      if (begin < 0) begin = static_cast<std::int64_t>(k);
      end = static_cast<std::int64_t>(k) + 1;
    }
  const std::int64_t local_rows = begin < 0 ? 0 : end - begin;
  const std::int64_t row_begin = comm.exclusive_prefix_sum(local_rows);

  ScreenRows out;
  auto& b = out.h5ad;
  b.n_obs = total;
  b.row_begin = row_begin;
  std::vector<int> targeted;
  for (const auto& c : classes)
    for (const auto& [g, kappa] : c.knock) targeted.push_back(g);
  out.panel = measured_panel(sim.settings().measurement, sim.params().gene_names, targeted);
  std::vector<std::int32_t> column_of(sim.params().gene_names.size(), -1);  // model gene -> var column
  for (std::size_t j = 0; j < out.panel.size(); ++j) {
    b.var_names.push_back(sim.params().gene_names[static_cast<std::size_t>(out.panel[j])]);
    column_of[static_cast<std::size_t>(out.panel[j])] = static_cast<std::int32_t>(j);
  }
  if (comm.is_root()) {
    b.obs_names.reserve(order.size());
    for (const auto& r : order)
      b.obs_names.push_back("cell" +
                            std::to_string(snaps[static_cast<std::size_t>(r.snapshot)].first_cell_id + r.cell));
  }
  // Categories are built from global information so that codes agree across ranks.
  io::CategoricalColumn perturbation{"perturbation", {}, {}}, guide{"guide", {}, {}},
      batch{"batch", sim.batch_names(), {}}, medium{"medium", {}, {}};
  std::map<std::string, std::int32_t> p_index, g_index, m_index;
  std::vector<std::int32_t> class_p(classes.size()), class_g(classes.size());
  const bool any_pre = !pre.empty();
  const std::int32_t pre_p = any_pre ? category(perturbation.categories, p_index, "unperturbed") : -1;
  const std::int32_t pre_g = any_pre ? category(guide.categories, g_index, "none") : -1;
  for (std::size_t c = 0; c < classes.size(); ++c) {
    class_p[c] = category(perturbation.categories, p_index, classes[c].perturbation);
    class_g[c] = category(guide.categories, g_index, classes[c].guide);
  }
  std::vector<std::int32_t> snap_medium(snaps.size());
  for (std::size_t s = 0; s < snaps.size(); ++s) snap_medium[s] = category(medium.categories, m_index, snaps[s].medium);

  const auto n = static_cast<std::size_t>(local_rows);
  std::map<int, std::vector<double>> offsets;  // per global batch, computed once
  std::vector<int> row_batch(n);
  for (std::size_t k = 0; k < n; ++k) {
    const Row& r = order[static_cast<std::size_t>(begin) + k];
    const auto& snap = snaps[static_cast<std::size_t>(r.snapshot)];
    row_batch[k] = snap.batch_of(static_cast<std::size_t>(r.cell));
    if (!offsets.count(row_batch[k])) offsets[row_batch[k]] = sim.measurement().batch_offsets(row_batch[k]);
  }

  io::NumericColumn time{"time", {}};
  io::IntegerColumn n_counts{"n_counts", {}};
  // With cell types: obs/cell_type (cells measured before the perturbation have none).
  const auto& type_names = sim.settings().cell_types.names;
  const bool typed = type_names.size() >= 2;
  io::CategoricalColumn cell_type{"cell_type", type_names, {}};
  if (typed && any_pre) cell_type.categories.push_back("none");
  // Per-cell vectors are held for one chunk only, never beside the whole matrix.
  std::vector<std::vector<std::int32_t>> piece_indices, piece_data;
  Progress progress(reporter, "measure: drawing counts", n);
  std::size_t done = 0;
  std::vector<MeasurementModel::Cell> cells;
  for (std::size_t first = 0; first < n; first += std::max<std::size_t>(1, cells_per_chunk)) {
    const std::size_t last = std::min(n, first + std::max<std::size_t>(1, cells_per_chunk));
    cells.assign(last - first, {});
#pragma omp parallel for schedule(dynamic, 64)
    for (std::size_t k = first; k < last; ++k) {
      const Row& r = order[static_cast<std::size_t>(begin) + k];
      const auto& snap = snaps[static_cast<std::size_t>(r.snapshot)];
      const auto& x = (*snap.owned_states)[static_cast<std::size_t>(r.cls) - snap.owned.begin];
      cells[k - first] = sim.measurement().draw(static_cast<std::uint64_t>(snap.first_cell_id + r.cell), x.data(),
                                                offsets.at(row_batch[k]), snap.depth);
      std::size_t now;
#pragma omp atomic capture
      now = ++done;
#ifdef _OPENMP
      if (omp_get_thread_num() == 0)
#endif
        progress.update(now);
    }
    auto& indices = piece_indices.emplace_back();
    auto& data = piece_data.emplace_back();
    for (std::size_t k = first; k < last; ++k) {
      const Row& r = order[static_cast<std::size_t>(begin) + k];
      const auto& snap = snaps[static_cast<std::size_t>(r.snapshot)];
      const auto& cell = cells[k - first];
      std::int64_t sum = 0, stored = 0;
      for (std::size_t q = 0; q < cell.genes.size(); ++q) {  // what the panel sees
        const auto j = column_of[static_cast<std::size_t>(cell.genes[q])];
        if (j < 0) continue;
        indices.push_back(j);
        data.push_back(cell.counts[q]);
        sum += cell.counts[q], ++stored;
      }
      b.indptr.push_back(b.indptr.back() + stored);
      perturbation.codes.push_back(snap.before_perturbation ? pre_p : class_p[static_cast<std::size_t>(r.cls)]);
      guide.codes.push_back(snap.before_perturbation ? pre_g : class_g[static_cast<std::size_t>(r.cls)]);
      batch.codes.push_back(row_batch[k]);
      medium.codes.push_back(snap_medium[static_cast<std::size_t>(r.snapshot)]);
      if (typed)
        cell_type.codes.push_back(snap.before_perturbation ? static_cast<std::int32_t>(type_names.size())
                                                           : classes[static_cast<std::size_t>(r.cls)].cell_type);
      time.values.push_back(snap.time);
      n_counts.values.push_back(sum);
      out.cell_class.push_back(r.cls);
      out.cell_snapshot.push_back(r.snapshot);
      out.size_factor.push_back(cell.size_factor);
    }
    indices.shrink_to_fit(), data.shrink_to_fit();
  }
  progress.finish();
  cells = {};
  // One exact allocation each; every piece is freed as soon as it is copied.
  b.indices.reserve(static_cast<std::size_t>(b.indptr.back()));
  b.data.reserve(static_cast<std::size_t>(b.indptr.back()));
  for (std::size_t c = 0; c < piece_indices.size(); ++c) {
    b.indices.insert(b.indices.end(), piece_indices[c].begin(), piece_indices[c].end());
    b.data.insert(b.data.end(), piece_data[c].begin(), piece_data[c].end());
    piece_indices[c] = {}, piece_data[c] = {};
  }
  b.categorical = {perturbation, guide, batch, medium};
  b.numeric = {time};
  b.integer = {n_counts};
  b.column_order = {"perturbation", "guide", "batch", "time", "medium", "n_counts"};
  if (typed) {
    b.categorical.push_back(cell_type);
    b.column_order.push_back("cell_type");
  }
  return out;
}

}  // namespace perturbfit::simulate
