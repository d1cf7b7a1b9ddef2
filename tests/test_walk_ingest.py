"""Defects found walking the ingest / store / export side as a newsroom user would (README and
docs/csv-format.md, docs/intake-layouts.md followed literally).  Each test failed on the code
before its fix."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from courtarchive.ingest.cath import check_headers
from courtarchive.ingest.csv_register import parse_csv
from courtarchive.ingest.errors import Rejected
from courtarchive.ingest.pipeline import ingest
from courtarchive.ingest.xlsx import parse_xlsx

from intake_helpers import DAILY, workbook as _book

REPO = Path(__file__).resolve().parents[1]
REGISTER = (REPO / "docs" / "examples" / "register.csv").read_text(encoding="utf-8")


def _register_with(column: str, value: str) -> bytes:
    """The documented example register, its first data row's `column` set to `value`."""
    lines = REGISTER.splitlines()
    import csv

    rows = list(csv.reader(io.StringIO("\n".join(lines[:2]) + "\n")))
    rows[1][rows[0].index(column)] = value
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue().encode()


# ------------------------------------------------------------------ CSV: ages in non-ASCII digits
@pytest.mark.parametrize("age", ["²", "٣٣", "1²"])
def test_csv_age_in_non_ascii_digits_is_a_cell_rejection(age):
    """'²'.isdigit() is True but int('²') raises: the register was 'rejected' as an internal parser
    error (ValueError) instead of naming row and column."""
    with pytest.raises(Rejected) as e:
        parse_csv(_register_with("age", age), source_name="r.csv")
    assert e.value.json_path == "row 2, column age" and "age" in e.value.reason


def test_xlsx_whole_number_in_non_ascii_digits_is_a_cell_rejection():
    """Same in a declared layout (Excel/PDF): the workbook was refused as 'not a readable .xlsx
    workbook (ValueError)' -- a lie about the file, and no place."""
    header = ["No.", "Court room", "Sitting at", "Case number", "Defendant", "Forename(s)", "Surname", "Count",
              "Offence"]
    data = _book([["Crown Court Firm List"], header, ["1.1", "1", "10:00", "T1", "A B", "A", "B", "²", "Theft"]])
    with pytest.raises(Rejected) as e:
        parse_xlsx(data, source_name="n.xlsx")
    assert e.value.json_path == "sheet Register row 3, column Count" and "whole number" in e.value.reason


# ------------------------------------------------------------------ PDF/Excel: heading facts are cells too
ROW = ["1.1", "1", "10:00", "T1", "A B", "A", "B", 1, "Theft"]


@pytest.mark.parametrize("label, value, why", [
    ("Court", "<b>Example Crown Court</b>", "HTML"),
    ("Court code", "<script>x</script>", "HTML"),
    ("Version", "<i>2</i>", "HTML"),
    ("Court postcode", "PR1 <br/>", "HTML"),
])
def test_html_in_a_heading_fact_is_rejected(label, value, why):
    """docs/intake-layouts.md: 'HTML markup or a NUL character in a cell' refuses the file.  A heading
    fact (Court, Court code, Version, Court postcode) with markup was stored as the court's name."""
    data = _book([["Crown Court Firm List"], [label, value], ["List date", "04/03/2024"], DAILY, ROW])
    with pytest.raises(Rejected) as e:
        parse_xlsx(data, source_name="h.xlsx")
    assert e.value.json_path == f"heading, {label}" and why in e.value.reason


def test_plain_heading_facts_still_read():
    data = _book([["Crown Court Firm List"], ["Court", "Example Crown Court"], ["Version", "2 <draft>"],
                  ["List date", "04/03/2024"], DAILY, ROW])
    pl = parse_xlsx(data, source_name="ok.xlsx")
    assert pl.meta.court_name == "Example Crown Court" and pl.meta.version == "2 <draft>"


