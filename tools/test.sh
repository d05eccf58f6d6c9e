#!/usr/bin/env bash
# Builds (if needed) and runs the whole test suite: serial tests, MPI tests at 2 ranks,
# and the anndata interop test.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/build.sh
ctest --test-dir build --output-on-failure -j 2
