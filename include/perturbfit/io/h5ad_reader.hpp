// Reads AnnData .h5ad files: the count matrix (X, a layer or raw/X; CSR, CSC or dense; any
// integer or float type) and obs/var columns (categorical in both the anndata >= 0.8 group
// encoding and the older __categories form, string and numeric arrays). The file is opened
// with MPI-IO; obs columns are read whole by every rank, the matrix in slices.
// Malformed files raise DataError naming the file and the object.
#pragma once
#include <mpi.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "perturbfit/io/hdf5.hpp"
#include "perturbfit/parallel/comm.hpp"
#include "perturbfit/parallel/exchange.hpp"

namespace perturbfit::io {

enum class MatrixEncoding { kCsr, kCsc, kDense };
const char* to_string(MatrixEncoding e);

struct MatrixLayout {
  std::string source;  // "X", "layers/<name>" or "raw/X"
  std::string group;   // HDF5 path of the matrix (group for sparse, dataset for dense)
  MatrixEncoding encoding = MatrixEncoding::kCsr;
  std::string dtype;  // e.g. "float32", "int64"
  bool integer_type = false;
  std::int64_t rows = 0, cols = 0;
  std::int64_t nnz = 0;  // stored entries (rows * cols for dense)
};

// A column of obs or var, as categories and per-row codes (-1 = missing), plus the numeric
// values when the column is numeric.
struct Column {
  std::string name;
  std::vector<std::string> categories;
  std::vector<std::int32_t> codes;
  std::vector<double> numeric;  // empty unless the column is numeric
  std::string encoding;         // categorical | categorical-legacy | string-array | numeric
};

// Triplets of a slice of the matrix, in global row/column numbers (the entries that
// parallel::Exchange moves to the ranks owning their rows).
using MatrixSlice = parallel::SparseEntries;

class H5adReader {
 public:
  // `layer`: "" for X, "raw" for raw/X, otherwise layers/<layer>.
  H5adReader(const std::string& path, MPI_Comm comm, const std::string& layer = "");
  const std::string& path() const { return path_; }
  const MatrixLayout& matrix() const { return layout_; }

  std::vector<std::string> var_names() const;
  std::vector<std::string> obs_names_slice(std::int64_t begin, std::int64_t count) const;
  std::vector<std::string> obs_columns() const;
  bool has_obs_column(const std::string& name) const;
  Column obs_column(const std::string& name) const;  // DataError if absent

  // This rank's share of the matrix, streamed in chunks of at most `chunk` stored values
  // (independent reads): CSR and dense are split by rows balanced by stored entries, CSC by
  // columns. `sink` gets global row and column ids. Checks indptr and indices. Returns the
  // number of chunks delivered.
  using ChunkSink = std::function<void(const MatrixSlice&)>;
  std::int64_t stream_share(int rank, int nranks, std::int64_t chunk, const ChunkSink& sink) const;
  // Stored values per row: from indptr for CSR; counted by streaming (all ranks) otherwise.
  std::vector<std::int64_t> row_counts(const parallel::Comm& comm, std::int64_t chunk) const;

 private:
  std::string path_;
  MPI_Comm comm_;
  H5Id file_;
  MatrixLayout layout_;
  std::string var_group_ = "/var";
};

}  // namespace perturbfit::io
