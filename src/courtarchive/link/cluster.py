"""Clustering scored pairs into persons, with reviewers' constraints, and stable person ids.

`cluster` takes the mention ids, the scored pairs, optional *base groups* (mentions already known to
be one person: the existing persons in an incremental run), *must-link* pairs (reviewer: same) and
*cannot-link* pairs (reviewer: different):

1. Connected components of the graph whose edges are the pairs at or above the threshold, the
   must-link pairs and the base groups -- computed by Splink's
   ``cluster_pairwise_predictions_at_threshold`` on the engine's database API.
2. Components holding both ends of a cannot-link pair (reviewers', or *conflicts* found in the
   components, e.g. two dates of birth that cannot be one person's) are re-clustered greedily (Kruskal order:
   must-link edges, then base-group edges, then scored pairs by falling probability), skipping
   any edge whose union would put a cannot-link pair in one cluster.  A cannot-link therefore
   splits a person even when the two mentions are linked only transitively; if a must-link
   contradicts a reviewer's cannot-link (A=B, B=C, A!=C) the cannot-link wins, while a
   reviewer's must-link overrides a conflict found automatically.

`stable_ids` then names the clusters: a cluster takes the id of the previous person it shares the
most mentions with (ties: the smallest id; each previous id is used once), the others get new ids
from the store.  Previous persons left without a cluster are *retired*, with ``merged_into`` the
person that now holds most of their mentions.
"""

from __future__ import annotations

from typing import Callable, Iterable

import numpy as np
import polars as pl
import pyarrow as pa

__all__ = ["cluster", "stable_ids", "reconcile_case_orphans", "reconcile_sjp_public", "resolve_masked",
           "dob_conflicts"]


def _as_ids(ids) -> np.ndarray:
    """Sorted distinct int64 ids from a list, an iterable, a numpy array or a polars Series."""
    if isinstance(ids, pl.Series):
        arr = ids.cast(pl.Int64).to_numpy()
    elif isinstance(ids, np.ndarray):
        arr = ids.astype(np.int64, copy=False)
    else:
        arr = np.fromiter((int(i) for i in ids), dtype=np.int64)
    return np.unique(arr)


