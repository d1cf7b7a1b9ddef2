"""The link stage, end to end: defendants, complainants, networks, review queue.

`run(archive)` is incremental when it can be: with a trained model stored by an earlier full run
and existing persons, only *fresh* mentions are scored -- mentions not linked before, plus every
mention of a person that a new "different" decision splits -- against all existing mentions
(Splink ``predict_between``) and among themselves (``predict_within``), with the stored model
parameters; existing persons enter the clustering as fixed groups, so a fresh mention joins an
existing cluster (or joins two, merging them).  `run(archive, full=True)` retrains and re-scores
everything.  Both keep person ids stable (`cluster.stable_ids`) and respect every review
decision (must-link / cannot-link, `cluster.cluster`).

Organisation defendants (no forename or surname, an organisation name) are linked by exact
normalised organisation name; mentions with no name at all stay alone.  Pseudonymised mentions
(raw retention expired: names are keyed tokens ``~p:...``) are linked as `link.tokens` describes:
equal tokens are one identity, a raw twin's names let the model score them, a full run keeps the
links made while they were in clear, and the case's listings join what is left.  Complainants are
re-clustered in full on every run (cheap: token equality plus Bloom comparisons in blocks), with
stable ids, keeping the links whose evidence has expired since (`victims.kept_links`).  Networks
are rebuilt on every run, with stable ids.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Callable

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from ..store import Archive
from ..store import linkage as store
from . import model as M
from . import tokens as T
from .cluster import (cluster, dob_conflicts, reconcile_case_orphans, reconcile_case_strays, reconcile_sjp_public,
                      resolve_masked, stable_ids)
from .networks import graph_inputs, networks
from .standardise import standardise
from .victims import kept_links, link_complainants, mention_contexts, mention_evidence

__all__ = ["run", "explain", "link_defendants"]


def _empty_pairs() -> pa.Table:
    return pa.table({"unique_id_l": pa.array([], pa.int64()), "unique_id_r": pa.array([], pa.int64()),
                     "match_weight": pa.array([], pa.float64()), "match_probability": pa.array([], pa.float64())})


def _ids(archive: Archive, name: str) -> Callable[[int], list[int]]:
    return lambda n: store.take_ids(archive, name, n)


def _standardised(archive: Archive, keyring=None) -> tuple[pl.DataFrame, T.Pseudonymised | None]:
    """The standardised defendant mentions; with pseudonymised ones, `tokens.prepare` has lent them
    their raw twins' names and their age bands' birth-year windows (``band_lo``, ``band_hi``)."""
    raw = store.defendant_mentions(archive)
    std = pl.from_arrow(standardise(raw))
    if not std["ptok"].is_not_null().any():
        return std, None
    names = pl.from_arrow(raw.select(["party_id", "forenames", "middle_names", "surname", "name_as_listed",
                                      "date_of_birth", "is_masked", "gender"]))
    del raw
    pseudo = T.prepare(archive, std, names, keyring=T.keyring_from_settings() if keyring is None else keyring)
    return pseudo.std, pseudo


def _split_persons(old: pl.DataFrame, cannot: list[tuple[int, int]]) -> pl.Series:
    """The previous persons (``old``: mention_id, person_id) holding both mentions of a reviewer's
    "different" decision (``cannot``): those the decision splits."""
    cn = pl.DataFrame(cannot, schema={"a": pl.Int64, "b": pl.Int64}, orient="row")
    return (cn.join(old.rename({"mention_id": "a", "person_id": "pa"}), on="a")
            .join(old.rename({"mention_id": "b", "person_id": "pb"}), on="b")
            .filter(pl.col("pa") == pl.col("pb"))["pa"].unique())


def _overfull_cases(std: pl.DataFrame, named: pl.DataFrame) -> int:
    """Cases whose linked defendants outnumber the defendants of the case's largest listing: a
    person split between listings of one case (its lists print him differently, or his names
    expired and nothing joined his tokens) makes the case look bigger -- each part a co-defendant
    of the others and of the real ones, so a one-defendant case listed five times becomes a network
    of five.  (A defendant added to a case later, or listed alone, does it too: a signal, not an
    error.)"""
    m = std.filter(pl.col("case_id").is_not_null()).select("unique_id", "case_id", "hearing_id")
    listed = m.group_by("case_id", "hearing_id").len().group_by("case_id").agg(pl.col("len").max().alias("listed"))
    linked = (m.join(named.select(pl.col("mention_id").alias("unique_id"), "person_id"), on="unique_id")
              .group_by("case_id").agg(pl.col("person_id").n_unique().alias("linked")))
    return int(linked.join(listed, on="case_id").filter(pl.col("linked") > pl.col("listed")).height)


def link_defendants(archive: Archive, run_id: int, *, full: bool, engine: str, threshold: float,
                    band: tuple[float, float], seed: int, review_max: int = M.REVIEW_MAX,
                    writes: list, keyring=None, step=None) -> tuple[dict, pl.DataFrame]:
    """Link the defendant mentions.  What is to be stored is appended to ``writes`` (a function of
    the connection to write through: `run` writes every stage at the end, in one transaction); the
    counts of what was written (``written``, ``created``, ``review_queue_added``...) are filled in
    when it runs.  ``step(text)``: progress."""
    step = step or (lambda _text: None)
    t0 = time.perf_counter()
    step("defendants: reading and standardising mentions")
    std, pseudo = _standardised(archive, keyring)
    is_person = pl.col("fn").is_not_null() | pl.col("sn").is_not_null()
    keyed = pl.col("ptok").is_not_null()
    persons = std.filter(is_person)
    # pseudonymised mentions no raw twin lends a name to: linked by their token (exact key) and by
    # the links kept from the run that saw them in clear (`link.tokens`), not by the model
    tokened = std.filter(~is_person & keyed).select("unique_id", *(["band_lo", "band_hi"] if pseudo else []))
    orgs = std.filter(~is_person & ~keyed & pl.col("org").is_not_null()).select("unique_id", "org")
    others = std.filter(~is_person & ~keyed & pl.col("org").is_null()).select("unique_id")
    keyed_std = std.filter(keyed).select("unique_id", "ptok", "case_id") if pseudo is not None else None
    coarse = (std.select("unique_id", "gender", pl.coalesce("by_lo", "band_lo").alias("by_lo"),
                         pl.coalesce("by_hi", "band_hi").alias("by_hi")).rename({"unique_id": "mention_id"})
              if pseudo is not None else None)
    # one copy of each mention's fields at a time: what Splink needs goes to it (`M.model_input`);
    # the rest of the link stage needs these (clustering checks, masked mentions, the output)
    std = std.select("unique_id", "case_id", "hearing_id", "sitting_date", "masked")
    splink_in = persons.select(M.SPLINK_COLUMNS).to_arrow()
    # what breaks ties in the clustering: content, not ingest order (`cluster`'s ``tie_keys``)
    tie_keys = pl.DataFrame({"mention_id": splink_in.column("unique_id"), "key": M.content_ids(splink_in, seed)})
    if pseudo is not None:
        # age bands of pseudonymised mentions: for the clustering's checks (conflicts, the case
        # rules), never for the model's scores (a band is no age)
        persons = persons.with_columns(pl.coalesce("by_lo", "band_lo").alias("by_lo"),
                                       pl.coalesce("by_hi", "band_hi").alias("by_hi"))
    persons = persons.select("unique_id", "case_id", "hearing_id", "sitting_date", "court_id", "fn", "fn1", "fn_c", "mn",
                             "fi", "sn", "sn_c", "dob", "dob_sw", "by_lo", "by_hi", "pc", "pc_area")
    if pseudo is not None:
        conflict_profile = pl.concat([
            persons.select("unique_id", "dob", "dob_sw", "by_lo", "by_hi"),
            tokened.select("unique_id", pl.lit(None, pl.Utf8).alias("dob"), pl.lit(None, pl.Utf8).alias("dob_sw"),
                           pl.col("band_lo").alias("by_lo"), pl.col("band_hi").alias("by_hi"))],
            how="vertical_relaxed")
    else:
        conflict_profile = persons
    tokened = tokened.select("unique_id")
    old_a = store.person_assignments(archive, "defendant")
    old_t = pl.from_arrow(old_a)
    blind = pseudo is not None and T.blind_previous_run(archive)
    exact = T.exact_edges(keyed_std, previous=None if blind else old_t) if pseudo is not None else None
    del keyed_std
    decisions = all_decisions = store.review_decisions(archive)
    if decisions:
        ends = pl.Series([d["party_a"] for d in decisions] + [d["party_b"] for d in decisions], dtype=pl.Int64)
        current = set(ends.filter(ends.is_in(std["unique_id"].implode())).to_list())
        decisions = [d for d in decisions if d["party_a"] in current and d["party_b"] in current]
    must = [(d["party_a"], d["party_b"]) for d in decisions if d["decision"] == "same"]
    cannot = [(d["party_a"], d["party_b"]) for d in decisions if d["decision"] == "different"]
    prev = store.latest_run(archive, with_model=True)
    incremental = not full and prev is not None and old_t.height > 0
    stats: dict = {"mentions": std.height, "person_mentions": persons.height,
                   "organisation_mentions": orgs.height, "unnamed_mentions": others.height,
                   "mode": "incremental" if incremental else "full",
                   "decisions_applied": len(decisions)}
    pid = pl.concat([persons["unique_id"], tokened["unique_id"]]) if tokened.height else persons["unique_id"]
    groups = group_prob = None
    model_json = None
    model = None
    fresh_ids: set[int] = set()
    step(f"defendants: {'scoring fresh mentions' if incremental else 'training and scoring'}")
    if incremental:
        # columns, not Python maps: an archive of millions of linked mentions takes a few new ones
        # (the existing persons are kept as groups whether or not any mention is still in clear:
        # after an expiry of everything no mention goes to the model, and the links stay)
        old_of = old_t.select("mention_id", "person_id")
        dissolve = _split_persons(old_of, cannot)
        known = pid.to_frame("unique_id").join(old_of, left_on="unique_id", right_on="mention_id", how="left")
        is_fresh_row = pl.col("person_id").is_null() | pl.col("person_id").is_in(dissolve.implode())
        fresh = known.filter(is_fresh_row)["unique_id"]
        fresh_ids = set(fresh.to_list())
        stats.update(fresh=len(fresh_ids), dissolved_persons=dissolve.len())
        if persons.height:
            model = M.load(prev["model"], splink_in, engine=engine)
            db = model.db
        else:
            db = None
        if fresh_ids and persons.height:
            is_fresh = pc.is_in(splink_in["unique_id"], fresh.to_arrow())
            pairs = model.predict_between(splink_in.filter(pc.invert(is_fresh)), splink_in.filter(is_fresh),
                                          threshold=band[0])
        else:
            pairs = _empty_pairs()
        kept = known.filter(~is_fresh_row).select(pl.col("unique_id").alias("m"), pl.col("person_id").alias("g"))
        groups = kept
        group_prob = (kept.join(old_t.select(pl.col("mention_id").alias("m"), "probability"), on="m")
                      .filter(pl.col("probability").is_not_null())
                      .select(pl.col("m").alias("mention_id"), pl.col("probability").alias("gp")))
    elif persons.height == 0:
        pairs, db = _empty_pairs(), None
    else:
        model = M.train_and_load(splink_in, engine=engine, seed=seed, ids=tie_keys["key"].to_arrow())
        del splink_in                       # above M.ON_DISK_ROWS the model holds its own copy
        model_json = model.to_json()
        stats["model"] = "trained" if model.trained else f"default (fewer than {M.MIN_TRAIN} mentions to train on)"
        pairs = model.predict(threshold=band[0])
        db = model.db
    if model is not None:
        model.release()
    stats["pairs_scored_above_band"] = pairs.num_rows
    if pseudo is not None:
        stats["pseudonymised"] = dict(pseudo.stats, exact_key_edges=exact.height)
        if blind:
            stats["pseudonymised"]["previous_run_blind"] = True
        if exact.height:
            pairs = pa.concat_tables([pairs, exact.to_arrow().cast(pairs.schema)])
        if not incremental and old_t.height and not blind:
            # links made while the mentions were in clear: their evidence is gone, the links stay
            clear = persons.filter(~pl.col("unique_id").is_in(pseudo.ids.implode()))["unique_id"]
            kept = T.kept_groups(pseudo.ids, clear, old_t)
            if kept.height:
                groups = kept
                group_prob = (kept.join(old_t.select(pl.col("mention_id").alias("m"), "probability"), on="m")
                              .filter(pl.col("probability").is_not_null())
                              .select(pl.col("m").alias("mention_id"), pl.col("probability").alias("gp")))
            stats["pseudonymised"]["kept_from_previous_run"] = kept.height
    t1 = time.perf_counter()
    step("defendants: clustering")
    lab = cluster(pid, pairs, threshold=threshold, groups=groups, must=must, cannot=cannot, db_api=db,
                  group_probability=group_prob, conflicts=dob_conflicts(conflict_profile), tie_keys=tie_keys)
    del tie_keys
    lab, stats["case_orphans_joined"] = reconcile_case_orphans(persons, lab, cannot)
    lab, stats["case_strays_moved"] = reconcile_case_strays(persons, lab, cannot, must)
    lab, stats["sjp_public_joined"] = reconcile_sjp_public(persons, lab, cannot)
    if pseudo is not None:
        lab, stats["pseudonymised"]["case_positions_joined"] = T.reconcile_case_positions(
            std.select("unique_id", "case_id", "hearing_id"), lab, tokened["unique_id"], coarse, cannot)
    org_lab = orgs.select(pl.col("unique_id").alias("mention_id"),
                          pl.col("unique_id").min().over("org").alias("label"),
                          pl.lit(None, pl.Float64).alias("probability"))
    masked = resolve_masked(std, lab)
    stats["masked_mentions"] = masked.height
    lone = others.filter(~pl.col("unique_id").is_in(masked["mention_id"].implode())).select(
        pl.col("unique_id").alias("mention_id"), pl.col("unique_id").alias("label"),
        pl.lit(None, pl.Float64).alias("probability"))
    lab = pl.concat([lab, org_lab, masked, lone])
    del persons
    named, created, retired = stable_ids(lab, old_t, _ids(archive, "person"))
    stats["persons"] = named["person_id"].n_unique()
    stats["cases_more_persons_than_listed"] = _overfull_cases(std, named)
    # review queue: uncertain pairs
    pq = pl.from_arrow(pairs).filter((pl.col("match_probability") >= band[0]) & (pl.col("match_probability") < band[1]))
    pmap = named.select(pl.col("mention_id"), "person_id")
    pq = (pq.join(pmap.rename({"mention_id": "unique_id_l", "person_id": "person_a"}), on="unique_id_l", how="left")
          .join(pmap.rename({"mention_id": "unique_id_r", "person_id": "person_b"}), on="unique_id_r", how="left")
          .filter((pl.col("match_probability") >= threshold) | (pl.col("person_a") != pl.col("person_b"))))
    stats["review_pairs_in_band"] = pq.height
    # the most uncertain first, as the queue is read; a few spare for pairs already decided
    pq = (pq.with_columns((pl.col("match_probability") - 0.5).abs().alias("u"))
          .sort(["u", "unique_id_l", "unique_id_r"]).head(review_max + len(decisions)))
    rows = [dict(party_a=a, party_b=b, match_weight=mw, match_probability=p, person_a=x, person_b=y)
            for a, b, mw, p, x, y in pq.select("unique_id_l", "unique_id_r", "match_weight", "match_probability",
                                                "person_a", "person_b").iter_rows()]
    assigned = named.select("mention_id", "person_id", "probability").to_arrow()

    def write(conn) -> None:
        stats.update(store.save_persons(archive, run_id, "defendant", assigned, created=created, retired=retired,
                                        old=old_a, conn=conn))
        stats["review_queue_added"] = store.replace_review_queue(
            archive, run_id, rows, replace=not incremental, drop_parties=fresh_ids if incremental else (),
            limit=review_max, conn=conn)
        store.mark_decisions_applied(archive, run_id, conn=conn)

    writes.append(write)
    stats["seconds"] = {"score": round(t1 - t0, 2), "cluster_and_store": round(time.perf_counter() - t1, 2)}
    out = std.select(pl.col("unique_id").alias("party_id"), "case_id").join(
        named.select(pl.col("mention_id").alias("party_id"), "person_id"), on="party_id", how="left")
    # what the complainants' stage reads too (`link_victims`): every decision, the previous persons
    read = {"decisions": all_decisions, "previous": old_t.select("mention_id", "person_id")}
    return {"stats": stats, "model": model_json, "read": read}, out


def link_victims(archive: Archive, run_id: int, defendants: pl.DataFrame | None = None, *,
                 scheme: str = "block", rule: str = "episode", writes: list,
                 read: dict | None = None) -> tuple[dict, pl.DataFrame]:
    """Cluster complainant mentions (`victim_inputs`, `victims.link_complainants` with the
    cross-case ``rule``), keeping the previous persons whose evidence expired since
    (`victims.kept_links`) unless a reviewer's decision questions them (`_questioned`) -- or the
    previous run linked by another rule: the name rule's links are no evidence for the episode
    rule.  ``writes``: as for `link_defendants`; ``read``: the review decisions and previous
    defendant persons `link_defendants` read (else read here)."""
    df = victim_inputs(archive, defendants)
    old_a = store.person_assignments(archive, "complainant")
    old_t = pl.from_arrow(old_a)
    prev = (((store.latest_run(archive) or {}).get("stats") or {}).get("complainants") or {})
    made_by = prev.get("cross_case_rule", rule)
    questioned = _questioned(archive, df, old_t, read)
    kept = (kept_links(df, old_t.filter(~pl.col("person_id").is_in(questioned.implode())))
            if made_by == rule else None)
    lab, report = link_complainants(df.to_arrow(), scheme=scheme, cross_case=rule, kept=kept)
    report["cross_case_rule"] = rule
    report["questioned_by_decisions"] = questioned.len()
    if made_by != rule:
        report["nothing_kept"] = f"the previous run linked by the {made_by} rule"
    named, created, retired = stable_ids(lab, old_t, _ids(archive, "person"))
    report["persons"] = named["person_id"].n_unique() if named.height else 0
    assigned = named.select("mention_id", "person_id", "probability").to_arrow()

    writes.append(lambda conn: report.update(store.save_persons(
        archive, run_id, "complainant", assigned, created=created, retired=retired, old=old_a, conn=conn)))
    out = df.select("complainant_id", "case_id", "party_id").join(
        named.select(pl.col("mention_id").alias("complainant_id"), "person_id"), on="complainant_id", how="left")
    return report, out


def _questioned(archive: Archive, mentions: pl.DataFrame, old: pl.DataFrame, read: dict | None = None) -> pl.Series:
    """The previous complainant persons (``old``: mention_id, person_id) a reviewer's decision
    takes back: a "different" decision splits a previous defendant person charged with an
    offence against one of their mentions (``mentions``: complainant_id, party_id).  "A
    defendant charged in both cases" may be what joined them (`victims.episode_score`); once
    the wording has expired nothing says whether it was, so they are not kept: they link again
    on the evidence left.  ``read``: as for `link_victims`."""
    decisions = read["decisions"] if read is not None else store.review_decisions(archive)
    cannot = [(d["party_a"], d["party_b"]) for d in decisions if d["decision"] == "different"]
    if not cannot or old.height == 0:
        return pl.Series("person_id", [], pl.Int64)
    old_d = (read["previous"] if read is not None
             else pl.from_arrow(store.person_assignments(archive, "defendant")).select("mention_id", "person_id"))
    parties = old_d.filter(pl.col("person_id").is_in(_split_persons(old_d, cannot).implode()))["mention_id"]
    hit = mentions.filter(pl.col("party_id").is_in(parties.implode())).select(
        pl.col("complainant_id").alias("mention_id"))
    return old.join(hit, on="mention_id")["person_id"].unique()


def victim_inputs(archive: Archive, defendants: pl.DataFrame | None = None) -> pl.DataFrame:
    """The complainant mentions as `victims.link_complainants` takes them.  ``defendants``
    (party_id, person_id) gives each mention its charge key (case, defendant person, offence code
    and number, position within the offence) and the defendant person charged (``dperson``); the
    offence codes give the victim context, the wording and descriptor the episode evidence
    (`victims.mention_evidence`).  ``expired``: that evidence is gone -- the publication's raw
    identities were pseudonymised, or the wording that named the mention was deleted (a
    profile may expire wordings before names) -- and the links it made are kept
    (`victims.kept_links`)."""
    df = pl.from_arrow(store.complainant_mentions(archive))
    df = df.with_columns((pl.col("raw_expired") | ((pl.col("kind") != "party") & pl.col("offence_id").is_not_null()
                                                   & pl.col("wording").is_null())).alias("expired"))
    if defendants is not None and df.height:
        df = df.join(defendants.select("party_id", pl.col("person_id").alias("dperson")), on="party_id", how="left")
        df = df.with_columns(pl.col("complainant_id").rank("ordinal").over("offence_id").alias("pos"))
        df = df.with_columns(pl.when(pl.col("dperson").is_not_null() & pl.col("case_id").is_not_null()
                                     & pl.col("offence_code").is_not_null())
                             .then(pl.format("{}|{}|{}|{}|{}", "case_id", "dperson", "offence_code",
                                             pl.col("offence_seq").fill_null(0), "pos"))
                             .alias("charge")).drop("pos")
    if df.height:
        df = df.with_columns(mention_contexts(df, pl.from_arrow(store.complainant_case_offences(archive))))
    return mention_evidence(df)


def link_networks(archive: Archive, run_id: int, defendants: pl.DataFrame, victims: pl.DataFrame, *,
                  writes: list) -> dict:
    """Rebuild the networks (``writes``: as for `link_defendants`)."""
    cd, oc = graph_inputs(defendants, victims)
    nets, members = store.network_state(archive)
    kinds = {n["id"]: n["kind"] for n in nets}
    m = pl.from_arrow(members)
    old_c = {p: n for n, p in m.iter_rows() if kinds.get(n) == "component"}
    old_k = {p: n for n, p in m.iter_rows() if kinds.get(n) == "community"}
    rows, mem, retired, stats = networks(cd, oc, old_components=old_c, old_communities=old_k,
                                         new_ids=_ids(archive, "network"))
    stats["retired"] = len(retired)
    writes.append(lambda conn: store.save_networks(archive, run_id, rows, mem, retired, conn=conn))
    return stats


def run(archive: Archive, *, full: bool = False, engine: str = "duckdb", threshold: float = M.MATCH_THRESHOLD,
        review_band: tuple[float, float] = M.REVIEW_BAND, seed: int = 42, complainant_scheme: str = "block",
        review_max: int = M.REVIEW_MAX, complainant_rule: str = "episode", keyring=None,
        progress: Callable[[str], None] | None = None) -> dict:
    """Run the link stage (see the module docstring).  Returns the run's statistics.  ``keyring``:
    the pseudonym keyring, for pseudonymised mentions (`link.tokens`); default (None): the
    configured one, read only when the archive holds pseudonymised mentions; False: none (they
    are linked without raw twins).  ``progress(text)`` is told each step as it starts.

    All or nothing: the stages compute in memory and their results are written in one
    transaction at the end, with the run marked done; a run that fails is marked failed and the
    archive keeps the previous run's link state."""
    archive.require_initialised()
    step = progress or (lambda _text: None)
    with store.one_run(archive):              # (a second run at once: `LinkRunBusy`, before any work)
        # the mode the run will take (`link_defendants`: incremental when a model is stored and persons
        # exist), recorded with the run as it is reported
        if not full and (store.latest_run(archive, with_model=True) is None
                         or not store.person_summary(archive).get("defendant")):
            full = True
        run_id = store.start_run(archive, mode="full" if full else "incremental", engine=engine, threshold=threshold,
                                 review_low=review_band[0], review_high=review_band[1])
        t0 = time.perf_counter()
        writes: list[Callable] = []
        try:
            # everything is computed first, then written at once: a run that fails (or is interrupted)
            # at any stage leaves the previous run's persons, review queue and networks as they were
            d, dmap = link_defendants(archive, run_id, full=full, engine=engine, threshold=threshold,
                                      band=review_band, seed=seed, review_max=review_max, keyring=keyring,
                                      writes=writes, step=step)
            step("complainants: clustering")
            v, vmap = link_victims(archive, run_id, dmap, scheme=complainant_scheme, rule=complainant_rule,
                                   writes=writes, read=d["read"])
            step("networks")
            n = link_networks(archive, run_id, dmap, vmap, writes=writes)
            stats = {"run_id": run_id, "defendants": d["stats"], "complainants": v, "networks": n}
            step("writing persons, review queue and networks")
            with _one_transaction(archive) as conn:
                for write in writes:
                    write(conn)
                stats["seconds"] = round(time.perf_counter() - t0, 2)
                store.finish_run(archive, run_id, model=d["model"], stats=stats, conn=conn)
        except BaseException as e:
            store.finish_run(archive, run_id, status="failed", stats={"error": f"{type(e).__name__}: {e}"})
            raise
        archive.analyze(force=full)      # (PostgreSQL: statistics for the rewritten person tables)
        return stats


