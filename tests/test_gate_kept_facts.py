"""The gate keeps the case facts it read between calls (`gate._Kept`), under the archive's data
generation (`store.governance.data_generation`), which every committed change moves on in the
same transaction.  What must hold: a kept copy is never used after a change -- written by this
process or another, by any path (ingest, a restriction order, an expiry-style update, a raw SQL
write) -- while the writes of every disclosed page (the audit chain) and of signing in do not
throw the copy away.  Both backends."""

from __future__ import annotations

import datetime as dt

import orjson
import pytest

from test_gate_caseless import _court
from test_governance_support import viewers

from courtarchive.config import ConfigError
from courtarchive.governance import accounts, audit, gate, restrictions
from courtarchive.governance.gate import disclose
from courtarchive.model.records import Hearing, Offence, ParsedList, Party, PublicationMeta
from courtarchive.store import Archive
from courtarchive.store import governance as sg
from courtarchive.store import serve as ss

DAY = dt.date(2024, 3, 4)
NOW = dt.datetime(2024, 3, 4, 12)


def _list(archive, n: int, *, surname: str, urn: str, day: dt.date = DAY) -> None:
    p = ParsedList(meta=PublicationMeta(list_type="MAGISTRATES_STANDARD_LIST", sensitivity="CLASSIFIED",
                                        court_name="Preston Magistrates' Court", content_date=day, version=str(n),
                                        published_at=dt.datetime(day.year, day.month, day.day, 8, n),
                                        source_name=f"kept-{n}.json"))
    p.hearings.append(Hearing(json_path="$.h[0]", court_name="Preston Magistrates' Court", sitting_date=day,
                              sitting_time="10:00", room="1", hearing_type="First hearing", panel="ADULT", case_urn=urn))
    p.parties.append(Party(json_path="$.h[0].p[0]", hearing_ref=0, role="DEFENDANT", forenames="Ada",
                           surname=surname, age=40, name_as_listed=f"{surname}, Ada"))
    p.offences.append(Offence(json_path="$.h[0].p[0].o[0]", party_ref=0, seq=1, code="TH68001", title="Theft",
                              wording="Stole a bicycle"))
    archive.write(p, content_hash=f"kept-{n}")


def _case(archive) -> int:
    with archive.engine.connect() as c:
        return c.exec_driver_sql("SELECT min(case_id) FROM hearing").scalar()


def _day_list(archive, role="verified_media") -> str:
    d = disclose(ss.day_lists(archive, _court(archive), DAY), viewers(NOW)[role], purpose="journalism",
                 context={"archive": archive, "output": "web", "now": NOW})
    return orjson.dumps(d.records, default=str).decode()


@pytest.fixture
def reads(monkeypatch):
    """How many times the gate read case facts from the store."""
    calls = []
    real = sg.case_facts

    def counted(*a, **kw):
        calls.append(1)
        return real(*a, **kw)

    monkeypatch.setattr(sg, "case_facts", counted)
    return calls


def test_the_generation_moves_on_every_change_and_only_then(archive):
    aid = accounts.add(archive, username="ed", role="verified_media", actor="admin")
    g0 = sg.data_generation(archive)
    assert isinstance(g0, int)
    _list(archive, 1, surname="ALDER", urn="01PR0000001")
    g1 = sg.data_generation(archive)
    assert g1 > g0                                                      # an ingest
    with archive.engine.connect() as c:                                 # reads: nothing moves
        c.exec_driver_sql("SELECT count(*) FROM party").scalar()
    with archive.engine.begin() as c:                                   # a transaction that wrote nothing
        c.exec_driver_sql("SELECT count(*) FROM hearing").scalar()
    audit.record(archive, actor="a", role="admin", action="view", purpose="test")
    sid = ss.create_session(archive, account_id=aid, token_hash="t" * 64, csrf_token="c", ip=None, user_agent=None,
                            expires_at=NOW + dt.timedelta(hours=1))
    ss.set_session_expiry(archive, sid, NOW + dt.timedelta(hours=2))
    ss.record_login_attempt(archive, username="a", ip="127.0.0.1", ok=True)
    assert sg.data_generation(archive) == g1                            # the audit chain, sessions: kept
    restrictions.add(archive, rule="cca_s4_2", case_id=_case(archive), actor="editor")
    g2 = sg.data_generation(archive)
    assert g2 > g1                                                      # an order
    with archive.engine.begin() as c:                                   # any write, by raw SQL
        c.exec_driver_sql("UPDATE party SET age = 41")
    assert sg.data_generation(archive) > g2


