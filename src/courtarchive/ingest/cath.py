"""CaTH JSON lists -> `ParsedList`, or `Rejected`.  Pure: bytes in, records out, no I/O but the
schemas shipped in ``ingest/schemas``.

Pipeline of `parse_document`
    1. bytes: not empty, not over ``max_bytes``, UTF-8 (a UTF-8 BOM is allowed), JSON (orjson),
       top level an object -- or an array, which only the non-strategic lists use;
    2. headers (``x-list-type``, ``x-sensitivity``, ``x-content-date``, ``x-court-id``,
       ``x-display-from``/``-to``, ``x-language``, ``x-provenance``, ``x-source-artefact-id``,
       ``x-type``; any case, ``x-`` optional) are checked;
    3. list type: the ``list_type`` argument, else the header, else `detect_list_type`;
    4. the document is validated against that type's official schema (`jsonschema`, validators
       compiled once); the FIRST error is the rejection, with its JSON path (``$.a.b[0].c``);
    5. no string anywhere may carry HTML markup or a NUL character (`find_markup`), whatever
       the schema says -- the Crown PDDA schemas have no patterns at all, and the magistrates
       public schema's party patterns never apply (a schema bug);
    6. the list type's parser turns the document into flat records.
    Before any schema runs, a document whose strings hold floods of unclosed ``<`` is refused:
    the upstream patterns (``(.|\r|\n)*<[^>]+>``) backtrack quadratically on them.

What counts as HTML (`markup_in`): closing or self-closing tags, comments / CDATA / doctype,
a tag with attributes, or a bare tag of a real HTML element -- also entity-encoded.  Not the
literal ``<[^>]+>``: CaTH's own *valid* examples carry ``<this is valid text>`` in offence wording
and organisation names, which its schemas deliberately allow there.

Detection (`detect_list_type`, used only without ``x-list-type``): structure first, then the
press-only fields that tell a press list from its public twin, then schema validation among the
candidates.  Where one schema serves several list types, detection answers only if the table
marks one of them (an umbrella or the full list of which the others are variants); regional or
per-court variants of one format, and formats that are identical in shape (CST/PHT), need the
header and are otherwise refused.

Mapping (one `Hearing` per case listed at a sitting: a "hearing entry")
    magistrates standard / public   courtLists > courtHouse > courtRoom > session > sittings >
        hearing > case > party > offence; every ``application`` of a hearing is an entry of its own
        (case_number = applicationReference, hearing_type = applicationType).
    SJP press / public              same tree, but parties and offences hang off the hearing;
        offences are attached to the accused; no sitting time, sitting_date = the list's date.
    magistrates (public) adult court   document.data.job.sessions.session > blocks.block >
        cases.case; ``def_name`` is split into title / forenames / surname; ``sum`` is the wording.
    Crown daily / firm PDDA          DailyList|FirmList > CourtLists > Sittings > Hearings (+ the
        firm list's ReserveList); Defendants (URN per defendant), Charges, Prosecution,
        CommittingCourt -> originating_court, Respondent -> RESPONDENT parties.
    Crown warned PDDA                WarnedList > CourtLists > WithFixedDate|WithoutFixedDate >
        Fixture > Cases; CaseArrivedFrom -> originating_court, LinkedCases, CustodyStatus.
    everything else (civil, family, tribunals, non-strategic, legacy)   the courtLists walk above
        when the document has ``courtLists``, plus every array of row objects (the non-strategic
        lists), plus, if that finds nothing, any object carrying a case number or URN.

Privacy rules kept here
    * a party whose role is a complainant / victim role never becomes a `Party`: it goes to
      ``ParsedList.raw_complainants`` (cleartext, for the intake gate only); a *representative* of
      a complainant is dropped with a warning (it can identify the complainant);
    * offence wording is kept as listed (the intake gate redacts it); free-text application
      particulars are not kept (no field of the model goes through that redaction);
    * rejection reasons say what is wrong, never quote the offending value.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import re
from dataclasses import dataclass
from importlib import resources
from itertools import chain
from typing import Any, Callable, Iterator
from zoneinfo import ZoneInfo

import orjson
import jsonschema_rs
from jsonschema import FormatChecker, validators
from msgspec.structs import replace

from ..model.records import Hearing, Offence, ParsedList, Party, PublicationMeta, RawComplainant
from .errors import Rejected

__all__ = [
    "LIST_TYPES", "ListType", "Family", "detect_list_type", "parse_document", "normalise_headers",
    "normalise_role", "find_markup", "markup_in", "validate", "check_headers", "court_id_header",
    "decode_utf8", "parse_date", "parse_time", "split_display_name", "json_path", "SOURCE_FORMAT",
    "settle_court_codes",
]

SOURCE_FORMAT = "cath-json"
DEFAULT_MAX_BYTES = 200 * 1024 * 1024
LONDON = ZoneInfo("Europe/London")
PUBLIC, PRIVATE, CLASSIFIED = "PUBLIC", "PRIVATE", "CLASSIFIED"
SENSITIVITIES = frozenset({PUBLIC, PRIVATE, CLASSIFIED})
LANGUAGES = {"ENGLISH": "ENGLISH", "WELSH": "WELSH", "BI_LINGUAL": "BI_LINGUAL", "BILINGUAL": "BI_LINGUAL"}
MASTER_SCHEMA = "master_schema.json"
_EMPTY: dict = {}  # shared read-only default; never mutated


# =============================================================== small value helpers
def _s(v: Any) -> str | None:
    """A stripped non-empty string, numbers as text (room 1, court code 1234), else None."""
    if v.__class__ is str:          # the hot path: most values are plain strings
        return v.strip() or None
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, str):
        return v.strip() or None
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return repr(v)
    return None


def _list(v: Any) -> list:
    return v if isinstance(v, list) else []


def _dict(v: Any) -> dict:
    return v if isinstance(v, dict) else _EMPTY


def _bool(v: Any) -> bool | None:
    return v if isinstance(v, bool) else None


_YES_NO = {"yes": True, "y": True, "true": True, "no": False, "n": False, "false": False}


def _yes_no(v: Any) -> bool | None:
    if isinstance(v, bool):
        return v
    s = _s(v)
    return _YES_NO.get(s.lower()) if s else None


def _join(v: Any, sep: str = ", ") -> str | None:
    """A list of strings (or one string) as one string; blanks dropped."""
    if v is None:                   # the common case: the field is absent
        return None
    if v.__class__ is list:
        return sep.join(filter(None, map(_s, v))) or None
    return _s(v)


_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")
#: runs of anything but upper-case letters and digits (role and list type names -> UPPER_SNAKE)
_NOT_UPPER_ALNUM = re.compile(r"[^A-Z0-9]+")
_NOT_UPPER = re.compile(r"[^A-Z]+")


def _oneline(v: Any, sep: str = ", ") -> str | None:
    s = _s(v)
    return _LINE_BREAKS.sub(sep, s) if s and ("\n" in s or "\r" in s) else s


def _first(d: dict, keys: tuple[str, ...]) -> str | None:
    for k in keys:
        v = _s(d.get(k))
        if v:
            return v
    return None


def _person_name(*parts: str | None) -> str | None:
    return " ".join(filter(None, parts)) or None


def _address(lines: Any) -> str | None:
    return ", ".join(filter(None, map(_s, lines))) or None if lines.__class__ is list else None


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def _key(k: str) -> str:
    """One JSON-path step for an object key: ``.name`` or ``['odd/name']``."""
    if _IDENT.match(k):
        return "." + k
    return "['" + k.replace("\\", "\\\\").replace("'", "\\'") + "']"


def json_path(parts) -> str:
    """``$`` + steps, from a sequence of keys and indexes (as jsonschema reports them)."""
    return "$" + "".join(f"[{p}]" if isinstance(p, int) else _key(str(p)) for p in parts)


# --------------------------------------------------------------- dates and times
_YMD = re.compile(r"([+-]?\d{4})-(\d{1,2})-(\d{1,2})\Z")
_DMY = re.compile(r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})\Z")
_INSTANT = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")
_TIME24 = re.compile(r"(\d{1,2})[:.](\d{2})(?::\d{2}(?:\.\d+)?)?\s*(?:[Zz]|[+-]\d{2}:?\d{2})?\Z")
_TIME12 = re.compile(r"(\d{1,2})(?:[:.](\d{2}))?\s*([AaPp])\.?\s*[Mm]\.?\Z")


@functools.lru_cache(maxsize=65536)
def _parse_instant(text: str) -> dt.datetime | None:
    """An ISO 8601 date-time as an aware datetime; naive input is taken as UTC."""
    try:
        d = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return d if d.tzinfo else d.replace(tzinfo=dt.timezone.utc)


@functools.lru_cache(maxsize=65536)
def _london(text: str) -> tuple[dt.date | None, str | None]:
    """An instant (``2023-12-13T13:30:52Z``) as (date, "HH:MM") in Europe/London."""
    inst = _parse_instant(text)
    if inst is None:
        return None, None
    try:
        local = inst.astimezone(LONDON)
    except (OverflowError, ValueError):      # year 1 or 9999 pushed out of range
        return None, None
    return local.date(), f"{local.hour:02d}:{local.minute:02d}"


@functools.lru_cache(maxsize=65536)
def parse_date(text: str) -> dt.date | None:
    """``YYYY-MM-DD``, ``DD/MM/YYYY`` (also ``-`` or ``.``), or an instant (its London date)."""
    t = text.strip()
    m = _YMD.match(t)
    try:
        if m:
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        m = _DMY.match(t)
        if m:
            return dt.date(int(m[3]), int(m[2]), int(m[1]))
    except ValueError:
        return None
    if _INSTANT.match(t):
        return _london(t)[0]
    return None


@functools.lru_cache(maxsize=4096)
def parse_time(text: str) -> str | None:
    """``10:00``, ``10:00:00``, ``10.30am``, ``9am`` ... as ``HH:MM`` (24 hour)."""
    t = text.strip()
    m = _TIME24.match(t)
    if m:
        h, mi = int(m[1]), int(m[2])
    else:
        m = _TIME12.match(t)
        if not m:
            return None
        h, mi = int(m[1]), int(m[2] or 0)
        if not 1 <= h <= 12:
            return None
        h = h % 12 + (12 if m[3].lower() == "p" else 0)
    if h > 23 or mi > 59:
        return None
    return f"{h:02d}:{mi:02d}"


def _time_of(v: Any) -> str | None:
    s = _s(v)
    return parse_time(s) if s else None


def _utc_naive(text: Any) -> dt.datetime | None:
    s = _s(text)
    inst = _parse_instant(s) if s else None
    try:
        return inst.astimezone(dt.timezone.utc).replace(tzinfo=None) if inst else None
    except (OverflowError, ValueError):
        return None


# --------------------------------------------------------------- names
_TITLES = frozenset({"MR", "MRS", "MS", "MISS", "MX", "DR", "SIR", "DAME", "LADY", "LORD", "PROF",
                     "REV", "MASTER", "MADAM"})


def split_display_name(name: str | None) -> tuple[str | None, str | None, str | None]:
    """(title, forenames, surname) from one display string: ``Mr John Smith`` or ``SMITH, John``."""
    if not name:
        return None, None, None
    if "," in name:
        surname, _, rest = name.partition(",")
        tokens = rest.split()
        surname = surname.strip() or None
    else:
        tokens = name.split()
        surname = tokens.pop() if tokens else None
    title = None
    if tokens and tokens[0].rstrip(".").upper() in _TITLES:
        title = tokens.pop(0)
    elif not tokens and surname and surname.rstrip(".").upper() in _TITLES:
        return surname, None, None
    return title, (" ".join(tokens) or None), surname


# --------------------------------------------------------------- roles
#: how CaTH spells a role -> the role we store (upper snake case)
ROLE_ALIASES = {
    "ACCUSED": "DEFENDANT",
    "DEFENDANTS": "DEFENDANT",
    "PROSECUTOR": "PROSECUTING_AUTHORITY",
    "PROSECUTION": "PROSECUTING_AUTHORITY",
    "INFORMANT": "PROSECUTING_AUTHORITY",
    "APPLICANT_PETITIONER": "APPLICANT",
    "APPLICANT_PETITIONER_REPRESENTATIVE": "APPLICANT_REPRESENTATIVE",
    "CLAIMANT_PETITIONER": "CLAIMANT",
    "CLAIMANT_PETITIONER_REPRESENTATIVE": "CLAIMANT_REPRESENTATIVE",
    "RESPONDENT_PETITIONER": "RESPONDENT",
}
#: any of these words in a role makes the party a complainant (never a Party row)
COMPLAINANT_WORDS = frozenset({"COMPLAINANT", "COMPLAINANTS", "VICTIM", "VICTIMS", "INJURED",
                               "AGGRIEVED"})
#: ... unless the role is someone acting for them (dropped: they can identify the complainant)
REPRESENTATIVE_WORDS = frozenset({"REPRESENTATIVE", "SOLICITOR", "COUNSEL", "ADVOCATE", "BARRISTER",
                                  "LITIGATION", "FRIEND", "GUARDIAN", "PARENT", "INTERMEDIARY"})
PARTY, COMPLAINANT, COMPLAINANT_PROXY = "party", "complainant", "complainant_proxy"


@functools.lru_cache(maxsize=2048)
def normalise_role(raw: str | None) -> tuple[str, str]:
    """(ROLE, kind): kind is ``party``, ``complainant`` or ``complainant_proxy``."""
    role = _NOT_UPPER_ALNUM.sub("_", (raw or "").upper()).strip("_") or "UNKNOWN"
    role = ROLE_ALIASES.get(role, role)
    words = set(role.split("_"))
    if words & COMPLAINANT_WORDS:
        return role, (COMPLAINANT_PROXY if words & REPRESENTATIVE_WORDS else COMPLAINANT)
    return role, PARTY


# =============================================================== HTML markup
#: element names whose bare opening tag (``<b>``, ``<script>``) counts as markup
HTML_ELEMENTS = frozenset("""
a abbr acronym address applet area article aside audio b base basefont bdi bdo big blink blockquote
body br button canvas caption center cite code col colgroup data datalist dd del details dfn dialog
dir div dl dt em embed fieldset figcaption figure font footer form frame frameset h1 h2 h3 h4 h5 h6
head header hgroup hr html i iframe img input ins kbd keygen label legend li link main map mark
marquee math menu meta meter nav nobr noembed noframes noscript object ol optgroup option output p
param picture plaintext pre progress q rp rt ruby s samp script search section select slot small
source span strike strong style sub summary sup svg table tbody td template textarea tfoot th thead
time title tr track tt u ul var video wbr xmp""".split())
_TAG = re.compile(r"<\s*([A-Za-z][A-Za-z0-9:-]*)([^<>]*)>")
_CLOSING = re.compile(r"<\s*/[^<>]*>")                 # as CaTH's own "relaxed" pattern
_SELF_CLOSING = re.compile(r"<[^<>]*/\s*>")             # idem
_OTHER = re.compile(r"<!--|<!\[CDATA\[|<!doctype|<\?[A-Za-z]", re.IGNORECASE)
_MARKUP_HINT = re.compile(r"<|&(?:lt|#0*60|#[xX]0*3[cC])|\\u003[cC]|\\u0000", re.IGNORECASE)


def markup_in(text: str) -> str | None:
    """What HTML markup `text` carries (None if none).

    Markup is: a closing tag, a self-closing tag, a comment / CDATA / doctype / processing
    instruction, an opening tag with attributes (``<x onclick=...>``), or a bare opening tag of a
    real HTML element (``<b>``, ``<script>``).  Angle-bracketed prose such as
    ``<this is valid text>`` -- which CaTH's own valid examples contain -- is not markup.
    Entity-encoded markup (``&lt;/b&gt;``) counts too."""
    candidates = (text, html.unescape(text)) if "&" in text else (text,)
    for t in candidates:
        if "<" not in t:
            continue
        if _CLOSING.search(t):
            return "a closing HTML tag"
        if _SELF_CLOSING.search(t):
            return "a self-closing HTML tag"
        if _OTHER.search(t):
            return "an HTML comment, CDATA section, doctype or processing instruction"
        for m in _TAG.finditer(t):
            name, rest = m[1].lower(), m[2]
            if "=" in rest:
                return "an HTML tag with attributes"
            if name in HTML_ELEMENTS and not rest.strip():
                return f"an HTML <{name}> tag"
    return None


#: upper bound of the backtracking the upstream schema patterns (``(.|\r|\n)*<[^>]+>``) may do
#: on one document: each '<' costs the distance to the next '>'.  Above it, a string of many
#: unclosed '<' would take minutes to validate, so the document is refused first.
PATTERN_COST_LIMIT = 50_000_000


def _pattern_cost(text: str, budget: int) -> int:
    cost, gt, j = 0, -1, text.find("<")
    while j != -1 and cost <= budget:
        if gt < j:
            gt = text.find(">", j)
            if gt == -1:
                gt = len(text)
        cost += gt - j
        j = text.find("<", j + 1)
    return cost


def _scan_strings(doc: Any) -> tuple[tuple[str, str] | None, str | None]:
    """One pass over every string: (first markup as (path, what), first path where the pattern
    cost budget ran out)."""
    markup, budget = None, PATTERN_COST_LIMIT
    stack: list[tuple[Any, str]] = [(doc, "$")]
    while stack:
        node, path = stack.pop()
        if node.__class__ is str:
            if "<" in node:
                budget -= _pattern_cost(node, budget)
                if budget < 0:
                    return markup, path
            if markup is None and ("<" in node or "&" in node or "\x00" in node):
                what = "a NUL character" if "\x00" in node else markup_in(node)
                if what:
                    markup = (path, what)
        elif isinstance(node, dict):
            stack.extend((v, path + _key(k)) for k, v in reversed(list(node.items()))
                         if isinstance(v, (str, dict, list)))
        elif isinstance(node, list):
            stack.extend((v, f"{path}[{i}]") for i, v in reversed(list(enumerate(node)))
                         if isinstance(v, (str, dict, list)))
    return markup, None


def find_markup(doc: Any) -> tuple[str, str] | None:
    """(json_path, what) of the first string (document order) carrying HTML markup (or a NUL
    character, which no database text column takes), or None."""
    return _scan_strings(doc)[0]


# =============================================================== headers
_HEADER_NAMES = {
    "listtype": "list_type", "sensitivity": "sensitivity", "contentdate": "content_date",
    "courtid": "court_id", "displayfrom": "display_from", "displayto": "display_to",
    "language": "language", "provenance": "provenance", "sourceartefactid": "source_artefact_id",
    "type": "type",
}


_X_PREFIX = re.compile(r"^x[-_]")
_NOT_ALNUM = re.compile(r"[^a-z0-9]")


@functools.lru_cache(maxsize=1024)
def _header_name(key: str) -> str | None:
    """The canonical name of a header key (see `normalise_headers`), None for an unknown one.
    Cached: lists carry the same few keys again and again."""
    return _HEADER_NAMES.get(_NOT_ALNUM.sub("", _X_PREFIX.sub("", key.strip().lower())))


def normalise_headers(headers: dict | None) -> dict[str, str]:
    """CaTH headers by canonical name (``list_type``, ``content_date``...), values stripped.
    Keys are matched case-insensitively, with or without ``x-`` (or ``x_``), ignoring ``-``/``_``
    (so ``x-list-type``, ``X-List-Type``, ``list_type`` and ``listType`` are one header)."""
    out: dict[str, str] = {}
    for k, v in (headers or {}).items():
        if not isinstance(k, str) or v is None:
            continue
        name = _header_name(k)
        value = v.strip() if isinstance(v, str) else str(v).strip()
        if name and value:
            out[name] = value
    return out


def _header_datetime(h: dict, name: str) -> dt.datetime | None:
    value = h.get(name)
    if value is None:
        return None
    d = parse_date(value) if len(value) <= 10 else None
    if d is not None:
        return dt.datetime(d.year, d.month, d.day)
    naive = _utc_naive(value)
    if naive is None:
        raise Rejected(f"header x-{name.replace('_', '-')} is not a date-time", f"header x-{name.replace('_', '-')}")
    return naive


def check_headers(headers: dict | None, *, known_list_type: bool = True) -> dict[str, Any]:
    """Normalised headers with their values checked and typed (dates as date/datetime, enums
    upper case); Rejected on a bad value.  With `known_list_type`, x-list-type must be in
    `LIST_TYPES`; otherwise any name is kept (upper snake case).  x-court-id must name a court of
    the packaged reference table (FaCT court id or slug; kept as the table spells it) or be
    `NO_COURT` (`court_id_header`).  A header's value must be a
    string or a number, without a NUL character or HTML markup (it is stored and shown as is)."""
    for k, v in (headers or {}).items():
        if not isinstance(k, str) or v is None:
            continue
        name = _header_name(k)
        if name is None:
            continue
        if v.__class__ is str and "\x00" not in v and "<" not in v and "&" not in v:
            continue                # the common case: plain text, nothing to refuse
        where = f"header x-{name.replace('_', '-')}"
        if not isinstance(v, (str, int, float, dt.date)) or isinstance(v, bool):
            raise Rejected(f"x-{name.replace('_', '-')} must be a string, not {_json_type(v)}", where)
        if isinstance(v, str):
            if "\x00" in v:
                raise Rejected(f"x-{name.replace('_', '-')} contains a NUL character", where)
            if ("<" in v or "&" in v) and (what := markup_in(v)):
                raise Rejected(f"x-{name.replace('_', '-')} contains {what}, which a header may not carry", where)
    h: dict[str, Any] = normalise_headers(headers)
    if "type" in h and h["type"].upper() != "LIST":
        raise Rejected(f"x-type {h['type'].upper()} is not a list", "header x-type")
    if "list_type" in h:
        h["list_type"] = (_list_type_name(h["list_type"], "header x-list-type") if known_list_type
                          else _NOT_UPPER_ALNUM.sub("_", h["list_type"].upper()).strip("_"))
    if "sensitivity" in h:
        s = h["sensitivity"].upper()
        if s not in SENSITIVITIES:
            raise Rejected("x-sensitivity must be PUBLIC, PRIVATE or CLASSIFIED", "header x-sensitivity")
        h["sensitivity"] = s
    if "language" in h:
        lang = LANGUAGES.get(_NOT_UPPER.sub("_", h["language"].upper()).strip("_"))
        if lang is None:
            raise Rejected("x-language must be ENGLISH, WELSH or BI_LINGUAL", "header x-language")
        h["language"] = lang
    if "content_date" in h:
        d = parse_date(h["content_date"])
        if d is None:
            raise Rejected("x-content-date is not a date", "header x-content-date")
        h["content_date"] = d
    for name in ("display_from", "display_to"):
        if name in h:
            h[name] = _header_datetime(h, name)
    if "court_id" in h:
        h["court_id"] = court_id_header(h["court_id"])
    return h


def unknown_court(value: str, what: str = "x-court-id") -> str:
    """One line: ``value`` (of header or option ``what``) is not a court of the reference table,
    with the close matches by slug or name, if any."""
    from ..data.reference import similar_courts

    close = similar_courts(value)
    shown = value if len(value) <= 60 else value[:57] + "..."
    return (f"{what} {shown!r} is not a known court: give a FaCT court id, slug, or Crown / magistrates' court code from the reference table"
            + (f" (did you mean {', '.join(close)}?)" if close else ""))


#: x-court-id of a national list that names no court (the SJP lists; `generate` writes it)
NO_COURT = "0"


def court_id_header(value: str, what: str = "x-court-id") -> str:
    """x-court-id as the store resolves it: the FaCT court id or slug of a court of the packaged
    reference table (`data.reference.court_by_id`), kept as the table spells it, or `NO_COURT`, or
    the Crown Court location code or magistrates' court code of one court of the table (``434``:
    its FaCT court id is kept; a code several courts share is refused naming their ids and slugs);
    else Rejected (its reason names ``what``: the header, or the command's option) -- a court id
    the table does not know was stored without a word, the list's court then guessed from its name."""
    from ..data.reference import court_by_id

    value = str(value).strip()
    digits = value.isascii() and value.isdigit()
    if digits and int(value) == 0:
        return NO_COURT
    court = court_by_id(value)
    if court is None and digits:
        crown, magistrates = _court_codes().get(int(value), ((), ()))
        held = {c["fact_court_id"] for c in crown + magistrates}
        if len(held) == 1:          # a Crown Court or magistrates' court code of one court: that court
            return str(held.pop())
        if held:
            raise Rejected(_code_of_courts(value, what, crown, magistrates), "header x-court-id")
    if court is None:
        raise Rejected(unknown_court(value, what), "header x-court-id")
    return str(court["fact_court_id"]) if digits else court["slug"]


@functools.lru_cache(maxsize=1)
def _court_codes() -> dict[int, tuple[tuple[dict, ...], tuple[dict, ...]]]:
    """Court code -> (courts of the reference table with that Crown Court location code, courts
    with that magistrates' court code).  A Crown code counts for the courts that sit as a Crown
    Court when any does (as the store's court resolver reads a Crown list's court code)."""
    from ..data.reference import courts

    crown: dict[int, list[dict]] = {}
    magistrates: dict[int, list[dict]] = {}
    for c in courts():
        if c["fact_court_id"] is None:
            continue
        if c["crown_court_code"] is not None:
            crown.setdefault(int(c["crown_court_code"]), []).append(c)
        if c["magistrate_code"] is not None:
            magistrates.setdefault(int(c["magistrate_code"]), []).append(c)
    out = {}
    for code in crown.keys() | magistrates.keys():
        cc = crown.get(code, [])
        cc = [c for c in cc if "Crown Court" in (c["court_types"] or "")] or cc
        out[code] = (tuple(cc), tuple(magistrates.get(code, ())))
    return out


def _code_of_courts(value: str, what: str, crown: tuple, magistrates: tuple) -> str:
    """Why a court code several courts share is refused as ``what``, and the FaCT court ids and
    slugs to give instead."""
    return (f"{what} {value!r} is not a FaCT court id but {_code_holders(crown, magistrates)}: give the FaCT "
            "court id or slug of the court meant")


def _code_holders(crown: tuple, magistrates: tuple) -> str:
    """``the Crown Court code of 2 courts (<name>: <FaCT id> or <slug>, ...)`` (and the same for
    the magistrates' court code)."""
    def named(cs: tuple) -> str:
        shown = ", ".join(f"{c['name']}: {c['fact_court_id']} or {c['slug']}" for c in cs[:4])
        return shown + (f" and {len(cs) - 4} more" if len(cs) > 4 else "")

    kinds = []
    if crown:
        kinds.append(f"the Crown Court code of {len(crown)} courts ({named(crown)})" if len(crown) > 1
                     else f"the Crown Court code of {named(crown)}")
    if magistrates:
        kinds.append(f"the magistrates' court code of {len(magistrates)} courts ({named(magistrates)})"
                     if len(magistrates) > 1 else f"the magistrates' court code of {named(magistrates)}")
    return " and ".join(kinds)


def settle_court_codes(parsed: ParsedList) -> None:
    """A Crown list's court codes that several courts of the reference table share (``448``: two
    court centres in Preston) become the FaCT court id of the court the list means -- the one it
    names (the table's name of it, or the only one in the town its name gives, or at its
    postcode), else the list's own court (x-court-id, or the list's code settled so) when that
    is one of them -- or the list is Rejected naming the code, the courts and how to say which.
    The store read such a code as the first court of the table holding it, without a word."""
    m = parsed.meta
    if not (m.list_type or "").upper().startswith("CROWN"):
        return
    from ..data.reference import court_by_id

    own = court_by_id(m.court_code) if m.court_code else None       # x-court-id: a FaCT id or slug
    if own is None:
        own = _court_of_code(m.court_code, m.court_name, m.court_postcode, None, None)
        if own is not None:
            m.court_code = str(own["fact_court_id"])
    settled: dict[tuple, str | None] = {}
    for h in parsed.hearings:
        key = (h.court_name, h.court_code)
        if key not in settled:
            court = _court_of_code(h.court_code, h.court_name, None, own, h.json_path)
            settled[key] = str(court["fact_court_id"]) if court is not None else h.court_code
        h.court_code = settled[key]


def _court_of_code(code: str | None, name: str | None, postcode: str | None, own: dict | None,
                   where: str | None) -> dict | None:
    """The court of the reference table a Crown court code several courts share means here (see
    `settle_court_codes`); None for a code that is not shared.  Rejected when nothing tells."""
    from ..data.reference import name_key

    code = (code or "").strip()
    if not (code.isascii() and code.isdigit()):
        return None
    crown = _court_codes().get(int(code), ((), ()))[0]
    if len({c["fact_court_id"] for c in crown}) < 2:
        return None
    key = name_key(name)
    for meant in ([c for c in crown if name_key(c["name"]) == key] if key else [],
                  [c for c in crown if key and c["town"] and f" {name_key(c['town'])} " in f" {key} "],
                  [c for c in crown if postcode and c["postcode"]
                   and c["postcode"].replace(" ", "").upper() == postcode.replace(" ", "").upper()],
                  [c for c in crown if own is not None and c["fact_court_id"] == own["fact_court_id"]]):
        if len(meant) == 1:
            return meant[0]
    raise Rejected(f"court code {code} is {_code_holders(crown, ())}, and the list does not say which it means "
                   "(by a court name or town of one of them): give the court with --court-id or the x-court-id "
                   "header (its FaCT court id or slug)", where)


def _list_type_name(value: str, where: str | None) -> str:
    name = _NOT_UPPER_ALNUM.sub("_", value.strip().upper()).strip("_")
    if name not in LIST_TYPES:
        raise Rejected(f"unknown list type {name or '(empty)'}", where)
    return name


# =============================================================== schemas and validation
_PLAIN_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _strict_date(v: Any) -> bool:
    return not isinstance(v, str) or (_PLAIN_DATE.fullmatch(v) is not None
                                      and parse_date(v) is not None)


_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})\Z")
_LENIENT_TIME = re.compile(r"\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:[Zz]|[+-]\d{2}:\d{2})?\Z")

