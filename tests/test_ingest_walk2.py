"""Ingest, walked again (four defects noticed and left alone in earlier sessions).  Synthetic data
only (the generator's lists, placeholder names); each test failed on the code before its fix.

1. ``intake maildir|imap --list-type TYPO`` rejected every attachment and marked the messages
   Seen (never read again once the typo was put right): now refused before any message is read.
2. A PDF or Excel copy of a list already held as CaTH JSON (same list type, court, content date,
   publication time and version) superseded the JSON: the JSON stays current, in either order.
3. A Crown court code several courts share (448: two court centres in Preston) resolved to the
   first court of the reference table: now the court the list names, else Rejected.
4. ``ingest --list-type X FOLDER`` walked the folder three times (check, count, ingest): once.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import os
from pathlib import Path

import orjson
import pytest

from courtarchive.generate.render_pdf import parse_json_list, render_pdf
from courtarchive.generate.render_xlsx import render_xlsx
from courtarchive.ingest import gate
from courtarchive.ingest.errors import Rejected
from courtarchive.ingest.mail import intake_maildir, poll_imap
from courtarchive.ingest.pipeline import content_hash, ingest, iter_input_files

from test_intake_mail import SENDERS, corpus, imap_server, messages  # noqa: F401  (fixtures)
from test_walk_cli_small import REGISTER, _one_line
from test_walk_ingest import _cli, cli_home  # noqa: F401  (cli_home: a fixture)

TYPO = "MAGISTRATES_STANDRD_LIST"


def _rows(archive, name: str) -> list[dict]:
    return archive.to_arrow(name).to_pylist()


# ====================================================================== 1. mail --list-type TYPO
def _unread(root: Path) -> list[str]:
    return sorted(os.listdir(root / "new"))


def test_maildir_list_type_typo_is_refused_before_any_message_is_read(archive, keyring, messages):
    root, _ = messages
    before = _unread(root)
    with pytest.raises(Rejected) as e:
        intake_maildir(archive, root, keyring=keyring, senders=SENDERS, list_type=TYPO)
    assert e.value.reason.startswith(f"--list-type: {TYPO} is not a CaTH list type (did you mean "
                                     "MAGISTRATES_STANDARD_LIST")
    assert _unread(root) == before and os.listdir(root / "cur") == []      # nothing marked Seen
    st = archive.stats()
    assert (st["publications"], st["quarantined"]) == (0, 0)
    # put right, the same messages are read
    assert intake_maildir(archive, root, keyring=keyring, senders=SENDERS).ingest.accepted == 3


def test_maildir_cli_list_type_typo_exits_2_with_one_line(cli_home, messages):
    root, _ = messages
    before = _unread(root)
    r = _cli(["intake", "maildir", root, "--list-type", TYPO], cli_home)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    line = _one_line(r.stderr)
    assert line.startswith(f"error: --list-type: {TYPO} is not a CaTH list type (did you mean "
                           "MAGISTRATES_STANDARD_LIST") and "only a CaTH list type can be given" in line
    assert _unread(root) == before and os.listdir(root / "cur") == []
    # a register's list type name of its own cannot be told from a typo before the attachments are read
    r = _cli(["intake", "maildir", root, "--list-type", "magistrates register"], cli_home)
    assert r.returncode == 2 and _unread(root) == before


def _flags(srv) -> list[set]:
    return [set(m["flags"]) for m in srv.folders["INBOX"]]


def test_imap_list_type_typo_is_refused_before_anything_is_fetched(archive, keyring, imap_server, cli_home):
    srv, _ = imap_server
    port = srv.server_address[1]
    with pytest.raises(Rejected):
        poll_imap(archive, "127.0.0.1", "desk", "s3cret", keyring=keyring, port=port, ssl=False,
                  senders=SENDERS, list_type=TYPO)
    assert _flags(srv) == [set()] * 3 and archive.stats()["publications"] == 0
    r = _cli(["intake", "imap", "--host", "127.0.0.1", "--port", port, "--no-ssl", "--user", "desk",
              "--list-type", TYPO], dict(cli_home, COURTARCHIVE_IMAP_PASSWORD="s3cret"))
    assert r.returncode == 2 and f"--list-type: {TYPO} is not a CaTH list type" in _one_line(r.stderr)
    assert _flags(srv) == [set()] * 3 and len(srv.folders["INBOX"]) == 3     # still unseen, not moved
    # a CaTH list type (one without a PDF/Excel layout too: JSON attachments can take it) is not refused
    report = poll_imap(archive, "127.0.0.1", "desk", "s3cret", keyring=keyring, port=port, ssl=False,
                       senders=SENDERS, list_type="MAGISTRATES_STANDARD_LIST")
    assert len(report.messages) == 3


# ====================================================================== corpus of synthetic lists
@pytest.fixture(scope="module")
def lists(tmp_path_factory) -> Path:
    """A generated corpus holding magistrates' and Crown lists (JSON, each with its sidecar)."""
    from courtarchive.generate.driver import generate

    out = tmp_path_factory.mktemp("walk2")
    generate(out, cases=30, seed=3, years=1, workers=0)
    return out / "lists"


