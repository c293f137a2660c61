#!/bin/bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# build-guest-deb.sh OUTDIR: the .deb the qemu guests install (the system suite, the real-kernel bench), built by
# packaging/build-deb.sh without its test run (the suites run the tests themselves). Prints the .deb's path; on a
# failed build, the end of the build log on stderr and exit 1.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
outdir=${1:?usage: build-guest-deb.sh OUTDIR}
mkdir -p "$outdir"
if ! DEB_BUILD_OPTIONS=nocheck "$here/../../packaging/build-deb.sh" "$outdir" >"$outdir/build-deb.log" 2>&1; then
        tail -40 "$outdir/build-deb.log" >&2
        echo "the .deb did not build (log: $outdir/build-deb.log)" >&2
        exit 1
fi
ls "$outdir"/dma-ownerd_*.deb
