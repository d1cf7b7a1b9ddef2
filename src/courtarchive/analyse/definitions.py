"""The findings, defined once.  The generator's truth and the analysis stage both call these.

Every function here is a pure function over polars DataFrames: no I/O, no randomness, the same
answer for the same tables (row order does not matter).  The words below are the definitions of
issue 6; the docs quote this module.

Input tables (column contracts)
    ``cases``                one row per prosecution case (URN), across all its hearings and courts:
        case_id (str), first_hearing_date (date), offence_date (date, null if unknown),
        completion_date (date, null = still open), outcome (``convicted`` | ``acquitted`` |
        ``withdrawn`` | null = open), offence_town, residence_town, court_town (str, null if not
        known), offence_pfa, residence_pfa, court_pfa (police force area of each town).
    ``case_defendants``      case_id, defendant_id (str), convicted (bool),
                             conviction_date (date, null unless convicted)
    ``case_offences``        case_id, defendant_id, offence_code (str)
    ``offence_complainants`` case_id, defendant_id, complainant_id (str): the defendant is charged
                             with an offence against the complainant in that case, and a list
                             *identifies* the complainant on that charge (see IDENTIFYING_KINDS)
    ``offences``             the declared offence table (``data/offences.csv``): code,
                             offence_group, child_sexual_abuse (bool), ...

Definitions
    *case*: one prosecution case (URN), across all its hearings and courts.
    *scope*: ``all``; ``child-sexual-abuse`` = cases with at least one offence under Sexual
        Offences Act 2003 ss.5-15A or 47-50 (and attempts/conspiracies to them), i.e. an offence
        whose ``child_sexual_abuse`` flag is set in the declared offence table; any other value is
        an ``offence_group`` of that table (cases with at least one offence of the group).
    *linked defendants*: co-defendants in a case, or charged with offences against the same
        complainant.  The *defendant graph* has the distinct defendants of the in-scope cases as
        vertices and an edge for every linked pair (in-scope cases only).
    ``victims_linked_to_2plus_defendants``: distinct complainants linked to >= 2 distinct
        defendants (a complainant is linked to a defendant charged with an offence against them,
        where the list identifies the complainant on that charge: by name, initials or label, or as
        a complainant party -- ``IDENTIFYING_KINDS``.  A charge whose wording only describes the
        complainant ("a girl aged 14") or does not mention them identifies nobody: no list can say
        whose complainant that is, so it links no one.  A complainant shown only by initials in a
        case is identified within that case alone ("J.S." of one case is nobody in particular in
        another); one named in a case is the same complainant in every case that names them.  The
        generator's truth applies the same rules).
    *network size of a case*: distinct defendants in the connected component of the defendant
        graph that holds the case's defendants.  ``cases_with_network_3plus`` / ``_5plus``: cases
        whose network size is >= 3 / >= 5.
    *location of a case*: the place of offence where the wording or data gives one, else the
        defendant's home town, else the town of the court of first hearing (``by="chain"``, the
        default); ``by="offence"|"residence"|"court"`` uses one source only.  The police force
        area is the one of the town chosen.
    ``multi_defendant_cases_by_location``: cases with >= 2 distinct defendants, by location
        (town and police force area), ranked by that count (ties: town name); each row also gives
        all in-scope cases at that location and the rate (multi-defendant / all).
    ``delays``: offence -> first hearing, first hearing -> completion, offence -> completion, in
        days.  Here simple medians over the cases where both dates are known (completed cases for
        the last two); the analysis stage adds Kaplan-Meier with open cases censored.
    ``repeat_offending``: share of convicted defendants (convicted in an in-scope case; the
        earliest such conviction counts) with a new case (any offence, another case) whose first
        hearing falls within 1, 2 and 5 years after that conviction.  Simple shares here.
    ``cross_boundary``: networks (components of the defendant graph with >= 2 defendants) and
        defendants whose in-scope cases are located (the *location of a case* above: the chain, or
        the one source ``by`` names) in >= 2 distinct police force areas, with counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import polars as pl

#: complainant mention kinds that identify a complainant (the intake gate's kinds): a charge links
#: its defendant to its complainant only when the list shows the complainant in one of these forms
IDENTIFYING_KINDS = frozenset({"named", "initials", "party"})

__all__ = [
    "IDENTIFYING_KINDS",
    "Inputs", "SCOPE_ALL", "SCOPE_CSA", "LOCATION_BY", "scope_case_ids", "restrict",
    "defendant_edges", "defendant_components", "victims_linked_to_2plus_defendants",
    "case_network_sizes", "cases_with_network", "cases_with_network_3plus",
    "cases_with_network_5plus", "case_locations", "multi_defendant_cases_by_location",
    "delay_medians", "repeat_offending", "cross_boundary", "findings",
]

SCOPE_ALL = "all"
SCOPE_CSA = "child-sexual-abuse"
LOCATION_BY = ("chain", "offence", "residence", "court")
REPEAT_YEARS = (1, 2, 5)

_CASE_COLS = ("case_id", "first_hearing_date", "offence_date", "completion_date", "outcome",
              "offence_town", "residence_town", "court_town", "offence_pfa", "residence_pfa",
              "court_pfa")


@dataclass(frozen=True)
class Inputs:
    """The tables the findings are computed from (see the module docstring for the columns)."""
    cases: pl.DataFrame
    case_defendants: pl.DataFrame
    case_offences: pl.DataFrame
    offence_complainants: pl.DataFrame
    offences: pl.DataFrame


# ------------------------------------------------------------------ scope
def _truthy(col: str) -> pl.Expr:
    c = pl.col(col)
    return (c.cast(pl.Utf8).str.to_lowercase().is_in(["true", "1", "yes", "y", "t"])).fill_null(False)


def scope_case_ids(case_offences: pl.DataFrame, offences_table: pl.DataFrame, scope: str,
                   cases: pl.DataFrame | None = None) -> pl.Series:
    """Sorted distinct case ids in scope.

    ``all``: every case (of ``cases`` when given, else every case with an offence);
    ``child-sexual-abuse``: cases with >= 1 offence flagged ``child_sexual_abuse``;
    otherwise: cases with >= 1 offence whose ``offence_group`` equals ``scope``.
    """
    if scope == SCOPE_ALL:
        ids = cases["case_id"] if cases is not None else case_offences["case_id"]
        return ids.unique().sort()
    if scope == SCOPE_CSA:
        codes = offences_table.filter(_truthy("child_sexual_abuse"))["code"]
    else:
        codes = offences_table.filter(pl.col("offence_group") == scope)["code"]
        if codes.len() == 0 and scope not in set(offences_table["offence_group"].to_list()):
            raise ValueError(f"unknown scope {scope!r}: not 'all', {SCOPE_CSA!r} or an offence group")
    ids = case_offences.filter(pl.col("offence_code").is_in(codes.implode()))["case_id"]
    if cases is not None:
        ids = ids.filter(ids.is_in(cases["case_id"].implode()))
    return ids.unique().sort()


def restrict(inputs: Inputs, scope: str) -> Inputs:
    """The inputs limited to the in-scope cases (the offence table unchanged)."""
    ids = scope_case_ids(inputs.case_offences, inputs.offences, scope, inputs.cases).implode()
    keep = pl.col("case_id").is_in(ids)
    return Inputs(inputs.cases.filter(keep), inputs.case_defendants.filter(keep),
                  inputs.case_offences.filter(keep), inputs.offence_complainants.filter(keep),
                  inputs.offences)


# ------------------------------------------------------------------ the defendant graph
def defendant_edges(case_defendants: pl.DataFrame, offence_complainants: pl.DataFrame) -> pl.DataFrame:
    """Linked defendant pairs (a < b, distinct): co-defendants in a case, or charged with offences
    against the same complainant.  Columns a, b."""
    cd = case_defendants.select("case_id", "defendant_id").unique()
    co = (cd.join(cd, on="case_id", suffix="_b")
          .filter(pl.col("defendant_id") < pl.col("defendant_id_b"))
          .select(pl.col("defendant_id").alias("a"), pl.col("defendant_id_b").alias("b")))
    oc = offence_complainants.select("complainant_id", "defendant_id").unique()
    sc = (oc.join(oc, on="complainant_id", suffix="_b")
          .filter(pl.col("defendant_id") < pl.col("defendant_id_b"))
          .select(pl.col("defendant_id").alias("a"), pl.col("defendant_id_b").alias("b")))
    return pl.concat([co, sc]).unique().sort("a", "b")


def defendant_components(case_defendants: pl.DataFrame,
                         offence_complainants: pl.DataFrame) -> pl.DataFrame:
    """Connected components of the defendant graph: defendant_id, network_id, network_size.

    ``network_id`` is the smallest defendant id of the component (stable across runs)."""
    ids = sorted(set(case_defendants["defendant_id"].to_list())
                 | set(offence_complainants["defendant_id"].to_list()))
    if not ids:
        return pl.DataFrame(schema={"defendant_id": pl.Utf8, "network_id": pl.Utf8,
                                    "network_size": pl.Int64})
    from ..config import igraph   # imported here: slow to import

    ig = igraph()

    index = {d: i for i, d in enumerate(ids)}
    edges = defendant_edges(case_defendants, offence_complainants)
    g = ig.Graph(n=len(ids), edges=[(index[a], index[b]) for a, b in edges.iter_rows()])
    membership = g.connected_components().membership
    comp = pl.DataFrame({"defendant_id": ids, "component": membership})
    return (comp.with_columns(pl.col("defendant_id").min().over("component").alias("network_id"),
                              pl.len().over("component").cast(pl.Int64).alias("network_size"))
            .select("defendant_id", "network_id", "network_size"))


def victims_linked_to_2plus_defendants(offence_complainants: pl.DataFrame) -> int:
    """Distinct complainants linked to >= 2 distinct defendants (a complainant is linked to each
    defendant charged with an offence against them, in any in-scope case)."""
    per = offence_complainants.group_by("complainant_id").agg(pl.col("defendant_id").n_unique().alias("n"))
    return int(per.filter(pl.col("n") >= 2).height)


def case_network_sizes(case_defendants: pl.DataFrame, offence_complainants: pl.DataFrame,
                       components: pl.DataFrame | None = None) -> pl.DataFrame:
    """case_id, network_id, network_size.

    *Network size of a case*: distinct defendants in the connected component of the defendant
    graph that holds the case's defendants (co-defendants share one component)."""
    if components is None:
        components = defendant_components(case_defendants, offence_complainants)
    return (case_defendants.select("case_id", "defendant_id").unique()
            .join(components, on="defendant_id", how="left")
            .group_by("case_id")
            .agg(pl.col("network_id").min(), pl.col("network_size").max())
            .sort("case_id"))


