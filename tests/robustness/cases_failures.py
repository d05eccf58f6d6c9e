#!/usr/bin/python3
"""Robustness cases: checkpoints and restarts, numerical failure, full disks, signals. Registered in order on import; run by run_robustness.py."""
import json
import os
import shlex
import shutil
import signal
import subprocess
import time

import h5py
import numpy as np

import robustness_common as R
from robustness_common import *  # noqa: F401,F403 - the helpers and constants every case uses

# --------------------------------------------------------------------------- checkpoints


def fit_copy(name):
    copy = fresh(name)
    shutil.copytree(R.FIT, copy)
    return copy


def restart(copy, *extra):
    return run(["fit", DECK, "--data", f"{R.SIM}/screen.h5ad", "--restart", copy, "-q",
                "--set", "fit.max_iterations=8", "--set", "fit.checkpoint_every=2"] + list(extra))


@case("restart: a directory without a checkpoint")
def _():
    out = fresh("nockpt")
    os.makedirs(out)
    expect(restart(out), 2, "no checkpoint")


@case("restart: another deck (other --set) is refused")
def _():
    copy = fit_copy("ckpt_deck")
    before = digest(copy)
    expect(restart(copy, "--set", "fit.lambda_ss=0.5"), 2, "another deck")
    intact(copy, before)


@case("restart: another screen is refused")
def _():
    copy = fit_copy("ckpt_screen")
    r = run(["fit", DECK, "--data", f"{R.OTHER}/screen.h5ad", "--restart", copy, "-q", "--set", "fit.max_iterations=8"])
    expect(r, 2, "another screen")


@case("restart: another optimizer is refused")
def _():
    copy = fit_copy("ckpt_opt")
    expect(restart(copy, "--set", "fit.optimizer=adam"), 2, "fit.optimizer")


@case("restart: scrambled parameters are refused")
def _():
    copy = fit_copy("ckpt_scrambled")
    with h5py.File(f"{copy}/checkpoint.h5", "r+") as f:
        theta = f["theta"][()]
        f["theta"][...] = np.random.default_rng(0).permutation(theta) * 10
    expect(restart(copy), 3, "damaged")


@case("restart: a negative iteration is refused")
def _():
    copy = fit_copy("ckpt_iter")
    with h5py.File(f"{copy}/checkpoint.h5", "r+") as f:
        f["iteration"][...] = -5
    expect(restart(copy), 3, "iteration")