# ------------------------------------------------------------------ CaTH headers (options, sidecars)
@pytest.mark.parametrize("headers, where, why", [
    ({"x-provenance": "a\x00b"}, "header x-provenance", "NUL"),
    ({"x-court-id": "\x00"}, "header x-court-id", "NUL"),
    ({"x-provenance": "<script>alert(1)</script>"}, "header x-provenance", "HTML"),
    ({"x-source-artefact-id": ["a", "b"]}, "header x-source-artefact-id", "not array"),
    ({"x-court-id": {"id": 1}}, "header x-court-id", "not object"),
])
def test_bad_header_values_are_rejected_at_the_header(headers, where, why):
    """A sidecar value with a NUL reached the store (PostgreSQL: 'store refused the document
    (DataError ...)'; SQLite: stored), HTML was stored as provenance, a JSON array was stored as its
    Python repr "['a', 'b']"."""
    with pytest.raises(Rejected) as e:
        check_headers(headers)
    assert e.value.json_path == where and why in e.value.reason


def test_plain_header_values_still_pass():
    import datetime as dt

    h = check_headers({"x-court-id": 1479819, "x-provenance": "COMMON_PLATFORM", "x-content-date": dt.date(2024, 3, 4),
                       "x-sensitivity": "public", "x-something-else": ["ignored"]})
    assert h["court_id"] == "1479819" and h["content_date"] == dt.date(2024, 3, 4) and h["sensitivity"] == "PUBLIC"


def ingest_register_with_sidecar(archive, keyring, tmp_path, headers: dict):
    """The example register, with ``headers`` in its sidecar (``tmp_path/in``), through the pipeline:
    its report."""
    d = tmp_path / "in"
    d.mkdir(exist_ok=True)
    (d / "reg.csv").write_text(REGISTER, encoding="utf-8")
    (d / "reg.csv.meta.json").write_text(json.dumps(headers))
    return ingest(archive, [d], keyring=keyring)


def test_sidecar_with_nul_is_quarantined_not_a_store_error(archive, keyring, tmp_path):
    """Through the pipeline, on both backends: one-line header rejection, quarantined, nothing written."""
    rep = ingest_register_with_sidecar(archive, keyring, tmp_path, {"x-provenance": "desk\u0000copy"})
    assert rep.accepted == 0 and len(rep.rejected) == 1
    assert rep.rejected[0]["json_path"] == "header x-provenance" and "store refused" not in rep.rejected[0]["reason"]
    st = archive.stats()
    assert st["publications"] == 0 and st["quarantined"] == 1


# ------------------------------------------------------------------ the command line
def _cli(args, env):
    return subprocess.run([sys.executable, "-m", "courtarchive.serve.cli", *map(str, args)], env=env,
                          capture_output=True, text=True)


@pytest.fixture
def cli_home(tmp_path):
    env = dict(os.environ, COURTARCHIVE_HOME=str(tmp_path / "home"), COLUMNS="250")
    env.pop("COURTARCHIVE_DB", None)
    r = _cli(["init"], env)
    assert r.returncode == 0, r.stderr
    return env


@pytest.mark.parametrize("value", ["abc", "-1", "0", "nan", "inf"])
def test_bad_max_file_mb_is_one_line_not_a_traceback(cli_home, tmp_path, value):
    """COURTARCHIVE_MAX_FILE_MB=abc gave a Python traceback; -1 rejected every file 'over the
    -1048576-byte limit' (and quarantined them all)."""
    (tmp_path / "reg.csv").write_text(REGISTER, encoding="utf-8")
    r = _cli(["ingest", str(tmp_path / "reg.csv")], dict(cli_home, COURTARCHIVE_MAX_FILE_MB=value))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr and "COURTARCHIVE_MAX_FILE_MB" in r.stderr
    st = json.loads(_cli(["stats", "--json"], cli_home).stdout)
    assert st["quarantined"] == 0 and st["publications"] == 0


def test_case_shows_withheld_names_and_bracketed_text(cli_home, tmp_path):
    """`case` as the public: the table printed 'defendant:  (...)' -- the '[withheld]' marker was eaten
    as Rich markup, as is any '[...]' in listed data (a name, a room)."""
    reg = tmp_path / "reg.csv"
    reg.write_text(REGISTER.replace("Courtroom 1", "Room [annexe]"), encoding="utf-8")
    r = _cli(["ingest", str(reg), "--sensitivity", "PUBLIC"], cli_home)
    assert r.returncode == 0, r.stderr
    r = _cli(["case", "42AB1234567", "--as", "nobody"], cli_home)
    assert r.returncode == 0, r.stderr
    assert "[withheld]" in r.stdout and "defendant:  " not in r.stdout
    assert "[annexe]" in r.stdout


