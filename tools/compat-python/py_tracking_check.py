#!/usr/bin/env python3
"""MLflow 2.x tracking-API compatibility check (stock Python client, public API only).

Usage:  MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python3 py_tracking_check.py
Prints "ok <name>" / "FAIL <name>: ..." per check and "N passed, N failed" at the end;
exits non-zero if anything failed. Every object it creates is prefixed with a random
"compat-xxxxxxxx" so it can be re-run against the same server.

The expectations encode what real MLflow 2.11 (sqlite backend, --serve-artifacts) answers.
"""
import hashlib
import json
import math
import os
import shutil
import sys
import tempfile
import time
import warnings

warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import pandas as pd  # noqa: E402
import requests  # noqa: E402

import mlflow  # noqa: E402
import mlflow.data  # noqa: E402
from mlflow import MlflowClient  # noqa: E402
from mlflow.entities import Metric, Param, RunStatus, RunTag, ViewType  # noqa: E402
from mlflow.exceptions import MlflowException  # noqa: E402

from compat_harness import PREFIX, expect_error, require_tracking_uri, run_check, summary  # noqa: E402

TRACKING_URI = require_tracking_uri()
client = MlflowClient()
ctx = {}  # state shared between checks
tmp = tempfile.mkdtemp(prefix="compat-tracking-")

print(f"# tracking uri: {TRACKING_URI}  prefix: {PREFIX}  mlflow {mlflow.__version__}", flush=True)


def now_ms():
    return int(time.time() * 1000)


def need(key):
    assert key in ctx, f"prerequisite '{key}' missing (an earlier check failed)"
    return ctx[key]


# --------------------------------------------------------------------------------------
# Experiments
# --------------------------------------------------------------------------------------
def c_create_experiment():
    name = f"{PREFIX}-exp-a"
    exp_id = client.create_experiment(name, artifact_location=None,
                                      tags={"team": "compat", "kind": "alpha"})
    assert isinstance(exp_id, str) and exp_id, f"create_experiment returned {exp_id!r}"
    ctx["exp_a"], ctx["exp_a_name"] = exp_id, name


def c_get_experiment():
    exp = client.get_experiment(need("exp_a"))
    assert exp.experiment_id == ctx["exp_a"], exp.experiment_id
    assert exp.name == ctx["exp_a_name"], exp.name
    assert exp.lifecycle_stage == "active", exp.lifecycle_stage
    assert exp.tags.get("team") == "compat" and exp.tags.get("kind") == "alpha", exp.tags
    assert exp.artifact_location, "artifact_location must be filled in by the server"
    assert isinstance(exp.creation_time, int) and exp.creation_time > 0, exp.creation_time
    assert isinstance(exp.last_update_time, int) and exp.last_update_time > 0, exp.last_update_time


def c_experiment_artifact_location_proxied():
    exp = client.get_experiment(need("exp_a"))
    assert exp.artifact_location.startswith("mlflow-artifacts:"), (
        f"expected mlflow-artifacts:/... (artifact proxy), got {exp.artifact_location}")


def c_get_experiment_by_name():
    exp = client.get_experiment_by_name(need("exp_a_name"))
    assert exp is not None, "get_experiment_by_name returned None"
    assert exp.experiment_id == ctx["exp_a"], exp.experiment_id
    assert client.get_experiment_by_name(f"{PREFIX}-no-such-exp") is None, \
        "unknown name must give None (server answers RESOURCE_DOES_NOT_EXIST)"


def c_default_experiment():
    exp = client.get_experiment("0")
    assert exp.name == "Default", exp.name


def c_create_more_experiments():
    ctx["exp_b"] = client.create_experiment(f"{PREFIX}-exp-b", tags={"team": "compat", "kind": "beta"})
    ctx["exp_c"] = client.create_experiment(f"{PREFIX}-exp-c", tags={"team": "other"})


def c_search_experiments_name():
    res = client.search_experiments(filter_string=f"name = '{need('exp_a_name')}'")
    assert [e.experiment_id for e in res] == [ctx["exp_a"]], [e.name for e in res]


def c_search_experiments_like_order():
    need("exp_c")
    res = client.search_experiments(filter_string=f"name LIKE '{PREFIX}-exp-%'", order_by=["name DESC"])
    names = [e.name for e in res]
    assert names == [f"{PREFIX}-exp-c", f"{PREFIX}-exp-b", f"{PREFIX}-exp-a"], names
    res = client.search_experiments(filter_string=f"name LIKE '{PREFIX}-exp-%'", order_by=["name ASC"])
    assert [e.name for e in res] == sorted(names), [e.name for e in res]


def c_search_experiments_ilike():
    need("exp_c")
    res = client.search_experiments(filter_string=f"name ILIKE '{PREFIX.upper()}-EXP-%'")
    assert len(res) == 3, [e.name for e in res]


def c_search_experiments_tags():
    need("exp_c")
    res = client.search_experiments(
        filter_string=f"name LIKE '{PREFIX}-%' AND tags.team = 'compat'", order_by=["name ASC"])
    assert [e.name for e in res] == [f"{PREFIX}-exp-a", f"{PREFIX}-exp-b"], [e.name for e in res]
    res = client.search_experiments(filter_string=f"name LIKE '{PREFIX}-%' AND tags.kind != 'alpha'")
    assert [e.name for e in res] == [f"{PREFIX}-exp-b"], [e.name for e in res]
    res = client.search_experiments(filter_string=f"name LIKE '{PREFIX}-%' AND tags.kind LIKE 'al%'")
    assert [e.name for e in res] == [f"{PREFIX}-exp-a"], [e.name for e in res]