#: the formats the CaTH schemas use, checked without extra packages ("time" is lenient, as CaTH
#: sends ``10:00:00`` without an offset)
FORMAT_CHECKER = FormatChecker(formats=())
FORMAT_CHECKER.checks("date")(_strict_date)
FORMAT_CHECKER.checks("date-time")(
    lambda v: not isinstance(v, str) or (_RFC3339.match(v) is not None and _parse_instant(v) is not None))
FORMAT_CHECKER.checks("time")(lambda v: not isinstance(v, str) or _LENIENT_TIME.match(v) is not None)


@functools.lru_cache(maxsize=None)
def _schema(schema_file: str) -> dict:
    resource = resources.files(__package__).joinpath("schemas", *schema_file.split("/"))
    return orjson.loads(resource.read_bytes())


@functools.lru_cache(maxsize=None)
def _validator(schema_file: str):
    """The compiled validator of one shipped schema (draft taken from its ``$schema``); cached.
    The upstream files are not all metaschema-valid (``examples`` given as a string in
    cop_daily_cause_list.json), so they are used as they are, without `check_schema`."""
    schema = _schema(schema_file)
    return validators.validator_for(schema)(schema, format_checker=FORMAT_CHECKER)


_FORMATS = {
    "date": lambda v: _strict_date(v),
    "date-time": lambda v: _RFC3339.match(v) is not None and _parse_instant(v) is not None,
    "time": lambda v: _LENIENT_TIME.match(v) is not None,
}


