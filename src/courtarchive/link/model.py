"""The defendant linkage model (Splink 5, Fellegi-Sunter): comparisons, blocking, training, scoring.

Columns compared are those of `standardise` (see there).  One settings object serves both engines
(`engine="duckdb"`, the default, or `engine="spark"`): every level is built from Splink's level
library or from plain SQL that DuckDB and Spark SQL both accept.

Comparisons (levels in order; the first level that holds decides)
    forename   null | exact (term-frequency adjusted) | equal through the variant table
               (Bob = Robert, Mohd = Mohammed) | swapped with the surname (both ways; a typo, variant or
               double-barrelled split allowed: `SwappedNamesLevel`) | Jaro-Winkler >= 0.92 |
               one edit apart (a typo) | Jaro-Winkler >= 0.80 | one side an initial that agrees | else
    surname    null | exact (tf) | equal through the variant table | swapped with the forename |
               Jaro-Winkler >= 0.92 | one edit apart | Jaro-Winkler >= 0.80 | one contains the other
               (double-barrelled) | else
    middle     null (either side has none: a missing middle name is no evidence) | exact |
               Jaro-Winkler >= 0.88 | else
    dob        null (neither DOB nor age on one side) | exact | day/month swapped |
               one character apart (Damerau-Levenshtein <= 1) | two apart | DOB on one side only, birth-year
               ranges from the age at the hearing overlap | both DOBs known, same year |
               birth years within 1 | else
    address    null | same postcode | postcode one character apart | same outward code | same town |
               town Jaro-Winkler >= 0.92 | same postcode area (SJP public lists give only that) | else
    asn, pnc   null | exact | one character apart (a typo) | else
    case       null | same case and the names agree (forename: canonical equal, Jaro-Winkler >=
               0.80, one edit apart or an initial that agrees -- the SJP public list's "R CARTWRIGHT"
               for the press list's "Ryan CARTWRIGHT"; surname: canonical equal, Jaro-Winkler >= 0.88
               or one edit apart; or the two swapped) | else.  Lists of one case repeat its defendants
               at every hearing, public lists with names only: the case carries the DOB-less
               mentions to the mentions that have one.  Same case with disagreeing names is
               *not* a level of its own: those pairs are mostly co-defendants (family members
               share surname and address), and a separate level had a tiny, unstable u that
               turned "co-defendant" into strong evidence of "same person".
Blocking (a pair is scored when any rule holds; designed for 1M mentions in minutes, see
`BLOCKING_RULES` and bench/linkage.py): same DOB + surname Soundex; same DOB + canonical forename;
canonical forename + surname with overlapping (or unknown) birth years; forename/surname swapped;
same postcode + surname Soundex; same DOB + town; same ASN; same PNC id; same case; same surname,
initial and postcode area when one forename is only an initial (SJP public lists); forename and surname Soundex
with birth years within a year.
Training: on mentions carrying ids derived from their content (`content_ids`), so that the same
lists give the same parameters whatever order they were ingested in; u by random sampling (fixed
seed; a level never seen among the sampled pairs gets u = 1/pairs sampled), m by EM on two blocking rules (same DOB; same canonical forename +
surname), m floored at `M_FLOOR` (a level never seen among the training matches -- "middle names
similar", "PNC differs" -- would otherwise weigh -30 or less, and one typo in real data would
then break a link), the prior (probability two random mentions match) from a deterministic rule
with an assumed recall.  An archive with fewer than `MIN_TRAIN` person mentions uses the shipped
`default_model.json` (trained by `build_default_model` on synthetic mentions), its prior rescaled
to the archive's size.
Threshold: `MATCH_THRESHOLD` (documented there).
"""

from __future__ import annotations

import copy
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa

import splink.comparison_level_library as cll
import splink.comparison_library as cl
from splink import Linker, SettingsCreator, block_on
from splink.internals.comparison_level_creator import ComparisonLevelCreator

__all__ = ["MATCH_THRESHOLD", "REVIEW_BAND", "REVIEW_MAX", "BLOCKING_RULES", "MIN_TRAIN", "settings", "Model", "train",
           "train_and_load", "MAX_TRAIN_MENTIONS",
           "load", "db_api", "model_input", "default_model", "build_default_model"]

