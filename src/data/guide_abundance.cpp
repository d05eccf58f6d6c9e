#include "perturbfit/data/guide_abundance.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <unordered_map>

#include "perturbfit/core/error.hpp"

namespace perturbfit::data {

namespace {
int index_of(const std::vector<std::string>& names, const std::string& name) {
  const auto it = std::find(names.begin(), names.end(), name);
  return it == names.end() ? -1 : static_cast<int>(it - names.begin());
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}
}  // namespace

AbundanceTable abundance_observations(const std::vector<io::GuideCountRow>& rows, const std::string& file,
                                      const std::vector<Perturbation>& perturbations,
                                      const std::vector<std::string>& batches, const std::vector<std::string>& media,
                                      const std::vector<std::string>& control_labels) {
  std::unordered_map<std::string, int> perturbation_of;
  for (std::size_t p = 0; p < perturbations.size(); ++p)
    if (!perturbations[p].control) perturbation_of[perturbations[p].label] = static_cast<int>(p);
  auto is_control = [&](const std::string& label) {
    return std::find(control_labels.begin(), control_labels.end(), label) != control_labels.end();
  };
  // Reads per (series, time, perturbation), -1 standing for the control guides.
  using Series = std::pair<std::string, std::string>;  // batch label, medium
  std::map<Series, std::map<double, std::map<int, double>>> reads;
  std::map<std::string, char> unknown;
  for (const auto& r : rows) {
    int p = -1;
    if (!is_control(r.perturbation)) {
      const auto it = perturbation_of.find(r.perturbation);
      if (it == perturbation_of.end()) {
        unknown[r.perturbation] = 1;
        continue;
      }
      p = it->second;
    }
    reads[{r.batch, r.medium}][r.time][p] += static_cast<double>(r.count);
  }
  AbundanceTable table;
  table.unknown_perturbations = unknown.size();
  for (const auto& [series, by_time] : reads) {
    const std::string name = file + ": series (batch '" + series.first + "', medium '" + series.second + "')";
    if (by_time.size() < 2)
      throw DataError(name + " has guide counts at one time only; fitness is read from the change between a first "
                             "and a last sample: add the start (or the harvest) sample of this series");
    const int medium = index_of(media, series.second);
    if (medium < 0)
      throw DataError(name + ": medium '" + series.second + "' is not a medium of the screen (" + join(media) +
                      "); the series' states would be unknown");
    const auto& first = by_time.begin()->second;
    const auto& last = by_time.rbegin()->second;
    const double dt = by_time.rbegin()->first - by_time.begin()->first;
    auto count = [](const std::map<int, double>& sample, int p) {
      const auto it = sample.find(p);
      return it == sample.end() ? 0.0 : it->second;
    };
    const double C0 = count(first, -1), C1 = count(last, -1);
    if (C0 <= 0 || C1 <= 0)
      throw DataError(name + " has no control-guide reads in its " + (C0 <= 0 ? "first" : "last") +
                      " sample: growth relative to controls (which removes the baseline rate and the sequencing "
                      "depth) is unidentifiable; count the control guides in every sample");
    ++table.series;
    std::map<int, char> present;
    for (const auto& [p, c] : first) present[p] = 1;
    for (const auto& [p, c] : last) present[p] = 1;
    for (const auto& [p, unused] : present) {
      if (p < 0) continue;
      const double c0 = count(first, p), c1 = count(last, p);
      if (c0 <= 0 && c1 <= 0) continue;  // absent from the series: nothing to read
      AbundanceObservation o;
      o.perturbation = p;
      o.batch = index_of(batches, series.first);
      o.medium = medium;
      o.dt = dt;
      o.log_ratio = std::log((c1 + 0.5) / (c0 + 0.5)) - std::log((C1 + 0.5) / (C0 + 0.5));
      o.variance = 1 / (c1 + 0.5) + 1 / (c0 + 0.5) + 1 / (C1 + 0.5) + 1 / (C0 + 0.5);
      o.series = series.first;
      table.observations.push_back(o);
    }
  }
  return table;
}

}  // namespace perturbfit::data