def c_search_experiments_order_by_time():
    need("exp_c")
    res = client.search_experiments(filter_string=f"name LIKE '{PREFIX}-exp-%'",
                                    order_by=["creation_time DESC"])
    assert [e.name for e in res][0] == f"{PREFIX}-exp-c", [e.name for e in res]
    res = client.search_experiments(filter_string=f"name LIKE '{PREFIX}-exp-%'",
                                    order_by=["last_update_time ASC", "name ASC"])
    assert len(res) == 3


def c_search_experiments_paging():
    need("exp_c")
    seen, token, pages = [], None, 0
    while True:
        page = client.search_experiments(filter_string=f"name LIKE '{PREFIX}-exp-%'",
                                         max_results=2, page_token=token, order_by=["name ASC"])
        pages += 1
        assert len(page) <= 2, f"page larger than max_results: {len(page)}"
        seen += [e.name for e in page]
        token = page.token
        if not token:
            break
        assert pages < 10, "paging does not terminate"
    assert seen == [f"{PREFIX}-exp-a", f"{PREFIX}-exp-b", f"{PREFIX}-exp-c"], seen
    assert pages == 2, f"expected 2 pages, got {pages}"


def c_rename_experiment():
    exp_id = need("exp_b")
    new = f"{PREFIX}-exp-b-renamed"
    client.rename_experiment(exp_id, new)
    assert client.get_experiment(exp_id).name == new
    assert client.get_experiment_by_name(new).experiment_id == exp_id
    assert client.get_experiment_by_name(f"{PREFIX}-exp-b") is None, "old name still resolves"


def c_set_experiment_tag():
    exp_id = need("exp_a")
    client.set_experiment_tag(exp_id, "note", "hello")
    client.set_experiment_tag(exp_id, "kind", "alpha2")  # overwrite
    tags = client.get_experiment(exp_id).tags
    assert tags.get("note") == "hello" and tags.get("kind") == "alpha2", tags


def c_delete_restore_experiment():
    exp_id = need("exp_c")
    client.delete_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "deleted"
    flt = f"name LIKE '{PREFIX}-exp-%'"
    active = {e.experiment_id for e in client.search_experiments(filter_string=flt)}
    deleted = {e.experiment_id for e in client.search_experiments(view_type=ViewType.DELETED_ONLY, filter_string=flt)}
    allx = {e.experiment_id for e in client.search_experiments(view_type=ViewType.ALL, filter_string=flt)}
    assert exp_id not in active, "deleted experiment listed as ACTIVE_ONLY"
    assert deleted == {exp_id}, f"DELETED_ONLY gave {deleted}"
    assert exp_id in allx and ctx["exp_a"] in allx, f"ALL gave {allx}"
    # get_experiment_by_name still finds deleted experiments in MLflow
    e = client.get_experiment_by_name(f"{PREFIX}-exp-c")
    assert e is not None and e.lifecycle_stage == "deleted", e
    client.restore_experiment(exp_id)
    assert client.get_experiment(exp_id).lifecycle_stage == "active"


def c_create_duplicate_experiment():
    expect_error(lambda: client.create_experiment(need("exp_a_name")), "RESOURCE_ALREADY_EXISTS",
                 "duplicate experiment name")


def c_get_unknown_experiment():
    expect_error(lambda: client.get_experiment("987654321"), "RESOURCE_DOES_NOT_EXIST",
                 "unknown experiment id")


def c_create_experiment_empty_name():
    expect_error(lambda: client.create_experiment(""), "INVALID_PARAMETER_VALUE", "empty experiment name")


# --------------------------------------------------------------------------------------
# Runs (fluent API)
# --------------------------------------------------------------------------------------
def c_fluent_start_run():
    mlflow.set_experiment(need("exp_a_name"))
    with mlflow.start_run(run_name="parent-run", tags={"stage": "dev"}) as parent:
        ctx["parent"] = parent.info.run_id
        assert parent.info.run_name == "parent-run", parent.info.run_name
        assert parent.info.experiment_id == ctx["exp_a"], parent.info.experiment_id
        assert parent.info.status == "RUNNING", parent.info.status
        with mlflow.start_run(run_name="child-run", nested=True) as child:
            ctx["child"] = child.info.run_id
            mlflow.log_param("child_param", "x")
    r = client.get_run(ctx["parent"])
    assert r.info.status == "FINISHED", r.info.status
    assert r.info.end_time and r.info.end_time >= r.info.start_time, (r.info.start_time, r.info.end_time)
    assert r.data.tags.get("stage") == "dev", r.data.tags


def c_system_tags():
    r = client.get_run(need("parent"))
    t = r.data.tags
    for k in ("mlflow.user", "mlflow.source.name", "mlflow.source.type", "mlflow.runName"):
        assert k in t, f"missing system tag {k}; tags={sorted(t)}"
    assert t["mlflow.runName"] == "parent-run", t["mlflow.runName"]
    assert r.info.user_id == t["mlflow.user"], (r.info.user_id, t["mlflow.user"])


def c_nested_run_parent_tag():
    c = client.get_run(need("child"))
    assert c.data.tags.get("mlflow.parentRunId") == ctx["parent"], c.data.tags
    assert c.info.status == "FINISHED", c.info.status
    p = client.get_parent_run(ctx["child"])
    assert p is not None and p.info.run_id == ctx["parent"], p
    kids = client.search_runs([ctx["exp_a"]], filter_string=f"tags.mlflow.parentRunId = '{ctx['parent']}'")
    assert [k.info.run_id for k in kids] == [ctx["child"]], [k.info.run_id for k in kids]


