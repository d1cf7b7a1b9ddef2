"""link -> analyse -> report walked as a new user meets it (README Quickstart): bad input gets a one-line
error (no traceback, nothing written), filters are checked, the oracle refuses a truth of another
corpus, `link evaluate` / `link decide` behave, and network complainant counts never leave the gate.

One small corpus is generated and ingested once for the module; a copy of the archive is linked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from courtarchive.analyse import definitions as D
from courtarchive.analyse import run as R

KEY = bytes(range(32))


@pytest.fixture(scope="module")
def walk(tmp_path_factory):
    gen = pytest.importorskip("courtarchive.generate")
    from courtarchive.governance import accounts
    from courtarchive.governance.pseudonym import Keyring
    from courtarchive.ingest.pipeline import ingest
    from courtarchive.link import model as M
    from courtarchive.link.run import run as link_run
    from courtarchive.store import Archive

    root = tmp_path_factory.mktemp("walk")
    out = root / "corpus"
    gen.generate(out, cases=300, seed=11, years=2)
    other = root / "other"                       # another corpus: same file names, other contents
    gen.generate(other, cases=60, seed=12, years=2)
    unlinked = root / "unlinked.db"
    a = Archive.open(f"sqlite:///{unlinked}")
    a.init()
    rep = ingest(a, [out / "lists"], keyring=Keyring(KEY), workers=1)
    assert not rep.as_dict()["rejected"]
    a.close()
    linked = root / "linked.db"
    shutil.copyfile(unlinked, linked)
    b = Archive.open(f"sqlite:///{linked}")
    link_run(b, full=True, threshold=M.MATCH_THRESHOLD)
    accounts.add(b, username="desk", role="admin", actor="test", email="desk@example.org")
    b.close()
    return {"root": root, "out": out, "other": other, "unlinked": f"sqlite:///{unlinked}",
            "linked": f"sqlite:///{linked}"}


@pytest.fixture
def cli(walk, tmp_path, monkeypatch):
    """The real `courtarchive` app against the linked archive (``db=`` for another)."""
    from courtarchive.serve.cli import app

    monkeypatch.setenv("COURTARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COURTARCHIVE_KEY", KEY.hex())
    monkeypatch.setenv("COURTARCHIVE_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("COURTARCHIVE_PROFILE", raising=False)
    monkeypatch.delenv("COURTARCHIVE_USER", raising=False)

    def run(*args, code=0, db=None):
        monkeypatch.setenv("COURTARCHIVE_DB", db or walk["linked"])
        r = CliRunner().invoke(app, [str(x) for x in args])
        assert r.exit_code == code, (args, r.output, r.exception)
        assert r.exception is None or isinstance(r.exception, SystemExit), (args, repr(r.exception))
        assert "Traceback" not in r.output
        return r

    return run


def _error(r) -> str:
    """The message, unwrapped from rich's error box."""
    return " ".join(r.output.replace("│", " ").split())


# ------------------------------------------------------------------ analyse: bad input
def test_from_after_to_is_refused(cli, tmp_path):
    r = cli("analyse", "--out", tmp_path / "a", "--scope", "all", "--from", "2024-06-01", "--to", "2024-01-01",
            code=2)
    assert "is after --to" in _error(r)
    assert not (tmp_path / "a").exists()


def test_unknown_area_is_refused_known_area_filters(cli, tmp_path):
    r = cli("analyse", "--out", tmp_path / "a", "--scope", "all", "--area", "Atlantis", code=2)
    assert "unknown area 'Atlantis'" in _error(r)
    cli("analyse", "--out", tmp_path / "all", "--scope", "all", "--no-report", "--min-cell", "0")
    every = json.loads((tmp_path / "all" / "findings.json").read_text())
    pfa = every["multi_defendant_cases_by_pfa"][0]["pfa"]
    cli("analyse", "--out", tmp_path / "b", "--scope", "all", "--no-report", "--area", pfa.upper())
    f = json.loads((tmp_path / "b" / "findings.json").read_text())
    assert f["filters"]["area"] == pfa.upper()
    assert 0 < f["cases"] < every["cases"]


