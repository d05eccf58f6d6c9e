#!/usr/bin/python3
"""jobs/simulate.slurm and jobs/fit.slurm on a real (one-node) SLURM cluster, and
preemption for real: a fit whose time limit is 1 minute gets SLURM's warning signal
(--signal=USR1@50), checkpoints and exits; the same command resubmitted continues from the
checkpoint and must end bit for bit where an uninterrupted fit of the same job ends.

usage: check_jobs.py PERTURBFIT SOURCE_DIR WORKDIR
Needs SLURM_CONF (tools/slurm-local.sh start)."""
import json
import os
import shutil
import sys
import threading

import h5py
import numpy as np

from slurm_common import require_cluster, sbatch_wait, show_log, status

exe, src, work = sys.argv[1:4]
require_cluster()
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
env = dict(os.environ, PERTURBFIT=exe)
deck = os.path.join(src, "inputs", "quickstart.toml")
sim = os.path.join(work, "sim")

# Two ranks, one core each (the job scripts' own --ntasks-per-node asks for a real node).
code, job, secs, err = sbatch_wait("--ntasks-per-node=2", "--cpus-per-task=1", f"--output={work}/simulate.log",
                                   os.path.join(src, "jobs", "simulate.slurm"), deck, sim, env=env, cwd=src)
show_log(f"{work}/simulate.log")
assert code == 0, f"simulate job {job} failed ({code}): {err}"
assert status(sim) == "ok", status(sim)

prov = json.load(open(os.path.join(sim, "provenance.json")))
assert prov["ranks"] == 2, prov["ranks"]
with h5py.File(os.path.join(sim, "screen.h5ad"), "r") as f:
    cells = f["obs"]["_index"].shape[0]
assert cells == 40000, cells
print(f"simulate: job {job}, 2 ranks, {cells} cells, {secs:.0f} s")

# The fit: long enough (1000 L-BFGS iterations, no early stop) that the warning signal,
# which SLURM sends 0 to 60 s early, lands inside it.
fit_args = [deck, None, "--data", os.path.join(sim, "screen.h5ad"), "--set", "fit.truth=",
            "--set", "fit.max_iterations=1000", "--set", "fit.gatol=0", "--set", "fit.validation_patience=100000",
            "--set", "fit.checkpoint_every=10", "-q"]
fit_job = os.path.join(src, "jobs", "fit.slurm")
one_task = ["--ntasks-per-node=1", "--cpus-per-task=1"]


def fit(out, *options, log):
    a = list(fit_args)
    a[1] = out
    return sbatch_wait(*one_task, f"--output={log}", *options, fit_job, *a, env=env, cwd=src)


# The reference and the preempted fit run side by side (one core each).
ref_dir, pre_dir = os.path.join(work, "reference"), os.path.join(work, "preempted")
ref_result = {}
t = threading.Thread(target=lambda: ref_result.update(r=fit(ref_dir, log=f"{work}/reference.log")))
t.start()
code, job, secs, err = fit(pre_dir, "--time=1", "--signal=USR1@50", log=f"{work}/preempted-1.log")
show_log(f"{work}/preempted-1.log")
assert code == 0, f"the preempted fit's job {job} failed ({code}): {err}"
assert status(pre_dir) == "interrupted", f"the fit was not interrupted (status {status(pre_dir)}); it must outlast the signal"
assert "interrupted by signal 10" in open(f"{work}/preempted-1.log").read(), "not stopped by SIGUSR1 (10)"
stopped = json.load(open(os.path.join(pre_dir, "provenance.json")))["summary"]["iteration"]
assert os.path.exists(os.path.join(pre_dir, "checkpoint.h5"))
assert not os.path.exists(os.path.join(pre_dir, "fit.h5")), "an interrupted fit must not publish fit.h5"
print(f"preempted: job {job} got SIGUSR1 from SLURM and checkpointed at iteration {stopped} ({secs:.0f} s)")

# Resubmitted as it was (the script adds --restart when it finds the checkpoint).
code, job, secs, err = fit(pre_dir, log=f"{work}/preempted-2.log")
show_log(f"{work}/preempted-2.log")
assert code == 0 and status(pre_dir) == "ok", f"the resubmitted job {job} failed ({code}, {status(pre_dir)}): {err}"
t.join()
code, job, secs, err = ref_result["r"]
assert code == 0 and status(ref_dir) == "ok", f"the reference job {job} failed ({code}): {err}"
print(f"reference: job {job}, uninterrupted, {secs:.0f} s")

# Resubmitting a finished fit changes nothing.
before = os.path.getmtime(os.path.join(pre_dir, "fit.h5"))
code, job, _, err = fit(pre_dir, log=f"{work}/preempted-3.log")
assert code == 0 and os.path.getmtime(os.path.join(pre_dir, "fit.h5")) == before, "a finished fit was run again"

with h5py.File(os.path.join(ref_dir, "fit.h5"), "r") as a, h5py.File(os.path.join(pre_dir, "fit.h5"), "r") as b:
    names = []
    a["parameters"].visit(lambda n: names.append("parameters/" + n) if isinstance(a["parameters"][n], h5py.Dataset) else None)
    names += ["history/loss", "history/gradient_norm", "groups/predicted"]
    for n in names:
        x, y = a[n][()], b[n][()]
        assert x.shape == y.shape and np.array_equal(x, y), f"{n} differs between the uninterrupted and the preempted fit"
    iterations = a["history/loss"].shape[0] - 1
print(f"identical: {len(names)} datasets of fit.h5 (parameters, loss history, predictions) bit for bit, "
      f"{iterations} iterations, interrupted at {stopped}")
print("OK")
