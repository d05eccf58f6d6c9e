// Guide-abundance observations for fitting fitness (MODEL.md section 7): from a guide count
// table (io/guide_count_table.hpp), per series (a batch label and a medium: one culture or
// one animal) and perturbation of the screen, the log change of its guides' share between
// the series' first and last sample, relative to the series' control guides:
//   y = log((c1 + 1/2) / (c0 + 1/2)) - log((C1 + 1/2) / (C0 + 1/2))
// (c: the perturbation's reads summed over its guides, C: the control guides' reads). At
// steady states during the interval, y = dt * phi . (x_p - x_control): the baseline growth
// r0 and the sequencing depth of each sample cancel. Its variance, from Poisson counting,
//   v = 1/(c1 + 1/2) + 1/(c0 + 1/2) + 1/(C1 + 1/2) + 1/(C0 + 1/2).
#pragma once
#include <string>
#include <vector>

#include "perturbfit/data/design.hpp"
#include "perturbfit/io/guide_count_table.hpp"

namespace perturbfit::data {

struct AbundanceObservation {
  int perturbation = 0;  // index in the screen's perturbations (never a control)
  int batch = -1;        // the series' batch in the screen; -1: a label the screen has no cells of ("population")
  int medium = 0;        // index in the screen's media
  double dt = 0;         // time between the series' first and last sample
  double log_ratio = 0;  // y above
  double variance = 0;   // v above
  std::string series;    // the series' batch label, for messages
};

struct AbundanceTable {
  std::vector<AbundanceObservation> observations;
  std::size_t unknown_perturbations = 0;  // labels of the table the screen has no cells of (skipped)
  std::size_t series = 0;
};

// DataError (naming the file, the series and what to change) for a series with samples at
// one time only, without control guides, or a medium that is not the screen's.
AbundanceTable abundance_observations(const std::vector<io::GuideCountRow>& rows, const std::string& file,
                                      const std::vector<Perturbation>& perturbations,
                                      const std::vector<std::string>& batches, const std::vector<std::string>& media,
                                      const std::vector<std::string>& control_labels);

}  // namespace perturbfit::data
