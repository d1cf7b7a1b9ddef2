"""Exports of archive tables as CSV or Parquet, through the governance gate.

An export is a distribution of data (issue 7 §9, LAW.md rules 9-12), so it goes through
`governance.distribution.export`: the receiving account must be one that may receive exports
(verified media with a valid verification, analyst, admin: ``policy.ROLES[...].may_receive``), every
row passes `governance.disclose` for that account's role and purpose (field policy, reporting
restrictions, sensitivity, spent convictions, contempt flags), one audit event is written, the
export is recorded (``export_record``) with a per-user watermark, and the file is registered so the
expiry job shreds it when the data in it expires.

The watermark is written into the file: a ``_watermark`` column (the verifiable tail of it) in CSV
and Parquet, and the full watermark, the export id and the gate's flags in the Parquet metadata.
Every disclosed row also carries ``_redacted`` (fields removed or replaced, ``;``-separated) and
``_restrictions`` (reporting-restriction rules applied).

Who is exporting: `operator` resolves the CLI user (``--as``, else ``$COURTARCHIVE_USER``, else the
operating-system user) to an account; an unknown name is the ``public`` role.
"""

from __future__ import annotations

import getpass
import os
import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from ..config import private_file
from ..governance.policy import DEFAULT_PURPOSE
from ..model.declaration import ENTITIES

if TYPE_CHECKING:      # (pyarrow is imported by the functions that build an export: commands import
    import pyarrow as pa  # this module for `operator` and `default_purpose` alone -- case, search, ...)

# complainant rows are never exported (pseudonyms only, and no complainant-level output at all)
EXPORTABLE = ("hearing", "party", "offence", "case", "publication", "court")


_EXTRA = ("age_band", "outward_postcode", "police_force_area")   # coarse values the gate gives analysts


class ExportError(ValueError):
    pass


def operator_name(as_user: str | None = None) -> str:
    """The account name the CLI acts as: ``--as``, else $COURTARCHIVE_USER, else the OS user."""
    if as_user:
        return as_user
    from ..config import settings

    s = settings()
    if s.user:
        return s.user
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment
        return "unknown"


def operator(archive, as_user: str | None = None):
    """The `Viewer` for the CLI user (an unknown account is treated as ``public``)."""
    from ..governance.accounts import viewer

    return viewer(archive, operator_name(as_user))


def default_purpose(viewer, now: dt.datetime | None = None) -> str:
    return DEFAULT_PURPOSE[viewer.effective_role(now)]


def personal_level(what: str) -> bool:
    """Whether a table holds personal-level fields (identity, personal, wording)."""
    from ..governance.policy import PERSONAL_LEVEL

    return any(f.sensitivity in PERSONAL_LEVEL for f in ENTITIES[what].columns)


def _records(archive, what: str, *, current_only: bool = False):
    for batch in archive.iter_arrow(what, current_only=current_only):
        for row in batch.to_pylist():
            row["_entity"] = what
            yield row


def _schema(archive, what: str) -> pa.Schema:
    import pyarrow as pa

    from ..store.archive import _arrow_type

    fields = [pa.field(f.name, _arrow_type(f.kind)) for f in ENTITIES[what].columns]
    if what == "party":
        fields += [pa.field(x, pa.string()) for x in _EXTRA]
    fields += [pa.field("_redacted", pa.string()), pa.field("_restrictions", pa.string()),
               pa.field("_watermark", pa.string())]
    return pa.schema(fields)


def _column(values: list, typ: pa.DataType) -> pa.Array:
    import pyarrow as pa

    if pa.types.is_date(typ) or pa.types.is_timestamp(typ):
        return pa.array([None if v is None else str(v) for v in values], pa.string()).cast(typ)
    if pa.types.is_binary(typ):
        return pa.array([None if v is None else (v.encode() if isinstance(v, str) else v) for v in values], typ)
    return pa.array(values, typ)


def export_table(archive, what: str, fmt: str, out: Path, *, viewer, purpose: str | None = None,
                 keyring=None, profile=None, home: Path | None = None, now: dt.datetime | None = None,
                 all_versions: bool = False) -> dict:
    """Export table ``what`` as ``fmt`` (csv | parquet) to ``out`` for ``viewer``, through
    `governance.distribution.export`.  Returns {id, rows, path, watermark, flags, withheld}.
    Hearings, parties and offences are those of the current version of each list (what `stats`
    counts) unless ``all_versions``: an export mixing a list's versions counted a re-issued list
    twice, with nothing in the rows to tell them apart but ``publication_id``.

    Raises `ExportError` for a bad table/format and ``governance.distribution.DistributionError``
    when the account may not receive exports; nothing is written then."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from ..config import settings
    from ..governance import distribution
    from ..governance.profile import load as load_profile
    from ..governance.pseudonym import Keyring
    from ..store import governance as sg

    if what not in EXPORTABLE:
        raise ExportError(f"cannot export {what!r}: choose one of {', '.join(EXPORTABLE)}")
    if fmt not in ("csv", "parquet"):
        raise ExportError(f"unknown format {fmt!r}: csv or parquet")
    s = settings()
    home = Path(home or s.home)
    profile = profile or load_profile(home=home)
    keyring = keyring or Keyring.from_settings(s)
    purpose = purpose or default_purpose(viewer, now)
    distribution.check_receiver(viewer, now)      # before reading anything
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)

    res = distribution.export(archive, _records(archive, what, current_only=not all_versions), viewer,
                              purpose=purpose, keyring=keyring,
                              profile=profile, home=home, what=what, kind="export", now=now)
    cache = Path(res["path"])
    schema = _schema(archive, what)
    cols: dict[str, list] = {f.name: [] for f in schema}
    with open(cache, "rb") as fh:
        header = orjson.loads(fh.readline())
        for line in fh:
            r = orjson.loads(line)
            for name in cols:
                v = r.get(name)
                if name in ("_redacted", "_restrictions"):
                    v = "; ".join(v) if v else None
                cols[name].append(v)
    table = pa.Table.from_arrays([_column(cols[f.name], f.type) for f in schema], schema=schema)
    meta = {b"courtarchive.watermark": res["watermark"].encode(), b"courtarchive.export_id": str(res["id"]).encode(),
            b"courtarchive.flags": orjson.dumps(header.get("flags", []), default=str)}
    table = table.replace_schema_metadata(meta)
    tmp = out.with_name(out.name + ".partial")
    try:
        # owner-only, whatever the umask (the file holds what the gate disclosed to this account:
        # names and dates of birth); Arrow opens the existing file, keeping its mode
        os.close(private_file(tmp))
        if fmt == "parquet":
            pq.write_table(table, tmp)
        else:
            pacsv.write_csv(table, tmp)
        tmp.replace(out)  # never leave a half-written export under the real name
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    # one registered copy: the file handed out (expiry shreds it); the JSON-lines staging copy goes
    sg.update_export(archive, res["id"], path=str(out.resolve()))
    cache.unlink(missing_ok=True)
    return {"id": res["id"], "rows": res["rows"], "path": out, "watermark": res["watermark"], "flags": res["flags"],
            "withheld": res.get("withheld") or {}}
