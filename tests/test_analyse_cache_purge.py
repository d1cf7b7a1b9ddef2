"""The analysis cache (``<home>/cache/analyse``, `analyse.inputs.from_archive`) after an expiry,
erasure or rectification.  It keeps the derived inputs: the mentions' links and, without a link
run, defendants keyed ``N:surname|forenames|date of birth`` and complainants ``T:token``.  It
outlived all three: no derived-store hook purged it, and its fingerprint (the publications' state
and the link run) did not move with an erasure or a rectification, so the next analysis read the
old values back -- names and dates of birth in clear past the date they had to go.  Also here:
`link run` says what the complainant stage kept from the previous run."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import stat

import polars as pl
import pyarrow as pa
import pyarrow.ipc
import pytest
from typer.testing import CliRunner

from courtarchive.analyse import inputs as I
from courtarchive.store import Archive
from test_link_complainants_expiry import ADAM, BARRY, _expire as _expire_lists, _listing, rare  # noqa: F401

KEY = bytes(range(32))
#: the generated lists run 2019-2020: by this day every one of them has expired
LATER = "2030-01-01"
ANALYSIS_HOOK = "courtarchive.governance.hooks:analysis_cache"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """A small generated corpus ingested into a SQLite archive (no link run: the analysis keys
    defendants by name and date of birth), and a copy of it linked."""
    gen = pytest.importorskip("courtarchive.generate")
    from courtarchive.governance import accounts
    from courtarchive.governance.pseudonym import Keyring
    from courtarchive.ingest.pipeline import ingest
    from courtarchive.link.run import run as link_run

    root = tmp_path_factory.mktemp("analyse_cache")
    gen.generate(root / "corpus", cases=60, seed=11, years=2)
    unlinked = root / "unlinked.db"
    a = Archive.open(f"sqlite:///{unlinked}")
    a.init()
    rep = ingest(a, [root / "corpus" / "lists"], keyring=Keyring(KEY), workers=1)
    assert not rep.as_dict()["rejected"]
    accounts.add(a, username="desk", role="admin", actor="test", email="desk@example.org")
    a.close()
    linked = root / "linked.db"
    shutil.copyfile(unlinked, linked)
    b = Archive.open(f"sqlite:///{linked}")
    link_run(b, full=True)
    b.close()
    return {"names": unlinked, "linkage": linked}


@pytest.fixture
def cli(corpus, tmp_path, monkeypatch):
    """The real `courtarchive` app on a copy of an archive (``cli.use("linkage")`` for the linked
    one), its home in ``tmp_path / "home"``."""
    from courtarchive.serve.cli import app

    monkeypatch.setenv("COURTARCHIVE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COURTARCHIVE_KEY", KEY.hex())
    for k in ("COURTARCHIVE_PROFILE", "COURTARCHIVE_USER", "COURTARCHIVE_KEY_FILE"):
        monkeypatch.delenv(k, raising=False)

    def run(*args, code=0):
        r = CliRunner().invoke(app, [str(x) for x in args])
        assert r.exit_code == code, (args, r.output, r.exception)
        assert "Traceback" not in r.output
        return r

    def use(which: str) -> str:
        db = tmp_path / f"{which}.db"
        shutil.copyfile(corpus[which], db)
        run.url = f"sqlite:///{db}"
        monkeypatch.setenv("COURTARCHIVE_DB", run.url)
        return run.url

    run.use = use
    run.cache = tmp_path / "home" / "cache" / "analyse"
    use("names")
    return run


def _subject(url: str) -> dict:
    """A defendant listed in one case both with a date of birth and without one: their name, date
    of birth, and the analysis's key for the dated mentions (``surname|forenames|dob``)."""
    a = Archive.open(url)
    p = pl.from_arrow(a.to_arrow("party", columns=["case_id", "role", "surname", "forenames", "date_of_birth"],
                                 current_only=True))
    a.close()
    p = p.filter((pl.col("role") == "DEFENDANT") & pl.col("surname").str.contains(r"^[A-Za-z]+$")
                 & pl.col("forenames").str.contains(r"^[A-Za-z]+$"))
    both = (p.group_by("case_id", "surname", "forenames")
            .agg(pl.col("date_of_birth").is_null().any().alias("undated"), pl.col("date_of_birth").drop_nulls().first())
            .filter(pl.col("undated") & pl.col("date_of_birth").is_not_null()).sort("case_id"))
    assert both.height, "the corpus has no defendant listed both with and without a date of birth"
    s = both.row(0, named=True)
    return {"name": f"{s['forenames']} {s['surname']}", "dob": s["date_of_birth"].isoformat(),
            "key": f"{s['surname'].lower()}|{s['forenames'].lower()}|{s['date_of_birth'].isoformat()}"}


