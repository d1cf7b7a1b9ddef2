"""Linkage quality against the generator's truth: pairwise precision / recall / F1 and B-cubed.

Truth (``DIR/truth.json`` beside ``DIR/truth/*.parquet``, see `generate.truth`) is keyed by
(file relative to ``DIR/lists``, json_path):

* ``defendant_mentions``: one row per party -> ``person_id``; joined to the store's party rows by
  publication ``source_name`` (the path given at ingest: matched on its trailing path components)
  and the party's ``json_path``.  A publication whose raw retention expired has lost its source
  name (`governance.retention`): its file is found by content hash (SHA-256 of the file's bytes,
  as ingest computes it) among the truth's files under ``DIR/lists``.  Masked defendants (no
  name listed) are reported, not scored.
* ``complainant_mentions``: one row per complainant mention -> ``victim_id``, at the json_path of
  the offence whose wording names them (or of the complainant party); the store's complainant
  json_path is that path or a child of it (``...offenceWording``).  Several complainants in one
  wording are paired in order.  *Described-only* mentions (no token in the store) cannot be
  linked by design: they are counted (``unlinkable``) and left out of the scores, as are truth
  mentions the store has no row for (``unmatched``).

Scores (over the mentions present in both):
    pairwise   precision = correct linked pairs / linked pairs; recall = correct / true pairs
    B-cubed    per mention: |own cluster and own true entity| / |own cluster| (precision) and
               / |own true entity| (recall), averaged (Bagga & Baldwin 1998)
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import polars as pl

from ..store import Archive
from ..store import linkage as store

__all__ = ["EvaluateError", "metrics", "evaluate", "truth_dir", "complainant_truth"]


def metrics(pred, truth) -> dict:
    """Pairwise and B-cubed scores of a clustering ``pred`` against ``truth`` (parallel sequences
    of cluster labels / entity ids, one per mention)."""
    df = pl.DataFrame({"p": pl.Series(list(pred)).cast(pl.Utf8), "t": pl.Series(list(truth)).cast(pl.Utf8)})
    n = df.height
    if n == 0:
        return {"mentions": 0}

    def pairs(col: list[str]) -> int:
        c = df.group_by(col).len()["len"]
        return int((c * (c - 1) // 2).sum())

    tp, pp, tt = pairs(["p", "t"]), pairs(["p"]), pairs(["t"])
    prec = tp / pp if pp else 1.0
    rec = tp / tt if tt else 1.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    cell = df.group_by("p", "t").len().rename({"len": "pt"})
    ps = df.group_by("p").len().rename({"len": "np"})
    ts = df.group_by("t").len().rename({"len": "nt"})
    c = cell.join(ps, on="p").join(ts, on="t")
    bp = float((c["pt"] * c["pt"] / c["np"]).sum() / n)
    br = float((c["pt"] * c["pt"] / c["nt"]).sum() / n)
    bf = 2 * bp * br / (bp + br) if bp + br else 0.0
    r = lambda x: round(x, 6)  # noqa: E731
    return {"mentions": n, "clusters": int(df["p"].n_unique()), "entities": int(df["t"].n_unique()),
            "pairwise": {"precision": r(prec), "recall": r(rec), "f1": r(f1), "true_pairs": tt,
                         "linked_pairs": pp, "correct_pairs": tp},
            "bcubed": {"precision": r(bp), "recall": r(br), "f1": r(bf)}}


def truth_dir(path: str | Path) -> Path:
    from ..generate.corpus import truth_root

    return truth_root(path)


def _file_key(sources: pl.Series, files: set[str]) -> pl.Series:
    """Map each store source_name to the truth file it is (longest matching trailing path)."""
    out = {}
    for s in sources.unique().drop_nulls().to_list():
        parts = PurePosixPath(s.replace("\\", "/")).parts
        out[s] = next((k for k in ("/".join(parts[i:]) for i in range(len(parts))) if k in files), None)
    return sources.replace_strict(out, default=None, return_dtype=pl.Utf8)


def _assigned(archive: Archive, kind: str) -> pl.DataFrame:
    prov = pl.from_arrow(store.mention_provenance(archive, kind))
    asg = pl.from_arrow(store.person_assignments(archive, kind)).select("mention_id", "person_id")
    return prov.join(asg, on="mention_id", how="left")


def _hashed_files(tdir: Path, files: set[str]) -> dict[str, str]:
    """content hash (`ingest.pipeline.content_hash`: SHA-256 of the bytes) -> truth file, for the
    truth's list files under ``tdir/lists``."""
    from ..ingest.pipeline import content_hash

    out = {}
    root = tdir / "lists"
    for f in files:
        p = root / f
        if p.is_file():
            out[content_hash(p.read_bytes())] = f
    return out


def _with_files(archive: Archive, got: pl.DataFrame, kind: str, tdir: Path, files: set[str],
                id_col: str = "mention_id") -> pl.DataFrame:
    """``got`` (mention_id, source_name, json_path, ...) with the truth ``file`` of each mention: by
    source name, else -- a publication whose raw retention expired has no source name any more
    (`governance.retention`) -- by the content hash of the file it was read from."""
    got = got.with_columns(_file_key(got["source_name"], files).alias("file"))
    if not got["source_name"].is_null().any():
        return got
    table = "party" if kind == "defendant" else "complainant"
    pubs = (pl.from_arrow(archive.to_arrow(table, columns=["id", "publication_id"]))
            .rename({"id": id_col}).join(got.filter(pl.col("source_name").is_null()).select(id_col),
                                         on=id_col, how="semi"))
    hashes = pl.from_arrow(archive.to_arrow("publication", columns=["id", "content_hash"])).rename(
        {"id": "publication_id"})
    by_hash = _hashed_files(tdir, files)
    found = (pubs.join(hashes, on="publication_id", how="left")
             .with_columns(pl.col("content_hash").replace_strict(by_hash, default=None, return_dtype=pl.Utf8)
                           .alias("hfile")).select(id_col, "hfile"))
    return (got.join(found, on=id_col, how="left").with_columns(pl.coalesce("file", "hfile").alias("file"))
            .drop("hfile"))


