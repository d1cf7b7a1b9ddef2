"""The link stage as its users meet it: a run that fails half-way, an incremental run after an
expiry of everything, a reviewer's decision on an erased mention, the stored run mode, and the
CLI's errors (one line, non-zero exit, nothing written).

``archive``: conftest's (SQLite and, with COURTARCHIVE_TEST_PG, PostgreSQL)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from typer.testing import CliRunner

from courtarchive.governance import accounts, retention, rights
from courtarchive.governance.profile import load as load_profile
from courtarchive.governance.pseudonym import Keyring
from courtarchive.link import run as R
from courtarchive.link.cli import app
from courtarchive.store import Archive
from courtarchive.store import linkage as store
from test_link_after_expiry import listing as _listing
from test_link_run import corpus, load  # noqa: F401  (corpus: the module fixture)

KEY = bytes(range(32))
KR = Keyring(KEY)


@pytest.fixture(autouse=True)
def _home(monkeypatch, tmp_path):
    monkeypatch.setenv("COURTARCHIVE_KEY", KEY.hex())
    monkeypatch.setenv("COURTARCHIVE_HOME", str(tmp_path / "home"))


def _link_state(a: Archive) -> dict:
    """Everything a run writes: assignments, persons, review queue, networks, decisions applied."""
    import sqlalchemy as sa

    from courtarchive.store.tables import TABLES as T

    out = {k: sorted(zip(*(store.person_assignments(a, k)[c].to_pylist()
                           for c in ("mention_id", "person_id", "probability"))))
           for k in ("defendant", "complainant")}
    with a.engine.connect() as conn:
        for t in ("person", "network", "network_member", "review_queue", "review_decision"):
            out[t] = sorted(tuple(r) for r in conn.execute(sa.select(T[t])))
    return out


@pytest.mark.parametrize("where", ["networks", "writing"])
def test_a_failed_run_leaves_the_previous_link_state(archive, corpus, monkeypatch, where):  # noqa: F811
    """A run that fails after the defendants were linked (computing the networks, or writing them)
    used to leave the new defendant persons, review queue and complainants written beside the old
    networks: half a run.  Now nothing of it is written; the next run starts from the previous one."""
    load(archive, corpus[:300])
    R.run(archive, full=True)
    a, b = store.defendant_mentions(archive)["party_id"].to_pylist()[:2]
    store.add_review_decision(archive, a, b, "different", "alice")
    before = _link_state(archive)
    last = store.latest_run(archive)
    load(archive, corpus[300:], start=3)

    def boom(*args, **kw):
        raise RuntimeError("disk full")

    monkeypatch.setattr(R if where == "networks" else store, "link_networks" if where == "networks" else "save_networks",
                        boom)
    with pytest.raises(RuntimeError, match="disk full"):
        R.run(archive)
    assert _link_state(archive) == before
    assert store.latest_run(archive)["id"] == last["id"]
    monkeypatch.undo()
    monkeypatch.setenv("COURTARCHIVE_KEY", KEY.hex())
    st = R.run(archive)                                  # and the next run goes through
    assert st["defendants"]["mode"] == "incremental" and st["defendants"]["fresh"] > 0
    after = store.person_assignments(archive, "defendant")
    assert after.num_rows == store.defendant_mentions(archive).num_rows
    assert len(set(after["person_id"].to_pylist())) == st["defendants"]["persons"]


def test_link_run_cli_failure_is_one_line_and_exit_1(archive, corpus, monkeypatch):  # noqa: F811
    load(archive, corpus[:200])
    R.run(archive, full=True)
    last = store.latest_run(archive)

    def boom(*args, **kw):
        raise RuntimeError("no space left on device\nsecond line")

    monkeypatch.setattr(R, "link_networks", boom)
    res = CliRunner().invoke(app, ["run", "--full", "--db", archive.url], terminal_width=300)
    assert res.exit_code == 1, res.output
    lines = [x for x in res.output.splitlines() if x.strip()]
    assert len(lines) == 1, res.output
    assert "link run failed" in lines[0] and "no space left on device" in lines[0]
    assert f"run {last['id']}" in lines[0] and "unchanged" in lines[0]
    assert "Traceback" not in res.output


@pytest.mark.parametrize("args, hint", [(["--engine", "sparkle"], "--engine"), (["--threshold", "1.5"], "--threshold"),
                                        (["--complainant-rule", "names"], "--complainant-rule")])
def test_link_run_refuses_a_bad_option_value_before_anything(archive, args, hint):
    res = CliRunner().invoke(app, ["run", "--db", archive.url, *args], terminal_width=300)
    assert res.exit_code == 2 and hint in res.output, res.output
    assert store.latest_run(archive) is None
    import sqlalchemy as sa

    from courtarchive.store.tables import TABLES as T

    with archive.engine.connect() as conn:                 # not even a failed run recorded
        assert conn.execute(sa.select(sa.func.count()).select_from(T["link_run"])).scalar_one() == 0


def test_the_run_records_the_mode_it_took(archive, corpus):  # noqa: F811
    """The first run of an archive is a full one whatever was asked: it is stored as such (it was
    stored as "incremental" while printing "full")."""
    import sqlalchemy as sa

    from courtarchive.store.tables import TABLES as T

    load(archive, corpus[:200])
    first = R.run(archive)
    second = R.run(archive)
    third = R.run(archive, full=True)
    with archive.engine.connect() as conn:
        modes = dict(conn.execute(sa.select(T["link_run"].c.id, T["link_run"].c.mode)).all())
    assert [first["defendants"]["mode"], second["defendants"]["mode"], third["defendants"]["mode"]] == \
        ["full", "incremental", "full"]
    assert [modes[s["run_id"]] for s in (first, second, third)] == ["full", "incremental", "full"]


# --------------------------------------------------------------------------- after an expiry of everything
def test_incremental_run_after_everything_expired_keeps_the_persons(archive, tmp_path):
    """Linked in clear: "Annabel KOWALCZYK" of case U1 and "Annabel Maria KOWALCZYK" of case U2
    (same date of birth and postcode; two cases, two tokens -- the middle name).  Every list then
    expires.  The next incremental run found no mention in clear, skipped the model *and* the
    existing persons with it, and split her in two: on a 2,000-case corpus 285 persons more, and
    every later full run kept the split (it keeps the previous run's links)."""
    ann = dict(forenames="Annabel", surname="KOWALCZYK", dob=dt.date(1990, 5, 6), postcode="PR1 2AB")
    old = dt.date(2019, 3, 4)
    _listing(archive, old, "U1", [ann])
    _listing(archive, old, "U2", [dict(ann, middle_names="Maria")])
    _listing(archive, old, "U3", [dict(forenames="Boris", surname="NAKAMURA", dob=dt.date(1971, 2, 3))])
    st = R.run(archive, full=True)
    ids = store.defendant_mentions(archive)["party_id"].to_pylist()
    before = dict(zip(*(store.person_assignments(archive, "defendant")[c].to_pylist()
                        for c in ("mention_id", "person_id"))))
    assert before[ids[0]] == before[ids[1]] != before[ids[2]], st
    retention.expire(archive, keyring=KR, as_of=dt.date(2021, 1, 1), home=tmp_path / "home")
    m = pl.from_arrow(store.defendant_mentions(archive))
    assert m["surname"].str.starts_with("~p:").all()
    for full in (False, True, False):
        st = R.run(archive, full=full)
        now = dict(zip(*(store.person_assignments(archive, "defendant")[c].to_pylist()
                         for c in ("mention_id", "person_id"))))
        assert now == before, (full, st["defendants"])
        assert st["defendants"]["persons"] == 2 and st["defendants"]["created"] == 0


# --------------------------------------------------------------------------- decisions
def test_decide_refuses_an_erased_mention(archive, tmp_path):
    """`rights erase --mode delete` takes a mention out of its person; a reviewer's "same" on it
    was stored and reported as "applied at the next run" (which then ignored it)."""
    zeb = dict(forenames="Zebedee", surname="QUIXLEY", dob=dt.date(1980, 1, 2), postcode="PR1 2AB")
    _listing(archive, dt.date(2025, 5, 1), "U1", [zeb])
    _listing(archive, dt.date(2025, 5, 1), "U2", [zeb])
    R.run(archive, full=True)
    a, b = store.defendant_mentions(archive)["party_id"].to_pylist()
    req = rights.open_request(archive, kind="erasure", name="Zebedee Quixley", keyring=KR, actor="dpo")
    rights.decide(archive, req["id"], decision="comply", reasons="no public interest", actor="dpo")
    rights.erase(archive, [a], keyring=KR, actor="dpo", mode="delete", profile=load_profile(home=tmp_path),
                 home=tmp_path, request_id=req["id"])
    accounts.add(archive, username="desk", role="admin", actor="setup", email="desk@example.org")
    runner = CliRunner()
    for decision in ("same", "different"):
        res = runner.invoke(app, ["decide", str(a), str(b), decision, "--as", "desk", "--db", archive.url],
                            terminal_width=300)
        assert res.exit_code == 2 and f"party {a} was erased" in res.output, res.output
    assert store.review_decisions(archive) == []
    res = runner.invoke(app, ["decide", str(a), str(b), "Same", "--as", "desk", "--db", archive.url])
    assert res.exit_code == 2 and "same or different" in res.output


@pytest.mark.parametrize("wrapped", [False, True], ids=["ctrl-c", "ctrl-c-in-a-query"])
def test_link_run_cli_interrupted(archive, corpus, monkeypatch, wrapped):  # noqa: F811
    """Ctrl-C: exit 130, "interrupted" -- also when DuckDB turned it into "Query interrupted" inside a
    Splink error (the message was the first line of the SQL it was running), nothing written."""
    load(archive, corpus[:200])
    R.run(archive, full=True)
    before = _link_state(archive)

    class InterruptException(Exception):
        pass

    def stop(*args, **kw):
        if not wrapped:
            raise KeyboardInterrupt
        try:
            raise InterruptException("INTERRUPT Error: Interrupted!")
        except InterruptException as e:
            raise RuntimeError("Error executing the following sql for table `x`:\nCREATE TABLE x ...") from e

    monkeypatch.setattr(R, "link_networks", stop)
    res = CliRunner().invoke(app, ["run", "--db", archive.url], terminal_width=300)
    assert res.exit_code == 130 and "link run failed (interrupted)" in res.output, res.output
    assert _link_state(archive) == before
