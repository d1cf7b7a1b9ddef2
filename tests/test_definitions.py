"""Each definition of `courtarchive.analyse.definitions`, checked exactly on hand-made tables."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from courtarchive.analyse import definitions as d

D = date
GMP, WY = "Greater Manchester Police", "West Yorkshire Police"


def _inputs() -> d.Inputs:
    offences = pl.DataFrame({
        "code": ["SX05", "SX03", "TH01"],
        "offence_group": ["sexual", "sexual", "theft"],
        "child_sexual_abuse": ["true", "false", "false"],
    })
    cases = pl.DataFrame({
        "case_id": ["C1", "C2", "C3", "C4", "C5", "C6"],
        "first_hearing_date": [D(2019, 3, 2), D(2019, 1, 1), D(2019, 5, 1), D(2019, 7, 1),
                               D(2023, 1, 1), D(2021, 3, 1)],
        "offence_date": [D(2019, 1, 1), D(2018, 1, 1), None, D(2019, 6, 1), D(2022, 6, 1),
                         D(2021, 2, 1)],
        "completion_date": [D(2020, 6, 1), D(2020, 1, 10), D(2020, 2, 1), None, None,
                            D(2021, 4, 1)],
        "outcome": ["convicted", "convicted", "acquitted", None, None, "convicted"],
        "offence_town": ["Rochdale", None, None, "Leeds", "Halifax", "Rochdale"],
        "residence_town": ["Rochdale", "Oldham", None, "Leeds", "Oldham", "Rochdale"],
        "court_town": ["Manchester"] * 3 + ["Leeds", "Halifax", "Manchester"],
        "offence_pfa": [GMP, None, None, WY, WY, GMP],
        "residence_pfa": [GMP, GMP, None, WY, GMP, GMP],
        "court_pfa": [GMP, GMP, GMP, WY, WY, GMP],
    })
    case_defendants = pl.DataFrame({
        "case_id": ["C1", "C1", "C2", "C3", "C4", "C4", "C5", "C6"],
        "defendant_id": ["D1", "D2", "D3", "D4", "D5", "D6", "D3", "D1"],
        "convicted": [True, True, True, False, False, False, False, True],
        "conviction_date": [D(2020, 6, 1), D(2020, 6, 1), D(2020, 1, 10), None, None, None, None,
                            D(2021, 4, 1)],
    })
    case_offences = pl.DataFrame({
        "case_id": ["C1", "C1", "C1", "C2", "C3", "C4", "C4", "C5", "C6"],
        "defendant_id": ["D1", "D1", "D2", "D3", "D4", "D5", "D6", "D3", "D1"],
        "offence_code": ["SX05", "SX03", "SX05", "SX05", "SX05", "TH01", "TH01", "SX05", "TH01"],
    })
    offence_complainants = pl.DataFrame({
        "case_id": ["C1", "C1", "C2", "C3", "C5"],
        "defendant_id": ["D1", "D2", "D3", "D4", "D3"],
        "complainant_id": ["V1", "V1", "V1", "V2", "V3"],
    })
    return d.Inputs(cases, case_defendants, case_offences, offence_complainants, offences)


def test_scope():
    i = _inputs()
    assert d.scope_case_ids(i.case_offences, i.offences, "child-sexual-abuse").to_list() == \
        ["C1", "C2", "C3", "C5"]
    assert d.scope_case_ids(i.case_offences, i.offences, "theft").to_list() == ["C4", "C6"]
    assert d.scope_case_ids(i.case_offences, i.offences, "all", i.cases).len() == 6
    with pytest.raises(ValueError):
        d.scope_case_ids(i.case_offences, i.offences, "no-such-group")


def test_edges_components_through_shared_complainant():
    i = d.restrict(_inputs(), "child-sexual-abuse")
    edges = d.defendant_edges(i.case_defendants, i.offence_complainants)
    assert edges.rows() == [("D1", "D2"), ("D1", "D3"), ("D2", "D3")]
    comps = d.defendant_components(i.case_defendants, i.offence_complainants).sort("defendant_id")
    assert comps.rows() == [("D1", "D1", 3), ("D2", "D1", 3), ("D3", "D1", 3), ("D4", "D4", 1)]
    sizes = d.case_network_sizes(i.case_defendants, i.offence_complainants)
    assert dict(zip(sizes["case_id"], sizes["network_size"])) == {"C1": 3, "C2": 3, "C3": 1, "C5": 3}
    assert d.cases_with_network_3plus(sizes) == 3
    assert d.cases_with_network_5plus(sizes) == 0
    assert d.victims_linked_to_2plus_defendants(i.offence_complainants) == 1


def test_location_chain_and_single_sources():
    cases = _inputs().cases
    chain = d.case_locations(cases).sort("case_id")
    assert chain.rows()[:3] == [("C1", "Rochdale", GMP, "offence"), ("C2", "Oldham", GMP, "residence"),
                                ("C3", "Manchester", GMP, "court")]
    off = d.case_locations(cases, "offence").sort("case_id")
    assert off["town"].to_list()[:3] == ["Rochdale", None, None]
    assert d.case_locations(cases, "court")["town"].to_list()[0] == "Manchester"
    with pytest.raises(ValueError):
        d.case_locations(cases, "moon")


def test_multi_defendant_by_location():
    i = _inputs()
    s = d.restrict(i, "child-sexual-abuse")
    assert d.multi_defendant_cases_by_location(s.cases, s.case_defendants) == [
        {"rank": 1, "town": "Rochdale", "pfa": GMP, "multi_defendant_cases": 1, "cases": 1, "rate": 1.0}]
    rows = d.multi_defendant_cases_by_location(i.cases, i.case_defendants)
    assert [(r["rank"], r["town"], r["cases"], r["rate"]) for r in rows] == [
        (1, "Leeds", 1, 1.0), (2, "Rochdale", 2, 0.5)]
    assert d.multi_defendant_cases_by_location(i.cases, i.case_defendants, top=1)[0]["town"] == "Leeds"


def test_delays():
    s = d.restrict(_inputs(), "child-sexual-abuse")
    got = d.delay_medians(s.cases)
    assert got["offence_to_first_hearing"] == {"n": 3, "median_days": 214.0}   # 60, 365, 214
    fc = sorted([(D(2020, 6, 1) - D(2019, 3, 2)).days, (D(2020, 1, 10) - D(2019, 1, 1)).days,
                 (D(2020, 2, 1) - D(2019, 5, 1)).days])
    assert got["first_hearing_to_completion"] == {"n": 3, "median_days": float(fc[1])}
    oc = sorted([(D(2020, 6, 1) - D(2019, 1, 1)).days, (D(2020, 1, 10) - D(2018, 1, 1)).days])
    assert got["offence_to_completion"] == {"n": 2, "median_days": (oc[0] + oc[1]) / 2}


def test_repeat_offending():
    i = _inputs()
    s = d.restrict(i, "child-sexual-abuse")
    got = d.repeat_offending(i.cases, i.case_defendants, s.cases)
    # convicted in scope: D1 (2020-06-01), D2 (2020-06-01), D3 (2020-01-10)
    # D1 -> C6 on 2021-03-01 (< 1 y); D3 -> C5 on 2023-01-01 (< 5 y, > 2 y); D2 none
    assert got == {"convicted_defendants": 3, "within_years": {
        "1": {"defendants": 1, "share": round(1 / 3, 6)},
        "2": {"defendants": 1, "share": round(1 / 3, 6)},
        "5": {"defendants": 2, "share": round(2 / 3, 6)}}}


def test_cross_boundary():
    s = d.restrict(_inputs(), "child-sexual-abuse")
    comps = d.defendant_components(s.case_defendants, s.offence_complainants)
    got = d.cross_boundary(s.cases, s.case_defendants, comps)
    assert got == {"networks": 1, "networks_spanning_2plus_pfas": 1, "networks_by_pfa_count": {"2": 1},
                   "defendants": 4, "defendants_spanning_2plus_pfas": 1}


def test_findings_bundle():
    f = d.findings(_inputs(), "child-sexual-abuse")
    assert (f["cases"], f["defendants"], f["complainants"], f["multi_defendant_cases"]) == (4, 4, 3, 1)
    assert (f["victims_linked_to_2plus_defendants"], f["cases_with_network_3plus"],
            f["cases_with_network_5plus"]) == (1, 3, 0)
    assert f["largest_networks"] == [3, 1]
    assert f["multi_defendant_cases_by_location"][0]["town"] == "Rochdale"
    fa = d.findings(_inputs(), "all")
    assert fa["cases"] == 6 and fa["defendants"] == 6
