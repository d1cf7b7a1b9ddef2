"""The findings: `definitions.findings` on the derived inputs, plus the statistics and the tables
the report draws, under disclosure control.

Every key that `definitions.findings` returns keeps its value unchanged in ``findings.json``
(dict findings gain extra sub-keys, location rows gain extra columns), so the generator's truth
can be compared key by key (`matches_truth`).  Extras: Kaplan-Meier delays by offence group /
court / year, repeat-offending KM, the excess test per location, PFA totals, hotspots (Gi*),
counts by year, courts for the map and the largest networks (pseudonymous labels only).

Disclosure control (LAW.md rule 7): complainant counts from 1 to ``min_cell - 1`` are written as
``"<min_cell>"`` in every output; no complainant id, token or attribute is ever output.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from . import definitions as D
from . import stats as S
from .inputs import AnalysisData

__all__ = ["compute", "check_area", "disclose_findings", "matches_truth", "restrict_to", "filter_case_ids", "MEASURES", "REPEAT_DAYS"]

MEASURES = {
    "offence_to_first_hearing": ("offence_date", "first_hearing_date"),
    "first_hearing_to_completion": ("first_hearing_date", "completion_date"),
    "offence_to_completion": ("offence_date", "completion_date"),
}
REPEAT_DAYS = {"1": 365, "2": 730, "5": 1826}
MIN_GROUP = 20          # KM by court/year/group: groups with at least this many cases
TOP_COURTS = 15
NETWORKS_SHOWN = 6


def restrict_to(inputs: D.Inputs, ids: pl.Series) -> D.Inputs:
    keep = pl.col("case_id").is_in(ids.implode())
    return D.Inputs(inputs.cases.filter(keep), inputs.case_defendants.filter(keep),
                    inputs.case_offences.filter(keep), inputs.offence_complainants.filter(keep),
                    inputs.offences)


def filter_case_ids(inputs: D.Inputs, *, date_from: dt.date | None = None, date_to: dt.date | None = None,
                    area: str | None = None, location_by: str = "chain") -> pl.Series | None:
    """Case ids passing the filters (first hearing in [from, to]; located in a town or police
    force area named ``area``, case-insensitive), or None when no filter is set."""
    if date_from is not None and date_to is not None and date_from > date_to:
        raise ValueError(f"--from {date_from.isoformat()} is after --to {date_to.isoformat()}: no first hearing "
                         "can fall in that window")
    if date_from is None and date_to is None and not area:
        return None
    c = inputs.cases
    if date_from is not None:
        c = c.filter(pl.col("first_hearing_date") >= date_from)
    if date_to is not None:
        c = c.filter(pl.col("first_hearing_date") <= date_to)
    if area:
        from ..data.reference import normalise_town

        a = area.strip().lower()
        loc = D.case_locations(c, location_by)
        # a county is no town, even where a court's town column carries one ("South Yorkshire" for
        # Barnsley's court): matched by name only it names no case (`check_area` refuses it)
        key = a if _county_forces(area) else normalise_town(area)
        towns = [t for t in loc["town"].drop_nulls().unique().to_list() if normalise_town(t) == key]
        loc = loc.filter(pl.col("town").is_in(towns) | (pl.col("pfa").str.to_lowercase() == a))
        c = c.filter(pl.col("case_id").is_in(loc["case_id"].implode()))
    return c["case_id"]


def _county_forces(area: str) -> list[str]:
    """The police force areas of the gazetteer's towns in county ``area`` (case-insensitive), when
    ``area`` is a county and not also a town or a force's name; else []."""
    from ..data import reference as ref

    a = area.strip().lower()
    towns = ref.towns()
    if any(a in (t["town"].lower(), t["police_force_area"].lower()) for t in towns):
        return []
    return sorted({t["police_force_area"] for t in towns if t["county"].lower() == a})


