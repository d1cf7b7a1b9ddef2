"""Bulk name screening (issue 10 §4): reading the spreadsheet, the engine against planted people,
and the governed path (role check, disclosure through the gate, audit, export registration)."""

from __future__ import annotations

import datetime as dt
import random

import polars as pl
import pytest
from typer.testing import CliRunner

from courtarchive.link import screen as S
from courtarchive.link import synthetic
from courtarchive.link.model import default_model

from test_governance_support import PURPOSE, person, plant, viewers


# --------------------------------------------------------------------------- reading the file
def test_read_csv_with_aliases_and_dates(tmp_path):
    f = tmp_path / "names.csv"
    f.write_text("First Name,Last Name,DOB,Town\nJohn,SMITH,14/07/1988,Preston\n\nJane,DOE,,\n", "utf-8")
    rows = S.read_names(f)
    assert rows["row"].to_list() == [2, 4]                         # spreadsheet rows; the blank line skipped
    assert rows["surname"].to_list() == ["SMITH", "DOE"]
    assert rows["date_of_birth"].to_list() == [dt.date(1988, 7, 14), None]
    assert rows["town"].to_list() == ["Preston", None]


def test_read_xlsx_full_name_column(tmp_path):
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Name", "Date of birth"])
    ws.append(["SMITH, John Paul", dt.datetime(1988, 7, 14)])
    ws.append(["Mary JONES", None])
    f = tmp_path / "names.xlsx"
    wb.save(f)
    rows = S.read_names(f)
    assert rows["name_as_listed"].to_list() == ["SMITH, John Paul", "Mary JONES"]
    assert rows["date_of_birth"].to_list() == [dt.date(1988, 7, 14), None]


def test_first_and_last_headers_and_a_surname_only_sheet(tmp_path):
    """'First' / 'Last' headers were not recognised (the sheet was refused as having no name
    column); a sheet of surnames alone is screened, and the refusal of a sheet with neither says so."""
    f = tmp_path / "names.csv"
    f.write_text("First,Last\nJohn,SMITH\n", "utf-8")
    rows = S.read_names(f)
    assert rows["forenames"].to_list() == ["John"] and rows["surname"].to_list() == ["SMITH"]
    f.write_text("Surname\nSMITH\n", "utf-8")
    assert S.read_names(f)["surname"].to_list() == ["SMITH"]
    f.write_text("Forenames\nJohn\n", "utf-8")
    with pytest.raises(S.ScreeningError, match="or a 'surname' column"):
        S.read_names(f)


@pytest.mark.parametrize("content,message", [
    ("Town,Postcode\nPreston,PR1 1AA\n", "needs a 'name' column"),
    ("name,dob\nJohn SMITH,31/02/1990\n", "row 2, column date_of_birth"),
    ("name\n1234\n", "row 2: no name"),
    ("name\n", "no names to screen"),
    ("", "empty"),
])
def test_bad_input_names_row_and_column(tmp_path, content, message):
    f = tmp_path / "bad.csv"
    f.write_text(content, "utf-8")
    with pytest.raises(S.ScreeningError, match=message):
        S.read_names(f)


def test_not_utf8_or_not_a_spreadsheet(tmp_path):
    f = tmp_path / "latin1.csv"
    f.write_bytes("name\nJos\xe9 GARC\xcdA\n".encode("latin-1"))
    with pytest.raises(S.ScreeningError, match="UTF-8"):
        S.read_names(f)
    g = tmp_path / "names.xlsx"
    g.write_bytes(b"not a zip")
    with pytest.raises(S.ScreeningError, match="Excel"):
        S.read_names(g)
    (tmp_path / "x.pdf").write_bytes(b"%PDF-1.4")
    with pytest.raises(S.ScreeningError, match=".csv or .xlsx"):
        S.read_names(tmp_path / "x.pdf")


# --------------------------------------------------------------------------- the engine
@pytest.fixture(scope="module")
def population():
    m = pl.from_arrow(synthetic.mentions(6000, seed=5))
    cand = S.standardise_candidates(m.drop("true_id").to_arrow(),
                                    m.select(pl.col("party_id").alias("mention_id"),
                                             pl.col("true_id").alias("person_id")).to_arrow())
    return m, cand


