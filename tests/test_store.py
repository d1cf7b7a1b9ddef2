"""The store on both backends: migrations, writes, idempotency, superseding, cases, reads."""

from __future__ import annotations

import datetime as dt
import os

import pytest
import sqlalchemy as sa

from courtarchive.model import Complainant, Hearing, Offence, ParsedList, Party, PublicationMeta, RawComplainant
from courtarchive.store import StoreError, migrate
from courtarchive.store.tables import TABLES


def doc(*, court="Preston Magistrates' Court", date=dt.date(2024, 3, 4), version="1.0",
        published=dt.datetime(2024, 3, 3, 18, 0), urn="06AA1234524", defendant=("John", "SMITH"),
        list_type="MAGISTRATES_STANDARD_LIST", n_hearings=1) -> ParsedList:
    p = ParsedList(meta=PublicationMeta(list_type=list_type, sensitivity="CLASSIFIED", court_name=court,
                                        content_date=date, version=version, published_at=published))
    for i in range(n_hearings):
        u = urn if n_hearings == 1 else f"{urn}{i}"
        p.hearings.append(Hearing(json_path=f"$.h[{i}]", court_name=court, sitting_date=date,
                                  sitting_time="10:00", room="1", hearing_type="First hearing",
                                  case_urn=u, case_number=f"CN{i}"))
        p.parties.append(Party(json_path=f"$.h[{i}].p[0]", hearing_ref=i, role="DEFENDANT",
                               forenames=defendant[0], surname=defendant[1],
                               date_of_birth=dt.date(1990, 1, 2), age=34, address="1 High St",
                               town="Preston", postcode="PR1 1AA"))
        p.parties.append(Party(json_path=f"$.h[{i}].p[1]", hearing_ref=i, role="PROSECUTING_AUTHORITY",
                               organisation_name="Crown Prosecution Service"))
        p.offences.append(Offence(json_path=f"$.h[{i}].p[0].o[0]", party_ref=2 * i, seq=1, code="SX03001",
                                  title="Rape", wording="did rape [complainant:0a1b2c3d]",
                                  reporting_restriction=True))
        p.complainants.append(Complainant(json_path=f"$.h[{i}].p[0].o[0].offenceWording", offence_ref=i,
                                          hearing_ref=i, kind="named", token="0a1b2c3d" * 4, key_id="k1",
                                          bloom=b"\x01\x02"))
    return p


def test_migrations_match_model(db_url):
    from courtarchive.store import Archive

    a = Archive.open(db_url)
    assert migrate.current(a.engine) is None
    a.init()
    assert migrate.current(a.engine) == migrate.head()
    assert migrate.check(a.engine) == [], "the Alembic migrations and the model declaration disagree"
    assert a.init()["courts_loaded"] == 0, "reference courts are loaded once"
    a.close()


def test_reference_courts_loaded(archive):
    with archive.engine.connect() as c:
        n = c.execute(sa.select(sa.func.count()).select_from(TABLES["court"])).scalar_one()
        row = c.execute(sa.select(TABLES["court"]).where(TABLES["court"].c.name == "Preston Magistrates' Court")).first()
    assert n == 438
    assert row.police_force_area == "Lancashire Constabulary" and row.lat is not None


def test_write_and_read_back(archive):
    w = archive.write(doc(), content_hash="h1")
    assert w.status == "accepted" and w.hearings == 1 and w.parties == 2 and w.offences == 1
    st = archive.stats()
    assert st["publications"] == 1 and st["hearings"] == 1 and st["parties"] == 2
    assert st["defendants"] == 1 and st["offences"] == 1 and st["cases"] == 1 and st["courts"] == 1
    tl = archive.case_timeline("06AA1234524")
    assert tl["case"]["urn"] == "06AA1234524"
    [h] = tl["hearings"]
    assert h["court"] == "Preston Magistrates' Court" and h["sitting_date"] == dt.date(2024, 3, 4)
    assert {p["name"] for p in h["parties"]} == {"John SMITH", "Crown Prosecution Service"}
    # provenance: every fact points at its publication and JSON path
    party = archive.to_arrow("party").to_pylist()
    assert all(r["publication_id"] == w.publication_id and r["json_path"].startswith("$.h[0]") for r in party)


