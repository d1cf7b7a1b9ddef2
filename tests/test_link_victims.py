"""Complainant clustering over pseudonymised mentions: tokens, Bloom similarity, unlinkable."""

from __future__ import annotations

import pyarrow as pa
import pytest

from courtarchive.governance.pseudonym import Keyring, normalise_name
from courtarchive.link.victims import link_complainants

K = Keyring(bytes(range(32)))


def rows(specs):
    out = []
    for i, (name, case, area, kind) in enumerate(specs, start=1):
        tok = K.token("complainant", normalise_name(name)) if name else None
        if kind == "initials":
            tok = K.token("complainant", f"initials|{case}|{name}")
        out.append(dict(complainant_id=i, case_id=case, hearing_id=i, offence_id=i, party_id=i, court_id=ord(area),
                        area=area, kind=kind, token=tok, key_id="k1",
                        bloom=K.bloom(name) if name and kind in ("named", "party") else None))
    return pa.Table.from_pylist(out)


def clusters(lab):
    d = dict(zip(lab["mention_id"].to_list(), lab["label"].to_list()))
    return d


@pytest.mark.parametrize("scheme", ["block", "lsh"])
def test_tokens_and_bloom(scheme):
    t = rows([
        ("Jane SMITH", 1, "A", "named"),        # 1
        ("SMITH, Jane", 2, "A", "named"),       # 2 same token, other case
        ("Jane Smyth", 1, "A", "named"),        # 3 typo, same case: Bloom (>= 0.80)
        ("Joan Smith", 1, "A", "named"),        # 4 sister: Dice 0.77, apart
        ("Jonathan Wainwright", 3, "A", "named"),  # 5
        ("Jonathan Wainright", 4, "A", "named"),   # 6 other case, Dice 0.94 >= 0.90: Bloom links
        (None, 1, "A", "described"),            # 7 not linkable
        ("JS", 1, "A", "initials"),             # 8 initials: token only (case scoped)
        ("JS", 2, "A", "initials"),             # 9 other case: another child
    ])
    lab, rep = link_complainants(t, scheme=scheme)
    c = clusters(lab)
    assert c[1] == c[2]
    assert c[5] == c[6]
    assert c[4] != c[1] and c[8] != c[9] and c[8] != c[1]
    if scheme == "block":
        assert c[3] == c[1]
    assert 7 not in c and rep["unlinkable"] == 1 and rep["unlinkable_by_kind"] == {"described": 1}
    assert rep["linkable"] == 8


def test_bloom_across_courts_not_compared_and_no_chaining():
    t = rows([
        ("Jonathan Wainwright", 3, "A", "named"),
        ("Jonathan Wainright", 4, "B", "named"),     # other court: not compared
        ("Jane Smith", 5, "A", "named"),
        ("Jane Mary Smith", 5, "A", "named"),        # same case, 0.84: linked
        ("Mary Smith", 5, "A", "named"),             # 0.85 to Jane Mary Smith, 0.63 to Jane Smith
    ])
    lab, rep = link_complainants(t)
    c = clusters(lab)
    assert c[1] != c[2]
    assert c[3] != c[5], "no chaining: Jane Smith and Mary Smith stay apart"
    assert c[4] in (c[3], c[5]) and rep["chain_constraints"] >= 1


def test_same_charge_links_initials_to_the_name_at_another_hearing():
    t = rows([
        ("Jane SMITH", 1, "A", "named"),        # 1 hearing 1: charge c1
        ("JS", 1, "A", "initials"),             # 2 hearing 2: same charge, initials
        ("Mary BROWN", 1, "A", "named"),        # 3 hearing 3: same charge, another full name (amended): apart
        ("AB", 1, "A", "initials"),             # 4 another charge
    ])
    t = t.append_column("charge", pa.array(["c1", "c1", "c1", "c2"]))
    lab, rep = link_complainants(t)
    c = clusters(lab)
    assert c[1] == c[2] and c[3] != c[1] and c[4] not in (c[1], c[3])
    assert rep["charge_links"] >= 1


def test_initials_token_hook_links_initials_to_named_in_case():
    t = rows([("Jane SMITH", 1, "A", "named"), ("JS", 1, "A", "initials"), ("JS", 2, "A", "initials")])
    init_tok = K.token("complainant", "initials|1|JS")
    t = t.append_column("initials_token", pa.array([init_tok, None, None]))
    lab, rep = link_complainants(t)
    c = clusters(lab)
    assert c[1] == c[2] != c[3] and rep["initials_links"] == 1


def test_equal_names_link_within_a_court_or_a_case_only():
    t = rows([
        ("Jane SMITH", 1, "A", "named"),        # 1
        ("Jane SMITH", 2, "A", "named"),        # 2 same court, other case: same person
        ("Jane SMITH", 3, "B", "named"),        # 3 other court, other case: a stranger with that name
        ("Jane SMITH", 1, "C", "named"),        # 4 case 1 heard in court C too (sent to the Crown)
    ])
    c = clusters(link_complainants(t)[0])
    assert c[1] == c[2] == c[4] != c[3]
    c = clusters(link_complainants(t, token_scope="national")[0])
    assert c[1] == c[2] == c[3] == c[4]


def test_victim_context_across_cases():
    """One name in one court: joined across cases only within one victim context; a mention of
    unknown context joins one context and never bridges two; within a case contexts never split."""
    t = rows([
        ("Jane SMITH", 1, "A", "named"),        # 1 sexual
        ("Jane Smith", 2, "A", "named"),        # 2 sexual, other case: joins 1
        ("Jane Smith", 3, "A", "named"),        # 3 property (a theft), other case: a namesake
        ("Jane Smith", 4, "A", "party"),        # 4 unknown context: joins exactly one of them
        ("Jane Smith", 1, "A", "named"),        # 5 violence, but case 1: joins 1
        ("Jonathan Wainwright", 5, "A", "named"),  # 6 violence
        ("Jonathan Wainright", 6, "A", "named"),   # 7 typo, property, other case: not compared
        ("Jonathan Wainright", 7, "A", "named"),   # 8 typo, violence, other case: Bloom links 6
    ])
    t = t.append_column("context", pa.array(["sexual", "sexual", "property", None, "violence",
                                              "violence", "property", "violence"]))
    lab, rep = link_complainants(t)
    c = clusters(lab)
    assert c[1] == c[2] == c[5]
    assert c[3] != c[1]
    assert c[4] in (c[1], c[3])
    assert c[6] == c[8] and c[7] != c[6]
    assert rep["context_bridges"] == 3 and rep["context_splits"] == 2   # sexual and violence share case 1
    off, _ = link_complainants(t, victim_context=False)
    c = clusters(off)
    assert c[1] == c[2] == c[3] == c[4] == c[5], "without contexts one name in one court is one person"


def test_mention_contexts_from_offence_or_case():
    import polars as pl

    from courtarchive.link.victims import mention_contexts, offence_context

    assert offence_context("SX03001") == "sexual" and offence_context("TH68001") == "property"
    assert offence_context("NOPE999") is None and offence_context(None) is None
    m = pl.DataFrame({"offence_code": ["TH68001", None, None, "NOPE999"], "case_id": [1, 1, 2, 3]})
    cases = pl.DataFrame({"case_id": [1, 1, 2, 3], "code": ["TH68001", "SX03001", "NOPE999", "TH68001"]})
    # the offence naming the mention decides; else the case's most serious listed offence
    assert mention_contexts(m, cases).to_list() == ["property", "sexual", None, "property"]