def test_negative_top_is_refused(cli, tmp_path):
    cli("analyse", "--out", tmp_path / "a", "--scope", "all", "--top", "-1", code=2)


def test_out_that_is_a_file_is_refused_before_anything_runs(cli, tmp_path, walk):
    from courtarchive.store import Archive

    f = tmp_path / "afile"
    f.write_text("x")
    a = Archive.open(walk["linked"])
    before = a.to_arrow("audit_event", columns=["seq"]).num_rows
    r = cli("analyse", "--out", f, "--scope", "all", code=2)
    assert "not a folder" in _error(r)
    assert a.to_arrow("audit_event", columns=["seq"]).num_rows == before     # no disclosure was audited
    a.close()


def test_uninitialised_archive_is_one_line_error(cli, tmp_path):
    db = f"sqlite:///{tmp_path / 'none.db'}"
    for args in (("analyse", "--out", tmp_path / "a"), ("link", "run"), ("link", "evaluate", "--truth", tmp_path),
                 ("link", "review")):
        r = cli(*args, code=1, db=db)
        assert "not initialised: run `courtarchive init` first" in _error(r), args


# ------------------------------------------------------------------ analyse: the oracle
def test_oracle_that_is_no_truth_is_refused(cli, tmp_path, walk):
    r = cli("analyse", "--out", tmp_path / "a", "--oracle", walk["out"] / "lists", code=2)
    assert "is not a generator truth" in _error(r)
    empty = tmp_path / "truth.json"
    empty.write_text("")
    cli("analyse", "--out", tmp_path / "a", "--oracle", empty, code=2)


def test_oracle_of_another_corpus_is_refused(cli, tmp_path, walk):
    r = cli("analyse", "--out", tmp_path / "a", "--oracle", walk["other"] / "truth.json", code=2)
    assert "is not the truth of this archive" in _error(r)
    assert not (tmp_path / "a").exists()


def test_oracle_equals_truth(cli, tmp_path, walk):
    truth = json.loads((walk["out"] / "truth.json").read_bytes())["findings"]
    for scope in (D.SCOPE_CSA, D.SCOPE_ALL):
        cli("analyse", "--out", tmp_path / scope, "--scope", scope, "--no-report", "--min-cell", "0", "--as", "desk",
            "--oracle", walk["out"] / "truth.json")
        mine = json.loads((tmp_path / scope / "findings.json").read_text())
        assert mine["linkage"]["files_checked"] > 0
        # the gate still suppresses small complainant totals: compare what it let through
        bad = [p for p in R.matches_truth(mine, truth[scope])
               if not (p.lstrip(".") in R.COMPLAINANT_TOTALS and str(mine[p.lstrip(".")]).startswith("<"))]
        assert bad == []


# ------------------------------------------------------------------ analyse: disclosure, no link run
def test_network_complainant_counts_are_withheld_even_when_small(walk):
    """The gate refuses complainant counts by network for every role; `compute` writes the small
    ones as "<5" first, which must not slip past the gate either."""
    from courtarchive.analyse.inputs import from_archive
    from courtarchive.governance.accounts import viewer
    from courtarchive.store import Archive

    a = Archive.open(walk["linked"])
    f = R.compute(from_archive(a), scope=D.SCOPE_ALL)
    assert f["networks"] and any(n["complainants"] == "<5" for n in f["networks"])
    for who in ("desk", "nobody"):
        g = R.disclose_findings(f, viewer(a, who), archive=a, purpose="administration" if who == "desk"
                                else "public_interest")
        assert all(n["complainants"] is None for n in g["networks"]), who
        assert not any(p.startswith("networks.") for p in g["disclosure"]["suppressed"])
        assert {f"networks.{n['network']}.complainants" for n in g["networks"]} <= set(g["disclosure"]["withheld"])
    a.close()