def cases_with_network(sizes: pl.DataFrame, k: int) -> int:
    """Cases whose network size is >= k."""
    return int(sizes.filter(pl.col("network_size") >= k).height)


def cases_with_network_3plus(sizes: pl.DataFrame) -> int:
    """Cases whose defendant network has >= 3 distinct defendants."""
    return cases_with_network(sizes, 3)


def cases_with_network_5plus(sizes: pl.DataFrame) -> int:
    """Cases whose defendant network has >= 5 distinct defendants."""
    return cases_with_network(sizes, 5)


# ------------------------------------------------------------------ locations
def case_locations(cases: pl.DataFrame, by: str = "chain") -> pl.DataFrame:
    """case_id, town, pfa, source: the location of each case.

    ``chain``: place of offence, else the defendant's home town, else the town of the court of
    first hearing; the police force area is the one of the town chosen.  ``offence`` /
    ``residence`` / ``court``: that source only (null when it gives none)."""
    if by not in LOCATION_BY:
        raise ValueError(f"location by {by!r}: expected one of {LOCATION_BY}")
    if by != "chain":
        return cases.select("case_id", pl.col(f"{by}_town").alias("town"),
                            pl.col(f"{by}_pfa").alias("pfa"), pl.lit(by).alias("source"))
    has_o, has_r = pl.col("offence_town").is_not_null(), pl.col("residence_town").is_not_null()
    has_c = pl.col("court_town").is_not_null()
    return cases.select(
        "case_id",
        pl.when(has_o).then(pl.col("offence_town")).when(has_r).then(pl.col("residence_town"))
        .otherwise(pl.col("court_town")).alias("town"),
        pl.when(has_o).then(pl.col("offence_pfa")).when(has_r).then(pl.col("residence_pfa"))
        .otherwise(pl.col("court_pfa")).alias("pfa"),
        pl.when(has_o).then(pl.lit("offence")).when(has_r).then(pl.lit("residence"))
        .when(has_c).then(pl.lit("court")).otherwise(pl.lit(None, pl.Utf8)).alias("source"),
    )


