"""Record types derived from the declaration: what parsers emit, what the store takes.

`Hearing`, `Party`, `Offence`, `Complainant` and `PublicationMeta` are msgspec Structs
built from `declaration.ENTITIES` (every field with ``parsed=True``), all optional except
those declared ``nullable=False``.  `ParsedList` bundles one document's records with
local references between them (``Party.hearing_ref`` is an index into ``hearings``...).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

import msgspec

from .declaration import ENTITIES, PARSED_ENTITIES, Entity

_PY: dict[str, Any] = {
    "str": str, "text": str, "int": int, "bigint": int, "float": float, "bool": bool,
    "date": dt.date, "datetime": dt.datetime, "bytes": bytes, "json": Any,
}


def _struct(entity: Entity, class_name: str) -> type[msgspec.Struct]:
    required, optional = [], []
    for f in entity.record_fields:
        t = _PY[f.kind]
        if f.nullable:
            optional.append((f.name, Optional[t], None))
        else:
            required.append((f.name, t))
    return msgspec.defstruct(class_name, required + optional, kw_only=True, module=__name__)


PublicationMeta = _struct(ENTITIES["publication"], "PublicationMeta")
Hearing = _struct(ENTITIES["hearing"], "Hearing")
Party = _struct(ENTITIES["party"], "Party")
Offence = _struct(ENTITIES["offence"], "Offence")
Complainant = _struct(ENTITIES["complainant"], "Complainant")

RECORD_TYPES: dict[str, type[msgspec.Struct]] = {
    "hearing": Hearing, "party": Party, "offence": Offence, "complainant": Complainant,
}
assert tuple(RECORD_TYPES) == PARSED_ENTITIES


class RawComplainant(msgspec.Struct, kw_only=True):
    """A complainant named as a party in a list. Cleartext: lives in memory only."""

    hearing_ref: int
    name: str
    json_path: str
    offence_ref: Optional[int] = None
    date_of_birth: Optional[dt.date] = None


class ParsedList(msgspec.Struct, kw_only=True):
    """One document, parsed: publication metadata plus flat lists of records."""

    meta: PublicationMeta
    hearings: list = msgspec.field(default_factory=list)
    parties: list = msgspec.field(default_factory=list)
    offences: list = msgspec.field(default_factory=list)
    complainants: list = msgspec.field(default_factory=list)
    #: facts the parser saw but could not place (reported, not stored)
    warnings: list = msgspec.field(default_factory=list)
    #: TRANSIENT, cleartext: complainant parties as RawComplainant. Only the intake gate
    #: (ingest.gate) reads it, turns each into a pseudonymised Complainant and empties it.
    #: The store refuses a ParsedList where it is not empty.
    raw_complainants: list = msgspec.field(default_factory=list)

    def records(self, entity: str) -> list:
        return getattr(self, entity + "s")
