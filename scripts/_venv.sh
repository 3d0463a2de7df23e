# Sourced by scripts/demo and scripts/test: creates .venv on first use and keeps it in step
# with the hashed lock file (requirements/dev.txt) and the project itself.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
  echo "==> creating $VENV"
  "$PY" -m venv "$VENV"
fi

lock_stamp="$(cat "$ROOT/requirements/dev.txt" "$ROOT/pyproject.toml" | sha256sum | cut -d' ' -f1)"
if [ "$(cat "$VENV/.installed" 2>/dev/null || true)" != "$lock_stamp" ]; then
  echo "==> installing locked dependencies (requirements/dev.txt)"
  # (pip's notes about this machine's optional local package folders are filtered out)
  "$VENV/bin/python" -m pip install --quiet --require-hashes -r "$ROOT/requirements/dev.txt" \
    2> >(grep -v "^WARNING: Location 'file:" >&2)
  "$VENV/bin/python" -m pip install --quiet --no-deps -e "$ROOT" \
    2> >(grep -v "^WARNING: Location 'file:" >&2)
  echo "$lock_stamp" > "$VENV/.installed"
fi
export PATH="$VENV/bin:$PATH"
