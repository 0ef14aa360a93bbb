#!/usr/bin/env python3
"""MLflow 2.x model-registry compatibility check (stock Python client, public API only).

Usage:  MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python3 py_registry_check.py
Prints "ok <name>" / "FAIL <name>: ..." per check and "N passed, N failed" at the end;
exits non-zero if anything failed. Names are prefixed with a random "compat-xxxxxxxx".

The expectations encode what real MLflow 2.11 (sqlite backend, --serve-artifacts) answers.
"""
import json
import os
import shutil
import sys
import tempfile
import time
import warnings

warnings.filterwarnings("ignore")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mlflow  # noqa: E402
from mlflow import MlflowClient  # noqa: E402

from compat_harness import PREFIX, expect_error, require_tracking_uri, run_check, summary  # noqa: E402

TRACKING_URI = require_tracking_uri()
client = MlflowClient()
ctx = {}
tmp = tempfile.mkdtemp(prefix="compat-registry-")
M = f"{PREFIX}-model"          # main registered model
M2 = f"{PREFIX}-model-renamed"  # its name after rename
OTHER = f"{PREFIX}-other"

print(f"# tracking uri: {TRACKING_URI}  prefix: {PREFIX}  mlflow {mlflow.__version__}", flush=True)


def need(key):
    assert key in ctx, f"prerequisite '{key}' missing (an earlier check failed)"
    return ctx[key]


def c_setup_run():
    exp = client.create_experiment(f"{PREFIX}-registry")
    mlflow.set_experiment(experiment_id=exp)
    d = os.path.join(tmp, "model")
    os.makedirs(d)
    with open(os.path.join(d, "MLmodel"), "w") as f:
        f.write("artifact_path: model\nflavors: {}\n")
    with open(os.path.join(d, "weights.json"), "w") as f:
        json.dump({"w": [1, 2, 3]}, f)
    runs = []
    for i in range(2):
        with mlflow.start_run(run_name=f"train-{i}") as run:
            mlflow.log_artifacts(d, artifact_path="model")
            mlflow.log_metric("score", 0.5 + i / 10)
        runs.append(run.info.run_id)
    ctx["runs"] = runs


# ----------------------------------------------------------------- registered models
def c_create_registered_model():
    rm = client.create_registered_model(M, tags={"team": "compat", "k": "v"}, description="first model")
    assert rm.name == M, rm.name
    assert rm.description == "first model", rm.description
    assert rm.tags == {"team": "compat", "k": "v"}, rm.tags
    assert isinstance(rm.creation_timestamp, int) and rm.creation_timestamp > 0, rm.creation_timestamp
    assert rm.last_updated_timestamp == rm.creation_timestamp, (rm.last_updated_timestamp, rm.creation_timestamp)
    assert rm.latest_versions == [], rm.latest_versions
    client.create_registered_model(OTHER, tags={"team": "other"})
    ctx["rm"] = M


def c_get_registered_model():
    rm = client.get_registered_model(need("rm"))
    assert rm.name == M and rm.description == "first model", (rm.name, rm.description)
    assert rm.tags.get("team") == "compat", rm.tags
    assert rm.aliases == {}, rm.aliases


def c_duplicate_registered_model():
    expect_error(lambda: client.create_registered_model(need("rm")), "RESOURCE_ALREADY_EXISTS",
                 "duplicate registered model")


def c_get_unknown_registered_model():
    expect_error(lambda: client.get_registered_model(f"{PREFIX}-nope"), "RESOURCE_DOES_NOT_EXIST",
                 "unknown registered model")


def c_update_registered_model():
    client.update_registered_model(need("rm"), description="updated description")
    rm = client.get_registered_model(M)
    assert rm.description == "updated description", rm.description
    assert rm.last_updated_timestamp >= rm.creation_timestamp


def c_registered_model_tags():
    client.set_registered_model_tag(need("rm"), "extra", "1")
    client.set_registered_model_tag(M, "k", "v2")
    assert client.get_registered_model(M).tags == {"team": "compat", "k": "v2", "extra": "1"}
    client.delete_registered_model_tag(M, "extra")
    assert client.get_registered_model(M).tags == {"team": "compat", "k": "v2"}


