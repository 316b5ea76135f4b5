#!/usr/bin/env bash
# The fuzz test of the test command: builds the libFuzzer target with clang in its own
# build directory (build-fuzz, next to the test build) and runs it for SECONDS.
# Usage: fuzz_test.sh SOURCE_DIR BUILD_DIR SECONDS
set -euo pipefail
source_dir=$1
fuzz_dir=$(dirname "$2")/build-fuzz
cd "$source_dir"
if [ ! -f "$fuzz_dir/build.ninja" ]; then
  CC=clang CXX=clang++ meson setup "$fuzz_dir" -Dfuzz=true -Dbuildtype=plain >/dev/null
fi
ninja -C "$fuzz_dir" tests/fuzz/fuzz_packet_pipeline >/dev/null
exec "$source_dir/tests/fuzz/run_fuzzer.sh" "$fuzz_dir/tests/fuzz/fuzz_packet_pipeline" "$3"
