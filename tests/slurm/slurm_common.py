"""Submitting to the one-node cluster of tools/slurm-local.sh from a test."""
import json
import os
import subprocess
import sys
import time


def require_cluster():
    """Exit 77 (CTest: skipped) when tools/slurm-local.sh could not start a cluster here."""
    conf = os.environ.get("SLURM_CONF", "")
    up = os.path.exists(conf) and subprocess.run(["scontrol", "ping"], capture_output=True).returncode == 0
    if not up:
        print(f"no SLURM cluster answers (SLURM_CONF={conf!r}); start one with tools/slurm-local.sh start (as root)")
        sys.exit(77)


def sbatch_wait(*args, env=None, cwd=None):
    """sbatch --wait; returns (exit code, job id, seconds)."""
    start = time.time()
    res = subprocess.run(["sbatch", "--wait", "--parsable", *args], capture_output=True, text=True, env=env, cwd=cwd)
    job = res.stdout.strip().split(";")[0]
    return res.returncode, job, time.time() - start, res.stderr


def status(outdir):
    """The status in a command's provenance.json, 'failed' with failure.json, else None."""
    if os.path.exists(os.path.join(outdir, "failure.json")):
        return "failed"
    try:
        return json.load(open(os.path.join(outdir, "provenance.json")))["status"]
    except (OSError, ValueError, KeyError):
        return None


def show_log(path):
    try:
        print(f"--- {path}\n" + open(path).read()[-3000:])
    except OSError:
        print(f"--- {path}: missing")
