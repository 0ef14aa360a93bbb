#!/usr/bin/env bash
# Rebuild the MLflow 2.11 Python client/server environment used by the compat checks.
# Prerequisite: the agent search tool's `fetch github:opendatahub-io/mlflow` has put a bare
# mirror at $MIRROR (no PyPI here). Run as root.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MIRROR="${MIRROR:-/work/.mirror/opendatahub-io+mlflow/repo}"
COMMIT="${COMMIT:-c8963fe6f2fe64ef49ffa8b20a3604d60c0b63d4}"   # 2024-03-22, version.py = 2.11.4.dev0 (right after 2.11.3)
DEST="${MLFLOW_PY:-/tmp/mlflow-py}"

if [ ! -f "$DEST/mlflow/__init__.py" ]; then
  rm -rf "$DEST"; mkdir -p "$DEST"
  # `git archive` fails on this partial mirror (some unrelated docs blobs are absent),
  # so copy the mlflow/ tree blob by blob, skipping missing ones.
  (cd "$MIRROR" && /usr/bin/python3 "$HERE/extract_mlflow_tree.py" "$COMMIT")
  [ -f "$DEST/mlflow/pypi_package_index.json" ] || \
    echo '{"index_date": "", "package_names": []}' > "$DEST/mlflow/pypi_package_index.json"
fi
mkdir -p /tmp/mlflow-shim && cp -r "$HERE/shim/querystring_parser" /tmp/mlflow-shim/

if ! /usr/bin/python3 -c 'import flask, sqlalchemy, alembic, pandas, sklearn, git, cloudpickle, entrypoints, sqlparse, docker, markdown, matplotlib, graphene, gunicorn' 2>/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    python3-flask python3-sqlalchemy python3-alembic python3-protobuf python3-pandas \
    python3-sklearn python3-requests python3-click python3-yaml python3-git python3-cloudpickle \
    python3-entrypoints python3-sqlparse gunicorn python3-docker python3-markdown \
    python3-matplotlib python3-packaging python3-importlib-metadata python3-jinja2 \
    python3-waitress python3-graphene python3-tz
fi
PYTHONPATH="$DEST:/tmp/mlflow-shim" /usr/bin/python3 -W ignore -c \
  'import mlflow; from mlflow import MlflowClient; import mlflow.server.handlers; print("mlflow", mlflow.__version__, "importable")'