def _contained(ids_arr: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Whether each of ``x`` is in the sorted ``ids_arr``."""
    if len(ids_arr) == 0:
        return np.zeros(len(x), dtype=bool)
    return ids_arr[np.minimum(np.searchsorted(ids_arr, x), len(ids_arr) - 1)] == x


def _components(ids: np.ndarray, a: np.ndarray, b: np.ndarray, db_api=None) -> np.ndarray:
    """Component label (the smallest member id) per id of the sorted ``ids``, via Splink's
    clusterer (igraph fallback).  Every edge end is one of ``ids``."""
    if db_api is not None:
        from splink.clustering import cluster_pairwise_predictions_at_threshold

        nodes = pa.table({"unique_id": pa.array(ids, pa.int64())})
        edges = pa.table({"unique_id_l": pa.array(a, pa.int64()), "unique_id_r": pa.array(b, pa.int64())})
        res = cluster_pairwise_predictions_at_threshold(nodes, edges, db_api, "unique_id")
        t = pl.from_arrow(res.as_pyarrow_table().select(["unique_id", "cluster_id"]))
        res.drop_table_from_database_and_remove_from_cache()
        t = t.with_columns(pl.col("unique_id").min().over("cluster_id").alias("label"))
        lab = pl.DataFrame({"unique_id": ids}).join(t, on="unique_id", how="left")
        return lab["label"].fill_null(lab["unique_id"]).to_numpy()
    from ..config import igraph

    ig = igraph()

    edges = np.column_stack([np.searchsorted(ids, a), np.searchsorted(ids, b)])
    g = ig.Graph(n=len(ids), edges=edges.tolist())
    memb = np.asarray(g.connected_components().membership)
    lab = pl.DataFrame({"unique_id": ids, "c": memb}).with_columns(pl.col("unique_id").min().over("c").alias("l"))
    return lab["l"].to_numpy()


class _UF:
    def __init__(self, nodes: Iterable[int]):
        self.parent = {n: n for n in nodes}
        self.members = {n: {n} for n in self.parent}

    def find(self, x: int) -> int:
        p = self.parent
        while p[x] != x:
            p[x] = p[p[x]]
            x = p[x]
        return x

    def union(self, a: int, b: int, cannot: dict[int, set[int]]) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        ma, mb = self.members[ra], self.members[rb]
        if len(ma) > len(mb):
            ra, rb, ma, mb = rb, ra, mb, ma
        for x in ma:
            c = cannot.get(x)
            if c and not c.isdisjoint(mb):
                return False
        self.parent[ra] = rb
        mb |= ma
        del self.members[ra]
        return True


_EDGES = {"unique_id_l": pl.Int64, "unique_id_r": pl.Int64, "match_probability": pl.Float64}


def cluster(ids, pairs: pa.Table | None, *, threshold: float,
            groups: dict[int, int] | pl.DataFrame | None = None, must: Iterable[tuple[int, int]] = (),
            cannot: Iterable[tuple[int, int]] = (), db_api=None,
            group_probability: dict[int, float] | pl.DataFrame | None = None,
            conflicts: Callable[[pl.DataFrame], list[tuple[int, int]]] | None = None,
            tie_keys: pl.DataFrame | None = None) -> pl.DataFrame:
    """Cluster mentions.  Returns a DataFrame mention_id, label (smallest mention id of the
    cluster), probability (highest edge probability joining the mention to its cluster; null alone).

    ``ids``: the mention ids (a list, an array or a polars Series).  ``pairs``: unique_id_l,
    unique_id_r, match_probability (any pairs; those below ``threshold`` or with an end not in
    ``ids`` are ignored).  ``groups``: mention -> group key for mentions already known to be
    together (a dict, or a DataFrame with columns m, g).  ``group_probability``: mention -> the
    probability it keeps from its group (a dict, or a DataFrame mention_id, gp).
    ``conflicts(components)``: given the unconstrained components (mention_id, label),
    more cannot-link pairs (e.g. two different dates of birth chained together through a mention
    that has none); they are enforced like the reviewers' ones.
    ``tie_keys``: mention_id, key -- what orders edges of equal probability in the constrained
    pass before the ids do (`link.model.content_ids`: the same lists ingested in another order
    get other ids, and a mention scored equally against two people who cannot be one went to
    whichever had the smaller ids).

    Works on whole columns (numpy / polars): at 11M mentions and tens of millions of pairs a
    Python object per mention or pair would cost gigabytes."""
    ids_arr = _as_ids(ids)
    if pairs is not None and pairs.num_rows:
        e = pl.from_arrow(pairs).select("unique_id_l", "unique_id_r", "match_probability")
        e = e.filter(pl.col("match_probability") >= threshold)
        both = _contained(ids_arr, e["unique_id_l"].to_numpy()) & _contained(ids_arr, e["unique_id_r"].to_numpy())
        if not both.all():
            e = e.filter(pl.Series(both))
    else:
        e = pl.DataFrame(schema=_EDGES)

    def present(ps) -> list[tuple[int, int]]:
        ps = [(int(a), int(b)) for a, b in ps]
        if not ps:
            return []
        ok = (_contained(ids_arr, np.array([a for a, _ in ps], dtype=np.int64))
              & _contained(ids_arr, np.array([b for _, b in ps], dtype=np.int64)))
        return [p for p, k in zip(ps, ok) if k]

    must = present(must)
    cannot_l = present(cannot)
    base = pl.DataFrame(schema=_EDGES)
    if groups is not None and len(groups):
        g = (groups.select(pl.col("m").cast(pl.Int64), pl.col("g").cast(pl.Int64)) if isinstance(groups, pl.DataFrame)
             else pl.DataFrame({"m": list(groups.keys()), "g": list(groups.values())},
                               schema={"m": pl.Int64, "g": pl.Int64}))
        g = g.filter(pl.col("m").is_in(ids_arr))
        g = g.with_columns(pl.col("m").min().over("g").alias("rep")).filter(pl.col("m") != pl.col("rep"))
        base = g.select(pl.col("rep").alias("unique_id_l"), pl.col("m").alias("unique_id_r"),
                        pl.lit(1.0).alias("match_probability"))
    mdf = pl.DataFrame({"unique_id_l": [a for a, _ in must], "unique_id_r": [b for _, b in must],
                        "match_probability": [1.0] * len(must)}, schema=_EDGES)
    # edges by kind: 0 must-link, 1 base group, 2 scored pair (the order of the constrained pass)
    kinds = [(k, d) for k, d in ((0, mdf), (1, base), (2, e)) if d.height]
    ends = [np.concatenate([d[c].to_numpy() for _, d in kinds]) if kinds else np.array([], np.int64)
            for c in ("unique_id_l", "unique_id_r")]
    labels = _components(ids_arr, ends[0], ends[1], db_api).astype(np.int64, copy=True)
    del ends

    soft_l = []
    if conflicts is not None:
        soft_l = conflicts(pl.DataFrame({"mention_id": ids_arr, "label": labels}))
    # constrained re-clustering of the components holding a cannot-link pair.  Reviewers'
    # cannot-links are hard (they bind must-links too); conflicts are soft: a reviewer's "same"
    # overrides them, every other edge respects them.  A pair in two components constrains
    # nothing (the re-clustering joins only mentions of one component): left out.
    hard: dict[int, set[int]] = {}
    cannot_map: dict[int, set[int]] = {}
    bad: set[int] = set()
    for pairs_, targets in ((cannot_l, (hard, cannot_map)), (soft_l, (cannot_map,))):
        if not len(pairs_):
            continue
        ab = np.asarray(pairs_, dtype=np.int64).reshape(-1, 2)
        la = labels[np.searchsorted(ids_arr, ab[:, 0])]
        same = la == labels[np.searchsorted(ids_arr, ab[:, 1])]
        bad.update(la[same].tolist())
        for a, b in ab[same].tolist():
            for t in targets:
                t.setdefault(a, set()).add(b)
                t.setdefault(b, set()).add(a)
    if bad:
        in_bad = np.isin(labels, np.fromiter(bad, dtype=np.int64))
        nodes = ids_arr[in_bad]
        uf = _UF(nodes.tolist())
        sub = (pl.concat([d.with_columns(pl.lit(k).alias("k")) for k, d in kinds])
               .filter(pl.col("unique_id_l").is_in(nodes)))
        tie = []
        if tie_keys is not None:
            key = tie_keys.select(pl.col("mention_id").cast(pl.Int64), pl.col("key").cast(pl.Int64))
            sub = (sub.join(key.rename({"mention_id": "unique_id_l", "key": "_kl"}), on="unique_id_l", how="left")
                   .join(key.rename({"mention_id": "unique_id_r", "key": "_kr"}), on="unique_id_r", how="left")
                   .with_columns(_lo=pl.min_horizontal("_kl", "_kr"), _hi=pl.max_horizontal("_kl", "_kr")))
            tie = ["_lo", "_hi"]
        # ties broken by the tie keys, then the ids: the same edges in any row order give the same clusters
        sub = sub.sort(["k", "match_probability", *tie, "unique_id_l", "unique_id_r"],
                       descending=[False, True, *[False] * len(tie), False, False])
        for a, b, _p, k in sub.select("unique_id_l", "unique_id_r", "match_probability", "k").iter_rows():
            uf.union(a, b, hard if k == 0 else cannot_map)
        new = {}
        for _root, mem in uf.members.items():
            m0 = min(mem)
            for m in mem:
                new[m] = m0
        labels[in_bad] = np.fromiter((new[m] for m in nodes.tolist()), dtype=np.int64, count=len(nodes))
    # probability: best edge that joins a mention to its (final) cluster
    out = pl.DataFrame({"mention_id": ids_arr, "label": labels}, schema={"mention_id": pl.Int64, "label": pl.Int64})
    ee = pl.concat([mdf, e]) if mdf.height else e
    if ee.height:
        l, r = ee["unique_id_l"].to_numpy(), ee["unique_id_r"].to_numpy()
        same = labels[np.searchsorted(ids_arr, l)] == labels[np.searchsorted(ids_arr, r)]
        p = ee["match_probability"].to_numpy()[same]
        best = (pl.DataFrame({"mention_id": np.concatenate([l[same], r[same]]), "probability": np.concatenate([p, p])})
                .group_by("mention_id").agg(pl.col("probability").max()))
        del l, r, same, p
        out = out.join(best, on="mention_id", how="left")
    else:
        out = out.with_columns(pl.lit(None, pl.Float64).alias("probability"))
    if group_probability is not None and len(group_probability):
        gp = (group_probability.select(pl.col("mention_id").cast(pl.Int64), pl.col("gp").cast(pl.Float64))
              if isinstance(group_probability, pl.DataFrame)
              else pl.DataFrame({"mention_id": list(group_probability), "gp": list(group_probability.values())},
                                schema={"mention_id": pl.Int64, "gp": pl.Float64}))
        out = out.join(gp, on="mention_id", how="left").with_columns(
            pl.max_horizontal("probability", "gp").alias("probability")).drop("gp")
    return out.sort("mention_id")


def stable_ids(labels: pl.DataFrame, old: dict[int, int] | pl.DataFrame, new_ids: Callable[[int], list[int]]
               ) -> tuple[pl.DataFrame, list[int], dict[int, int | None]]:
    """Name clusters with stable person ids.

    ``labels``: mention_id, label (+ any columns, kept).  ``old``: mention -> previous person id,
    as a dict or a DataFrame with columns mention_id, person_id.  ``new_ids(n)``: n fresh ids.
    Returns (labels with person_id, created ids, retired ids -> merged_into)."""
    if isinstance(old, pl.DataFrame):
        o = old.select(pl.col("mention_id").cast(pl.Int64), pl.col("person_id").cast(pl.Int64).alias("old"))
    else:
        o = pl.DataFrame({"mention_id": list(old.keys()), "old": list(old.values())},
                         schema={"mention_id": pl.Int64, "old": pl.Int64})
    j = labels.select("mention_id", "label").join(o, on="mention_id", how="inner")
    ov = j.group_by("label", "old").len().sort(["len", "old", "label"], descending=[True, False, False])
    taken_old: set[int] = set()
    chosen: dict[int, int] = {}
    for label, oldp, _n in ov.iter_rows():
        if label in chosen or oldp in taken_old:
            continue
        chosen[label] = oldp
        taken_old.add(oldp)
    all_labels = labels["label"].unique().sort().to_list()
    fresh = [l for l in all_labels if l not in chosen]
    ids = new_ids(len(fresh))
    chosen.update(zip(fresh, ids))
    mp = pl.DataFrame({"label": list(chosen.keys()), "person_id": list(chosen.values())},
                      schema={"label": pl.Int64, "person_id": pl.Int64})
    out = labels.join(mp, on="label", how="left")
    old_persons = set(o["old"].unique().to_list())
    gone = old_persons - taken_old
    retired: dict[int, int | None] = {}
    if gone:
        where = (j.filter(pl.col("old").is_in(list(gone))).join(mp, on="label")
                 .group_by("old", "person_id").len().sort(["len", "person_id"], descending=[True, False]))
        for oldp, pid, _n in where.iter_rows():
            retired.setdefault(oldp, pid)
        for g in gone:
            retired.setdefault(g, None)
    return out, ids, retired


def _dl1(a: str, b: str) -> bool:
    """Damerau-Levenshtein distance of two equal-format strings <= 1 (one edit or transposition)."""
    if a == b:
        return True
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (len(diff) == 2 and diff[1] == diff[0] + 1
                                  and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]])
    if abs(len(a) - len(b)) != 1:
        return False
    s, t = (a, b) if len(a) < len(b) else (b, a)
    return any(s == t[:i] + t[i + 1:] for i in range(len(t)))


def dob_conflicts(std: pl.DataFrame) -> Callable[[pl.DataFrame], list[tuple[int, int]]]:
    """A ``conflicts`` callback for `cluster`: inside one component, mentions whose dates of birth
    cannot be one person's -- both known and neither equal, day/month swapped nor one character
    apart; or birth-year ranges (from DOB or age at hearing) more than a year apart.  Such chains
    arise when a mention with a name only (public lists) links to two people of that name."""
    prof = std.select(pl.col("unique_id").alias("mention_id"), "dob", "dob_sw", "by_lo", "by_hi")

    def find(components: pl.DataFrame) -> list[tuple[int, int]]:
        d = components.join(prof, on="mention_id").filter(pl.col("by_lo").is_not_null())
        d = d.with_columns(pl.struct("dob", "dob_sw", "by_lo", "by_hi").n_unique().over("label").alias("np"))
        # one row per (component, profile) with its mentions, components in order: one pass in
        # Python (a DataFrame per component was 12 s of a 1M-mention run)
        d = (d.filter(pl.col("np") > 1).group_by("label", "dob", "dob_sw", "by_lo", "by_hi")
             .agg(pl.col("mention_id").sort()).sort("label", "dob", "dob_sw", "by_lo", "by_hi", nulls_last=True))
        out: list[tuple[int, int]] = []
        rows = d.iter_rows()
        group: list[tuple] = []

        def pairs(group: list[tuple]) -> None:
            for i in range(len(group)):
                for j in range(i + 1, len(group)):
                    (_, d1, s1, l1, h1, m1), (_, d2, s2, l2, h2, m2) = group[i], group[j]
                    if d1 and d2:
                        ok = d1 == d2 or d1 == s2 or d2 == s1 or _dl1(d1, d2)
                    else:
                        ok = l1 <= h2 + 1 and l2 <= h1 + 1
                    if not ok:
                        out.extend((a, b) for a in m1 for b in m2)

        for row in rows:
            if group and row[0] != group[0][0]:
                pairs(group)
                group = []
            group.append(row)
        if group:
            pairs(group)
        return out
    return find


#: the probability recorded for a mention joined to its case's person by `reconcile_case_orphans`
RECONCILE_PROBABILITY = 0.9


def _case_mentions(std: pl.DataFrame, lab: pl.DataFrame) -> pl.DataFrame:
    """The columns the case rules read, with each mention's cluster ``label``."""
    return std.select(pl.col("unique_id").alias("mention_id"), "case_id", "hearing_id", "fn", "fn1", "fn_c", "mn", "sn",
                      "sn_c", "dob", "dob_sw", "by_lo", "by_hi", "pc").join(lab.select("mention_id", "label"),
                                                                            on="mention_id")


def _names(m: pl.DataFrame, key: str, side: str) -> pl.DataFrame:
    """One side of `_compatible`: ``key`` as ``side`` ("o" or "c"), the case and the names and
    birth-year range prefixed with it (ofn, of1 -- the first forename whole, its parts joined --,
    ofc, om1 -- the first middle name --, osn, osc, olo, ohi)."""
    return m.select(pl.col(key).alias(side), "case_id", pl.col("fn").alias(f"{side}fn"), pl.col("fn1").alias(f"{side}f1"),
                    pl.col("fn_c").alias(f"{side}fc"),
                    pl.col("mn").str.split(" ").list.first().alias(f"{side}m1"),
                    pl.col("sn").alias(f"{side}sn"), pl.col("sn_c").alias(f"{side}sc"),
                    pl.col("by_lo").alias(f"{side}lo"), pl.col("by_hi").alias(f"{side}hi")).unique()


def reconcile_case_orphans(std: pl.DataFrame, lab: pl.DataFrame,
                           cannot: Iterable[tuple[int, int]] = ()) -> tuple[pl.DataFrame, int]:
    """Join a case's *orphan* defendant mentions to the one person of that case they can be.

    An orphan is a cluster whose mentions carry no date of birth and no postcode (public lists give
    a name only, Crown Court lists a name and an age) and whose mentions are all in one case.  One typo on top of a
    nickname ("Jmmie" for James, "Stewayt" for Stuart) leaves such a mention below the linkage
    threshold even with the same-case level, and the case then shows one defendant twice: a
    two-defendant case becomes a "network of three" in the findings.  Inside the case the
    question is narrow: which of its defendants can this be?  The orphan joins a cluster of the
    same case when that cluster is the *only* one whose names are compatible (surname: canonical
    equal, Jaro-Winkler >= 0.88 or at most two edits apart; forename: canonical equal, an initial
    that agrees, Jaro-Winkler >= 0.75, at most two edits apart or a typo of a variant: `_compatible`),
    the two never appear in one hearing (a hearing that lists both lists two people), their ages
    at the hearings agree (birth years within one) and no cannot-link (reviewer or automatic)
    stands between them.  Two compatible candidates (brothers "James" and "Jamie SMITH") leave it
    alone.

    A cluster of one case that *does* carry a date of birth or a postcode is an orphan too when
    its identifiers agree with the candidate's: the Crown Court firm list prints "Mr Barton KRAL,
    born 03/02/1997" for the case's "Carl BARTON, born 03/02/1997" (names swapped and one of them
    misspelt), or "Mtty HUGHES, M3 4HY" for "Matthew HUGHES, M3 4HY", and the model, weighing
    the names first, leaves that entry on its own.  Such a join needs, besides the rules above, a
    date of birth equal (or day and month swapped, or one character apart) or a postcode equal
    on both sides, and no two dates of birth that differ more (`_identifiers_agree`): two
    co-defendants of one case with similar names are listed side by side, and brothers have
    their own birthdays.  Returns the relabelled clusters and how many orphans were joined."""
    m = _case_mentions(std, lab)
    per = m.group_by("label").agg(
        pl.col("case_id").drop_nulls().n_unique().alias("n_cases"),
        pl.col("case_id").drop_nulls().first().alias("case_id"),
        (pl.col("dob").is_not_null() | pl.col("pc").is_not_null()).any().alias("ident"),
        pl.col("case_id").is_null().any().alias("caseless"))
    orphans = per.filter((pl.col("n_cases") == 1) & ~pl.col("caseless")).select("label", "case_id", "ident")
    # only where the case shows another person (most one-case clusters are their case's only one)
    shared = (m.filter(pl.col("case_id").is_not_null()).group_by("case_id")
              .agg(pl.col("label").n_unique().alias("k")).filter(pl.col("k") > 1).select("case_id"))
    orphans = orphans.join(shared, on="case_id")
    if orphans.height == 0:
        return lab, 0
    parts = []
    name_only = orphans.filter(~pl.col("ident"))
    if name_only.height:
        o_names = _names(m.join(name_only.select("label"), on="label"), "label", "o")
        c_names = _names(m.filter(pl.col("case_id").is_in(name_only["case_id"].implode())), "label", "c")
        parts.append(_compatible(o_names, c_names))
    # an identified orphan: only to a candidate whose identifiers agree with its own -- tested
    # first (two people of one case rarely agree), then the names of those pairs
    idents = orphans.filter(pl.col("ident"))
    if idents.height:
        in_case = m.select("case_id", pl.col("label").alias("c")).drop_nulls().unique()
        pairs = (idents.select(pl.col("label").alias("o"), "case_id").join(in_case, on="case_id")
                 .filter(pl.col("o") != pl.col("c")).select("o", "c"))
        agree = _identifiers_agree(pairs, m)
        if agree.height:
            o_names = _names(m.join(agree.select(pl.col("o").alias("label")).unique(), on="label"), "label", "o")
            c_names = _names(m.join(agree.select(pl.col("c").alias("label")).unique(), on="label"), "label", "c")
            parts.append(_compatible(o_names, c_names).join(agree, on=["o", "c"], how="semi"))
    compat = pl.concat(parts) if parts else pl.DataFrame()
    if compat.height == 0:
        return lab, 0
    # never two clusters that one hearing lists side by side
    hear = m.select("label", "hearing_id").drop_nulls().unique()
    together = (hear.rename({"label": "o"}).join(hear.rename({"label": "c"}), on="hearing_id")
                .select("o", "c").unique())
    compat = compat.join(together, on=["o", "c"], how="anti")
    to = _only_candidates(_not_cannot(compat, lab, cannot))
    # two orphans of one case, each the other's only candidate: the one with fewer mentions joins
    # the other (ties: the later one)
    both = [o for o, c in to.items() if to.get(c) == o]
    if both:
        size = dict(lab.filter(pl.col("label").is_in(both)).group_by("label").len().iter_rows())
        to = {o: c for o, c in to.items() if to.get(c) != o or (size[o], -o) < (size[c], -c)}
    return _join_clusters(lab, to) if to else (lab, 0)


def _identifiers_agree(pairs: pl.DataFrame, m: pl.DataFrame) -> pl.DataFrame:
    """Of candidate joins (``o``, ``c``: cluster labels; ``m`` as `_case_mentions` makes it), those
    where a date of birth of ``o`` equals one of ``c`` (or day and month swapped, or one character
    apart) or a postcode of ``o`` equals one of ``c``, and no two dates of birth of the two differ
    more than that."""
    from ..config import duckdb_connect

    ends = pl.concat([pairs.select(pl.col("o").alias("label")), pairs.select(pl.col("c").alias("label"))]).unique()
    ids = (m.filter(pl.col("dob").is_not_null() | pl.col("pc").is_not_null()).join(ends, on="label", how="semi")
           .select("label", "dob", "dob_sw", "pc").unique())
    con = duckdb_connect()
    try:
        con.register("pairs", pairs.select("o", "c").to_arrow())
        con.register("ids", ids.to_arrow())
        return con.sql("""
            SELECT p.o, p.c FROM pairs p JOIN ids a ON a.label = p.o JOIN ids b ON b.label = p.c
            GROUP BY p.o, p.c
            HAVING bool_or(a.dob = b.dob OR a.dob = b.dob_sw OR damerau_levenshtein(a.dob, b.dob) <= 1
                           OR a.pc = b.pc)
               AND bool_and(a.dob IS NULL OR b.dob IS NULL OR a.dob = b.dob OR a.dob = b.dob_sw
                            OR damerau_levenshtein(a.dob, b.dob) <= 1)
        """).pl()
    finally:
        con.close()


def reconcile_case_strays(std: pl.DataFrame, lab: pl.DataFrame,
                          cannot: Iterable[tuple[int, int]] = (),
                          must: Iterable[tuple[int, int]] = ()) -> tuple[pl.DataFrame, int]:
    """Move a case's name-only defendant mentions that clustering gave to a person of *other*
    cases to the one person of their own case they can be.

    A public list prints "Scott Butler" (a name, the case's URN); the press list of the same day
    prints the case's defendant as "Scott Buttler, 39, DN1 5PS".  The name-only mention matches a
    "Scott Butler" of other cases exactly and the typo'd press entry less well, so clustering may
    put it with that other man -- who has nothing else in this case -- and the case then shows
    two defendants (a one-defendant case counted among the multi-defendant ones).  A *stray* is
    such a group: the mentions of one cluster in one case, none with a date of birth or a
    postcode, of a cluster that also has mentions in other cases.  It moves (its mentions only;
    the rest of the cluster stays) to the cluster that has an identified mention (date of birth
    or postcode) in the same case when that cluster is the *only* one whose names are
    compatible (`_compatible`), the two never appear in one hearing and no cannot-link stands
    between them.  A stray holding a mention that a reviewer said is the *same* as a mention
    left behind (a must-link, ``must``) stays: moving it would part what the reviewer joined.
    Returns the relabelled clusters and how many strays moved."""
    m = _case_mentions(std, lab)
    ident = pl.col("dob").is_not_null() | pl.col("pc").is_not_null()
    groups = m.filter(pl.col("case_id").is_not_null()).group_by("label", "case_id").agg(
        ident.any().alias("ident"), pl.col("mention_id").min().alias("o"))
    spread = m.group_by("label").agg(pl.col("case_id").drop_nulls().n_unique().alias("n_cases"))
    strays = (groups.join(spread, on="label").filter(~pl.col("ident") & (pl.col("n_cases") >= 2))
              .select("label", "case_id", "o"))
    if strays.height == 0:
        return lab, 0
    sm = m.join(strays, on=["label", "case_id"])
    o_names = _names(sm, "o", "o")
    held = groups.filter(pl.col("ident") & pl.col("case_id").is_in(strays["case_id"].implode())).select("label", "case_id")
    c_names = _names(m.join(held, on=["label", "case_id"]), "label", "c")
    if c_names.height == 0:
        return lab, 0
    compat = _compatible(o_names, c_names)
    if compat.height == 0:
        return lab, 0
    together = (sm.select("o", "hearing_id").join(m.select(pl.col("label").alias("c"), "hearing_id"), on="hearing_id")
                .select("o", "c").unique())
    compat = compat.join(together, on=["o", "c"], how="anti")
    # (cannot-links, with each stray's mentions under its own label o)
    as_o = lab.join(sm.select("mention_id", "o"), on="mention_id", how="left").with_columns(
        pl.coalesce("o", "label").alias("label")).drop("o")
    to = _only_candidates(_not_cannot(compat, as_o, cannot))
    if to and must:
        to = _keep_must(to, sm.select("mention_id", "o"), lab, must)
    if not to:
        return lab, 0
    moves = sm.join(pl.DataFrame({"o": list(to), "c": list(to.values())}, schema={"o": pl.Int64, "c": pl.Int64}),
                    on="o").select("mention_id", "c")
    out = (lab.join(moves, on="mention_id", how="left")
           .with_columns(pl.coalesce("c", "label").alias("label"),
                         pl.when(pl.col("c").is_not_null()).then(pl.lit(RECONCILE_PROBABILITY))
                         .otherwise(pl.col("probability")).alias("probability"))
           .select("mention_id", "label", "probability").sort("mention_id"))
    return out, len(to)


def _forename_reach(forenames: Iterable[str]) -> pl.DataFrame:
    """For each forename (lower case), the canonical names of the name-variant table's entries one
    edit from it (``ofn``, ``reach``): "jey" -> joseph (via "joey"), "jseph" -> joseph -- a typo on
    top of a nickname, which neither the canonical form nor the edit distance to the other list's
    spelling ("Joseph", "Joey") recognises.  Same first letter and length within one, so the table
    is compared with a few entries per name."""
    from ..config import duckdb_connect
    from ..governance.pseudonym import name_spellings

    names = sorted({f.lower() for f in forenames if f and len(f) > 1})
    empty = pl.DataFrame(schema={"ofn": pl.Utf8, "reach": pl.List(pl.Utf8)})
    if not names:
        return empty
    spellings = name_spellings()
    table = pl.DataFrame([(v, canon) for canon, group in spellings.items() for v in group], schema=["v", "vc"],
                         orient="row")
    con = duckdb_connect()
    try:
        con.register("names", pl.DataFrame({"ofn": names}).to_arrow())
        con.register("variants", table.to_arrow())
        out = con.sql("""
            SELECT n.ofn, list(DISTINCT v.vc ORDER BY v.vc) AS reach FROM names n JOIN variants v
              ON substr(v.v, 1, 1) = substr(n.ofn, 1, 1) AND abs(length(v.v) - length(n.ofn)) <= 1
             AND damerau_levenshtein(v.v, n.ofn) <= 1
            GROUP BY n.ofn""").pl()
    finally:
        con.close()
    return out if out.height else empty


def _compatible(o_names: pl.DataFrame, c_names: pl.DataFrame) -> pl.DataFrame:
    """Pairs (o, c) of one case whose names can be one person's -- surname: canonical equal,
    Jaro-Winkler >= 0.88 or at most two edits apart; forename: canonical equal, an initial that
    agrees, Jaro-Winkler >= 0.75, at most two edits apart, either one edit from a variant of
    the other's canonical name (`_forename_reach`), or one the other's first middle name (a man
    known by his middle name); or the two names swapped, each as close as that (a forename of
    several parts also whole: "Diixon-O'Connor Bryan" for Bryan DIXON-O'CONNOR)
    -- and whose ages at the hearings (birth-year ranges) never contradict.  ``o_names`` and
    ``c_names``: the two sides as `_names` makes them."""
    from ..config import duckdb_connect

    # both ways: "Bobby" (robert) and the typo "Rbert" are one edit from a variant only seen from
    # the typo's side
    reach = _forename_reach(o_names["ofn"].drop_nulls().to_list() + c_names["cfn"].drop_nulls().to_list())

    def with_reach(side: pl.DataFrame, fn: str, out: str) -> pl.DataFrame:
        return side.with_columns(pl.col(fn).str.to_lowercase().alias("_fl")).join(
            reach.rename({"ofn": "_fl", "reach": out}), on="_fl", how="left").drop("_fl")

    o_names, c_names = with_reach(o_names, "ofn", "reach"), with_reach(c_names, "cfn", "creach")
    con = duckdb_connect()          # (bounded memory, spills to the scratch folder: see config)
    try:
        con.register("o_names", o_names.to_arrow())
        con.register("c_names", c_names.to_arrow())
        return con.sql("""
            SELECT o, c FROM o_names JOIN c_names USING (case_id)
            WHERE o <> c
            GROUP BY o, c
            HAVING bool_or(osn IS NOT NULL AND csn IS NOT NULL AND ofn IS NOT NULL AND cfn IS NOT NULL
                   AND ((osc = csc OR jaro_winkler_similarity(osn, csn) >= 0.88 OR damerau_levenshtein(osn, csn) <= 2)
                        AND (ofc = cfc
                             OR ((length(ofn) = 1 OR length(cfn) = 1) AND substr(ofn, 1, 1) = substr(cfn, 1, 1))
                             OR jaro_winkler_similarity(ofn, cfn) >= 0.75 OR damerau_levenshtein(ofn, cfn) <= 2
                             OR coalesce(list_contains(reach, lower(cfc)), false)
                             OR coalesce(list_contains(creach, lower(ofc)), false)
                             -- known by a middle name: "Darren GREEN" for the case's "Max Darren GREEN"
                             OR om1 = cfn OR cm1 = ofn)
                        -- or the names swapped ("Sinclair Douglas KARRL" for Carl SINCLAIR), each
                        -- side as close as above; a hyphenated surname read as forenames is the
                        -- first forename whole ("Diixon-O'Connor Bryan": diixonoconnor, not diixon)
                        OR (length(ofn) > 1 AND length(osn) > 1
                            AND (ofc = csc OR jaro_winkler_similarity(ofn, csn) >= 0.88 OR damerau_levenshtein(ofn, csn) <= 2
                                 OR damerau_levenshtein(of1, csn) <= 2)
                            AND (osc = cfc OR jaro_winkler_similarity(osn, cfn) >= 0.75
                                 OR damerau_levenshtein(osn, cfn) <= 2
                                 OR damerau_levenshtein(osn, cf1) <= 2))))
               -- ages at the hearings (birth-year ranges) must not contradict anywhere
               AND bool_and(olo IS NULL OR clo IS NULL OR (olo <= chi + 1 AND clo <= ohi + 1))
        """).pl()
    finally:
        con.close()


def _keep_must(to: dict[int, int], stray_of: pl.DataFrame, lab: pl.DataFrame,
               must: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Of the stray moves ``to`` (stray key o -> cluster c; ``stray_of``: mention_id, o), those
    that part no must-link pair: a mention of stray o tied to one outside it that would not end in
    c (``lab``: the clusters before the move)."""
    mp = pl.DataFrame(list(must), schema={"a": pl.Int64, "b": pl.Int64}, orient="row")
    if mp.height == 0:
        return to
    mp = pl.concat([mp, mp.select(pl.col("b").alias("a"), pl.col("a").alias("b"))])
    dest = pl.DataFrame({"o": list(to), "c": list(to.values())}, schema={"o": pl.Int64, "c": pl.Int64})
    parted = (mp.join(stray_of.rename({"mention_id": "a"}), on="a")          # a in stray o
              .join(dest, on="o")
              .join(stray_of.rename({"mention_id": "b", "o": "ob"}), on="b", how="left")
              .join(lab.select(pl.col("mention_id").alias("b"), pl.col("label").alias("lb")), on="b", how="left")
              # b moves with o, or b is already in the cluster o goes to: nothing parted
              .filter(~pl.col("ob").eq_missing(pl.col("o")) & ~pl.col("lb").eq_missing(pl.col("c"))))
    blocked = set(parted["o"].to_list())
    return {o: c for o, c in to.items() if o not in blocked}


def _only_candidates(pairs: pl.DataFrame) -> dict[int, int]:
    """Of candidate joins (columns ``o``, ``c``), each ``o`` that has exactly one ``c``: o -> c."""
    one = pairs.group_by("o").agg(pl.col("c").n_unique().alias("k"), pl.col("c").first()).filter(pl.col("k") == 1)
    return dict(zip(one["o"].to_list(), one["c"].to_list()))


def _not_cannot(pairs: pl.DataFrame, lab: pl.DataFrame, cannot: Iterable[tuple[int, int]]) -> pl.DataFrame:
    """Candidate joins (columns ``o``, ``c``: cluster labels) without those a cannot-link (reviewer
    or automatic) stands between."""
    cl = pl.DataFrame(list(cannot), schema={"a": pl.Int64, "b": pl.Int64}, orient="row")
    if cl.height == 0 or pairs.height == 0:
        return pairs
    of = lab.select("mention_id", "label")
    ends = (cl.join(of.rename({"mention_id": "a", "label": "o"}), on="a")
            .join(of.rename({"mention_id": "b", "label": "c"}), on="b").select("o", "c"))
    blocked = pl.concat([ends, ends.select(pl.col("c").alias("o"), pl.col("o").alias("c"))])
    return pairs.join(blocked, on=["o", "c"], how="anti")


def _join_clusters(lab: pl.DataFrame, to: dict[int, int]) -> tuple[pl.DataFrame, int]:
    """Relabel: each cluster ``o`` of ``to`` joins cluster ``to[o]`` (the joined mentions without a
    probability get RECONCILE_PROBABILITY); returns the relabelled clusters and how many joined."""
    # orphan -> its candidate; a candidate that is itself a joined orphan resolves in turn (chains end:
    # each step goes to a cluster with identity or another orphan, never back -- guarded anyway)
    def final(x: int) -> int:
        seen = set()
        while x in to and x not in seen:
            seen.add(x)
            x = to[x]
        return x

    target = {o: final(o) for o in to}
    groups: dict[int, set[int]] = {}
    for o, t in target.items():
        groups.setdefault(t, {t}).add(o)
    new_label = {}
    for t, members in groups.items():
        lo = min(members)
        for x in members:
            new_label[x] = lo
    joined = set(to)
    nl = pl.DataFrame({"label": list(new_label), "nl": list(new_label.values())},
                      schema={"label": pl.Int64, "nl": pl.Int64})
    out = (lab.join(nl, on="label", how="left")
           .with_columns(pl.col("nl").fill_null(pl.col("label")).alias("label_new"))
           .with_columns(pl.when(pl.col("label").is_in(list(joined)) & pl.col("probability").is_null())
                         .then(pl.lit(RECONCILE_PROBABILITY)).otherwise(pl.col("probability")).alias("probability"))
           .drop("label", "nl").rename({"label_new": "label"})
           .select("mention_id", "label", "probability").sort("mention_id"))
    return out, len(joined)


def reconcile_sjp_public(std: pl.DataFrame, lab: pl.DataFrame,
                         cannot: Iterable[tuple[int, int]] = ()) -> tuple[pl.DataFrame, int]:
    """Join each Single Justice Procedure *public*-list defendant to the press-list defendant of
    the same day that it is.

    The SJP public list gives a forename initial, the surname and the postcode area, and no case
    reference ("L SIMS-OSBORNE, S3"); the press list of the same day gives the same defendant in
    full, with the case ("Leon SIMS-OSBORNE", born 1971, S3 8EU, URN 33DS0028119).  With no case,
    no date of birth and an initial, no Splink level carries such a pair over the threshold --
    surname + initial + postcode area is shared by too many people across the archive -- and 3,557
    public-list mentions of the generated 25k-case corpus stayed people of their own.  Within one
    sitting day the question is narrow: an *orphan* (a cluster all of whose mentions have no case
    and an initial for a forename) joins the cluster of a mention with a case, a full forename and
    the same sitting date, court (or none on both sides: SJP lists are national), surname and
    initial, postcode areas not contradicting, when that cluster is the *only* one that fits and
    no cannot-link stands between them.  Two fitting clusters (two "J SMITH" in "M" on one day)
    leave it alone.  On the 25k corpus 3,385 public-list mentions have one such candidate, every
    one right against the truth (3,373 orphan clusters joined).  An orphan with no such candidate
    at all then gets a second pass that allows one slip in the public entry (`_sjp_near`: a
    surname typo, the initial of another spelling of the forename, the names swapped), again only
    when exactly one cluster fits.
    Returns the relabelled clusters and how many orphans were joined."""
    m = std.select(pl.col("unique_id").alias("mention_id"), "case_id", "sitting_date", "court_id", "fn", "fi", "sn",
                   "pc_area").join(lab.select("mention_id", "label"), on="mention_id")
    initial = pl.col("fn").str.len_chars() == 1
    per = m.group_by("label").agg((pl.col("case_id").is_null() & initial.fill_null(False)).all().alias("orphan"))
    orphans = m.join(per.filter(pl.col("orphan")).select("label"), on="label")
    if orphans.height == 0:
        return lab, 0
    key = ["sitting_date", "sn", "fi"]
    o = orphans.filter(pl.col("sn").is_not_null() & pl.col("sitting_date").is_not_null()).select(
        pl.col("label").alias("o"), *key, pl.col("court_id").alias("oc"), pl.col("pc_area").alias("oa"))
    c = m.filter(pl.col("case_id").is_not_null() & (pl.col("fn").str.len_chars() > 1)).select(
        pl.col("label").alias("c"), *key, pl.col("court_id").alias("cc"), pl.col("pc_area").alias("ca"))
    fit = (o.join(c, on=key).filter(pl.col("oc").eq_missing(pl.col("cc"))
                                    & (pl.col("oa").is_null() | pl.col("ca").is_null() | (pl.col("oa") == pl.col("ca"))))
           .select("o", "c").unique())
    fit = _not_cannot(fit, lab, cannot)
    to = _only_candidates(fit)
    # second pass, for the entries with no exact candidate at all (two or more stay ambiguous)
    rest = o.join(fit.select("o").unique(), on="o", how="anti")
    if rest.height:
        cands = m.filter(pl.col("case_id").is_not_null() & (pl.col("fn").str.len_chars() > 1)).select(
            pl.col("label").alias("c"), "sitting_date", pl.col("sn").alias("csn"),
            pl.col("fn").str.to_lowercase().alias("cfn"), pl.col("court_id").alias("cc"), pl.col("pc_area").alias("ca"))
        to.update(_only_candidates(_not_cannot(_sjp_near(rest, cands), lab, cannot)))
    if not to:
        return lab, 0
    return _join_clusters(lab, to)


def _variant_initials(forenames: Iterable[str]) -> pl.DataFrame:
    """For each forename (lower case), the first letters of every spelling of its name in the
    variant table (``cfn``, ``cinit``): "carl" -> "ck" (Karl), "tony" -> "at" (Anthony)."""
    from ..governance.pseudonym import load_name_variants, name_spellings

    variants, spellings = load_name_variants(), name_spellings()
    names = sorted({f for f in forenames if f})
    inits = ["".join(sorted({w[0] for w in spellings.get(variants.get(f, f), {f})})) for f in names]
    return pl.DataFrame({"cfn": names, "cinit": inits}, schema={"cfn": pl.Utf8, "cinit": pl.Utf8})


def _sjp_near(orphans: pl.DataFrame, cands: pl.DataFrame) -> pl.DataFrame:
    """Second pass of `reconcile_sjp_public`: press-list clusters (o, c) of the entry's sitting
    day and court, postcode areas not contradicting, whose names the public entry gives with one
    slip -- the surname one edit away ("V SMIITH" for Victoria SMITH; same first letter), the
    initial that of another spelling of the forename ("A SAVAGE" for Tony, i.e. Anthony, SAVAGE;
    "K APTE" for Carl / Karl APTE), or forename and surname swapped ("H KAYLEIGH" for Kayleigh
    H...: the initial is the surname's)."""
    from ..config import duckdb_connect

    cands = cands.join(_variant_initials(cands["cfn"].unique().to_list()), on="cfn", how="left")
    con = duckdb_connect()
    try:
        con.register("o_rest", orphans.to_arrow())
        con.register("cands", cands.to_arrow())
        return con.sql("""
            SELECT DISTINCT o, c FROM o_rest JOIN cands USING (sitting_date)
            WHERE oc IS NOT DISTINCT FROM cc AND (oa IS NULL OR ca IS NULL OR oa = ca)
              AND ((substr(sn, 1, 1) = substr(csn, 1, 1) AND length(sn) >= 3
                    AND damerau_levenshtein(sn, csn) <= 1 AND contains(coalesce(cinit, substr(cfn, 1, 1)), fi))
                   OR (length(sn) >= 3 AND damerau_levenshtein(sn, cfn) <= 1 AND fi = substr(csn, 1, 1)))
        """).pl()
    finally:
        con.close()


def resolve_masked(std: pl.DataFrame, lab: pl.DataFrame) -> pl.DataFrame:
    """Persons for masked defendant mentions (a list that withholds a youth's name prints "Youth
    defendant"): mention_id, label, probability.

    A masked mention cannot be linked by its name, and the same case's lists usually name the
    same defendants elsewhere (an adult co-defendant's lists, or the hearings before the names
    were withheld).  Counting each masked entry as a defendant of its own would make every such
    case look bigger -- a two-defendant case with masked listings became a "network of three".
    So, within a case, a hearing's defendant entries keep their order (the charge sheet's): the
    k-th entry of a hearing with a masked entry is the person at the k-th entry of the nearest
    (by sitting date) hearing of the same case that lists the same number of defendants, all
    named.  Where no such hearing exists (every listing of the case masked) the k-th masked
    entries of the case are one anonymous person (one youth listed at several hearings).
    ``std`` holds every defendant mention (with ``masked``, ``case_id``, ``hearing_id``,
    ``sitting_date``); ``lab`` the labels of the named ones."""
    empty = pl.DataFrame(schema={"mention_id": pl.Int64, "label": pl.Int64, "probability": pl.Float64})
    if "masked" not in std.columns or not std["masked"].fill_null(False).any():
        return empty
    d = (std.select(pl.col("unique_id").alias("mention_id"), "case_id", "hearing_id", "sitting_date",
                    pl.col("masked").fill_null(False))
         .with_columns(pl.col("mention_id").rank("ordinal").over("hearing_id").cast(pl.Int64).alias("k"),
                       pl.len().over("hearing_id").cast(pl.Int64).alias("n"))
         .join(lab.select("mention_id", "label"), on="mention_id", how="left"))
    masked = d.filter(pl.col("masked"))
    loose = masked.filter(pl.col("case_id").is_null())
    masked = masked.filter(pl.col("case_id").is_not_null())
    # hearings whose every entry is a named, labelled person
    named_h = (d.filter(pl.col("case_id").is_not_null())
               .group_by("hearing_id").agg((~pl.col("masked") & pl.col("label").is_not_null()).all().alias("ok"))
               .filter(pl.col("ok")).select("hearing_id"))
    ref = d.join(named_h, on="hearing_id").select("case_id", pl.col("hearing_id").alias("ref_h"),
                                                  pl.col("sitting_date").alias("ref_d"), "n", "k",
                                                  pl.col("label").alias("ref_label"))
    m_h = masked.select("hearing_id", "case_id", "sitting_date", "n").unique()
    best = (m_h.join(ref.select("case_id", "ref_h", "ref_d", "n").unique(), on=["case_id", "n"])
            .with_columns((pl.col("ref_d") - pl.col("sitting_date")).dt.total_days().abs().alias("gap"))
            .sort(["hearing_id", "gap", "ref_d"], descending=[False, False, True])
            .group_by("hearing_id", maintain_order=True).first().select("hearing_id", "ref_h"))
    got = (masked.join(best, on="hearing_id", how="left")
           .join(ref.select("ref_h", "k", "ref_label"), on=["ref_h", "k"], how="left"))
    mapped = got.filter(pl.col("ref_label").is_not_null()).select(
        "mention_id", pl.col("ref_label").alias("label"), pl.lit(RECONCILE_PROBABILITY).alias("probability"))
    slots = got.filter(pl.col("ref_label").is_null()).select(
        "mention_id", pl.col("mention_id").min().over("case_id", "k").alias("label"),
        pl.lit(None, pl.Float64).alias("probability"))
    lone = loose.select("mention_id", pl.col("mention_id").alias("label"), pl.lit(None, pl.Float64).alias("probability"))
    return pl.concat([mapped, slots, lone], how="vertical_relaxed").cast(
        {"mention_id": pl.Int64, "label": pl.Int64, "probability": pl.Float64}).sort("mention_id")
