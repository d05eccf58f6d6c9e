#include "perturbfit/data/obs_table.hpp"

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
  return t;
}

}  // namespace perturbfit::data
