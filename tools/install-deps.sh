#!/usr/bin/env bash
# Installs every Debian package perturbfit needs to build, test and run.
# Idempotent: apt-get skips what is already installed. Run as root (or via sudo).
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config git valgrind
  openmpi-bin libopenmpi-dev
  libpetsc-real3.18-dev            # PETSc 3.18 (SNES, KSP, TAO), pkg-config name PETSc
  liblapack-dev                    # small dense solves through PETSc's LAPACK interface
  libsundials-dev                  # SUNDIALS 6.4: CVODES, KINSOL, NVECTOR_{SERIAL,PARALLEL}
  libhdf5-openmpi-dev              # parallel HDF5 1.10
  libgtest-dev googletest
  libtoml11-dev libcli11-dev nlohmann-json3-dev
  python3-anndata python3-h5py python3-scipy python3-numpy   # interop tests (/usr/bin/python3)
  python3-matplotlib               # tools/plot.py (figures of a fit)
  slurm-wlm munge                  # the one-node SLURM cluster of the slurm tests (tools/slurm-local.sh)
)

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
