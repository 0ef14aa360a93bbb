#!/usr/bin/env bash
# Run the MLflow Python-client compatibility checks against a tracking server.
#
#   run_against.sh URL [script...]
#     URL      e.g. http://127.0.0.1:5000 (becomes MLFLOW_TRACKING_URI)
#     script   default: py_tracking_check.py py_registry_check.py (paths relative to this dir ok)
#
# Uses Debian's /usr/bin/python3 with the MLflow 2.11 source tree in $MLFLOW_SRC (required; see
# setup_mlflow_py.sh for how to get one) and the querystring_parser stand-in in shim/.
# Env knobs: COMPAT_VERBOSE=1 (tracebacks + timings), COMPAT_ONLY=substr (run matching
# checks only; later checks may then miss prerequisites), COMPAT_PREFIX=name-prefix.
# Exit status: 0 if every script passed, 1 otherwise. Prints a combined
# "N passed, N failed" line last.
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
if [ $# -lt 1 ]; then
  echo "usage: $0 URL [script...]" >&2
  exit 2
fi
URL="$1"; shift
[ $# -eq 0 ] && set -- py_tracking_check.py py_registry_check.py

PY=/usr/bin/python3
if [ -z "${MLFLOW_SRC:-}" ] || [ ! -f "$MLFLOW_SRC/mlflow/__init__.py" ]; then
  echo "set MLFLOW_SRC to an MLflow 2.11 source tree (see $HERE/setup_mlflow_py.sh)" >&2
  exit 2
fi

export PYTHONPATH="$MLFLOW_SRC:$HERE/shim:$HERE"
export MLFLOW_TRACKING_URI="$URL"
unset MLFLOW_REGISTRY_URI
# The stock client retries 429/500/502/503/504 up to 5 times with exponential back-off
# (~1 min per failing call). Keep that short for a test run unless the caller overrides it.
export MLFLOW_HTTP_REQUEST_MAX_RETRIES="${MLFLOW_HTTP_REQUEST_MAX_RETRIES:-1}"
export MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR="${MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR:-1}"
export MLFLOW_HTTP_REQUEST_TIMEOUT="${MLFLOW_HTTP_REQUEST_TIMEOUT:-60}"
export PYTHONWARNINGS=ignore
export GIT_PYTHON_REFRESH=quiet

if ! curl -sf -o /dev/null --max-time 5 "$URL/health" && \
   ! curl -s -o /dev/null --max-time 5 "$URL/api/2.0/mlflow/experiments/get?experiment_id=0"; then
  echo "warning: $URL does not answer /health or experiments/get" >&2
fi

total_pass=0; total_fail=0; rc=0
for s in "$@"; do
  [ -f "$s" ] || s="$HERE/$s"
  echo "=== $(basename "$s") against $URL"
  out="$(mktemp)"
  "$PY" "$s" 2>&1 | tee "$out"
  src=${PIPESTATUS[0]}
  line="$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$out" | tail -1)"
  rm -f "$out"
  if [ -n "$line" ]; then
    p="${line%% passed*}"; f="${line#*, }"; f="${f%% failed*}"
    total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
  else
    total_fail=$((total_fail + 1))   # script crashed before its summary
  fi
  [ "$src" -ne 0 ] && rc=1
done
echo "== total"
echo "$total_pass passed, $total_fail failed"
exit $rc
