"""Complainant linkage against the generator's truth: how reliable is a full name across cases?

    COURTARCHIVE_HOME=DIR python bench/complainants.py --truth CORPUS/truth.json [--pairs] [--rules]

Reads the current complainant mentions of a *linked* archive (the stored defendant persons give
each mention its charge and defendant person), joins the generator's truth victim ids and:

* ``--pairs``: every pair of mentions in different cases at one court (``--national``: at any
  court) sharing a full-name token within one victim context -- the candidates a name join across cases considers -- tabulated by
  each piece of episode evidence (`link.victims.mention_evidence`) with the share that truly is one
  victim;
* ``--cross-court``: the pairs of one name in one context at two courts, by the courts' distance
  and group cases, with what the cross-court rule (`link.victims.CROSS_COURT_KM`) makes a
  candidate and accepts;
* ``--rules``: `link.victims.link_complainants` under each cross-case rule, scored (pairwise and
  B-cubed), with the number of linked complainant persons that span two or more cases against
  the true number.

Synthetic data only (the truth exists only for generated corpora).
"""

from __future__ import annotations

import argparse
import json
import time

import polars as pl

from courtarchive.link import evaluate as E
from courtarchive.link import run as R
from courtarchive.link import victims as V
from courtarchive.store import Archive
from courtarchive.store import linkage as S


def inputs(archive: Archive, truth: str) -> pl.DataFrame:
    dmap = pl.from_arrow(S.person_assignments(archive, "defendant")).select(
        pl.col("mention_id").alias("party_id"), "person_id")
    df = R.victim_inputs(archive, dmap)
    t = E.complainant_truth(archive, truth).select("complainant_id", "victim_id")
    return df.join(t, on="complainant_id", how="left")


def pairs(df: pl.DataFrame, national: bool = False) -> pl.DataFrame:
    full = df.filter(pl.col("kind").is_in(["named", "party"]) & pl.col("token").is_not_null()
                     & pl.col("victim_id").is_not_null())
    # one row per (token, context, case): the case's evidence, as link.victims keeps it
    per = V.case_evidence(full.group_by("token", "context", "case_id").agg(
        pl.col("victim_id").first(), pl.col("odate").min(), pl.col("court_id").unique().alias("courts"),
        pl.col("court_lat").first(), pl.col("court_lon").first(), *V.EVIDENCE_AGGS))
    ncase = full.group_by("token").agg(pl.col("case_id").n_unique().alias("name_cases"))
    per = per.join(ncase, on="token")
    # complainants each case names, in full or by initials, per context (link.victims' `case_names`)
    cnames = (df.filter(pl.col("token").is_not_null()).group_by("case_id", "context")
              .agg(pl.col("token").n_unique().alias("case_names")))
    per = per.join(cnames, on=["case_id", "context"], how="left").with_columns(pl.col("context").alias("ctx"))
    if not national:                 # same court only (nationally: every pair of a common name)
        per = per.with_columns(pl.col("courts").list.first().alias("court_key"))
    p = (per.join(per, on=["token", "context"] + ([] if national else ["court_key"]), suffix="_r")
         .filter(pl.col("case_id") < pl.col("case_id_r")))
    # pairs at two courts carry link.victims' `other_court` term (the linker makes them only
    # within one police force area)
    p = V.episode_score(p.with_columns(
        (pl.col("courts").list.set_intersection(pl.col("courts_r")).list.len() == 0).alias("other_court")))
    yrs = ((pl.col("odate") - pl.col("odate_r")).dt.total_days().abs() / 365.25)
    both = lambda x: (pl.col(x).list.len() > 0) & (pl.col(x + "_r").list.len() > 0)  # noqa: E731
    meet = lambda x: pl.col(x).list.set_intersection(pl.col(x + "_r")).list.len() > 0  # noqa: E731
    return p.with_columns(
        (pl.col("victim_id") == pl.col("victim_id_r")).alias("same"),
        meet("courts").alias("same_court"),
        pl.when(meet("places")).then(pl.lit("same")).when(both("places")).then(pl.lit("different"))
        .otherwise(pl.lit("unknown")).alias("place_ev"),
        yrs.floor().cast(pl.Int64).clip(0, 5).alias("years_apart"),
        pl.when(meet("sexes")).then(pl.lit("same")).when(both("sexes")).then(pl.lit("different"))
        .otherwise(pl.lit("unknown")).alias("sex_ev"),
        pl.when(pl.col("born_lo").is_null() | pl.col("born_lo_r").is_null()).then(pl.lit("unknown"))
        .when(pl.col("conflict")).then(pl.lit("conflict"))
        .when(((pl.col("born_hi") - pl.col("born_lo")) <= 1.01) & ((pl.col("born_hi_r") - pl.col("born_lo_r")) <= 1.01))
        .then(pl.lit("both aged")).otherwise(pl.lit("compatible")).alias("age_ev"),
        meet("dpersons").alias("same_defendant"),
        (pl.min_horizontal("case_names", "case_names_r") >= V.GROUP_CASE_NAMES).alias("group_cases"),
        pl.col("name_cases").clip(0, 9).alias("token_cases_c"),
        pl.when(pl.col("conflict")).then(-99).otherwise(pl.col("score").clip(-4, 6)).alias("score_c"),
    )


