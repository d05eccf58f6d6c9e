// The measurement operator M_b of MODEL.md section 5, as a random draw:
//   mu_ig = s_i exp(delta_bg) x_ig,  y_ig ~ ZINB(mu_ig, phi_g, pi_g).
// Every draw of a cell comes from that cell's own stream, keyed by (seed, cell id).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace perturbfit::simulate {

struct MeasurementOptions {
  double dispersion = 10.0, dispersion_sd = 0.5;
  double dropout = 0.02;
  double batch_sd = 0.1;
  double depth_sd = 0.3;
  std::uint64_t seed = 1;
  // The measured panel (var of the screen): these genes (all if empty), then a random
  // fraction of them, without the targeted genes if panel_excludes_targets.
  std::vector<std::string> panel_genes;
  double panel_fraction = 1.0;
  bool panel_excludes_targets = false;
  bool operator==(const MeasurementOptions&) const = default;
};

// Model gene indices of the measured panel, ascending; the same on every rank (seeded by
// opt.seed and the gene index). `targeted`: genes some guide knocks down. Throws UsageError
// for unknown panel genes or an empty panel.
std::vector<int> measured_panel(const MeasurementOptions& opt, const std::vector<std::string>& gene_names,
                                const std::vector<int>& targeted);

class MeasurementModel {
 public:
  // `reference_total`: sum of an unperturbed cell's latent state, so that `depth` is the
  // mean UMI count of such a cell.
  MeasurementModel(const MeasurementOptions& opt, int genes, double reference_total);

  const std::vector<double>& dispersion() const { return dispersion_; }
  const std::vector<double>& dropout() const { return dropout_; }
  // delta_b (G values) of the global batch index b; the same on every rank.
  std::vector<double> batch_offsets(int batch) const;

  struct Cell {
    double size_factor = 0.0;
    std::vector<std::int32_t> genes;  // nonzero genes, ascending
    std::vector<std::int32_t> counts;
  };
  // Draws one cell's counts from its latent state x (G values).
  Cell draw(std::uint64_t cell_id, const double* x, const std::vector<double>& batch_offsets, double depth) const;

 private:
  MeasurementOptions opt_;
  int genes_;
  double reference_total_;
  std::vector<double> dispersion_, dropout_;
};

}  // namespace perturbfit::simulate
