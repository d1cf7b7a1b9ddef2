"""Browser tests: Playwright driving Debian's Chromium (/usr/bin/chromium, headless; never a
downloaded browser) against a real uvicorn server on a free loopback port: sign in, search a
misspelt name, open the case, the person, a network and the map; subscribe to a name and receive
the digest mail (a real aiosmtpd SMTP server) with an unsubscribe link and no restricted data, and
use the link.  Every request the pages make stays on the server (no CDN, no tiles)."""

from __future__ import annotations

import datetime as dt
import re
import socket
import threading
import time
from email import message_from_bytes
from email.policy import default as email_policy
from pathlib import Path
from urllib.parse import urlparse

import pytest

from test_web_support import (FRAMPINGTON, PASSWORD, SOAA_WORDING_BITS, WRENFIELD, HARROWGATE, get_site, keyring,
                              leaks, make_app)

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (apt-get install -y chromium)")]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def site():
    return get_site()


@pytest.fixture(scope="module")
def server(site):
    import uvicorn

    port = _free_port()
    app = make_app(site, base_url=f"http://127.0.0.1:{port}")
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off"))
    t = threading.Thread(target=srv.run, daemon=True)
    t.start()
    deadline = time.monotonic() + 20
    while not srv.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    t.join(10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                              args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield b
        b.close()


@pytest.fixture
def page(browser, server):
    ctx = browser.new_context(base_url=server)
    pg = ctx.new_page()
    pg.set_default_timeout(15_000)
    pg.requested = []
    pg.on("request", lambda r: pg.requested.append(r.url))
    yield pg
    hosts = {urlparse(u).netloc for u in pg.requested if u.startswith("http")}
    ctx.close()
    assert hosts <= {urlparse(server).netloc}, f"requests left the server: {hosts}"


def sign_in(page, user="reporter"):
    page.goto("/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r"/$"))
    assert user in page.inner_text("#whoami")


def test_search_case_person_network_map(page, site):
    sign_in(page)
    page.goto("/search")
    page.fill("#q", "Otoline Frampinton")                 # misspelt: one letter short in each name
    page.keyboard.press("Enter")
    hit = page.locator("a.hit-name").first
    hit.wait_for()
    assert "FRAMPINGTON" in hit.inner_text()
    # the person page (a linked person: both planted cases)
    hit.click()
    page.wait_for_url(re.compile(r"/persons/\d+"))
    assert "Names as listed" in page.content()
    assert "FRAMPINGTON, Ottoline" in page.inner_text("ul.variants")
    # both planted cases are active: the gate keeps one beside the contempt-risk flag (CCA 1981)
    assert page.locator("ul.cases > li").count() == 1
    assert "Contempt risk" in page.inner_text("main") and "Contempt of Court Act 1981" in page.inner_text("main")
    # the case
    page.locator("ul.cases a").first.click()
    page.wait_for_url(re.compile(r"/cases/06PL"))
    body = page.inner_text("main")
    assert "FRAMPINGTON" in body and FRAMPINGTON["dob"].isoformat() in body and "Gorsebrook" in body
    # a network: the graph is drawn (SVG), nodes numbered, members in the table
    page.goto("/networks")
    page.locator("main table a").first.click()
    page.wait_for_url(re.compile(r"/networks/\d+"))
    assert page.locator("svg.network circle").count() >= 2
    assert page.locator("main table tbody tr").count() == page.locator("svg.network circle").count()
    # the map: Leaflet from the server, one marker per court with listings
    page.goto("/map")
    page.wait_for_selector("#map[data-markers]")
    n = int(page.get_attribute("#map", "data-markers"))
    assert n >= 2 and page.locator("path.court-marker").count() == n
    page.wait_for_selector("#map .leaflet-overlay-pane path:not(.court-marker)")      # the outline


def test_public_gets_no_name_search(page):
    page.goto("/search?q=Frampington&mode=name")
    assert "verified media" in page.inner_text("main")
    assert "FRAMPINGTON" not in page.content()


def test_subscribe_and_receive_the_digest(page, site, server):
    from aiosmtpd.controller import Controller

    from courtarchive.serve import alerts
    from courtarchive.serve.postingest import run as after_ingest
    from test_governance_support import person, plant

    class Collect:
        def __init__(self):
            self.messages = []

        async def handle_DATA(self, server_, session, envelope):
            self.messages.append((envelope.rcpt_tos, envelope.content))
            return "250 OK"

    handler = Collect()
    port = _free_port()
    smtp = Controller(handler, hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        sign_in(page)
        page.goto("/alerts")
        page.select_option("select[name=kind]", "name")
        page.fill("input[name=query]", "Ottoline Frampington")
        page.click("#subscribe button[type=submit]")
        page.wait_for_selector("#alerts-message")
        following = page.inner_text("#subscriptions").count("Ottoline Frampington")
        assert following >= 1            # (other tests of the session may follow her too)
        # a new list names her again: ingest it (Python API) and run what follows every ingest
        a = site.archive()
        try:
            day = dt.date.today() - dt.timedelta(days=1)
            plant(a, date=day, sensitivity="PUBLIC", urn="06PL0000009", court="Preston Magistrates' Court",
                  people=[person(forenames="Ottoline", surname="FRAMPINGTON", dob=FRAMPINGTON["dob"],
                                 address=FRAMPINGTON["address"], postcode=FRAMPINGTON["postcode"])])
            out = after_ingest(a, None)
            assert "error" not in str(out), out
            res = alerts.send_digests(a, smtp_host="127.0.0.1", smtp_port=port, sender="alerts@courtarchive.test",
                                      base_url=server, keyring=keyring(), home=site.home)
        finally:
            a.close()
        assert res["messages"] >= 1, res
        mails = [message_from_bytes(c, policy=email_policy) for rcpt, c in handler.messages
                 if "reporter@lancashirepost.co.uk" in rcpt]
        assert mails, handler.messages
        msg = mails[-1]
        text = "\n".join(part.get_content() for part in msg.walk() if part.get_content_type().startswith("text/"))
        assert "FRAMPINGTON" in text.upper()                     # a verified journalist gets the name ...
        assert not leaks(text, list(site.complainant_names) + list(SOAA_WORDING_BITS)
                         + [WRENFIELD["surname"], HARROWGATE["surname"]])      # ... and no restricted data
        links = re.findall(r"https?://[^\s\"'<>]+/alerts/unsubscribe/[A-Za-z0-9_\-]+", text)
        assert links and all(link.startswith(server) for link in links)
        # the link works in the browser (confirm first: a GET changes nothing)
        page.goto(links[0])
        page.click("main button[type=submit]")
        page.wait_for_selector("#unsubscribed")
        page.goto("/alerts")
        assert page.inner_text("#subscriptions").count("Ottoline Frampington") == following - 1
    finally:
        smtp.stop()
