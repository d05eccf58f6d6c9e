#!/usr/bin/python3
"""A 12-point sweep (tests/data/sweep_small.toml) as a SLURM job array through
tools/sweep-submit.sh, collected by the job it submits after the array: every point
finished, the table has a row per point, and the array's results equal the same sweep run
by the local runner (`perturbfit sweep` without SLURM), point by point.

usage: check_sweep.py PERTURBFIT SOURCE_DIR WORKDIR"""
import csv
import os
import shutil
import subprocess
import sys

from slurm_common import require_cluster

exe, src, work = sys.argv[1:4]
require_cluster()
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
sweep = os.path.join(src, "tests", "data", "sweep_small.toml")
env = dict(os.environ, PERTURBFIT=exe, PERTURBFIT_WAIT="1")
array_dir, local_dir = os.path.join(work, "array"), os.path.join(work, "local")

res = subprocess.run(["bash", os.path.join(src, "tools", "sweep-submit.sh"), sweep, array_dir, "--ntasks=1"],
                     capture_output=True, text=True, env=env, cwd=src)
print(res.stdout, res.stderr)
assert res.returncode == 0, res.stderr
points = len(os.listdir(os.path.join(array_dir, "points")))
assert points == 12, points
assert len(os.listdir(os.path.join(array_dir, "screens"))) == 4, "two shared screens (and their locks) expected"
rows = list(csv.DictReader(open(os.path.join(array_dir, "sweep.csv"))))
assert len(rows) == 12 and all(r["status"] == "ok" for r in rows), [r["status"] for r in rows]
table = open(os.path.join(array_dir, "sweep.md")).read()
assert "12 points (12 ok)" in table, table
print(table)

# The local runner on one rank gives the same numbers (each array task ran one rank).
res = subprocess.run([exe, "sweep", sweep, "-o", local_dir, "-q"], capture_output=True, text=True)
assert res.returncode == 0, res.stderr
res = subprocess.run([exe, "collect", local_dir], capture_output=True, text=True)
assert res.returncode == 0, res.stderr
local = list(csv.DictReader(open(os.path.join(local_dir, "sweep.csv"))))
for a, b in zip(rows, local):
    for k in ("fit.lambda_ss", "run.seed", "fit.split_seed", "model_test_mse_effect", "final_loss", "auprc_W"):
        assert a[k] == b[k], f"point {a['point']}: {k} {a[k]} (array) != {b[k]} (local)"
# A second run skips every finished point.
res = subprocess.run([exe, "sweep", sweep, "-o", local_dir], capture_output=True, text=True)
assert res.returncode == 0 and res.stderr.count("is complete; skipped") == 12, res.stderr
print("OK: 12-point job array collected; equal to the local runner point by point; reruns skip finished points")
