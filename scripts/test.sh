#!/usr/bin/env bash
# Run the whole test suite: the project, every contrib plugin and the example
# site, after ruff and mypy. Extra arguments go to pytest (e.g. ./scripts/test.sh -x -k reply).
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
PY=.venv/bin/python
"$PY" -m pip install -q --upgrade pip >/dev/null 2>&1 || true

editables=(-e ".[test]" -e "./example_site[production]")
for project in contrib/*/*/pyproject.toml; do
    [ -e "$project" ] || continue
    editables+=(-e "./$(dirname "$project")[test]")  # with its test extra, if any
done
"$PY" -m pip install -q "${editables[@]}"

# Real services for the tests that need them (they skip locally, fail in CI).
./scripts/services.sh || echo "test.sh: some services are not running (see above)" >&2
# Debian's chromium for the end-to-end tests (they skip locally, fail in CI, without it).
./scripts/browser.sh || echo "test.sh: no browser for the e2e tests (see above)" >&2

"$PY" -m ruff check .
"$PY" -m mypy  # strict, on flask_helpdesk (pyproject.toml)
exec "$PY" -m pytest "$@"
