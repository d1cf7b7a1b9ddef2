"""Complainant (victim) clustering over pseudonymised mentions -- no cleartext exists or is needed.

Each complainant row carries a keyed HMAC ``token`` of the normalised identity and a keyed Bloom
encoding ``bloom`` of the name's bigrams (`governance.pseudonym`).  Clusters are the connected
components of:

* **equal tokens** -- the same normalised identity (word order, case, accents, titles, nickname
  variants already folded by the normaliser) within one *scope*: ``token_scope="court"`` (the
  default: the court the mention was heard in), ``"area"`` (its police force area) or
  ``"national"``.  A full name identifies nobody across a country: on the generated 100k-case
  corpus 167 of the 185 complainants named in two or more cases were named in one court (all in
  one area), while national token equality joined ~580 pairs of same-name strangers (pairwise
  precision 0.960 with area scope; 0.992 with court scope, recall unchanged).  A name in one case
  heard in two courts (magistrates' -> Crown) stays one person: nodes of one token that share a
  case are joined.  Initials and labels ("J.S.", "Child A") have tokens the intake gate scopes
  to the case, so they link within their case only;
* **Bloom similarity** -- two *different* tokens whose Bloom filters have a Dice coefficient
  >= `BLOOM_DICE` (0.80) when they are named in the same case, or >= `BLOOM_DICE_AREA` (0.90)
  when named in the same scope (court), compared within a *blocking scheme*:

  - ``scheme="block"`` (default): all pairs of tokens of one case, and all pairs of tokens of one
    scope, computed exactly as one matrix product per block (popcount(A and B) = X.X^T over the
    0/1 bit matrix).  Why two thresholds: Dice over a whole name is dominated by the longer
    word, so different forenames with one surname reach 0.81-0.85 ("Aaron Adams"/"Sharon Adams"
    0.85, measured on 39k Faker names); inside one case such a pair is rare and a spelling
    variant likely, across a court's years of lists it is common.
  - ``scheme="lsh"``: MinHash LSH over the filters' set bits, nationally (`BANDS` bands of `ROWS`
    minhashes: a pair with Dice 0.9 -- Jaccard 0.82 -- becomes a candidate with probability
    > 0.99, one with Dice 0.8 with 0.9), then the exact Dice decides against `BLOOM_DICE_AREA`.
    Buckets above `MAX_BUCKET` are skipped.  Slower (MinHash over ~250 set bits per filter:
    ~10 s for 40k tokens) and national: for archives without courts.

  Only ``named`` and ``party`` mentions take part (initials are too short to compare), and only
  filters made under the same key (``key_id``).  Why 0.80: one typo in a two-word name or an
  added/missing middle name scores 0.80-0.90 ("Jane Smith"/"Jane Smyth" 0.83), while two people
  sharing a surname score 0.55-0.77 ("Jane Smith"/"Joan Smith" 0.77) -- sisters must stay apart.
* **no chaining across dissimilar names** -- inside a cluster candidate, two tokens whose Dice
  is below `CHAIN_FLOOR` (0.65) get a cannot-link, so "Jane Smith" ~ "Jane Mary Smith" ~ "Mary
  Smith" does not put Jane and Mary in one person (the greedy constrained clustering of
  `cluster.cluster` keeps the stronger link).

* **the same charge** -- one charge (case, defendant person, offence code and number) has the
  same complainant at every hearing, but registers print them differently from list to list:
  "namely Jane SMITH" at one hearing, "J.S." at the next.  The n-th complainant of a charge is
  linked to the n-th complainant of the same charge at every other hearing when at least one of
  the two is initials-only (two different full names on one charge stay apart: an amended charge).
  The caller supplies the charge key (column ``charge``; `run.link_victims` builds it from the
  linked defendant persons).

* **initials of a name** -- when the intake gate also gives a full-name mention the token its
  initials would have in the same case (column ``initials_token``: the keyed token of
  "initials + case scope + initials", as for an initials-only mention), a "J.S." mention links to
  the "Jane SMITH" mention of its case whose initials token equals its token.  Without it,
  initials-only mentions link only to the same initials in the same case and to the same charge.

* **the same victim context across cases** -- a full name alone is weak evidence across cases: a
  busy court lists the same common name as complainant in unrelated cases years apart, and a
  false "victim linked to two defendants" is the most harmful claim this archive can make.  So
  equal tokens in one scope join only when the mentions share a *victim context* (column
  ``context``, `VICTIM_CONTEXTS`: sexual / violence / property / other, from the offence group of
  the offence whose wording names them, else of the case's most serious listed offence).  On the
  generated 25k-case corpus every complainant truly named in two cases shares the context, while
  26 of 30 same-court namesake pairs did not.  A mention whose context is unknown (an offence code
  missing from `data/offences.csv`) may join one context of its name, never bridge two; mentions
  of one case always join whatever their contexts.  Bloom links across cases (same scope) are
  likewise compared within one context.  ``victim_context=False`` turns it off.

*Described-only* mentions ("a child under 13") have no token: they are not linkable and are
reported (``unlinkable``), never clustered.
"""

