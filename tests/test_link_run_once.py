"""One link run at a time per archive.  Two `courtarchive link run` at once both read and computed
everything (minutes, at scale) and the second then queued to write what the first had just
written; now the second refuses at once (`store.linkage.LinkRunBusy`, naming the run in progress),
records no run and changes nothing.  A run whose process died is marked ``interrupted`` by the next
one (its lock went with the process).  On SQLite and, when COURTARCHIVE_TEST_PG is set, PostgreSQL.
Synthetic data only (`link.synthetic`)."""

from __future__ import annotations

import threading

import polars as pl
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from courtarchive.link import run as R, synthetic
from courtarchive.link.cli import app
from courtarchive.store import linkage as store
from courtarchive.store.tables import TABLES as T
from test_link_run import load


@pytest.fixture(scope="module")
def rows():
    return pl.from_arrow(synthetic.mentions(120, seed=5)).sort("sitting_date", "party_id").to_dicts()


def _runs(archive) -> list[tuple[int, str]]:
    with archive.engine.connect() as c:
        return [tuple(r) for r in c.execute(sa.select(T["link_run"].c.id, T["link_run"].c.status)
                                            .order_by(T["link_run"].c.id))]


class Paused:
    """A link run in progress in another thread, held inside its defendants' step until `finish`."""

    def __init__(self, archive, monkeypatch):
        self.inside, self.go, self.out = threading.Event(), threading.Event(), {}
        real = R.link_defendants

        def held(*a, **kw):
            self.inside.set()
            assert self.go.wait(60)
            return real(*a, **kw)

        monkeypatch.setattr(R, "link_defendants", held)
        self.thread = threading.Thread(target=self._first, args=(archive,))
        self.thread.start()
        assert self.inside.wait(60), "the first run never started"

    def _first(self, archive) -> None:
        try:
            self.out["stats"] = R.run(archive, full=True)
        except BaseException as e:          # (shown by the test, not lost in the thread)
            self.out["error"] = e

    def finish(self) -> dict:
        self.go.set()
        self.thread.join(120)
        assert not self.thread.is_alive()
        return self.out


@pytest.fixture
def paused(archive, rows, monkeypatch):
    load(archive, rows, per=60)
    p = Paused(archive, monkeypatch)
    yield p
    p.finish()


def test_a_second_link_run_refuses_at_once_and_changes_nothing(archive, paused):
    [(first_id, status)] = _runs(archive)
    assert status == "running"
    with pytest.raises(store.LinkRunBusy, match=rf"another link run is in progress on this archive \(run {first_id}, "
                                                 r"started \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\): wait for it to end"):
        R.run(archive, full=True)
    assert not paused.go.is_set() and len(_runs(archive)) == 1   # refused before any work: nothing recorded
    # the CLI says it on one line, exit 1
    res = CliRunner().invoke(app, ["run", "--full", "--db", archive.url], terminal_width=300)
    assert res.exit_code == 1, res.output
    assert f"link run refused: another link run is in progress on this archive (run {first_id}, " in res.stderr
    assert res.stderr.rstrip().endswith("wait for it to end; nothing was done") and "Traceback" not in res.stderr
    assert _runs(archive) == [(first_id, "running")]
    # the first run, let go, ends as it would have alone; then the next one is free to run
    out = paused.finish()
    assert "error" not in out, out.get("error")
    assert _runs(archive) == [(first_id, "done")]
    st = R.run(archive, full=True)
    assert _runs(archive) == [(first_id, "done"), (st["run_id"], "done")]
    assert st["defendants"]["persons"] == out["stats"]["defendants"]["persons"]


def test_a_run_whose_process_died_is_marked_interrupted_by_the_next(archive, rows):
    """(A run killed with -9 leaves its row ``running`` and its lock gone with the process.)"""
    load(archive, rows, per=60)
    dead = store.start_run(archive, mode="full", engine="duckdb", threshold=0.9, review_low=0.5, review_high=0.95)
    st = R.run(archive, full=True)
    assert _runs(archive) == [(dead, "interrupted"), (st["run_id"], "done")]
    assert store.latest_run(archive)["id"] == st["run_id"]
