"""Where ingest time goes: read+hash, parse, gate and store timed separately, one process.

    uv run python bench/ingest_profile.py CORPUS_LISTS_DIR [--files 2000] [--db URL] [--cprofile]

Parses and gates every file first (timing each stage), then writes them all with the
store's writer (timing the write side on its own), so the figures do not mix.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import tempfile
import time
from pathlib import Path

from courtarchive.governance.pseudonym import Keyring
from courtarchive.ingest import gate, pipeline
from courtarchive.store import Archive


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("lists", type=Path)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--db")
    ap.add_argument("--cprofile", choices=["parse", "write"])
    ap.add_argument("--sort", default="cumulative")
    ap.add_argument("--per-file", action="store_true", help="Writer.write per file (the old path)")
    a = ap.parse_args()
    files = list(pipeline.iter_input_files([a.lists]))[: a.files]
    kr = Keyring(bytes(range(32)))
    t = dict(read=0.0, parse=0.0, gate=0.0, write=0.0)
    docs = []
    prof = cProfile.Profile(time.process_time)
    for f in files:
        t0 = time.perf_counter()
        data = f.read_bytes()
        h = pipeline.content_hash(data)
        headers = pipeline.read_sidecar(f)
        t1 = time.perf_counter()
        if a.cprofile == "parse":
            prof.enable()
        parsed = pipeline.parse_file(data, source_name=f.name, headers=headers, list_type=None,
                                     fmt="cath-json", max_bytes=1 << 28)
        t2 = time.perf_counter()
        gate.apply(parsed, kr)
        if a.cprofile == "parse":
            prof.disable()
        t3 = time.perf_counter()
        parsed.meta.source_name = str(f)
        docs.append((parsed, h))
        t["read"] += t1 - t0
        t["parse"] += t2 - t1
        t["gate"] += t3 - t2
    entries = sum(len(p.hearings) for p, _ in docs)
    url = a.db or f"sqlite:///{tempfile.mkdtemp()}/profile.db"
    arch = Archive.open(url)
    arch.init()
    t0 = time.perf_counter()
    c0 = time.process_time()
    if a.cprofile == "write":
        prof.enable()
    with arch.writer() as w:
        if a.per_file:
            for parsed, h in docs:
                w.write(parsed, content_hash=h)
        else:
            for parsed, h in docs:
                w.add(parsed, content_hash=h)
            w.flush()
    if a.cprofile == "write":
        prof.disable()
    t["write"] = time.perf_counter() - t0
    t["write_cpu"] = time.process_time() - c0
    print(f"{len(files)} files, {entries} entries, "
          f"{sum(len(p.offences) for p, _ in docs)} offences, {sum(len(p.parties) for p, _ in docs)} parties")
    for k, v in t.items():
        print(f"  {k:6s} {v:7.2f} s  {v / entries * 1e6:7.1f} us/entry  {entries / v:9,.0f} entries/s")
    if a.cprofile:
        pstats.Stats(prof).sort_stats(a.sort).print_stats(35)


if __name__ == "__main__":
    main()
