#!/usr/bin/env python3
"""Capture raw JSON response bodies from an MLflow-compatible server.

usage: capture_samples.py URL OUTDIR
Creates a small fixture (experiment, run with params/metrics incl. NaN/inf, tags,
dataset input, artifact, registered model + version + alias) through the Python client,
then GETs/POSTs the REST endpoints with `requests` and writes each raw body to
OUTDIR/<name>.json (pretty-printed if it parses; the raw text is kept under "_raw"
only if it does not). Use it on real MLflow and on Cairn and diff the two folders
(ids/timestamps differ, structure should not).
"""
import json
import os
import sys
import tempfile
import uuid
import warnings

warnings.filterwarnings("ignore")
import requests  # noqa: E402

URL, OUT = sys.argv[1].rstrip("/"), sys.argv[2]
os.environ["MLFLOW_TRACKING_URI"] = URL
import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402

os.makedirs(OUT, exist_ok=True)
c = MlflowClient()
p = f"sample-{uuid.uuid4().hex[:6]}"
exp = c.create_experiment(f"{p}-exp", tags={"team": "compat"})
run = c.create_run(exp, run_name="sample-run", tags={"color": "red"})
rid = run.info.run_id
c.log_param(rid, "lr", "0.01")
for step, v in enumerate([1.0, float("nan"), float("inf"), float("-inf"), 0.5]):
    c.log_metric(rid, "loss", v, timestamp=1700000000000 + step, step=step)
import pandas as pd  # noqa: E402

tmp = tempfile.mkdtemp()
csv = os.path.join(tmp, "d.csv")
df = pd.DataFrame({"x": [1, 2]})
df.to_csv(csv, index=False)
mlflow.log_input  # noqa: B018
c.log_inputs(rid, [mlflow.entities.DatasetInput(
    mlflow.data.from_pandas(df, source=csv, name="ds")._to_mlflow_entity(),
    [mlflow.entities.InputTag("mlflow.data.context", "training")])])
with open(os.path.join(tmp, "model.txt"), "w") as f:
    f.write("m")
c.log_artifact(rid, os.path.join(tmp, "model.txt"), artifact_path="model")
c.set_terminated(rid, "FINISHED")
rm = f"{p}-model"
c.create_registered_model(rm, tags={"k": "v"}, description="d")
c.create_model_version(rm, f"runs:/{rid}/model", run_id=rid, tags={"vt": "1"})
c.set_registered_model_alias(rm, "champion", "1")

A = "/api/2.0/mlflow"
art_root = run.info.artifact_uri.split(":", 1)[1].lstrip("/")  # mlflow-artifacts:/<exp>/<run>/artifacts
calls = {
    "experiments_get": ("GET", f"{A}/experiments/get", {"experiment_id": exp}),
    "experiments_get_by_name": ("GET", f"{A}/experiments/get-by-name", {"experiment_name": f"{p}-exp"}),
    "experiments_search": ("POST", f"{A}/experiments/search",
                           {"max_results": 10, "filter": f"name = '{p}-exp'"}),
    "experiments_create": ("POST", f"{A}/experiments/create", {"name": f"{p}-exp2"}),
    "runs_get": ("GET", f"{A}/runs/get", {"run_id": rid}),
    "runs_search": ("POST", f"{A}/runs/search", {"experiment_ids": [exp], "max_results": 1}),
    "runs_create": ("POST", f"{A}/runs/create", {"experiment_id": exp, "start_time": 1700000000000}),
    "metrics_get_history": ("GET", f"{A}/metrics/get-history", {"run_id": rid, "metric_key": "loss"}),
    "runs_log_metric": ("POST", f"{A}/runs/log-metric",
                        {"run_id": rid, "key": "x", "value": 1.0, "timestamp": 1, "step": 0}),
    "runs_update": ("POST", f"{A}/runs/update", {"run_id": rid, "status": "FINISHED"}),
    "registered_models_get": ("GET", f"{A}/registered-models/get", {"name": rm}),
    "registered_models_search": ("GET", f"{A}/registered-models/search", {"filter": f"name='{rm}'"}),
    "model_versions_get": ("GET", f"{A}/model-versions/get", {"name": rm, "version": "1"}),
    "model_versions_search": ("GET", f"{A}/model-versions/search", {"filter": f"name='{rm}'"}),
    "model_versions_get_download_uri": ("GET", f"{A}/model-versions/get-download-uri",
                                        {"name": rm, "version": "1"}),
    "registered_models_alias_get": ("GET", f"{A}/registered-models/alias", {"name": rm, "alias": "champion"}),
    "registered_models_get_latest_versions": ("POST", f"{A}/registered-models/get-latest-versions",
                                              {"name": rm}),
    "artifacts_list": ("GET", "/api/2.0/mlflow-artifacts/artifacts", {"path": art_root}),
    "artifacts_list_sub": ("GET", "/api/2.0/mlflow-artifacts/artifacts", {"path": f"{art_root}/model"}),
    "artifacts_list_run_api": ("GET", f"{A}/artifacts/list", {"run_id": rid}),
    "error_runs_get_unknown": ("GET", f"{A}/runs/get", {"run_id": "0" * 32}),
    "error_experiments_create_duplicate": ("POST", f"{A}/experiments/create", {"name": f"{p}-exp"}),
    "error_log_param_changed": ("POST", f"{A}/runs/log-parameter", {"run_id": rid, "key": "lr", "value": "9"}),
    "error_registered_models_get_unknown": ("GET", f"{A}/registered-models/get", {"name": f"{p}-nope"}),
    "error_bad_json_body": ("POST", f"{A}/runs/create", None),
    "error_unknown_endpoint": ("GET", f"{A}/no-such-endpoint", {}),
}
for name, (method, path, body) in calls.items():
    if method == "GET":
        r = requests.get(URL + path, params=body, timeout=30)
    elif body is None:
        r = requests.post(URL + path, data="not json", headers={"Content-Type": "application/json"}, timeout=30)
    else:
        r = requests.post(URL + path, json=body, timeout=30)
    rec = {"_request": {"method": method, "path": path, "params_or_body": body},
           "_status": r.status_code, "_content_type": r.headers.get("Content-Type")}
    try:
        rec["body"] = r.json()
    except ValueError:
        rec["_raw"] = r.text[:2000]
    with open(os.path.join(OUT, f"{name}.json"), "w") as f:
        json.dump(rec, f, indent=2)
    print(f"{r.status_code} {name}")
