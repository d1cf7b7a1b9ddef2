"""The canonical model of courtarchive, declared once, as data.

Every table in the store, every record type the parsers emit and every field the
disclosure policy talks about derive from ENTITIES below.  Nothing else declares
columns.  (followthemoney-style: the model is data; code reads it.)

Field kinds
    str, text, int, bigint, float, bool, date, datetime, bytes, json
Sensitivity classes (read by governance.policy)
    public       court/list facts anyone may see (court, date, room, URN, offence title)
    case         case-level facts shown to the public on public lists (names of defendants
                 appear here too on public lists, but are classed as `identity` below)
    identity     names of natural persons (defendants, other individual parties)
    personal     date of birth, address, gender, ids (ASN/PNC), custody
    wording      offence wording (may carry identifying matter of others)
    pseudonym    keyed pseudonyms and encodings (never reversible without the key)
    internal     housekeeping (ids, hashes, provenance paths)
    never        complainant identity: not stored in clear, never output (listed for the policy)
Refs
    `ref="table"` marks a foreign key to that table's `id`.
    `local="entity"` on a record field marks an index into the same ParsedList's list of that
    entity (parsers cannot know database ids); the store resolves it to the database id.
"""

from __future__ import annotations

from dataclasses import dataclass, field as dc_field
from typing import Literal

Kind = Literal["str", "text", "int", "bigint", "float", "bool", "date", "datetime", "bytes", "json"]


@dataclass(frozen=True)
class Field:
    name: str
    kind: Kind
    sensitivity: str = "public"
    nullable: bool = True
    ref: str | None = None          # foreign key to <ref>.id
    local: str | None = None        # parser-side index into ParsedList.<local>s
    index: bool = False
    unique: bool = False
    stored: bool = True             # False: carried in records only, never a column
    parsed: bool = True             # False: set by the store, not by parsers
    doc: str = ""
    length: int | None = None


@dataclass(frozen=True)
class Entity:
    name: str
    doc: str
    fields: tuple[Field, ...]
    parsed: bool = True             # parsers emit records of this entity
    indexes: tuple[tuple[str, ...], ...] = ()
    uniques: tuple[tuple[str, ...], ...] = ()

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"{self.name}.{name}")

    @property
    def columns(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.stored)

    @property
    def record_fields(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields if f.parsed)


def F(name: str, kind: Kind, sensitivity: str = "public", **kw) -> Field:
    return Field(name, kind, sensitivity, **kw)


def _prov() -> tuple[Field, ...]:
    """Provenance carried by every stored fact: which publication, where in it."""
    return (
        F("publication_id", "bigint", "internal", ref="publication", parsed=False, index=True,
          doc="the publication (list as received) this fact was read from"),
        F("json_path", "str", "internal", doc="JSON path of the fact inside its publication"),
    )


ENTITIES: dict[str, Entity] = {}


def _add(e: Entity) -> Entity:
    ENTITIES[e.name] = e
    return e


COURT = _add(Entity(
    "court", "A court building, from the shipped FaCT reference table or first seen in a list.",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("fact_court_id", "bigint", "internal", unique=True),
        F("name", "str", nullable=False, index=True),
        F("slug", "str", unique=True),
        F("court_types", "str"),
        F("town", "str", index=True),
        F("postcode", "str"),
        F("lat", "float"),
        F("lon", "float"),
        F("crown_court_code", "str", index=True),
        F("magistrate_code", "str"),
        F("police_force_area", "str", index=True),
        F("country", "str"),
        F("region", "str"),
        F("source", "str", "internal", nullable=False, doc="reference | list"),
    ),
    parsed=False,
))

