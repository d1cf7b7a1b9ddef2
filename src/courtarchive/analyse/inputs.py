"""The input layer: from the archive (or hand-made Arrow tables) to the definitions' tables.

`load_raw` reads the fact tables of *current* publications from the `Archive` as Arrow (the store
is the only package that issues SQL against the archive; we use its Arrow API).  Person and victim
ids come from one of three places (`IdSource`):

* ``linkage``: the stored link run (``person_mention``: defendant party mentions and complainant
  mentions -> person ids), the normal case;
* ``oracle``: the generator's truth (``--oracle DIR/truth.json``): ``DIR/truth/*_mentions.parquet``
  keyed by (file relative to ``DIR/lists``, JSON path), joined to the archive on
  ``publication.source_name`` + ``party.json_path`` / ``offence.json_path`` / ``complainant.json_path``;
* ``names``: no link run: exact (surname, forenames, date of birth) keys for defendants and the
  keyed complainant tokens for complainants (a floor, reported as such).

`build_inputs` registers everything with an engine (DuckDB or Spark), runs the SQL of
``analyse/sql.py`` and returns `AnalysisData`: `definitions.Inputs` plus what the report needs.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import pyarrow as pa

from ..data import reference as ref
from . import definitions
from .engine import Engine, make_engine
from .sql import derivation

place_pattern = ref.place_pattern   # kept here: the analyse API has always offered it

__all__ = ["AnalysisData", "OracleMismatch", "check_oracle", "RAW_COLUMNS", "load_raw", "load_linkage", "load_oracle", "reference_tables",
           "place_pattern", "build_inputs", "offences_frame", "from_archive", "court_reference"]

#: columns read from each archive table
RAW_COLUMNS: dict[str, list[str]] = {
    "publication": ["id", "list_type", "content_date", "superseded_by", "source_name"],
    "case": ["id", "case_key", "urn"],
    "hearing": ["id", "publication_id", "case_id", "court_id", "sitting_date", "hearing_type"],
    "party": ["id", "publication_id", "hearing_id", "case_id", "role", "town", "county", "address",
              "json_path"],
    "offence": ["id", "publication_id", "party_id", "hearing_id", "case_id", "code", "title", "wording",
                "plea", "plea_date", "conviction_date", "offence_date", "json_path"],
    "complainant": ["id", "publication_id", "offence_id", "hearing_id", "case_id", "kind", "token",
                    "json_path"],
    "court": ["id", "name", "town", "lat", "lon", "police_force_area", "court_types"],
}
_NAME_COLUMNS = ["surname", "forenames", "name_as_listed", "date_of_birth", "is_masked"]


@dataclass
class AnalysisData:
    inputs: definitions.Inputs
    hearings: int                      # distinct (case, list family, sitting date) listings
    hearing_entries: int               # hearing rows of current publications
    end_date: object                   # last sitting date in the data (censoring date)
    courts: pl.DataFrame               # court_id, court_name, court_town, court_pfa, lat, lon, court_types
    linkage: dict                      # where the person ids came from
    engine: str
    timings: dict = field(default_factory=dict)


# ------------------------------------------------------------------ reference tables
def offences_frame() -> pl.DataFrame:
    """The declared offence table (data/offences.csv) as the definitions expect it."""
    rows = ref.offences()
    return pl.DataFrame({
        "code": [r["code"] for r in rows], "title": [r["title"] for r in rows],
        "offence_group": [r["offence_group"] for r in rows],
        "child_sexual_abuse": [bool(r["child_sexual_abuse"]) for r in rows],
        "seriousness": [int(r["seriousness"]) for r in rows],
    })


def reference_tables() -> dict[str, pa.Table]:
    """town_alias (key, town, county, pfa, lat, lon) and offence_titles (title_key, code)."""
    keys, towns, counties, pfas, lats, lons = [], [], [], [], [], []
    for t in ref.towns():
        for n in sorted({n.lower() for n in ref.place_names(t["town"])}):
            keys.append(n); towns.append(t["town"]); counties.append(t["county"])
            pfas.append(t["police_force_area"]); lats.append(t["lat"]); lons.append(t["lon"])
    town_alias = pa.table({"key": keys, "town": towns, "county": counties, "pfa": pfas,
                           "lat": pa.array(lats, pa.float64()), "lon": pa.array(lons, pa.float64())})
    seen: dict[str, str] = {}
    for o in ref.offences():
        seen.setdefault(o["title"].strip().lower(), o["code"])
    titles = pa.table({"title_key": list(seen), "code": list(seen.values())})
    return {"town_alias": town_alias, "offence_titles": titles}


def _haversine(lat1, lon1, lat2, lon2) -> float:
    p = math.pi / 180
    a = (math.sin((lat2 - lat1) * p / 2) ** 2
         + math.cos(lat1 * p) * math.cos(lat2 * p) * math.sin((lon2 - lon1) * p / 2) ** 2)
    return 12742 * math.asin(math.sqrt(a))


def court_reference(courts: pa.Table) -> pl.DataFrame:
    """Each archive court with its gazetteer town (same force preferred, else the nearest town)
    and police force area: court_id, court_name, court_town, court_pfa, lat, lon, court_types."""
    gaz = ref.towns()
    rows = []
    for c in courts.to_pylist():
        pfa = c.get("police_force_area")
        town = None
        if c.get("town"):
            match = ref.find_towns(c["town"])
            best = next((t for t in match if t["police_force_area"] == pfa), match[0] if match else None)
            if best is None and c.get("lat") is not None:
                best = min(gaz, key=lambda t: _haversine(c["lat"], c["lon"], t["lat"], t["lon"]))
            town = best["town"] if best is not None else c["town"]
        rows.append({"court_id": c["id"], "court_name": c["name"], "court_town": town, "court_pfa": pfa,
                     "lat": c.get("lat"), "lon": c.get("lon"), "court_types": c.get("court_types")})
    schema = {"court_id": pl.Int64, "court_name": pl.Utf8, "court_town": pl.Utf8, "court_pfa": pl.Utf8,
              "lat": pl.Float64, "lon": pl.Float64, "court_types": pl.Utf8}
    return pl.DataFrame(rows, schema=schema)


# ------------------------------------------------------------------ reading the archive
def load_raw(archive, *, with_names: bool = False, with_paths: bool = True) -> dict[str, pa.Table]:
    """The fact tables of current publications as Arrow (``*_raw`` names of the SQL).
    ``with_paths``: the mentions' JSON paths (only the oracle mode joins them)."""
    out: dict[str, pa.Table] = {}
    for name, cols in RAW_COLUMNS.items():
        cols = [c for c in cols if with_paths or c != "json_path"]
        cols = cols + (_NAME_COLUMNS if (with_names and name == "party") else [])
        current = name in ("hearing", "party", "offence", "complainant")
        out[f"{name}_raw"] = archive.to_arrow(name, columns=cols, current_only=current)
    return out


