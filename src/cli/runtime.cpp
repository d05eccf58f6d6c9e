#include "perturbfit/cli/runtime.hpp"

#include <petscsys.h>

#include "perturbfit/core/error.hpp"
#include "perturbfit/io/hdf5.hpp"

namespace perturbfit::cli {

PetscRuntime::PetscRuntime(const std::vector<std::string>& petsc_args) : storage_(petsc_args) {
  for (auto& s : storage_) argv_.push_back(s.data());
  argv_.push_back(nullptr);
  argc_ = static_cast<int>(storage_.size());
  argv_ptr_ = argv_.data();
  if (PetscInitialize(&argc_, &argv_ptr_, nullptr, nullptr) != 0)
    throw Error(ExitCode::kInternal, "PETSc failed to initialise");
  io::silence_hdf5_errors();
}

PetscRuntime::~PetscRuntime() { PetscFinalize(); }

}  // namespace perturbfit::cli
