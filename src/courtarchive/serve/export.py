"""Exports of archive tables as CSV or Parquet, streamed in Arrow batches.

(Role checks, audit and watermarks are added by governance when the disclosure gate lands;
until then exports are an administrator's tool on the machine that holds the archive.)
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq

# complainant rows are never exported (pseudonyms only, and no complainant-level output at all)
EXPORTABLE = ("hearing", "party", "offence", "case", "publication", "court")


def export_table(archive, what: str, fmt: str, out: Path) -> int:
    if what not in EXPORTABLE:
        raise ValueError(f"cannot export {what!r}: choose one of {', '.join(EXPORTABLE)}")
    if fmt not in ("csv", "parquet"):
        raise ValueError(f"unknown format {fmt!r}: csv or parquet")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".partial")
    n = 0
    writer = None
    try:
        for batch in archive.iter_arrow(what):
            if writer is None:
                writer = (pq.ParquetWriter(tmp, batch.schema) if fmt == "parquet"
                          else pacsv.CSVWriter(tmp, batch.schema))
            writer.write_batch(batch)
            n += batch.num_rows
        if writer is None:  # empty table: still a valid file with the header/schema
            empty = archive.to_arrow(what)
            writer = pq.ParquetWriter(tmp, empty.schema) if fmt == "parquet" else pacsv.CSVWriter(tmp, empty.schema)
        writer.close()
        tmp.replace(out)  # never leave a half-written export under the real name
    except BaseException:
        if writer is not None:
            try:
                writer.close()
            except Exception:
                pass
        tmp.unlink(missing_ok=True)
        raise
    return n