def check_area(inputs: D.Inputs, area: str) -> None:
    """Raise ValueError when ``area`` names no town or police force area -- of the gazetteer, the
    force table or the cases themselves: a typo or a county is a mistake, not an area with no cases
    (the command line checks ``--area`` with this; `compute` takes any area)."""
    from ..data import reference as ref

    if not area.strip():
        raise ValueError("--area: empty (a town or a police force area)")
    a = area.strip().lower()
    known = {t["town"].lower() for t in ref.towns()} | {t["police_force_area"].lower() for t in ref.towns()}
    known |= {f["police_force_area"].lower() for f in ref.police_forces() if f.get("police_force_area")}
    if a in known:
        return
    forces = _county_forces(area)
    if forces:
        raise ValueError(f"--area {area.strip()!r} is a county, not a town or a police force area: give its police "
                         f"force area ({' or '.join(repr(x) for x in forces)}) or one of its towns")
    if ref.find_towns(area):
        return
    for col in ("offence_town", "residence_town", "court_town", "offence_pfa", "residence_pfa", "court_pfa"):
        if col in inputs.cases.columns and inputs.cases.filter(pl.col(col).str.to_lowercase() == a).height:
            return
    raise ValueError(f"unknown area {area!r}: not a town of the gazetteer (data/towns.csv) or a police force "
                     "area (data/police_force_areas.csv, e.g. 'West Mercia Police')")


# ------------------------------------------------------------------ disclosure control
class Suppressor:
    def __init__(self, min_cell: int):
        self.min_cell = int(min_cell)
        self.paths: list[str] = []

    def __call__(self, value: int | None, path: str):
        if value is None or self.min_cell <= 1 or not (0 < int(value) < self.min_cell):
            return value
        self.paths.append(path)
        return f"<{self.min_cell}"


def matches_truth(mine, truth, path: str = "") -> list[str]:
    """Paths where ``truth`` (a generator truth findings dict) differs from ``mine``: every key of
    truth must be present in mine with an equal value (dicts recursively; lists element-wise)."""
    bad: list[str] = []
    if isinstance(truth, dict):
        if not isinstance(mine, dict):
            return [path or "."]
        for k, v in truth.items():
            if k not in mine:
                bad.append(f"{path}.{k}")
            else:
                bad += matches_truth(mine[k], v, f"{path}.{k}")
    elif isinstance(truth, list):
        if not isinstance(mine, list) or len(mine) != len(truth):
            return [path]
        for i, (a, b) in enumerate(zip(mine, truth)):
            bad += matches_truth(a, b, f"{path}[{i}]")
    elif mine != truth:
        bad.append(path)
    return bad


# ------------------------------------------------------------------ helpers
def _ndef(case_defendants: pl.DataFrame) -> pl.DataFrame:
    return case_defendants.group_by("case_id").agg(pl.col("defendant_id").n_unique().alias("n_def"))


def _primary_group(s: D.Inputs) -> pl.DataFrame:
    """case_id, offence_group: the group of the case's most serious offence (ties: group name)."""
    off = s.offences.select("code", "offence_group", pl.col("seriousness").cast(pl.Int64)) \
        if "seriousness" in s.offences.columns else s.offences.select("code", "offence_group",
                                                                      pl.lit(0).alias("seriousness"))
    return (s.case_offences.join(off, left_on="offence_code", right_on="code")
            .sort(["case_id", "seriousness", "offence_group"], descending=[False, True, False])
            .group_by("case_id", maintain_order=True).agg(pl.col("offence_group").first()))


def _km_frame(cases: pl.DataFrame, start: str, end: str, as_of: dt.date) -> pl.DataFrame:
    c = cases.filter(pl.col(start).is_not_null())
    ev = pl.col(end).is_not_null()
    if end == "first_hearing_date":
        stop = pl.col(end)
    else:
        stop = pl.when(ev).then(pl.col(end)).otherwise(pl.lit(as_of))
    return (c.with_columns(event=ev if end != "first_hearing_date" else pl.lit(True),
                           days=(stop - pl.col(start)).dt.total_days())
            .filter(pl.col("days") >= 0))


def _km_groups(frame: pl.DataFrame, key: str | None, method: str, *, points: int = 0,
               min_n: int = MIN_GROUP, only: list | None = None) -> dict:
    out = {}
    if key is None:
        fit = S.kaplan_meier(frame["days"].to_numpy(), frame["event"].to_numpy(), method=method)
        return S.km_summary(fit, points=points)
    for k, g in frame.group_by(key):
        k = k[0] if isinstance(k, tuple) else k
        if k is None or g.height < min_n or (only is not None and k not in only):
            continue
        fit = S.kaplan_meier(g["days"].to_numpy(), g["event"].to_numpy(), method=method)
        out[str(k)] = S.km_summary(fit, points=points)
    return dict(sorted(out.items()))


