#include "perturbfit/simulate/truth_file.hpp"

#include "perturbfit/io/hdf5.hpp"
#include "perturbfit/model/parameter_file.hpp"

namespace perturbfit::simulate {

using io::H5File;

namespace {

std::string state_dataset(std::size_t s) { return "/states/snapshot" + std::to_string(s); }

void create_structure(const Simulation& sim, const ScreenRows& rows, const H5File& f) {
  const auto& p = sim.params();
  const auto G = static_cast<hsize_t>(p.genes);
  f.attr_string(
      "/", "description",
      "perturbfit ground truth: f_g = (1-kappa_g) v_g sigma((W x + U m + c)_g) + beta_g - gamma_g x_g "
      "+ (A tanh(B x + C m + d))_g; cell i's latent state is /states/snapshot<cells/snapshot[i]>[cells/class[i]]");
  f.attr_string("/", "model_kind", model::to_string(p.kind));
  f.write_strings("/genes", p.gene_names);
  f.write("/panel",
          std::vector<std::int32_t>(rows.panel.begin(), rows.panel.end()));  // the screen's var, as /genes indices
  model::write_parameters(f, p);

  f.group("/control");
  f.write("/control/steady_state", sim.control_state());
  std::vector<double> attractors;
  for (const auto& a : sim.control_attractors()) attractors.insert(attractors.end(), a.begin(), a.end());
  f.write("/control/attractors", attractors, {sim.control_attractors().size(), G});

  const auto& m = sim.measurement();
  f.group("/measurement");
  f.write("/measurement/dispersion", m.dispersion());
  f.write("/measurement/dropout", m.dropout());
  std::vector<double> offsets;
  for (std::size_t b = 0; b < sim.batch_names().size(); ++b) {
    const auto d = m.batch_offsets(static_cast<int>(b));
    offsets.insert(offsets.end(), d.begin(), d.end());
  }
  f.write("/measurement/batch_offsets", offsets, {sim.batch_names().size(), G});
  f.write_strings("/measurement/batch_names", sim.batch_names());

  f.group("/classes");
  std::vector<std::string> pert, guide;
  std::vector<std::int32_t> knock_ptr{0}, knock_gene, animal;
  std::vector<double> knock_kappa;
  for (const auto& c : sim.classes()) {
    pert.push_back(c.perturbation);
    guide.push_back(c.guide);
    for (const auto& [g, k] : c.knock) knock_gene.push_back(g), knock_kappa.push_back(k);
    knock_ptr.push_back(static_cast<std::int32_t>(knock_gene.size()));
    animal.push_back(c.animal);
  }
  f.write_strings("/classes/perturbation", pert);
  f.write_strings("/classes/guide", guide);
  f.write("/classes/knock_ptr", knock_ptr);
  f.write("/classes/knock_gene", knock_gene);
  f.write("/classes/knock_kappa", knock_kappa);
  const auto& types = sim.settings().cell_types;
  if (types.names.size() >= 2) {
    std::vector<std::int32_t> cell_type;
    for (const auto& c : sim.classes()) cell_type.push_back(c.cell_type);
    f.write("/classes/cell_type", cell_type);
    f.group("/cell_types");
    f.write_strings("/cell_types/names", types.names);
    f.attr_double("/cell_types", "first_channel", sim.medium_channels());
    f.attr_string("/cell_types", "description",
                  "type t's activation bias b_t is column first_channel + t of parameters/U (its medium input is 1 "
                  "in the type's cells)");
  }
  if (sim.animals() > 0) {
    f.write("/classes/animal", animal);
    f.group("/niche");
    const auto& niche = sim.niche();
    const auto K = static_cast<hsize_t>(sim.params().media), L = static_cast<hsize_t>(niche.ligands());
    f.write("/niche/ligand_genes", std::vector<std::int32_t>(niche.ligand_genes.begin(), niche.ligand_genes.end()));
    f.write("/niche/gamma", niche.gamma, {K, L});
    f.write("/niche/factors", sim.niche_factors(), {static_cast<hsize_t>(sim.animals()), K});
    f.attr_string("/niche", "description",
                  "m = m_ext + gamma <x[ligand_genes]>_w per animal; factors: animals x K at the last equilibrate");
  }

  f.group("/states");
  const auto& snaps = sim.snapshots();
  for (std::size_t s = 0; s < snaps.size(); ++s) {
    const hsize_t n_classes = snaps[s].before_perturbation ? 1 : sim.classes().size();
    f.create<double>(state_dataset(s), {n_classes, G});
    f.attr_double(state_dataset(s), "time", snaps[s].time);
    f.attr_string(state_dataset(s), "medium", snaps[s].medium);
  }
  if (sim.has_solve_reports()) {
    const hsize_t n = sim.classes().size();
    f.group("/solves");
    f.attr_string("/solves", "description",
                  "the last equilibrate step's steady-state report per class: method 0 batched-newton, 1 newton, "
                  "2 cvodes+newton, 3 failed, 5 batched-relaxation; stability 0 skipped, 1 gershgorin, 2 cayley-power");
    f.create<std::int32_t>("/solves/method", {n});
    f.create<std::int32_t>("/solves/newton_iterations", {n});
    f.create<double>("/solves/residual_norm", {n});
    f.create<std::int32_t>("/solves/stability_method", {n});
    f.create<std::int8_t>("/solves/stable", {n});
    f.create<double>("/solves/leading_eigenvalue", {n});
  }
  f.group("/cells");
  const auto n_obs = static_cast<hsize_t>(rows.h5ad.n_obs);
  f.create<std::int32_t>("/cells/class", {n_obs});
  f.create<std::int32_t>("/cells/snapshot", {n_obs});
  f.create<double>("/cells/size_factor", {n_obs});
}

// This rank's classes and cells, into the file create_structure laid out.
void write_rows(const Simulation& sim, const ScreenRows& rows, const H5File& f) {
  const auto& snaps = sim.snapshots();
  for (std::size_t s = 0; s < snaps.size(); ++s) {
    const auto& states = *snaps[s].owned_states;
    f.write_row_blocks<double>(state_dataset(s), static_cast<std::int64_t>(snaps[s].owned.begin), states.size(),
                               [&](std::size_t i, std::vector<double>& out) {
                                 out.insert(out.end(), states[i].begin(), states[i].end());
                               });
  }
  if (sim.has_solve_reports()) {
    std::vector<std::int32_t> method, its, stab;
    std::vector<double> res, eig;
    std::vector<std::int8_t> stable;
    for (const auto& r : sim.owned_reports()) {
      method.push_back(static_cast<std::int32_t>(r.method));
      its.push_back(r.newton_iterations);
      res.push_back(r.residual_norm);
      stab.push_back(static_cast<std::int32_t>(r.stability_method));
      stable.push_back(r.stable ? 1 : 0);
      eig.push_back(r.leading_eigenvalue);
    }
    const auto begin = static_cast<std::int64_t>(sim.owned().begin);
    f.write_rows("/solves/method", begin, method);
    f.write_rows("/solves/newton_iterations", begin, its);
    f.write_rows("/solves/residual_norm", begin, res);
    f.write_rows("/solves/stability_method", begin, stab);
    f.write_rows("/solves/stable", begin, stable);
    f.write_rows("/solves/leading_eigenvalue", begin, eig);
  }
  f.write_rows("/cells/class", rows.h5ad.row_begin, rows.cell_class);
  f.write_rows("/cells/snapshot", rows.h5ad.row_begin, rows.cell_snapshot);
  f.write_rows("/cells/size_factor", rows.h5ad.row_begin, rows.size_factor);
}

}  // namespace

void write_truth(const Simulation& sim, const ScreenRows& rows, const std::string& path, io::OutputSet* staged) {
  const auto& comm = sim.comm();
  io::write_h5_collectively(
      comm, path, [&](const H5File& f) { create_structure(sim, rows, f); },
      [&](const H5File& f) { write_rows(sim, rows, f); }, staged);
}

}  // namespace perturbfit::simulate
