"""A small generated archive for the web/API tests (built once per session), with planted people whose
names, dates of birth and addresses the tests look for in every response, restricted cases
(SOAA 1992, CYPA s.49 youth court, CCA s.4(2)), accounts of every role with passwords and API
tokens, and the complainant names the raw lists carried (which no output may ever show)."""

from __future__ import annotations

import atexit
import datetime as dt
import shutil
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import orjson
import sqlalchemy as sa

from test_governance_support import person, plant

KEY = bytes(range(32))
#: a digest beat covering the planted lists' court (serve.digest)
BEAT = "Preston"
PASSWORD = "correct horse battery staple"
TODAY = dt.date.today()
PLANT_DAY = TODAY - dt.timedelta(days=20)

#: the planted adult defendant (PUBLIC list): media and admin see all of it, nobody else any of it
FRAMPINGTON = dict(forenames="Ottoline", surname="FRAMPINGTON", dob=dt.date(1979, 2, 3),
                   address="41 Gorsebrook Terrace, Ashton", postcode="PR2 7QQ", town="Preston", age=47)
#: SOAA 1992 case: the defendant may be named to media, the wording (identifying matter) never
KITTERIDGE = dict(forenames="Barnaby", surname="KITTERIDGE", dob=dt.date(1970, 5, 6),
                  address="3 Alderholt Mews, Fulwood", postcode="PR2 8QQ", town="Preston", age=56)
SOAA_WORDING_BITS = ("St Winifred", "Larkspur")
#: youth court (CYPA 1933 s.49): never identified, whatever the role
WRENFIELD = dict(forenames="Ptolemy", surname="WRENFIELD", dob=TODAY.replace(year=TODAY.year - 15) - dt.timedelta(days=3),
                 address="9 Quillon Road, Ribbleton", postcode="PR1 4XX", town="Preston", age=15)
#: CCA 1981 s.4(2) postponement: the whole case withheld
HARROWGATE = dict(forenames="Quentin", surname="HARROWGATE", dob=dt.date(1985, 11, 12),
                  address="77 Tolpuddle Row, Lea", postcode="PR4 0QQ", town="Preston", age=41)


def _person(d: dict) -> dict:
    return person(forenames=d["forenames"], surname=d["surname"], dob=d["dob"], address=d["address"],
                  postcode=d["postcode"], town=d["town"], age=d["age"])


@dataclass
class Site:
    root: Path
    url: str
    home: Path
    corpus: Path
    urns: dict[str, str] = field(default_factory=dict)          # plain | plain2 | soaa | youth | s42 | generated
    court_day: tuple[int, dt.date] | None = None               # the planted lists' court and day
    generated_day: tuple[int, dt.date] | None = None
    planted_days: list = field(default_factory=list)            # every planted list's (court, day)
    person_plain: int | None = None
    person_generated: int | None = None
    network: int | None = None
    complainant_names: list[str] = field(default_factory=list)
    dobs: list[str] = field(default_factory=list)               # every defendant dob in the archive (ISO)
    addresses: list[str] = field(default_factory=list)
    tokens: dict[str, str] = field(default_factory=dict)        # role -> bearer token
    users: dict[str, str] = field(default_factory=dict)         # role -> username

    def archive(self):
        from courtarchive.store import Archive

        return Archive.open(self.url)


ROLES = ("public", "verified_media", "expired_media", "analyst", "admin")
_SITE: Site | None = None


def keyring():
    from courtarchive.governance.pseudonym import Keyring

    return Keyring(KEY)


def sign_in(client, user: str, password: str = PASSWORD) -> str:
    """Sign ``client`` in through the login form; returns the session's CSRF token."""
    tok = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text).group(1)
    r = client.post("/login", data={"username": user, "password": password, "csrf_token": tok},
                    follow_redirects=False)
    assert r.status_code == 303, r.text
    m = re.search(r'name="csrf_token" value="([^"]*)"', client.get("/").text)
    return m.group(1) if m else ""