def _delays(s: D.Inputs, as_of: dt.date, method: str) -> dict:
    cases = s.cases.join(_primary_group(s), on="case_id", how="left").with_columns(
        year=pl.col("first_hearing_date").dt.year())
    top_courts = (cases.group_by("court_name").len().filter(pl.col("court_name").is_not_null())
                  .sort(["len", "court_name"], descending=[True, False]).head(TOP_COURTS)["court_name"].to_list())
    km = {}
    for name, (a, b) in MEASURES.items():
        f = _km_frame(cases, a, b, as_of)
        km[name] = {
            "overall": _km_groups(f, None, method, points=120),
            "by_offence_group": _km_groups(f, "offence_group", method, points=60),
            "by_court": _km_groups(f, "court_name", method, only=top_courts),
            "by_year": _km_groups(f, "year", method, min_n=1),
        }
    return {"censored_at": as_of.isoformat(), "method": "Kaplan-Meier, exponential Greenwood 95% CI",
            **km}


def _repeat_km(all_cases: pl.DataFrame, all_cd: pl.DataFrame, scope_cases: pl.DataFrame,
               as_of: dt.date, method: str) -> dict:
    ids = scope_cases["case_id"].implode()
    conv = (all_cd.filter(pl.col("case_id").is_in(ids) & pl.col("convicted") & pl.col("conviction_date").is_not_null())
            .sort("conviction_date", "case_id").group_by("defendant_id", maintain_order=True)
            .agg(pl.col("conviction_date").first(), pl.col("case_id").first().alias("conv_case")))
    nxt = (conv.join(all_cd.select("case_id", "defendant_id").unique(), on="defendant_id")
           .join(all_cases.select("case_id", "first_hearing_date"), on="case_id")
           .filter((pl.col("case_id") != pl.col("conv_case")) & (pl.col("first_hearing_date") > pl.col("conviction_date")))
           .group_by("defendant_id").agg(pl.col("first_hearing_date").min().alias("next_case")))
    f = (conv.join(nxt, on="defendant_id", how="left")
         .with_columns(event=pl.col("next_case").is_not_null(),
                       days=(pl.coalesce(pl.col("next_case"), pl.lit(as_of)) - pl.col("conviction_date")).dt.total_days())
         .filter(pl.col("days") >= 0))
    fit = S.kaplan_meier(f["days"].to_numpy(), f["event"].to_numpy(), method=method)
    summ = S.km_summary(fit, points=120, at=REPEAT_DAYS.values())
    within = {}
    for k, days in REPEAT_DAYS.items():
        a = summ["at"][str(days)]
        within[k] = {"cumulative_share": _inv(a["survival"]), "ci95": [_inv(a["upper"]), _inv(a["lower"])]}
    return {"censored_at": as_of.isoformat(), "n": summ["n"], "events": summ["events"],
            "within_years": within, "curve": [[t, _inv(v)] for t, v in summ.get("curve", [])]}


def _inv(x):
    return None if x is None else round(1.0 - x, 6)


def _location_tests(s: D.Inputs, all_located: pl.DataFrame, rows: list[dict], by: str) -> tuple[list, list, dict]:
    """Rows with all-case volume, expected count, exact binomial p and BH q; and PFA totals."""
    loc = D.case_locations(s.cases, by).join(_ndef(s.case_defendants), on="case_id", how="left") \
        .with_columns(pl.col("n_def").fill_null(0)).filter(pl.col("town").is_not_null())
    per = (loc.group_by("town", "pfa").agg((pl.col("n_def") >= 2).sum().alias("m"), pl.len().alias("n"))
           .sort("town", "pfa"))
    M, N = int(per["m"].sum()), int(per["n"].sum())
    p0 = M / N if N else 0.0
    pv = [S.binom_sf(int(m), int(n), p0) for m, n in zip(per["m"], per["n"])]
    qv = S.bh_qvalues(pv)
    test = {(t, p): (pp, qq) for t, p, pp, qq in zip(per["town"], per["pfa"], pv, qv)}
    vol = all_located.group_by("town", "pfa").len()
    volume = {(t, p): int(n) for t, p, n in vol.iter_rows()}
    out = []
    for r in rows:
        key = (r["town"], r["pfa"])
        pp, qq = test.get(key, (None, None))
        allc = volume.get(key, 0)
        exp = r["cases"] * p0
        out.append({**r, "all_cases": allc,
                    "rate_per_1000_all_cases": round(1000 * r["multi_defendant_cases"] / allc, 3) if allc else None,
                    "expected": round(exp, 3), "excess_ratio": round(r["multi_defendant_cases"] / exp, 3) if exp else None,
                    "p_value": pp, "q_value": qq, "significant": bool(qq is not None and qq < 0.05)})
    pfa = (loc.group_by("pfa").agg((pl.col("n_def") >= 2).sum().alias("multi_defendant_cases"),
                                   pl.len().alias("cases"))
           .filter(pl.col("pfa").is_not_null())
           .sort(["multi_defendant_cases", "pfa"], descending=[True, False]))
    pfa_vol = all_located.group_by("pfa").len()
    pv2 = dict(pfa_vol.iter_rows())
    pfa_rows = [{"pfa": p, "multi_defendant_cases": int(m), "cases": int(n), "all_cases": int(pv2.get(p, 0)),
                 "rate": round(m / n, 6) if n else None} for p, m, n in pfa.iter_rows() if m > 0]
    return out, pfa_rows, {"tested_locations": len(pv), "baseline_share": round(p0, 6),
                           "method": "one-sided exact binomial vs the in-scope share; Benjamini-Hochberg FDR 5%"}