from __future__ import annotations

import functools

import numpy as np
import polars as pl
import pyarrow as pa

from ..data.reference import offence_by_code
from .cluster import cluster

__all__ = ["BLOOM_DICE", "CHAIN_FLOOR", "link_complainants", "bloom_pairs", "block_pairs", "BANDS", "ROWS",
           "VICTIM_CONTEXTS", "offence_context", "mention_contexts"]

# offence group (data/offences.csv) -> victim context; any other known group is "other"
VICTIM_CONTEXTS = {
    "sexual": "sexual", "modern_slavery": "sexual",
    "violence": "violence", "homicide": "violence", "harassment": "violence", "public_order": "violence",
    "criminal_damage": "violence", "weapons": "violence", "fgm": "violence",
    "theft": "property", "robbery": "property", "fraud": "property",
}
CONTEXT_BRIDGE = 0.9   # the "probability" of a link from an unknown-context mention to a known one

BLOOM_DICE = 0.80
CHARGE_LINK = 0.95     # the "probability" recorded for a same-charge link
BLOOM_DICE_AREA = 0.90
CHAIN_FLOOR = 0.65
BANDS, ROWS = 20, 5
MAX_BUCKET = 200
_PRIME = (1 << 31) - 1
_BLOOM_KINDS = ("named", "party")


def _bits(blooms: list[bytes]) -> np.ndarray:
    width = max(len(b) for b in blooms)
    buf = np.frombuffer(b"".join(b.rjust(width, b"\0") for b in blooms), dtype=np.uint8)
    return buf.reshape(len(blooms), width)


def _minhash(mat: np.ndarray, n_hash: int, seed: int = 1) -> np.ndarray:
    """MinHash signatures (rows x n_hash) of the set-bit positions of each row's bitmap: one random
    permutation (rank table) of the bit positions per hash, min rank over the set bits."""
    rng = np.random.default_rng(seed)
    nbits = mat.shape[1] * 8
    ranks = np.stack([rng.permutation(nbits).astype(np.uint16) for _ in range(n_hash)], axis=1)  # nbits x H
    out = np.full((mat.shape[0], n_hash), nbits, dtype=np.uint16)
    step = 4000
    for s in range(0, mat.shape[0], step):
        bits = np.unpackbits(mat[s:s + step], axis=1)
        rows, pos = np.nonzero(bits)
        if rows.size == 0:
            continue
        h = ranks[pos]                                   # (set bits) x H
        starts = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]])
        out[s + rows[starts]] = np.minimum.reduceat(h, starts, axis=0)
    return out


