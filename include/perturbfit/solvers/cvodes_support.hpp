// What the CVODES users (ode_integrator.cpp, trajectory.cpp) share: return-code checks and
// owning handles for SUNDIALS objects.
#pragma once
#include <cvodes/cvodes.h>
#include <nvector/nvector_serial.h>
#include <sundials/sundials_linearsolver.h>

#include <memory>
#include <string>
#include <type_traits>

#include "perturbfit/core/error.hpp"
#include "perturbfit/model/vector_field.hpp"

namespace perturbfit::solvers::cvodes {

// Throws NumericalError naming the call and CVODES' flag when flag < 0.
inline void check(int flag, const char* what) {
  if (flag < 0) throw NumericalError(std::string("CVODES: ") + what + " failed: " + CVodeGetReturnFlagName(flag));
}

struct VectorDeleter {
  void operator()(N_Vector v) const { N_VDestroy(v); }
};
using Vector = std::unique_ptr<std::remove_pointer_t<N_Vector>, VectorDeleter>;
struct LinearSolverDeleter {
  void operator()(SUNLinearSolver s) const { SUNLinSolFree(s); }
};
using LinearSolver = std::unique_ptr<std::remove_pointer_t<SUNLinearSolver>, LinearSolverDeleter>;
struct MemoryDeleter {
  void operator()(void* mem) const { CVodeFree(&mem); }
};
using Memory = std::unique_ptr<void, MemoryDeleter>;  // CVodeCreate's integrator memory

// CVodeSetJacTimes' setup: df/dx at (t, y) into the user data's `lin`, which the products
// then reuse. S has `field`, `cond` (a Condition pointer) and `lin`.
template <class S>
int linearize_for_products(realtype t, N_Vector y, N_Vector, void* user) {
  auto* s = static_cast<S*>(user);
  s->field.linearize(N_VGetArrayPointer(y), *s->cond, t, s->lin);
  return 0;
}

}  // namespace perturbfit::solvers::cvodes