def _hotspots(s: D.Inputs, all_located: pl.DataFrame, by: str, *, k: int = 6, min_cases: int = 20) -> dict:
    from ..data import reference as ref

    gaz = {(t["town"], t["police_force_area"]): (t["lat"], t["lon"]) for t in ref.towns()}
    loc = D.case_locations(s.cases, by).join(_ndef(s.case_defendants), on="case_id", how="left") \
        .with_columns(pl.col("n_def").fill_null(0))
    m = loc.filter(pl.col("n_def") >= 2).group_by("town", "pfa").len().rename({"len": "m"})
    t = (all_located.group_by("town", "pfa").len().rename({"len": "n_all"})
         .join(m, on=["town", "pfa"], how="left").with_columns(pl.col("m").fill_null(0))
         .filter(pl.col("n_all") >= min_cases).sort("town", "pfa"))
    rows = [(a, b, n, mm, *gaz[(a, b)]) for a, b, n, mm in t.iter_rows() if (a, b) in gaz]
    info = {"method": f"Getis-Ord Gi* (k={k} nearest towns, self weight 1), 999 conditional permutations; "
                      "z_sim (permutation mean and s.d.) with its one-sided normal p (p_z_sim), Benjamini-Hochberg "
                      "FDR 5%; the pseudo p (p_sim, floor 0.001) is given too",
            "variable": "in-scope cases with >= 2 defendants per 1,000 cases (any offence) located in the town",
            "towns_tested": len(rows), "min_cases": min_cases, "hotspots": []}
    if len(rows) < 4:
        return info
    vals = [1000.0 * mm / n for _, _, n, mm, _, _ in rows]
    w = S.knn_weights([r[4] for r in rows], [r[5] for r in rows], k=k)
    g = S.gi_star(vals, w)
    from statistics import NormalDist

    pz = [1.0 - NormalDist().cdf(float(z)) for z in g["z_sim"]]
    q = S.bh_qvalues(pz)
    hot = []
    for i, r in enumerate(rows):
        if g["z_sim"][i] > 0 and q[i] < 0.05:
            hot.append({"town": r[0], "pfa": r[1], "lat": r[4], "lon": r[5], "value": round(vals[i], 3),
                        "cases": int(r[2]), "multi_defendant_cases": int(r[3]),
                        "z_sim": round(float(g["z_sim"][i]), 3), "p_z_sim": float(f"{pz[i]:.4g}"),
                        "p_sim": round(float(g["p_sim"][i]), 4), "q_value": float(f"{q[i]:.4g}")})
    info["hotspots"] = sorted(hot, key=lambda h: (-h["z_sim"], h["town"]))
    return info


