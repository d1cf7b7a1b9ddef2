"""A data subject is found under every spelling of their name that normalises to theirs (UK GDPR
Art 15: telling a subject the archive holds nothing of them when it does is the failure here).

`rights find` compared the normalised words ("darlak joseph") with the stored names as they were,
lower-cased: "Joe Darłak" with 4 mentions was found nowhere.  Raw mentions, pseudonymised ones
(tokens) and complainant mentions are checked with accented, hyphenated, apostrophe, particle and
nickname names, on both backends, with or without a search index."""

from __future__ import annotations

import datetime as dt
import unicodedata

import pytest
from hypothesis import HealthCheck, assume, given, settings, strategies as st

from courtarchive.governance import retention, rights
from courtarchive.governance.coarse import full_name
from courtarchive.governance.pseudonym import Keyring, normalise_name
from courtarchive.ingest import gate
from courtarchive.model import Hearing, Offence, ParsedList, Party, PublicationMeta
from courtarchive.store import governance as sg
from test_governance_support import rows

KR = Keyring(bytes(range(32)))
D = dt.date
DOB = D(1979, 3, 2)
_n = iter(range(1, 10**6))


def _list(archive, parties: list[dict], *, date=D(2025, 5, 1), court=None,
          wording="Stole a bicycle worth £200", gated=False) -> list[int]:
    """One list of one hearing with these defendants (party fields as given: forenames, surname,
    name_as_listed, date_of_birth -- DOB unless given); the defendants' party ids, in order.  A
    list of the same court and day as an earlier one supersedes it."""
    n = next(_n)
    court = court or f"Court {n}"
    p = ParsedList(meta=PublicationMeta(list_type="MAGISTRATES_STANDARD_LIST", sensitivity="CLASSIFIED",
                                        court_name=court, content_date=date, version="1",
                                        published_at=dt.datetime.combine(date, dt.time(8)),
                                        source_name=f"names-{n}.json"))
    p.hearings.append(Hearing(json_path="$.h[0]", court_name=court, sitting_date=date, case_urn=f"07ZZ{n:07d}"))
    for i, fields in enumerate(parties):
        p.parties.append(Party(json_path=f"$.h[0].p[{i}]", hearing_ref=0, role="DEFENDANT",
                               **{"date_of_birth": DOB, **fields}))
        p.offences.append(Offence(json_path=f"$.h[0].p[{i}].o[0]", party_ref=i, seq=1, code="TH68001",
                                  title="Theft", wording=wording))
    if gated:
        gate.apply(p, KR)
    w = archive.write(p, content_hash=f"names-{n}")
    return [r["id"] for r in rows(archive, "party", publication_id=w.publication_id)]


def _named(forenames, surname, **more) -> dict:
    return {"forenames": forenames, "surname": surname, "name_as_listed": f"{surname}, {forenames}", **more}


def _find(archive, name, dob=DOB, keyring=KR):
    return rights.find(archive, name=name, dob=dob, keyring=keyring, actor="dpo")


def test_joe_darlak_is_found_under_every_spelling(archive):
    """The colleague's report: mentions of "Joe Darłak", `rights find` found none of them."""
    mine = (_list(archive, [_named("Joe", "DARŁAK")])
            + _list(archive, [_named("Joseph", "Darlak")])
            + _list(archive, [_named("JOE", "darłak")])
            + _list(archive, [_named("  Joey ", " DARŁAK  ")])
            + _list(archive, [{"name_as_listed": "Mr Joe  DARŁAK"}]))             # the listed name alone
    unknown = _list(archive, [_named("Joe", "DARŁAK", date_of_birth=None)])         # DOB not given
    others = _list(archive, [_named("Joe", "DARŁAKOWSKI"), _named("Joe", "DARŁAK", date_of_birth=D(1980, 1, 1)),
                             _named("Jo", "DARŁAK"), _named("Joe", "DARLACK")])
    for typed in ("Joe Darłak", "DARLAK, Joseph", "joseph  darłak"):
        f = _find(archive, typed)
        assert f["party_ids"] == mine, typed
        assert f["possible_party_ids"] == unknown
    req = rights.open_request(archive, kind="access", name="Joe Darłak", dob=DOB, keyring=KR, actor="dpo")
    assert req["party_ids"] == mine and req["counts"]["party"] == 5
    assert "darlak" not in str(rows(archive, "audit_event")).lower()
    assert _find(archive, "Joe Darłak", dob=None)["party_ids"] == sorted(mine + unknown + others[1:2])


