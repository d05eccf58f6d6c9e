#include "perturbfit/config/deck.hpp"

#include <toml.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <sstream>

#include "perturbfit/config/schema.hpp"
#include "perturbfit/core/error.hpp"
#include "perturbfit/core/input_file.hpp"

namespace perturbfit::config {

using nlohmann::json;

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string nearest(const std::string& word, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_d = std::string::npos;
  for (const auto& c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (d < best_d) best_d = d, best = c;
  }
  return best;
}

namespace {

// toml11's message quotes the offending line; a deck path may name any file, so only the
// description, the line number and toml11's hints are kept.
std::string toml_error_message(const toml::exception& e, const std::string& origin) {
  std::istringstream what(e.what());
  std::string first, line, hints;
  std::getline(what, first);
  while (std::getline(what, line))
    if (line.rfind("Hint:", 0) == 0) hints += "; " + line.substr(6);
  if (first.rfind("[error] ", 0) == 0) first = first.substr(8);
  std::string where = "'" + origin + "'";
  if (e.location().line() > 0) where += " at line " + std::to_string(e.location().line());
  return "cannot parse deck " + where + ": " + first + hints;
}

json toml_to_json(const toml::value& v) {
  if (v.is_table()) {
    json j = json::object();
    for (const auto& [k, x] : v.as_table()) j[k] = toml_to_json(x);
    return j;
  }
  if (v.is_array()) {
    json j = json::array();
    for (const auto& x : v.as_array()) j.push_back(toml_to_json(x));
    return j;
  }
  if (v.is_integer()) return json(static_cast<long long>(v.as_integer()));
  if (v.is_floating()) return json(v.as_floating());
  if (v.is_boolean()) return json(v.as_boolean());
  if (v.is_string()) return json(v.as_string().str);
  std::ostringstream os;
  os << v;
  return json(os.str());  // dates and times: kept as text
}

// A command-line value: TOML syntax if it parses (numbers, booleans, arrays, quoted text),
// otherwise the raw text as a string, so that --set model.kind=hybrid works unquoted.
json parse_override_value(const std::string& text) {
  try {
    std::istringstream in("v = " + text);
    const auto t = toml::parse(in, "--set");
    return toml_to_json(toml::find(t, "v"));
  } catch (const std::exception&) {
    return json(text);
  }
}

std::vector<std::string> key_names(const std::vector<KeySpec>& keys) {
  std::vector<std::string> names;
  for (const auto& k : keys) names.push_back(k.key);
  return names;
}

// Checks `value` against `spec` and returns it in canonical form (ints widened to floats).
// A number outside its range (or not finite) names the key, the value and the range.
void check_number(const json& value, const KeySpec& spec, const std::string& where) {
  const Range r = effective_range(spec);
  const double x = value.is_number_unsigned() ? static_cast<double>(value.get<std::uint64_t>()) : value.get<double>();
  if (!std::isfinite(x))
    throw UsageError(where + " must be a finite number, got " + (std::isnan(x) ? "nan" : x > 0 ? "inf" : "-inf"));
  if (!r.contains(x)) throw UsageError(where + " must be " + r.describe() + ", got " + value.dump());
}

json check_value(const json& value, const KeySpec& spec, const std::string& where) {
  auto fail = [&](const std::string& got) -> json {
    throw UsageError(where + " must be " + type_name(spec.type) + ", got " + got);
  };
  switch (spec.type) {
    case ValueType::kInt:
      if (!value.is_number_integer()) fail(value.dump());
      check_number(value, spec, where);
      return value;
    case ValueType::kFloat:
      if (!value.is_number()) fail(value.dump());
      check_number(value, spec, where);
      return json(value.get<double>());
    case ValueType::kBool:
      if (!value.is_boolean()) fail(value.dump());
      return value;
    case ValueType::kString:
      if (!value.is_string()) fail(value.dump());
      return value;
    case ValueType::kFloatList: {
      if (!value.is_array()) fail(value.dump());
      json out = json::array();
      for (const auto& x : value) {
        if (!x.is_number()) fail(value.dump());
        check_number(x, spec, where + " (each element)");
        out.push_back(x.get<double>());
      }
      return out;
    }
    case ValueType::kStringList:
      if (!value.is_array()) fail(value.dump());
      for (const auto& x : value)
        if (!x.is_string()) fail(value.dump());
      return value;
  }
  return value;
}

// `label` names a protocol step in messages ("protocol step 2 (evolve): ").
json complete_table(const json& given, const std::vector<KeySpec>& keys, const std::string& prefix,
                    const std::string& origin, const std::vector<std::string>& ignore = {},
                    const std::string& label = "") {
  json out = json::object();
  for (const auto& [k, v] : given.items()) {
    if (std::find(ignore.begin(), ignore.end(), k) != ignore.end()) continue;
    auto it = std::find_if(keys.begin(), keys.end(), [&](const KeySpec& s) { return s.key == k; });
    if (it == keys.end()) {
      std::string msg = origin + ": unknown key '" + prefix + k + "'";
      if (!keys.empty()) msg += "; did you mean '" + prefix + nearest(k, key_names(keys)) + "'?";
      throw UsageError(msg);
    }
  }
  for (const auto& spec : keys) {
    const std::string where = origin + ": " + (label.empty() ? "'" + prefix : label + "'") + spec.key + "'";
    if (given.contains(spec.key)) {
      out[spec.key] = check_value(given.at(spec.key), spec, where);
    } else if (spec.default_value.is_null()) {
      throw UsageError(where + " is required (" + spec.doc + ")");
    } else {
      out[spec.key] = spec.default_value;
    }
  }
  return out;
}

void apply_override(json& raw, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) throw UsageError("--set expects section.key=value, got '" + assignment + "'");
  const std::string path = assignment.substr(0, eq);
  const json value = parse_override_value(assignment.substr(eq + 1));
  std::vector<std::string> parts;
  std::stringstream ss(path);
  for (std::string p; std::getline(ss, p, '.');) parts.push_back(p);
  if (parts.size() == 3 && parts[0] == "protocol") {
    std::size_t idx = 0;
    try {
      idx = std::stoul(parts[1]);
    } catch (const std::exception&) {
      throw UsageError("--set " + path + ": protocol step index must be a number");
    }
    if (!raw.contains("protocol") || idx >= raw["protocol"].size())
      throw UsageError("--set " + path + ": the deck has no protocol step " + parts[1] + " (steps count from 0)");
    raw["protocol"][idx][parts[2]] = value;
    return;
  }
  if (parts.size() == 2 && parts[0] == "protocol")
    throw UsageError("--set " + path + ": protocol keys are set per step: protocol.N." + parts[1] +
                     "=value (N counts from 0)");
  if (parts.size() != 2) throw UsageError("--set expects section.key=value, got '" + assignment + "'");
  raw[parts[0]][parts[1]] = value;
}

json parse_toml_text(const std::string& toml_text, const std::string& origin) {
  try {
    std::istringstream in(toml_text);
    return toml_to_json(toml::parse(in, origin));
  } catch (const toml::exception& e) {
    throw UsageError(toml_error_message(e, origin));
  } catch (const std::runtime_error& e) {
    throw UsageError(std::string("cannot parse deck ") + origin + ": " + e.what());
  }
}

std::string read_small_text_file(const std::filesystem::path& path, const std::string& what) {
  // A deck is a small text file: a directory, a device (/dev/zero) or a huge file is a
  // mistake in the command line, not something to read.
  constexpr std::uintmax_t kMaxDeckBytes = 16u << 20;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw UsageError(what + " '" + path.string() + "' is a directory; name the " + what + "'s .toml file");
  if (const auto problem = input_file_problem(path); !problem.empty())
    throw UsageError("cannot open " + what + " '" + path.string() + "': " + problem);
  if (std::filesystem::file_size(path, ec) > kMaxDeckBytes)
    throw UsageError(what + " '" + path.string() + "' is larger than 16 MiB; a " + what + " is a short TOML file");
  std::ifstream in(path);
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

}  // namespace

Deck Deck::parse(const std::string& toml_text, const std::string& origin, const Schema& schema,
                 const std::vector<std::string>& overrides) {
  json raw = parse_toml_text(toml_text, origin);
  for (const auto& o : overrides) apply_override(raw, o);

  Deck deck;
  deck.origin_ = origin;
  std::vector<std::string> section_names{"protocol"};
  for (const auto& s : schema.sections) section_names.push_back(s.name);
  for (const auto& [name, value] : raw.items()) {
    if (std::find(section_names.begin(), section_names.end(), name) == section_names.end())
      throw UsageError(origin + ": unknown section '" + name + "'; did you mean '" + nearest(name, section_names) +
                       "'?");
    if (name != "protocol" && !value.is_object())
      throw UsageError(origin + ": '" + name + "' must be a table ([" + name + "])");
  }
  for (const auto& s : schema.sections)
    deck.values_[s.name] = complete_table(raw.value(s.name, json::object()), s.keys, s.name + ".", origin);

  json steps = json::array();
  const json given_steps = raw.value("protocol", json::array());
  if (!given_steps.is_array()) throw UsageError(origin + ": protocol must be an array of tables ([[protocol]])");
  std::vector<std::string> kinds;
  for (const auto& st : schema.steps) kinds.push_back(st.name);
  for (std::size_t i = 0; i < given_steps.size(); ++i) {
    const json& g = given_steps[i];
    const std::string prefix = "protocol." + std::to_string(i) + ".";
    if (!g.is_object() || !g.contains("step") || !g["step"].is_string())
      throw UsageError(origin + ": protocol step " + std::to_string(i) + " needs step = \"<kind>\" (one of " + [&] {
        std::string s;
        for (const auto& k : kinds) s += (s.empty() ? "" : ", ") + k;
        return s;
      }() + ")");
    const std::string kind = g["step"];
    auto it = std::find_if(schema.steps.begin(), schema.steps.end(), [&](const StepSpec& s) { return s.name == kind; });
    if (it == schema.steps.end())
      throw UsageError(origin + ": protocol step " + std::to_string(i) + " has unknown kind '" + kind +
                       "'; did you mean '" + nearest(kind, kinds) + "'?");
    json step = complete_table(g, it->keys, prefix, origin, {"step"},
                               "protocol step " + std::to_string(i) + " (" + kind + "): ");
    step["step"] = kind;
    steps.push_back(step);
  }
  deck.values_["protocol"] = steps;
  return deck;
}

Deck Deck::load(const std::filesystem::path& path, const Schema& schema, const std::vector<std::string>& overrides) {
  Deck deck = parse(read_small_text_file(path, "deck"), path.string(), schema, overrides);
  deck.directory_ = std::filesystem::absolute(path).parent_path();
  return deck;
}

json read_toml_file(const std::filesystem::path& path, const std::string& what) {
  return parse_toml_text(read_small_text_file(path, what), path.string());
}

namespace {
const json& lookup(const json& j, const std::string& dotted, const std::string& what) {
  const json* cur = &j;
  std::stringstream ss(dotted);
  for (std::string p; std::getline(ss, p, '.');) {
    if (!cur->is_object() || !cur->contains(p)) throw UsageError("internal: no deck key '" + what + "'");
    cur = &cur->at(p);
  }
  return *cur;
}
}  // namespace

template <class T>
T Deck::get(const std::string& dotted) const {
  return lookup(values_, dotted, dotted).get<T>();
}

template <class T>
T step_get(const json& step, const std::string& key) {
  return lookup(step, key, "protocol step " + step.value("step", std::string("?")) + "." + key).get<T>();
}

template int Deck::get<int>(const std::string&) const;
template long Deck::get<long>(const std::string&) const;
template double Deck::get<double>(const std::string&) const;
template bool Deck::get<bool>(const std::string&) const;
template std::string Deck::get<std::string>(const std::string&) const;
template std::vector<double> Deck::get<std::vector<double>>(const std::string&) const;
template std::vector<std::string> Deck::get<std::vector<std::string>>(const std::string&) const;
template int step_get<int>(const json&, const std::string&);
template long step_get<long>(const json&, const std::string&);
template double step_get<double>(const json&, const std::string&);
template std::string step_get<std::string>(const json&, const std::string&);
template std::vector<double> step_get<std::vector<double>>(const json&, const std::string&);
template std::vector<std::string> step_get<std::vector<std::string>>(const json&, const std::string&);

}  // namespace perturbfit::config
