#!/usr/bin/python3
"""Robustness suite: perturbfit used as a careless user and a busy operator would. Each case
runs the executable and asserts its exit code, that its message says what to fix (and does
not print the contents of a file it was pointed at), that no process crashed or hung, and
that the results of earlier runs are intact afterwards.

Classes: deck and command line, input data, output directories, checkpoints and restarts,
numerical failure, full disks (a small tmpfs when run as root, RLIMIT_FSIZE otherwise), signals.

usage: run_robustness.py PERTURBFIT MPIRUN WORKDIR [-k SUBSTRING]

This module holds what the cases share (arguments, the case registry, helpers, the
set-up); the cases are in cases_inputs.py and cases_failures.py; run_robustness.py runs them.
"""
import hashlib
import json
import os
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXE, MPIRUN, WORK = sys.argv[1], sys.argv[2], os.path.abspath(sys.argv[3])
ONLY = sys.argv[sys.argv.index("-k") + 1] if "-k" in sys.argv else ""
DECK = os.path.join(ROOT, "tests", "data", "fit_small.toml")
TIMEOUT = 120
SECRET = "SECRET-CONTENT-7f3a"  # planted in files: it must never appear in a message

CASES = []


def case(name):
    def register(fn):
        CASES.append((name, fn))
        return fn
    return register


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def run(args, ranks=None, env=None, limit_fsize=None, timeout=TIMEOUT):
    cmd = ([MPIRUN, str(ranks)] if ranks else []) + [EXE] + args
    pre = None
    if limit_fsize:
        def pre():
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_fsize, limit_fsize))
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, errors="replace", timeout=timeout, env=env,
                           preexec_fn=pre, cwd=WORK)
    except subprocess.TimeoutExpired:
        raise Failure(f"hung (> {timeout} s): {' '.join(cmd)}")
    return r


def expect(r, code, *needles):
    """Exit code, no crash, each needle in stderr (or stdout), and no planted secret."""
    text = r.stderr + r.stdout
    check(r.returncode >= 0 and r.returncode not in (134, 136, 139), f"crashed (exit {r.returncode}): {text[-800:]}")
    check(r.returncode == code, f"exit {r.returncode}, expected {code}: {text[-800:]}")
    for n in needles:
        check(n in text, f"message lacks {n!r}: {text[-800:]}")
    check(SECRET not in text, "the message prints the contents of a file")
    check("internal error" not in text, f"an internal error: {text[-500:]}")
    return r


def digest(path):
    """Checksums of every file in a directory (or of one file)."""
    if os.path.isfile(path):
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    return {n: digest(os.path.join(path, n)) for n in sorted(os.listdir(path))}


def intact(path, before):
    """Unchanged, except for a failure.json recording a refused or failed run beside the results."""
    now = digest(path)
    if isinstance(now, dict) and "failure.json" not in before:
        now.pop("failure.json", None)
    check(now == before, f"{path} changed: an earlier run's results were modified")


def same_screen(a, b):
    """The same counts and labels (HDF5 object headers carry times, so bytes differ)."""
    with h5py.File(a) as fa, h5py.File(b) as fb:
        for n in ("X/data", "X/indices", "X/indptr", "obs/perturbation/codes", "var/_index"):
            if not np.array_equal(fa[n][()], fb[n][()]):
                return False
    return True


def fresh(name):
    d = os.path.join(WORK, name)
    shutil.rmtree(d, ignore_errors=True)
    return d


def write(path, text, mode="w"):
    with open(path, mode) as f:
        f.write(text)
    return path


def deck_with(name, extra, base=DECK):
    """A copy of the small deck with TOML appended (sections it lacks) or lines replaced."""
    with open(base) as f:
        text = f.read()
    return write(os.path.join(WORK, name), text + "\n" + extra)


FIT_FAST = ["--set", "fit.max_iterations=6", "--set", "fit.checkpoint_every=2", "-q"]

# --------------------------------------------------------------------------- set-up


def setup():
    os.makedirs(WORK, exist_ok=True)
    sim = fresh("sim")
    expect(run(["simulate", DECK, "-o", sim, "-q"]), 0)
    fit = fresh("fit")
    expect(run(["fit", DECK, "--data", f"{sim}/screen.h5ad", "-o", fit] + FIT_FAST), 0)
    other = fresh("sim_other")
    expect(run(["simulate", DECK, "--set", "run.seed=99", "-o", other, "-q"]), 0)
    return sim, fit, other

# Set by run_robustness.main after setup(): the shared simulated screen, fit and a second
# screen, and digests that prove the cases leave them intact.
SIM = FIT = OTHER = None
SIM_DIGEST = FIT_DIGEST = None
