"""`courtarchive ingest` as a user meets it: bad publication-header options, rejection lines in a
pipe or CI log, the place given for a complainant named in offence wording, court codes given as
x-court-id.  Synthetic data only; each test failed on the code before its fix."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from courtarchive.governance.pseudonym import Keyring
from courtarchive.ingest import gate
from courtarchive.ingest.cath import check_headers, parse_document
from courtarchive.ingest.csv_register import parse_csv
from courtarchive.ingest.errors import Rejected
from courtarchive.ingest.pdf import parse_pdf
from courtarchive.ingest.pipeline import ingest
from courtarchive.ingest.xlsx import parse_xlsx

from intake_helpers import ruled_pdf, standard_list
from test_governance_support import rows
from test_intake_mail import corpus, messages  # noqa: F401  (fixtures)
from test_walk_cli_small import REGISTER, _one_line, _stats, ingested_at
from test_walk_ingest import _cli, cli_home  # noqa: F401  (cli_home: a fixture)

KEYRING = Keyring(bytes(range(32)))


# ------------------------------------------------------------------ 1. bad header options: refused once, exit 2
@pytest.mark.parametrize("option, value, says", [
    ("--sensitivity", "BOGUS", "--sensitivity must be PUBLIC, PRIVATE or CLASSIFIED"),
    ("--content-date", "2024-13-45", "--content-date is not a date"),
    ("--display-from", "garbage", "--display-from is not a date-time"),
    ("--display-to", "next tuesday", "--display-to is not a date-time"),
    ("--language", "Klingon", "--language must be ENGLISH, WELSH or BI_LINGUAL"),
    ("--provenance", "<b>mail</b>", "--provenance contains"),
    ("--list-type", "MAGISTRATES_STANDRD_LIST", "did you mean MAGISTRATES_STANDARD_LIST"),
])
def test_bad_header_option_is_refused_once_before_anything_is_read(cli_home, tmp_path, option, value, says):
    """Each file was read, parsed and rejected 'at header x-...' (exit 1, every file quarantined);
    an option no file can take is a usage error, as `--court-id X` was already."""
    d = tmp_path / "in"
    d.mkdir()
    (d / "reg.csv").write_text(REGISTER, encoding="utf-8")
    (d / "list.json").write_text("{}")
    r = _cli(["ingest", d, tmp_path / "missing.json", option, value], cli_home)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    line = _one_line(r.stderr)
    assert line.startswith("error: ") and says in line and "rejected" not in line
    st = _stats(cli_home)
    assert (st["publications"], st["quarantined"]) == (0, 0)


def test_option_refusal_names_the_option_not_the_header():
    from courtarchive.ingest.pipeline import check_options

    with pytest.raises(Rejected) as e:
        check_options({"x-content-date": "2024-02-30"})
    assert e.value.reason.startswith("--content-date is not a date") and "x-content-date" not in e.value.reason
    check_options({"x-content-date": "2024-02-29", "x-sensitivity": "public", "x-language": "welsh",
                   "x-display-from": "2024-03-04T06:00:00Z", "x-court-id": "preston-magistrates-court"})


def test_a_register_may_still_carry_a_list_type_of_its_own(cli_home, tmp_path):
    """A CSV register takes any list type name (docs/csv-format.md): not refused as unknown."""
    reg = tmp_path / "reg.csv"
    reg.write_text(REGISTER, encoding="utf-8")
    r = _cli(["ingest", reg, "--list-type", "magistrates register", "--json"], cli_home)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["accepted"] == 1


def test_a_list_type_of_its_own_is_refused_beside_a_json_list(cli_home, tmp_path):
    """... but not for a CaTH JSON list among the files (each was rejected, exit 1)."""
    (tmp_path / "reg.csv").write_text(REGISTER, encoding="utf-8")
    r = _cli(["ingest", tmp_path / "reg.csv", tmp_path / "list.json", "--list-type", "magistrates register"],
             cli_home)
    assert r.returncode == 2
    assert "--list-type: MAGISTRATES_REGISTER is not a CaTH list type" in _one_line(r.stderr)
    assert _stats(cli_home)["quarantined"] == 0


def test_a_list_type_without_a_layout_is_refused_for_a_pdf(cli_home, tmp_path):
    r = _cli(["ingest", tmp_path / "list.pdf", "--list-type", "CIVIL_DAILY_CAUSE_LIST"], cli_home)
    assert r.returncode == 2
    line = _one_line(r.stderr)
    assert "no PDF/Excel layout is declared for CIVIL_DAILY_CAUSE_LIST" in line and "MAGISTRATES_STANDARD_LIST" in line


# ------------------------------------------------------------------ 2. rejection lines in a pipe / CI log
def test_rejection_lines_print_whole_when_output_is_not_a_terminal(cli_home, tmp_path):
    """Rich wrapped every line at 80 columns when stderr was a pipe: file paths and JSON paths
    broken across lines (a log cannot be searched for the file)."""
    env = {k: v for k, v in cli_home.items() if k not in ("COLUMNS", "LINES")}
    folder = tmp_path / "a-folder-with-a-long-name-as-newsroom-shares-have" / "court-lists-received-2024-03"
    folder.mkdir(parents=True)
    bad = folder / "preston-magistrates-standard-list-2024-03-04-version-2.json"
    bad.write_text('{"document": {"publicationDate": "2024-03-04T07:00:00Z"}, "courtLists": 7}')
    (folder / "register-of-the-day-with-an-unknown-column.csv").write_text(
        REGISTER.replace("sitting_time", "sitting_tme", 1), encoding="utf-8")
    r = _cli(["ingest", folder, "--list-type", "MAGISTRATES_STANDARD_LIST"], env)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 3, r.stderr
    assert lines[0] == "2 files: 0 accepted, 0 already archived, 2 rejected; 0 hearing entries"
    assert lines[1].startswith(f"rejected {folder / 'preston-magistrates-standard-list-2024-03-04-version-2.json'} at $")
    assert lines[2].startswith(f"rejected {folder / 'register-of-the-day-with-an-unknown-column.csv'} "
                               "at header, column 3: unknown column")
    assert all(len(x) > 80 for x in lines[1:])


# ------------------------------------------------------------------ 3. where a complainant named in wording is
def test_complainant_in_register_wording_is_placed_at_its_row_and_column(archive, keyring, tmp_path):
    """It was 'row 2.offenceWording' -- a JSON key appended to a spreadsheet row; a register's places
    are 'row N, column X' with the format's column names (docs/csv-format.md)."""
    (tmp_path / "reg.csv").write_text(REGISTER, encoding="utf-8")
    rep = ingest(archive, [tmp_path / "reg.csv"], keyring=keyring)
    assert rep.accepted == 1
    places = sorted((c["kind"], c["json_path"]) for c in rows(archive, "complainant"))
    assert ("named", "row 2, column offence_wording") in places
    assert ("party", "row 2, column complainant") in places
    assert not any("offenceWording" in p for _, p in places)


