"""CaTH list writers, one per list type, shaped like the CaTH examples and valid against the
schemas; each file gets a ``.meta.json`` sidecar with the publication headers, and every mention of
a defendant or complainant is reported to the truth sink with its JSON path (``$``, ``.key``,
``[i]``: the convention of the ingest parsers).

    MAGISTRATES_STANDARD_LIST (press)  courtLists > courtHouse > courtRoom > session > sittings >
                                       hearing > case > party (+ offences with wording)
    MAGISTRATES_PUBLIC_LIST            the same tree: names and offence titles; no youths
    SJP_PRESS_LIST / SJP_PUBLIC_LIST   hearing > party / offence / case
    CROWN_DAILY / FIRM / WARNED_PDDA   DailyList|FirmList > CourtLists > Sittings > Hearings >
                                       Defendants; WarnedList > CourtLists > With(out)FixedDate >
                                       Fixture > Cases > Defendants
"""

from __future__ import annotations

import os
import queue
import random
import threading
import uuid
from datetime import date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson

from .cases import Case, CaseDefendant, Hearing
from .config import GenConfig
from .names import NamePools, render_person
from .places import CourtPlan
from .truth import TruthSink

__all__ = ["ListWriter", "LIST_TYPES", "SENSITIVITY"]

STD, PUB = "MAGISTRATES_STANDARD_LIST", "MAGISTRATES_PUBLIC_LIST"
SJP_PRESS, SJP_PUBLIC = "SJP_PRESS_LIST", "SJP_PUBLIC_LIST"
DAILY, FIRM, WARNED = "CROWN_DAILY_PDDA_LIST", "CROWN_FIRM_PDDA_LIST", "CROWN_WARNED_PDDA_LIST"
LIST_TYPES = (STD, PUB, SJP_PRESS, SJP_PUBLIC, DAILY, FIRM, WARNED)
#: as CaTH defaults them: press lists CLASSIFIED, public lists PUBLIC (firm/warned PDDA: CLASSIFIED)
SENSITIVITY = {STD: "CLASSIFIED", PUB: "PUBLIC", SJP_PRESS: "CLASSIFIED", SJP_PUBLIC: "PUBLIC",
               DAILY: "PUBLIC", FIRM: "CLASSIFIED", WARNED: "CLASSIFIED"}
PROVENANCE = {STD: "COMMON_PLATFORM", PUB: "COMMON_PLATFORM", SJP_PRESS: "SNL", SJP_PUBLIC: "SNL",
              DAILY: "PDDA", FIRM: "PDDA", WARNED: "PDDA"}
SCHEMA_FILE = {STD: "magistrates_standard_list.json", PUB: "magistrates_public_list.json",
               SJP_PRESS: "single_justice_procedure_press.json",
               SJP_PUBLIC: "single_justice_procedure_public.json", DAILY: "crown_daily_pdda_list.json",
               FIRM: "crown_firm_pdda_list.json", WARNED: "crown_warned_pdda_list.json"}
LONDON = ZoneInfo("Europe/London")
CPS = "Crown Prosecution Service"
SJP_PROSECUTORS = {"sjp_regulatory": ("TV Licensing", "Northern Trains Limited", "Local Authority"),
                   "motoring": ("Driver and Vehicle Licensing Agency", "Police")}
MAX_PEN = {10: "Life", 9: "Life", 8: "14 years", 7: "10 years", 6: "7 years", 5: "5 years",
           4: "2 years", 3: "6 months", 2: "Level 4 fine", 1: "Level 3 fine"}


