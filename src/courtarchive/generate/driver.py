"""`generate`: the day-by-day loop.  Cases arrive (fresh or planted), their hearings wait in a heap,
each day's hearings become that day's lists, and a case is written to the truth tables and
forgotten after its last hearing -- memory holds the open cases only, never the corpus.
"""

from __future__ import annotations

import gc
import heapq
import random
import shutil
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Callable

import numpy as np
import orjson

from .cases import CROWN, MAGS, SJP, WARNED, Case
from .config import GenConfig
from .lists import LIST_TYPES, ListWriter
from .names import NamePools
from .offences import Catalogue
from .places import Places
from .planted import Factory
from .reference import load_reference
from .truth import TruthSink, compute_findings

__all__ = ["generate", "GENERATOR_VERSION"]

GENERATOR_VERSION = 1
DEFAULT_HOTSPOTS = ("Rochdale", "Rotherham", "Telford", "Oldham")
_VENUE_ORDER = {MAGS: 0, SJP: 1, CROWN: 2, WARNED: 3}


def _arrivals(n: int, start: date, last: date, seed: int) -> np.ndarray:
    """Cases per day (exactly n in all): weekdays busier, Christmas quiet."""
    days = (last - start).days + 1
    w = np.empty(days)
    for i in range(days):
        d = start + timedelta(days=i)
        w[i] = 0.15 if d.weekday() >= 5 else 1.0
        if (d.month == 12 and d.day >= 20) or (d.month == 1 and d.day <= 2):
            w[i] *= 0.3
    gen = np.random.Generator(np.random.PCG64(seed))
    return gen.multinomial(n, w / w.sum())


class _Run:
    def __init__(self, out: Path, cfg: GenConfig, seed: int, n: int, start: date, end: date,
                 hotspots: tuple[str, ...]):
        self.cfg, self.end = cfg, end
        ref = load_reference(cfg.data_dir)
        self.ref = ref
        unknown = [h for h in hotspots if h not in ref.town_by_name]
        if unknown:
            raise ValueError(f"hotspot towns not in towns.csv: {unknown}")
        self.hot = [ref.town_by_name[h] for h in hotspots]
        years = (end - start).days / 365.25
        self.places = Places(ref, n, years, random.Random(f"{seed}/places"), tuple(hotspots),
                             cfg.town_radius_km, cfg.mags_entries_per_sitting_day,
                             cfg.crown_entries_per_sitting_day)
        self.pools = NamePools(seed, ref.variants)
        # the last day a case may arrive: its first hearing must still fall in the period
        longest = max(p.period for p in self.places.mags + [self.places.sjp])
        self.last_first = end - timedelta(days=7 * longest + 24)
        self.factory = Factory(cfg, ref, self.places, self.pools, Catalogue(ref),
                               random.Random(f"{seed}/cases"), start, self.last_first, self.hot)
        self.sink = TruthSink(out)
        self.writer = ListWriter(out, cfg, random.Random(f"{seed}/lists"), self.pools, self.sink)
        self.heap: list = []
        self._seq = 0
        self.open: dict[str, Case] = {}
        self.n_cases = self.n_hearings = 0
        self.networks = self.factory.plan_networks(n)

    def add_case(self, c: Case) -> None:
        self.n_cases += 1
        self.open[c.case_id] = c
        for i, h in enumerate(c.hearings):
            self._seq += 1
            heapq.heappush(self.heap, (h.when.toordinal(), self._seq, c, i))

    def emit_day(self, day: date) -> None:
        o = day.toordinal()
        groups: dict[tuple, list] = {}
        heap = self.heap
        while heap and heap[0][0] <= o:
            _, _, c, i = heapq.heappop(heap)
            h = c.hearings[i]
            court = c.crown if h.venue in (CROWN, WARNED) else self.places.sjp if h.venue == SJP else c.mag
            groups.setdefault((_VENUE_ORDER[h.venue], court.court.idx), (court, []))[1].append((c, h))
            self.n_hearings += 1
            c.n_left -= 1
            if c.n_left == 0:
                self.retire(c)
        w = self.writer
        for (venue, _), (court, entries) in sorted(groups.items(), key=lambda kv: kv[0]):
            if venue == 0:
                w.mags(day, court, entries)
            elif venue == 1:
                w.sjp(day, court, entries)
            elif venue == 2:
                w.crown_daily(day, court, entries)
                firm = [(c, h) for c, h in entries if h.firm]
                if firm:
                    w.crown_firm(day, court, firm)
            else:
                w.crown_warned(day, court, entries)

    def retire(self, c: Case) -> None:
        """Write the case's truth rows (as known at the end of the period) and forget it."""
        del self.open[c.case_id]
        end, add = self.end, self.sink.add
        outcome, completed = c.outcome(end)
        res = c.defs[0].person.town
        court = c.mag.court
        emitted = sum(1 for h in c.hearings if h.when <= end)
        add("cases", (c.case_id, c.first_hearing, c.offence_date, completed, outcome,
                      c.offence_town.name if c.offence_town else None, res.name if res else None,
                      court.gazetteer_town, c.offence_town.pfa if c.offence_town else None,
                      res.pfa if res else None, court.pfa, c.kind, court.fact_id,
                      c.crown.court.fact_id if c.crown is not None and c.crown_no else None,
                      c.network_id, c.youth, c.restriction, emitted))
        offs, links = set(), set()
        for d in c.defs:
            done = d.conviction_date is not None and d.conviction_date <= end
            final_seen = outcome is not None
            result = d.result if (d.result == "convicted" and done) or final_seen else None
            add("case_defendants", (c.case_id, d.person.pid, result == "convicted",
                                    d.conviction_date if result == "convicted" else None, result, d.person.youth))
            for ch in d.charges:
                offs.add((c.case_id, d.person.pid, ch.offence.code))
                if ch.victim is not None:
                    links.add((c.case_id, d.person.pid, ch.victim.vid))
        if c.complainant_party is not None:
            for d in c.defs:
                links.add((c.case_id, d.person.pid, c.complainant_party.vid))
        self.sink.extend("case_offences", sorted(offs))
        self.sink.extend("offence_complainants", sorted(links))

    def finish(self) -> None:
        for c in list(self.open.values()):      # still open at the end: creation order
            self.retire(c)
        self.heap.clear()
        self.sink.extend("networks", sorted(self.factory.networks_built))
        self.sink.close()
        self.writer.close()


