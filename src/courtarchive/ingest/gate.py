"""The intake gate: complainants are pseudonymised the moment a list is read.

`apply(parsed, keyring)` runs between the (pure) parser and the store and mutates the
`ParsedList` in place so that no complainant identity survives in it:

1. every offence wording goes through `link.complainants.extract`; identifying spans become
   ``[complainant:<first 8 hex of the token>]`` and each mention becomes a `Complainant` record
   (offence_ref = the offence's index, hearing_ref = its party's hearing, json_path = the
   wording's place in the source, `wording_place`: the offence's JSON path + ``.offenceWording``,
   or its row + ``, column offence_wording`` in a CSV register, PDF or Excel list);
2. every complainant named as a party (`RawComplainant`, put aside by the parser) becomes a
   `Complainant` of kind ``party``, and ``raw_complainants`` is emptied -- the store refuses a
   list where it is not;
3. the names found in 1 and 2 are scrubbed from the list's other free text: hearing
   ``list_note``, ``case_name`` and ``reporting_restriction_detail``, offence ``title``,
   ``reporting_restriction_detail`` and ``wording`` (a name the rules missed in one wording but
   found in another), and the parser's ``warnings``.

Tokens (``Keyring.token("complainant", identity)``)
    * a full name (two words or more; wording mention or party): ``normalise_name(name)``.  The
      party's date of birth is *not* part of it, on purpose: wording never carries a date of
      birth, so including it would stop the same person linking between a party list and offence
      wording; ``normalise_name`` (variants, order, case) carries the linking instead.  Full names
      also get a keyed Bloom encoding (``Keyring.bloom``) for error-tolerant linkage.
    * initials, labels and collar numbers ("J.S.", "Child A", "PC 1234") and one-word names
      ("PC Smith", "namely Smith"): these identify a person only inside one case, so the
      identity is prefixed with the kind and the case ("initials", URN or court + case number);
      "Child A" of two cases get two tokens, and initials never collide with full names.
      No Bloom encoding (a surname alone would score close to every full name bearing it).
    * described-only mentions ("a girl under 16") get no token: there is nobody to link.

Nothing cleartext leaves this module: the report counts kinds and unparsed rule shapes, errors
name offence indexes and exception types only, and nothing is logged.
"""

from __future__ import annotations

import base64
import functools
import itertools
import re
import sys
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Iterable

from ..governance.pseudonym import Keyring, name_words, normalise_initials
from ..link.complainants import Extraction, extract
from ..model.records import Complainant, ParsedList

TOKEN_KIND = "complainant"
LABEL_HEX = 8
_SEP = "\x1f"


class GateError(ValueError):
    """The list cannot be gated (bad local references, an extractor failure). No cleartext."""


@dataclass
class GateReport:
    """What the gate did to one list: counts only, never cleartext."""

    offences_scanned: int = 0
    offences_redacted: int = 0
    complainants: Counter = field(default_factory=Counter)      # by kind: named/initials/described/party
    unparsed: Counter = field(default_factory=Counter)          # by rule shape, e.g. "namely:'X'"
    fields_scrubbed: int = 0                                    # other free-text fields rewritten

    @property
    def complainants_total(self) -> int:
        return sum(self.complainants.values())

    @property
    def unparsed_total(self) -> int:
        return sum(self.unparsed.values())

    def as_dict(self) -> dict:
        return {"offences_scanned": self.offences_scanned, "offences_redacted": self.offences_redacted,
                "complainants": dict(self.complainants), "unparsed": dict(self.unparsed),
                "fields_scrubbed": self.fields_scrubbed}


# ------------------------------------------------------------------------------------ identities

def case_scope(hearing) -> str:
    """The case a hearing belongs to, as far as the list says (scope of weak identities)."""
    if getattr(hearing, "case_key", None):
        return str(hearing.case_key)
    urn = (getattr(hearing, "case_urn", None) or "").strip()
    if urn:
        return "urn:" + urn.upper().replace(" ", "")
    number = (getattr(hearing, "case_number", None) or "").strip()
    if number:
        court = getattr(hearing, "court_code", None) or getattr(hearing, "court_name", None) or ""
        return f"cn:{court}:{number}".upper()
    return f"hearing:{getattr(hearing, 'json_path', None) or id(hearing)}"


