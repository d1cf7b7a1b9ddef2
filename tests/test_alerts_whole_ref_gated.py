"""A case-mode saved search for a whole URN follows that case alone -- counted as its subscriber
may see it, as the search page counts a whole reference for its viewer.  The whole-reference check
had ignored the subscriber: a case of that URN they may not see (withheld whole by a s.4(2) order,
on a CLASSIFIED list for an account whose press card check has lapsed) made the search "that case
only", whose hearings the gate then withheld -- and the alerts on longer URNs the subscriber had
been getting stopped, saying that a case they may not see exists under that reference.  Now such a
case counts nowhere: the prefix's matches, as in an archive without it.  Both backends; synthetic
data only."""

from __future__ import annotations

import datetime as dt

import pytest

from test_alerts import KEY, NOW, day, env, media, run  # noqa: F401  (fixtures)
from test_governance_support import plant, rows

from courtarchive.governance import accounts, restrictions
from courtarchive.governance.accounts import viewer
from courtarchive.serve import alerts

WHOLE, LONGER = "06GX12345", "06GX123450"


def _world(archive, hidden: str | None) -> dict[str, dict]:
    """Subscriptions for WHOLE of reporter (verified media), boss (admin) and lapsed (verified media
    whose check lapses after subscribing: public); then a case of URN WHOLE -- on a CLASSIFIED list,
    under a s.4(2) order, or plain -- and one of LONGER, on public lists, and a run."""
    media(archive)
    media(archive, "lapsed", "lapsed@lancashirepost.co.uk")
    accounts.add(archive, username="boss", role="admin", actor="dpo", email="boss@archive.example")
    subs = {u: alerts.subscribe(archive, username=u, kind="search", query=WHOLE) for u in ("reporter", "lapsed", "boss")}
    assert all(s["params"] == {"mode": "case"} for s in subs.values())
    accounts.verify(archive, username="lapsed", press_card="UKPC-1", verified_by="desk.editor",
                    when=NOW - dt.timedelta(days=400))
    assert viewer(archive, "lapsed").effective_role() == "public"
    w = plant(archive, date=day(1), urn=WHOLE, sensitivity="CLASSIFIED" if hidden == "classified" else "PUBLIC")
    if hidden == "s4_2":
        case_id = rows(archive, "hearing", publication_id=w.publication_id)[0]["case_id"]
        restrictions.add(archive, rule="cca_s4_2", case_id=case_id, actor="editor")
    plant(archive, date=day(2), urn=LONGER, sensitivity="PUBLIC")
    run(archive)
    return subs


def _shown(archive, subs: dict[str, dict]) -> dict[str, set[str]]:
    """Per account, the URNs of its matches that the gate releases to it (as a digest and the in-app
    feed do: `alerts.releasable`)."""
    from courtarchive.store import alerts as sa_store

    urn_of = {c["id"]: c["urn"] for c in rows(archive, "case")}
    out = {}
    for u, s in subs.items():
        ms = [m for m in sa_store.unsent(archive) if m["subscription_id"] == s["id"]]
        v = viewer(archive, u)
        purpose = "journalism" if v.effective_role() == "verified_media" else "administration"
        keep, _held = alerts.releasable(archive, v, ms, purpose=purpose, keyring=KEY, profile=None, output="digest")
        out[u] = {urn_of[m["case_id"]] for m in keep}
    return out


@pytest.mark.parametrize("hidden, blind", [("s4_2", {"reporter", "lapsed", "boss"}), ("classified", {"lapsed"})])
def test_a_whole_ref_case_the_subscriber_may_not_see_counts_nowhere(archive, env, hidden, blind):  # noqa: F811
    """(1) whoever may not see the case of the whole URN is alerted on the longer one, as if there
    were no such case; (3) whoever may see it gets that case alone."""
    subs = _world(archive, hidden)
    got = _shown(archive, subs)
    for u in subs:
        assert got[u] == ({LONGER} if u in blind else {WHOLE}), (u, got)


def test_a_whole_ref_case_the_subscriber_may_see_is_followed_alone(archive, env):  # noqa: F811
    """(2) unchanged: a visible case of the whole URN is all the saved search follows, for everyone."""
    subs = _world(archive, None)
    urn_of = {c["id"]: c["urn"] for c in rows(archive, "case")}
    for u, s in subs.items():
        assert {urn_of[m["case_id"]] for m in rows(archive, "alert_match", subscription_id=s["id"])} == {WHOLE}, u
    assert _shown(archive, subs) == {"reporter": {WHOLE}, "lapsed": {WHOLE}, "boss": {WHOLE}}


def test_the_batch_asks_the_gate_once_per_role(archive, env, monkeypatch):  # noqa: F811
    """The whole-reference answer is kept per reference, facets and what the gate's answer depends
    on (the subscriber's role and purpose), not per subscription."""
    from courtarchive.serve import search

    asked = []
    real = search.whole_ref_listed
    monkeypatch.setattr(search, "whole_ref_listed", lambda *a, **kw: asked.append(a[1]) or real(*a, **kw))
    media(archive, "second", "second@lancashirepost.co.uk")
    alerts.subscribe(archive, username="second", kind="search", query=WHOLE)
    subs = _world(archive, "classified")
    assert sorted(asked) == [WHOLE] * 3        # verified media (twice), admin, lapsed: three roles
    assert _shown(archive, subs)["reporter"] == {WHOLE}
