"""Bulk name screening: a spreadsheet of names in, each row's candidate persons in the archive out,
scored by the same Fellegi-Sunter model that links the archive (issue 10 §4).

    rows = read_names("names.xlsx")                  # CSV or XLSX: name | forenames + surname,
                                                     # optional date_of_birth, town, postcode
    res = screen(rows, candidates, model_json)       # engine: no store, no governance
    out = screen_archive(archive, rows, viewer, purpose="journalism", keyring=..., profile=..., home=...)

How it scores
    The uploaded rows and the archive's defendant mentions are standardised exactly as for linkage
    (`standardise`), then compared by a Splink ``link_only`` linker carrying the archive's trained
    model (the latest link run's m and u; the shipped default model when there is none) and
    screening blocking rules (`SCREEN_BLOCKING`: a name-only row must still find its candidates, so
    no rule needs a date of birth).  The prior is one expected match per row among the archive's
    persons (``1 / persons``): a row's probability answers "is this row that person?".  Each row
    keeps its best mention per person, the ``top`` persons at or above ``threshold`` (and any tied
    with the last of them: name-only rows often tie).

Candidates
    One row per distinct identity of each linked person (mentions that repeat a person's name,
    date of birth and address add nothing), current publications only.  The standardised table is
    cached per link run in ``$COURTARCHIVE_HOME/cache/screen``; a new run makes a new one, and
    every expiry, erasure or rectification of a mention shreds it (the governance hook
    `governance.hooks.screening_cache`): the next screening builds it again from the archive.

Governance
    Screening tells whether a named person is in the archive: only a role that may see identities
    for the stated purpose may screen (`governance.policy.action_for(role, "identity", purpose)`),
    the results are disclosed through the gate like every output (restrictions, spent convictions,
    sensitivity) and written through `governance.distribution.export` (audited, watermarked,
    registered so that expiry purges the files).
"""

from __future__ import annotations

import copy
import csv
import datetime as dt
import io
import logging
import re
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)

from . import model as M
from .screen_defaults import DEFAULT_THRESHOLD, DEFAULT_TOP
from .standardise import standardise

__all__ = ["ScreeningError", "ROW_SCHEMA", "read_names", "rows_from_records", "screen", "candidates_from_archive",
           "screen_archive", "write_table", "table_columns", "SCREEN_BLOCKING", "MAX_ROWS", "DEFAULT_THRESHOLD",
           "DEFAULT_TOP"]

MAX_ROWS = 100_000

#: blocking for screening (SQL over l./r. standardised columns; l = archive, r = uploaded row)
SCREEN_BLOCKING = [
    "l.fn_c = r.fn_c AND l.sn = r.sn",
    "l.fn_c = r.sn_c AND l.sn_c = r.fn_c",
    "l.dob = r.dob AND l.sn_sdx = r.sn_sdx",
    "l.dob = r.dob AND l.fn_c = r.fn_c",
    "l.fn_sdx = r.fn_sdx AND l.sn_sdx = r.sn_sdx",
    "l.sn = r.sn AND l.fi = r.fi AND (length(l.fn) = 1 OR length(r.fn) = 1)",
    "l.fn_c = r.fn_c AND l.pc = r.pc",
    "l.fn_sdx = r.sn_sdx AND l.sn_sdx = r.fn_sdx",
    "l.sn = r.sn AND substr(l.fn, 1, 2) = substr(r.fn, 1, 2)",
    # a slip in the surname (a wrong, swapped or doubled letter): the letters before it and those
    # after the next one agree -- one rule per place of the slip, each a small block (a two-letter
    # prefix alone paired a 1,000-name list with 700k listings at 1M people)
    "l.fn_c = r.fn_c AND substr(l.sn, 1, 1) = substr(r.sn, 1, 1) AND substr(l.sn, 4) = substr(r.sn, 4)",
    "l.fn_c = r.fn_c AND substr(l.sn, 1, 2) = substr(r.sn, 1, 2) AND substr(l.sn, 5) = substr(r.sn, 5)",
    "l.fn_c = r.fn_c AND substr(l.sn, 1, 3) = substr(r.sn, 1, 3) AND substr(l.sn, 6) = substr(r.sn, 6)",
    "l.fn_c = r.fn_c AND substr(l.sn, 1, 4) = substr(r.sn, 1, 4)",
    "l.fn_c = r.sn_c AND l.sn = r.fn1",
    "l.dob = r.dob AND l.fn_c = r.sn_c",
]

