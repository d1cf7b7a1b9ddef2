"""Ingest end to end: files -> parse -> gate -> store, on both backends, through the CLI too."""

from __future__ import annotations

import copy
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
import sqlalchemy as sa

from courtarchive.ingest.pipeline import ingest
from courtarchive.store.tables import TABLES

EXAMPLE = "magistrates-standard-list/magistratesStandardList.json"


def _template(shared_cath) -> dict:
    return json.loads((shared_cath / "examples" / EXAMPLE).read_text())


def write_lists(folder: Path, template: dict, n: int, *, start: int = 0) -> list[Path]:
    """n distinct magistrates' standard lists (different days and URNs) from the official example."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(start, start + n):
        d = copy.deepcopy(template)
        day = 1 + i % 28
        month = 1 + (i // 28) % 12
        d["document"]["publicationDate"] = f"2023-{month:02d}-{day:02d}T07:00:00.000Z"
        k = 0
        for cl in d["courtLists"]:
            for room in cl["courtHouse"]["courtRoom"]:
                for sess in room["session"]:
                    for sit in sess["sittings"]:
                        sit["sittingStart"] = f"2023-{month:02d}-{day:02d}T10:00:00.000Z"
                        for hearing in sit["hearing"]:
                            for case in hearing.get("case", []):
                                k += 1
                                case["caseUrn"] = f"URN{i:05d}{k:03d}"
        f = folder / f"list_{i:05d}.json"
        f.write_bytes(orjson.dumps(d))
        (folder / f"list_{i:05d}.meta.json").write_bytes(orjson.dumps({
            "x-list-type": "MAGISTRATES_STANDARD_LIST", "x-sensitivity": "CLASSIFIED",
            "x-content-date": f"2023-{month:02d}-{day:02d}", "x-court-id": "preston-magistrates-court"}))
        files.append(f)
    return files


def test_examples_accepted_and_invalid_rejected(archive, keyring, shared_cath):
    examples = shared_cath / "examples"
    criminal = [examples / d for d in ("magistrates-standard-list", "magistrates-public-list",
                                       "magistrates-adult-court-list", "magistrates-public-adult-court-list",
                                       "crown-daily-pdda-list", "crown-firm-pdda-list",
                                       "crown-warned-pdda-list", "sjp-press-list", "sjp-public-list")]
    rep = ingest(archive, criminal, keyring=keyring)
    rejected = {Path(r["file"]).name for r in rep.rejected}
    assert rejected == {f.name for d in criminal for f in d.glob("*.json") if "Invalid" in f.name}
    assert all(r["reason"] for r in rep.rejected)
    assert rep.accepted == rep.files - len(rejected) > 0
    st = archive.stats()
    assert st["publications"] == rep.accepted and st["quarantined"] == len(rejected)
    # "...WithNewLines" examples are other versions of the same list (court, type, date): the
    # current version's hearings count, the others stay for provenance
    assert 0 < st["hearings"] <= rep.hearings and st["publications_superseded"] > 0
    # ingesting everything again changes nothing
    rep2 = ingest(archive, criminal, keyring=keyring)
    assert rep2.accepted == 0 and rep2.duplicates == rep.accepted
    st2 = archive.stats()
    assert {k: v for k, v in st2.items() if k != "quarantined"} == {k: v for k, v in st.items() if k != "quarantined"}


def test_every_example_list_type_stores_hearings(archive, keyring, shared_cath):
    """Civil, family, tribunal and non-strategic lists are at least kept with hearings and cases.
    (Some formats are shared by several list types, e.g. regional SSCS lists: CaTH sends
    x-list-type with them, as here; content detection alone rejects them as ambiguous.)"""
    from test_cath_parsers import FOLDER_LIST_TYPE

    accepted = 0
    for folder, list_type in FOLDER_LIST_TYPE.items():
        path = next(p for p in (shared_cath / "examples").rglob(folder) if p.is_dir())
        files = [f for f in path.glob("*.json") if "Invalid" not in f.name]
        rep = ingest(archive, files, keyring=keyring, list_type=list_type)
        assert not rep.rejected, rep.rejected
        accepted += rep.accepted
    P, H = TABLES["publication"], TABLES["hearing"]
    with archive.engine.connect() as c:
        per_type = dict(c.execute(sa.select(P.c.list_type, sa.func.count(H.c.id))
                                  .join(H, H.c.publication_id == P.c.id, isouter=True)
                                  .group_by(P.c.list_type)).all())
    assert len(per_type) >= 20, per_type
    empty = [t for t, n in per_type.items() if n == 0]
    assert not empty, f"list types stored without any hearing: {empty}"
    assert accepted >= 40


def test_bad_inputs_quarantined_nothing_written(archive, keyring, tmp_path, shared_cath):
    good = write_lists(tmp_path / "in", _template(shared_cath), 2)
    bad = tmp_path / "in"
    (bad / "empty.json").write_bytes(b"")
    (bad / "malformed.json").write_bytes(b'{"document": {')
    (bad / "latin1.json").write_bytes('{"name": "Ren\xe9"}'.encode("latin-1"))
    html = _template(shared_cath)
    html["courtLists"][0]["courtHouse"]["courtHouseName"] = "<script>alert(1)</script>"
    (bad / "html.json").write_bytes(orjson.dumps(html))
    rep = ingest(archive, [bad], keyring=keyring)
    reasons = {Path(r["file"]).name: r for r in rep.rejected}
    assert set(reasons) == {"empty.json", "malformed.json", "latin1.json", "html.json"}
    assert "courtHouseName" in (reasons["html.json"]["json_path"] or "")
    assert rep.accepted == len(good)
    st = archive.stats()
    assert st["publications"] == 2 and st["quarantined"] == 4


def test_huge_file_rejected(archive, keyring, tmp_path, shared_cath):
    [f] = write_lists(tmp_path / "in", _template(shared_cath), 1)
    rep = ingest(archive, [f], keyring=keyring, max_bytes=100)
    assert rep.accepted == 0 and "limit" in rep.rejected[0]["reason"]


def test_sidecar_headers_used(archive, keyring, tmp_path, shared_cath):
    write_lists(tmp_path / "in", _template(shared_cath), 1)
    ingest(archive, [tmp_path / "in"], keyring=keyring)
    P, C = TABLES["publication"], TABLES["court"]
    with archive.engine.connect() as c:
        row = c.execute(sa.select(P.c.list_type, P.c.sensitivity, P.c.content_date, C.c.name)
                        .join(C, C.c.id == P.c.court_id)).one()
    assert row.list_type == "MAGISTRATES_STANDARD_LIST" and row.sensitivity == "CLASSIFIED"
    assert str(row.content_date) == "2023-01-01" and row.name == "Preston Magistrates' Court"


def test_parallel_workers_same_result(db_url, keyring, tmp_path, shared_cath):
    from courtarchive.store import Archive

    write_lists(tmp_path / "in", _template(shared_cath), 12)
    a = Archive.open(db_url)
    a.init()
    rep = ingest(a, [tmp_path / "in"], keyring=keyring, workers=2)
    assert rep.accepted == 12 and not rep.rejected
    assert a.stats()["publications"] == 12


def _cli(args, env, **kw):
    return subprocess.run([sys.executable, "-m", "courtarchive.serve.cli", *args], env=env,
                          capture_output=True, text=True, **kw)


@pytest.fixture
def cli_env(tmp_path, db_url):
    env = dict(os.environ, COURTARCHIVE_HOME=str(tmp_path / "home"), COURTARCHIVE_DB=db_url)
    r = _cli(["init"], env)
    assert r.returncode == 0, r.stderr
    return env


def test_cli_ingest_json_and_exit_code(cli_env, tmp_path, shared_cath):
    write_lists(tmp_path / "in", _template(shared_cath), 3)
    (tmp_path / "in" / "broken.json").write_text("{nope")
    r = _cli(["ingest", str(tmp_path / "in"), "--json"], cli_env)
    assert r.returncode == 1, "a rejected file makes the exit code non-zero"
    rep = json.loads(r.stdout)
    assert rep["files"] == 4 and rep["accepted"] == 3 and rep["hearings"] > 0
    assert rep["rejected"][0]["file"].endswith("broken.json") and rep["rejected"][0]["reason"]
    s1 = _cli(["stats", "--json"], cli_env)
    r2 = _cli(["ingest", str(tmp_path / "in"), "--json"], cli_env)
    assert json.loads(r2.stdout)["accepted"] == 0
    s2 = _cli(["stats", "--json"], cli_env)
    st1, st2 = json.loads(s1.stdout), json.loads(s2.stdout)
    st1.pop("quarantined"), st2.pop("quarantined")
    assert st1 == st2, "ingest twice -> identical stats"
    assert _cli(["account", "add", "ops", "--role", "admin", "--email", "ops@example.org"], cli_env).returncode == 0
    c = _cli(["case", "URN00000001", "--json", "--as", "ops"], cli_env)
    assert c.returncode == 0 and json.loads(c.stdout)["case"]["urn"] == "URN00000001"
    e = _cli(["export", "--what", "hearing", "--format", "csv", "--out", str(tmp_path / "h.csv"), "--as", "ops"], cli_env)
    assert e.returncode == 0 and (tmp_path / "h.csv").read_text().count("\n") == 1 + json.loads(s2.stdout)["hearings"]


def kill_once_writing(args: list[str], env: dict, a) -> int:
    """Run the CLI with ``args``, SIGKILL it as soon as archive ``a`` holds a publication (or after
    60 s); the publications seen then."""
    proc = subprocess.Popen([sys.executable, "-m", "courtarchive.serve.cli", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    n = 0
    while time.time() < deadline:
        try:
            with a.engine.connect() as c:
                n = c.execute(sa.select(sa.func.count()).select_from(TABLES["publication"])).scalar_one()
        except Exception:
            n = 0
        if n >= 1:
            break
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    return n


def test_kill_during_ingest_then_rerun(tmp_path, db_url, shared_cath):
    """kill -9 in the middle of an ingest; the re-run loses and duplicates nothing."""
    # files are committed in groups (Archive.writer: 200 files or 1 s): enough files for several
    files = write_lists(tmp_path / "in", _template(shared_cath), 600)
    env = dict(os.environ, COURTARCHIVE_HOME=str(tmp_path / "home"), COURTARCHIVE_DB=db_url)
    assert _cli(["init"], env).returncode == 0
    from courtarchive.store import Archive

    a = Archive.open(db_url)
    n = kill_once_writing(["ingest", str(tmp_path / "in"), "--workers", "1"], env, a)
    assert 1 <= n < len(files), f"the kill should land mid-ingest (saw {n} publications)"
    r = _cli(["ingest", str(tmp_path / "in"), "--json"], env)
    assert r.returncode == 0, r.stdout + r.stderr
    rep = json.loads(r.stdout)
    assert rep["accepted"] + rep.get("duplicates", 0) == len(files)
    after_kill = a.stats()
    # a clean archive ingesting the same files gives the same counts
    clean = tmp_path / "clean.db"
    env2 = dict(env, COURTARCHIVE_DB=f"sqlite:///{clean}")
    assert _cli(["init"], env2).returncode == 0
    assert _cli(["ingest", str(tmp_path / "in")], env2).returncode == 0
    b = Archive.open(f"sqlite:///{clean}")
    assert after_kill == b.stats()
    assert after_kill["publications"] == len(files)


# the intake gate's accent folding: the fast path (ASCII as is, one regex over the combining
# marks) must fold exactly as NFKD + dropping every combining character one by one did
def _folded_reference(text: str) -> str:
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@pytest.mark.parametrize("text", ["", "SMITH, Jane", "Siobhán Ó Dálaigh", "Zoë", "ﬁ ligature", "Ångström",
                                  "a\u0301\u0316b", "\u0344\u0f73", "Ἀθῆναι", "한국어", "x\U0001d167y"])
def test_gate_folding_matches_reference(text):
    from courtarchive.ingest.gate import _folded

    assert _folded(text) == _folded_reference(text)


def test_gate_folding_matches_reference_on_random_text():
    from hypothesis import given, settings, strategies as st

    from courtarchive.ingest.gate import _folded

    @settings(max_examples=300, deadline=None)
    @given(st.text(max_size=40))
    def check(text):
        assert _folded(text) == _folded_reference(text)

    check()