def _holding(folder, text: str) -> list[str]:
    """The files under ``folder`` that hold ``text``: in their bytes, or in any string column of a
    Parquet or Arrow file decoded (Parquet pages are compressed: their bytes would not show it)."""
    found = []
    for f in sorted(folder.rglob("*")) if folder.exists() else []:
        if not f.is_file():
            continue
        raw = f.read_bytes()
        if raw[:4] == b"PAR1":
            t = pl.read_parquet(f)
        elif raw[:6] == b"ARROW1":
            t = pl.from_arrow(pa.ipc.open_file(f).read_all())
        else:
            t = pl.DataFrame()
        strings = [v for c in t.columns if t[c].dtype == pl.Utf8 for v in t[c].drop_nulls()]
        if text.encode() in raw or any(text in v for v in strings):
            found.append(str(f.relative_to(folder)))
    return found


def _analyse(cli, tmp_path, *extra) -> tuple[dict, str]:
    """`courtarchive analyse` as an admin sees it: (findings without what differs between two runs
    of the same data, the cache's use)."""
    r = cli("analyse", "--out", tmp_path / "out", "--scope", "all", "--json", "--no-report", "--as", "desk",
            "--min-cell", "0", *extra)
    f = json.loads(r.stdout)
    cache = f.pop("timings")["cache"]
    f.pop("generated_at")
    f["disclosure"].pop("audit_seq")
    return f, cache


def _open(cli, kind: str, s: dict) -> dict:
    req = json.loads(cli("rights", "open", "--kind", kind, "--name", s["name"], "--dob", s["dob"], "--json").stdout)
    cli("rights", "decide", req["id"], "--decision", "comply", "--reasons", "checked with the subject")
    return req


def _expire(cli, s) -> None:
    cli("expire", "--now", LATER, "--actor", "dpo")


def _erase(cli, s) -> None:
    cli("rights", "erase", _open(cli, "erasure", s)["id"], "--actor", "dpo")


def _rectify(cli, s) -> None:
    """The date of birth listed with the subject's dated mentions is wrong: cleared (the case then
    has one defendant of that name, not two)."""
    req = _open(cli, "rectification", s)
    assert req["party_ids"]
    cli("rights", "rectify", req["id"], *(x for p in req["party_ids"] for x in ("--party", p)),
        "--field", "date_of_birth", "--clear", "--actor", "dpo")


CHANGES = {"expire": _expire, "erase": _erase, "rectify": _rectify}


@pytest.mark.parametrize("how", list(CHANGES))
def test_expiry_erasure_and_rectification_purge_the_analysis_cache(cli, tmp_path, how):
    """After `courtarchive expire`, `rights erase` or `rights rectify` the cache held the subject's
    name and date of birth in clear (the expired or erased entry stayed beside the new one; an
    erasure or rectification left the fingerprint as it was, and the next analysis read the old
    inputs back: its findings were those before the change)."""
    s = _subject(cli.url)
    before, used = _analyse(cli, tmp_path)
    assert used == "miss"
    assert _holding(cli.cache, s["key"])            # (what the cache holds without a link run)
    CHANGES[how](cli, s)
    assert _holding(cli.cache, s["key"]) == []
    after, used = _analyse(cli, tmp_path)
    assert used == "miss"
    fresh, used = _analyse(cli, tmp_path, "--no-cache")
    assert used == "off"
    assert after == fresh and fresh != before       # the findings are those of the archive as it now is
    assert _holding(cli.cache, s["key"]) == []      # (and the cache made again holds no old value)


@pytest.mark.parametrize("mode, how", [("names", "erase"), ("names", "rectify"), ("linkage", "erase")])
def test_a_cache_made_before_a_change_is_not_read_where_no_hook_purged_it(cli, tmp_path, mode, how):
    """A cache the hooks do not know of (here one kept outside the home folder, as a notebook
    would keep it) is not read after an erasure or rectification: the fingerprint covers the last
    of them.  It was read back: the erased or corrected names and, with a link run, the offence
    dates of the erased mentions' wordings."""
    url = cli.use(mode)
    s = _subject(url)
    elsewhere = tmp_path / "notebook-cache"
    a = Archive.open(url)
    first = I.from_archive(a, cache_dir=elsewhere)
    assert first.linkage["source"] == mode and first.timings["cache"] == "miss"
    assert I.from_archive(a, cache_dir=elsewhere).timings["cache"] == "hit"
    CHANGES[how](cli, s)
    again = I.from_archive(a, cache_dir=elsewhere)
    fresh = I.from_archive(a)
    a.close()
    assert again.timings["cache"] == "miss"
    tables = ("cases", "case_defendants", "case_offences", "offence_complainants")
    for name in tables:
        assert getattr(again.inputs, name).equals(getattr(fresh.inputs, name)), name
    assert not all(getattr(first.inputs, name).equals(getattr(fresh.inputs, name)) for name in tables)


