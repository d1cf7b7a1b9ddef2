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
    # "Jane Smith" is named in four cases: across cases it takes one place of offence to join
    t = t.append_column("place", pa.array(["rochdale"] * 8))
    lab, rep = link_complainants(t)
    c = clusters(lab)
    assert c[1] == c[2] == c[5]
    assert c[3] != c[1]
    assert c[4] in (c[1], c[3])
    assert c[6] == c[8] and c[7] != c[6]
    # candidate links from 4 to each known (context, case) unit: sexual 1 and 2, property 3, violence 1;
    # cannot-links keep property apart from each of the others (sexual and violence share case 1)
    assert rep["context_bridges"] == 4 and rep["context_splits"] == 3
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


def _episode_rows(specs):
    """(name, case, place, descriptor-window (sex, born_lo, born_hi) or None, defendant person)."""
    base = rows([(name, case, "A", "named") for name, case, *_ in specs])
    ev = [dict(place=pl_, sex=w[0] if w else None, born_lo=w[1] if w else None, born_hi=w[2] if w else None,
               dperson=d, context="sexual") for _n, _c, pl_, w, d in specs]
    types = dict(place=pa.string(), sex=pa.string(), born_lo=pa.float64(), born_hi=pa.float64(),
                 dperson=pa.int64(), context=pa.string())
    for col, typ in types.items():
        base = base.append_column(col, pa.array([e[col] for e in ev], typ))
    return base


def test_episode_evidence_decides_a_name_across_cases():
    """One full name at one court in one victim context, in different cases: joined only with list
    evidence of one person (`CROSS_CASE_RULES["episode"]`)."""
    aged13_2015 = ("F", 2001.5, 2002.5)      # "girl aged 13" on an offence in mid-2015
    aged15_2017 = ("F", 2001.5, 2002.5)      # the same girl two years later
    aged13_2021 = ("F", 2007.5, 2008.5)      # a girl of 13 in 2021: another child
    t = _episode_rows([
        ("Jane SMITH", 1, "rochdale", aged13_2015, 11),   # 1
        ("Jane SMITH", 2, "rochdale", aged15_2017, 12),   # 2 same place, compatible age: joins 1
        ("Jane SMITH", 3, "rochdale", aged13_2021, 13),   # 3 same place, impossible age: apart
        ("Jane SMITH", 4, "oldham", None, 14),            # 4 another place: apart
        ("Jane SMITH", 5, "bury", ("M", None, None), 11),  # 5 defendant 11 again, but a boy: apart
        ("Ann JONES", 6, "bury", None, 21),               # 6
        ("Ann JONES", 7, "rochdale", None, 21),           # 7 other place, the same defendant: joins 6
        ("Eve ROE", 8, None, None, 31),                   # 8 a rare name (two cases), no place to compare
        ("Eve ROE", 9, "rochdale", None, 32),             # 9 ... joins 8
    ])
    lab, rep = link_complainants(t)
    c = clusters(lab)
    assert c[1] == c[2]
    assert len({c[1], c[3], c[4], c[5]}) == 4
    assert c[6] == c[7] and c[8] == c[9]
    assert rep["cross_case_candidates"] > rep["cross_case_links"] == 3
    # the rule before episode evidence: one name in one court and context is one person
    c = clusters(link_complainants(t, cross_case="name")[0])
    assert c[1] == c[2] == c[3] == c[4] == c[5]
    with pytest.raises(ValueError, match="cross-case rule"):
        link_complainants(t, cross_case="nope")


