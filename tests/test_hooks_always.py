"""Every built-in derived-store hook purges a copy of personal data, and runs whatever the licence
profile lists: a profile's ``[derived_stores] hooks`` adds hooks, it cannot drop the law's.

A profile that listed its own hooks replaced the default list: one listing none of the built-ins
(or only its own store's) left, after an expiry or an erasure, the disclosed exports (names, dates
of birth), the search index's rows, reviewers' notes and the alert queue's matches of the mentions
-- only the screening and analysis caches were made to run always."""

from __future__ import annotations

import datetime as dt
import os
import sys

import pytest
import sqlalchemy as sa

from courtarchive.governance import hooks, retention, rights
from courtarchive.governance.profile import ProfileError, load
from courtarchive.governance.pseudonym import Keyring
from courtarchive.serve import search as S
from courtarchive.store import governance as sg
from test_governance_support import person, plant, rows

KR = Keyring(bytes(range(32)))
D = dt.date
#: a profile listing none of the built-ins, and one listing only a store of its own
PROFILES = {"none": "hooks = []", "own store only": 'hooks = ["own_store_hooks"]'}
OWN_STORE = '''calls = []


def governance_hook(ev):
    calls.append((ev.kind, sorted(ev.party_ids)))
    return {"seen": len(ev.party_ids)}
'''


@pytest.fixture
def home(tmp_path, monkeypatch):
    (tmp_path / "own_store_hooks.py").write_text(OWN_STORE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "own_store_hooks", raising=False)      # (its calls: this test's)
    monkeypatch.delenv("COURTARCHIVE_PROFILE", raising=False)
    return tmp_path / "home"


def _profile(home, hooks_line: str):
    home.mkdir(parents=True, exist_ok=True)
    (home / "profile.toml").write_text(f"[derived_stores]\n{hooks_line}\n", "utf-8")
    return load(home=home)


def _copies(archive, home) -> dict:
    """A list of two defendants, and a copy of them in every built-in derived store: the search
    index, an export (registered, and a file left in the exports folder), a reviewer's note on the
    pair, an unsent alert match on the hearing, the screening and analysis caches."""
    w = plant(archive, date=D(2024, 1, 10), people=[person(), person(forenames="Ottoline", surname="GRISEDALE")])
    a, b = (p["id"] for p in rows(archive, "party", publication_id=w.publication_id) if p["role"] == "DEFENDANT")
    [hearing] = rows(archive, "hearing", publication_id=w.publication_id)
    assert S.refresh(archive)["added"] == 2
    past = sg.now() - dt.timedelta(minutes=5)
    exports = home / "exports"
    exports.mkdir(parents=True)
    registered, loose = exports / "case.csv", exports / "old" / "list.csv"
    loose.parent.mkdir()
    for f in (registered, loose):
        f.write_text("QUIXLEY, Zebedee, 14/07/1988")
        os.utime(f, (past.timestamp() - 3600, past.timestamp() - 3600))
    export_id = sg.record_export(archive, {"username": "reporter", "role": "verified_media", "kind": "export",
                                           "path": str(registered), "created_at": past})
    account = sg.save_account(archive, {"username": "reporter", "role": "verified_media"})
    with archive.engine.begin() as c:
        sub = archive._take_ids(c, "subscription", 1)
        c.execute(sa.insert(sg.T["subscription"]).values(id=sub, account_id=account, kind="name",
                                                         query="Zebedee Quixley", unsubscribe_token="u1",
                                                         active=True, created_at=past))
        c.execute(sa.insert(sg.T["alert_match"]).values(id=archive._take_ids(c, "alert_match", 1),
                                                        subscription_id=sub, hearing_id=hearing["id"],
                                                        case_id=hearing["case_id"], matched_at=past))
        c.execute(sa.insert(sg.T["review_decision"]).values(id=archive._take_ids(c, "review_decision", 1),
                                                            party_a=a, party_b=b, decision="different",
                                                            reviewer="desk", decided_at=past,
                                                            note="Quixley is not Grisedale's brother"))
    caches = [hooks.screening_cache_dir(home) / "candidates-run1.parquet",
              hooks.analysis_cache_dir(home) / "inputs-x" / "cases.parquet"]
    for f in caches:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text("QUIXLEY|Zebedee|1988-07-14")
    return {"parties": [a, b], "export_id": export_id, "files": [registered, loose, *caches]}


