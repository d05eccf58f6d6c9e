#!/usr/bin/python3
"""The loss must not depend on the rank count beyond rounding (issue 5): the gradient-check
loss at a fixed point and the final loss of a short fit, at 1 and 2 ranks, agree to 1e-10.

usage: check_ranks.py PERTURBFIT MPIRUN DECK SCREEN WORKDIR [--set key=value ...]"""
import json
import subprocess
import sys

exe, mpirun, deck, screen, work = sys.argv[1:6]
extra = sys.argv[6:]  # deck overrides for every run


def run(ranks, *args):
    cmd = [exe, "fit", deck, "--data", screen, "--json", "-q", "--set", "fit.truth=", *extra, *args]
    if ranks > 1:
        cmd = [mpirun, str(ranks)] + cmd
    res = subprocess.run(cmd, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout)


for what, args, key in (("gradient-check loss", ["--check-gradient"], lambda d: d["loss"]),
                        ("loss after 10 iterations", ["--set", "fit.max_iterations=10"],
                         lambda d: d["final_loss"]["total"])):
    one = key(run(1, *args, "-o", f"{work}/np1"))
    two = key(run(2, *args, "-o", f"{work}/np2"))
    rel = abs(one - two) / abs(one)
    print(f"{what}: 1 rank {one!r}, 2 ranks {two!r}, relative difference {rel:.2e}")
    assert rel <= 1e-10, what
print("OK")
