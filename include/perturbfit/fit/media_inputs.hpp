// The model input m of each medium of a screen (MODEL.md section 3): what a fit knows of
// the environments its cells were measured in.
#pragma once
#include <string>
#include <vector>

#include "perturbfit/simulate/protocol.hpp"

namespace perturbfit::fit {

// Medium label -> m: the values of the protocol's `medium` step of that name when
// every label has one (a simulated screen's own deck), else one-hot over the labels (no
// input at all when the screen has a single medium).
std::vector<std::vector<double>> media_inputs(const simulate::Protocol& protocol,
                                              const std::vector<std::string>& labels);

}  // namespace perturbfit::fit
