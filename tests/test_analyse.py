"""Analysis stage, unit level: the derivation SQL on hand-made archive tables, the statistics
(held equal to lifelines / scipy / esda), disclosure control and the truth comparison."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pyarrow as pa
import pytest

from courtarchive.analyse import definitions as D
from courtarchive.analyse import inputs as I
from courtarchive.analyse import run as R
from courtarchive.analyse import stats as S
from courtarchive.analyse.engine import to_spark_sql
from courtarchive.analyse.sql import MODES, derivation
from courtarchive.model import ENTITIES
from courtarchive.store.archive import _arrow_type

d = dt.date


def raw(name: str, rows: list[dict], extra: tuple[str, ...] = ()) -> pa.Table:
    cols = I.RAW_COLUMNS[name] + list(extra)
    e = ENTITIES[name]
    return pa.table({c: pa.array([r.get(c) for r in rows], _arrow_type(e.field(c).kind)) for c in cols})


CSA = "SX03009"      # a child-sexual-abuse offence of the declared table
TV = "CA03363"       # TV licence (SJP)


def corpus() -> dict[str, pa.Table]:
    pubs = [
        dict(id=1, list_type="MAGISTRATES_STANDARD_LIST", content_date=d(2020, 1, 6)),
        dict(id=2, list_type="CROWN_DAILY_PDDA_LIST", content_date=d(2020, 3, 2)),
        dict(id=3, list_type="CROWN_DAILY_PDDA_LIST", content_date=d(2020, 4, 6)),
        dict(id=4, list_type="MAGISTRATES_STANDARD_LIST", content_date=d(2020, 1, 6), superseded_by=1),
        dict(id=5, list_type="SJP_PRESS_LIST", content_date=d(2020, 2, 1)),
        dict(id=6, list_type="CROWN_WARNED_PDDA_LIST", content_date=d(2020, 2, 24)),
    ]
    courts = [dict(id=1, name="Rochdale Magistrates' Court", town="Rochdale", lat=53.62, lon=-2.16,
                   police_force_area="Greater Manchester Police"),
              dict(id=2, name="Manchester Crown Court", town="Manchester", lat=53.48, lon=-2.24,
                   police_force_area="Greater Manchester Police")]
    cases = [dict(id=10, case_key="urn:A1", urn="A1"), dict(id=11, case_key="urn:B1", urn="B1"),
             dict(id=12, case_key="urn:C1", urn="C1"), dict(id=13, case_key="urn:E1", urn="E1")]
    H = [
        dict(id=1000, publication_id=1, case_id=10, court_id=1, sitting_date=d(2020, 1, 6), hearing_type="First hearing - sending to Crown Court"),
        dict(id=1001, publication_id=2, case_id=10, court_id=2, sitting_date=d(2020, 3, 2), hearing_type="Plea and Trial Preparation Hearing"),
        dict(id=1002, publication_id=3, case_id=10, court_id=2, sitting_date=d(2020, 4, 6), hearing_type="Sentence"),
        dict(id=1003, publication_id=4, case_id=10, court_id=1, sitting_date=d(2019, 12, 1), hearing_type="First hearing"),
        dict(id=1004, publication_id=5, case_id=11, court_id=None, sitting_date=d(2020, 2, 1), hearing_type=None),
        dict(id=1005, publication_id=1, case_id=12, court_id=1, sitting_date=d(2020, 1, 6), hearing_type="First hearing"),
        dict(id=1006, publication_id=6, case_id=10, court_id=2, sitting_date=d(2020, 3, 9), hearing_type="Trial"),
        dict(id=1007, publication_id=1, case_id=13, court_id=1, sitting_date=d(2020, 1, 6), hearing_type="First hearing"),
    ]
    P = [
        dict(id=100, publication_id=1, hearing_id=1000, case_id=10, role="DEFENDANT", town="Oldham", county="Greater Manchester", address="1 High St"),
        dict(id=101, publication_id=1, hearing_id=1000, case_id=10, role="DEFENDANT", town="Bury", county="Greater Manchester", address="2 Low St"),
        dict(id=102, publication_id=1, hearing_id=1000, case_id=10, role="PROSECUTING_AUTHORITY"),
        dict(id=103, publication_id=2, hearing_id=1001, case_id=10, role="DEFENDANT"),
        dict(id=104, publication_id=2, hearing_id=1001, case_id=10, role="DEFENDANT"),
        dict(id=105, publication_id=5, hearing_id=1004, case_id=11, role="DEFENDANT", town="Newport", county="Isle of Wight", address="3 Quay"),
        dict(id=106, publication_id=1, hearing_id=1005, case_id=12, role="DEFENDANT", address="No fixed abode"),
        dict(id=107, publication_id=1, hearing_id=1007, case_id=13, role="DEFENDANT", town="Rochdale", address="4 Mill Rd"),
    ]
    wording = "On 01/06/2019 at Rochdale intentionally touched [complainant:abcd1234], a girl under 16"
    O = [
        dict(id=200, publication_id=1, party_id=100, hearing_id=1000, case_id=10, code=CSA, wording=wording, plea="NONE"),
        dict(id=201, publication_id=1, party_id=101, hearing_id=1000, case_id=10, code=CSA, wording=wording.replace("01/06", "03/05")),
        dict(id=202, publication_id=2, party_id=103, hearing_id=1001, case_id=10, code=CSA, title="x"),
        dict(id=203, publication_id=5, party_id=105, hearing_id=1004, case_id=11, code=None,
             title="Use a television receiver without a licence", wording="At Newport, used a television receiver"),
        dict(id=204, publication_id=1, party_id=106, hearing_id=1005, case_id=12, code="TH68001",
             wording="On 02/01/2020 at NEWCASTLE UPON TYNE stole a bicycle", plea="NOT_GUILTY", plea_date=d(2020, 1, 6)),
        dict(id=205, publication_id=1, party_id=107, hearing_id=1007, case_id=13, code="TH68001",
             wording="On 01/01/2020 stole a bicycle at St. Helens", plea="GUILTY", plea_date=d(2020, 1, 6),
             conviction_date=d(2020, 1, 6)),
    ]
    C = [dict(id=500, publication_id=1, offence_id=200, hearing_id=1000, case_id=10, kind="named", token="t1"),
         dict(id=501, publication_id=1, offence_id=201, hearing_id=1000, case_id=10, kind="named", token="t1"),
         dict(id=502, publication_id=1, offence_id=None, hearing_id=1007, case_id=13, kind="party", token="t2")]
    out = {"publication_raw": raw("publication", pubs), "court_raw": raw("court", courts),
           "case_raw": raw("case", cases), "hearing_raw": raw("hearing", H), "party_raw": raw("party", P),
           "offence_raw": raw("offence", O), "complainant_raw": raw("complainant", C)}
    ids = {"person_d": pa.table({"mention_id": [100, 101, 103, 104, 105, 106, 107],
                                 "person_id": [1, 2, 1, 2, 3, 4, 5]}),
           "person_c": pa.table({"mention_id": [500, 501, 502], "person_id": [70, 70, 71]})}
    return out, ids


@pytest.fixture(scope="module")
def derived():
    r, ids = corpus()
    return I.build_inputs(r, ids=ids, mode="linkage")


def test_derivation_case_facts(derived):
    c = {r["case_id"]: r for r in derived.inputs.cases.iter_rows(named=True)}
    assert set(c) == {"A1", "B1", "C1", "E1"}
    a = c["A1"]
    assert a["first_hearing_date"] == d(2020, 1, 6)            # the superseded list's 2019 entry is ignored
    assert a["offence_date"] == d(2019, 5, 3)                   # earliest wording date
    assert (a["outcome"], a["completion_date"]) == ("convicted", d(2020, 4, 6))
    assert (a["offence_town"], a["offence_pfa"]) == ("Rochdale", "Greater Manchester Police")
    assert (a["residence_town"], a["court_town"]) == ("Oldham", "Rochdale")
    assert a["hearings"] == 4                                  # mags, PTPH, sentence, warned
    b = c["B1"]
    assert (b["outcome"], b["completion_date"], b["court_town"]) == ("convicted", d(2020, 2, 1), None)
    # "Newport" is two towns: the wording's is resolved to the first by force name order, the
    # residence one by the address county
    assert b["residence_pfa"] == "Hampshire and Isle of Wight Constabulary"
    assert b["offence_pfa"] == "Gwent Police"
    assert c["C1"]["outcome"] is None and c["C1"]["residence_town"] is None          # open; no fixed abode
    assert c["C1"]["offence_town"] == "Newcastle-upon-Tyne"          # the gazetteer spelling
    assert c["E1"]["offence_town"] == "St. Helens"
    assert derived.hearing_entries == 7 and derived.end_date == d(2020, 4, 6)


def test_derivation_people(derived):
    cd = {(r["case_id"], r["defendant_id"]): r for r in derived.inputs.case_defendants.iter_rows(named=True)}
    assert set(cd) == {("A1", "D1"), ("A1", "D2"), ("B1", "D3"), ("C1", "D4"), ("E1", "D5")}
    assert cd[("A1", "D1")]["conviction_date"] == d(2020, 3, 2)      # last Crown sitting before sentence
    assert cd[("B1", "D3")]["convicted"] and not cd[("C1", "D4")]["convicted"]
    assert cd[("E1", "D5")]["conviction_date"] == d(2020, 1, 6)
    oc = set(derived.inputs.offence_complainants.iter_rows())
    assert oc == {("A1", "D1", "V70"), ("A1", "D2", "V70"), ("E1", "D5", "V71")}
    co = set(derived.inputs.case_offences.iter_rows())
    assert ("B1", "D3", TV) in co                                     # code from the title (SJP lists)
    f = D.findings(derived.inputs, D.SCOPE_CSA)
    assert (f["cases"], f["victims_linked_to_2plus_defendants"], f["multi_defendant_cases"]) == (1, 1, 1)


def test_sql_transpiles_to_spark():
    pat = I.place_pattern()
    for mode in MODES:
        for name, sql in derivation(mode, pat):
            out = to_spark_sql(sql)
            assert out and "QUALIFY" not in out.upper(), name


def test_place_pattern_prefers_longest_name():
    rx = re.compile(I.place_pattern())
    assert rx.search("on 1/1/2020 at Newcastle upon Tyne stole").group(1) == "Newcastle upon Tyne"
    assert rx.search("at Bury St Edmunds assaulted").group(1) == "Bury St Edmunds"
    assert rx.search("that Bury") is None


# ------------------------------------------------------------------ statistics
@pytest.mark.parametrize("n,frac", [(1, 1.0), (7, 0.5), (60, 0.0), (60, 0.8), (3000, 0.6)])
def test_km_numpy_equals_lifelines(n, frac):
    rng = np.random.default_rng(n)
    t = rng.integers(0, 900, n)
    e = rng.random(n) < frac
    a, b = S.kaplan_meier(t, e, method="numpy"), S.kaplan_meier(t, e, method="lifelines")
    assert a["median"] == b["median"] and a["ci95"] == b["ci95"]
    for k in ("timeline", "survival", "lower", "upper"):
        assert np.allclose(a[k], b[k]), k


def test_binomial_tail_and_bh():
    from scipy.stats import binom

    for m, n, p in [(3, 10, 0.1), (46, 300, 0.08), (120, 2000, 0.05), (1, 1, 0.3), (0, 4, 0.2), (9, 8, 0.5)]:
        assert S.binom_sf(m, n, p) == pytest.approx(float(binom.sf(m - 1, n, p)), rel=1e-9, abs=1e-300)
    q = S.bh_qvalues([0.01, 0.04, 0.03, 0.2])
    assert q == pytest.approx([0.04, 0.0533333, 0.0533333, 0.2], rel=1e-4)


def test_gi_star_matches_esda():
    esda = pytest.importorskip("esda")
    from libpysal.weights import W

    rng = np.random.default_rng(3)
    lat, lon = rng.uniform(50.5, 54.5, 40), rng.uniform(-4, 1, 40)
    y = rng.gamma(2.0, 3.0, 40)
    w = S.knn_weights(lat, lon, k=5)
    neighbors = {i: [int(j) for j in np.nonzero(w[i])[0]] for i in range(40)}
    ew = W(neighbors)
    ref = esda.G_Local(y, ew, transform="B", star=True, permutations=999, seed=1)
    mine = S.gi_star(y, w, permutations=999)
    assert np.allclose(mine["Gs"], ref.Gs)
    assert np.corrcoef(mine["z_sim"], ref.z_sim)[0, 1] > 0.95


# ------------------------------------------------------------------ disclosure and truth comparison
def test_suppression_and_truth_match(derived):
    f = R.compute(derived, scope="all", min_cell=5)
    assert f["victims_linked_to_2plus_defendants"] == "<5" and "complainants" in f["disclosure"]["suppressed"]
    exact = R.compute(derived, scope="all", min_cell=0)
    assert exact["victims_linked_to_2plus_defendants"] == 1
    truth = D.findings(derived.inputs, "all")
    assert R.matches_truth(exact, truth) == []
    truth["cases"] += 1
    assert R.matches_truth(exact, truth) == [".cases"]
    text = repr(f)
    assert "V70" not in text and "t1" not in text.replace("timeline", "")       # no complainant ids/tokens


def test_filters_and_area(derived):
    f = R.compute(derived, scope="all", area="greater manchester police", min_cell=0)
    assert f["cases"] == 1 and f["filters"]["area"] == "greater manchester police"
    f = R.compute(derived, scope="all", date_from=d(2020, 1, 10), min_cell=0)
    assert f["cases"] == 1


def test_empty_selection_renders(derived):
    from courtarchive.analyse.report import render

    f = R.compute(derived, scope="all", area="Nowhere")
    assert f["cases"] == 0 and f["multi_defendant_cases_by_location"] == [] and f["networks"] == []
    html = render(f)
    assert "no data" not in html or "vegaEmbed" in html


def test_analyse_is_a_top_level_command():
    try:
        from courtarchive.serve.cli import app
    except Exception as e:  # the top-level CLI is another stage's file
        pytest.skip(f"courtarchive.serve.cli does not import: {e!r}")
    names = {c.name or c.callback.__name__ for c in app.registered_commands}
    assert "analyse" in names


def test_report_does_not_draw_giant_networks(monkeypatch):
    """A network above MAX_DRAWN defendants is described, not laid out (the layout is quadratic):
    igraph is not even asked for."""
    from courtarchive import config
    from courtarchive.analyse import report

    n = report.MAX_DRAWN + 50
    net = {"network": "N-1", "nodes": [f"D-{i}" for i in range(n)],
           "edges": [[i, i + 1, "co-defendants"] for i in range(n - 1)]}
    with monkeypatch.context() as m:
        m.setattr(config, "igraph", lambda: pytest.fail("a giant network was laid out"))
        out = report._network_svg(net)
    assert "too many to draw" in out and f"{n:,} defendants" in out
    small = report._network_svg({"network": "N-2", "nodes": ["D-1", "D-2"], "edges": [[0, 1, "co-defendants"]]})
    assert small.startswith("<svg")