@functools.lru_cache(maxsize=None)
def _fast_validator(schema_file: str):
    """The same schema compiled by jsonschema-rs, with the same format checks.

    Measured here: python-jsonschema validates ~1.3-4k magistrates' hearing entries/s (95% of
    ingest time); jsonschema-rs ~68k/s with the same verdicts on every official example (a test
    checks both agree).  The fast validator decides; python-jsonschema is only asked to *explain*
    a rejection, so messages and JSON paths stay as before."""
    try:
        return jsonschema_rs.validator_for(_schema(schema_file), formats=_FORMATS, validate_formats=True)
    except jsonschema_rs.ValidationError:
        # jsonschema-rs checks the schema against its metaschema; cop_daily_cause_list.json fails
        # that (an `examples` given as a string), so that one schema stays with python-jsonschema
        return _validator(schema_file)


def _json_type(v: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", int: "integer",
            float: "number", type(None): "null"}.get(type(v), type(v).__name__)


def _pattern_message(e) -> str:
    p = str(e.validator_value)
    if "<" in p:
        return "value contains text that looks like HTML, which the schema forbids"
    return f"value does not match the pattern {p}" if len(p) <= 60 else "value does not match the required pattern"


#: validation keyword -> a message that names what is wrong but never quotes the value
_MESSAGES: dict[str, Callable[[Any], str]] = {
    "pattern": _pattern_message,
    "type": lambda e: "expected {}, found {}".format(
        e.validator_value if isinstance(e.validator_value, str) else " or ".join(e.validator_value),
        _json_type(e.instance)),
    "required": lambda e: e.message,
    "enum": lambda e: f"value is not one of {', '.join(map(str, e.validator_value))}",
    "const": lambda e: f"value must be {e.validator_value!r}",
    "format": lambda e: f"value is not a valid {e.validator_value}",
    "maxLength": lambda e: f"longer than {e.validator_value} characters",
    "minLength": lambda e: f"shorter than {e.validator_value} characters",
    "oneOf": lambda e: "value matches none, or more than one, of the allowed shapes",
    "anyOf": lambda e: "value matches none of the allowed shapes",
    "minimum": lambda e: f"less than {e.validator_value}",
    "maximum": lambda e: f"more than {e.validator_value}",
    "minItems": lambda e: f"fewer than {e.validator_value} items",
    "maxItems": lambda e: f"more than {e.validator_value} items",
    "additionalProperties": lambda e: e.message[:200],    # names keys, not values
}


def _schema_message(error) -> str:
    explain = _MESSAGES.get(error.validator)
    return explain(error) if explain else f"fails the schema's {error.validator!r} rule"


def validate(doc: Any, list_type: str) -> None:
    """Raise `Rejected` with the first schema error of `doc` as a `list_type` list."""
    lt = LIST_TYPES[_list_type_name(list_type, None)]
    fast = _fast_validator(lt.schema)
    if fast.is_valid(doc):
        return
    error = next(_validator(lt.schema).iter_errors(doc), None)
    if error is not None:
        raise Rejected(f"not a valid {lt.name}: {_schema_message(error)}", json_path(error.absolute_path))
    # the two validators disagree (should not happen; a test guards it): reject, naming the path
    # only - jsonschema-rs messages may quote the value, which could be a complainant's name
    rs_error = next(fast.iter_errors(doc))
    path = getattr(rs_error, "instance_path", None) or getattr(rs_error, "absolute_path", [])
    raise Rejected(f"not a valid {lt.name}: fails the schema here", json_path(list(path)))


