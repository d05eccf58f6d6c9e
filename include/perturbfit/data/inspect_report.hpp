// What `perturbfit inspect` reports about a screen: sizes, encodings, perturbations,
// controls per batch, cells per group, targets not in var, and the design warnings of
// MODEL.md section 9 (controls in every batch, square-root control allocation).
#pragma once
#include <nlohmann/json.hpp>

#include <string>

#include "perturbfit/data/screen_data.hpp"

namespace perturbfit::data {

nlohmann::json inspect_report(const ScreenData& screen, const DataOptions& options);
std::string inspect_text(const nlohmann::json& report);  // the same, for people

}  // namespace perturbfit::data