PUBLICATION = _add(Entity(
    "publication", "One list as received (a CaTH artefact, a CSV register, ...).",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("list_type", "str", nullable=False, index=True, doc="CaTH x-list-type, e.g. MAGISTRATES_STANDARD_LIST"),
        F("court_id", "bigint", ref="court", parsed=False, index=True),
        F("court_name", "str", doc="court named by the list (before resolution)"),
        F("court_code", "str", doc="court code named by the list or x-court-id"),
        F("court_postcode", "str"),
        F("content_date", "date", index=True, doc="x-content-date: the day the list is for"),
        F("content_date_end", "date", doc="last day covered (warned/firm lists span days)"),
        F("version", "str", doc="list version given by the source"),
        F("published_at", "datetime", doc="publication time given by the source"),
        F("sensitivity", "str", nullable=False, doc="PUBLIC | PRIVATE | CLASSIFIED"),
        F("language", "str", doc="ENGLISH | WELSH | BI_LINGUAL"),
        F("display_from", "datetime"),
        F("display_to", "datetime"),
        F("provenance", "str", doc="x-provenance (e.g. MANUAL_UPLOAD, SNL, COMMON_PLATFORM)"),
        F("source_artefact_id", "str"),
        F("source_name", "str", "internal", doc="file name or message the list came from"),
        F("source_format", "str", "internal", doc="cath-json | csv | ..."),
        F("content_hash", "str", "internal", nullable=False, unique=True, parsed=False,
          doc="sha256 of the canonical JSON of the document: the idempotency key"),
        F("superseded_by", "bigint", "internal", ref="publication", parsed=False, index=True),
        F("ingested_at", "datetime", "internal", parsed=False),
        F("entry_count", "int", "internal", parsed=False),
        F("raw_expired_at", "datetime", "internal", parsed=False,
          doc="when raw identities read from it were pseudonymised (retention)"),
    ),
    indexes=(("court_id", "list_type", "content_date"),),
))

CASE = _add(Entity(
    "case", "One prosecution case across all its hearings and courts.",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("case_key", "str", "internal", nullable=False, unique=True,
          doc="urn:<URN> when a URN is known, else cn:<court>:<case number>:<defendant key>"),
        F("urn", "str", index=True),
        F("case_number", "str", index=True),
        F("first_court_id", "bigint", ref="court"),
        F("first_publication_id", "bigint", "internal", ref="publication"),
    ),
    parsed=False,
))

HEARING = _add(Entity(
    "hearing", "One case listed at one sitting of one publication (a hearing entry).",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        *_prov(),
        F("case_id", "bigint", "internal", ref="case", parsed=False, index=True),
        F("court_id", "bigint", ref="court", parsed=False),   # indexed by (court_id, sitting_date)
        F("court_name", "str", doc="court house named at this entry"),
        F("court_code", "str"),
        F("sitting_date", "date", index=True),
        F("sitting_time", "str", doc="HH:MM local"),
        F("room", "str"),
        F("session_type", "str"),
        F("hearing_type", "str"),
        F("channel", "str"),
        F("judiciary", "str"),
        F("panel", "str", doc="ADULT | YOUTH ..."),
        F("list_note", "text"),
        F("case_urn", "str", stored=False, doc="URN as listed (used to key the case)"),
        F("case_number", "str", doc="case number as listed"),
        F("case_sequence", "str"),
        F("case_name", "str", "identity"),
        F("linked_case_numbers", "str"),
        F("originating_court", "str", doc="for Crown lists: the court the case arrived from"),
        F("prosecuting_authority", "str"),
        F("reporting_restriction", "bool"),
        F("reporting_restriction_detail", "text"),
        F("case_key", "str", "internal", stored=False, doc="optional override of the case key"),
    ),
    indexes=(("court_id", "sitting_date"),),
))

PARTY = _add(Entity(
    "party", "A party as it appears at one hearing (defendant, prosecutor, applicant, ...). "
             "Complainants never become party rows: the intake gate turns them into complainant rows.",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        *_prov(),
        F("hearing_id", "bigint", "internal", ref="hearing", parsed=False, index=True),
        F("hearing_ref", "int", "internal", local="hearing", stored=False, nullable=False),
        F("case_id", "bigint", "internal", ref="case", parsed=False, index=True),
        F("role", "str", nullable=False, doc="DEFENDANT, PROSECUTING_AUTHORITY, APPLICANT, RESPONDENT, ..."),
        F("title", "str", "identity"),
        F("forenames", "str", "identity"),
        F("middle_names", "str", "identity"),
        F("surname", "str", "identity"),
        F("organisation_name", "str", "case"),
        F("name_as_listed", "str", "identity", doc="the name as one string, as the list gives it"),
        F("date_of_birth", "date", "personal"),
        F("age", "int", "personal"),
        F("gender", "str", "personal"),
        F("address", "text", "personal"),
        F("town", "str", "personal"),
        F("county", "str", "personal"),
        F("postcode", "str", "personal"),
        F("asn", "str", "personal"),
        F("pnc_id", "str", "personal"),
        F("in_custody", "bool", "personal"),
        F("nationality", "str", "personal"),
        F("is_masked", "bool"),
        F("pseudonymised", "bool", "internal", parsed=False,
          doc="identity fields replaced by keyed pseudonyms (retention expiry)"),
    ),
))

