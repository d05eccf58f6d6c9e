// Turns a finished simulation into this rank's rows of the screen: counts drawn by the
// measurement operator, obs columns, and the per-cell ground truth. Rows are ordered by
// population class, then measure step, then draw order; ranks own contiguous class
// blocks, so each rank's rows are one contiguous block (whole perturbation groups).
#pragma once
#include <cstdint>
#include <vector>

#include "perturbfit/io/h5ad_writer.hpp"
#include "perturbfit/simulate/simulation.hpp"

namespace perturbfit::simulate {

struct ScreenRows {
  io::H5adBlock h5ad;
  // Ground truth per local row: which class and which measure snapshot the cell's latent
  // state is, and its library size factor.
  std::vector<std::int32_t> cell_class, cell_snapshot;
  std::vector<double> size_factor;
  std::vector<int> panel;  // model gene of each var column (measure.panel_*)
};

// Cells are drawn cells_per_chunk at a time (in parallel), each chunk's counts kept as one
// CSR piece, so the counts are held about once; the rows do not depend on it.
inline constexpr std::size_t kCellsPerDrawChunk = 4096;
ScreenRows assemble_screen(const Simulation& sim, const Reporter& reporter,
                           std::size_t cells_per_chunk = kCellsPerDrawChunk);

}  // namespace perturbfit::simulate
