#!/usr/bin/env bash
# mpiexec with the flags a laptop or container needs: oversubscription, and root if root.
# usage: tools/mpirun.sh NRANKS command...
set -euo pipefail
n="$1"; shift
flags=(--oversubscribe)
if [ "$(id -u)" -eq 0 ]; then flags+=(--allow-run-as-root); fi
exec mpiexec "${flags[@]}" -n "$n" "$@"