def test_rejection_reasons_keep_their_brackets(cli_home, tmp_path):
    """A rejected file's name or reason with '[...]' lost that text on the console."""
    bad = tmp_path / "list [copy].json"
    bad.write_text("{nope")
    r = _cli(["ingest", str(bad)], cli_home)
    assert r.returncode == 1 and "list [copy].json" in r.stderr.replace("\n", "")


def test_intake_reason_keeps_intake_section_name(tmp_path, monkeypatch):
    """`intake maildir`: 'licence profile's [intake] mail_senders' was printed as "licence profile's
    mail_senders" (Rich ate '[intake]')."""
    from email.message import EmailMessage

    from typer.testing import CliRunner

    from courtarchive.ingest.intake_cli import app
    from courtarchive.store import Archive

    root = tmp_path / "md"
    for sub in ("new", "cur", "tmp"):
        (root / sub).mkdir(parents=True)
    m = EmailMessage()
    m["From"], m["To"], m["Message-ID"] = "someone@elsewhere.example", "desk@paper.example", "<q1@elsewhere.example>"
    m.set_content("list attached")
    m.add_attachment(REGISTER.encode(), maintype="text", subtype="csv", filename="reg.csv")
    (root / "new" / "1.host").write_bytes(bytes(m))
    db = f"sqlite:///{tmp_path / 'm.db'}"
    Archive.open(db).init()
    monkeypatch.setenv("COURTARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COURTARCHIVE_KEY", "ab" * 32)
    monkeypatch.setenv("COLUMNS", "250")
    res = CliRunner().invoke(app, ["maildir", str(root), "--db", db])
    assert res.exit_code == 1
    assert "[intake] mail_senders" in res.output


@pytest.mark.parametrize("args", [["stats"], ["stats", "--json"], ["ingest", "nothing.json"], ["case", "42AB1234567"],
                                  ["export", "--out", "x.csv"]])
def test_uninitialised_archive_is_one_line_not_a_traceback(tmp_path, args):
    """Before `init`: stats / ingest / case / export printed a StoreError traceback."""
    env = dict(os.environ, COURTARCHIVE_HOME=str(tmp_path / "fresh"), COLUMNS="250")
    env.pop("COURTARCHIVE_DB", None)
    r = _cli(args, env)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "courtarchive init" in r.stderr


def test_export_to_a_folder_or_nowhere_is_refused_in_one_line(cli_home, tmp_path):
    """`export --out FOLDER` wrote the export record and its staging copy, then died with
    IsADirectoryError; an unwritable place gave a FileNotFoundError traceback."""
    assert _cli(["account", "add", "desk", "--role", "admin", "--email", "desk@example.org"], cli_home).returncode == 0
    (tmp_path / "reg.csv").write_text(REGISTER, encoding="utf-8")
    assert _cli(["ingest", str(tmp_path / "reg.csv")], cli_home).returncode == 0
    folder = tmp_path / "out"
    folder.mkdir()
    r = _cli(["export", "--format", "csv", "--out", str(folder), "--as", "desk"], cli_home)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "folder" in r.stderr     # bad input
    assert not any(folder.iterdir())
    blocker = tmp_path / "afile"
    blocker.write_text("x")
    r = _cli(["export", "--format", "csv", "--out", str(blocker / "h.csv"), "--as", "desk"], cli_home)
    assert r.returncode == 1 and "Traceback" not in r.stderr and "cannot write" in r.stderr
    ok = _cli(["export", "--format", "csv", "--out", str(folder / "h.csv"), "--as", "desk"], cli_home)
    assert ok.returncode == 0 and (folder / "h.csv").exists()


def test_sidecars_named_by_a_shell_glob_are_not_lists(archive, keyring, tmp_path):
    """`courtarchive ingest lists/*.json` names each list's `.meta.json` too: every sidecar was
    'rejected ... not a known list type', quarantined, and the exit code was 1."""
    reg = tmp_path / "reg.csv"
    reg.write_text(REGISTER, encoding="utf-8")
    side = tmp_path / "reg.csv.meta.json"
    side.write_text(json.dumps({"x-sensitivity": "PUBLIC"}))
    rep = ingest(archive, [reg, side], keyring=keyring)
    assert rep.files == 1 and rep.accepted == 1 and rep.rejected == []
    assert archive.stats()["quarantined"] == 0


