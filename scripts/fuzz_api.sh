#!/usr/bin/env bash
# Fuzz the REST API of a real running server with schemathesis: every phase,
# every check, positive and negative data, stateful sequences. Serves a fresh
# example site with a small demo on a free port of 127.0.0.1, with a token of
# its own that it re-creates whenever a generated request revokes it.
#
#   scripts/fuzz_api.sh            # 100 examples per operation
#   scripts/fuzz_api.sh 20         # or FUZZ_EXAMPLES=20; FUZZ_SEED=2 for other cases
#
# Ends with "RESULT cases=N server_errors=N violations=N token_renewals=N seconds=N"
# and exits non-zero on any server error or violation. See docs/testing.rst.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python scripts/fuzz_api.py "$@"
