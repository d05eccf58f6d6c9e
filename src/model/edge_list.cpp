#include "perturbfit/model/edge_list.hpp"

#include <cmath>
#include <fstream>
#include <sstream>

#include "perturbfit/core/error.hpp"
#include "perturbfit/core/input_file.hpp"

namespace perturbfit::model {

namespace {
std::vector<std::string> fields_of(const std::string& line) {
  std::vector<std::string> fields;
  if (line.find('\t') != std::string::npos) {
    std::istringstream in(line);
    for (std::string f; std::getline(in, f, '\t');) fields.push_back(f);
  } else {
    std::istringstream in(line);
    for (std::string f; in >> f;) fields.push_back(f);
  }
  for (auto& f : fields)
    while (!f.empty() && (f.back() == '\r' || f.back() == ' ')) f.pop_back();
  return fields;
}

bool parse_number(const std::string& text, double& value) {
  try {
    std::size_t used = 0;
    value = std::stod(text, &used);
    return used == text.size();
  } catch (const std::exception&) {
    return false;
  }
}
}  // namespace

std::vector<EdgeRecord> read_edge_list(const std::filesystem::path& path, const std::string& key, bool weighted) {
  if (const auto problem = input_file_problem(path); !problem.empty())
    throw DataError("cannot open " + key + " '" + path.string() + "': " + problem);
  std::ifstream in(path);
  const std::size_t needed = weighted ? 3 : 2;
  const std::string expected = weighted ? "source, target, weight" : "regulator, target";
  std::vector<EdgeRecord> edges;
  std::string line;
  for (int lineno = 1; std::getline(in, line); ++lineno) {
    const std::string where = key + " " + path.string() + ":" + std::to_string(lineno);
    if (line.find('\0') != std::string::npos)
      throw DataError(where + ": not a text file (a NUL byte); expected tab-separated " + expected);
    if (line.empty() || line[0] == '#' || line.find_first_not_of(" \t\r") == std::string::npos) continue;
    const auto f = fields_of(line);
    if (f.size() < needed || f[0].empty() || f[1].empty())
      throw DataError(where + ": expected " + std::to_string(needed) + " tab-separated fields (" + expected + ")");
    EdgeRecord e{f[0], f[1], 0.0, lineno};
    if (weighted) {
      if (!parse_number(f[2], e.weight)) {
        if (edges.empty() && lineno == 1) continue;  // a header line
        throw DataError(where + ": the weight (third field) is not a number");
      }
      if (!std::isfinite(e.weight)) throw DataError(where + ": the weight is not finite");
    }
    edges.push_back(std::move(e));
  }
  if (in.bad()) throw IOError("reading " + key + " '" + path.string() + "' failed");
  if (edges.empty()) throw DataError(key + " '" + path.string() + "' holds no edge");
  return edges;
}

}  // namespace perturbfit::model