def test_a_change_is_seen_at_the_next_call_and_nothing_is_read_again_before(archive, reads):
    _list(archive, 1, surname="ALDER", urn="01PR0000001")
    assert "ALDER" in _day_list(archive)
    n = len(reads)
    assert "ALDER" in _day_list(archive)                                # signed-in pages: audited, still kept
    assert len(reads) == n                                              # the facts were kept
    restrictions.add(archive, rule="cca_s4_2", case_id=_case(archive), actor="editor")
    assert "ALDER" not in _day_list(archive)                            # s.4(2): withheld at once
    assert len(reads) == n + 1


def test_a_change_by_another_process_is_seen(archive, db_url, reads):
    _list(archive, 1, surname="ALDER", urn="01PR0000001")
    assert "ALDER" in _day_list(archive)
    other = Archive(db_url)                       # another process's engine and pool
    try:
        with other.engine.begin() as c:           # e.g. an order read from a later list, written elsewhere
            c.exec_driver_sql("UPDATE hearing SET reporting_restriction = TRUE, reporting_restriction_detail = "
                              "'Order under s.4(2) Contempt of Court Act 1981'")
    finally:
        other.engine.dispose()
    assert "ALDER" not in _day_list(archive)
    assert len(reads) == 2


def test_nothing_kept_when_switched_off_or_without_the_generation(archive, reads, monkeypatch):
    _list(archive, 1, surname="ALDER", urn="01PR0000001")
    monkeypatch.setenv("COURTARCHIVE_GATE_CACHE_ROWS", "0")
    _day_list(archive)
    _day_list(archive)
    assert len(reads) == 2
    monkeypatch.delenv("COURTARCHIVE_GATE_CACHE_ROWS")
    with archive.engine.begin() as c:             # an archive from before migration 0015
        c.exec_driver_sql("DELETE FROM id_sequence WHERE name = 'data_generation'")
    assert sg.data_generation(archive) is None
    _day_list(archive)
    _day_list(archive)
    assert len(reads) == 4
    monkeypatch.setenv("COURTARCHIVE_GATE_CACHE_ROWS", "lots")
    with pytest.raises(ConfigError, match="COURTARCHIVE_GATE_CACHE_ROWS"):
        gate.cache_rows()


def test_kept_rows_stay_within_the_limit_least_recently_used_out():
    from courtarchive.governance.rules import CaseFacts

    def facts(n):
        return CaseFacts(None, hearings=[{}] * n)

    kept = gate._Kept(1, limit=10)
    a, b, c = facts(4), facts(4), facts(4)
    kept.put({1: a, 2: b})
    assert kept.get([1]) == {1: a}                # 1 used: 2 is now the least recently used
    kept.put({3: c})
    assert kept.rows == 8 and kept.get([1, 2, 3]) == {1: a, 3: c}
    kept.put({4: facts(11)})                      # larger than the limit: not kept
    assert 4 not in kept.facts and kept.rows == 8
    day = dt.date(2024, 3, 4)
    assert kept.evaluate(1, a, day) is kept.evaluate(1, a, day)       # worked out once a day
    other = facts(4)
    assert kept.evaluate(1, other, day) is not kept.evaluate(1, a, day)   # given facts: their own


def test_serve_refuses_a_bad_cache_setting_before_it_starts(tmp_path):
    import os
    import subprocess
    import sys

    env = {**os.environ, "COURTARCHIVE_HOME": str(tmp_path), "COURTARCHIVE_GATE_CACHE_ROWS": "-5"}
    env.pop("COURTARCHIVE_DB", None)
    cmd = [sys.executable, "-c", "from courtarchive.serve.cli import main; main()"]
    assert subprocess.run(cmd + ["init"], env=env, capture_output=True).returncode == 0
    r = subprocess.run(cmd + ["serve", "--port", "1"], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and r.stderr.startswith("bad configuration: COURTARCHIVE_GATE_CACHE_ROWS"), r.stderr
    assert "Traceback" not in r.stderr


def test_a_write_with_no_archive_tables_left_still_commits(db_url):
    """A migration down to nothing (or any write after the tables went) commits: the generation's
    row went with them, and there is nothing to move on."""
    a = Archive(db_url)
    a.init()
    with a.engine.begin() as c:
        c.exec_driver_sql("DROP TABLE IF EXISTS id_sequence")
        c.exec_driver_sql("CREATE TABLE walk_note (n INTEGER)")
    with a.engine.begin() as c:
        c.exec_driver_sql("INSERT INTO walk_note VALUES (1)")
    with a.engine.connect() as c:
        assert c.exec_driver_sql("SELECT count(*) FROM walk_note").scalar() == 1
    a.engine.dispose()