OFFENCE = _add(Entity(
    "offence", "One charge against one party at one hearing.",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        *_prov(),
        F("party_id", "bigint", "internal", ref="party", parsed=False, index=True),
        F("party_ref", "int", "internal", local="party", stored=False, nullable=False),
        F("hearing_id", "bigint", "internal", ref="hearing", parsed=False, index=True),
        F("case_id", "bigint", "internal", ref="case", parsed=False, index=True),
        F("seq", "int"),
        F("code", "str", index=True, doc="CJS offence code"),
        F("title", "text"),
        F("wording", "text", "wording", doc="offence wording with complainant identities replaced by tokens"),
        F("legislation", "text"),
        F("max_penalty", "text"),
        F("plea", "str"),
        F("plea_date", "date"),
        F("conviction_date", "date"),
        F("adjourned_date", "date"),
        F("offence_date", "date"),
        F("reporting_restriction", "bool"),
        F("reporting_restriction_detail", "text"),
    ),
))

COMPLAINANT = _add(Entity(
    "complainant", "A complainant mention, pseudonymised at intake. No cleartext identity, ever.",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        *_prov(),
        F("offence_id", "bigint", "internal", ref="offence", parsed=False, index=True),
        F("offence_ref", "int", "internal", local="offence", stored=False),
        F("hearing_id", "bigint", "internal", ref="hearing", parsed=False, index=True),
        F("hearing_ref", "int", "internal", local="hearing", stored=False, nullable=False),
        F("case_id", "bigint", "internal", ref="case", parsed=False, index=True),
        F("kind", "str", "internal", doc="named | initials | party | described"),
        F("token", "str", "pseudonym", index=True, doc="keyed HMAC-SHA256 of the normalised identity"),
        F("key_id", "str", "internal", doc="id of the key that made the token (key rotation)"),
        F("bloom", "bytes", "pseudonym", doc="keyed Bloom-filter encoding of name q-grams (PPRL)"),
        F("descriptor", "str", "never", doc="coarse description (e.g. 'girl under 16'); never output"),
        F("evidence", "str", "internal", doc="which extractor rule matched"),
        F("initials_token", "str", "pseudonym", index=True,
          doc="for a named complainant: the token the same person's initials get in this case, "
              "so 'Jane SMITH' and 'J.S.' of one case link without cleartext"),
    ),
))

QUARANTINE = _add(Entity(
    "quarantine", "A rejected input: what, where and why. Nothing of it reached any other table.",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("source_name", "str", "internal", nullable=False),
        F("content_hash", "str", "internal", index=True),
        F("reason", "text", "internal", nullable=False),
        F("json_path", "str", "internal"),
        F("rejected_at", "datetime", "internal", nullable=False),
    ),
    parsed=False,
))

#: which entities a parser emits, in dependency order
PARSED_ENTITIES: tuple[str, ...] = ("hearing", "party", "offence", "complainant")


# ---- link stage ----
# Entities written by `courtarchive link` (package courtarchive.link; store side in
# store/linkage.py).  A *person* is a linked cluster of mentions (defendant party rows, or
# pseudonymised complainant rows) with an id that stays stable across runs; a *network* is a
# component or Leiden community of the defendant graph.  No cleartext of complainants here either:
# complainant persons are clusters of tokens.

LINK_RUN = _add(Entity(
    "link_run", "One run of the link stage (full or incremental): its model, thresholds and counts.",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("mode", "str", "internal", nullable=False, doc="full | incremental"),
        F("engine", "str", "internal", doc="duckdb | spark"),
        F("started_at", "datetime", "internal", nullable=False),
        F("finished_at", "datetime", "internal"),
        F("status", "str", "internal", nullable=False,
          doc="running | done | failed | interrupted (its process died: marked by the next run)"),
        F("threshold", "float", "internal", doc="match probability at or above which pairs link"),
        F("review_low", "float", "internal", doc="lower bound of the review band"),
        F("review_high", "float", "internal", doc="upper bound (exclusive) of the review band"),
        F("model", "json", "internal",
          doc="the trained Splink model (settings with m/u parameters); incremental runs reuse it"),
        F("stats", "json", "internal", doc="counts: mentions, persons, merges, splits, unlinkable ..."),
    ),
    parsed=False,
))

