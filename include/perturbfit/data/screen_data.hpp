// A screen read from an .h5ad file, validated, and distributed so that each rank owns
// whole perturbations (all their cells, in every batch), balanced by cell count; and the
// per-group sufficient statistics of the Gaussian pseudo-bulk loss (MODEL.md sections 8, 9).
// The constructor is a pipeline of separately tested parts: read_obs_table →
// classify_perturbations → group_cells → batches_without_controls (design checks) →
// distribute (parallel::Exchange) → gene selection (gene_selection.hpp) →
// assign_target_nodes; statistics() is group_statistics over this rank's cells.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "perturbfit/config/deck.hpp"
#include "perturbfit/data/conventions.hpp"
#include "perturbfit/data/design.hpp"
#include "perturbfit/data/group_statistics.hpp"
#include "perturbfit/data/guide_abundance.hpp"
#include "perturbfit/data/obs_table.hpp"
#include "perturbfit/data/options.hpp"
#include "perturbfit/core/reporter.hpp"
#include "perturbfit/io/h5ad_reader.hpp"
#include "perturbfit/parallel/comm.hpp"
#include "perturbfit/parallel/decomposition.hpp"

namespace perturbfit::data {

class ScreenData {
 public:
  // Collective over comm. Throws DataError (exit 3) naming file, column and value.
  ScreenData(const parallel::Comm& comm, const DataOptions& options, const Reporter& reporter);

  const io::MatrixLayout& matrix() const { return layout_; }
  const std::vector<std::string>& genes() const { return genes_; }
  const std::vector<Perturbation>& perturbations() const { return perturbations_; }
  const std::vector<std::string>& batches() const { return batches_; }
  const std::vector<std::string>& times() const { return times_; }
  const std::vector<std::string>& media() const { return media_; }
  const std::vector<Group>& groups() const { return groups_; }
  const std::vector<std::string>& control_labels_found() const { return control_labels_found_; }
  std::vector<std::string> batches_without_controls() const {
    return data::batches_without_controls(groups_, perturbations_, batches_);
  }
  std::vector<std::string> targets_not_in_var() const { return missing_targets(genes_, perturbations_); }
  // Targets absent from var that the model adds as latent nodes (data.missing_targets =
  // latent), sorted; node genes().size() + l is latent_targets()[l].
  const std::vector<std::string>& latent_targets() const { return latent_; }
  const std::vector<std::string>& problems() const { return problems_; }  // report_only findings
  // The ecosystem conventions obs matches (data/conventions.hpp), best first.
  const std::vector<Convention>& conventions() const { return conventions_; }
  std::int64_t cells() const { return layout_.rows; }
  // Guide-abundance observations of data.guide_counts (every rank; empty without the key).
  const std::vector<AbundanceObservation>& abundance() const { return abundance_; }
  std::string column_encoding(const std::string& role) const;

  // Ownership: perturbations [owned().begin, owned().end) and their cells.
  parallel::Range owned() const { return owned_; }
  const std::vector<std::int64_t>& local_rows() const { return local_rows_; }  // global row ids
  const std::vector<std::int64_t>& local_indptr() const { return local_indptr_; }
  const std::vector<std::int32_t>& local_cols() const { return local_cols_; }
  const std::vector<double>& local_values() const { return local_values_; }
  const std::vector<double>& local_size_factors() const { return local_size_factors_; }
  double mean_total_counts() const { return mean_total_; }

  // Statistics of the owned groups plus every control group (replicated on all ranks).
  // After release_perturbed_counts() only the control groups' (perturbed_groups = false).
  GroupStatistics statistics(StatisticsRequest request = {}) const;
  // Frees the counts of every cell outside the control groups: a fit with the Gaussian
  // pseudo-bulk loss needs them only for its set-up, and at genome scale they are the
  // largest array a rank holds (12 bytes per stored count). The control cells stay, for
  // the assumption checks. Afterwards content_digest() and statistics of perturbed
  // groups throw std::logic_error.
  void release_perturbed_counts();
  bool perturbed_counts_released() const { return perturbed_counts_released_; }
  // The group of every cell of the screen (global row id; -1: an excluded cell).
  const std::vector<std::int32_t>& cell_groups() const { return cell_group_; }
  // Collective. A digest of what the fit sees (genes, perturbations, batches, every count
  // of every cell), the same at any rank count: a restart checks it against its checkpoint.
  std::string content_digest() const;

 private:
  // Perturbations from the perturbation column (controls merged, targets split).
  void classify(const ObsColumn& column);
  void check_design();
  void distribute(const io::H5adReader& reader);
  void select_genes();
  void keep_listed_genes();
  // Keeps the selected genes (plus the measured targets if data.keep_targets); `what` names
  // the selection in the progress message.
  void keep_selected(std::vector<char> selected, const std::string& what);
  void fail(const std::string& message, bool design_problem);
  void read_abundance();
  // "; the file looks like ...: <deck keys>" when a detected convention differs from the
  // deck's keys, else "".
  std::string convention_hint() const;

  parallel::Comm comm_;
  DataOptions opt_;
  const Reporter& reporter_;
  io::MatrixLayout layout_;
  std::vector<std::string> genes_, batches_, times_, media_, control_labels_found_, problems_, latent_;
  std::vector<std::string> column_encodings_;  // perturbation, batch, time, medium
  std::vector<Perturbation> perturbations_;
  std::vector<AbundanceObservation> abundance_;
  std::vector<Convention> conventions_;
  std::vector<std::int32_t> cell_perturbation_, cell_group_;  // per cell
  std::vector<Group> groups_;
  std::vector<int> owner_of_perturbation_;
  parallel::Range owned_;
  std::vector<std::int64_t> local_rows_, local_indptr_{0};
  std::vector<std::int32_t> local_cols_;
  std::vector<double> local_values_, local_size_factors_;
  bool perturbed_counts_released_ = false;
  double mean_total_ = 0.0;
};

}  // namespace perturbfit::data