def test_idempotent_same_hash(archive):
    archive.write(doc(), content_hash="h1")
    before = archive.stats()
    w = archive.write(doc(), content_hash="h1")
    assert w.status == "duplicate"
    assert archive.stats() == before


def test_publication_lookup_sees_what_is_committed_after_it_opened(archive):
    """The ingest workers' duplicate check keeps one connection open for the whole run: each
    look-up sees the lists written (by another connection) since, like `has_publication`."""
    seen = archive.publication_lookup()
    assert seen("h1") is None and archive.has_publication("h1") is None
    w = archive.write(doc(), content_hash="h1")
    assert seen("h1") == w.publication_id == archive.has_publication("h1")
    w2 = archive.write(doc(version="2.0", published=dt.datetime(2024, 3, 3, 20, 0)), content_hash="h2")
    assert seen("h2") == w2.publication_id != w.publication_id
    assert seen("h3") is None
    seen.close()


def test_later_version_supersedes_and_earlier_stays(archive):
    w1 = archive.write(doc(version="1.0", published=dt.datetime(2024, 3, 3, 18)), content_hash="v1")
    w2 = archive.write(doc(version="2.0", published=dt.datetime(2024, 3, 4, 7)), content_hash="v2")
    assert w2.superseded == [w1.publication_id]
    st = archive.stats()
    assert st["publications"] == 2 and st["publications_superseded"] == 1
    assert st["hearings"] == 1, "only the current version's hearings count"
    # an older version arriving late is stored, and superseded at once
    w0 = archive.write(doc(version="0.9", published=dt.datetime(2024, 3, 2, 18)), content_hash="v0")
    P = TABLES["publication"]
    with archive.engine.connect() as c:
        rows = dict(c.execute(sa.select(P.c.id, P.c.superseded_by)).all())
    assert rows == {w0.publication_id: w2.publication_id, w1.publication_id: w2.publication_id,
                    w2.publication_id: None}


def test_case_spans_courts_by_urn(archive):
    archive.write(doc(court="Preston Magistrates' Court"), content_hash="m")
    archive.write(doc(court="Preston Crown Court", list_type="CROWN_DAILY_PDDA_LIST",
                      date=dt.date(2024, 6, 1)), content_hash="c")
    tl = archive.case_timeline("06AA1234524")
    # "Preston Crown Court" as a list names it resolves to the reference building
    assert [h["court"] for h in tl["hearings"]] == ["Preston Magistrates' Court", "Preston Combined Court Centre"]
    assert archive.stats()["cases"] == 1


def test_case_without_urn_keys_on_number_court_defendant(archive):
    a = doc(urn=None, defendant=("Ann", "JONES"))
    b = doc(urn=None, defendant=("Bob", "BROWN"), date=dt.date(2024, 3, 5))
    archive.write(a, content_hash="a")
    archive.write(b, content_hash="b")
    assert archive.stats()["cases"] == 2, "same case number, different defendants: two cases"
    c = doc(urn=None, defendant=("Ann", "JONES"), date=dt.date(2024, 4, 1))
    archive.write(c, content_hash="c")
    assert archive.stats()["cases"] == 2, "same number, court and defendant: the same case"


def test_unknown_court_is_kept_as_list_court(archive):
    archive.write(doc(court="Nowhere Special Court"), content_hash="x")
    C = TABLES["court"]
    with archive.engine.connect() as c:
        r = c.execute(sa.select(C).where(C.c.name == "Nowhere Special Court")).one()
    assert r.source == "list"


