#!/bin/sh
# Install Debian's Dovecot IMAP server when it is missing (tests start private
# instances with their own config; see contrib/channels/email/tests/imap_server.py).
set -eu
if command -v dovecot >/dev/null 2>&1; then
    exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get install -y --no-install-recommends dovecot-imapd >/dev/null 2>&1 || {
    apt-get update >/dev/null
    apt-get install -y --no-install-recommends dovecot-imapd >/dev/null
}
command -v dovecot >/dev/null