@contextmanager
def _one_transaction(archive: Archive):
    from ..store.engine import queued_write

    try:
        with queued_write(archive.engine, "link") as conn:
            yield conn
    except BaseException:
        archive._forget_ids()        # the id blocks taken in the rolled-back transaction
        raise


def explain(archive: Archive, a: int, b: int, *, engine: str = "duckdb") -> dict:
    """Each comparison's level and match weight for two defendant mentions (party ids), with the
    latest stored model.  Term frequencies come from all current defendant mentions."""
    prev = store.latest_run(archive, with_model=True)
    if prev is None:
        raise ValueError("no trained model yet: run `courtarchive link run --full` first")
    std, _ = _standardised(archive)
    two = std.filter(pl.col("unique_id").is_in([int(a), int(b)]))
    if two.height != 2:
        raise ValueError(f"parties {a} and {b} are not both current defendant mentions")
    persons = std.filter(pl.col("fn").is_not_null() | pl.col("sn").is_not_null())
    model = M.load(prev["model"], persons.to_arrow(), engine=engine, explain=True)
    rec = {r["unique_id"]: r for r in M.model_input(two.to_arrow()).to_pylist()}
    levels = model.explain(rec[int(a)], rec[int(b)])
    out = {"party_a": int(a), "party_b": int(b), "model_run": prev["id"], "threshold": prev["threshold"],
           "comparisons": levels}
    side = {r["unique_id"]: r for r in two.select("unique_id", "ptok", "fn", "sn").to_dicts()}
    ta, tb = side[int(a)]["ptok"], side[int(b)]["ptok"]
    if ta or tb:
        # pseudonymised (`link.tokens`): the model scored the names a raw twin lends, if any; the
        # token itself joins as an exact key, outside the model
        twin = {k: bool(side[k]["ptok"] and (side[k]["fn"] or side[k]["sn"])) for k in (int(a), int(b))}
        level = ("same keyed token: one identity (exact key, outside the model)" if ta and ta == tb
                 else "different keyed tokens" if ta and tb else "one side pseudonymised")
        lent = [str(k) for k, v in twin.items() if v]
        if lent:
            level += f"; names lent by a raw twin to party {', '.join(lent)}"
        levels.insert(len(levels) - 1, {"comparison": "token", "level": level, "gamma": None, "match_weight": 0.0,
                                        "tf_adjustment_weight": None})
        out["pseudonymised"] = {"party_a": bool(ta), "party_b": bool(tb), "same_token": bool(ta and ta == tb),
                                "twin_a": twin[int(a)], "twin_b": twin[int(b)]}
    return out