def _networks(s: D.Inputs, comps: pl.DataFrame, by: str, sup: Suppressor) -> tuple[list, list]:
    """The networks (components with >= 2 defendants), labelled N-0001.. by size; the largest
    with their pseudonymous member graph (D-1..); and those spanning >= 2 police force areas."""
    nets = comps.filter(pl.col("network_size") >= 2)
    if nets.height == 0:
        return [], []
    order = (nets.select("network_id", "network_size").unique()
             .sort(["network_size", "network_id"], descending=[True, False]))
    label = {nid: f"N-{i:04d}" for i, nid in enumerate(order["network_id"].to_list(), start=1)}
    loc = D.case_locations(s.cases, by).select("case_id", "pfa")
    cd = s.case_defendants.select("case_id", "defendant_id").unique()
    member_cases = cd.join(nets.select("defendant_id", "network_id"), on="defendant_id")
    per = (member_cases.join(loc, on="case_id", how="left")
           .join(s.cases.select("case_id", pl.col("first_hearing_date").dt.year().alias("year")), on="case_id")
           .group_by("network_id")
           .agg(pl.col("case_id").n_unique().alias("cases"), pl.col("pfa").drop_nulls().unique().sort().alias("pfas"),
                pl.col("year").min().alias("first_year"), pl.col("year").max().alias("last_year")))
    comp_of = s.offence_complainants.join(nets.select("defendant_id", "network_id"), on="defendant_id") \
        .group_by("network_id").agg(pl.col("complainant_id").n_unique().alias("complainants"))
    per = per.join(comp_of, on="network_id", how="left").join(order, on="network_id")
    info = {r["network_id"]: r for r in per.iter_rows(named=True)}
    co_edges = D.defendant_edges(s.case_defendants, s.offence_complainants.clear())
    co = {(a, b) for a, b in co_edges.iter_rows()}
    edges = D.defendant_edges(s.case_defendants, s.offence_complainants)
    shown = []
    for nid in order["network_id"].to_list()[:NETWORKS_SHOWN]:
        members = sorted(nets.filter(pl.col("network_id") == nid)["defendant_id"].to_list())
        idx = {m: i for i, m in enumerate(members)}
        e = [(idx[a], idx[b], "co-defendants" if (a, b) in co else "same complainant")
             for a, b in edges.filter(pl.col("a").is_in(members) & pl.col("b").is_in(members)).iter_rows()]
        r = info[nid]
        lab = label[nid]
        shown.append({"network": lab, "size": int(r["network_size"]), "cases": int(r["cases"]),
                      "complainants": sup(int(r["complainants"] or 0), f"networks.{lab}.complainants"),
                      "pfas": len(r["pfas"]), "years": [r["first_year"], r["last_year"]],
                      "nodes": [f"D-{i + 1}" for i in range(len(members))],
                      "edges": [[a, b, k] for a, b, k in e]})
    spanning = [{"network": label[r["network_id"]], "size": int(r["network_size"]), "cases": int(r["cases"]),
                 "pfas": r["pfas"]}
                for r in sorted(info.values(), key=lambda r: label[r["network_id"]]) if len(r["pfas"]) >= 2]
    return shown, spanning


def _by_year(s: D.Inputs) -> list[dict]:
    t = (s.cases.join(_ndef(s.case_defendants), on="case_id", how="left")
         .with_columns(year=pl.col("first_hearing_date").dt.year(), multi=pl.col("n_def").fill_null(0) >= 2)
         .group_by("year").agg(pl.len().alias("cases"), pl.col("multi").sum().alias("multi_defendant_cases"))
         .sort("year"))
    return [{"year": int(y), "cases": int(c), "multi_defendant_cases": int(m)} for y, c, m in t.iter_rows()
            if y is not None]


def _courts(s: D.Inputs, courts: pl.DataFrame) -> list[dict]:
    t = (s.cases.join(_ndef(s.case_defendants), on="case_id", how="left")
         .with_columns(multi=pl.col("n_def").fill_null(0) >= 2)
         .group_by("court_id").agg(pl.len().alias("cases"), pl.col("multi").sum().alias("multi_defendant_cases"))
         .join(courts, on="court_id").filter(pl.col("lat").is_not_null())
         .sort(["multi_defendant_cases", "cases", "court_name"], descending=[True, True, False]))
    return [{"court": r["court_name"], "town": r["court_town"], "pfa": r["court_pfa"], "lat": r["lat"],
             "lon": r["lon"], "cases": int(r["cases"]), "multi_defendant_cases": int(r["multi_defendant_cases"])}
            for r in t.iter_rows(named=True)]


