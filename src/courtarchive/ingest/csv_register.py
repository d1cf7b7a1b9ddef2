"""CSV court registers -> `ParsedList`, or `Rejected`.  Pure: bytes in, records out.

The format
==========
A UTF-8 text file (a UTF-8 byte-order mark is allowed) of comma-separated values, RFC 4180
quoting (``"Smith, John"``; ``""`` for a quote inside a quoted cell).  The first row names the
columns; every further row is ONE OFFENCE OF ONE DEFENDANT at one hearing.  Rows are numbered as a
spreadsheet numbers them: the header is row 1, the first data row is row 2.  Wholly blank rows are
skipped.

Column names are matched case-insensitively; spaces and hyphens count as underscores, and the
aliases in `ALIASES` are accepted (``date_of_birth`` for ``dob`` ...).  A column the format does
not know is an error, so that a misspelt header cannot silently drop data.

=========================  ========  =====================================================
column                     required  content
=========================  ========  =====================================================
court                      yes       court name as listed (e.g. ``Preston Magistrates' Court``)
court_code                           court code, if known (x-court-id wins for the publication)
sitting_date               yes       ``YYYY-MM-DD`` or ``DD/MM/YYYY``
sitting_time                         ``HH:MM`` (24 h) or ``10am`` / ``2.30pm``
room                                 court room
urn                        (a)       the case's unique reference number
case_number                (a)       the court's case number
hearing_type                         e.g. ``First appearance``, ``Trial``, ``Sentence``
prosecutor                           prosecuting authority (``CPS``, ``TV Licensing`` ...)
title                                defendant's title (``Mr``, ``Ms`` ...)
forenames                            defendant's forenames
middle_names                         defendant's middle names
surname                    (b)       defendant's surname
organisation                         defendant organisation's name (a company)
dob                                  date of birth, as ``sitting_date``
age                                  age in years, 0-130
address                              street address (lines joined with ``, ``)
town
county
postcode
gender
in_custody                           yes / no
offence_code                         CJS offence code
offence_title                        short title of the offence
offence_wording                      wording as listed (redacted later by the intake gate)
legislation                          e.g. ``Contrary to section 39 of the Criminal Justice Act 1988``
plea                                 ``GUILTY``, ``NOT_GUILTY``, ``NONE`` (any case; spaces allowed)
plea_date                            as ``sitting_date``
conviction_date                      as ``sitting_date``
adjourned_date                       as ``sitting_date``
reporting_restriction                yes / no / true / false / 1 / 0 / blank
reporting_restriction_detail         text (e.g. ``s.45 YJCEA 1999``)
complainant                          OPTIONAL, CLEARTEXT: the complainant's name(s), ``;`` between
                                     several.  Never stored as read: the names go to
                                     ``ParsedList.raw_complainants`` for the intake gate, which
                                     pseudonymises them.
=========================  ========  =====================================================

(a) a row needs a ``urn`` or a ``case_number`` (the header needs at least one of the columns);
(b) a row needs a ``surname`` or an ``organisation``.

Grouping
    * rows with the same (court, sitting_date, URN -- else case number) are one hearing entry;
      its other fields come from the first such row (a later row that disagrees is a warning);
    * within a hearing, rows with the same defendant (surname, forenames, date of birth -- or the
      organisation's name) are one party;
    * every row with any offence column filled is one offence of that party.

Rejections (the file is refused, nothing of it is kept): empty input, over ``max_bytes``, not
UTF-8 (byte offset named), malformed CSV, an unknown / duplicate / missing required column, a row
with a different number of cells than the header, a bad date / time / number / yes-no, a row
without a case reference or defendant, and HTML markup (or a NUL character) in any cell.  ``json_path`` names the place
as ``row 7, column dob`` (or ``row 7``, ``header``).

Publication metadata: the CaTH headers apply as for JSON lists (``x-list-type`` -- default
``CSV_REGISTER`` --, ``x-sensitivity`` -- default CLASSIFIED, a register carries press-list
detail --, ``x-content-date`` -- default the earliest sitting date --, ``x-court-id`` ...).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from typing import Any, Callable

from ..model.records import Hearing, Offence, ParsedList, Party, PublicationMeta, RawComplainant
from .cath import (CLASSIFIED, DEFAULT_MAX_BYTES, check_headers, decode_utf8, markup_in, parse_date,
                   parse_time)
from .errors import Rejected, input_bytes

__all__ = ["parse_csv", "COLUMNS", "ALIASES", "LIST_TYPE", "SOURCE_FORMAT"]

LIST_TYPE = "CSV_REGISTER"
SOURCE_FORMAT = "csv"
MAX_FIELD_CHARS = 100_000


# --------------------------------------------------------------- cell readers
class _Bad(ValueError):
    """A cell that cannot be read; the message says why (never quoting the value)."""


def _text(v: str) -> str:
    return v


def _date(v: str) -> dt.date:
    d = parse_date(v)
    if d is None or "T" in v:
        raise _Bad("not a date (use YYYY-MM-DD or DD/MM/YYYY)")
    return d


def _time(v: str) -> str:
    t = parse_time(v)
    if t is None:
        raise _Bad("not a time (use HH:MM)")
    return t


def _age(v: str) -> int:
    # ASCII digits only: str.isdigit() is also true of '²' or '٣', which int() refuses or reads
    if not re.fullmatch(r"[0-9]{1,3}", v) or int(v) > 130:
        raise _Bad("not an age in years (0-130)")
    return int(v)


_YES_NO = {"yes": True, "y": True, "true": True, "1": True, "no": False, "n": False, "false": False, "0": False}


def _yes_no(v: str) -> bool:
    try:
        return _YES_NO[v.lower()]
    except KeyError:
        raise _Bad("not yes/no") from None


def _plea(v: str) -> str:
    p = re.sub(r"[^A-Z]+", "_", v.upper()).strip("_")
    if not p:
        raise _Bad("not a plea")
    return p


@dataclass(frozen=True)
class Column:
    name: str
    read: Callable[[str], Any]
    doc: str
    required: bool = False


#: every column of the format, in documentation order
COLUMNS: dict[str, Column] = {c.name: c for c in (
    Column("court", _text, "court name as listed", required=True),
    Column("court_code", _text, "court code"),
    Column("sitting_date", _date, "day of the hearing", required=True),
    Column("sitting_time", _time, "time of the hearing"),
    Column("room", _text, "court room"),
    Column("urn", _text, "unique reference number of the case"),
    Column("case_number", _text, "court case number"),
    Column("hearing_type", _text, "type of hearing"),
    Column("prosecutor", _text, "prosecuting authority"),
    Column("title", _text, "defendant's title"),
    Column("forenames", _text, "defendant's forenames"),
    Column("middle_names", _text, "defendant's middle names"),
    Column("surname", _text, "defendant's surname"),
    Column("organisation", _text, "defendant organisation"),
    Column("dob", _date, "date of birth"),
    Column("age", _age, "age in years"),
    Column("address", _text, "street address"),
    Column("town", _text, "town"),
    Column("county", _text, "county"),
    Column("postcode", _text, "postcode"),
    Column("gender", _text, "gender"),
    Column("in_custody", _yes_no, "in custody"),
    Column("offence_code", _text, "CJS offence code"),
    Column("offence_title", _text, "offence title"),
    Column("offence_wording", _text, "offence wording as listed"),
    Column("legislation", _text, "offence legislation"),
    Column("plea", _plea, "plea"),
    Column("plea_date", _date, "date of plea"),
    Column("conviction_date", _date, "date of conviction"),
    Column("adjourned_date", _date, "date adjourned to"),
    Column("reporting_restriction", _yes_no, "reporting restriction in force"),
    Column("reporting_restriction_detail", _text, "reporting restriction detail"),
    Column("complainant", _text, "complainant name(s), cleartext, ';' between several"),
)}

#: other spellings accepted in the header row
ALIASES = {
    "court_name": "court", "date": "sitting_date", "hearing_date": "sitting_date", "time": "sitting_time",
    "courtroom": "room", "court_room": "room", "case_urn": "urn", "case_no": "case_number",
    "caseno": "case_number", "prosecuting_authority": "prosecutor", "forename": "forenames",
    "first_name": "forenames", "first_names": "forenames", "middle_name": "middle_names",
    "last_name": "surname", "family_name": "surname", "organisation_name": "organisation",
    "date_of_birth": "dob", "post_code": "postcode", "sex": "gender", "wording": "offence_wording",
    "offence": "offence_title", "offence_legislation": "legislation", "complainants": "complainant",
    "victim": "complainant", "reporting_restrictions": "reporting_restriction",
}
_OFFENCE_COLUMNS = ("offence_code", "offence_title", "offence_wording", "legislation", "plea", "plea_date",
                    "conviction_date", "adjourned_date")
_HEARING_COLUMNS = ("sitting_time", "room", "hearing_type", "prosecutor", "court_code")


def _column_name(raw: str) -> str:
    name = re.sub(r"[\s\-.]+", "_", raw.strip().lower()).strip("_")
    return ALIASES.get(name, name)


def _header(row: list[str]) -> list[str]:
    names = []
    for i, raw in enumerate(row, start=1):
        if ("<" in raw or "\x00" in raw) and (what := "a NUL character" if "\x00" in raw else markup_in(raw)):
            raise Rejected(f"column name contains {what}, which a register may not carry"
                           + (" (an HTML page, not CSV?)" if i == 1 and raw.lstrip().startswith("<") else ""),
                           f"header, column {i}")
        name = _column_name(raw)
        if not name:
            raise Rejected(f"column {i} has no name", f"header, column {i}")
        if name not in COLUMNS:
            raise Rejected(f"unknown column (column {i}); the format's columns are listed in "
                           "docs/csv-format.md", f"header, column {i}")
        if name in names:
            raise Rejected(f"column {name} appears twice", f"header, column {i}")
        names.append(name)
    missing = [c.name for c in COLUMNS.values() if c.required and c.name not in names]
    if missing:
        raise Rejected(f"missing required column(s): {', '.join(missing)}", "header")
    if "urn" not in names and "case_number" not in names:
        raise Rejected("a register needs a urn or a case_number column", "header")
    if "surname" not in names and "organisation" not in names:
        raise Rejected("a register needs a surname or an organisation column", "header")
    return names


def _read_row(names: list[str], cells: list[str], n: int) -> dict[str, Any]:
    if len(cells) != len(names):
        raise Rejected(f"row has {len(cells)} cells, the header has {len(names)}", f"row {n}")
    row: dict[str, Any] = {}
    for name, raw in zip(names, cells):
        value = raw.strip()
        if not value:
            continue
        if "<" in value or "&" in value or "\x00" in value:
            what = "a NUL character" if "\x00" in value else markup_in(value)
            if what:
                raise Rejected(f"cell contains {what}, which a register may not carry", f"row {n}, column {name}")
        try:
            row[name] = COLUMNS[name].read(value)
        except _Bad as e:
            raise Rejected(str(e), f"row {n}, column {name}") from None
    if not (row.get("urn") or row.get("case_number")):
        raise Rejected("row has neither a urn nor a case_number", f"row {n}")
    if not (row.get("surname") or row.get("organisation")):
        raise Rejected("row has neither a surname nor an organisation", f"row {n}")
    return row


def _rows(text: str) -> tuple[list[str], list[tuple[int, dict]]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    names: list[str] | None = None
    rows: list[tuple[int, dict]] = []
    n = 0
    try:
        for cells in reader:
            n += 1
            if names is None:
                names = _header(cells)
                continue
            if not any(c.strip() for c in cells):
                continue
            if any(len(c) > MAX_FIELD_CHARS for c in cells):
                raise Rejected(f"a cell is longer than {MAX_FIELD_CHARS} characters", f"row {n}")
            rows.append((n, _read_row(names, cells, n)))
    except csv.Error as e:
        raise Rejected(f"malformed CSV: {e}", f"row {n + 1}") from None
    if names is None:
        raise Rejected("no header row")
    if not rows:
        raise Rejected("no data rows", "row 2")
    return names, rows


# --------------------------------------------------------------- grouping
def _norm(v: Any) -> str:
    return re.sub(r"\s+", " ", str(v)).strip().casefold() if v is not None else ""


def _party_key(row: dict) -> tuple:
    if row.get("surname"):
        return ("person", _norm(row.get("surname")), _norm(row.get("forenames")), row.get("dob"))
    return ("organisation", _norm(row.get("organisation")))


def parse_csv(data: bytes, *, source_name: str, headers: dict | None = None, list_type: str | None = None,
              max_bytes: int = DEFAULT_MAX_BYTES) -> ParsedList:
    """A CSV register (format above) -> `ParsedList`; `Rejected` on any fault, naming row/column."""
    try:
        return _parse(data, source_name, headers, max_bytes)
    except Rejected as e:
        raise e.with_source(source_name)


def _parse(data: bytes, source_name: str, headers: dict | None, max_bytes: int) -> ParsedList:
    data = input_bytes(data, max_bytes)
    h = check_headers(headers, known_list_type=False)
    text = decode_utf8(data)
    _, rows = _rows(text)

    hearings: list = []
    parties: list = []
    offences: list = []
    complainants: list = []
    warnings: list[str] = []
    hearing_of: dict[tuple, int] = {}
    party_of: dict[tuple, int] = {}
    first_row: dict[int, dict] = {}
    offences_of: dict[int, int] = {}

    for n, row in rows:
        path = f"row {n}"
        h_key = (_norm(row["court"]), row["sitting_date"],
                 ("urn", _norm(row["urn"])) if row.get("urn") else ("cn", _norm(row.get("case_number"))))
        h_ref = hearing_of.get(h_key)
        if h_ref is None:
            h_ref = hearing_of[h_key] = len(hearings)
            first_row[h_ref] = row
            hearings.append(Hearing(
                json_path=path, court_name=row["court"], court_code=row.get("court_code") or h.get("court_id"),
                sitting_date=row["sitting_date"], sitting_time=row.get("sitting_time"), room=row.get("room"),
                hearing_type=row.get("hearing_type"), case_urn=row.get("urn"),
                case_number=row.get("case_number"), prosecuting_authority=row.get("prosecutor"),
                reporting_restriction=row.get("reporting_restriction"),
                reporting_restriction_detail=row.get("reporting_restriction_detail")))
        else:
            first, hearing = first_row[h_ref], hearings[h_ref]
            for col in _HEARING_COLUMNS + ("case_number", "urn"):
                if row.get(col) is not None and first.get(col) is not None and row[col] != first[col]:
                    warnings.append(f"{path}, column {col}: differs from the hearing's first row "
                                    f"({hearing.json_path}); the first is kept")
            if row.get("reporting_restriction"):
                hearing.reporting_restriction = True
            if row.get("reporting_restriction_detail") and not hearing.reporting_restriction_detail:
                hearing.reporting_restriction_detail = row["reporting_restriction_detail"]

        p_key = (h_ref, _party_key(row))
        p_ref = party_of.get(p_key)
        if p_ref is None:
            p_ref = party_of[p_key] = len(parties)
            name = " ".join(filter(None, (row.get("title"), row.get("forenames"), row.get("middle_names"),
                                          row.get("surname")))) or row.get("organisation")
            parties.append(Party(
                hearing_ref=h_ref, role="DEFENDANT", json_path=path, title=row.get("title"),
                forenames=row.get("forenames"), middle_names=row.get("middle_names"), surname=row.get("surname"),
                organisation_name=row.get("organisation"), name_as_listed=name, date_of_birth=row.get("dob"),
                age=row.get("age"), gender=row.get("gender"), address=row.get("address"), town=row.get("town"),
                county=row.get("county"), postcode=row.get("postcode"), in_custody=row.get("in_custody")))

        o_ref = None
        if any(row.get(c) is not None for c in _OFFENCE_COLUMNS):
            o_ref = len(offences)
            seq = offences_of[p_ref] = offences_of.get(p_ref, 0) + 1
            offences.append(Offence(
                party_ref=p_ref, json_path=path, seq=seq, code=row.get("offence_code"),
                title=row.get("offence_title"), wording=row.get("offence_wording"),
                legislation=row.get("legislation"), plea=row.get("plea"), plea_date=row.get("plea_date"),
                conviction_date=row.get("conviction_date"), adjourned_date=row.get("adjourned_date"),
                reporting_restriction=row.get("reporting_restriction"),
                reporting_restriction_detail=row.get("reporting_restriction_detail")))

        for name in filter(None, (x.strip() for x in (row.get("complainant") or "").split(";"))):
            complainants.append(RawComplainant(hearing_ref=h_ref, name=name, offence_ref=o_ref,
                                               json_path=f"{path}, column complainant"))

    days = sorted({row["sitting_date"] for _, row in rows})
    courts = {row["court"] for _, row in rows}
    codes = {row["court_code"] for _, row in rows if row.get("court_code")}
    content_date = h.get("content_date") or days[0]
    meta = PublicationMeta(
        list_type=h.get("list_type") or LIST_TYPE, sensitivity=h.get("sensitivity") or CLASSIFIED,
        language=h.get("language"), content_date=content_date,
        content_date_end=days[-1] if days[-1] > content_date else None,
        display_from=h.get("display_from"), display_to=h.get("display_to"), provenance=h.get("provenance"),
        source_artefact_id=h.get("source_artefact_id"),
        court_name=courts.pop() if len(courts) == 1 else None,
        court_code=h.get("court_id") or (codes.pop() if len(codes) == 1 else None),
        source_name=source_name, source_format=SOURCE_FORMAT)
    return ParsedList(meta=meta, hearings=hearings, parties=parties, offences=offences,
                      warnings=warnings, raw_complainants=complainants)
