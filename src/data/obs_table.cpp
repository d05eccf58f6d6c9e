#include "perturbfit/data/obs_table.hpp"

#include <map>

#include "perturbfit/core/error.hpp"

namespace perturbfit::data {

namespace {

ObsColumn read_column(const io::H5adReader& reader, const std::string& path, const std::string& key, bool required,
                      std::int64_t cells, const std::string& hint) {
  ObsColumn out;
  if (key.empty() || (!required && !reader.has_obs_column(key))) {
    out.categories = {"all"};
    out.codes.assign(static_cast<std::size_t>(cells), 0);
    out.encoding = "absent";
    return out;
  }
  io::Column c;
  try {
    c = reader.obs_column(key);
  } catch (const DataError& e) {
    throw DataError(std::string(e.what()) + (hint.empty() ? "" : "; " + hint));
  }
  for (std::size_t i = 0; i < c.codes.size(); ++i)
    if (c.codes[i] < 0)
      throw DataError(path + ": obs column '" + key + "' has no value (NaN) for cell '" +
                      reader.obs_names_slice(static_cast<std::int64_t>(i), 1).at(0) + "' (row " + std::to_string(i) +
                      ")");
  out.categories = std::move(c.categories);
  out.codes = std::move(c.codes);
  out.encoding = std::move(c.encoding);
  return out;
}

// Cell types as media: each (medium, type) becomes one medium "medium/type" (the type alone
// without a medium column), so every type has its own controls, references and bias (its own
// U column, one-hot), sharing W: the fit's cell-type model (docs/in_vivo.md).
void merge_cell_types(const ObsColumn& type, ObsColumn& medium) {
  const bool no_medium = medium.encoding == "absent";
  std::map<std::pair<std::int32_t, std::int32_t>, std::int32_t> code_of;
  ObsColumn merged;
  merged.encoding = "merged";
  merged.codes.resize(medium.codes.size());
  for (std::size_t i = 0; i < medium.codes.size(); ++i) {
    const auto key = std::make_pair(medium.codes[i], type.codes[i]);
    auto [it, inserted] = code_of.emplace(key, static_cast<std::int32_t>(merged.categories.size()));
    if (inserted) {
      const auto& t = type.categories[static_cast<std::size_t>(key.second)];
      merged.categories.push_back(no_medium ? t : medium.categories[static_cast<std::size_t>(key.first)] + "/" + t);
    }
    merged.codes[i] = it->second;
  }
  medium = std::move(merged);
}

}  // namespace

ObsTable read_obs_table(const io::H5adReader& reader, const DataOptions& options, std::int64_t cells,
                        const std::string& perturbation_hint) {
  const auto& path = options.path;
  ObsTable t;
  t.perturbation = read_column(reader, path, options.perturbation_key, true, cells, perturbation_hint);
  t.batch = read_column(reader, path, options.batch_key, true, cells,
                        "set data.batch_key (\"\" treats all cells as one batch)");
  t.time = read_column(reader, path, options.time_key, false, cells, "");
  t.medium = read_column(reader, path, options.medium_key, false, cells, "");
  if (!options.cell_type_key.empty()) merge_cell_types(read_column(reader, path, options.cell_type_key, true, cells, "set data.cell_type_key (\"\" for no cell types)"), t.medium);
  return t;
}

}  // namespace perturbfit::data
