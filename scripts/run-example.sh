#!/usr/bin/env bash
# Start the example site with demo data on http://127.0.0.1:5000/ .
# On a fresh machine: creates .venv, installs the project and the example site,
# prepares the database (host tables, helpdesk tables, demo users, demo data
# once) and serves. The database lives in example_site/instance/.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/python -m pip install -q -e . -e ./example_site
exec .venv/bin/python -m example_site "$@"
