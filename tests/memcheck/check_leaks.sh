#!/usr/bin/env bash
# Leak check of simulate, inspect and fit (a few TAO iterations, a checkpoint, a restart) on
# a small screen, and of a fit with latent nodes and the steady-state term on the same
# screen measured on half of its genes:
#  - PETSc's -malloc_dump must report no PETSc object or allocation left at finalize;
#  - valgrind must find no definitely-lost block allocated from perturbfit code. Open MPI's
#    own initialisation and finalisation leaks (reached through PetscInitialize and
#    PetscFinalize in cli::PetscRuntime) are reported, not counted.
# usage: check_leaks.sh PERTURBFIT DECK WORKDIR [fit|latent|analysis|time_course]
#   fit: simulate, inspect, fit, restart; latent: the panel screen and the latent fit;
#   analysis: predict (pairs, a protocol, cells), export, check and design on a fit made first
#   (unchecked); time_course: simulate, fit and predict a time-resolved screen (DECK is one)
#   (four CTest tests, so that they run side by side); fit and latent when omitted.
set -uo pipefail
exe="$1"; deck="$2"; work="$3"; part="${4:-all}"
rm -rf "$work"; mkdir -p "$work"
fail=0
fit_args="fit $deck --data $work/out/screen.h5ad --set fit.max_iterations=3 --set fit.checkpoint_every=2"
panel="--set measure.panel_fraction=0.5"
latent_fit="fit $deck --data $work/panel/screen.h5ad --set fit.max_iterations=3 --set fit.lambda_ss=0.1 -o $work/latent"
cmds=()
if [ "$part" != latent ] && [ "$part" != time_course ]; then
  cmds+=("simulate $deck -o $work/out" "inspect $work/out/screen.h5ad" "$fit_args -o $work/fit"
         "$fit_args --set fit.max_iterations=4 --restart $work/fit")
fi
if [ "$part" != fit ] && [ "$part" != analysis ] && [ "$part" != time_course ]; then
  cmds+=("simulate $deck $panel -o $work/panel" "$latent_fit")
fi
if [ "$part" = time_course ]; then  # DECK: a time-resolved screen (trajectories and their adjoints)
  cmds=("simulate $deck -o $work/out" "$fit_args -o $work/fit"
        "predict $deck --data $work/out/screen.h5ad --model $work/fit/fit.h5 --groups test -o $work/predict")
fi
if [ "$part" = analysis ]; then
  "$exe" simulate "$deck" -o "$work/out" -q > /dev/null || { echo "FAIL: the analysis part's simulate"; exit 1; }
  # shellcheck disable=SC2086
  "$exe" $fit_args -o "$work/fit" -q > /dev/null || { echo "FAIL: the analysis part's fit"; exit 1; }
  genes=$(/usr/bin/python3 -c "import h5py; print(','.join(x.decode() for x in h5py.File('$work/fit/fit.h5')['/genes'][:4]))")
  model="$deck --data $work/out/screen.h5ad --model $work/fit/fit.h5"
  cmds=("predict $model --all-pairs $genes --cells 5 -o $work/pairs"
        "predict $model --perturbations ${genes%%,*} --protocol medium=base;perturb;equilibrate -o $work/protocol"
        "export $model -o $work/export" "check $model -o $work/check"
        "design $deck --from $work/out/screen.h5ad -o $work/design")
fi
for cmd in "${cmds[@]}"; do
  # shellcheck disable=SC2086
  if ! "$exe" $cmd -q -malloc_debug -malloc_dump > "$work/stdout" 2> "$work/malloc.log"; then
    echo "FAIL: $cmd exited with an error"; cat "$work/malloc.log"; fail=1
  fi
  if grep -qE "Total space allocated|Memory allocated|\[0\].*not freed" "$work/malloc.log"; then
    echo "FAIL: PETSc -malloc_dump reports leaks in: $cmd"; cat "$work/malloc.log"; fail=1
  fi
  # shellcheck disable=SC2086
  valgrind --leak-check=full --show-leak-kinds=definite --num-callers=40 "$exe" $cmd -q -no_signal_handler \
    > /dev/null 2> "$work/valgrind.log"
  ours=$(grep -A40 "definitely lost in loss record" "$work/valgrind.log" | grep "perturbfit::" \
         | grep -v -E "PetscRuntime::~?PetscRuntime|MpiRuntime::~?MpiRuntime|perturbfit::cli::main" | sort -u)
  if [ -n "$ours" ]; then
    echo "FAIL: valgrind finds blocks lost from perturbfit code in: $cmd"; echo "$ours"; fail=1
  fi
  echo "$cmd: $(grep -E 'definitely lost:' "$work/valgrind.log" | sed 's/==[0-9]*==//') (all inside MPI/PETSc initialisation and finalisation)"
done
[ "$fail" -eq 0 ] && echo "no leaks from perturbfit code"
exit "$fail"
