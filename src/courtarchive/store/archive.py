"""The archive store: the only code that reads or writes the SQL tables.

SQLite (one file, WAL, foreign keys on) is the embedded default; PostgreSQL the server mode.
Both sit behind the same functions.  Writes of a parsed document happen in ONE transaction:
either everything of a file is stored, or nothing (and a quarantine row says why).
Bulk rows go in with the DBAPI's executemany (SQLite) or COPY (PostgreSQL); ids come from
`id_sequence` blocks taken inside the same transaction.
"""

from __future__ import annotations

import csv
import datetime as dt
import importlib.resources
import functools
import os
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Iterator

import msgspec
import sqlalchemy as sa

from ..data.reference import name_key as _norm
from ..model import ENTITIES, RECORD_TYPES, ParsedList, PublicationMeta
from ..model.declaration import Entity
from . import migrate
from .engine import DatabaseError, describe, is_sqlite, make_engine, probe, writer_options, writing
from .tables import TABLES, id_sequence

if TYPE_CHECKING:
    import pyarrow as pa

T = TABLES

#: ids reserved from id_sequence per round trip (see Archive._take_ids)
ID_BLOCK = 10_000
#: tables whose ids people read and type (`hold release 3`, `alerts cancel reporter 4`, `rights
#: decide 2`, a link run's number): taken one at a time, so each command's ids follow the last
#: (in blocks, every process started at the next 10,000: 1, 10001, 20001 ...); rows come one by one
ONE_AT_A_TIME = frozenset({"account", "api_token", "beat", "domain_approval", "export_record", "hold", "link_run",
                           "quarantine", "restriction", "retention_run", "review_decision", "rights_request",
                           "subscription"})


class StoreError(Exception):
    pass


@dataclass
class WriteResult:
    status: str                      # accepted | duplicate
    publication_id: int
    hearings: int = 0
    parties: int = 0
    offences: int = 0
    complainants: int = 0
    superseded: list[int] = field(default_factory=list)


# --------------------------------------------------------------------------- value adaptors
def _sqlite_value(kind: str):
    """How the writer converts a value of ``kind`` for SQLite's driver itself (else None: as it is).
    Dates and bools need nothing: the store registers pysqlite adapters for them (store/engine.py)."""
    if kind == "datetime":
        return lambda v: None if v is None else v.isoformat(sep=" ", timespec="microseconds")
    return None


_COURT_WORDS = re.compile(r"\b(magistrates|crown|court|courts|combined|centre|center|justice|law|the|and|county|family|of)\b")


def _name_core(s: str | None) -> str:
    return re.sub(r"\s+", " ", _COURT_WORDS.sub(" ", _norm(s))).strip()


class CourtResolver:
    """Finds the court a list means: by FaCT id, Crown code (of one court), name, then postcode."""

    def __init__(self, rows: list[dict]):
        self.by_id = {r["id"]: r for r in rows}
        self.by_fact = {str(r["fact_court_id"]): r for r in rows if r["fact_court_id"]}
        self.by_slug = {r["slug"]: r for r in rows if r["slug"]}
        self.by_name: dict[str, dict] = {}
        self.by_core: dict[tuple[str, str], list[dict]] = {}
        self.by_postcode: dict[str, list[dict]] = {}
        crown: dict[str, list[dict]] = {}
        for r in rows:
            if r["crown_court_code"] and "Crown" in (r["court_types"] or ""):
                crown.setdefault(str(r["crown_court_code"]), []).append(r)
            self.by_name.setdefault(_norm(r["name"]), r)
            for fam in ("magistrates", "crown", "other"):
                self.by_core.setdefault((fam, _name_core(r["name"])), []).append(r)
            if r["postcode"]:
                self.by_postcode.setdefault(r["postcode"].replace(" ", "").upper(), []).append(r)
        # a Crown court code several courts share (448: two court centres in Preston) names none of
        # them: a list giving it is resolved by its court name or postcode, as one without a code
        self.by_crown: dict[str, dict] = {c: rs[0] for c, rs in crown.items() if len(rs) == 1}

    @staticmethod
    def _family(list_type: str) -> str:
        lt = (list_type or "").upper()
        if lt.startswith("CROWN"):
            return "crown"
        if lt.startswith(("MAGISTRATES", "SJP")):
            return "magistrates"
        return "other"

    def resolve(self, *, list_type: str, name: str | None, code: str | None,
                postcode: str | None) -> dict | None:
        fam = self._family(list_type)
        want = {"crown": "Crown Court", "magistrates": "Magistrates' Court"}.get(fam)
        if code:
            c = str(code).strip()
            if c in self.by_fact:
                return self.by_fact[c]
            if c in self.by_slug:
                return self.by_slug[c]
            if fam == "crown" and c in self.by_crown:
                return self.by_crown[c]
        if name:
            r = self.by_name.get(_norm(name))
            if r:
                return r
            cands = self.by_core.get((fam, _name_core(name)), [])
            if want:
                typed = [c for c in cands if want in (c["court_types"] or "")]
                cands = typed or cands
            if cands:
                return sorted(cands, key=lambda c: (c["source"] != "reference", c["id"]))[0]
        if postcode:
            cands = self.by_postcode.get(postcode.replace(" ", "").upper(), [])
            if want:
                cands = [c for c in cands if want in (c["court_types"] or "")] or cands
            if len(cands) >= 1:
                return cands[0]
        return None

    def add(self, row: dict) -> None:
        self.by_id[row["id"]] = row
        self.by_name.setdefault(_norm(row["name"]), row)
        for fam in ("magistrates", "crown", "other"):
            self.by_core.setdefault((fam, _name_core(row["name"])), []).append(row)


_SPACES = re.compile(r"\s+")


def _case_key(h, parties_of_hearing: list, court_id: int | None) -> str | None:
    if h.case_key:
        return h.case_key
    urn = (h.case_urn or "").strip()
    if urn:
        return "urn:" + _SPACES.sub("", urn).upper()
    cn = (h.case_number or "").strip()
    defendant = next((p for p in parties_of_hearing if p.role == "DEFENDANT"), None)
    dkey = ""
    if defendant is not None:
        dkey = _norm(" ".join(x for x in (defendant.surname, defendant.forenames,
                                           defendant.organisation_name, defendant.name_as_listed) if x))
    if cn:
        return f"cn:{court_id or h.court_name or ''}:{cn.upper()}:{dkey}"
    if h.case_name:
        return f"name:{court_id or h.court_name or ''}:{_norm(h.case_name)}"
    return None


