"""Analysis stage end to end: generate a corpus with planted truth, ingest it, analyse it with the
truth's person/victim ids (``--oracle``) and compare every count with the generator's truth;
write the report and render it in headless Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from courtarchive.analyse import definitions as D
from courtarchive.analyse import inputs as I
from courtarchive.analyse import run as R

CHROMIUM = Path("/usr/bin/chromium")
SCOPES = (D.SCOPE_CSA, D.SCOPE_ALL)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    gen = pytest.importorskip("courtarchive.generate")
    from courtarchive.governance.pseudonym import Keyring
    from courtarchive.ingest.pipeline import ingest
    from courtarchive.store import Archive

    root = tmp_path_factory.mktemp("analyse")
    out = root / "corpus"
    gen.generate(out, cases=400, seed=7, years=2)
    url = f"sqlite:///{root / 'archive.db'}"
    a = Archive.open(url)
    a.init()
    rep = ingest(a, [out / "lists"], keyring=Keyring(bytes(range(32))), workers=1)
    assert not rep.as_dict()["rejected"]
    data = I.from_archive(a, oracle=out / "truth.json")
    a.close()
    return {"root": root, "out": out, "url": url, "data": data,
            "truth": json.loads((out / "truth.json").read_bytes())}


def _truth(out: Path) -> D.Inputs:
    """The generator's truth tables (as listed: see `courtarchive.generate.truth`)."""
    from courtarchive.generate.truth import read_inputs

    return read_inputs(out / "truth", I.offences_frame())


CASE_COLS = ["case_id", "first_hearing_date", "offence_date", "completion_date", "outcome", "offence_town",
             "residence_town", "court_town", "offence_pfa", "residence_pfa", "court_pfa"]


def test_oracle_inputs_equal_truth_tables(corpus):
    """Every case-level input the analysis derives from the lists equals the truth's, row for row."""
    t, got = _truth(corpus["out"]), corpus["data"].inputs
    for name, cols in (("cases", CASE_COLS),
                       ("case_defendants", ["case_id", "defendant_id", "convicted", "conviction_date"]),
                       ("case_offences", ["case_id", "defendant_id", "offence_code"]),
                       ("offence_complainants", ["case_id", "defendant_id", "complainant_id"])):
        a = getattr(got, name).select(cols).unique().sort(cols[:3])
        b = getattr(t, name).select(cols).unique().sort(cols[:3])
        diff = pl.concat([a.join(b, on=cols, how="anti", nulls_equal=True),
                          b.join(a, on=cols, how="anti", nulls_equal=True)])
        assert diff.height == 0, f"{name}: {diff.head(5)}"
    # the truth keeps what the lists cannot show beside the as-listed columns
    assert {"actual_outcome", "actual_completion_date"} <= set(t.cases.columns)


@pytest.mark.parametrize("scope", SCOPES)
def test_oracle_equals_truth_json(corpus, scope):
    mine = R.compute(corpus["data"], scope=scope, min_cell=0)
    assert R.matches_truth(mine, corpus["truth"]["findings"][scope]) == []


def test_findings_shape_and_disclosure(corpus):
    f = R.compute(corpus["data"], scope=D.SCOPE_ALL, min_cell=10 ** 6)
    for k in ("cases", "hearings", "defendants", "victims_linked_to_2plus_defendants", "cases_with_network_3plus",
              "cases_with_network_5plus", "multi_defendant_cases_by_location", "delays", "repeat_offending",
              "cross_boundary", "hotspots", "linkage", "filters", "scope"):
        assert k in f, k
    assert str(f["victims_linked_to_2plus_defendants"]).startswith("<")
    row = f["multi_defendant_cases_by_location"][0]
    assert {"pfa", "all_cases", "rate", "p_value", "q_value", "significant"} <= set(row)
    km = f["delays"]["kaplan_meier"]["first_hearing_to_completion"]
    assert km["overall"]["n"] == f["cases"] and km["by_year"]
    blob = json.dumps(f, default=str)
    victims = corpus["data"].inputs.offence_complainants["complainant_id"].unique().to_list()
    assert not any(v in blob for v in victims[:200])


def test_cli_writes_findings_and_report(corpus, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from courtarchive.analyse.cli import app

    monkeypatch.setenv("COURTARCHIVE_HOME", str(tmp_path / "home"))
    out = tmp_path / "out"
    args = ["--out", str(out), "--db", corpus["url"], "--oracle", str(corpus["out"] / "truth.json")]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "cases in scope child-sexual-abuse" in r.output and "linked to two or more defendants" in r.output
    f = json.loads((out / "findings.json").read_text())
    assert f["scope"] == D.SCOPE_CSA and f["linkage"]["source"] == "oracle"
    html = (out / "report.html").read_text()
    assert "<link" not in html and "<script src" not in html          # everything inline
    r2 = CliRunner().invoke(app, args + ["--scope", "all", "--json", "--no-report", "--min-cell", "0"])
    assert r2.exit_code == 0, r2.output
    assert json.loads(r2.stdout)["cases"] == corpus["data"].inputs.cases.height
    assert json.loads(r2.stdout)["timings"]["cache"] == "hit"       # second run reuses the inputs
    r3 = CliRunner().invoke(app, args + ["--scope", "no-such-group"])
    assert r3.exit_code != 0


def test_without_oracle_names_floor(corpus):
    from courtarchive.store import Archive

    a = Archive.open(corpus["url"])
    data = I.from_archive(a)
    a.close()
    assert data.linkage["source"] in ("names", "linkage")
    f = R.compute(data, scope=D.SCOPE_ALL)
    assert f["cases"] == corpus["data"].inputs.cases.height


@pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is not installed (apt-get install -y chromium)")
def test_report_renders_in_chromium(corpus, tmp_path):
    pw = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    from courtarchive.analyse.report import write_report

    f = R.compute(corpus["data"], scope=D.SCOPE_ALL)
    marked = max(f["courts"], key=lambda c: c["multi_defendant_cases"])
    marked["court"] = "Court <b>of</b> & Test"      # names reach the map's tooltips as text, not HTML
    page_file = write_report(f, tmp_path / "report.html")
    errors, remote = [], []
    with pw.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM),
                              args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        try:
            page = b.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: remote.append(r.url) if not r.url.startswith(("file:", "data:", "about:")) else None)
            page.goto(page_file.resolve().as_uri())
            page.wait_for_selector(".vega-embed svg", timeout=20_000)
            page.wait_for_timeout(500)
            charts = page.locator(".vega-embed svg").count()
            courts = page.locator("#map path.court").count()
            networks = page.locator("svg.network").count()
            tips = []
            for i in range(courts):
                page.locator("#map path.court").nth(i).dispatch_event("mouseover")
                tips = page.locator(".leaflet-tooltip").all_inner_texts()
                if any("Test" in t for t in tips):
                    break
            bold = page.locator(".leaflet-tooltip b").count()
        finally:
            b.close()
    assert errors == [] and remote == []
    assert charts >= 3 and courts >= 1 and networks >= 1
    assert any(t.startswith("Court <b>of</b> & Test: ") for t in tips) and bold == 0, tips
