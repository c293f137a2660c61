#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# check-rpm.sh: build the RPM for real with packaging/build-rpm.sh (rpmbuild -bb, %check included), then check
#   - the package's files are exactly what `meson install` installed in that build (introspected from rpmbuild's
#     own build directory), plus %license/%doc from the source tree and rpm's build-id links; the directories it
#     owns are its own; binaries, units, bus and polkit files, udev rule, catalog, man pages and completion are
#     there, /etc/dma-ownerd/policy.yaml is %config(noreplace) and the examples are %doc;
#   - `rpm -qp --scripts` holds the expanded %systemd_post/%systemd_preun/%systemd_postun_with_restart for
#     dma-ownerd.service, and Requires carry systemd for those scriptlets, dbus, and the libraries the binaries
#     link (rpm's automatic dependencies);
#   - every pkgconfig() BuildRequires is a dependency meson.build declares, every dependency meson requires is a
#     BuildRequires, programs meson looks for outside tests/ and bench/ are BuildRequires, and the spec's meson
#     version requirement and Version match meson.build;
#   - rpmlint (with packaging/rpm/rpmlint.toml) reports no error and no unfiltered warning on the package and the
#     spec. The -debuginfo/-debugsource packages are rpm's own output, not the spec's, and are not linted.
# Exit 77 ("skip: …") without rpmbuild or rpmlint.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
spec="$repo/packaging/rpm/dma-ownerd.spec"

command -v rpmbuild >/dev/null || { echo "skip: rpmbuild not installed (Debian: apt-get install rpm)"; exit 77; }
command -v rpmlint >/dev/null || { echo "skip: rpmlint not installed (Debian: apt-get install rpmlint)"; exit 77; }
command -v meson >/dev/null || { echo "skip: meson not installed"; exit 77; }

work=$(mktemp -d "${TMPDIR:-/tmp}/dma-ownerd-check-rpm.XXXXXX")
trap 'rm -rf "$work"' EXIT

# --noclean keeps BUILD/ (rpm 4.18 removes it otherwise): meson's install list is read from that build.
echo "==> packaging/build-rpm.sh (the end of its log is shown if it fails)"
if ! RPM_TOPDIR="$work/top" "$repo/packaging/build-rpm.sh" "$work/out" --noclean >"$work/build.log" 2>&1; then
        tail -n 60 "$work/build.log"
        echo "FAIL: build-rpm.sh failed"
        exit 1
fi
tail -n 5 "$work/build.log"

