#!/usr/bin/env bash
# The tests, with what they need beyond Python: TensorFlow.js from npm (pinned by
# src/tfstyle/web/package-lock.json; tfstyle web copies it into every site), and where they are
# missing, Debian's Chromium for the browser tests, g++ for the native Winograd transforms and
# iproute2 for the cluster tests' loopback-only network namespace (apt-get: as root, or through sudo). Then pytest in two processes; arguments go to pytest.
#
#   bash scripts/test.sh                       # the whole suite (CI: .ci/run)
#   bash scripts/test.sh tests/test_losses.py  # some of it
#
# $PYTHON picks the interpreter (default: the project's .venv). The browser tests fail, never skip,
# without Chromium or TensorFlow.js; a run that collects no tests fails too.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}

npm ci --ignore-scripts --no-audit --no-fund --prefix src/tfstyle/web

if [ ! -x /usr/bin/chromium ] || ! command -v g++ >/dev/null || ! command -v ip >/dev/null; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium g++ iproute2 >/dev/null
fi

set +e
"$PYTHON" -m pytest -q -n 2 --dist loadfile "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "tests: pytest collected no tests; treating that as a failure" >&2
  exit 1
fi
exit "$rc"