PERSON = _add(Entity(
    "person", "A linked person: a cluster of defendant mentions or of complainant mentions. "
              "The id is stable across runs (a re-formed cluster keeps the id of the cluster it "
              "shares most mentions with).",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("kind", "str", "internal", nullable=False, index=True, doc="defendant | complainant"),
        F("mentions", "int", "internal", doc="number of mentions in the cluster"),
        F("created_run_id", "bigint", "internal", ref="link_run"),
        F("updated_run_id", "bigint", "internal", ref="link_run"),
        F("retired_run_id", "bigint", "internal", ref="link_run",
          doc="set when the cluster no longer exists (merged into another or split up)"),
        F("merged_into", "bigint", "internal", ref="person", doc="the person this one was merged into"),
    ),
    parsed=False,
))

PERSON_MENTION = _add(Entity(
    "person_mention", "Which person each mention belongs to (current assignment; one row per mention).",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("person_id", "bigint", "internal", nullable=False, ref="person", index=True),
        F("kind", "str", "internal", nullable=False, doc="defendant | complainant"),
        F("party_id", "bigint", "internal", ref="party", unique=True, doc="the defendant mention"),
        F("complainant_id", "bigint", "internal", ref="complainant", unique=True,
          doc="the complainant mention"),
        F("run_id", "bigint", "internal", ref="link_run", doc="the run that last assigned it"),
        F("probability", "float", "internal",
          doc="highest match probability of an edge joining the mention to its cluster (null: alone)"),
    ),
    parsed=False,
))

NETWORK = _add(Entity(
    "network", "A network of linked defendants: a connected component of the defendant graph, or "
               "a Leiden community inside one.  Stable ids as for persons.",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("kind", "str", "internal", nullable=False, index=True, doc="component | community"),
        F("parent_id", "bigint", "internal", ref="network", doc="for a community: its component"),
        F("size", "int", "internal", doc="distinct defendants (persons)"),
        F("cases", "int", "internal", doc="distinct cases of its defendants"),
        F("complainants", "int", "internal", doc="distinct complainant persons linked to it"),
        F("created_run_id", "bigint", "internal", ref="link_run"),
        F("updated_run_id", "bigint", "internal", ref="link_run"),
        F("retired_run_id", "bigint", "internal", ref="link_run"),
    ),
    parsed=False,
))

NETWORK_MEMBER = _add(Entity(
    "network_member", "A defendant (person) in a network (current membership).",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("network_id", "bigint", "internal", nullable=False, ref="network", index=True),
        F("person_id", "bigint", "internal", nullable=False, ref="person", index=True),
        F("run_id", "bigint", "internal", ref="link_run"),
    ),
    parsed=False,
    uniques=(("network_id", "person_id"),),
))

REVIEW_DECISION = _add(Entity(
    "review_decision", "A reviewer's decision on a pair of defendant mentions; every later run respects "
                       "it (same: must-link; different: cannot-link).  The latest decision on a pair wins.",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("party_a", "bigint", "internal", nullable=False, ref="party", index=True, doc="smaller party id"),
        F("party_b", "bigint", "internal", nullable=False, ref="party", index=True, doc="larger party id"),
        F("decision", "str", "internal", nullable=False, doc="same | different"),
        F("reviewer", "str", "internal", nullable=False),
        F("decided_at", "datetime", "internal", nullable=False),
        F("note", "text", "internal"),
        F("applied_run_id", "bigint", "internal", ref="link_run", doc="first run that applied it"),
    ),
    parsed=False,
))

