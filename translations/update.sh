#!/usr/bin/env bash
# Extract every translatable string, merge into the French catalog, compile.
# Then translate the new or fuzzy entries in translations/fr/LC_MESSAGES/messages.po
# and run this again (tests/unit/test_translations.py fails on any untranslated string).
set -euo pipefail
cd "$(dirname "$0")/.."
PYBABEL="${PYBABEL:-.venv/bin/pybabel}"
"$PYBABEL" extract -F babel.cfg -k _l -k lazy_gettext -k ngettext:1,2 --sort-by-file \
  --no-location --omit-header -o translations/messages.pot .
if [ -f translations/fr/LC_MESSAGES/messages.po ]; then
  "$PYBABEL" update -i translations/messages.pot -d translations -l fr --no-wrap --ignore-obsolete
else
  "$PYBABEL" init -i translations/messages.pot -d translations -l fr --no-wrap
fi
"$PYBABEL" compile -d translations -l fr --statistics
