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