_INITIALS_SPLIT = re.compile(r"[\s.]+")


def _is_initials(name: str) -> bool:
    """ "J.S.", "J S", "JS" (two or three capitals): initials rather than a name."""
    letters = [w for w in _INITIALS_SPLIT.split(name.strip()) if w]
    if not letters:
        return False
    if all(len(w) == 1 and w.isalpha() for w in letters):
        return True
    return len(letters) == 1 and letters[0].isalpha() and letters[0].isupper() and len(letters[0]) <= 3


@dataclass(frozen=True)
class _Identity:
    token: str | None
    bloom: bytes | None
    strong: bool          # a full name: linkable across cases, scrubbed from other fields
    initials_token: str | None = None   # a full name's initials, as that case would token them


def _initials_of(cleartext: str) -> str:
    """Forename and surname initials as registers abbreviate a name: "Jane Mary SMITH" and
    "SMITH, Jane" -> "JS".  The surname is the part before a comma, else the trailing run of
    capitalised words ("Ana DE LA CRUZ" -> D), else the last word; a double-barrelled surname keeps
    its first letter only ("O'SULLIVAN-LOWE, Abigail" -> "AO", as registers print "A.O.").  The
    forename's initial is the printed one: "Kathryn HARRIS" is "K.H." although Kathryn's canonical
    form is catherine."""
    if "," in cleartext:
        surname, _, rest = cleartext.partition(",")
    else:
        parts = cleartext.split()
        k = len(parts)
        while k > 1 and any(c.isalpha() for c in parts[k - 1]) and parts[k - 1].upper() == parts[k - 1]:
            k -= 1
        k = k if k < len(parts) else len(parts) - 1
        rest, surname = " ".join(parts[:k]), " ".join(parts[k:])
    fore, sur = name_words(rest, variants=False), name_words(surname)
    if not fore or not sur:
        return ""
    first = next((c for c in surname if c.isalpha()), "")
    return normalise_initials(fore[0][0] + (first or sur[0][0]))


def _identity(keyring: Keyring, kind: str, cleartext: str | None, scope: str) -> _Identity:
    """Token (and Bloom encoding) of one mention; see the module docstring for the rules."""
    if kind == "described" or not cleartext:
        return _Identity(None, None, False)
    if kind == "initials" or _is_initials(cleartext):
        label = normalise_initials(cleartext)
        if not label:
            return _Identity(None, None, False)
        return _Identity(keyring.token(TOKEN_KIND, f"initials{_SEP}{scope}{_SEP}{label}"), None, False)
    words = name_words(cleartext)
    if not words:
        return _Identity(None, None, False)
    if len(words) == 1:
        return _Identity(keyring.token(TOKEN_KIND, f"name1{_SEP}{scope}{_SEP}{words[0]}"), None, False)
    label = _initials_of(cleartext)
    initials = keyring.token(TOKEN_KIND, f"initials{_SEP}{scope}{_SEP}{label}") if label else None
    normalised = " ".join(sorted(words))          # = normalise_name(cleartext), words already at hand
    return _Identity(keyring.token(TOKEN_KIND, normalised), keyring.bloom_normalised(normalised), True,
                     initials)


# ------------------------------------------------------------------------------------ scrubbing

_NAME_WORD = re.compile(r"[^\W\d_]+(?:['\u2019\-][^\W\d_]+)*")
#: every byte but a lower-case ASCII letter -> space: ``low.encode().translate(...).split()`` gives
#: the runs of letters of a casefolded ASCII text (see `_Scrubber._may_name`; a byte table, as a
#: `str.translate` table costs a dictionary look-up per character)
_NOT_ASCII_LETTER = bytes(c if 0x61 <= c <= 0x7a else 0x20 for c in range(256))
_LETTER_RANK = {c: i for i, c in enumerate("etaoinsrhldcumfpgwybvkxjqz")}   # English, commonest first


