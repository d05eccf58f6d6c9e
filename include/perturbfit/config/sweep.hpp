// A sweep file: a deck, deck keys with lists of values, and seeds; its grid is every
// combination, one point per combination. The grid is enumerated with its keys in
// alphabetical order and the seeds innermost, so a point's index (a SLURM array task id)
// names the same settings on every machine and every run.
//
//   deck = "../inputs/quickstart.toml"   # relative to the sweep file
//   data = ""                            # optional: fit this screen (else each point's screen is simulated)
//   seed_key = "run.seed"                # the deck key the seeds set
//   seeds = [1, 2, 3]
//   [grid]
//   "fit.lambda_ss" = [0.0, 0.1, 1.0]
//   [set]                                # the same for every point
//   "fit.max_iterations" = 100
#pragma once
#include <nlohmann/json.hpp>

#include <cstddef>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace perturbfit::config {

using Setting = std::pair<std::string, nlohmann::json>;  // deck key ("section.key"), value

struct SweepPoint {
  std::size_t index = 0;
  std::vector<Setting> settings;  // the grid keys' values, then the seed
};

class Sweep {
 public:
  // UsageError naming the file and the key for anything malformed.
  static Sweep load(const std::filesystem::path& file);
  // The same from parsed TOML (or describe()'s output); relative paths resolve against
  // `base`; `where` names the source in messages.
  static Sweep from_json(const nlohmann::json& raw, const std::filesystem::path& base, const std::string& where);

  std::size_t size() const;                   // number of points
  SweepPoint point(std::size_t index) const;  // index < size()
  // --set assignments of a point: the fixed [set] keys, then the point's settings.
  std::vector<std::string> overrides(const SweepPoint& point) const;
  // Those that can change a simulated screen (every section but [fit] and [data]): points
  // that agree on them share one simulated screen.
  std::vector<std::string> simulation_overrides(const SweepPoint& point) const;
  bool sets(const std::string& key) const;  // whether the grid, the seeds or [set] give `key`

  const std::filesystem::path& deck() const { return deck_; }
  const std::filesystem::path& data() const { return data_; }  // empty: simulate
  const std::vector<std::string>& grid_keys() const { return grid_keys_; }
  const std::string& seed_key() const { return seed_key_; }
  bool has_seeds() const { return !seeds_.empty(); }
  // Everything that defines the points (from_json reads it back), to recognise a
  // directory made by another sweep.
  nlohmann::json describe() const;

 private:
  std::filesystem::path deck_, data_;
  std::vector<std::string> grid_keys_;
  std::vector<std::vector<nlohmann::json>> grid_values_;
  std::string seed_key_ = "run.seed";
  std::vector<nlohmann::json> seeds_;
  std::vector<Setting> fixed_;
};

// "key=value" for --set, the value in TOML syntax.
std::string assignment(const Setting& s);

}  // namespace perturbfit::config