@case("restart: a truncated checkpoint is refused")
def _():
    copy = fit_copy("ckpt_trunc")
    path = f"{copy}/checkpoint.h5"
    data = open(path, "rb").read()
    open(path, "wb").write(data[: len(data) // 2])
    expect(restart(copy), 3, "checkpoint")


@case("restart: NaN parameters are refused")
def _():
    copy = fit_copy("ckpt_nan")
    with h5py.File(f"{copy}/checkpoint.h5", "r+") as f:
        f["theta"][0] = np.nan
    r = restart(copy)
    check(r.returncode == 3, f"exit {r.returncode}: {r.stderr[-300:]}")


@case("restart: a good checkpoint continues")
def _():
    copy = fit_copy("ckpt_good")
    expect(restart(copy), 0)
    check(json.load(open(f"{copy}/metrics.json"))["iterations"] >= 6, "did not continue")


@case("restart: a checkpoint of 1 rank continues at 2 ranks (the identity does not depend on ranks)")
def _():
    copy = fit_copy("ckpt_ranks")
    r = run(["fit", DECK, "--data", f"{R.SIM}/screen.h5ad", "--restart", copy, "-q",
             "--set", "fit.max_iterations=8", "--set", "fit.checkpoint_every=2"], ranks=2)
    expect(r, 0)


@case("restart: --check-gradient on a foreign checkpoint")
def _():
    copy = fit_copy("ckpt_grad")
    r = run(["fit", DECK, "--data", f"{R.OTHER}/screen.h5ad", "--restart", copy, "--check-gradient", "-q"])
    expect(r, 2, "another screen")

# --------------------------------------------------------------------------- numerical


@case("numerical: a diverging adam stops with exit 4 and keeps the checkpoint")
def _():
    out = fresh("diverge")
    r = run(["fit", DECK, "--data", f"{R.SIM}/screen.h5ad", "-o", out, "-q", "--set", "fit.optimizer=adam",
             "--set", "fit.learning_rate=1000", "--set", "fit.max_weight=1e6", "--set", "fit.max_iterations=60",
             "--set", "fit.checkpoint_every=1", "--set", "fit.validation_every=0"])
    if r.returncode == 0:  # then it must not have published non-finite results
        with h5py.File(f"{out}/fit.h5") as f:
            check(np.all(np.isfinite(f["parameters/W/data"][()])), "exit 0 with non-finite parameters")
        loss = json.load(open(f"{out}/metrics.json"))["final_loss"]["total"]
        first = json.load(open(f"{out}/metrics.json"))
        check(np.isfinite(loss), "exit 0 with a non-finite loss")
    else:
        expect(r, 4, "diverged")
        check(not os.path.exists(f"{out}/fit.h5"), "a diverged fit published fit.h5")


@case("numerical: no fit publishes NaN")
def _():
    with h5py.File(f"{R.FIT}/fit.h5") as f:
        for name in ("parameters/W/data", "parameters/c", "groups/predicted"):
            check(np.all(np.isfinite(f[name][()])), f"{name} holds NaN/inf")
    json.load(open(f"{R.FIT}/metrics.json"))


@case("numerical: zero iterations is a valid fit")
def _():
    out = fresh("zero_it")
    expect(run(["fit", DECK, "--data", f"{R.SIM}/screen.h5ad", "-o", out, "-q", "--set", "fit.max_iterations=0"]), 0)


@case("numerical: an unreachable tolerance exits 4")
def _():
    out = fresh("numfail")
    expect(run(["simulate", DECK, "-o", out, "-q", "--set", "solver.steady_max_it=1", "--set", "solver.fallback=none",
                "--set", "solver.steady_atol=1e-14"]), 4, "did not converge")

# --------------------------------------------------------------------------- full disks


def small_disk(name, size):
    """A tmpfs of `size` (root), or None."""
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return None
    d = os.path.join(WORK, name)
    if os.path.ismount(d):
        subprocess.run(["umount", d], check=False)
    os.makedirs(d, exist_ok=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", d]).returncode != 0:
        return None
    return d


def release(d):
    if d and os.path.ismount(d):
        subprocess.run(["umount", d], check=False)


def no_partials(d):
    left = [n for _, _, files in os.walk(d) for n in files if n.endswith(".partial")]
    check(not left, f"partial files left behind: {left}")


def full_disk_case(name, size, args_for, ranks, code=5):
    @case(name)
    def _():
        d = small_disk(name.replace(" ", "_").replace(":", ""), size)
        try:
            if d is None:  # not root: a file-size limit instead
                out = fresh("fsize")
                r = run(args_for(out), limit_fsize=1 << 20)
                if r.returncode == 1 and "MPI" in r.stderr:
                    return  # MPI itself cannot start under this limit here
                expect(r, code)
                no_partials(out)
                return
            out = os.path.join(d, "out")
            expect(run(args_for(out), ranks=ranks), code, "No space left on device" if size == "64k" else "disk full")
            no_partials(d)
        finally:
            release(d)


full_disk_case("disk full: simulate at 1 rank (structure)", "64k", lambda o: ["simulate", DECK, "-o", o, "-q"], 1)
full_disk_case("disk full: simulate at 1 rank (rows)", "1m", lambda o: ["simulate", DECK, "-o", o, "-q"], 1)
full_disk_case("disk full: simulate at 2 ranks (rows)", "1m", lambda o: ["simulate", DECK, "-o", o, "-q"], 2)
full_disk_case("disk full: fit at 1 rank", "64k",
               lambda o: ["fit", DECK, "--data", f"{R.SIM}/screen.h5ad", "-o", o] + FIT_FAST, 1)
full_disk_case("disk full: fit at 2 ranks", "64k",
               lambda o: ["fit", DECK, "--data", f"{R.SIM}/screen.h5ad", "-o", o] + FIT_FAST, 2)


@case("disk full: the last good checkpoint survives a failed checkpoint write")
def _():
    size = sum(os.path.getsize(os.path.join(R.FIT, n)) for n in os.listdir(R.FIT))
    d = small_disk("ckpt_full", str(3 * size + (256 << 10)))
    if d is None:
        return
    try:
        copy = os.path.join(d, "fit")
        shutil.copytree(R.FIT, copy)
        # fill the disk, leaving less than one checkpoint
        free = shutil.disk_usage(d).free
        with open(os.path.join(d, "filler"), "wb") as f:
            f.write(b"\0" * max(0, free - 4096))
        before = digest(f"{copy}/checkpoint.h5")
        r = run(["fit", DECK, "--data", f"{R.SIM}/screen.h5ad", "--restart", copy, "-q",
                 "--set", "fit.max_iterations=12", "--set", "fit.checkpoint_every=2"])
        expect(r, 5)
        intact(f"{copy}/checkpoint.h5", before)
        no_partials(d)
        os.remove(os.path.join(d, "filler"))
        expect(run(["fit", DECK, "--data", f"{R.SIM}/screen.h5ad", "--restart", copy, "-q",
                    "--set", "fit.max_iterations=8", "--set", "fit.checkpoint_every=2"]), 0)
    finally:
        release(d)


@case("disk full: a file-size limit (ulimit -f) is an I/O error")
def _():
    out = fresh("fsize_big")
    r = run(["simulate", DECK, "-o", out, "-q", "--set", "protocol.4.cells=120000"], limit_fsize=24 << 20)
    if r.returncode == 1 and "MPI" in r.stderr:
        return  # MPI cannot start under this limit on this machine
    expect(r, 5, "cannot write")
    no_partials(out)

# --------------------------------------------------------------------------- signals


def interrupted_fit(name, sig, ranks):
    out = fresh(name)
    cmd = ([MPIRUN, str(ranks)] if ranks else []) + [EXE, "fit", DECK, "--data", f"{R.SIM}/screen.h5ad", "-o", out,
                                                     "--set", "fit.max_iterations=100000", "--set", "fit.gatol=0",
                                                     "--set", "fit.validation_patience=0", "--set", "fit.checkpoint_every=5"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=WORK)
    deadline = time.time() + 60
    while not os.path.exists(f"{out}/checkpoint.h5") and time.time() < deadline and p.poll() is None:
        time.sleep(0.1)
    p.send_signal(sig)
    try:
        so, se = p.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        p.kill()
        raise Failure("hung after the signal")
    return p.returncode, so, se, out


@case("signal: SIGTERM checkpoints, exits 0, and the hint resumes it")
def _():
    code, so, se, out = interrupted_fit("sigterm", signal.SIGTERM, None)
    check(code == 0, f"exit {code}: {se[-400:]}")
    check(json.load(open(f"{out}/provenance.json"))["status"] == "interrupted", "provenance does not say interrupted")
    hint = [l for l in so.splitlines() if "continue with:" in l]
    check(hint, "no resume hint")
    words = shlex.split(hint[0].split("continue with:", 1)[1])
    check("--data" in words and "--set" in words and "--restart" in words, f"the hint drops arguments: {hint[0]}")
    words = [w if w != "fit.max_iterations=100000" else "fit.max_iterations=12" for w in words]
    r = subprocess.run(words + ["-q"], capture_output=True, text=True, cwd=WORK, timeout=TIMEOUT)
    check(r.returncode == 0, f"the hint's command failed ({r.returncode}): {r.stderr[-400:]}")


@case("signal: SIGUSR1 through mpiexec at 2 ranks")
def _():
    code, so, se, out = interrupted_fit("sigusr1", signal.SIGUSR1, 2)
    check(code == 0, f"exit {code}: {se[-400:]}")
    check(os.path.exists(f"{out}/checkpoint.h5"), "no checkpoint")


@case("signal: SIGKILL leaves a restartable checkpoint")
def _():
    code, so, se, out = interrupted_fit("sigkill", signal.SIGKILL, None)
    # A kill during a checkpoint write can leave its .partial (nothing can catch SIGKILL);
    # the restart must not mind it, and its own writes replace it.
    r = run(["fit", DECK, "--data", f"{R.SIM}/screen.h5ad", "--restart", out, "-q", "--set", "fit.max_iterations=20",
             "--set", "fit.gatol=0", "--set", "fit.validation_patience=0", "--set", "fit.checkpoint_every=5"])
    expect(r, 0)
    no_partials(out)
