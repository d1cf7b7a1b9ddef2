"""Networks of linked defendants (igraph), with stable network ids.

*Linked* is defined once, in `analyse.definitions.defendant_edges`: two defendants are linked when
they are co-defendants in a case or are charged with offences against the same complainant.  Here
defendants are *persons* (clusters of defendant mentions), complainants are complainant persons
(clusters of pseudonymised mentions) and cases are the store's consolidated cases (URN).

Two graphs are built with igraph:

* the **defendant graph** -- defendant persons, an edge per linked pair;
* the **defendant-case-complainant graph** -- a tripartite graph (defendant -- case for every
  defendant of a case; defendant -- complainant for every offence against them).  Its
  components, restricted to defendants, are the defendant graph's components; it gives each
  network its cases and complainants.

Stored networks: every connected component with >= 2 defendants (``kind="component"``), and,
where a component splits into >= 2 Leiden communities, those communities (``kind="community"``,
``parent_id`` = the component).  Leiden: igraph's built-in ``Graph.community_leiden`` with the
modularity objective (resolution 1, iterated to convergence, seeded) -- 15x faster than
``leidenalg.find_partition`` at 1M nodes (MEASURED.md) with the same algorithm; leidenalg would only
be needed for its other quality functions (CPM variants, multiplex), which we do not use.

Network ids are stable as person ids are (`cluster.stable_ids`): a network keeps the id of the
previous network it shares most defendants with.
"""

from __future__ import annotations

import random
from typing import TYPE_CHECKING, Callable

import polars as pl
import pyarrow as pa

from ..analyse import definitions
from ..config import igraph
from .cluster import stable_ids

if TYPE_CHECKING:
    import igraph as ig

__all__ = ["graph_inputs", "defendant_graph", "tripartite_graph", "networks", "LEIDEN_SEED"]

LEIDEN_SEED = 20240601