# =============================================================== record building
class _Builder:
    """Collects one document's records; routes complainants; carries list-wide facts."""

    __slots__ = ("hearings", "parties", "offences", "raw_complainants", "warnings", "list_date",
                 "court_name", "court_code")

    def __init__(self, list_date: dt.date | None, court_name: str | None, court_code: str | None):
        self.hearings: list = []
        self.parties: list = []
        self.offences: list = []
        self.raw_complainants: list = []
        self.warnings: list[str] = []
        self.list_date = list_date        # the day the list is for (header, else document)
        self.court_name = court_name
        self.court_code = court_code

    def warn(self, path: str, text: str) -> None:
        self.warnings.append(f"{path}: {text}")

    # value checks: `path` + `step` is only built when there is something to report
    def date(self, v: Any, path: str, step: str = "") -> dt.date | None:
        if v is None:
            return None
        d = parse_date(v) if v.__class__ is str else None
        if d is None and _s(v) is not None:
            self.warn(path + step, "not a date; left empty")
        return d

    def instant_date(self, v: Any, path: str, step: str = "") -> dt.date | None:
        """The London date of an instant (``2016-09-13T23:30:52Z``); a plain date is accepted."""
        if v is None:
            return None
        d = (_london(v)[0] or parse_date(v)) if v.__class__ is str else None
        if d is None and _s(v) is not None:
            self.warn(path + step, "not a date-time; left empty")
        return d

    def age(self, v: Any, path: str, step: str = "") -> int | None:
        if v is None:
            return None
        if v.__class__ is int and 0 <= v <= 130:
            return v
        s = _s(v)
        if s and s.isdigit() and int(s) <= 130:
            return int(s)
        self.warn(path + step, "not a plausible age; left empty")
        return None

    def complainant(self, hearing_ref: int, role: str, path: str, name: str | None,
                    date_of_birth: dt.date | None = None) -> None:
        """A complainant party: kept in memory for the intake gate, never as a Party."""
        if name:
            self.raw_complainants.append(RawComplainant(
                hearing_ref=hearing_ref, name=name, json_path=path, date_of_birth=date_of_birth))
        else:
            self.warn(path, f"{role} party without a name: nothing kept")

    def party(self, hearing_ref: int, role_raw: Any, path: str, **fields) -> int | None:
        """Add a party -- or, for a complainant role, a RawComplainant. Returns the party index."""
        return self.add_party(Party(hearing_ref=hearing_ref, role=role_raw if isinstance(role_raw, str) else "",
                                    json_path=path, **fields))

    def add_party(self, party: Party) -> int | None:
        """`party` (its role as listed) with its role normalised -- or, for a complainant role, a
        RawComplainant.  Returns the party index.  (`party` without the ``**fields`` of a call:
        the hot paths build the `Party` with plain keywords, several times cheaper.)"""
        role, kind = normalise_role(party.role or None)
        if kind is not PARTY:
            self.not_a_party(party.hearing_ref, role, kind, party.json_path, party.name_as_listed
                             or party.organisation_name or _person_name(party.forenames, party.surname),
                             party.date_of_birth)
            return None
        party.role = role
        self.parties.append(party)
        return len(self.parties) - 1

    def not_a_party(self, hearing_ref: int, role: str, kind: str, path: str, name: str | None,
                    date_of_birth: dt.date | None) -> None:
        if kind == COMPLAINANT:
            self.complainant(hearing_ref, role, path, name, date_of_birth)
        else:
            self.warn(path, f"{role} not kept as a party: it can identify the complainant")


# =============================================================== CaTH "strategic" tree
def _judiciary(v: Any) -> str | None:
    """``[{johKnownAs, isPresiding}, ...]`` as ``Name (presiding), Name``."""
    if not v or not isinstance(v, list):      # absent (the common case) or not a list
        return None
    names = []
    for j in v:
        if isinstance(j, dict):
            name = _s(j.get("johKnownAs")) or _person_name(_s(j.get("johTitle")), _s(j.get("johNameSurname")))
            if name:
                names.append(f"{name} (presiding)" if j.get("isPresiding") is True else name)
    return ", ".join(names) or None


def _cath_party(b: _Builder, party: dict, path: str, h_ref: int) -> tuple[int | None, str | None]:
    """One ``party`` object -> Party (or complainant), with its offences. (party_ref, display name).
    Written for speed: this runs for every party of every list."""
    raw_role = party.get("partyRole")
    role, kind = normalise_role(raw_role if raw_role.__class__ is str else None)
    ind = party.get("individualDetails")
    org = party.get("organisationDetails")
    ind = ind if ind.__class__ is dict else None
    org = org if org.__class__ is dict else None
    title = fn = mn = sn = dob = age = addr = org_name = listed = None
    if ind is not None:
        g = ind.get
        title, fn = _s(g("title")), _s(g("individualForenames"))
        mn, sn = _s(g("individualMiddleName")), _s(g("individualSurname"))
        listed = _person_name(title, fn, mn, sn)
        dob, age = g("dateOfBirth"), g("age")
        if dob is not None:
            dob = b.date(dob, path, ".individualDetails.dateOfBirth")
        if age is not None:
            age = b.age(age, path, ".individualDetails.age")
        addr = g("address")
    if org is not None:
        org_name = _s(org.get("organisationName"))
        if ind is None:
            listed, addr = org_name, org.get("organisationAddress")
    addr = addr if addr.__class__ is dict else None
    if kind is not PARTY:
        b.not_a_party(h_ref, role, kind, path, listed or org_name, dob)
        ref = None
    else:
        if ind is not None:
            g = ind.get
            party_ = Party(
                hearing_ref=h_ref, role=role, json_path=path, title=title, forenames=fn, middle_names=mn,
                surname=sn, organisation_name=org_name, name_as_listed=listed, date_of_birth=dob, age=age,
                gender=_s(g("gender")), asn=_s(g("asn")), pnc_id=_s(g("pncId")), in_custody=_bool(g("inCustody")))
        else:
            party_ = Party(hearing_ref=h_ref, role=role, json_path=path, organisation_name=org_name,
                           name_as_listed=listed)
        if addr is not None:
            party_.address, party_.town = _address(addr.get("line")), _s(addr.get("town"))
            party_.county, party_.postcode = _s(addr.get("county")), _s(addr.get("postCode"))
        b.parties.append(party_)
        ref = len(b.parties) - 1
    offences = party.get("offence")
    if offences:
        _party_offences(b, offences, ref, path + ".offence")
    if ind is not None and ind.get("offence"):      # master-schema variants
        _party_offences(b, ind["offence"], ref, path + ".individualDetails.offence")
    if org is not None and org.get("offence"):
        _party_offences(b, org["offence"], ref, path + ".organisationDetails.offence")
    return ref, org_name or listed


def _party_offences(b: _Builder, offences: Any, ref: int | None, base: str) -> None:
    if ref is None:
        b.warn(base, "offences listed against a complainant: not kept")
    else:
        _cath_offences(b, offences, ref, base)


def _cath_offences(b: _Builder, offences: Any, party_ref: int, base: str) -> None:
    for o, off in enumerate(_list(offences)):
        if off.__class__ is not dict:
            continue
        p = f"{base}[{o}]"
        g = off.get
        plea_date, conviction_date, adjourned_date = g("pleaDate"), g("convictionDate"), g("adjournedDate")
        if plea_date is not None:       # (mostly absent: no call then)
            plea_date = b.instant_date(plea_date, p, ".pleaDate")
        if conviction_date is not None:
            conviction_date = b.instant_date(conviction_date, p, ".convictionDate")
        if adjourned_date is not None:
            adjourned_date = b.instant_date(adjourned_date, p, ".adjournedDate")
        b.offences.append(Offence(
            party_ref=party_ref, json_path=p, seq=o + 1,
            code=_s(g("offenceCode")), title=_s(g("offenceTitle")), wording=_s(g("offenceWording")),
            legislation=_s(g("offenceLegislation")) or _s(g("offenceSection")),
            max_penalty=_s(g("offenceMaxPen")), plea=_s(g("plea")),
            plea_date=plea_date, conviction_date=conviction_date, adjourned_date=adjourned_date,
            reporting_restriction=_bool(g("reportingRestriction")),
            reporting_restriction_detail=_join(g("reportingRestrictionDetails") or g("reportingRestrictionDetail"), "; "),
        ))


def _add_parties(b: _Builder, parties: list[tuple[dict, str]], h_ref: int) -> tuple[int | None, str | None]:
    """Add parties of one entry; returns (party_ref of its first defendant, prosecutor name)."""
    accused = prosecutor = None
    for party, p_path in parties:
        ref, name = _cath_party(b, party, p_path, h_ref)
        if ref is not None:
            role = b.parties[ref].role
            if role == "DEFENDANT":
                if accused is None:
                    accused = ref
            elif role == "PROSECUTING_AUTHORITY" and prosecutor is None:
                prosecutor = name
    return accused, prosecutor


def _court_lists(doc: dict, b: _Builder) -> None:
    """Walk courtLists > courtHouse > courtRoom > session > sittings > hearing (all list types
    of CaTH's strategic format: magistrates, SJP, civil, family, tribunals)."""
    for i, court_list in enumerate(_list(doc.get("courtLists"))):
        if not isinstance(court_list, dict):
            continue
        house = _dict(court_list.get("courtHouse"))
        court_name = _s(house.get("courtHouseName")) or b.court_name
        house_path = f"$.courtLists[{i}].courtHouse"
        for j, room in enumerate(_list(house.get("courtRoom"))):
            if not isinstance(room, dict):
                continue
            room_path = f"{house_path}.courtRoom[{j}]"
            room_name = _s(room.get("courtRoomName"))
            for k, session in enumerate(_list(room.get("session"))):
                if not isinstance(session, dict):
                    continue
                s_path = f"{room_path}.session[{k}]"
                s_judiciary = _judiciary(session.get("judiciary"))
                s_channel = _join(session.get("sessionChannel"))
                s_type = _s(session.get("sessionType"))
                s_start = _s(session.get("sessionStartTime"))
                for m, sitting in enumerate(_list(session.get("sittings"))):
                    if not isinstance(sitting, dict):
                        continue
                    sit_path = f"{s_path}.sittings[{m}]"
                    start = _s(sitting.get("sittingStart")) or s_start
                    day, time = _london(start) if start else (None, None)
                    if start and day is None:
                        b.warn(sit_path + ".sittingStart", "not a date-time; the list's date is used")
                    # the sitting's fields, once: each entry is a `replace` of it
                    common = Hearing(
                        json_path=sit_path, court_name=court_name, court_code=b.court_code,
                        sitting_date=day or b.list_date, sitting_time=time, room=room_name,
                        session_type=s_type, channel=_join(sitting.get("channel")) or s_channel,
                        judiciary=_judiciary(sitting.get("judiciary")) or s_judiciary,
                    )
                    for n, hearing in enumerate(_list(sitting.get("hearing"))):
                        if isinstance(hearing, dict):
                            _court_list_hearing(b, hearing, f"{sit_path}.hearing[{n}]", common)


def _parties_of(node_get: Callable[[str], Any], path: str) -> list[tuple[dict, str]]:
    """The ``party`` objects of a hearing / case / application, with their JSON paths."""
    parties = node_get("party")
    if not parties or not isinstance(parties, list):     # none, or not an array (as `_list`)
        return []
    return [(p, f"{path}.party[{x}]") for x, p in enumerate(parties) if p.__class__ is dict]


def _court_list_hearing(b: _Builder, hearing: dict, path: str, common: Hearing) -> None:
    """One ``hearing``: an entry per case (or per hearing when it lists no case), one per
    application.  Parties on the hearing itself (SJP, civil) belong to each of its entries.
    `common` carries the sitting's fields; every entry is a copy of it with the hearing's and the
    case's fields (`msgspec.structs.replace`, at most 15 keywords: with more, CPython passes them
    as a dict, several times slower)."""
    g = hearing.get
    panel, hearing_type, list_note = _s(g("panel")), _s(g("hearingType")), _s(g("listNote"))
    channel = _join(g("channel")) or common.channel
    judiciary = _judiciary(g("judiciary")) or common.judiciary
    hearing_parties = _parties_of(g, path)
    hearing_offences = _list(g("offence"))
    applications = _list(g("application"))
    entries = [(c, f"{path}.case[{x}]") for x, c in enumerate(_list(g("case"))) if c.__class__ is dict]
    if not entries and (hearing_parties or hearing_offences or not applications):
        entries = [(_EMPTY, path)]      # a hearing listed without case details is still an entry

    for case, c_path in entries:
        h_ref = len(b.hearings)
        c = case.get
        case_parties = _parties_of(c, c_path)
        accused, prosecutor = _add_parties(b, case_parties + hearing_parties if hearing_parties else case_parties,
                                           h_ref)
        if hearing_offences:           # SJP: offences belong to the accused
            if accused is None:
                b.warn(path + ".offence", "offences but no accused/defendant party: not kept")
            else:
                _cath_offences(b, hearing_offences, accused, path + ".offence")
        informant = c("informant")
        linked = c("caseLinked")
        b.hearings.append(replace(
            common, json_path=c_path, hearing_type=hearing_type, list_note=list_note, channel=channel,
            judiciary=judiciary, panel=_s(c("panel")) or panel,
            case_urn=_s(c("caseUrn")), case_number=_s(c("caseNumber")), case_name=_s(c("caseName")),
            case_sequence=_s(c("caseSequenceIndicator")),
            linked_case_numbers=_join([_s(x) or _s(_dict(x).get("caseNumber")) for x in linked])
            if linked.__class__ is list else None,
            prosecuting_authority=_s(_dict(informant).get("prosecutionAuthorityName")) or prosecutor
            if informant else prosecutor,
            reporting_restriction=_bool(c("reportingRestriction")),
            reporting_restriction_detail=_join(c("reportingRestrictionDetails") or c("reportingRestrictionDetail"), "; ")
            or _s(c("reportingRestrictions")),
        ))

    for a, application in enumerate(applications):
        if application.__class__ is not dict:
            continue
        a_path = f"{path}.application[{a}]"
        h_ref = len(b.hearings)
        _, prosecutor = _add_parties(b, _parties_of(application.get, a_path), h_ref)
        b.hearings.append(replace(
            common, json_path=a_path, list_note=list_note, channel=channel, judiciary=judiciary, panel=panel,
            prosecuting_authority=prosecutor, case_number=_s(application.get("applicationReference")),
            hearing_type=_s(application.get("applicationType")) or hearing_type))