def c_run_info_fields():
    r = client.get_run(need("parent"))
    i = r.info
    assert len(i.run_id) == 32 and i.run_id == i.run_uuid, (i.run_id, i.run_uuid)
    assert isinstance(i.start_time, int) and abs(i.start_time - now_ms()) < 3600_000, i.start_time
    assert i.lifecycle_stage == "active", i.lifecycle_stage
    assert i.artifact_uri, "artifact_uri empty"


def c_run_artifact_uri_proxied():
    r = client.get_run(need("parent"))
    exp = client.get_experiment(ctx["exp_a"])
    assert r.info.artifact_uri.startswith("mlflow-artifacts:"), r.info.artifact_uri
    assert r.info.artifact_uri == f"{exp.artifact_location}/{r.info.run_id}/artifacts", (
        r.info.artifact_uri, exp.artifact_location)


# --------------------------------------------------------------------------------------
# Runs (client API)
# --------------------------------------------------------------------------------------
def c_client_create_run():
    st = now_ms()
    run = client.create_run(need("exp_a"), start_time=st, tags={"origin": "client"}, run_name="client-run")
    ctx["crun"] = run.info.run_id
    assert run.info.status == "RUNNING", run.info.status
    assert run.info.start_time == st, (run.info.start_time, st)
    assert run.info.run_name == "client-run", run.info.run_name
    assert run.data.tags.get("origin") == "client", run.data.tags
    assert run.data.tags.get("mlflow.runName") == "client-run", run.data.tags
    assert run.info.end_time is None, run.info.end_time


def c_create_run_generated_name():
    run = client.create_run(need("exp_a"))
    assert run.info.run_name, "server must generate a run name when none is given"
    assert run.data.tags.get("mlflow.runName") == run.info.run_name, run.data.tags
    client.delete_run(run.info.run_id)


def c_update_run_name():
    rid = need("crun")
    client.update_run(rid, name="client-run-renamed")
    r = client.get_run(rid)
    assert r.info.run_name == "client-run-renamed", r.info.run_name
    assert r.data.tags.get("mlflow.runName") == "client-run-renamed", r.data.tags


def c_set_terminated():
    rid = need("crun")
    end = now_ms() + 5
    client.set_terminated(rid, status="FAILED", end_time=end)
    r = client.get_run(rid)
    assert r.info.status == "FAILED", r.info.status
    assert r.info.end_time == end, (r.info.end_time, end)
    client.update_run(rid, status="KILLED")
    assert client.get_run(rid).info.status == "KILLED"


def c_delete_restore_run():
    rid = need("crun")
    client.delete_run(rid)
    r = client.get_run(rid)
    assert r.info.lifecycle_stage == "deleted", r.info.lifecycle_stage
    active = [x.info.run_id for x in client.search_runs([ctx["exp_a"]])]
    assert rid not in active, "deleted run returned by ACTIVE_ONLY search"
    deleted = [x.info.run_id for x in client.search_runs([ctx["exp_a"]], run_view_type=ViewType.DELETED_ONLY)]
    assert rid in deleted, "deleted run missing from DELETED_ONLY search"
    assert ctx["parent"] not in deleted
    allr = [x.info.run_id for x in client.search_runs([ctx["exp_a"]], run_view_type=ViewType.ALL)]
    assert rid in allr and ctx["parent"] in allr
    client.restore_run(rid)
    assert client.get_run(rid).info.lifecycle_stage == "active"


def c_get_unknown_run():
    expect_error(lambda: client.get_run("0123456789abcdef0123456789abcdef"), "RESOURCE_DOES_NOT_EXIST",
                 "unknown run id")


def c_create_run_unknown_experiment():
    expect_error(lambda: client.create_run("987654321"), "RESOURCE_DOES_NOT_EXIST",
                 "create_run in unknown experiment")


# --------------------------------------------------------------------------------------
# Params / metrics / tags
# --------------------------------------------------------------------------------------
def c_params():
    rid = client.create_run(need("exp_a"), run_name="params-run").info.run_id
    ctx["prun"] = rid
    client.log_param(rid, "alpha", "0.5")
    client.log_param(rid, "alpha", "0.5")  # same value again: OK
    client.log_param(rid, "num", 3)  # non-string value is stringified by the client
    p = client.get_run(rid).data.params
    assert p == {"alpha": "0.5", "num": "3"}, p


def c_param_change_rejected():
    rid = need("prun")
    e = expect_error(lambda: client.log_param(rid, "alpha", "0.6"), "INVALID_PARAMETER_VALUE",
                     "changing a param value")
    assert client.get_run(rid).data.params["alpha"] == "0.5"
    assert "alpha" in str(e), str(e)


def c_param_long_value():
    rid = need("prun")
    v = "x" * 6000  # MLflow 2.11 allows up to 6000 chars
    client.log_param(rid, "long", v)
    assert client.get_run(rid).data.params["long"] == v


def c_metrics():
    rid = need("prun")
    ts = now_ms()
    values = [1.0, 0.5, float("nan"), float("inf"), float("-inf"), 0.25]
    for step, v in enumerate(values):
        client.log_metric(rid, "loss", v, timestamp=ts + step, step=step)
    ctx["metric_ts"] = ts


def _is_pos_inf(v):
    # MLflow's SQL store persists +/-inf as +/-1.7976931348623157e308 and returns that
    return v == float("inf") or v >= 1.7976931348623157e308


def _is_neg_inf(v):
    return v == float("-inf") or v <= -1.7976931348623157e308


