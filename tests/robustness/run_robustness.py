#!/usr/bin/python3
"""Robustness suite: perturbfit used as a careless user and a busy operator would (the
classes of cases: robustness_common.py). Runs every case of cases_inputs.py and
cases_failures.py, in that order, after the shared set-up.

usage: run_robustness.py PERTURBFIT MPIRUN WORKDIR [-k SUBSTRING]
"""
import sys
import time

import cases_inputs  # noqa: F401 - registers its cases first: the order they always ran in
import cases_failures  # noqa: F401,I001 - registers its cases
import robustness_common as R
from robustness_common import CASES, ONLY, Failure, digest, intact, setup


def main():
    R.SIM, R.FIT, R.OTHER = setup()
    R.SIM_DIGEST, R.FIT_DIGEST = digest(R.SIM), digest(R.FIT)
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
    intact(R.SIM, R.SIM_DIGEST)
    intact(R.FIT, R.FIT_DIGEST)
    print(f"{len(selected) - len(failed)} of {len(selected)} robustness cases pass")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
