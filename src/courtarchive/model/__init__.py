"""The canonical model: declared once in `declaration`, record types derived in `records`."""

from .declaration import ENTITIES, PARSED_ENTITIES, Entity, Field
from .records import (
    RECORD_TYPES, Complainant, Hearing, Offence, ParsedList, Party, PublicationMeta, RawComplainant,
)

__all__ = [
    "ENTITIES", "PARSED_ENTITIES", "Entity", "Field", "Complainant", "Hearing", "Offence",
    "ParsedList", "Party", "PublicationMeta", "RECORD_TYPES", "RawComplainant",
]