def c_metric_history():
    rid = need("prun")
    ts = need("metric_ts")
    hist = sorted(client.get_metric_history(rid, "loss"), key=lambda m: m.step)
    assert [m.step for m in hist] == [0, 1, 2, 3, 4, 5], [m.step for m in hist]
    assert [m.timestamp for m in hist] == [ts + i for i in range(6)], [m.timestamp for m in hist]
    assert all(m.key == "loss" for m in hist)
    v = [m.value for m in hist]
    assert v[0] == 1.0 and v[1] == 0.5 and v[5] == 0.25, v
    assert isinstance(v[2], float) and math.isnan(v[2]), f"NaN not preserved: {v[2]!r}"
    assert _is_pos_inf(v[3]), f"+inf not preserved: {v[3]!r}"
    assert _is_neg_inf(v[4]), f"-inf not preserved: {v[4]!r}"


def c_metric_latest_value():
    r = client.get_run(need("prun"))
    assert r.data.metrics.get("loss") == 0.25, r.data.metrics  # value at max step


def c_metric_latest_is_max_step():
    rid = need("prun")
    client.log_metric(rid, "acc", 0.9, step=10)
    client.log_metric(rid, "acc", 0.1, step=2)  # older step logged later must not win
    assert client.get_run(rid).data.metrics["acc"] == 0.9, client.get_run(rid).data.metrics


def c_metric_nan_latest():
    rid = need("prun")
    client.log_metric(rid, "nanmetric", float("nan"), step=0)
    client.log_metric(rid, "infmetric", float("inf"), step=0)
    m = client.get_run(rid).data.metrics
    assert math.isnan(m["nanmetric"]), m["nanmetric"]
    assert _is_pos_inf(m["infmetric"]), m["infmetric"]


def c_metric_history_unknown_key():
    assert client.get_metric_history(need("prun"), "no-such-metric") == []


def c_metric_same_step_twice():
    rid = need("prun")
    ts = now_ms()
    client.log_metric(rid, "dup", 1.0, timestamp=ts, step=0)
    client.log_metric(rid, "dup", 2.0, timestamp=ts + 1, step=0)
    hist = client.get_metric_history(rid, "dup")
    assert sorted(m.value for m in hist) == [1.0, 2.0], [(m.value, m.step) for m in hist]


def c_tags():
    rid = need("prun")
    client.set_tag(rid, "t1", "v1")
    client.set_tag(rid, "t2", "v2")
    client.set_tag(rid, "t1", "v1b")  # overwrite allowed
    t = client.get_run(rid).data.tags
    assert t.get("t1") == "v1b" and t.get("t2") == "v2", t
    client.delete_tag(rid, "t2")
    t = client.get_run(rid).data.tags
    assert "t2" not in t and t.get("t1") == "v1b", t


def c_delete_missing_tag():
    expect_error(lambda: client.delete_tag(need("prun"), "never-set"), "RESOURCE_DOES_NOT_EXIST",
                 "delete_tag of a missing key")


def c_log_on_deleted_run_rejected():
    rid = client.create_run(need("exp_a")).info.run_id
    client.delete_run(rid)
    expect_error(lambda: client.log_metric(rid, "m", 1.0), "INVALID_PARAMETER_VALUE", "log_metric on deleted run")


# --------------------------------------------------------------------------------------
# log_batch
# --------------------------------------------------------------------------------------
def c_log_batch():
    rid = client.create_run(need("exp_a"), run_name="batch-run").info.run_id
    ctx["brun"] = rid
    ts = now_ms()
    client.log_batch(
        rid,
        metrics=[Metric("bm", float(i), ts + i, i) for i in range(5)] + [Metric("bn", float("nan"), ts, 0)],
        params=[Param("bp1", "a"), Param("bp2", "b")],
        tags=[RunTag("bt", "x")],
    )
    r = client.get_run(rid)
    assert r.data.params == {"bp1": "a", "bp2": "b"}, r.data.params
    assert r.data.metrics.get("bm") == 4.0, r.data.metrics
    assert math.isnan(r.data.metrics.get("bn")), r.data.metrics
    assert r.data.tags.get("bt") == "x", r.data.tags
    assert len(client.get_metric_history(rid, "bm")) == 5


def c_fluent_log_params_metrics():
    with mlflow.start_run(experiment_id=need("exp_a"), run_name="fluent-batch") as run:
        mlflow.log_params({"lr": 0.01, "layers": 3})
        mlflow.log_metrics({"f1": 0.7, "auc": 0.8}, step=1)
        mlflow.set_tags({"a": "1", "b": "2"})
        mlflow.log_metric("f1", 0.75, step=2)
    r = client.get_run(run.info.run_id)
    assert r.data.params == {"lr": "0.01", "layers": "3"}, r.data.params
    assert r.data.metrics == {"f1": 0.75, "auc": 0.8}, r.data.metrics
    assert r.data.tags.get("a") == "1" and r.data.tags.get("b") == "2"


def c_client_log_batch_1001_metrics_chunked():
    # The Python client splits batches client-side (1000 metrics / request), so this succeeds.
    rid = need("brun")
    ts = now_ms()
    client.log_batch(rid, metrics=[Metric("many", float(i), ts, i) for i in range(1001)])
    assert len(client.get_metric_history(rid, "many")) == 1001


def _raw_post(endpoint, body):
    return requests.post(TRACKING_URI.rstrip("/") + endpoint, json=body, timeout=60)


def c_raw_log_batch_too_large():
    # A single REST request carrying 1001 metrics must be rejected by the server.
    rid = need("brun")
    ts = now_ms()
    body = {"run_id": rid, "metrics": [{"key": "toolarge", "value": float(i), "timestamp": ts, "step": i}
                                       for i in range(1001)]}
    resp = _raw_post("/api/2.0/mlflow/runs/log-batch", body)
    assert resp.status_code == 400, f"HTTP {resp.status_code}: {resp.text[:200]}"
    assert resp.json().get("error_code") == "INVALID_PARAMETER_VALUE", resp.text[:300]
    assert client.get_metric_history(rid, "toolarge") == [], "rejected batch must not be partially applied"


