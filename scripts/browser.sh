#!/usr/bin/env bash
# Make sure the browser the end-to-end tests drive is installed: Debian's
# Chromium at /usr/bin/chromium (Playwright's own `playwright install` download
# does not work here). Idempotent: an installed Chromium is left alone; a
# missing one is installed with apt-get when running as root. When it cannot
# be installed, the e2e tests skip locally and fail under CI=true.
set -uo pipefail

CHROMIUM=${HELPDESK_TEST_CHROMIUM:-/usr/bin/chromium}

if [ -x "$CHROMIUM" ]; then
    echo "browser: Chromium already installed at $CHROMIUM"
    exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
    echo "browser: $CHROMIUM is missing and cannot be installed (not root or no apt-get);" \
         "the e2e tests will skip (fail with CI=true)" >&2
    exit 1
fi
echo "browser: installing Debian's chromium with apt-get..."
export DEBIAN_FRONTEND=noninteractive
if apt-get update -qq >/dev/null \
        && apt-get install -y -qq --no-install-recommends chromium >/dev/null; then
    echo "browser: installed $("$CHROMIUM" --version 2>/dev/null | grep -i chromium || echo chromium)"
else
    echo "browser: apt-get could not install chromium" >&2
    exit 1
fi