REVIEW_QUEUE = _add(Entity(
    "review_queue", "Pairs of defendant mentions whose match probability fell in the review band at "
                    "the latest run, with no decision yet.  Replaced by every run.",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("run_id", "bigint", "internal", ref="link_run", index=True),
        F("party_a", "bigint", "internal", nullable=False, ref="party", index=True),
        F("party_b", "bigint", "internal", nullable=False, ref="party"),
        F("match_probability", "float", "internal"),
        F("match_weight", "float", "internal"),
        F("person_a", "bigint", "internal", ref="person"),
        F("person_b", "bigint", "internal", ref="person"),
    ),
    parsed=False,
))


# ---- governance ----
# Entities written by package courtarchive.governance (store side in store/governance.py): the
# accounts the disclosure gate knows, reporting-restriction orders, legal holds, retention runs and
# the coarse attributes kept when raw identities expire, the hash-chained audit log, rights
# requests, convictions (spent-conviction computation), exports and approved recipient domains.
# No cleartext of a data subject is stored in any of them: subjects appear as ids or keyed tokens.

ACCOUNT = _add(Entity(
    "account", "A user of the archive with a role; verified media carry a verification record "
               "(press card, employer, who verified, expiry 365 days after verification).",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("username", "str", "internal", nullable=False, unique=True),
        F("email", "str", "internal"),
        F("role", "str", "internal", nullable=False, doc="public | verified_media | analyst | admin"),
        F("organisation", "str", "internal", doc="employer / organisation"),
        F("press_card", "str", "internal", doc="press card number (e.g. UK Press Card)"),
        F("press_card_issuer", "str", "internal"),
        F("verified_by", "str", "internal", doc="the person who checked the accreditation"),
        F("verified_at", "datetime", "internal"),
        F("verification_expires", "datetime", "internal", doc="verified_at + 365 days"),
        F("active", "bool", "internal"),
        F("created_at", "datetime", "internal", nullable=False),
        F("password_hash", "str", "never", doc="argon2id hash (argon2-cffi); null: cannot sign in"),
    ),
    parsed=False,
))

RESTRICTION = _add(Entity(
    "restriction", "A reporting restriction attached to a case (or one party of it): the law, the "
                   "scope, start and end; read from list flags / reportingRestrictionDetail or "
                   "entered by a person.  Lifting needs a person (lifted_by).",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("rule", "str", "internal", nullable=False, index=True, doc="rule id in governance.rules"),
        F("law", "str", "internal", nullable=False, doc="citation, e.g. YJCEA 1999 s.45"),
        F("case_id", "bigint", "internal", ref="case", index=True),
        F("party_id", "bigint", "internal", ref="party", index=True),
        F("hearing_id", "bigint", "internal", ref="hearing"),
        F("scope", "str", "internal", nullable=False, doc="case | party | wording"),
        F("start_date", "date", "internal"),
        F("end_kind", "str", "internal", nullable=False, doc="until_18 | lifetime | date | until_lifted"),
        F("end_date", "date", "internal"),
        F("source", "str", "internal", nullable=False, doc="list_flag | detail_text | manual"),
        F("source_hash", "str", "internal", unique=True,
          doc="sha256 of (rule, case, party, hearing, source text): makes syncing idempotent"),
        F("created_at", "datetime", "internal", nullable=False),
        F("created_by", "str", "internal"),
        F("lifted_at", "datetime", "internal"),
        F("lifted_by", "str", "internal"),
        F("lift_reason", "text", "internal"),
    ),
    parsed=False,
))

HOLD = _add(Entity(
    "hold", "A legal hold: pauses retention expiry and erasure for its scope until released.",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("scope", "str", "internal", nullable=False, doc="archive | court | case | person"),
        F("ref", "str", "internal", doc="court id, case id/URN, person id or party:<id>; none for archive"),
        F("reason", "text", "internal", nullable=False),
        F("authority", "text", "internal", nullable=False, doc="who or what requires it (order, claim, regulator)"),
        F("created_at", "datetime", "internal", nullable=False),
        F("created_by", "str", "internal", nullable=False),
        F("released_at", "datetime", "internal"),
        F("released_by", "str", "internal"),
        F("release_reason", "text", "internal"),
    ),
    parsed=False,
))