def test_a_profile_written_before_the_cache_hooks_still_purges_them(cli, tmp_path):
    """A licence profile that lists its hooks replaces the default list: one written before the
    screening and analysis caches had hooks does not name them, and an expiry left both caches."""
    home = tmp_path / "home"
    home.mkdir(parents=True, exist_ok=True)
    (home / "profile.toml").write_text('[derived_stores]\nhooks = [\n'
                                       '    "courtarchive.governance.hooks:exports_cache",\n'
                                       '    "courtarchive.governance.hooks:linkage_inputs",\n'
                                       '    "courtarchive.serve.search:governance_hook",\n'
                                       '    "courtarchive.serve.alerts:governance_hook",\n]\n', "utf-8")
    s = _subject(cli.url)
    _analyse(cli, tmp_path)
    assert _holding(cli.cache, s["key"])
    rep = json.loads(cli("expire", "--now", LATER, "--actor", "dpo", "--json").stdout)
    assert rep["derived_stores"][ANALYSIS_HOOK]["purged"] >= 5
    assert "courtarchive.governance.hooks:screening_cache" in rep["derived_stores"]
    assert [p.name for p in cli.cache.rglob("*")] == ["purged"]


def test_an_analysis_that_read_the_archive_before_a_purge_does_not_keep_its_cache(cli, tmp_path, monkeypatch):
    """An analysis that read the mentions before an expiry and wrote its cache after the expiry's
    purge would keep the expired names on disk: the purge rewrites a mark first, and a cache
    written across a change of mark is dropped (as screening's is)."""
    from courtarchive.governance import hooks

    home = tmp_path / "home"
    a = Archive.open(cli.url)
    real = I.build_inputs

    def derive_then_purge(*args, **kw):
        out = real(*args, **kw)        # the mentions as they were ...
        hooks.analysis_cache(hooks.ExpiryEvent(a, None, "expire", dt.datetime.now(), party_ids=[1], home=home))
        return out                     # ... then an expiry's purge

    monkeypatch.setattr(I, "build_inputs", derive_then_purge)
    data = I.from_archive(a, cache_dir=hooks.analysis_cache_dir(home))
    assert data.inputs.cases.height > 0                         # this analysis still uses them, once
    assert [p.name for p in cli.cache.rglob("*")] == ["purged"]
    monkeypatch.setattr(I, "build_inputs", real)
    I.from_archive(a, cache_dir=hooks.analysis_cache_dir(home))    # no purge meanwhile: kept
    assert I.from_archive(a, cache_dir=hooks.analysis_cache_dir(home)).timings["cache"] == "hit"
    a.close()


def test_the_analysis_cache_is_its_owners_only(cli, tmp_path):
    """The cache holds defendants' names and dates of birth: its files were written with the
    umask's 0644 in a 0755 folder, readable by every account on the machine."""
    old = os.umask(0o022)
    try:
        _analyse(cli, tmp_path)
    finally:
        os.umask(old)
    files = [p for p in cli.cache.rglob("*") if p.is_file()]
    assert len(files) == len(I._CACHE_TABLES) + 1
    for p in files:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
    for d in [cli.cache, *(p for p in cli.cache.rglob("*") if p.is_dir())]:
        assert stat.S_IMODE(d.stat().st_mode) == 0o700, d


# --------------------------------------------------------------------------- link run says what it kept
# (``archive``: conftest's, on SQLite and, with COURTARCHIVE_TEST_PG, on PostgreSQL)


def _link_run(db_url) -> str:
    from courtarchive.serve.cli import app

    r = CliRunner().invoke(app, ["link", "run", "--db", db_url])
    assert r.exit_code == 0, (r.output, r.exception)
    return " ".join(r.output.split())


def test_link_run_says_how_many_complainant_mentions_it_kept(archive, db_url, tmp_path, monkeypatch, rare):
    """The complainant stage keeps a previous person whose evidence expired (`kept_from_previous_run`):
    the run's report said so, `courtarchive link run` did not."""
    monkeypatch.setenv("COURTARCHIVE_KEY", KEY.hex())
    monkeypatch.setenv("COURTARCHIVE_HOME", str(tmp_path / "home"))
    _listing(archive, dt.date(2019, 3, 4), "U1", ADAM)
    _listing(archive, dt.date(2019, 4, 4), "U2", BARRY)
    assert "kept in the person" not in _link_run(db_url)
    _expire_lists(archive, tmp_path)
    out = _link_run(db_url)
    assert ("2 mentions kept in the person the previous run gave them (linked while the evidence, since "
            "expired, was in clear)") in out, out


def test_link_run_says_why_it_kept_nothing(archive, db_url, tmp_path, monkeypatch, rare):
    """A previous run by another cross-case rule: nothing is kept (`nothing_kept`), and the
    command said nothing of it."""
    from courtarchive.link import run as R

    monkeypatch.setenv("COURTARCHIVE_KEY", KEY.hex())
    monkeypatch.setenv("COURTARCHIVE_HOME", str(tmp_path / "home"))
    _listing(archive, dt.date(2019, 3, 4), "U1", ADAM, wording="Sexually assaulted [complainant]")
    _listing(archive, dt.date(2019, 4, 4), "U2", BARRY, wording="Sexually assaulted [complainant]")
    R.run(archive, full=True, complainant_rule="name")
    _expire_lists(archive, tmp_path)
    out = _link_run(db_url)
    assert "no previous link kept: the previous run linked by the name rule" in out, out
