// Publishing output files so that a reader never sees a half-written one and a failure
// never destroys the previous good file: write PATH.partial, check every write and the
// close, fsync, then rename over PATH. The partial name is created exclusively and never
// followed through a symlink (a link planted in the output directory cannot redirect a
// write), and no final name is ever opened for writing.
#pragma once
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace perturbfit::io {

// PATH.partial: the only name an output file is written under.
std::filesystem::path partial_path(const std::filesystem::path& final_path);
// Removes whatever is at `partial` (a stale file of an earlier crash, a symlink: the link
// itself) so that it can be created exclusively. IOError if `partial` is not a .partial name.
void discard_partial(const std::filesystem::path& partial);
// fsync(partial), rename(partial, final_path), fsync(directory). IOError on any failure;
// final_path then still holds what it held before.
void publish(const std::filesystem::path& partial, const std::filesystem::path& final_path);
// Files that belong together (a screen and its truth; a fit and its metrics) are published
// together: each waits under its .partial name until commit(), so a failure in the last
// one leaves every earlier file of the set as it was. Files not committed are removed.
class OutputSet {
 public:
  OutputSet() = default;
  OutputSet(const OutputSet&) = delete;
  OutputSet& operator=(const OutputSet&) = delete;
  ~OutputSet();
  void add(const std::filesystem::path& partial, const std::filesystem::path& final_path);
  void commit();  // publishes every file in the order added (IOError on the first failure)

 private:
  std::vector<std::pair<std::filesystem::path, std::filesystem::path>> pending_;
};

// Publishes now, or leaves the file to `staged`'s commit.
void publish_or_stage(const std::filesystem::path& partial, const std::filesystem::path& final_path, OutputSet* staged);

// Creates `partial` exclusively (never through a symlink) and writes `size` bytes to it,
// checking every write and the close; on failure removes it and throws IOError.
void write_partial(const std::filesystem::path& partial, const void* data, std::size_t size);

// A small text file (JSON), through the same steps.
void write_file_atomically(const std::filesystem::path& path, const std::string& text, OutputSet* staged = nullptr);

}  // namespace perturbfit::io