_ALIASES = {
    "name": ("name", "full name", "fullname", "defendant", "person"),
    "forenames": ("forenames", "forename", "first name", "firstname", "first names", "given name", "given names",
                  "first", "given"),
    "middle_names": ("middle names", "middle name", "middle"),
    "surname": ("surname", "last name", "lastname", "family name", "last", "family"),
    "date_of_birth": ("date of birth", "dob", "birth date", "date_of_birth", "birthdate"),
    "town": ("town", "city", "place"),
    "postcode": ("postcode", "post code", "postal code", "zip"),
}


#: the columns of the rows to screen (what `read_names` returns)
ROW_SCHEMA = {"row": pl.Int64, "forenames": pl.Utf8, "middle_names": pl.Utf8, "surname": pl.Utf8,
              "name_as_listed": pl.Utf8, "date_of_birth": pl.Date, "town": pl.Utf8, "postcode": pl.Utf8}


class ScreeningError(ValueError):
    """Bad screening input: the message names the file, row and column."""


# --------------------------------------------------------------------------- input
def _canon_header(h: str) -> str | None:
    k = re.sub(r"[\s_\-]+", " ", (h or "").strip().casefold())
    for field, names in _ALIASES.items():
        if k in names:
            return field
    return None


def _parse_date(s: str) -> dt.date:
    s = s.strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y", "%d-%m-%Y", "%d.%m.%Y", "%d %b %Y", "%d %B %Y"):
        try:
            return dt.datetime.strptime(s, fmt).date()
        except ValueError:
            pass
    raise ValueError(s)


def _rows_from_file(path: Path) -> tuple[list[str], list[list]]:
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        import openpyxl

        try:
            wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
        except Exception as e:  # openpyxl raises several types for a bad workbook
            raise ScreeningError(f"{path.name}: not a readable Excel workbook ({type(e).__name__}: {e})") from None
        try:
            it = wb.worksheets[0].iter_rows(values_only=True)
            header = next(it, None)
            if header is None:
                raise ScreeningError(f"{path.name}: the first sheet is empty")
            rows = [list(r) for r in it]
        finally:
            wb.close()
        return [str(h or "") for h in header], rows
    if suffix in (".csv", ".txt"):
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ScreeningError(f"{path.name}: not UTF-8 text (save the spreadsheet as CSV UTF-8)") from None
        rd = list(csv.reader(io.StringIO(text)))
        if not rd:
            raise ScreeningError(f"{path.name}: the file is empty")
        return rd[0], rd[1:]
    raise ScreeningError(f"{path.name}: screening reads .csv or .xlsx files")


def read_names(path: str | Path) -> pl.DataFrame:
    """The rows to screen: row (1-based, as in the spreadsheet: header is row 1), forenames,
    middle_names, surname, name_as_listed, date_of_birth, town, postcode.  Raises
    `ScreeningError` naming the row and column of anything it cannot read."""
    path = Path(path)
    if not path.exists():
        raise ScreeningError(f"{path}: no such file")
    header, rows = _rows_from_file(path)
    cols = {i: _canon_header(h) for i, h in enumerate(header)}
    have = {c for c in cols.values() if c}
    if "name" not in have and "surname" not in have:
        raise ScreeningError(f"{path.name}: needs a 'name' column, or a 'surname' column (with 'forenames' if "
                             "the sheet has them) "
                             f"(found: {', '.join(h for h in header if h) or 'no headers'})")
    return rows_from_records(({c: r[i] for i, c in cols.items() if c and i < len(r)} for r in rows),
                             source=path.name, first_row=2)