def _rarity(word: str) -> tuple[int, int]:
    """How unlikely a (lower-case ASCII) word is to be a word of a text: longer, then rarer letter."""
    return len(word), _LETTER_RANK.get(word[0], 0)
_JOIN = r"[\s,.]+"
_TITLE = r"(?:(?:mr|mrs|miss|ms|mx|dr)\.?\s+)?"


class _Scrubber:
    """Finds the list's complainant names in any text: word orders "Jane Mary SMITH",
    "SMITH, Jane Mary", "Jane SMITH", "SMITH Jane"; any case; with or without accents; a leading
    title.  Only full names (two words or more) and dotted initials are scrubbed: a surname alone
    may be a defendant's too (and saying so would tell the reader they are related).

    Each name has its own small pattern; a field is tokenised once and only the patterns of names
    whose first and last words both occur in it are run, so scrubbing stays cheap however many
    names a list holds.  Two short cuts, neither changing what comes out: a field in which no
    name can have all its words (`_may_name`, cheaper than the tokenising) is returned as it is
    (most fields: a name is rarely anywhere but in the wording it was found in); and a text that
    comes back in the list (offence titles, reporting restriction details) is scrubbed once -- the
    scrubber lives as long as one `apply`.
    """

    def __init__(self, memo: bool = False) -> None:
        self._names: list[tuple[frozenset[str], str, str]] = []   # (needed words, pattern source, label)
        self._compiled: dict[int, re.Pattern] = {}                 # compiled on first use: most never are
        self._by_word: dict[str, list[int]] = {}
        self._seen: set[str] = set()
        self._memo = memo                                          # patterns from the ingest's memo
        self._done: dict[str, str] = {}                            # text -> scrubbed, for this list
        self._pre: tuple | None = None                             # `_may_name`'s tables, made on first use

    def add(self, cleartext: str, label: str) -> None:
        if cleartext in self._seen:
            return
        self._seen.add(cleartext)
        self._done.clear()              # (`apply` adds every name before it scrubs anything)
        self._pre = None
        found = _name_pattern(cleartext) if self._memo else _name_pattern.__wrapped__(cleartext)
        if found is None:
            return
        needed, source = found
        idx = len(self._names)
        self._names.append((needed, source, f"[complainant:{label}]"))
        for w in needed or ("",):
            self._by_word.setdefault(w, []).append(idx)

    def __bool__(self) -> bool:
        return bool(self._names)

    def _may_name(self, low: str) -> bool:
        """Could all the needed words of some name be among the words of ``low`` (the text
        casefolded, accents folded) as `_scrub` tokenises it (``_NAME_WORD``)?  False only when
        they cannot.

        A needed word is casefolded.  If it is made of ASCII letters only and is a word of
        ``low``, it is a maximal run of letters there (the tokeniser is greedy, and joins letters
        only across an apostrophe or hyphen followed by a letter), so it is one of the pieces of
        ``low`` split at every character but a-z (a non-ASCII letter included: that only splits
        more); any other word is at least a substring of ``low``.  Most names have a word of one
        letter ("J.S.", "J. Smith"), hence the runs rather than substrings ("j" is in most texts)."""
        pre = self._pre
        if pre is None:
            # Each name's letters-only words as bytes (runs of ``runs`` below), the others as they
            # are; and the name under the one of its letters-only words least likely to occur: a
            # name needs them all, so a text without that one cannot hold it.
            by_key: dict[bytes, list[tuple[frozenset[bytes], tuple[str, ...]]]] = {}
            other: list[tuple[frozenset[bytes], tuple[str, ...]]] = []    # no letters-only word
            for needed, _, _ in self._names:
                if needed:
                    plain = [w for w in needed if w.isascii() and w.isalpha()]
                    check = (frozenset(w.encode("ascii") for w in plain), tuple(needed.difference(plain)))
                    if plain:
                        by_key.setdefault(max(plain, key=_rarity).encode("ascii"), []).append(check)
                    else:
                        other.append(check)
            pre = self._pre = (by_key, frozenset(by_key), other)
        by_key, keys, other = pre
        pieces = low.encode("ascii", "replace").translate(_NOT_ASCII_LETTER).split()
        hits = keys.intersection(pieces)
        runs = set(pieces) if hits else ()
        for key in hits:
            for plain, rest in by_key[key]:
                if plain <= runs and all(map(low.__contains__, rest)):
                    return True
        for plain, rest in other:
            if all(map(low.__contains__, rest)):
                return True
        return False

    def scrub(self, text: str) -> str:
        out = self._done.get(text)
        if out is None:
            out = self._done[text] = self._scrub(text)
        return out

    def _scrub(self, text: str) -> str:
        low = text.casefold()
        if not low.isascii():
            low = _folded(low)
        if not ("." in text and "" in self._by_word) and not self._may_name(low):
            return text                 # no pattern would run below
        present = set(_NAME_WORD.findall(low))
        todo = {i for w in present & self._by_word.keys() for i in self._by_word[w]}
        if "." in text:
            todo.update(self._by_word.get("", ()))
        for i in sorted(todo):
            needed, source, placeholder = self._names[i]
            if needed <= present:
                pattern = _compile(source) if self._memo else self._compiled.get(i)
                if pattern is None:
                    pattern = self._compiled[i] = re.compile(source, re.IGNORECASE)
                text = pattern.sub(placeholder, text)
                folded = _folded(text)
                if folded != text and pattern.search(folded):   # "Siobhán" listed, "Siobhan" written
                    text = pattern.sub(placeholder, folded)
        return text


