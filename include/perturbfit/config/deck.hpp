// An input deck: TOML, validated against the schema, defaults filled, overrides applied.
#pragma once
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "perturbfit/config/schema.hpp"

namespace perturbfit::config {

class Deck {
 public:
  // Loads `path` (UsageError if missing, unparsable or not valid against `schema`) and
  // applies `overrides` of the form "section.key=value" or "protocol.N.key=value" (N
  // counts from 0).
  static Deck load(const std::filesystem::path& path, const Schema& schema,
                   const std::vector<std::string>& overrides = {});
  // Same from TOML text; `origin` names it in messages.
  static Deck parse(const std::string& toml_text, const std::string& origin, const Schema& schema,
                    const std::vector<std::string>& overrides = {});

  // Typed access to "section.key"; throws UsageError naming the key if absent or mistyped.
  template <class T>
  T get(const std::string& dotted) const;

  const nlohmann::json& values() const { return values_; }
  const nlohmann::json& protocol() const { return values_.at("protocol"); }
  const std::string& origin() const { return origin_; }
  const std::filesystem::path& directory() const { return directory_; }

 private:
  nlohmann::json values_;
  std::string origin_;
  std::filesystem::path directory_;  // relative paths in the deck resolve against it
};

// Typed access to a protocol step's key (defaults already filled).
template <class T>
T step_get(const nlohmann::json& step, const std::string& key);

// A small TOML file (a deck, a sweep) as JSON; UsageError naming `what` and the line if
// it is missing, too large or not TOML.
nlohmann::json read_toml_file(const std::filesystem::path& path, const std::string& what);

// Levenshtein distance, used to suggest the nearest valid key.
std::size_t edit_distance(const std::string& a, const std::string& b);
std::string nearest(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace perturbfit::config