def rows_from_records(records, *, source: str, first_row: int = 1, max_rows: int = MAX_ROWS) -> pl.DataFrame:
    """The rows to screen from records keyed by the canonical fields (name, forenames,
    middle_names, surname, date_of_birth, town, postcode); ``first_row`` numbers the first record
    (2 in a spreadsheet, under its header).  Blank records are skipped; raises `ScreeningError`
    naming ``source`` and every bad row (at most ten)."""
    out, errors = [], []
    for n, rec in enumerate(records, start=first_row):
        rec = {k: (v.strip() if isinstance(v, str) else v) for k, v in rec.items()}
        if not any(v not in (None, "") for v in rec.values()):
            continue                                   # blank line
        name = rec.get("name") or " ".join(str(rec.get(k) or "") for k in ("forenames", "middle_names", "surname")).strip()
        if not name or not re.search(r"[^\W\d_]", str(name)):
            errors.append(f"row {n}: no name")
            continue
        dob = rec.get("date_of_birth")
        if isinstance(dob, dt.datetime):
            dob = dob.date()
        elif dob not in (None, "") and not isinstance(dob, dt.date):
            try:
                dob = _parse_date(str(dob))
            except ValueError:
                errors.append(f"row {n}, column date_of_birth: {dob!r} is not a date (use YYYY-MM-DD or DD/MM/YYYY)")
                continue
        out.append({"row": n, "forenames": _s(rec.get("forenames")), "middle_names": _s(rec.get("middle_names")),
                    "surname": _s(rec.get("surname")), "name_as_listed": _s(rec.get("name")),
                    "date_of_birth": dob or None, "town": _s(rec.get("town")), "postcode": _s(rec.get("postcode"))})
        if len(out) > max_rows:
            raise ScreeningError(f"{source}: more than {max_rows:,} rows; split the file")
    if errors:
        more = f" (and {len(errors) - 10} more)" if len(errors) > 10 else ""
        raise ScreeningError(f"{source}: " + "; ".join(errors[:10]) + more)
    if not out:
        raise ScreeningError(f"{source}: no names to screen")
    return pl.DataFrame(out, schema=ROW_SCHEMA)


def _s(v) -> str | None:
    if v is None:
        return None
    v = str(v).strip()
    return v or None


def _as_mentions(rows: pl.DataFrame, today: dt.date) -> pa.Table:
    """Uploaded rows shaped like `store.linkage.defendant_mentions` (ids are the row numbers)."""
    n = rows.height
    surname_given = rows["surname"].is_not_null()
    df = rows.select(
        pl.col("row").alias("party_id"),
        pl.lit(None, pl.Int64).alias("case_id"), pl.lit(None, pl.Int64).alias("hearing_id"),
        pl.lit(None, pl.Int64).alias("publication_id"), pl.lit(today, pl.Date).alias("sitting_date"),
        pl.lit(None, pl.Int64).alias("court_id"),
        "forenames", "middle_names", "surname", pl.lit(None, pl.Utf8).alias("organisation_name"),
        pl.when(surname_given).then(None).otherwise(pl.col("name_as_listed")).alias("name_as_listed"),
        "date_of_birth", pl.lit(None, pl.Int64).alias("age"), pl.lit(None, pl.Utf8).alias("gender"),
        "town", "postcode", pl.lit(None, pl.Utf8).alias("asn"), pl.lit(None, pl.Utf8).alias("pnc_id"),
    )
    assert df.height == n
    return df.to_arrow()