@functools.lru_cache(maxsize=16384)
def _name_pattern(cleartext: str) -> tuple[frozenset[str], str] | None:
    """(words a text must contain, pattern source) of one name for `_Scrubber`, or None for a
    name that is not scrubbed (one word, undotted initials).  Memoised (see `apply`'s ``memo``)."""
    forms = {cleartext, _folded(cleartext)}
    words = _NAME_WORD.findall(cleartext)
    if len(words) >= 2:
        alts = set()
        for form in forms:
            w = _NAME_WORD.findall(form)
            if not w:       # (folding can leave no word: '¹0¼' -> '10 1/4')
                continue
            first, last = w[0], w[-1]
            for order in {tuple(w), (last, *w[:-1]), (first, last), (last, first)}:
                alts.add(_TITLE + _JOIN.join(re.escape(x) for x in order))
        needed = frozenset({_folded(words[0]).casefold(), _folded(words[-1]).casefold()})
    elif _is_initials(cleartext) and "." in cleartext:
        letters = [c for c in cleartext if c.isalpha()]
        alts = {r"\.\s?".join(letters) + r"\.?"}
        needed = frozenset()                      # initials: tried on every text with a dot
    else:
        return None
    body = "|".join(sorted(alts, key=len, reverse=True))
    return needed, rf"(?<![\w])(?:{body})(?![\w])"


@functools.lru_cache(maxsize=4096)
def _compile(source: str) -> re.Pattern:
    """A name's pattern, compiled on first use (most never are) and kept for the next lists."""
    return re.compile(source, re.IGNORECASE)


def _folded(text: str) -> str:
    """Accents stripped (NFKD, then every character of a non-zero combining class dropped),
    offsets not preserved."""
    if text.isascii():          # NFKD leaves ASCII as it is and it has no combining marks
        return text
    return _FROM_U0300.sub(_drop_combining, unicodedata.normalize("NFKD", text))


#: the only characters that may be combining marks (the first is U+0300): few in a text, and this
#: small class is matched far faster than a class of the ~300 ranges of `_combining_ranges`
_FROM_U0300 = re.compile("[^\x00-\u02ff]")