def c_search_registered_models():
    need("rm")
    res = client.search_registered_models(filter_string=f"name = '{M}'")
    assert [r.name for r in res] == [M], [r.name for r in res]
    res = client.search_registered_models(filter_string=f"name LIKE '{PREFIX}-%'", order_by=["name DESC"])
    assert [r.name for r in res] == [OTHER, M], [r.name for r in res]
    res = client.search_registered_models(filter_string=f"name ILIKE '{PREFIX.upper()}-%'", order_by=["name ASC"])
    assert [r.name for r in res] == [M, OTHER], [r.name for r in res]
    res = client.search_registered_models(filter_string=f"name LIKE '{PREFIX}-%' AND tags.team = 'compat'")
    assert [r.name for r in res] == [M], [r.name for r in res]
    res = client.search_registered_models(filter_string=f"name LIKE '{PREFIX}-%'",
                                          order_by=["last_updated_timestamp DESC"])
    assert len(res) == 2


def c_search_registered_models_paging():
    need("rm")
    seen, token, pages = [], None, 0
    while True:
        page = client.search_registered_models(filter_string=f"name LIKE '{PREFIX}-%'", max_results=1,
                                               page_token=token, order_by=["name ASC"])
        pages += 1
        seen += [r.name for r in page]
        token = page.token
        if not token:
            break
        assert pages < 10, "paging does not terminate"
    assert seen == [M, OTHER], seen


# ----------------------------------------------------------------- model versions
def c_create_model_version():
    runs = need("runs")
    src = f"runs:/{runs[0]}/model"
    mv = client.create_model_version(M, src, run_id=runs[0], tags={"vt": "1"}, description="v1 desc")
    assert mv.name == M, mv.name
    assert mv.version == "1", f"version must be the string '1', got {mv.version!r}"
    assert mv.source == src, mv.source
    assert mv.run_id == runs[0], mv.run_id
    assert mv.status == "READY", mv.status
    assert mv.current_stage == "None", mv.current_stage
    assert mv.description == "v1 desc", mv.description
    assert mv.tags == {"vt": "1"}, mv.tags
    assert isinstance(mv.creation_timestamp, int) and mv.creation_timestamp > 0
    ctx["v1"] = mv.version


def c_register_model_fluent():
    runs = need("runs")
    need("v1")
    mv = mlflow.register_model(f"runs:/{runs[1]}/model", M)  # existing model: adds version 2
    assert mv.version == "2", mv.version
    assert mv.run_id == runs[1], mv.run_id
    exp_art = client.get_run(runs[1]).info.artifact_uri
    assert mv.source == f"{exp_art}/model", (mv.source, exp_art)
    ctx["v2"] = mv.version


def c_get_model_version():
    mv = client.get_model_version(M, need("v1"))
    assert mv.version == "1" and mv.source == f"runs:/{ctx['runs'][0]}/model", (mv.version, mv.source)
    assert mv.status == "READY"


def c_get_registered_model_latest_versions():
    need("v2")
    rm = client.get_registered_model(M)
    lv = {v.current_stage: v.version for v in rm.latest_versions}
    assert lv == {"None": "2"}, lv


def c_model_version_download_uri():
    uri = client.get_model_version_download_uri(M, need("v1"))
    assert uri == f"runs:/{ctx['runs'][0]}/model", uri
    uri2 = client.get_model_version_download_uri(M, need("v2"))
    assert uri2.startswith("mlflow-artifacts:") and uri2.endswith("/model"), uri2


def c_download_models_uri():
    need("v2")
    for v in ("1", "2"):
        p = mlflow.artifacts.download_artifacts(f"models:/{M}/{v}", dst_path=tempfile.mkdtemp(dir=tmp))
        # the client adds a local "registered_model_meta" file when downloading models:/ URIs
        assert {"MLmodel", "weights.json"} <= set(os.listdir(p)), sorted(os.listdir(p))
        with open(os.path.join(p, "weights.json")) as f:
            assert json.load(f) == {"w": [1, 2, 3]}


