"""The analysis cache (``<home>/cache/analyse``, `analyse.inputs.from_archive`) kept every
fingerprint's entry for ever: each change to the archive (a new list, an expiry, a link run) left
the previous entry behind -- derived inputs never read again, defendants keyed by name and date of
birth among them.  Writing an entry now shreds the entries of other fingerprints.  Synthetic data
(`test_governance_support.plant`)."""

from __future__ import annotations

import datetime as dt

import pytest

from courtarchive.analyse import inputs as I
from courtarchive.governance import hooks
from test_governance_support import person, plant


def _entries(cache):
    return sorted(p.name for p in cache.iterdir() if p.name != hooks.PURGE_MARK) if cache.exists() else []


@pytest.fixture
def cache(tmp_path):
    return hooks.analysis_cache_dir(tmp_path / "home")


def test_a_new_entry_shreds_the_stale_one(archive, cache, monkeypatch):
    plant(archive, date=dt.date(2024, 3, 4))
    first = I.from_archive(archive, cache_dir=cache)
    assert first.timings["cache"] == "miss"
    [old] = _entries(cache)
    old_files = sorted((cache / old).iterdir())
    assert old_files
    assert I.from_archive(archive, cache_dir=cache).timings["cache"] == "hit"    # unchanged: reused

    plant(archive, date=dt.date(2024, 3, 5), people=[person(forenames="Ottoline", surname="FRAMPINGTON")])
    shredded = []
    real = hooks.shred
    monkeypatch.setattr(hooks, "shred", lambda p: shredded.append(p) or real(p))    # the purge hook's shredding
    assert I.from_archive(archive, cache_dir=cache).timings["cache"] == "miss"
    [new] = _entries(cache)
    assert new != old and not (cache / old).exists()
    assert set(old_files) <= set(shredded)           # overwritten, not only unlinked
    assert I.from_archive(archive, cache_dir=cache).timings["cache"] == "hit"


def test_the_same_fingerprint_for_another_engine_and_unfinished_entries_stay(archive, cache):
    plant(archive)
    I.from_archive(archive, cache_dir=cache)
    [entry] = _entries(cache)
    fp = entry.rsplit("-", 1)[-1]
    other_engine = cache / f"inputs-spark-{fp}"                      # current: another engine's
    writing = cache / f"inputs-duckdb-{'0' * 24}.12345.tmp"          # another analysis, still writing
    stale = cache / f"inputs-spark-{'f' * 24}"
    for d in (other_engine, writing, stale):
        d.mkdir()
        (d / "meta.json").write_text("{}")
    hooks.shred_tree(cache / entry)                                   # the same fingerprint written again
    assert I.from_archive(archive, cache_dir=cache).timings["cache"] == "miss"
    assert _entries(cache) == sorted([entry, other_engine.name, writing.name])