def test_complainant_mentions_carry_the_court_and_its_place(archive):
    """What the complainant linker reads (`store.linkage.complainant_mentions`), on both backends:
    the pseudonymised mention with its hearing's court, police force area and coordinates (the
    cross-court rule compares courts by distance)."""
    from courtarchive.store import linkage as L

    archive.write(doc(), content_hash="c1")
    [m] = L.complainant_mentions(archive).to_pylist()
    with archive.engine.connect() as c:
        court = c.execute(sa.select(TABLES["court"]).where(TABLES["court"].c.name == "Preston Magistrates' Court")).one()
    assert m["kind"] == "named" and m["token"] == "0a1b2c3d" * 4 and m["offence_code"] == "SX03001"
    assert m["court_id"] == court.id and m["area"] == "Lancashire Constabulary"
    assert (m["court_lat"], m["court_lon"]) == (pytest.approx(court.lat), pytest.approx(court.lon))
    assert isinstance(m["court_lat"], float)


def test_store_refuses_ungated_complainants(archive):
    d = doc()
    d.raw_complainants.append(RawComplainant(hearing_ref=0, name="Jane DOE", json_path="$.x"))
    with pytest.raises(StoreError, match="intake gate"):
        archive.write(d, content_hash="r")
    assert archive.stats()["publications"] == 0


def test_failed_write_leaves_nothing(archive):
    d = doc(n_hearings=3)
    d.offences[2].party_ref = 999  # a broken reference deep in the document
    with pytest.raises(IndexError):
        archive.write(d, content_hash="broken")
    st = archive.stats()
    assert st["publications"] == 0 and st["cases"] == 0
    with archive.engine.connect() as c:
        for t in ("hearing", "party", "offence", "complainant"):
            assert c.execute(sa.select(sa.func.count()).select_from(TABLES[t])).scalar_one() == 0
    assert archive.write(doc(n_hearings=3), content_hash="ok").status == "accepted"


def test_quarantine(archive):
    archive.quarantine(source_name="bad.json", reason="not JSON", json_path="$", content_hash="q")
    [q] = archive.quarantined()
    assert q["source_name"] == "bad.json" and q["reason"] == "not JSON"
    assert archive.stats()["quarantined"] == 1


def test_arrow_roundtrip_types(archive):
    archive.write(doc(n_hearings=5), content_hash="a")
    t = archive.to_arrow("hearing", current_only=True)
    assert t.num_rows == 5
    assert str(t.schema.field("sitting_date").type) == "date32[day]"
    assert t.column("sitting_date").to_pylist()[0] == dt.date(2024, 3, 4)
    o = archive.to_arrow("offence").to_pylist()
    assert o[0]["reporting_restriction"] is True


def test_uninitialised_archive_says_so(db_url):
    from courtarchive.store import Archive

    a = Archive.open(db_url)
    with pytest.raises(StoreError, match="courtarchive init"):
        a.require_initialised()


def test_analyze_gives_postgresql_tables_statistics(db_url):
    """After bulk writes the archive refreshes PostgreSQL's planner statistics itself (autovacuum
    may be off); on SQLite it is a no-op.  Tables below ANALYZE_MIN_ROWS are never analysed
    unasked, even by ``force``: an empty table's statistics would say "empty" after it grew."""
    from courtarchive.store import Archive

    a = Archive.open(db_url)
    a.init()
    if a.sqlite:
        assert a.analyze(force=True) == []
        a.close()
        return

    def never_analysed() -> set[str]:
        with a.engine.connect() as c:
            return {r[0] for r in c.exec_driver_sql(
                "SELECT relname FROM pg_stat_user_tables WHERE schemaname = current_schema() "
                "AND last_analyze IS NULL AND last_autoanalyze IS NULL")}

    with a.engine.connect() as c:
        courts = c.exec_driver_sql("SELECT count(*) FROM court").scalar()
    assert courts > 4                                     # init loads the reference table
    a.ANALYZE_MIN_ROWS = courts + 1
    assert a.analyze(force=True) == []                    # a fresh archive: no table that large
    assert {"party", "hearing", "search_key", "court"} <= never_analysed()
    a.ANALYZE_MIN_ROWS = 3
    assert a.analyze(force=True) == ["court"]             # the empty tables are left alone
    assert {"party", "hearing", "search_key"} <= never_analysed()
    with a.engine.begin() as c:                           # three rows in one table
        c.exec_driver_sql("INSERT INTO search_key (id, name_norm) VALUES (1, 'a'), (2, 'b'), (3, 'c')")
    assert a.analyze(force=True) == ["court", "search_key"]
    assert "search_key" not in never_analysed() and "party" in never_analysed()
    assert a.analyze(force=True) == ["court", "search_key"]   # force analyses them again
    assert a.analyze() == []                              # both were analysed; the rest are empty
    a.ANALYZE_MIN_ROWS = 4
    assert a.analyze(force=True) == ["court"]
    assert a.analyze(["party"]) == ["party"]              # named tables: always
    assert "party" not in never_analysed()
    a.close()