def test_episode_conflict_from_the_cases_initials_of_the_name():
    """A case that describes its complainant only where it gives her initials ("a child under 13,
    namely D.C.") and names her elsewhere without a description: the initials' birth window is
    hers, so a namesake of another case whose age cannot be hers stays apart -- and with no
    initials the two would join (a rare name at one place)."""
    import polars as pl

    under13_2020 = ("F", 2007.9, 2020.9)     # "a child under 13" on an offence of late 2020
    under13_2007 = ("F", 1994.3, 2007.3)     # ... of spring 2007: born 13 years earlier at least
    named = _episode_rows([("Dorothy CHAPMAN", 1, "telford", None, 11),
                           ("Dorothy CHAPMAN", 2, "telford", under13_2007, 12)])
    c = clusters(link_complainants(named)[0])
    assert c[1] == c[2], "without the initials: a rare name at one place joins"
    ini = _episode_rows([("DC", 1, "telford", under13_2020, 13)])
    ini = pl.from_arrow(ini).with_columns(pl.lit(3, pl.Int64).alias("complainant_id"), pl.lit("initials").alias("kind"),
                                          pl.lit(K.token("complainant", "initials|1|DC")).alias("token"),
                                          pl.lit(None, pl.Binary).alias("bloom"))
    both = pl.concat([pl.from_arrow(named), ini]).with_columns(
        pl.when(pl.col("complainant_id") == 1).then(pl.lit(K.token("complainant", "initials|1|DC")))
        .otherwise(None).alias("initials_token"))
    lab, rep = link_complainants(both.to_arrow())
    c = clusters(lab)
    assert c[1] == c[3] != c[2]
    assert rep["initials_links"] == 1 and rep["cross_case_links"] == 0


def test_episode_common_name_needs_more_than_a_place(monkeypatch):
    import courtarchive.link.victims as V

    specs = [("Jane SMITH", k, "rochdale", None, 100 + k) for k in range(1, V.COMMON_NAME_CASES + 2)]
    t = _episode_rows(specs)
    c = clusters(link_complainants(t)[0])
    assert len(set(c.values())) == len(specs), "a name this common: one place is not enough"
    monkeypatch.setattr(V, "COMMON_NAME_CASES", len(specs))
    c = clusters(link_complainants(t)[0])
    assert len(set(c.values())) == 1
    # no place on either side and a name in more than RARE_NAME_CASES cases: apart
    t = _episode_rows([("Ann JONES", k, None, None, None) for k in range(1, V.RARE_NAME_CASES + 2)])
    c = clusters(link_complainants(t)[0])
    assert len(set(c.values())) == V.RARE_NAME_CASES + 1


def test_episode_victim_of_two_group_cases(monkeypatch):
    """A name shared by two cases that each name several complainants of sexual offences (group
    exploitation: one girl abused by one group after another) joins on that and the name alone,
    towns apart; with a one-complainant case on either side, or outside the sexual context, the
    same evidence leaves them apart (`GROUP_CASE_NAMES`, `GROUP_CONTEXTS`)."""
    import courtarchive.link.victims as V

    def case_rows(context: str, others: int):
        specs = [("Jane SMITH", 1, "rochdale", None, 11), ("Jane SMITH", 2, "rawtenstall", None, 21)]
        for k in range(others):         # the other complainants the two cases name
            specs += [(f"Other{k} ONE", 1, "rochdale", None, 11), (f"Other{k} TWO", 2, "rawtenstall", None, 21)]
        t = _episode_rows(specs)
        return t.set_column(t.schema.get_field_index("context"), "context", pa.array([context] * t.num_rows))

    def joined(t) -> bool:
        c = clusters(link_complainants(t)[0])
        return c[1] == c[2]

    assert V.GROUP_CASE_NAMES == 3
    assert joined(case_rows("sexual", 2)), "two group cases: one victim"
    assert not joined(case_rows("sexual", 1)), "two complainants a case: places apart, rare name -- apart"
    assert not joined(case_rows("violence", 2)), "group cases count in the sexual context only"
    monkeypatch.setitem(V.EPISODE_WEIGHTS, "group_cases", 0)
    assert not joined(case_rows("sexual", 2))


