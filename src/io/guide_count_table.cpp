#include "perturbfit/io/guide_count_table.hpp"

#include <charconv>
#include <fstream>
#include <map>
#include <sstream>

#include "perturbfit/core/error.hpp"

namespace perturbfit::io {

const std::vector<std::string>& guide_count_columns() {
  static const std::vector<std::string> columns{"guide", "perturbation", "batch", "medium", "time", "count"};
  return columns;
}

void write_guide_count_table(const std::filesystem::path& path, const std::vector<GuideCountRow>& rows,
                             OutputSet* staged) {
  std::ostringstream out;
  out.precision(17);
  const auto& columns = guide_count_columns();
  for (std::size_t c = 0; c < columns.size(); ++c) out << (c ? "\t" : "") << columns[c];
  out << '\n';
  for (const auto& r : rows)
    out << r.guide << '\t' << r.perturbation << '\t' << r.batch << '\t' << r.medium << '\t' << r.time << '\t' << r.count
        << '\n';
  write_file_atomically(path, out.str(), staged);
}

namespace {
std::vector<std::string> split_tabs(const std::string& line) {
  std::vector<std::string> fields;
  std::size_t begin = 0;
  for (;;) {
    const auto end = line.find('\t', begin);
    fields.push_back(line.substr(begin, end == std::string::npos ? std::string::npos : end - begin));
    if (end == std::string::npos) return fields;
    begin = end + 1;
  }
}
}  // namespace

std::vector<GuideCountRow> read_guide_count_table(const std::filesystem::path& path) {
  std::ifstream in(path);
  if (!in) throw IOError("cannot read the guide count table " + path.string());
  std::string line;
  std::size_t line_no = 0;
  auto where = [&] { return path.string() + " line " + std::to_string(line_no); };
  std::map<std::string, std::size_t> column;
  std::vector<GuideCountRow> rows;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty() || line[0] == '#') continue;
    const auto fields = split_tabs(line);
    if (column.empty()) {
      for (std::size_t c = 0; c < fields.size(); ++c) column[fields[c]] = c;
      for (const auto& name : guide_count_columns())
        if (!column.count(name))
          throw DataError(where() + ": the header has no column '" + name +
                          "' (a guide count table is tab-separated with columns guide, perturbation, batch, "
                          "medium, time, count)");
      continue;
    }
    auto field = [&](const std::string& name) -> const std::string& {
      const auto c = column.at(name);
      if (c >= fields.size()) throw DataError(where() + ": " + std::to_string(fields.size()) + " fields, no '" + name + "'");
      return fields[c];
    };
    GuideCountRow r{field("guide"), field("perturbation"), field("batch"), field("medium"), 0.0, 0};
    const auto& t = field("time");
    const auto& n = field("count");
    try {
      std::size_t used = 0;
      r.time = std::stod(t, &used);
      if (used != t.size()) throw std::invalid_argument(t);
    } catch (const std::exception&) {
      throw DataError(where() + ": time '" + t + "' is not a number");
    }
    const auto [end, ec] = std::from_chars(n.data(), n.data() + n.size(), r.count);
    if (ec != std::errc() || end != n.data() + n.size() || r.count < 0)
      throw DataError(where() + ": count '" + n + "' is not a non-negative integer");
    rows.push_back(std::move(r));
  }
  if (column.empty()) throw DataError(path.string() + ": the guide count table is empty (no header)");
  return rows;
}

}  // namespace perturbfit::io
