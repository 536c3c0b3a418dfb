#!/usr/bin/env bash
# Decode the ACPI tables a guest printed with qac.run=acpi (boot.sh --run=acpi)
# from its console log into DIR/<TABLE>.dat, and disassemble them with iasl
# (acpica-tools) when it is there: DIR/<TABLE>.dsl.
# Usage: scripts/guest/acpi-tables.sh CONSOLE_LOG DIR
set -euo pipefail
log=${1:?usage: $0 CONSOLE_LOG DIR} dir=${2:?usage: $0 CONSOLE_LOG DIR}
mkdir -p "$dir"
tr -d '\r' < "$log" | awk -v dir="$dir" '
    /^QAC: acpi [A-Za-z0-9_]+ begin$/ { name = $3; out = dir "/" name ".b64"; printf "" > out; next }
    /^QAC: acpi [A-Za-z0-9_]+ end$/ { close(out); name = ""; next }
    name != "" { print >> out }'
for f in "$dir"/*.b64; do
    [ -e "$f" ] || { echo "acpi-tables: no table in $log (was the guest run with --run=acpi?)" >&2; exit 1; }
    base64 -d "$f" > "${f%.b64}.dat" && rm -f "$f"
    if command -v iasl >/dev/null 2>&1; then
        (cd "$dir" && iasl -d "$(basename "${f%.b64}.dat")" >/dev/null 2>&1) || true
    fi
    echo "${f%.b64}.dat"
done