#: Pairs at or above this match probability are linked (match weight log2(0.9/0.1) = 3.17).
#: Measured: on a generated 10k-case corpus (`link evaluate`) defendant pairwise precision /
#: recall are 0.9989 / 0.9838 at 0.8, 0.9989 / 0.9837 at 0.9 and 1.0000 / 0.9836 at 0.95 (the
#: missed links are mostly SJP public-list mentions -- initial and surname only -- that no
#: threshold reaches); on FEBRL4, where corrupted duplicates sit lower, 0.9 keeps F1 >= 0.996.
#: Chained false merges are cut by the DOB-conflict constraint (`cluster.dob_conflicts`), not by
#: the threshold.
MATCH_THRESHOLD = 0.9
#: Pairs with match probability in [low, high) are listed for review: those at or above the
#: threshold (linked, perhaps wrongly) and those below it whose mentions ended in different
#: persons (perhaps a missed link); a pair below the threshold whose mentions are linked anyway
#: through stronger pairs needs no reviewer.  The band brackets the threshold.
REVIEW_BAND = (0.5, 0.95)
#: at most this many pairs join the review queue per run, the most uncertain first (match
#: probability nearest 0.5, the order `store.linkage.review_queue` shows them in): a 10M-entry
#: archive put 9.6M pairs in the band -- more than anyone can review, and 9.6M Python rows to write
REVIEW_MAX = 100_000

_BY_OVERLAP = "l.by_lo <= r.by_hi + {k} AND r.by_lo <= l.by_hi + {k}"          # blocking (l./r.)
_BY_OVERLAP_LV = "by_lo_l <= by_hi_r + {k} AND by_lo_r <= by_hi_l + {k}"         # levels (_l/_r)

#: blocking rules for prediction (SQL over l./r. standardised columns)
BLOCKING_RULES: list = [
    block_on("dob", "sn_sdx"),
    block_on("dob", "fn_c"),
    "l.fn_c = r.fn_c AND l.sn = r.sn AND (l.by_lo IS NULL OR r.by_lo IS NULL OR " + _BY_OVERLAP.format(k=0) + ")",
    "l.fn_c = r.sn_c AND l.sn_c = r.fn_c",
    block_on("pc", "sn_sdx"),
    block_on("dob", "town"),
    block_on("asn"),
    block_on("pnc"),
    block_on("case_id"),
    # an initial (SJP public lists: initial, surname, postcode area) is compared within its
    # postcode area: without it the rule grew with the square of the archive (2.2M pairs at 1M
    # mentions, 50x more than with it) and none of its pairs reached the threshold at 25k cases
    "l.sn = r.sn AND l.fi = r.fi AND (length(l.fn) = 1 OR length(r.fn) = 1) AND l.pc_area = r.pc_area",
    "l.fn_sdx = r.fn_sdx AND l.sn_sdx = r.sn_sdx AND " + _BY_OVERLAP.format(k=1),
]


class SwappedNamesLevel(ComparisonLevelCreator):
    """Forename and surname swapped between the two mentions, allowing a typo or a variant on
    either side and double-barrelled names split differently: ("Terence", "PATTON") ~ ("Patton",
    "TERNCE"); ("Leon", "TUCKER-GILBERT") ~ ("Tucker-Gilbert", "LEON").  Both directions must hold.
    SQL per dialect (the Jaro-Winkler function is the dialect's, as in Splink's own levels)."""

    def __init__(self, threshold: float = 0.9):
        self.threshold = threshold

    def create_sql(self, sql_dialect) -> str:
        jw, t = sql_dialect.jaro_winkler_function_name, self.threshold
        dl = sql_dialect.damerau_levenshtein_function_name
        a = f"(fn_c_l = sn_c_r OR fn1_l = sn_r OR {jw}(fn_l, sn_r) >= {t} OR {dl}(fn_l, sn_r) <= 1)"
        b = f"(sn_c_l = fn_c_r OR sn_l = fn1_r OR {jw}(sn_l, fn_r) >= {t} OR {dl}(sn_l, fn_r) <= 1)"
        # a real swap has different forenames on the two sides ("John JOHNSON" vs "John JOHNSTON"
        # is not a swap, though "johnson" is close to "john")
        return f"({a} AND {b} AND fn_c_l <> fn_c_r)"

    def create_label_for_charts(self) -> str:
        return "forename/surname swapped"


