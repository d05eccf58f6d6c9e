// Writes an AnnData .h5ad file (anndata >= 0.8 on-disk format) from row blocks held by
// the ranks: X as CSR counts (cells) or as a dense float matrix (pseudo-bulk rows: one per
// perturbation, never one per cell), dense layers, obs as a dataframe with categorical and
// numeric columns, var names.
// Rank 0 writes the structure and strings; all ranks then write their rows collectively.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "perturbfit/io/atomic_file.hpp"
#include "perturbfit/parallel/comm.hpp"

namespace perturbfit::io {

struct CategoricalColumn {
  std::string name;
  std::vector<std::string> categories;
  std::vector<std::int32_t> codes;  // this rank's rows
};
struct NumericColumn {
  std::string name;
  std::vector<double> values;
};
struct IntegerColumn {
  std::string name;
  std::vector<std::int64_t> values;
};

// Rows x var values of this rank's rows, row-major: X (name "X") or layers/<name>.
struct DenseMatrix {
  std::string name;
  std::vector<double> values;
};

struct H5adBlock {
  std::int64_t n_obs = 0;      // all ranks
  std::int64_t row_begin = 0;  // first row of this rank
  std::vector<std::string> var_names;
  std::vector<std::string> obs_names;   // every row; needed on rank 0 only
  std::vector<std::int64_t> indptr{0};  // this rank's rows, starting at 0
  std::vector<std::int32_t> indices;
  std::vector<std::int32_t> data;
  std::vector<DenseMatrix> dense;  // with one named "X", X is dense and the CSR fields stay empty
  std::vector<CategoricalColumn> categorical;
  std::vector<NumericColumn> numeric;
  std::vector<IntegerColumn> integer;
  std::vector<std::string> column_order;  // obs column order
};

// Collective; published now, or staged in `staged` to be published with the rest of its set.
void write_h5ad(const parallel::Comm& comm, const std::string& path, const H5adBlock& block,
                OutputSet* staged = nullptr);

}  // namespace perturbfit::io