def c_raw_log_batch_too_many_params():
    rid = need("brun")
    body = {"run_id": rid, "params": [{"key": f"p{i}", "value": "v"} for i in range(101)]}
    resp = _raw_post("/api/2.0/mlflow/runs/log-batch", body)
    assert resp.status_code == 400, f"HTTP {resp.status_code}: {resp.text[:200]}"
    assert resp.json().get("error_code") == "INVALID_PARAMETER_VALUE", resp.text[:300]


def c_log_batch_param_conflict():
    rid = need("brun")
    expect_error(lambda: client.log_batch(rid, params=[Param("bp1", "CHANGED")]), "INVALID_PARAMETER_VALUE",
                 "log_batch changing a param")


# --------------------------------------------------------------------------------------
# Dataset inputs
# --------------------------------------------------------------------------------------
def c_log_input():
    df = pd.DataFrame({"x": [1, 2, 3], "y": [0.1, 0.2, 0.3], "label": [0, 1, 0]})
    src = os.path.join(tmp, "dataset.csv")
    df.to_csv(src, index=False)
    ds = mlflow.data.from_pandas(df, source=src, name="compat-ds", targets="label")
    with mlflow.start_run(experiment_id=need("exp_a"), run_name="input-run") as run:
        mlflow.log_input(ds, context="training")
    ctx["irun"] = run.info.run_id
    r = client.get_run(run.info.run_id)
    dis = r.inputs.dataset_inputs
    assert len(dis) == 1, f"expected 1 dataset input, got {len(dis)}"
    d = dis[0].dataset
    assert d.name == "compat-ds", d.name
    assert d.digest == ds.digest, (d.digest, ds.digest)
    assert d.source_type == "local", d.source_type
    assert json.loads(d.source)["uri"].endswith("dataset.csv"), d.source
    assert json.loads(d.schema)["mlflow_colspec"], d.schema
    tags = {t.key: t.value for t in dis[0].tags}
    assert tags.get("mlflow.data.context") == "training", tags


def c_search_runs_by_dataset():
    rid = need("irun")
    res = client.search_runs([ctx["exp_a"]], filter_string="dataset.name = 'compat-ds'")
    assert [r.info.run_id for r in res] == [rid], [r.info.run_id for r in res]
    res = client.search_runs([ctx["exp_a"]], filter_string="dataset.context = 'training'")
    assert [r.info.run_id for r in res] == [rid]


# --------------------------------------------------------------------------------------
# search_runs
# --------------------------------------------------------------------------------------
def c_search_setup():
    exp = client.create_experiment(f"{PREFIX}-search")
    ctx["sexp"] = exp
    colors = ["red", "blue", "red", "green", "Red"]
    ids = []
    base = now_ms() - 100_000
    for i in range(5):
        r = client.create_run(exp, run_name=f"r{i}", start_time=base + i * 1000, tags={"color": colors[i]})
        rid = r.info.run_id
        client.log_param(rid, "p", f"v{i}")
        client.log_metric(rid, "m", i * 1.5, step=0)
        if i % 2 == 0:
            client.log_metric(rid, "even", 1.0)
        client.set_terminated(rid, "FINISHED" if i < 4 else "FAILED", end_time=base + i * 1000 + 500)
        ids.append(rid)
    ctx["sids"] = ids
    ctx["sbase"] = base


def _s(flt, **kw):
    return [r.info.run_id for r in client.search_runs([need("sexp")], filter_string=flt, **kw)]


def _names(flt="", **kw):
    return [r.info.run_name for r in client.search_runs([need("sexp")], filter_string=flt, **kw)]


def c_search_default_order():
    # default order: start_time DESC, then run_id
    assert _names() == ["r4", "r3", "r2", "r1", "r0"], _names()


def c_search_metrics():
    assert sorted(_names("metrics.m > 2")) == ["r2", "r3", "r4"], _names("metrics.m > 2")
    assert sorted(_names("metrics.m >= 1.5 AND metrics.m < 4.5")) == ["r1", "r2"]
    assert sorted(_names("metrics.m = 0")) == ["r0"]
    assert sorted(_names("metrics.m != 0")) == ["r1", "r2", "r3", "r4"]
    assert sorted(_names("metrics.even = 1")) == ["r0", "r2", "r4"]


def c_search_params():
    assert _names("params.p = 'v1'") == ["r1"]
    assert sorted(_names("params.p != 'v1'")) == ["r0", "r2", "r3", "r4"]
    assert sorted(_names("params.p LIKE 'v%'")) == ["r0", "r1", "r2", "r3", "r4"]
    assert _names("params.p LIKE 'V%'") == [], "LIKE must be case-sensitive"
    assert len(_names("params.p ILIKE 'V%'")) == 5, "ILIKE must be case-insensitive"
    assert _names("params.missing = 'x'") == []


def c_search_tags():
    assert sorted(_names("tags.color = 'red'")) == ["r0", "r2"]
    assert sorted(_names("tags.color != 'red'")) == ["r1", "r3", "r4"]
    assert sorted(_names("tags.color LIKE 'r%'")) == ["r0", "r2"]
    assert sorted(_names("tags.color ILIKE 'r%'")) == ["r0", "r2", "r4"]
    assert sorted(_names("tags.`color` = 'blue'")) == ["r1"], "backquoted keys"
    assert sorted(_names('tags."color" = "blue"')) == ["r1"], "double-quoted key/value"


