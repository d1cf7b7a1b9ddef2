"""The CLI's outputs go through the governance gate (issue 7): `courtarchive case`, `courtarchive
export` and `courtarchive analyse`, for every role.  Planted identities are scanned for in what each
role gets; complainant names never appear; every output writes an audit event."""

from __future__ import annotations

import datetime as dt
import json

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from test_governance_support import four_roles, person, plant, rows


NOW = dt.datetime.now()
ADULT = person(forenames="Zebedee", surname="QUIXLEY", dob=dt.date(1988, 7, 14), address="17 Marigold Crescent")
YOUTH = person(forenames="Ptolemy", surname="WRENFIELD", dob=dt.date(NOW.year - 15, 2, 1), age=15,
               address="9 Quillon Road")
ADULT_TEXT = ("QUIXLEY", "Zebedee", "1988-07-14", "Marigold")
YOUTH_TEXT = ("WRENFIELD", "Ptolemy", "Quillon")
COMPLAINANT_TEXT = ("Tabitha", "Marchbanks", "Rowan Close")
USERS = {"admin": "boss", "verified_media": "reporter", "analyst": "analyst1", "public": "nobody"}
#: who may see the adult defendant's identity in a case view / export
SEES_NAMES = {"admin", "verified_media"}


@pytest.fixture
def planted(archive, tmp_path, monkeypatch):
    monkeypatch.setenv("COURTARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COURTARCHIVE_DB", archive.url)
    monkeypatch.setenv("COURTARCHIVE_KEY", "ab" * 32)
    monkeypatch.delenv("COURTARCHIVE_USER", raising=False)
    monkeypatch.delenv("COURTARCHIVE_PROFILE", raising=False)
    four_roles(archive, NOW, media_email="r@lancashirepost.co.uk")
    # PUBLIC lists, so that every role gets the cases (the field policy decides the names)
    plant(archive, date=dt.date(2024, 3, 4), urn="06OG0000001", sensitivity="PUBLIC", people=[ADULT])
    plant(archive, date=dt.date(2024, 3, 5), urn="06OG0000002", sensitivity="PUBLIC", people=[ADULT],
          code="SX03001", title="Rape of a woman 16 years of age or over",
          legislation="Sexual Offences Act 2003, s.1(1)", wording="raped Tabitha Marchbanks at 4 Rowan Close")
    plant(archive, date=dt.date(2024, 3, 6), urn="06OG0000003", sensitivity="PUBLIC", panel="YOUTH",
          people=[YOUTH], court="Preston Magistrates' Court")
    return archive


def cli(*args):
    from courtarchive.serve.cli import app

    return CliRunner().invoke(app, [str(a) for a in args])


def audit_after(archive, seq: int) -> list[dict]:
    return [e for e in rows(archive, "audit_event") if e["seq"] > seq]


def last_seq(archive) -> int:
    ev = rows(archive, "audit_event")
    return ev[-1]["seq"] if ev else 0


def assert_scan(text: str, role: str, *, names_expected: bool) -> None:
    for s in COMPLAINANT_TEXT + YOUTH_TEXT:
        assert s not in text, (role, s)
    if names_expected:
        assert "QUIXLEY" in text, role
    else:
        for s in ADULT_TEXT:
            assert s not in text, (role, s)


@pytest.mark.parametrize("role", list(USERS))
def test_case_command_per_role(planted, role):
    a = planted
    user = USERS[role]
    out, said = "", []
    for urn in ("06OG0000001", "06OG0000002", "06OG0000003"):
        seq = last_seq(a)
        r = cli("case", urn, "--json", "--as", user)
        assert r.exit_code == 0, r.output
        doc = json.loads(r.stdout)
        assert doc["viewer"] == {"username": user, "role": role}
        assert doc["case"]["urn"] == urn
        out += r.stdout
        ev = audit_after(a, seq)
        assert [(e["actor"], e["action"], e["role"]) for e in ev] == [(user, "view", role)]
        r2 = cli("case", urn, "--as", user)           # the table view: the same gated records
        assert r2.exit_code == 0, r2.output
        # what each "reporting restriction" line says (lines wrap at 80 columns: read as one text)
        said += [x.split(f"case {urn}")[0] for x in " ".join(r2.output.split()).split("reporting restriction ")[1:]]
        out += r2.output
    assert_scan(out, role, names_expected=role in SEES_NAMES)
    # the restriction is shown with its statutory basis, naming the law once
    assert "Sexual Offences (Amendment) Act 1992" in out
    soaa = [x for x in said if "Sexual Offences (Amendment) Act 1992" in x]
    assert soaa and all(x.count("Sexual Offences (Amendment) Act 1992") == 1 for x in soaa), soaa
    if role == "analyst":
        assert "~p:" in out                         # keyed pseudonyms instead of names