def multi_defendant_cases_by_location(cases: pl.DataFrame, case_defendants: pl.DataFrame,
                                      by: str = "chain", top: int | None = 20) -> list[dict]:
    """Rows {rank, town, pfa, multi_defendant_cases, cases, rate}: cases with >= 2 distinct
    defendants by location, ranked by that count (ties broken by town, then pfa)."""
    loc = case_locations(cases, by)
    ndef = case_defendants.group_by("case_id").agg(pl.col("defendant_id").n_unique().alias("n"))
    t = (loc.join(ndef, on="case_id", how="left").with_columns(pl.col("n").fill_null(0))
         .filter(pl.col("town").is_not_null())
         .group_by("town", "pfa")
         .agg((pl.col("n") >= 2).sum().cast(pl.Int64).alias("multi_defendant_cases"),
              pl.len().cast(pl.Int64).alias("cases"))
         .filter(pl.col("multi_defendant_cases") > 0)
         .sort(["multi_defendant_cases", "town", "pfa"], descending=[True, False, False],
               nulls_last=True))
    if top is not None:
        t = t.head(top)
    rows = []
    for i, r in enumerate(t.iter_rows(named=True), start=1):
        rows.append({"rank": i, "town": r["town"], "pfa": r["pfa"],
                     "multi_defendant_cases": r["multi_defendant_cases"], "cases": r["cases"],
                     "rate": round(r["multi_defendant_cases"] / r["cases"], 6)})
    return rows


