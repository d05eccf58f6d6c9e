// The niche of an in vivo (or well-level in vitro) screen, MODEL.md section 7: the
// environment every cell of one animal sees is m = m_ext + n, with niche factors
// n = Gamma <h(x)>_w, the population-weighted mean over that animal's cells of the read-out
// h(x) = x on the ligand (secreting) genes. Niche factors enter f exactly as the medium
// does (through U and C), so n has the medium's K channels.
#pragma once
#include <string>
#include <vector>

namespace perturbfit::model {

struct NicheCoupling {
  std::vector<int> ligand_genes;  // L gene indices: h(x) = x[ligand_genes]
  std::vector<double> gamma;      // K x L, row-major: how each ligand moves each channel
  int ligands() const { return static_cast<int>(ligand_genes.size()); }
  // Throws UsageError if sizes disagree with K media channels and G genes, or a ligand
  // gene is out of range or repeated.
  void validate(int genes, int media) const;
};

}  // namespace perturbfit::model