def test_report_is_offline_and_carries_no_complainant_ids(cli, tmp_path, walk):
    import re

    from courtarchive.analyse.inputs import from_archive
    from courtarchive.store import Archive

    cli("analyse", "--out", tmp_path / "r", "--scope", "all")
    html = (tmp_path / "r" / "report.html").read_text()
    markup = re.sub(r"(<script[^>]*>).*?</script>", r"\1</script>", html, flags=re.S)   # the page, not its code
    assert not re.findall(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", markup)
    assert not re.findall(r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)\s*=", markup)
    assert "default-src 'none'" in markup                  # and the CSP forbids any fetch the code might try
    assert 'id="map"' in html and "svg class=\"network\"" in html and 'id="chart-years"' in html
    a = Archive.open(walk["linked"])
    ids = from_archive(a).inputs.offence_complainants["complainant_id"].unique().to_list()
    a.close()
    blob = (tmp_path / "r" / "findings.json").read_text()
    assert not any(f'"{v}"' in blob or f'"{v}"' in html for v in ids)


def test_never_linked_archive_warns(cli, tmp_path, walk):
    r = cli("analyse", "--out", tmp_path / "a", "--scope", "all", "--no-report", db=walk["unlinked"])
    assert "no link run in this archive" in _error(r)
    f = json.loads((tmp_path / "a" / "findings.json").read_text())
    assert f["linkage"]["source"] == "names" and "floor" not in f["linkage"]["note"]


# ------------------------------------------------------------------ link evaluate
def test_evaluate_bad_truth_and_never_linked(cli, tmp_path, walk):
    r = cli("link", "evaluate", "--truth", tmp_path / "nothing", code=2)
    assert "does not exist" in _error(r)
    r = cli("link", "evaluate", "--truth", walk["out"] / "lists", code=1)
    assert "is not a generator truth" in _error(r)
    r = cli("link", "evaluate", "--truth", walk["other"], code=1)
    assert "is not the truth of this archive" in _error(r)
    r = cli("link", "evaluate", "--truth", walk["out"], code=1, db=walk["unlinked"])
    assert "no link run in the archive" in _error(r)
    res = json.loads(cli("link", "evaluate", "--truth", walk["out"] / "truth.json", "--json").stdout)
    assert res["defendants"]["pairwise"]["precision"] > 0.95


def test_evaluate_linked_empty_archive(cli, tmp_path, walk):
    """An archive with nothing in it, linked: no mentions to score (was a polars SchemaError)."""
    db = f"sqlite:///{tmp_path / 'empty.db'}"
    from courtarchive.store import Archive

    a = Archive.open(db)
    a.init()
    a.close()
    cli("link", "run", db=db)
    res = json.loads(cli("link", "evaluate", "--truth", walk["out"], "--json", db=db).stdout)
    assert res["defendants"]["mentions"] == 0 and res["complainants"]["mentions"] == 0


# ------------------------------------------------------------------ link review / decide
def _pair(walk):
    from courtarchive.store import Archive
    from courtarchive.store import linkage as store

    a = Archive.open(walk["linked"])
    rows = store.review_queue(a, 1)
    a.close()
    if not rows:
        pytest.skip("no pair in the review band on this corpus")
    return rows[0]["party_a"], rows[0]["party_b"]


def test_decide_acts_as_an_account(cli, walk, monkeypatch):
    """`link decide A B same|different` as the README writes it (the account from $COURTARCHIVE_USER,
    or --as like `link review`); the audit event carries the account's real role, never a made-up
    "admin" for any name given."""
    from courtarchive.store import Archive

    pa, pb = _pair(walk)
    monkeypatch.setenv("COURTARCHIVE_USER", "desk")
    cli("link", "decide", pa, pb, "different")
    cli("link", "decide", pa, pb, "different", "--reviewer", "mallory", code=2)   # (older spelling) no account
    cli("link", "decide", pa, pb, "different", "--as", "desk", "--reviewer", "mallory", code=2)
    a = Archive.open(walk["linked"])
    ev = [e for e in a.to_arrow("audit_event", columns=["actor", "role", "action"]).to_pylist()
          if e["action"] in ("link_decision", "refused")]
    a.close()
    assert {(e["actor"], e["role"], e["action"]) for e in ev} == {("desk", "admin", "link_decision"),
                                                                   ("mallory", "public", "refused")}


# ------------------------------------------------------------------ analyse: a user's walk, continued
def _audit_rows(walk) -> int:
    from courtarchive.store import Archive

    a = Archive.open(walk["linked"])
    try:
        return a.to_arrow("audit_event", columns=["seq"]).num_rows
    finally:
        a.close()


def test_min_cell_below_the_licence_threshold_cannot_refine_a_small_count(walk):
    """`--min-cell 2` wrote a complainant count of 1 as "<2" and the gate let the string through: the
    exact count, which the licence profile's threshold (5) forbids.  The label is widened to "<5", and
    the report says what was done."""
    from courtarchive.analyse.report import render
    from courtarchive.governance.accounts import viewer
    from courtarchive.store import Archive

    findings = {"scope": "all", "complainants": "<2", "victims_linked_to_2plus_defendants": "<3",
                "networks": [{"network": "N-0001", "size": 2, "complainants": "<2", "nodes": ["D-1", "D-2"]}],
                "disclosure": {"min_cell": 2, "suppressed": ["complainants", "victims_linked_to_2plus_defendants",
                                                             "networks.N-0001.complainants"]}}
    a = Archive.open(walk["linked"])
    try:
        for who in ("desk", "nobody"):
            g = R.disclose_findings(findings, viewer(a, who), archive=a, purpose="analysis")
            assert g["complainants"] == "<5" and g["victims_linked_to_2plus_defendants"] == "<5", who
            assert g["networks"][0]["complainants"] is None
            assert g["disclosure"]["gate_threshold"] == 5 and g["disclosure"]["shown_below"] == 5
        # a coarser label than the licence's stays as the run wrote it
        wide = dict(findings, complainants="<10", disclosure={"min_cell": 10, "suppressed": ["complainants"]})
        g10 = R.disclose_findings(wide, viewer(a, "desk"), archive=a, purpose="analysis")
        assert g10["complainants"] == "<10" and g10["disclosure"]["shown_below"] == 10
        f = R.compute(__import__("courtarchive.analyse.inputs", fromlist=["x"]).from_archive(a), scope="all",
                      min_cell=0)
        shown = R.disclose_findings(f, viewer(a, "nobody"), archive=a, purpose="public_interest")
    finally:
        a.close()
    html = render(shown)
    assert 'Complainant counts from 1 to 4 are shown as\n"&lt;5"' in html
    assert "&lt;0" not in html and "below 0" not in html


def test_min_cell_below_the_licence_threshold_on_the_command_line(cli, tmp_path):
    """The same through `courtarchive analyse --min-cell 1/2`: no complainant count anywhere in the
    outputs reads "<2" (= 1) or "<1"."""
    import re

    for m in ("1", "2"):
        cli("analyse", "--out", tmp_path / m, "--scope", "all", "--min-cell", m, "--as", "desk")
        text = (tmp_path / m / "findings.json").read_text()
        html = (tmp_path / m / "report.html").read_text()
        assert not re.search(r'"<[1-4]"', text), m
        assert not re.search(r"&lt;[1-4]\b", re.sub(r"<script.*?</script>", "", html, flags=re.S)), m
        f = json.loads(text)
        assert f["disclosure"]["shown_below"] == 5
    r = cli("analyse", "--out", tmp_path / "neg", "--min-cell", "-1", code=2)
    assert "--min-cell" in r.output and "greater than or equal to 0" in r.output and not (tmp_path / "neg").exists()


def test_county_area_is_refused_not_read_as_a_town(cli, tmp_path):
    """`--area "South Yorkshire"` (a county; also the town column of Barnsley's court in the court table)
    silently analysed Barnsley's cases under the label "area: South Yorkshire"."""
    import datetime as dt

    import polars as pl

    for county, force in (("South Yorkshire", "South Yorkshire Police"),
                          ("greater manchester", "Greater Manchester Police")):
        r = cli("analyse", "--out", tmp_path / "a", "--scope", "all", "--area", county, code=2)
        msg = _error(r)
        assert "is a county" in msg and force in msg, msg
        assert not (tmp_path / "a").exists()
    # a town or a force is still an area (and a county-named town is a town: "Bristol")
    cases = pl.DataFrame({"case_id": ["A", "B"], "first_hearing_date": [dt.date(2020, 1, 1)] * 2,
                          "offence_date": [None, None], "completion_date": [None, None], "outcome": [None, None],
                          "offence_town": [None, None], "residence_town": [None, None],
                          "court_town": ["Barnsley", "Bristol"], "offence_pfa": [None, None],
                          "residence_pfa": [None, None],
                          "court_pfa": ["South Yorkshire Police", "Avon and Somerset Constabulary"]},
                         schema_overrides={"offence_date": pl.Date, "completion_date": pl.Date, "outcome": pl.Utf8,
                                           "offence_town": pl.Utf8, "residence_town": pl.Utf8,
                                           "offence_pfa": pl.Utf8, "residence_pfa": pl.Utf8})
    inp = D.Inputs(cases, pl.DataFrame(schema={"case_id": pl.Utf8, "defendant_id": pl.Utf8}),
                   pl.DataFrame(schema={"case_id": pl.Utf8}), pl.DataFrame(schema={"case_id": pl.Utf8}),
                   pl.DataFrame())
    assert R.filter_case_ids(inp, area="South Yorkshire").to_list() == []
    assert R.filter_case_ids(inp, area="barnsley").to_list() == ["A"]
    assert R.filter_case_ids(inp, area="South Yorkshire Police").to_list() == ["A"]
    assert R.filter_case_ids(inp, area="Bristol").to_list() == ["B"]
    for ok in ("Barnsley", "Bristol", "south yorkshire police"):
        R.check_area(inp, ok)
    with pytest.raises(ValueError, match="is a county"):
        R.check_area(inp, "South Yorkshire")


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="no /proc")
def test_out_that_cannot_be_created_is_refused_before_anything_runs(cli, tmp_path, walk):
    """`--out /proc/x` passed the permission check (as root every folder is writable by its bits), so
    the run computed and audited a disclosure before `mkdir` failed."""
    before = _audit_rows(walk)
    r = cli("analyse", "--out", "/proc/courtarchive-test/out", "--scope", "all", code=2)
    assert _audit_rows(walk) == before
    assert "cannot write to /proc/courtarchive-test/out" in _error(r)


