"""Shared by the fit checks: run a perturbfit command at 1 or more ranks."""
import subprocess


def run(exe, mpirun, ranks, *args, check=True):
    """`exe args` (through `mpirun ranks` if ranks > 1); asserts exit 0 when check."""
    cmd = [exe, *args]
    if ranks > 1:
        cmd = [mpirun, str(ranks)] + cmd
    res = subprocess.run(cmd, capture_output=True, text=True)
    if check:
        assert res.returncode == 0, res.stderr
    return res


def simulate_and_fit(exe, mpirun, deck, work, fit_ranks=2):
    """Simulates DECK into WORK/sim and fits it into WORK/fit; returns (screen.h5ad, fit.h5, sim dir, fit dir)."""
    import os
    sim, fitdir = os.path.join(work, "sim"), os.path.join(work, "fit")
    screen, model = os.path.join(sim, "screen.h5ad"), os.path.join(fitdir, "fit.h5")
    run(exe, mpirun, 1, "simulate", deck, "-o", sim, "-q")
    run(exe, mpirun, fit_ranks, "fit", deck, "--data", screen, "-o", fitdir, "-q")
    return screen, model, sim, fitdir