# --------------------------------------------------------------------------- engine
def screen(rows: pl.DataFrame, candidates: pa.Table | pl.DataFrame, model_json: dict, *,
           threshold: float = DEFAULT_THRESHOLD, top: int = DEFAULT_TOP, engine: str = "duckdb",
           today: dt.date | None = None) -> pl.DataFrame:
    """Score each row against the candidates (a *standardised* table with ``person_id``; see
    `candidates_from_archive` / `standardise_candidates`).  Returns row, person_id, party_id (the
    best-matching mention), match_probability, match_weight, rank (1 = best), sorted by row, rank."""
    cand = candidates if isinstance(candidates, pl.DataFrame) else pl.from_arrow(candidates)
    empty = pl.DataFrame(schema={"row": pl.Int64, "person_id": pl.Int64, "party_id": pl.Int64,
                                 "match_probability": pl.Float64, "match_weight": pl.Float64, "rank": pl.UInt32})
    if rows.height == 0 or cand.height == 0:
        return empty
    q = pl.from_arrow(standardise(_as_mentions(rows, today or dt.date.today())))
    M._quiet()
    db = M.db_api(engine)
    js = copy.deepcopy(model_json)
    js.pop("courtarchive_trained_on", None)
    M._floor_probabilities(js)
    _count_swap_once(js)
    js["link_type"] = "link_only"
    js["blocking_rules_to_generate_predictions"] = [{"blocking_rule": r, "sql_dialect": "duckdb"} for r in SCREEN_BLOCKING]
    persons = max(int(cand["person_id"].n_unique()), 1)
    js["probability_two_random_records_match"] = min(0.5, 1.0 / persons)
    from splink import Linker

    archive_in, upload_in = M.model_input(cand.to_arrow()), M.model_input(q.to_arrow())
    # Splink would materialise every archive mention (with its term frequencies) before blocking;
    # only the mentions some rule can pair with an uploaded row are handed to it, and the term
    # frequencies it would have computed (over archive and upload together) are given to it
    # ready-made -- the same scores, a fraction of the work (1M people: 33 s -> a few seconds).
    tf = {col: _tf_table(archive_in, upload_in, col) for col in ("fn", "sn")}
    archive_in = archive_in.filter(pa.compute.is_in(archive_in["unique_id"], _blockable(archive_in, upload_in)))
    if archive_in.num_rows == 0:
        return empty
    left = db.register(archive_in, dataset_display_name="archive")
    right = db.register(upload_in, dataset_display_name="upload")
    linker = Linker([left, right], js, log_level=logging.ERROR)
    for col, t in tf.items():
        linker.table_management.register_term_frequency_lookup(db.register(t), col)
    df = linker.inference.predict(threshold_match_probability=threshold, warning_mode="never")
    t = df.as_pyarrow_table()
    df.drop_table_from_database_and_remove_from_cache()
    if t.num_rows == 0:
        return empty
    pairs = pl.from_arrow(t.select(["source_dataset_l", "unique_id_l", "source_dataset_r", "unique_id_r",
                                    "match_probability", "match_weight"]))
    # orient: archive mention, uploaded row
    pairs = pairs.select(
        pl.when(pl.col("source_dataset_l") == "archive").then("unique_id_l").otherwise("unique_id_r").alias("party_id"),
        pl.when(pl.col("source_dataset_l") == "archive").then("unique_id_r").otherwise("unique_id_l").alias("row"),
        "match_probability", "match_weight")
    pairs = pairs.join(cand.select(pl.col("unique_id").alias("party_id"), "person_id"), on="party_id", how="inner")
    best = (pairs.sort(["row", "person_id", "match_weight"], descending=[False, False, True])
            .unique(["row", "person_id"], keep="first", maintain_order=True)
            .sort(["row", "match_weight"], descending=[False, True])
            .with_columns(pl.col("match_weight").rank("min", descending=True).over("row").alias("rank"))
            .filter(pl.col("rank") <= top))
    return best.select("row", "person_id", "party_id", "match_probability", "match_weight", "rank")


def _tf_table(archive: pa.Table, upload: pa.Table, col: str) -> pa.Table:
    """Splink's term-frequency lookup for ``col`` over archive and upload together (what
    `compute_tf_table` computes on the concatenated input): value, share of the non-null values."""
    v = pl.concat([pl.from_arrow(archive.select([col])), pl.from_arrow(upload.select([col]))]).drop_nulls()
    n = max(v.height, 1)
    return (v.group_by(col).len().select(col, (pl.col("len").cast(pl.Float64) / n).alias(f"tf_{col}"))
            .sort(col).to_arrow())


def _blockable(archive: pa.Table, upload: pa.Table) -> pa.Array:
    """unique_ids of the archive mentions that some screening blocking rule pairs with an uploaded
    row (l = archive, r = upload, as Splink orients a link_only pair of these two inputs)."""
    from ..config import duckdb_connect

    con = duckdb_connect()
    try:
        con.register("a", archive)
        con.register("q", upload)
        parts = []
        for rule in SCREEN_BLOCKING:
            parts.append(f"SELECT l.unique_id FROM a AS l JOIN q AS r ON {rule}")
        return con.sql(" UNION ".join(parts)).to_arrow_table().column(0).combine_chunks()
    finally:
        con.close()


def _count_swap_once(js: dict) -> None:
    """Forename and surname swapped is one fact, but the model has it as a level of both name
    comparisons (each must say how its own column compares), so a swapped pair collects its Bayes
    factor twice (2 x 11.9 bits in the default model).  In screening, where a typed name meets
    every namesake in the archive, that ranked strangers named "BATES Adam" above the listed "Adam
    BATES" for a query "Adam BAETS".  Here the surname comparison's swap level is made neutral
    (m = u), so the swap counts once, through the forename comparison."""
    for comp in js.get("comparisons", []):
        if comp.get("output_column_name") != "surname":
            continue
        for lv in comp.get("comparison_levels", []):
            if "swapped" in (lv.get("label_for_charts") or "") and lv.get("u_probability"):
                lv["m_probability"] = lv["u_probability"]