def test_engine_finds_planted_people_with_typos_and_no_dob(population):
    m, cand = population
    rnd = random.Random(3)
    picks = (m.filter(pl.col("forenames").str.len_chars() > 1).sample(fraction=1.0, shuffle=True, seed=3)
             .unique("true_id", keep="first").head(120))
    recs, truth = [], {}
    for i, r in enumerate(picks.iter_rows(named=True)):
        sn = r["surname"]
        if i % 4 == 0 and len(sn) > 4:                       # a transposition typo
            j = rnd.randrange(1, len(sn) - 2)
            sn = sn[:j] + sn[j + 1] + sn[j] + sn[j + 2:]
        fn, sn = (sn, r["forenames"]) if i % 10 == 5 else (r["forenames"], sn)     # swapped order
        recs.append({"row": i + 2, "forenames": fn, "middle_names": None, "surname": sn, "name_as_listed": None,
                     "date_of_birth": r["date_of_birth"] if i % 2 else None, "town": None, "postcode": None})
        truth[i + 2] = r["true_id"]
    recs.append({"row": 999, "forenames": "Zebedee", "middle_names": None, "surname": "QUIXLEY-ABERNATHY",
                 "name_as_listed": None, "date_of_birth": dt.date(1901, 1, 1), "town": None, "postcode": None})
    rows = pl.DataFrame(recs, schema=S.ROW_SCHEMA)
    res = S.screen(rows, cand, default_model(cand.height), threshold=0.01, top=5)
    found = set(zip(res["row"].to_list(), res["person_id"].to_list()))
    recall = sum((r, p) in found for r, p in truth.items()) / len(truth)
    assert recall >= 0.95, recall
    assert res.filter(pl.col("row") == 999).height == 0       # nobody of that name
    assert (res["rank"] >= 1).all() and (res["match_probability"] >= 0.01).all()
    with_dob = [r for r in truth if r % 2 == 1]               # rows with a date of birth: their person ranks first
    first = set(zip(res.filter(pl.col("rank") == 1)["row"].to_list(), res.filter(pl.col("rank") == 1)["person_id"].to_list()))
    assert sum((r, truth[r]) in first for r in with_dob) / len(with_dob) >= 0.9


def test_prefilter_changes_no_score(population, monkeypatch):
    """Handing Splink only the blockable archive mentions (with the term frequencies it would have
    computed) gives exactly the scores of handing it all of them."""
    m, cand = population
    picks = m.filter(pl.col("forenames").str.len_chars() > 1).unique("true_id", keep="first").sort("true_id").head(60)
    rows = pl.DataFrame([{"row": i + 2, "forenames": r["forenames"], "middle_names": None,
                          "surname": r["surname"][:-1] + "x" if i % 3 == 0 else r["surname"], "name_as_listed": None,
                          "date_of_birth": r["date_of_birth"] if i % 2 else None, "town": None, "postcode": None}
                         for i, r in enumerate(picks.iter_rows(named=True))], schema=S.ROW_SCHEMA)
    model = default_model(cand.height)
    fast = S.screen(rows, cand, model, threshold=0.0, top=50)
    assert len(S._blockable(S.M.model_input(cand.to_arrow()), S.M.model_input(
        pl.from_arrow(S.standardise(S._as_mentions(rows, dt.date.today()))).to_arrow()))) < cand.height
    monkeypatch.setattr(S, "_blockable", lambda a, q: a["unique_id"].combine_chunks())
    full = S.screen(rows, cand, model, threshold=0.0, top=50)
    key = ["row", "person_id", "party_id"]
    assert fast.height == full.height > 0
    j = fast.join(full, on=key, how="full", coalesce=True)
    assert j.height == fast.height
    assert ((j["match_weight"] - j["match_weight_right"]).abs() < 1e-9).all()


def test_engine_empty_inputs(population):
    _, cand = population
    rows = pl.DataFrame([{"row": 2, "forenames": "A", "surname": "B"}], schema=S.ROW_SCHEMA)
    assert S.screen(rows, cand.head(0), default_model(10)).height == 0
    assert S.screen(rows.head(0), cand, default_model(10)).height == 0


