#!/bin/sh
# Runs a libFuzzer target for a bounded time over a scratch corpus seeded from the repository.
# usage: run-fuzz.sh FUZZER SECONDS SEED_DIR...
set -eu
fuzzer=$1
seconds=$2
shift 2
corpus=$(mktemp -d "${TMPDIR:-/tmp}/fuzz-corpus.XXXXXX")
trap 'rm -rf "$corpus"' EXIT
# The first directory is the one libFuzzer writes new inputs to; the seeds are only read.
"$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 \
        "$corpus" "$@"
