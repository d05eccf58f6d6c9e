#!/usr/bin/python3
"""Pinned results: every deck in inputs/ and tests/data/ run at 1 and 2 ranks, its summary
numbers and checksums of key arrays compared with tests/pinned/expected.json, so that a
refactor that changes a number is seen. Integers must match exactly; floating-point
numbers to a relative tolerance per kind (simulate: the ranks only change reduction order;
fits: a few iterations amplify that order).

usage: check_pinned.py PERTURBFIT MPIRUN OUTDIR            # compare (exit 1 on a difference)
       check_pinned.py PERTURBFIT MPIRUN OUTDIR --update   # rewrite expected.json (review the diff!)
"""
import json
import os
import subprocess
import sys

import h5py
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
EXPECTED = os.path.join(HERE, "expected.json")
exe, mpirun, out = sys.argv[1], sys.argv[2], sys.argv[3]
update = "--update" in sys.argv

SIMULATE_TOL, FIT_TOL = 1e-9, 1e-4


def run(ranks, args):
    cmd = [mpirun, str(ranks), exe] + args + ["--json", "-q"]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(f"failed ({res.returncode}): {' '.join(cmd)}\n{res.stderr[-2000:]}")
    return json.loads(res.stdout)


def array_sums(path, names):
    """(sum, sum of squares) of each dataset: a checksum that survives reordering of rows only if they are equal."""
    with h5py.File(path, "r") as f:
        return {n: [float(np.sum(f[n][()], dtype=np.float64)), float(np.sum(np.square(f[n][()], dtype=np.float64)))]
                for n in names}


def simulate_case(deck, ranks):
    d = os.path.join(out, f"sim_{os.path.basename(deck)}_np{ranks}")
    s = run(ranks, ["simulate", os.path.join(ROOT, deck), "-o", d])
    ints = {k: s[k] for k in ("cells", "genes", "edges", "classes", "batches", "nonzero_counts", "control_attractors")}
    with h5py.File(os.path.join(d, "screen.h5ad"), "r") as f:
        ints["X_sum"] = int(np.sum(f["X/data"][()], dtype=np.int64))
    counts = os.path.join(d, "guide_counts.tsv")
    if os.path.exists(counts):  # guide reads: their total and their sum weighted by row
        rows = [line.split("\t") for line in open(counts)][1:]
        ints["guide_reads"] = sum(int(r[5]) for r in rows)
        ints["guide_reads_weighted"] = sum(k * int(r[5]) for k, r in enumerate(rows))
    arrays = ["parameters/W/data", "parameters/v", "control/steady_state"]
    with h5py.File(os.path.join(d, "truth.h5"), "r") as f:
        arrays += ["niche/factors"] if "niche" in f else []
    floats = array_sums(os.path.join(d, "truth.h5"), arrays)
    return {"int": ints, "float": {k + "/" + i: v[j] for k, v in floats.items() for j, i in enumerate(("sum", "sum_sq"))}}, SIMULATE_TOL


def fit_case(deck, data, ranks, sets, tag=""):
    d = os.path.join(out, f"fit_{os.path.basename(deck)}{tag}_np{ranks}")
    args = ["fit", os.path.join(ROOT, deck), "-o", d] + (["--data", data] if data else [])
    for s in sets:
        args += ["--set", s]
    m = run(ranks, args)
    floats = {"final_loss": m["final_loss"]["total"]}
    if "abundance" in m:
        floats["abundance/train/mse"] = m["abundance"]["train"]["mse"]["model"]
    for pred in ("model", "control_mean", "train_mean"):
        for subset in ("train", "test"):
            v = m["metrics"].get(pred, {}).get(subset, {}).get("mse_effect")
            if v is not None:
                floats[f"{pred}/{subset}/mse_effect"] = v
    ints = {"iterations": m["iterations"], "parameters": m["parameters"], "edges_in_support": m["edges_in_support"]}
    return {"int": ints, "float": floats}, FIT_TOL


def inspect_case(deck, h5ad, ranks):
    r = run(ranks, ["inspect", os.path.join(ROOT, h5ad), "--deck", os.path.join(ROOT, deck)])
    ints = {"cells": r["cells"], "genes": r["genes"], "groups": r["groups"]["count"],
            "stored_values": r["matrix"]["stored_values"], "perturbations": r["perturbations"]["total"],
            "targets_in_var": r["targets"]["in_var"]}
    return {"int": ints, "float": {}}, 0.0