def load_linkage(archive) -> tuple[dict[str, pa.Table], dict] | None:
    """person_d / person_c (mention_id -> person_id) of the stored link run, or None."""
    try:
        from ..store import linkage as L
    except ImportError:  # pragma: no cover - the link stage is not installed
        return None
    try:
        run = L.latest_run(archive)
    except Exception:  # no link tables (an archive migrated before the link stage)
        return None
    if run is None:
        return None
    d = L.person_assignments(archive, "defendant").select(["mention_id", "person_id"])
    c = L.person_assignments(archive, "complainant").select(["mention_id", "person_id"])
    if d.num_rows == 0:
        return None
    stats = run.get("stats") or {}
    if isinstance(stats, str):
        stats = json.loads(stats)
    info = {"source": "linkage", "run_id": run["id"], "mode": run.get("mode"),
            "finished_at": str(run.get("finished_at")), "threshold": run.get("threshold"),
            "defendant_mentions": d.num_rows, "complainant_mentions": c.num_rows,
            # how a complainant named in two cases became one person (`link.victims.CROSS_CASE_RULES`)
            "complainant_rule": (stats.get("complainants") or {}).get("cross_case_rule")}
    return {"person_d": d, "person_c": c}, info


def _truth_file(source_name: str | None, depths: set[int]) -> list[str]:
    if not source_name:
        return []
    parts = Path(source_name).as_posix().split("/")
    if "lists" in parts:
        i = len(parts) - 1 - parts[::-1].index("lists")
        return ["/".join(parts[i + 1:])]
    return ["/".join(parts[-k:]) for k in sorted(depths) if len(parts) >= k]


