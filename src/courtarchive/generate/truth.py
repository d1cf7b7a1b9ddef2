"""Ground truth: streamed to Parquet while the lists are written, then summarised in truth.json.

``DIR/truth/*.parquet``
    defendant_mentions    file (relative to DIR/lists), json_path (of the party), person_id,
                          case_id, list_type, masked, and one nullable bool per variant
                          (``v_name_variant`` ... ``v_moved``: null = could not apply)
    complainant_mentions  file, json_path (of the offence whose wording names them, or of the
                          COMPLAINANT party), victim_id, case_id, defendant_id (null for a
                          party), kind (named | initials | described | party)
    cases, case_defendants, case_offences, offence_complainants   the column contracts of
                          `courtarchive.analyse.definitions`, *as listed* (below); besides:
                          cases.actual_outcome / actual_completion_date and
                          case_defendants.result / actual_conviction_date: what really happened
                          (as known at the end of the period; null while open)
    networks              network_id, case_id, defendant_id, hotspot: the planted networks

The truth is *as listed*: it is what the lists published within the period (start .. end) show,
read with the conventions of `courtarchive.analyse.sql` -- so an analysis that reads every list
correctly reproduces every count of truth.json exactly.  The generator knows more than the lists
print (SJP withdrawals, Crown Court pleas and verdicts, a sentence after the end of the period);
that stays in the ``actual_*`` / ``result`` columns and never feeds the findings.  Precisely:

* a case is in the truth only if at least one of its hearings is listed (on a magistrates', SJP or
  Crown daily/firm list; warned lists announce trials, they are not sittings) within the period;
  so are its defendants, offences and complainant links;
* ``first_hearing_date`` / court: its first listing (ties: magistrates' before SJP before Crown).
  The court is the magistrates' court, or the Crown Court; an SJP list names no court (CaTH's
  SJP lists are national), so a case first listed on an SJP list has no ``court_town`` /
  ``court_pfa`` (``court_id`` still names the magistrates' court that deals with it);
* a defendant is *convicted* on: the earliest conviction date or guilty-plea date printed against
  their offences on a magistrates' standard (press) list; failing that, when the case has a Crown
  Court sentence hearing listed, the last Crown Court sitting before the first one (every
  defendant of the case); failing that, the case's first SJP sitting.  Nothing else (Crown lists
  print no pleas or verdicts).  The defendants are those the lists show (an SJP list: the first);
* completion and outcome come from the case's last listing (latest date; ties: Crown, then
  magistrates', then SJP; a sentence first; then the later entry): an SJP sitting or a
  sentence -> convicted; a
  withdrawal / no-evidence / discontinuance / dismissal -> withdrawn; a magistrates' trial with
  no defendant convicted -> acquitted; a magistrates' trial, or a magistrates' listing where every
  defendant stands convicted, with some defendant convicted -> convicted, and a Crown trial ->
  acquitted, *if* the same court has a list ``MAGS_SENTENCE_DAYS`` / ``CROWN_SENTENCE_DAYS`` or
  more after that listing within the period (else no sentence hearing could be ruled out);
  anything else -> open.  The completion date is the date of that last listing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from ..analyse import definitions
from ..analyse.sql import CROWN_SENTENCE_DAYS, MAGS_SENTENCE_DAYS
from .cases import CROWN, MAGS, SJP, WARNED
from .names import VARIANT_KEYS

__all__ = ["TruthSink", "SCHEMAS", "Listed", "as_listed", "read_inputs", "compute_findings"]

_S, _D, _B, _I = pl.Utf8, pl.Date, pl.Boolean, pl.Int32
#: polars schemas (batches are built with polars: building Arrow arrays from Python lists with
#: pyarrow would import pandas, which costs seconds here)
SCHEMAS: dict[str, dict] = {
    "defendant_mentions": dict(
        [("file", _S), ("json_path", _S), ("person_id", _S), ("case_id", _S), ("list_type", _S),
         ("masked", _B)] + [(f"v_{k}", _B) for k in VARIANT_KEYS]),
    "complainant_mentions": dict(
        [("file", _S), ("json_path", _S), ("victim_id", _S), ("case_id", _S), ("defendant_id", _S),
         ("kind", _S)]),
    "cases": dict(
        [("case_id", _S), ("first_hearing_date", _D), ("offence_date", _D), ("completion_date", _D),
         ("outcome", _S), ("offence_town", _S), ("residence_town", _S), ("court_town", _S),
         ("offence_pfa", _S), ("residence_pfa", _S), ("court_pfa", _S), ("kind", _S),
         ("court_id", _S), ("crown_court_id", _S), ("network_id", _S), ("youth", _B),
         ("reporting_restriction", _S), ("hearings", _I), ("actual_outcome", _S),
         ("actual_completion_date", _D)]),
    "case_defendants": dict(
        [("case_id", _S), ("defendant_id", _S), ("convicted", _B), ("conviction_date", _D),
         ("result", _S), ("youth", _B), ("actual_conviction_date", _D)]),
    "case_offences": dict([("case_id", _S), ("defendant_id", _S), ("offence_code", _S)]),
    "offence_complainants": dict([("case_id", _S), ("defendant_id", _S), ("complainant_id", _S)]),
    "networks": dict([("network_id", _S), ("case_id", _S), ("defendant_id", _S), ("hotspot", _S)]),
}
FLUSH_ROWS = 50_000
MENTION_TABLES = ("defendant_mentions", "complainant_mentions")

_FAMILY = {MAGS: "mags", SJP: "sjp", CROWN: "crown"}
_FIRST_RANK = {MAGS: 0, SJP: 1, CROWN: 2}
_LAST_RANK = {CROWN: 2, MAGS: 1, SJP: 0}          # higher wins among listings of the same day
_ENDED = ("withdrawn", "no evidence", "discontinu", "dismiss")
_MAGS_WAIT = timedelta(days=MAGS_SENTENCE_DAYS)
_CROWN_WAIT = timedelta(days=CROWN_SENTENCE_DAYS)


@dataclass(slots=True)
class Listed:
    """A case as its lists within the period show it (see the module docstring)."""
    first: object                   # the first listing (a `cases.Hearing`)
    last: object                    # the last listing
    status: str | None              # convicted | acquitted | withdrawn | None (open)
    settle: tuple | None            # (court fact id, date): ``status`` holds only if that court
                                    # has a list on or after that date within the period
    convictions: list               # per listed defendant: conviction date or None
    n_defs: int                     # defendants listed (the first n of the case's)


def as_listed(c, end: date) -> Listed | None:
    """The case ``c`` (a `cases.Case`) as listed up to ``end``; None when it is never listed."""
    first = last = None
    fkey = lkey = None
    std, crown = [], []
    sen = sjp = None
    only_sjp = True
    for k, h in enumerate(c.hearings):         # in date order
        v = h.venue
        if v == WARNED:
            continue
        d = h.when
        if d > end:
            break
        is_sen = "sentence" in h.desc.lower()
        if v == MAGS:
            std.append(d)
            only_sjp = False
        elif v == CROWN:
            crown.append(d)
            only_sjp = False
            if is_sen and sen is None:
                sen = d
        elif sjp is None:
            sjp = d
        key = (d, _FIRST_RANK[v])
        if fkey is None or key < fkey:
            first, fkey = h, key
        key = (d, _LAST_RANK[v], is_sen, k)
        if lkey is None or key > lkey:      # ties: the later entry (schedule order is list order)
            last, lkey = h, key
    if first is None:
        return None
    # the lists print every defendant of the case, but the SJP lists only the first
    defs = c.defs[:1] if only_sjp else c.defs
    pre = max((d for d in crown if d < sen), default=None) if sen is not None else None
    fallback = pre or sjp
    convictions = []
    for cd in defs:
        best = None
        conv = cd.conviction_date
        for day in std:                      # what each magistrates' standard list prints
            if conv is not None and conv <= day:
                v = conv
            else:
                plea, when = cd.plea_on(day)
                v = when if plea == "GUILTY" else None
            if v is not None and (best is None or v < best):
                best = v
        convictions.append(best or fallback)
    n_defs = len(defs)
    ht = last.desc.lower()
    any_conv = any(d is not None for d in convictions)
    all_conv = all(d is not None for d in convictions)
    status, settle = None, None
    if last.venue == SJP or "sentence" in ht:
        status = "convicted"
    elif any(w in ht for w in _ENDED):
        status = "withdrawn"
    elif last.venue == MAGS and ht == "trial" and not any_conv:
        status = "acquitted"
    elif last.venue == MAGS and (ht == "trial" or all_conv) and any_conv:
        status, settle = "convicted", (c.mag.court.fact_id, last.when + _MAGS_WAIT)
    elif last.venue == CROWN and ht.startswith("trial"):
        status, settle = "acquitted", (c.crown.court.fact_id, last.when + _CROWN_WAIT)
    return Listed(first, last, status, settle, convictions, n_defs)


class TruthSink:
    """Row buffers per table, flushed to one Parquet file each (bounded memory)."""

    def __init__(self, out: Path, tables: tuple[str, ...] | None = None):
        """``tables``: the tables this sink writes (default all; the list-rendering process
        writes the mention tables, the driver the others)."""
        self.dir = out / "truth"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.tables = tuple(SCHEMAS) if tables is None else tuple(tables)
        self.rows: dict[str, list[tuple]] = {k: [] for k in self.tables}
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.counts: dict[str, int] = {k: 0 for k in self.tables}

    def add(self, table: str, row: tuple) -> None:
        buf = self.rows[table]
        buf.append(row)
        if len(buf) >= FLUSH_ROWS:
            self.flush(table)

    def extend(self, table: str, rows: list[tuple]) -> None:
        buf = self.rows[table]
        buf.extend(rows)
        if len(buf) >= FLUSH_ROWS:
            self.flush(table)

    def flush(self, table: str) -> None:
        buf = self.rows[table]
        if not buf and table in self.writers:
            return
        schema = SCHEMAS[table]
        cols = list(zip(*buf)) if buf else [() for _ in schema]
        batch = pl.DataFrame({name: pl.Series(name, list(col), dtype=dt)
                              for (name, dt), col in zip(schema.items(), cols)}).to_arrow()
        w = self.writers.get(table)
        if w is None:
            w = self.writers[table] = pq.ParquetWriter(self.dir / f"{table}.parquet", batch.schema,
                                                       compression="zstd")
        w.write_table(batch)
        self.counts[table] += len(buf)
        buf.clear()

    def close(self) -> None:
        for t in self.tables:
            self.flush(t)
        for w in self.writers.values():
            w.close()
        self.writers.clear()


def read_inputs(truth_dir: Path, offences: pl.DataFrame) -> definitions.Inputs:
    t = Path(truth_dir)
    return definitions.Inputs(
        cases=pl.read_parquet(t / "cases.parquet"),
        case_defendants=pl.read_parquet(t / "case_defendants.parquet"),
        case_offences=pl.read_parquet(t / "case_offences.parquet"),
        offence_complainants=pl.read_parquet(t / "offence_complainants.parquet"),
        offences=offences)


def offences_frame(data_dir: str | None = None) -> pl.DataFrame:
    from .reference import _read
    rows = _read("offences.csv", data_dir)
    return pl.DataFrame({
        "code": [r["code"].strip() for r in rows],
        "offence_group": [(r.get("offence_group") or "").strip() for r in rows],
        "child_sexual_abuse": [(r.get("child_sexual_abuse") or "").strip().lower() in ("true", "1", "yes")
                               for r in rows],
    })


def compute_findings(truth_dir: Path, data_dir: str | None = None) -> dict[str, dict]:
    inputs = read_inputs(truth_dir, offences_frame(data_dir))
    return {scope: definitions.findings(inputs, scope)
            for scope in (definitions.SCOPE_CSA, definitions.SCOPE_ALL)}


def iso(d: date | None) -> str | None:
    return d.isoformat() if d is not None else None
