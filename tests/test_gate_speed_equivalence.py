"""The intake gate's CPU short cuts (bench/RESULTS.md, "Ingest CPU per entry") change nothing.

Each short cut is checked against the code it replaced, kept here as the reference: the scrubber's
pre-check and per-list cache, the accent folding, the reference checks, the name tokeniser, the
Bloom encoding of a name already normalised, the extractor's "#" searches.  Synthetic names only.
"""

from __future__ import annotations

import functools
import re
import unicodedata

import pytest
from hypothesis import given, settings, strategies as st

from courtarchive.governance import pseudonym
from courtarchive.governance.pseudonym import Keyring
from courtarchive.ingest import gate
from courtarchive.link import complainants

# ------------------------------------------------------------------------------- references


class _ReferenceScrubber:
    """`gate._Scrubber` as it was: every field tokenised, nothing skipped, nothing cached."""

    def __init__(self) -> None:
        self.names, self.by_word, self.seen = [], {}, set()

    def add(self, cleartext: str, label: str) -> None:
        if cleartext in self.seen:
            return
        self.seen.add(cleartext)
        found = gate._name_pattern.__wrapped__(cleartext)
        if found is None:
            return
        needed, source = found
        self.names.append((needed, re.compile(source, re.IGNORECASE), f"[complainant:{label}]"))
        for w in needed or ("",):
            self.by_word.setdefault(w, []).append(len(self.names) - 1)

    def scrub(self, text: str) -> str:
        low = _reference_folded(text.casefold())
        present = set(gate._NAME_WORD.findall(low))
        todo = {i for w in present & self.by_word.keys() for i in self.by_word[w]}
        if "." in text:
            todo.update(self.by_word.get("", ()))
        for i in sorted(todo):
            needed, pattern, placeholder = self.names[i]
            if needed <= present:
                text = pattern.sub(placeholder, text)
                folded = _reference_folded(text)
                if folded != text and pattern.search(folded):
                    text = pattern.sub(placeholder, folded)
        return text


def _reference_folded(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


@functools.lru_cache(maxsize=1)
def combining_class() -> re.Pattern:
    """`gate._combining` as it was (`gate._folded` matched it before the `_FROM_U0300` pre-class):
    one character class of every code point with a non-zero combining class."""
    return re.compile("[" + "".join(re.escape(chr(a)) + ("-" + re.escape(chr(b)) if b > a else "")
                                    for a, b in gate._combining_ranges()) + "]")


def _reference_check_refs(parsed) -> None:
    nh, np_, no = len(parsed.hearings), len(parsed.parties), len(parsed.offences)
    for i, o in enumerate(parsed.offences):
        if not (isinstance(o.party_ref, int) and 0 <= o.party_ref < np_):
            raise gate.GateError(f"offence {i}: party_ref out of range")
        if not (isinstance(parsed.parties[o.party_ref].hearing_ref, int)
                and 0 <= parsed.parties[o.party_ref].hearing_ref < nh):
            raise gate.GateError(f"party {o.party_ref}: hearing_ref out of range")


# ------------------------------------------------------------------------------- generators

# name words (synthetic), with accents, apostrophes, hyphens and initials; and filler
_NAME_WORDS = ["Jane", "SMITH", "Siobhán", "O'NEILL", "O\u2019Neill", "Weston-Davison", "Zoë", "Ann", "Li",
               "J.", "S.", "J", "S", "Mary", "de", "la", "Cruz", "\u210cal", "Ødegård"]
_FILLER = ["the", "assault", "by", "beating", "of", "s", "j", "a", "'s", "-", ".", ",", "’", "“", "”", "(", ")",
           "1234", "_", "\n", "ﬁ", "Ἀθῆναι", "e\u0301", "smith's", "jane-smith", "j.s.", "J.S.", "Mr", "MRS."]
_names = st.lists(st.sampled_from(_NAME_WORDS), min_size=1, max_size=4).map(" ".join) | st.sampled_from(
    ["J.S.", "J. S.", "A.B.C.", "Jane SMITH", "SMITH, Jane", "Siobhán O'NEILL", "Zoë Li", "K.", "JS"])
_texts = st.lists(st.sampled_from(_NAME_WORDS + _FILLER), max_size=14).map(
    lambda ws: "".join(w + (" " if i % 3 else "") for i, w in enumerate(ws))) | st.text(max_size=40)


# ------------------------------------------------------------------------------- the scrubber

@settings(max_examples=400, deadline=None)
@given(names=st.lists(_names, min_size=1, max_size=6), texts=st.lists(_texts, min_size=1, max_size=6),
       memo=st.booleans())
def test_scrubber_scrubs_as_before(names, texts, memo):
    new, old = gate._Scrubber(memo), _ReferenceScrubber()
    for n, name in enumerate(names):
        new.add(name, f"{n:08x}")
        old.add(name, f"{n:08x}")
    for text in texts + texts:                 # twice: the second time from the per-list cache
        assert new.scrub(text) == old.scrub(text)
    gate.forget()


def test_scrubber_scrubs_the_usual_shapes():
    texts = ("R v Dee (complainant Mrs Jane SMITH)", "smith, jane mary said so", "Jane spoke to Mr Smith",
             "seen by J. S. and Siobhán", "no name here")
    new, old = gate._Scrubber(), _ReferenceScrubber()
    for s in (new, old):
        s.add("Jane Mary SMITH", "aaaa1111")
        s.add("J.S.", "bbbb2222")
    got = [new.scrub(t) for t in texts]
    assert got == [old.scrub(t) for t in texts] == [
        "R v Dee (complainant [complainant:aaaa1111])", "[complainant:aaaa1111] said so",
        "Jane spoke to Mr Smith", "seen by [complainant:bbbb2222]. and Siobhán", "no name here"]


class _CountingWords:
    """Stands in for ``gate._NAME_WORD``: counts the fields the scrubber tokenises."""

    def __init__(self) -> None:
        self.calls = 0

    def findall(self, text):
        self.calls += 1
        return gate._NAME_WORD_REAL.findall(text)


@pytest.fixture
def counting_words(monkeypatch):
    words = _CountingWords()
    monkeypatch.setattr(gate, "_NAME_WORD_REAL", gate._NAME_WORD, raising=False)
    monkeypatch.setattr(gate, "_NAME_WORD", words)
    return words


def test_scrubber_does_not_tokenise_a_field_no_name_can_be_in(counting_words):
    """The CPU short cut itself (the old scrubber tokenised every field): a field that does not
    hold every word of some name is returned as it is, untokenised; one that does is scrubbed,
    and tokenised once however often it comes back in the list."""
    s = gate._Scrubber()
    s.add("Jane SMITH", "aaaa1111")
    s.add("J.S.", "bbbb2222")             # one-letter words: "j" and "s" are in most texts
    counting_words.calls = 0
    assert s.scrub("Assault by beating of a person's jaw, contrary to s.39") == \
        "Assault by beating of a person's jaw, contrary to s.39"
    assert s.scrub("Smithson and Janet's jacket") == "Smithson and Janet's jacket"
    assert counting_words.calls == 0
    for _ in range(3):
        assert s.scrub("Note: Jane SMITH attended") == "Note: [complainant:aaaa1111] attended"
    assert counting_words.calls == 1


# ------------------------------------------------------------------------------- helpers

@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40) | _texts)
def test_folding_as_the_combining_class_folded(text):
    assert gate._folded(text) == combining_class().sub("", unicodedata.normalize("NFKD", text)) \
        == _reference_folded(text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40) | _texts)
