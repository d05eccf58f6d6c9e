#include "perturbfit/io/hdf5.hpp"

#include <atomic>

#include <algorithm>
#include <numeric>

#include "perturbfit/core/error.hpp"
#include "perturbfit/io/atomic_file.hpp"
#include "perturbfit/parallel/comm.hpp"

namespace perturbfit::io {

H5Id& H5Id::operator=(H5Id&& o) noexcept {
  if (this != &o) {
    reset();
    id_ = o.id_, closer_ = o.closer_;
    o.id_ = -1;
  }
  return *this;
}

namespace {
std::atomic<bool> file_close_failed{false};
}  // namespace

bool hdf5_file_close_failed() { return file_close_failed.load(); }

void H5Id::reset() {
  if (id_ >= 0 && closer_ && closer_(id_) < 0 && closer_ == H5Fclose) file_close_failed = true;
  id_ = -1;
}

void silence_hdf5_errors() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

template <>
hid_t h5_type<double>() {
  return H5T_NATIVE_DOUBLE;
}
template <>
hid_t h5_type<float>() {
  return H5T_NATIVE_FLOAT;
}
template <>
hid_t h5_type<std::int32_t>() {
  return H5T_NATIVE_INT32;
}
template <>
hid_t h5_type<std::int64_t>() {
  return H5T_NATIVE_INT64;
}
template <>
hid_t h5_type<std::int8_t>() {
  return H5T_NATIVE_INT8;
}

namespace {

hid_t check(hid_t id, const std::string& what, const std::string& path) {
  if (id < 0) throw IOError("HDF5: cannot " + what + " in '" + path + "'");
  return id;
}

H5Id string_type() {
  H5Id t(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(t, H5T_VARIABLE);
  H5Tset_cset(t, H5T_CSET_UTF8);
  return t;
}

std::vector<const char*> c_strings(const std::vector<std::string>& values) {
  std::vector<const char*> p;
  p.reserve(values.size());
  for (const auto& s : values) p.push_back(s.c_str());
  return p;
}

}  // namespace

H5File H5File::create_serial(const std::string& path) {
  discard_partial(path);
  H5Id fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  if (H5Pset_fapl_core(fapl, 1 << 20, false) < 0)
    throw IOError("HDF5: cannot set up an in-memory file for '" + path + "'");
  hid_t f = H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl);
  return H5File(H5Id(check(f, "create the file", path), H5Fclose), path, true);
}

void H5File::close() {
  if (!file_.valid()) return;
  if (!in_memory_) {
    if (H5Fclose(file_.release()) < 0) {
      file_close_failed = true;
      throw IOError("cannot finish writing '" + path_ + "' (HDF5 could not flush it: disk full or quota?)");
    }
    return;
  }
  if (H5Fflush(file_, H5F_SCOPE_LOCAL) < 0) throw IOError("HDF5: cannot finish the image of '" + path_ + "'");
  const ssize_t size = H5Fget_file_image(file_, nullptr, 0);
  if (size < 0) throw IOError("HDF5: cannot get the image of '" + path_ + "'");
  std::vector<char> image(static_cast<std::size_t>(size));
  if (H5Fget_file_image(file_, image.data(), image.size()) != size)
    throw IOError("HDF5: cannot get the image of '" + path_ + "'");
  file_.reset();  // in memory: closing cannot meet the disk
  write_partial(path_, image.data(), image.size());
}

void write_h5_serially(const std::filesystem::path& path, const std::function<void(const H5File&)>& body,
                       OutputSet* staged) {
  const auto partial = partial_path(path);
  auto f = H5File::create_serial(partial.string());
  body(f);
  f.close();
  publish_or_stage(partial, path, staged);
}

void write_h5_collectively(const parallel::Comm& comm, const std::filesystem::path& path,
                           const std::function<void(const H5File&)>& structure,
                           const std::function<void(const H5File&)>& rows, OutputSet* staged) {
  const auto partial = partial_path(path);
  comm.run_on_root([&] {  // a failure here is every rank's (no rank waits in a collective call)
    auto f = H5File::create_serial(partial.string());
    structure(f);
    f.close();
  });
  std::string error;
  int code = 0;
  try {
    auto f = H5File::open_parallel(partial.string(), comm.get());
    rows(f);
    f.close();
  } catch (const Error& e) {
    error = e.what(), code = static_cast<int>(e.code());
  }
  try {
    comm.rethrow_any(error, code);  // nothing is published unless every rank wrote its rows
  } catch (const Error&) {
    if (comm.is_root()) std::filesystem::remove(partial);
    throw;
  }
  comm.run_on_root([&] { publish_or_stage(partial, path, staged); });
}

H5File H5File::open_parallel(const std::string& path, MPI_Comm comm) {
  H5Id fapl(H5Pcreate(H5P_FILE_ACCESS), H5Pclose);
  H5Pset_fapl_mpio(fapl, comm, MPI_INFO_NULL);
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl);
  H5File file(H5Id(check(f, "open the file for parallel writing", path), H5Fclose), path);
  file.comm_ = comm;
  return file;
}

