"""Shared helpers of tests/test_intake_*.py (synthetic data only)."""

from __future__ import annotations

import datetime as dt
import io

from openpyxl import Workbook

from courtarchive.model.records import Hearing, Offence, ParsedList, Party, PublicationMeta, RawComplainant


def standard_list(n: int = 1, *, wording: str = "On 01/02/2024 at Preston assaulted Jordan Placeholder by beating him.",
                  complainant: str | None = "Jordan Placeholder") -> ParsedList:
    """A hand-made magistrates' standard list of `n` entries (one defendant, one offence each)."""
    meta = PublicationMeta(list_type="MAGISTRATES_STANDARD_LIST", sensitivity="CLASSIFIED",
                           court_name="Preston Magistrates' Court", court_code="1479512",
                           content_date=dt.date(2024, 3, 4), published_at=dt.datetime(2024, 3, 4, 6, 0))
    hearings, parties, offences, comps = [], [], [], []
    for i in range(n):
        hearings.append(Hearing(json_path=f"$[{i}]", court_name=meta.court_name, court_code=meta.court_code,
                                sitting_date=meta.content_date, sitting_time="10:00", room="Courtroom 1",
                                hearing_type="First appearance", case_urn=f"42AB{1000000 + i}",
                                prosecuting_authority="Crown Prosecution Service", reporting_restriction=False))
        parties.append(Party(hearing_ref=i, role="DEFENDANT", json_path="$", forenames="Alex", surname=f"Example{i}",
                             name_as_listed=f"Alex Example{i}", date_of_birth=dt.date(1990, 5, 17), age=33,
                             address="1 Test Street", town="Preston", postcode="PR1 1AA"))
        parties.append(Party(hearing_ref=i, role="PROSECUTING_AUTHORITY", json_path="$",
                             organisation_name="Crown Prosecution Service", name_as_listed="Crown Prosecution Service"))
        offences.append(Offence(party_ref=2 * i, json_path="$", seq=1, code="CJ88116", title="Assault by beating",
                                wording=wording, plea="NOT_GUILTY"))
        if complainant:
            comps.append(RawComplainant(hearing_ref=i, name=complainant, json_path="$"))
    return ParsedList(meta=meta, hearings=hearings, parties=parties, offences=offences, raw_complainants=comps)


def ruled_pdf(lines: list[str], header: list[str], rows: list[list[str]], *, rows_per_page: int | None = None) -> bytes:
    """A PDF of heading lines and one ruled table, built directly with ReportLab (not by the
    generator's renderer): what another system's PDF in a declared layout looks like."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A3, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Table, TableStyle

    styles = getSampleStyleSheet()
    story = [Paragraph(x, styles["Normal"]) for x in lines]
    chunks = [rows] if not rows_per_page else [rows[i:i + rows_per_page] for i in range(0, len(rows), rows_per_page)]
    for k, chunk in enumerate(chunks):
        t = Table([header] + chunk)
        t.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                               ("FONTSIZE", (0, 0), (-1, -1), 7)]))
        if k:
            story.append(PageBreak())
        story.append(t)
    buf = io.BytesIO()
    SimpleDocTemplate(buf, pagesize=landscape(A3)).build(story)
    return buf.getvalue()


#: the column headings of the Excel daily list layout
DAILY = ["No.", "Court room", "Sitting at", "Case number", "Defendant", "Forename(s)", "Surname", "Count", "Offence"]


def workbook(rows: list[list]) -> bytes:
    """An .xlsx of one sheet "Register" holding ``rows``."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Register"
    for r in rows:
        ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