def _dice(mat: np.ndarray, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    ones = np.unpackbits(mat, axis=1).sum(axis=1)
    res = np.empty(len(i), dtype=np.float64)
    step = 50_000
    for s in range(0, len(i), step):
        ii, jj = i[s:s + step], j[s:s + step]
        inter = np.unpackbits(mat[ii] & mat[jj], axis=1).sum(axis=1)
        tot = ones[ii] + ones[jj]
        res[s:s + step] = np.where(tot > 0, 2.0 * inter / np.maximum(tot, 1), 0.0)
    return res


def bloom_pairs(blooms: list[bytes], threshold: float = BLOOM_DICE) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index pairs (i < j) of filters with Dice >= threshold, found by MinHash LSH."""
    n = len(blooms)
    if n < 2:
        return np.array([], np.int64), np.array([], np.int64), np.array([], np.float64)
    mat = _bits(blooms)
    sig = _minhash(mat, BANDS * ROWS)
    cand_i, cand_j = [], []
    for band in range(BANDS):
        part = sig[:, band * ROWS:(band + 1) * ROWS]
        key = np.ascontiguousarray(part).view(np.dtype((np.void, part.dtype.itemsize * ROWS))).ravel()
        df = pl.DataFrame({"k": pl.Series(key.tolist(), dtype=pl.Binary), "i": np.arange(n)})
        grp = df.group_by("k").agg(pl.col("i")).filter(pl.col("i").list.len().is_between(2, MAX_BUCKET))
        for members in grp["i"].to_list():
            m = np.asarray(members)
            ii, jj = np.triu_indices(len(m), k=1)
            cand_i.append(m[ii])
            cand_j.append(m[jj])
    if not cand_i:
        return np.array([], np.int64), np.array([], np.int64), np.array([], np.float64)
    ci, cj = np.concatenate(cand_i), np.concatenate(cand_j)
    lo, hi = np.minimum(ci, cj), np.maximum(ci, cj)
    pairs = np.unique(lo * n + hi)
    lo, hi = pairs // n, pairs % n
    d = _dice(mat, lo, hi)
    keep = d >= threshold
    return lo[keep], hi[keep], d[keep]


def block_pairs(blooms: list[bytes], blocks: list[list[int]], threshold: float = BLOOM_DICE
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Index pairs (i < j) with Dice >= threshold among the members of each block (exact)."""
    if len(blooms) < 2:
        return np.array([], np.int64), np.array([], np.int64), np.array([], np.float64)
    mat = _bits(blooms)
    ones = np.unpackbits(mat, axis=1).sum(axis=1).astype(np.float32)
    out_i, out_j, out_d = [], [], []
    for members in blocks:
        m = np.unique(np.asarray(members, dtype=np.int64))
        if len(m) < 2:
            continue
        for s in range(0, len(m), 4000):
            rows = m[s:s + 4000]
            x = np.unpackbits(mat[rows], axis=1).astype(np.float32)
            y = np.unpackbits(mat[m[s:]], axis=1).astype(np.float32)
            inter = x @ y.T
            tot = ones[rows][:, None] + ones[m[s:]][None, :]
            d = 2.0 * inter / np.maximum(tot, 1.0)
            ii, jj = np.nonzero(d >= threshold)
            gi, gj = rows[ii], m[s:][jj]
            keep = gi < gj
            out_i.append(gi[keep])
            out_j.append(gj[keep])
            out_d.append(d[ii, jj][keep].astype(np.float64))
    if not out_i:
        return np.array([], np.int64), np.array([], np.int64), np.array([], np.float64)
    i, j, d = np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_d)
    key = np.unique(i * len(blooms) + j, return_index=True)[1]
    return i[key], j[key], d[key]


@functools.lru_cache(maxsize=4096)
def _offence_info(code: str) -> tuple[str | None, int]:
    o = offence_by_code(code) if code else None
    if o is None:
        return None, -1
    return VICTIM_CONTEXTS.get(o.get("offence_group") or "", "other"), int(o.get("seriousness") or 0)


def offence_context(code: str | None) -> str | None:
    """The victim context of an offence code (`VICTIM_CONTEXTS`), None when the code is unknown."""
    return _offence_info(code)[0] if code else None


