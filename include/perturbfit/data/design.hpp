// A screen's design: its perturbations (with the model node of each target) and its groups
// (perturbation x batch x time x medium); and how targets become model nodes, the one place
// that numbers the latent nodes.
#pragma once
#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace perturbfit::data {

struct Perturbation {
  std::string label;                 // as in the file; all control labels merge into one
  std::vector<std::string> targets;  // split on the separator; empty for controls
  std::vector<int> target_genes;     // index in genes(), -1 if not measured
  std::vector<int> target_nodes;     // model node: index in genes(), else genes().size() + index in latent_targets()
  bool control = false;
  bool excluded = false;  // dropped (missing targets with missing_targets = skip)
  std::int64_t cells = 0;
};

struct Group {
  int perturbation = 0, batch = 0, time = 0, medium = 0;
  std::int64_t cells = 0;
  int control_group = -1;  // same batch, time and medium; -1 if that batch has no controls
};

// The targets of a perturbation label: split on `separator`, trimmed, without control
// labels (GEARS writes singles as 'A+ctrl'); empty for a control ('ctrl+ctrl').
std::vector<std::string> label_targets(const std::string& label, const std::string& separator,
                                       const std::set<std::string>& control_labels);

// The perturbations of a screen from its perturbation column: every control label (and
// every label whose targets are all control labels, 'ctrl+ctrl') merges into perturbation
// 0; the others keep their order, with their targets split off the label and their cells
// counted. `perturbations` is empty when no control label occurs.
struct Classification {
  std::vector<Perturbation> perturbations;
  std::vector<std::int32_t> cell_perturbation;    // per cell, into perturbations
  std::vector<std::string> control_labels_found;  // in the column's order
};
Classification classify_perturbations(const std::vector<std::string>& labels,
                                      const std::vector<std::int32_t>& cell_label,
                                      const std::set<std::string>& control_labels, const std::string& separator);

// Cells grouped by (perturbation, batch, time, medium), groups in that lexicographic order;
// each group's control group is the one of perturbation 0 (the controls) with the same
// batch, time and medium, or -1 when there is none.
struct Grouping {
  std::vector<Group> groups;
  std::vector<std::int32_t> cell_group;  // per cell
};
Grouping group_cells(const std::vector<std::int32_t>& perturbation, const std::vector<std::int32_t>& batch,
                     const std::vector<std::int32_t>& time, const std::vector<std::int32_t>& medium);

// Batches with cells but no control cells (their offset is unidentifiable), in batch order.
std::vector<std::string> batches_without_controls(const std::vector<Group>& groups,
                                                  const std::vector<Perturbation>& perturbations,
                                                  const std::vector<std::string>& batches);

// Every target of `perturbations` that is not in `genes`, sorted.
std::vector<std::string> missing_targets(const std::vector<std::string>& genes,
                                         const std::vector<Perturbation>& perturbations);

// Sets target_genes and target_nodes of every perturbation: a target in `genes` is that
// gene (node = gene index); with missing_policy "latent" a missing target is the latent node
// genes.size() + its index in the returned list (missing_targets' order); otherwise it has
// node -1, and with "skip" its perturbation is excluded. Returns the latent nodes' names
// (empty unless "latent").
std::vector<std::string> assign_target_nodes(const std::vector<std::string>& genes, const std::string& missing_policy,
                                             std::vector<Perturbation>& perturbations);

}  // namespace perturbfit::data
