"""PDF court lists -> `ParsedList`, or `Rejected`.  Pure: bytes in, records out (pdfplumber).

What is read: a list laid out as a declared layout (`courtarchive.ingest.layouts`, one per list
type; docs/intake-layouts.md) -- the title and ``Label: value`` heading lines above the table on
page 1 (court, court code, list date, version, published), then the table on every page: its
header row (repeated on each page, or only on the first) and one row per offence of each
defendant.  Cells that wrap onto several lines are joined with single spaces.

The layout is the one of the list type given (``list_type`` argument, else the ``x-list-type``
header), else the one whose title is a heading line, else the one whose columns include every
header label; a table that fits none, or several, is refused.

Provenance: every fact's ``json_path`` is its place on the page, ``page 2 row 14`` (rows counted
on that page's table from 1, the header row being row 1 on the pages that repeat it).

Rejections (the whole file is refused, nothing of it kept): not a PDF, encrypted or unreadable,
over ``max_bytes``, over `MAX_PAGES` pages, no table, an unknown header label, a bad date / time /
number / yes-no, a row without entry number or defendant, HTML markup or NUL in a cell -- each
naming the place (``page 2 row 14, column Date of birth``) but never quoting the value.
A scanned list (images, no text) has no table to read: it is refused, not OCR'd (OCR would be an
external processor under the licence profile).
"""

from __future__ import annotations

import io
import logging
from typing import Iterator

from ..model.records import ParsedList
from .cath import DEFAULT_MAX_BYTES, check_headers
from .errors import Rejected, input_bytes
from .layouts import norm_label
from .layouts.table import build, choose_layout, parse_heading

__all__ = ["parse_pdf", "SOURCE_FORMAT", "MAX_PAGES", "TABLE_SETTINGS"]

SOURCE_FORMAT = "pdf"
MAX_PAGES = 5_000
#: pdfplumber table finding: ruled tables (every cell boxed), text read with tight spacing so that
#: words in small type are not run together
TABLE_SETTINGS = {"vertical_strategy": "lines", "horizontal_strategy": "lines",
                  "text_x_tolerance": 1, "text_y_tolerance": 2}


def parse_pdf(data: bytes, *, source_name: str, headers: dict | None = None, list_type: str | None = None,
              max_bytes: int = DEFAULT_MAX_BYTES) -> ParsedList:
    """A PDF list in a declared layout -> `ParsedList`; `Rejected` naming page/row/column."""
    try:
        return _parse(data, source_name, headers, list_type, max_bytes)
    except Rejected as e:
        raise e.with_source(source_name)


def _open(data: bytes):
    import pdfplumber
    from pdfminer.pdfdocument import PDFPasswordIncorrect, PDFEncryptionError
    try:
        pdf = pdfplumber.open(io.BytesIO(data))
        pdf.pages  # noqa: B018 - forces the page tree to be read
        return pdf
    except (PDFPasswordIncorrect, PDFEncryptionError):
        raise Rejected("the PDF is encrypted") from None
    except Exception as e:  # pdfminer raises many types for a damaged file
        raise Rejected(f"not a readable PDF ({type(e).__name__})") from None


def _parse(data, source_name: str, headers: dict | None, list_type: str | None, max_bytes: int) -> ParsedList:
    data = input_bytes(data, max_bytes)
    if not data.lstrip()[:5] == b"%PDF-":
        raise Rejected("not a PDF (no %PDF- header)")
    h = check_headers(headers)
    given = check_headers({"x-list-type": list_type})["list_type"] if list_type else h.get("list_type")
    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    pdf = _open(data)
    try:
        if len(pdf.pages) > MAX_PAGES:
            raise Rejected(f"the PDF has {len(pdf.pages)} pages, over the {MAX_PAGES}-page limit")
        return _read(pdf, source_name, headers, given)
    except Rejected:
        raise
    except Exception as e:   # pdfminer failing inside a page
        raise Rejected(f"not a readable PDF ({type(e).__name__})") from None
    finally:
        pdf.close()


def _read(pdf, source_name: str, headers: dict | None, given: str | None) -> ParsedList:
    pages = pdf.pages
    header: list | None = None
    heading: list[str] = []
    layout = None
    body: list[tuple[str, list]] = []
    for p_no, page in enumerate(pages, start=1):
        tables = page.find_tables(TABLE_SETTINGS)
        if not tables:
            if header is None:
                heading += (page.extract_text() or "").splitlines()
            continue
        if header is None:
            top = min(t.bbox[1] for t in tables)
            if top > 1:
                above = page.crop((0, 0, page.width, top))
                heading += (above.extract_text() or "").splitlines()
        for t_no, table in enumerate(sorted(tables, key=lambda t: (t.bbox[1], t.bbox[0]))):
            rows = table.extract(x_tolerance=TABLE_SETTINGS["text_x_tolerance"],
                                 y_tolerance=TABLE_SETTINGS["text_y_tolerance"])
            start = 0
            if header is None:
                header = rows[0] if rows else []
                start = 1
                title_lines, facts = parse_heading(heading)
                layout = choose_layout(given, title_lines, header, f"page {p_no} row 1")
            elif rows and [norm_label(x or "") for x in rows[0]] == [norm_label(x or "") for x in header]:
                start = 1        # the header repeated on this page
            for r_no in range(start, len(rows)):
                row = rows[r_no]
                where = f"page {p_no} row {r_no + 1}" + (f" (table {t_no + 1})" if len(tables) > 1 else "")
                if len(row) != len(header):
                    raise Rejected(f"row has {len(row)} cells, the header has {len(header)}", where)
                if all(c in (None, "") for c in row):
                    continue
                body.append((where, row))
    if header is None or layout is None:
        raise Rejected("no table found: a list must be a ruled table in a declared layout "
                       "(scanned lists are not read)", "page 1")
    title_lines, facts = parse_heading(heading)
    return build(layout, header, iter(body), facts, headers=headers, list_type_given=given,
                 source_name=source_name, source_format=SOURCE_FORMAT, title_lines=title_lines)


def iter_text(data: bytes) -> Iterator[str]:  # pragma: no cover - a debugging aid
    pdf = _open(data)
    try:
        for page in pdf.pages:
            yield page.extract_text() or ""
    finally:
        pdf.close()
