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
  case are joined.  With court scope and episode evidence (below), one name at two courts at most
  `CROSS_COURT_KM` apart, between two cases that each name several complainants of sexual
  offences, is a cross-case candidate too, needing one point more (`other_court`).  Initials and labels ("J.S.", "Child A") have tokens the intake gate scopes
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

* **episode evidence across cases** (``cross_case="episode"``, the default) -- the clustering
  unit is a name node *in one case*; within a case its mentions always join, across cases a
  shared name (or a close spelling, same scope and context) joins only when `episode_score`
  (the `EPISODE_WEIGHTS` of: a defendant person charged in both cases; one place of offence
  from the wordings; birth windows from the descriptors that agree; a name in at most
  `RARE_NAME_CASES` cases of the archive, minus for places that differ or a name in more than
  `COMMON_NAME_CASES`) reaches `EPISODE_MIN`, and never against two sexes or birth windows
  that cannot both hold (`mention_evidence` reads place, offence date, sex and age from the
  list; the sex and age a case gives only with the initials of that name -- "a child under 13,
  namely D.C." -- count against a pair too, never for it: `initials_evidence`).  At 1M
  generated entries same-court same-name pairs were one victim 68 % of the time, those the
  score accepts 92 % (`bench/complainants.py`).  ``cross_case="name"``: the rule
  before, any shared name in one scope and context (for comparison).

* **links kept after expiry** (``kept``, `kept_links`) -- most of that evidence is read from the
  lists: the place and date in the offence wording, the defendant persons charged.  When a
  publication's raw identities are pseudonymised (`governance.retention`: the wording deleted,
  the defendants' names made tokens) it is gone, and a run re-clustering from scratch lost the
  links it had carried (on a 600-case corpus one of two cross-case persons split, and a victim
  linked to two defendants with it).  So a previous person with a mention whose evidence
  expired keeps its linkable mentions together: base groups of `cluster.cluster`, which the
  cannot-links below still split; new mentions join them on their own evidence.  An erased
  mention (no token) is never kept, and the caller leaves out the persons a reviewer's decision
  questions, and keeps nothing from a run of another rule (`run.link_victims`).  As
  `link.tokens` keeps the defendants' links made in clear.

*Described-only* mentions ("a child under 13") have no token: they are not linkable and are
reported (``unlinkable``), never clustered.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import polars as pl
import pyarrow as pa

from ..data.reference import normalise_town, offence_by_code, place_pattern
from .cluster import cluster

__all__ = ["BLOOM_DICE", "CHAIN_FLOOR", "CROSS_CASE_RULES", "EPISODE_WEIGHTS", "EVIDENCE_AGGS", "case_evidence", "episode_score", "initials_evidence", "kept_links", "link_complainants", "bloom_pairs", "block_pairs", "BANDS", "ROWS",
           "VICTIM_CONTEXTS", "offence_context", "mention_contexts", "mention_evidence"]

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


_DESCRIPTOR = re.compile(r"^(girl|boy|child|person)(?: (aged|under) (\d+))?$")
_DATE_IN_WORDING = r"(\d\d/\d\d/\d\d\d\d)"


@functools.lru_cache(maxsize=256)
def _descriptor(d: str | None) -> tuple[str | None, float | None, float | None]:
    """(sex, lowest age, highest age) a coarse descriptor allows: "girl aged 13" -> (F, 13, 14),
    "boy under 16" -> (M, 0, 16), "person under 18" -> (None, 0, 18); unknown -> (None, None, None)."""
    m = _DESCRIPTOR.match((d or "").strip().lower())
    if m is None:
        return None, None, None
    sex = {"girl": "F", "boy": "M"}.get(m.group(1))
    if m.group(2) == "aged":
        return sex, float(m.group(3)), float(m.group(3)) + 1.0
    if m.group(2) == "under":
        return sex, 0.0, float(m.group(3))
    return sex, None, None


def mention_evidence(df: pl.DataFrame) -> pl.DataFrame:
    """Add what says two mentions in different cases are one episode, from the list alone:

    * ``place``: the place of offence, ``at <Town>`` in the offence wording (gazetteer names,
      `data.reference.place_pattern`), as a `normalise_town` key;
    * ``odate``: the offence date (the offence's own date, else the first date in its wording,
      else the hearing's sitting date);
    * ``sex`` and ``born_lo`` / ``born_hi``: from the coarse descriptor ("girl aged 13" at the
      offence date: born 13-14 years before it), as fractional years; null when not given.

    The wording is dropped: nothing else of it is used."""
    if "wording" not in df.columns:
        return df
    if "descriptor" not in df.columns:
        df = df.with_columns(pl.lit(None, pl.Utf8).alias("descriptor"))
    # (measured: extracting per distinct wording and joining back is no faster -- 0.13 s against
    # 0.08-0.12 s for 228k mentions, 122k distinct wordings)
    w = pl.col("wording")
    df = df.with_columns(w.str.extract(place_pattern(), 1).alias("_place"),
                         w.str.extract(_DATE_IN_WORDING, 1).str.strptime(pl.Date, "%d/%m/%Y", strict=False)
                         .alias("_wdate"))
    places = df["_place"].drop_nulls().unique().to_list()
    keys = pl.DataFrame({"_place": places, "place": [normalise_town(p) for p in places]},
                        schema={"_place": pl.Utf8, "place": pl.Utf8})
    descs = df["descriptor"].drop_nulls().unique().to_list()
    info = [_descriptor(d) for d in descs]
    dt = pl.DataFrame({"descriptor": descs, "sex": [i[0] for i in info], "_lo": [i[1] for i in info],
                       "_hi": [i[2] for i in info]},
                      schema={"descriptor": pl.Utf8, "sex": pl.Utf8, "_lo": pl.Float64, "_hi": pl.Float64})
    year = pl.col("odate").dt.year() + (pl.col("odate").dt.ordinal_day() - 1) / 365.25
    return (df.with_row_index("_r").join(keys, on="_place", how="left")
            .join(dt, on="descriptor", how="left").sort("_r")
            .with_columns(pl.coalesce("offence_date", "_wdate", "sitting_date").alias("odate"))
            .with_columns((year - pl.col("_hi")).alias("born_lo"), (year - pl.col("_lo")).alias("born_hi"))
            .drop("_r", "_place", "_wdate", "_lo", "_hi", "wording"))


#: one case's evidence from its mentions (group by case): `case_evidence` finishes it
EVIDENCE_AGGS = (pl.col("place").drop_nulls().unique().alias("places"),
                 pl.col("sex").drop_nulls().unique().alias("sexes"), pl.col("born_lo").max(),
                 pl.col("born_hi").min(), pl.col("dperson").drop_nulls().unique().alias("dpersons"))


def case_evidence(units: pl.DataFrame) -> pl.DataFrame:
    """Drop the evidence a case's own mentions contradict (`EVIDENCE_AGGS` per case): two sexes,
    or birth windows that do not meet or barely touch -- a description attached to the wrong
    complainant of a wording."""
    torn = pl.col("born_lo") > pl.col("born_hi") - TORN_WINDOW
    return units.with_columns(pl.when(torn).then(None).otherwise(pl.col("born_lo")).alias("born_lo"),
                              pl.when(torn).then(None).otherwise(pl.col("born_hi")).alias("born_hi"),
                              pl.when(pl.col("sexes").list.len() > 1).then(pl.lit([], pl.List(pl.Utf8)))
                              .otherwise(pl.col("sexes")).alias("sexes"))


def initials_evidence(units: pl.DataFrame, mentions: pl.DataFrame) -> pl.DataFrame:
    """A full name's units with the sex and birth window of their case's initials-only mention
    of that name (a named unit's ``initials_token`` is the token of the case's "D.C."), when those
    initials stand for that one name in the case.  A case often describes a complainant on the
    charge that gives only the initials ("a child under 13, namely D.C.") and not on the one that
    names her ("caused or incited Dorothy CHAPMAN ..."); without it the named unit had no age
    and a namesake a dozen years apart met nothing against her.  Used only to find conflicts
    between cross-case candidates (`_episode`), never as evidence for a link: a wide window it
    brings ("person under 18") would otherwise make ages "agree" with most namesakes.  Where
    the two contradict, the named unit keeps its own."""
    if "initials_token" not in mentions.columns or units.height == 0:
        return units
    named = (mentions.filter(pl.col("initials_token").is_not_null())
             .join(units.select("node", "ucase", "rep"), on=["node", "ucase"])
             .select("rep", "ucase", "initials_token").unique())
    named = named.filter(pl.len().over("ucase", "initials_token") == 1)
    ini = units.filter(pl.col("kind") == "initials").select(
        "ucase", pl.col("token").alias("initials_token"), pl.col("sexes").alias("_sexes"),
        pl.col("born_lo").alias("_lo"), pl.col("born_hi").alias("_hi"))
    add = (named.join(ini, on=["ucase", "initials_token"])
           .group_by("rep").agg(pl.col("_sexes").list.explode(keep_nulls=False, empty_as_null=False).unique(),
                                pl.col("_lo").max(), pl.col("_hi").min()))
    if add.height == 0:
        return units
    # what the initials add only where it agrees with the named unit's own evidence: a sex or
    # window they contradict says the initials were another complainant's, not "unknown"
    lo, hi = pl.max_horizontal("born_lo", "_lo"), pl.min_horizontal("born_hi", "_hi")
    fits = (lo <= hi - TORN_WINDOW).fill_null(False)
    sexes = pl.concat_list("sexes", pl.col("_sexes").fill_null(pl.lit([], pl.List(pl.Utf8)))).list.unique()
    return (units.join(add, on="rep", how="left")
            .with_columns(pl.when(fits).then(lo).otherwise(pl.col("born_lo")).alias("born_lo"),
                          pl.when(fits).then(hi).otherwise(pl.col("born_hi")).alias("born_hi"),
                          pl.when(sexes.list.len() <= 1).then(sexes).otherwise(pl.col("sexes")).alias("sexes"))
            .drop("_sexes", "_lo", "_hi"))


# the evidence columns `mention_evidence` adds (all optional: missing means unknown)
EVIDENCE_COLUMNS = {"place": pl.Utf8, "sex": pl.Utf8, "born_lo": pl.Float64, "born_hi": pl.Float64,
                    "dperson": pl.Int64}
COURT_COLUMNS = {"court_lat": pl.Float64, "court_lon": pl.Float64}    # optional: cross-court candidates
CROSS_CASE_RULES = {
    "episode": "across cases, one name (or a close spelling) in one scope and victim context joins only "
               "with list evidence of one person (episode_score >= EPISODE_MIN: a defendant charged in "
               "both cases, one place of offence, ages that agree, a rare name, both cases naming "
               "several complainants of sexual offences; one name at two courts at most CROSS_COURT_KM "
               "apart, between two such cases, needs one point more), never against a different sex "
               "or an incompatible age (the case's own, or given with the initials of that name)",
    "name": "one name (or a close spelling) in one scope and victim context is one person in every case "
            "(the rule before episode evidence; for comparison)",
}
RARE_NAME_CASES = 3    # a name carried by at most this many cases in the whole archive is rare
COMMON_NAME_CASES = 8  # ... by more than this many, common
AGE_SLACK = 0.5        # years two birth windows may miss each other before they conflict
TORN_WINDOW = 0.1      # a case's own descriptors narrowing its birth window below this (years): untrusted
# evidence that two cases naming one complainant name concern one person (`episode_score`)
EPISODE_WEIGHTS = {
    "same_defendant": 5,    # a defendant person charged in both cases
    "same_place": 2,        # one place of offence ("at Rochdale") on both sides
    "different_place": -1,  # places on both sides, none in common (one victim of a network: nearby towns)
    "ages_agree": 1,        # both descriptors give an age and the birth windows overlap
    "rare_name": 1,         # the name is in at most RARE_NAME_CASES cases of the archive
    "common_name": -2,      # ... in more than COMMON_NAME_CASES
    "group_cases": 1,       # both cases name GROUP_CASE_NAMES complainants or more (GROUP_CONTEXTS), by
                            # name or initials
    "other_court": -1,      # the two cases were heard at two courts (CROSS_COURT_KM apart at most)
}
# A case naming several complainants of sexual offences is the lists' trace of group exploitation
# (Rochdale, Rotherham, Telford: the same girls abused by one group after another, prosecuted as
# several multi-complainant cases).  Such victims recur across cases far more often than a
# namesake of theirs sits in another such case, which is rare.  On the 25k corpus every same-court
# pair with both cases naming 3+ complainants and nothing against it was one victim (four pairs,
# towns apart: "rochdale" / "rawtenstall"), while the namesake pairs the score rejected had a
# one- or two-complainant case on one side; at 1M entries 29 of the 34 same-court pairs between
# two such cases were one victim, and the term lifted two pairs over EPISODE_MIN, one of them a
# namesake (bench/RESULTS.md, session 9).
GROUP_CASE_NAMES = 3
GROUP_CONTEXTS = ("sexual",)
# A network's victims can be named at two nearby courts -- a magistrates' court per borough
# (Manchester, Tameside), or across a force boundary (Rochdale and Rawtenstall): grooming networks
# that cross police force areas are one of the patterns this archive exists to show.  So with
# ``token_scope="court"`` one full name in one context at two courts at most `CROSS_COURT_KM`
# apart (the same police force area when a court's coordinates are unknown) is a cross-case
# candidate too -- only between two group cases (`GROUP_CASE_NAMES` in `GROUP_CONTEXTS` on both
# sides), scored with `other_court`.  What the lists show (`bench/complainants.py
# --cross-court`, 1M generated entries): of 8,777 cross-court pairs sharing a name and context, 53
# were one victim; between two group cases with the courts within 60 km (the candidates), 75
# pairs and 38 (51 %); of those the score (with `other_court`) accepts, 44 and 32 (73 %); beyond 60 km,
# 153 group pairs and none; outside group cases, 8,549 pairs and 15 (0.2 %).  On the 25k corpora
# (seeds 1-5) the rule adds 5 links, all true.  `other_court` is one difference of place: it
# does not count again when both wordings give places that differ (`different_place`).
CROSS_COURT_KM = 60.0
EPISODE_MIN = 1
EPISODE_LINK = 0.95    # the "probability" recorded for a cross-case link on episode evidence


def kept_links(mentions: pl.DataFrame, old: pl.DataFrame) -> pl.DataFrame:
    """What a run keeps of the previous one (``kept`` of `link_complainants`): the assignments
    (``old``: mention_id, person_id, probability) of every linkable mention of each previous
    person that has a linkable mention whose evidence expired (``mentions``: complainant_id,
    token, ``expired``).  Linkable: with a token -- an erased mention has none, and is kept in
    nothing."""
    now = mentions.filter(pl.col("token").is_not_null()).select(
        pl.col("complainant_id").alias("mention_id"), pl.col("expired").fill_null(False))
    return (old.join(now, on="mention_id").filter(pl.col("expired").any().over("person_id"))
            .select("mention_id", "person_id", "probability").sort("mention_id"))


def link_complainants(mentions: pa.Table, *, threshold: float = BLOOM_DICE, scheme: str = "block",
                      area_threshold: float = BLOOM_DICE_AREA, chain_floor: float = CHAIN_FLOOR,
                      token_scope: str = "court", victim_context: bool = True,
                      cross_case: str = "episode", kept: pl.DataFrame | None = None) -> tuple[pl.DataFrame, dict]:
    """Cluster complainant mentions.  Returns (mention_id, label, probability) for the linkable
    mentions and a report {mentions, linkable, unlinkable, unlinkable_by_kind, tokens, units,
    bloom_links, cross_case_candidates, cross_case_links, ...}.  ``kept`` (mention_id,
    person_id, probability; `kept_links`): mentions of one previous person stay together, with
    at least their previous probability."""
    if cross_case not in CROSS_CASE_RULES:
        raise ValueError(f"unknown cross-case rule {cross_case!r}: {' | '.join(CROSS_CASE_RULES)}")
    df = pl.from_arrow(mentions)
    if "area" not in df.columns:
        df = df.with_columns(pl.lit(None, pl.Utf8).alias("area"))
    df = df.with_columns(pl.coalesce("area", pl.format("court:{}", pl.col("court_id"))).alias("area"))
    df = df.with_columns([pl.col(c).cast(t) if c in df.columns else pl.lit(None, t).alias(c)
                          for c, t in {**EVIDENCE_COLUMNS, **COURT_COLUMNS}.items()])
    linkable = df.filter(pl.col("token").is_not_null())
    report = {"mentions": df.height, "linkable": linkable.height,
              "unlinkable": df.height - linkable.height,
              "unlinkable_by_kind": {k or "unknown": n for k, n in
                                     df.filter(pl.col("token").is_null()).group_by("kind").len().iter_rows()}}
    empty = pl.DataFrame(schema={"mention_id": pl.Int64, "label": pl.Int64, "probability": pl.Float64})
    if linkable.height == 0:
        report.update(tokens=0, units=0, bloom_links=0, chain_splits=0)
        return empty, report
    if token_scope == "court":
        scope = pl.coalesce(pl.col("court_id").cast(pl.Utf8), pl.col("area"))
    elif token_scope == "area":
        scope = pl.col("area")
    elif token_scope == "national":
        scope = pl.lit("")
    else:
        raise ValueError(f"unknown token scope {token_scope!r}: court | area | national")
    use_ctx = victim_context and "context" in linkable.columns
    full = pl.col("kind").is_in(_BLOOM_KINDS)
    linkable = linkable.with_columns(scope.alias("scope"),
                                     (pl.col("context") if use_ctx else pl.lit(None, pl.Utf8)).alias("ctx"),
                                     pl.coalesce("case_id", -pl.col("complainant_id")).alias("ucase"))
    # a *name node*: one full name in one scope and context (initials: their case-scoped token);
    # a *unit*: a name node in one case -- the smallest mention id represents each
    node = pl.when(full).then(pl.format("{}|{}|{}", "token", "scope", pl.col("ctx").fill_null(""))) \
        .otherwise(pl.col("token"))
    linkable = linkable.with_columns(node.alias("node"))
    units = case_evidence(linkable.group_by("node", "ucase").agg(
        pl.col("complainant_id").min().alias("rep"), pl.col("token").first(), pl.col("kind").first(),
        pl.col("key_id").first(), pl.col("bloom").first(), pl.col("scope").first(), pl.col("ctx").first(),
        pl.col("area").first(), pl.col("court_lat").first(), pl.col("court_lon").first(),
        *EVIDENCE_AGGS)).sort("rep")
    tok = (units.group_by("node").agg(pl.col("rep").min().alias("nrep"), pl.col("token").first(),
                                      pl.col("kind").first(), pl.col("key_id").first(), pl.col("bloom").first(),
                                      pl.col("scope").first(), pl.col("ctx").first(),
                                      pl.col("ucase").unique().alias("cases"))
           .sort("nrep"))
    units = units.join(tok.select("node", "nrep"), on="node")
    # how many cases carry each full name, archive-wide: the rarer, the more a shared name says
    ncases = units.filter(full).group_by("token").agg(
        pl.col("ucase").n_unique().alias("name_cases"))
    units = units.join(ncases, on="token", how="left")
    # how many complainants each case names (in full or by initials), per victim context
    # (`GROUP_CASE_NAMES`; a complainant given both ways counts twice: an upper bound)
    cnames = units.group_by("ucase", "ctx").agg(pl.col("node").n_unique().alias("case_names"))
    units = units.join(cnames, on=["ucase", "ctx"], how="left")
    report["tokens"], report["units"] = tok.height, units.height
    ul = units.select("nrep", "ucase", "rep", "scope", "ctx", "token")
    edges: list[pl.DataFrame] = []        # rep_l, rep_r, p
    cand: list[pl.DataFrame] = []         # cross-case candidates: rep_l, rep_r, p
    # spelling variants (Bloom) between name nodes, then between their units
    cand_nodes = tok.filter(full & pl.col("bloom").is_not_null())
    n_bloom = 0
    for (_kid,), part in cand_nodes.group_by(["key_id"]):
        nreps = part["nrep"].to_numpy()
        blooms = part["bloom"].to_list()
        if scheme == "lsh":
            i, j, d = bloom_pairs(blooms, area_threshold)
        elif scheme == "block":
            ix = part.with_row_index("ix")
            by_case = ix.explode("cases").group_by("cases").agg(pl.col("ix"))["ix"].to_list()
            # across cases, spelling variants are compared within one scope and one victim context
            by_scope = ix.group_by("scope", "ctx").agg(pl.col("ix"))["ix"].to_list()
            parts = [block_pairs(blooms, by_case, threshold), block_pairs(blooms, by_scope, area_threshold)]
            i, j, d = (np.concatenate(x) for x in zip(*parts))
        else:
            raise ValueError(f"unknown blocking scheme {scheme!r}: block | lsh")
        # equal tokens are joined by scope (below), never by their (identical) Bloom filters
        toks = part["token"].to_numpy()
        keep = toks[i] != toks[j] if len(i) else np.array([], bool)
        if not keep.any():
            continue
        np_ = pl.DataFrame({"nl": nreps[i[keep]], "nr": nreps[j[keep]], "p": d[keep]})
        up = (np_.join(ul, left_on="nl", right_on="nrep")
              .join(ul, left_on="nr", right_on="nrep", suffix="_r"))
        same = up.filter(pl.col("ucase") == pl.col("ucase_r"))
        n_bloom += same.height
        edges.append(same.select(pl.col("rep").alias("rep_l"), pl.col("rep_r"), "p"))
        other = up.filter((pl.col("ucase") != pl.col("ucase_r")) & (pl.col("p") >= area_threshold))
        if scheme == "block":
            other = other.filter((pl.col("scope") == pl.col("scope_r")) & pl.col("ctx").eq_missing(pl.col("ctx_r")))
        cand.append(other.select(pl.col("rep").alias("rep_l"), pl.col("rep_r"), "p", pl.lit("bloom").alias("how")))
    # one full name in one case heard in two courts (or areas), or in two contexts: its units join
    xa = (units.select("token", "ucase", "rep").with_columns(pl.col("rep").min().over("token", "ucase").alias("r0"))
          .filter(pl.col("rep") != pl.col("r0")))
    edges.append(xa.select(pl.col("r0").alias("rep_l"), pl.col("rep").alias("rep_r"), pl.lit(1.0).alias("p")))
    # one full name in one scope and context, in other cases
    fu = units.filter(full).select("node", "ucase", "rep", "token", "scope", "ctx")
    same_name = (fu.join(fu, on="node", suffix="_r").filter(pl.col("ucase") < pl.col("ucase_r"))
                 .select(pl.col("rep").alias("rep_l"), "rep_r", pl.lit(1.0).alias("p"), pl.lit("name").alias("how")))
    cand.append(same_name)
    # one full name in one context at two nearby courts, between two group cases (`CROSS_COURT_KM`,
    # `other_court`): on episode evidence only -- the name rule would join every namesake around
    if token_scope == "court" and cross_case == "episode":
        fa = (units.filter(full & pl.col("ctx").is_in(GROUP_CONTEXTS) & (pl.col("case_names") >= GROUP_CASE_NAMES))
              .select("ucase", "rep", "token", "scope", "ctx", "area", "court_lat", "court_lon"))
        oc = (fa.join(fa, on=["token", "ctx"], suffix="_r")
              .filter((pl.col("scope") != pl.col("scope_r")) & (pl.col("ucase") != pl.col("ucase_r"))
                      & (pl.col("rep") < pl.col("rep_r"))))
        km = _km("court_lat", "court_lon", "court_lat_r", "court_lon_r")
        near = pl.when(km.is_not_null()).then(km <= CROSS_COURT_KM).otherwise(
            (pl.col("area") == pl.col("area_r")) & ~pl.col("area").str.starts_with("court:"))
        oc = oc.filter(near.fill_null(False))
        cand.append(oc.select(pl.col("rep").alias("rep_l"), "rep_r", pl.lit(1.0).alias("p"),
                              pl.lit("court").alias("how")))
    # a name of unknown context in other cases: to every known context of it (one, by the cannot-links)
    bridge_cannot: list[tuple[int, int]] = []
    if use_ctx:
        unk, kn = fu.filter(pl.col("ctx").is_null()), fu.filter(pl.col("ctx").is_not_null())
        br = (unk.join(kn, on=["token", "scope"], suffix="_r").filter(pl.col("ucase") != pl.col("ucase_r"))
              .select(pl.col("rep").alias("rep_l"), "rep_r", pl.lit(CONTEXT_BRIDGE).alias("p"),
                      pl.lit("bridge").alias("how")))
        cand.append(br)
        # known contexts of a name that an unknown mention could bridge: never together, unless
        # one case names it in both
        kk = kn.join(unk.select("token", "scope").unique(), on=["token", "scope"])
        kk = kk.join(kk.group_by("node").agg(pl.col("ucase").alias("ncases")), on="node")
        cc = (kk.join(kk, on=["token", "scope"], suffix="_r")
              .filter((pl.col("rep") < pl.col("rep_r")) & (pl.col("ctx") != pl.col("ctx_r"))
                      & (pl.col("ncases").list.set_intersection(pl.col("ncases_r")).list.len() == 0)))
        bridge_cannot = list(zip(cc["rep"].to_list(), cc["rep_r"].to_list()))
        report["context_bridges"], report["context_splits"] = br.height, len(bridge_cannot)
    cross = pl.concat(cand)
    report["cross_case_candidates"] = cross.height
    if cross_case == "episode":
        cross = _episode(cross, units, against=initials_evidence(units, linkable) if cross.height else None)
    report["cross_case_links"] = cross.height
    report["cross_court_links"] = int((cross["how"] == "court").sum())
    report["bloom_links"] = n_bloom + int((cross["how"] == "bloom").sum())
    edges.append(cross.select("rep_l", "rep_r", "p"))
    # the same charge at other hearings (initials <-> name)
    if "charge" in linkable.columns:
        ch = (linkable.filter(pl.col("charge").is_not_null())
              .join(units.select("node", "ucase", "rep", pl.col("kind").alias("tkind")), on=["node", "ucase"])
              .select("charge", "rep", "tkind").unique())
        first = ch.group_by("charge").agg(pl.col("rep").min().alias("r0"))
        ce = (ch.join(first, on="charge").join(ch.select(pl.col("rep").alias("r0"), pl.col("tkind").alias("k0")).unique(),
                                                 on="r0")
              .filter((pl.col("rep") != pl.col("r0")) & ((pl.col("tkind") == "initials") | (pl.col("k0") == "initials")))
              .select("rep", "r0").unique())
        edges.append(ce.select(pl.col("r0").alias("rep_l"), pl.col("rep").alias("rep_r"), pl.lit(CHARGE_LINK).alias("p")))
        report["charge_links"] = ce.height
    if "initials_token" in linkable.columns:
        it = (linkable.filter(pl.col("initials_token").is_not_null())
              .join(units.select("node", "ucase", "rep"), on=["node", "ucase"]).select("initials_token", "rep").unique()
              .join(units.filter(pl.col("kind") == "initials").select(pl.col("token").alias("initials_token"),
                                                                       pl.col("rep").alias("irep")),
                    on="initials_token"))
        edges.append(it.select(pl.col("rep").alias("rep_l"), pl.col("irep").alias("rep_r"),
                               pl.lit(CHARGE_LINK).alias("p")))
        report["initials_links"] = it.height
    e = pl.concat([x.select(pl.col("rep_l").cast(pl.Int64), pl.col("rep_r").cast(pl.Int64),
                            pl.col("p").cast(pl.Float64)) for x in edges])
    a, b, p = e["rep_l"].to_numpy(), e["rep_r"].to_numpy(), e["p"].to_numpy()
    pairs = pa.table({"unique_id_l": pa.array(a, pa.int64()), "unique_id_r": pa.array(b, pa.int64()),
                      "match_probability": pa.array(p, pa.float64())})
    # cannot-links between dissimilar tokens that Bloom links would chain together
    fb = units.filter(full & pl.col("bloom").is_not_null())
    blooms_by_rep = dict(zip(fb["rep"].to_list(), fb["bloom"].to_list()))
    cannot = _chain_constraints(a, b, blooms_by_rep, chain_floor) + bridge_cannot
    report["chain_constraints"] = len(cannot)
    groups = group_prob = None
    if kept is not None and kept.height:
        # a unit's mentions are one: the unit joins its mentions' previous persons
        k = (kept.join(linkable.select(pl.col("complainant_id").alias("mention_id"), "node", "ucase"), on="mention_id")
             .join(units.select("node", "ucase", "rep"), on=["node", "ucase"]))
        groups = k.select(pl.col("rep").alias("m"), pl.col("person_id").alias("g")).unique()
        group_prob = k.group_by("rep").agg(pl.col("probability").max().alias("gp")).rename({"rep": "mention_id"})
        report["kept_from_previous_run"] = k.height
    tlab = cluster(units["rep"], pairs, threshold=min(threshold, area_threshold), cannot=cannot, groups=groups,
                   group_probability=group_prob)
    lk = (linkable.join(units.select("node", "ucase", "rep"), on=["node", "ucase"], how="left")
          .join(tlab.rename({"mention_id": "rep"}), on="rep", how="left"))
    lk = lk.with_columns(pl.col("complainant_id").min().over("label").alias("label"))
    multi = pl.col("complainant_id").count().over("label") > 1
    lk = lk.with_columns(pl.when(pl.col("probability").is_null() & multi).then(1.0)
                         .otherwise(pl.col("probability")).alias("probability"))
    return (lk.select(pl.col("complainant_id").alias("mention_id"), "label", "probability")
            .sort("mention_id"), report)


def _km(lat1: str, lon1: str, lat2: str, lon2: str) -> pl.Expr:
    """Great-circle distance in km between two coordinate columns (null when one is unknown)."""
    a1, o1, a2, o2 = (pl.col(c).radians() for c in (lat1, lon1, lat2, lon2))
    h = ((a2 - a1) / 2).sin().pow(2) + a1.cos() * a2.cos() * ((o2 - o1) / 2).sin().pow(2)
    return 2 * 6371.0 * h.sqrt().arcsin()


def episode_score(c: pl.DataFrame) -> pl.DataFrame:
    """Score pairs of units (cases) that share a name: ``c`` has each side's evidence (places,
    sexes, born_lo, born_hi, dpersons, name_cases, case_names (names and initials of complainants
    the case gives in that context), ctx, optionally ``other_court`` (bool: the cases were heard at
    two courts); the right side suffixed ``_r``).  Adds
    ``conflict`` (two sexes, or birth windows that cannot both hold) and ``score``, the sum of the
    `EPISODE_WEIGHTS` that apply."""
    w = EPISODE_WEIGHTS
    both = lambda x: (pl.col(x).list.len() > 0) & (pl.col(x + "_r").list.len() > 0)  # noqa: E731
    meet = lambda x: pl.col(x).list.set_intersection(pl.col(x + "_r")).list.len() > 0  # noqa: E731
    ages = pl.col("born_lo").is_not_null() & pl.col("born_lo_r").is_not_null()
    gap = pl.max_horizontal("born_lo", "born_lo_r") - pl.min_horizontal("born_hi", "born_hi_r")
    # the slack keeps a descriptor's rounding ("aged 13" on a date a few days off) from making a
    # conflict; it is no evidence for a link: ages agree only when the windows truly overlap
    apart, overlap = gap > AGE_SLACK, gap <= 0
    cases = pl.max_horizontal(pl.col("name_cases").fill_null(0), pl.col("name_cases_r").fill_null(0))
    group = ((pl.min_horizontal(pl.col("case_names").fill_null(0), pl.col("case_names_r").fill_null(0))
              >= GROUP_CASE_NAMES)
             & pl.col("ctx").is_in(GROUP_CONTEXTS).fill_null(False)
             & pl.col("ctx_r").is_in(GROUP_CONTEXTS).fill_null(False))
    score = (pl.when(meet("dpersons")).then(w["same_defendant"]).otherwise(0)
             + pl.when(group).then(w["group_cases"]).otherwise(0)
             + pl.when(meet("places")).then(w["same_place"])
             .when(both("places")).then(w["different_place"]).otherwise(0)
             + pl.when(ages & overlap).then(w["ages_agree"]).otherwise(0)
             + pl.when(cases <= RARE_NAME_CASES).then(w["rare_name"])
             .when(cases > COMMON_NAME_CASES).then(w["common_name"]).otherwise(0))
    if "other_court" in c.columns:
        # two courts are a difference of place: it counts when the wordings do not give the
        # places on both sides (if they do, `same_place` / `different_place` already say it)
        score = score + (pl.when(pl.col("other_court").fill_null(False) & ~both("places"))
                         .then(w["other_court"]).otherwise(0))
    conflict = (both("sexes") & ~meet("sexes")) | (ages & apart)
    return c.with_columns(conflict.alias("conflict"), score.alias("score"))


def _episode(cross: pl.DataFrame, units: pl.DataFrame, against: pl.DataFrame | None = None) -> pl.DataFrame:
    """The cross-case candidate pairs (rep_l, rep_r, p) the lists give evidence for (``episode``
    in `CROSS_CASE_RULES`): `episode_score` at least `EPISODE_MIN` and no conflict.  ``against``:
    the units with more evidence (`initials_evidence`) that may only speak against a pair -- a
    conflict it shows rejects the pair; it adds nothing to a score."""
    if cross.height == 0:
        return cross
    cols = ("rep", "places", "sexes", "born_lo", "born_hi", "dpersons", "name_cases", "case_names", "ctx")
    # a pair found twice (equal tokens and a spelling variant, or a context bridge) keeps its
    # strongest link, whichever way it was found
    c = (cross.sort("p", descending=True).unique(["rep_l", "rep_r"], keep="first", maintain_order=True)
         .with_columns((pl.col("how") == "court").alias("other_court")))

    def scored(pairs: pl.DataFrame, u: pl.DataFrame) -> pl.DataFrame:
        ev = u.select(cols)
        return episode_score(pairs.join(ev, left_on="rep_l", right_on="rep")
                             .join(ev, left_on="rep_r", right_on="rep", suffix="_r"))

    keep = scored(c, units).filter((pl.col("score") >= EPISODE_MIN) & ~pl.col("conflict"))
    if against is not None and keep.height:      # (only the pairs the score keeps can be rejected)
        keep = keep.join(scored(keep.select(c.columns), against).filter(pl.col("conflict")).select("rep_l", "rep_r"),
                         on=["rep_l", "rep_r"], how="anti")
    return keep.select("rep_l", "rep_r", pl.min_horizontal("p", pl.lit(EPISODE_LINK)).alias("p"), "how")


def _chain_constraints(a: np.ndarray, b: np.ndarray, blooms: dict[int, bytes], floor: float) -> list[tuple[int, int]]:
    """Pairs of full-name tokens in one linked component whose own Dice is below ``floor``."""
    if len(a) < 2:
        return []
    from ..config import igraph

    ig = igraph()

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