def _write(run: _Run, cases: int, seed: int, start: date, end: date,
           progress: Callable[[int, int], None] | None) -> tuple[float, float, float]:
    counts = _arrivals(cases, start, run.last_first, seed)
    t1 = time.perf_counter()
    c1 = time.thread_time()
    fact = run.factory
    day, i = start, 0
    while day <= end:
        k = int(counts[i]) if i < len(counts) else 0
        for _ in range(k):
            due = fact.pop_due(day)
            run.add_case(fact.planted(day, *due) if due is not None else fact.fresh(day))
        run.emit_day(day)
        if progress is not None:
            progress(run.n_cases, cases)
        day += timedelta(days=1)
        i += 1
    t2 = time.perf_counter()
    run.lists_cpu = time.thread_time() - c1
    run.finish()
    return t1, t2, time.perf_counter()


def generate(out: Path | str, *, cases: int, seed: int, start: date = date(2019, 1, 1),
             years: float = 5, hotspots: tuple[str, ...] | list[str] = DEFAULT_HOTSPOTS,
             config: dict | GenConfig | None = None,
             progress: Callable[[int, int], None] | None = None) -> dict:
    """Write a synthetic CaTH corpus of ``cases`` cases to ``out`` (lists/ + truth/ + truth.json).

    Deterministic for (cases, seed, start, years, hotspots, config): byte-identical files.
    Existing ``lists/``, ``truth/`` and ``truth.json`` under ``out`` are replaced.
    ``progress(done, total)`` is called as cases are created.  Returns the summary dict."""
    if cases < 1:
        raise ValueError("cases must be >= 1")
    t0 = time.perf_counter()
    cfg = GenConfig.from_mapping(config)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for old in (out / "lists", out / "truth"):
        if old.exists():
            shutil.rmtree(old)
    (out / "truth.json").unlink(missing_ok=True)
    end = start + timedelta(days=max(60, round(years * 365.25)) - 1)
    # the cyclic GC would rescan the open cases over and over (superlinear in N); the generator
    # makes no reference cycles that matter, so it is paused while the lists are written
    gc_was = gc.isenabled()
    gc.disable()
    try:
        run = _Run(out, cfg, seed, cases, start, end, tuple(hotspots))
        t1, t2, t3 = _write(run, cases, seed, start, end, progress)
    finally:
        if gc_was:
            gc.enable()
    w = run.writer
    summary = {
        "cases": run.n_cases, "hearings": run.n_hearings, "entries": w.entries, "files": w.files,
        "lists_by_type": {t: w.by_type[t] for t in LIST_TYPES}, "reissued_lists": w.reissued,
        "defendant_mentions": run.sink.counts["defendant_mentions"],
        "complainant_mentions": run.sink.counts["complainant_mentions"],
        "networks_planted": run.networks,
        "magistrates_courts": len(run.places.mags), "crown_courts": len(run.places.crowns),
        "period": {"start": start.isoformat(), "end": end.isoformat()},
    }
    findings = compute_findings(out / "truth", cfg.data_dir)
    truth = {
        "generator": {"name": "courtarchive.generate", "version": GENERATOR_VERSION, "seed": seed,
                      "cases": cases, "start": start.isoformat(), "years": years,
                      "hotspots": list(hotspots), "config": cfg.to_dict()},
        "summary": summary,
        "findings": findings,
        "files": {"lists": "lists", "truth": {t: f"truth/{t}.parquet" for t in run.sink.counts}},
    }
    (out / "truth.json").write_bytes(orjson.dumps(truth, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS))
    t4 = time.perf_counter()
    # wall-clock timings are returned to the caller only, never written (output stays deterministic)
    timings = {"setup": t1 - t0, "lists": t2 - t1, "lists_main_thread_cpu": run.lists_cpu,
               "truth_tables": t3 - t2, "findings": t4 - t3, "total": t4 - t0}
    return {**summary, "findings": findings, "timings": {k: round(v, 3) for k, v in timings.items()}}
