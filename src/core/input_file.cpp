#include "perturbfit/core/input_file.hpp"

#include <fstream>

namespace perturbfit {

std::string input_file_problem(const std::filesystem::path& path) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (!std::filesystem::exists(status)) return "no such file";
  if (!std::filesystem::is_regular_file(status)) return "not a regular file";
  if (!std::ifstream(path)) return "permission denied";
  return "";
}

}  // namespace perturbfit
