// The one edge-list grammar (network.edge_list and fit.edge_list): one edge per line,
// fields separated by tabs (or, if a line has no tab, by blanks): source, target and, for a
// weighted list, a finite weight. Blank lines and lines starting with '#' are skipped; a
// first line whose weight is not a number is a header. Errors name the file and the line
// number, never the line's text (the file may be anything).
#pragma once
#include <filesystem>
#include <string>
#include <vector>

namespace perturbfit::model {

struct EdgeRecord {
  std::string source, target;
  double weight = 0.0;  // 0 when the list is unweighted
  int line = 0;
};

// `key` names the deck key in messages; DataError on a malformed line, if the
// file cannot be opened or holds no edge.
std::vector<EdgeRecord> read_edge_list(const std::filesystem::path& path, const std::string& key, bool weighted);

}  // namespace perturbfit::model