def test_id_list_parameter_reads_exactly_those_rows(archive):
    """`store.util.in_ids`: one parameter holds the whole id list (PostgreSQL an array, SQLite a
    JSON list read by json_each), for any number of ids, empty included; the SQL text is the same
    whatever the list, and the index on the column is what answers."""
    import sqlalchemy as sa

    from courtarchive.store.tables import TABLES
    from courtarchive.store.util import dicts, in_ids, statement

    Ct = TABLES["court"]
    dialect = archive.engine.dialect.name
    stmt = statement(f"test.courts_by_id.{dialect}", lambda: sa.select(Ct.c.id, Ct.c.name)
                     .where(in_ids(Ct.c.id, dialect)).order_by(Ct.c.id))
    with archive.engine.connect() as conn:
        every = [r[0] for r in conn.execute(sa.select(Ct.c.id).order_by(Ct.c.id))]
        assert len(every) > 300                      # the reference courts
        some = every[::7]
        assert [r["id"] for r in dicts(conn, stmt, {"ids": some})] == some
        assert [r["id"] for r in dicts(conn, stmt, {"ids": some + [10**12, -1]})] == some   # absent ids
        assert dicts(conn, stmt, {"ids": []}) == []
        assert [r["id"] for r in dicts(conn, stmt, {"ids": every})] == every
        if archive.sqlite:
            sql = str(stmt.compile(dialect=archive.engine.dialect))
            plan = " ".join(str(r) for r in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, ("[1, 2]",)))
            assert "json_each" in sql and "SEARCH court USING" in plan, plan


def test_postgresql_pool_pings_only_connections_left_idle(db_url, monkeypatch):
    """A pooled PostgreSQL connection is pinged before use only after PING_AFTER_IDLE seconds in
    the pool (`store.engine`): one the server dropped meanwhile is replaced without the caller
    seeing it; one used a moment ago is taken as it is, with no round trip -- were it dead, that
    statement fails and the next checkout connects afresh."""
    from courtarchive.store import engine as E

    if db_url.startswith("sqlite"):
        pytest.skip("PostgreSQL's connection pool")
    eng = E.make_engine(db_url)
    killer = sa.create_engine(os.environ["COURTARCHIVE_TEST_PG"])

    def pid() -> int:
        with eng.connect() as c:
            return c.exec_driver_sql("SELECT pg_backend_pid()").scalar()

    def kill(p: int) -> None:
        with killer.connect() as c:
            assert c.exec_driver_sql("SELECT pg_terminate_backend(%s)", (p,)).scalar()

    try:
        monkeypatch.setattr(E, "PING_AFTER_IDLE", 0.0)          # every checkout counts as idle
        first = pid()
        kill(first)
        second = pid()                                           # pinged, found dead, replaced
        assert second != first
        monkeypatch.setattr(E, "PING_AFTER_IDLE", 3600.0)       # every checkout counts as fresh
        kill(second)
        with pytest.raises(sa.exc.OperationalError):             # not pinged: the statement fails
            pid()
        assert pid() not in (first, second)                      # and the pool starts afresh
    finally:
        eng.dispose()
        killer.dispose()