def _first(lists: Path, suffix: str) -> Path:
    return next(p for p in sorted(lists.rglob(f"*_{suffix}.json")))


# ====================================================================== 2. PDF / Excel copies of a JSON list
@pytest.fixture
def copies(lists, tmp_path) -> dict[str, Path]:
    """One magistrates' standard list as CaTH JSON (with its sidecar) and its PDF and Excel copies,
    each in a folder of its own."""
    src = _first(lists, "MAGISTRATES_STANDARD_LIST")
    parsed = parse_json_list(src)
    out = {}
    for fmt, data in (("json", src.read_bytes()), ("pdf", render_pdf(parsed)), ("xlsx", render_xlsx(parsed))):
        d = tmp_path / fmt
        d.mkdir()
        out[fmt] = d / f"list.{fmt}"
        out[fmt].write_bytes(data)
    (tmp_path / "json" / "list.meta.json").write_bytes(src.with_name(src.stem + ".meta.json").read_bytes())
    return out


def _current(archive) -> list[dict]:
    pubs = _rows(archive, "publication")
    assert len({(p["list_type"], p["court_id"], p["content_date"], p["published_at"]) for p in pubs}) == 1, pubs
    return [p for p in pubs if p["superseded_by"] is None]


@pytest.mark.parametrize("order", [("json", "pdf", "xlsx"), ("pdf", "json", "xlsx"), ("xlsx", "pdf", "json")])
def test_a_pdf_or_excel_copy_never_supersedes_the_json(archive, keyring, copies, order):
    for fmt in order:
        assert ingest(archive, [copies[fmt]], keyring=keyring).accepted == 1
    current = _current(archive)
    assert [p["source_format"] for p in current] == ["cath-json"]
    others = [p for p in _rows(archive, "publication") if p["superseded_by"] is not None]
    # the copies are kept with their provenance, as copies of the JSON (not current: counted once)
    assert sorted(p["source_format"] for p in others) == ["pdf", "xlsx"]
    assert {p["superseded_by"] for p in others} == {current[0]["id"]}
    assert all(p["source_name"].endswith(f"list.{p['source_format']}") for p in others)
    st = archive.stats()
    assert (st["publications"], st["publications_superseded"]) == (3, 2)


def test_copies_in_one_run_and_one_by_one_end_the_same(archive, keyring, copies):
    """In one group write (`_supersede_group`), and a copy stored alone after it (`_supersede`,
    the path mail intake takes)."""
    rep = ingest(archive, [copies["pdf"], copies["json"]], keyring=keyring)
    assert rep.accepted == 2
    parsed = parse_json_list(copies["json"])
    parsed.meta.source_format = "xlsx"                     # the Excel copy, as the parser makes it
    gate.apply(parsed, keyring)
    assert archive.write(parsed, content_hash=content_hash(copies["xlsx"].read_bytes())).status == "accepted"
    assert [p["source_format"] for p in _current(archive)] == ["cath-json"]


def test_a_later_pdf_still_supersedes_the_json(archive, keyring, copies, tmp_path):
    """A copy published later is a later version, whatever its format."""
    parsed = parse_json_list(copies["json"])
    parsed.meta.published_at += dt.timedelta(hours=2)
    later = tmp_path / "later.pdf"
    later.write_bytes(render_pdf(parsed))
    ingest(archive, [copies["json"]], keyring=keyring)
    ingest(archive, [later], keyring=keyring)
    pubs = {p["source_format"]: p for p in _rows(archive, "publication")}
    assert pubs["pdf"]["superseded_by"] is None and pubs["cath-json"]["superseded_by"] == pubs["pdf"]["id"]


# ====================================================================== 3. a Crown court code several courts share
PRESTON_COMBINED, PRESTON_SESSIONS = 1479408, 1479799        # Crown Court code 448, both in Preston
BURNLEY_COMBINED, LANCASTER = 1479470, 1479402               # Crown Court code 409


def _crown_list(lists: Path, folder: Path, code: int, name: str) -> Path:
    """A generated Crown daily list whose court (the list's and every sitting's) is given as
    ``code`` and ``name`` only (no sidecar: no x-court-id, no postcode)."""
    doc = orjson.loads(_first(lists, "CROWN_DAILY_PDDA_LIST").read_bytes())
    doc = copy.deepcopy(doc)
    root = doc["DailyList"]
    for house in [root["CrownCourt"]] + [cl["CourtHouse"] for cl in root["CourtLists"]]:
        house["CourtHouseCode"], house["CourtHouseName"] = code, name
        house.get("CourtHouseAddress", {}).pop("PostCode", None)
    folder.mkdir(exist_ok=True)
    f = folder / f"crown-{code}-{len(list(folder.iterdir()))}.json"
    f.write_bytes(orjson.dumps(doc))
    return f