@pytest.mark.parametrize("role", list(USERS))
def test_search_command_per_role(planted, role):
    """`courtarchive search` by name: refused to roles that do not see identities; for the others the
    hits pass the gate -- a name the gate withholds (the youth's, CYPA 1933 s.49) gives no hit at
    all, since "the name you typed is the defendant in case X" would identify him; audited."""
    from courtarchive.serve import search as S

    S.refresh(planted)
    user = USERS[role]
    seq = last_seq(planted)
    adult = cli("search", "Zebedee Quixley", "--json", "--as", user)
    youth = cli("search", "Ptolemy Wrenfield", "--json", "--as", user)
    if role not in SEES_NAMES:
        assert adult.exit_code == youth.exit_code == 3 and "needs a verified media account" in adult.output
        # a refusal is an access too: audited, without the name typed
        ev = audit_after(planted, seq)
        assert [(e["actor"], e["action"]) for e in ev] == [(user, "refused")] * 2, ev
        assert all(e["details"]["command"] == "search" for e in ev) and "Quixley" not in str(ev)
        return
    assert adult.exit_code == 0 and youth.exit_code == 0, (adult.output, youth.output)
    assert {h["urn"] for h in json.loads(adult.stdout)["hits"]} == {"06OG0000001", "06OG0000002"}
    got = json.loads(youth.stdout)
    if role == "verified_media":
        assert got["hits"] == [] and "06OG0000003" not in youth.stdout
        # nor counted anywhere: a count of hidden hits (with a court and a week as filters) would
        # say "a youth of that name was before that court that week"
        assert got["total"] == 0 and not any(got["facets"].values()), got
        assert "identity" not in json.dumps(got["withheld"])
    # (what was typed comes back as "q"; the hits themselves carry ids, dates and public facts only)
    assert_scan(json.dumps(json.loads(adult.stdout)["hits"]) + json.dumps(got["hits"]), role, names_expected=False)
    ev = audit_after(planted, seq)
    assert [(e["actor"], e["action"]) for e in ev] == [(user, "search"), (user, "search")]


def test_name_search_counts_no_withheld_mention(planted):
    """A mention the gate withholds counts nowhere -- not in the total, the facets or the pages --
    while a namesake the viewer may see is found as usual."""
    from courtarchive.serve import search as S

    plant(planted, date=dt.date(2023, 5, 9), urn="06OG0000004", sensitivity="PUBLIC", court="Leeds Magistrates' Court",
          people=[person(forenames="Octavia", surname="WRENFIELD", dob=dt.date(1979, 1, 2), address="3 Elm Row")])
    S.refresh(planted)
    case_of = {c["urn"]: c["id"] for c in rows(planted, "case")}
    court_of = {h["case_id"]: h["court_id"] for h in rows(planted, "hearing")}
    leeds, preston = court_of[case_of["06OG0000004"]], court_of[case_of["06OG0000003"]]
    assert leeds != preston
    raw = S.search_names(planted, "Wrenfield")                 # the engine alone finds both
    assert raw["total"] == 2
    r = cli("search", "Wrenfield", "--json", "--as", "reporter", "--limit", "1")
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert [h["urn"] for h in got["hits"]] == ["06OG0000004"] and got["total"] == 1
    assert {int(k) for k in got["facets"]["court"]} == {leeds}
    assert {int(k) for k in got["facets"]["year"]} == {2023}
    # the youth's court and week as filters: nothing, and nothing counted
    r = cli("search", "Wrenfield", "--json", "--as", "reporter", "--court", preston,
            "--from", "2024-03-01", "--to", "2024-03-10")
    got = json.loads(r.stdout)
    assert r.exit_code == 0 and got["hits"] == [] and got["total"] == 0 and not any(got["facets"].values()), got


def test_search_export_leaves_out_withheld_names(planted, tmp_path):
    """Exporting a name search (portal, API) finds what the search finds: not the youth's case."""
    from courtarchive.governance.accounts import viewer
    from courtarchive.governance.pseudonym import Keyring
    from courtarchive.serve import search as S
    from courtarchive.serve import views as V

    S.refresh(planted)
    p = V.Portal(planted, keyring=Keyring(bytes(range(32))), home=tmp_path / "home")
    v = viewer(planted, "reporter")
    youth = V.export(p, v, "search", "csv", q="Ptolemy Wrenfield", mode="name")
    assert b"06OG0000003" not in youth["body"] and youth["rows"] == 0, youth["body"][:400]
    adult = V.export(p, v, "search", "csv", q="Zebedee Quixley", mode="name")
    assert b"06OG0000001" in adult["body"] and b"QUIXLEY" in adult["body"]


def test_case_command_default_user_is_public(planted, monkeypatch):
    monkeypatch.setenv("COURTARCHIVE_USER", "nobody-known")
    r = cli("case", "06OG0000001", "--json")
    assert r.exit_code == 0 and json.loads(r.stdout)["viewer"]["role"] == "public"
    assert "QUIXLEY" not in r.stdout
    monkeypatch.setenv("COURTARCHIVE_USER", "reporter")
    r = cli("case", "06OG0000001", "--json")
    assert json.loads(r.stdout)["viewer"]["role"] == "verified_media" and "QUIXLEY" in r.stdout
    assert cli("case", "06NOPE", "--as", "boss").exit_code == 1