def c_search_attributes():
    assert _names("attributes.run_name = 'r2'") == ["r2"]
    assert _names("attributes.run_name = 'r2'") == _names("run_name = 'r2'")
    assert sorted(_names("attributes.run_name LIKE 'r%' AND attributes.run_name != 'r0'")) == ["r1", "r2", "r3", "r4"]
    # MLflow 2.11: IN / NOT IN is only allowed for run_id
    expect_error(lambda: _names("attributes.run_name IN ('r1', 'r3')"), "INVALID_PARAMETER_VALUE",
                 "run_name IN (...)")
    assert sorted(_names("attributes.status = 'FAILED'")) == ["r4"]
    assert sorted(_names("attributes.status != 'FAILED'")) == ["r0", "r1", "r2", "r3"]
    ids = need("sids")
    assert sorted(_s(f"attributes.run_id IN ('{ids[0]}', '{ids[3]}')")) == sorted([ids[0], ids[3]])
    assert sorted(_s(f"attributes.run_id NOT IN ('{ids[0]}', '{ids[3]}')")) == sorted([ids[1], ids[2], ids[4]])
    base = need("sbase")
    assert sorted(_names(f"attributes.start_time > {base + 1500}")) == ["r2", "r3", "r4"]
    assert sorted(_names(f"attributes.start_time <= {base + 1000}")) == ["r0", "r1"]
    assert sorted(_names(f"attributes.end_time < {base + 1000}")) == ["r0"]
    assert sorted(_names(f"attributes.created >= {base + 3000}")) == ["r3", "r4"]


def c_search_combined():
    assert _names("metrics.m > 1 AND params.p != 'v2' AND tags.color = 'green'") == ["r3"]


def c_search_order_by():
    assert _names(order_by=["metrics.m DESC"]) == ["r4", "r3", "r2", "r1", "r0"]
    assert _names(order_by=["metrics.m ASC"]) == ["r0", "r1", "r2", "r3", "r4"]
    assert _names(order_by=["params.p DESC"]) == ["r4", "r3", "r2", "r1", "r0"]
    assert _names(order_by=["attributes.start_time ASC"]) == ["r0", "r1", "r2", "r3", "r4"]
    assert _names(order_by=["attributes.run_name DESC"]) == ["r4", "r3", "r2", "r1", "r0"]
    # ties on the tag broken by the second key
    got = _names(order_by=["tags.color ASC", "metrics.m DESC"])
    assert got == ["r4", "r1", "r3", "r2", "r0"], got  # 'Red' < 'blue' < 'green' < 'red' (byte order)
    # runs missing the metric sort last in both directions
    got = _names(order_by=["metrics.even DESC", "attributes.run_name ASC"])
    assert got[:3] == ["r0", "r2", "r4"] and sorted(got[3:]) == ["r1", "r3"], got


def c_search_max_results_paging():
    ids = need("sids")
    seen, token, pages = [], None, 0
    while True:
        page = client.search_runs([ctx["sexp"]], max_results=2, page_token=token, order_by=["metrics.m ASC"])
        pages += 1
        assert len(page) <= 2, len(page)
        seen += [r.info.run_id for r in page]
        token = page.token
        if not token:
            break
        assert pages < 10, "paging does not terminate"
    assert seen == ids, "paging with order_by must visit every run exactly once, in order"
    assert pages == 3, pages


def c_search_max_results_exact():
    page = client.search_runs([need("sexp")], max_results=5)
    assert len(page) == 5


def c_search_bad_filter():
    expect_error(lambda: client.search_runs([need("sexp")], filter_string="metrics.m >>> 2"),
                 "INVALID_PARAMETER_VALUE", "malformed filter")
    expect_error(lambda: client.search_runs([ctx["sexp"]], filter_string="params.p > 'v1'"),
                 "INVALID_PARAMETER_VALUE", "numeric comparator on a param")


def c_search_multiple_experiments():
    res = client.search_runs([need("sexp"), need("exp_a")], filter_string="attributes.run_name = 'r1'")
    assert len(res) == 1


def c_fluent_search_runs_dataframe():
    df = mlflow.search_runs(experiment_ids=[need("sexp")], order_by=["metrics.m ASC"])
    assert isinstance(df, pd.DataFrame), type(df)
    assert len(df) == 5, len(df)
    for col in ("run_id", "experiment_id", "status", "artifact_uri", "start_time", "end_time",
                "metrics.m", "params.p", "tags.color", "tags.mlflow.runName"):
        assert col in df.columns, f"missing column {col}: {list(df.columns)}"
    assert list(df["tags.mlflow.runName"]) == ["r0", "r1", "r2", "r3", "r4"], list(df["tags.mlflow.runName"])
    assert list(df["metrics.m"]) == [0.0, 1.5, 3.0, 4.5, 6.0]
    df2 = mlflow.search_runs(experiment_names=[f"{PREFIX}-search"], filter_string="params.p = 'v3'")
    assert list(df2["params.p"]) == ["v3"], df2
    lst = mlflow.search_runs(experiment_ids=[ctx["sexp"]], output_format="list", max_results=2)
    assert len(lst) == 2 and all(hasattr(r, "info") for r in lst)


