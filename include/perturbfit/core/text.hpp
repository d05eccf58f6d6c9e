// Small string helpers for messages and line-oriented input files.
#pragma once
#include <sstream>
#include <string>
#include <vector>

namespace perturbfit {

// s without leading and trailing spaces, tabs and line ends.
inline std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

// The pieces of s between separators, each trimmed (empty pieces kept: the caller decides
// whether one is an error): "A + B" -> {"A", "B"}, "A,,B" -> {"A", "", "B"}.
inline std::vector<std::string> split_trimmed(const std::string& s, const std::string& separator) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (;;) {
    const auto pos = s.find(separator, start);
    out.push_back(trim(s.substr(start, pos == std::string::npos ? std::string::npos : pos - start)));
    if (pos == std::string::npos) return out;
    start = pos + separator.size();
  }
}

// A number as a reader writes it: 2 rather than 2.000000, 1e-05 rather than 0.000010.
inline std::string format_number(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

// "a, b, c", at most `limit` items, then "... (N in all)".
inline std::string join(const std::vector<std::string>& v, std::size_t limit = 10) {
  std::string s;
  for (std::size_t i = 0; i < v.size() && i < limit; ++i) s += (i ? ", " : "") + v[i];
  if (v.size() > limit) s += ", ... (" + std::to_string(v.size()) + " in all)";
  return s;
}

}  // namespace perturbfit
