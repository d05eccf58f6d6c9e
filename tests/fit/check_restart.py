#!/usr/bin/python3
"""Kill a fit with a signal, then --restart it: it must checkpoint, exit 0, and reach the
final loss of an uninterrupted run (issue 5).

usage: check_restart.py PERTURBFIT MPIRUN DECK SCREEN WORKDIR RANKS SIGNAL OPTIMIZER ITERATIONS TOLERANCE [--set k=v ...]
The uninterrupted and the restarted run use the same deck and settings. Adam replays the
same minibatch sequence from its checkpointed moments, so it agrees up to the steady-state
tolerance (the restarted run's first steady states are not warm-started from the previous
iterate's). lbfgs checkpoints its quasi-Newton state and rebuilds its matrix and warm starts
at every checkpoint, as a restarted process does, so it retraces the uninterrupted run."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

(exe, mpirun, deck, screen, work, ranks, signame, optimizer, iterations, tolerance) = sys.argv[1:11]
ranks, iterations, tolerance = int(ranks), int(iterations), float(tolerance)
extra_settings = sys.argv[11:]
sig = getattr(signal, signame)
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)


def command(out, *extra):
    base = [exe, "fit", deck, "--data", screen, "-o", out, "-q", "--json",
            "--set", f"fit.optimizer={optimizer}", "--set", f"fit.max_iterations={iterations}",
            "--set", "fit.checkpoint_every=2", "--set", "fit.truth=", *extra_settings, *extra]
    return ([mpirun, str(ranks)] + base) if ranks > 1 else base


def final_loss(proc_out):
    return json.loads(proc_out)["final_loss"]["total"]


ref = subprocess.run(command(f"{work}/ref"), capture_output=True, text=True)
assert ref.returncode == 0, ref.stderr
reference = final_loss(ref.stdout)

out = f"{work}/killed"
proc = subprocess.Popen(command(out), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
ckpt = os.path.join(out, "checkpoint.h5")
deadline = time.time() + 120
while not os.path.exists(ckpt) and proc.poll() is None and time.time() < deadline:
    time.sleep(0.02)
assert proc.poll() is None, "the fit finished before it could be interrupted; raise ITERATIONS"
os.kill(proc.pid, sig)
start = time.time()
stdout, stderr = proc.communicate(timeout=120)
print(f"stopped {time.time() - start:.2f} s after {signame}, exit code {proc.returncode}")
assert proc.returncode == 0, f"exit code {proc.returncode}: {stderr}"
prov = json.load(open(os.path.join(out, "provenance.json")))
assert prov["status"] == "interrupted", prov["status"]
stopped_at = prov["summary"]["iteration"]
assert 0 < stopped_at < iterations, stopped_at
assert not os.path.exists(os.path.join(out, "fit.h5")), "an interrupted run must not publish fit.h5"

res = subprocess.run(command(out, "--restart", out), capture_output=True, text=True)
assert res.returncode == 0, res.stderr
restarted = final_loss(res.stdout)
rel = abs(restarted - reference) / abs(reference)
print(f"{optimizer}: interrupted at iteration {stopped_at}; final loss uninterrupted {reference!r}, "
      f"restarted {restarted!r}, relative difference {rel:.3e} (tolerance {tolerance:g})")
assert rel <= tolerance, "restart did not reach the uninterrupted run's final loss"
print("OK")