# --------------------------------------------------------------------------------------
# Artifacts (through the mlflow-artifacts proxy)
# --------------------------------------------------------------------------------------
def c_artifacts_log():
    d = os.path.join(tmp, "src")
    os.makedirs(os.path.join(d, "folder", "sub"))
    with open(os.path.join(d, "hello.txt"), "w") as f:
        f.write("hello compat\n")
    with open(os.path.join(d, "folder", "a.json"), "w") as f:
        json.dump({"a": 1}, f)
    with open(os.path.join(d, "folder", "sub", "b.bin"), "wb") as f:
        f.write(bytes(range(256)) * 4)
    with mlflow.start_run(experiment_id=need("exp_a"), run_name="artifact-run") as run:
        mlflow.log_artifact(os.path.join(d, "hello.txt"))
        mlflow.log_artifact(os.path.join(d, "hello.txt"), artifact_path="copies")
        mlflow.log_artifacts(os.path.join(d, "folder"), artifact_path="folder")
        mlflow.log_text("text body", "notes/readme.md")
        mlflow.log_dict({"k": [1, 2]}, "cfg/config.json")
    ctx["arun"], ctx["asrc"] = run.info.run_id, d


def c_list_artifacts_root():
    items = {f.path: f for f in client.list_artifacts(need("arun"))}
    assert set(items) == {"hello.txt", "copies", "folder", "notes", "cfg"}, sorted(items)
    assert items["hello.txt"].is_dir is False and items["hello.txt"].file_size == 13, vars(items["hello.txt"])
    assert items["folder"].is_dir is True, vars(items["folder"])
    assert items["folder"].file_size is None, vars(items["folder"])


def c_list_artifacts_subdir():
    rid = need("arun")
    items = {f.path: f for f in client.list_artifacts(rid, "folder")}
    assert set(items) == {"folder/a.json", "folder/sub"}, sorted(items)
    assert items["folder/sub"].is_dir
    items = {f.path: f for f in client.list_artifacts(rid, "folder/sub")}
    assert set(items) == {"folder/sub/b.bin"}, sorted(items)
    assert items["folder/sub/b.bin"].file_size == 1024, vars(items["folder/sub/b.bin"])


def c_list_artifacts_missing():
    assert client.list_artifacts(need("arun"), "does/not/exist") == []
    # listing a path that is a file gives an empty list in MLflow
    assert client.list_artifacts(ctx["arun"], "hello.txt") == [], client.list_artifacts(ctx["arun"], "hello.txt")


def c_download_file():
    rid = need("arun")
    dst = tempfile.mkdtemp(dir=tmp)
    p = mlflow.artifacts.download_artifacts(run_id=rid, artifact_path="hello.txt", dst_path=dst)
    with open(p, "rb") as f:
        assert f.read() == b"hello compat\n"
    p = mlflow.artifacts.download_artifacts(run_id=rid, artifact_path="folder/sub/b.bin", dst_path=dst)
    with open(p, "rb") as f:
        assert f.read() == bytes(range(256)) * 4
    txt = mlflow.artifacts.load_text(f"runs:/{rid}/notes/readme.md")
    assert txt == "text body", txt
    assert mlflow.artifacts.load_dict(f"runs:/{rid}/cfg/config.json") == {"k": [1, 2]}


def c_download_directory():
    rid = need("arun")
    dst = tempfile.mkdtemp(dir=tmp)
    p = mlflow.artifacts.download_artifacts(run_id=rid, artifact_path="folder", dst_path=dst)
    with open(os.path.join(p, "a.json")) as f:
        assert json.load(f) == {"a": 1}
    with open(os.path.join(p, "sub", "b.bin"), "rb") as f:
        assert f.read() == bytes(range(256)) * 4
    p = client.download_artifacts(rid, "", dst_path=tempfile.mkdtemp(dir=tmp))
    assert sorted(os.listdir(p)) == ["cfg", "copies", "folder", "hello.txt", "notes"], sorted(os.listdir(p))


def c_download_via_artifact_uri():
    rid = need("arun")
    uri = client.get_run(rid).info.artifact_uri
    p = mlflow.artifacts.download_artifacts(artifact_uri=f"{uri}/copies/hello.txt",
                                            dst_path=tempfile.mkdtemp(dir=tmp))
    with open(p, "rb") as f:
        assert f.read() == b"hello compat\n"


def c_download_missing():
    # Real MLflow answers 500 INTERNAL_ERROR here (which the client retries with back-off),
    # so switch retries off for this check; any non-200 status is accepted.
    rid = need("arun")
    old = os.environ.get("MLFLOW_HTTP_REQUEST_MAX_RETRIES")
    os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = "0"
    try:
        mlflow.artifacts.download_artifacts(run_id=rid, artifact_path="nope.txt",
                                            dst_path=tempfile.mkdtemp(dir=tmp))
    except Exception:
        return
    finally:
        if old is None:
            os.environ.pop("MLFLOW_HTTP_REQUEST_MAX_RETRIES", None)
        else:
            os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] = old
    raise AssertionError("downloading a missing artifact must fail")


def c_large_artifact():
    rid = need("arun")
    src = os.path.join(tmp, "big.bin")
    data = os.urandom(20 * 1024 * 1024)
    with open(src, "wb") as f:
        f.write(data)
    client.log_artifact(rid, src, artifact_path="big")
    items = {f.path: f for f in client.list_artifacts(rid, "big")}
    assert items.get("big/big.bin") and items["big/big.bin"].file_size == len(data), items
    p = client.download_artifacts(rid, "big/big.bin", dst_path=tempfile.mkdtemp(dir=tmp))
    with open(p, "rb") as f:
        got = f.read()
    assert hashlib.sha256(got).hexdigest() == hashlib.sha256(data).hexdigest(), \
        f"20 MB round trip mismatch (got {len(got)} bytes)"
    os.remove(src)