def cross_court(p: pl.DataFrame) -> pl.DataFrame:
    """The cross-court pairs of ``pairs(..., national=True)`` with the courts' distance (km, in
    bands) and whether `link.victims` makes them candidates (two group cases, courts at most
    `CROSS_COURT_KM` apart) and accepts them (score with `other_court`, no conflict)."""
    x = p.filter(~pl.col("same_court")).with_columns(
        V._km("court_lat", "court_lon", "court_lat_r", "court_lon_r").alias("km"))
    bands = [15.0, 30.0, V.CROSS_COURT_KM, 100.0]
    label = pl.lit(f"> {bands[-1]:g}")
    for hi, lo in reversed(list(zip(bands, [0.0] + bands[:-1]))):
        label = pl.when(pl.col("km") <= hi).then(pl.lit(f"{lo:g}-{hi:g}")).otherwise(label)
    near = (pl.col("km") <= V.CROSS_COURT_KM).fill_null(False)
    x = x.with_columns(pl.when(pl.col("km").is_null()).then(pl.lit("unknown")).otherwise(label).alias("km_band"),
                       (pl.col("group_cases") & near).alias("candidate"))
    return x.with_columns((pl.col("candidate") & ~pl.col("conflict") & (pl.col("score") >= V.EPISODE_MIN))
                          .alias("accepted"))


def court_scoped_truth(truth: str) -> dict:
    """The truth's findings with each victim split by the magistrates' court of the case: what a
    linker that joined a name across cases only within one court could reach at best (the
    linker before cross-court candidates, `link.victims.other_court`).  Across courts a shared
    full name is almost never one victim in the lists' evidence (see ``--pairs --national``): only
    between two group cases of one police force area."""
    from pathlib import Path

    from courtarchive.analyse import definitions
    from courtarchive.generate.truth import offences_frame, read_inputs

    tdir = E.truth_dir(truth) / "truth"
    inp = read_inputs(Path(tdir), offences_frame())
    court = inp.cases.select("case_id", pl.col("court_id").cast(pl.Utf8))
    oc = (inp.offence_complainants.join(court, on="case_id", how="left")
          .with_columns(pl.format("{}#{}", "complainant_id", pl.col("court_id").fill_null("?")).alias("complainant_id"))
          .drop("court_id"))
    inp = definitions.Inputs(cases=inp.cases, case_defendants=inp.case_defendants, case_offences=inp.case_offences,
                             offence_complainants=oc, offences=inp.offences)
    return {scope: definitions.findings(inp, scope) for scope in (definitions.SCOPE_CSA, definitions.SCOPE_ALL)}


