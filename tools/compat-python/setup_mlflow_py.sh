#!/usr/bin/env bash
# Check (and complete) the MLflow 2.11 Python environment used by the compat checks.
#
#   MLFLOW_SRC=DIR setup_mlflow_py.sh
#
# DIR: an MLflow source tree of commit c8963fe6f2fe64ef49ffa8b20a3604d60c0b63d4 (2.11.4.dev0,
#      right after the 2.11.3 release) holding mlflow/. Get one with plain git:
#        git clone https://github.com/opendatahub-io/mlflow DIR
#        git -C DIR checkout c8963fe6f2fe64ef49ffa8b20a3604d60c0b63d4
#      or export just what is needed from any clone REPO of it:
#        mkdir -p DIR && git -C REPO archive c8963fe6f2fe64ef49ffa8b20a3604d60c0b63d4 mlflow | tar -x -C DIR
# There is no PyPI here: Debian's python3-* packages supply MLflow's imports (installed with
# apt-get when missing, which needs root) and shim/ stands in for querystring_parser.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
: "${MLFLOW_SRC:?set MLFLOW_SRC to an MLflow 2.11 source tree (see the header of this script)}"

if [ ! -f "$MLFLOW_SRC/mlflow/__init__.py" ]; then
  echo "$MLFLOW_SRC has no mlflow/__init__.py: not an MLflow source tree (see the header of $0)" >&2
  exit 2
fi
# The PyPI package index is generated at release time and absent from some exports; MLflow only
# needs the file to exist.
[ -f "$MLFLOW_SRC/mlflow/pypi_package_index.json" ] || \
  echo '{"index_date": "", "package_names": []}' > "$MLFLOW_SRC/mlflow/pypi_package_index.json"

if ! /usr/bin/python3 -c 'import flask, sqlalchemy, alembic, pandas, sklearn, git, cloudpickle, entrypoints, sqlparse, docker, markdown, matplotlib, graphene, gunicorn' 2>/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
    python3-flask python3-sqlalchemy python3-alembic python3-protobuf python3-pandas \
    python3-sklearn python3-requests python3-click python3-yaml python3-git python3-cloudpickle \
    python3-entrypoints python3-sqlparse gunicorn python3-docker python3-markdown \
    python3-matplotlib python3-packaging python3-importlib-metadata python3-jinja2 \
    python3-waitress python3-graphene python3-tz
fi
PYTHONPATH="$MLFLOW_SRC:$HERE/shim" /usr/bin/python3 -W ignore -c \
  'import mlflow; from mlflow import MlflowClient; import mlflow.server.handlers; print("mlflow", mlflow.__version__, "importable")'
