// The whole deck schema: every section and protocol step kind, each declared by the code that
// reads it (model, solvers, data, simulate, fit); [run] is the run's own.
#pragma once
#include "perturbfit/config/schema.hpp"

namespace perturbfit::cli {

const config::Schema& deck_schema();

}  // namespace perturbfit::cli