def parse_magistrates_list(doc: Any, b: _Builder) -> None:
    """Magistrates standard (press) and public lists: the strategic courtLists tree."""
    _court_lists(_dict(doc), b)


def parse_sjp_list(doc: Any, b: _Builder) -> None:
    """SJP press and public lists: parties and offences on the hearing, no sitting times."""
    _court_lists(_dict(doc), b)


def _court_lists_meta(doc: Any) -> dict:
    doc = _dict(doc)
    document, venue = _dict(doc.get("document")), _dict(doc.get("venue"))
    published = _s(document.get("publicationDate"))
    first_house = next((_s(_dict(cl.get("courtHouse")).get("courtHouseName"))
                        for cl in _list(doc.get("courtLists")) if isinstance(cl, dict)), None)
    return dict(
        content_date=_london(published)[0] if published else None,
        published_at=_utc_naive(published), version=_s(document.get("version")),
        court_name=_s(venue.get("venueName")) or first_house,
        court_code=_s(_dict(venue.get("venueCode")).get("venueId")),
        court_postcode=_s(_dict(venue.get("venueAddress")).get("postCode")),
    )


# =============================================================== magistrates adult court lists
def _job(doc: Any) -> dict:
    return _dict(_dict(_dict(_dict(doc).get("document")).get("data")).get("job"))


def _adult_meta(doc: Any) -> dict:
    job = _job(doc)
    sessions = _list(_dict(job.get("sessions")).get("session"))
    first = next((s for s in sessions if isinstance(s, dict)), _EMPTY)
    printed = _s(job.get("printdate"))
    return dict(content_date=parse_date(printed) if printed else None,
                court_name=_s(first.get("court")))


def parse_adult_court_list(doc: Any, b: _Builder) -> None:
    """Magistrates adult court list (press) and its public variant (caseno + def_name only)."""
    base = "$.document.data.job.sessions.session"
    for i, session in enumerate(_list(_dict(_job(doc).get("sessions")).get("session"))):
        if not isinstance(session, dict):
            continue
        court, room = _s(session.get("court")) or b.court_name, _s(session.get("room"))
        s_time = _time_of(session.get("sstart"))
        for j, block in enumerate(_list(_dict(session.get("blocks")).get("block"))):
            if not isinstance(block, dict):
                continue
            b_time = _time_of(block.get("bstart")) or s_time
            for k, case in enumerate(_list(_dict(block.get("cases")).get("case"))):
                if not isinstance(case, dict):
                    continue
                path = f"{base}[{i}].blocks.block[{j}].cases.case[{k}]"
                h_ref = len(b.hearings)
                name = _s(case.get("def_name"))
                title, forenames, surname = split_display_name(name)
                addr = _dict(case.get("def_addr"))
                lines = [x for x in (_s(addr.get(f"line{n}")) for n in range(1, 6)) if x]
                party_ref = b.party(
                    h_ref, "DEFENDANT", path, name_as_listed=name, title=title, forenames=forenames,
                    surname=surname, date_of_birth=b.date(case.get("def_dob"), path, ".def_dob"),
                    age=b.age(case.get("def_age"), path, ".def_age"), address=", ".join(lines) or None,
                    town=lines[-1] if len(lines) > 1 else None, postcode=_s(addr.get("pcode")))
                for o, off in enumerate(_list(_dict(case.get("offences")).get("offence"))):
                    if isinstance(off, dict) and party_ref is not None:
                        b.offences.append(Offence(
                            party_ref=party_ref, json_path=f"{path}.offences.offence[{o}]", seq=o + 1,
                            code=_s(off.get("code")), title=_s(off.get("title")), wording=_s(off.get("sum"))))
                b.hearings.append(Hearing(
                    json_path=path, court_name=court, court_code=b.court_code, sitting_date=b.list_date,
                    sitting_time=b_time, room=room, case_number=_s(case.get("caseno")),
                    prosecuting_authority=_s(case.get("inf"))))


# =============================================================== Crown PDDA lists
_CROWN_ROOTS = ("DailyList", "FirmList", "WarnedList")
#: CustodyStatus -> in_custody ("In care" is neither: left unknown)
CUSTODY = {"IN CUSTODY": True, "ON REMAND": True, "ON BAIL": False, "NOT APPLICABLE": None, "IN CARE": None}


def _crown_root(doc: Any) -> tuple[str, dict]:
    doc = _dict(doc)
    for key in _CROWN_ROOTS:
        if isinstance(doc.get(key), dict):
            return key, doc[key]
    return _CROWN_ROOTS[0], _EMPTY


def _crown_meta(doc: Any) -> dict:
    _, root = _crown_root(doc)
    header, court = _dict(root.get("ListHeader")), _dict(root.get("CrownCourt"))
    start, end = _s(header.get("StartDate")), _s(header.get("EndDate"))
    return dict(
        content_date=parse_date(start) if start else None, content_date_end=parse_date(end) if end else None,
        version=_s(header.get("Version")) or _s(_dict(root.get("DocumentID")).get("Version")),
        published_at=_utc_naive(header.get("PublishedTime")), court_name=_s(court.get("CourtHouseName")),
        court_code=_s(court.get("CourtHouseCode")),
        court_postcode=_s(_dict(court.get("CourtHouseAddress")).get("PostCode")),
    )


def _citizen(name: Any, requested_first: bool = False) -> str | None:
    n = _dict(name)
    formal = _person_name(_s(n.get("CitizenNameTitle")), _join(n.get("CitizenNameForename"), " "),
                          _s(n.get("CitizenNameSurname")), _s(n.get("CitizenNameSuffix")))
    return (_s(n.get("CitizenNameRequestedName")) or formal) if requested_first else formal


def _crown_judiciary(j: Any) -> str | None:
    j = _dict(j)
    names = [_citizen(j.get("Judge"), True)] + [_citizen(x, True) for x in _list(j.get("Justice"))]
    return "; ".join(n for n in names if n) or None


def _crown_defendant(b: _Builder, d: dict, path: str, h_ref: int) -> None:
    pd = _dict(d.get("PersonalDetails"))
    name = _dict(pd.get("Name"))
    title, forenames = _s(name.get("CitizenNameTitle")), _join(name.get("CitizenNameForename"), " ")
    surname = _s(name.get("CitizenNameSurname"))
    masked = _yes_no(pd.get("IsMasked"))
    formal = _person_name(title, forenames, surname, _s(name.get("CitizenNameSuffix")))
    addr = _dict(pd.get("Address"))
    custody = _s(d.get("CustodyStatus"))
    ref = b.add_party(Party(
        hearing_ref=h_ref, role="DEFENDANT", json_path=path, title=title, forenames=forenames, surname=surname,
        # what the list shows: the masked name when the defendant is masked
        name_as_listed=_s(pd.get("MaskedName")) if masked else formal, is_masked=masked,
        date_of_birth=b.date(_dict(pd.get("DateOfBirth")).get("BirthDate"), path,
                             ".PersonalDetails.DateOfBirth.BirthDate"),
        age=b.age(pd.get("Age"), path, ".PersonalDetails.Age"), gender=_s(pd.get("Sex")),
        address=_address(addr.get("Line")), postcode=_s(addr.get("PostCode")),
        nationality=_s(pd.get("Nationality")),
        in_custody=CUSTODY.get(custody.upper()) if custody else None,
    ))
    if ref is None:
        return
    for c, charge in enumerate(_list(d.get("Charges"))):
        if isinstance(charge, dict):
            count = charge.get("IndictmentCountNumber")
            b.offences.append(Offence(
                party_ref=ref, json_path=f"{path}.Charges[{c}]",
                seq=count if isinstance(count, int) and not isinstance(count, bool) and abs(count) < 2**31 else c + 1,
                code=_s(charge.get("CJSoffenceCode")), title=_s(charge.get("OffenceStatement"))))


def _crown_entry(b: _Builder, case: dict, path: str, common: Hearing, details: dict, notes: list) -> None:
    """One Crown case listed at a sitting (daily/firm Hearings item, reserve item, warned case);
    `common` holds the sitting's fields (court, date, time, room, judiciary)."""
    h_ref = len(b.hearings)
    prosecution = _dict(case.get("Prosecution"))
    authority = _s(prosecution.get("ProsecutingAuthority"))
    organisation = _s(_dict(prosecution.get("ProsecutingOrganisation")).get("OrganisationName"))
    if authority or organisation:
        b.add_party(Party(hearing_ref=h_ref, role="PROSECUTING_AUTHORITY", json_path=path + ".Prosecution",
                          organisation_name=organisation or authority, name_as_listed=organisation or authority))
    urns: list[str] = []
    for d, defendant in enumerate(_list(case.get("Defendants"))):
        if isinstance(defendant, dict):
            urn = _s(defendant.get("URN"))
            if urn and urn not in urns:
                urns.append(urn)
            _crown_defendant(b, defendant, f"{path}.Defendants[{d}]", h_ref)
    for r, respondent in enumerate(_list(case.get("Respondent"))):
        name = _s(respondent)
        if name:
            b.party(h_ref, "RESPONDENT", f"{path}.Respondent[{r}]", name_as_listed=name)
    if len(urns) > 1:
        b.warn(path, f"defendants carry {len(urns)} different URNs; the entry keeps the first")
    arrived = _dict(case.get("CaseArrivedFrom"))
    origin = (_s(_dict(case.get("CommittingCourt")).get("CourtHouseName"))
              or _s(_dict(arrived.get("OriginatingCourt")).get("CourtHouseName")))
    b.hearings.append(replace(
        common, json_path=path,
        sitting_date=common.sitting_date or b.date(details.get("HearingDate"), path, ".HearingDate"),
        hearing_type=_s(details.get("HearingDescription")) or _s(details.get("HearingType")),
        case_number=_s(case.get("CaseNumber")) or _s(case.get("CaseNumberCaTH")),
        case_urn=urns[0] if urns else None, originating_court=origin,
        prosecuting_authority=authority or organisation,
        linked_case_numbers=_join([_s(_dict(x).get("CaseNumber")) for x in _list(case.get("LinkedCases"))]),
        list_note="; ".join(n for n in notes if n) or None,
    ))


def parse_crown_pdda_list(doc: Any, b: _Builder) -> None:
    """Crown daily and firm PDDA lists (and the firm list's ReserveList)."""
    key, root = _crown_root(doc)
    list_start = _crown_meta(doc)["content_date"] or b.list_date
    for i, court_list in enumerate(_list(root.get("CourtLists"))):
        if not isinstance(court_list, dict):
            continue
        house = _dict(court_list.get("CourtHouse"))
        day = b.date(court_list.get("SittingDate"), f"$.{key}.CourtLists[{i}]", ".SittingDate") or list_start
        for j, sitting in enumerate(_list(court_list.get("Sittings"))):
            if not isinstance(sitting, dict):
                continue
            at = _s(sitting.get("SittingAt"))
            common = Hearing(json_path="", court_name=_s(house.get("CourtHouseName")) or b.court_name,
                             court_code=_s(house.get("CourtHouseCode")) or b.court_code,
                             sitting_date=day, sitting_time=parse_time(at) if at else None,
                             room=_s(sitting.get("CourtRoomNumber")),
                             judiciary=_crown_judiciary(sitting.get("Judiciary")))
            note = _s(sitting.get("SittingNote"))
            for k, hearing in enumerate(_list(sitting.get("Hearings"))):
                if isinstance(hearing, dict):
                    _crown_entry(b, hearing, f"$.{key}.CourtLists[{i}].Sittings[{j}].Hearings[{k}]", common,
                                 _dict(hearing.get("HearingDetails")),
                                 [_s(hearing.get("ListNote")), _s(hearing.get("TimeMarkingNote")), note])
    for r, hearing in enumerate(_list(root.get("ReserveList"))):
        if isinstance(hearing, dict):
            common = Hearing(json_path="", court_name=b.court_name, court_code=b.court_code)
            _crown_entry(b, hearing, f"$.{key}.ReserveList[{r}]", common, _dict(hearing.get("HearingDetails")),
                         ["reserve list", _s(hearing.get("ListNote"))])