def test_name_tokens_as_the_old_split(text):
    part = pseudonym._APOSTROPHES.sub("", pseudonym._fold(text))
    assert pseudonym._WORD.findall(part) == re.compile(r"[^0-9a-z]+").sub(" ", part).split()   # (the old definition)


@settings(max_examples=100, deadline=None)
@given(_names)
def test_bloom_of_a_normalised_name_is_its_bloom(name):
    kr = Keyring(bytes(range(32)))
    assert kr.bloom_normalised(pseudonym.normalise_name(name)) == kr.bloom(name)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="#.'\u2019-a1 \n", max_size=30))
def test_marked_searches_as_before(marked):
    old_caps = re.compile(r"(?<![\w#'\u2019\-])#(?=['\u2019\-]?#)")
    old_dots = re.compile(r"(?<![\w#.])#\. ?#\.")
    for new, old in ((complainants._CAPS_MARKED, old_caps), (complainants._DOTS_MARKED, old_dots)):
        assert [m.span() for m in new.finditer(marked)] == [m.span() for m in old.finditer(marked)]


_REF = st.one_of(st.integers(-2, 4), st.booleans(), st.none(), st.just(1.0), st.just([1]), st.just("1"))


@settings(max_examples=400, deadline=None)
@given(party_refs=st.lists(_REF, max_size=5), hearing_refs=st.lists(_REF, min_size=1, max_size=4),
       n_hearings=st.integers(0, 3))
def test_reference_checks_as_before(party_refs, hearing_refs, n_hearings):
    from types import SimpleNamespace as NS

    parsed = NS(hearings=[None] * n_hearings, parties=[NS(hearing_ref=h) for h in hearing_refs],
                offences=[NS(party_ref=r) for r in party_refs], raw_complainants=[])

    def outcome(check):
        try:
            check(parsed)
        except gate.GateError as e:
            return str(e)
        except Exception as e:  # noqa: BLE001 -- the same defect, if any, both ways
            return type(e).__name__
        return None

    assert outcome(gate._check_refs) == outcome(_reference_check_refs)

