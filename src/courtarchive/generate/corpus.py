"""A generated corpus's truth, as the tools that score against it find it: `link evaluate --truth`
and `analyse --oracle` (kept light: no generator imported).

Every generated corpus names its files alike (``lists/YYYY/MM/<date>_<court>_<type>.json``), so a
truth joins any archive of generated lists by file name and JSON path -- a truth of another corpus
(another seed) would join silently and score nonsense.  `check_same_corpus` compares the archive's
copies of matched lists with the truth's own files.
"""

from __future__ import annotations

from pathlib import Path

#: the truth's mention tables the tools read
MENTION_TABLES = ("defendant_mentions", "complainant_mentions")

#: matched list files `check_same_corpus` compares (evenly spread)
CHECK_FILES = 200


class TruthError(ValueError):
    """No generator truth at the path given, or the truth of another corpus than the archive's."""


def truth_root(path: str | Path) -> Path:
    """The corpus folder of a truth given as its truth.json or as the folder."""
    p = Path(path)
    return p.parent if p.is_file() else p


def require_truth(path: str | Path) -> Path:
    """`truth_root`, refused (TruthError) when there is no truth there: the path missing, no
    ``truth/*_mentions.parquet`` beside it, or a truth.json that is not JSON."""
    p = Path(path)
    if not p.exists():
        raise TruthError(f"{p} does not exist")
    root = truth_root(p)
    missing = [n for n in MENTION_TABLES if not (root / "truth" / f"{n}.parquet").is_file()]
    if missing:
        raise TruthError(f"{p} is not a generator truth: {root / 'truth'} has no "
                         f"{', '.join(m + '.parquet' for m in missing)} (give the corpus folder or its truth.json)")
    if p.is_file():
        import orjson

        try:
            orjson.loads(p.read_bytes())
        except orjson.JSONDecodeError as e:
            raise TruthError(f"{p} is not JSON ({e})") from None
    return root


def check_same_corpus(path: str | Path, matched: list[tuple[str, str | None]]) -> int:
    """``matched``: (truth file, the archive's content hash of it) for the archive's publications
    the truth's files matched, in publication order.  Up to CHECK_FILES of them, evenly spread,
    must have the content hash of the truth's own list file (``lists/`` beside the truth: skipped
    when it is not there); any difference is a TruthError.  Returns the files compared."""
    from ..ingest.pipeline import content_hash

    lists = truth_root(path) / "lists"
    if not lists.is_dir() or not matched:
        return 0
    checked, differ = 0, []
    for f, h in matched[::max(1, len(matched) // CHECK_FILES)][:CHECK_FILES]:
        p = lists / f
        if not h or not p.is_file():
            continue
        checked += 1
        if content_hash(p.read_bytes()) != h:
            differ.append(f)
    if differ:
        raise TruthError(f"{path} is not the truth of this archive: {len(differ)} of {checked} list files checked "
                         f"differ from the archive's copies (e.g. {differ[0]}): give the truth of the corpus that "
                         "was ingested")
    return checked