H5File H5File::open_read(const std::string& path) {
  hid_t f = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  return H5File(H5Id(check(f, "open the file", path), H5Fclose), path);
}

void H5File::group(const std::string& name) const {
  H5Id g(check(H5Gcreate2(file_, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "create group " + name, path_),
         H5Gclose);
}

namespace {
// Opens any object by path, writes one attribute.
void write_attr(hid_t file, const std::string& path, const std::string& obj, const std::string& name, hid_t type,
                hid_t space, const void* data) {
  H5Id o(check(H5Oopen(file, obj.c_str(), H5P_DEFAULT), "open " + obj, path), H5Oclose);
  if (H5Aexists(o, name.c_str()) > 0) H5Adelete(o, name.c_str());
  H5Id a(check(H5Acreate2(o, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT),
               "create attribute " + obj + "@" + name, path),
         H5Aclose);
  if (H5Awrite(a, type, data) < 0)
    throw IOError("HDF5: cannot write attribute " + obj + "@" + name + " in '" + path + "'");
}
}  // namespace

void H5File::attr_string(const std::string& obj, const std::string& name, const std::string& value) const {
  H5Id t = string_type();
  H5Id s(H5Screate(H5S_SCALAR), H5Sclose);
  const char* p = value.c_str();
  write_attr(file_, path_, obj, name, t, s, &p);
}

void H5File::attr_strings(const std::string& obj, const std::string& name,
                          const std::vector<std::string>& values) const {
  if (values.empty()) {
    // anndata writes an empty column list as an empty float array
    const hsize_t dim = 0;
    H5Id s(H5Screate_simple(1, &dim, nullptr), H5Sclose);
    const double unused = 0.0;  // HDF5 wants a buffer even for zero elements
    write_attr(file_, path_, obj, name, H5T_NATIVE_DOUBLE, s, &unused);
    return;
  }
  H5Id t = string_type();
  const hsize_t dim = values.size();
  H5Id s(H5Screate_simple(1, &dim, nullptr), H5Sclose);
  const auto p = c_strings(values);
  write_attr(file_, path_, obj, name, t, s, p.data());
}

void H5File::attr_int64s(const std::string& obj, const std::string& name,
                         const std::vector<std::int64_t>& values) const {
  const hsize_t dim = values.size();
  H5Id s(H5Screate_simple(1, &dim, nullptr), H5Sclose);
  write_attr(file_, path_, obj, name, H5T_NATIVE_INT64, s, values.data());
}

void H5File::attr_bool(const std::string& obj, const std::string& name, bool value) const {
  // h5py's boolean: an int8 enum {FALSE, TRUE}
  H5Id t(H5Tenum_create(H5T_NATIVE_INT8), H5Tclose);
  std::int8_t f = 0, tr = 1;
  H5Tenum_insert(t, "FALSE", &f);
  H5Tenum_insert(t, "TRUE", &tr);
  H5Id s(H5Screate(H5S_SCALAR), H5Sclose);
  const std::int8_t v = value ? 1 : 0;
  write_attr(file_, path_, obj, name, t, s, &v);
}

void H5File::attr_double(const std::string& obj, const std::string& name, double value) const {
  H5Id s(H5Screate(H5S_SCALAR), H5Sclose);
  write_attr(file_, path_, obj, name, H5T_NATIVE_DOUBLE, s, &value);
}

void H5File::write_strings(const std::string& name, const std::vector<std::string>& values) const {
  H5Id t = string_type();
  const hsize_t dim = values.size();
  H5Id s(H5Screate_simple(1, &dim, nullptr), H5Sclose);
  H5Id d(check(H5Dcreate2(file_, name.c_str(), t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), "create dataset " + name,
               path_),
         H5Dclose);
  const auto p = c_strings(values);
  if (!values.empty() && H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, p.data()) < 0)
    throw IOError("HDF5: cannot write " + name + " in '" + path_ + "'");
}