def test_xlsx_date_in_a_time_column_is_not_read_as_midnight():
    """An Excel date typed in 'Sitting at' was stored as sitting time 00:00."""
    import datetime as dt

    data = _book([["Crown Court Firm List"], ["List date", "04/03/2024"], DAILY,
                  ["1.1", "1", dt.datetime(2024, 3, 4), "T1", "A B", "A", "B", 1, "Theft"]])
    with pytest.raises(Rejected) as e:
        parse_xlsx(data, source_name="t.xlsx")
    assert e.value.json_path == "sheet Register row 4, column Sitting at" and "not a time" in e.value.reason
    ok = _book([["Crown Court Firm List"], ["List date", "04/03/2024"], DAILY,
                ["1.1", "1", dt.time(10, 30), "T1", "A B", "A", "B", 1, "Theft"],
                ["2.1", "1", dt.datetime(2024, 3, 4, 14, 0), "T2", "C D", "C", "D", 1, "Theft"]])
    assert [h.sitting_time for h in parse_xlsx(ok, source_name="ok.xlsx").hearings] == ["10:30", "14:00"]


def test_export_holds_the_current_version_of_each_list_unless_asked(cli_home, tmp_path):
    """An export read whole tables: a list and its later version were both in it (a re-issued
    register counted twice, nothing in the rows to tell them apart); `--all-versions` asks for
    them.  What the gate withheld is said, and a purpose the policy does not know is refused."""
    import pyarrow.csv as pacsv

    assert _cli(["account", "add", "desk", "--role", "admin", "--email", "desk@example.org"], cli_home).returncode == 0
    first = tmp_path / "reg.csv"
    first.write_text(REGISTER, encoding="utf-8")
    again = tmp_path / "reg-v2.csv"             # the same court and day, re-issued: supersedes the first
    again.write_text(REGISTER + REGISTER.splitlines()[-1] + "\n", encoding="utf-8")
    assert _cli(["ingest", str(first), str(again)], cli_home).returncode == 0
    stats = json.loads(_cli(["stats", "--json"], cli_home).stdout)

    def rows(*extra):
        out = tmp_path / "h.csv"
        r = _cli(["export", "--what", "hearing", "--format", "csv", "--out", str(out), "--as", "desk", *extra], cli_home)
        assert r.returncode == 0, r.stderr
        return pacsv.read_csv(out).num_rows, r.stderr

    current, said = rows()
    assert current == stats["hearings"]
    every, _ = rows("--all-versions")
    assert every > current
    r = _cli(["export", "--out", str(tmp_path / "x.csv"), "--as", "desk", "--purpose", "nonsense"], cli_home)
    assert r.returncode == 2 and "unknown purpose" in r.stderr and not (tmp_path / "x.csv").exists()
    r = _cli(["export", "--what", "party", "--format", "csv", "--out", str(tmp_path / "p.csv"), "--as", "desk",
              "--purpose", "journalism"], cli_home)
    assert r.returncode == 0 and "only for: " in r.stderr          # an admin's names are for administration
    # an analyst may receive exports but not CLASSIFIED lists (a register's default): said, with the rule
    assert _cli(["account", "add", "ana", "--role", "analyst", "--email", "ana@example.org"], cli_home).returncode == 0
    r = _cli(["export", "--what", "hearing", "--format", "csv", "--out", str(tmp_path / "a.csv"), "--as", "ana"],
             cli_home)
    assert r.returncode == 0 and "withheld by the disclosure gate" in r.stderr and "publication_sensitivity" in r.stderr


@pytest.mark.parametrize("var, value", [("COURTARCHIVE_MAX_FILE_MB", "abc"), ("COURTARCHIVE_SMTP_PORT", "twenty-five")])
def test_a_bad_setting_is_one_line_for_every_command(cli_home, var, value):
    """Settings are read by every command (the archive's URL is one): a malformed one was a
    traceback everywhere but in `ingest`."""
    r = _cli(["stats"], dict(cli_home, **{var: value}))
    assert r.returncode == 2 and "Traceback" not in r.stderr and var in r.stderr and "bad configuration" in r.stderr
