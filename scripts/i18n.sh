#!/usr/bin/env bash
# Update the helpdesk's translation catalogs (gettext domain "flask_helpdesk").
#
#   scripts/i18n.sh              extract -> update -> compile
#   scripts/i18n.sh compile      compile the .po files only
#   scripts/i18n.sh pot FILE     extract the message template into FILE only
#                                (tests/i18n compares it with the catalogs)
#
# After a full run, translate the new and fuzzy entries of
# flask_helpdesk/translations/{ru,pt_BR}/LC_MESSAGES/flask_helpdesk.po, run
# "scripts/i18n.sh compile", and commit the .po and .mo files together.
set -euo pipefail

cd "$(dirname "$0")/.."
PYBABEL="${PYBABEL:-.venv/bin/pybabel}"
DIR=flask_helpdesk/translations
DOMAIN=flask_helpdesk
LANGS=(en ru pt_BR)

extract() {
    # Keywords: _, gettext, ngettext and lazy_gettext in Python (ngettext:1,2
    # is a default keyword), _hd and _hdn:1,2 in the Jinja templates.
    "$PYBABEL" extract -F babel.cfg -o "$1" \
        -k lazy_gettext -k _hd -k _hdn:1,2 \
        --project=flask-helpdesk --copyright-holder="the flask-helpdesk developers" \
        --no-location --sort-output --no-wrap \
        flask_helpdesk contrib/channels/email/flask_helpdesk_email
}

compile() {
    "$PYBABEL" compile -d "$DIR" -D "$DOMAIN" --statistics
}

case "${1:-all}" in
    pot)
        extract "$2"
        ;;
    compile)
        compile
        ;;
    all)
        tmp="$(mktemp -d)"
        trap 'rm -rf "$tmp"' EXIT
        extract "$tmp/$DOMAIN.pot"
        for lang in "${LANGS[@]}"; do
            if [[ -f "$DIR/$lang/LC_MESSAGES/$DOMAIN.po" ]]; then
                "$PYBABEL" update -i "$tmp/$DOMAIN.pot" -d "$DIR" -D "$DOMAIN" -l "$lang" \
                    --no-wrap --ignore-obsolete
            else
                "$PYBABEL" init -i "$tmp/$DOMAIN.pot" -d "$DIR" -D "$DOMAIN" -l "$lang" --no-wrap
            fi
        done
        compile
        ;;
    *)
        echo "usage: $0 [all|compile|pot FILE]" >&2
        exit 2
        ;;
esac