template <class T>
void H5File::write(const std::string& name, const std::vector<T>& values, std::vector<hsize_t> dims) const {
  if (dims.empty()) dims = {values.size()};
  H5Id s(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  H5Id d(check(H5Dcreate2(file_, name.c_str(), h5_type<T>(), s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
               "create dataset " + name, path_),
         H5Dclose);
  if (!values.empty() && H5Dwrite(d, h5_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()) < 0)
    throw IOError("HDF5: cannot write " + name + " in '" + path_ + "'");
}

template <class T>
void H5File::create(const std::string& name, std::vector<hsize_t> dims) const {
  H5Id s(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  H5Id dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER);  // (allocated late: when opened by the MPI-IO driver)
  H5Id d(check(H5Dcreate2(file_, name.c_str(), h5_type<T>(), s, H5P_DEFAULT, dcpl, H5P_DEFAULT),
               "create dataset " + name, path_),
         H5Dclose);
}

long long H5File::max_over_writers(long long value) const {
  if (comm_ != MPI_COMM_NULL) MPI_Allreduce(MPI_IN_PLACE, &value, 1, MPI_LONG_LONG, MPI_MAX, comm_);
  return value;
}

template <class T>
void H5File::write_rows(const std::string& name, std::int64_t row_begin, const std::vector<T>& values) const {
  H5Id d(check(H5Dopen2(file_, name.c_str(), H5P_DEFAULT), "open dataset " + name, path_), H5Dclose);
  H5Id fspace(H5Dget_space(d), H5Sclose);
  const int rank = H5Sget_simple_extent_ndims(fspace);
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  H5Sget_simple_extent_dims(fspace, dims.data(), nullptr);
  if (dims.empty() || dims[0] == 0) return;  // an empty dataset: nothing to write (the same on every rank)
  hsize_t row_len = 1;
  for (std::size_t i = 1; i < dims.size(); ++i) row_len *= dims[i];
  const hsize_t rows = row_len ? values.size() / row_len : 0;
  std::vector<hsize_t> start(dims.size(), 0), count = dims;
  start[0] = static_cast<hsize_t>(row_begin);
  count[0] = rows;
  const hsize_t n = values.size();
  H5Id mspace(H5Screate_simple(1, &n, nullptr), H5Sclose);
  if (rows == 0) {
    H5Sselect_none(fspace);
    H5Sselect_none(mspace);
  } else if (H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr) < 0) {
    throw IOError("HDF5: rows out of range writing " + name + " in '" + path_ + "'");
  }
  H5Id dxpl(H5Pcreate(H5P_DATASET_XFER), H5Pclose);
  H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE);
  // A rank whose write failed (disk full) must not leave the others in the next collective
  // write: every rank learns the outcome and all throw together.
  int ok = H5Dwrite(d, h5_type<T>(), mspace, fspace, dxpl, values.data()) >= 0 ? 1 : 0;
  if (comm_ != MPI_COMM_NULL) MPI_Allreduce(MPI_IN_PLACE, &ok, 1, MPI_INT, MPI_MIN, comm_);
  if (!ok)
    throw IOError("HDF5: cannot write rows of " + name + " in '" + path_ + "' (disk full, quota or file-size limit?)");
}

template <class T>
std::vector<T> H5File::read(const std::string& name) const {
  if (H5Lexists(file_, name.c_str(), H5P_DEFAULT) <= 0) throw IOError("'" + path_ + "' has no dataset " + name);
  H5Id d(check(H5Dopen2(file_, name.c_str(), H5P_DEFAULT), "open dataset " + name, path_), H5Dclose);
  H5Id space(H5Dget_space(d), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(space);
  if (n < 0) throw IOError("HDF5: cannot size " + name + " in '" + path_ + "'");
  std::vector<T> out(static_cast<std::size_t>(n));
  if (n > 0 && H5Dread(d, h5_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, out.data()) < 0)
    throw IOError("HDF5: cannot read " + name + " in '" + path_ + "'");
  return out;
}

std::vector<std::string> H5File::read_strings(const std::string& name) const {
  if (!exists(name)) throw IOError("'" + path_ + "' has no dataset " + name);
  H5Id d(check(H5Dopen2(file_, name.c_str(), H5P_DEFAULT), "open dataset " + name, path_), H5Dclose);
  H5Id space(H5Dget_space(d), H5Sclose);
  const auto n = static_cast<std::size_t>(std::max<hssize_t>(H5Sget_simple_extent_npoints(space), 0));
  const H5Id mt = string_type();  // variable length, as write_strings writes them
  std::vector<char*> p(n, nullptr);
  if (n > 0 && H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, p.data()) < 0)
    throw IOError("HDF5: cannot read strings " + name + " in '" + path_ + "' (variable-length strings expected)");
  std::vector<std::string> out;
  for (char* c : p) out.emplace_back(c ? c : "");
  if (n > 0) H5Dvlen_reclaim(mt, space, H5P_DEFAULT, p.data());
  return out;
}

bool H5File::exists(const std::string& name) const { return H5Lexists(file_, name.c_str(), H5P_DEFAULT) > 0; }

#define PF_INSTANTIATE(T)                                                                                \
  template std::vector<T> H5File::read<T>(const std::string&) const;                                     \
  template void H5File::write<T>(const std::string&, const std::vector<T>&, std::vector<hsize_t>) const; \
  template void H5File::create<T>(const std::string&, std::vector<hsize_t>) const;                       \
  template void H5File::write_rows<T>(const std::string&, std::int64_t, const std::vector<T>&) const;
PF_INSTANTIATE(double)
PF_INSTANTIATE(float)
PF_INSTANTIATE(std::int32_t)
PF_INSTANTIATE(std::int64_t)
PF_INSTANTIATE(std::int8_t)
#undef PF_INSTANTIATE

}  // namespace perturbfit::io
