"""`pipeline.read_sidecar` looks a list's sidecar up in its folder's listing (cached by the
folder's mtime) once the folder has been left unchanged a while, where it looked for
``<base>.meta.json`` on disk and stat'ed the folder once per name tried (two of each for a
``.json`` list without a sidecar).  The sidecars it finds are the same: checked here against that
code, kept as the reference, on a folder of every kind of sidecar, left unchanged or just written;
and a sidecar written in the same tick of the folder's clock as the listing is still found."""

from __future__ import annotations

import os
import time
from pathlib import Path

import orjson
import pytest

from courtarchive.ingest import pipeline
from courtarchive.ingest.pipeline import SIDECAR, read_sidecar


def _reference(f: Path) -> dict:
    """`read_sidecar` as it was: ``<base>.meta.json`` on disk, else the (cached) listing's other case."""
    def find(base: str) -> Path | None:
        exact = f.with_name(base + SIDECAR)
        if exact.exists():
            return exact
        names = {n[:-len(SIDECAR)]: n for n in os.listdir(f.parent) if pipeline.is_sidecar(n)}
        return f.with_name(names[base]) if base in names else None

    bases = ((f.stem,) if f.suffix.lower() == ".json" else ()) + (f.name,)
    for cand in map(find, bases):
        if cand is not None:
            return {str(k).lower(): v for k, v in orjson.loads(cand.read_bytes()).items()}
    return {}


#: list -> its sidecars (each holds its own name)
FOLDER = {
    "none.json": [], "none.pdf": [], "noext": [],
    "stem.json": ["stem.meta.json"], "upper.json": ["upper.META.JSON"], "mixed.json": ["mixed.Meta.Json"],
    "both.json": ["both.META.JSON", "both.meta.json"],          # as written, before another case
    "named.json": ["named.json.meta.json"], "namedup.json": ["namedup.json.META.JSON"],
    "two.json": ["two.json.meta.json", "two.meta.json"],          # the stem's first
    "list.pdf": ["list.pdf.Meta.JSON"], "LIST.JSON": ["LIST.meta.json"], "bare": ["bare.META.JSON"],
}


def _folder(root: Path) -> Path:
    root.mkdir()
    for name, sidecars in FOLDER.items():
        (root / name).write_bytes(b"{}")
        for s in sidecars:
            (root / s).write_bytes(orjson.dumps({"X-Which": s}))
    return root


@pytest.mark.parametrize("settled", [True, False])
def test_the_sidecars_found_are_the_reference_ones(tmp_path, settled):
    folder = _folder(tmp_path / "in")
    if settled:
        old = time.time() - 60
        os.utime(folder, (old, old))
    for _ in range(2):                  # the listing as cached too
        for name in FOLDER:
            f = folder / name
            assert read_sidecar(f) == _reference(f), name
    assert read_sidecar(folder / "both.json") == {"x-which": "both.meta.json"}
    assert read_sidecar(folder / "two.json") == {"x-which": "two.meta.json"}
    assert read_sidecar(folder / "none.json") == {}


def test_a_settled_folder_is_listed_once_and_no_name_is_looked_for(tmp_path, monkeypatch):
    folder = _folder(tmp_path / "in")
    old = time.time() - 60
    os.utime(folder, (old, old))
    looked, listed = [], []
    real_exists, real_listdir = Path.exists, os.listdir
    monkeypatch.setattr(Path, "exists", lambda self, *a, **k: looked.append(self.name) or real_exists(self, *a, **k))
    monkeypatch.setattr(pipeline.os, "listdir", lambda p: listed.append(p) or real_listdir(p))
    got = {name: read_sidecar(folder / name) for name in FOLDER}
    assert (looked, listed) == ([], [str(folder)])
    assert got["upper.json"] == {"x-which": "upper.META.JSON"} and got["none.json"] == {}


def test_a_sidecar_written_in_the_same_tick_as_the_listing_is_found(tmp_path):
    """The folder's mtime is left as it was when the sidecar comes (a coarse clock): the listing
    cached at that mtime does not hold it, and was taken too soon after the change to answer alone."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "late.json").write_bytes(b"{}")
    before = os.stat(folder).st_mtime_ns
    assert read_sidecar(folder / "late.json") == {}                      # listed (and cached) now
    (folder / "late.meta.json").write_bytes(orjson.dumps({"x-late": 1}))
    os.utime(folder, ns=(before, before))                                # the same tick
    assert read_sidecar(folder / "late.json") == {"x-late": 1}