def standardise_candidates(mentions: pa.Table, assignments: pa.Table) -> pl.DataFrame:
    """Standardised archive mentions with person_id, one row per distinct identity of a person."""
    m = pl.from_arrow(mentions)
    a = pl.from_arrow(assignments).select(pl.col("mention_id").alias("party_id"), "person_id")
    m = m.join(a, on="party_id", how="inner").filter(pl.col("organisation_name").is_null())
    ident = ["person_id", "forenames", "middle_names", "surname", "name_as_listed", "date_of_birth", "age",
             "postcode", "town"]
    m = m.sort("party_id").unique(ident, keep="first", maintain_order=True)
    std = pl.from_arrow(standardise(m.drop("person_id").to_arrow()))
    return std.join(m.select(pl.col("party_id").alias("unique_id"), "person_id"), on="unique_id", how="inner")


def candidates_from_archive(archive, *, cache_dir: Path | None = None) -> tuple[pl.DataFrame, dict]:
    """The archive's screening candidates and the model to score with: (candidates, model_json)."""
    from ..store import linkage as store

    run = store.latest_run(archive, with_model=True)
    model_json = (run or {}).get("model")
    cache = None
    if run and cache_dir is not None:
        cache = Path(cache_dir) / f"candidates-run{run['id']}.parquet"
        if cache.exists():
            if model_json is None:
                model_json = M.default_model(pl.scan_parquet(cache).select(pl.len()).collect().item())
            return pl.read_parquet(cache), model_json
    from ..governance.hooks import purge_mark, shred

    mark = purge_mark(cache.parent) if cache is not None else None
    cand = standardise_candidates(store.defendant_mentions(archive), store.person_assignments(archive, "defendant"))
    if model_json is None:
        model_json = M.default_model(max(cand.height, 2))
    if cache is not None:
        from ..config import private_dir, private_file

        private_dir(cache.parent)          # (names and dates of birth: the owner's only, 0700 / 0600)
        for old in cache.parent.glob("candidates-run*.parquet"):
            old.unlink(missing_ok=True)
        tmp = cache.with_suffix(".partial")
        with open(private_file(tmp), "wb") as fh:
            cand.write_parquet(fh)
        tmp.replace(cache)
        if purge_mark(cache.parent) != mark:
            # an expiry, erasure or rectification purged the cache while these were read: they may
            # hold what it purged -- not kept (this screening uses them once, the next reads anew)
            shred(cache)
    return cand, model_json


