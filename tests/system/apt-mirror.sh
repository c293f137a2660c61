#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# apt-mirror.sh SUITE: print the Debian mirror this machine's apt uses for SUITE (its first "deb" source whose
# suites include SUITE and whose URI is not a security archive), so the tests never name a host of their own.
set -euo pipefail
suite=${1:?usage: apt-mirror.sh SUITE}

/usr/bin/python3 - "$suite" <<'PY'
import glob, sys

suite = sys.argv[1]
found = []

# One-line style: deb [options] URI SUITE COMPONENTS…
for path in ["/etc/apt/sources.list"] + sorted(glob.glob("/etc/apt/sources.list.d/*.list")):
    try:
        lines = open(path).read().splitlines()
    except OSError:
        continue
    for line in lines:
        words = line.split("#", 1)[0].split()
        if not words or words[0] != "deb":
            continue
        words = words[1:]
        if words and words[0].startswith("["):
            while words and not words[0].endswith("]"):
                words = words[1:]
            words = words[1:]
        if len(words) >= 2 and words[1] == suite:
            found.append(words[0])

# deb822 style: stanzas of Types/URIs/Suites.
for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
    try:
        text = open(path).read()
    except OSError:
        continue
    for stanza in text.split("\n\n"):
        fields = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[0].isspace():
                continue
            k, v = line.split(":", 1)
            fields[k.strip().lower()] = v.split()
        if "deb" in fields.get("types", []) and suite in fields.get("suites", []) \
                and fields.get("enabled", ["yes"])[0] != "no":
            found.extend(fields.get("uris", []))

found = [u for u in found if "security" not in u]
if not found:
    sys.exit(f"apt-mirror.sh: no apt source for {suite} in /etc/apt")
print(found[0].rstrip("/"))
PY
