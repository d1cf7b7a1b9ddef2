"""A run's derived-store hooks write only their own markers into its counts.

`retention.hook_failures` wrote the run's counts as ``{}`` when every hook ran (and `run_hooks`
wrote only the "not finished" markers before they ran): whatever else the run had recorded in its
counts was lost.  Now the markers (``hooks_failed``, ``hooks_retry``) are set and removed and
everything else stays."""

from __future__ import annotations

import datetime as dt

from courtarchive.governance import hooks, retention
from courtarchive.store import governance as sg

SEEN: list[dict] = []
EARLIER = {"parties": 3, "fields": {"party.surname": 3}, "held": {"7": 1}}


def peeking(ev):
    """A store of the profile's own: notes the run's counts while the hooks run."""
    SEEN.append(dict(sg.get_run(ev.archive, ev.run_id)["counts"]))
    return {}


def failing(ev):
    raise RuntimeError("down")


def _run_with_counts(archive):
    rid = sg.start_run(archive, kind="expire", as_of=dt.date(2025, 6, 1), actor="dpo", profile={})
    sg.update_run(archive, rid, counts=dict(EARLIER))
    return rid


def _hooks(archive, rid, specs):
    ev = hooks.ExpiryEvent(archive, rid, "expire", sg.now(), party_ids=[11, 12])
    return retention.run_hooks(archive, ev, specs, actor="dpo", objects={"retention_run": [rid]},
                               skip=tuple(f for f in hooks.resolve([])[0].values()))     # (only the test's stores)


def test_counts_written_before_survive_hooks_that_all_succeed(archive):
    rid = _run_with_counts(archive)
    SEEN.clear()
    derived, failed = _hooks(archive, rid, [f"{__name__}:peeking"])
    assert failed == {} and derived["failed"] == {}
    # while they ran: the markers beside what the run had
    assert SEEN == [{**EARLIER, "hooks_failed": {f"{__name__}:peeking": retention.UNFINISHED},
                     "hooks_retry": {"party_ids": [11, 12]}}]
    # once they all ran: the markers gone, the rest kept
    assert sg.get_run(archive, rid)["counts"] == EARLIER
    sg.update_run(archive, rid, status="done")


def test_a_failed_hook_is_recorded_beside_the_counts(archive):
    rid = _run_with_counts(archive)
    _, failed = _hooks(archive, rid, [f"{__name__}:failing"])
    assert failed["hooks_failed"] == {f"{__name__}:failing": "RuntimeError"}
    assert sg.get_run(archive, rid)["counts"] == {**EARLIER, **failed}
    sg.update_run(archive, rid, status="failed")
    assert [r["id"] for r in sg.runs_with_failed_hooks(archive)] == [rid]
