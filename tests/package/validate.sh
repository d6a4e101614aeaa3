#!/bin/sh
# usage: validate.sh TOOL [ARGUMENTS...]
# Runs a validator (desktop-file-validate, appstreamcli) and fails on any error or warning it
# prints, not only on its exit status. Exits 77 (CTest: skipped) where the tool is missing.
tool="$1"
if ! command -v "$tool" >/dev/null 2>&1; then
  echo "$tool not found: apt install desktop-file-utils appstream (scripts/test does)"
  exit 77
fi
out="$("$@" 2>&1)"
status=$?
printf '%s\n' "$out"
[ "$status" -eq 0 ] || exit "$status"
if printf '%s\n' "$out" | grep -Eq '(^|[: ])(error|warning)[: ]|^[EW]: '; then
  echo "validate.sh: $tool reported errors or warnings"
  exit 1
fi
