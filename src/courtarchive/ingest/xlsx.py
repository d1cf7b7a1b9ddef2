"""Excel (.xlsx) court lists and registers -> `ParsedList`, or `Rejected`.  Pure (openpyxl).

What is read: the first worksheet holding a table of a declared layout
(`courtarchive.ingest.layouts`; docs/intake-layouts.md).  Above the table: the list's title
and heading facts, one per row, as ``Label | value`` in the first two cells (or ``Label: value``
in the first); the table starts at the first row whose every filled cell is a column label of a
layout and which has the entry (``No.``) column.  Each row below it is one offence of one
defendant.  Cells may be text, numbers, dates or booleans: a date column takes an Excel date or
``DD/MM/YYYY`` text, a time column ``HH:MM`` text or an Excel time.  Formulas are read as their
cached values (a workbook saved without them gives blanks); a macro-enabled or legacy ``.xls``
file is not a workbook this reader opens.

Provenance: every fact's ``json_path`` is its place, ``sheet List row 14`` (spreadsheet row
numbers).  Rejections name the place as ``sheet List row 14, column Date of birth`` and never quote
the value.  Limits: ``max_bytes`` of input, `MAX_ROWS` rows, `MAX_CELL_CHARS` characters a cell,
and the uncompressed size of the workbook (a zip bomb is refused before it is read).
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile

from ..model.records import ParsedList
from .cath import DEFAULT_MAX_BYTES, check_headers
from .errors import Rejected, input_bytes
from .layouts import layouts, norm_label
from .layouts.table import build, choose_layout, parse_heading

__all__ = ["parse_xlsx", "SOURCE_FORMAT", "MAX_ROWS", "MAX_CELL_CHARS"]

SOURCE_FORMAT = "xlsx"
MAX_ROWS = 1_000_000
MAX_CELL_CHARS = 100_000
MAX_UNCOMPRESSED = 1024 * 1024 * 1024
_HEAD_SCAN = 60          # rows searched for the header row


def parse_xlsx(data: bytes, *, source_name: str, headers: dict | None = None, list_type: str | None = None,
               max_bytes: int = DEFAULT_MAX_BYTES) -> ParsedList:
    """An .xlsx list in a declared layout -> `ParsedList`; `Rejected` naming sheet/row/column."""
    try:
        return _parse(data, source_name, headers, list_type, max_bytes)
    except Rejected as e:
        raise e.with_source(source_name)


def _open(data: bytes, max_bytes: int):
    from openpyxl import load_workbook

    if data[:4] != b"PK\x03\x04":
        raise Rejected("not an .xlsx workbook (not a zip container)")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            total = sum(i.file_size for i in z.infolist())
            names = set(z.namelist())
    except zipfile.BadZipFile:
        raise Rejected("not an .xlsx workbook (damaged zip container)") from None
    if total > max(MAX_UNCOMPRESSED, max_bytes):
        raise Rejected(f"the workbook unpacks to {total} bytes, over the limit")
    if "xl/workbook.xml" not in names:
        raise Rejected("not an .xlsx workbook (no xl/workbook.xml)")
    try:
        return load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises many types for a damaged workbook
        raise Rejected(f"not a readable .xlsx workbook ({type(e).__name__})") from None


def _is_header(row: tuple) -> bool:
    labels = [norm_label(c) for c in row if isinstance(c, str) and c.strip()]
    if not labels or any(c is not None and not isinstance(c, str) for c in row):
        return False
    for lay in layouts().values():
        if set(labels) <= lay.by_label.keys() and any(lay.by_label[x].kind == "entry" for x in labels):
            return True
    return False


def _heading_value(v) -> str:
    """A heading fact's cell as text: a date-time as ``YYYY-MM-DD HH:MM:SS`` (how `Published` is
    read), a date or a time of day in ISO form (``time.isoformat`` takes no separator: a time cell
    beside a label made the whole workbook 'not readable (ValueError)')."""
    if isinstance(v, dt.datetime):
        return v.isoformat(" ")
    if isinstance(v, (dt.date, dt.time)):
        return v.isoformat()
    return str(v)


def _trim(row: tuple) -> list:
    row = list(row)
    while row and (row[-1] is None or (isinstance(row[-1], str) and not row[-1].strip())):
        row.pop()
    return row


def _parse(data, source_name: str, headers: dict | None, list_type: str | None, max_bytes: int) -> ParsedList:
    data = input_bytes(data, max_bytes)
    h = check_headers(headers)
    given = check_headers({"x-list-type": list_type})["list_type"] if list_type else h.get("list_type")
    wb = _open(data, max_bytes)
    try:
        for ws in wb.worksheets:
            found = _sheet(ws, source_name, headers, given)
            if found is not None:
                return found
        raise Rejected("no worksheet holds a table in a declared layout (docs/intake-layouts.md)", "sheet 1")
    except Rejected:
        raise
    except Exception as e:  # a damaged sheet part
        raise Rejected(f"not a readable .xlsx workbook ({type(e).__name__})") from None
    finally:
        wb.close()


def _sheet(ws, source_name, headers, given) -> ParsedList | None:
    name = ws.title
    rows = ws.iter_rows(values_only=True)
    heading: list[str] = []
    header = None
    r_no = 0
    for r_no, row in enumerate(rows, start=1):
        if _is_header(row):
            header = _trim(row)
            break
        if r_no >= _HEAD_SCAN:
            return None
        cells = [c for c in row if c is not None and str(c).strip()]
        if len(cells) >= 2 and isinstance(cells[0], str) and ":" not in cells[0]:
            v = cells[1]
            heading.append(f"{cells[0]}: {_heading_value(v)}")
        elif cells:
            heading.append(" ".join(str(c) for c in cells))
    if header is None:
        return None
    where = f"sheet {name} row {r_no}"
    title_lines, facts = parse_heading(heading)
    layout = choose_layout(given, title_lines, header, where)
    head_no = r_no

    def body():
        n = head_no
        for row in rows:
            n += 1
            if n > MAX_ROWS:
                raise Rejected(f"over {MAX_ROWS} rows", f"sheet {name} row {n}")
            cells = list(row)
            if not any(c is not None and (not isinstance(c, str) or c.strip()) for c in cells):
                continue
            extra = cells[len(header):]
            if any(c is not None and (not isinstance(c, str) or c.strip()) for c in extra):
                raise Rejected("a cell beyond the last column heading", f"sheet {name} row {n}")
            cells = (cells + [None] * len(header))[:len(header)]
            for i, c in enumerate(cells):
                if isinstance(c, str) and len(c) > MAX_CELL_CHARS:
                    raise Rejected(f"cell longer than {MAX_CELL_CHARS} characters",
                                   f"sheet {name} row {n}, column {header[i]}")
            yield f"sheet {name} row {n}", cells

    return build(layout, header, body(), facts, headers=headers, list_type_given=given, source_name=source_name,
                 source_format=SOURCE_FORMAT, title_lines=title_lines)