def c_artifact_special_names():
    rid = need("arun")
    d = os.path.join(tmp, "special")
    os.makedirs(d)
    name = "sp ace+plus%pct.txt"
    with open(os.path.join(d, name), "w") as f:
        f.write("special")
    client.log_artifact(rid, os.path.join(d, name), artifact_path="odd dir")
    items = [f.path for f in client.list_artifacts(rid, "odd dir")]
    assert items == [f"odd dir/{name}"], items
    p = client.download_artifacts(rid, f"odd dir/{name}", dst_path=tempfile.mkdtemp(dir=tmp))
    with open(p) as f:
        assert f.read() == "special"


CHECKS = [
    ("experiment.create", c_create_experiment),
    ("experiment.get", c_get_experiment),
    ("experiment.artifact_location_is_proxy", c_experiment_artifact_location_proxied),
    ("experiment.get_by_name", c_get_experiment_by_name),
    ("experiment.default_exists", c_default_experiment),
    ("experiment.create_more", c_create_more_experiments),
    ("experiment.search.name_eq", c_search_experiments_name),
    ("experiment.search.like_order_by_name", c_search_experiments_like_order),
    ("experiment.search.ilike", c_search_experiments_ilike),
    ("experiment.search.tags", c_search_experiments_tags),
    ("experiment.search.order_by_time", c_search_experiments_order_by_time),
    ("experiment.search.paging", c_search_experiments_paging),
    ("experiment.rename", c_rename_experiment),
    ("experiment.set_tag", c_set_experiment_tag),
    ("experiment.delete_restore_view_types", c_delete_restore_experiment),
    ("experiment.error.duplicate_RESOURCE_ALREADY_EXISTS", c_create_duplicate_experiment),
    ("experiment.error.unknown_RESOURCE_DOES_NOT_EXIST", c_get_unknown_experiment),
    ("experiment.error.empty_name_INVALID_PARAMETER_VALUE", c_create_experiment_empty_name),
    ("run.fluent_start_run", c_fluent_start_run),
    ("run.system_tags", c_system_tags),
    ("run.nested_parent_tag", c_nested_run_parent_tag),
    ("run.info_fields", c_run_info_fields),
    ("run.artifact_uri_is_proxy", c_run_artifact_uri_proxied),
    ("run.client_create_run", c_client_create_run),
    ("run.generated_name", c_create_run_generated_name),
    ("run.update_name", c_update_run_name),
    ("run.set_terminated", c_set_terminated),
    ("run.delete_restore", c_delete_restore_run),
    ("run.error.unknown_RESOURCE_DOES_NOT_EXIST", c_get_unknown_run),
    ("run.error.unknown_experiment", c_create_run_unknown_experiment),
    ("param.log_and_same_again", c_params),
    ("param.error.change_INVALID_PARAMETER_VALUE", c_param_change_rejected),
    ("param.long_value_6000", c_param_long_value),
    ("metric.log_with_nan_inf", c_metrics),
    ("metric.history_values", c_metric_history),
    ("metric.latest_value", c_metric_latest_value),
    ("metric.latest_is_max_step", c_metric_latest_is_max_step),
    ("metric.latest_nan_inf", c_metric_nan_latest),
    ("metric.history_unknown_key_empty", c_metric_history_unknown_key),
    ("metric.same_step_twice", c_metric_same_step_twice),
    ("tag.set_overwrite_delete", c_tags),
    ("tag.error.delete_missing", c_delete_missing_tag),
    ("run.error.log_on_deleted_run", c_log_on_deleted_run_rejected),
    ("batch.log_batch", c_log_batch),
    ("batch.fluent_log_params_metrics_tags", c_fluent_log_params_metrics),
    ("batch.client_1001_metrics_chunked", c_client_log_batch_1001_metrics_chunked),
    ("batch.error.raw_1001_metrics_INVALID_PARAMETER_VALUE", c_raw_log_batch_too_large),
    ("batch.error.raw_101_params_INVALID_PARAMETER_VALUE", c_raw_log_batch_too_many_params),
    ("batch.error.param_conflict", c_log_batch_param_conflict),
    ("input.log_input_dataset", c_log_input),
    ("input.search_by_dataset", c_search_runs_by_dataset),
    ("search.setup", c_search_setup),
    ("search.default_order", c_search_default_order),
    ("search.metrics", c_search_metrics),
    ("search.params_like_ilike", c_search_params),
    ("search.tags", c_search_tags),
    ("search.attributes", c_search_attributes),
    ("search.combined", c_search_combined),
    ("search.order_by", c_search_order_by),
    ("search.paging", c_search_max_results_paging),
    ("search.max_results", c_search_max_results_exact),
    ("search.error.bad_filter", c_search_bad_filter),
    ("search.multiple_experiments", c_search_multiple_experiments),
    ("search.fluent_dataframe", c_fluent_search_runs_dataframe),
    ("artifact.log", c_artifacts_log),
    ("artifact.list_root", c_list_artifacts_root),
    ("artifact.list_subdir", c_list_artifacts_subdir),
    ("artifact.list_missing_and_file", c_list_artifacts_missing),
    ("artifact.download_file", c_download_file),
    ("artifact.download_directory", c_download_directory),
    ("artifact.download_via_artifact_uri", c_download_via_artifact_uri),
    ("artifact.download_missing_fails", c_download_missing),
    ("artifact.large_20MB_round_trip", c_large_artifact),
    ("artifact.special_characters", c_artifact_special_names),
]


def main():
    only = os.environ.get("COMPAT_ONLY")  # optional substring filter
    try:
        for name, fn in CHECKS:
            if only and only not in name:
                continue
            run_check(name, fn)
    finally:
        if mlflow.active_run():
            mlflow.end_run()
        shutil.rmtree(tmp, ignore_errors=True)
    return summary()


if __name__ == "__main__":
    sys.exit(main())
