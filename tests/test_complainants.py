"""The complainant extractor over offence wording (link.complainants)."""

from __future__ import annotations

import random
import re

import pytest
from hypothesis import given, settings, strategies as st

from courtarchive.link.complainants import RULES, extract

PLACEHOLDER = re.compile(r"\[complainant:(\d+)\]")

# ----------------------------------------------------------------------------- names (positive)
# (wording, expected identities in order, expected evidence of the first mention)
NAMED = [
    ("On 01/03/2024 at Rochdale intentionally touched a girl under 16, namely Jane SMITH, and the touching "
     "was sexual. Contrary to section 9(1) of the Sexual Offences Act 2003.", ["Jane SMITH"], "namely"),
    ("assaulted Ann Brown by beating her", ["Ann Brown"], "verb_object"),
    ("namely Jane Mary SMITH", ["Jane Mary SMITH"], "namely"),
    ("namely SMITH, Jane", ["SMITH, Jane"], "namely"),
    ("namely Jane Smith", ["Jane Smith"], "namely"),
    ("assaulted Mohammed AL-HASSAN by beating him", ["Mohammed AL-HASSAN"], "verb_object"),
    ("namely Siobhan O'NEILL", ["Siobhan O'NEILL"], "namely"),
    ("namely Siobhán O\u2019NEILL", ["Siobhán O\u2019NEILL"], "namely"),
    ("touched Ann SMITH-JONES on the leg", ["Ann SMITH-JONES"], "verb_object"),
    ("assaulted Ana de la CRUZ", ["Ana de la CRUZ"], "verb_object"),
    ("caused actual bodily harm to Jane Smith", ["Jane Smith"], "harm_to"),
    ("inflicted grievous bodily harm upon Peter JONES", ["Peter JONES"], "harm_to"),
    ("an assault on Mary Jones in the street", ["Mary Jones"], "on"),
    ("used threatening words against Kelly Green", ["Kelly Green"], "against"),
    ("pursued a course of conduct which amounted to harassment of Aisha KHAN", ["Aisha KHAN"], "of"),
    ("engaged in sexual activity with Emma WATSON", ["Emma WATSON"], "activity_with"),
    ("damaged a car belonging to Gary Wilson", ["Gary Wilson"], "belonging_to"),
    ("Complainant: Jane Smith", ["Jane Smith"], "complainant_field"),
    ("the complainant Ann BROWN was present", ["Ann BROWN"], "complainant_named"),
    ("assaulted the said Jane SMITH", ["Jane SMITH"], "verb_object"),
    ("robbed Mr John Taylor of his wallet", ["John Taylor"], "verb_object"),
    ("ASSAULTED JANE SMITH BY BEATING", ["JANE SMITH"], "verb_object"),
    ("assaulted Jane Smith, Ann Brown and Mary JONES", ["Jane Smith", "Ann Brown", "Mary JONES"], "verb_object"),
    ("on a date at the home of Tom O'BRIEN in Bolton", ["Tom O'BRIEN"], "of"),
    ("Jane SMITH was threatened by the defendant", ["Jane SMITH"], "register_name"),
    ("at Rochdale assaulted Jane SMITH's sister", ["Jane SMITH"], "verb_object"),
    ("namely 'Kelly Green'", ["Kelly Green"], "namely"),
    # forms found by running the extractor over the synthetic generator's offence templates
    ("while so out of control the dog injured Craig Johnson, contrary to section 3(1)", ["Craig Johnson"],
     "verb_object"),
    ("did something prohibited by a non-molestation order made to protect Hannah Johnson", ["Hannah Johnson"],
     "verb_object"),
    ("resisted or wilfully obstructed Lauren Gray, a constable", ["Lauren Gray"], "verb_object"),
    ("a film which showed, or appeared to show, Carl Roberts in an intimate state", ["Carl Roberts"],
     "verb_object"),
    ("caused a substance to be taken by, Sandra Khan, knowing that", ["Sandra Khan"], "to_from"),
    ("intending that Hannah Peters would see them", ["Hannah Peters"], "to_from"),
    ("being a member of the same household as Marie Saunders", ["Marie Saunders"], "to_from"),
    ("made a false representation to Roger Cook, intending to make a gain", ["Roger Cook"], "to_from"),
    ("intentionally caused or incited a boy aged 17, namely WEST, Anthony, to", ["WEST, Anthony"], "namely"),
    ("engaged in sexual activity when HAYES, Kathleen was present", ["HAYES, Kathleen"], "register_surname_first"),
    ("penetrated the vagina or anus of O'BRIEN, Ellie with", ["O'BRIEN, Ellie"], "of"),
]