def test_complainant_in_register_wording_under_an_alias_is_placed_at_the_format_column():
    """A header spelt `wording` (an alias) is still the column offence_wording, as rejections name it."""
    text = REGISTER.replace("offence_wording", "wording", 1).replace(",complainant\n", ",victim\n", 1)
    pl = parse_csv(text.encode(), source_name="r.csv")
    gate.apply(pl, KEYRING)
    assert {c.json_path for c in pl.complainants if c.kind == "named"} == {
        "row 2, column offence_wording", "row 3, column offence_wording", "row 4, column offence_wording"}


STD_HEADER = ["No.", "Courtroom", "Sitting at", "URN", "Name", "Forename(s)", "Surname", "Date of birth", "Offence",
              "Offence wording"]


def test_complainant_in_pdf_wording_is_placed_at_page_row_and_column():
    row = ["1.1", "Room 1", "10:00", "42AB1000000", "Alex EXAMPLE", "Alex", "EXAMPLE", "17/05/1990",
           "Assault by beating", "On 01/02/2024 at Preston assaulted Jordan Placeholder by beating him."]
    data = ruled_pdf(["Magistrates Standard List", "Court: Preston Magistrates' Court", "List date: 04/03/2024"],
                     STD_HEADER, [row])
    pl = parse_pdf(data, source_name="l.pdf")
    gate.apply(pl, KEYRING)
    assert [(c.kind, c.json_path) for c in pl.complainants] == [("named", "page 1 row 2, column Offence wording")]


def test_complainant_in_xlsx_wording_is_placed_at_sheet_row_and_column():
    from courtarchive.generate.render_xlsx import render_xlsx

    pl = parse_xlsx(render_xlsx(standard_list(1, complainant=None)), source_name="l.xlsx")
    gate.apply(pl, KEYRING)
    [c] = pl.complainants
    assert c.kind == "named" and c.json_path == f"{pl.offences[0].json_path}, column Offence wording"
    assert c.json_path.startswith("sheet ")


