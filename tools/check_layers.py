#!/usr/bin/env python3
"""The folder-level include graph of src/ and include/perturbfit/, and its layering.

Each folder (core, parallel, io, ...) is a layer; a file in folder A that includes
"perturbfit/B/..." is an arrow A -> B. The layers must form a directed acyclic graph, and
every arrow must point down the order of PERTURBFIT_LAYERS in src/CMakeLists.txt (a folder
may only include folders listed before it). Exit 1 with the offending includes (file:line) otherwise.

usage: check_layers.py [ROOT]          # ROOT: the repository (default: this script's parent)
       check_layers.py [ROOT] --graph  # print the arrows (folder -> folders) and exit 0
"""
import os
import re
import sys

# Bottom to top, as src/CMakeLists.txt lists them (its PERTURBFIT_LAYERS is the one source
# of the order). Format code (io) knows no domain, so any layer may use it; the domain
# folders (model for its parameters, data, simulate, fit) own their product files; cli only
# wires commands to them.
def layers(root):
    with open(os.path.join(root, "src", "CMakeLists.txt"), encoding="utf-8") as f:
        m = re.search(r"set\(PERTURBFIT_LAYERS ([a-z_ ]+)\)", f.read())
    if not m:
        sys.exit("src/CMakeLists.txt has no set(PERTURBFIT_LAYERS ...)")
    return m.group(1).split()
INCLUDE = re.compile(r'^\s*#\s*include\s+"perturbfit/([a-z_]+)/')


def arrows(root):
    """{(from, to): [(file, line), ...]} over every source and header."""
    found = {}
    for base in ("src", os.path.join("include", "perturbfit")):
        top = os.path.join(root, base)
        for folder in sorted(os.listdir(top)):
            path = os.path.join(top, folder)
            if not os.path.isdir(path):
                continue
            for name in sorted(os.listdir(path)):
                if not name.endswith((".cpp", ".hpp")):
                    continue
                with open(os.path.join(path, name), encoding="utf-8") as f:
                    for n, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if m and m.group(1) != folder:
                            found.setdefault((folder, m.group(1)), []).append((os.path.join(base, folder, name), n))
    return found


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    root = args[0] if args else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    found = arrows(root)
    LAYERS = layers(root)
    if "--graph" in sys.argv:
        for a in LAYERS:
            print(f"{a} -> {' '.join(sorted(b for (x, b) in found if x == a)) or '(nothing)'}")
        return 0
    bad = []
    for (a, b), where in sorted(found.items()):
        if a not in LAYERS or b not in LAYERS:
            bad.append(f"folder '{a if a not in LAYERS else b}' is not a layer: "
                       f"place it in PERTURBFIT_LAYERS of src/CMakeLists.txt")
        elif LAYERS.index(b) > LAYERS.index(a):
            bad += [f"{file}:{line}: {a}/ includes {b}/, a layer above it ({' < '.join(LAYERS)})" for file, line in where]
    for line in bad:
        print(line, file=sys.stderr)
    print(f"layers: {len(found)} folder-level arrows, {len(bad)} upward", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