@lru_cache(maxsize=4096)
def _utc_hour(d: date) -> int:
    """Hours Europe/London is ahead of UTC on date ``d`` (noon)."""
    return int(LONDON.utcoffset(datetime(d.year, d.month, d.day, 12)).total_seconds() // 3600)


@lru_cache(maxsize=8192)
def instant(d: date, hh: int, mm: int = 0) -> str:
    """Local London time on ``d`` as a CaTH UTC instant (``2024-03-01T09:30:00.000Z``)."""
    t = datetime(d.year, d.month, d.day, hh, mm) - timedelta(hours=_utc_hour(d))
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _area(postcode: str) -> str:
    """The SJP public list's postcode: the area letters ("TF"), or letter + digit ("S1")."""
    out = (postcode.split() or [""])[0]
    if len(out) >= 2 and out[1].isalpha():
        return out[:2]
    return out[:2] if out else "ZZ"


def _iso_dt(d: date) -> str:
    return f"{d.isoformat()}T10:00:00.000Z"


class _FileWriter:
    """Writes files on a background thread, so disk latency overlaps with generation."""

    def __init__(self, depth: int = 256, threads: int = 2):
        mode = os.environ.get("COURTARCHIVE_GEN_IO", "thread")   # thread | sync | null (benchmarks)
        self.sync, self.null = mode in ("sync", "null"), mode == "null"
        self.q: queue.Queue = queue.Queue(maxsize=depth)
        self.error: BaseException | None = None
        # file creation is latency-bound on some disks: two writers overlap it
        self.threads = [threading.Thread(target=self._run, name=f"courtarchive-generate-writer-{i}", daemon=True)
                        for i in range(0 if self.sync else threads)]
        for t in self.threads:
            t.start()

    def _run(self) -> None:
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
        while True:
            item = self.q.get()
            if item is None:
                return
            if self.error is not None:
                continue
            path, data = item
            try:
                fd = os.open(path, flags, 0o644)
                try:
                    view = memoryview(data)
                    while view:
                        view = view[os.write(fd, view):]
                finally:
                    os.close(fd)
            except BaseException as e:  # noqa: BLE001 - re-raised on the main thread
                self.error = e

    def write(self, path: str, data: bytes) -> None:
        if self.error is not None:
            raise self.error
        if self.sync:
            if self.null:
                return
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
            os.write(fd, data)
            os.close(fd)
            return
        self.q.put((path, data))

    def close(self) -> None:
        for _ in self.threads:
            self.q.put(None)
        for t in self.threads:
            t.join()
        if self.error is not None:
            raise self.error


class ListWriter:
    def __init__(self, out: Path, cfg: GenConfig, rng: random.Random, pools: NamePools, sink: TruthSink):
        self.io = _FileWriter()
        self.lists = out / "lists"
        self.cfg, self.rng, self.pools, self.sink = cfg, rng, pools, sink
        self.rates = cfg.variants
        self._root = str(self.lists)
        self._dirs: set[str] = set()
        self.files = 0
        self.entries = 0
        self.by_type: dict[str, int] = {t: 0 for t in LIST_TYPES}
        self.reissued = 0
        self._dm: list[tuple] = []     # mentions of the list being built
        self._cm: list[tuple] = []

    # ------------------------------------------------------------ emission
    def _emit(self, lt: str, content: date, court, doc: dict, published: str,
              display_to: date, n_entries: int, reissue_fn) -> None:
        rel_dir = f"{content.year:04d}/{content.month:02d}"
        d = f"{self._root}/{rel_dir}"
        if d not in self._dirs:
            os.makedirs(d, exist_ok=True)
            self._dirs.add(d)
        stem = f"{content.isoformat()}_{court.slug}_{lt}"
        versions = [(stem, doc, published)]
        if self.rng.random() < self.cfg.reissue_rate:
            doc2 = orjson.loads(orjson.dumps(doc))
            published2 = reissue_fn(doc2)
            versions.append((stem + "_v2", doc2, published2))
            self.reissued += 1
        for st, body, pub in versions:
            rel = f"{rel_dir}/{st}.json"
            self.io.write(f"{d}/{st}.json", orjson.dumps(body))
            meta = {"x-list-type": lt, "x-sensitivity": SENSITIVITY[lt], "x-content-date": content.isoformat(),
                    "x-court-id": str(court.fact_id), "x-language": "ENGLISH",
                    "x-display-from": pub.replace(".000Z", "Z"),
                    "x-display-to": f"{display_to.isoformat()}T23:59:59Z",
                    "x-provenance": PROVENANCE[lt],
                    "x-source-artefact-id": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                    "x-type": "LIST"}
            self.io.write(f"{d}/{st}.meta.json", orjson.dumps(meta, option=orjson.OPT_INDENT_2))
            self.sink.extend("defendant_mentions", [(rel,) + m for m in self._dm])
            self.sink.extend("complainant_mentions", [(rel,) + m for m in self._cm])
            self.files += 1
            self.entries += n_entries
            self.by_type[lt] += 1
        self._dm.clear()
        self._cm.clear()

    def close(self) -> None:
        self.io.close()

    def _mention(self, path: str, cd: CaseDefendant, case: Case, lt: str, day: date, *,
                 with_dob: bool, with_middle: bool = True, masked: bool = False):
        m = render_person(self.rng, self.pools, cd.person, day, self.rates, with_dob=with_dob)
        flags = m.flags
        if not with_middle:
            flags = flags[:2] + (None, None) + flags[4:]
            m.middle = None
        if masked:
            flags = (None,) * len(flags)
        self._dm.append((path, cd.person.pid, case.case_id, lt, masked) + flags)
        return m

    def _judge(self) -> str:
        r = self.rng
        if r.random() < 0.4:
            return f"District Judge (MC) {self.pools.surname(r)}"
        return f"{'Mr' if r.random() < 0.5 else 'Mrs'} {self.pools.forename(r, 'male')[0]} {self.pools.surname(r)} JP"

    @staticmethod
    def _rooms(n: int, per_room: int) -> list[tuple[int, int]]:
        """Split n entries into rooms of about per_room: [(start, end)]."""
        k = max(1, -(-n // per_room))
        size = -(-n // k)
        return [(i, min(n, i + size)) for i in range(0, n, size)]

    # ------------------------------------------------------------ magistrates' lists
    @staticmethod
    def _address(p) -> dict:
        """The person's address block (one dict per person copy, shared by every list: the
        documents are serialised at once and never changed afterwards)."""
        a = p.addr_cache
        if a is None:
            a = p.addr_cache = ListWriter._address_of(p)
        return a

    @staticmethod
    def _address_of(p) -> dict:
        if p.town is None:
            return {"line": ["No fixed abode"]}
        return {"line": [f"{p.house} {p.street}"], "town": p.town.name, "county": p.town.county,
                "postCode": p.postcode}

    def _prosecutor(self, case: Case) -> str:
        if case.kind == "sjp":
            o = case.defs[0].charges[0].offence
            opts = SJP_PROSECUTORS.get(o.group, ("Police",))
            name = opts[int(self.rng.random() * len(opts))]
            return case.mag.court.pfa if name == "Police" else name
        return CPS

    def _std_defendant(self, day: date, case: Case, cd: CaseDefendant, path: str) -> dict:
        m = self._mention(path, cd, case, STD, day, with_dob=True)
        p = cd.person
        ind = {"individualForenames": m.fore}
        if m.middle:
            ind["individualMiddleName"] = m.middle
        ind["individualSurname"] = m.sur
        if m.dob is not None:
            ind["dateOfBirth"] = m.dob.isoformat()
        ind["age"] = m.age
        ind["address"] = self._address(p)
        ind["inCustody"] = cd.custody
        ind["gender"] = p.gender
        ind["asn"] = cd.asn
        ind["pncId"] = p.pnc
        plea, pdate = cd.plea_on(day)
        conv = cd.conviction_date if cd.conviction_date is not None and cd.conviction_date <= day else None
        key = (plea, pdate, conv)
        if cd.std_key != key:
            offs = []
            for ch in cd.charges:
                o = ch.offence
                od = {"offenceCode": o.code, "offenceTitle": o.title, "offenceWording": ch.wording,
                      "offenceMaxPen": MAX_PEN.get(o.seriousness, "Unlimited fine"), "plea": plea}
                if pdate is not None:
                    od["pleaDate"] = _iso_dt(pdate)
                if conv is not None:
                    od["convictionDate"] = _iso_dt(conv)
                od["offenceLegislation"] = o.legislation
                od["reportingRestriction"] = o.sexual
                offs.append(od)
            cd.std_key, cd.std_offs = key, offs
        offs = cd.std_offs
        cm, cid, pid = self._cm, case.case_id, p.pid
        for o_i, ch in enumerate(cd.charges):
            if ch.victim is not None and ch.style != "none":
                cm.append((f"{path}.offence[{o_i}]", ch.victim.vid, cid, pid, ch.style))
        return {"partyRole": "DEFENDANT", "individualDetails": ind, "offence": offs}

    def _std_hearing(self, day: date, case: Case, h: Hearing, base: str) -> dict:
        parties = [self._std_defendant(day, case, cd, f"{base}.party[{i}]") for i, cd in enumerate(case.defs)]
        parties.append({"partyRole": "PROSECUTING_AUTHORITY",
                        "organisationDetails": {"organisationName": self._prosecutor(case)}})
        v = case.complainant_party
        if v is not None:
            self._cm.append((f"{base}.party[{len(parties)}]", v.vid, case.case_id, None, "party"))
            parties.append({"partyRole": "COMPLAINANT",
                            "individualDetails": {"individualForenames": v.fore, "individualSurname": v.sur.upper()}})
        c = {"caseUrn": case.case_id, "reportingRestriction": case.restriction is not None}
        if case.restriction is not None:
            c["reportingRestrictionDetails"] = [case.restriction]
        c["party"] = parties
        return {"hearingType": h.desc, "panel": "YOUTH" if case.youth else "ADULT", "case": [c]}

    @staticmethod
    def _titles(cd: CaseDefendant) -> list:
        t = cd.titles_cache
        if t is None:
            t = cd.titles_cache = [{"offenceTitle": ch.offence.title} for ch in cd.charges]
        return t

    def _pub_hearing(self, day: date, case: Case, h: Hearing, base: str) -> dict:
        parties = [{"partyRole": "PROSECUTING_AUTHORITY",
                    "organisationDetails": {"organisationName": self._prosecutor(case)}}]
        for cd in case.defs:
            path = f"{base}.party[{len(parties)}]"
            m = self._mention(path, cd, case, PUB, day, with_dob=False, with_middle=False)
            parties.append({"individualDetails": {"individualForenames": m.fore, "individualSurname": m.sur},
                            "partyRole": "DEFENDANT", "offence": self._titles(cd)})
        return {"hearingType": h.desc, "case": [{"caseUrn": case.case_id, "party": parties,
                                                 "reportingRestriction": case.restriction is not None}]}

    def _court_tree(self, day: date, entries: list, build, per_room: int = 16) -> tuple[list, int]:
        rooms = []
        for r_i, (a, b) in enumerate(self._rooms(len(entries), per_room)):
            chunk = entries[a:b]
            half = (len(chunk) + 1) // 2
            sittings = []
            for sa, sb, hh in ((0, half, 10), (half, len(chunk), 14)):
                if sa >= sb:
                    continue
                s_i = len(sittings)
                hearings = [build(day, case, h, f"$.courtLists[0].courtHouse.courtRoom[{r_i}].session[0]"
                                                f".sittings[{s_i}].hearing[{h_i}].case[0]")
                            for h_i, (case, h) in enumerate(chunk[sa:sb])]
                sittings.append({"sittingStart": instant(day, hh, 0), "hearing": hearings})
            rooms.append({"courtRoomName": f"Courtroom {r_i + 1}",
                          "session": [{"judiciary": [{"johKnownAs": self._judge(), "isPresiding": True}],
                                       "sittings": sittings}]})
        return rooms, len(entries)

    @staticmethod
    def _reissue_court_lists(day: date):
        def fn(doc: dict) -> str:
            pub = instant(day, 11, 30)
            doc["document"]["publicationDate"] = pub
            s = doc["courtLists"][0]["courtHouse"]["courtRoom"][0]["session"][0]["sittings"][0]
            s["sittingStart"] = instant(day, 10, 30)
            return pub
        return fn

    def mags(self, day: date, plan: CourtPlan, entries: list[tuple[Case, Hearing]]) -> None:
        c = plan.court
        venue = {"venueAddress": {"line": [c.address or c.name], "town": c.town, "county": c.county,
                                  "postCode": c.postcode}}
        rooms, n = self._court_tree(day, entries, self._std_hearing)
        doc = {"document": {"publicationDate": instant(day, 6, 0)}, "venue": venue,
               "courtLists": [{"courtHouse": {"courtHouseName": c.name, "lja": f"{c.county or c.town} Local Justice Area",
                                              "courtRoom": rooms}}]}
        self._emit(STD, day, c, doc, instant(day, 6, 0), day, n, self._reissue_court_lists(day))
        public = [(case, h) for case, h in entries if not case.youth]
        if public:
            rooms, n = self._court_tree(day, public, self._pub_hearing)
            doc = {"document": {"publicationDate": instant(day, 6, 0)}, "venue": venue,
                   "courtLists": [{"courtHouse": {"courtRoom": rooms}}]}
            self._emit(PUB, day, c, doc, instant(day, 6, 0), day, n, self._reissue_court_lists(day))

    # ------------------------------------------------------------ SJP lists
    def sjp(self, day: date, plan: CourtPlan, entries: list[tuple[Case, Hearing]]) -> None:
        c = plan.court
        base = "$.courtLists[0].courtHouse.courtRoom[0].session[0].sittings[0]"
        press, public = [], []
        for h_i, (case, h) in enumerate(entries):
            cd = case.defs[0]
            p = cd.person
            pros = {"partyRole": "PROSECUTOR", "organisationDetails": {"organisationName": self._prosecutor(case)}}
            m = self._mention(f"{base}.hearing[{h_i}].party[0]", cd, case, SJP_PRESS, day, with_dob=True)
            ind = {"individualForenames": m.fore, "individualSurname": m.sur}
            if m.middle:
                ind["individualMiddleName"] = m.middle
            if m.dob is not None:
                ind["dateOfBirth"] = f"{m.dob.day:02d}/{m.dob.month:02d}/{m.dob.year:04d}"
            ind["age"] = m.age
            ind["address"] = self._address(p)
            press.append({"party": [{"partyRole": "ACCUSED", "individualDetails": ind}, pros],
                          "offence": [{"offenceTitle": ch.offence.title, "offenceWording": ch.wording,
                                       "reportingRestriction": False} for ch in cd.charges],
                          "case": [{"caseUrn": case.case_id}]})
        dm_press = list(self._dm)
        self._dm.clear()
        for h_i, (case, h) in enumerate(entries):
            cd = case.defs[0]
            m = self._mention(f"{base}.hearing[{h_i}].party[0]", cd, case, SJP_PUBLIC, day,
                              with_dob=False, with_middle=False)
            public.append({"party": [{"partyRole": "ACCUSED", "individualDetails": {
                "individualForenames": m.fore[:1], "individualSurname": m.sur,
                "address": {"postCode": _area(cd.person.postcode)}}},
                {"partyRole": "PROSECUTOR", "organisationDetails": {"organisationName": self._prosecutor(case)}}],
                "offence": [{"offenceTitle": ch.offence.title} for ch in cd.charges]})
        pub_dm, self._dm = list(self._dm), dm_press

        def tree(hearings):
            return [{"courtHouse": {"courtRoom": [{"session": [{"sittings": [{"hearing": hearings}]}]}]}}]

        def reissue(doc: dict) -> str:
            pub = instant(day, 11, 30)
            doc["document"]["publicationDate"] = pub
            doc["document"]["version"] = "2"
            return pub
        doc = {"document": {"publicationDate": instant(day, 6, 0), "documentName": "SJP Press List (Full list)",
                            "version": "1"}, "courtLists": tree(press)}
        self._emit(SJP_PRESS, day, c, doc, instant(day, 6, 0), day + timedelta(days=6), len(entries), reissue)
        self._dm = pub_dm
        doc = {"document": {"version": "1", "documentName": "SJP Public List (Full list)",
                            "publicationDate": instant(day, 6, 0)}, "courtLists": tree(public)}
        self._emit(SJP_PUBLIC, day, c, doc, instant(day, 6, 0), day + timedelta(days=6), len(entries), reissue)

    # ------------------------------------------------------------ Crown Court (PDDA) lists
    @staticmethod
    def _crown_house(c) -> dict:
        return {"CourtHouseType": "Crown Court", "CourtHouseCode": c.crown_code, "CourtHouseName": c.name,
                "CourtHouseAddress": {"Line": [c.address or c.name], "PostCode": c.postcode}}

    @staticmethod
    def _committing(case: Case) -> dict:
        m = case.mag.court
        return {"CourtHouseType": "Magistrates Court",
                "CourtHouseCode": m.mags_code if m.mags_code is not None else int(m.fact_id) % 10000,
                "CourtHouseName": m.name}

    def _crown_defendant(self, path: str, cd: CaseDefendant, case: Case, lt: str, day: date, *,
                         with_dob: bool, with_address: bool, custody: bool = False) -> dict:
        masked = case.youth
        m = self._mention(path, cd, case, lt, day, with_dob=with_dob and not masked, masked=masked)
        p = cd.person
        if masked:
            pd = {"Name": {}, "MaskedName": "Youth defendant", "IsMasked": "yes"}
        else:
            name = {"CitizenNameTitle": "Mr" if p.gender == "male" else "Ms",
                    "CitizenNameForename": [m.fore] + ([m.middle] if m.middle else []),
                    "CitizenNameSurname": m.sur[:35]}
            pd = {"Name": name, "IsMasked": "no"}
            if m.dob is not None:
                pd["DateOfBirth"] = {"BirthDate": m.dob.isoformat(), "VerifiedBy": "not verified"}
            pd["Age"] = m.age
            pd["Sex"] = p.gender
            if with_address and p.town is not None:
                pd["Address"] = {"Line": [f"{p.house} {p.street}", p.town.name], "PostCode": p.postcode}
        d = {"PersonalDetails": pd, "URN": case.case_id}
        if custody:
            d["CustodyStatus"] = "In custody" if cd.custody else "On bail"
        ch_list = cd.pdda_charges
        if ch_list is None:
            ch_list = cd.pdda_charges = [{"OffenceStatement": ch.offence.title, "IndictmentCountNumber": k + 1,
                                          "CJSoffenceCode": ch.offence.code} for k, ch in enumerate(cd.charges)]
        d["Charges"] = ch_list
        return d

    def _crown_sittings(self, day: date, entries: list, lt: str, root: str, *, with_dob: bool,
                        firm: bool) -> list:
        sittings = []
        for s_i, (a, b) in enumerate(self._rooms(len(entries), 6)):
            hearings = []
            for h_i, (case, h) in enumerate(entries[a:b]):
                base = f"{root}.Sittings[{s_i}].Hearings[{h_i}]"
                details = {"HearingDescription": h.desc, "HearingType": h.code}
                if firm:
                    details["HearingDate"] = day.isoformat()
                hearings.append({
                    "HearingSequenceNumber": h_i + 1, "HearingDetails": details,
                    "CaseNumber": case.crown_no, "CaseNumberCaTH": case.crown_no,
                    "Prosecution": {"ProsecutingAuthority": CPS, "ProsecutingOrganisation": {"OrganisationName": CPS}},
                    "CommittingCourt": self._committing(case),
                    "Defendants": [self._crown_defendant(f"{base}.Defendants[{d_i}]", cd, case, lt, day,
                                                         with_dob=with_dob, with_address=False)
                                   for d_i, cd in enumerate(case.defs)]})
            sittings.append({"CourtRoomNumber": s_i + 1, "SittingAt": "10:00:00", "SittingPriority": "T",
                             "Judiciary": {"Judge": {"CitizenNameTitle": "His Honour Judge",
                                                     "CitizenNameSurname": self.pools.surname(self.rng)[:35]}},
                             "Hearings": hearings})
        return sittings

    @staticmethod
    def _reissue_pdda(root: str, published: str):
        def fn(doc: dict) -> str:
            doc[root]["ListHeader"]["Version"] = "2"
            doc[root]["ListHeader"]["PublishedTime"] = published
            lists = doc[root]["CourtLists"]
            if lists and lists[0].get("Sittings"):
                lists[0]["Sittings"][0]["SittingAt"] = "10:30:00"
            return published
        return fn

    def _doc_id(self, kind: str) -> dict:
        return {"UniqueID": str(uuid.UUID(int=self.rng.getrandbits(128), version=4)), "DocumentType": kind}

    def crown_daily(self, day: date, plan: CourtPlan, entries: list[tuple[Case, Hearing]]) -> None:
        c = plan.court
        house = self._crown_house(c)
        pub = instant(day - timedelta(days=1), 16, 0)
        doc = {"DailyList": {"DocumentID": self._doc_id("DL"),
                             "ListHeader": {"StartDate": day.isoformat(), "EndDate": day.isoformat(),
                                            "Version": "1", "PublishedTime": pub.replace(".000Z", "Z")},
                             "CrownCourt": house, "CourtLists": []}}
        doc["DailyList"]["CourtLists"].append({"CourtHouse": house, "Sittings": self._crown_sittings(
            day, entries, DAILY, "$.DailyList.CourtLists[0]", with_dob=False, firm=False)})
        self._emit(DAILY, day, c, doc, pub, day, len(entries),
                   self._reissue_pdda("DailyList", instant(day, 8, 0).replace(".000Z", "Z")))

    def crown_firm(self, day: date, plan: CourtPlan, entries: list[tuple[Case, Hearing]]) -> None:
        c = plan.court
        house = self._crown_house(c)
        pub = instant(day - timedelta(days=1), 14, 0)
        doc = {"FirmList": {"DocumentID": self._doc_id("FL"),
                            "ListHeader": {"StartDate": day.isoformat(), "EndDate": day.isoformat(),
                                           "Version": "1", "PublishedTime": pub.replace(".000Z", "Z")},
                            "CrownCourt": house,
                            "CourtLists": [{"SittingDate": day.isoformat(), "CourtHouse": house,
                                            "Sittings": self._crown_sittings(day, entries, FIRM, "$.FirmList.CourtLists[0]",
                                                                             with_dob=True, firm=True)}]}}
        self._emit(FIRM, day, c, doc, pub, day, len(entries),
                   self._reissue_pdda("FirmList", instant(day - timedelta(days=1), 17, 0).replace(".000Z", "Z")))

    def crown_warned(self, day: date, plan: CourtPlan, entries: list[tuple[Case, Hearing]]) -> None:
        """Published on ``day`` (a Friday) for the trials of the week starting 10 days later."""
        c = plan.court
        house = self._crown_house(c)
        start = day + timedelta(days=10) if day.weekday() == 4 else day + timedelta(days=(7 - day.weekday()) % 7 + 7)
        pub = instant(day, 15, 0)
        fixed = sorted({h.target for _, h in entries if h.fixed})
        groups: list[dict] = []
        root = "$.WarnedList.CourtLists[0]"
        cl: dict = {"CourtHouse": house}
        if fixed:
            fixtures = []
            for f_i, fd in enumerate(fixed):
                these = [(case, h) for case, h in entries if h.fixed and h.target == fd]
                fixtures.append({"FixedDate": fd.isoformat(), "Cases": [
                    self._warned_case(f"{root}.WithFixedDate[0].Fixture[{f_i}].Cases[{k}]", case, h, day)
                    for k, (case, h) in enumerate(these)]})
            cl["WithFixedDate"] = [{"HearingType": "TRL", "Fixture": fixtures}]
        floating = [(case, h) for case, h in entries if not h.fixed]
        if floating:
            cl["WithoutFixedDate"] = [{"HearingType": "TRL", "Fixture": [{"Cases": [
                self._warned_case(f"{root}.WithoutFixedDate[0].Fixture[0].Cases[{k}]", case, h, day)
                for k, (case, h) in enumerate(floating)]}]}]
        groups.append(cl)
        doc = {"WarnedList": {"DocumentID": self._doc_id("WL"),
                              "ListHeader": {"StartDate": start.isoformat(),
                                             "EndDate": (start + timedelta(days=4)).isoformat(),
                                             "Version": "1", "PublishedTime": pub.replace(".000Z", "Z")},
                              "CrownCourt": house, "CourtLists": groups}}
        self._emit(WARNED, start, c, doc, pub, start + timedelta(days=4), len(entries),
                   self._reissue_pdda("WarnedList", instant(day, 17, 30).replace(".000Z", "Z")))

    def _warned_case(self, base: str, case: Case, h: Hearing, day: date) -> dict:
        return {"CaseNumber": case.crown_no, "CaseNumberCaTH": case.crown_no,
                "CaseArrivedFrom": {"OriginatingCourt": {k: v for k, v in self._committing(case).items()
                                                         if k != "CourtHouseType"}},
                "Hearing": [{"HearingDescription": "Trial", "HearingDate": h.target.isoformat(),
                             "HearingType": "TRL"}],
                "Defendants": [self._crown_defendant(f"{base}.Defendants[{d_i}]", cd, case, WARNED, day,
                                                     with_dob=True, with_address=True, custody=True)
                               for d_i, cd in enumerate(case.defs)],
                "Prosecution": {"ProsecutingAuthority": CPS, "ProsecutingOrganisation": {"OrganisationName": CPS}}}