@pytest.mark.parametrize("wording, identities, evidence", NAMED, ids=[w[:40] for w, _, _ in NAMED])
def test_names_are_found_and_redacted(wording, identities, evidence):
    ex = extract(wording)
    named = [m for m in ex.mentions if m.kind == "named"]
    assert [m.identity for m in named] == identities
    assert named[0].evidence.split("+")[0] == evidence
    for ident in identities:
        for word in re.findall(r"[^\W\d_]{3,}", ident):
            assert word.lower() not in ex.redacted.lower(), word
    assert len(PLACEHOLDER.findall(ex.redacted)) == len(identities)


# ----------------------------------------------------------------------------- initials, labels, officers
INITIALS = [
    ("intentionally touched a girl under 13, namely J.S.", "J.S.", "namely"),
    ("namely J. S.", "J. S.", "namely"),
    ("namely JS", "JS", "namely"),
    ("caused Child A to engage in sexual activity", "A", "label"),
    ("assaulted complainant AB by beating", "AB", "label"),
    ("incited Girl 2 to engage in sexual activity", "2", "label"),
    ("assaulted PC 1234 in the execution of his duty", "PC 1234", "officer"),
    ("On 01/05/2024 at Southall unlawfully killed S.F., contrary to common law.", "S.F.", "verb_object"),
    ("the dog injured L.W. and", "L.W.", "verb_object"),
    ("in the presence of a child, C.C., the defendant", "C.C.", "initials_anywhere"),
    ("without lawful excuse made to G.B. a threat", "G.B.", "initials_anywhere"),
    ("in a position of trust in relation to D.S., a person under 18", "D.S.", "initials_anywhere"),
]


@pytest.mark.parametrize("wording, identity, evidence", INITIALS, ids=[w[:40] for w, _, _ in INITIALS])
def test_initials_and_labels(wording, identity, evidence):
    ex = extract(wording)
    assert [(m.kind, m.identity, m.evidence.split("+")[0]) for m in ex.mentions] == \
        [("initials", identity, evidence)]
    assert "[complainant:" in ex.redacted


def test_officer_keeps_rank_loses_collar_number_and_name():
    ex = extract("On 01/02/2024 at Leeds assaulted PC 1234 Smith, an emergency worker")
    assert ex.redacted == "On 01/02/2024 at Leeds assaulted PC [complainant:0], an emergency worker"
    assert ex.mentions[0].identity == "Smith" and ex.mentions[0].evidence == "officer"
    ex = extract("assaulted an emergency worker, namely Police Constable Ann BROWN")
    assert ex.redacted.endswith("Police Constable [complainant:0]")
    ex = extract("assaulted P.C. 1234 in the execution of his duty")
    assert ex.redacted == "assaulted P.C. [complainant:0] in the execution of his duty"
    assert (ex.mentions[0].kind, ex.mentions[0].identity) == ("initials", "P.C. 1234")


# ----------------------------------------------------------------------------- descriptions
DESCRIBED = [
    ("intentionally touched a girl under 16", "girl under 16"),
    ("sexual activity with a boy aged 13", "boy aged 13"),
    ("intentionally touched a female aged 14 in a sexual manner", "female aged 14"),
    ("raped a child under 13", "child under 13"),
    ("took an indecent photograph of a person under 18", "person under 18"),
    ("intentionally touched a 14 year old girl", "girl aged 14"),
    ("caused a male aged 15 to watch a sexual act", "male aged 15"),
    ("a girl under the age of 16 years", "girl under 16"),
    ("A CHILD UNDER 13", "child under 13"),
]


@pytest.mark.parametrize("wording, descriptor", DESCRIBED, ids=[w for w, _ in DESCRIBED])
def test_descriptions_are_coarse_and_not_redacted(wording, descriptor):
    ex = extract(wording)
    assert [(m.kind, m.descriptor, m.identity) for m in ex.mentions] == [("described", descriptor, None)]
    assert ex.redacted == wording            # the offence's legal element stays in the wording


def test_description_next_to_a_name_is_one_mention():
    for w in ("intentionally touched a girl under 16, namely Jane SMITH",
              "intentionally touched Jane SMITH, a girl aged 14"):
        ex = extract(w)
        assert len(ex.mentions) == 1
        m = ex.mentions[0]
        assert m.kind == "named" and m.identity == "Jane SMITH" and m.descriptor in ("girl under 16", "girl aged 14")