# ------------------------------------------------------------------ everything
def compute(data: AnalysisData, *, scope: str = D.SCOPE_CSA, location_by: str = "chain",
            date_from: dt.date | None = None, date_to: dt.date | None = None, area: str | None = None,
            top: int = 20, min_cell: int = 5, km_method: str = "auto",
            as_of: dt.date | None = None) -> dict:
    """findings.json for one scope and set of filters."""
    import time

    t0 = time.perf_counter()
    inp = data.inputs
    ids = filter_case_ids(inp, date_from=date_from, date_to=date_to, area=area, location_by=location_by)
    sub = inp if ids is None else restrict_to(inp, ids)
    base = D.findings(sub, scope, location_by=location_by, top=top)
    s = D.restrict(sub, scope)
    if ids is not None:   # a new case may be any case in the archive, filtered or not
        base["repeat_offending"] = D.repeat_offending(inp.cases, inp.case_defendants, s.cases)
    as_of = as_of or data.end_date or dt.date.today()
    sup = Suppressor(min_cell)
    comps = D.defendant_components(s.case_defendants, s.offence_complainants)
    all_located = D.case_locations(sub.cases, location_by).filter(pl.col("town").is_not_null())
    rows, pfa_rows, test_info = _location_tests(s, all_located, base["multi_defendant_cases_by_location"],
                                                location_by)
    shown, spanning = _networks(s, comps, location_by, sup)
    hearings = int(s.cases["hearings"].sum()) if "hearings" in s.cases.columns else None
    out = {
        "scope": scope, "location_by": location_by,
        "filters": {"from": date_from.isoformat() if date_from else None,
                    "to": date_to.isoformat() if date_to else None, "area": area},
        "linkage": data.linkage, "engine": data.engine,
        "data": {"cases_in_archive": inp.cases.height, "hearing_entries": data.hearing_entries,
                 "hearings": data.hearings, "end_date": str(data.end_date) if data.end_date else None,
                 "as_of": as_of.isoformat()},
        **base,
        "hearings": hearings,
        "complainants": sup(base["complainants"], "complainants"),
        "victims_linked_to_2plus_defendants": sup(base["victims_linked_to_2plus_defendants"],
                                                  "victims_linked_to_2plus_defendants"),
        "multi_defendant_cases_by_location": rows,
        "multi_defendant_cases_by_location_test": test_info,
        "multi_defendant_cases_by_pfa": pfa_rows,
        "delays": {**base["delays"], "kaplan_meier": _delays(s, as_of, km_method)},
        "repeat_offending": {**base["repeat_offending"],
                             "kaplan_meier": _repeat_km(inp.cases, inp.case_defendants, s.cases, as_of, km_method)},
        "cross_boundary": {**base["cross_boundary"], "networks_spanning": spanning},
        "hotspots": _hotspots(s, all_located, location_by),
        "counts_by_year": _by_year(s),
        "courts": _courts(s, data.courts),
        "networks": shown,
    }
    out["disclosure"] = {"min_cell": min_cell, "suppressed": sup.paths,
                         "rule": "complainant counts below min_cell shown as '<min_cell>'; no complainant-level "
                                 "attributes are output (LAW.md rule 7)"}
    out["timings"] = {**data.timings, "findings_s": round(time.perf_counter() - t0, 3)}
    return out


# ------------------------------------------------------------------ the outputs, through the gate
def _profile_threshold(profile=None) -> int:
    """The licence profile's small-cell threshold (the one the gate applies)."""
    if profile is None:
        from ..governance.profile import load

        profile = load()
    return int(profile.get("disclosure", "small_cell_threshold", 5))


def _coarser(label, threshold: int):
    """A "<k" label written below ``--min-cell``, widened to "<threshold" when k is below the licence
    profile's threshold (other values unchanged)."""
    if isinstance(label, str) and label.startswith("<"):
        try:
            k = int(label[1:])
        except ValueError:
            return f"<{threshold}"
        return f"<{threshold}" if k < threshold else label
    return label


#: top-level findings that count complainants (each one cell: no table to recompute it from)
COMPLAINANT_TOTALS = ("complainants", "victims_linked_to_2plus_defendants")


