// Publishing output files so that a reader never sees a half-written one and a failure
// never destroys the previous good file: write PATH.partial, check every write and the
// close, fsync, then rename over PATH. The partial name is created exclusively and never
// followed through a symlink (a link planted in the output directory cannot redirect a
// write), and no final name is ever opened for writing.
#pragma once
#include <filesystem>
#include <string>

namespace perturbfit::io {

// PATH.partial: the only name an output file is written under.
std::filesystem::path partial_path(const std::filesystem::path& final_path);
// Removes whatever is at `partial` (a stale file of an earlier crash, a symlink: the link
// itself) so that it can be created exclusively. IOError if `partial` is not a .partial name.
void discard_partial(const std::filesystem::path& partial);
// fsync(partial), rename(partial, final_path), fsync(directory). IOError on any failure;
// final_path then still holds what it held before.
void publish(const std::filesystem::path& partial, const std::filesystem::path& final_path);
// A small text file (JSON), through the same steps.
void write_file_atomically(const std::filesystem::path& path, const std::string& text);

}  // namespace perturbfit::io
