#!/usr/bin/env bash
# The newcomer's one command: install the Debian packages, build, and run the main job on
# the bundled default deck (inputs/quickstart.toml) at 2 ranks: simulate the screen
# (out/quickstart/), then fit the model to it and evaluate on held-out perturbations
# (out/quickstart-fit/). Extra arguments go to the fit (e.g. --set fit.lambda_ss=0).
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
bash tools/build.sh
bash tools/mpirun.sh 2 build/src/perturbfit simulate inputs/quickstart.toml -o out/quickstart
bash tools/mpirun.sh 2 build/src/perturbfit fit inputs/quickstart.toml -o out/quickstart-fit "$@"
