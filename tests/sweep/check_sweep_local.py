#!/usr/bin/python3
"""The local sweep runner and the collector (tests/data/sweep_small.toml: 2 lambda_ss x
2 run.seed x 3 fit.split_seed = 12 points) at 2 ranks: the points follow `sweep --list`,
each point's fit has the point's settings, points that differ only in [fit] keys share a
simulated screen, the table has a row per point and a row per grid combination, a rerun
skips finished points, and mistakes are refused with a message.

usage: check_sweep_local.py PERTURBFIT MPIRUN TEST_DATA WORKDIR"""
import csv
import json
import os
import shutil
import subprocess
import sys

exe, mpirun, data, work = sys.argv[1:5]
shutil.rmtree(work, ignore_errors=True)
os.makedirs(work)
sweep = os.path.join(data, "sweep_small.toml")
out = os.path.join(work, "sweep")


def run(*args, ranks=1):
    cmd = ([mpirun, str(ranks)] if ranks > 1 else []) + [exe, *args]
    return subprocess.run(cmd, capture_output=True, text=True)


listing = run("sweep", sweep, "--list").stdout.strip().splitlines()
assert run("sweep", sweep, "--count").stdout.strip() == "12" and len(listing) == 12, listing
res = run("sweep", sweep, "-o", out, ranks=2)
assert res.returncode == 0, res.stderr
screens = set()
for line in listing:
    index, settings = line.split("\t")
    point = os.path.join(out, "points", f"{int(index):04d}")
    recorded = json.load(open(os.path.join(point, "point.json")))["settings"]
    expected = dict(s.split("=", 1) for s in settings.split(", "))
    assert {k: json.dumps(v) for k, v in recorded.items()} == expected, (recorded, expected)
    prov = json.load(open(os.path.join(point, "fit", "provenance.json")))
    assert prov["status"] == "ok" and prov["ranks"] == 2
    deck = prov["deck"]
    assert deck["fit"]["lambda_ss"] == recorded["fit.lambda_ss"], deck["fit"]["lambda_ss"]
    assert deck["fit"]["split_seed"] == recorded["fit.split_seed"] and deck["run"]["seed"] == recorded["run.seed"]
    assert deck["fit"]["max_iterations"] == 30  # [set]
    screens.add(prov["argv"][prov["argv"].index("--data") + 1])
assert len(screens) == 2, screens  # one screen per run.seed, shared by 6 points each

res = run("collect", out)
assert res.returncode == 0, res.stderr
rows = list(csv.DictReader(open(os.path.join(out, "sweep.csv"))))
assert [r["point"] for r in rows] == [str(i) for i in range(12)]
assert all(r["status"] == "ok" and float(r["model_test_mse_effect"]) > 0 for r in rows)
# The model beats the control mean on this simulated screen at every point.
assert all(float(r["model_test_mse_effect"]) < float(r["control_mean_test_mse_effect"]) for r in rows)
md = open(os.path.join(out, "sweep.md")).read()
assert md.count("| 3/3 |") == 4 and "12 points (12 ok)" in md, md

res = run("sweep", sweep, "-o", out)
assert res.returncode == 0 and res.stderr.count("is complete; skipped") == 12, res.stderr

# Mistakes.
def refused(args, text, code=2):
    r = run(*args)
    assert r.returncode == code and text in r.stderr, (args, r.returncode, r.stderr)

refused(["sweep", sweep, "-o", out, "--point", "12"], "the sweep has 12 points, 0 to 11")
bad = os.path.join(work, "bad.toml")
open(bad, "w").write(f'deck = "{os.path.join(data, "fit_small.toml")}"\ngird = 1\n[grid]\n"fit.lambda_ss" = [0.0]\n')
refused(["sweep", bad, "-o", os.path.join(work, "bad")], "unknown key 'gird'")
open(bad, "w").write(f'deck = "{os.path.join(data, "fit_small.toml")}"\n[grid]\nlambda_ss = [0.0]\n')
refused(["sweep", bad, "-o", os.path.join(work, "bad")], "'lambda_ss' is not a deck key")
other = os.path.join(work, "other.toml")
open(other, "w").write(open(sweep).read().replace("= 30", "= 31").replace('"fit_small.toml"',
                                                                          f'"{os.path.join(data, "fit_small.toml")}"'))
refused(["sweep", other, "-o", out], "holds the points of another sweep")
refused(["collect", work], "is not a sweep's output directory")

# A point whose settings are refused fails alone; the others run; the table says so.
open(bad, "w").write(f'deck = "{os.path.join(data, "fit_small.toml")}"\n[grid]\n"fit.lambda_ss" = [-1.0, 0.1]\n'
                     '[set]\n"fit.max_iterations" = 5\n')
r = run("sweep", bad, "-o", os.path.join(work, "partial"))
assert r.returncode == 2 and "sweep point 0" in r.stderr and "1 of 2 point(s) complete" in r.stdout, (r.stdout, r.stderr)
r = run("collect", os.path.join(work, "partial"))
assert "2 points (1 missing, 1 ok)" in r.stdout, r.stdout
print("OK")
