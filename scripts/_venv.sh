# Sourced by the run scripts: create ./.venv (or $VENV) if needed and install the project into it.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
VENV=${VENV:-$ROOT/.venv}
PYTHON=${PYTHON:-python3}

ensure_venv() {  # $1: extras to install ("" or "test")
  if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))'; then
    echo "error: amharic-tts needs Python >= 3.10; $PYTHON is $("$PYTHON" --version 2>&1). Set PYTHON=python3.11 or similar." >&2
    exit 2
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    echo "== creating $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  echo "== installing amharic-tts${1:+[$1]} into $VENV (first run downloads torch and CUDA wheels, ~2.5 GB)"
  "$VENV/bin/python" -m pip install -qq --upgrade pip
  "$VENV/bin/python" -m pip install -qq -e ".${1:+[$1]}"
}
