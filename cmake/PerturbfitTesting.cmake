# Test helpers: serial GoogleTest executables and MPI ones launched through mpiexec.
find_package(GTest REQUIRED)
include(GoogleTest)

set(PERTURBFIT_MPIEXEC_FLAGS --oversubscribe)
execute_process(COMMAND id -u OUTPUT_VARIABLE _uid OUTPUT_STRIP_TRAILING_WHITESPACE)
if(_uid STREQUAL "0")
  list(APPEND PERTURBFIT_MPIEXEC_FLAGS --allow-run-as-root)
endif()
string(REPLACE ";" " " PERTURBFIT_MPIEXEC_FLAGS_STR "${PERTURBFIT_MPIEXEC_FLAGS}")
# Interop tests need Debian's interpreter, which has anndata/h5py/scipy.
set(PERTURBFIT_PYTHON /usr/bin/python3 CACHE FILEPATH "Python with anndata, h5py and scipy")

# pf_add_test(NAME SOURCES ... ) : one GoogleTest binary, each test registered with CTest.
function(pf_add_test name)
  add_executable(${name} ${ARGN})
  target_link_libraries(${name} PRIVATE perturbfit_lib perturbfit_warnings GTest::gtest pf_test_main)
  gtest_discover_tests(${name} PROPERTIES LABELS "serial" DISCOVERY_TIMEOUT 60
                       WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
endfunction()

# pf_add_mpi_test(NAME NPROCS SOURCES ...) : a GoogleTest binary run as one CTest test under mpiexec.
function(pf_add_mpi_test name nprocs)
  add_executable(${name} ${ARGN})
  target_link_libraries(${name} PRIVATE perturbfit_lib perturbfit_warnings GTest::gtest pf_test_main)
  add_test(NAME ${name}_np${nprocs}
           COMMAND ${MPIEXEC_EXECUTABLE} ${PERTURBFIT_MPIEXEC_FLAGS} ${MPIEXEC_NUMPROC_FLAG} ${nprocs}
                   $<TARGET_FILE:${name}>
           WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  set_tests_properties(${name}_np${nprocs} PROPERTIES LABELS "mpi" PROCESSORS ${nprocs} TIMEOUT 300)
endfunction()