class Archive:
    """One archive: a database (SQLite file or PostgreSQL) holding the canonical model."""

    def __init__(self, url: str):
        self.url = url
        self.engine = make_engine(url)
        self._courts: CourtResolver | None = None
        self._id_blocks: dict[str, tuple[int, int]] = {}
        self._pending_courts: list[dict] = []
        self._ph = "?" if is_sqlite(self.engine) else "%s"   # DBAPI placeholder

    # ------------------------------------------------------------------ lifecycle
    @classmethod
    def open(cls, url: str | None = None) -> "Archive":
        if url is None:
            from ..config import settings

            url = settings().db_url
        a = cls(url)
        probe(a.engine)              # a URL that cannot be used: one DatabaseError naming it, here
        return a

    @property
    def sqlite(self) -> bool:
        return is_sqlite(self.engine)

    def init(self) -> dict:
        """Create or upgrade the schema (Alembic) and load the court reference table.  A database
        (PostgreSQL: the schema of its search_path) not yet initialised that already holds a table
        of courtarchive's name is refused, naming the tables (DatabaseError): nothing is created."""
        if migrate.current(self.engine) is None:
            self._refuse_foreign_tables()
        else:
            # what a bulk load that died took off goes back before any migration reads the schema;
            # one still running has it off: no migration under its feet
            from .bulk import pending, restore_interrupted

            if restore_interrupted(self) is None and pending(self):
                raise StoreError("a bulk load (`ingest --bulk`) is running on this archive with its indexes "
                                 "taken off: run init when it has ended")
        migrate.upgrade(self.engine)
        loaded = self._load_reference_courts()
        db = self.engine.url.database if self.sqlite else None
        if db and db != ":memory:" and os.path.exists(db):
            # the file holds raw identities: its owner's only (0600, as the key file); SQLite gives
            # the -wal and -shm files it makes later the database's mode (those open now: set here)
            for f in (db, db + "-wal", db + "-shm"):
                if os.path.exists(f):
                    os.chmod(f, 0o600)
        return {"revision": migrate.current(self.engine), "courts_loaded": loaded}

    def _refuse_foreign_tables(self) -> None:
        from .tables import metadata

        ours = set(metadata.tables)
        with self.engine.connect() as conn:
            there = set(sa.inspect(conn).get_table_names())
        clash = sorted(there & ours)
        if clash:
            raise DatabaseError(
                f"cannot initialise {describe(self.engine.url)}: it is not initialised but already holds "
                f"{len(clash)} table(s) named as courtarchive's ({', '.join(clash[:8])}{', ...' if len(clash) > 8 else ''}): "
                "another application's, or an archive whose alembic_version table is gone; give courtarchive a "
                "schema of its own (PostgreSQL: ?options=-csearch_path%3DNAME, after CREATE SCHEMA NAME) or a "
                "database of its own")

    def is_initialised(self) -> bool:
        return migrate.current(self.engine) is not None

    def require_initialised(self) -> None:
        if not self.is_initialised():
            raise StoreError(f"the archive at {self.engine.url.render_as_string()} is not initialised: "
                             "run `courtarchive init` first")

    def close(self) -> None:
        self.engine.dispose()

    #: tables with fewer rows than this are left to the planner's defaults
    ANALYZE_MIN_ROWS = 1000

    def analyze(self, tables: Iterable[str] | None = None, *, force: bool = False, conn=None) -> list[str]:
        """PostgreSQL: refresh the planner's statistics after bulk writes - of ``tables``, else of
        the archive's tables never analysed yet that hold ANALYZE_MIN_ROWS rows or more, or
        (``force``) of every table holding that many, analysed before or not; inside ``conn``'s
        transaction when given.  Not left to autovacuum, which may be off (it is on this machine)
        or not have run yet: on a freshly loaded 1M-entry archive the API's search answers went
        from p95 65 to 49 ms once the tables had statistics, and without them a name's mentions
        were read by a sequential scan (125 ms instead of ~1 ms).

        A table below ANALYZE_MIN_ROWS is never analysed unasked, empty ones above all: statistics
        saying "empty" outlive the table's growth in a prepared statement's generic plan (the
        1M-people search rebuild that did not finish, bench/RESULTS.md), while a table never
        analysed is planned from its size on disk.  ``force`` counts rows with a bounded probe,
        not from pg_stat_user_tables, whose counts may lag the writer that just committed.
        SQLite: nothing.  Returns the tables analysed."""
        if self.sqlite:
            return []
        if conn is None:
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                return self.analyze(tables, force=force, conn=c)
        if tables is not None:
            names = sorted(set(tables))
        else:
            from .tables import metadata

            ours = set(metadata.tables)
            rows = conn.exec_driver_sql(
                "SELECT relname, n_live_tup, last_analyze IS NULL AND last_autoanalyze IS NULL "
                "FROM pg_stat_user_tables WHERE schemaname = current_schema()").all()
            if force:
                names = sorted(t for t, _n, _never in rows if t in ours and self._holds(conn, t, self.ANALYZE_MIN_ROWS))
            else:
                names = sorted(t for t, n, never in rows if t in ours and never and n >= self.ANALYZE_MIN_ROWS)
        for t in names:
            conn.exec_driver_sql(f'ANALYZE "{t}"')
        return names

    @staticmethod
    def _holds(conn, table: str, n: int) -> bool:
        """Whether ``table`` holds at least n rows (reads n rows at most)."""
        return conn.exec_driver_sql(
            f'SELECT count(*) FROM (SELECT 1 FROM "{table}" LIMIT {int(n)}) s').scalar() >= max(n, 1)

    def drop_all(self) -> None:
        """Remove every table (tests, and `init --reset`).  Not in a schema whose alembic_version
        records another application's revisions (`migrate.current` refuses it, DatabaseError):
        its tables of courtarchive's names (party, case, court, ...) and its version table are not
        the archive's to drop -- nor in one with no version table at all that holds tables of those
        names (refused as `init` refuses it).  (The data generation's row goes with the tables:
        the engine's commit listener finds no table to move it in, `engine.GENERATION`.)"""
        from .tables import metadata

        if migrate.current(self.engine) is None:
            self._refuse_foreign_tables()
        with writing(self.engine) as conn:
            metadata.drop_all(conn)
            conn.exec_driver_sql("DROP TABLE IF EXISTS alembic_version")

    # ------------------------------------------------------------------ ids and bulk rows
    def _take_ids(self, conn, name: str, n: int) -> int:
        """Reserve n ids for table `name`; returns the first. Runs inside the caller's txn.

        Ids are reserved from `id_sequence` in blocks of at least ID_BLOCK (`ONE_AT_A_TIME` tables:
        as many as asked for) and handed out from memory; the block belongs to the transaction that
        reserved it (`_forget_ids` drops it when that transaction rolls back, so no id can be handed
        out twice)."""
        if n <= 0:
            return 0
        nxt, end = self._id_blocks.get(name, (0, 0))
        if nxt + n > end:
            size = n if name in ONE_AT_A_TIME else max(n, ID_BLOCK)
            take = f"UPDATE id_sequence SET next_id = next_id + {int(size)} WHERE name = {self._ph} RETURNING next_id"
            row = conn.exec_driver_sql(take, (name,)).first()
            if row is None:
                # the table's first ids: its counter starts at 1 -- unless another process's
                # transaction starts it at the same moment (two link runs, two accounts added):
                # then that one's row stands and this one takes the next block from it
                conn.exec_driver_sql(f"INSERT INTO id_sequence (name, next_id) VALUES ({self._ph}, 1) "
                                     "ON CONFLICT (name) DO NOTHING", (name,))
                row = conn.exec_driver_sql(take, (name,)).first()
            nxt, end = row[0] - size, row[0]
        self._id_blocks[name] = (nxt + n, end)
        return nxt

    def _forget_ids(self) -> None:
        self._id_blocks = {}

    def _bulk_insert(self, conn, entity: Entity, rows: list[tuple], columns: list[str]) -> None:
        if not rows:
            return
        if self.sqlite:
            sql = (f'INSERT INTO "{entity.name}" ({", ".join(columns)}) '
                   f'VALUES ({", ".join("?" * len(columns))})')
            conn.connection.driver_connection.executemany(sql, rows)
        else:
            raw = conn.connection.driver_connection
            with raw.cursor().copy(f'COPY "{entity.name}" ({", ".join(columns)}) FROM STDIN') as cp:
                for r in rows:
                    cp.write_row(r)

    @functools.lru_cache(maxsize=None)
    def _row_plan(self, name: str):
        """Per entity: stored record fields, their positions in the record, value adaptors."""
        entity = ENTITIES[name]
        rtype = RECORD_TYPES[name] if name in RECORD_TYPES else PublicationMeta
        order = {f: i for i, f in enumerate(rtype.__struct_fields__)}
        recfields = [f for f in entity.columns if f.parsed and f.name != "id"]
        idx = [order[f.name] for f in recfields]
        # psycopg takes Python values as they are; SQLite gets the text SQLAlchemy would store
        conv = [(j, _sqlite_value(f.kind)) for j, f in enumerate(recfields)
                if self.sqlite and _sqlite_value(f.kind)]
        return [f.name for f in recfields], idx, conv

    def _rows(self, name: str, records: list, ids, extra: dict[str, list]) -> tuple[list[str], list[tuple]]:
        """Turn records into tuples: id, the entity's stored record fields, resolved extras.
        Works column by column (a transpose, then the adaptors on the few columns that need one)."""
        names, idx, conv = self._row_plan(name)
        astuple = msgspec.structs.astuple
        fields = list(zip(*map(astuple, records)))            # one tuple per record field
        columns = [ids] + [fields[j] for j in idx]
        for j, c in conv:
            col = columns[1 + j]
            if any(v is not None for v in col):
                columns[1 + j] = [None if v is None else c(v) for v in col]
        columns += extra.values()
        return ["id"] + names + list(extra), list(zip(*columns))

    # ------------------------------------------------------------------ courts
    def _load_reference_courts(self) -> int:
        with writing(self.engine) as conn:
            have = conn.execute(sa.select(sa.func.count()).select_from(T["court"])
                                .where(T["court"].c.source == "reference")).scalar_one()
            if have:
                return 0
            text = importlib.resources.files("courtarchive.data").joinpath("courts.csv").read_text("utf-8")
            rows = list(csv.DictReader(text.splitlines()))
            first = self._take_ids(conn, "court", len(rows))
            recs = []
            for i, r in enumerate(rows):
                recs.append(dict(
                    id=first + i, fact_court_id=int(r["fact_court_id"]), name=r["name"], slug=r["slug"],
                    court_types=r["court_types"] or None, town=r["town"] or None,
                    postcode=r["postcode"] or None,
                    lat=float(r["lat"]) if r["lat"] else None, lon=float(r["lon"]) if r["lon"] else None,
                    crown_court_code=r["crown_court_code"] or None, magistrate_code=r["magistrate_code"] or None,
                    police_force_area=r["police_force_area"] or None, country=r["country"] or None,
                    region=r["fact_region"] or None, source="reference"))
            conn.execute(sa.insert(T["court"]), recs)
            self._courts = None
            return len(recs)

    def _court_resolver(self, conn) -> CourtResolver:
        if self._courts is None:
            rows = [dict(r._mapping) for r in conn.execute(sa.select(T["court"]))]
            self._courts = CourtResolver(rows)
        return self._courts

    def _hearing_courts_and_keys(self, conn, parsed: ParsedList, court_id: int | None
                                 ) -> tuple[list[int | None], list[str | None]]:
        """Each hearing's court (its own court name/code when the list gives one, else the
        list's court) and case key -- the same for a file written alone or in a group."""
        parties_by_h: dict[int, list] = {}
        # (only a hearing with neither a case key nor a URN keys its case by its defendant's name)
        if any(not h.case_key and not (h.case_urn or "").strip() for h in parsed.hearings):
            for p in parsed.parties:
                parties_by_h.setdefault(p.hearing_ref, []).append(p)
        h_court: list[int | None] = []
        court_cache: dict[tuple, int | None] = {}
        for h in parsed.hearings:
            k = (h.court_name, h.court_code)
            if k not in court_cache:
                court_cache[k] = (court_id if (not h.court_name and not h.court_code) else
                                  self._resolve_court(conn, list_type=parsed.meta.list_type, name=h.court_name,
                                                      code=h.court_code, postcode=None) or court_id)
            h_court.append(court_cache[k])
        keys = [_case_key(h, parties_by_h.get(i, []), h_court[i]) for i, h in enumerate(parsed.hearings)]
        return h_court, keys

    def _resolve_court(self, conn, *, list_type, name, code, postcode) -> int | None:
        res = self._court_resolver(conn)
        r = res.resolve(list_type=list_type, name=name, code=code, postcode=postcode)
        if r is not None:
            return r["id"]
        if not name:
            return None
        # a court we do not know: keep it, marked as seen in a list
        cid = self._take_ids(conn, "court", 1)
        row = dict(id=cid, name=name.strip(), postcode=postcode, source="list", fact_court_id=None,
                   slug=None, court_types=None, town=None, lat=None, lon=None,
                   crown_court_code=code if res._family(list_type) == "crown" else None,
                   magistrate_code=None, police_force_area=None, country=None, region=None)
        conn.execute(sa.insert(T["court"]), [row])
        self._pending_courts.append(row)
        res.add(row)  # forgotten again (cache reset) if the transaction rolls back
        return cid

    # ------------------------------------------------------------------ writing a document
    def has_publication(self, content_hash: str) -> int | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(T["publication"].c.id)
                                .where(T["publication"].c.content_hash == content_hash)).scalar()

    def publication_lookup(self) -> "PublicationLookup":
        """`has_publication` for a process that asks once per file (an ingest's duplicate check):
        one DB-API connection kept open and one SQL string, instead of SQLAlchemy's statement
        building, pool checkout and BEGIN / ROLLBACK per call (11 % of an in-process ingest's
        samples, bench/RESULTS.md).  Each look-up sees what has been committed before it (SQLite:
        autocommit reads; PostgreSQL: the transaction a SELECT opens is ended after it).
        ``close()`` gives the connection back."""
        return PublicationLookup(self.engine.raw_connection(), self.sqlite,
                                 f"SELECT id FROM publication WHERE content_hash = {self._ph}")

    def write(self, parsed: ParsedList, *, content_hash: str) -> WriteResult:
        """Store one parsed, gated document in one transaction. Idempotent by content hash."""
        with self.writer() as w:
            return w.write(parsed, content_hash=content_hash)

    def writer(self, *, max_files: int = 200, max_seconds: float = 1.0, max_rows: int = 50_000) -> "Writer":
        """A writing session for many files: each file is atomic (all of it or nothing of it),
        and files are committed in groups (every `max_files` files, `max_rows` rows or
        `max_seconds`), which saves a commit per small file.  A crash loses at most the
        uncommitted group, which the next (idempotent) run stores again.

        `Writer.write` stores one file at once (in a SAVEPOINT); `Writer.add` buffers files and
        stores a whole group with one executemany / COPY per table (see `_write_group`)."""
        return Writer(self, max_files=max_files, max_seconds=max_seconds, max_rows=max_rows)

    def _write(self, conn, parsed: ParsedList, content_hash: str) -> WriteResult:
        if parsed.raw_complainants:
            raise StoreError("refusing to store a document whose complainants have not passed the "
                             "intake gate (ParsedList.raw_complainants is not empty)")
        P = T["publication"]
        existing = conn.exec_driver_sql(f"SELECT id FROM publication WHERE content_hash = {self._ph}",
                                        (content_hash,)).scalar()
        if existing is not None:
            return WriteResult("duplicate", existing)
        meta = parsed.meta
        court_id = self._resolve_court(conn, list_type=meta.list_type, name=meta.court_name,
                                       code=meta.court_code, postcode=meta.court_postcode)
        pub_id = self._take_ids(conn, "publication", 1)
        pub = msgspec.structs.asdict(meta)
        pub.update(id=pub_id, court_id=court_id, content_hash=content_hash,
                   ingested_at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None),
                   entry_count=len(parsed.hearings), superseded_by=None, raw_expired_at=None)
        conn.execute(sa.insert(P), [pub])

        # hearings: resolve courts and cases
        hearings = parsed.hearings
        h_court, keys = self._hearing_courts_and_keys(conn, parsed, court_id)
        case_ids = self._cases(conn, hearings, keys, h_court, pub_id)

        h0 = self._take_ids(conn, "hearing", len(hearings))
        hearing_ids = [h0 + i for i in range(len(hearings))]
        self._insert(conn, "hearing", hearings, hearing_ids,
                     publication_id=[pub_id] * len(hearings), case_id=case_ids, court_id=h_court)

        parties = parsed.parties
        p0 = self._take_ids(conn, "party", len(parties))
        party_ids = [p0 + i for i in range(len(parties))]
        self._insert(conn, "party", parties, party_ids,
                     publication_id=[pub_id] * len(parties),
                     hearing_id=[hearing_ids[p.hearing_ref] for p in parties],
                     case_id=[case_ids[p.hearing_ref] for p in parties],
                     pseudonymised=[False] * len(parties))

        offences = parsed.offences
        o0 = self._take_ids(conn, "offence", len(offences))
        offence_ids = [o0 + i for i in range(len(offences))]
        o_h = [parties[o.party_ref].hearing_ref for o in offences]
        self._insert(conn, "offence", offences, offence_ids,
                     publication_id=[pub_id] * len(offences),
                     party_id=[party_ids[o.party_ref] for o in offences],
                     hearing_id=[hearing_ids[h] for h in o_h],
                     case_id=[case_ids[h] for h in o_h])

        comps = parsed.complainants
        c0 = self._take_ids(conn, "complainant", len(comps))
        self._insert(conn, "complainant", comps, [c0 + i for i in range(len(comps))],
                     publication_id=[pub_id] * len(comps),
                     offence_id=[None if c.offence_ref is None else offence_ids[c.offence_ref] for c in comps],
                     hearing_id=[hearing_ids[c.hearing_ref] for c in comps],
                     case_id=[case_ids[c.hearing_ref] for c in comps])

        superseded = self._supersede(conn, pub_id, meta, court_id)
        return WriteResult("accepted", pub_id, len(hearings), len(parties), len(offences), len(comps),
                           superseded)

    # ------------------------------------------------------------------ writing a group of documents
    def _write_group(self, conn, docs: list[tuple[ParsedList, str]]) -> list[WriteResult]:
        """Store many parsed, gated documents at once: one executemany (SQLite) or COPY
        (PostgreSQL) per table for the whole group, a handful of look-ups in all.

        The outcome is the one `_write` gives file after file, in order: duplicates (already
        archived, or the same content twice in the group), case keys, case numbers filled in,
        superseding and each file's `WriteResult` are worked out in memory in file order.  The
        caller runs it in one transaction and, should it fail, writes the group again file by
        file (`Writer.flush`), so that a bad file is quarantined and the others land."""
        for parsed, _ in docs:
            if parsed.raw_complainants:
                raise StoreError("refusing to store a document whose complainants have not passed the "
                                 "intake gate (ParsedList.raw_complainants is not empty)")
        results: list[WriteResult | None] = [None] * len(docs)
        known = self._existing_hashes(conn, [h for _, h in docs])
        fresh: list[int] = []
        first_of: dict[str, int] = {}
        for i, (_, h) in enumerate(docs):
            if h in known:
                results[i] = WriteResult("duplicate", known[h])
            elif h in first_of:
                results[i] = first_of[h]          # resolved to the first copy's id below
            else:
                first_of[h] = i
                fresh.append(i)
        if not fresh:
            return results
        pub0 = self._take_ids(conn, "publication", len(fresh))

        # pass 1: courts and case keys of every document
        plan = []
        all_keys: set[str] = set()
        for n, i in enumerate(fresh):
            parsed, h = docs[i]
            meta = parsed.meta
            court_id = self._resolve_court(conn, list_type=meta.list_type, name=meta.court_name,
                                           code=meta.court_code, postcode=meta.court_postcode)
            h_court, keys = self._hearing_courts_and_keys(conn, parsed, court_id)
            all_keys.update(k for k in keys if k)
            plan.append((i, pub0 + n, court_id, h_court, keys))
        found, unnumbered = self._case_ids(conn, all_keys)
        fill: dict[str, str] = {}              # archived case without a number -> the first one listed
        case_next = self._take_ids(conn, "case", len(all_keys - found.keys()))

        # pass 2: ids, cases and rows, file after file
        counts = {name: 0 for name in ("hearing", "party", "offence", "complainant")}
        for i, *_ in plan:
            parsed = docs[i][0]
            counts["hearing"] += len(parsed.hearings)
            counts["party"] += len(parsed.parties)
            counts["offence"] += len(parsed.offences)
            counts["complainant"] += len(parsed.complainants)
        base = {name: self._take_ids(conn, name, n) for name, n in counts.items()}
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        pubs: list = []
        pub_x: dict[str, list] = {c: [] for c in ("court_id", "content_hash", "ingested_at", "entry_count",
                                                  "superseded_by", "raw_expired_at")}
        recs: dict[str, list] = {name: [] for name in counts}
        ids: dict[str, list] = {name: [] for name in counts}
        x: dict[str, dict[str, list]] = {
            "hearing": {"publication_id": [], "case_id": [], "court_id": []},
            "party": {"publication_id": [], "hearing_id": [], "case_id": [], "pseudonymised": []},
            "offence": {"publication_id": [], "party_id": [], "hearing_id": [], "case_id": []},
            "complainant": {"publication_id": [], "offence_id": [], "hearing_id": [], "case_id": []},
        }
        case_rows: list[list] = []
        new_cases: dict[str, list] = {}
        stamp = _sqlite_value("datetime")(now) if self.sqlite else now
        for i, pub_id, court_id, h_court, keys in plan:
            parsed, h = docs[i]
            pubs.append(parsed.meta)
            for c, v in (("court_id", court_id), ("content_hash", h), ("ingested_at", stamp),
                         ("entry_count", len(parsed.hearings)), ("superseded_by", None), ("raw_expired_at", None)):
                pub_x[c].append(v)
            # cases, as `_cases` would find and create them for this file
            mine = set()
            for k in sorted({k for k in keys if k}):
                if k not in found:
                    found[k] = case_next
                    case_next += 1
                    mine.add(k)
            seen = set()
            for hr, k, court in zip(parsed.hearings, keys, h_court):
                if not k:
                    continue
                if k in mine:
                    if k not in seen:
                        seen.add(k)
                        row = [found[k], k, k[4:] if k.startswith("urn:") else None, hr.case_number, court, pub_id]
                        new_cases[k] = row
                        case_rows.append(row)
                elif hr.case_number:
                    # `_cases`: UPDATE ... SET case_number WHERE case_number IS NULL, in file order
                    row = new_cases.get(k)
                    if row is None:
                        if k in unnumbered:
                            fill.setdefault(k, hr.case_number)
                    elif row[3] is None:
                        row[3] = hr.case_number
            case_ids = [found[k] if k else None for k in keys]
            # rows of the four bulk tables, local references resolved
            hb = base["hearing"] + len(ids["hearing"])
            hearing_ids = range(hb, hb + len(parsed.hearings))
            pb = base["party"] + len(ids["party"])
            party_ids = range(pb, pb + len(parsed.parties))
            ob = base["offence"] + len(ids["offence"])
            offence_ids = range(ob, ob + len(parsed.offences))
            cb = base["complainant"] + len(ids["complainant"])
            parties, offences, comps = parsed.parties, parsed.offences, parsed.complainants

            recs["hearing"] += parsed.hearings
            ids["hearing"] += hearing_ids
            xh = x["hearing"]
            xh["publication_id"] += [pub_id] * len(parsed.hearings)
            xh["case_id"] += case_ids
            xh["court_id"] += h_court

            recs["party"] += parties
            ids["party"] += party_ids
            xp = x["party"]
            xp["publication_id"] += [pub_id] * len(parties)
            p_h = [p.hearing_ref for p in parties]
            xp["hearing_id"] += [hearing_ids[j] for j in p_h]
            xp["case_id"] += [case_ids[j] for j in p_h]
            xp["pseudonymised"] += [False] * len(parties)

            recs["offence"] += offences
            ids["offence"] += offence_ids
            xo = x["offence"]
            o_p = [o.party_ref for o in offences]
            o_h = [parties[j].hearing_ref for j in o_p]
            xo["publication_id"] += [pub_id] * len(offences)
            xo["party_id"] += [party_ids[j] for j in o_p]
            xo["hearing_id"] += [hearing_ids[j] for j in o_h]
            xo["case_id"] += [case_ids[j] for j in o_h]

            recs["complainant"] += comps
            ids["complainant"] += range(cb, cb + len(comps))
            xc = x["complainant"]
            xc["publication_id"] += [pub_id] * len(comps)
            xc["offence_id"] += [None if c.offence_ref is None else offence_ids[c.offence_ref] for c in comps]
            xc["hearing_id"] += [hearing_ids[c.hearing_ref] for c in comps]
            xc["case_id"] += [case_ids[c.hearing_ref] for c in comps]

            results[i] = WriteResult("accepted", pub_id, len(parsed.hearings), len(parties), len(offences),
                                     len(comps))

        # write: parents before children (foreign keys)
        self._insert(conn, "publication", pubs, [p[1] for p in plan], **pub_x)
        self._bulk_insert(conn, ENTITIES["case"], [tuple(r) for r in case_rows],
                          ["id", "case_key", "urn", "case_number", "first_court_id", "first_publication_id"])
        if fill:
            conn.connection.driver_connection.cursor().executemany(
                f'UPDATE "case" SET case_number = {self._ph} WHERE id = {self._ph} AND case_number IS NULL',
                [(cn, found[k]) for k, cn in fill.items()])
        for name in ("hearing", "party", "offence", "complainant"):
            self._insert(conn, name, recs[name], ids[name], **x[name])
        changed = self._supersede_group(conn, [(p[1], docs[p[0]][0].meta, p[2]) for p in plan])
        for i, pub_id, *_ in plan:
            results[i].superseded = changed.get(pub_id, [])
        for i, r in enumerate(results):
            if isinstance(r, int):                # a second copy of a file in the group
                results[i] = WriteResult("duplicate", results[r].publication_id)
        return results

    def _existing_hashes(self, conn, hashes: list[str]) -> dict[str, int]:
        out: dict[str, int] = {}
        wanted = sorted(set(hashes))
        for j in range(0, len(wanted), 500):
            chunk = wanted[j:j + 500]
            marks = ", ".join([self._ph] * len(chunk))
            out.update((h, pid) for h, pid in conn.exec_driver_sql(
                f"SELECT content_hash, id FROM publication WHERE content_hash IN ({marks})", tuple(chunk)))
        return out

    def _case_ids(self, conn, keys) -> tuple[dict[str, int], set[str]]:
        """Archived cases among `keys`: key -> id, and the keys whose case number is not known yet."""
        found: dict[str, int] = {}
        no_number: set[str] = set()
        wanted = sorted(keys)
        for j in range(0, len(wanted), 500):
            chunk = wanted[j:j + 500]
            marks = ", ".join([self._ph] * len(chunk))
            for cid, key, number in conn.exec_driver_sql(
                    f'SELECT id, case_key, case_number FROM "case" WHERE case_key IN ({marks})', tuple(chunk)):
                found[key] = cid
                if number is None:
                    no_number.add(key)
        return found, no_number

    def _supersede_group(self, conn, new: list[tuple[int, Any, int | None]]) -> dict[int, list[int]]:
        """`_supersede` for a group of new publications (id, meta, court id), in file order: one
        read of every version of the lists concerned, the end state and each file's "changed"
        list worked out in memory, one executemany of the rows whose superseded_by changes."""
        new = [(pid, m, cid) for pid, m, cid in new
               if m.content_date is not None and (cid is not None or m.court_name is not None)]
        if not new:
            return {}
        P = T["publication"]
        by_court = [c for c in {cid for _, _, cid in new} if c is not None]
        by_name = [n for n in {m.court_name for _, m, cid in new if cid is None}]
        where_court = sa.or_(*([P.c.court_id.in_(by_court)] if by_court else []),
                             *([P.c.court_name.in_(by_name)] if by_name else []))
        rows = conn.execute(
            sa.select(P.c.id, P.c.list_type, P.c.content_date, P.c.court_id, P.c.court_name,
                      P.c.published_at, P.c.version, P.c.source_format, P.c.superseded_by)
            .where(P.c.content_date.in_(sorted({m.content_date for _, m, _ in new})),
                   P.c.list_type.in_(sorted({m.list_type for _, m, _ in new})), where_court)).all()
        new_ids = {pid for pid, _, _ in new}
        row_of = {r.id: r for r in rows}
        initial = {r.id: r.superseded_by for r in rows}
        state = dict(initial)
        by_cid: dict[tuple, list] = {}
        by_nm: dict[tuple, list] = {}

        def show(r) -> None:
            by_cid.setdefault((r.list_type, r.content_date, r.court_id), []).append(r)
            by_nm.setdefault((r.list_type, r.content_date, r.court_name), []).append(r)

        for r in rows:
            if r.id not in new_ids:
                show(r)

        changed: dict[int, list[int]] = {}
        for pid, m, cid in new:
            show(row_of[pid])
            same = (by_cid[(m.list_type, m.content_date, cid)] if cid is not None
                    else by_nm[(m.list_type, m.content_date, m.court_name)])
            if len(same) < 2:
                continue
            latest = max(same, key=_currency).id
            changed[pid] = sorted(r.id for r in same if r.id != latest and state[r.id] != latest)
            for r in same:
                state[r.id] = None if r.id == latest else latest
        updates = [(sb, rid) for rid, sb in state.items() if sb != initial[rid]]
        if updates:
            conn.connection.driver_connection.cursor().executemany(
                f"UPDATE publication SET superseded_by = {self._ph} WHERE id = {self._ph}", updates)
        return changed

    def _insert(self, conn, name: str, records: list, ids: list[int], **extra: list) -> None:
        if not records:
            return
        cols, rows = self._rows(name, records, ids, extra)
        self._bulk_insert(conn, ENTITIES[name], rows, cols)

    def _cases(self, conn, hearings, keys, h_court, pub_id) -> list[int | None]:
        C = T["case"]
        wanted = sorted({k for k in keys if k})
        found: dict[str, int] = {}
        for i in range(0, len(wanted), 500):
            chunk = wanted[i:i + 500]
            marks = ", ".join([self._ph] * len(chunk))
            for cid, key in conn.exec_driver_sql(
                    f'SELECT id, case_key FROM "case" WHERE case_key IN ({marks})', tuple(chunk)):
                found[key] = cid
        new = [k for k in wanted if k not in found]
        first = self._take_ids(conn, "case", len(new))
        for j, k in enumerate(new):
            found[k] = first + j
        new_set = set(new)
        rows, seen, fill = [], set(), []
        for h, k, court in zip(hearings, keys, h_court):
            if not k:
                continue
            if k in new_set and k not in seen:
                seen.add(k)
                urn = k[4:] if k.startswith("urn:") else None
                rows.append((found[k], k, urn, h.case_number, court, pub_id))
            elif k not in new_set and h.case_number:
                fill.append({"i": found[k], "cn": h.case_number})
        self._bulk_insert(conn, ENTITIES["case"], rows,
                          ["id", "case_key", "urn", "case_number", "first_court_id", "first_publication_id"])
        if fill:
            conn.execute(sa.update(C).where(C.c.id == sa.bindparam("i"), C.c.case_number.is_(None))
                         .values(case_number=sa.bindparam("cn")), fill)
        return [found[k] if k else None for k in keys]

    def _supersede(self, conn, pub_id: int, meta, court_id) -> list[int]:
        """Among versions of one list (court, type, content date) the latest is current."""
        if meta.content_date is None:
            return []
        P = T["publication"]
        ph = self._ph
        court_col, court_val = ("court_id", court_id) if court_id is not None else ("court_name", meta.court_name)
        day = meta.content_date.isoformat() if self.sqlite else meta.content_date
        n = conn.exec_driver_sql(
            f"SELECT count(*) FROM publication WHERE list_type = {ph} AND content_date = {ph} AND {court_col} = {ph}",
            (meta.list_type, day, court_val)).scalar()
        if n < 2:
            return []
        same_court = (P.c.court_id == court_id) if court_id is not None else (P.c.court_name == meta.court_name)
        rows = conn.execute(sa.select(P.c.id, P.c.published_at, P.c.version, P.c.source_format, P.c.superseded_by)
                            .where(P.c.list_type == meta.list_type, P.c.content_date == meta.content_date,
                                   same_court)).all()
        latest = max(rows, key=_currency).id
        changed = sorted(r.id for r in rows if r.id != latest and r.superseded_by != latest)
        conn.execute(sa.update(P).where(P.c.id.in_([r.id for r in rows if r.id != latest]))
                     .values(superseded_by=latest))
        conn.execute(sa.update(P).where(P.c.id == latest).values(superseded_by=None))
        return changed

    def quarantine(self, *, source_name: str, reason: str, json_path: str | None = None,
                   content_hash: str | None = None) -> int:
        try:
            with writing(self.engine) as conn:
                return self._quarantine(conn, source_name, reason, json_path, content_hash)
        except BaseException:
            self._forget_ids()   # a block reserved in the rolled-back transaction is not ours
            raise

    def _quarantine(self, conn, source_name, reason, json_path, content_hash) -> int:
        qid = self._take_ids(conn, "quarantine", 1)
        conn.execute(sa.insert(T["quarantine"]).values(
            id=qid, source_name=source_name, reason=reason, json_path=json_path,
            content_hash=content_hash, rejected_at=dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)))
        return qid

    # ------------------------------------------------------------------ reading
    def current_publications(self):
        """Select of publications not superseded by a later version."""
        P = T["publication"]
        return sa.select(P.c.id).where(P.c.superseded_by.is_(None))

    def stats(self) -> dict[str, int]:
        P, H, Pa, O, Co, C, Q = (T[n] for n in ("publication", "hearing", "party", "offence",
                                                "complainant", "case", "quarantine"))
        cur = self.current_publications()
        with self.engine.connect() as conn:
            def count(q):
                return conn.execute(q).scalar_one()
            return {
                "publications": count(sa.select(sa.func.count()).select_from(P)),
                "publications_superseded": count(sa.select(sa.func.count()).select_from(P)
                                                 .where(P.c.superseded_by.is_not(None))),
                "courts": count(sa.select(sa.func.count(sa.distinct(H.c.court_id)))
                                .where(H.c.publication_id.in_(cur))),
                "cases": count(sa.select(sa.func.count()).select_from(C)),
                "hearings": count(sa.select(sa.func.count()).select_from(H).where(H.c.publication_id.in_(cur))),
                "parties": count(sa.select(sa.func.count()).select_from(Pa).where(Pa.c.publication_id.in_(cur))),
                "defendants": count(sa.select(sa.func.count()).select_from(Pa)
                                    .where(Pa.c.publication_id.in_(cur), Pa.c.role == "DEFENDANT")),
                "offences": count(sa.select(sa.func.count()).select_from(O).where(O.c.publication_id.in_(cur))),
                "complainant_mentions": count(sa.select(sa.func.count()).select_from(Co)
                                              .where(Co.c.publication_id.in_(cur))),
                "quarantined": count(sa.select(sa.func.count()).select_from(Q)),
            }

    def quarantined(self) -> list[dict]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(sa.select(T["quarantine"]).order_by(T["quarantine"].c.id))]

    def case_timeline(self, ref: str) -> dict | None:
        """A case (by URN or case number) and every listing of it, across courts, in date order."""
        C, H, P, Ct, Pa, O = (T[n] for n in ("case", "hearing", "publication", "court", "party", "offence"))
        key = re.sub(r"\s+", "", ref).upper()
        with self.engine.connect() as conn:
            case = conn.execute(sa.select(C).where(sa.or_(C.c.urn == key, C.c.case_number == ref.strip()))
                                .order_by(C.c.id).limit(1)).first()
            if case is None:
                return None
            rows = conn.execute(
                sa.select(H.c.id, H.c.sitting_date, H.c.sitting_time, H.c.room, H.c.hearing_type,
                          H.c.case_number, Ct.c.name.label("court"), P.c.list_type, P.c.id.label("publication_id"),
                          P.c.superseded_by, P.c.sensitivity, H.c.reporting_restriction)
                .join(P, P.c.id == H.c.publication_id).outerjoin(Ct, Ct.c.id == H.c.court_id)
                .where(H.c.case_id == case.id).order_by(H.c.sitting_date, H.c.sitting_time, H.c.id)).all()
            parties = conn.execute(
                sa.select(Pa.c.hearing_id, Pa.c.role, Pa.c.forenames, Pa.c.surname, Pa.c.organisation_name,
                          Pa.c.name_as_listed, Pa.c.id)
                .where(Pa.c.case_id == case.id)).all()
            offences = conn.execute(sa.select(O.c.party_id, O.c.title, O.c.plea, O.c.code)
                                    .where(O.c.case_id == case.id)).all()
        offs: dict[int, list] = {}
        for o in offences:
            offs.setdefault(o.party_id, []).append(dict(code=o.code, title=o.title, plea=o.plea))
        by_h: dict[int, list] = {}
        for p in parties:
            name = " ".join(x for x in (p.forenames, p.surname) if x) or p.organisation_name or p.name_as_listed
            by_h.setdefault(p.hearing_id, []).append(dict(role=p.role, name=name, offences=offs.get(p.id, [])))
        return {
            "case": dict(case._mapping),
            "hearings": [dict(r._mapping) | {"parties": by_h.get(r.id, [])} for r in rows],
        }

    def _table_select(self, name: str, columns: list[str] | None, current_only: bool):
        """(select of ``columns`` of table ``name``, its Arrow schema, the id column or None)."""
        import pyarrow as pa

        t = T[name]
        cols = [t.c[c] for c in columns] if columns else list(t.c)
        q = sa.select(*cols)
        if current_only and "publication_id" in t.c:
            q = q.where(t.c.publication_id.in_(self.current_publications()))
        schema = pa.schema([pa.field(c.name, _arrow_type(ENTITIES[name].field(c.name).kind)) for c in cols])
        return q, schema, (t.c.id if "id" in t.c else None)

    def iter_arrow(self, name: str, *, columns: list[str] | None = None, batch_size: int = 100_000,
                   current_only: bool = False) -> Iterator[pa.RecordBatch]:
        """Stream a table as Arrow record batches, by id (exports read this; whole tables are
        read with `to_arrow`).

        Reads with the raw DBAPI cursor (no per-row SQLAlchemy objects) and converts whole
        columns: on SQLite, dates/times arrive as ISO text and are cast by Arrow."""
        q, schema, id_col = self._table_select(name, columns, current_only)
        yield from self.query_batches(q if id_col is None else q.order_by(id_col), schema, batch_size=batch_size)

    def query_batches(self, query, schema: pa.Schema, *, batch_size: int = 100_000) -> Iterator[pa.RecordBatch]:
        """Run a select and stream its rows as Arrow record batches of ``schema``.

        Reads with the raw DBAPI cursor (a named, server-side cursor on PostgreSQL), so memory holds
        one batch of Python rows at a time (SQLAlchemy's result objects buffer the whole result on
        SQLite: 11M mentions of a 10M-entry archive took over 20 GB), and converts each batch with
        one Arrow call, the row tuples as a struct array (a Python list and an Arrow array per
        column cost three times as much: 1.1M defendant mentions x 19 columns, 4.8 -> 3.7 s of
        CPU, most of what is left sqlite3 making its rows).  On SQLite, dates/times arrive as ISO
        text and booleans as integers, read as such and cast by Arrow."""
        import pyarrow as pa

        compiled = query.compile(dialect=self.engine.dialect, compile_kwargs={"literal_binds": True})
        rows_type = pa.struct([pa.field(f.name, self._wire_type(f.type)) for f in schema])
        with self.engine.connect() as conn:
            raw = conn.connection.driver_connection
            cur = raw.cursor(name=f"arrow_{id(self)}_{id(query)}") if not self.sqlite else raw.cursor()
            try:
                cur.execute(str(compiled))
                while rows := cur.fetchmany(batch_size):
                    yield pa.RecordBatch.from_struct_array(pa.array(rows, rows_type)).cast(schema)
            finally:
                cur.close()

    def _wire_type(self, typ: pa.DataType) -> pa.DataType:
        """The Arrow type a column of ``typ`` arrives as from the driver (SQLite: ISO text for dates
        and times, integers for booleans)."""
        import pyarrow as pa

        if self.sqlite and (pa.types.is_date(typ) or pa.types.is_timestamp(typ)):
            return pa.string()
        if self.sqlite and pa.types.is_boolean(typ):
            return pa.int64()
        return typ

    def read_arrow(self, query, schema: pa.Schema, *, order=None, batch_size: int = 100_000) -> pa.Table:
        """A select's rows as one Arrow table of ``schema``, sorted by ``order`` (a unique integer
        column of the query) when given.

        PostgreSQL sorts on the server.  SQLite reads the rows unordered and they are sorted here
        (`sorted_by`; usually they already arrive in id order) when ``order`` is one of the selected
        columns: SQLite's ORDER BY sorter held ~650 bytes per row in the process (~7 GB for the 11M
        defendant mentions of a 10M-entry archive), far more than the Arrow table itself."""
        import pyarrow as pa

        at = next((i for i, c in enumerate(query.selected_columns) if c is order), None) if order is not None else None
        here = self.sqlite and at is not None
        if order is not None and not here:
            query = query.order_by(order)
        t = pa.Table.from_batches(list(self.query_batches(query, schema, batch_size=batch_size)), schema=schema)
        return sorted_by(t, schema.field(at).name) if here else t

    def to_arrow(self, name: str, *, columns: list[str] | None = None, batch_size: int = 100_000,
                 current_only: bool = False) -> pa.Table:
        """A table (or ``columns`` of it) as one Arrow table, by id (`read_arrow`)."""
        q, schema, id_col = self._table_select(name, columns, current_only)
        return self.read_arrow(q, schema, order=id_col, batch_size=batch_size)