def test_episode_victim_named_at_two_nearby_courts():
    """A network's victim named at two nearby courts (Manchester and Tameside; or across a force
    boundary, Manchester and Rawtenstall) joins on the episode evidence less the `other_court`
    point, between two group cases only; courts far apart are never compared (without
    coordinates: courts of one police force area are near)."""
    import courtarchive.link.victims as V

    def case_rows(others: int, court_r: str, area_r: str):
        girl = ("F", 2005.0, 2006.0)     # "a girl aged 14" on both
        specs = [("Jane SMITH", 1, "rochdale", girl, 11), ("Jane SMITH", 2, "ashton", girl, 21)]
        for k in range(others):
            specs += [(f"Other{k} ONE", 1, "rochdale", None, 11), (f"Other{k} TWO", 2, "ashton", None, 21)]
        t = _episode_rows(specs)
        second = [c == 2 for c in t.column("case_id").to_pylist()]
        courts = [ord(court_r) if s else ord("M") for s in second]
        areas = [area_r if s else "GMP" for s in second]
        t = t.set_column(t.schema.get_field_index("court_id"), "court_id", pa.array(courts, pa.int64()))
        return t.set_column(t.schema.get_field_index("area"), "area", pa.array(areas))

    def joined(t) -> tuple[bool, dict]:
        lab, rep = link_complainants(t)
        c = clusters(lab)
        return c[1] == c[2], rep

    ok, rep = joined(case_rows(2, "T", "GMP"))
    assert ok and rep["cross_court_links"] == 1, "two group cases at two courts of one area: one victim"
    assert joined(case_rows(2, "M", "GMP"))[0], "(one court: joined as before)"
    assert not joined(case_rows(1, "T", "GMP"))[0], "a rare name and ages at another court: apart"
    assert joined(case_rows(1, "M", "GMP"))[0], "(at one court they would do)"
    assert not joined(case_rows(2, "L", "Lancashire"))[0], "another area, no coordinates: not compared"

    def at(t, lat_r: float, lon_r: float):
        second = [c == 2 for c in t.column("case_id").to_pylist()]
        lat = pa.array([lat_r if x else 53.481 for x in second], pa.float64())
        lon = pa.array([lon_r if x else -2.244 for x in second], pa.float64())    # Manchester
        return t.append_column("court_lat", lat).append_column("court_lon", lon)

    assert joined(at(case_rows(2, "L", "Lancashire"), 53.701, -2.291))[0], "Rawtenstall, 25 km: near"
    assert not joined(at(case_rows(2, "T", "GMP"), 51.515, -0.092))[0], "London, 260 km: far, whatever the area"
    assert not joined(at(case_rows(1, "L", "Lancashire"), 53.701, -2.291))[0], "near, but not two group cases"
    assert not joined(case_rows(2, "T", "GMP").set_column(
        case_rows(2, "T", "GMP").schema.get_field_index("area"), "area",
        pa.array([None] * case_rows(2, "T", "GMP").num_rows, pa.string())))[0], "no area known: not compared"
    assert V.EPISODE_WEIGHTS["other_court"] == -1


def test_episode_two_courts_and_two_places_count_once():
    """At two courts the places of offence usually differ too: one difference, one point off.
    Two group cases at Rochdale and Rawtenstall (25 km) naming one rare name with no ages join
    (group + rare name - different places); with the place unknown on one side, the other court
    takes the point instead; a name too common to be rare stays apart either way."""
    import courtarchive.link.victims as V

    def case_rows(place_r, name="Jane SMITH", elsewhere=0):
        specs = [(name, 1, "rochdale", None, 11), (name, 2, place_r, None, 21)]
        for k in range(2):
            specs += [(f"Other{k} ONE", 1, "rochdale", None, 11), (f"Other{k} TWO", 2, place_r, None, 21)]
        # the name in more cases of the archive (one-complainant cases at Rochdale court)
        specs += [(name, 10 + k, None, None, 100 + k) for k in range(elsewhere)]
        t = _episode_rows(specs)
        second = [c == 2 for c in t.column("case_id").to_pylist()]
        t = t.set_column(t.schema.get_field_index("court_id"), "court_id",
                         pa.array([ord("R") if x else ord("M") for x in second], pa.int64()))
        t = t.set_column(t.schema.get_field_index("area"), "area",
                         pa.array(["Lancashire" if x else "GMP" for x in second]))
        lat = pa.array([53.701 if x else 53.616 for x in second], pa.float64())
        lon = pa.array([-2.291 if x else -2.155 for x in second], pa.float64())
        return t.append_column("court_lat", lat).append_column("court_lon", lon)

    def joined(t) -> bool:
        lab, rep = link_complainants(t)
        c = clusters(lab)
        return c[1] == c[2] and rep["cross_court_links"] == 1

    assert joined(case_rows("rawtenstall")), "two courts, two places: one point off, not two"
    assert joined(case_rows(None)), "place unknown on one side: the other court takes the point"
    assert joined(case_rows("rawtenstall", elsewhere=V.RARE_NAME_CASES - 2)), "(still rare)"
    c = clusters(link_complainants(case_rows("rawtenstall", elsewhere=V.RARE_NAME_CASES - 1))[0])
    assert c[1] != c[2], "group cases, places apart, a name that is not rare: apart"


