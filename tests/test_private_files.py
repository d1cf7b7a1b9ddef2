"""Files holding personal data are their owner's only: the SQLite archive (raw identities), the
exports cache (disclosed records) and the screening cache (names, dates of birth) -- like the key
file (0600).  They were written with the umask's 0644 in 0755 folders: readable by every account on
the machine."""

from __future__ import annotations

import os
import stat

import pytest

from test_governance_support import person, plant, viewers

from courtarchive.governance import distribution
from courtarchive.governance.profile import load
from courtarchive.governance.pseudonym import Keyring
from courtarchive.store import Archive


def _mode(p) -> int:
    return stat.S_IMODE(os.stat(p).st_mode)


@pytest.fixture(autouse=True)
def _open_umask():
    old = os.umask(0o022)           # (as a shell's: what made the files world-readable)
    yield
    os.umask(old)


def test_the_sqlite_archive_is_its_owners_only(tmp_path):
    db = tmp_path / "home" / "courtarchive.db"
    a = Archive.open(f"sqlite:///{db}")
    a.init()
    assert _mode(db) == 0o600
    for f in (str(db) + "-wal", str(db) + "-shm"):
        if os.path.exists(f):
            assert _mode(f) == 0o600, f
    a.close()


def test_the_exports_cache_is_its_owners_only(archive, tmp_path):
    plant(archive, people=[person()])
    home = tmp_path / "home"
    res = distribution.export(archive, [], viewers()["admin"], purpose="administration",
                              keyring=Keyring(bytes(range(32))), profile=load(), home=home)
    assert _mode(res["path"]) == 0o600
    assert _mode(res["path"].parent) == 0o700 and _mode(res["path"].parent.parent) == 0o700


def test_the_screening_cache_is_its_owners_only(archive, tmp_path):
    from test_person_caseless import _defendant_party, _persons

    from courtarchive.link import screen

    plant(archive, urn="06PV0000001", people=[person()])
    from courtarchive.link import model as M
    from courtarchive.store import linkage as sl

    _persons(archive, [_defendant_party(archive, "06PV0000001")])       # (a link run: the cache is per run)
    sl.finish_run(archive, sl.latest_run(archive)["id"], model=M.default_model(2))
    folder = tmp_path / "home" / "cache" / "screen"
    cand, _model = screen.candidates_from_archive(archive, cache_dir=folder)
    [cache] = list(folder.glob("candidates-run*.parquet"))
    assert cand.height >= 1
    assert _mode(cache) == 0o600 and _mode(folder) == 0o700


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_an_export_file_is_its_owners_only(archive, tmp_path, fmt):
    """`courtarchive export --out FILE` wrote the disclosed names and dates of birth with the
    umask's 0644: readable by every account on the machine."""
    from courtarchive.governance import accounts
    from courtarchive.serve.export import export_table

    plant(archive, people=[person()])
    accounts.add(archive, username="desk", role="admin", actor="setup", email="desk@example.org")
    out = tmp_path / f"party.{fmt}"
    res = export_table(archive, "party", fmt, out, viewer=accounts.viewer(archive, "desk"),
                       keyring=Keyring(bytes(range(32))), home=tmp_path / "home")
    assert res["rows"] >= 1 and out.stat().st_size > 0
    assert _mode(out) == 0o600
