// Small string helpers for messages and line-oriented input files.
#pragma once
#include <string>
#include <vector>

namespace perturbfit {

// s without leading and trailing spaces, tabs and line ends.
inline std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// "a, b, c", at most `limit` items, then "... (N in all)".
inline std::string join(const std::vector<std::string>& v, std::size_t limit = 10) {
  std::string s;
  for (std::size_t i = 0; i < v.size() && i < limit; ++i) s += (i ? ", " : "") + v[i];
  if (v.size() > limit) s += ", ... (" + std::to_string(v.size()) + " in all)";
  return s;
}

}  // namespace perturbfit