def sorted_by(t: pa.Table, col: str) -> pa.Table:
    """``t`` sorted by its unique integer column ``col`` (returned as is when already sorted: rows
    read by id usually are)."""
    if t.num_rows > 1:
        ids = t.column(col).to_numpy()
        if not (ids[1:] > ids[:-1]).all():
            import pyarrow.compute as pc

            return t.take(pc.sort_indices(t.column(col)))
    return t


class PublicationLookup:
    """`Archive.publication_lookup`: content hash -> publication id (None when not archived)."""

    def __init__(self, raw, sqlite: bool, sql: str):
        self._raw, self._conn, self._sqlite, self._sql = raw, raw.driver_connection, sqlite, sql

    def __call__(self, content_hash: str) -> int | None:
        cur = self._conn.cursor()
        try:
            cur.execute(self._sql, (content_hash,))
            row = cur.fetchone()
        finally:
            cur.close()
            if not self._sqlite:
                self._conn.rollback()
        return None if row is None else row[0]

    def close(self) -> None:
        self._raw.close()


class Writer:
    """A batched writing session (see `Archive.writer`). Use as a context manager."""

    def __init__(self, archive: Archive, *, max_files: int, max_seconds: float, max_rows: int = 50_000):
        self.a = archive
        self.max_files, self.max_seconds, self.max_rows = max_files, max_seconds, max_rows
        self.conn = None
        self.txn = None
        self.files = 0
        self.started = 0.0
        self._group: list[tuple[Any, ParsedList, str]] = []
        self._group_rows = 0
        self._group_started = 0.0

    def __enter__(self) -> "Writer":
        self.conn = self.a.engine.connect().execution_options(**writer_options("ingest"))
        return self

    def _begin(self) -> None:
        if self.txn is None:
            self.txn = self.conn.begin()
            self.files = 0
            self.started = time.monotonic()

    def _file(self, fn):
        """Run fn(conn) for one file inside a SAVEPOINT of the group transaction."""
        self._begin()
        sp = self.conn.begin_nested()
        blocks = dict(self.a._id_blocks)
        courts = list(self.a._pending_courts)
        try:
            out = fn(self.conn)
        except BaseException:
            sp.rollback()
            # ids taken in the savepoint were rolled back with it: take them again later
            self.a._id_blocks = blocks
            if len(self.a._pending_courts) != len(courts):
                self.a._courts = None      # courts created in the savepoint are gone
                self.a._pending_courts = courts
            raise
        sp.commit()
        self.files += 1
        if self.files >= self.max_files or time.monotonic() - self.started >= self.max_seconds:
            self.commit()
        return out

    def write(self, parsed: ParsedList, *, content_hash: str) -> WriteResult:
        """Store one file now (its own SAVEPOINT)."""
        return self._file(lambda conn: self.a._write(conn, parsed, content_hash))

    def add(self, parsed: ParsedList, *, content_hash: str, tag: Any = None) -> list[tuple[Any, Any]]:
        """Queue one file for the next group write.  Returns the outcomes of the files written by
        this call (when the group is full: `max_files`, `max_rows` or `max_seconds`), as
        (tag, WriteResult | Exception) in the order the files were added; an exception means
        that file was not stored (nothing of it) and the caller should quarantine it.  Call
        `flush` at the end for the rest."""
        if not self._group:
            self._group_started = time.monotonic()
        self._group.append((tag, parsed, content_hash))
        self._group_rows += (len(parsed.hearings) + len(parsed.parties) + len(parsed.offences)
                             + len(parsed.complainants))
        if (len(self._group) >= self.max_files or self._group_rows >= self.max_rows
                or time.monotonic() - self._group_started >= self.max_seconds):
            return self.flush()
        return []

    def flush(self) -> list[tuple[Any, Any]]:
        """Write and commit the queued files: first all at once (`Archive._write_group`, one
        transaction); if that fails, file by file, each in its own SAVEPOINT, so one bad file
        costs only itself.  Returns (tag, WriteResult | Exception) per file, in order."""
        group, self._group, self._group_rows = self._group, [], 0
        if not group:
            return []
        self.commit()                  # what single-file calls wrote so far stands on its own
        blocks = dict(self.a._id_blocks)
        txn = self.conn.begin()
        try:
            results = self.a._write_group(self.conn, [(p, h) for _, p, h in group])
        except Exception:
            txn.rollback()
            self._reset_after_rollback(blocks)
        except BaseException:
            txn.rollback()
            self._reset_after_rollback(blocks)
            raise
        else:
            try:
                txn.commit()
            except BaseException:
                self._reset_after_rollback(blocks)
                raise
            self.a._pending_courts = []
            return [(tag, r) for (tag, _, _), r in zip(group, results)]
        out: list[tuple[Any, Any]] = []
        for tag, parsed, h in group:
            try:
                out.append((tag, self.write(parsed, content_hash=h)))
            except Exception as e:
                out.append((tag, e))
        self.commit()
        return out

    def _reset_after_rollback(self, blocks: dict) -> None:
        # ids reserved in the rolled-back transaction are not ours; courts created in it are gone
        self.a._id_blocks = blocks
        if self.a._pending_courts:
            self.a._courts = None
            self.a._pending_courts = []

    def quarantine(self, *, source_name: str, reason: str, json_path: str | None = None,
                   content_hash: str | None = None) -> int:
        return self._file(lambda conn: self.a._quarantine(conn, source_name, reason, json_path, content_hash))

    def commit(self) -> None:
        if self.txn is not None:
            self.txn.commit()
            self.txn = None
            self.a._pending_courts = []

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                failed = [r for _, r in self.flush() if isinstance(r, Exception)]
                self.commit()
                if failed:
                    raise StoreError(f"{len(failed)} queued file(s) could not be stored and were not "
                                     f"collected with flush(): first error {failed[0]!r}") from failed[0]
            else:
                self._group = []
                if self.txn is not None:
                    self.txn.rollback()
                    self.txn = None
                    self.a._courts = None
                    self.a._pending_courts = []
        finally:
            self.a._forget_ids()
            self.conn.close()