def load_oracle(truth_json: Path | str, publications: pa.Table) -> tuple[dict[str, pa.Table], dict]:
    """pub_file, truth_dm, truth_cm from a generator truth (``truth.json`` beside ``truth/``)."""
    import orjson

    from ..generate.corpus import truth_root

    tj = Path(truth_json)
    meta = orjson.loads(tj.read_bytes()) if tj.is_file() else {}
    tdir = truth_root(tj) / "truth"
    dm = pl.read_parquet(tdir / "defendant_mentions.parquet", columns=["file", "json_path", "person_id"])
    cm = pl.read_parquet(tdir / "complainant_mentions.parquet", columns=["file", "json_path", "victim_id", "kind"])
    cm = cm.with_columns(pl.col("json_path").str.replace(r"\.offenceWording$", ""))
    files = set(dm["file"].unique().to_list()) | set(cm["file"].unique().to_list())
    depths = {f.count("/") + 1 for f in files} or {1}
    pubs = pl.from_arrow(publications.select(["id", "source_name"]))
    pid, pf = [], []
    for i, s in pubs.iter_rows():
        for cand in _truth_file(s, depths):
            if cand in files:
                pid.append(i); pf.append(cand)
                break
    pub_file = pa.table({"publication_id": pa.array(pid, pa.int64()), "file": pa.array(pf, pa.string())})
    if pubs.height and not pid:
        raise OracleMismatch(f"{tj} is not the truth of this archive: none of its {pubs.height:,} publications "
                             "was read from a list of that corpus")
    gen = meta.get("generator", {})
    info = {"source": "oracle", "truth": str(tj), "generator": {k: gen.get(k) for k in ("seed", "cases", "version")},
            "publications_matched": len(pid), "publications": pubs.height}
    return {"pub_file": pub_file, "truth_dm": dm.to_arrow(), "truth_cm": cm.to_arrow()}, info


class OracleMismatch(ValueError):
    """The truth given to ``--oracle`` is not the truth of the archive's lists."""


def check_oracle(archive, truth_json: Path | str, pub_file: pa.Table) -> dict:
    """The oracle joins the truth to the archive by file name and JSON path, and every generated
    corpus names its files alike: the archive's copies of matched lists must be the truth's own
    (`generate.corpus.check_same_corpus`), else OracleMismatch."""
    from ..generate.corpus import TruthError, check_same_corpus

    hashes = dict(pl.from_arrow(archive.to_arrow("publication", columns=["id", "content_hash"])).iter_rows())
    matched = [(f, hashes.get(pid)) for pid, f in pl.from_arrow(pub_file).sort("publication_id").iter_rows()]
    try:
        return {"checked": check_same_corpus(truth_json, matched)}
    except TruthError as e:
        raise OracleMismatch(str(e)) from None


# ------------------------------------------------------------------ the derivation
def build_inputs(raw: dict[str, pa.Table], *, ids: dict[str, pa.Table] | None = None,
                 mode: str = "linkage", engine: Engine | str = "duckdb",
                 linkage_info: dict | None = None) -> AnalysisData:
    """Run the derivation SQL over ``raw`` (``*_raw`` Arrow tables) and the id tables of ``mode``."""
    import time

    t0 = time.perf_counter()
    eng = make_engine(engine) if isinstance(engine, str) else engine
    own = isinstance(engine, str)
    try:
        courts = court_reference(raw["court_raw"])
        tables = dict(raw)
        tables.update(reference_tables())
        tables["court_ref"] = courts.to_arrow()
        tables.update(ids or {})
        for name, t in tables.items():
            eng.register(name, t)
        for name, sql in derivation(mode, place_pattern()):
            eng.create(name, sql)
        cases = pl.from_arrow(eng.fetch(
            "SELECT * FROM cases ORDER BY case_id"))
        cd = pl.from_arrow(eng.fetch(
            "SELECT case_id, defendant_id, convicted, conviction_date FROM case_defendants ORDER BY case_id, defendant_id"))
        co = pl.from_arrow(eng.fetch("SELECT * FROM case_offences ORDER BY case_id, defendant_id, offence_code"))
        oc = pl.from_arrow(eng.fetch(
            "SELECT * FROM offence_complainants ORDER BY case_id, defendant_id, complainant_id"))
        counts = eng.fetch("""SELECT (SELECT count(*) FROM hx) AS entries,
                                     (SELECT count(*) FROM (SELECT DISTINCT cid, family, d FROM hx) x) AS hearings,
                                     (SELECT max(end_date) FROM data_end) AS end_date""").to_pylist()[0]
    finally:
        if own:
            eng.close()
    cases = cases.with_columns(pl.col(c).cast(pl.Date) for c in
                               ("first_hearing_date", "offence_date", "completion_date", "last_date"))
    cd = cd.with_columns(pl.col("conviction_date").cast(pl.Date), pl.col("convicted").cast(pl.Boolean))
    inputs = definitions.Inputs(cases=cases, case_defendants=cd, case_offences=co,
                                offence_complainants=oc, offences=offences_frame())
    return AnalysisData(inputs=inputs, hearings=int(counts["hearings"] or 0),
                        hearing_entries=int(counts["entries"] or 0), end_date=counts["end_date"],
                        courts=courts, linkage=linkage_info or {"source": mode}, engine=eng.name,
                        timings={"derive_s": round(time.perf_counter() - t0, 3)})


