#!/usr/bin/env bash
# The project's test command: set-up, then every test in a release build (the
# training tests are 10-100x too slow in debug Swift).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
swift build -c release --product mimlab
swift test -c release "$@"