@functools.lru_cache(maxsize=None)
def _arrow_type(kind: str) -> pa.DataType:
    """The Arrow type of a model field kind.  (pyarrow is imported where Arrow is read or written,
    not by every command that opens an archive: ~0.1 s of each CLI start.)"""
    import pyarrow as pa

    return {"str": pa.string(), "text": pa.string(), "int": pa.int64(), "bigint": pa.int64(),
            "float": pa.float64(), "bool": pa.bool_(), "date": pa.date32(), "datetime": pa.timestamp("us"),
            "bytes": pa.binary(), "json": pa.string()}[kind]


#: formats a list is rendered to for reading (docs/intake-layouts.md): a copy in one of them of a
#: publication also held in another format (CaTH JSON) is the same publication, not a later one
RENDERED_FORMATS = frozenset({"pdf", "xlsx"})


def _currency(r) -> tuple:
    """Which of the versions of one list (court, type, content date) is current: the latest
    publication time, then the highest version; at the same time and version the copy that is
    not a rendering (the JSON, not its PDF or Excel copy, whichever came first); then the last
    ingested."""
    return (r.published_at or dt.datetime.min, _version_key(r.version), r.source_format not in RENDERED_FORMATS,
            r.id)


def _version_key(v: str | None) -> tuple:
    if not v:
        return ()
    return tuple((0, int(x), "") if x.isdigit() else (1, 0, x) for x in re.split(r"[.\-_ ]", str(v)) if x)
