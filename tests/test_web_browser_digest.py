"""Browser test of the daily beat digest (issue 10 §2): Playwright driving Debian's Chromium
(/usr/bin/chromium; never a downloaded browser) against a real uvicorn server: sign in, open
/digest, pick the beat and a day, see the ranked cases with their reasons and the restriction
banners (statutory basis) on the restricted ones; the public sees no names; a new beat is made with
the form.  Every request stays on the server.  (Server, browser and sign-in: tests/test_web_browser.py.)"""

from __future__ import annotations

import datetime as dt
import re

import pytest

from test_web_browser import CHROMIUM, browser, page, server, sign_in, site  # noqa: F401  (fixtures)
from test_web_support import BEAT, KITTERIDGE, PLANT_DAY, SOAA_WORDING_BITS, WRENFIELD, FRAMPINGTON, leaks

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (apt-get install -y chromium)")]


def _pick(page, day: dt.date) -> None:
    page.goto("/digest")
    page.select_option("#beat", BEAT)
    page.fill("#date", day.isoformat())
    page.click("#digest-form button[type=submit]")
    page.wait_for_url(re.compile(rf"date={day.isoformat()}"))     # the new page, not the one before it
    page.wait_for_selector("#digest")


def _no_beat_subscriptions(site, username: str = "reporter") -> None:
    """The site's archive is one per test process, shared by every file that process runs (in any
    order under pytest-xdist): test_web_roles subscribes every role to the beat's digest.  This test
    checks the page offers the subscription, so it starts from none."""
    from courtarchive.serve import alerts
    from courtarchive.store import Archive

    a = Archive.open(site.url)
    try:
        for sub in alerts.list_subscriptions(a, username):
            if sub["kind"] == "beat" and sub.get("active", True):
                alerts.cancel(a, username=username, subscription_id=sub["id"], actor="tests")
    finally:
        a.close()


def test_digest_ranked_with_restriction_banners(page, site):
    _no_beat_subscriptions(site)
    sign_in(page)
    page.click("nav >> text=Digest")
    page.wait_for_url(re.compile(r"/digest$"))
    # the SOAA 1992 case's day: ranked, explained, its restriction on the row, no identifying wording
    _pick(page, PLANT_DAY - dt.timedelta(days=1))
    assert f"beat={BEAT}" in page.url
    rows = page.locator("#digest li.digest-row")
    assert rows.count() >= 1
    row = page.locator(f"#digest li.digest-row[data-case='{site.urns['soaa']}']")
    assert row.count() == 1
    banner = row.locator("section.restrictions[role=alert]").inner_text()
    assert "Reporting restriction: Sexual Offences (Amendment) Act 1992" in banner
    assert KITTERIDGE["surname"] in row.inner_text()            # SOAA protects the complainant, not the defendant
    assert "offence seriousness 10/10" in row.locator(".reasons").inner_text()
    assert not leaks(page.content(), list(SOAA_WORDING_BITS) + list(site.complainant_names))
    # every restricted row shows its banner
    for i in range(rows.count()):
        r = rows.nth(i)
        if "restricted" in (r.get_attribute("class") or ""):
            assert "Reporting restriction:" in r.locator("section.restrictions").inner_text()
    # the youth court case: the CYPA s.49 banner, never the name
    _pick(page, PLANT_DAY - dt.timedelta(days=2))
    row = page.locator(f"#digest li.digest-row[data-case='{site.urns['youth']}']")
    assert "Children and Young Persons Act 1933 s.49" in row.locator("section.restrictions").inner_text()
    assert WRENFIELD["surname"] not in page.content().upper()
    # the s.4(2) case is withheld whole: not in the digest, the page says something was withheld
    _pick(page, PLANT_DAY - dt.timedelta(days=3))
    assert page.locator(f"#digest li.digest-row[data-case='{site.urns['s42']}']").count() == 0
    assert "HARROWGATE" not in page.content().upper() and "Withheld for your role" in page.inner_text("main")
    # the plain case: the reporter sees the name; the form offers the digest by e-mail
    _pick(page, PLANT_DAY)
    assert FRAMPINGTON["surname"] in page.inner_text("#digest")
    assert page.locator("#digest-subscribe button").count() == 1
    # a new beat from the form, then picked
    page.fill("#beat-form input[name=name]", "Preston area 10km")
    page.fill("#beat-form input[name=centre]", "Preston")
    page.fill("#beat-form input[name=radius_km]", "10")
    page.select_option("#beat-form select[name=offence_groups]", ["sexual", "violence"])
    page.click("#beat-form button[type=submit]")
    page.wait_for_url(re.compile(r"/digest\?.*done="))              # saved: redirected with the message
    assert "Preston area 10km saved" in page.inner_text("#digest-message")
    assert "Preston area 10km" in page.inner_text("#beats")
    # a bad beat is refused with a reason, nothing saved
    page.fill("#beat-form input[name=name]", "Nowhere")
    page.fill("#beat-form input[name=towns]", "Atlantis")
    page.click("#beat-form button[type=submit]")
    # refused: the form's own answer (422 at /digest/beats), not the previous page's message
    page.wait_for_url(re.compile(r"/digest/beats$"))
    assert "no court in town 'Atlantis'" in page.inner_text("#digest-message")
    assert "Nowhere" not in page.inner_text("#beats")


def test_public_digest_without_names(page, site):
    page.goto(f"/digest?beat={BEAT}&date={PLANT_DAY.isoformat()}")
    page.wait_for_selector("#digest")
    text = page.inner_text("#digest")
    assert site.urns["plain"] in text and "[name withheld]" in text
    assert FRAMPINGTON["surname"] not in page.content().upper()
    assert page.locator("#beat-form").count() == 0 and page.locator("#digest-subscribe").count() == 0