# --------------------------------------------------------------------------- governed path
@pytest.fixture
def screened_archive(archive, tmp_path):
    from courtarchive.link.run import run

    # one list per court and day (a later list of the same court and day supersedes the earlier)
    plant(archive, people=[person(forenames="Zebedee", surname="QUIXLEY")], date=dt.date(2024, 3, 4))
    plant(archive, people=[person(forenames="Zeb", surname="QUIXLEY", dob=None)], date=dt.date(2024, 3, 11))
    plant(archive, people=[person(forenames="Ptolemy", surname="WRENFIELD", dob=dt.date(2008, 5, 1), age=17)],
          detail="Section 45 of the Youth Justice and Criminal Evidence Act 1999",
          list_type="CROWN_DAILY_LIST", court="Preston Crown Court", date=dt.date(2025, 5, 20))
    plant(archive, people=[person(forenames="Hortensia", surname="BLACKWOOD-PRYCE", dob=dt.date(1979, 2, 3),
                                  postcode="BB1 1AA", town="Blackburn")], date=dt.date(2024, 3, 18))
    run(archive, full=True)
    f = tmp_path / "names.csv"
    f.write_text("forenames,surname,date_of_birth\nZebedee,QUIXLEY,1988-07-14\nPtolemy,WRENFIELD,\n"
                 "Hortensia,BLACKWOOD-PRICE,\nNobody,NOWHERE-ATALL,\n", "utf-8")
    return archive, S.read_names(f)


def _governed(archive, rows, role, tmp_path, fmt="csv"):
    from courtarchive.governance.profile import load
    from courtarchive.governance.pseudonym import Keyring

    now = dt.datetime(2025, 6, 1, 12, 0)
    return S.screen_archive(archive, rows, viewers(now)[role], purpose=PURPOSE[role], keyring=Keyring(bytes(range(32))),
                            profile=load(home=tmp_path), home=tmp_path, fmt=fmt, now=now)


@pytest.mark.parametrize("role", ["public", "analyst"])
def test_roles_that_do_not_see_identities_may_not_screen(screened_archive, tmp_path, role):
    archive, rows = screened_archive
    with pytest.raises(PermissionError):
        _governed(archive, rows, role, tmp_path)
    assert not list(tmp_path.rglob("export-*"))                       # nothing written


def test_verified_media_gets_candidates_disclosed_audited_and_registered(screened_archive, tmp_path):
    import sqlalchemy as sa

    from courtarchive.store.tables import TABLES

    archive, rows = screened_archive
    res = _governed(archive, rows, "verified_media", tmp_path)
    text = res["path"].read_text("utf-8")
    lines = text.splitlines()
    assert lines[0].startswith("# ") and res["watermark"] in lines[0]
    assert "QUIXLEY" in text and "BLACKWOOD-PRYCE" in text          # found, with the typo'd surname too
    assert "WRENFIELD" not in text.split("\n", 2)[2].replace("Ptolemy WRENFIELD", "")   # only the name entered
    assert "2008-05-01" not in text                                  # the s.45 youth's identity is withheld
    # ... and he is no candidate at all: no person, case, court or probability for the name typed
    # (that would confirm "Ptolemy WRENFIELD is in the archive, case N" as surely as his name)
    youth = [t for t in res["table"] if t["name_entered"] == "Ptolemy WRENFIELD"]
    assert youth == [{"row": 3, "name_entered": "Ptolemy WRENFIELD", "rank": None, "person_id": None,
                      "match_probability": None, "match_weight": None}], youth
    assert not [t for t in res["table"] if "withheld" in t]
    ranks = {}
    for t in res["table"]:
        if t["rank"] is not None:
            ranks.setdefault(t["row"], []).append(t["rank"])
    assert all(sorted(v)[0] == 1 for v in ranks.values()), ranks
    assert res["rows"] == 4 and res["rows_with_matches"] >= 2
    body = lines[2:]
    nobody = [x for x in body if x.startswith("5,")]
    assert nobody and nobody[0].split(",")[2] == ""                  # row 5: no candidate
    with archive.engine.connect() as c:
        ex = c.execute(sa.select(TABLES["export_record"]).where(TABLES["export_record"].c.what == "screening")).all()
        ev = c.execute(sa.select(TABLES["audit_event"]).where(TABLES["audit_event"].c.actor == "reporter")).all()
    assert len(ex) == 1 and ex[0].username == "reporter"
    assert ev                                                        # the disclosure was audited