def test_defendant_clauses_are_not_complainants():
    ex = extract("being a person aged 18 or over, intentionally touched a boy aged 13")
    assert [m.descriptor for m in ex.mentions] == ["boy aged 13"]
    assert extract("being a person under 18 did an act").mentions == []
    assert extract("assaulted a man").mentions == []                 # too vague to count


# ----------------------------------------------------------------------------- must NOT be redacted
UNTOUCHED = [
    "On 01/03/2024 at Rochdale in the county of Greater Manchester drove a motor vehicle",
    "Contrary to section 9(1) of the Sexual Offences Act 2003.",
    "Contrary to section 1 of the Assaults on Emergency Workers (Offences) Act 2018",
    "stole a mobile phone to the value of £200 belonging to Tesco Stores Ltd",
    "damaged a window belonging to Stockport Council",
    "drove a motor vehicle, namely Ford Focus AB12 CDE, on a road, namely Oldham Road",
    "possessed a controlled drug of Class A, namely Cocaine",
    "On Christmas Day at Bolton was drunk and disorderly",
    "On Monday 3 June 2024 in Oldham",
    "had an offensive weapon, namely a kitchen knife, in a public place",
    "stole goods to the value of £45.00 from Boots",
    "failed to provide a specimen of breath at Bolton Police Station",
    "in the county of West Yorkshire, in North Wales",
    "sent a message by means of Facebook Messenger",
    "assaulted the complainant by beating",
    "a mobile phone belonging to Marks and Spencer PLC",
    "in the presence of Greater Manchester Police officers",
    "at Manchester Crown Court",
    "On 12 May 2024 at Milton Keynes",
    "travelled from Rochdale to Milton Keynes with intent",
    "Contrary to section 1(1) of the Prevention of Crime Act 1953.",
    "a controlled drug of Class B. Contrary to section 5(2) of the Misuse of Drugs Act 1971",
    "obstructed an officer of Greater Manchester Police",
    "at 10.30 a.m. in the U.K., contrary to the H.M.P. rules",
    "failed to provide a specimen to P.C. 1234 at the station",
    "failed to provide a specimen of breath when required to do so by PC 4321 Smith",
]


@pytest.mark.parametrize("wording", UNTOUCHED, ids=[w[:40] for w in UNTOUCHED])
def test_places_statutes_dates_organisations_untouched(wording):
    ex = extract(wording)
    assert ex.redacted == wording
    assert not [m for m in ex.mentions if m.kind in ("named", "initials")]


def test_place_of_offence_survives_next_to_a_name():
    ex = extract("On 02/02/2024 at Rochdale in the county of Greater Manchester assaulted Jane SMITH by beating")
    assert "at Rochdale in the county of Greater Manchester" in ex.redacted
    assert "SMITH" not in ex.redacted


def test_co_defendant_is_not_a_complainant():
    ex = extract("together with John SMITH assaulted Ann BROWN")
    assert [m.identity for m in ex.mentions] == ["Ann BROWN"]
    assert "John SMITH" in ex.redacted


# ----------------------------------------------------------------------------- structure
def test_same_name_twice_is_one_mention_with_two_spans():
    ex = extract("assaulted Jane SMITH and later threatened Jane SMITH")
    assert len(ex.mentions) == 1 and len(ex.mentions[0].spans) == 2
    assert ex.redacted == "assaulted [complainant:0] and later threatened [complainant:0]"


def test_placeholders_index_mentions_and_relabel():
    ex = extract("a girl under 16, namely Jane SMITH, and assaulted Ann BROWN")
    assert [m.identity for m in ex.mentions] == ["Jane SMITH", "Ann BROWN"]
    assert ex.relabel({0: "aaaa1111", 1: "bbbb2222"}) == \
        "a girl under 16, namely [complainant:aaaa1111], and assaulted [complainant:bbbb2222]"
    assert ex.relabel({}) == "a girl under 16, namely [complainant], and assaulted [complainant]"


def test_identity_never_in_repr():
    ex = extract("assaulted Jane SMITH")
    assert "SMITH" not in repr(ex) and "SMITH" not in repr(ex.mentions[0])


def test_unparsed_reports_shapes_not_text():
    ex = extract("namely mrs smith")
    assert ex.unparsed == ["namely:x x"]
    ex = extract("Complainant: \u00abJane\u00bb")
    assert ex.unparsed and all("Jane" not in u for u in ex.unparsed)
    assert extract("namely a mobile phone").unparsed == []
    assert extract("assaulted [complainant:7f3a9c12] by beating").mentions == []


