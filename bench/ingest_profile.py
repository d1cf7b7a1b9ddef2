"""Where ingest time goes: read+hash, parse, gate and store timed separately, one process.

    uv run python bench/ingest_profile.py CORPUS_LISTS_DIR [--files 2000] [--db URL] [--bulk] [--cprofile]

Parses and gates every file first (timing each stage), then writes them all with the
store's writer (timing the write side on its own), so the figures do not mix.  Wall time and CPU
time (`time.process_time`, the figure that holds on a shared box) are printed per stage; "pickle"
is the worker -> writer trip (`pipeline.dump_result` + `load_result`, both sides, one process).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import pickle
import pstats
import tempfile
import time
from pathlib import Path

from courtarchive.governance.pseudonym import Keyring
from courtarchive.ingest import gate, pipeline
from courtarchive.store import Archive, bulk


# the gate's memos, as `ingest.pipeline` uses them (before they existed: nothing)
MEMO = {"memo": True} if hasattr(gate, "forget") else {}
# the trip from a parser worker to the writer (pickle before pipeline.dump_result existed)
dump_result = getattr(pipeline, "dump_result", lambda r: pickle.dumps(r, protocol=pickle.HIGHEST_PROTOCOL))
load_result = getattr(pipeline, "load_result", pickle.loads)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("lists", type=Path)
    ap.add_argument("--files", type=int, default=2000)
    ap.add_argument("--db")
    ap.add_argument("--cprofile", choices=["parse", "gate", "parse+gate", "write"])
    ap.add_argument("--sort", default="cumulative")
    ap.add_argument("--per-file", action="store_true", help="Writer.write per file (the old path)")
    ap.add_argument("--bulk", action="store_true", help="write as `ingest --bulk` does (secondary indexes "
                    "off while writing; putting them back is not in the figures)")
    a = ap.parse_args()
    files = list(pipeline.iter_input_files([a.lists]))[: a.files]
    kr = Keyring(bytes(range(32)))
    t = dict(read=0.0, parse=0.0, gate=0.0, write=0.0)
    cpu = dict(read=0.0, parse=0.0, gate=0.0, pickle=0.0)
    gate.apply(pipeline.parse_file(files[0].read_bytes(), source_name=files[0].name, headers={}, list_type=None,
                                   fmt="cath-json", max_bytes=1 << 28), kr)   # one-off set-up out of the figures
    docs = []
    prof = cProfile.Profile(time.process_time)
    for f in files:
        t0, c0 = time.perf_counter(), time.process_time()
        data = f.read_bytes()
        h = pipeline.content_hash(data)
        headers = pipeline.read_sidecar(f)
        t1, c1 = time.perf_counter(), time.process_time()
        if a.cprofile in ("parse", "parse+gate"):
            prof.enable()
        parsed = pipeline.parse_file(data, source_name=f.name, headers=headers, list_type=None,
                                     fmt="cath-json", max_bytes=1 << 28)
        if a.cprofile == "parse":
            prof.disable()
        t2, c2 = time.perf_counter(), time.process_time()
        if a.cprofile == "gate":
            prof.enable()
        report = gate.apply(parsed, kr, **MEMO)      # as ingest.pipeline runs it
        if a.cprofile in ("gate", "parse+gate"):
            prof.disable()
        t3, c3 = time.perf_counter(), time.process_time()
        load_result(dump_result((str(f), h, parsed, None, report)))  # worker -> writer
        c4 = time.process_time()
        cpu["read"] += c1 - c0
        cpu["parse"] += c2 - c1
        cpu["gate"] += c3 - c2
        cpu["pickle"] += c4 - c3
        parsed.meta.source_name = str(f)
        docs.append((parsed, h))
        t["read"] += t1 - t0
        t["parse"] += t2 - t1
        t["gate"] += t3 - t2
    entries = sum(len(p.hearings) for p, _ in docs)
    url = a.db or f"sqlite:///{tempfile.mkdtemp()}/profile.db"
    arch = Archive.open(url)
    arch.init()
    # (--bulk: the objects are put back when the block ends, after the write is timed)
    with bulk.loading(arch) if a.bulk else contextlib.nullcontext():
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
    print("  CPU (time.process_time):")
    for k, v in cpu.items():
        print(f"  {k:6s} {v:7.2f} s  {v / entries * 1e6:7.1f} us/entry")
    print(f"  read+parse+gate+pickle {sum(cpu.values()) / entries * 1e6:7.1f} us/entry")
    if a.cprofile:
        pstats.Stats(prof).sort_stats(a.sort).print_stats(35)


if __name__ == "__main__":
    main()