def _drop_combining(m: re.Match) -> str:
    c = m.group()
    return "" if c in _combining_set() else c


@functools.lru_cache(maxsize=1)
def _combining_set() -> frozenset[str]:
    """Every character of `_combining_ranges`."""
    return frozenset(chr(cp) for a, b in _combining_ranges() for cp in range(a, b + 1))


@functools.lru_cache(maxsize=1)
def _combining_ranges() -> tuple[tuple[int, int], ...]:
    """The code points with a non-zero combining class, as ranges (built once per process: the
    same set `unicodedata.combining` tests one character at a time; the scan runs in C,
    `itertools.compress` over `map`, ≈ 0.1 s)."""
    ranges, start, prev = [], None, None
    every = range(0x300, sys.maxunicode + 1)
    for cp in itertools.compress(every, map(unicodedata.combining, map(chr, every))):
        if start is None:
            start = cp
        elif cp != prev + 1:
            ranges.append((start, prev))
            start = cp
        prev = cp
    ranges.append((start, prev))
    return tuple(ranges)


# ------------------------------------------------------------------------------------ the gate

# Memoised, for a bulk ingest (``apply(..., memo=True)``): what is a pure function of its input --
# the extractor's result per offence wording, a mention's token + Bloom encoding, a name's scrub
# pattern -- since a case's wordings and names come back in list after list (≈ 10 µs per Bloom
# encoding, ≈ 100 µs per wording).  The memos hold cleartext, in memory only: `forget` empties
# them, and `ingest.pipeline.ingest` calls it when it ends (its worker processes end with it).
# Without ``memo`` (mail intake, tests) nothing is kept from one list to the next.  A wording
# longer than MEMO_WORDING_MAX characters is never memoised (the memo's memory stays bounded:
# 8,192 wordings of at most 4,096 characters; a list's wordings are a few hundred).

MEMO_WORDING_MAX = 4096


@functools.lru_cache(maxsize=8192)
def _extracted(extractor, wording: str) -> Extraction:
    """``extractor(wording)`` (keyed by the extractor too, so a replaced `extract` is called;
    exceptions are not cached).  The gate only reads the `Extraction`."""
    return extractor(wording)


_identity_memo = functools.lru_cache(maxsize=16384)(_identity)


def forget() -> None:
    """Empty the gate's memos (the cleartext names and wordings they hold) -- and the `re` module's
    cache of compiled patterns, where every name pattern the scrubber compiled sits too."""
    for memo in (_extracted, _identity_memo, _name_pattern, _compile):
        memo.cache_clear()
    re.purge()



_PARTY_REF = attrgetter("party_ref")


def _ints_in_range(values: list, n: int) -> bool:
    """Is every value an int (not a subclass: the checks below allow those) in [0, n)?"""
    return set(map(type, values)) <= {int} and (not values or (min(values) >= 0 and max(values) < n))


def _check_refs(parsed: ParsedList) -> None:
    nh, np_, no = len(parsed.hearings), len(parsed.parties), len(parsed.offences)
    parties = parsed.parties
    # the common case at C speed: every reference an int (exactly) in range; else the loop below
    # finds the first bad one, as it always did
    refs = list(map(_PARTY_REF, parsed.offences))
    if _ints_in_range(refs, np_) and _ints_in_range([parties[r].hearing_ref for r in set(refs)], nh):
        refs = []
    for i, o in enumerate(parsed.offences if refs else ()):
        ref = o.party_ref
        if not (isinstance(ref, int) and 0 <= ref < np_):
            raise GateError(f"offence {i}: party_ref out of range")
        hearing_ref = parties[ref].hearing_ref
        if not (isinstance(hearing_ref, int) and 0 <= hearing_ref < nh):
            raise GateError(f"party {ref}: hearing_ref out of range")
    for i, rc in enumerate(parsed.raw_complainants):
        if not (isinstance(rc.hearing_ref, int) and 0 <= rc.hearing_ref < nh):
            raise GateError(f"raw complainant {i}: hearing_ref out of range")
        if rc.offence_ref is not None and not (isinstance(rc.offence_ref, int) and 0 <= rc.offence_ref < no):
            raise GateError(f"raw complainant {i}: offence_ref out of range")