def tab(p: pl.DataFrame, by: list[str]) -> pl.DataFrame:
    return (p.group_by(by).agg(pl.len().alias("pairs"), pl.col("same").sum().alias("same_victim"))
            .with_columns((pl.col("same_victim") / pl.col("pairs")).round(3).alias("precision")).sort(by))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--truth", required=True)
    ap.add_argument("--pairs", action="store_true")
    ap.add_argument("--cross-court", action="store_true",
                    help="tabulate the pairs of one name at two courts: court distance, group cases, what the "
                         "linker's cross-court rule accepts (implies --pairs --national)")
    ap.add_argument("--national", action="store_true",
                    help="--pairs across courts too (large on big archives: every pair of a common name)")
    ap.add_argument("--court-truth", action="store_true",
                    help="print the truth's headline findings and the court-scoped truth's")
    ap.add_argument("--rules", nargs="*", default=None, help="cross-case rules to score (default: all)")
    ap.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="override a link.victims constant (e.g. RARE_NAME_CASES=2) for this run")
    a = ap.parse_args()
    pl.Config.set_tbl_rows(60)
    for kv in a.set:
        name, value = kv.split("=", 1)
        cur = getattr(V, name)
        setattr(V, name, {**cur, **json.loads(value)} if isinstance(cur, dict) else type(cur)(value))
    if a.court_truth:
        full = json.load(open(E.truth_dir(a.truth) / "truth.json"))["findings"]
        scoped = court_scoped_truth(a.truth)
        keys = ("complainants", "victims_linked_to_2plus_defendants", "cases_with_network_3plus",
                "cases_with_network_5plus")
        for scope in scoped:
            print(json.dumps({"scope": scope, "truth": {k: full[scope][k] for k in keys},
                              "court_scoped_truth": {k: scoped[scope][k] for k in keys}}))
        return
    archive = Archive.open()
    t0 = time.perf_counter()
    df = inputs(archive, a.truth)
    print(f"{df.height:,} mentions ({time.perf_counter() - t0:.1f} s)")
    if a.cross_court:
        x = cross_court(pairs(df, national=True))
        print(f"{x.height:,} cross-court pairs, {int(x['same'].sum()):,} the same victim")
        for by in (["group_cases", "km_band"], ["candidate", "accepted"], ["accepted", "years_apart"]):
            print(tab(x, by))
        return
    if a.pairs:
        p = pairs(df, national=a.national)
        print(f"{p.height:,} candidate pairs, {int(p['same'].sum()):,} the same victim")
        for by in (["place_ev"], ["years_apart"], ["sex_ev"], ["age_ev"], ["same_defendant"], ["token_cases_c"],
                   ["place_ev", "years_apart"], ["place_ev", "age_ev"], ["same_defendant", "place_ev"],
                   ["token_cases_c", "age_ev"], ["token_cases_c", "place_ev"], ["score_c"], ["group_cases"],
                   ["group_cases", "score_c"],
                   ["place_ev", "age_ev", "token_cases_c"]):
            print(tab(p, by))
    rules = a.rules if a.rules is not None else list(V.CROSS_CASE_RULES)
    truth = df.filter(pl.col("token").is_not_null() & pl.col("victim_id").is_not_null())
    true_span = int(truth.group_by("victim_id").agg(pl.col("case_id").n_unique()).filter(pl.col("case_id") > 1).height)
    for rule in rules:
        t0 = time.perf_counter()
        lab, rep = V.link_complainants(df.drop("victim_id").to_arrow(), cross_case=rule)
        secs = time.perf_counter() - t0
        j = truth.join(lab.rename({"mention_id": "complainant_id"}), on="complainant_id")
        m = E.metrics(j["label"], j["victim_id"])
        span = int(j.group_by("label").agg(pl.col("case_id").n_unique()).filter(pl.col("case_id") > 1).height)
        print(json.dumps({"rule": rule, "seconds": round(secs, 2), "pairwise": m["pairwise"], "bcubed": m["bcubed"],
                          "persons_spanning_cases": span, "true_spanning": true_span,
                          "cross_case": {k: v for k, v in rep.items() if k.startswith("cross")}}))


if __name__ == "__main__":
    main()
