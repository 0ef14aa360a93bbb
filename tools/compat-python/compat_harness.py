"""Tiny check harness shared by the compat scripts (no pytest needed).

Each check prints "ok <name>" or "FAIL <name>: <reason>"; summary() prints
"N passed, N failed" and returns the process exit code.
"""
import os
import sys
import time
import traceback
import uuid

from mlflow.exceptions import MlflowException

_passed = []
_failed = []
VERBOSE = os.environ.get("COMPAT_VERBOSE") == "1"

# unique prefix so the scripts can be re-run against the same server
PREFIX = os.environ.get("COMPAT_PREFIX") or f"compat-{uuid.uuid4().hex[:8]}"


def check(name):
    """Decorator: run the function immediately as a named check."""

    def deco(fn):
        run_check(name, fn)
        return fn

    return deco


def run_check(name, fn, *args, **kwargs):
    t0 = time.time()
    try:
        fn(*args, **kwargs)
    except Exception as e:  # AssertionError and anything unexpected
        _failed.append(name)
        msg = str(e).strip().splitlines()[0][:400] if str(e).strip() else ""
        print(f"FAIL {name}: {type(e).__name__}: {msg}", flush=True)
        if VERBOSE or not isinstance(e, AssertionError):
            tb = traceback.format_exc().strip().splitlines()
            for line in tb[-8:]:
                print(f"     | {line}", flush=True)
        return False
    _passed.append(name)
    print(f"ok {name}" + (f"  ({time.time() - t0:.2f}s)" if VERBOSE else ""), flush=True)
    return True


def expect_error(fn, code, what=""):
    """Call fn(); assert it raises MlflowException whose error_code == code."""
    try:
        fn()
    except MlflowException as e:
        assert e.error_code == code, (
            f"{what}: expected error_code {code}, got {e.error_code}: {str(e)[:200]}"
        )
        return e
    raise AssertionError(f"{what}: expected MlflowException({code}), but no error was raised")


def wait_until(pred, timeout=10.0, interval=0.2):
    deadline = time.time() + timeout
    while True:
        v = pred()
        if v or time.time() > deadline:
            return v
        time.sleep(interval)


def summary():
    print(f"{len(_passed)} passed, {len(_failed)} failed", flush=True)
    if _failed:
        print("failed: " + ", ".join(_failed), file=sys.stderr, flush=True)
    return 1 if _failed else 0


def require_tracking_uri():
    uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        print("MLFLOW_TRACKING_URI is not set", file=sys.stderr)
        sys.exit(2)
    return uri
