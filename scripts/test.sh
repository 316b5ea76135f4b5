#!/usr/bin/env bash
# The test command: installs what is needed, builds with warnings as errors, and runs
# every test suite (unit, ThreadSanitizer, integration). Ends with meson test's summary.
# Run as root on Debian 12: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build-test --buildtype=debugoptimized -Dwerror=true -Dtests=enabled -Dbench=enabled
exec meson test -C build-test --print-errorlogs --num-processes 2 "$@"
