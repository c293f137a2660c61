#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# The test command of dma-ownerd: `bash tests/run-tests.sh` (as root on a fresh Debian 12, or as anyone once the
# build dependencies are installed). Three stages, each in its own build directory under the repository:
#
#   gcc    build/       -Dwerror=true                                  suites unit + integration + system + hostile + vm
#                                                                             + packaging
#   asan   build-asan/  gcc, -Db_sanitize=address,undefined            suites unit + integration + hostile
#   fuzz   build-fuzz/  clang, -Dfuzz=true, -Db_sanitize=address,undefined   suite fuzz
#
# A stage that fails does not stop the next one. The totals come from each stage's meson-logs/testlog.json: OK and
# EXPECTEDFAIL count as passed; FAIL, TIMEOUT, ERROR, INTERRUPT and UNEXPECTEDPASS as failed; SKIP is reported apart.
# A stage that fails to configure or build, or runs no test at all, counts as one failed test of its own, so the
# totals never read as clean when a stage could not run. The last line is exactly "N passed, N failed, N skipped";
# the exit status is non-zero when anything failed.
#
# Environment: RUN_TESTS_STAGES="gcc asan fuzz" selects stages; RUN_TESTS_NO_APT=1 skips the dependency check.
# `run-tests.sh --deps-only` installs the missing dependencies and exits (tests/demo.sh uses it).

set -u
set -o pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
stages=${RUN_TESTS_STAGES:-gcc asan fuzz}

packages=(meson ninja-build pkg-config gcc clang libclang-rt-14-dev libsystemd-dev libudev-dev libyaml-dev
          libnl-3-dev libnl-route-3-dev libcmocka-dev umockdev libumockdev-dev gir1.2-umockdev-1.0 python3-gi
          python3-dbusmock dbus scdoc libxml2-utils polkitd rpm rpmlint elfutils bash-completion)

log() {
        printf '\n==> %s\n' "$*"
}

install_dependencies() {
        local missing=() p
        for p in "${packages[@]}"; do
                if ! dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q '^install ok installed$'; then
                        missing+=("$p")
                fi
        done
        [[ ${#missing[@]} -eq 0 ]] && return 0

        log "installing missing build dependencies: ${missing[*]}"
        local sudo=()
        if [[ $(id -u) -ne 0 ]]; then
                if ! command -v sudo >/dev/null; then
                        echo "error: missing packages (${missing[*]}) and not root; install them and re-run" >&2
                        return 1
                fi
                sudo=(sudo)
        fi
        # Only the missing packages trigger an index update, so a second run costs nothing.
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q &&
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${packages[@]}"
}

# The compiler a build directory was configured with, or "" when it is not configured.
configured_compiler() {
        local info="$1/meson-info/intro-compilers.json"
        [[ -f $info ]] || return 0
        /usr/bin/python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["host"]["c"]["id"])' "$info" \
                2>/dev/null || true
}

# setup_build DIR CC MESON-OPTIONS…: configure, or reconfigure in place (fast on a second run). A directory
# configured with another compiler is wiped: meson cannot switch compilers in place.
setup_build() {
        local dir="$1" compiler="$2"
        shift 2
        local current
        current=$(configured_compiler "$dir")
        if [[ -n $current ]]; then
                if [[ $current == "$compiler" ]]; then
                        meson setup --reconfigure "$@" "$dir" "$repo" && return 0
                fi
                CC=$compiler meson setup --wipe "$@" "$dir" "$repo"
        else
                rm -rf "$dir"
                CC=$compiler meson setup "$@" "$dir" "$repo"
        fi
}

declare -A stage_status=()
stage_order=()

# run_stage NAME DIR CC "SUITES" MESON-OPTIONS…
run_stage() {
        local name="$1" dir="$repo/$2" compiler="$3" suites="$4"
        shift 4
        local suite_args=() s
        for s in $suites; do
                suite_args+=(--suite "$s")
        done
        stage_order+=("$name")
        rm -f "$dir/meson-logs/testlog.json"

        log "[$name] configure $dir ($compiler $*)"
        if ! setup_build "$dir" "$compiler" "$@"; then
                stage_status[$name]="configure failed"
                return
        fi
        log "[$name] build"
        if ! meson compile -C "$dir"; then
                stage_status[$name]="build failed"
                return
        fi
        log "[$name] meson test ${suite_args[*]}"
        if meson test -C "$dir" --no-rebuild --print-errorlogs "${suite_args[@]}"; then
                stage_status[$name]="ok"
        else
                stage_status[$name]="tests failed"
        fi
}

# count_results TESTLOG: prints "passed failed skipped" for one stage.
count_results() {
        /usr/bin/python3 - "$1" <<'EOF'
import json, sys
passed = failed = skipped = 0
try:
    with open(sys.argv[1]) as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            result = json.loads(line).get("result")
            if result in ("OK", "EXPECTEDFAIL"):
                passed += 1
            elif result == "SKIP":
                skipped += 1
            else:
                failed += 1
except FileNotFoundError:
    pass
print(passed, failed, skipped)
EOF
}

cd "$repo" || exit 1

if [[ ${1:-} == --deps-only ]]; then
        install_dependencies
        exit
fi

if [[ -z ${RUN_TESTS_NO_APT:-} ]]; then
        if ! install_dependencies; then
                echo "0 passed, 1 failed, 0 skipped"
                exit 1
        fi
fi

for stage in $stages; do
        case $stage in
        gcc)
                run_stage gcc build gcc "unit integration system hostile vm packaging" -Dwerror=true
                ;;
        asan)
                run_stage asan build-asan gcc "unit integration hostile" -Db_sanitize=address,undefined -Db_lundef=false
                ;;
        fuzz)
                run_stage fuzz build-fuzz clang "fuzz" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false
                ;;
        *)
                echo "unknown stage '$stage' (known: gcc asan fuzz)" >&2
                exit 2
                ;;
        esac
done

total_passed=0 total_failed=0 total_skipped=0
log "summary"
for stage in "${stage_order[@]}"; do
        case $stage in
        gcc) dir=build ;;
        asan) dir=build-asan ;;
        fuzz) dir=build-fuzz ;;
        esac
        read -r passed failed skipped < <(count_results "$repo/$dir/meson-logs/testlog.json")
        status=${stage_status[$stage]}
        if [[ $status == ok && $((passed + failed + skipped)) -eq 0 ]]; then
                status="no tests ran"
        fi
        # A stage that could not run its tests, or whose `meson test` failed with no failed test recorded, counts
        # as one failure: the totals must never read clean when a stage did not pass.
        if [[ $status != ok && $failed -eq 0 ]]; then
                failed=1
        fi
        printf '  %-5s %-16s %4d passed, %d failed, %d skipped\n' "$stage" "$status" "$passed" "$failed" "$skipped"
        total_passed=$((total_passed + passed))
        total_failed=$((total_failed + failed))
        total_skipped=$((total_skipped + skipped))
done

echo "$total_passed passed, $total_failed failed, $total_skipped skipped"
[[ $total_failed -eq 0 ]]
