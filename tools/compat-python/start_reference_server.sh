#!/usr/bin/env bash
# Start real MLflow 2.11 (sqlite + proxied artifacts) on 127.0.0.1:${PORT:-5055}.
#
#   MLFLOW_SRC=DIR [REF_DIR=DATA] [PORT=5055] start_reference_server.sh
#
# DIR: the MLflow source tree (see setup_mlflow_py.sh). Data goes to $REF_DIR, a new temporary
# folder when unset (printed). Stop with: kill $(cat $REF_DIR/server.pid)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${MLFLOW_SRC:?set MLFLOW_SRC to an MLflow 2.11 source tree (see setup_mlflow_py.sh)}"
PORT="${PORT:-5055}"; REF_DIR="${REF_DIR:-$(mktemp -d -t mlflow-ref.XXXXXX)}"
echo "reference server data in $REF_DIR"
mkdir -p "$REF_DIR/artifacts"
cd "$REF_DIR"
PYTHONPATH="$MLFLOW_SRC:$HERE/shim" nohup /usr/bin/python3 -m mlflow server \
  --host 127.0.0.1 --port "$PORT" \
  --backend-store-uri "sqlite:///$REF_DIR/db.sqlite" \
  --serve-artifacts --artifacts-destination "$REF_DIR/artifacts" \
  --workers 2 > "$REF_DIR/server.log" 2>&1 &
echo $! > "$REF_DIR/server.pid"
for i in $(seq 1 60); do
  curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && { echo "MLflow up on http://127.0.0.1:$PORT (pid $(cat "$REF_DIR/server.pid"))"; exit 0; }
  sleep 1
done
echo "MLflow did not come up; see $REF_DIR/server.log" >&2; exit 1
