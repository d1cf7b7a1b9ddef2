"""Ground truth: streamed to Parquet while the lists are written, then summarised in truth.json.

``DIR/truth/*.parquet``
    defendant_mentions    file (relative to DIR/lists), json_path (of the party), person_id,
                          case_id, list_type, masked, and one nullable bool per variant
                          (``v_name_variant`` ... ``v_moved``: null = could not apply)
    complainant_mentions  file, json_path (of the offence whose wording names them, or of the
                          COMPLAINANT party), victim_id, case_id, defendant_id (null for a
                          party), kind (named | initials | described | party)
    cases, case_defendants, case_offences, offence_complainants   the column contracts of
                          `courtarchive.analyse.definitions`
    networks              network_id, case_id, defendant_id, hotspot: the planted networks
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from ..analyse import definitions
from .names import VARIANT_KEYS

__all__ = ["TruthSink", "SCHEMAS", "read_inputs", "compute_findings"]

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
         ("reporting_restriction", _S), ("hearings", _I)]),
    "case_defendants": dict(
        [("case_id", _S), ("defendant_id", _S), ("convicted", _B), ("conviction_date", _D),
         ("result", _S), ("youth", _B)]),
    "case_offences": dict([("case_id", _S), ("defendant_id", _S), ("offence_code", _S)]),
    "offence_complainants": dict([("case_id", _S), ("defendant_id", _S), ("complainant_id", _S)]),
    "networks": dict([("network_id", _S), ("case_id", _S), ("defendant_id", _S), ("hotspot", _S)]),
}
FLUSH_ROWS = 50_000


class TruthSink:
    """Row buffers per table, flushed to one Parquet file each (bounded memory)."""

    def __init__(self, out: Path):
        self.dir = out / "truth"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.rows: dict[str, list[tuple]] = {k: [] for k in SCHEMAS}
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.counts: dict[str, int] = {k: 0 for k in SCHEMAS}

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
        for t in SCHEMAS:
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
