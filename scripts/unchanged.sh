#!/usr/bin/env bash
# Run a command, then fail if it changed any file in the repository (tracked or not, as git status sees it):
# the tests must leave the checkout as they found it (figures go to a scratch folder under test).
#   scripts/unchanged.sh python -m pytest tests
before=$(git status --porcelain 2>/dev/null)
"$@"
rc=$?
after=$(git status --porcelain 2>/dev/null)
if [ "$before" != "$after" ]; then
  echo "$(basename "$0"): '$*' changed files in the repository:"
  diff <(echo "$before") <(echo "$after") | grep '^[<>]'
  exit 1
fi
exit $rc