def _defendants(archive: Archive, tdir: Path) -> dict:
    truth = pl.read_parquet(tdir / "truth" / "defendant_mentions.parquet")
    got = _with_files(archive, _assigned(archive, "defendant"), "defendant", tdir,
                      set(truth["file"].unique().to_list()))
    j = truth.join(got, on=["file", "json_path"], how="inner")
    masked = j.filter(pl.col("masked").fill_null(False)) if "masked" in j.columns else j.head(0)
    scored = j.filter(~pl.col("masked").fill_null(False)) if "masked" in j.columns else j
    scored = scored.filter(pl.col("person_id_right").is_not_null())
    out = metrics(scored["person_id_right"], scored["person_id"])
    out.update(truth_mentions=truth.height, matched=j.height, unmatched=truth.height - j.height,
               masked=masked.height)
    return out


def complainant_truth(archive: Archive, truth: str | Path) -> pl.DataFrame:
    """Each stored complainant mention the truth knows: complainant_id, victim_id, token (null
    for described-only mentions), person_id (the stored assignment) and the truth's ``kind``."""
    return _complainant_join(archive, truth_dir(truth))[0]


def _complainants(archive: Archive, tdir: Path) -> dict:
    j, truth = _complainant_join(archive, tdir)
    linkable = j.filter(pl.col("token").is_not_null() & pl.col("person_id").is_not_null())
    out = metrics(linkable["person_id"], linkable["victim_id"])
    out.update(truth_mentions=truth.height, matched=j.height, unmatched=truth.height - j.height,
               unlinkable=j.height - linkable.height,
               unlinkable_by_truth_kind={k: n for k, n in j.filter(pl.col("token").is_null())
                                         .group_by("kind").len().iter_rows()})
    return out


def _complainant_join(archive: Archive, tdir: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    truth = pl.read_parquet(tdir / "truth" / "complainant_mentions.parquet")
    C = pl.from_arrow(store.complainant_mentions(archive)).select("complainant_id", "token")
    got = (_assigned(archive, "complainant").rename({"mention_id": "complainant_id"})
           .join(C, on="complainant_id", how="right"))
    got = _with_files(archive, got, "complainant", tdir, set(truth["file"].unique().to_list()),
                      id_col="complainant_id")
    # store json_path is the truth path or a child of it: try exact, then the parent path
    tkeys = set(zip(truth["file"].to_list(), truth["json_path"].to_list()))
    def key(f, p):
        if f is None or p is None:
            return None
        while p:
            if (f, p) in tkeys:
                return p
            cut = max(p.rfind("."), p.rfind("["))
            if cut <= 0:
                return None
            p = p[:cut]
        return None
    got = got.with_columns(pl.Series("tpath", [key(f, p) for f, p in zip(got["file"].to_list(),
                                                                          got["json_path"].to_list())],
                                     dtype=pl.Utf8))
    got = got.sort("complainant_id").with_columns(pl.int_range(pl.len()).over("file", "tpath").alias("k"))
    tr = truth.with_row_index("row").sort("row").with_columns(
        pl.int_range(pl.len()).over("file", "json_path").alias("k")).rename({"json_path": "tpath"})
    # described-only truth mentions come last within a key (the store emits them too, tokenless):
    return tr.join(got, on=["file", "tpath", "k"], how="inner"), truth


class EvaluateError(ValueError):
    """The evaluation cannot be made: no truth there, no link run, or the truth of another corpus."""


def _check_truth(archive: Archive, truth: str | Path, tdir: Path) -> None:
    from ..generate.corpus import TruthError, check_same_corpus, require_truth

    try:
        require_truth(truth)
        if store.latest_run(archive) is None:
            raise EvaluateError("no link run in the archive: run `courtarchive link run` first")
        files = set(pl.read_parquet(tdir / "truth" / "defendant_mentions.parquet", columns=["file"])["file"]
                    .unique().to_list())
        pubs = pl.from_arrow(archive.to_arrow("publication", columns=["id", "source_name", "content_hash"]))
        pubs = pubs.with_columns(_file_key(pubs["source_name"], files).alias("file")).drop_nulls("file").sort("id")
        check_same_corpus(truth, list(zip(pubs["file"].to_list(), pubs["content_hash"].to_list())))
    except TruthError as e:
        raise EvaluateError(str(e)) from None


def evaluate(archive: Archive, truth: str | Path) -> dict:
    """Scores of the stored persons against the generator's truth (a truth.json or its folder).
    Raises `EvaluateError` when there is no truth at ``truth``, no link run, or the truth is of
    another corpus than the one ingested."""
    tdir = truth_dir(truth)
    _check_truth(archive, truth, tdir)
    return {"truth": str(tdir), "defendants": _defendants(archive, tdir),
            "complainants": _complainants(archive, tdir)}
