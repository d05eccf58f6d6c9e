#include "perturbfit/cli/arguments.hpp"

#include <cctype>

namespace perturbfit::cli {

namespace {
bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
bool is_petsc_option(const std::string& s) {
  return s.size() > 2 && s[0] == '-' && std::isalpha(static_cast<unsigned char>(s[1]));
}
bool is_negative_number(const std::string& s) {
  return s.size() > 1 && s[0] == '-' && (std::isdigit(static_cast<unsigned char>(s[1])) || s[1] == '.');
}
bool is_input_file(const std::string& s) {
  return ends_with(s, ".toml") || ends_with(s, ".h5ad") || ends_with(s, ".h5");
}
}  // namespace

SplitArguments split_arguments(int argc, const char* const* argv) {
  SplitArguments out;
  out.own.push_back(argc > 0 ? argv[0] : "perturbfit");
  out.petsc.push_back(out.own.front());
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (!is_petsc_option(a)) {
      out.own.push_back(a);
      // our own options' values are ours even if they look like PETSc options
      if ((a == "-o" || a == "--set" || a == "--output") && i + 1 < argc) out.own.push_back(argv[++i]);
      continue;
    }
    out.petsc.push_back(a);
    if (i + 1 < argc) {
      const std::string next = argv[i + 1];
      if ((next.empty() || next[0] != '-' || is_negative_number(next)) && !is_input_file(next)) {
        out.petsc.push_back(next);
        ++i;
      }
    }
  }
  return out;
}

}  // namespace perturbfit::cli
