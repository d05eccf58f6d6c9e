// The grammar of the input deck's schema: keys with their type, default, range and meaning.
// The keys themselves are declared by the code that reads them, beside the struct they fill
// (e.g. solvers::solver_section() in solvers/settings.cpp); cli::deck_schema() gathers them.
// The schema is the single source of truth for validation, defaults and `perturbfit reference`.
#pragma once
#include <nlohmann/json.hpp>

#include <limits>
#include <string>
#include <vector>

namespace perturbfit::config {

enum class ValueType { kInt, kFloat, kBool, kString, kFloatList, kStringList };

// The values a number may take. Every number must also be finite, and an integer must fit
// the type it is read into (int32 unless hi says more): `--set network.genes=4294967316`
// is an error, never 20 genes.
struct Range {
  double lo = -std::numeric_limits<double>::infinity();
  double hi = std::numeric_limits<double>::infinity();
  bool lo_open = false;  // lo itself excluded (strictly positive quantities)
  bool contains(double x) const { return (lo_open ? x > lo : x >= lo) && x <= hi; }
  std::string describe() const;  // "in [0, 1]", "> 0", ... for messages and the reference
};

namespace range {
inline constexpr double kInt32Max = 2147483647.0;
inline Range any() { return {}; }
inline Range positive() { return {0.0, std::numeric_limits<double>::infinity(), true}; }
inline Range non_negative() { return {0.0, std::numeric_limits<double>::infinity(), false}; }
inline Range fraction() { return {0.0, 1.0, false}; }
inline Range between(double lo, double hi) { return {lo, hi, false}; }
inline Range count(double lo, double hi = kInt32Max) { return {lo, hi, false}; }
}  // namespace range

// The names a table of keys is written with: `using namespace config::key_table;` in the
// function that returns it.
namespace key_table {
using VT = ValueType;
using nlohmann::json;
namespace range = ::perturbfit::config::range;
}  // namespace key_table

struct KeySpec {
  std::string key;  // key within its section or step
  ValueType type;
  nlohmann::json default_value;  // null: required (steps) or empty
  std::string doc;
  Range range = {};  // numbers (and each element of a number list); integers default to [0, 2^31 - 1]
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

// Every section of a deck and every kind of [[protocol]] step.
struct Schema {
  std::vector<SectionSpec> sections;
  std::vector<StepSpec> steps;
};

const char* type_name(ValueType t);
// The range a key's values are checked against: its own, and for integers at most int32
// (non-negative unless the key says otherwise).
Range effective_range(const KeySpec& spec);

// Markdown reference of every section, key and step (docs/deck.md is generated from it).
std::string deck_reference_markdown(const Schema& schema);

}  // namespace perturbfit::config