class OneEditLevel(ComparisonLevelCreator):
    """``col`` one edit apart (Damerau-Levenshtein <= 1), lengths tested first: most pairs reach
    this level (different people), and the length test spares them the edit distance (1M
    mentions: `link run --full` 117-120 s with Splink's plain level, 103-112 s so -- as without the
    level, 109-110 s; bench/RESULTS.md session 9).
    SQL per dialect, as `SwappedNamesLevel`."""

    def __init__(self, col: str):
        self.col = col

    def create_sql(self, sql_dialect) -> str:
        dl, c = sql_dialect.damerau_levenshtein_function_name, self.col
        return f"(abs(length({c}_l) - length({c}_r)) <= 1 AND {dl}({c}_l, {c}_r) <= 1)"

    def create_label_for_charts(self) -> str:
        return f"{self.col} one edit apart"


def _name_comparison(col: str, canon: str, other_canon: str, label: str, extra: list) -> cl.CustomComparison:
    return cl.CustomComparison(
        output_column_name=label,
        comparison_description=f"{label}: exact, variant table, swapped, Jaro-Winkler",
        comparison_levels=[
            cll.NullLevel(col),
            cll.ExactMatchLevel(col, term_frequency_adjustments=True),
            cll.ExactMatchLevel(canon).configure(label_for_charts=f"{canon} equal (variant table)"),
            SwappedNamesLevel(),
            cll.JaroWinklerLevel(col, 0.92),
            # one edit (a typo: "WATTS"/"WAYTS", "Som"/"Smo") before the looser Jaro-Winkler level:
            # a single typo is far stronger evidence than Jaro-Winkler >= 0.8, whose weight (mostly
            # different people with similar names) is negative and sank same-case typo pairs
            cll.DamerauLevenshteinLevel(col, 1),
            # a typo in one list's full form beside the other's short form: "Bunjamin" / "Ben"
            # (canonical forms "bunjamin" / "benjamin", one edit apart)
            OneEditLevel(canon),
            cll.JaroWinklerLevel(col, 0.80),
            *extra,
            cll.ElseLevel(),
        ],
    )


_INITIAL_AGREES = cll.CustomLevel(
    "(length(fn_l) = 1 OR length(fn_r) = 1) AND substr(fn_l, 1, 1) = substr(fn_r, 1, 1)", "initial agrees")


def comparisons() -> list:
    forename = _name_comparison("fn", "fn_c", "sn_c", "forename", [_INITIAL_AGREES])
    surname = _name_comparison("sn", "sn_c", "fn_c", "surname", [
        cll.CustomLevel("length(sn_l) >= 4 AND length(sn_r) >= 4 AND "
                        "(sn_l LIKE concat('%', sn_r, '%') OR sn_r LIKE concat('%', sn_l, '%'))",
                        "one surname contains the other"),
    ])
    middle = cl.CustomComparison(
        output_column_name="middle", comparison_description="middle names",
        comparison_levels=[cll.NullLevel("mn"), cll.ExactMatchLevel("mn"), cll.JaroWinklerLevel("mn", 0.88),
                           cll.ElseLevel()])
    dob = cl.CustomComparison(
        output_column_name="dob", comparison_description="date of birth / age at hearing",
        comparison_levels=[
            cll.CustomLevel("by_lo_l IS NULL OR by_lo_r IS NULL", "no DOB or age").configure(is_null_level=True),
            cll.ExactMatchLevel("dob"),
            cll.CustomLevel("dob_l = dob_sw_r", "day/month swapped"),
            cll.DamerauLevenshteinLevel("dob", 1),
            cll.DamerauLevenshteinLevel("dob", 2),
            cll.CustomLevel("(dob_l IS NULL OR dob_r IS NULL) AND " + _BY_OVERLAP_LV.format(k=0),
                            "age consistent (DOB on one side only)"),
            cll.CustomLevel("by_lo_l = by_lo_r", "same birth year"),
            cll.CustomLevel(_BY_OVERLAP_LV.format(k=1), "birth years within 1"),
            cll.ElseLevel(),
        ])
    address = cl.CustomComparison(
        output_column_name="address", comparison_description="postcode / outward code / town",
        comparison_levels=[
            cll.CustomLevel("(pc_area_l IS NULL AND town_l IS NULL) OR (pc_area_r IS NULL AND town_r IS NULL)",
                            "no address").configure(is_null_level=True),
            cll.ExactMatchLevel("pc"),
            cll.DamerauLevenshteinLevel("pc", 1),
            cll.ExactMatchLevel("pc_out"),
            cll.ExactMatchLevel("town"),
            cll.JaroWinklerLevel("town", 0.92),
            cll.ExactMatchLevel("pc_area"),
            cll.ElseLevel(),
        ])
    asn = cl.CustomComparison(output_column_name="asn", comparison_description="Arrest Summons Number",
                              comparison_levels=[cll.NullLevel("asn"), cll.ExactMatchLevel("asn"),
                                                 cll.DamerauLevenshteinLevel("asn", 1), cll.ElseLevel()])
    pnc = cl.CustomComparison(output_column_name="pnc", comparison_description="PNC id",
                              comparison_levels=[cll.NullLevel("pnc"), cll.ExactMatchLevel("pnc"),
                                                 cll.DamerauLevenshteinLevel("pnc", 1), cll.ElseLevel()])
    # within one case a forename initial agreeing is enough: the SJP public list prints "R CARTWRIGHT"
    # (initial, postcode area, no date of birth) for the "Ryan CARTWRIGHT" of the press list
    names_agree = cll.And(
        cll.Or(cll.ExactMatchLevel("fn_c"), cll.JaroWinklerLevel("fn", 0.80), cll.DamerauLevenshteinLevel("fn", 1),
               SwappedNamesLevel(), _INITIAL_AGREES),
        cll.Or(cll.ExactMatchLevel("sn_c"), cll.JaroWinklerLevel("sn", 0.88), cll.DamerauLevenshteinLevel("sn", 1),
               SwappedNamesLevel()))
    case = cl.CustomComparison(
        output_column_name="case", comparison_description="same prosecution case (URN)",
        comparison_levels=[
            cll.NullLevel("case_id"),
            cll.And(cll.ExactMatchLevel("case_id"), names_agree).configure(
                label_for_charts="same case, names agree"),
            cll.ElseLevel().configure(label_for_charts="different cases, or names disagree"),
        ])
    return [forename, surname, middle, dob, address, asn, pnc, case]