def test_complainant_in_adult_court_list_wording_is_placed_at_its_key(shared_cath):
    """The magistrates adult court list carries the wording as `sum`, not `offenceWording`."""
    doc = json.loads((shared_cath / "examples" / "magistrates-adult-court-list" / "magistratesAdultCourtList.json")
                     .read_text())
    case = doc["document"]["data"]["job"]["sessions"]["session"][0]["blocks"]["block"][0]["cases"]["case"][0]
    case["offences"]["offence"][0]["sum"] = "On 01/02/2024 at Preston assaulted Jordan Placeholder by beating him."
    pl = parse_document(json.dumps(doc).encode(), source_name="a.json")
    gate.apply(pl, KEYRING)
    [c] = [c for c in pl.complainants if c.kind == "named"]
    assert c.json_path == ("$.document.data.job.sessions.session[0].blocks.block[0].cases.case[0]"
                           ".offences.offence[0].sum")


def test_complainant_in_cath_wording_keeps_its_json_path(shared_cath):
    doc = json.loads((shared_cath / "examples" / "magistrates-standard-list" / "magistratesStandardList.json")
                     .read_text())
    pl = parse_document(json.dumps(doc).encode(), source_name="s.json")
    pl.offences[0].wording = "On 01/02/2024 at Preston assaulted Jordan Placeholder by beating him."
    gate.apply(pl, KEYRING)
    [c] = [c for c in pl.complainants if c.kind == "named"]
    assert c.json_path == pl.offences[0].json_path + ".offenceWording"


# ------------------------------------------------------------------ 4. court codes as x-court-id
MAIDSTONE_CROWN = "1479989"      # Maidstone Combined Court Centre: Crown Court code 434 in data/courts.csv


@pytest.mark.parametrize("value", ["434", "0434", 434])
def test_a_crown_court_code_one_court_holds_is_that_court(value):
    """`--court-id 434` (a Crown Court location code of the shipped table) was refused as 'not a
    known court' with no hint of what to give."""
    assert check_headers({"x-court-id": value})["court_id"] == MAIDSTONE_CROWN


@pytest.mark.parametrize("value, kind, slugs", [
    ("448", "Crown Court code", ["preston-combined-court-centre", "preston-crown-court-and-family-court-sessions-house"]),
    ("1790", "magistrates' court code", ["preston-magistrates-court", "blackburn-magistrates-court"]),
])
def test_a_court_code_several_courts_share_is_refused_naming_them(value, kind, slugs):
    with pytest.raises(Rejected) as e:
        check_headers({"x-court-id": value})
    assert e.value.json_path == "header x-court-id"
    assert f"'{value}' is not a FaCT court id but the {kind} of" in e.value.reason
    assert all(s in e.value.reason for s in slugs)


def test_crown_court_code_option_ingests_the_register_at_that_court(cli_home, tmp_path):
    reg = tmp_path / "reg.csv"
    reg.write_text(REGISTER, encoding="utf-8")
    r = _cli(["ingest", reg, "--court-id", "448"], cli_home)
    assert r.returncode == 2 and "preston-combined-court-centre" in _one_line(r.stderr)
    pub, court = ingested_at(cli_home, tmp_path, "434")
    assert pub["court_code"] == MAIDSTONE_CROWN and court["fact_court_id"] == int(MAIDSTONE_CROWN)


# ------------------------------------------------------------------ 5. a time of day beside a heading label (Excel)
def test_xlsx_time_cell_in_the_heading_is_read_not_a_damaged_workbook(shared_cath):
    """A heading row 'Label | <a time cell>' above the table made the whole workbook 'not a readable
    .xlsx workbook (ValueError)' -- a lie about the file, and no place (`time.isoformat(' ')`).  CaTH's
    own non-strategic Excel example was refused so; it is refused now for what it is: no table in
    a declared layout, at sheet 1."""
    import datetime as dt

    from intake_helpers import DAILY, workbook

    data = workbook([["Crown Court Firm List"], ["Court", "Example Crown Court"], ["Doors open", dt.time(9, 30)],
                     ["List date", dt.datetime(2024, 3, 4)], DAILY,
                     ["1.1", "1", "10:00", "T1", "A B", "A", "B", 1, "Theft"]])
    pl = parse_xlsx(data, source_name="t.xlsx")
    assert pl.meta.list_type == "CROWN_FIRM_PDDA_LIST" and len(pl.hearings) == 1
    assert pl.meta.court_name == "Example Crown Court"
    example = (shared_cath / "examples" / "non-strategic" / "interim-applications-chd-daily-cause-list"
               / "interimApplicationsChanceryDivisionDailyCauseList.xlsx")
    with pytest.raises(Rejected) as e:
        parse_xlsx(example.read_bytes(), source_name=example.name)
    assert e.value.json_path == "sheet 1" and "no worksheet holds a table in a declared layout" in e.value.reason