RETENTION_RUN = _add(Entity(
    "retention_run", "One run of the expiry job (pseudonymise-on-expiry) or of an erasure: counts "
                     "and a proof hash chained over every committed batch.",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("kind", "str", "internal", nullable=False, doc="expire | erase | rectify"),
        F("started_at", "datetime", "internal", nullable=False),
        F("finished_at", "datetime", "internal"),
        F("status", "str", "internal", nullable=False, doc="running | done | failed | interrupted"),
        F("as_of", "date", "internal", nullable=False, doc="the 'now' the cut-offs were computed from"),
        F("actor", "str", "internal"),
        F("profile", "json", "internal", doc="the licence profile's retention settings used"),
        F("counts", "json", "internal", doc="publications, parties, fields, held, hooks ..."),
        F("proof_hash", "str", "internal", doc="sha256 chain over the committed batches' row ids and tokens"),
        F("batches", "int", "internal"),
    ),
    parsed=False,
))

PARTY_COARSE = _add(Entity(
    "party_coarse", "Coarse attributes kept for a party whose raw identity expired (analysis keeps "
                    "working): its keyed person token, age band, outward postcode, police force area.",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("party_id", "bigint", "internal", nullable=False, ref="party", unique=True),
        F("token", "str", "pseudonym", index=True, doc="Keyring.token('person', normalised name|dob)"),
        F("key_id", "str", "internal"),
        F("age_band", "str", "pseudonym", doc="e.g. 18-24, 25-34, under 18"),
        F("outward_postcode", "str", "pseudonym"),
        F("police_force_area", "str", "pseudonym"),
        F("run_id", "bigint", "internal", ref="retention_run"),
    ),
    parsed=False,
))

AUDIT_EVENT = _add(Entity(
    "audit_event", "Append-only, hash-chained log of every search, view, export, alert, admin action "
                   "and deletion.  hash = sha256(prev_hash + canonical event); never updated.",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False, doc="equals seq"),
        F("seq", "bigint", "internal", nullable=False, unique=True, doc="1, 2, 3 ... without gaps"),
        F("time", "datetime", "internal", nullable=False),
        F("actor", "str", "internal", nullable=False),
        F("role", "str", "internal", nullable=False),
        F("action", "str", "internal", nullable=False, index=True),
        F("purpose", "str", "internal"),
        F("object", "text", "internal", doc="what was touched: entity:id list, never a cleartext identity"),
        F("details", "json", "internal"),
        F("prev_hash", "str", "internal", nullable=False),
        F("hash", "str", "internal", nullable=False),
    ),
    parsed=False,
))

RIGHTS_REQUEST = _add(Entity(
    "rights_request", "A data subject's request (access, erasure, rectification, objection) and the "
                      "decision on it, incl. the journalism exemption (DPA 2018 Sch 2 para 26) with reasons.",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("kind", "str", "internal", nullable=False, doc="access | erasure | rectification | objection"),
        F("received_at", "datetime", "internal", nullable=False),
        F("subject_token", "str", "pseudonym", doc="keyed token of the subject's name (and DOB): no cleartext"),
        F("found", "json", "internal", doc="what was found: counts and row ids per table"),
        F("status", "str", "internal", nullable=False, doc="open | decided | done"),
        F("decision", "str", "internal", doc="comply | partial | refuse_exempt"),
        F("exemption", "str", "internal", doc="e.g. DPA 2018 Sch 2 para 26"),
        F("reasons", "text", "internal"),
        F("decided_by", "str", "internal"),
        F("decided_at", "datetime", "internal"),
        F("completed_at", "datetime", "internal"),
    ),
    parsed=False,
))

CONVICTION = _add(Entity(
    "conviction", "A conviction with its sentence, and when it becomes spent (Rehabilitation of "
                  "Offenders Act 1974 as amended 2023).",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("party_id", "bigint", "internal", ref="party", index=True),
        F("case_id", "bigint", "internal", ref="case", index=True),
        F("offence_id", "bigint", "internal", ref="offence"),
        F("offence_code", "str", "internal"),
        F("conviction_date", "date", "internal", nullable=False),
        F("sentence_type", "str", "internal", nullable=False,
          doc="custody | suspended | community | yro | fine | conditional_discharge | absolute_discharge | "
              "bind_over | life | ipp | extended"),
        F("custody_months", "float", "internal", doc="length of custodial sentence (incl. suspended)"),
        F("sentence_end", "date", "internal", doc="end of the sentence incl. licence / end of the order"),
        F("under_18", "bool", "internal", doc="under 18 at conviction"),
        F("sch18", "bool", "internal", doc="Sentencing Code Sch 18 offence"),
        F("spent_on", "date", "internal", doc="null when never spent"),
        F("never_spent", "bool", "internal"),
        F("basis", "text", "internal", doc="how spent_on was computed"),
    ),
    parsed=False,
))

