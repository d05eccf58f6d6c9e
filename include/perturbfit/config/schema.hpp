// The input deck's schema: every key the project reads, with its type, default and meaning.
// It is the single source of truth for validation, defaults and `perturbfit reference`.
#pragma once
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace perturbfit::config {

enum class ValueType { kInt, kFloat, kBool, kString, kFloatList, kStringList };

struct KeySpec {
  std::string key;        // key within its section or step
  ValueType type;
  nlohmann::json default_value;  // null: required (steps) or empty
  std::string doc;
};

struct SectionSpec {
  std::string name;
  std::string doc;
  std::vector<KeySpec> keys;
};

// A protocol step kind ([[protocol]] entries with `step = "<name>"`).
struct StepSpec {
  std::string name;
  std::string doc;
  std::vector<KeySpec> keys;
};

const std::vector<SectionSpec>& deck_sections();
const std::vector<StepSpec>& protocol_steps();
const char* type_name(ValueType t);

// Markdown reference of every section, key and step (docs/deck.md is generated from it).
std::string deck_reference_markdown();

}  // namespace perturbfit::config