def from_archive(archive, *, oracle: Path | str | None = None, engine: Engine | str = "duckdb",
                 cache_dir: Path | str | None = None) -> AnalysisData:
    """Everything from an archive: raw facts, ids (oracle > stored link run > names), derivation.

    With ``cache_dir`` the derived inputs are kept as Parquet under a fingerprint of everything
    they depend on (`fingerprint`) and reused while it is unchanged; an expiry, erasure or
    rectification shreds them (`governance.hooks.analysis_cache`), and so does the next entry
    written: the cache keeps one fingerprint's entries (one per engine), the others are stale
    (`_cache_prune`)."""
    import time

    t0 = time.perf_counter()
    cdir = mark = None
    if cache_dir is not None:
        from ..governance.hooks import purge_mark

        mark = purge_mark(cache_dir)       # (before anything is read: `_cache_write`)
    link = None if oracle else load_linkage(archive)
    mode = "oracle" if oracle else ("linkage" if link else "names")
    if cache_dir is not None:
        fp = fingerprint(archive, mode=mode, oracle=oracle, link_info=link[1] if link else None)
        ename = engine if isinstance(engine, str) else engine.name
        cdir = Path(cache_dir) / f"inputs-{ename}-{fp}"
        hit = _cache_read(cdir, {"read_s": round(time.perf_counter() - t0, 3)})
        if hit is not None:
            return hit
    raw = load_raw(archive, with_names=(mode == "names"), with_paths=(mode == "oracle"))
    t_read = time.perf_counter() - t0
    if oracle:
        ids, info = load_oracle(oracle, raw["publication_raw"])
        info["files_checked"] = check_oracle(archive, oracle, ids["pub_file"])["checked"]
    elif link:
        ids, info = link
    else:
        ids, info = {}, {"source": "names", "note": "no link run in the archive: defendants keyed by exact "
                         "name + date of birth, complainants by their keyed token (initials within their case); "
                         "not linkage: one defendant listed under name variants or without a date of birth "
                         "becomes several, which overstates co-defendants, linked victims and networks"}
    data = build_inputs(raw, ids=ids, mode=mode, engine=engine, linkage_info=info)
    data.timings["read_s"] = round(t_read, 3)
    data.timings["cache"] = "miss" if cdir is not None else "off"
    if cdir is not None:
        try:
            _cache_write(cdir, data, mark)
        except OSError:
            pass
    return data


# ------------------------------------------------------------------ derived-input cache
_CACHE_TABLES = ("cases", "case_defendants", "case_offences", "offence_complainants", "courts")


#: the governance actions that change the facts of current publications in place, each audited in
#: the transaction that makes the change (`governance.retention.expire`, `governance.rights`)
_CHANGED_BY = ("expire_batch", "erase", "rectify")