def test_court_counts_kept_until_a_list_is_added(archive):
    """`store.serve.courts` counts hearing entries on current lists per court with a pass over
    every hearing, so the counts are kept until the number of publications changes: a second call
    does not count again; a later version of a list (superseding) and a new list are counted."""
    from courtarchive.store import serve as ss

    seen: list[str] = []

    def spy(conn, cursor, statement, *a):
        seen.append(statement)

    sa.event.listen(archive.engine, "before_cursor_execute", spy)
    try:
        archive.write(doc(n_hearings=3), content_hash="v1")
        preston = next(c for c in ss.courts(archive) if c["name"] == "Preston Magistrates' Court")
        assert preston["count"] == 3
        counted = [s for s in seen if "GROUP BY hearing.court_id" in s]
        assert len(counted) == 1
        assert next(c for c in ss.courts(archive) if c["name"] == "Preston Magistrates' Court")["count"] == 3
        assert len([s for s in seen if "GROUP BY hearing.court_id" in s]) == 1, "counted again with nothing new"
        # a later version with one hearing supersedes the first: 1, not 4
        archive.write(doc(n_hearings=1, version="2.0", published=dt.datetime(2024, 3, 4, 7)), content_hash="v2")
        assert next(c for c in ss.courts(archive) if c["name"] == "Preston Magistrates' Court")["count"] == 1
        archive.write(doc(court="Basingstoke Magistrates' Court", n_hearings=2), content_hash="b1")
        counts = {c["name"]: c["count"] for c in ss.courts(archive)}
        assert counts["Preston Magistrates' Court"] == 1 and counts["Basingstoke Magistrates' Court"] == 2
        assert len([s for s in seen if "GROUP BY hearing.court_id" in s]) == 3
    finally:
        sa.event.remove(archive.engine, "before_cursor_execute", spy)


def test_ids_people_type_follow_on_from_process_to_process(db_url):
    """Holds, subscriptions, rights requests ... are read and typed by id (`hold release 3`): each
    command (a process, an Archive) took its ids in a block of 10,000, so they went 1, 10001, 20001.
    Now such tables take one id at a time; the bulk tables keep their blocks."""
    from courtarchive.store import Archive
    from courtarchive.store.archive import ID_BLOCK, ONE_AT_A_TIME

    assert {"hold", "subscription", "rights_request", "beat", "restriction"} <= ONE_AT_A_TIME
    Archive.open(db_url).init()
    got = []
    for _ in range(3):                      # three commands, one after the other
        a = Archive.open(db_url)
        with a.engine.begin() as conn:
            got.append((a._take_ids(conn, "hold", 1), a._take_ids(conn, "hearing", 1)))
        a.close()
    assert [h for h, _ in got] == [1, 2, 3]
    assert [x for _, x in got] == [1, 1 + ID_BLOCK, 1 + 2 * ID_BLOCK]


def test_opening_an_archive_imports_neither_alembic_nor_pyarrow(sqlite_archive, tmp_path):
    """Every CLI command opens the archive; only migrations need Alembic and only Arrow reads and
    writes need pyarrow (~0.1 s each of a command's start): opening it, checking it is initialised
    and counting what it holds import neither."""
    import subprocess
    import sys

    code = ("import sys; from courtarchive.store import Archive; a = Archive.open(sys.argv[1]); "
            "a.require_initialised(); a.stats(); "
            "print(' '.join(m for m in ('alembic', 'pyarrow') if m in sys.modules) or 'neither')")
    r = subprocess.run([sys.executable, "-c", code, sqlite_archive.url], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == "neither"
    # nor do the commands that read a case or count the archive (serve.export, which they import
    # for the operator's name, imports pyarrow only to build an export)
    cli = ("import atexit, sys; atexit.register(lambda: print('pyarrow' in sys.modules, file=sys.stderr)); "
           "sys.argv = ['courtarchive', *sys.argv[1:]]; from courtarchive.serve.cli import main; main()")
    env = dict(os.environ, COURTARCHIVE_DB=sqlite_archive.url, COURTARCHIVE_HOME=str(tmp_path / "home"))
    for args in (["stats"], ["case", "NOSUCHURN"]):
        r = subprocess.run([sys.executable, "-c", cli, *args], capture_output=True, text=True, timeout=60, env=env)
        assert r.stderr.strip().splitlines()[-1] == "False", (args, r.stderr[-2000:])
