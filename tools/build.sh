#!/usr/bin/env bash
# Configures and builds perturbfit in ./build (extra CMake arguments: $PERTURBFIT_CMAKE_ARGS).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC2086
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo ${PERTURBFIT_CMAKE_ARGS:-}
cmake --build build -j "$(nproc)"