def test_xlsx_output(screened_archive, tmp_path):
    import openpyxl

    archive, rows = screened_archive
    res = _governed(archive, rows, "admin", tmp_path, fmt="xlsx")
    ws = openpyxl.load_workbook(res["path"], read_only=True).worksheets[0]
    values = [r for r in ws.iter_rows(values_only=True)]
    assert values[0][0] == res["watermark"] and "row" in values[1]
    assert any("QUIXLEY" in str(v) for r in values[2:] for v in r)


def test_cli_screen(screened_archive, tmp_path, monkeypatch):
    from courtarchive.governance import accounts
    from courtarchive.serve.cli import app

    archive, _ = screened_archive
    monkeypatch.setenv("COURTARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COURTARCHIVE_KEY", bytes(range(32)).hex())
    accounts.add(archive, username="ed", role="verified_media", actor="dpo", email="ed@paper.example",
                 organisation="The Paper")
    accounts.verify(archive, username="ed", press_card="UKPC-9", verified_by="desk.editor")
    f = tmp_path / "n.csv"
    f.write_text("name\nZebedee QUIXLEY\n", "utf-8")
    url = archive.url
    r = CliRunner().invoke(app, ["screen", str(f), "--as", "ed", "--db", url, "--json"])
    assert r.exit_code == 0, r.output
    assert '"rows_with_matches": 1' in r.stdout, r.stdout
    r = CliRunner().invoke(app, ["screen", str(f), "--as", "nobody-known", "--db", url])
    assert r.exit_code == 3 and "refused" in r.output
    from courtarchive.store import governance as sg

    [ev] = [e for e in sg.audit_events(archive, action="refused") if e["actor"] == "nobody-known"]
    assert ev["details"]["command"] == "screen" and ev["role"] == "public"
    bad = tmp_path / "bad.csv"
    bad.write_text("town\nPreston\n", "utf-8")
    r = CliRunner().invoke(app, ["screen", str(bad), "--as", "ed", "--db", url])
    assert r.exit_code == 2 and "needs a 'name' column" in r.output
    for opt, val in (("--threshold", "2"), ("--threshold", "-1"), ("--top", "0")):
        r = CliRunner().invoke(app, ["screen", str(f), "--as", "ed", "--db", url, opt, val])
        assert r.exit_code == 2 and "Traceback" not in r.output and "Invalid value" in r.output, r.output
    # an admin screens for administration (the role's own purpose) without saying so; a purpose
    # the role has no identities for is refused with the ones it has
    accounts.add(archive, username="boss", role="admin", actor="dpo", email="boss@paper.example")
    r = CliRunner().invoke(app, ["screen", str(f), "--as", "boss", "--db", url, "--json"])
    assert r.exit_code == 0 and '"rows_with_matches": 1' in r.stdout, r.output
    r = CliRunner().invoke(app, ["screen", str(f), "--as", "boss", "--db", url, "--purpose", "journalism"])
    assert r.exit_code == 3 and "only for" in r.output and "'administration'" in r.output, r.output
    r = CliRunner().invoke(app, ["screen", str(f), "--as", "boss", "--db", url, "--purpose", "marketing"])
    assert r.exit_code == 2 and "unknown purpose 'marketing'" in r.output, r.output      # no such purpose at all


def test_write_table_xlsx_replaces_control_characters(tmp_path):
    """A name with a control character (possible through the JSON API) still gives a workbook."""
    import openpyxl

    from courtarchive.link.screen import write_table

    p = tmp_path / "r.xlsx"
    write_table([{"row": 1, "name_entered": "John\x01 SMITH", "rank": None}], p, "xlsx", watermark="wm")
    ws = openpyxl.load_workbook(p).active
    assert [c.value for c in ws[3]] == [1, "John\ufffd SMITH", None]