@pytest.mark.parametrize("typed,spellings,others", [
    ("Seán O'Brien", [("SEÁN", "O’BRIEN"), ("Sean", "OBRIEN"), ("sean", "O Brien"), ("Seán", "o'brien"),
                      ("Shaun", "O’BRIEN")],
     [("Sean", "BRIEN"), ("Sean", "O'BRIEN-KELLY")]),
    ("Mary Smith-Jones", [("Mary", "SMITH-JONES"), ("MARY", "Smith Jones"), ("Mary", "JONES-SMITH"),
                          ("Mary", "Smith–Jones")],
     [("Mary", "SMITH"), ("Mary", "SMITHJONES")]),
    ("María de la Cruz", [("Maria", "DE LA CRUZ"), ("MARÍA", "Delacruz"), ("Maria", "de-la-Cruz"),
                          ("Mari\u0301a", "DE LA CRUZ")],                       # decomposed accent (NFD)
     [("Maria", "CRUZ"), ("Mario", "DE LA CRUZ")]),
    ("Zofia Łukasiewicz-Nowak", [("ZOFIA", "ŁUKASIEWICZ-NOWAK"), ("Zofia", "Lukasiewicz Nowak"),
                                 ("Zofia", "NOWAK-ŁUKASIEWICZ")],
     [("Zofia", "NOWAK")]),
    ("Chloë D'Arcy", [("CHLOË", "D’ARCY"), ("Chloe", "DARCY"), ("chloe", "d'arcy")], [("Chloe", "ARCY")]),
])
def test_accents_hyphens_apostrophes_and_particles(archive, typed, spellings, others):
    mine = [i for f, s in spellings for i in _list(archive, [_named(f, s)])]
    for f, s in others:
        _list(archive, [_named(f, s)])
    assert all(normalise_name(f"{f} {s}") == normalise_name(typed) for f, s in spellings)
    assert _find(archive, typed)["party_ids"] == mine


def test_found_however_the_search_index_stands(archive):
    """The rights search reads the archive's own rows: a mention of a superseded list version (the
    index leaves those out) is found as well as the current one, with the index never built,
    built, or emptied."""
    from courtarchive.serve import search as S
    from courtarchive.store import search as ss

    first = _list(archive, [_named("Józef", "WÓJCIK")], date=D(2025, 5, 5), court="Preston")
    again = _list(archive, [_named("Jozef", "WOJCIK")], date=D(2025, 5, 5), court="Preston")
    _list(archive, [_named("Joe", "WÓJCIK", date_of_birth=None)])           # Joe is not Józef

    def found():
        f = _find(archive, "Jozef Wojcik")
        return f["party_ids"], f["possible_party_ids"]

    assert found() == (first + again, [])
    S.refresh(archive)
    assert S.status(archive)["rows"] == 2                                   # the superseded one is not in it
    assert found() == (first + again, [])
    with ss.writer(archive) as c:
        ss.clear(archive, c)
    assert found() == (first + again, [])


def test_the_store_returns_candidates_not_the_table(archive):
    """The look-up is one scan in the database: an ASCII name sharing no spelling with the one
    sought never reaches Python, nor a mention born another day."""
    _list(archive, [_named(f"Forename{chr(97 + i)}", f"SURNAME{chr(97 + i)}") for i in range(20)])
    mine = _list(archive, [_named("Joe", "DARŁAK"), _named("JOSEPH", "darlak")])
    spelt = [{"darlak"}, {"joseph", "joe", "joey"}]
    assert [p["id"] for p in sg.parties_by_name_words(archive, spelt, dob=DOB)] == mine
    assert sg.parties_by_name_words(archive, spelt, dob=D(1990, 1, 1)) == []