def make_app(site: Site, **over):
    from courtarchive.serve.app import create_app
    from courtarchive.serve.deps import WebSettings

    ws = WebSettings(db_url=site.url, home=site.home, reports_dir=site.root / "analysis", **over)
    app = create_app(site.url, settings=ws)
    app.state.portal.keyring = keyring()
    return app


def _complainant_names(corpus: Path, defendant_names: set[str]) -> list[str]:
    """Complainant names as the raw lists carry them (party complainants and named mentions in
    offence wording), minus any that is also some defendant's name."""
    from courtarchive.ingest import cath
    from courtarchive.link.complainants import extract

    names: set[str] = set()
    for meta in sorted((corpus / "lists").rglob("*.meta.json")):
        doc = meta.with_name(meta.name.replace(".meta.json", ".json"))
        parsed = cath.parse_document(doc.read_bytes(), source_name=doc.name, headers=orjson.loads(meta.read_bytes()))
        for c in parsed.raw_complainants:
            names.add(c.name)
        for o in parsed.offences:
            if o.wording:
                for m in extract(o.wording).mentions:
                    if m.kind == "named" and m.identity:
                        names.add(m.identity)
    out = []
    for n in names:
        words = [w for w in re.split(r"[\s,]+", n) if w]
        if len(words) < 2 or len(n) < 8:
            continue
        full = " ".join(sorted(w.casefold() for w in words))
        if full in defendant_names:
            continue
        out.append(n)
    return sorted(out)


