#include "perturbfit/fit/media_inputs.hpp"

#include <algorithm>

namespace perturbfit::fit {

std::vector<std::vector<double>> media_inputs(const simulate::Protocol& protocol,
                                              const std::vector<std::string>& labels) {
  std::vector<std::vector<double>> out(labels.size());
  std::size_t matched = 0, width = 0;
  for (const auto& step : protocol)
    if (const auto* medium = std::get_if<simulate::MediumStep>(&step.action))
      for (std::size_t i = 0; i < labels.size(); ++i)
        if (medium->name == labels[i] && out[i].empty()) {
          out[i] = medium->values;
          width = std::max(width, out[i].size());
          ++matched;
        }
  if (matched == labels.size() && width > 0) {
    for (auto& v : out) v.resize(width, 0.0);
    return out;
  }
  if (labels.size() <= 1) return std::vector<std::vector<double>>(labels.size());
  for (std::size_t i = 0; i < labels.size(); ++i) {
    out[i].assign(labels.size(), 0.0);
    out[i][i] = 1.0;
  }
  return out;
}

}  // namespace perturbfit::fit