def apply(parsed: ParsedList, keyring: Keyring, *, memo: bool = False) -> GateReport:
    """Pseudonymise every complainant in ``parsed`` (in place); see the module docstring.
    ``memo``: keep what is worked out for the next lists (see `forget`); the output is the same.

    Everything is worked out before anything is changed: on `GateError` the list is as it was
    (and, its ``raw_complainants`` being still there, the store would refuse it anyway).
    """
    _check_refs(parsed)
    report = GateReport()
    scrubber = _Scrubber(memo)
    identity = _identity_memo if memo else _identity
    scopes: dict[int, str] = {}

    def scope_of(hearing_ref: int) -> str:
        s = scopes.get(hearing_ref)
        if s is None:
            s = scopes[hearing_ref] = case_scope(parsed.hearings[hearing_ref])
        return s

    new: list = []
    rewritten: list[tuple[int, str]] = []
    # 1. offence wording
    for i, offence in enumerate(parsed.offences):
        if not offence.wording:
            continue
        report.offences_scanned += 1
        try:
            ex: Extraction = (_extracted(extract, offence.wording)
                              if memo and len(offence.wording) <= MEMO_WORDING_MAX else extract(offence.wording))
        except Exception as e:  # never let an extractor defect pass cleartext on, nor show it
            raise GateError(f"offence {i}: complainant extraction failed ({type(e).__name__})") from None
        for shape in ex.unparsed:
            report.unparsed[shape] += 1
        if not ex.mentions:
            continue
        hearing_ref = parsed.parties[offence.party_ref].hearing_ref
        labels: dict[int, str] = {}
        json_path = wording_place(parsed.meta, offence.json_path)
        for n, m in enumerate(ex.mentions):
            ident = identity(keyring, m.kind, m.identity, scope_of(hearing_ref))
            if ident.token:
                labels[n] = ident.token[:LABEL_HEX]
                if ident.strong or m.kind == "initials":
                    scrubber.add(m.identity, labels[n])
            new.append(Complainant(
                json_path=json_path, offence_ref=i, hearing_ref=hearing_ref, kind=m.kind,
                token=ident.token, key_id=keyring.key_id if ident.token else None, bloom=ident.bloom,
                descriptor=m.descriptor, evidence=m.evidence, initials_token=ident.initials_token))
            report.complainants[m.kind] += 1
        if ex.slots:
            rewritten.append((i, ex.relabel(labels)))
    # 2. complainants listed as parties
    for rc in parsed.raw_complainants:
        ident = identity(keyring, "party", rc.name, scope_of(rc.hearing_ref))
        if ident.token:
            scrubber.add(rc.name, ident.token[:LABEL_HEX])
        new.append(Complainant(
            json_path=rc.json_path, offence_ref=rc.offence_ref, hearing_ref=rc.hearing_ref, kind="party",
            token=ident.token, key_id=keyring.key_id if ident.token else None, bloom=ident.bloom,
            descriptor=None, evidence="party", initials_token=ident.initials_token))
        report.complainants["party"] += 1
    # now change the list
    for i, wording in rewritten:
        parsed.offences[i].wording = wording
    report.offences_redacted = len(rewritten)
    parsed.raw_complainants.clear()
    parsed.complainants.extend(new)
    # 3. the same names anywhere else in the list's free text
    if scrubber:
        report.fields_scrubbed = _scrub_fields(parsed, scrubber)
        if not memo:
            re.purge()      # (the name patterns it compiled: `re` keeps them in its own cache)
    return report