#: the warned list's two groups, and how an entry's list_note says which one it came from
WARNED_GROUPS = (("WithFixedDate", "warned, fixed date"), ("WithoutFixedDate", "warned, no fixed date"))


def parse_crown_warned_list(doc: Any, b: _Builder) -> None:
    """Crown warned PDDA list: cases warned for a period, with or without a fixed date."""
    _, root = _crown_root(doc)
    for i, court_list in enumerate(_list(root.get("CourtLists"))):
        if not isinstance(court_list, dict):
            continue
        house = _dict(court_list.get("CourtHouse"))
        court = Hearing(json_path="", court_name=_s(house.get("CourtHouseName")) or b.court_name,
                        court_code=_s(house.get("CourtHouseCode")) or b.court_code)
        for group_key, label in WARNED_GROUPS:
            for g, group in enumerate(_list(court_list.get(group_key))):
                if not isinstance(group, dict):
                    continue
                group_type = _s(group.get("HearingType"))
                for f, fixture in enumerate(_list(group.get("Fixture"))):
                    if not isinstance(fixture, dict):
                        continue
                    f_path = f"$.WarnedList.CourtLists[{i}].{group_key}[{g}].Fixture[{f}]"
                    fixed = b.date(fixture.get("FixedDate"), f_path, ".FixedDate")
                    for c, case in enumerate(_list(fixture.get("Cases"))):
                        if not isinstance(case, dict):
                            continue
                        path = f"{f_path}.Cases[{c}]"
                        hearings = [h for h in _list(case.get("Hearing")) if isinstance(h, dict)]
                        first = hearings[0] if hearings else _EMPTY
                        if len(hearings) > 1:
                            b.warn(path + ".Hearing", f"{len(hearings)} hearings listed; the entry keeps the first")
                        details = dict(first)
                        details.setdefault("HearingType", group_type)
                        _crown_entry(b, case, path, replace(court, sitting_date=fixed), details,
                                     [label, _s(first.get("ListNote")), _s(fixture.get("Notes"))])


# =============================================================== flat rows (non-strategic lists)
#: Hearing field <- the row keys that may carry it, in order of preference
ROW_FIELDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("case_number", ("caseNumber", "caseReferenceNumber", "appealReferenceNumber")),
    ("case_name", ("caseName", "caseTitle", "caseDetails")),
    ("hearing_type", ("hearingType", "type", "caseType")),
    ("channel", ("modeOfHearing", "hearingMethod")),
)
ROW_DATE = ("date",)
ROW_TIME = ("time", "hearingTime")
ROW_ROOM = ("courtroom",)
ROW_VENUE = ("venue", "venue/platform", "location")
ROW_JUDICIARY = ("judge", "judges", "tribunal", "panel", "members")
ROW_NOTES = ("additionalInformation", "hearingLength", "timeEstimate")
#: row key naming a party -> role
ROW_PARTIES = (("appellant", "APPELLANT"), ("respondent", "RESPONDENT"), ("fta/respondent", "RESPONDENT"))
_ROW_MARKERS = frozenset(k for _, ks in ROW_FIELDS[:2] for k in ks) | set(ROW_TIME) | set(ROW_DATE)


def _rows(doc: Any) -> Iterator[tuple[dict, str]]:
    """Row objects of a flat list: the top-level array, or arrays under top-level keys."""
    if isinstance(doc, list):
        for i, row in enumerate(doc):
            if isinstance(row, dict):
                yield row, f"$[{i}]"
    elif isinstance(doc, dict):
        for key, value in doc.items():
            if key != "courtLists" and isinstance(value, list):
                for i, row in enumerate(value):
                    if isinstance(row, dict) and not _ROW_MARKERS.isdisjoint(row):
                        yield row, f"${_key(key)}[{i}]"


def _flat_rows(doc: Any, b: _Builder) -> None:
    for row, path in _rows(doc):
        h_ref = len(b.hearings)
        for key, role in ROW_PARTIES:
            name = _oneline(row.get(key))
            if name:
                b.party(h_ref, role, path + _key(key), name_as_listed=name)
        fields = {name: _first(row, keys) for name, keys in ROW_FIELDS}
        day, time = _first(row, ROW_DATE), _first(row, ROW_TIME)
        venue, room = _first(row, ROW_VENUE), _first(row, ROW_ROOM)
        b.hearings.append(Hearing(
            json_path=path, **fields,
            sitting_date=(b.date(day, path, ".date") if day else None) or b.list_date,
            sitting_time=parse_time(time) if time else None,
            room=room or venue, court_name=(venue if room else None) or b.court_name, court_code=b.court_code,
            judiciary="; ".join(filter(None, (_oneline(row.get(k)) for k in ROW_JUDICIARY))) or None,
            list_note="; ".join(filter(None, (_s(row.get(k)) for k in ROW_NOTES))) or None,
        ))


def _rows_meta(doc: Any) -> dict:
    days = sorted({d for row, _ in _rows(doc) for d in [parse_date(_first(row, ROW_DATE) or "")] if d})
    return dict(content_date=days[0] if days else None,
                content_date_end=days[-1] if len(days) > 1 else None)


# =============================================================== generic
#: keys that mark an object as a case listing when nothing else is recognised
_CASE_KEYS = ("caseNumber", "CaseNumber", "caseno", "caseUrn", "URN", "urn", "caseReferenceNumber")


def _generic_walk(doc: Any, b: _Builder) -> None:
    """Last resort: every object carrying a case number or URN is a hearing entry."""
    stack: list[tuple[Any, str]] = [(doc, "$")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, dict):
            if any(_s(node.get(k)) for k in _CASE_KEYS):
                b.hearings.append(Hearing(
                    json_path=path, court_name=b.court_name, court_code=b.court_code, sitting_date=b.list_date,
                    case_number=_first(node, ("caseNumber", "CaseNumber", "caseno", "caseReferenceNumber")),
                    case_urn=_first(node, ("caseUrn", "URN", "urn")), case_name=_s(node.get("caseName")),
                    hearing_type=_s(node.get("hearingType"))))
                continue
            stack.extend((v, path + _key(k)) for k, v in reversed(list(node.items())) if isinstance(v, (dict, list)))
        elif isinstance(node, list):
            stack.extend((v, f"{path}[{i}]") for i, v in reversed(list(enumerate(node))) if isinstance(v, (dict, list)))


def parse_generic_list(doc: Any, b: _Builder) -> None:
    """Civil, family, tribunal, non-strategic and legacy lists: hearings, cases, judiciary, named
    parties -- from the courtLists tree, from row arrays, or from a generic walk."""
    if isinstance(doc, dict) and "courtLists" in doc:
        _court_lists(doc, b)
    _flat_rows(doc, b)
    if not b.hearings:
        _generic_walk(doc, b)
    if not b.hearings:
        b.warn("$", "no hearings found in this list")


def _generic_meta(doc: Any) -> dict:
    meta = _court_lists_meta(doc) if isinstance(doc, dict) else {}
    rows = _rows_meta(doc)
    if not meta.get("content_date"):
        meta.update(rows)
    return meta


# =============================================================== the list types
@dataclass(frozen=True)
class Family:
    """How a group of list types is read: meta facts from the document, and records."""

    name: str
    meta: Callable[[Any], dict]
    parse: Callable[[Any, _Builder], None]


MAGISTRATES = Family("magistrates", _court_lists_meta, parse_magistrates_list)
SJP = Family("sjp", _court_lists_meta, parse_sjp_list)
ADULT_COURT = Family("magistrates_adult_court", _adult_meta, parse_adult_court_list)
CROWN_PDDA = Family("crown_pdda", _crown_meta, parse_crown_pdda_list)
CROWN_WARNED = Family("crown_warned_pdda", _crown_meta, parse_crown_warned_list)
GENERIC = Family("generic", _generic_meta, parse_generic_list)


@dataclass(frozen=True)
class ListType:
    name: str                 # as in x-list-type
    schema: str               # file under ingest/schemas (master_schema.json when CaTH has none)
    criminal: bool
    sensitivity: str          # default when x-sensitivity is absent (as CaTH defaults it)
    family: Family
    detect: bool = False      # content detection answers this type for its (shared) schema

    @property
    def parser(self) -> Callable[[Any, _Builder], None]:
        return self.family.parse


_NS = "non-strategic/"
_KB_CHD = _NS + "common_kb_chd_daily_cause_list.json"
_COMMON_NS = _NS + "common_ns_daily_cause_list.json"

