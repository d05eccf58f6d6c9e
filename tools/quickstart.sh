#!/usr/bin/env bash
# The newcomer's one command: install the Debian packages, build, and run the main job on
# the bundled default deck (inputs/quickstart.toml) at 2 ranks. Output: out/quickstart/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
bash tools/build.sh
bash tools/mpirun.sh 2 build/src/perturbfit simulate inputs/quickstart.toml -o out/quickstart "$@"
