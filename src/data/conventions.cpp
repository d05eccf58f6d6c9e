#include "perturbfit/data/conventions.hpp"

#include <algorithm>

namespace perturbfit::data {

namespace {
bool has(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}
bool any_contains(const std::vector<std::string>& v, const std::string& s) {
  return std::any_of(v.begin(), v.end(), [&](const std::string& x) { return x.find(s) != std::string::npos; });
}
std::string quoted(const std::string& s) { return "\"" + s + "\""; }
}  // namespace

std::string Convention::deck_keys() const {
  return "[data] perturbation_key = " + quoted(perturbation_key) + ", control_labels = [" + quoted(control_label) +
         "], separator = " + quoted(separator);
}

std::vector<Convention> detect_conventions(const io::H5adReader& reader) {
  std::vector<Convention> found;
  auto categories = [&](const std::string& column) {
    return reader.has_obs_column(column) ? reader.obs_column(column).categories : std::vector<std::string>{};
  };
  const auto condition = categories("condition");
  if (has(condition, "ctrl") && (any_contains(condition, "+ctrl") || any_contains(condition, "ctrl+")))
    found.push_back({"GEARS", "condition", "ctrl", "+", "obs['condition'] holds 'ctrl' and labels such as 'A+ctrl'"});
  else if (has(condition, "ctrl"))
    found.push_back({"GEARS", "condition", "ctrl", "+", "obs['condition'] holds 'ctrl'"});
  if (has(condition, "control"))
    found.push_back({"PerturBench", "condition", "control", "+", "obs['condition'] holds 'control'"});
  const auto perturbation = categories("perturbation");
  for (const std::string control : {"control", "non-targeting", "ctrl", "NT"}) {
    if (!has(perturbation, control)) continue;
    const bool underscores = any_contains(perturbation, "_") && !any_contains(perturbation, "+");
    if (control == "control" && underscores)
      found.push_back({"scPerturb", "perturbation", control, "_",
                       "obs['perturbation'] holds 'control' and combinations written 'A_B'"});
    else
      found.push_back({control == "control" ? "scPerturb" : "perturbfit", "perturbation", control, "+",
                       "obs['perturbation'] holds '" + control + "'"});
    break;
  }
  return found;
}

}  // namespace perturbfit::data
