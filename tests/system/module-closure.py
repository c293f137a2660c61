#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""module-closure.py MODULES_DIR NAME…: print the .ko files (relative to MODULES_DIR) that NAMEs need, dependencies
first, so `insmod` in that order works. Dependencies come from each module's .modinfo "depends=" entry, read from the
file itself: no depmod or modinfo is needed on the host. Names listed in modules.builtin are skipped."""

import os
import sys


def normalize(name):
    return name.replace("-", "_")


def main():
    moddir, names = sys.argv[1], sys.argv[2:]
    paths = {}
    for dirpath, _, files in os.walk(os.path.join(moddir, "kernel")):
        for f in files:
            if f.endswith(".ko"):
                paths[normalize(f[:-3])] = os.path.relpath(os.path.join(dirpath, f), moddir)
    builtin = set()
    try:
        with open(os.path.join(moddir, "modules.builtin")) as f:
            for line in f:
                builtin.add(normalize(os.path.basename(line.strip())[:-3]))
    except OSError:
        pass

    order, seen = [], set()

    def visit(name):
        name = normalize(name)
        if name in seen or name in builtin:
            return
        seen.add(name)
        if name not in paths:
            sys.exit(f"module-closure: no module {name} in {moddir}")
        with open(os.path.join(moddir, paths[name]), "rb") as f:
            data = f.read()
        i = data.find(b"\0depends=")
        if i >= 0:
            value = data[i + len(b"\0depends="):data.index(b"\0", i + 1)].decode()
            for dep in filter(None, value.split(",")):
                visit(dep)
        order.append(paths[name])

    for n in names:
        visit(n)
    print("\n".join(order))


main()