# Names from hmcts pip-data-models ListType; default sensitivities from CaTH's list-type data
# (press lists CLASSIFIED, family/SEND PRIVATE, others PUBLIC; PDDA lists as their legacy
# counterparts).  `detect` marks the one type content detection answers for a schema that several
# types share (an umbrella or the full list of which the others are variants); a shared schema
# without such a mark cannot be detected (it needs x-list-type).
_ROWS: tuple[tuple, ...] = (
    # --- criminal: magistrates
    ("MAGISTRATES_STANDARD_LIST", "magistrates_standard_list.json", True, CLASSIFIED, MAGISTRATES, True),
    ("MAGISTRATES_PUBLIC_LIST", "magistrates_public_list.json", True, PUBLIC, MAGISTRATES, True),
    ("MAGISTRATES_ADULT_COURT_LIST", "magistrates_adult_court_list.json", True, CLASSIFIED, ADULT_COURT, True),
    ("MAGISTRATES_ADULT_COURT_LIST_DAILY", "magistrates_adult_court_list.json", True, CLASSIFIED, ADULT_COURT),
    ("MAGISTRATES_ADULT_COURT_LIST_FUTURE", "magistrates_adult_court_list.json", True, CLASSIFIED, ADULT_COURT),
    ("MAGISTRATES_PUBLIC_ADULT_COURT_LIST", "magistrates_public_adult_court_list.json", True, PUBLIC, ADULT_COURT, True),
    ("MAGISTRATES_PUBLIC_ADULT_COURT_LIST_DAILY", "magistrates_public_adult_court_list.json", True, PUBLIC, ADULT_COURT),
    ("MAGISTRATES_PUBLIC_ADULT_COURT_LIST_FUTURE", "magistrates_public_adult_court_list.json", True, PUBLIC, ADULT_COURT),
    # --- criminal: Crown Court (PDDA) and legacy Crown lists (schemas withdrawn: master schema)
    ("CROWN_DAILY_PDDA_LIST", "crown_daily_pdda_list.json", True, PUBLIC, CROWN_PDDA, True),
    ("CROWN_FIRM_PDDA_LIST", "crown_firm_pdda_list.json", True, CLASSIFIED, CROWN_PDDA, True),
    ("CROWN_WARNED_PDDA_LIST", "crown_warned_pdda_list.json", True, CLASSIFIED, CROWN_WARNED, True),
    ("CROWN_DAILY_LIST", MASTER_SCHEMA, True, PUBLIC, GENERIC),
    ("CROWN_FIRM_LIST", MASTER_SCHEMA, True, CLASSIFIED, GENERIC),
    ("CROWN_WARNED_LIST", MASTER_SCHEMA, True, CLASSIFIED, GENERIC),
    # --- criminal: single justice procedure
    ("SJP_PUBLIC_LIST", "single_justice_procedure_public.json", True, PUBLIC, SJP, True),
    ("SJP_DELTA_PUBLIC_LIST", "single_justice_procedure_public.json", True, PUBLIC, SJP),
    ("SJP_PRESS_LIST", "single_justice_procedure_press.json", True, CLASSIFIED, SJP, True),
    ("SJP_DELTA_PRESS_LIST", "single_justice_procedure_press.json", True, CLASSIFIED, SJP),
    ("SJP_PRESS_REGISTER", "single_justice_procedure_press.json", True, CLASSIFIED, SJP),
    # --- criminal, non-strategic
    ("COURT_OF_APPEAL_CRIMINAL_DAILY_CAUSE_LIST", _COMMON_NS, True, PUBLIC, GENERIC),
    # --- civil, family, tribunals (strategic)
    ("CIVIL_DAILY_CAUSE_LIST", "civil_daily_cause_list.json", False, PUBLIC, GENERIC, True),
    ("FAMILY_DAILY_CAUSE_LIST", "family_daily_cause_list.json", False, PRIVATE, GENERIC, True),
    ("CIVIL_AND_FAMILY_DAILY_CAUSE_LIST", "civil_and_family_daily_cause_list.json", False, PUBLIC, GENERIC, True),
    ("COP_DAILY_CAUSE_LIST", "cop_daily_cause_list.json", False, PUBLIC, GENERIC, True),
    ("ET_DAILY_LIST", "et_daily_list.json", False, PUBLIC, GENERIC, True),
    ("ET_FORTNIGHTLY_PRESS_LIST", "et_fortnightly_press_list.json", False, PUBLIC, GENERIC, True),
    ("IAC_DAILY_LIST", "iac_daily_list.json", False, PUBLIC, GENERIC, True),
    ("IAC_DAILY_LIST_ADDITIONAL_CASES", "iac_daily_list.json", False, PUBLIC, GENERIC),
    ("SSCS_DAILY_LIST", "sscs_daily_list.json", False, PUBLIC, GENERIC, True),
    ("SSCS_DAILY_LIST_ADDITIONAL_HEARINGS", "sscs_daily_list.json", False, PUBLIC, GENERIC),
    ("CARE_STANDARDS_LIST", MASTER_SCHEMA, False, PUBLIC, GENERIC),
    ("PRIMARY_HEALTH_LIST", MASTER_SCHEMA, False, PUBLIC, GENERIC),
    # --- non-strategic (Excel-derived) tribunal lists
    ("AST_DAILY_HEARING_LIST", _NS + "ast_daily_hearing_list.json", False, PUBLIC, GENERIC, True),
    ("CIC_WEEKLY_HEARING_LIST", _NS + "cic_weekly_hearing_list.json", False, PUBLIC, GENERIC, True),
    ("CIC_DAILY_HEARING_LIST", _NS + "cic_weekly_hearing_list.json", False, PUBLIC, GENERIC),
    ("CST_WEEKLY_HEARING_LIST", _NS + "cst_weekly_hearing_list.json", False, PUBLIC, GENERIC, True),
    ("PHT_WEEKLY_HEARING_LIST", _NS + "pht_weekly_hearing_list.json", False, PUBLIC, GENERIC, True),
    ("GRC_WEEKLY_HEARING_LIST", _NS + "grc_weekly_hearing_list.json", False, PUBLIC, GENERIC, True),
    ("WPAFCC_WEEKLY_HEARING_LIST", _NS + "wpafcc_weekly_hearing_list.json", False, PUBLIC, GENERIC, True),
    ("SEND_DAILY_HEARING_LIST", _NS + "send_daily_hearing_list.json", False, PRIVATE, GENERIC, True),
    ("FTT_TAX_WEEKLY_HEARING_LIST", _NS + "ftt-tax-chamber-tribunal-weekly-hearing-list.json", False, PUBLIC, GENERIC, True),
    ("FTT_LR_WEEKLY_HEARING_LIST", _NS + "ftt-land-registry-tribunal-weekly-hearing-list.json", False, PUBLIC, GENERIC, True),
    *((f"RPT_{region}_WEEKLY_HEARING_LIST", _NS + "ftt-residential-property-tribunal-weekly-hearing-list.json",
       False, PUBLIC, GENERIC) for region in ("LONDON", "EASTERN", "MIDLANDS", "NORTHERN", "SOUTHERN")),
    ("SIAC_WEEKLY_HEARING_LIST", _NS + "siac_weekly_hearing_list.json", False, PUBLIC, GENERIC),
    ("POAC_WEEKLY_HEARING_LIST", _NS + "siac_weekly_hearing_list.json", False, PUBLIC, GENERIC),
    ("PAAC_WEEKLY_HEARING_LIST", _NS + "siac_weekly_hearing_list.json", False, PUBLIC, GENERIC),
    *((f"SSCS_{region}_DAILY_HEARING_LIST", _NS + "sscs_daily_hearing_list.json", False, PUBLIC, GENERIC)
      for region in ("MIDLANDS", "SOUTH_EAST", "WALES_AND_SOUTH_WEST", "SCOTLAND", "NORTH_EAST", "NORTH_WEST", "LONDON")),
    ("UT_IAC_JR_LONDON_DAILY_HEARING_LIST", _NS + "ut_iac_judicial_reviews_london_daily_hearing_list.json", False, PUBLIC, GENERIC, True),
    *((f"UT_IAC_JR_{city}_DAILY_HEARING_LIST", _NS + "ut_iac_judicial_reviews_daily_hearing_list.json", False, PUBLIC, GENERIC)
      for city in ("LEEDS", "MANCHESTER", "BIRMINGHAM", "CARDIFF")),
    ("UT_IAC_STATUTORY_APPEALS_DAILY_HEARING_LIST", _NS + "ut_iac_statutory_appeals_daily_hearing_list.json", False, PUBLIC, GENERIC, True),
    ("UT_T_AND_CC_DAILY_HEARING_LIST", _NS + "ut_tax_and_chancery_chamber_daily_hearing_list.json", False, PUBLIC, GENERIC, True),
    ("UT_LC_DAILY_HEARING_LIST", _NS + "ut_lands_chamber_daily_hearing_list.json", False, PUBLIC, GENERIC, True),
    ("UT_AAC_DAILY_HEARING_LIST", _NS + "ut_administrative_appeals_chamber_daily_hearing_list.json", False, PUBLIC, GENERIC, True),
    # --- non-strategic civil / family cause lists
    ("LONDON_ADMINISTRATIVE_COURT_DAILY_CAUSE_LIST", _NS + "london_administrative_court_daily_cause_list.json", False, PUBLIC, GENERIC, True),
    ("COURT_OF_APPEAL_CIVIL_DAILY_CAUSE_LIST", _NS + "court_of_appeal_civil_daily_cause_list.json", False, PUBLIC, GENERIC, True),
    ("INTERIM_APPLICATIONS_CHD_DAILY_CAUSE_LIST", _NS + "interim_applications_chancery_division_daily_cause_list.json", False, PUBLIC, GENERIC, True),
    ("SENIOR_COURTS_COSTS_OFFICE_DAILY_CAUSE_LIST", _NS + "senior_courts_costs_office_daily_cause_list.json", False, PUBLIC, GENERIC, True),
    *((name, _COMMON_NS, False, PUBLIC, GENERIC) for name in (
        "COUNTY_COURT_LONDON_CIVIL_DAILY_CAUSE_LIST", "CIVIL_COURTS_RCJ_DAILY_CAUSE_LIST",
        "FAMILY_DIVISION_HIGH_COURT_DAILY_CAUSE_LIST", "KINGS_BENCH_DIVISION_DAILY_CAUSE_LIST",
        "KINGS_BENCH_MASTERS_DAILY_CAUSE_LIST", "MAYOR_AND_CITY_CIVIL_DAILY_CAUSE_LIST",
        "BIRMINGHAM_ADMINISTRATIVE_COURT_DAILY_CAUSE_LIST", "BRISTOL_AND_CARDIFF_ADMINISTRATIVE_COURT_DAILY_CAUSE_LIST",
        "MANCHESTER_ADMINISTRATIVE_COURT_DAILY_CAUSE_LIST", "LEEDS_ADMINISTRATIVE_COURT_DAILY_CAUSE_LIST",
        "PCOL_DAILY_CAUSE_LIST", "HIGH_COURT_CIVIL_DAILY_CAUSE_LIST", "HIGH_COURT_FAMILY_DAILY_CAUSE_LIST")),
    # Business & Property Courts / KB: one shared format; the umbrella type answers detection
    ("BUSINESS_AND_PROPERTY_DAILY_CAUSE_LIST", _KB_CHD, False, PUBLIC, GENERIC, True),
    *((name, _KB_CHD, False, PUBLIC, GENERIC) for name in (
        "ADMIRALTY_COURT_KB_DAILY_CAUSE_LIST", "BUSINESS_LIST_CHD_DAILY_CAUSE_LIST",
        "CHANCERY_APPEALS_CHD_DAILY_CAUSE_LIST", "COMMERCIAL_COURT_KB_DAILY_CAUSE_LIST",
        "COMPANIES_WINDING_UP_CHD_DAILY_CAUSE_LIST", "COMPETITION_LIST_CHD_DAILY_CAUSE_LIST",
        "FINANCIAL_LIST_CHD_KB_DAILY_CAUSE_LIST", "INSOLVENCY_AND_COMPANIES_COURT_CHD_DAILY_CAUSE_LIST",
        "INTELLECTUAL_PROPERTY_AND_ENTERPRISE_COURT_DAILY_CAUSE_LIST",
        "INTELLECTUAL_PROPERTY_LIST_CHD_DAILY_CAUSE_LIST", "LONDON_CIRCUIT_COMMERCIAL_COURT_KB_DAILY_CAUSE_LIST",
        "PATENTS_COURT_CHD_DAILY_CAUSE_LIST", "PENSIONS_LIST_CHD_DAILY_CAUSE_LIST",
        "PROPERTY_TRUSTS_PROBATE_LIST_CHD_DAILY_CAUSE_LIST", "REVENUE_LIST_CHD_DAILY_CAUSE_LIST",
        "TECHNOLOGY_AND_CONSTRUCTION_COURT_KB_DAILY_CAUSE_LIST", "CIRCUIT_COMMERCIAL_COURT_DAILY_CAUSE_LIST",
        "TECHNOLOGY_AND_CONSTRUCTION_COURT_DAILY_CAUSE_LIST")),
)

#: every list type we know, by its x-list-type name
LIST_TYPES: dict[str, ListType] = {row[0]: ListType(*row) for row in _ROWS}


# =============================================================== detection
#: fields only press (non-public) lists carry; their presence decides press vs public
_MAGISTRATES_PRESS_KEYS = frozenset({
    "dateOfBirth", "age", "address", "gender", "asn", "pncId", "inCustody", "individualMiddleName",
    "offenceCode", "offenceWording", "offenceMaxPen", "offenceLegislation", "plea", "pleaDate",
    "convictionDate", "adjournedDate", "organisationAddress"})
_SJP_PRESS_KEYS = frozenset({"case", "caseUrn", "dateOfBirth", "age", "line", "town", "county", "title",
                             "individualMiddleName", "offenceWording"})
_ADULT_PRESS_KEYS = frozenset({"def_dob", "def_age", "def_addr", "inf", "offences"})


def _hearings_of(doc: dict) -> Iterator[dict]:
    for cl in _list(doc.get("courtLists")):
        for room in _list(_dict(_dict(cl).get("courtHouse")).get("courtRoom")):
            for session in _list(_dict(room).get("session")):
                for sitting in _list(_dict(session).get("sittings")):
                    for hearing in _list(_dict(sitting).get("hearing")):
                        if isinstance(hearing, dict):
                            yield hearing