def mention_contexts(mentions: pl.DataFrame, case_offences: pl.DataFrame) -> pl.Series:
    """Per complainant mention (``offence_code``, ``case_id``): the context of the offence naming
    it, else of its case's most serious listed offence (``case_offences``: case_id, code)."""
    distinct = pl.concat([case_offences["code"].cast(pl.Utf8), mentions["offence_code"].cast(pl.Utf8)])
    codes = distinct.drop_nulls().unique().to_list()
    info = [_offence_info(c) for c in codes]
    table = pl.DataFrame({"code": codes, "ctx": [i[0] for i in info], "rank": [i[1] for i in info]},
                         schema={"code": pl.Utf8, "ctx": pl.Utf8, "rank": pl.Int64})
    case_ctx = (case_offences.select("case_id", pl.col("code").cast(pl.Utf8)).join(table, on="code")
                .drop_nulls("ctx").sort(["case_id", "rank", "ctx"], descending=[False, True, True])
                .unique("case_id", keep="first").select("case_id", pl.col("ctx").alias("case_ctx")))
    m = (mentions.select(pl.col("offence_code").cast(pl.Utf8).alias("code"), "case_id").with_row_index("_i")
         .join(table.select("code", "ctx"), on="code", how="left")
         .join(case_ctx, on="case_id", how="left").sort("_i"))
    return m.select(pl.coalesce("ctx", "case_ctx").alias("context"))["context"]