# ------------------------------------------------------------------ delays
def _median_days(df: pl.DataFrame, start: str, end: str) -> dict:
    d = (df.filter(pl.col(start).is_not_null() & pl.col(end).is_not_null())
         .select((pl.col(end) - pl.col(start)).dt.total_days().alias("d"))["d"])
    return {"n": int(d.len()), "median_days": (float(d.median()) if d.len() else None)}


def delay_medians(cases: pl.DataFrame) -> dict:
    """Median days offence -> first hearing (cases with an offence date), first hearing ->
    completion and offence -> completion (completed cases)."""
    return {
        "offence_to_first_hearing": _median_days(cases, "offence_date", "first_hearing_date"),
        "first_hearing_to_completion": _median_days(cases, "first_hearing_date", "completion_date"),
        "offence_to_completion": _median_days(cases, "offence_date", "completion_date"),
    }


# ------------------------------------------------------------------ repeat offending
def repeat_offending(cases: pl.DataFrame, case_defendants: pl.DataFrame,
                     scope_cases: pl.DataFrame | None = None,
                     years: Iterable[int] = REPEAT_YEARS) -> dict:
    """Share of convicted defendants with a new case within 1, 2, 5 years of conviction.

    Convicted defendants: convicted in a case of ``scope_cases`` (default: ``cases``); their
    earliest such conviction counts.  New case: another case of ``cases`` (any offence) whose
    first hearing is after the conviction date and no later than the same date k years on."""
    scope_ids = (scope_cases if scope_cases is not None else cases)["case_id"].implode()
    conv = (case_defendants.filter(pl.col("case_id").is_in(scope_ids) & pl.col("convicted")
                                   & pl.col("conviction_date").is_not_null())
            .sort("conviction_date", "case_id")
            .group_by("defendant_id", maintain_order=True)
            .agg(pl.col("conviction_date").first(), pl.col("case_id").first().alias("conv_case")))
    later = (case_defendants.select("case_id", "defendant_id").unique()
             .join(cases.select("case_id", "first_hearing_date"), on="case_id"))
    pairs = (conv.join(later, on="defendant_id")
             .filter((pl.col("case_id") != pl.col("conv_case"))
                     & (pl.col("first_hearing_date") > pl.col("conviction_date"))))
    n = conv.height
    out: dict = {"convicted_defendants": n, "within_years": {}}
    for k in years:
        hit = pairs.filter(pl.col("first_hearing_date")
                           <= pl.col("conviction_date").dt.offset_by(f"{k}y"))["defendant_id"].n_unique()
        out["within_years"][str(k)] = {"defendants": int(hit),
                                       "share": round(hit / n, 6) if n else None}
    return out


