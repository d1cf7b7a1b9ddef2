"""A run killed outright is marked interrupted by the next run of ANY kind -- and only once dead.

`store.governance.start_run` marked a ``running`` run interrupted only when a run of the same kind
started: an erasure or a rectification killed by SIGKILL in its derived-store hooks stayed
``running`` until the next run of its kind -- `expire` never retried its hooks (only failed or
interrupted runs are retried) and the compliance report showed it running.  And a run of the same
kind still going on in another process was marked interrupted.  Now a run's process holds a lock
on it until it ends (PostgreSQL: a session advisory lock; SQLite: a byte-range lock beside the
file), and a run left ``running`` whose lock is free is interrupted by whichever run starts next."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap

import pytest

from courtarchive.governance import retention
from courtarchive.governance.profile import load
from courtarchive.store import governance as sg

D = dt.date
MOD = "killed_run_store"
HOOK = f"{MOD}:governance_hook"
#: a store of the profile's own, recording the runs it is called for
STORE = '''calls = []


def governance_hook(ev):
    calls.append((ev.run_id, ev.kind, sorted(ev.party_ids)))
    return {}
'''
#: a process that starts an erasure run and "dies in its hooks": its counts list the hook as not
#: finished (as `retention.run_hooks` writes them), then it waits to be killed
CHILD = textwrap.dedent(f'''
    import datetime as dt, sys, time
    from courtarchive.governance import retention
    from courtarchive.store import Archive, governance as sg

    a = Archive.open(sys.argv[1])
    rid = sg.start_run(a, kind="erase", as_of=dt.date(2025, 6, 1), actor="dpo", profile={{"mode": "pseudonymise"}})
    sg.merge_run_counts(a, rid, {{"hooks_failed": {{"{HOOK}": retention.UNFINISHED}},
                                 "hooks_retry": {{"party_ids": [41, 42]}}}})
    print(rid, flush=True)
    time.sleep(600)
''')


@pytest.fixture
def home(tmp_path, monkeypatch):
    (tmp_path / f"{MOD}.py").write_text(STORE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, MOD, raising=False)
    monkeypatch.delenv("COURTARCHIVE_PROFILE", raising=False)
    home = tmp_path / "home"
    home.mkdir()
    (home / "profile.toml").write_text(f'[derived_stores]\nhooks = ["{HOOK}"]\n', "utf-8")
    return home


@pytest.fixture
def child(archive):
    """The erasure run of another process, alive: (process, run id)."""
    p = subprocess.Popen([sys.executable, "-c", CHILD, archive.url], stdout=subprocess.PIPE, text=True,
                         env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        line = p.stdout.readline()
        assert line.strip().isdigit(), f"the child did not start its run (exit {p.poll()})"
        yield p, int(line)
    finally:
        p.kill()
        p.wait(timeout=30)


def _kill(p) -> None:
    p.send_signal(signal.SIGKILL)
    assert p.wait(timeout=30) == -signal.SIGKILL


def _session_gone(archive, rid: int, timeout: float = 20.0) -> None:
    """PostgreSQL ends a killed client's session -- and the run's lock with it -- when its backend
    reads the closed socket: a moment after the kill, not at once.  Wait for that (SQLite: the
    kernel drops a dead process's locks as it dies)."""
    if archive.sqlite:
        return
    import time

    import sqlalchemy as sa

    deadline = time.monotonic() + timeout
    with archive.engine.connect() as c:
        while not c.execute(sa.text(f"SELECT pg_try_advisory_lock({sg._PG_RUN_LOCK})"), {"rid": rid}).scalar():
            c.rollback()
            assert time.monotonic() < deadline, "the killed process's session still holds its run's lock"
            time.sleep(0.05)
        c.execute(sa.text(f"SELECT pg_advisory_unlock({sg._PG_RUN_LOCK})"), {"rid": rid})
        c.commit()


def _start(archive, kind: str) -> int:
    return sg.start_run(archive, kind=kind, as_of=D(2025, 6, 1), actor="dpo", profile={})


def test_a_killed_erasure_is_interrupted_by_the_next_run_of_another_kind_and_its_hooks_retried(archive, home,
                                                                                               child):
    import killed_run_store

    p, rid = child
    # alive in its process: no run of any kind marks it, nor retries its hooks
    for kind in ("rectify", "erase"):
        sg.update_run(archive, _start(archive, kind), status="done")
        assert sg.get_run(archive, rid)["status"] == "running"
    rep = retention.expire(archive, keyring=None, profile=load(home=home), as_of=D(2025, 6, 1), home=home,
                           compact=False)
    assert sg.get_run(archive, rid)["status"] == "running" and killed_run_store.calls == [(rep["run_id"], "expire", [])]

    _kill(p)
    _session_gone(archive, rid)
    # dead: the next run, a rectification's, marks it interrupted ...
    sg.update_run(archive, _start(archive, "rectify"), status="done")
    run = sg.get_run(archive, rid)
    assert run["status"] == "interrupted"
    assert [r["id"] for r in sg.runs_with_failed_hooks(archive)] == [rid]
    # ... and the next expiry retries the hooks it had not finished
    rep = retention.expire(archive, keyring=None, profile=load(home=home), as_of=D(2025, 6, 1), home=home,
                           compact=False)
    assert (rid, "erase", [41, 42]) in killed_run_store.calls and rep["earlier_hooks_failed"] == {}
    run = sg.get_run(archive, rid)
    assert run["status"] == "done" and run["counts"]["hooks_retried"] == {HOOK: rep["run_id"]}
    assert sg.runs_with_failed_hooks(archive) == []


def test_a_run_of_this_process_is_never_interrupted_while_it_goes_on(archive):
    mine = _start(archive, "erase")
    other = _start(archive, "expire")
    assert sg.get_run(archive, mine)["status"] == "running"
    sg.update_run(archive, other, status="done")
    sg.update_run(archive, mine, status="done")
    assert [r["status"] for r in sg.runs(archive)] == ["done", "done"]
    # a run left running by no one (as a kill leaves it, no handler ran) is interrupted by any kind
    sg.update_run(archive, mine, status="running")
    sg.update_run(archive, _start(archive, "rectify"), status="done")
    assert sg.get_run(archive, mine)["status"] == "interrupted"
