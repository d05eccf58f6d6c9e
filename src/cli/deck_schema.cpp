#include "perturbfit/cli/deck_schema.hpp"

#include "perturbfit/data/options.hpp"
#include "perturbfit/fit/options.hpp"
#include "perturbfit/model/parameters.hpp"
#include "perturbfit/simulate/settings.hpp"
#include "perturbfit/solvers/settings.hpp"

namespace perturbfit::cli {

namespace {
// A table, one line per key:
// clang-format off
config::SectionSpec run_section() {
  using namespace config::key_table;
  return {"run", "What this run is called and how it draws random numbers.",
       {
           {"seed", VT::kInt, 1, "master seed; every random draw is keyed by it and by an entity id (cell, guide, gene), so results do not depend on the rank count", range::count(0, 9007199254740992.0)},
           {"name", VT::kString, "perturbfit", "label recorded in the provenance record"},
       }};
}
// clang-format on
}  // namespace

const config::Schema& deck_schema() {
  // The order of the sections is the order of docs/deck.md.
  static const config::Schema schema{
      {run_section(), model::model_section(), simulate::network_section(), solvers::solver_section(),
       simulate::measure_section(), simulate::niche_section(), simulate::cell_types_section(), data::data_section(), fit::fit_section(),
       simulate::output_section()},
      simulate::protocol_step_specs()};
  return schema;
}

}  // namespace perturbfit::cli