def test_episode_ages_agree_only_when_the_windows_overlap():
    """Birth windows a few months apart are no conflict (the slack for a descriptor's rounding) but
    no evidence either: only overlapping windows score `ages_agree`."""
    import polars as pl

    from courtarchive.link.victims import AGE_SLACK, EPISODE_WEIGHTS, episode_score

    def score(lo_r: float) -> tuple[int, bool]:
        c = pl.DataFrame({"places": [[]], "places_r": [[]], "sexes": [[]], "sexes_r": [[]],
                          "born_lo": [2005.3], "born_hi": [2006.3], "born_lo_r": [lo_r], "born_hi_r": [2019.7],
                          "dpersons": [[]], "dpersons_r": [[]], "name_cases": [5], "name_cases_r": [5],
                          "case_names": [1], "case_names_r": [1], "ctx": ["sexual"], "ctx_r": ["sexual"]},
                         schema_overrides={k: pl.List(pl.Utf8) for k in ("places", "places_r", "sexes", "sexes_r")}
                         | {"dpersons": pl.List(pl.Int64), "dpersons_r": pl.List(pl.Int64)})
        r = episode_score(c).row(0, named=True)
        return r["score"], r["conflict"]

    assert score(2006.0) == (EPISODE_WEIGHTS["ages_agree"], False)
    assert score(2006.3 + AGE_SLACK / 2) == (0, False), "within the slack: neither for nor against"
    assert score(2006.3 + AGE_SLACK * 2)[1], "beyond it: a conflict"


def test_mention_evidence_from_wording_and_descriptor():
    import datetime as dt

    import polars as pl

    from courtarchive.link.victims import mention_evidence

    df = pl.DataFrame({
        "wording": ["On 03/12/2015 at Wigan, sexually assaulted a girl aged 13, namely [complainant:ab12]",
                    "At ASHTON-UNDER-LYNE, assaulted [complainant:cd34]", None],
        "descriptor": ["girl aged 13", "boy under 16", None],
        "offence_date": [None, dt.date(2019, 7, 2), None],
        "sitting_date": [dt.date(2016, 5, 1), dt.date(2020, 1, 1), dt.date(2021, 1, 1)],
    })
    out = mention_evidence(df)
    assert "wording" not in out.columns
    assert out["place"].to_list() == ["wigan", "ashton under lyne", None]
    assert out["odate"].to_list() == [dt.date(2015, 12, 3), dt.date(2019, 7, 2), dt.date(2021, 1, 1)]
    assert out["sex"].to_list() == ["F", "M", None]
    lo, hi = out["born_lo"].to_list(), out["born_hi"].to_list()
    assert 2001.9 < lo[0] < 2002.0 and 2002.9 < hi[0] < 2003.0     # 13 on 3 Dec 2015
    assert 2003.4 < lo[1] < 2003.6 and 2019.4 < hi[1] < 2019.6     # under 16 in July 2019
    assert lo[2] is None and hi[2] is None