@pytest.mark.parametrize("how", ["expire", "erase", "rectify"])
def test_expiry_erasure_and_rectification_shred_the_screening_cache(screened_archive, tmp_path, how):
    """The candidate cache (``<home>/cache/screen``) is a copy of every defendant mention's names,
    date of birth, postcode, ASN: an expiry, erasure or rectification left it on disk with the old
    values (found walking governance: Jake Barlow-Kay's date of birth and postcode in
    candidates-run1.parquet after `expire` and `rights erase`)."""
    from courtarchive.governance import retention, rights
    from courtarchive.governance.profile import load
    from courtarchive.governance.pseudonym import Keyring

    archive, rows = screened_archive
    _governed(archive, rows, "verified_media", tmp_path)
    cache = tmp_path / "cache" / "screen"
    [f] = list(cache.glob("candidates-run*.parquet"))
    assert "quixley" in pl.read_parquet(f)["sn"].to_list()
    keyring, prof = Keyring(bytes(range(32))), load(home=tmp_path)
    if how == "expire":
        retention.expire(archive, keyring=keyring, profile=prof, as_of=dt.date(2026, 1, 1), actor="dpo",
                         home=tmp_path, compact=False)
    else:
        req = rights.open_request(archive, kind="erasure" if how == "erase" else "rectification",
                                  name="Zebedee QUIXLEY", dob=dt.date(1988, 7, 14), keyring=keyring, actor="dpo")
        rights.decide(archive, req["id"], decision="comply", reasons="checked", actor="dpo")
        if how == "erase":
            rights.erase(archive, keyring=keyring, actor="dpo", request_id=req["id"], profile=prof, home=tmp_path,
                         compact=False)
        else:
            rights.rectify(archive, req["party_ids"][:1], field="surname", value="QUIXLEIGH", actor="dpo",
                           request_id=req["id"], profile=prof, home=tmp_path)
    from courtarchive.governance.hooks import PURGE_MARK

    assert not [p for p in cache.iterdir() if p.is_file() and p.name != PURGE_MARK], list(cache.iterdir())
    # the next screening builds it again from what the archive now holds
    _governed(archive, rows, "verified_media", tmp_path)
    [f] = list(cache.glob("candidates-run*.parquet"))
    if how != "rectify":
        assert "quixley" not in pl.read_parquet(f)["sn"].to_list()


def test_a_cache_written_while_a_purge_ran_is_not_kept(screened_archive, tmp_path, monkeypatch):
    """A screening that read the mentions before an expiry and wrote its cache after the expiry's
    purge kept the expired names and dates of birth on disk: the purge rewrites a mark first, and a
    cache written across a change of mark is dropped."""
    from courtarchive.governance import hooks

    archive, rows = screened_archive
    folder = tmp_path / "cache" / "screen"
    real = S.standardise_candidates

    def read_then_purge(*a, **kw):
        out = real(*a, **kw)           # the mentions as they were ...
        hooks.screening_cache(hooks.ExpiryEvent(archive, None, "expire", dt.datetime.now(), party_ids=[1],
                                                home=tmp_path))    # ... then an expiry's purge
        return out

    monkeypatch.setattr(S, "standardise_candidates", read_then_purge)
    cand, _ = S.candidates_from_archive(archive, cache_dir=folder)
    assert cand.height > 0                                  # this screening still uses them, once
    assert not list(folder.glob("candidates-run*.parquet")), list(folder.iterdir())
    monkeypatch.setattr(S, "standardise_candidates", real)
    S.candidates_from_archive(archive, cache_dir=folder)    # no purge meanwhile: kept
    assert len(list(folder.glob("candidates-run*.parquet"))) == 1


def test_unverified_media_is_told_the_verification_is_missing(screened_archive, tmp_path):
    """A verified_media account without a valid press-card check was refused as "cub (public) may
    not screen names for purpose 'public_interest'": a purpose never given, a role never granted."""
    from courtarchive.governance.policy import Verification, Viewer
    from courtarchive.governance.profile import load
    from courtarchive.governance.pseudonym import Keyring

    archive, rows = screened_archive
    now = dt.datetime(2025, 6, 1, 12, 0)
    stale = Verification(press_card="UKPC-1", employer="The Paper", verified_by="desk", verified_at=now - dt.timedelta(days=400))
    for v in (Viewer("cub", "verified_media", organisation="The Paper"),
              Viewer("cub", "verified_media", organisation="The Paper", verification=stale)):
        with pytest.raises(PermissionError) as e:
            S.screen_archive(archive, rows, v, purpose="journalism", keyring=Keyring(bytes(range(32))),
                             profile=load(home=tmp_path), home=tmp_path, now=now)
        assert "no valid press-card verification" in str(e.value) and "account verify cub" in str(e.value)
        assert "public_interest" not in str(e.value)
    assert not list(tmp_path.rglob("export-*"))
