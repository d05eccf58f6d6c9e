// The perturbfit executable: everything lives in the library; see src/cli/app.cpp.
#include "perturbfit/cli/commands.hpp"

int main(int argc, char** argv) { return perturbfit::cli::main(argc, argv); }