def graph_inputs(defendants: pl.DataFrame, complainants: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The definitions' inputs from linked mentions.

    ``defendants``: party_id, case_id, person_id (defendant person).  ``complainants``:
    complainant_id, case_id, party_id (the defendant charged), person_id (complainant person).
    Returns (case_defendants[case_id, defendant_id], offence_complainants[case_id, defendant_id,
    complainant_id])."""
    cd = (defendants.filter(pl.col("case_id").is_not_null() & pl.col("person_id").is_not_null())
          .select("case_id", pl.col("person_id").alias("defendant_id")).unique())
    dp = defendants.select("party_id", pl.col("person_id").alias("defendant_id"))
    oc = (complainants.filter(pl.col("person_id").is_not_null())
          .join(dp, on="party_id", how="inner")
          .select("case_id", "defendant_id", pl.col("person_id").alias("complainant_id")).unique())
    return cd, oc


def defendant_graph(cd: pl.DataFrame, oc: pl.DataFrame) -> tuple[ig.Graph, list[int]]:
    ig = igraph()
    edges = definitions.defendant_edges(cd, oc)
    ids = sorted(set(edges["a"].to_list()) | set(edges["b"].to_list()))
    ix = {d: i for i, d in enumerate(ids)}
    g = ig.Graph(n=len(ids), edges=[(ix[a], ix[b]) for a, b in edges.iter_rows()])
    g.vs["person_id"] = ids
    return g, ids


def tripartite_graph(cd: pl.DataFrame, oc: pl.DataFrame) -> ig.Graph:
    """Vertices ("d", person), ("c", case), ("v", complainant person); kind in vs["kind"]."""
    ig = igraph()
    names: dict[tuple[str, int], int] = {}

    def v(kind: str, x: int) -> int:
        k = (kind, x)
        if k not in names:
            names[k] = len(names)
        return names[k]

    edges = [(v("d", d), v("c", c)) for c, d in cd.select("case_id", "defendant_id").iter_rows()]
    edges += [(v("d", d), v("v", k)) for d, k in oc.select("defendant_id", "complainant_id").unique().iter_rows()]
    g = ig.Graph(n=len(names), edges=edges)
    g.vs["kind"] = [k for k, _ in names]
    g.vs["key"] = [x for _, x in names]
    return g


def networks(cd: pl.DataFrame, oc: pl.DataFrame, *, old_components: dict[int, int],
             old_communities: dict[int, int], new_ids: Callable[[int], list[int]],
             seed: int = LEIDEN_SEED) -> tuple[list[dict], pa.Table, list[int], dict]:
    """Components and communities with stable ids.

    ``old_components`` / ``old_communities``: person -> network id from the previous run.
    Returns (network rows, members table network_id/person_id, retired network ids, stats)."""
    g, ids = defendant_graph(cd, oc)
    comp = g.connected_components()
    memb = pl.DataFrame({"mention_id": ids, "c": comp.membership}, schema={"mention_id": pl.Int64, "c": pl.Int64})
    memb = memb.with_columns(pl.col("mention_id").min().over("c").alias("label"))
    comps, created_c, retired_c = stable_ids(memb.select("mention_id", "label"), old_components, new_ids)
    # communities
    random.seed(seed)
    part = g.community_leiden(objective_function="modularity", resolution=1.0, n_iterations=-1) if ids else None
    comm = pl.DataFrame({"mention_id": ids, "k": part.membership if part else []},
                        schema={"mention_id": pl.Int64, "k": pl.Int64})
    comm = comm.join(comps.select("mention_id", pl.col("person_id").alias("component")), on="mention_id")
    comm = comm.with_columns(pl.col("k").n_unique().over("component").alias("n_in_comp"),
                             pl.len().over("k").alias("k_size"))
    comm = comm.filter((pl.col("n_in_comp") >= 2) & (pl.col("k_size") >= 2))
    comm = comm.with_columns(pl.col("mention_id").min().over("k").alias("label"))
    coms, created_k, retired_k = stable_ids(comm.select("mention_id", "label", "component"), old_communities, new_ids)
    # sizes: defendants, cases, complainants per network
    trip = tripartite_graph(cd, oc)
    case_of = cd.rename({"defendant_id": "mention_id"})
    vic_of = oc.select(pl.col("defendant_id").alias("mention_id"), "complainant_id")
    rows = []
    for df, kind, created in ((comps, "component", set(created_c)), (coms, "community", set(created_k))):
        agg = (df.group_by("person_id").agg(pl.col("mention_id").n_unique().alias("size"),
                                             *( [pl.col("component").first()] if kind == "community" else []))
               .join(df.join(case_of, on="mention_id").group_by("person_id")
                     .agg(pl.col("case_id").n_unique().alias("cases")), on="person_id", how="left")
               .join(df.join(vic_of, on="mention_id").group_by("person_id")
                     .agg(pl.col("complainant_id").n_unique().alias("complainants")), on="person_id", how="left"))
        for r in agg.iter_rows(named=True):
            rows.append(dict(id=r["person_id"], kind=kind, parent_id=r.get("component"), size=r["size"],
                             cases=r["cases"] or 0, complainants=r["complainants"] or 0,
                             new=r["person_id"] in created))
    members = pl.concat([comps.select(pl.col("person_id").alias("network_id"), pl.col("mention_id").alias("person_id")),
                         coms.select(pl.col("person_id").alias("network_id"), pl.col("mention_id").alias("person_id"))])
    stats = {"defendants_in_networks": len(ids), "components": comps["person_id"].n_unique(),
             "communities": coms["person_id"].n_unique(),
             "largest": int(comps.group_by("person_id").len()["len"].max() or 0) if comps.height else 0,
             "tripartite_vertices": trip.vcount(), "tripartite_edges": trip.ecount(),
             "tripartite_components_with_2plus_defendants": sum(
                 1 for c in trip.connected_components() if sum(trip.vs[i]["kind"] == "d" for i in c) >= 2)}
    return rows, members.to_arrow(), sorted(set(retired_c) | set(retired_k)), stats