def test_out_holding_a_folder_named_like_an_output_writes_nothing(cli, tmp_path, walk):
    """An existing --out whose findings.json is a folder: the report was written, then a traceback
    (IsADirectoryError) left it beside no findings.  Now: a one-line error, nothing written or audited."""
    out = tmp_path / "out"
    (out / "findings.json").mkdir(parents=True)
    (out / "notes.txt").write_text("mine")
    before = _audit_rows(walk)
    r = cli("analyse", "--out", out, "--scope", "all", code=2)
    assert "is a folder: cannot write findings.json there" in _error(r)
    assert sorted(p.name for p in out.iterdir()) == ["findings.json", "notes.txt"]
    assert _audit_rows(walk) == before


def test_existing_out_keeps_other_files_and_leaves_no_temporary_file(cli, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "findings.json").write_text("{}")
    cli("analyse", "--out", out, "--scope", "all")
    assert sorted(p.name for p in out.iterdir()) == ["findings.json", "notes.txt", "report.html"]
    assert json.loads((out / "findings.json").read_text())["scope"] == "all"
    # --no-report into it: the earlier report would be read as these findings' -- it goes
    r = cli("analyse", "--out", out, "--scope", "child-sexual-abuse", "--no-report")
    assert sorted(p.name for p in out.iterdir()) == ["findings.json", "notes.txt"]
    assert "removed" in r.output and "earlier run's" in r.output