shopt -s nullglob
main=("$work"/out/dma-ownerd-[0-9]*.rpm)
[[ ${#main[@]} -eq 1 ]] || { echo "FAIL: expected one dma-ownerd RPM, got: ${main[*]:-none}"; exit 1; }
builddirs=("$work"/top/BUILD/dma-ownerd-*/redhat-linux-build)
[[ ${#builddirs[@]} -eq 1 ]] || { echo "FAIL: rpmbuild's meson build directory not found"; exit 1; }

meson introspect --installed "${builddirs[0]}" >"$work/installed.json"
meson introspect --scan-dependencies "$repo/meson.build" >"$work/dependencies.json"
rpm -qp --qf '[%{FILEMODES:perms}|%{FILEUSERNAME}|%{FILEGROUPNAME}|%{FILEFLAGS:fflags}|%{FILENAMES}\n]' \
        "${main[0]}" >"$work/files.txt"
rpm -qp --scripts "${main[0]}" >"$work/scripts.txt"
rpm -qp --qf '[%{REQUIREFLAGS:deptype}|%{REQUIRENAME}\n]' "${main[0]}" >"$work/requires.txt"
rpm -qp --recommends "${main[0]}" >"$work/recommends.txt"
# The spec's BuildRequires and Version, parsed with the same macros build-rpm.sh used.
macro_args=()
if [[ -z $(rpm --eval '%{?meson_build}') ]]; then
        macro_args=(--load "$repo/packaging/rpm/macros.fedora-standin")
fi
rpmspec -q --buildrequires "${macro_args[@]}" "$spec" >"$work/buildrequires.txt"
rpmspec -q --srpm --qf '%{version}\n' "${macro_args[@]}" "$spec" >"$work/version.txt"
debuginfo=no
if command -v eu-strip >/dev/null; then
        debuginfo=yes
fi

/usr/bin/python3 - "$work" "$repo" "$debuginfo" <<'PY'
import glob, json, os, re, sys

work, repo, want_debuginfo = sys.argv[1], sys.argv[2], sys.argv[3] == "yes"
failures = []

def fail(msg):
    failures.append(msg)

# --- files ------------------------------------------------------------------------------------------------------
# install_subdir() shows up as one directory: list the files under it, as they are in the source tree.
installed = set()
for src, dst in json.load(open(f"{work}/installed.json")).items():
    if os.path.isdir(src):
        for root, _, names in os.walk(src):
            installed |= {os.path.join(dst, os.path.relpath(os.path.join(root, n), src)) for n in names}
    else:
        installed.add(dst)
entries = {}
for line in open(f"{work}/files.txt"):
    perms, user, group, flags, path = line.rstrip("\n").split("|", 4)
    entries[path] = (perms, user, group, flags)
files = {p for p, e in entries.items() if not e[0].startswith("d")}
dirs = {p for p, e in entries.items() if e[0].startswith("d")}

def packaged_name(path):
    # brp-compress gzips man pages.
    return path + ".gz" if re.match(r"^/usr/share/man/man\d/", path) else path

expected = {packaged_name(p) for p in installed}
expected |= {"/usr/share/licenses/dma-ownerd/LICENSE", "/usr/share/doc/dma-ownerd/README.md"}
build_id = {p for p in files if p.startswith("/usr/lib/.build-id/")}
for p in sorted(expected - files):
    fail(f"meson installs {p}, the package lacks it")
for p in sorted(files - expected - build_id):
    fail(f"the package holds {p}, which meson does not install")
if want_debuginfo and len(build_id) != 2:
    fail(f"expected build-id links for the two binaries, got {sorted(build_id)}")

# Directories: only our own (the spec's %dir entries, the %doc directories) and rpm's build-id tree; never a
# directory another package owns (/usr/share/dbus-1, /usr/lib/systemd/system, …).
own_dirs = {"/etc/dma-ownerd", "/etc/dma-ownerd/policy.d", "/usr/lib/dma-ownerd", "/usr/lib/dma-ownerd/policy.d",
            "/usr/share/doc/dma-ownerd", "/usr/share/doc/dma-ownerd/examples", "/usr/share/licenses/dma-ownerd"}
build_id_dirs = {d for d in dirs if d == "/usr/lib/.build-id" or d.startswith("/usr/lib/.build-id/")}
for d in sorted(dirs - own_dirs - build_id_dirs):
    fail(f"the package owns directory {d}, which is not its own")
for d in sorted(own_dirs - dirs):
    fail(f"the package does not own its directory {d}")

def one(pattern, what):
    hits = [p for p in files if re.fullmatch(pattern, p)]
    if len(hits) != 1:
        fail(f"{what}: expected one file matching {pattern}, got {hits}")
        return None
    return hits[0]

checks = {
    r"/usr/sbin/dma-ownerd": "daemon",
    r"/usr/bin/dma-ownerctl": "client",
    r"(/usr)?/lib/systemd/system/dma-ownerd\.service": "systemd unit",
    r"/usr/share/dbus-1/system\.d/org\.dmaownerd1\.conf": "D-Bus policy",
    r"/usr/share/dbus-1/system-services/org\.dmaownerd1\.service": "D-Bus activation",
    r"/usr/share/polkit-1/actions/org\.dmaownerd1\.policy": "polkit action",
    r"(/usr)?/lib/udev/rules\.d/60-dma-ownerd\.rules": "udev rule",
    r"/usr/lib/systemd/catalog/dma-ownerd\.catalog": "journal catalog",
    r"/usr/share/man/man8/dma-ownerd\.8\.gz": "daemon man page",
    r"/usr/share/man/man1/dma-ownerctl\.1\.gz": "client man page",
    r"/usr/share/man/man5/dma-ownerd\.policy\.5\.gz": "policy man page",
    r"/usr/share/bash-completion/completions/dma-ownerctl": "bash completion",
    r"/etc/dma-ownerd/policy\.yaml": "example policy",
}
found = {what: one(pattern, what) for pattern, what in checks.items()}

for path, (perms, user, group, flags) in sorted(entries.items()):
    if (user, group) != ("root", "root"):
        fail(f"{path} is owned by {user}:{group}, not root:root")
for what in ("daemon", "client"):
    if found[what] and entries[found[what]][0] != "-rwxr-xr-x":
        fail(f"{found[what]} has mode {entries[found[what]][0]}, expected -rwxr-xr-x")
policy = found["example policy"]
if policy and entries[policy][3] != "cn":
    fail(f"{policy} has file flags {entries[policy][3]!r}, expected 'cn' (%config(noreplace))")
for path, (perms, user, group, flags) in sorted(entries.items()):
    if path.startswith("/etc/") and not perms.startswith("d") and "c" not in flags:
        fail(f"{path} is under /etc but not %config")
    if path.startswith("/usr/share/doc/dma-ownerd/") and not perms.startswith("d") and flags != "d":
        fail(f"{path} has file flags {flags!r}, expected 'd' (%doc)")
    if path.startswith("/usr/share/licenses/") and not perms.startswith("d") and flags != "l":
        fail(f"{path} has file flags {flags!r}, expected 'l' (%license)")

# --- scriptlets -------------------------------------------------------------------------------------------------
scripts = open(f"{work}/scripts.txt").read()
sections = dict(re.findall(r"^(\w+) scriptlet \(using [^)]*\):\n(.*?)(?=^\w+ scriptlet \(|\Z)", scripts, re.M | re.S))
wanted = {
    # Fedora's systemd-rpm-macros (systemd ≥ 249 uses systemd-update-helper; older ones call systemctl directly).
    "postinstall": r"\$1 -eq 1 .*(install-system-units|systemctl --no-reload preset) dma-ownerd\.service",
    "preuninstall": r"\$1 -eq 0 .*(remove-system-units|systemctl --no-reload disable --now) dma-ownerd\.service",
    "postuninstall": r"\$1 -ge 1 .*(mark-restart-system-units|systemctl try-restart) dma-ownerd\.service",
}
for name, pattern in wanted.items():
    body = sections.get(name)
    if body is None:
        fail(f"no {name} scriptlet (rpm -qp --scripts: {sorted(sections)})")
    elif not re.search(pattern, body, re.S):
        fail(f"{name} scriptlet does not match {pattern!r}:\n{body}")
if "%" in scripts:
    fail(f"an unexpanded macro in the scriptlets:\n{scripts}")

# --- Requires ---------------------------------------------------------------------------------------------------
requires = [tuple(line.rstrip("\n").split("|", 1)) for line in open(f"{work}/requires.txt") if "|" in line]
for deptype in ("post", "preun", "postun"):
    if (deptype, "systemd") not in requires:
        fail(f"Requires({deptype}): systemd missing (%systemd_requires)")
if not any(name == "dbus" for _, name in requires):
    fail("Requires: dbus missing (the daemon is a system bus service)")
auto = {name for deptype, name in requires if deptype == "auto"}
for soname in ("libsystemd.so.0", "libudev.so.1", "libyaml-0.so.", "libnl-3.so.", "libnl-route-3.so."):
    if not any(name.startswith(soname) for name in auto):
        fail(f"no automatic Requires on {soname}* (rpm's ELF dependency generator did not see the binaries)")
recommends = open(f"{work}/recommends.txt").read().split()
if "polkit" not in recommends:
    fail(f"Recommends: polkit missing ({recommends})")

# --- BuildRequires against meson.build --------------------------------------------------------------------------
buildrequires = [line.strip() for line in open(f"{work}/buildrequires.txt") if line.strip()]
pc_names = {m.group(1) for b in buildrequires for m in [re.match(r"pkgconfig\(([^)]+)\)", b)] if m}
plain = {re.split(r"\s", b)[0] for b in buildrequires if not b.startswith("pkgconfig(")}
deps = json.load(open(f"{work}/dependencies.json"))
declared = {d["name"] for d in deps}
for name in sorted(pc_names - declared):
    fail(f"BuildRequires pkgconfig({name}), which meson.build never asks for")
for d in deps:
    if d["required"] and d["name"] not in pc_names:
        fail(f"meson.build requires dependency('{d['name']}'), the spec lacks BuildRequires: pkgconfig({d['name']})")
optional = sorted(d["name"] for d in deps if not d["required"] and d["name"] not in pc_names)
if optional:
    print(f"info: optional meson dependencies without BuildRequires (meson falls back to the usual paths): "
          f"{', '.join(optional)}")
programs = set()
for path in glob.glob(f"{repo}/**/meson.build", recursive=True):
    rel = os.path.relpath(path, repo)
    top = rel.split(os.sep)[0]
    if top in ("tests", "bench") or os.path.exists(os.path.join(repo, top, "meson-private")):
        continue
    programs |= set(re.findall(r"find_program\(\s*'([^'/]+)'", open(path).read()))
for prog in sorted(programs - plain):
    fail(f"meson looks for program '{prog}', the spec lacks BuildRequires: {prog}")
for need in ("gcc", "meson", "systemd-rpm-macros"):
    if need not in plain:
        fail(f"BuildRequires: {need} missing")
meson_build = open(f"{repo}/meson.build").read()
meson_req = re.search(r"meson_version\s*:\s*'([^']+)'", meson_build).group(1).replace(" ", "")
spec_meson = [b for b in buildrequires if b.startswith("meson ")]
if not spec_meson or spec_meson[0].replace("meson", "", 1).replace(" ", "") != meson_req:
    fail(f"BuildRequires {spec_meson} does not match meson.build's meson_version '{meson_req}'")
project_version = re.search(r"^\s*version\s*:\s*'([^']+)'", meson_build, re.M).group(1)
spec_version = open(f"{work}/version.txt").read().strip()
if spec_version != project_version:
    fail(f"spec Version {spec_version} != meson.build version {project_version}")

debug_rpms = sorted(os.path.basename(p) for p in glob.glob(f"{work}/out/dma-ownerd-debug*.rpm"))
if want_debuginfo and len(debug_rpms) != 2:
    fail(f"expected -debuginfo and -debugsource packages, got {debug_rpms}")

for f in failures:
    print("FAIL:", f)
print(f"package: {len(files)} files, {len(dirs)} directories; meson installs {len(installed)} paths; "
      f"scriptlets: {sorted(sections)}; {len(buildrequires)} BuildRequires")
sys.exit(1 if failures else 0)
PY

echo "==> rpmlint"
set +e
(cd "$work" && rpmlint -c "$repo/packaging/rpm/rpmlint.toml" "${main[0]}" "$spec") >"$work/rpmlint.txt" 2>&1
status=$?
set -e
grep -E ': [EW]: |errors, .* warnings' "$work/rpmlint.txt" || true
summary=$(grep -E '[0-9]+ errors, [0-9]+ warnings' "$work/rpmlint.txt" || true)
if [[ $status -ne 0 || ! $summary =~ (^|[^0-9])0\ errors,\ 0\ warnings ]]; then
        cat "$work/rpmlint.txt"
        echo "FAIL: rpmlint (exit $status): fix the package, or filter the message in packaging/rpm/rpmlint.toml" \
                "with its reason"
        exit 1
fi
echo "rpm: ok"