def _has_key(node: Any, keys: frozenset) -> bool:
    """Whether any object inside `node` has one of `keys` (iterative; stops at the first)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if isinstance(n, dict):
            if not keys.isdisjoint(n):
                return True
            stack.extend(v for v in n.values() if isinstance(v, (dict, list)))
        elif isinstance(n, list):
            stack.extend(v for v in n if isinstance(v, (dict, list)))
    return False


def _court_lists_kind(doc: dict) -> str | None:
    """``sjp``, ``magistrates`` or None (civil/family/tribunal) for a courtLists document.

    SJP: offences on the hearing itself, or an ACCUSED party on the hearing.  Magistrates: a case
    with a URN (or an application) whose parties include a defendant / prosecutor or offences."""
    magistrates = False
    for hearing in _hearings_of(doc):
        if "offence" in hearing or any(_role_of(p) == "ACCUSED" for p in _list(hearing.get("party"))):
            return "sjp"
        if not magistrates:
            magistrates = any(
                ("caseUrn" in case or "applicationReference" in case)
                and any(normalise_role(_role_of(p))[0] in ("DEFENDANT", "PROSECUTING_AUTHORITY")
                        or "offence" in _dict(p) for p in _list(case.get("party")))
                for case in map(_dict, chain(_list(hearing.get("case")), _list(hearing.get("application")))))
    return "magistrates" if magistrates else None


def _role_of(party: Any) -> str | None:
    role = _dict(party).get("partyRole")
    return role.strip().upper() if isinstance(role, str) else None


def _fits_rows(schema: dict, keys: set) -> bool:
    items = _dict(schema.get("items"))
    return set(items.get("required", ())) <= keys <= set(_dict(items.get("properties")))


def _press_or_public(node: Any, press_keys: frozenset, press: str, public: str) -> list[list[str]]:
    """A document with press-only fields is the press list (never its public twin); one without
    them is the public list first, the press list if only that schema accepts it."""
    press_schema, public_schema = LIST_TYPES[press].schema, LIST_TYPES[public].schema
    return [[press_schema]] if _has_key(node, press_keys) else [[public_schema], [press_schema]]


def _shape_tiers(doc: Any) -> list[list[str]]:
    """Candidate schema files for a document, in tiers: within a tier the schema decides."""
    if isinstance(doc, list):
        keys = set().union(*(row.keys() for row in doc if isinstance(row, dict))) if doc else set()
        return [[f for f in _schema_files(non_strategic=True)
                 if _schema(f).get("type") == "array" and keys and _fits_rows(_schema(f), keys)]]
    if not isinstance(doc, dict):
        return []
    for key, name in zip(_CROWN_ROOTS, ("CROWN_DAILY_PDDA_LIST", "CROWN_FIRM_PDDA_LIST", "CROWN_WARNED_PDDA_LIST")):
        if key in doc:
            return [[LIST_TYPES[name].schema]]
    if _job(doc):
        return _press_or_public(_job(doc), _ADULT_PRESS_KEYS, "MAGISTRATES_ADULT_COURT_LIST",
                                "MAGISTRATES_PUBLIC_ADULT_COURT_LIST")
    if isinstance(doc.get("courtLists"), list):
        kind = _court_lists_kind(doc)
        if kind == "sjp":
            return _press_or_public(doc["courtLists"], _SJP_PRESS_KEYS, "SJP_PRESS_LIST", "SJP_PUBLIC_LIST")
        if kind == "magistrates":
            return _press_or_public(doc["courtLists"], _MAGISTRATES_PRESS_KEYS, "MAGISTRATES_STANDARD_LIST",
                                    "MAGISTRATES_PUBLIC_LIST")
        return [_schema_files(strategic_generic=True)]
    candidates = [f for f in _schema_files(non_strategic=True)
                  if _schema(f).get("type") == "object" and set(_schema(f).get("required", ("-",))) <= doc.keys()]
    return [candidates] if candidates else []


@functools.lru_cache(maxsize=None)
def _schema_files_cached(non_strategic: bool, strategic_generic: bool) -> tuple[str, ...]:
    files = []
    for lt in LIST_TYPES.values():
        if lt.schema in files or lt.schema == MASTER_SCHEMA:
            continue
        if non_strategic and lt.schema.startswith(_NS):
            files.append(lt.schema)
        elif strategic_generic and not lt.schema.startswith(_NS) and lt.family is GENERIC:
            files.append(lt.schema)
    return tuple(files)


def _schema_files(*, non_strategic: bool = False, strategic_generic: bool = False) -> list[str]:
    return list(_schema_files_cached(non_strategic, strategic_generic))


def _answer(schema_file: str) -> str:
    """The list type detection answers for a schema: its only user, or its `detect` type."""
    users = [lt.name for lt in LIST_TYPES.values() if lt.schema == schema_file]
    marked = [n for n in users if LIST_TYPES[n].detect]
    if len(users) == 1:
        return users[0]
    if len(marked) == 1:
        return marked[0]
    raise Rejected(f"cannot tell the list type: this format is shared by {', '.join(users)}; "
                   "give x-list-type", "$")


def _detect(doc: Any) -> tuple[str, bool]:
    """(list type, whether `doc` was already validated against its schema)."""
    tiers = [t for t in _shape_tiers(doc) if t]
    if not tiers:
        raise Rejected("not a known list type: the document has no shape CaTH uses", "$")
    for tier in tiers:
        valid = [f for f in tier if _fast_validator(f).is_valid(doc)]
        if len(valid) > 1:
            names = sorted({n for f in valid for n in [_answer_or_family(f)]})
            raise Rejected(f"cannot tell the list type: the document is valid as {', '.join(names)}; "
                           "give x-list-type", "$")
        if valid:
            return _answer(valid[0]), True
    if len(tiers[0]) == 1:       # the shape is clear: validation will say what is wrong
        return _answer(tiers[0][0]), False
    raise Rejected("not a known list type: the document is valid against no schema of its shape", "$")


def _answer_or_family(schema_file: str) -> str:
    try:
        return _answer(schema_file)
    except Rejected:
        return schema_file.rsplit("/", 1)[-1].removesuffix(".json")


def detect_list_type(doc: Any) -> str:
    """The x-list-type of a parsed document, from its content alone.

    Structure first (DailyList / FirmList / WarnedList; document.data.job; courtLists with
    offences on the hearing = SJP, with URNs and defendants = magistrates; arrays of rows =
    non-strategic), then press-only fields (dates of birth, addresses, wording...) to tell a press
    list from its public twin, then schema validation as the tie-breaker.  Raises `Rejected` when
    it cannot tell (no known shape, or several list types fit)."""
    costly = _scan_strings(doc)[1]
    if costly:
        raise Rejected("too many unclosed '<' to validate safely", costly)
    return _detect(doc)[0]


# =============================================================== entry point
_BOMS = ((b"\xef\xbb\xbf", None), (b"\xff\xfe\x00\x00", "UTF-32"), (b"\x00\x00\xfe\xff", "UTF-32"),
         (b"\xff\xfe", "UTF-16"), (b"\xfe\xff", "UTF-16"))


def decode_utf8(data: bytes) -> str:
    """UTF-8 text of `data` (a UTF-8 BOM is dropped); Rejected naming the first bad byte's offset."""
    offset = 0
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            if encoding:
                raise Rejected(f"the input is {encoding} (byte-order mark); only UTF-8 is accepted")
            offset = len(bom)
            break
    try:
        return data[offset:].decode("utf-8")
    except UnicodeDecodeError as e:
        at = e.start + offset
        raise Rejected(f"not UTF-8: invalid byte 0x{data[at]:02x} at byte offset {at}") from None


#: first bytes of the byte-order marks above (the orjson fast path of `_load` leaves them alone)
_BOM_LEADS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")


def _load(data: bytes | str, max_bytes: int) -> tuple[Any, str | bytes]:
    """(document, its text -- or, when orjson took the bytes as they are, those UTF-8 bytes) -- or
    Rejected for size, emptiness, encoding, JSON syntax, top level."""
    if isinstance(data, str):
        text = data[1:] if data.startswith("\ufeff") else data
        size = len(text.encode("utf-8", "surrogatepass"))
    elif isinstance(data, (bytes, bytearray, memoryview)):
        data = bytes(data)
        size, text = len(data), None
    else:
        raise Rejected(f"input must be bytes, not {type(data).__name__}")
    if size > max_bytes:
        raise Rejected(f"input is {size} bytes, over the {max_bytes}-byte limit")
    if text is None and not data.startswith(_BOM_LEADS):
        # fast path: orjson checks the whole buffer is UTF-8 before parsing, so a document it
        # accepts is exactly the one the text path below would give (and no decode is needed);
        # anything it refuses goes through that path, for the same rejection as ever
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError:
            doc = None
        if isinstance(doc, (dict, list)):
            return doc, data
    if text is None:
        if not data.strip():
            raise Rejected("empty input")
        text = decode_utf8(data)
    if not text.strip():
        raise Rejected("empty input")
    try:
        doc = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        markup = " -- the file is HTML or XML (a saved web page?), not JSON" if text.lstrip()[:1] == "<" else ""
        raise Rejected(f"malformed JSON: {e.msg} at line {e.lineno}, column {e.colno} (character {e.pos})"
                       + markup) from None
    except (UnicodeEncodeError, ValueError) as e:   # e.g. lone surrogates in a str input
        raise Rejected(f"malformed JSON: {type(e).__name__}") from None
    if not isinstance(doc, (dict, list)):
        raise Rejected(f"the top level is {_json_type(doc)}, not a JSON object", "$")
    return doc, text


def parse_document(data: bytes, *, source_name: str, headers: dict | None = None,
                   list_type: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES) -> ParsedList:
    """One CaTH JSON list -> `ParsedList`, or `Rejected` (reason, json_path, source_name).

    `headers` are the CaTH publication headers (x-list-type ...); `list_type` overrides them.
    The top level must be an object, except for the non-strategic lists, which CaTH sends as an
    array of rows. ``meta.content_hash`` is left to the caller."""
    try:
        return _parse(data, source_name, headers, list_type, max_bytes)
    except Rejected as e:
        raise e.with_source(source_name)


def _guard(doc: Any, text: str | bytes) -> tuple[str, str] | None:
    """Strings checked before any schema runs: Rejected when the upstream patterns would take
    too long; returns the first HTML markup found (reported after schema validation).
    `text` is the document's text, or its UTF-8 bytes."""
    # cheap tests on the raw text (most lists have no '<' at all): every match of _MARKUP_HINT
    # holds a '<', '&' or backslash, and a search for one character is far faster than the regex
    if text.__class__ is bytes:
        if b"<" not in text and b"&" not in text and b"\\" not in text:
            return None
        text = text.decode("utf-8")
    elif "<" not in text and "&" not in text and "\\" not in text:
        return None
    if not _MARKUP_HINT.search(text):
        return None
    found, costly = _scan_strings(doc)
    if costly:
        raise Rejected("too many unclosed '<' to validate safely", costly)
    return found


def _parse(data, source_name, headers, list_type, max_bytes) -> ParsedList:
    doc, text = _load(data, max_bytes)
    h = check_headers(headers)
    markup = _guard(doc, text)
    warnings: list[str] = []
    validated = False
    if list_type:
        name = _list_type_name(list_type, "list_type argument")
    elif "list_type" in h:
        name = h["list_type"]
    else:
        name, validated = _detect(doc)
        shared = [lt.name for lt in LIST_TYPES.values() if lt.schema == LIST_TYPES[name].schema and lt.name != name]
        warnings.append(f"$: list type {name} detected from the content (no x-list-type)"
                        + (f"; the same format is used by {', '.join(shared)}" if shared else ""))
    lt = LIST_TYPES[name]
    if not validated:
        validate(doc, name)
    if markup:
        raise Rejected(f"string contains {markup[1]}, which list data may not carry", markup[0])

    facts = lt.family.meta(doc)
    content_date = h.get("content_date") or facts.get("content_date")
    end = facts.get("content_date_end")
    b = _Builder(content_date, facts.get("court_name"), h.get("court_id") or facts.get("court_code"))
    lt.family.parse(doc, b)
    meta = PublicationMeta(
        list_type=name, sensitivity=h.get("sensitivity") or lt.sensitivity, language=h.get("language"),
        content_date=content_date,
        content_date_end=end if end and content_date and end > content_date else None,
        version=facts.get("version"), published_at=facts.get("published_at"),
        display_from=h.get("display_from"), display_to=h.get("display_to"),
        provenance=h.get("provenance"), source_artefact_id=h.get("source_artefact_id"),
        court_name=facts.get("court_name"), court_code=h.get("court_id") or facts.get("court_code"),
        court_postcode=facts.get("court_postcode"), source_name=source_name, source_format=SOURCE_FORMAT,
    )
    return ParsedList(meta=meta, hearings=b.hearings, parties=b.parties, offences=b.offences,
                      warnings=warnings + b.warnings, raw_complainants=b.raw_complainants)
