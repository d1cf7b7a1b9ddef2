"""The generator's lists as Excel workbooks (openpyxl), in the declared column layouts of
`courtarchive.ingest.layouts`.

One sheet, ``List``: row 1 the title, then one ``Label | value`` row per heading fact (court,
court code, list date, version, published), a blank row, the header row (frozen, bold), and one
row per offence of each defendant.  Dates are Excel dates (shown DD/MM/YYYY), numbers numbers,
yes/no as ``Yes``/``No``, everything else text -- never a formula (a value starting with ``=``
is stored as text).  Deterministic: the workbook's timestamps are fixed.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile

from ..ingest.layouts import Layout, layout_for
from ..ingest.layouts.table import cell_text, heading_lines, to_rows
from ..model.records import ParsedList

__all__ = ["render_xlsx", "SHEET"]

SHEET = "List"
_EPOCH = dt.datetime(2000, 1, 1)


def render_xlsx(parsed: ParsedList, layout: Layout | None = None) -> bytes:
    """One parsed list as an .xlsx workbook in its list type's layout (ValueError as `render_pdf`)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    layout = layout or layout_for(parsed.meta.list_type)
    if layout is None:
        raise ValueError(f"no layout for {parsed.meta.list_type}")
    wb = Workbook()
    ws = wb.active
    ws.title = SHEET
    ws.append([layout.title])
    ws["A1"].font = Font(bold=True, size=13)
    for label, value in heading_lines(parsed, layout):
        ws.append([label, value])
    ws.append([])
    ws.append([c.label for c in layout.columns])
    head = ws.max_row
    for cell in ws[head]:
        cell.font = Font(bold=True)
    ws.freeze_panes = ws.cell(row=head + 1, column=1)
    for row in to_rows(parsed, layout):
        values = []
        for v, c in zip(row, layout.columns):
            if v is None:
                values.append(None)
            elif c.kind in ("date", "int"):
                values.append(v)
            else:
                values.append(cell_text(v, c.kind))
        ws.append(values)
        r = ws.max_row
        for i, (v, c) in enumerate(zip(values, layout.columns), start=1):
            cell = ws.cell(row=r, column=i)
            if c.kind == "date" and v is not None:
                cell.number_format = "DD/MM/YYYY"
            elif isinstance(v, str) and v.startswith("="):
                cell.data_type = "s"       # text, never a formula
    for i, c in enumerate(layout.columns, start=1):
        ws.column_dimensions[get_column_letter(i)].width = 40 if c.kind in ("text", "names") and c.field in (
            "offence.wording", "party.address", "hearing.judiciary", "hearing.reporting_restriction_detail") else 16
    wb.properties.creator = "courtarchive generate"
    wb.properties.created = wb.properties.modified = _EPOCH
    buf = io.BytesIO()
    wb.save(buf)
    return _fixed(buf.getvalue())


def _fixed(data: bytes) -> bytes:
    """The same workbook with its save time and zip entry times fixed (openpyxl stamps both with
    the clock): same list, same bytes."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(<)", rb"\g<1>2000-01-01T00:00:00Z\g<2>", body)
            z.writestr(zipfile.ZipInfo(info.filename, date_time=_EPOCH.timetuple()[:6]), body,
                       compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()
