#include "perturbfit/io/h5ad_reader.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "perturbfit/core/error.hpp"
#include "perturbfit/parallel/decomposition.hpp"

namespace perturbfit::io {

const char* to_string(MatrixEncoding e) {
  switch (e) {
    case MatrixEncoding::kCsr:
      return "csr";
    case MatrixEncoding::kCsc:
      return "csc";
    case MatrixEncoding::kDense:
      return "dense";
  }
  return "?";
}

namespace {

bool exists(hid_t file, const std::string& path) {
  std::string so_far;
  std::stringstream ss(path);
  for (std::string part; std::getline(ss, part, '/');) {
    if (part.empty()) continue;
    so_far += "/" + part;
    if (H5Lexists(file, so_far.c_str(), H5P_DEFAULT) <= 0) return false;
  }
  return true;
}

std::vector<std::string> member_names(hid_t file, const std::string& group) {
  std::vector<std::string> names;
  H5Id g(H5Gopen2(file, group.c_str(), H5P_DEFAULT), H5Gclose);
  if (!g.valid()) return names;
  H5Literate(
      g, H5_INDEX_NAME, H5_ITER_NATIVE, nullptr,
      [](hid_t, const char* name, const H5L_info_t*, void* op) -> herr_t {
        static_cast<std::vector<std::string>*>(op)->push_back(name);
        return 0;
      },
      &names);
  return names;
}

H5I_type_t object_type(hid_t file, const std::string& path) {
  H5Id o(H5Oopen(file, path.c_str(), H5P_DEFAULT), H5Oclose);
  return o.valid() ? H5Iget_type(o) : H5I_BADID;
}

// A string attribute (variable or fixed length); "" if absent or not a string.
std::string attr_string(hid_t file, const std::string& obj, const std::string& name) {
  if (H5Aexists_by_name(file, obj.c_str(), name.c_str(), H5P_DEFAULT) <= 0) return "";
  H5Id a(H5Aopen_by_name(file, obj.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  H5Id t(H5Aget_type(a), H5Tclose), s(H5Aget_space(a), H5Sclose);
  if (H5Tget_class(t) != H5T_STRING || H5Sget_simple_extent_npoints(s) != 1) return "";
  if (H5Tis_variable_str(t) > 0) {
    H5Id mt(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mt, H5T_VARIABLE);
    H5Tset_cset(mt, H5Tget_cset(t));  // HDF5 converts neither way between ASCII and UTF-8
    char* p = nullptr;
    if (H5Aread(a, mt, &p) < 0 || !p) return "";
    std::string out(p);
    H5free_memory(p);
    return out;
  }
  const std::size_t n = H5Tget_size(t);
  std::string buf(n, '\0');
  H5Id mt(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(mt, n);
  H5Tset_cset(mt, H5Tget_cset(t));
  if (H5Aread(a, mt, buf.data()) < 0) return "";
  return buf.substr(0, buf.find('\0'));
}

std::vector<std::int64_t> attr_int64s(hid_t file, const std::string& obj, const std::string& name) {
  if (H5Aexists_by_name(file, obj.c_str(), name.c_str(), H5P_DEFAULT) <= 0) return {};
  H5Id a(H5Aopen_by_name(file, obj.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  H5Id s(H5Aget_space(a), H5Sclose);
  const auto n = H5Sget_simple_extent_npoints(s);
  if (n <= 0 || n > 16) return {};
  std::vector<std::int64_t> v(static_cast<std::size_t>(n));
  if (H5Aread(a, H5T_NATIVE_INT64, v.data()) < 0) return {};
  return v;
}

struct Dataset {
  H5Id id;
  std::int64_t length = 0;  // first dimension
  int rank = 0;
  std::vector<hsize_t> dims;
};

Dataset open_dataset(hid_t file, const std::string& path, const std::string& where) {
  Dataset d;
  d.id = H5Id(H5Dopen2(file, path.c_str(), H5P_DEFAULT), H5Dclose);
  if (!d.id.valid()) throw DataError(where + ": cannot open dataset " + path);
  H5Id s(H5Dget_space(d.id), H5Sclose);
  d.rank = H5Sget_simple_extent_ndims(s);
  if (d.rank < 0) throw DataError(where + ": unreadable dataspace of " + path);
  d.dims.resize(static_cast<std::size_t>(d.rank));
  H5Sget_simple_extent_dims(s, d.dims.data(), nullptr);
  d.length = d.rank > 0 ? static_cast<std::int64_t>(d.dims[0]) : 1;
  return d;
}

// Reads elements [begin, begin + count) of a 1-D dataset, converting to T.
template <class T>
std::vector<T> read_range(const Dataset& d, std::int64_t begin, std::int64_t count, hid_t mem_type,
                          const std::string& where, bool collective = false) {
  H5Id fspace(H5Dget_space(d.id), H5Sclose);
  std::vector<T> out(static_cast<std::size_t>(std::max<std::int64_t>(count, 0)));
  const hsize_t start = static_cast<hsize_t>(begin), n = static_cast<hsize_t>(out.size());
  H5Id mspace(H5Screate_simple(1, &n, nullptr), H5Sclose);
  if (n == 0) {
    H5Sselect_none(fspace);
    H5Sselect_none(mspace);
  } else if (begin < 0 || begin + count > d.length ||
             H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, nullptr, &n, nullptr) < 0) {
    throw DataError(where + ": range out of bounds");
  }
  H5Id dxpl(H5Pcreate(H5P_DATASET_XFER), H5Pclose);
  if (collective) H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
  T dummy{};
  if (H5Dread(d.id, mem_type, mspace, fspace, dxpl, n ? static_cast<void*>(out.data()) : &dummy) < 0)
    throw DataError(where + ": cannot read (corrupt or truncated file?)");
  return out;
}

std::vector<std::string> read_strings(const Dataset& d, std::int64_t begin, std::int64_t count,
                                      const std::string& where) {
  H5Id t(H5Dget_type(d.id), H5Tclose);
  if (H5Tget_class(t) != H5T_STRING) throw DataError(where + " is not an array of strings");
  H5Id fspace(H5Dget_space(d.id), H5Sclose);
  const hsize_t start = static_cast<hsize_t>(begin), n = static_cast<hsize_t>(count);
  if (begin < 0 || begin + count > d.length) throw DataError(where + ": range out of bounds");
  std::vector<std::string> out;
  if (n == 0) return out;
  H5Sselect_hyperslab(fspace, H5S_SELECT_SET, &start, nullptr, &n, nullptr);
  H5Id mspace(H5Screate_simple(1, &n, nullptr), H5Sclose);
  out.reserve(n);
  if (H5Tis_variable_str(t) > 0) {
    H5Id mt(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mt, H5T_VARIABLE);
    H5Tset_cset(mt, H5Tget_cset(t));
    std::vector<char*> p(n, nullptr);
    if (H5Dread(d.id, mt, mspace, fspace, H5P_DEFAULT, p.data()) < 0)
      throw DataError(where + ": cannot read strings (corrupt or truncated file?)");
    for (char* s : p) out.emplace_back(s ? s : "");
    H5Dvlen_reclaim(mt, mspace, H5P_DEFAULT, p.data());
  } else {
    const std::size_t len = H5Tget_size(t);
    if (len == 0 || len > (1u << 20)) throw DataError(where + ": implausible string length");
    H5Id mt(H5Tcopy(H5T_C_S1), H5Tclose);
    H5Tset_size(mt, len);
    H5Tset_cset(mt, H5Tget_cset(t));
    std::vector<char> buf(n * len);
    if (H5Dread(d.id, mt, mspace, fspace, H5P_DEFAULT, buf.data()) < 0)
      throw DataError(where + ": cannot read strings (corrupt or truncated file?)");
    for (hsize_t i = 0; i < n; ++i) {
      std::string s(buf.data() + i * len, len);
      out.push_back(s.substr(0, s.find('\0')));
    }
  }
  return out;
}

std::string dtype_name(hid_t type, bool& integer) {
  const H5T_class_t c = H5Tget_class(type);
  const std::size_t bits = H5Tget_size(type) * 8;
  integer = c == H5T_INTEGER;
  if (c == H5T_INTEGER) return std::string(H5Tget_sign(type) == H5T_SGN_NONE ? "uint" : "int") + std::to_string(bits);
  if (c == H5T_FLOAT) return "float" + std::to_string(bits);
  return "unsupported";
}

std::string format_number(double v) {
  std::ostringstream os;
  os.precision(12);
  os << v;
  return os.str();
}

// Unique labels in order of first appearance -> categories and codes.
void factorize(const std::vector<std::string>& values, Column& c) {
  std::map<std::string, std::int32_t> index;
  c.codes.reserve(values.size());
  for (const auto& v : values) {
    auto [it, inserted] = index.emplace(v, static_cast<std::int32_t>(c.categories.size()));
    if (inserted) c.categories.push_back(v);
    c.codes.push_back(it->second);
  }
}

void check_codes(const Column& c, const std::string& where) {
  const auto n = static_cast<std::int32_t>(c.categories.size());
  for (std::size_t i = 0; i < c.codes.size(); ++i)
    if (c.codes[i] < -1 || c.codes[i] >= n)
      throw DataError(where + ": code " + std::to_string(c.codes[i]) + " of row " + std::to_string(i) +
                      " is outside the " + std::to_string(n) + " categories");
}

std::vector<std::string> read_category_labels(hid_t file, const std::string& path, const std::string& where) {
  const Dataset d = open_dataset(file, path, where);
  H5Id t(H5Dget_type(d.id), H5Tclose);
  if (H5Tget_class(t) == H5T_STRING) return read_strings(d, 0, d.length, where);
  std::vector<std::string> out;
  for (double v : read_range<double>(d, 0, d.length, H5T_NATIVE_DOUBLE, where)) out.push_back(format_number(v));
  return out;
}

}  // namespace

H5adReader::H5adReader(const std::string& path, MPI_Comm comm, const std::string& layer) : path_(path), comm_(comm) {
  const htri_t is = H5Fis_hdf5(path.c_str());
  if (is < 0) throw DataError("cannot open '" + path + "': no such file or not readable");
  if (is == 0) throw DataError("'" + path + "' is not an HDF5 file (an .h5ad written by anndata is; truncated?)");
  H5Id fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
  file_ = H5Id(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl), H5Fclose);
  if (!file_.valid()) throw DataError("cannot open '" + path + "' as HDF5 (truncated or corrupt?)");

  auto& L = layout_;
  if (layer.empty())
    L.source = "X", L.group = "/X";
  else if (layer == "raw")
    L.source = "raw/X", L.group = "/raw/X", var_group_ = "/raw/var";
  else
    L.source = "layers/" + layer, L.group = "/layers/" + layer;
  const std::string where = path + ": " + L.source;
  if (!exists(file_, L.group)) {
    std::string msg = path + " has no " + L.source;
    if (!layer.empty() && exists(file_, "/layers")) {
      std::string list;
      for (const auto& n : member_names(file_, "/layers")) list += (list.empty() ? "" : ", ") + n;
      msg += " (layers in the file: " + (list.empty() ? std::string("none") : list) + ")";
    }
    throw DataError(msg + "; set data.layer or pass --layer");
  }
  const H5I_type_t type = object_type(file_, L.group);
  if (type == H5I_GROUP) {
    std::string enc = attr_string(file_, L.group, "encoding-type");
    if (enc.empty()) enc = attr_string(file_, L.group, "h5sparse_format") + "_matrix";  // anndata < 0.8
    if (enc == "csr_matrix")
      L.encoding = MatrixEncoding::kCsr;
    else if (enc == "csc_matrix")
      L.encoding = MatrixEncoding::kCsc;
    else
      throw DataError(where + " is a group with unknown encoding '" + enc + "' (expected csr_matrix or csc_matrix)");
    auto shape = attr_int64s(file_, L.group, "shape");
    if (shape.size() != 2) shape = attr_int64s(file_, L.group, "h5sparse_shape");
    if (shape.size() != 2 || shape[0] < 0 || shape[1] < 0) throw DataError(where + " has no valid 'shape' attribute");
    L.rows = shape[0], L.cols = shape[1];
    for (const char* part : {"data", "indices", "indptr"})
      if (!exists(file_, L.group + "/" + part)) throw DataError(where + " is sparse but has no '" + part + "'");
    const Dataset data = open_dataset(file_, L.group + "/data", where);
    L.nnz = data.length;
    H5Id t(H5Dget_type(data.id), H5Tclose);
    L.dtype = dtype_name(t, L.integer_type);
  } else if (type == H5I_DATASET) {
    L.encoding = MatrixEncoding::kDense;
    const Dataset d = open_dataset(file_, L.group, where);
    if (d.rank != 2)
      throw DataError(where + " is a dataset of rank " + std::to_string(d.rank) + ", expected a 2-D matrix");
    L.rows = static_cast<std::int64_t>(d.dims[0]), L.cols = static_cast<std::int64_t>(d.dims[1]);
    L.nnz = L.rows * L.cols;
    H5Id t(H5Dget_type(d.id), H5Tclose);
    L.dtype = dtype_name(t, L.integer_type);
  } else {
    throw DataError(where + " is neither a matrix group nor a dataset");
  }
  if (L.dtype == "unsupported") throw DataError(where + " holds values that are neither integers nor floats");
}

std::vector<std::string> H5adReader::var_names() const {
  std::string index = attr_string(file_, var_group_, "_index");
  if (index.empty()) index = "_index";
  const std::string p = var_group_ + "/" + index;
  if (!exists(file_, p)) throw DataError(path_ + ": no var names (" + p + ")");
  const Dataset d = open_dataset(file_, p, path_);
  auto names = read_strings(d, 0, d.length, path_ + ": " + p);
  if (static_cast<std::int64_t>(names.size()) != layout_.cols)
    throw DataError(path_ + ": " + std::to_string(names.size()) + " var names for " + std::to_string(layout_.cols) +
                    " columns of " + layout_.source);
  return names;
}

std::vector<std::string> H5adReader::obs_names_slice(std::int64_t begin, std::int64_t count) const {
  std::string index = attr_string(file_, "/obs", "_index");
  if (index.empty()) index = "_index";
  const std::string p = "/obs/" + index;
  if (!exists(file_, p)) return std::vector<std::string>(static_cast<std::size_t>(count), "?");
  const Dataset d = open_dataset(file_, p, path_);
  return read_strings(d, begin, count, path_ + ": " + p);
}

std::vector<std::string> H5adReader::obs_columns() const {
  if (!exists(file_, "/obs")) throw DataError(path_ + " has no obs group");
  std::vector<std::string> names;
  for (auto& n : member_names(file_, "/obs"))
    if (n != "_index" && n != "__categories") names.push_back(n);
  return names;
}

bool H5adReader::has_obs_column(const std::string& name) const {
  return !name.empty() && exists(file_, "/obs/" + name);
}

Column H5adReader::obs_column(const std::string& name) const {
  const std::string p = "/obs/" + name, where = path_ + ": obs column '" + name + "'";
  if (!has_obs_column(name)) {
    std::string list;
    for (const auto& c : obs_columns()) list += (list.empty() ? "" : ", ") + c;
    throw DataError("obs column '" + name + "' not found in " + path_ + " (columns: " + list + ")");
  }
  Column c;
  c.name = name;
  const H5I_type_t type = object_type(file_, p);
  if (type == H5I_GROUP) {
    const std::string enc = attr_string(file_, p, "encoding-type");
    if (enc != "categorical")
      throw DataError(where + " has encoding '" + enc +
                      "', which perturbfit does not read (use a categorical, string or numeric column)");
    c.encoding = "categorical";
    c.categories = read_category_labels(file_, p + "/categories", where);
    const Dataset codes = open_dataset(file_, p + "/codes", where);
    c.codes = read_range<std::int32_t>(codes, 0, codes.length, H5T_NATIVE_INT32, where);
  } else if (type == H5I_DATASET) {
    const Dataset d = open_dataset(file_, p, where);
    if (d.rank != 1) throw DataError(where + " is not a 1-D column");
    H5Id t(H5Dget_type(d.id), H5Tclose);
    const H5T_class_t cls = H5Tget_class(t);
    if (exists(file_, "/obs/__categories/" + name)) {  // anndata < 0.8
      c.encoding = "categorical-legacy";
      c.categories = read_category_labels(file_, "/obs/__categories/" + name, where);
      c.codes = read_range<std::int32_t>(d, 0, d.length, H5T_NATIVE_INT32, where);
    } else if (cls == H5T_STRING) {
      c.encoding = "string-array";
      factorize(read_strings(d, 0, d.length, where), c);
    } else if (cls == H5T_INTEGER || cls == H5T_FLOAT || cls == H5T_ENUM) {
      c.encoding = "numeric";
      if (cls == H5T_ENUM) {  // h5py's booleans
        const auto v = read_range<std::int8_t>(d, 0, d.length, H5T_NATIVE_INT8, where);
        c.numeric.assign(v.begin(), v.end());
      } else {
        c.numeric = read_range<double>(d, 0, d.length, H5T_NATIVE_DOUBLE, where);
      }
      std::vector<std::string> labels;
      labels.reserve(c.numeric.size());
      for (double v : c.numeric) labels.push_back(format_number(v));
      factorize(labels, c);
    } else {
      throw DataError(where + " has an unsupported element type");
    }
  } else {
    throw DataError(where + " is neither a group nor a dataset");
  }
  if (static_cast<std::int64_t>(c.codes.size()) != layout_.rows)
    throw DataError(where + " has " + std::to_string(c.codes.size()) + " rows, but " + layout_.source + " has " +
                    std::to_string(layout_.rows));
  check_codes(c, where);
  return c;
}

std::int64_t H5adReader::stream_share(int rank, int nranks, std::int64_t chunk, const ChunkSink& sink) const {
  const auto& L = layout_;
  const std::string where = path_ + ": " + L.source;
  MatrixSlice s;
  std::int64_t chunks = 0;
  auto flush = [&] {
    sink(s);
    ++chunks;
    s.row.clear(), s.col.clear(), s.value.clear();
  };
  if (L.encoding == MatrixEncoding::kDense) {
    const Dataset d = open_dataset(file_, L.group, where);
    const auto range = parallel::block_range(static_cast<std::size_t>(L.rows), nranks, rank);
    const std::int64_t block = std::max<std::int64_t>(1, chunk / std::max<std::int64_t>(L.cols, 1));
    for (auto r0 = static_cast<std::int64_t>(range.begin); r0 < static_cast<std::int64_t>(range.end); r0 += block) {
      const std::int64_t nr = std::min<std::int64_t>(block, static_cast<std::int64_t>(range.end) - r0);
      H5Id fspace(H5Dget_space(d.id), H5Sclose);
      const hsize_t start[2] = {static_cast<hsize_t>(r0), 0},
                    count[2] = {static_cast<hsize_t>(nr), static_cast<hsize_t>(L.cols)};
      H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, nullptr, count, nullptr);
      H5Id mspace(H5Screate_simple(2, count, nullptr), H5Sclose);
      std::vector<double> buf(static_cast<std::size_t>(nr * L.cols));
      if (!buf.empty() && H5Dread(d.id, H5T_NATIVE_DOUBLE, mspace, fspace, H5P_DEFAULT, buf.data()) < 0)
        throw DataError(where + ": cannot read rows (corrupt or truncated file?)");
      for (std::int64_t i = 0; i < nr; ++i)
        for (std::int64_t j = 0; j < L.cols; ++j) {
          const double v = buf[static_cast<std::size_t>(i * L.cols + j)];
          if (v != 0.0) s.row.push_back(r0 + i), s.col.push_back(static_cast<std::int32_t>(j)), s.value.push_back(v);
        }
      flush();
    }
    return chunks;
  }
  const bool csr = L.encoding == MatrixEncoding::kCsr;
  const std::int64_t major = csr ? L.rows : L.cols, minor = csr ? L.cols : L.rows;
  const Dataset indptr_d = open_dataset(file_, L.group + "/indptr", where);
  if (indptr_d.length != major + 1)
    throw DataError(where + "/indptr has " + std::to_string(indptr_d.length) + " entries, expected " +
                    std::to_string(major + 1));
  const auto indptr = read_range<std::int64_t>(indptr_d, 0, indptr_d.length, H5T_NATIVE_INT64, where + "/indptr");
  if (indptr.front() != 0 || indptr.back() != L.nnz)
    throw DataError(where + "/indptr must start at 0 and end at the number of stored values (" + std::to_string(L.nnz) +
                    ")");
  std::vector<double> weight(static_cast<std::size_t>(major));
  for (std::int64_t i = 0; i < major; ++i) {
    if (indptr[static_cast<std::size_t>(i) + 1] < indptr[static_cast<std::size_t>(i)])
      throw DataError(where + "/indptr is not monotone at position " + std::to_string(i + 1));
    weight[static_cast<std::size_t>(i)] =
        static_cast<double>(indptr[static_cast<std::size_t>(i) + 1] - indptr[static_cast<std::size_t>(i)]) + 1.0;
  }
  const auto range = parallel::weighted_block_ranges(weight, nranks)[static_cast<std::size_t>(rank)];
  weight = {};
  const Dataset data_d = open_dataset(file_, L.group + "/data", where),
                idx_d = open_dataset(file_, L.group + "/indices", where);
  if (idx_d.length != L.nnz) throw DataError(where + "/indices and data differ in length");
  // Chunks end at major boundaries (a row or column is never split), unless one alone is larger.
  std::size_t m = range.begin;
  while (m < range.end) {
    std::size_t m_end = m + 1;
    while (m_end < range.end && indptr[m_end + 1] - indptr[m] <= chunk) ++m_end;
    const std::int64_t b = indptr[m], e = indptr[m_end];
    s.value = read_range<double>(data_d, b, e - b, H5T_NATIVE_DOUBLE, where + "/data");
    const auto idx = read_range<std::int64_t>(idx_d, b, e - b, H5T_NATIVE_INT64, where + "/indices");
    s.row.resize(idx.size());
    s.col.resize(idx.size());
    for (std::size_t q = m; q < m_end; ++q)
      for (auto k = indptr[q]; k < indptr[q + 1]; ++k) {
        const auto local = static_cast<std::size_t>(k - b);
        const std::int64_t j = idx[local];
        if (j < 0 || j >= minor)
          throw DataError(where + "/indices[" + std::to_string(k) + "] = " + std::to_string(j) +
                          " is out of range [0, " + std::to_string(minor) + ")");
        s.row[local] = csr ? static_cast<std::int64_t>(q) : j;
        s.col[local] = static_cast<std::int32_t>(csr ? j : static_cast<std::int64_t>(q));
      }
    flush();
    m = m_end;
  }
  return chunks;
}

std::vector<std::int64_t> H5adReader::row_counts(const parallel::Comm& comm, std::int64_t chunk) const {
  const auto& L = layout_;
  std::vector<std::int64_t> counts(static_cast<std::size_t>(L.rows), 0);
  if (L.encoding == MatrixEncoding::kCsr) {
    const Dataset d = open_dataset(file_, L.group + "/indptr", path_);
    if (d.length != L.rows + 1) throw DataError(path_ + ": " + L.source + "/indptr has the wrong length");
    const auto indptr = read_range<std::int64_t>(d, 0, d.length, H5T_NATIVE_INT64, path_ + ": indptr");
    for (std::size_t r = 0; r < counts.size(); ++r) counts[r] = indptr[r + 1] - indptr[r];
    return counts;
  }
  std::string problem;
  try {
    stream_share(comm.rank(), comm.size(), chunk, [&](const MatrixSlice& s) {
      for (auto r : s.row) ++counts[static_cast<std::size_t>(r)];
    });
  } catch (const Error& e) {
    problem = e.what();
  }
  comm.rethrow_any(problem, static_cast<int>(ExitCode::kData));
  comm.sum_in_place(counts);
  return counts;
}

}  // namespace perturbfit::io