fit_screen = os.path.join(out, "sim_fit_small.toml_np1", "screen.h5ad")
selection = os.path.join(out, "sim_selection_fit.toml_np1")
cases = {
    "simulate/quickstart": lambda n: simulate_case("inputs/quickstart.toml", n),
    "simulate/hidden_targets": lambda n: simulate_case("inputs/hidden_targets.toml", n),
    "simulate/small": lambda n: simulate_case("tests/data/small.toml", n),
    "simulate/fit_small": lambda n: simulate_case("tests/data/fit_small.toml", n),
    "simulate/memcheck": lambda n: simulate_case("tests/data/memcheck.toml", n),
    "simulate/in_vivo": lambda n: simulate_case("inputs/in_vivo.toml", n),
    "simulate/in_vivo_small": lambda n: simulate_case("tests/data/in_vivo_small.toml", n),
    "simulate/cell_types": lambda n: simulate_case("tests/data/cell_types.toml", n),
    "fit/cell_types": lambda n: fit_case("tests/data/cell_types.toml", os.path.join(out, "sim_cell_types.toml_np1",
                                                                                      "screen.h5ad"), n, ["fit.max_iterations=15"]),
    "simulate/selection_fit": lambda n: simulate_case("tests/data/selection_fit.toml", n),
    "fit/selection_fit": lambda n: fit_case("tests/data/selection_fit.toml", os.path.join(selection, "screen.h5ad"), n,
                                            ["fit.max_iterations=15", f"data.guide_counts={selection}/guide_counts.tsv"]),
    "fit/fit_small": lambda n: fit_case("tests/data/fit_small.toml", fit_screen, n, ["fit.max_iterations=15"]),
    "simulate/time_course_small": lambda n: simulate_case("tests/data/time_course_small.toml", n),
    "fit/time_course_small": lambda n: fit_case("tests/data/time_course_small.toml",
                                                os.path.join(out, "sim_time_course_small.toml_np1", "screen.h5ad"), n,
                                                ["fit.max_iterations=5"]),
    "fit/real_mcfaline2023": lambda n: fit_case("inputs/real_mcfaline2023.toml", None, n, ["fit.max_iterations=10"]),
    "fit/real_datlinger2021": lambda n: fit_case("inputs/real_datlinger2021.toml", None, n, ["fit.max_iterations=10"]),
    "fit/real_mcfaline2023_nb": lambda n: fit_case("inputs/real_mcfaline2023.toml", None, n,
                                                   ["fit.max_iterations=10", "data.likelihood=nb"], "_nb"),
    "fit/real_datlinger2021_zinb": lambda n: fit_case("inputs/real_datlinger2021.toml", None, n,
                                                      ["fit.max_iterations=10", "data.likelihood=nb",
                                                       "fit.zero_inflation=true"], "_zinb"),
    "fit/fit_small_zinb": lambda n: fit_case("tests/data/fit_small.toml", fit_screen, n,
                                             ["fit.max_iterations=15", "data.likelihood=nb", "fit.zero_inflation=true"],
                                             "_zinb"),
    "inspect/real_datlinger2021": lambda n: inspect_case("inputs/real_datlinger2021.toml",
                                                         "tests/data/real/datlinger2021_jurkat_tcr.h5ad", n),
    "inspect/real_mcfaline2023": lambda n: inspect_case("inputs/real_mcfaline2023.toml",
                                                        "tests/data/real/mcfaline2023_gbm_crispri.h5ad", n),
}

os.makedirs(out, exist_ok=True)
expected = {} if update or not os.path.exists(EXPECTED) else json.load(open(EXPECTED))
got, bad = {}, []
for name, case in cases.items():
    for ranks in (1, 2):
        values, tol = case(ranks)
        if ranks == 1:
            got[name] = values
        ref = got[name] if update else expected.get(name)
        if ref is None:
            bad.append(f"{name}: no pinned values (run with --update and commit expected.json)")
            continue
        for k, v in ref["int"].items():
            if values["int"].get(k) != v:
                bad.append(f"{name} ({ranks} ranks): {k} = {values['int'].get(k)}, pinned {v}")
        for k, v in ref["float"].items():
            g = values["float"].get(k)
            if g is None or abs(g - v) > tol * max(abs(v), 1e-300):
                bad.append(f"{name} ({ranks} ranks): {k} = {g!r}, pinned {v!r} (relative tolerance {tol})")
        print(f"{name} at {ranks} rank(s): {len(ref['int'])} integers, {len(ref['float'])} numbers checked", flush=True)

if update:
    with open(EXPECTED, "w") as f:
        json.dump(got, f, indent=1, sort_keys=True)
        f.write("\n")
    print(f"wrote {EXPECTED}")
for line in bad:
    print(line, file=sys.stderr)
sys.exit(1 if bad else 0)