def _fact_ids(archive) -> tuple[set[int], set[int]]:
    """FaCT ids of the courts of the publications and of the hearings stored."""
    fact = {c["id"]: c["fact_court_id"] for c in _rows(archive, "court")}
    return ({fact.get(p["court_id"]) for p in _rows(archive, "publication")},
            {fact.get(h["court_id"]) for h in _rows(archive, "hearing")})


def test_a_shared_crown_code_the_list_does_not_tell_is_rejected(archive, keyring, lists, tmp_path):
    f = _crown_list(lists, tmp_path / "in", 448, "Preston Crown Court")
    rep = ingest(archive, [f], keyring=keyring)
    assert rep.accepted == 0 and len(rep.rejected) == 1
    reason = rep.rejected[0]["reason"]
    assert reason.startswith("court code 448 is the Crown Court code of 2 courts (")
    for fact_id, slug in ((PRESTON_COMBINED, "preston-combined-court-centre"),
                          (PRESTON_SESSIONS, "preston-crown-court-and-family-court-sessions-house")):
        assert f"{fact_id} or {slug}" in reason
    assert "--court-id" in reason and "x-court-id" in reason
    assert [q["reason"] for q in archive.quarantined()] == [reason]
    assert archive.stats()["publications"] == 0


@pytest.mark.parametrize("code, name, meant", [
    (448, "Preston Crown Court and Family Court (Sessions House)", PRESTON_SESSIONS),   # the table's name
    (448, "PRESTON COMBINED COURT CENTRE", PRESTON_COMBINED),
    (409, "The Crown Court at Lancaster", LANCASTER),                                    # the town it names
    (409, "Burnley Crown Court", BURNLEY_COMBINED),
])
def test_a_shared_crown_code_is_the_court_the_list_names(archive, keyring, lists, tmp_path, code, name, meant):
    f = _crown_list(lists, tmp_path / "in", code, name)
    assert ingest(archive, [f], keyring=keyring).accepted == 1
    assert _fact_ids(archive) == ({meant}, {meant})


def test_a_shared_crown_code_is_the_court_x_court_id_gives(archive, keyring, lists, tmp_path):
    """The way the rejection says: the list's court given, every sitting at code 448 is that court."""
    f = _crown_list(lists, tmp_path / "in", 448, "Preston Crown Court")
    rep = ingest(archive, [f], keyring=keyring, headers={"x-court-id": str(PRESTON_SESSIONS)})
    assert rep.accepted == 1, rep.rejected
    assert _fact_ids(archive) == ({PRESTON_SESSIONS}, {PRESTON_SESSIONS})


# ====================================================================== 4. one walk of the folders
def test_ingest_with_list_type_walks_each_folder_once(cli_home, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from courtarchive.serve.cli import app

    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "reg.csv").write_text(REGISTER, encoding="utf-8")
    (folder / "sub" / "reg2.csv").write_text(REGISTER.replace("Courtroom 1", "Courtroom 2"), encoding="utf-8")
    for k in ("COURTARCHIVE_HOME", "COLUMNS"):
        monkeypatch.setenv(k, cli_home[k])
    monkeypatch.delenv("COURTARCHIVE_DB", raising=False)
    listed: list[str] = []
    scandir = os.scandir

    def counting(path="."):
        listed.append(os.fspath(path))
        return scandir(path)

    monkeypatch.setattr(os, "scandir", counting)
    r = CliRunner().invoke(app, ["ingest", str(folder), "--list-type", "magistrates register", "--workers", "1",
                                 "--json"])
    monkeypatch.setattr(os, "scandir", scandir)
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout[r.stdout.index("{"):])["accepted"] == 2
    walked = [p for p in listed if p.startswith(str(folder))]
    assert sorted(walked) == [str(folder), str(folder / "sub")]       # each folder listed once (was 3 times)


def test_input_files_give_the_walk_again_without_holding_it(tmp_path):
    """The one walk's files, in order, however they are named (a newline, bytes that are not UTF-8)."""
    from courtarchive.ingest.pipeline import InputFiles

    folder = tmp_path / "in"
    (folder / "b").mkdir(parents=True)
    names = ["a.json", "line\nbreak.csv", "b/c.pdf", "b/c.pdf.meta.json", "notes.txt",
             os.fsdecode(b"caf\xe9.xlsx")]
    for n in names:
        (folder / n).write_bytes(b"x")
    named = tmp_path / "list"                                            # no extension: read as CaTH JSON
    named.write_bytes(b"{}")
    with InputFiles([folder, named]) as files:
        want = list(iter_input_files([folder, named]))
        assert list(files) == want and list(files) == want               # iterated twice: the same
        assert len(files) == len(want) == 5
        assert files.formats == {"cath-json", "csv", "pdf", "xlsx"}
