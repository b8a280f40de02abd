#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Lines of the trusted supervisor core: src/supervisor and the src/common files
# it links, counting non-blank lines that are not only a comment. Budget: 5,000.
set -euo pipefail
cd "$(dirname "$0")/.."
count() { cat "$@" | grep -cvE '^\s*($|//|/\*|\*)' || true; }
sup=$(count src/supervisor/*.[ch])
common=$(count src/common/*.[ch])
total=$((sup + common))
printf '%-28s %6d\n' "src/supervisor" "$sup" "src/common (linked)" "$common" "trusted core total" "$total"
printf '%-28s %6d\n' "budget" 5000
[ "$total" -le 5000 ] || { echo "over budget"; exit 1; }