def c_update_model_version():
    client.update_model_version(M, need("v1"), description="new v1 desc")
    assert client.get_model_version(M, "1").description == "new v1 desc"


def c_model_version_tags():
    need("v1")
    client.set_model_version_tag(M, "1", "stage_note", "ok")
    client.set_model_version_tag(M, "1", "vt", "one")
    assert client.get_model_version(M, "1").tags == {"vt": "one", "stage_note": "ok"}
    client.delete_model_version_tag(M, "1", "stage_note")
    assert client.get_model_version(M, "1").tags == {"vt": "one"}


def c_transition_stages():
    need("v2")
    mv = client.transition_model_version_stage(M, "1", "Production")
    assert mv.current_stage == "Production", mv.current_stage
    mv = client.transition_model_version_stage(M, "2", "staging")  # case-insensitive input
    assert mv.current_stage == "Staging", mv.current_stage
    mv = client.transition_model_version_stage(M, "2", "Production", archive_existing_versions=True)
    assert mv.current_stage == "Production", mv.current_stage
    assert client.get_model_version(M, "1").current_stage == "Archived", \
        "archive_existing_versions must archive the previous Production version"


def c_transition_bad_stage():
    expect_error(lambda: client.transition_model_version_stage(M, need("v1"), "Bogus"),
                 "INVALID_PARAMETER_VALUE", "unknown stage")


def c_get_latest_versions():
    need("v2")
    lv = client.get_latest_versions(M, stages=["Production"])
    assert [(v.version, v.current_stage) for v in lv] == [("2", "Production")], lv
    lv = client.get_latest_versions(M, stages=["Staging"])
    assert lv == [], lv
    allv = {v.current_stage: v.version for v in client.get_latest_versions(M)}
    assert allv == {"Production": "2", "Archived": "1"}, allv


def c_aliases():
    need("v2")
    client.set_registered_model_alias(M, "champion", "1")
    client.set_registered_model_alias(M, "challenger", "2")
    mv = client.get_model_version_by_alias(M, "champion")
    assert mv.version == "1", mv.version
    assert "champion" in mv.aliases, mv.aliases
    rm = client.get_registered_model(M)
    assert rm.aliases == {"champion": "1", "challenger": "2"}, rm.aliases
    client.set_registered_model_alias(M, "champion", "2")  # move alias
    assert client.get_model_version_by_alias(M, "champion").version == "2"
    assert sorted(client.get_model_version(M, "2").aliases) == ["challenger", "champion"]
    assert client.get_model_version(M, "1").aliases == []
    client.delete_registered_model_alias(M, "challenger")
    assert client.get_registered_model(M).aliases == {"champion": "2"}


def c_alias_unknown():
    need("v2")
    expect_error(lambda: client.get_model_version_by_alias(M, "nobody"), "INVALID_PARAMETER_VALUE",
                 "unknown alias")


def c_alias_models_uri():
    need("v2")
    p = mlflow.artifacts.download_artifacts(f"models:/{M}@champion", dst_path=tempfile.mkdtemp(dir=tmp))
    assert "MLmodel" in os.listdir(p), os.listdir(p)
    p = mlflow.artifacts.download_artifacts(f"models:/{M}/Production", dst_path=tempfile.mkdtemp(dir=tmp))
    assert "MLmodel" in os.listdir(p), os.listdir(p)


def c_search_model_versions():
    need("v2")
    res = client.search_model_versions(f"name='{M}'")
    assert sorted(v.version for v in res) == ["1", "2"], [v.version for v in res]
    res = client.search_model_versions(f"name='{M}'", order_by=["version_number DESC"])
    assert [v.version for v in res] == ["2", "1"], [v.version for v in res]
    res = client.search_model_versions(f"run_id='{ctx['runs'][0]}'")
    assert [(v.name, v.version) for v in res] == [(M, "1")], res
    res = client.search_model_versions(f"name LIKE '{PREFIX}-%' AND tags.vt = 'one'")
    assert [v.version for v in res] == ["1"], [v.version for v in res]
    res = client.search_model_versions(f"name='{M}'", max_results=1, order_by=["version_number ASC"])
    assert [v.version for v in res] == ["1"] and res.token, (res, res.token)
    res2 = client.search_model_versions(f"name='{M}'", max_results=1, order_by=["version_number ASC"],
                                        page_token=res.token)
    assert [v.version for v in res2] == ["2"], [v.version for v in res2]


