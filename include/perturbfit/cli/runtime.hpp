// MPI and PETSc initialisation and finalisation for the executable, as RAII. MPI comes
// first and ends last, so that a PETSc set-up failure (a bad -options_file) is an ordinary
// error inside the command's error boundary, and every HDF5 handle is closed before
// MPI_Finalize.
#pragma once
#include <mpi.h>

#include <string>
#include <vector>

namespace perturbfit::cli {

class MpiRuntime {
 public:
  MpiRuntime(int* argc, char*** argv);
  ~MpiRuntime();
  MpiRuntime(const MpiRuntime&) = delete;
  MpiRuntime& operator=(const MpiRuntime&) = delete;
  MPI_Comm world() const { return MPI_COMM_WORLD; }
};

// UsageError if an -options_file (or -options_file_yaml) argument names no readable file:
// PETSc would print its whole configuration and fail.
void check_petsc_option_files(const std::vector<std::string>& petsc_args);

class PetscRuntime {
 public:
  explicit PetscRuntime(const std::vector<std::string>& petsc_args);
  ~PetscRuntime();
  PetscRuntime(const PetscRuntime&) = delete;
  PetscRuntime& operator=(const PetscRuntime&) = delete;

 private:
  std::vector<std::string> storage_;
  std::vector<char*> argv_;
  int argc_ = 0;
  char** argv_ptr_ = nullptr;
};

}  // namespace perturbfit::cli