def test_rules_table_is_data():
    names = [r.name for r in RULES]
    assert len(names) == len(set(names))
    for r in RULES:
        assert r.kind in ("named", "initials", "described") and r.example
        assert r.cues or r.anchor in ("caps", "dots")
        re.compile(r.pattern)


def test_empty_and_plain_wording():
    assert extract("").redacted == "" and extract("").mentions == []
    w = "drove whilst disqualified"
    assert extract(w).redacted == w


# ----------------------------------------------------------------------------- robustness
@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_never_crashes_and_spans_are_consistent(text):
    ex = extract(text)
    for m in ex.mentions:
        assert 0 <= m.span[0] <= m.span[1] <= len(text)
        for s, e in m.spans:
            assert 0 <= s < e <= len(text)
    n_slots = len(PLACEHOLDER.findall(ex.redacted)) - len(PLACEHOLDER.findall(text))
    assert n_slots == sum(len(m.spans) for m in ex.mentions)


_FORENAMES = ["Jane", "Ann", "Mohammed", "Siobhan", "Peter", "Aisha", "Kelly", "Gary", "Zoë", "Łukasz"]
_SURNAMES = ["SMITH", "AL-HASSAN", "O'NEILL", "Kowalski", "Brown", "NGUYEN", "McDonald", "KHAN"]
_TEMPLATES = ["assaulted {} by beating", "namely {}", "intentionally touched a girl under 16, namely {}, and",
              "harassment of {}", "Complainant: {}", "sexual activity with {}", "threatened {} with a knife"]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(_TEMPLATES), st.sampled_from(_FORENAMES), st.sampled_from(_SURNAMES),
       st.sampled_from(["", "On 01/01/2024 at Oldham ", "ON 1 MAY AT BOLTON "]))
def test_generated_names_never_survive(template, forename, surname, prefix):
    wording = (prefix + template.format(f"{forename} {surname}")
               + ". Contrary to section 39 of the Criminal Justice Act 1988.")
    ex = extract(wording)
    assert surname not in ex.redacted and forename not in ex.redacted


def throughput_corpus(n: int = 100_000, seed: int = 1) -> list[tuple[str, str | None]]:
    """(wording, the person it names or None): 80 % plain wordings, 20 % naming a person -- the
    corpus whose extraction rate `bench/parse_speed.py` reports (bench/RESULTS.md)."""
    rng = random.Random(seed)
    plain = ["On {d} at {t} drove a motor vehicle on a road, namely Oldham Road, without insurance. "
             "Contrary to section 143(2) of the Road Traffic Act 1988.",
             "On {d} at {t} stole meat to the value of £45.00 belonging to Tesco Stores Ltd. Contrary to "
             "section 1(1) and 7 of the Theft Act 1968.",
             "On {d} at {t} in the county of Greater Manchester had with you in a public place an offensive "
             "weapon, namely a kitchen knife. Contrary to section 1(1) of the Prevention of Crime Act 1953."]
    person = ["On {d} at {t} assaulted {n} by beating her. Contrary to section 39 of the Criminal Justice Act 1988.",
              "On {d} at {t} intentionally touched a girl under 16, namely {n}, and the touching was sexual. "
              "Contrary to section 9(1) of the Sexual Offences Act 2003."]
    out = []
    for _ in range(n):
        names = rng.random() < 0.2
        name = f"{rng.choice(_FORENAMES)} {rng.choice(_SURNAMES)}"
        w = rng.choice(person if names else plain).format(
            d=f"{rng.randint(1, 28):02d}/05/2024", t=rng.choice(["Rochdale", "Oldham", "Leeds"]), n=name)
        out.append((w, name if names else None))
    return out


@pytest.mark.slow
def test_the_throughput_corpus_is_extracted_right():
    """Over the 100,000 wordings whose rate bench/parse_speed.py measures (the rate is the
    benchmark's, not asserted here): each person named is found and redacted, and a wording that
    names nobody comes back unchanged with no mention."""
    for wording, name in throughput_corpus():
        ex = extract(wording)
        if name is None:
            assert (ex.redacted, ex.mentions) == (wording, []), wording
        else:
            assert len(ex.mentions) == 1, wording
            assert not any(part in ex.redacted for part in name.split()), ex.redacted
