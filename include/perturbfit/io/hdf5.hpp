// RAII wrappers over the HDF5 C API and the few operations the project needs: serial
// creation of structure and strings, and collective (MPI-IO) hyperslab writes of numbers.
// Every failure becomes an IOError naming the file and the object.
#pragma once
#include <hdf5.h>
#include <mpi.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace perturbfit::parallel {
class Comm;
}

namespace perturbfit::io {

// Owns one hid_t and closes it with the right H5?close.
class H5Id {
 public:
  H5Id() = default;
  H5Id(hid_t id, herr_t (*closer)(hid_t)) : id_(id), closer_(closer) {}
  ~H5Id() { reset(); }
  H5Id(const H5Id&) = delete;
  H5Id& operator=(const H5Id&) = delete;
  H5Id(H5Id&& o) noexcept : id_(o.id_), closer_(o.closer_) { o.id_ = -1; }
  H5Id& operator=(H5Id&& o) noexcept;
  hid_t get() const { return id_; }
  operator hid_t() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset();
  hid_t release() {  // gives up ownership without closing
    const hid_t id = id_;
    id_ = -1;
    return id;
  }

 private:
  hid_t id_ = -1;
  herr_t (*closer_)(hid_t) = nullptr;
};

// Silences HDF5's own error stack printing; errors are reported through exceptions.
void silence_hdf5_errors();

template <class T>
hid_t h5_type();  // native memory type of T

class H5File {
 public:
  // Creates `path`, a .partial name (io/atomic_file.hpp), exclusively: whatever was there
  // (a stale partial, a symlink) is removed first, never followed or truncated.
  static H5File create_serial(const std::string& path);
  static H5File open_parallel(const std::string& path, MPI_Comm comm);  // read-write, MPI-IO
  static H5File open_read(const std::string& path);                 // serial read-only
  hid_t id() const { return file_; }
  const std::string& path() const { return path_; }
  // Closes the file, IOError if HDF5 could not flush it (disk full): call before
  // publishing. Collective for a file opened with open_parallel.
  void close();

  void group(const std::string& name) const;
  // Attributes on the object at `obj` ("/" for the root).
  void attr_string(const std::string& obj, const std::string& name, const std::string& value) const;
  void attr_strings(const std::string& obj, const std::string& name, const std::vector<std::string>& values) const;
  void attr_int64s(const std::string& obj, const std::string& name, const std::vector<std::int64_t>& values) const;
  void attr_bool(const std::string& obj, const std::string& name, bool value) const;
  void attr_double(const std::string& obj, const std::string& name, double value) const;
  // Whole datasets, written by the calling process alone.
  void write_strings(const std::string& name, const std::vector<std::string>& values) const;
  template <class T>
  void write(const std::string& name, const std::vector<T>& values, std::vector<hsize_t> dims = {}) const;
  // A whole numeric dataset, flattened (IOError if absent).
  template <class T>
  std::vector<T> read(const std::string& name) const;
  std::vector<std::string> read_strings(const std::string& name) const;  // variable-length strings
  bool exists(const std::string& name) const;  // one path component below an existing group
  // Creates a dataset, allocated now, to be filled later by collective writes.
  template <class T>
  void create(const std::string& name, std::vector<hsize_t> dims) const;
  // Collective write of rows [row_begin, row_begin + rows) of a 1-D or 2-D dataset.
  template <class T>
  void write_rows(const std::string& name, std::int64_t row_begin, const std::vector<T>& values) const;

 private:
  H5File(H5Id file, std::string path) : file_(std::move(file)), path_(std::move(path)) {}
  H5Id file_;
  std::string path_;
};

// Collective. Writes `path` through its .partial name: `structure` runs on the root and
// creates the layout serially, `rows` then runs on every rank on the file opened with
// MPI-IO; every close is checked and the root publishes only after all ranks succeeded.
void write_h5_collectively(const parallel::Comm& comm, const std::filesystem::path& path,
                           const std::function<void(const H5File&)>& structure,
                           const std::function<void(const H5File&)>& rows);
// Root-only files: `body` writes the whole file; checked close, then publish.
void write_h5_serially(const std::filesystem::path& path, const std::function<void(const H5File&)>& body);

}  // namespace perturbfit::io
