#include "perturbfit/io/h5ad_writer.hpp"

#include <algorithm>
#include <limits>

#include "perturbfit/core/error.hpp"
#include "perturbfit/io/hdf5.hpp"

namespace perturbfit::io {

namespace {

void encoding(const H5File& f, const std::string& obj, const std::string& type, const std::string& version) {
  f.attr_string(obj, "encoding-type", type);
  f.attr_string(obj, "encoding-version", version);
}

// scipy (and so anndata) needs indices and indptr of one integer type: int32 while the
// number of stored counts fits, int64 beyond.
bool wide_index(std::int64_t nnz) { return nnz > std::numeric_limits<std::int32_t>::max(); }

template <class T>
std::vector<T> narrow(const std::vector<std::int64_t>& v) {
  return std::vector<T>(v.begin(), v.end());
}

bool dense_x(const H5adBlock& b) {
  return std::any_of(b.dense.begin(), b.dense.end(), [](const DenseMatrix& d) { return d.name == "X"; });
}
std::string dense_path(const DenseMatrix& d) { return d.name == "X" ? "/X" : "/layers/" + d.name; }

void create_structure(const H5adBlock& b, const H5File& f, std::int64_t nnz) {
  const auto n_obs = static_cast<hsize_t>(b.n_obs), n_var = static_cast<hsize_t>(b.var_names.size());
  encoding(f, "/", "anndata", "0.1.0");
  if (!dense_x(b)) {
    f.group("/X");
    encoding(f, "/X", "csr_matrix", "0.1.0");
    f.attr_int64s("/X", "shape", {b.n_obs, static_cast<std::int64_t>(n_var)});
    f.create<std::int32_t>("/X/data", {static_cast<hsize_t>(nnz)});
    if (wide_index(nnz)) {
      f.create<std::int64_t>("/X/indices", {static_cast<hsize_t>(nnz)});
      f.create<std::int64_t>("/X/indptr", {n_obs + 1});
    } else {
      f.create<std::int32_t>("/X/indices", {static_cast<hsize_t>(nnz)});
      f.create<std::int32_t>("/X/indptr", {n_obs + 1});
    }
  }

  f.group("/obs");
  encoding(f, "/obs", "dataframe", "0.2.0");
  f.attr_string("/obs", "_index", "_index");
  f.attr_strings("/obs", "column-order", b.column_order);
  f.write_strings("/obs/_index", b.obs_names);
  encoding(f, "/obs/_index", "string-array", "0.2.0");
  for (const auto& c : b.categorical) {
    const std::string g = "/obs/" + c.name;
    f.group(g);
    encoding(f, g, "categorical", "0.2.0");
    f.attr_bool(g, "ordered", false);
    f.write_strings(g + "/categories", c.categories);
    encoding(f, g + "/categories", "string-array", "0.2.0");
    f.create<std::int32_t>(g + "/codes", {n_obs});
    encoding(f, g + "/codes", "array", "0.2.0");
  }
  for (const auto& c : b.numeric) {
    f.create<double>("/obs/" + c.name, {n_obs});
    encoding(f, "/obs/" + c.name, "array", "0.2.0");
  }
  for (const auto& c : b.integer) {
    f.create<std::int64_t>("/obs/" + c.name, {n_obs});
    encoding(f, "/obs/" + c.name, "array", "0.2.0");
  }

  f.group("/var");
  encoding(f, "/var", "dataframe", "0.2.0");
  f.attr_string("/var", "_index", "_index");
  f.attr_strings("/var", "column-order", {});
  f.write_strings("/var/_index", b.var_names);
  encoding(f, "/var/_index", "string-array", "0.2.0");
  for (const char* g : {"/uns", "/obsm", "/varm", "/obsp", "/varp", "/layers"}) {
    f.group(g);
    encoding(f, g, "dict", "0.1.0");
  }
  for (const auto& d : b.dense) {
    f.create<double>(dense_path(d), {n_obs, n_var});
    encoding(f, dense_path(d), "array", "0.2.0");
  }
}

// This rank's rows of X and obs, into the file create_structure laid out.
void write_rows(const parallel::Comm& comm, const H5adBlock& b, const H5File& f, std::int64_t nnz,
                std::int64_t nnz_before) {
  for (const auto& d : b.dense) f.write_rows(dense_path(d), b.row_begin, d.values);
  for (const auto& c : b.categorical) f.write_rows("/obs/" + c.name + "/codes", b.row_begin, c.codes);
  for (const auto& c : b.numeric) f.write_rows("/obs/" + c.name, b.row_begin, c.values);
  for (const auto& c : b.integer) f.write_rows("/obs/" + c.name, b.row_begin, c.values);
  if (dense_x(b)) return;
  f.write_rows("/X/data", nnz_before, b.data);
  std::vector<std::int64_t> indptr(b.indptr.begin(), b.indptr.end() - 1);
  for (auto& v : indptr) v += nnz_before;
  const bool last = comm.rank() == comm.size() - 1;
  const std::vector<std::int64_t> tail = last ? std::vector<std::int64_t>{nnz} : std::vector<std::int64_t>{};
  if (wide_index(nnz)) {
    f.write_rows("/X/indices", nnz_before, std::vector<std::int64_t>(b.indices.begin(), b.indices.end()));
    f.write_rows("/X/indptr", b.row_begin, indptr);
    f.write_rows("/X/indptr", b.n_obs, tail);
  } else {
    f.write_rows("/X/indices", nnz_before, b.indices);
    f.write_rows("/X/indptr", b.row_begin, narrow<std::int32_t>(indptr));
    f.write_rows("/X/indptr", b.n_obs, narrow<std::int32_t>(tail));
  }
}

}  // namespace

void write_h5ad(const parallel::Comm& comm, const std::string& path, const H5adBlock& b, OutputSet* staged) {
  if (static_cast<std::int64_t>(b.indices.size()) != b.indptr.back() || b.indices.size() != b.data.size())
    throw Error(ExitCode::kInternal, "write_h5ad: inconsistent CSR block");
  for (const auto& d : b.dense)
    if (b.var_names.empty() || d.values.size() % b.var_names.size() != 0)
      throw Error(ExitCode::kInternal, "write_h5ad: dense matrix '" + d.name + "' is not rows x var");
  const std::int64_t nnz_local = b.indptr.back();
  const std::int64_t nnz = comm.sum(nnz_local), nnz_before = comm.exclusive_prefix_sum(nnz_local);
  write_h5_collectively(
      comm, path, [&](const H5File& f) { create_structure(b, f, nnz); },
      [&](const H5File& f) { write_rows(comm, b, f, nnz, nnz_before); }, staged);
}

}  // namespace perturbfit::io