# ------------------------------------------------------------------ cross-boundary
def cross_boundary(cases: pl.DataFrame, case_defendants: pl.DataFrame,
                   components: pl.DataFrame, by: str = "chain") -> dict:
    """Networks (components with >= 2 defendants) and defendants whose in-scope cases are
    located in >= 2 distinct police force areas."""
    loc = case_locations(cases, by).select("case_id", "pfa")
    dp = (case_defendants.select("case_id", "defendant_id").unique()
          .join(loc, on="case_id", how="left"))
    per_def = dp.group_by("defendant_id").agg(pl.col("pfa").drop_nulls().n_unique().alias("k"))
    nets = components.filter(pl.col("network_size") >= 2)
    per_net = (dp.join(nets, on="defendant_id")
               .group_by("network_id").agg(pl.col("pfa").drop_nulls().n_unique().alias("k")))
    by_k = per_net.group_by("k").len().sort("k")
    return {
        "networks": int(nets["network_id"].n_unique()),
        "networks_spanning_2plus_pfas": int(per_net.filter(pl.col("k") >= 2).height),
        "networks_by_pfa_count": {str(k): int(c) for k, c in by_k.iter_rows()},
        "defendants": int(per_def.height),
        "defendants_spanning_2plus_pfas": int(per_def.filter(pl.col("k") >= 2).height),
    }


# ------------------------------------------------------------------ bundle
def findings(inputs: Inputs, scope: str = SCOPE_ALL, *, location_by: str = "chain",
             top: int = 20) -> dict:
    """All the findings for one scope, as a JSON-ready dict."""
    s = restrict(inputs, scope)
    comps = defendant_components(s.case_defendants, s.offence_complainants)
    sizes = case_network_sizes(s.case_defendants, s.offence_complainants, comps)
    ndef = s.case_defendants.group_by("case_id").agg(pl.col("defendant_id").n_unique().alias("n"))
    return {
        "scope": scope,
        "location_by": location_by,
        "cases": int(s.cases.height),
        "defendants": int(s.case_defendants["defendant_id"].n_unique()),
        "complainants": int(s.offence_complainants["complainant_id"].n_unique()),
        "multi_defendant_cases": int(ndef.filter(pl.col("n") >= 2).height),
        "victims_linked_to_2plus_defendants": victims_linked_to_2plus_defendants(s.offence_complainants),
        "cases_with_network_3plus": cases_with_network_3plus(sizes),
        "cases_with_network_5plus": cases_with_network_5plus(sizes),
        "largest_networks": sorted(
            comps.group_by("network_id").agg(pl.len().alias("n"))["n"].to_list(), reverse=True)[:10],
        "multi_defendant_cases_by_location": multi_defendant_cases_by_location(
            s.cases, s.case_defendants, location_by, top),
        "delays": delay_medians(s.cases),
        "repeat_offending": repeat_offending(inputs.cases, inputs.case_defendants, s.cases),
        "cross_boundary": cross_boundary(s.cases, s.case_defendants, comps, location_by),
    }
