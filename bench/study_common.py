"""Command line shared by the study scripts (lambda_ss_study.py, latent_study.py): a deck,
an output folder, seeds, ranks, the executable and deck overrides."""
import argparse
import os


def study_arguments():
    """An ArgumentParser with the common arguments; add a study's own, then call launch()."""
    ap = argparse.ArgumentParser()
    ap.add_argument("deck")
    ap.add_argument("out")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--exe", default="build/src/perturbfit")
    ap.add_argument("--set", action="append", default=[])
    return ap


def launch(ap):
    """Parsed arguments, the MPI launcher prefix and the overrides as --set pairs."""
    args = ap.parse_args()
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    mpirun = [os.path.join(root, "tools", "mpirun.sh"), str(args.ranks)]
    return args, mpirun, sum((["--set", s] for s in args.set), [])
