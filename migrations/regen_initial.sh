#!/usr/bin/env bash
# Regenerate the initial migration from the models, against an empty SQLite
# database. Only while nothing is deployed: once a database runs in
# production, add new revisions instead (`flask --app app db migrate -m ...`).
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -f migrations/versions/0001_initial.py
DIARY_INSTANCE_PATH="$tmp" DIARY_DATABASE_URL="sqlite:///$tmp/regen.db" \
  "${PYTHON:-.venv/bin/python}" -m flask --app app db revision --autogenerate --rev-id 0001 -m initial
