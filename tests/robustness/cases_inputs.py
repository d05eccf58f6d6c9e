#!/usr/bin/python3
"""Robustness cases: deck and command line, input data, output directories. Registered in order on import; run by run_robustness.py."""
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
    r = run(["fit", DECK, "--data", f"{R.SIM}/screen.h5ad", "-o", fresh("prior"), "--set", "fit.support=edgelist",
             "--set", f"fit.edge_list={prior}"] + FIT_FAST)
    expect(r, 3, "prior.tsv:1", "tab-separated")


@case("fit: a binary edge list")
def _():
    prior = os.path.join(WORK, "prior.bin")
    open(prior, "wb").write(b"\x00\x01" + SECRET.encode() + b"\x00\n")
    r = run(["fit", DECK, "--data", f"{R.SIM}/screen.h5ad", "-o", fresh("prior"), "--set", "fit.support=edgelist",
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
    with open(f"{R.SIM}/screen.h5ad", "rb") as f:
        open(cut, "wb").write(f.read()[:4096])
    expect(run(["inspect", cut, "-q"]), 3, "truncated.h5ad")


@case("data: a screen without genes")
def _():
    empty = os.path.join(WORK, "nogenes.h5ad")
    shutil.copy(f"{R.SIM}/screen.h5ad", empty)
    import anndata
    a = anndata.read_h5ad(empty)
    a[:, []].copy().write_h5ad(empty)
    expect(run(["fit", DECK, "--data", empty, "-o", fresh("d")] + FIT_FAST), 3, "no genes")


@case("data: a non-UTF-8 label with --json")
def _():
    bad = os.path.join(WORK, "latin1.h5ad")
    shutil.copy(f"{R.SIM}/screen.h5ad", bad)
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
    a = anndata.read_h5ad(f"{R.SIM}/screen.h5ad")
    names = list(a.var_names)
    names[1] = names[0]
    a.var_names = names
    a.write_h5ad(dup)
    expect(run(["inspect", dup, "--strict", "-q"]), 3, "appears twice")


@case("inspect: --stats-out onto the screen keeps it")
def _():
    before = digest(f"{R.SIM}/screen.h5ad")
    expect(run(["inspect", f"{R.SIM}/screen.h5ad", "--stats-out", f"{R.SIM}/screen.h5ad", "-q"]), 2, "--stats-out")
    intact(f"{R.SIM}/screen.h5ad", before)

# --------------------------------------------------------------------------- output directories


@case("output: fit into a simulate directory is refused")
def _():
    expect(run(["fit", DECK, "--data", f"{R.SIM}/screen.h5ad", "-o", R.SIM] + FIT_FAST), 2, "holds the results of",
           "--force")
    intact(R.SIM, R.SIM_DIGEST)


@case("output: simulate into a fit directory is refused")
def _():
    expect(run(["simulate", DECK, "-o", R.FIT, "-q"]), 2, "holds the results of `perturbfit fit`")
    intact(R.FIT, R.FIT_DIGEST)


@case("output: --force never deletes the screen being fitted")
def _():
    copy = fresh("force_input")
    shutil.copytree(R.SIM, copy)
    before = digest(copy)
    expect(run(["fit", DECK, "--data", f"{copy}/screen.h5ad", "-o", copy, "--force"] + FIT_FAST), 2, "input of this run")
    intact(copy, before)


@case("output: --force replaces another command's results")
def _():
    copy = fresh("force_ok")
    shutil.copytree(R.SIM, copy)
    expect(run(["fit", DECK, "--data", f"{R.SIM}/screen.h5ad", "-o", copy, "--force"] + FIT_FAST), 0)
    check(not os.path.exists(f"{copy}/screen.h5ad"), "the old screen stayed beside the fit")
    check(json.load(open(f"{copy}/provenance.json"))["command"] == "fit", "provenance is not the fit's")


@case("output: a failed rerun keeps the good run and its provenance")
def _():
    copy = fresh("rerun_fail")
    shutil.copytree(R.SIM, copy)
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
    shutil.copytree(R.SIM, copy)
    expect(run(["simulate", DECK, "-o", copy, "--set", "protocol.2.singles=500", "-q"]), 2)
    expect(run(["simulate", DECK, "-o", copy, "-q"]), 0)
    check(not os.path.exists(f"{copy}/failure.json"), "a stale failure record stays beside good results")
    check(same_screen(f"{copy}/screen.h5ad", f"{R.SIM}/screen.h5ad"), "the rerun is not the same screen")


@case("output: rerun without truth removes the old truth")
def _():
    copy = fresh("rerun_notruth")
    shutil.copytree(R.SIM, copy)
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
    expect(run(["fit", deck, "--data", f"{R.SIM}/screen.h5ad", "-o", out] + FIT_FAST), 2, "input of this run")
    intact(deck, before)