# ------------------------------------------------------------------ 6. a saved web page given as a list
def test_html_page_saved_as_json_says_so():
    """'malformed JSON: unexpected character ... at line 1, column 1' -- and nothing saying why."""
    with pytest.raises(Rejected) as e:
        parse_document(b"<!DOCTYPE html>\n<html><body><h1>Court list</h1></body></html>", source_name="l.json")
    assert "malformed JSON" in e.value.reason and "line 1, column 1" in e.value.reason
    assert "HTML or XML" in e.value.reason
    with pytest.raises(Rejected) as e:
        parse_document(b'{"a": <b>}', source_name="l.json")
    assert "HTML" not in e.value.reason


def test_html_page_saved_as_csv_is_refused_for_its_markup():
    """It was 'unknown column (column 1)': the header row's cells were never checked for markup,
    as every other cell of a register is."""
    with pytest.raises(Rejected) as e:
        parse_csv(b"<html><body><table><tr><td>court</td></tr></table></body></html>\n", source_name="r.csv")
    assert e.value.json_path == "header, column 1" and "HTML" in e.value.reason
    with pytest.raises(Rejected) as e:
        parse_csv(REGISTER.replace("sitting_time", "<b>sitting_time</b>", 1).encode(), source_name="r.csv")
    assert e.value.json_path == "header, column 3" and "HTML" in e.value.reason


# ------------------------------------------------------------------ 7. file names that are not UTF-8
def test_file_names_that_are_not_utf8_are_ingested_and_reported(archive, keyring, tmp_path):
    """A list copied from a Windows share or a zip with a Latin-1 name ('caf\\xe9.csv'): the
    surrogates Linux gives for its bytes reached the database and the whole ingest stopped with a
    traceback (UnicodeEncodeError), the other files with it."""
    d = tmp_path / "in"
    d.mkdir()
    good = os.path.join(os.fsencode(d), b"register-caf\xe9.csv")
    bad = os.path.join(os.fsencode(d), b"list-caf\xe9.json")
    with open(good, "wb") as f:
        f.write(REGISTER.encode())
    with open(bad, "wb") as f:
        f.write(b"{nope")
    for workers in (1, 2):
        rep = ingest(archive, [d], keyring=keyring, workers=workers)
        assert rep.files == 2 and rep.accepted + rep.duplicates == 1
        assert [r["file"] for r in rep.rejected] == [f"{d}/list-caf\\xe9.json"]
        assert "malformed JSON" in rep.rejected[0]["reason"]
    [pub] = rows(archive, "publication")
    assert pub["source_name"] == f"{d}/register-caf\\xe9.csv"
    assert [q["source_name"] for q in rows(archive, "quarantine")] == [f"{d}/list-caf\\xe9.json"] * 2


# ------------------------------------------------------------------ 8. mail intake's lines, as ingest's
def test_mail_intake_lines_print_whole_when_output_is_not_a_terminal(messages, tmp_path, monkeypatch):
    """`intake maildir` wrapped its rejection and quarantine lines at 80 columns in a pipe or log."""
    from typer.testing import CliRunner

    from courtarchive.ingest.intake_cli import app
    from courtarchive.store import Archive

    root, _ = messages
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    Archive.open(db).init()
    prof = tmp_path / "profile.toml"
    prof.write_text('[intake]\nmail_senders = ["@justice.gov.uk", "@hmcts.net"]\n')
    monkeypatch.setenv("COURTARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COURTARCHIVE_KEY", "ab" * 32)
    monkeypatch.delenv("COLUMNS", raising=False)
    res = CliRunner().invoke(app, ["maildir", str(root), "--db", db, "--profile", str(prof)])
    assert res.exit_code == 1, res.output
    lines = res.output.splitlines()
    [rejected] = [x for x in lines if x.startswith("rejected mail:")]
    assert rejected.endswith("/broken.pdf: not a readable PDF (PdfminerException)") and len(rejected) > 80
    [quarantined] = [x for x in lines if x.startswith("quarantined message")]
    assert "gmail.com" in quarantined and len(quarantined) > 80