@pytest.mark.parametrize("role", list(USERS))
def test_export_per_role(planted, tmp_path, role):
    a = planted
    user = USERS[role]
    text = ""
    for what, fmt in (("party", "csv"), ("offence", "parquet"), ("hearing", "csv")):
        seq = last_seq(a)
        dest = tmp_path / f"{what}.{fmt}"
        r = cli("export", "--what", what, "--format", fmt, "--out", dest, "--as", user)
        if role == "public":
            assert r.exit_code == 3 and "refused" in r.output          # (REFUSED: the policy)
            assert not dest.exists() and not list(tmp_path.glob("*.partial"))
            assert not rows(a, "export_record")
            assert [(e["actor"], e["action"], e["details"]["command"]) for e in audit_after(a, seq)] == \
                [(user, "refused", "export")]
            continue
        assert r.exit_code == 0, r.output
        [ev] = [e for e in audit_after(a, seq) if e["action"] == "export"]
        assert ev["actor"] == user and ev["role"] == role
        rec = rows(a, "export_record")[-1]
        assert rec["username"] == user and rec["what"] == what and rec["path"] == str(dest.resolve())
        if fmt == "parquet":
            t = pq.read_table(dest)
            assert t.schema.metadata[b"courtarchive.watermark"].decode() == rec["watermark"]
            text += json.dumps(t.to_pylist(), default=str)
        else:
            text += dest.read_text()
        assert rec["watermark"][-19:] in text
    if role != "public":
        assert_scan(text, role, names_expected=role in SEES_NAMES)


def test_export_rejects_bad_input_before_writing(planted, tmp_path):
    # bad input (README: exit 2, nothing done), not a refusal by the policy (exit 3)
    r = cli("export", "--what", "complainant", "--format", "csv", "--out", tmp_path / "c.csv", "--as", "boss")
    assert r.exit_code == 2 and not (tmp_path / "c.csv").exists() and "refused" not in r.output
    r = cli("export", "--what", "party", "--format", "xlsx", "--out", tmp_path / "p.x", "--as", "boss")
    assert r.exit_code == 2 and not rows(planted, "export_record")


def test_expiry_purges_cli_exports(planted, tmp_path):
    """The exported file is registered: the exports-cache hook shreds it."""
    from courtarchive.governance.hooks import ExpiryEvent, exports_cache
    from courtarchive.governance.profile import load

    dest = tmp_path / "p.parquet"
    assert cli("export", "--what", "party", "--out", dest, "--as", "boss").exit_code == 0
    ev = ExpiryEvent(planted, None, "expire", dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
                     + dt.timedelta(seconds=5), party_ids=[1], home=tmp_path / "home", profile=load())
    assert exports_cache(ev)["purged"] >= 1 and not dest.exists()


@pytest.mark.parametrize("role", list(USERS))
def test_analyse_outputs_per_role(planted, tmp_path, role):
    a = planted
    user = USERS[role]
    seq = last_seq(a)
    out = tmp_path / "analysis"
    args = ["analyse", "--out", out, "--scope", "all", "--as", user, "--min-cell", "0"]
    r = cli(*(args if role == "admin" else args + ["--no-report"]))      # one report render keeps it fast
    assert r.exit_code == 0, r.output
    f = json.loads((out / "findings.json").read_text())
    assert f["disclosure"]["viewer"] == user and f["disclosure"]["role"] == role
    text = (out / "findings.json").read_text() + r.output
    if role == "admin":
        text += (out / "report.html").read_text()
    assert_scan(text, role, names_expected=False)       # aggregates only, for every role
    ev = [e for e in audit_after(a, seq) if e["action"] == "report"]
    assert [(e["actor"], e["role"]) for e in ev] == [(user, role)]
    assert f["cases"] == 3


def test_complainant_aggregates_pass_the_gate(planted):
    """Small complainant counts are suppressed for every role even when the run asked for none
    (--min-cell 0); complainant counts by network are a drill-down the gate refuses."""
    from courtarchive.analyse.run import disclose_findings
    from courtarchive.governance.accounts import viewer

    findings = {"scope": "all", "complainants": 3, "victims_linked_to_2plus_defendants": 12,
                "networks": [{"network": "N-0001", "size": 4, "complainants": 9, "nodes": ["D-1"]}],
                "disclosure": {"min_cell": 0, "suppressed": []}}
    for role, user in USERS.items():
        seq = last_seq(planted)
        f = disclose_findings(findings, viewer(planted, user), archive=planted, purpose="analysis")
        assert f["complainants"] == "<5" and f["victims_linked_to_2plus_defendants"] == 12, role
        assert f["networks"][0]["complainants"] is None and f["networks"][0]["size"] == 4
        assert "complainants" in f["disclosure"]["suppressed"]
        assert f["disclosure"]["withheld"] == ["networks.N-0001.complainants"]
        assert len(audit_after(planted, seq)) == 1
    assert findings["complainants"] == 3            # the caller's dict is not changed