def build(root: Path) -> Site:
    from courtarchive.generate import generate
    from courtarchive.governance import accounts
    from courtarchive.governance.policy import VERIFICATION_DAYS
    from courtarchive.ingest.pipeline import ingest
    from courtarchive.link.run import run as link_run
    from courtarchive.serve import auth
    from courtarchive.serve.postingest import run as after_ingest
    from courtarchive.store import Archive
    from courtarchive.store import serve as ss
    from courtarchive.store.tables import TABLES

    corpus = root / "corpus"
    generate(corpus, cases=120, seed=11, years=1)
    url = f"sqlite:///{root / 'archive.db'}"
    a = Archive.open(url)
    a.init()
    rep = ingest(a, [corpus / "lists"], keyring=keyring(), workers=1)
    assert not rep.as_dict()["rejected"]
    site = Site(root=root, url=url, home=root / "home", corpus=corpus)
    court = "Preston Magistrates' Court"
    w = plant(a, date=PLANT_DAY, sensitivity="PUBLIC", people=[_person(FRAMPINGTON)], court=court,
              urn="06PL0000001")
    plant(a, date=PLANT_DAY - dt.timedelta(days=7), sensitivity="PUBLIC", people=[_person(FRAMPINGTON)],
          court=court, urn="06PL0000002")
    # one list per day: lists of one court, type and day are versions of each other (the latest wins)
    plant(a, date=PLANT_DAY - dt.timedelta(days=1), sensitivity="PUBLIC", people=[_person(KITTERIDGE)], court=court, urn="06PL0000003",
          code="SX03001", title="Rape", legislation="Sexual Offences Act 2003, s.1",
          wording="at St Winifred's Academy raped [complainant:0a1b2c3d] of 4 Larkspur Lane")
    plant(a, date=PLANT_DAY - dt.timedelta(days=2), sensitivity="PUBLIC", people=[_person(WRENFIELD)], court=court, urn="06PL0000004",
          panel="YOUTH")
    plant(a, date=PLANT_DAY - dt.timedelta(days=3), sensitivity="PUBLIC", people=[_person(HARROWGATE)], court=court, urn="06PL0000005",
          detail="Section 4(2) Contempt of Court Act 1981 until 1 Jan 2099")
    site.urns = {"plain": "06PL0000001", "plain2": "06PL0000002", "soaa": "06PL0000003", "youth": "06PL0000004",
                 "s42": "06PL0000005"}
    with a.engine.connect() as c:
        H = TABLES["hearing"]
        site.court_day = tuple(c.execute(sa.select(H.c.court_id, H.c.sitting_date)
                                         .where(H.c.publication_id == w.publication_id)).first())
        Pa = TABLES["party"]
        rows = c.execute(sa.select(Pa.c.forenames, Pa.c.surname, Pa.c.date_of_birth, Pa.c.address)
                         .where(Pa.c.role == "DEFENDANT")).all()
    site.planted_days = [(site.court_day[0], PLANT_DAY - dt.timedelta(days=k)) for k in (0, 1, 2, 3, 7)]
    site.dobs = sorted({r.date_of_birth.isoformat() for r in rows if r.date_of_birth})
    site.addresses = sorted({r.address for r in rows if r.address and len(r.address) >= 10})
    defendant_names = {" ".join(sorted(w.casefold() for w in f"{r.forenames or ''} {r.surname or ''}".split()))
                       for r in rows}
    link_run(a, full=True)
    after_ingest(a, None)
    from courtarchive.serve.digest import add_beat

    add_beat(a, name=BEAT, courts=["Preston Magistrates' Court"], actor="setup")   # the planted cases' court
    ids = ss.sample_ids(a, 50)
    site.urns["generated"] = ids["case_urns"][0]
    site.generated_day = next((cd for cd in ids["court_days"] if cd != site.court_day), None)
    site.network = ids["networks"][0] if ids["networks"] else None
    pp = ss.person_party_ids(a, ids["persons"])
    with a.engine.connect() as c:
        Pa = TABLES["party"]
        plain_party = c.execute(sa.select(Pa.c.id).where(Pa.c.surname == "FRAMPINGTON")).scalars().all()
    from courtarchive.store import governance as sg

    site.person_plain = sg.persons_of(a, plain_party).get(plain_party[0])
    assert site.person_plain is not None and site.network is not None
    site.person_generated = next(p for p in ids["persons"] if p != site.person_plain and pp.get(p))
    site.complainant_names = _complainant_names(corpus, defendant_names)
    # accounts of every role (passwords and tokens)
    now = dt.datetime.now()
    users = {"verified_media": "reporter", "expired_media": "stale.reporter", "analyst": "analyst1",
             "admin": "admin1"}
    for role, user in users.items():
        r = "verified_media" if role == "expired_media" else role
        accounts.add(a, username=user, role=r, actor="setup", email=f"{user}@lancashirepost.co.uk",
                     organisation="Lancashire Post")
        if role == "verified_media":
            accounts.verify(a, username=user, press_card="UKPC-1", verified_by="desk.editor", when=now - dt.timedelta(days=5))
        if role == "expired_media":
            accounts.verify(a, username=user, press_card="UKPC-2", verified_by="desk.editor",
                            when=now - dt.timedelta(days=VERIFICATION_DAYS + 30))
        auth.set_password(a, user, PASSWORD, actor="setup")
        site.tokens[role] = auth.create_token(a, user, name="tests", actor="setup")["token"]
    site.users = {"public": None, **users}
    rep = root / "analysis" / "run-1"
    rep.mkdir(parents=True)
    (rep / "report.html").write_text("<!doctype html><title>findings</title><h1>Analysis report (test)</h1>")
    a.close()
    return site


def get_site() -> Site:
    global _SITE
    if _SITE is None:
        root = Path(tempfile.mkdtemp(prefix="courtarchive-web-"))
        atexit.register(shutil.rmtree, root, True)
        _SITE = build(root)
    return _SITE


def forbidden_for(site: Site, role: str) -> list[str]:
    """Strings that must not appear in any response to ``role``."""
    never = list(site.complainant_names) + list(SOAA_WORDING_BITS)
    never += [WRENFIELD["surname"], WRENFIELD["forenames"], WRENFIELD["dob"].isoformat(), "Quillon",
              HARROWGATE["surname"], "Tolpuddle"]
    if role in ("verified_media", "admin"):
        return never
    identity = [FRAMPINGTON["surname"], FRAMPINGTON["forenames"], FRAMPINGTON["dob"].isoformat(), "Gorsebrook",
                KITTERIDGE["surname"], KITTERIDGE["dob"].isoformat(), "Alderholt"]
    return never + identity + site.dobs + site.addresses


def leaks(text: str, forbidden: list[str]) -> list[str]:
    low = text.casefold()
    return [f for f in forbidden if f and f.casefold() in low]