def test_report_caveat_says_how_cases_were_located(cli, tmp_path):
    """The caveats said "a wording without a place falls back to the defendant's home town, then to the
    court" whatever --location-by was; with one source only there is no fall-back."""
    fallback = "falls back to the defendant's home town, then to the court"
    for by, words in (("chain", fallback), ("offence", "by the place of offence alone"),
                      ("residence", "by the defendant's home town alone"),
                      ("court", "by the town of its court of first hearing alone")):
        cli("analyse", "--out", tmp_path / by, "--scope", "all", "--location-by", by)
        html = (tmp_path / by / "report.html").read_text()
        assert words in html, by
        assert (fallback in html) == (by == "chain"), by


def test_no_case_in_range_or_archive_is_said(cli, tmp_path):
    """A window with no first hearing, or an empty archive, gave a report of zeros without a word (and
    the empty archive a "no link run" warning after `link run`)."""
    r = cli("analyse", "--out", tmp_path / "a", "--scope", "all", "--from", "2099-01-01", "--no-report")
    msg = _error(r)
    assert "no case in scope all matches --from 2099-01-01" in msg and "first hearings in the archive run from" in msg
    assert json.loads((tmp_path / "a" / "findings.json").read_text())["cases"] == 0
    db = f"sqlite:///{tmp_path / 'empty.db'}"
    from courtarchive.store import Archive

    a = Archive.open(db)
    a.init()
    a.close()
    cli("link", "run", db=db)
    r = cli("analyse", "--out", tmp_path / "e", "--scope", "all", db=db)
    msg = _error(r)
    assert "the archive holds no cases" in msg and "no link run" not in msg
    assert (tmp_path / "e" / "report.html").is_file()