def link_complainants(mentions: pa.Table, *, threshold: float = BLOOM_DICE, scheme: str = "block",
                      area_threshold: float = BLOOM_DICE_AREA, chain_floor: float = CHAIN_FLOOR,
                      token_scope: str = "court", victim_context: bool = True) -> tuple[pl.DataFrame, dict]:
    """Cluster complainant mentions.  Returns (mention_id, label, probability) for the linkable
    mentions and a report {mentions, linkable, unlinkable, unlinkable_by_kind, tokens, bloom_links}."""
    df = pl.from_arrow(mentions)
    if "area" not in df.columns:
        df = df.with_columns(pl.lit(None, pl.Utf8).alias("area"))
    df = df.with_columns(pl.coalesce("area", pl.format("court:{}", pl.col("court_id"))).alias("area"))
    linkable = df.filter(pl.col("token").is_not_null())
    report = {"mentions": df.height, "linkable": linkable.height,
              "unlinkable": df.height - linkable.height,
              "unlinkable_by_kind": {k or "unknown": n for k, n in
                                     df.filter(pl.col("token").is_null()).group_by("kind").len().iter_rows()}}
    empty = pl.DataFrame(schema={"mention_id": pl.Int64, "label": pl.Int64, "probability": pl.Float64})
    if linkable.height == 0:
        report.update(tokens=0, bloom_links=0, chain_splits=0)
        return empty, report
    # one node per distinct token (full names: per token and area, see TOKEN_SCOPE); its smallest
    # mention id represents it
    if token_scope == "court":
        scope = pl.coalesce(pl.col("court_id").cast(pl.Utf8), pl.col("area"))
    elif token_scope == "area":
        scope = pl.col("area")
    elif token_scope == "national":
        scope = pl.lit("")
    else:
        raise ValueError(f"unknown token scope {token_scope!r}: court | area | national")
    use_ctx = victim_context and "context" in linkable.columns
    linkable = linkable.with_columns(scope.alias("scope"),
                                     (pl.col("context") if use_ctx else pl.lit(None, pl.Utf8)).alias("ctx"))
    node = pl.when(pl.col("kind").is_in(_BLOOM_KINDS)) \
        .then(pl.format("{}|{}|{}", "token", "scope", pl.col("ctx").fill_null(""))) \
        .otherwise(pl.col("token"))
    linkable = linkable.with_columns(node.alias("node"))
    tok = (linkable.group_by("node").agg(pl.col("complainant_id").min().alias("rep"), pl.col("token").first(),
                                          pl.col("kind").first(), pl.col("key_id").first(),
                                          pl.col("bloom").first(), pl.col("scope").first(),
                                          pl.col("ctx").first(), pl.col("scope").unique().alias("scopes"),
                                          pl.col("case_id").unique().alias("cases"))
           .sort("rep"))
    report["tokens"] = tok.height
    el, er, ep = [], [], []
    cand = tok.filter(pl.col("kind").is_in(_BLOOM_KINDS) & pl.col("bloom").is_not_null())
    blooms_by_rep: dict[int, bytes] = {}
    for (_kid,), part in cand.group_by(["key_id"]):
        reps = part["rep"].to_numpy()
        blooms = part["bloom"].to_list()
        blooms_by_rep.update(zip(reps.tolist(), blooms))
        if scheme == "lsh":
            i, j, d = bloom_pairs(blooms, area_threshold)
        elif scheme == "block":
            ix = part.with_row_index("ix")
            by_case = ix.explode("cases").group_by("cases").agg(pl.col("ix"))["ix"].to_list()
            # across cases, spelling variants are compared within one scope and one victim context
            by_scope = (ix.explode("scopes").group_by("scopes", "ctx").agg(pl.col("ix"))["ix"].to_list())
            parts = [block_pairs(blooms, by_case, threshold), block_pairs(blooms, by_scope, area_threshold)]
            i, j, d = (np.concatenate(x) for x in zip(*parts))
        else:
            raise ValueError(f"unknown blocking scheme {scheme!r}: block | lsh")
        # equal tokens are joined by scope (above), never by their (identical) Bloom filters
        toks = part["token"].to_numpy()
        keep = toks[i] != toks[j] if len(i) else np.array([], bool)
        i, j, d = i[keep], j[keep], d[keep]
        el.append(reps[i]); er.append(reps[j]); ep.append(d)  # noqa: E702
    a = np.concatenate(el) if el else np.array([], np.int64)
    b = np.concatenate(er) if er else np.array([], np.int64)
    p = np.concatenate(ep) if ep else np.array([], np.float64)
    report["bloom_links"] = int(len(a))
    # one full name in one case heard in two courts (or areas): its nodes join
    xa = (linkable.join(tok.select("node", "rep"), on="node").select("token", "case_id", "rep").unique()
          .with_columns(pl.col("rep").min().over("token", "case_id").alias("r0"))
          .filter(pl.col("rep") != pl.col("r0")).select("r0", "rep").unique())
    a = np.concatenate([a, xa["r0"].to_numpy().astype(np.int64)])
    b = np.concatenate([b, xa["rep"].to_numpy().astype(np.int64)])
    p = np.concatenate([p, np.ones(xa.height)])
    # the same charge at other hearings (initials <-> name)
    if "charge" in linkable.columns:
        ch = (linkable.filter(pl.col("charge").is_not_null())
              .join(tok.select("node", "rep", pl.col("kind").alias("tkind")), on="node")
              .select("charge", "rep", "tkind").unique())
        first = ch.group_by("charge").agg(pl.col("rep").min().alias("r0"))
        ce = (ch.join(first, on="charge").join(ch.select(pl.col("rep").alias("r0"), pl.col("tkind").alias("k0")).unique(),
                                                 on="r0")
              .filter((pl.col("rep") != pl.col("r0")) & ((pl.col("tkind") == "initials") | (pl.col("k0") == "initials")))
              .select("rep", "r0").unique())
        a = np.concatenate([a, ce["r0"].to_numpy().astype(np.int64)])
        b = np.concatenate([b, ce["rep"].to_numpy().astype(np.int64)])
        p = np.concatenate([p, np.full(ce.height, CHARGE_LINK)])
        report["charge_links"] = ce.height
    if "initials_token" in linkable.columns:
        it = (linkable.filter(pl.col("initials_token").is_not_null())
              .join(tok.select("node", "rep"), on="node").select("initials_token", "rep").unique()
              .join(tok.filter(pl.col("kind") == "initials").select(pl.col("token").alias("initials_token"),
                                                                     pl.col("rep").alias("irep")),
                    on="initials_token"))
        a = np.concatenate([a, it["rep"].to_numpy().astype(np.int64)])
        b = np.concatenate([b, it["irep"].to_numpy().astype(np.int64)])
        p = np.concatenate([p, np.full(it.height, CHARGE_LINK)])
        report["initials_links"] = it.height
    bridge_cannot: list[tuple[int, int]] = []
    if use_ctx:
        ba, bb, bridge_cannot = _context_bridges(tok)
        a, b = np.concatenate([a, ba]), np.concatenate([b, bb])
        p = np.concatenate([p, np.full(len(ba), CONTEXT_BRIDGE)])
        report["context_bridges"], report["context_splits"] = len(ba), len(bridge_cannot)
    pairs = pa.table({"unique_id_l": pa.array(a, pa.int64()), "unique_id_r": pa.array(b, pa.int64()),
                      "match_probability": pa.array(p, pa.float64())})
    # cannot-links between dissimilar tokens that Bloom links would chain together
    cannot = _chain_constraints(a, b, blooms_by_rep, chain_floor) + bridge_cannot
    report["chain_constraints"] = len(cannot)
    reps = tok["rep"].to_list()
    tlab = cluster(reps, pairs, threshold=min(threshold, area_threshold), cannot=cannot)
    lk = (linkable.join(tok.select("node", "rep"), on="node", how="left")
          .join(tlab.rename({"mention_id": "rep"}), on="rep", how="left"))
    lk = lk.with_columns(pl.col("complainant_id").min().over("label").alias("label"))
    multi = pl.col("complainant_id").count().over("label") > 1
    lk = lk.with_columns(pl.when(pl.col("probability").is_null() & multi).then(1.0)
                         .otherwise(pl.col("probability")).alias("probability"))
    return (lk.select(pl.col("complainant_id").alias("mention_id"), "label", "probability")
            .sort("mention_id"), report)


