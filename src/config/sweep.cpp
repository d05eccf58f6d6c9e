#include "perturbfit/config/sweep.hpp"

#include <algorithm>

#include "perturbfit/config/deck.hpp"
#include "perturbfit/core/error.hpp"

namespace perturbfit::config {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

const std::vector<std::string> kTopLevel{"deck", "data", "seed_key", "seeds", "grid", "set"};

void check_key_name(const std::string& key, const std::string& where) {
  const auto dot = key.find('.');
  if (dot == std::string::npos || dot == 0 || dot + 1 == key.size())
    throw UsageError(where + ": '" + key + "' is not a deck key; write section.key (e.g. \"fit.lambda_ss\") " +
                     "or protocol.N.key, quoted");
}

// A JSON value as TOML text (numbers, booleans, strings and arrays of them print alike).
std::string toml_text(const json& v) { return v.dump(); }

bool simulation_key(const std::string& key) { return key.rfind("fit.", 0) != 0 && key.rfind("data.", 0) != 0; }

}  // namespace

std::string assignment(const Setting& s) { return s.first + "=" + toml_text(s.second); }

Sweep Sweep::load(const fs::path& file) {
  return from_json(read_toml_file(file, "sweep"), fs::absolute(file).parent_path(), "sweep '" + file.string() + "'");
}

Sweep Sweep::from_json(const json& raw, const fs::path& base, const std::string& where) {
  for (const auto& [k, v] : raw.items())
    if (std::find(kTopLevel.begin(), kTopLevel.end(), k) == kTopLevel.end())
      throw UsageError(where + ": unknown key '" + k + "' (did you mean '" + nearest(k, kTopLevel) +
                       "'? deck keys go under [grid] or [set])");
  Sweep s;
  if (!raw.contains("deck") || !raw["deck"].is_string() || raw["deck"].get<std::string>().empty())
    throw UsageError(where + ": name the deck: deck = \"path/to/deck.toml\" (relative to the sweep file)");
  s.deck_ = (base / raw["deck"].get<std::string>()).lexically_normal();
  if (raw.contains("data")) {
    if (!raw["data"].is_string()) throw UsageError(where + ": data must be a path to a screen (.h5ad)");
    if (const auto d = raw["data"].get<std::string>(); !d.empty()) s.data_ = (base / d).lexically_normal();
  }
  if (raw.contains("seed_key")) {
    if (!raw["seed_key"].is_string()) throw UsageError(where + ": seed_key must be a deck key, e.g. \"run.seed\"");
    s.seed_key_ = raw["seed_key"].get<std::string>();
  }
  check_key_name(s.seed_key_, where + " seed_key");
  if (raw.contains("seeds")) {
    if (!raw["seeds"].is_array() || raw["seeds"].empty())
      throw UsageError(where + ": seeds must be a non-empty list, e.g. seeds = [1, 2, 3]");
    s.seeds_ = raw["seeds"].get<std::vector<json>>();
  }
  if (raw.contains("grid")) {
    if (!raw["grid"].is_object()) throw UsageError(where + ": [grid] must be a table of deck keys and value lists");
    for (const auto& [k, v] : raw["grid"].items()) {  // nlohmann's objects iterate in key order
      check_key_name(k, where + " [grid]");
      if (!v.is_array() || v.empty())
        throw UsageError(where + " [grid]: \"" + k + "\" must be a non-empty list of values, e.g. [0.0, 0.1]");
      if (k == s.seed_key_ && s.has_seeds())
        throw UsageError(where + ": \"" + k + "\" is both in [grid] and the seed_key; give it in one place");
      s.grid_keys_.push_back(k);
      s.grid_values_.push_back(v.get<std::vector<json>>());
    }
  }
  if (raw.contains("set")) {
    if (!raw["set"].is_object()) throw UsageError(where + ": [set] must be a table of deck keys and values");
    for (const auto& [k, v] : raw["set"].items()) {
      check_key_name(k, where + " [set]");
      if (std::find(s.grid_keys_.begin(), s.grid_keys_.end(), k) != s.grid_keys_.end() ||
          (k == s.seed_key_ && s.has_seeds()))
        throw UsageError(where + ": \"" + k + "\" is in [set] and varied too; give it in one place");
      s.fixed_.emplace_back(k, v);
    }
  }
  if (s.grid_keys_.empty() && !s.has_seeds())
    throw UsageError(where + ": nothing varies; give [grid] keys with value lists, or seeds");
  return s;
}

std::size_t Sweep::size() const {
  std::size_t n = has_seeds() ? seeds_.size() : 1;
  for (const auto& values : grid_values_) n *= values.size();
  return n;
}

SweepPoint Sweep::point(std::size_t index) const {
  if (index >= size())
    throw UsageError("sweep point " + std::to_string(index) + " does not exist: the sweep has " +
                     std::to_string(size()) + " points, 0 to " + std::to_string(size() - 1));
  SweepPoint p{index, {}};
  std::size_t rest = index;
  json seed;
  if (has_seeds()) {
    seed = seeds_[rest % seeds_.size()];
    rest /= seeds_.size();
  }
  std::vector<Setting> reversed;  // the last grid key varies fastest
  for (std::size_t k = grid_keys_.size(); k-- > 0;) {
    reversed.emplace_back(grid_keys_[k], grid_values_[k][rest % grid_values_[k].size()]);
    rest /= grid_values_[k].size();
  }
  p.settings.assign(reversed.rbegin(), reversed.rend());
  if (has_seeds()) p.settings.emplace_back(seed_key_, seed);
  return p;
}

std::vector<std::string> Sweep::overrides(const SweepPoint& point) const {
  std::vector<std::string> out;
  for (const auto& s : fixed_) out.push_back(assignment(s));
  for (const auto& s : point.settings) out.push_back(assignment(s));
  return out;
}

std::vector<std::string> Sweep::simulation_overrides(const SweepPoint& point) const {
  std::vector<std::string> out;
  for (const auto& s : fixed_)
    if (simulation_key(s.first)) out.push_back(assignment(s));
  for (const auto& s : point.settings)
    if (simulation_key(s.first)) out.push_back(assignment(s));
  return out;
}

bool Sweep::sets(const std::string& key) const {
  if (has_seeds() && key == seed_key_) return true;
  if (std::find(grid_keys_.begin(), grid_keys_.end(), key) != grid_keys_.end()) return true;
  return std::any_of(fixed_.begin(), fixed_.end(), [&](const Setting& s) { return s.first == key; });
}

json Sweep::describe() const {
  json grid = json::object(), fixed = json::object();
  for (std::size_t k = 0; k < grid_keys_.size(); ++k) grid[grid_keys_[k]] = grid_values_[k];
  for (const auto& s : fixed_) fixed[s.first] = s.second;
  json d{{"deck", deck_.string()}, {"data", data_.string()}, {"seed_key", seed_key_}, {"grid", grid}, {"set", fixed}};
  if (has_seeds()) d["seeds"] = seeds_;
  return d;
}

}  // namespace perturbfit::config
