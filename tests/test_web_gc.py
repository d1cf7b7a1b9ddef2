"""A serving process tunes Python's collector once warmed up (serve.app._settle_gc): what the worker
imported is frozen out of full collections and generation 0 runs every 50,000 allocations.  An app
built in-process (tests, a host application) leaves the process's collector alone."""

import os
import subprocess
import sys

import pytest

from courtarchive.config import ConfigError
from courtarchive.serve.deps import WebSettings

PROBE = """
import gc, json, sys
from fastapi.testclient import TestClient
from courtarchive.serve.app import create_app, GC_THRESHOLD
from courtarchive.serve.deps import WebSettings
ws = WebSettings.from_env() if sys.argv[2] == "env" else WebSettings(db_url=sys.argv[1])
ws.db_url = sys.argv[1]
before = gc.get_threshold()
app = create_app(sys.argv[1], settings=ws)
with TestClient(app) as c:
    ok = c.get("/api/v1/courts").status_code
    print(json.dumps({"status": ok, "threshold": gc.get_threshold(), "before": before,
                      "frozen": gc.get_freeze_count(), "tuned": list(GC_THRESHOLD)}))
"""


def _probe(archive, tmp_path, how: str, **env) -> dict:
    import json

    e = {**os.environ, "COURTARCHIVE_HOME": str(tmp_path), **env}
    r = subprocess.run([sys.executable, "-c", PROBE, archive.url, how], env=e, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


@pytest.fixture
def served(sqlite_archive):
    return sqlite_archive


def test_a_serving_process_freezes_what_it_imported_and_collects_less_often(served, tmp_path):
    out = _probe(served, tmp_path, "env")
    assert out["status"] == 200
    assert out["threshold"] == out["tuned"] != out["before"]
    assert out["frozen"] > 10_000            # the imported stack: out of every full collection


def test_python_defaults_on_request_and_for_an_app_built_in_process(served, tmp_path):
    for out in (_probe(served, tmp_path, "env", COURTARCHIVE_WEB_GC="default"), _probe(served, tmp_path, "direct")):
        assert out["status"] == 200
        assert out["threshold"] == out["before"] and out["frozen"] == 0


def test_a_bad_gc_setting_is_a_configuration_error(monkeypatch):
    monkeypatch.setenv("COURTARCHIVE_WEB_GC", "off")
    with pytest.raises(ConfigError, match="COURTARCHIVE_WEB_GC"):
        WebSettings.from_env()
    monkeypatch.setenv("COURTARCHIVE_WEB_GC", "Tuned")
    assert WebSettings.from_env().settle_gc is True
    monkeypatch.delenv("COURTARCHIVE_WEB_GC")
    assert WebSettings.from_env().settle_gc is True
    assert WebSettings().settle_gc is False