def test_pseudonymised_mentions_under_every_spelling_and_key(archive):
    """Expired mentions carry a token of the normalised name and date of birth: found by any
    spelling of the name, under a key since retired too."""
    mine = (_list(archive, [_named("Joe", "DARŁAK")], date=D(2024, 1, 10))
            + _list(archive, [_named("SEÁN", "O’BRIEN")], date=D(2024, 1, 11)))
    assert retention.expire(archive, keyring=KR, as_of=D(2025, 6, 1))["parties_pseudonymised"] == 2
    assert all(p["pseudonymised"] for p in rows(archive, "party"))
    rotated = Keyring(bytes(range(1, 33)), old_keys=[KR.key])
    for kr in (KR, rotated):
        assert _find(archive, "DARLAK, Joseph", keyring=kr)["party_ids"] == mine[:1]
        assert _find(archive, "Shaun O'Brien", keyring=kr)["party_ids"] == mine[1:]


def test_complainants_under_every_spelling(archive):
    """Complainant mentions carry only a keyed token of the normalised full name (intake gate)."""
    _list(archive, [_named("Ambrose", "PELLINGHAM")], gated=True,
          wording="On 01/03/2025 at Preston assaulted Zofia ŁUKASIEWICZ-NOWAK and Siobhán O’NEILL by beating them.")
    zofia, siobhan = (c["id"] for c in rows(archive, "complainant"))
    assert "NEILL" not in str(rows(archive, "offence"))
    for typed, want in (("Zofia Lukasiewicz-Nowak", zofia), ("ZOFIA ŁUKASIEWICZ NOWAK", zofia),
                        ("Nowak-Łukasiewicz, Zofia", zofia), ("Siobhan O'Neill", siobhan),
                        ("siobhán  oneill", siobhan)):
        assert _find(archive, typed, dob=None)["complainant_ids"] == [want], typed


# --------------------------------------------------------------------------- property
BASE = [("Joseph", "Darłak"), ("Seán", "O'Brien"), ("Mary", "Smith-Jones"), ("Chloë", "Łukasiewicz"),
        ("William", "de la Cruz")]
_ACCENTED = {"a": "áàâä", "e": "éèêë", "i": "íî", "o": "óôöø", "u": "úüù", "c": "ćç", "l": "ł", "n": "ñń",
             "s": "śš", "z": "żž"}
_PLAIN = {c: base for base, cs in _ACCENTED.items() for c in cs}
_NICK = {"Joseph": ["Joe", "Joey"], "William": ["Bill", "Will"], "Seán": ["Shaun", "Shawn"]}


@st.composite
def _printed(draw):
    """A subject's name and a way a list may print it: nickname, case, accents dropped or added
    (composed or not), apostrophe style, order, spacing, a title; the listed name alone or with
    the parts."""
    fore, sur = draw(st.sampled_from(BASE))
    shown = draw(st.sampled_from([fore] + _NICK.get(fore, [])))

    def reshape(word):
        out = []
        for ch in word:
            low = ch.lower()
            if low in _PLAIN and draw(st.booleans()):
                ch = _PLAIN[low]
            elif low in _ACCENTED and draw(st.integers(0, 4)) == 0:
                ch = draw(st.sampled_from(_ACCENTED[low]))
            out.append(ch.upper() if draw(st.booleans()) else ch.lower())
        text = "".join(out).replace("'", draw(st.sampled_from(["'", "’", ""])))
        return unicodedata.normalize(draw(st.sampled_from(["NFC", "NFD"])), text)

    f, s = reshape(shown), reshape(sur)
    gap = " " * draw(st.integers(1, 3))
    if draw(st.booleans()):
        return f"{fore} {sur}", {"forenames": f, "surname": s, "name_as_listed": f"{s.upper()},{gap}{f}"}
    title = draw(st.sampled_from(["", "Mr ", "Ms ", "Dr "]))
    return f"{fore} {sur}", {"name_as_listed": draw(st.sampled_from([f"{title}{f}{gap}{s}", f"{s},{gap}{title}{f}"]))}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=_printed())
def test_any_printing_of_the_name_is_found(archive, case):
    typed, printed = case
    assume(normalise_name(full_name(printed)) == normalise_name(typed))
    [pid] = _list(archive, [printed])
    assert pid in _find(archive, typed)["party_ids"]