EXPORT_RECORD = _add(Entity(
    "export_record", "An export or alert delivery made through the disclosure gate: who, for whom, "
                     "watermark, and whether its file was purged on expiry.",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("username", "str", "internal", nullable=False),
        F("role", "str", "internal", nullable=False),
        F("kind", "str", "internal", nullable=False, doc="export | alert | digest"),
        F("what", "str", "internal"),
        F("path", "text", "internal", doc="file written (exports cache)"),
        F("rows", "int", "internal"),
        F("recipient", "str", "internal"),
        F("recipient_domain", "str", "internal", index=True),
        F("watermark", "str", "internal"),
        F("created_at", "datetime", "internal", nullable=False),
        F("purged_at", "datetime", "internal"),
    ),
    parsed=False,
))

DOMAIN_APPROVAL = _add(Entity(
    "domain_approval", "A recipient e-mail domain an admin approved (free webmail is refused otherwise).",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("domain", "str", "internal", nullable=False, index=True),
        F("organisation", "str", "internal"),
        F("approved_by", "str", "internal", nullable=False),
        F("reason", "text", "internal", nullable=False),
        F("approved_at", "datetime", "internal", nullable=False),
        F("revoked_at", "datetime", "internal"),
    ),
    parsed=False,
))


# ---- serve ----
# Entities written by package courtarchive.serve (store side in store/serve.py and store/search.py):
# web sessions, API tokens, login attempts (rate limits), alert subscriptions and the matches sent,
# and the name search index (a derived store: rebuilt from party/hearing rows, rewritten on expiry
# and erasure through a governance hook).  Secrets are stored as hashes only.

WEB_SESSION = _add(Entity(
    "web_session", "A signed-in browser session: the cookie carries a random token, the store keeps "
                   "its SHA-256 and the session's CSRF token.",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("account_id", "bigint", "internal", nullable=False, ref="account", index=True),
        F("token_hash", "str", "never", nullable=False, unique=True),
        F("csrf_token", "str", "never", nullable=False),
        F("created_at", "datetime", "internal", nullable=False),
        F("expires_at", "datetime", "internal", nullable=False),
        F("last_seen", "datetime", "internal"),
        F("ip", "str", "internal"),
        F("user_agent", "str", "internal"),
    ),
    parsed=False,
))

API_TOKEN = _add(Entity(
    "api_token", "A bearer token for the JSON API (shown once; stored as its SHA-256).",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("account_id", "bigint", "internal", nullable=False, ref="account", index=True),
        F("name", "str", "internal", nullable=False),
        F("token_hash", "str", "never", nullable=False, unique=True),
        F("prefix", "str", "internal", doc="first characters, to tell tokens apart in listings"),
        F("created_at", "datetime", "internal", nullable=False),
        F("expires_at", "datetime", "internal"),
        F("last_used_at", "datetime", "internal"),
        F("revoked_at", "datetime", "internal"),
    ),
    parsed=False,
))

LOGIN_ATTEMPT = _add(Entity(
    "login_attempt", "A sign-in attempt (for rate limits per username and per address).",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("username", "str", "internal", index=True),
        F("ip", "str", "internal", index=True),
        F("at", "datetime", "internal", nullable=False, index=True),
        F("ok", "bool", "internal", nullable=False),
    ),
    parsed=False,
))

SUBSCRIPTION = _add(Entity(
    "subscription", "An alert subscription: a person name (fuzzy), URN, court, offence group or saved "
                    "search, or a followed case / person / network; matches go out as e-mail digests.",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("account_id", "bigint", "internal", nullable=False, ref="account", index=True),
        F("kind", "str", "internal", nullable=False,
          doc="name | urn | court | offence_group | search | case | person | network"),
        F("query", "text", "identity", doc="the name, URN, court id/slug, group or search text followed"),
        F("params", "json", "internal", doc="extra parameters (search facets, date of birth, threshold)"),
        F("label", "str", "internal"),
        F("unsubscribe_token", "str", "never", nullable=False, unique=True),
        F("active", "bool", "internal", nullable=False),
        F("created_at", "datetime", "internal", nullable=False),
        F("last_run_at", "datetime", "internal"),
    ),
    parsed=False,
))