def test_unknown_scope_lists_the_offence_groups(cli, tmp_path):
    r = cli("analyse", "--out", tmp_path / "a", "--scope", "Sexual", code=2)
    msg = _error(r)
    assert "unknown scope 'Sexual'" in msg and "sexual" in msg.split("offence group", 1)[1]
    assert not (tmp_path / "a").exists()


def test_link_run_complainant_mentions_are_a_complainant_count(walk):
    """findings.json's ``linkage.complainant_mentions`` (how many complainant mentions the link run
    assigned) went out unsuppressed: beside a suppressed "<5" complainant total, a 1 there tells it."""
    from courtarchive.governance.accounts import viewer
    from courtarchive.store import Archive

    findings = {"scope": "all", "complainants": 1, "victims_linked_to_2plus_defendants": 0, "networks": [],
                "linkage": {"source": "linkage", "run_id": 1, "defendant_mentions": 3, "complainant_mentions": 1},
                "disclosure": {"min_cell": 0, "suppressed": []}}
    a = Archive.open(walk["linked"])
    try:
        g = R.disclose_findings(findings, viewer(a, "nobody"), archive=a, purpose="public_interest")
        big = R.disclose_findings(dict(findings, linkage=dict(findings["linkage"], complainant_mentions=40)),
                                  viewer(a, "nobody"), archive=a, purpose="public_interest")
    finally:
        a.close()
    assert g["complainants"] == "<5" and g["linkage"]["complainant_mentions"] == "<5"
    assert g["linkage"]["defendant_mentions"] == 3
    assert "linkage.complainant_mentions" in g["disclosure"]["suppressed"]
    assert big["linkage"]["complainant_mentions"] == 40