def fingerprint(archive, *, mode: str, oracle: Path | str | None, link_info: dict | None) -> str:
    """What the derived inputs depend on: this code, the archive (its publications, their
    superseding and retention state, the last expiry, erasure and rectification of mentions), the
    link run, the oracle file."""
    import hashlib

    from ..store import governance as sg

    h = hashlib.sha256()
    here = Path(__file__).parent
    for f in ("inputs.py", "sql.py"):
        h.update((here / f).read_bytes())
    h.update(mode.encode())
    h.update(archive.engine.url.render_as_string(hide_password=True).encode())
    pubs = archive.to_arrow("publication", columns=["id", "superseded_by", "raw_expired_at", "content_hash"])
    import pyarrow.ipc as ipc

    sink = pa.BufferOutputStream()
    with ipc.new_stream(sink, pubs.schema) as w:
        w.write_table(pubs)
    h.update(sink.getvalue().to_pybytes())
    for action in _CHANGED_BY:
        # (an erasure or rectification changes no publication, and an erasure drops links the
        # stored link run still describes)
        last = sg.audit_events(archive, action=action, limit=1)
        h.update(f"{action}:{last[0]['seq'] if last else 0}".encode())
    if link_info:
        h.update(repr(sorted((k, str(v)) for k, v in link_info.items())).encode())
    if oracle:
        o = Path(oracle)
        for f in (o, *sorted((o.parent / "truth").glob("*_mentions.parquet"))):
            if f.exists():
                st = f.stat()
                h.update(f"{f}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:24]


def _cache_read(d: Path, meta_extra: dict) -> AnalysisData | None:
    import orjson

    m = d / "meta.json"
    if not m.is_file():
        return None
    try:
        meta = orjson.loads(m.read_bytes())
        t = {n: pl.read_parquet(d / f"{n}.parquet") for n in _CACHE_TABLES}
    except Exception:
        return None
    import datetime as dt

    inputs = definitions.Inputs(t["cases"], t["case_defendants"], t["case_offences"], t["offence_complainants"],
                                offences_frame())
    end = dt.date.fromisoformat(meta["end_date"]) if meta.get("end_date") else None
    return AnalysisData(inputs=inputs, hearings=meta["hearings"], hearing_entries=meta["hearing_entries"],
                        end_date=end, courts=t["courts"], linkage=meta["linkage"], engine=meta["engine"],
                        timings={"cache": "hit", **meta_extra})


def _cache_write(d: Path, data: AnalysisData, mark: str | None) -> None:
    """Keep ``data`` as the entry ``d``: its owner's only (0600 files in 0700 folders: without a link
    run it keys defendants by name and date of birth), and dropped again when the folder's purge
    mark is no longer ``mark`` (read before the archive was): an expiry, erasure or rectification
    purged the cache while these inputs were derived, and they may hold what it purged."""
    import orjson

    from ..config import private_dir, private_file
    from ..governance.hooks import purge_mark, shred_tree

    private_dir(d.parent)
    tmp = private_dir(d.with_name(d.name + f".{os.getpid()}.tmp"))
    try:
        i = data.inputs
        for n, df in zip(_CACHE_TABLES, (i.cases, i.case_defendants, i.case_offences, i.offence_complainants,
                                         data.courts)):
            with open(private_file(tmp / f"{n}.parquet"), "wb") as fh:
                df.write_parquet(fh)
        with open(private_file(tmp / "meta.json"), "wb") as fh:
            fh.write(orjson.dumps({
                "hearings": data.hearings, "hearing_entries": data.hearing_entries,
                "end_date": str(data.end_date) if data.end_date else None, "linkage": data.linkage,
                "engine": data.engine}, default=str))
        if d.exists():
            shred_tree(d)           # (an entry that could not be read)
        tmp.replace(d)
    except BaseException:
        shred_tree(tmp)
        raise
    if purge_mark(d.parent) != mark:
        shred_tree(d)
    _cache_prune(d)


def _cache_prune(d: Path) -> int:
    """Shred the entries beside the new entry ``d`` that have another fingerprint: derived from an
    older state of the archive (or from another archive analysed from the same home, which derives
    its inputs again when next analysed), they would never be read again and may hold names and
    dates of birth since expired, erased or rectified.  Entries of ``d``'s fingerprint for another
    engine stay, and so do other writers' unfinished entries (``.tmp``: each writer removes its own).
    Returns the files shredded."""
    from ..governance.hooks import shred_tree

    fp = d.name.rsplit("-", 1)[-1]
    n = 0
    for p in list(d.parent.glob("inputs-*")):
        if p.is_dir() and not p.name.endswith(".tmp") and p.name.rsplit("-", 1)[-1] != fp:
            n += shred_tree(p)
    return n
