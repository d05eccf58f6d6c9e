# All third-party dependencies, each from Debian's packages (tools/install-deps.sh).
find_package(MPI REQUIRED COMPONENTS C CXX)
find_package(OpenMP REQUIRED COMPONENTS CXX)

find_package(PkgConfig REQUIRED)
pkg_check_modules(PETSC REQUIRED IMPORTED_TARGET PETSc>=3.18)

find_package(SUNDIALS 6.4 REQUIRED CONFIG)
# LAPACK for small dense systems (solvers/small_dense.cpp), called through PETSc's
# petscblaslapack.h; PETSc's pkg-config file does not pass it on to its users.
find_package(LAPACK REQUIRED)

set(HDF5_PREFER_PARALLEL TRUE)
find_package(HDF5 1.10 REQUIRED COMPONENTS C)
if(NOT HDF5_IS_PARALLEL)
  message(FATAL_ERROR "perturbfit needs parallel HDF5 (Debian: libhdf5-openmpi-dev); found a serial one")
endif()
add_library(perturbfit_hdf5 INTERFACE)
target_include_directories(perturbfit_hdf5 SYSTEM INTERFACE ${HDF5_C_INCLUDE_DIRS} ${HDF5_INCLUDE_DIRS})
target_link_libraries(perturbfit_hdf5 INTERFACE ${HDF5_C_LIBRARIES} ${HDF5_LIBRARIES})
target_compile_definitions(perturbfit_hdf5 INTERFACE ${HDF5_C_DEFINITIONS} ${HDF5_DEFINITIONS})

find_package(toml11 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(nlohmann_json 3.10 REQUIRED)

# glibc's vector math library (libmvec, x86_64): model/logistic.cpp calls its SSE2 exp for
# the batched residuals. Optional: without it the scalar exp is used.
find_library(PERTURBFIT_LIBMVEC mvec)
