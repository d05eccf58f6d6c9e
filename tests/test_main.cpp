// GoogleTest main for every test binary: PETSc (and MPI) live for the whole run; only
// rank 0 prints, but every rank's failures count (the exit code is reduced).
#include <gtest/gtest.h>
#include <mpi.h>
#include <petscsys.h>

#include "perturbfit/io/hdf5.hpp"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  int pargc = 1;
  char* pargv_storage[] = {argv[0], nullptr};
  char** pargv = pargv_storage;
  if (PetscInitialize(&pargc, &pargv, nullptr, nullptr) != 0) return 1;
  perturbfit::io::silence_hdf5_errors();
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
  }
  int failed = RUN_ALL_TESTS();
  int any = 0;
  MPI_Allreduce(&failed, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  PetscFinalize();
  return any;
}