ALERT_MATCH = _add(Entity(
    "alert_match", "A listing that matched a subscription; sent once, in a digest.",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("subscription_id", "bigint", "internal", nullable=False, ref="subscription", index=True),
        F("hearing_id", "bigint", "internal", ref="hearing", index=True),
        F("case_id", "bigint", "internal", ref="case"),
        F("score", "float", "internal"),
        F("event", "str", "internal", doc="listed | adjourned | court_changed | plea | outcome"),
        F("matched_at", "datetime", "internal", nullable=False),
        F("sent_at", "datetime", "internal"),
        F("seen_at", "datetime", "internal", doc="when the follower saw it in the app (None: unread)"),
        F("export_record_id", "bigint", "internal", ref="export_record"),
    ),
    parsed=False,
    uniques=(("subscription_id", "hearing_id"),),
))

BEAT = _add(Entity(
    "beat", "A news beat: an area (courts, towns, police force areas, a radius around a newsroom) plus "
            "offence groups; the daily digest ranks the day's listed cases of the beat.  Beats are shared "
            "by every account of the archive (the owner, when set, and admins may remove one).",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("name", "str", "internal", nullable=False, unique=True, doc="the beat's name (unique, as typed)"),
        F("owner_account_id", "bigint", "internal", ref="account", index=True,
          doc="the account that created it (null: made from the command line without an account)"),
        F("courts", "json", "internal", doc="court ids (store court.id) in the beat"),
        F("towns", "json", "internal", doc="court towns in the beat (as in the court reference)"),
        F("police_force_areas", "json", "internal", doc="police force areas whose courts are in the beat"),
        F("centre", "str", "internal", doc="the newsroom: a town of the reference, or lat,lon"),
        F("centre_lat", "float", "internal", doc="latitude of the centre"),
        F("centre_lon", "float", "internal", doc="longitude of the centre"),
        F("radius_km", "float", "internal", doc="courts within this distance of the centre are in the beat"),
        F("offence_groups", "json", "internal", doc="offence groups (data/offences.csv); empty: every group"),
        F("created_at", "datetime", "internal", nullable=False),
        F("created_by", "str", "internal", doc="user name that created it"),
    ),
    parsed=False,
))

SEARCH_NAME = _add(Entity(
    "search_name", "Name search index: one row per party mention (derived from party + hearing; "
                   "rebuilt at will; expired or erased parties are removed through a governance hook).",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("party_id", "bigint", "internal", nullable=False, ref="party", unique=True),
        F("person_id", "bigint", "internal", ref="person", index=True),
        F("case_id", "bigint", "internal", ref="case", index=True),
        F("hearing_id", "bigint", "internal", ref="hearing"),
        F("court_id", "bigint", "internal", ref="court", index=True),
        F("sitting_date", "date", "public", index=True),
        F("role", "str", "public"),
        F("name_norm", "str", "identity", nullable=False, doc="normalised full name (search key)"),
        F("surname_norm", "str", "identity", index=True),
        F("forenames_norm", "str", "identity"),
        F("birth_year", "int", "personal"),
        F("town", "str", "personal"),
        F("offence_groups", "str", "public"),
    ),
    parsed=False,
    # a name's mentions are read from this index alone (a search expands its names to their
    # mentions: every column it reads back and filters on, no table look-up per row)
    indexes=(("name_norm", "person_id", "party_id", "sitting_date", "court_id", "case_id", "hearing_id",
              "offence_groups", "role"),),
))

SEARCH_KEY = _add(Entity(
    "search_key", "Name search index, one row per distinct normalised name of search_name (many "
                  "mentions share a name): the engine looks names up and ranks them here, once, then "
                  "expands to their mentions.  Derived; a name leaves when its last mention does.",
    (
        F("id", "bigint", "internal", nullable=False, parsed=False),
        F("name_norm", "str", "identity", nullable=False, unique=True, doc="normalised full name"),
        F("name_keys", "str", "identity", doc="variant keys of its words separated by spaces"),
    ),
    parsed=False,
))
