// JSON as text for files and stdout. Labels come from users' screens and may not be UTF-8;
// JSON must be, so invalid bytes become U+FFFD instead of an exception at the last step.
#pragma once
#include <nlohmann/json.hpp>

#include <string>

namespace perturbfit {

inline std::string json_text(const nlohmann::json& j, int indent = 2) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace perturbfit
