#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# check-rpm-spec.sh: packaging/rpm/dma-ownerd.spec parses with rpmspec -P (Fedora's macros stood in by rpm-macros),
# uses the macros a Fedora package of a meson project with a systemd unit must use, and its %files lists exactly
# what `meson install` installs (from `meson introspect --installed` of a build configured like %meson).
# Exit 77 (skipped) without rpmspec or meson.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
spec="$repo/packaging/rpm/dma-ownerd.spec"

# Debian's rpm package provides rpmspec; as root, install it like the other suites install what they need.
if ! command -v rpmspec >/dev/null && [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends rpm >/dev/null 2>&1 || true
fi
command -v rpmspec >/dev/null || { echo "rpmspec not installed (Debian: apt-get install rpm); skipped"; exit 77; }
command -v meson >/dev/null || { echo "meson not installed; skipped"; exit 77; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Configure like %meson, then take the unit and udev directories meson chose for the %files check.
meson setup "$work/build" "$repo" --prefix=/usr --sysconfdir=/etc -Dtests=false >"$work/setup.log" 2>&1 ||
        { cat "$work/setup.log"; exit 1; }
meson introspect --installed "$work/build" >"$work/installed.json"
unitdir=$(/usr/bin/python3 -c 'import json,sys,os; print(next(os.path.dirname(v) for v in json.load(open(sys.argv[1])).values() if v.endswith("/dma-ownerd.service")))' "$work/installed.json")
udevrulesdir=$(/usr/bin/python3 -c 'import json,sys,os; print(next(os.path.dirname(v) for v in json.load(open(sys.argv[1])).values() if v.endswith("/60-dma-ownerd.rules")))' "$work/installed.json")

rpmspec -P --load "$here/rpm-macros" --define "_unitdir $unitdir" --define "_udevrulesdir $udevrulesdir" \
        --define "_topdir $work/rpmbuild" "$spec" >"$work/parsed.spec"
echo "rpmspec -P: ok ($(wc -l <"$work/parsed.spec") lines)"

/usr/bin/python3 - "$spec" "$work/parsed.spec" "$work/installed.json" <<'PY'
import fnmatch, json, re, sys

raw = open(sys.argv[1]).read()
parsed = open(sys.argv[2]).read()
installed = sorted(json.load(open(sys.argv[3])).values())
failures = []

for macro in ("%meson ", "%meson_build", "%meson_install", "%meson_test", "%systemd_post dma-ownerd.service",
              "%systemd_preun dma-ownerd.service", "%systemd_postun_with_restart dma-ownerd.service",
              "%config(noreplace) %{_sysconfdir}/dma-ownerd/policy.yaml"):
    if macro not in raw:
        failures.append(f"the spec does not use {macro.strip()}")
for expanded in ("meson setup --buildtype=plain", "meson install", "meson test",
                 "systemctl --no-reload preset dma-ownerd.service", "disable --now dma-ownerd.service",
                 "try-restart dma-ownerd.service", "%config(noreplace) /etc/dma-ownerd/policy.yaml"):
    if expanded not in parsed:
        failures.append(f"rpmspec -P output lacks {expanded!r}")

files = parsed.split("\n%files\n", 1)[1].split("\n%changelog", 1)[0].splitlines()
entries, dirs = [], []
for line in files:
    line = line.strip()
    if not line or line.startswith("#"):
        continue
    words = line.split()
    path = words[-1]
    if not path.startswith("/"):
        continue  # %doc README.md: taken from the source tree
    if words[0] == "%dir":
        dirs.append(path)
    else:
        entries.append(path)

def covered(path):
    return any(fnmatch.fnmatch(path, e) or path.startswith(e.rstrip("/") + "/") for e in entries)

for path in installed:
    if not covered(path):
        failures.append(f"installed but not in %files: {path}")
for e in entries:
    if not any(fnmatch.fnmatch(p, e) or p == e for p in installed):
        failures.append(f"in %files but not installed by meson: {e}")
# %dir entries must be ours: created by `install -d` in %install, or holding installed files or such directories.
created = [m.group(1) for m in re.finditer(r"^install -d .*BUILDROOT/[^/]+(/\S+)$", parsed, re.M)]
for d in dirs:
    if not any(p == d or p.startswith(d + "/") for p in created + installed):
        failures.append(f"%dir {d} is neither created in %install nor holds installed files")

for f in failures:
    print("FAIL:", f)
print(f"%files: {len(entries)} entries, {len(dirs)} directories; meson installs {len(installed)} paths")
sys.exit(1 if failures else 0)
PY
echo "rpm spec: ok"
