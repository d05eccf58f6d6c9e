// RAII wrappers over the HDF5 C API and the few operations the project needs: serial
// creation of structure and strings, and collective (MPI-IO) hyperslab writes of numbers.
// Every failure becomes an IOError naming the file and the object.
#pragma once
#include <hdf5.h>
#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "perturbfit/io/atomic_file.hpp"

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

// True once HDF5 failed to close a file (its flush or final truncation met a full disk or
// a file-size limit). HDF5 1.10 keeps such a file half-closed and crashes when the library
// shuts down (at MPI_Finalize): the executable then ends without shutting HDF5 down.
bool hdf5_file_close_failed();

template <class T>
hid_t h5_type();  // native memory type of T

class H5File {
 public:
  // Creates `path`, a .partial name (io/atomic_file.hpp). The file is built in memory
  // (HDF5's core driver) and written by close() with checked writes, exclusively: whatever
  // was at `path` (a stale partial, a symlink) is removed first, never followed. HDF5 thus
  // never meets a full disk itself (HDF5 1.10 crashes at exit after a failed flush).
  static H5File create_serial(const std::string& path);
  static H5File open_parallel(const std::string& path, MPI_Comm comm);  // read-write, MPI-IO
  static H5File open_read(const std::string& path);                     // serial read-only
  hid_t id() const { return file_; }
  const std::string& path() const { return path_; }
  // Closes the file, IOError if it could not be written (disk full, file size limit):
  // call before publishing. Collective for a file opened with open_parallel.
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
  bool exists(const std::string& name) const;                            // one path component below an existing group
  // Creates a dataset to be filled later by collective writes (its space is allocated when
  // the file is opened with open_parallel).
  template <class T>
  void create(const std::string& name, std::vector<hsize_t> dims) const;
  // Collective write of rows [row_begin, row_begin + rows) of a 1-D or 2-D dataset.
  template <class T>
  void write_rows(const std::string& name, std::int64_t row_begin, const std::vector<T>& values) const;
  // Collective: this rank's rows [row_begin, row_begin + rows) of a 2-D dataset, per_write
  // rows per write (append_row(i, out) appends row i's values), so that a rank never holds
  // all its rows at once (at genome scale they are gigabytes). Every rank makes as many
  // writes as the rank with the most (the others write empty ones).
  template <class T, class AppendRow>
  void write_row_blocks(const std::string& name, std::int64_t row_begin, std::size_t rows, AppendRow&& append_row,
                        std::size_t per_write = kRowsPerWrite) const {
    const auto mine = static_cast<long long>((rows + per_write - 1) / per_write);
    const long long blocks = max_over_writers(mine);
    std::vector<T> out;
    for (long long b = 0; b < blocks; ++b) {
      const auto begin = std::min(rows, static_cast<std::size_t>(b) * per_write);
      const auto end = std::min(rows, begin + per_write);
      out.clear();
      for (auto i = begin; i < end; ++i) append_row(i, out);
      write_rows(name, row_begin + static_cast<std::int64_t>(begin), out);
    }
  }
  static constexpr std::size_t kRowsPerWrite = 256;

 private:
  H5File(H5Id file, std::string path, bool in_memory = false)
      : file_(std::move(file)), path_(std::move(path)), in_memory_(in_memory) {}
  long long max_over_writers(long long value) const;  // over comm_ (itself for a serial file)
  H5Id file_;
  std::string path_;
  bool in_memory_ = false;         // create_serial: close() writes the image to path_
  MPI_Comm comm_ = MPI_COMM_NULL;  // open_parallel: the writers, who agree on every write's outcome
};

// Collective. Writes `path` through its .partial name: `structure` runs on the root and
// creates the layout serially, `rows` then runs on every rank on the file opened with
// MPI-IO; every close is checked and the root publishes only after all ranks succeeded
// (or stages the file in `staged`, to be published with the rest of its set).
void write_h5_collectively(const parallel::Comm& comm, const std::filesystem::path& path,
                           const std::function<void(const H5File&)>& structure,
                           const std::function<void(const H5File&)>& rows, OutputSet* staged = nullptr);
// Root-only files: `body` writes the whole file; checked close, then publish (or stage).
void write_h5_serially(const std::filesystem::path& path, const std::function<void(const H5File&)>& body,
                       OutputSet* staged = nullptr);

}  // namespace perturbfit::io