# --------------------------------------------------------------------------- governed entry point
def screen_archive(archive, rows: pl.DataFrame, viewer, *, purpose: str, keyring, profile, home: Path,
                   threshold: float = DEFAULT_THRESHOLD, top: int = DEFAULT_TOP, fmt: str = "csv",
                   also: tuple[str, ...] = (), now: dt.datetime | None = None) -> dict:
    """Screen ``rows`` for ``viewer``: role check, scoring, disclosure through the gate, export files
    (``fmt`` csv | xlsx, plus a twin in each format of ``also``) in the viewer's exports folder.
    Returns {path, export_id, rows, matches, rows_with_matches, flags, watermark, table}: ``table``
    is what the files hold, one dict per (row, candidate), disclosed."""
    from ..governance import policy as pol
    from ..governance.distribution import export as governed_export
    from ..governance.gate import disclose, identity_withheld
    from ..governance.hooks import screening_cache_dir
    from ..store import linkage as store

    if fmt not in ("csv", "xlsx") or any(f not in ("csv", "xlsx") for f in also):
        raise ScreeningError("format: csv or xlsx")
    role = viewer.effective_role(now)
    if role != viewer.role:
        # (not "cub (public) may not screen names for purpose 'public_interest'": the account is
        # verified media whose press-card check is missing or older than a year)
        raise PermissionError(
            f"{viewer.username} may not screen names: screening needs a verified media account, and this "
            f"{viewer.role} account has no valid press-card verification (missing, or older than "
            f"{pol.VERIFICATION_DAYS} days: `courtarchive account verify {viewer.username} --press-card ...`), "
            f"so it counts as {role}")
    if not pol.sees_identity(viewer, purpose, now):
        allowed = sorted(p for p in pol.ROLES[role].personal_purposes if pol.sees_identity(viewer, p, now))
        raise PermissionError(
            f"{viewer.username} ({role}) may not screen names for purpose {purpose!r}: screening reveals who is in "
            "the archive (identity), which " + (f"this role sees only for {' or '.join(map(repr, allowed))}"
                                                if allowed else "this role does not see"))
    cand, model_json = candidates_from_archive(archive, cache_dir=screening_cache_dir(home))
    res = screen(rows, cand, model_json, threshold=threshold, top=top)
    details = store.party_details(archive, res["party_id"].to_list()) if res.height else {}
    by_party: dict[int, list[dict]] = {}
    for r in res.iter_rows(named=True):
        by_party.setdefault(r["party_id"], []).append(r)
    records = [{"_entity": "party", **details[p]} for p in by_party if p in details]
    # a candidate the gate withholds, or whose name it withholds (a youth, an anonymity order, a
    # spent conviction, a case withheld whole), is no candidate: "the name you entered is person
    # 399, of case 392 at court 374, probability 1.0" would name him as surely as the name itself
    probe = disclose(records, viewer, purpose=purpose, context={"archive": archive, "keyring": keyring,
                                                                "profile": profile, "output": "export",
                                                                "now": now, "audit": False})
    keep = {r.get("id") for r in probe.records if not identity_withheld(r)}
    records = [r for r in records if r.get("id") in keep]
    # (the export's own disclosure takes the facts the probe read instead of reading them again)
    exp = governed_export(archive, records, viewer, purpose=purpose, keyring=keyring, profile=profile, home=home,
                          what="screening", now=now, context=probe.cases_context(probe.inputs.get("facts") or {}))
    disclosed = _read_export(Path(exp["path"]))
    shown = {r.get("id"): r for r in disclosed if not identity_withheld(r)}
    if res.height:
        res = res.filter(pl.col("party_id").is_in(list(shown)))
        res = res.with_columns(pl.col("match_weight").rank("min", descending=True).over("row").cast(pl.UInt32)
                               .alias("rank"))
    table = []
    for r in rows.iter_rows(named=True):
        hits = res.filter(pl.col("row") == r["row"]).sort("rank").to_dicts() if res.height else []
        entered = r["name_as_listed"] or " ".join(x for x in (r["forenames"], r["middle_names"], r["surname"]) if x)
        if not hits:
            table.append({"row": r["row"], "name_entered": entered, "rank": None, "person_id": None,
                          "match_probability": None, "match_weight": None})
            continue
        for h in hits:
            d = shown[h["party_id"]]
            table.append({"row": r["row"], "name_entered": entered, "rank": h["rank"], "person_id": h["person_id"],
                          "match_probability": round(h["match_probability"], 4),
                          "match_weight": round(h["match_weight"], 2),
                          **{k: v for k, v in d.items() if not k.startswith("_") and k not in ("id",)}})
    out_path = Path(exp["path"]).with_suffix(f".{fmt}")
    for f in dict.fromkeys((fmt, *also)):
        write_table(table, out_path.with_suffix(f".{f}"), f, watermark=exp["watermark"])
    return {"path": out_path, "export_id": exp["id"], "rows": rows.height, "matches": res.height,
            "rows_with_matches": int(res["row"].n_unique()) if res.height else 0, "flags": exp["flags"],
            "watermark": exp["watermark"], "table": table}


def _read_export(path: Path) -> list[dict]:
    import orjson

    lines = path.read_bytes().splitlines()
    return [orjson.loads(x) for x in lines[1:] if x.strip()]


def table_columns(table: list[dict]) -> list[str]:
    """The columns of screening results, in order of first appearance (rows without candidates
    have fewer keys than rows with them)."""
    return list(dict.fromkeys(k for r in table for k in r))


def write_table(table: list[dict], path: Path, fmt: str, *, watermark: str) -> None:
    """Write screening results (``table``: one dict per row) as CSV or XLSX, the watermark first;
    atomically (a partial file is renamed into place)."""
    cols = table_columns(table)
    tmp = path.with_name(path.name + ".partial")
    if fmt == "csv":
        with open(tmp, "w", newline="", encoding="utf-8") as fh:
            w = csv.writer(fh)
            w.writerow([f"# {watermark}"])
            w.writerow(cols)
            for r in table:
                w.writerow(["" if r.get(c) is None else r.get(c) for c in cols])
    else:
        import openpyxl

        wb = openpyxl.Workbook(write_only=True)
        ws = wb.create_sheet("matches")
        ws.append([watermark])
        ws.append(cols)
        for r in table:
            ws.append([_cell(r.get(c)) for c in cols])
        wb.save(tmp)
    tmp.replace(path)


def _cell(v):
    if isinstance(v, (list, dict)):
        v = str(v)
    if isinstance(v, str):
        # control characters (a name typed into a JSON request, say) are not allowed in a worksheet
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        v = ILLEGAL_CHARACTERS_RE.sub("\ufffd", v)
    return v
