"""Search index SQL: the `search_name` rows and the engine indexes migration 0006 puts on them.

All SQL of name and case search lives here (serve.search holds the Python side: normalisation,
keys, ranking).  Two backends, one set of functions:

Two tables: ``search_name`` (one row per party mention: ids, dates, facets) and ``search_key``
(one row per distinct ``name_norm`` with its variant keys; migration 0010).  A search looks up and
ranks *names* in search_key (a common name is one row, not thousands), then fetches the mentions
of the names that scored (``mentions``: b-tree on search_name.name_norm, plus the facet filters).

SQLite      name candidates come from two FTS5 tables (external content = search_key) that the
            writers below keep in step in the same transaction (set-based statements; see
            migration 0006 for why not triggers): ``fts_search_key_keys`` (exact variant keys,
            ``detail=none``) and ``fts_search_key_name`` (trigram substrings).
PostgreSQL  the same keys through a GIN index on ``string_to_array(name_keys, ' ')`` (``&&``),
            substrings through the pg_trgm GIN index (``LIKE``), all on search_key; the
            planner's statistics are refreshed after bulk changes (`Archive.analyze`).  Functions are
            schema-qualified: the extension lives in ``public`` whatever the search_path.

search_key follows search_name: names of inserted rows are added if new, and a name goes (with
its FTS postings) when the last of its mentions is deleted.

Writers use bulk paths only: INSERT ... SELECT / UPDATE ... FROM / DELETE ... IN (SELECT ...),
and the store's executemany / COPY for the rows whose keys are computed in Python.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from operator import itemgetter
from typing import Iterable, Iterator, Sequence

import sqlalchemy as sa

from ..model.declaration import ENTITIES
from .archive import Archive
from .engine import writing
from .tables import TABLES
from .util import case_number_key_sql
from .util import chunks as _chunks

log = logging.getLogger(__name__)

T = TABLES
SN = ENTITIES["search_name"]
SK = ENTITIES["search_key"]

#: parties never indexed: authorities, lawyers, and (defensively: the intake gate never stores
#: them as parties) complainants and victims
EXCLUDED_ROLES = ("PROSECUTING_AUTHORITY", "COMPLAINANT", "COMPLAINANTS", "VICTIM", "APPLICANT_REPRESENTATIVE",
                  "APPLICANT_PETITIONER_REPRESENTATIVE", "RESPONDENT_REPRESENTATIVE", "CLAIMANT_REPRESENTATIVE",
                  "CLAIMANT_PETITIONER_REPRESENTATIVE", "DEFENDANT_REPRESENTATIVE", "PROSECUTOR")

#: columns written for each index row, in this order (serve.search builds the tuples; theirs hold
#: the name's keys after forenames_norm: those go to search_key, once per name)
INSERT_COLUMNS = ["id", "party_id", "person_id", "case_id", "hearing_id", "court_id", "sitting_date", "role",
                  "name_norm", "surname_norm", "forenames_norm", "birth_year", "town", "offence_groups"]

#: the first letter of a stored name's trigram keys (``t`` + three letters of a word) and of its
#: first-letters keys (``h`` + the first two letters of each of its ``e`` keys); serve.search
TRIGRAM_KEY = "t"
HEAD_KEY = "h"
#: PostgreSQL: a name's keys as the array its GIN index holds
_PG_KEYS = "string_to_array(k.name_keys, ' ')"

#: columns a search reads back (no name beyond what ranking needs), all in the covering index
#: ``ix_search_name_name_norm_9cols`` (migration 0012)
HIT_COLUMNS = ["party_id", "person_id", "case_id", "hearing_id", "court_id", "sitting_date", "name_norm",
               "offence_groups"]

_CHUNK = 500


def _date(archive: Archive, v):
    if v is None:
        return None
    if archive.sqlite:
        if isinstance(v, str):
            return dt.date.fromisoformat(v[:10])
        return v
    return v


# =========================================================================== maintenance
def lock(archive: Archive, conn) -> None:
    """Serialise index writers (SQLite: the caller's connection is a writer, BEGIN IMMEDIATE)."""
    if not archive.sqlite:
        conn.exec_driver_sql("SELECT pg_advisory_xact_lock(hashtext(current_schema() || '.search_name'))")


def writer(archive: Archive):
    """A write transaction for index writes (`store.engine.writing`) that writes in bulk
    (PostgreSQL: statements planned for the table as it is, see `store.engine`)."""
    return writing(archive.engine, bulk=True)


def _eligible_where(alias: str = "p") -> str:
    roles = ", ".join(f"'{r}'" for r in EXCLUDED_ROLES)
    return (f"pub.superseded_by IS NULL AND {alias}.pseudonymised IS NOT TRUE AND {alias}.is_masked IS NOT TRUE "
            f"AND {alias}.organisation_name IS NULL AND {alias}.role NOT IN ({roles}) "
            f"AND ({alias}.surname IS NOT NULL OR {alias}.forenames IS NOT NULL OR {alias}.name_as_listed IS NOT NULL) "
            f"AND ({alias}.surname IS NULL OR substr({alias}.surname, 1, 3) <> '~p:') "
            f"AND ({alias}.name_as_listed IS NULL OR substr({alias}.name_as_listed, 1, 3) <> '~p:')")


def source_rows(archive: Archive, conn, *, party_ids: Sequence[int] | None = None, missing_only: bool = True,
                batch: int = 20_000) -> Iterator[list[tuple]]:
    """Parties the index should hold and does not (or: these parties), with what an index row
    needs: (party_id, person_id, case_id, hearing_id, court_id, sitting_date, role, forenames,
    middle_names, surname, name_as_listed, date_of_birth, town, offence codes 'A,B')."""
    codes = ("(SELECT group_concat(DISTINCT o.code) FROM offence o WHERE o.party_id = p.id)" if archive.sqlite
             else "(SELECT string_agg(DISTINCT o.code, ',') FROM offence o WHERE o.party_id = p.id)")
    sql = (f"SELECT p.id, pm.person_id, p.case_id, p.hearing_id, h.court_id, h.sitting_date, p.role, p.forenames, "
           f"p.middle_names, p.surname, p.name_as_listed, p.date_of_birth, p.town, {codes} "
           f"FROM party p JOIN hearing h ON h.id = p.hearing_id JOIN publication pub ON pub.id = p.publication_id "
           f"LEFT JOIN person_mention pm ON pm.party_id = p.id "
           f"WHERE {_eligible_where()} ")
    ph = archive._ph
    if missing_only and party_ids is not None:     # these parties, when not indexed (a probe each)
        sql += "AND NOT EXISTS (SELECT 1 FROM search_name s WHERE s.party_id = p.id) "
    elif missing_only:
        # every party not indexed yet: an anti-join over the two id indexes first (a refresh with
        # nothing to do at 1M parties: 0.4 s instead of 2.6 s joining every party to its hearing
        # and publication before looking)
        sql += ("AND p.id IN (SELECT p2.id FROM party p2 LEFT JOIN search_name s ON s.party_id = p2.id "
                "WHERE s.id IS NULL) ")
    if party_ids is not None:
        for chunk in _chunks(sorted(set(party_ids))):
            rows = conn.exec_driver_sql(sql + f"AND p.id IN ({', '.join([ph] * len(chunk))})", tuple(chunk)).fetchall()
            if rows:
                yield [tuple(r) for r in rows]
        return
    cur = conn.exec_driver_sql(sql + "ORDER BY p.id")
    while True:
        rows = cur.fetchmany(batch)
        if not rows:
            break
        yield [tuple(r) for r in rows]


#: the engine indexes over search_key (SQLite FTS5, external content): (table, column)
FTS = (("fts_search_key_name", "name_norm"), ("fts_search_key_keys", "name_keys"))


#: a build into an empty search_name for at least this many parties writes without its indexes
#: (PostgreSQL: and foreign keys) and puts each back once at the end (`first_build`)
FIRST_BUILD_PARTIES = 20_000
#: PostgreSQL: how long the first build waits for the locks taking its indexes and foreign keys
#: off needs, before building with them (a reader or writer holding search_name or a table it references)
FIRST_BUILD_LOCK_TIMEOUT = "2s"


@contextlib.contextmanager
def first_build(archive: Archive, conn) -> Iterator[int]:
    """Inside the index writer's transaction: when search_name is empty and the archive has
    `FIRST_BUILD_PARTIES` parties or more (an archive's first index build, after its first load),
    take search_name's non-unique indexes -- and on PostgreSQL its foreign keys -- off while the
    block writes, and put them back at its end: each index built once over the finished table,
    each key checked once set-wise (`bulk.droppable`: the DDL as the database defines it).  Per-row
    foreign-key triggers were ~40 % of a first build's writing on PostgreSQL (1M entries 362 s,
    bench/RESULTS.md, session 24); keeping six indexes up row by row (one of them covering nine
    columns) most of the rest.  All in the one transaction: an error or a crash rolls the
    objects back with the rows, nothing to record.  On PostgreSQL searches wait for the build to
    commit (their table is locked), where they would have found nothing; SQLite's readers keep
    reading the empty index they had.  Yields how many objects are off (0: the rows are written
    with them on -- an index already holding rows, a small archive, or on PostgreSQL locks not
    had within `FIRST_BUILD_LOCK_TIMEOUT`)."""
    from .bulk import INDEX_BUILD_MEMORY, droppable, drop_sql

    def take_off() -> list[dict]:
        found = droppable(archive, conn, ("search_name",))
        for o in found:
            conn.exec_driver_sql(drop_sql(archive, o))
        return found

    off: list[dict] = []
    if (conn.exec_driver_sql("SELECT NOT EXISTS (SELECT 1 FROM search_name)").scalar()
            and conn.exec_driver_sql(f"SELECT count(*) >= {int(FIRST_BUILD_PARTIES)} FROM party").scalar()):
        if archive.sqlite:                  # (the writer's transaction holds the database: no wait)
            off = take_off()
        else:
            was = conn.exec_driver_sql("SHOW lock_timeout").scalar()
            try:
                with conn.begin_nested():
                    conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{FIRST_BUILD_LOCK_TIMEOUT}'")
                    off = take_off()
            except sa.exc.OperationalError as e:        # (lock timeout: rolled back to the savepoint)
                log.info("search index: first build with its indexes and foreign keys on (%s)",
                         str(e.orig).splitlines()[0])
            conn.exec_driver_sql("SELECT set_config('lock_timeout', %s, true)", (was,))
    yield len(off)
    if off and not archive.sqlite:          # (as a bulk load's put-back builds its indexes)
        conn.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{INDEX_BUILD_MEMORY}'")
    for o in off:
        conn.exec_driver_sql(o["ddl"])


def insert_rows(archive: Archive, conn, rows: list[tuple]) -> int:
    """rows: tuples of INSERT_COLUMNS without the id (ids are taken here, one contiguous block)."""
    if not rows:
        return 0
    first = archive._take_ids(conn, "search_name", len(rows))
    names = {r[7]: r[10] for r in rows}             # name_norm -> its keys
    if archive.sqlite:
        out = [(first + i, *r[:5], None if r[5] is None else r[5].isoformat() if hasattr(r[5], "isoformat") else r[5],
                *r[6:10], *r[11:]) for i, r in enumerate(rows)]
    else:
        out = [(first + i, *r[:10], *r[11:]) for i, r in enumerate(rows)]
    archive._bulk_insert(conn, SN, out, INSERT_COLUMNS)
    _add_names(archive, conn, names)
    return len(out)


def _add_names(archive: Archive, conn, names: dict[str, str]) -> int:
    """Put names (name_norm -> name_keys) not yet in search_key there (and into its FTS tables).

    PostgreSQL: one INSERT ... ON CONFLICT DO NOTHING, the unique index deciding.  A look-up of
    which names are there first (``name_norm IN (...)``) was planned on the trigram index while
    search_key had no statistics -- a fresh archive's first index build, inside its one
    transaction -- at ~1.3 s a look-up of 1,000 names and growing with the table: 100k entries'
    first build 154 s instead of 34 (bench/RESULTS.md, session 24).  Each name takes an id,
    kept or not (ids are not dense)."""
    if not archive.sqlite:
        new = sorted(names)
        first = archive._take_ids(conn, "search_key", len(new))
        return max(conn.exec_driver_sql(
            "INSERT INTO search_key (id, name_norm, name_keys) "
            "SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[]) ON CONFLICT (name_norm) DO NOTHING",
            (list(range(first, first + len(new))), new, [names[n] for n in new])).rowcount, 0)
    ph = archive._ph
    have: set[str] = set()
    for chunk in _chunks(sorted(names)):
        have.update(r[0] for r in conn.exec_driver_sql(
            f"SELECT name_norm FROM search_key WHERE name_norm IN ({', '.join([ph] * len(chunk))})", tuple(chunk)))
    new = sorted(n for n in names if n not in have)
    if not new:
        return 0
    first = archive._take_ids(conn, "search_key", len(new))
    archive._bulk_insert(conn, SK, [(first + i, n, names[n]) for i, n in enumerate(new)],
                         ["id", "name_norm", "name_keys"])
    for t, col in FTS:
        conn.exec_driver_sql(f"INSERT INTO {t}(rowid, {col}) SELECT id, {col} FROM search_key "
                             f"WHERE id >= ? AND id < ?", (first, first + len(new)))
    return len(new)


def _drop_orphan_names(archive: Archive, conn, names: Sequence[str]) -> int:
    """Remove from search_key (and, SQLite, its FTS tables) those of `names` no mention has now."""
    ph, n = archive._ph, 0
    for chunk in _chunks(sorted(set(names))):
        where = (f"name_norm IN ({', '.join([ph] * len(chunk))}) AND NOT EXISTS "
                 f"(SELECT 1 FROM search_name s WHERE s.name_norm = search_key.name_norm)")
        if archive.sqlite:
            for t, col in FTS:
                conn.exec_driver_sql(f"INSERT INTO {t}({t}, rowid, {col}) SELECT 'delete', id, {col} "
                                     f"FROM search_key WHERE {where}", tuple(chunk))
        n += max(conn.exec_driver_sql(f"DELETE FROM search_key WHERE {where}", tuple(chunk)).rowcount, 0)
    return n


def _delete_where(archive: Archive, conn, where: str, params: tuple = ()) -> int:
    """Delete index rows, then the names (search_key rows and postings) none of the rest has."""
    names = [r[0] for r in conn.exec_driver_sql(f"SELECT DISTINCT name_norm FROM search_name WHERE {where}", params)]
    if not names:
        return 0
    n = max(conn.exec_driver_sql(f"DELETE FROM search_name WHERE {where}", params).rowcount, 0)
    _drop_orphan_names(archive, conn, names)
    return n


def delete_stale(archive: Archive, conn) -> dict:
    """Rows whose party no longer belongs in the index: its publication was superseded by a later
    version, or the party was pseudonymised (expiry/erasure) or masked since."""
    n_sup = _delete_where(archive, conn, "party_id IN (SELECT p.id FROM party p JOIN publication pub "
                                         "ON pub.id = p.publication_id WHERE pub.superseded_by IS NOT NULL)")
    n_pse = _delete_where(archive, conn, "party_id IN (SELECT p.id FROM party p WHERE p.pseudonymised IS TRUE "
                                         "OR p.is_masked IS TRUE OR substr(p.surname, 1, 3) = '~p:')")
    return {"removed_superseded": n_sup, "removed_pseudonymised": n_pse}


def sync_persons(archive: Archive, conn) -> int:
    """person_id follows the link stage's current assignment (person_mention)."""
    if archive.sqlite:      # correlated look-ups on the unique person_mention.party_id index
        sub = "(SELECT pm.person_id FROM person_mention pm WHERE pm.party_id = search_name.party_id)"
        return max(conn.exec_driver_sql(f"UPDATE search_name SET person_id = {sub} WHERE person_id IS NOT {sub}")
                   .rowcount, 0)
    # PostgreSQL: one hash join instead of two sub-plans per row
    return max(conn.exec_driver_sql(
        "UPDATE search_name s SET person_id = x.person_id FROM (SELECT s2.id, pm.person_id FROM search_name s2 "
        "LEFT JOIN person_mention pm ON pm.party_id = s2.party_id) x "
        "WHERE x.id = s.id AND s.person_id IS DISTINCT FROM x.person_id").rowcount, 0)


def delete_parties(archive: Archive, conn, party_ids: Iterable[int]) -> int:
    ph, n = archive._ph, 0
    for chunk in _chunks(sorted(set(party_ids))):
        n += _delete_where(archive, conn, f"party_id IN ({', '.join([ph] * len(chunk))})", tuple(chunk))
    return n


#: an index write that adds or removes at least this many rows refreshes the planner's statistics
#: (PostgreSQL; removals: a vacuum as well) -- `settle`
ANALYZE_AFTER = 10_000
#: the index tables
TABLES_ANALYZED = ("search_name", "search_key")


def merge_pending(archive: Archive, conn) -> int:
    """PostgreSQL: merge the GIN indexes' pending lists into the indexes proper; returns the
    pending-list pages merged.  A GIN index takes new entries into an unsorted pending list (up
    to ``gin_pending_list_limit``, 4 MB) that every search then reads from end to end; autovacuum
    merges it, but may be off (it is on this machine) or late.  At 1M people ~470 pages of it
    were left in each of the two indexes after a rebuild: engine p50 15.8 -> 4.3 ms, p95 48.5 ->
    10.8 ms once merged (bench/RESULTS.md).  Index writers call this before they commit.
    SQLite: nothing (FTS5 has no such list)."""
    if archive.sqlite:
        return 0
    return int(conn.exec_driver_sql(
        "SELECT coalesce(sum(gin_clean_pending_list(i.indexrelid::regclass)), 0) FROM pg_index i "
        "JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am am ON am.oid = c.relam "
        "WHERE am.amname = 'gin' AND i.indrelid IN ('search_key'::regclass, 'search_name'::regclass)").scalar())


def settle(archive: Archive, *, changed: int, removed: int, rebuilt: bool = False) -> None:
    """PostgreSQL, once an index write has committed: VACUUM (ANALYZE) the index tables when it
    removed ANALYZE_AFTER rows or more, or was a rebuild that removed any -- a rebuild deletes every
    old row, and until a vacuum the indexes keep pointing at them, so each look-up reads dead rows
    (1M people: engine p95 21 ms right after a rebuild against 10 ms vacuumed); else refresh their
    statistics when it was a rebuild or added or removed that many.  Autovacuum would see to both,
    late, if it is on (it is off on this machine).  SQLite: nothing (a deleted FTS5 posting is
    gone; no statistics to keep)."""
    if archive.sqlite:
        return
    if removed >= ANALYZE_AFTER or (rebuilt and removed):
        with archive.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM (ANALYZE) " + ", ".join(TABLES_ANALYZED))
    elif rebuilt or changed >= ANALYZE_AFTER:
        archive.analyze(TABLES_ANALYZED)


def clear(archive: Archive, conn) -> int:
    n = max(conn.exec_driver_sql("DELETE FROM search_name").rowcount, 0)
    conn.exec_driver_sql("DELETE FROM search_key")
    if archive.sqlite:
        for t, _col in FTS:
            conn.exec_driver_sql(f"INSERT INTO {t}({t}) VALUES ('delete-all')")
    return n


def purge_deleted(archive: Archive) -> dict:
    """After rows were removed for governance: no fragment of them may stay in the engine indexes.
    SQLite: FTS5 'optimize' merges every segment, dropping deleted postings (the expiry job's
    VACUUM then frees the pages); PostgreSQL: VACUUM FULL rewrites the table and its indexes
    without the dead tuples."""
    if archive.sqlite:
        with writer(archive) as conn:
            conn.exec_driver_sql("PRAGMA secure_delete=ON")
            for t, _col in FTS:
                conn.exec_driver_sql(f"INSERT INTO {t}({t}) VALUES ('optimize')")
        return {"fts_optimized": True}
    with archive.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql("VACUUM FULL search_name")
        conn.exec_driver_sql("VACUUM FULL search_key")
    return {"vacuum_full": ["search_name", "search_key"]}


def status(archive: Archive) -> dict:
    with archive.engine.connect() as conn:
        rows, persons, parties_linked, newest = conn.exec_driver_sql(
            "SELECT count(*), count(DISTINCT person_id), count(person_id), max(sitting_date) FROM search_name").one()
        missing = conn.exec_driver_sql(
            "SELECT count(*) FROM party p JOIN publication pub ON pub.id = p.publication_id "
            "LEFT JOIN search_name s ON s.party_id = p.id WHERE s.id IS NULL AND " + _eligible_where()).scalar()
        out = {"rows": rows, "names": conn.exec_driver_sql("SELECT count(*) FROM search_key").scalar(),
               "persons": persons, "rows_linked": parties_linked,
               "newest_sitting_date": str(_date(archive, newest)) if newest else None, "missing": missing,
               "backend": "sqlite" if archive.sqlite else "postgresql"}
        if archive.sqlite:
            out["fts"] = {t: conn.exec_driver_sql(f"SELECT count(*) FROM {t}_docsize").scalar()
                          for t in ("fts_search_key_name",)}
        return out


# =========================================================================== querying
def _filters(archive: Archive, f: dict, params: list) -> str:
    ph, where = archive._ph, []
    if f.get("court_id") is not None:
        where.append(f"s.court_id = {ph}")
        params.append(int(f["court_id"]))
    if f.get("date_from") is not None:
        where.append(f"s.sitting_date >= {ph}")
        params.append(f["date_from"].isoformat() if archive.sqlite else f["date_from"])
    if f.get("date_to") is not None:
        where.append(f"s.sitting_date <= {ph}")
        params.append(f["date_to"].isoformat() if archive.sqlite else f["date_to"])
    if f.get("offence_group"):
        where.append(f"(' ' || s.offence_groups || ' ') LIKE {ph}")
        params.append(f"% {f['offence_group']} %")
    if f.get("role"):
        where.append(f"s.role = {ph}")
        params.append(f["role"])
    return "".join(f" AND {w}" for w in where)


def _fts_string(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def _clean(clauses: list[list[list[str]]] | None) -> list[list[list[str]]]:
    return [c for c in ([g for g in c if g] for c in clauses or []) if c]


def _fts_clauses(clauses: list[list[list[str]]]) -> str:
    return " OR ".join("(" + " AND ".join("(" + " OR ".join(_fts_string(k) for k in g) + ")" for g in c) + ")"
                       for c in clauses)


def candidates(archive: Archive, *, clauses: list[list[list[str]]], substrings: list[str], cap: int,
               sized: Sequence[tuple[list[list[list[str]]], int]] = ()) -> list[tuple]:
    """Names (search_key: ``(id, name_norm)``) matching any clause - a clause is a list of key
    groups, each of which must share a key with the name - or containing every one of
    `substrings`, or, for each
    ``(clauses, words)`` of `sized`, matching one of those clauses with exactly that many words;
    at most `cap` names."""
    clauses = _clean(clauses)
    sized = [(c, int(w)) for c, w in ((_clean(c), w) for c, w in sized) if c]
    params: list = []
    if archive.sqlite:
        subs = []
        if clauses:
            subs.append("SELECT rowid FROM fts_search_key_keys WHERE fts_search_key_keys MATCH ?")
            params.append(_fts_clauses(clauses))
        if substrings:
            subs.append("SELECT rowid FROM fts_search_key_name WHERE fts_search_key_name MATCH ?")
            params.append(" AND ".join(_fts_string(s) for s in substrings))
        # (one SELECT per part, UNIONed: an OR of IN-subqueries would scan the whole table)
        sel = "SELECT k.id, k.name_norm FROM search_key k WHERE "
        parts = [sel + f"k.id IN ({' UNION '.join(subs)})"] if subs else []
        for c, w in sized:
            parts.append(sel + "k.id IN (SELECT rowid FROM fts_search_key_keys WHERE fts_search_key_keys MATCH ?) "
                         "AND length(k.name_norm) - length(replace(k.name_norm, ' ', '')) = ?")
            params += [_fts_clauses(c), w - 1]
        if not parts:
            return []
        return _fetch(archive, " UNION ".join(parts) + f" LIMIT {int(cap)}", params)
    # PostgreSQL
    conds = []
    for group, words in [(clauses, None)] + list(sized):
        if not group:
            continue
        parts = []
        for c in group:
            parts.append("(" + " AND ".join(f"{_PG_KEYS} && %s::text[]" for _ in c) + ")")
            params.extend(list(g) for g in c)
        cond = "(" + " OR ".join(parts) + ")"
        if words is not None:
            cond = f"({cond} AND array_length(string_to_array(k.name_norm, ' '), 1) = %s)"
            params.append(words)
        conds.append(cond)
    if substrings:
        conds.append("(" + " AND ".join("k.name_norm LIKE %s" for _ in substrings) + ")")
        params.extend(f"%{_like_escape(s)}%" for s in substrings)
    if not conds:
        return []
    sql = f"SELECT k.id, k.name_norm FROM search_key k WHERE ({' OR '.join(conds)})"
    return _fetch(archive, _lowest_ids(sql, cap), params)


def _lowest_ids(sql: str, cap: int) -> str:
    """PostgreSQL: the first `cap` names of ``sql`` by id, as SQLite's FTS5 gives them (rowid
    order), so that a look-up reaching its cap keeps the same names on both backends and from one
    run to the next, whatever order a bitmap scan reads the table in.  The matches are
    materialised first: with a plain ORDER BY ... LIMIT the planner may walk the primary key
    instead, testing name after name (880 ms for a two-typo look-up at 1M people)."""
    return f"WITH m AS MATERIALIZED ({sql}) SELECT id, name_norm FROM m ORDER BY id LIMIT {int(cap)}"


def any_key(archive: Archive, keys: Sequence[str]) -> bool:
    """Does any name hold one of these keys?  (One index probe.)"""
    if not keys:
        return False
    if archive.sqlite:
        return bool(_fetch(archive, "SELECT rowid FROM fts_search_key_keys WHERE fts_search_key_keys MATCH ? LIMIT 1",
                           [" OR ".join(_fts_string(k) for k in keys)]))
    return bool(_fetch(archive, f"SELECT 1 FROM search_key k WHERE {_PG_KEYS} && %s::text[] LIMIT 1", [list(keys)]))


def mentions(archive: Archive, names: Sequence[str], *, filters: dict, cap: int) -> list[tuple]:
    """Index rows (HIT_COLUMNS) of these names (best first: the caller orders them), filtered; at
    most `cap` rows, in party id order.  (The caller keeps a person's first mention among equally
    good ones -- same score, same day -- as the one it shows: read in whatever order the backend's
    index scan left them, SQLite and PostgreSQL showed different mentions, cases and courts for
    the same person on the same archive.  Sorted here, it is the lowest party id on both.)"""
    if not names or cap <= 0:
        return []
    cols = ", ".join(f"s.{c}" for c in HIT_COLUMNS)
    ph = archive._ph
    out: list[tuple] = []
    for chunk in _chunks(names, 250):
        params: list = list(chunk)
        sql = (f"SELECT {cols} FROM search_name s WHERE s.name_norm IN ({', '.join([ph] * len(chunk))})"
               + _filters(archive, filters, params) + f" LIMIT {int(cap - len(out))}")
        out += _fetch(archive, sql, params)
        if len(out) >= cap:
            break
    out.sort(key=itemgetter(0))
    return out


def _fetch(archive: Archive, sql: str, params: list) -> list[tuple]:
    """A read on the pooled DBAPI connection itself: the hot path of a search skips
    SQLAlchemy's statement machinery and (SQLite, autocommit) the BEGIN/ROLLBACK round trip.

    PostgreSQL: every look-up here is meant for an index (GIN on the keys, pg_trgm on the names,
    the covering b-tree on a name's mentions), and each is capped with a LIMIT: with a LIMIT the
    planner expects early hits and may scan the table instead - 1.5 s for a key nothing has, 2.8 s
    for the two-edit look-up at 1M names - so sequential scans are turned off inside this read's
    transaction (the pool rolls it back when the connection is returned)."""
    raw = archive.engine.raw_connection()
    try:
        cur = raw.driver_connection.cursor()
        try:
            if not archive.sqlite:
                cur.execute("SET LOCAL enable_seqscan = off")
            cur.execute(sql, tuple(params))
            return cur.fetchall()
        finally:
            cur.close()
    finally:
        raw.close()


def _like_escape(s: str) -> str:
    return s.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def case_urns(archive: Archive, case_ids: Iterable[int]) -> dict[int, dict]:
    """Public facts of cases for listings: URN and case number (never the case key)."""
    C = T["case"]
    out: dict[int, dict] = {}
    with archive.engine.connect() as conn:
        for chunk in _chunks(sorted({c for c in case_ids if c is not None})):
            for r in conn.execute(sa.select(C.c.id, C.c.urn, C.c.case_number).where(C.c.id.in_(chunk))):
                out[r.id] = {"urn": r.urn, "case_number": r.case_number}
    return out


def court_names(archive: Archive, court_ids: Iterable[int]) -> dict[int, str]:
    Ct = T["court"]
    out: dict[int, str] = {}
    with archive.engine.connect() as conn:
        for chunk in _chunks(sorted({c for c in court_ids if c is not None})):
            out.update({r.id: r.name for r in conn.execute(sa.select(Ct.c.id, Ct.c.name).where(Ct.c.id.in_(chunk)))})
    return out


def _case_filter(archive: Archive, f: dict, params: list) -> str:
    ph, where = archive._ph, []
    if f.get("court_id") is not None:
        where.append(f"h.court_id = {ph}")
        params.append(int(f["court_id"]))
    if f.get("date_from") is not None:
        where.append(f"h.sitting_date >= {ph}")
        params.append(f["date_from"].isoformat() if archive.sqlite else f["date_from"])
    if f.get("date_to") is not None:
        where.append(f"h.sitting_date <= {ph}")
        params.append(f["date_to"].isoformat() if archive.sqlite else f["date_to"])
    if f.get("offence_codes") is not None or f.get("offence_titles") is not None:
        # an offence of the group in the case: by code, or by title (lists that give no code)
        codes, titles = list(f.get("offence_codes") or ()), list(f.get("offence_titles") or ())
        alts = ([f"og.code IN ({', '.join([ph] * len(codes))})"] if codes else []) + \
               ([f"og.title IN ({', '.join([ph] * len(titles))})"] if titles else [])
        where.append(f"EXISTS (SELECT 1 FROM offence og WHERE og.case_id = h.case_id AND ({' OR '.join(alts) or '1 = 0'}))")
        params.extend(codes + titles)
    return "".join(f" AND {w}" for w in where)


def cases_by_filter(archive: Archive, *, filters: dict, cap: int) -> tuple[list[tuple], int]:
    """Cases with a current hearing matching the filters alone (court, dates, offence group),
    latest first, and how many there are in all."""
    params: list = []
    flt = _case_filter(archive, filters, params)
    base = (f"FROM hearing h JOIN publication pub ON pub.id = h.publication_id "
            f"WHERE pub.superseded_by IS NULL{flt}")
    return _cases_page(archive, base, "h.case_id", params, cap)


def _cases_page(archive: Archive, base: str, case_col: str, params: list, cap: int) -> tuple[list[tuple], int]:
    """The cases of ``FROM ... WHERE ...`` ``base`` (its hearings as ``h``), latest first, at most
    `cap` -- (case_id, urn, case_number, last sitting date, hearings, court of the last hearing)
    -- and how many there are in all."""
    with archive.engine.connect() as conn:
        total = conn.exec_driver_sql(f"SELECT count(DISTINCT {case_col}) {base}", tuple(params)).scalar()
        rows = [tuple(r) for r in conn.exec_driver_sql(
            f"SELECT {case_col}, max(h.sitting_date), count(DISTINCT h.id) {base} GROUP BY {case_col} "
            f"ORDER BY max(h.sitting_date) DESC, {case_col} LIMIT {int(cap)}", tuple(params))]
    refs = case_urns(archive, [r[0] for r in rows])
    rows = [(cid, refs.get(cid, {}).get("urn"), refs.get(cid, {}).get("case_number"), last, n)
            for cid, last, n in rows]
    return _with_last_court(archive, rows), total


def cases_by_ref(archive: Archive, prefix: str, *, filters: dict, cap: int, whole: bool = False) -> list[tuple]:
    """Cases whose URN or case number starts with `prefix` (already upper-cased, spaces removed),
    or with ``whole`` is `prefix`: (case_id, urn, case_number, last sitting date, court of the last
    hearing, hearings).  B-tree range scans (or look-ups) on case.urn, which is stored normalised,
    and on the case number as normalised (`util.case_number_key_sql`: its expression index,
    migration 0017) -- a case number is stored as listed, "t 2019 0001" too (no LIKE: it would
    not use the index)."""
    if not prefix:
        return []
    ph, cn = archive._ph, case_number_key_sql()
    if whole:
        params: list = [prefix, prefix]
        refs = f"SELECT id FROM \"case\" WHERE urn = {ph} UNION SELECT id FROM \"case\" WHERE {cn} = {ph}"
    else:
        hi = prefix[:-1] + chr(ord(prefix[-1]) + 1)
        params = [prefix, hi, prefix, hi]
        refs = (f"SELECT id FROM \"case\" WHERE urn >= {ph} AND urn < {ph} "
                f"UNION SELECT id FROM \"case\" WHERE {cn} >= {ph} AND {cn} < {ph}")
    flt = _case_filter(archive, filters, params)
    sql = (f"SELECT c.id, c.urn, c.case_number, max(h.sitting_date), count(h.id) FROM \"case\" c "
           f"JOIN hearing h ON h.case_id = c.id JOIN publication pub ON pub.id = h.publication_id "
           f"WHERE c.id IN ({refs}) "
           f"AND pub.superseded_by IS NULL{flt} GROUP BY c.id, c.urn, c.case_number "
           f"ORDER BY max(h.sitting_date) DESC, c.id LIMIT {int(cap)}")
    with archive.engine.connect() as conn:
        rows = [tuple(r) for r in conn.exec_driver_sql(sql, tuple(params))]
    return _with_last_court(archive, rows)


def cases_by_codes(archive: Archive, codes: Sequence[str], *, filters: dict, cap: int) -> tuple[list[tuple], int]:
    """Cases charged with any of these offence codes (current publications), latest first, and
    how many there are in all."""
    if not codes:
        return [], 0
    ph = archive._ph
    params: list = list(codes)
    flt = _case_filter(archive, filters, params)
    base = (f"FROM offence o JOIN hearing h ON h.id = o.hearing_id JOIN publication pub ON pub.id = o.publication_id "
            f"WHERE o.code IN ({', '.join([ph] * len(codes))}) AND pub.superseded_by IS NULL{flt}")
    return _cases_page(archive, base, "o.case_id", params, cap)


def case_hearings(archive: Archive, case_ids: Sequence[int], *, filters: dict) -> dict[int, list[tuple]]:
    """The current hearings of these cases that pass the filters (court, dates, offence group), as
    (hearing id, sitting date, court id, publication id), in date order: what a case-search hit
    may show, before the viewer's disclosure check picks those it may see."""
    ph = archive._ph
    out: dict[int, list[tuple]] = {}
    with archive.engine.connect() as conn:
        for chunk in _chunks(sorted(set(case_ids))):
            params: list = list(chunk)
            sql = (f"SELECT h.case_id, h.id, h.sitting_date, h.court_id, h.publication_id FROM hearing h "
                   f"JOIN publication pub ON pub.id = h.publication_id WHERE pub.superseded_by IS NULL "
                   f"AND h.case_id IN ({', '.join([ph] * len(chunk))})")
            sql += _case_filter(archive, filters, params) + " ORDER BY h.case_id, h.sitting_date, h.id"
            for cid, hid, day, court, pub in conn.exec_driver_sql(sql, tuple(params)):
                out.setdefault(cid, []).append((hid, _date(archive, day), court, pub))
    return out


def _with_last_court(archive: Archive, rows: list[tuple]) -> list[tuple]:
    """Append the court of each case's latest current hearing."""
    if not rows:
        return rows
    ph = archive._ph
    courts: dict[int, int] = {}
    with archive.engine.connect() as conn:
        for chunk in _chunks([r[0] for r in rows]):
            for cid, court, _d in conn.exec_driver_sql(
                    f"SELECT h.case_id, h.court_id, h.sitting_date FROM hearing h JOIN publication pub "
                    f"ON pub.id = h.publication_id WHERE pub.superseded_by IS NULL AND h.case_id IN "
                    f"({', '.join([ph] * len(chunk))}) ORDER BY h.case_id, h.sitting_date, h.id", tuple(chunk)):
                courts[cid] = court                 # the last one in date order wins
    return [(*r[:3], _date(archive, r[3]), r[4], courts.get(r[0])) for r in rows]


def relaxed_candidates(archive: Archive, *, keys: list[str], grams: list[str], heads: list[str],
                       cap: int) -> list[tuple]:
    """Names (``(id, name_norm)``) sharing a variant key with one query word and, with the other
    words, a trigram or a word beginning with the same two letters (a word two edits away)."""
    if not keys or not (grams or heads):
        return []
    if archive.sqlite:
        anykey = " OR ".join(_fts_string(k) for k in keys)
        # the mistyped word itself usually has no key in the index: then the look-up below cannot
        # find anything, and would still read the posting lists of every trigram / prefix
        if not any_key(archive, keys):
            return []
        # one FTS5 query over the key index (trigram keys, migration 0013): FTS5 steps through the
        # posting lists of an AND together, so a common trigram ("ard": 36k names at 1M people) is
        # not read whole - 40-50 ms as an INTERSECT with the trigram index, 3-4 ms so
        alts = [_fts_string(TRIGRAM_KEY + g) for g in grams] + [_fts_string(HEAD_KEY + h) for h in heads]
        sql = ("SELECT k.id, k.name_norm FROM search_key k WHERE k.id IN "
               "(SELECT rowid FROM fts_search_key_keys WHERE fts_search_key_keys MATCH ?)")
        params = [f"({anykey}) AND ({' OR '.join(alts)})"]
        return _fetch(archive, sql + f" LIMIT {int(cap)}", params)
    # the same keys through the GIN index: a bitmap AND of two index scans
    params = [list(keys), [TRIGRAM_KEY + g for g in grams] + [HEAD_KEY + h for h in heads]]
    sql = f"SELECT k.id, k.name_norm FROM search_key k WHERE {_PG_KEYS} && %s::text[] AND {_PG_KEYS} && %s::text[]"
    return _fetch(archive, _lowest_ids(sql, cap), params)