def _context_bridges(tok: pl.DataFrame) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]:
    """For each name (token) in one scope that has mentions of unknown context and of known ones:
    a link from the unknown node to every known one, and cannot-links between known contexts that
    share no case, so the unknown node joins one context and never bridges two."""
    full = tok.filter(pl.col("kind").is_in(_BLOOM_KINDS))
    grp = (full.group_by("token", "scope").agg(pl.col("rep"), pl.col("ctx"), pl.col("cases"))
           .filter(pl.col("ctx").list.eval(pl.element().is_null()).list.any() & (pl.col("rep").list.len() > 1)))
    a: list[int] = []
    b: list[int] = []
    cannot: list[tuple[int, int]] = []
    for reps, ctxs, cases in grp.select("rep", "ctx", "cases").iter_rows():
        unknown = [r for r, c in zip(reps, ctxs) if c is None]
        known = [(r, set(cs)) for r, c, cs in zip(reps, ctxs, cases) if c is not None]
        for u in unknown:
            a += [u] * len(known)
            b += [r for r, _ in known]
        for x in range(len(known)):
            for y in range(x + 1, len(known)):
                if not (known[x][1] & known[y][1]):
                    cannot.append((known[x][0], known[y][0]))
    return np.asarray(a, np.int64), np.asarray(b, np.int64), cannot


def _chain_constraints(a: np.ndarray, b: np.ndarray, blooms: dict[int, bytes], floor: float) -> list[tuple[int, int]]:
    """Pairs of full-name tokens in one linked component whose own Dice is below ``floor``."""
    if len(a) < 2:
        return []
    import igraph as ig

    nodes = sorted(set(a.tolist()) | set(b.tolist()))
    ix = {n: k for k, n in enumerate(nodes)}
    g = ig.Graph(n=len(nodes), edges=list(zip([ix[x] for x in a.tolist()], [ix[x] for x in b.tolist()])))
    out = []
    for comp in g.connected_components():
        members = [nodes[k] for k in comp if nodes[k] in blooms]
        if len(comp) < 3 or len(members) < 2:
            continue
        mat = _bits([blooms[m] for m in members])
        x = np.unpackbits(mat, axis=1).astype(np.float32)
        ones = x.sum(axis=1)
        d = 2.0 * (x @ x.T) / np.maximum(ones[:, None] + ones[None, :], 1.0)
        ii, jj = np.nonzero(np.triu(d < floor, k=1))
        out.extend((members[i], members[j]) for i, j in zip(ii.tolist(), jj.tolist()))
    return out
