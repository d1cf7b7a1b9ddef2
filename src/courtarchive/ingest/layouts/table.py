"""Rows of a declared layout <-> canonical records.  Shared by the PDF and Excel readers (and by the
generator's PDF / Excel renderers, which write exactly what the readers read back).

A rendered list is: heading lines (the title, then ``Label: value`` lines from `HEADING`), then
one table whose first row is the layout's header labels and whose every further row is one
offence of one defendant at one hearing entry (a defendant without offences: one row with the
offence cells blank; an entry without defendants: one row with only the hearing cells).  The
``entry`` column (``12`` / ``12.2``) numbers hearing entries and their defendants.

Reading is strict, as for CSV registers: a header label the layout does not know, a bad date /
time / number / yes-no, an entry number that is not ``N`` or ``N.M``, HTML markup or a NUL
character in a cell: the whole file is refused, naming the place (``page 2 row 14, column Date of
birth`` for PDF, ``sheet List row 14, column Date of birth`` for Excel) without quoting the value.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Iterable

from ...model.records import Hearing, Offence, ParsedList, Party, PublicationMeta, RawComplainant
from ..cath import check_headers, markup_in, parse_date, parse_time, split_display_name
from ..errors import Rejected
from . import HEADING, Column, Layout, detect, layout_for, norm_label

__all__ = ["to_rows", "cell_text", "heading_lines", "build", "read_value", "choose_layout"]

_PUBLISHED = "%Y-%m-%d %H:%M:%S UTC"
_ENTRY = re.compile(r"(\d{1,7})(?:\.(\d{1,4}))?\Z")
_NAME_PARTS = ("party.title", "party.forenames", "party.middle_names", "party.surname")
_YES = {"yes": True, "y": True, "true": True, "1": True, "no": False, "n": False, "false": False, "0": False}


# ====================================================================== writing
def cell_text(value: Any, kind: str) -> str:
    """How a value is printed in a PDF cell (and typed into an Excel text cell)."""
    if value is None:
        return ""
    if kind == "date" and isinstance(value, dt.date):
        return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"
    if kind == "bool":
        return "Yes" if value else "No"
    return str(value)


def heading_lines(parsed: ParsedList, layout: Layout) -> list[tuple[str, str]]:
    """(label, text) of the heading: the publication facts a list prints above its table.
    Court name and code are those of the entries (what the list shows for them)."""
    m = parsed.meta
    h0 = parsed.hearings[0] if parsed.hearings else None
    court_name = h0.court_name if h0 is not None else m.court_name
    court_code = h0.court_code if h0 is not None else m.court_code
    for h in parsed.hearings:
        if (h.court_name, h.court_code) != (court_name, court_code):
            raise ValueError(f"{layout.list_type}: entries of several courts; the layout has no court column")
    values = {"Court": court_name, "Court code": court_code, "Court postcode": m.court_postcode,
              "List date": cell_text(m.content_date, "date") or None,
              "List end date": cell_text(m.content_date_end, "date") or None,
              "Version": m.version,
              "Published": m.published_at.strftime(_PUBLISHED) if m.published_at else None}
    return [(label, str(v)) for label, v in values.items() if v not in (None, "")]


def to_rows(parsed: ParsedList, layout: Layout) -> list[list[Any]]:
    """The table rows (typed values, one list per row, in layout column order) of a parsed list.
    Raises ValueError when the list holds something the layout cannot show (a hearing's date
    differing from the list date without a date column, a party role other than defendant or
    prosecutor...), so that a rendered copy never silently loses a fact."""
    parties_of: dict[int, list[int]] = {}
    for i, p in enumerate(parsed.parties):
        parties_of.setdefault(p.hearing_ref, []).append(i)
    offences_of: dict[int, list] = {}
    for o in parsed.offences:
        offences_of.setdefault(o.party_ref, []).append(o)
    complainants_of: dict[int, list[str]] = {}
    for c in parsed.raw_complainants:
        complainants_of.setdefault(c.hearing_ref, []).append(c.name)
    has_date = layout.has("hearing.sitting_date")
    rows: list[list[Any]] = []
    for h_i, h in enumerate(parsed.hearings):
        if not has_date and h.sitting_date != parsed.meta.content_date:
            raise ValueError(f"{layout.list_type}: entry {h_i + 1} sits on another day than the list date")
        defendants = []
        for p_i in parties_of.get(h_i, []):
            p = parsed.parties[p_i]
            if p.role == "DEFENDANT":
                defendants.append(p_i)
            elif p.role != "PROSECUTING_AUTHORITY" or p.organisation_name != h.prosecuting_authority:
                raise ValueError(f"{layout.list_type}: entry {h_i + 1} has a {p.role} party the layout cannot show")
        names = "; ".join(complainants_of.get(h_i, [])) or None
        if not defendants:
            rows.append(_row(layout, f"{h_i + 1}", h, None, None, names))
        for d_n, p_i in enumerate(defendants, start=1):
            p = parsed.parties[p_i]
            for o in offences_of.get(p_i) or [None]:
                rows.append(_row(layout, f"{h_i + 1}.{d_n}", h, p, o, names))
    return rows


def _row(layout: Layout, entry: str, h, p, o, names) -> list[Any]:
    row = []
    for c in layout.columns:
        if c.kind == "entry":
            row.append(entry)
        elif c.kind == "names":
            row.append(names)
        else:
            rec = {"hearing": h, "party": p, "offence": o}[c.entity]
            row.append(None if rec is None else getattr(rec, c.attr))
    return row


# ====================================================================== reading
class _Bad(ValueError):
    pass


def read_value(raw: Any, kind: str) -> Any:
    """A cell (text from a PDF; text, number, date or bool from Excel) as the column's kind;
    None for a blank cell; `_Bad` (ValueError) with what is wrong."""
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = re.sub(r"\s*\n\s*", " ", raw).strip()     # lines a cell wrapped onto
        if not raw:
            return None
        if "\x00" in raw:
            raise _Bad("cell contains a NUL character, which list data may not carry")
        if ("<" in raw or "&" in raw) and (what := markup_in(raw)):
            raise _Bad(f"cell contains {what}, which list data may not carry")
    if kind in ("text", "names"):
        if isinstance(raw, float) and raw.is_integer():
            raw = int(raw)
        if isinstance(raw, (dt.datetime, dt.date, dt.time, bool)):
            raise _Bad("expected text, found a date, time or yes/no value")
        return str(raw)
    if kind == "date":
        if isinstance(raw, dt.datetime):
            if raw.time() != dt.time(0):
                raise _Bad("not a date (it has a time of day)")
            return raw.date()
        if isinstance(raw, dt.date):
            return raw
        d = parse_date(raw) if isinstance(raw, str) and "T" not in raw else None
        if d is None:
            raise _Bad("not a date (use DD/MM/YYYY or YYYY-MM-DD)")
        return d
    if kind == "time":
        if isinstance(raw, dt.datetime) and raw.time() == dt.time(0) and raw.date() > dt.date(1900, 1, 1):
            raise _Bad("not a time (use HH:MM): the cell holds a date")   # not read as midnight
        if isinstance(raw, (dt.time, dt.datetime)):
            return f"{raw.hour:02d}:{raw.minute:02d}"
        t = parse_time(raw) if isinstance(raw, str) else None
        if t is None:
            raise _Bad("not a time (use HH:MM)")
        return t
    if kind == "int":
        if isinstance(raw, bool):
            raise _Bad("not a whole number")
        if isinstance(raw, int) or (isinstance(raw, float) and raw.is_integer()):
            v = int(raw)
        elif isinstance(raw, str) and re.fullmatch(r"[0-9]{1,9}", raw):   # not str.isdigit(): '²' is one
            v = int(raw)
        else:
            raise _Bad("not a whole number")
        if not 0 <= v < 2 ** 31:
            raise _Bad("number out of range")
        return v
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        v = _YES.get(str(raw).strip().lower())
        if v is None:
            raise _Bad("not yes/no")
        return v
    if kind == "entry":
        m = _ENTRY.match(str(int(raw)) if isinstance(raw, float) and raw.is_integer() else str(raw))
        if not m or int(m[1]) == 0 or (m[2] is not None and int(m[2]) == 0):
            raise _Bad("not an entry number (N, or N.M for the M-th defendant of entry N)")
        return int(m[1]), int(m[2]) if m[2] is not None else None
    raise _Bad(f"unknown kind {kind}")  # pragma: no cover - layouts are checked on load


def choose_layout(list_type: str | None, title_lines: list[str], header: list, where: str) -> Layout:
    """The layout of a table: by list type when known (header / argument), else by title / labels."""
    labels = [h for h in header if h is not None and str(h).strip()]
    if list_type:
        lay = layout_for(list_type)
        if lay is None:
            raise Rejected(f"no PDF/Excel layout is declared for {list_type} (docs/intake-layouts.md)", where)
        unknown = [i + 1 for i, h in enumerate(header) if h is not None and str(h).strip()
                   and norm_label(h) not in lay.by_label]
        if unknown:
            raise Rejected(f"header column {unknown[0]} is not a column of the {lay.title} layout", where)
        return lay
    found = detect(title_lines, labels)
    if not found:
        raise Rejected("no declared layout has these column headings (docs/intake-layouts.md)", where)
    if len(found) > 1:
        raise Rejected(f"the table fits several layouts ({', '.join(sorted(x.list_type for x in found))}); "
                       "give x-list-type", where)
    return found[0]


def parse_heading(lines: Iterable[str]) -> tuple[list[str], dict[str, str]]:
    """(plain lines, {heading label: value}) of the text above the table."""
    plain, facts = [], {}
    keys = {norm_label(k): k for k in HEADING}
    for line in lines:
        line = str(line).strip()
        if not line:
            continue
        label, sep, value = line.partition(":")
        if sep and norm_label(label) in keys and keys[norm_label(label)] not in facts:
            facts[keys[norm_label(label)]] = value.strip()
        else:
            plain.append(line)
    return plain, facts


def _meta_value(facts: dict, label: str, kind: str):
    v = facts.get(label)
    if v in (None, ""):
        return None
    if isinstance(v, str):     # a heading fact is a cell too: the same refusals as the table's
        if "\x00" in v:
            raise Rejected(f"heading {label} contains a NUL character, which list data may not carry",
                           f"heading, {label}")
        if ("<" in v or "&" in v) and (what := markup_in(v)):
            raise Rejected(f"heading {label} contains {what}, which list data may not carry", f"heading, {label}")
    if kind == "date":
        d = v if isinstance(v, dt.date) else parse_date(str(v))
        if d is None:
            raise Rejected(f"heading {label} is not a date", f"heading, {label}")
        return d.date() if isinstance(d, dt.datetime) else d
    if kind == "datetime":
        if isinstance(v, dt.datetime):
            return v
        try:
            return dt.datetime.strptime(str(v).strip(), _PUBLISHED)
        except ValueError:
            raise Rejected(f"heading {label} is not a date-time (YYYY-MM-DD HH:MM:SS UTC)", f"heading, {label}") from None
    return str(v).strip()


def build(layout: Layout, header: list, rows: Iterable[tuple[str, list]], facts: dict, *,
          headers: dict | None, list_type_given: str | None, source_name: str, source_format: str,
          title_lines: list[str]) -> ParsedList:
    """Canonical records from the table of `layout`.  ``header``: the header cells as found;
    ``rows``: (location, cells in header order); ``facts``: heading label -> value."""
    h = check_headers(headers)
    cols: list[Column | None] = [layout.by_label.get(norm_label(x)) if x is not None and str(x).strip() else None
                                 for x in header]
    if not any(c is not None and c.kind == "entry" for c in cols):
        raise Rejected("the table has no entry (No.) column", "header")
    court_name = _meta_value(facts, "Court", "text")
    court_code = _meta_value(facts, "Court code", "text")
    content_date = h.get("content_date") or _meta_value(facts, "List date", "date")
    end = _meta_value(facts, "List end date", "date")
    has = {c.field for c in cols if c is not None}
    names_label = next((c.label for c in cols if c is not None and c.kind == "names"), "Complainant")
    parts_given = any(f in has for f in _NAME_PARTS)

    hearings: list = []
    parties: list = []
    offences: list = []
    complainants: list = []
    hearing_of: dict[int, int] = {}
    party_of: dict[tuple[int, int], int] = {}
    last_entry = 0
    n_rows = 0
    for where, cells in rows:
        n_rows += 1
        vals: dict[str, Any] = {}
        for c, raw in zip(cols, cells):
            if c is None:
                if raw not in (None, "") and str(raw).strip():
                    raise Rejected("a cell under no column heading", where)
                continue
            try:
                v = read_value(raw, c.kind)
            except _Bad as e:
                raise Rejected(str(e), f"{where}, column {c.label}") from None
            if v is not None:
                vals[c.field] = v
        entry = vals.get("entry")
        if entry is None:
            raise Rejected("row has no entry number", where)
        e_no, d_no = entry
        if e_no < last_entry:
            raise Rejected("entry numbers go backwards", where)
        last_entry = e_no
        h_ref = hearing_of.get(e_no)
        if h_ref is None:
            h_ref = hearing_of[e_no] = len(hearings)
            hf = {c.attr: vals.get(c.field) for c in cols if c is not None and c.entity == "hearing"
                  and c.kind != "names"}
            hf.setdefault("court_name", court_name)
            hf.setdefault("court_code", court_code or h.get("court_id"))
            if "hearing.sitting_date" not in has:
                hf["sitting_date"] = content_date
            hearings.append(Hearing(json_path=where, **hf))
            for name in filter(None, (x.strip() for x in (vals.get("hearing.complainants") or "").split(";"))):
                complainants.append(RawComplainant(hearing_ref=h_ref, name=name,
                                                   json_path=f"{where}, column {names_label}"))
            prosecutor = hf.get("prosecuting_authority")
            if prosecutor:
                parties.append(Party(hearing_ref=h_ref, role="PROSECUTING_AUTHORITY", json_path=where,
                                     organisation_name=prosecutor, name_as_listed=prosecutor))
        if d_no is None:
            if any(k.startswith(("party.", "offence.")) for k in vals):
                raise Rejected("defendant or offence cells on a row numbered as an entry without defendant "
                               "(use N.M)", where)
            continue
        p_ref = party_of.get((e_no, d_no))
        if p_ref is None:
            pf = {c.attr: vals.get(c.field) for c in cols if c is not None and c.entity == "party"}
            name = pf.get("name_as_listed")
            if not parts_given and name and not pf.get("organisation_name"):
                pf["title"], pf["forenames"], pf["surname"] = split_display_name(name)
            elif not name:
                pf["name_as_listed"] = " ".join(filter(None, (pf.get("title"), pf.get("forenames"),
                                                              pf.get("middle_names"), pf.get("surname")))) \
                    or pf.get("organisation_name")
            if not (pf.get("name_as_listed") or pf.get("surname") or pf.get("organisation_name")):
                raise Rejected("row names no defendant", where)
            p_ref = party_of[(e_no, d_no)] = len(parties)
            parties.append(Party(hearing_ref=h_ref, role="DEFENDANT", json_path=where, **pf))
        of = {c.attr: vals[c.field] for c in cols if c is not None and c.entity == "offence" and c.field in vals}
        if of:
            if "seq" not in of:
                of["seq"] = sum(1 for o in offences if o.party_ref == p_ref) + 1
            offences.append(Offence(party_ref=p_ref, json_path=where, **of))
    if n_rows == 0:
        raise Rejected("the table has no rows", "header")

    lt = list_type_given or layout.list_type
    if content_date is None and hearings:
        days = sorted({x.sitting_date for x in hearings if x.sitting_date})
        content_date = days[0] if days else None
    meta = PublicationMeta(
        list_type=lt, sensitivity=h.get("sensitivity") or layout.sensitivity, language=h.get("language"),
        content_date=content_date, content_date_end=end if end and content_date and end > content_date else None,
        version=_meta_value(facts, "Version", "text"), published_at=_meta_value(facts, "Published", "datetime"),
        display_from=h.get("display_from"), display_to=h.get("display_to"), provenance=h.get("provenance"),
        source_artefact_id=h.get("source_artefact_id"), court_name=court_name,
        court_code=h.get("court_id") or court_code, court_postcode=_meta_value(facts, "Court postcode", "text"),
        source_name=source_name, source_format=source_format)
    warnings = []
    if not list_type_given and not any(norm_label(layout.title) == norm_label(t) for t in title_lines):
        warnings.append(f"list type {lt} recognised from the column headings (no title line)")
    return ParsedList(meta=meta, hearings=hearings, parties=parties, offences=offences, warnings=warnings,
                      raw_complainants=complainants)
