// PETSc (and so MPI) initialisation and finalisation for the executable, as RAII.
#pragma once
#include <mpi.h>

#include <string>
#include <vector>

namespace perturbfit::cli {

class PetscRuntime {
 public:
  explicit PetscRuntime(const std::vector<std::string>& petsc_args);
  ~PetscRuntime();
  PetscRuntime(const PetscRuntime&) = delete;
  PetscRuntime& operator=(const PetscRuntime&) = delete;
  MPI_Comm world() const { return MPI_COMM_WORLD; }

 private:
  std::vector<std::string> storage_;
  std::vector<char*> argv_;
  int argc_ = 0;
  char** argv_ptr_ = nullptr;
};

}  // namespace perturbfit::cli
