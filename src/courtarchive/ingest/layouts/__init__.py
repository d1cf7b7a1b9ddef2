"""Declared table layouts of the PDF and Excel copies of court lists: data, not code.

One TOML file per list type in this folder (``<list type in lower case>.toml``) says what the
rendered list shows: its title (the heading line that names the list type), the default
sensitivity, and its columns in order, each a header *label* and the canonical *field* it carries::

    list_type = "MAGISTRATES_PUBLIC_LIST"
    title = "Magistrates Public List"
    sensitivity = "PUBLIC"
    columns = [
      { label = "No.", field = "entry" },
      { label = "Courtroom", field = "hearing.room" },
      { label = "Name", field = "party.name_as_listed" },
      { label = "Offence", field = "offence.title" },
    ]

Fields are ``hearing.<f>``, ``party.<f>`` or ``offence.<f>`` of the canonical model
(`courtarchive.model.declaration`), plus three of the layout's own:

``entry``
    the row's place in the list: ``12`` (the 12th hearing entry) or ``12.2`` (its 2nd defendant).
    Required: it is how rows group into hearings and defendants (names and URNs need not be unique).
``hearing.complainants``
    complainant names, ``;`` between several: never stored as read; they go to the intake gate.
``party.name_as_listed``
    the name as the list prints it; when the layout has no name-part columns the parts are split
    from it (``Mr John SMITH`` / ``SMITH, John``), when it has them but no name column the name is
    their join.

A cell's kind (date, time, number, yes/no, text) follows the model field's kind; ``kind = "..."``
in a column overrides it.  `courtarchive.ingest.layouts.table` reads and writes rows by these
declarations, for PDF (`ingest.pdf`) and Excel (`ingest.xlsx`) alike.  Adding a layout = adding a
file here (docs/intake-layouts.md).
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from importlib import resources

from ...model.declaration import ENTITIES

__all__ = ["Column", "Layout", "layouts", "layout_for", "detect", "norm_label", "HEADING"]

#: the heading lines above the table (label -> publication field); shared by every layout
HEADING = {
    "Court": "court_name",
    "Court code": "court_code",
    "Court postcode": "court_postcode",
    "List date": "content_date",
    "List end date": "content_date_end",
    "Version": "version",
    "Published": "published_at",
}
_SPECIAL = {"entry": "entry", "hearing.complainants": "names"}
_KINDS = {"date": "date", "int": "int", "bigint": "int", "bool": "bool", "str": "text", "text": "text"}
KINDS = frozenset({"entry", "names", "date", "time", "int", "bool", "text"})


def norm_label(label: str) -> str:
    """Labels compare case-insensitively, whitespace collapsed."""
    return re.sub(r"\s+", " ", str(label)).strip().casefold()


@dataclass(frozen=True)
class Column:
    label: str
    field: str            # entry | hearing.x | party.x | offence.x | hearing.complainants
    kind: str             # entry | names | date | time | int | bool | text

    @property
    def entity(self) -> str:
        return self.field.partition(".")[0] if "." in self.field else "entry"

    @property
    def attr(self) -> str:
        return self.field.partition(".")[2]


@dataclass(frozen=True)
class Layout:
    list_type: str
    title: str
    sensitivity: str
    columns: tuple[Column, ...]
    source: str

    @functools.cached_property
    def by_label(self) -> dict[str, Column]:
        return {norm_label(c.label): c for c in self.columns}

    def has(self, field: str) -> bool:
        return any(c.field == field for c in self.columns)


def _column(raw: dict, where: str) -> Column:
    if not isinstance(raw, dict) or not isinstance(raw.get("label"), str) or not isinstance(raw.get("field"), str):
        raise ValueError(f"{where}: a column needs a label and a field")
    field = raw["field"]
    kind = raw.get("kind") or _SPECIAL.get(field)
    if kind is None:
        entity, _, attr = field.partition(".")
        if entity not in ("hearing", "party", "offence"):
            raise ValueError(f"{where}: field {field!r} is not hearing.*, party.* or offence.*")
        try:
            f = ENTITIES[entity].field(attr)
        except (KeyError, LookupError):
            raise ValueError(f"{where}: the model has no field {field!r}") from None
        if f.name in ("json_path", "hearing_ref", "party_ref", "role") or not f.parsed:
            raise ValueError(f"{where}: field {field!r} is not one a list carries")
        kind = "time" if field == "hearing.sitting_time" else _KINDS.get(f.kind, "text")
    if kind not in KINDS:
        raise ValueError(f"{where}: unknown kind {kind!r}")
    return Column(raw["label"], field, kind)


def _load(name: str, text: str) -> Layout:
    data = tomllib.loads(text)
    cols = tuple(_column(c, f"{name} column {i + 1}") for i, c in enumerate(data.get("columns", ())))
    if not any(c.kind == "entry" for c in cols):
        raise ValueError(f"{name}: a layout needs an `entry` column")
    if len({norm_label(c.label) for c in cols}) != len(cols):
        raise ValueError(f"{name}: two columns share a label")
    return Layout(str(data["list_type"]), str(data["title"]), str(data.get("sensitivity", "CLASSIFIED")).upper(),
                  cols, name)


@functools.lru_cache(maxsize=None)
def layouts() -> dict[str, Layout]:
    """Every declared layout, by list type."""
    out: dict[str, Layout] = {}
    for res in sorted(resources.files(__package__).iterdir(), key=lambda r: r.name):
        if res.name.endswith(".toml"):
            lay = _load(res.name, res.read_text("utf-8"))
            if lay.list_type in out:
                raise ValueError(f"two layouts for {lay.list_type}")
            out[lay.list_type] = lay
    return out


def layout_for(list_type: str) -> Layout | None:
    return layouts().get(list_type)


def detect(title_lines: list[str], header: list[str]) -> list[Layout]:
    """Layouts a table may be: the one whose title is a heading line (exact, any case), else
    those whose columns include every header label.  Empty: no layout fits."""
    labels = {norm_label(h) for h in header if h is not None and str(h).strip()}
    titles = {norm_label(t) for t in title_lines}
    fits = [lay for lay in layouts().values() if labels <= lay.by_label.keys()]
    named = [lay for lay in fits if norm_label(lay.title) in titles]
    return named or fits
