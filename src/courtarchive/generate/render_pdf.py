"""The generator's lists as PDF (ReportLab), in the declared column layouts of
`courtarchive.ingest.layouts` -- the copies CaTH offers for download, as newsrooms receive them.

A page shows the list's title, the heading lines (court, court code, list date, version,
published) and one table: a header row (repeated on every page) and one row per offence of each
defendant.  Cells wrap at spaces only (every column is at least as wide as its longest word), so
the text read back is the text written; the page is as wide as the table needs.

`copies(out, formats)` renders every JSON list of a generated corpus (``out/lists``) to
``out/pdf`` and/or ``out/xlsx``, same folders and stems (no sidecars: a PDF or Excel copy carries
its facts on the page).  Output is deterministic (ReportLab's invariant mode).
"""

from __future__ import annotations

import functools
import io
import os
from pathlib import Path
from xml.sax.saxutils import escape

from ..ingest.layouts import Layout, layout_for
from ..ingest.layouts.table import cell_text, heading_lines, to_rows
from ..model.records import ParsedList

__all__ = ["render_pdf", "parse_json_list", "copies", "FORMATS"]

FORMATS = ("json", "pdf", "xlsx")
FONT_SIZE = 7.0
PAD = 3.0
CAP = 170.0                     # widest a wrapping column grows before it wraps
_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu",)


@functools.lru_cache(maxsize=1)
def _fonts() -> tuple[str, str]:
    """(regular, bold) font names: DejaVu Sans when the system has it (wide Unicode cover), else
    the Bitstream Vera fonts that ship with ReportLab."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont
    import reportlab

    for d in _FONT_DIRS:
        reg, bold = os.path.join(d, "DejaVuSans.ttf"), os.path.join(d, "DejaVuSans-Bold.ttf")
        if os.path.exists(reg) and os.path.exists(bold):
            break
    else:
        d = os.path.join(os.path.dirname(reportlab.__file__), "fonts")
        reg, bold = os.path.join(d, "Vera.ttf"), os.path.join(d, "VeraBd.ttf")
    pdfmetrics.registerFont(TTFont("CAList", reg))
    pdfmetrics.registerFont(TTFont("CAList-Bold", bold))
    return "CAList", "CAList-Bold"


def _widths(texts: list[list[str]], header: list[str], font: str, bold: str) -> list[float]:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    out = []
    for i, label in enumerate(header):
        word = max((stringWidth(w, bold, FONT_SIZE) for w in label.split()), default=0.0)
        full = stringWidth(label, bold, FONT_SIZE) if len(label) < 14 else word
        for row in texts:
            t = row[i]
            if t:
                full = max(full, stringWidth(t, font, FONT_SIZE))
                word = max(word, max(stringWidth(w, font, FONT_SIZE) for w in t.split()))
        out.append(max(word, min(full, CAP)) + 2 * PAD + 1.5)
    return out


def render_pdf(parsed: ParsedList, layout: Layout | None = None) -> bytes:
    """One parsed list as a PDF in its list type's layout.  ValueError when no layout is
    declared for the list type, or the list holds what the layout cannot show."""
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_LEFT
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    layout = layout or layout_for(parsed.meta.list_type)
    if layout is None:
        raise ValueError(f"no layout for {parsed.meta.list_type}")
    font, bold = _fonts()
    header = [c.label for c in layout.columns]
    texts = [[cell_text(v, c.kind) for v, c in zip(row, layout.columns)] for row in to_rows(parsed, layout)]
    widths = _widths(texts, header, font, bold)
    margin = 24.0
    page = (max(842.0, sum(widths) + 2 * margin), 595.0)
    cell = ParagraphStyle("cell", fontName=font, fontSize=FONT_SIZE, leading=FONT_SIZE * 1.25, alignment=TA_LEFT,
                          splitLongWords=0)
    head = ParagraphStyle("head", parent=cell, fontName=bold)
    title = ParagraphStyle("title", fontName=bold, fontSize=13, leading=16, spaceAfter=4)
    line = ParagraphStyle("line", fontName=font, fontSize=9, leading=11)

    data = [[Paragraph(escape(x), head) for x in header]]
    data += [[Paragraph(escape(t), cell) if t else "" for t in row] for row in texts]
    table = Table(data, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.4, colors.black),
        ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.88, 0.88, 0.88)),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), PAD), ("RIGHTPADDING", (0, 0), (-1, -1), PAD),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]))
    story = [Paragraph(escape(layout.title), title)]
    story += [Paragraph(escape(f"{label}: {value}"), line) for label, value in heading_lines(parsed, layout)]
    story += [Spacer(1, 8), table]
    buf = io.BytesIO()
    doc = SimpleDocTemplate(buf, pagesize=page, leftMargin=margin, rightMargin=margin, topMargin=margin,
                            bottomMargin=margin, title=layout.title, author="courtarchive generate",
                            invariant=1)
    doc.build(story)
    return buf.getvalue()


def parse_json_list(path: Path) -> ParsedList:
    """A generated JSON list (with its sidecar) parsed by the archive's own CaTH parser: the
    canonical records every rendered copy shows."""
    from ..ingest.cath import parse_document
    from ..ingest.pipeline import read_sidecar

    return parse_document(path.read_bytes(), source_name=path.name, headers=read_sidecar(path))


def copies(out: Path | str, formats: tuple[str, ...] | list[str]) -> dict[str, int]:
    """Render every list under ``out/lists`` to ``out/<format>`` for each of `formats` other
    than json (pdf, xlsx).  Returns files written per format."""
    from .render_xlsx import render_xlsx

    out = Path(out)
    wanted = [f for f in formats if f != "json"]
    bad = [f for f in wanted if f not in FORMATS]
    if bad:
        raise ValueError(f"unknown output format(s): {', '.join(bad)} (choose from {', '.join(FORMATS)})")
    render = {"pdf": render_pdf, "xlsx": render_xlsx}
    counts = {f: 0 for f in wanted}
    for f in wanted:
        target = out / f
        if target.exists():
            import shutil

            shutil.rmtree(target)
    if not wanted:
        return counts
    lists = out / "lists"
    for src in sorted(lists.rglob("*.json")):
        if src.name.endswith(".meta.json"):
            continue
        parsed = parse_json_list(src)
        rel = src.relative_to(lists).with_suffix("")
        for f in wanted:
            dest = out / f / rel.parent / f"{rel.name}.{f}"
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(render[f](parsed))
            counts[f] += 1
    return counts
