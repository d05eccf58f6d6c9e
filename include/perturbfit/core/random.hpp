// Counter-based random streams keyed by (seed, domain, entity id).
// A draw depends only on the key and its position in the stream, never on which rank
// makes it, so simulated data are identical for any number of ranks. The distributions
// are implemented here (not std::*_distribution) so results are also identical across
// standard libraries.
#pragma once
#include <cstdint>
#include <string>

namespace perturbfit {

enum class StreamDomain : std::uint64_t {
  kNetwork = 1,        // network topology and weights
  kGeneParams = 2,     // per-gene rates
  kGuide = 3,          // guide efficiencies
  kLibrary = 4,        // which genes are targeted
  kCellDraw = 5,       // which population class a sequenced cell comes from
  kCellCounts = 6,     // library size and counts of one cell
  kBatch = 7,          // batch offsets
  kStart = 8,          // multistart initial conditions
  kPassage = 9,        // bottleneck resampling
  kNeural = 10,        // neural correction weights
  kMeasureGene = 11,   // per-gene dispersion and dropout
  kSplit = 12,         // train / validation / test assignment of a perturbation
  kFitDirection = 13,  // random directions of the gradient check
  kPanel = 14,         // which genes a simulated panel measures
  kBaseline = 15,      // start of the subspace iteration of the PCA linear baseline
  kNiche = 16,         // ligand genes and the niche coupling Gamma
  kTransplant = 17,    // which cells each animal receives
  kFitNiche = 18,      // the fit's initial niche coupling
  kGuideCounts = 19,   // guide-abundance read-outs (count_guides)
  kCellTypes = 20,     // each cell type's activation bias
  kAssumptions = 21,   // sampling-noise draws of the assumption checks
  kPredictedCells = 22,  // cells sampled from predictions (predict --cells), keyed by row and cell
  kCoexpressionSketch = 23,  // signs of the knn support's sketch, keyed by training group
};

class RandomStream {
 public:
  RandomStream(std::uint64_t seed, StreamDomain domain, std::uint64_t id);

  std::uint64_t next_u64();
  double uniform();            // in (0, 1)
  double normal();             // standard normal
  double gamma(double shape);  // Gamma(shape, 1)
  std::uint64_t poisson(double mean);
  std::uint64_t negative_binomial(double mean, double size);  // Gamma-Poisson mixture
  std::uint64_t below(std::uint64_t n);                       // uniform integer in [0, n)

 private:
  std::uint64_t key_;
  std::uint64_t counter_ = 0;
};

// A stable 64-bit id of a name (FNV-1a), for streams keyed by a label (a guide, a
// perturbation) rather than by an index that depends on the library's order.
std::uint64_t stream_id(const std::string& name);

}  // namespace perturbfit
