#include "perturbfit/core/petsc_check.hpp"

#include <sstream>

namespace perturbfit::detail {

void throw_petsc_error(PetscErrorCode code, const char* expr, const char* file, int line) {
  const char* text = nullptr;
  PetscErrorMessage(code, &text, nullptr);
  std::ostringstream os;
  os << "PETSc call failed (" << (text ? text : "unknown error") << ", code " << code << "): " << expr << " at " << file
     << ":" << line;
  throw Error(ExitCode::kNumerical, os.str());
}

}  // namespace perturbfit::detail