def settings(blocking_rules: list | None = None, link_type: str = "dedupe_only") -> SettingsCreator:
    return SettingsCreator(
        link_type=link_type,
        unique_id_column_name="unique_id",
        comparisons=comparisons(),
        blocking_rules_to_generate_predictions=blocking_rules or BLOCKING_RULES,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
        additional_columns_to_retain=[],
    )


# --------------------------------------------------------------------------- engines
def _spark_session():
    """A Spark session set up as MEASURED.md says works offline (Splink's jar, checkpoints); master
    from $COURTARCHIVE_SPARK_MASTER (a cluster URL such as spark://host:7077), default local[2]."""
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    import tempfile

    from pyspark.sql import SparkSession

    from ..config import spark_conf

    master = os.environ.get("COURTARCHIVE_SPARK_MASTER", "local[2]")
    b = SparkSession.builder.master(master)         # (Splink's jar: in spark_conf)
    for k, v in spark_conf("courtarchive-link").items():
        b = b.config(k, v)
    spark = b.getOrCreate()
    spark.sparkContext.setCheckpointDir(tempfile.mkdtemp(prefix="courtarchive-spark-"))
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def db_api(engine: str = "duckdb", **kw):
    """The Splink database API for an engine name: ``duckdb`` (embedded; ``connection`` may give
    the DuckDB connection) or ``spark``."""
    if engine == "duckdb":
        from splink import DuckDBAPI

        if "connection" not in kw:
            from ..config import duckdb_connect

            kw["connection"] = duckdb_connect()
        kw["connection"].execute("SET enable_progress_bar = false")
        return DuckDBAPI(**kw)
    if engine == "spark":
        from splink import SparkAPI

        return SparkAPI(spark_session=kw.pop("spark_session", None) or _spark_session(), **kw)
    raise ValueError(f"unknown engine {engine!r}: duckdb | spark")


#: the standardised columns Splink reads (`model_input`)
SPLINK_COLUMNS = ("unique_id", "fn", "fn1", "fn_c", "sn", "sn_c", "mn", "fn_sdx", "sn_sdx", "dob", "dob_sw",
                   "by_lo", "by_hi", "pc", "pc_out", "pc_area", "fi", "town", "asn", "pnc", "case_id")


