#!/usr/bin/env bash
# Idempotent setup for quidam: a virtual environment with the package and its
# dev extras, plus the system tools the flow runs (Icarus Verilog, OpenSTA,
# Verilator for linting). Prints what it did; does nothing that is already done.
set -euo pipefail

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
STAMP="$VENV/.quidam-installed"

say() { printf 'setup: %s\n' "$*"; }

# System tools: command -> Debian package.
declare -A TOOLS=([iverilog]=iverilog [sta]=opensta [verilator]=verilator [g++]=g++)
missing=()
for tool in iverilog sta verilator g++; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("${TOOLS[$tool]}")
done
if ((${#missing[@]})); then
    if [ "$(id -u)" -eq 0 ]; then
        apt_get=(apt-get)
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        apt_get=(sudo -n apt-get)
    else
        echo "setup: missing system packages: ${missing[*]}; installing them needs root." >&2
        echo "setup: run 'sudo apt-get install ${missing[*]}' (Debian/Ubuntu) and then 'make setup' again." >&2
        exit 1
    fi
    say "installing ${missing[*]} with apt-get"
    "${apt_get[@]}" update -qq
    DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    say "system tools present: iverilog, sta, verilator, g++"
fi

if [ ! -x "$VENV/bin/python" ]; then
    say "creating virtual environment $VENV"
    "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$STAMP" ] || [ pyproject.toml -nt "$STAMP" ]; then
    say "installing quidam (editable) with dev extras into $VENV"
    log="$VENV/pip-install.log"
    if ! { "$VENV/bin/python" -m pip install --upgrade pip && "$VENV/bin/python" -m pip install -e '.[dev]'; } >"$log" 2>&1; then
        tail -n 30 "$log" >&2
        echo "setup: pip install failed; the full log is $log" >&2
        exit 1
    fi
    touch "$STAMP"
else
    say "quidam already installed in $VENV (pyproject.toml unchanged)"
fi
say "ready: $("$VENV/bin/quidam" --version)"