def c_rename_registered_model():
    need("v2")
    client.rename_registered_model(M, M2)  # returns None in the 2.11 client
    ctx["rm"] = M2
    assert client.get_registered_model(M2).name == M2
    expect_error(lambda: client.get_registered_model(M), "RESOURCE_DOES_NOT_EXIST", "old name after rename")
    assert client.get_model_version(M2, "1").name == M2
    assert client.get_model_version_by_alias(M2, "champion").version == "2"
    ctx["rm"] = M2


def c_delete_model_version():
    need("v2")
    client.delete_model_version(M2, "1")
    expect_error(lambda: client.get_model_version(M2, "1"), "RESOURCE_DOES_NOT_EXIST", "deleted version")
    assert [v.version for v in client.search_model_versions(f"name='{M2}'")] == ["2"]
    # versions are never reused
    mv = client.create_model_version(M2, f"runs:/{ctx['runs'][0]}/model", run_id=ctx["runs"][0])
    assert mv.version == "3", mv.version


def c_model_version_errors():
    expect_error(lambda: client.get_model_version(need("rm"), "99"), "RESOURCE_DOES_NOT_EXIST",
                 "unknown version")
    expect_error(lambda: client.create_model_version(f"{PREFIX}-nope", "runs:/abc/model"),
                 "RESOURCE_DOES_NOT_EXIST", "version of unknown model")


def c_delete_registered_model():
    name = need("rm")
    client.delete_registered_model(name)
    expect_error(lambda: client.get_registered_model(name), "RESOURCE_DOES_NOT_EXIST", "deleted model")
    expect_error(lambda: client.get_model_version(name, "2"), "RESOURCE_DOES_NOT_EXIST",
                 "version of deleted model")
    client.delete_registered_model(OTHER)
    assert client.search_registered_models(filter_string=f"name LIKE '{PREFIX}-%'") == []


CHECKS = [
    ("setup.runs_with_model_artifacts", c_setup_run),
    ("registered_model.create", c_create_registered_model),
    ("registered_model.get", c_get_registered_model),
    ("registered_model.error.duplicate_RESOURCE_ALREADY_EXISTS", c_duplicate_registered_model),
    ("registered_model.error.unknown_RESOURCE_DOES_NOT_EXIST", c_get_unknown_registered_model),
    ("registered_model.update", c_update_registered_model),
    ("registered_model.tags", c_registered_model_tags),
    ("registered_model.search", c_search_registered_models),
    ("registered_model.search_paging", c_search_registered_models_paging),
    ("model_version.create_from_runs_uri", c_create_model_version),
    ("model_version.register_model_fluent", c_register_model_fluent),
    ("model_version.get", c_get_model_version),
    ("registered_model.latest_versions_field", c_get_registered_model_latest_versions),
    ("model_version.download_uri", c_model_version_download_uri),
    ("model_version.download_models_uri", c_download_models_uri),
    ("model_version.update_description", c_update_model_version),
    ("model_version.tags", c_model_version_tags),
    ("model_version.transition_archive_existing", c_transition_stages),
    ("model_version.error.bad_stage", c_transition_bad_stage),
    ("model_version.get_latest_versions", c_get_latest_versions),
    ("alias.set_get_move_delete", c_aliases),
    ("alias.error.unknown", c_alias_unknown),
    ("alias.models_uri_alias_and_stage", c_alias_models_uri),
    ("model_version.search", c_search_model_versions),
    ("registered_model.rename", c_rename_registered_model),
    ("model_version.delete", c_delete_model_version),
    ("model_version.errors", c_model_version_errors),
    ("registered_model.delete", c_delete_registered_model),
]


def main():
    only = os.environ.get("COMPAT_ONLY")
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
