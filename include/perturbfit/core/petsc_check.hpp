// Bridges PETSc error codes to exceptions at the edge of PETSc-facing code.
// Inside functions returning PetscErrorCode use PetscCall; where a PETSc call is made
// from code that returns void or a value, wrap it in PF_PETSC.
#pragma once
#include <petscsys.h>

#include <string>

#include "perturbfit/core/error.hpp"

namespace perturbfit::detail {
[[noreturn]] void throw_petsc_error(PetscErrorCode code, const char* expr, const char* file, int line);
}  // namespace perturbfit::detail

#define PF_PETSC(expr)                                                                                           \
  do {                                                                                                           \
    PetscErrorCode pf_petsc_ierr_ = (expr);                                                                      \
    if (pf_petsc_ierr_ != 0) ::perturbfit::detail::throw_petsc_error(pf_petsc_ierr_, #expr, __FILE__, __LINE__); \
  } while (0)
