#include "perturbfit/cli/runtime.hpp"

#include <petscsys.h>

#include "perturbfit/core/error.hpp"
#include "perturbfit/core/input_file.hpp"
#include "perturbfit/io/hdf5.hpp"

namespace perturbfit::cli {

MpiRuntime::MpiRuntime(int* argc, char*** argv) {
  int provided = 0;
  // MPI errors abort the job (MPI's default) unless a PETSc or perturbfit check returns first.
  if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) std::exit(1);
}

MpiRuntime::~MpiRuntime() { MPI_Finalize(); }

void check_petsc_option_files(const std::vector<std::string>& petsc_args) {
  for (std::size_t i = 0; i < petsc_args.size(); ++i) {
    const std::string& a = petsc_args[i];
    if (a != "-options_file" && a != "-options_file_yaml") continue;
    if (i + 1 >= petsc_args.size()) throw UsageError(a + " needs a file name");
    if (const auto problem = input_file_problem(petsc_args[i + 1]); !problem.empty())
      throw UsageError(a + " '" + petsc_args[i + 1] + "': " + problem);
  }
}

PetscRuntime::PetscRuntime(const std::vector<std::string>& petsc_args) : storage_(petsc_args) {
  for (auto& s : storage_) argv_.push_back(s.data());
  argv_.push_back(nullptr);
  argc_ = static_cast<int>(storage_.size());
  argv_ptr_ = argv_.data();
  if (PetscInitialize(&argc_, &argv_ptr_, nullptr, nullptr) != 0)
    throw UsageError("PETSc failed to initialise with the PETSc options given (see its message above)");
  io::silence_hdf5_errors();
}

PetscRuntime::~PetscRuntime() { PetscFinalize(); }

}  // namespace perturbfit::cli