def disclose_findings(findings: dict, viewer, *, archive, purpose: str, profile=None,
                      now: dt.datetime | None = None, output: str = "report") -> dict:
    """The findings as ``viewer`` may receive them (findings.json, report.html, the headline).

    What in the findings is personal data: nothing names or identifies a person.  Counts,
    rates, delays and statistics are aggregates over cases; locations are towns and police force
    areas; courts are public reference data; the network diagrams carry labels made for this report
    (N-0001, D-1 ...) that no other output uses, so they link to no one.  There is no per-case or
    per-defendant listing.  What the law restricts are the **complainant counts** (LAW.md rule 7):
    each goes through the gate's aggregate path (``governance.disclose`` with ``_entity:
    "aggregate"`` records: small-cell suppression at the licence profile's threshold, only the
    allowed dimensions); a complainant count by network is a drill-down the gate does not allow
    (network is not an allowed dimension), so it is withheld.  Suppression applies to every role
    (the gate's policy has no role exception), on top of any ``min_cell`` the run used.

    One audit event is written for the run (who, role, purpose, what was suppressed)."""
    import copy

    from ..governance import audit
    from ..governance.gate import disclose

    f = copy.deepcopy(findings)
    ctx = {"archive": archive, "output": output, "now": now, "audit": False,
           **({"profile": profile} if profile is not None else {})}
    role = viewer.effective_role(now)
    withheld: list[str] = []
    suppressed: list[str] = list(f.get("disclosure", {}).get("suppressed", []))
    threshold = _profile_threshold(profile)
    # the totals, and the link run's count of complainant mentions (a bound on the complainants: "1"
    # beside a suppressed total would tell that total)
    cells = [(f, key, key) for key in COMPLAINANT_TOTALS]
    if isinstance(f.get("linkage"), dict):
        cells.append((f["linkage"], "complainant_mentions", "linkage.complainant_mentions"))
    for holder, key, path in cells:
        v = holder.get(key)
        if isinstance(v, str):
            # `compute` suppressed it below --min-cell; a label finer than the licence's ("<2" is 1)
            # tells more than the gate allows: relabel it at the profile's threshold
            holder[key] = _coarser(v, threshold)
            continue
        if not isinstance(v, int) or isinstance(v, bool):
            continue
        d = disclose([{"_entity": "aggregate", "subject": "complainants", "count": v}], viewer, purpose=purpose,
                     context=ctx)
        cell = d.records[0]
        if cell.get("count") is None:
            holder[key] = cell.get("suppressed")
            suppressed.append(path)
        threshold = next((x["threshold"] for x in d.flags if x["flag"] == "small_cell"), threshold)
    # every network's complainant count goes to the gate, the ones `compute` already wrote as "<min_cell>"
    # too: a "<5" by network is still a complainant count by network (and beside withheld larger ones it
    # would tell which networks have 5 or more)
    nets = [n for n in f.get("networks") or [] if n.get("complainants") is not None]
    if nets:
        d = disclose([{"_entity": "aggregate", "subject": "complainants",
                       "count": n["complainants"] if isinstance(n["complainants"], int) else None,
                       "dims": {"network": n["network"]}} for n in nets], viewer, purpose=purpose, context=ctx)
        for n, cell in zip(nets, d.records):
            path = f"networks.{n['network']}.complainants"
            if "dims.network" in cell.get("_redacted", []):
                n["complainants"] = None
                withheld.append(path)
                if path in suppressed:
                    suppressed.remove(path)
            elif not isinstance(n["complainants"], int):
                n["complainants"] = _coarser(n["complainants"], threshold)
                continue
            elif cell.get("count") is None:
                n["complainants"] = cell.get("suppressed")
                suppressed.append(f"networks.{n['network']}.complainants")
    disc = dict(f.get("disclosure") or {})
    disc.update({"suppressed": suppressed, "withheld": withheld, "viewer": viewer.username, "role": role,
                 "purpose": purpose, "gate": "governance.disclose (aggregate path)",
                 "gate_rule": "complainant counts below the licence profile's small_cell_threshold suppressed; "
                              "complainant counts only by court, region, police force area, year, quarter, offence "
                              "group, list type or country (LAW.md rule 7)"})
    disc["gate_threshold"] = threshold
    # what a reader of the outputs needs: every complainant count from 1 to shown_below - 1 reads "<shown_below>"
    disc["shown_below"] = max(int(disc.get("min_cell") or 0), threshold)
    f["disclosure"] = disc
    disc["audit_seq"] = audit.record(
        archive, actor=viewer.username, role=role, action=output, purpose=purpose,
        details={"output": "analysis", "scope": f.get("scope"), "filters": f.get("filters"),
                 "linkage": (f.get("linkage") or {}).get("source"), "suppressed": len(suppressed),
                 "withheld": len(withheld), "account_role": viewer.role})
    return f
