// Whether a path names a file a run can read: the one check behind every "cannot open"
// message for decks, option files, edge lists and truth files.
#pragma once
#include <filesystem>
#include <string>

namespace perturbfit {

// "" when `path` is a readable regular file, else why not: "no such file", "not a regular
// file" (a directory, a device, a FIFO) or "permission denied".
std::string input_file_problem(const std::filesystem::path& path);

}  // namespace perturbfit