def wording_place(meta, offence_path: str | None) -> str:
    """Where an offence's wording is in its source, from the offence's place: a JSON path and the
    wording's key (``$...offence[0].offenceWording``; ``.sum`` in a magistrates adult court list),
    or for a CSV register, PDF or Excel list the offence's row and the wording's column, named as
    a rejection there names it (``row 7, column offence_wording``, ``page 2 row 14, column Offence
    wording``)."""
    path = offence_path or ""
    if not path or path.startswith("$"):
        return f"{path}.{_json_wording_key(getattr(meta, 'list_type', None))}"
    return f"{path}, column {_wording_column(getattr(meta, 'source_format', None), getattr(meta, 'list_type', None))}"


@functools.lru_cache(maxsize=None)
def _json_wording_key(list_type: str | None) -> str:
    from .cath import ADULT_COURT, LIST_TYPES

    lt = LIST_TYPES.get(list_type or "")
    return "sum" if lt is not None and lt.family is ADULT_COURT else "offenceWording"


@functools.lru_cache(maxsize=None)
def _wording_column(source_format: str | None, list_type: str | None) -> str:
    if source_format in ("pdf", "xlsx"):
        from .layouts import layout_for

        lay = layout_for(list_type or "")
        label = next((c.label for c in lay.columns if c.field == "offence.wording"), None) if lay else None
        return label or "Offence wording"
    return "offence_wording"            # a CSV register's column (docs/csv-format.md)


_HEARING_TEXT = ("list_note", "case_name", "reporting_restriction_detail")
_OFFENCE_TEXT = ("title", "reporting_restriction_detail", "wording")


def _scrub_fields(parsed: ParsedList, scrubber: _Scrubber) -> int:
    """Scrub the list's other free text (module docstring, 3.); how many fields changed.
    A field is written back only when its text changed."""
    changed = 0
    scrub = scrubber.scrub
    for records, names in ((parsed.hearings, _HEARING_TEXT), (parsed.offences, _OFFENCE_TEXT)):
        for rec in records:
            for name in names:
                value = getattr(rec, name, None)
                if value and isinstance(value, str):
                    out = scrub(value)
                    if out != value:
                        setattr(rec, name, out)
                        changed += 1
    warnings = parsed.warnings
    for i, w in enumerate(warnings):
        if w and isinstance(w, str):
            out = scrub(w)
            if out != w:
                warnings[i] = out
                changed += 1
    return changed


# ------------------------------------------------------------------------------------ tests' helper

def assert_no_cleartext(parsed: ParsedList, names: Iterable[str], *, words: bool = True) -> None:
    """Fail if any of ``names`` can be read anywhere in ``parsed`` once serialised.

    Searches the ``msgspec.json.encode`` bytes (Bloom encodings, which are base64 noise, taken
    out first), case-insensitively and with or without accents, for each full name in its usual
    orders ("Jane SMITH", "SMITH, Jane", "SMITH Jane") and, with ``words=True``, for each word of
    three letters or more (as a whole word).  The error names the index of the name, not the name.
    """
    import msgspec

    raw = msgspec.json.encode(parsed).decode("utf-8")
    for c in parsed.complainants:
        if c.bloom:
            raw = raw.replace(base64.b64encode(c.bloom).decode("ascii"), "")
    haystacks = {raw.casefold(), _folded(raw).casefold()}
    for i, name in enumerate(names):
        ws = _NAME_WORD.findall(name)
        full = {" ".join(name.split())}
        if len(ws) >= 2:
            full |= {f"{ws[-1]}, {' '.join(ws[:-1])}", f"{ws[-1]} {' '.join(ws[:-1])}"}
        parts = {w for w in ws if len(w) >= 3} if words else set()
        for what, needles in (("the full name", full), ("a word of name", parts)):
            for needle in needles | {_folded(n) for n in needles}:
                found = re.compile(rf"(?<![^\W\d_]){re.escape(needle.casefold())}(?![^\W\d_])")
                if any(found.search(h) for h in haystacks):
                    raise AssertionError(f"cleartext: {what} #{i} is still in the parsed list")


__all__ = ["GateError", "GateReport", "apply", "assert_no_cleartext", "case_scope", "forget", "wording_place"]
