# Warning flags for the project's own targets (not for third-party headers, taken as SYSTEM).
add_library(perturbfit_warnings INTERFACE)
target_compile_options(perturbfit_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wcast-align -Wunused
  -Woverloaded-virtual -Wformat=2
  $<$<BOOL:${PERTURBFIT_WERROR}>:-Werror>)