def _indexed(archive, party_ids) -> int:
    with archive.engine.connect() as c:
        return c.execute(sa.select(sa.func.count()).select_from(sg.T["search_name"])
                         .where(sg.T["search_name"].c.party_id.in_(party_ids))).scalar()


@pytest.mark.parametrize("listed", PROFILES)
def test_expiry_runs_every_built_in_hook_whatever_the_profile_lists(archive, home, listed):
    prof = _profile(home, PROFILES[listed])
    assert not set(hooks.BUILT_IN) & set(prof.data["derived_stores"]["hooks"])
    held = _copies(archive, home)
    rep = retention.expire(archive, keyring=KR, profile=prof, as_of=D(2025, 6, 1), home=home)
    assert all(p["pseudonymised"] for p in rows(archive, "party"))
    done = rep["derived_stores"]
    assert set(hooks.BUILT_IN) <= set(done) and done["not_installed"] == []
    assert done["courtarchive.governance.hooks:exports_cache"]["purged"] == 2
    assert not any(f.exists() for f in held["files"])
    assert sg.get_export(archive, held["export_id"])["purged_at"] is not None
    assert _indexed(archive, held["parties"]) == 0
    assert [r["note"] for r in rows(archive, "review_decision")] == [None]
    assert rows(archive, "alert_match") == []
    if listed == "own store only":             # a profile adds its own hooks: run first, as listed
        import own_store_hooks

        assert list(done)[1] == "own_store_hooks" and done["own_store_hooks"] == {"seen": 3}
        [(kind, seen)] = own_store_hooks.calls
        assert kind == "expire" and set(held["parties"]) < set(seen)         # (and the prosecutor)


def test_erasure_runs_every_built_in_hook_whatever_the_profile_lists(archive, home):
    prof = _profile(home, PROFILES["none"])
    held = _copies(archive, home)
    req = rights.open_request(archive, kind="erasure", name="Zebedee Quixley", dob=D(1988, 7, 14), keyring=KR,
                              actor="dpo")
    rights.decide(archive, req["id"], decision="comply", reasons="no public interest in keeping it", actor="dpo")
    out = rights.erase(archive, keyring=KR, actor="dpo", request_id=req["id"], profile=prof, home=home)
    assert out["parties"] == 1 and set(hooks.BUILT_IN) <= set(out["derived_stores"])
    assert not any(f.exists() for f in held["files"])
    assert _indexed(archive, held["parties"][:1]) == 0 and _indexed(archive, held["parties"][1:]) == 1
    assert [r["note"] for r in rows(archive, "review_decision")] == [None]


def test_rectification_reaches_the_search_index_whatever_the_profile_lists(archive, home):
    """The search index re-derives a rectified name even for a profile that does not list it; the
    purge-only built-ins are still left out of a rectification (nothing was removed)."""
    prof = _profile(home, PROFILES["none"])
    plant(archive, date=D(2025, 5, 1))
    S.refresh(archive)
    req = rights.open_request(archive, kind="rectification", name="Zebedee Quixley", dob=D(1988, 7, 14),
                              keyring=KR, actor="dpo")
    rights.decide(archive, req["id"], decision="comply", reasons="the subject's passport", actor="dpo")
    out = rights.rectify(archive, req["party_ids"], field="surname", value="ABERNATHY", actor="dpo",
                         request_id=req["id"], profile=prof, home=home)
    hook = out["derived_stores"]["courtarchive.serve.search:governance_hook"]
    assert hook["removed"] == 1 and hook["reindexed"] == 1
    assert "courtarchive.governance.hooks:exports_cache" not in out["derived_stores"]
    assert S.search_names(archive, "Zebedee Abernathy")["hits"][0]["party_id"] == req["party_ids"][0]


def test_the_hooks_a_profile_lists_are_names(home):
    for bad in ('hooks = "courtarchive.governance.hooks:exports_cache"', "hooks = [1]", 'hooks = [""]'):
        with pytest.raises(ProfileError, match="derived_stores.hooks"):
            _profile(home, bad)
