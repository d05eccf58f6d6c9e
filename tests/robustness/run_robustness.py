#!/usr/bin/python3
"""Robustness suite: perturbfit used as a careless user and a busy operator would. Each case
runs the executable and asserts its exit code, that its message says what to fix (and does
not print the contents of a file it was pointed at), that no process crashed or hung, and
that the results of earlier runs are intact afterwards.

Classes: deck and command line, input data, output directories, checkpoints and restarts,
numerical failure, full disks (a small tmpfs when run as root, RLIMIT_FSIZE otherwise), signals.

usage: run_robustness.py PERTURBFIT MPIRUN WORKDIR [-k SUBSTRING]
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


SIM, FIT, OTHER = None, None, None
SIM_DIGEST, FIT_DIGEST = None, None

# --------------------------------------------------------------------------- deck and command line


def usage_case(name, args, *needles, code=2):
    @case(name)
    def _():
        out = fresh("usage_out")
        expect(run(args + ["-o", out] if "-o" not in args and args and args[0] in ("simulate", "fit") else args),
               code, *needles)
        check(not os.path.exists(os.path.join(out, "screen.h5ad")), "an output was written")


usage_case("deck: missing file", ["simulate", "/nonexistent/deck.toml"], "no such file")
usage_case("deck: a directory", ["simulate", "/tmp"], "is a directory")
usage_case("deck: /dev/zero", ["simulate", "/dev/zero"], "not a regular file")
usage_case("set: integer overflow of genes", ["simulate", DECK, "--set", "network.genes=4294967316"], "network.genes", "4294967316")
usage_case("set: genes beyond the bound", ["simulate", DECK, "--set", "network.genes=1000000000"], "network.genes", "100000")
usage_case("set: depth = inf", ["simulate", DECK, "--set", "protocol.4.depth=inf"], "depth", "finite")
usage_case("set: depth = nan", ["simulate", DECK, "--set", "protocol.4.depth=nan"], "depth", "finite")
usage_case("set: contraction = nan", ["simulate", DECK, "--set", "network.contraction=nan"], "contraction", "finite")
usage_case("set: contraction = -1", ["simulate", DECK, "--set", "network.contraction=-1"], "contraction", ">= 0")
usage_case("set: fit.lambda_l1 = nan", ["fit", DECK, "--set", "fit.lambda_l1=nan"], "lambda_l1", "finite")
usage_case("set: negative cells", ["simulate", DECK, "--set", "protocol.4.cells=-5"], "cells")
usage_case("set: protocol key without step index", ["simulate", DECK, "--set", "protocol.cells=1"], "protocol.N.cells")
usage_case("set: protocol step out of range", ["simulate", DECK, "--set", "protocol.99.cells=1"], "no protocol step 99")
usage_case("set: without =", ["simulate", DECK, "--set", "network.genes"], "section.key=value")
usage_case("set: unknown key suggests", ["simulate", DECK, "--set", "network.gens=10"], "did you mean 'network.genes'")
usage_case("set: unknown section", ["simulate", DECK, "--set", "netwrk.genes=10"], "unknown section")
usage_case("set: wrong type", ["simulate", DECK, "--set", "network.genes=many"], "must be integer")
usage_case("set: dropout of 1", ["simulate", DECK, "--set", "measure.dropout=1"], "dropout")
usage_case("set: fractions sum to 1", ["fit", DECK, "--set", "fit.test_fraction=0.6", "--set", "fit.validation_fraction=0.4"],
           "sum to less than 1")
usage_case("set: kappa outside its bounds", ["fit", DECK, "--set", "fit.kappa=0.9999"], "kappa")
usage_case("set: unknown optimizer", ["fit", DECK, "--set", "fit.optimizer=bfgs"], "lbfgs")
usage_case("set: hybrid without rank", ["simulate", DECK, "--set", "model.kind=hybrid"], "neural_rank")
usage_case("petsc: -options_file missing", ["simulate", DECK, "-options_file", "/nonexistent/opts"], "-options_file", "no such file")
usage_case("cli: unknown command", ["simulte", DECK], "simulte")
usage_case("cli: unknown option", ["simulate", DECK, "--frobnicate"], "frobnicate")
usage_case("cli: no command", [], "subcommand")
usage_case("fit: fit.truth missing", ["fit", DECK, "--data", "sim/screen.h5ad", "--set", "fit.truth=/nonexistent/truth.h5"],
           "fit.truth")
usage_case("fit: edgelist support without a list", ["fit", DECK, "--set", "fit.support=edgelist"], "fit.edge_list")
usage_case("simulate: edge list missing", ["simulate", DECK, "--set", "network.generator=edgelist",
                                            "--set", "network.edge_list=/nonexistent.tsv"], "no such file", code=3)


@case("deck: binary garbage is not echoed")
def _():
    bad = write(os.path.join(WORK, "garbage.toml"), SECRET + " \x01\x02 = = = [[[\n" + SECRET + "\n")
    expect(run(["simulate", bad, "-o", fresh("g"), "-q"]), 2, "cannot parse deck", "line 1")


@case("deck: unparsable TOML names the line")
def _():
    bad = deck_with("unparsable.toml", "[fit\nlambda_ss = 0.1\n")
    expect(run(["simulate", bad, "-o", fresh("g"), "-q"]), 2, "cannot parse deck", "line")


@case("deck: a number of the wrong kind in the file")
def _():
    bad = write(os.path.join(WORK, "wrongkind.toml"), open(DECK).read().replace("genes = 30", "genes = 30.5"))
    expect(run(["simulate", bad, "-o", fresh("g"), "-q"]), 2, "network.genes", "integer")


@case("deck: non-UTF-8 run name gives valid JSON")
def _():
    text = open(DECK, "rb").read().replace(b"seed = 11", b"seed = 11\nname = \"caf\xe9\"")
    bad = os.path.join(WORK, "latin1.toml")
    open(bad, "wb").write(text)
    out = fresh("latin1")
    r = run(["simulate", bad, "-o", out, "--json", "-q"])
    check(r.returncode in (0, 2), f"exit {r.returncode}: {r.stderr[-400:]}")
    if r.returncode == 0:
        json.loads(r.stdout)
        json.load(open(os.path.join(out, "provenance.json")))


@case("fit: edge list that is not a TSV is not echoed")
def _():
    prior = write(os.path.join(WORK, "prior.tsv"), SECRET + "\n")
    r = run(["fit", DECK, "--data", f"{SIM}/screen.h5ad", "-o", fresh("prior"), "--set", "fit.support=edgelist",
             "--set", f"fit.edge_list={prior}"] + FIT_FAST)
    expect(r, 3, "prior.tsv:1", "tab-separated")


@case("fit: a binary edge list")
def _():
    prior = os.path.join(WORK, "prior.bin")
    open(prior, "wb").write(b"\x00\x01" + SECRET.encode() + b"\x00\n")
    r = run(["fit", DECK, "--data", f"{SIM}/screen.h5ad", "-o", fresh("prior"), "--set", "fit.support=edgelist",
             "--set", f"fit.edge_list={prior}"] + FIT_FAST)
    expect(r, 3, "not a text file")


@case("simulate: a weight that is not a number names the line only")
def _():
    edges = write(os.path.join(WORK, "net.tsv"), "A\tB\t1.0\nB\tC\t" + SECRET + "\n")
    r = run(["simulate", DECK, "-o", fresh("net"), "--set", "network.generator=edgelist",
             "--set", f"network.edge_list={edges}", "-q"])
    expect(r, 3, "net.tsv:2", "not a number")

# --------------------------------------------------------------------------- input data


@case("data: missing screen")
def _():
    expect(run(["fit", DECK, "--data", "/nonexistent.h5ad", "-o", fresh("d")] + FIT_FAST), 3, "/nonexistent.h5ad")


@case("data: a text file as screen")
def _():
    txt = write(os.path.join(WORK, "screen.txt.h5ad"), SECRET + "\n")
    expect(run(["fit", DECK, "--data", txt, "-o", fresh("d")] + FIT_FAST), 3, "screen.txt.h5ad")


@case("data: truncated screen")
def _():
    cut = os.path.join(WORK, "truncated.h5ad")
    with open(f"{SIM}/screen.h5ad", "rb") as f:
        open(cut, "wb").write(f.read()[:4096])
    expect(run(["inspect", cut, "-q"]), 3, "truncated.h5ad")


@case("data: a screen without genes")
def _():
    empty = os.path.join(WORK, "nogenes.h5ad")
    shutil.copy(f"{SIM}/screen.h5ad", empty)
    import anndata
    a = anndata.read_h5ad(empty)
    a[:, []].copy().write_h5ad(empty)
    expect(run(["fit", DECK, "--data", empty, "-o", fresh("d")] + FIT_FAST), 3, "no genes")


@case("data: a non-UTF-8 label with --json")
def _():
    bad = os.path.join(WORK, "latin1.h5ad")
    shutil.copy(f"{SIM}/screen.h5ad", bad)
    with h5py.File(bad, "r+") as f:
        cats = f["obs/perturbation/categories"]
        names = [x if isinstance(x, bytes) else x.encode() for x in cats[()]]
        i = next(k for k, n in enumerate(names) if n not in (b"control",))
        raw = np.array(names, dtype=object)
        raw[i] = names[i] + b"\xe9"
        del f["obs/perturbation/categories"]
        ds = f["obs/perturbation"].create_dataset("categories", data=raw, dtype=h5py.string_dtype("ascii"))
        ds.attrs["encoding-type"], ds.attrs["encoding-version"] = "string-array", "0.2.0"
    r = run(["inspect", bad, "--json", "-q"])
    check(r.returncode in (0, 3), f"exit {r.returncode}: {r.stderr[-400:]}")
    if r.returncode == 0:
        json.loads(r.stdout)


@case("data: duplicate var names")
def _():
    dup = os.path.join(WORK, "dup.h5ad")
    import anndata
    a = anndata.read_h5ad(f"{SIM}/screen.h5ad")
    names = list(a.var_names)
    names[1] = names[0]
    a.var_names = names
    a.write_h5ad(dup)
    expect(run(["inspect", dup, "--strict", "-q"]), 3, "appears twice")


@case("inspect: --stats-out onto the screen keeps it")
def _():
    before = digest(f"{SIM}/screen.h5ad")
    expect(run(["inspect", f"{SIM}/screen.h5ad", "--stats-out", f"{SIM}/screen.h5ad", "-q"]), 2, "--stats-out")
    intact(f"{SIM}/screen.h5ad", before)

# --------------------------------------------------------------------------- output directories


@case("output: fit into a simulate directory is refused")
def _():
    expect(run(["fit", DECK, "--data", f"{SIM}/screen.h5ad", "-o", SIM] + FIT_FAST), 2, "holds the results of",
           "--force")
    intact(SIM, SIM_DIGEST)


@case("output: simulate into a fit directory is refused")
def _():
    expect(run(["simulate", DECK, "-o", FIT, "-q"]), 2, "holds the results of `perturbfit fit`")
    intact(FIT, FIT_DIGEST)


@case("output: --force never deletes the screen being fitted")
def _():
    copy = fresh("force_input")
    shutil.copytree(SIM, copy)
    before = digest(copy)
    expect(run(["fit", DECK, "--data", f"{copy}/screen.h5ad", "-o", copy, "--force"] + FIT_FAST), 2, "input of this run")
    intact(copy, before)


@case("output: --force replaces another command's results")
def _():
    copy = fresh("force_ok")
    shutil.copytree(SIM, copy)
    expect(run(["fit", DECK, "--data", f"{SIM}/screen.h5ad", "-o", copy, "--force"] + FIT_FAST), 0)
    check(not os.path.exists(f"{copy}/screen.h5ad"), "the old screen stayed beside the fit")
    check(json.load(open(f"{copy}/provenance.json"))["command"] == "fit", "provenance is not the fit's")


@case("output: a failed rerun keeps the good run and its provenance")
def _():
    copy = fresh("rerun_fail")
    shutil.copytree(SIM, copy)
    before = digest(copy)
    # valid deck, fails at run time (more targets than genes)
    expect(run(["simulate", DECK, "-o", copy, "--set", "protocol.2.singles=500", "-q"]), 2, "cannot draw")
    check(os.path.exists(f"{copy}/failure.json"), "the failure is not recorded")
    after = digest(copy)
    after.pop("failure.json")
    check(after == before, "the failed rerun changed the good run's files")


@case("output: a successful rerun clears the failure record")
def _():
    copy = fresh("rerun_ok")
    shutil.copytree(SIM, copy)
    expect(run(["simulate", DECK, "-o", copy, "--set", "protocol.2.singles=500", "-q"]), 2)
    expect(run(["simulate", DECK, "-o", copy, "-q"]), 0)
    check(not os.path.exists(f"{copy}/failure.json"), "a stale failure record stays beside good results")
    check(same_screen(f"{copy}/screen.h5ad", f"{SIM}/screen.h5ad"), "the rerun is not the same screen")


@case("output: rerun without truth removes the old truth")
def _():
    copy = fresh("rerun_notruth")
    shutil.copytree(SIM, copy)
    expect(run(["simulate", DECK, "-o", copy, "--set", "output.write_truth=false", "--set", "run.seed=3", "-q"]), 0)
    check(not os.path.exists(f"{copy}/truth.h5"), "an earlier screen's truth stays beside a new screen")


def symlink_case(name, links):
    """Symlinks to a victim file planted in the output directory under `links`."""
    @case(name)
    def _():
        out = fresh("symlink_" + links[0].replace(".", "_"))
        os.makedirs(out)
        victim = write(os.path.join(WORK, "victim_" + links[0]), "precious\n")
        for link in links:
            os.symlink(victim, f"{out}/{link}")
        expect(run(["simulate", DECK, "-o", out, "-q"]), 0)
        check(open(victim).read() == "precious\n", "a write followed a symlink")


symlink_case("output: planted symlinks at the partial names", ["screen.h5ad.partial", "provenance.json.partial"])
symlink_case("output: a symlink at the final name is replaced, not followed", ["truth.h5"])


@case("output: -o is a file")
def _():
    f = write(os.path.join(WORK, "afile"), "x\n")
    expect(run(["simulate", DECK, "-o", f, "-q"]), 5, "cannot create output directory")
    check(open(f).read() == "x\n", "the file was modified")


@case("output: a deck named like a result is never overwritten")
def _():
    out = fresh("deck_inside")
    os.makedirs(out)
    deck = os.path.join(out, "metrics.json")
    shutil.copy(DECK, deck)
    before = digest(deck)
    expect(run(["fit", deck, "--data", f"{SIM}/screen.h5ad", "-o", out] + FIT_FAST), 2, "input of this run")
    intact(deck, before)

# --------------------------------------------------------------------------- checkpoints


def fit_copy(name):
    copy = fresh(name)
    shutil.copytree(FIT, copy)
    return copy


def restart(copy, *extra):
    return run(["fit", DECK, "--data", f"{SIM}/screen.h5ad", "--restart", copy, "-q",
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
    r = run(["fit", DECK, "--data", f"{OTHER}/screen.h5ad", "--restart", copy, "-q", "--set", "fit.max_iterations=8"])
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
    r = run(["fit", DECK, "--data", f"{SIM}/screen.h5ad", "--restart", copy, "-q",
             "--set", "fit.max_iterations=8", "--set", "fit.checkpoint_every=2"], ranks=2)
    expect(r, 0)


@case("restart: --check-gradient on a foreign checkpoint")
def _():
    copy = fit_copy("ckpt_grad")
    r = run(["fit", DECK, "--data", f"{OTHER}/screen.h5ad", "--restart", copy, "--check-gradient", "-q"])
    expect(r, 2, "another screen")

# --------------------------------------------------------------------------- numerical


@case("numerical: a diverging adam stops with exit 4 and keeps the checkpoint")
def _():
    out = fresh("diverge")
    r = run(["fit", DECK, "--data", f"{SIM}/screen.h5ad", "-o", out, "-q", "--set", "fit.optimizer=adam",
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
    with h5py.File(f"{FIT}/fit.h5") as f:
        for name in ("parameters/W/data", "parameters/c", "groups/predicted"):
            check(np.all(np.isfinite(f[name][()])), f"{name} holds NaN/inf")
    json.load(open(f"{FIT}/metrics.json"))


@case("numerical: zero iterations is a valid fit")
def _():
    out = fresh("zero_it")
    expect(run(["fit", DECK, "--data", f"{SIM}/screen.h5ad", "-o", out, "-q", "--set", "fit.max_iterations=0"]), 0)


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
               lambda o: ["fit", DECK, "--data", f"{SIM}/screen.h5ad", "-o", o] + FIT_FAST, 1)
full_disk_case("disk full: fit at 2 ranks", "64k",
               lambda o: ["fit", DECK, "--data", f"{SIM}/screen.h5ad", "-o", o] + FIT_FAST, 2)


@case("disk full: the last good checkpoint survives a failed checkpoint write")
def _():
    size = sum(os.path.getsize(os.path.join(FIT, n)) for n in os.listdir(FIT))
    d = small_disk("ckpt_full", str(3 * size + (256 << 10)))
    if d is None:
        return
    try:
        copy = os.path.join(d, "fit")
        shutil.copytree(FIT, copy)
        # fill the disk, leaving less than one checkpoint
        free = shutil.disk_usage(d).free
        with open(os.path.join(d, "filler"), "wb") as f:
            f.write(b"\0" * max(0, free - 4096))
        before = digest(f"{copy}/checkpoint.h5")
        r = run(["fit", DECK, "--data", f"{SIM}/screen.h5ad", "--restart", copy, "-q",
                 "--set", "fit.max_iterations=12", "--set", "fit.checkpoint_every=2"])
        expect(r, 5)
        intact(f"{copy}/checkpoint.h5", before)
        no_partials(d)
        os.remove(os.path.join(d, "filler"))
        expect(run(["fit", DECK, "--data", f"{SIM}/screen.h5ad", "--restart", copy, "-q",
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
    cmd = ([MPIRUN, str(ranks)] if ranks else []) + [EXE, "fit", DECK, "--data", f"{SIM}/screen.h5ad", "-o", out,
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
    no_partials(out)
    r = run(["fit", DECK, "--data", f"{SIM}/screen.h5ad", "--restart", out, "-q", "--set", "fit.max_iterations=20",
             "--set", "fit.gatol=0", "--set", "fit.validation_patience=0", "--set", "fit.checkpoint_every=5"])
    expect(r, 0)

# --------------------------------------------------------------------------- main


def main():
    global SIM, FIT, OTHER, SIM_DIGEST, FIT_DIGEST
    SIM, FIT, OTHER = setup()
    SIM_DIGEST, FIT_DIGEST = digest(SIM), digest(FIT)
    failed = []
    selected = [(n, fn) for n, fn in CASES if ONLY in n]
    for name, fn in selected:
        t = time.time()
        try:
            fn()
            print(f"ok    {name} ({time.time() - t:.1f} s)", flush=True)
        except Failure as e:
            failed.append(name)
            print(f"FAIL  {name}: {e}", flush=True)
    intact(SIM, SIM_DIGEST)
    intact(FIT, FIT_DIGEST)
    print(f"{len(selected) - len(failed)} of {len(selected)} robustness cases pass")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