def model_input(std: pa.Table) -> pa.Table:
    """The columns Splink needs, from the standardised table (person mentions only)."""
    return std.select(list(SPLINK_COLUMNS))


#: what a mention's training id is derived from: every field the model compares but the ids
CONTENT_COLUMNS = tuple(c for c in SPLINK_COLUMNS if c not in ("unique_id", "case_id"))


def content_ids(std: pa.Table, seed: int = 42) -> pa.Array:
    """Training ids for ``std``'s mentions (same order), derived from what they say rather than
    from when their lists arrived.

    Splink picks the pairs it samples for u, and any EM sample, by a hash of the unique id.  With
    the archive's ids -- handed out in ingest order -- the same lists ingested in another order
    trained other parameters (3,000-case corpus, halves ingested A-B and B-A: u of rare levels
    up to 7x apart, 669 / 748 / 762 pairs queued for review).  A mention's training id hashes
    its compared fields, its case's content (the sorted hashes of the case's mentions) and its
    rank among mentions equal in both, ranked by their case's first mention: cases with equal
    content then swap whole, which changes no compared pair.  Ids are non-negative, unique and,
    for a mention, unchanged when others are added (a grown archive's sample grows with it).
    Polars' hash is stable within a polars version (the lock pins one)."""
    import polars as pl

    df = pl.from_arrow(std.select(["unique_id", "case_id", *CONTENT_COLUMNS])).with_row_index("_row")
    df = df.with_columns(_h=pl.struct(list(CONTENT_COLUMNS)).hash(seed),
                         _first=pl.col("unique_id").min().over("case_id"))
    cases = df.group_by("case_id").agg(_c=pl.col("_h").sort().implode().hash(seed))
    df = (df.join(cases, on="case_id", how="left", nulls_equal=True)
          .sort("_h", "_c", "_first", "unique_id")
          .with_columns(_i=pl.int_range(pl.len()),
                        _new=(pl.col("_h") != pl.col("_h").shift()) | (pl.col("_c") != pl.col("_c").shift()))
          .with_columns(_n=pl.col("_i") - pl.when(pl.col("_new").fill_null(True)).then(pl.col("_i")).forward_fill())
          .with_columns(_id=(pl.struct("_h", "_c", "_n").hash(seed) // 2).cast(pl.Int64)))
    if df["_id"].n_unique() < df.height:       # a 63-bit collision (~n^2 / 2^64): rank instead
        df = df.sort("_id", "_h", "_c", "_n").with_columns(_id=pl.int_range(pl.len(), dtype=pl.Int64))
    return df.sort("_row")["_id"].to_arrow()


@dataclass
class Model:
    """A trained (or loaded) model over a registered table of standardised mentions."""
    linker: Linker
    db: Any
    engine: str
    sdf: Any
    trained: bool = True
    rows: int = 0
    #: (the ids the model was given, the archive's ids), when they differ (a trained model)
    ids: tuple[pa.Array, pa.Array] | None = None

    def to_json(self) -> dict:
        return copy.deepcopy(self.linker.misc.save_model_to_json())

    def predict(self, threshold: float | None = None) -> pa.Table:
        """Scored pairs (unique_id_l, unique_id_r, match_weight, match_probability) above threshold.
        Above `PREDICT_CHUNK_ROWS` mentions Splink scores the blocked pairs in chunks (k x k parts
        of the left and right inputs), so that its memory follows a chunk, not the archive."""
        k = -(-self.rows // PREDICT_CHUNK_ROWS) if self.rows > PREDICT_CHUNK_ROWS else None
        df = self.linker.inference.predict(threshold_match_probability=threshold, warning_mode="never",
                                           num_chunks_left=k, num_chunks_right=k)
        out = _pairs(df)
        df.drop_table_from_database_and_remove_from_cache()
        return self._archive_ids(out)

    def _archive_ids(self, pairs: pa.Table) -> pa.Table:
        """Pairs with the archive's ids (the smaller one left, as Splink gives them)."""
        if self.ids is None:
            return pairs
        import polars as pl

        ids = pl.from_arrow(pa.table({"k": self.ids[0], "v": self.ids[1]}))
        p = pl.from_arrow(pairs)
        p = (p.join(ids.rename({"k": "unique_id_l", "v": "a"}), on="unique_id_l", how="left")
             .join(ids.rename({"k": "unique_id_r", "v": "b"}), on="unique_id_r", how="left")
             .select(pl.min_horizontal("a", "b").alias("unique_id_l"), pl.max_horizontal("a", "b").alias("unique_id_r"),
                     "match_weight", "match_probability"))
        return p.to_arrow().cast(pairs.schema)

    def release(self) -> None:
        """Drop the tables Splink built (term frequencies, the mentions with them, predictions):
        after the last prediction, before clustering on the same database."""
        self.db.delete_tables_created_by_splink_from_db()
        self.linker.table_management.invalidate_cache()

    def predict_between(self, existing: pa.Table, new: pa.Table, threshold: float | None = None) -> pa.Table:
        """Pairs new x existing and new x new (incremental linking), scored with this model."""
        e = self.db.register(model_input(existing))
        n = self.db.register(model_input(new))
        parts = []
        for df in (self.linker.inference.predict_between(e, n, threshold_match_probability=threshold,
                                                         warning_mode="never"),
                   self.linker.inference.predict_within(n, threshold_match_probability=threshold,
                                                        warning_mode="never")):
            parts.append(_pairs(df))
            df.drop_table_from_database_and_remove_from_cache()
        return pa.concat_tables(parts)

    def explain(self, left: dict, right: dict) -> list[dict]:
        """Each comparison's level and match weight for one pair of standardised mentions."""
        df = self.linker.inference.score_pair(left, right)
        row = df.as_pyarrow_table().to_pylist()[0]
        out = []
        for c in self.linker._settings_obj.comparisons:
            name = c.output_column_name
            gamma = row.get(f"gamma_{name}")
            lvl = next((l for l in c.comparison_levels if l.comparison_vector_value == gamma), None)
            mw, tf = row.get(f"mw_{name}"), row.get(f"mw_tf_adj_{name}")
            out.append({"comparison": name, "level": lvl.label_for_charts if lvl else str(gamma),
                        "gamma": gamma, "match_weight": mw, "tf_adjustment_weight": tf})
        out.append({"comparison": "TOTAL", "level": "", "match_weight": row["match_weight"],
                    "match_probability": row["match_probability"]})
        return out


def _pairs(df) -> pa.Table:
    t = df.as_pyarrow_table()
    return t.select(["unique_id_l", "unique_id_r", "match_weight", "match_probability"])


def _quiet() -> None:
    # Splink's warnings ("level not observed, unable to train m") are expected here: rare levels
    # keep their defaults.  Errors still show.  (Linker(..., log_level=...) resets the "splink"
    # logger's level: every Linker here is made with logging.ERROR for the same reason.)
    for name in ("splink", "py4j"):
        logging.getLogger(name).setLevel(logging.ERROR)
    _guard_em_underflow()


_M_U_FLOOR = 1e-12


def _guard_em_underflow() -> None:
    """Splink 5.0.0 rejects m/u probabilities below 1e-300, but its EM can produce exactly 0 or a
    subnormal one (a level never seen among the matches of a training block, e.g. "PNC differs"
    in a DOB block), which aborts training.  Floor the EM's per-level estimates at 1e-12 (a match
    weight of about -40: "never" for any purpose) before Splink validates them."""
    from splink.internals import expectation_maximisation as em

    if getattr(em.populate_m_u_from_lookup, "_courtarchive_floor", False):
        return
    original = em.populate_m_u_from_lookup

    def floored(training_fixed_probabilities, comparison_level, output_column_name, m_u_records_lookup):
        for rec in m_u_records_lookup.get(output_column_name, {}).values():
            for k in ("m_probability", "u_probability"):
                v = rec.get(k)
                if isinstance(v, (int, float)) and v < _M_U_FLOOR:
                    rec[k] = _M_U_FLOOR
        return original(training_fixed_probabilities, comparison_level, output_column_name, m_u_records_lookup)

    floored._courtarchive_floor = True
    em.populate_m_u_from_lookup = floored


#: below this many person mentions an archive is too small to train on (EM needs thousands of
#: blocked pairs): the shipped default model is used instead (see `default_model`)
MIN_TRAIN = 2000
DEFAULT_MODEL = Path(__file__).with_name("default_model.json")


def default_model(n_mentions: int) -> dict:
    """The shipped model (trained by `build_default_model` on 200k synthetic mentions), with the
    prior rescaled to an archive of ``n_mentions`` (a mention's expected matches stay the same)."""
    js = json.loads(DEFAULT_MODEL.read_text("utf-8"))
    n_train = js.pop("courtarchive_trained_on", 200_000)
    lam = js["probability_two_random_records_match"] * n_train / max(n_mentions, 2)
    js["probability_two_random_records_match"] = min(0.01, lam)
    return js


def build_default_model(n: int = 200_000, seed: int = 42) -> dict:
    """Train on synthetic mentions and write `DEFAULT_MODEL` (a developer step; the file ships)."""
    from . import synthetic
    from .standardise import standardise

    std = standardise(synthetic.mentions(n, seed=seed))
    js = train(std, seed=seed).to_json()
    js["courtarchive_trained_on"] = std.num_rows
    DEFAULT_MODEL.write_text(json.dumps(js, indent=1), "utf-8")
    return js


def train(std: pa.Table | list[pa.Table], *, engine: str = "duckdb", seed: int = 42,
          u_max_pairs: float | None = None, em_max_pairs: float = 2e6, db=None, allow_default: bool = True,
          link_type: str = "dedupe_only", ids: pa.Array | None = None) -> Model:
    """Train the model on standardised mentions: prior, u by sampling (``u_max_pairs``, default
    2M pairs, fewer for small inputs), m by EM.  Fewer than `MIN_TRAIN` mentions: the shipped
    default model instead (``Model.trained`` is False).  A list of tables with
    ``link_type="link_only"`` links them to each other (benchmarks: FEBRL).  ``ids``: ``std``'s
    `content_ids`, when the caller has them already."""
    if isinstance(std, list):
        n_rows = sum(t.num_rows for t in std)
        allow_default = False
    else:
        n_rows = std.num_rows
    if allow_default and n_rows < MIN_TRAIN and DEFAULT_MODEL.exists():
        m = load(default_model(std.num_rows), std, engine=engine, db=db)
        m.trained = False
        return m
    if u_max_pairs is None:
        u_max_pairs = min(2e6, max(1e5, 20.0 * n_rows))
    _quiet()
    ids = None
    if not isinstance(std, list):
        # trained on content-derived ids (see `content_ids`); its predictions give the archive's ids
        ids = (content_ids(std, seed) if ids is None else ids, std.column("unique_id"))
        std = std.set_column(std.schema.get_field_index("unique_id"), "unique_id", ids[0])
    db = db or db_api(engine)
    sdf = [db.register(model_input(t)) for t in std] if isinstance(std, list) else db.register(model_input(std))
    linker = Linker(sdf, settings(link_type=link_type), log_level=logging.ERROR)
    tr = linker.training
    tr.estimate_probability_two_random_records_match([block_on("fn_c", "sn", "dob")], recall=0.7)
    # Splink samples u in a probe and up to 10 chunks per comparison, stopping once every level is
    # seen 100 times: bounded memory on one machine (DuckDB); on Spark each chunk is a job, whose
    # fixed cost dominated (100k mentions, local[2]: 78 jobs, 115 s of a 276 s link; in one chunk
    # per comparison 72 s, the same persons) -- there the sample is scored whole, one job each
    tr.estimate_u_using_random_sampling(max_pairs=u_max_pairs, seed=seed,
                                     **({"num_chunks": 1} if engine == "spark" else {}))
    # a level never seen among u_max_pairs random pairs is rarer than 1 / u_max_pairs
    js = linker.misc.save_model_to_json()
    if _fill_unobserved_u(js, 1.0 / u_max_pairs):
        linker = Linker(sdf, js, log_level=logging.ERROR)
        tr = linker.training
    for rule in (block_on("dob"), block_on("fn_c", "sn")):
        tr.estimate_parameters_using_expectation_maximisation(rule, max_pairs=em_max_pairs)
    # EM drives m of levels never seen among the training block's matches to ~0 ("middle names
    # similar but not equal", "PNC differs"): a weight of -30 or less, which one typo in real data
    # would turn into a missed link.  Floor m at M_FLOOR (weights stay strongly negative, not absolute).
    js = linker.misc.save_model_to_json()
    if _floor_probabilities(js, M_FLOOR, keys=("m_probability",)):
        linker = Linker(sdf, js, log_level=logging.ERROR)
    return Model(linker, db, engine, sdf, rows=_rows_of(std), ids=ids)


#: mentions per prediction chunk (`Model.predict`)
PREDICT_CHUNK_ROWS = 3_000_000

#: the smallest m probability a trained model keeps (see `train`)
M_FLOOR = 1e-4

#: at most this many mentions are trained on (`train_and_load`): EM on "same date of birth" scores
#: every pair sharing a birthday, which grows with the square of the archive (25M pairs at 1M
#: mentions; ~2.5 billion at 10M, which ran this 24 GiB machine out of memory).  A uniform sample
#: keeps the parameters: m and u are per-pair rates, and the prior (matches / pairs) shrinks the
#: same in numerator and denominator.
MAX_TRAIN_MENTIONS = 1_000_000


def train_and_load(std: pa.Table, *, engine: str = "duckdb", seed: int = 42,
                   max_mentions: int = MAX_TRAIN_MENTIONS, ids: pa.Array | None = None) -> Model:
    """`train` on all of ``std``, or -- above ``max_mentions`` -- on a uniform sample of it, then
    `load` the trained parameters over all of ``std`` for prediction (term frequencies from all).
    ``ids``: ``std``'s `content_ids`, when the caller has them already."""
    if ids is None:
        ids = content_ids(std, seed)
    if std.num_rows <= max_mentions:
        return train(std, engine=engine, seed=seed, ids=ids)
    import pyarrow.compute as pc

    # the mentions with the smallest content-derived ids (`content_ids`: hashes, so a uniform
    # sample, and the same one whatever order the lists were ingested in), taken from the Arrow
    # table (no copy of it)
    rows = pc.sort_indices(ids)[:max_mentions]
    sample = std.take(rows).sort_by("unique_id")
    trained = train(sample, engine=engine, seed=seed, allow_default=False)
    js = trained.to_json()
    del trained                            # its DuckDB connection (the sample's tables) goes with it
    import gc

    gc.collect()                           # (Splink's objects refer to each other: collect the cycle now)
    return load(js, std, engine=engine)


def _rows_of(std) -> int:
    return sum(t.num_rows for t in std) if isinstance(std, list) else std.num_rows


def _fill_unobserved_u(js: dict, u: float) -> bool:
    """Give every non-null level that random sampling never observed the u probability ``u``."""
    changed = False
    for comp in js.get("comparisons", []):
        for lv in comp.get("comparison_levels", []):
            if not lv.get("is_null_level") and lv.get("u_probability") is None:
                lv["u_probability"] = u
                changed = True
    return changed


def _floor_probabilities(js: dict, eps: float = 1e-6, keys=("m_probability", "u_probability")) -> bool:
    changed = False
    for comp in js.get("comparisons", []):
        for lv in comp.get("comparison_levels", []):
            for k in keys:
                if lv.get(k) is not None and lv[k] < eps:
                    lv[k] = eps
                    changed = True
    return changed


#: above this many mentions `load` copies them into a DuckDB database file (`config.duckdb_scratch`), so
#: that the caller can free its Arrow copy and Splink's tables need not fit in memory
ON_DISK_ROWS = 3_000_000


def load(model_json: dict, std: pa.Table, *, engine: str = "duckdb", db=None, explain: bool = False) -> Model:
    """A model with stored trained parameters over (all) standardised mentions.  ``explain``
    keeps the per-comparison Bayes factors in scored output (for `Model.explain`).  Above
    `ON_DISK_ROWS` mentions (DuckDB, no ``db`` given) the model holds no reference to ``std``."""
    _quiet()
    rows = _rows_of(std)
    if db is None and engine == "duckdb" and rows > ON_DISK_ROWS:
        from ..config import duckdb_scratch

        con = duckdb_scratch()
        con.register("__courtarchive_input", model_input(std))
        con.execute("CREATE TABLE __courtarchive_mentions AS SELECT * FROM __courtarchive_input")
        con.unregister("__courtarchive_input")
        db = db_api(engine, connection=con)
        sdf = db.register("__courtarchive_mentions")
    else:
        db = db or db_api(engine)
        sdf = db.register(model_input(std))
    js = copy.deepcopy(model_json)
    _floor_probabilities(js)
    if explain:
        js["retain_intermediate_calculation_columns"] = True
    linker = Linker(sdf, js, log_level=logging.ERROR)
    for col in ("fn", "sn"):
        linker.table_management.compute_tf_table(col)
    return Model(linker, db, engine, sdf, rows=rows)
