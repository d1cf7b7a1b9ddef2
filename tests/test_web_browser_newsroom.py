"""Browser tests (Debian's Chromium through Playwright, the fixtures of test_web_browser.py) of the
tracking and screening pages: a verified journalist follows a case from its page, sees it on
/tracking, a later list adjourns it and the notification shows (unread badge, mark seen); uploads a
CSV on /screening, sees the match with its score, opens the person and follows them, downloads
the CSV.  The public see why they cannot follow or screen."""

from __future__ import annotations

import datetime as dt
import re

import pytest

from test_web_browser import CHROMIUM, browser, page, server, sign_in, site  # noqa: F401  (fixtures)
from test_web_support import FRAMPINGTON, TODAY

pytestmark = [pytest.mark.filterwarnings("ignore::DeprecationWarning"),
              pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (apt-get install -y chromium)")]

URN = "06PL0000031"
HORATIO = dict(forenames="Horatio", surname="BLENKINSOP", dob=dt.date(1981, 9, 9), address="5 Pemberton Walk, Ashton",
               postcode="PR2 1QQ", town="Preston", age=45)


def _plant(site, day: dt.date) -> None:
    """A list naming Horatio in case URN, ingested into the site's archive, then what follows every ingest."""
    from courtarchive.serve.postingest import run as after_ingest
    from test_governance_support import person, plant

    a = site.archive()
    try:
        plant(a, date=day, sensitivity="PUBLIC", urn=URN, court="Preston Magistrates' Court",
              people=[person(forenames=HORATIO["forenames"], surname=HORATIO["surname"], dob=HORATIO["dob"],
                             address=HORATIO["address"], postcode=HORATIO["postcode"], town=HORATIO["town"],
                             age=HORATIO["age"])])
        out = after_ingest(a, None)
        assert "error" not in str(out), out
    finally:
        a.close()


def test_follow_a_case_then_its_adjournment_shows(page, site):  # noqa: F811
    _plant(site, TODAY - dt.timedelta(days=40))
    sign_in(page)
    page.goto(f"/cases/{URN}")
    page.click("#follow-button")
    page.wait_for_url(re.compile(r"/tracking"))
    assert "following case " + URN in page.inner_text("#tracking-message")
    assert f"case {URN}" in page.inner_text("#following")
    assert not page.locator(f'#notifications li[data-event]:has-text("{URN}")').count()
    # back on the case page the button says so
    page.goto(f"/cases/{URN}")
    assert "following" in page.inner_text("#follow") and page.locator("#follow-button").count() == 0

    # a later list adjourns the case: after the ingest step the notification shows
    _plant(site, TODAY - dt.timedelta(days=33))
    page.goto("/tracking")
    item = page.locator(f'#notifications li.unread[data-event="adjourned"]:has-text("{URN}")')
    assert item.count() == 1
    text = item.inner_text()
    assert "listed again (adjourned)" in text and "Preston Magistrates' Court" in text
    assert (TODAY - dt.timedelta(days=33)).isoformat() in text and "BLENKINSOP" in text
    unread = int(page.inner_text("#nav-unread").rstrip("+"))
    assert unread >= 1
    item.locator("button", has_text="Mark seen").click()
    page.wait_for_url(re.compile(r"/tracking\?done="))
    assert "1 notification marked seen" in page.inner_text("#tracking-message")
    assert page.locator(f'#notifications li.seen[data-event="adjourned"]:has-text("{URN}")').count() == 1
    after = page.locator("#nav-unread")
    assert (int(after.inner_text().rstrip("+")) if after.count() else 0) == unread - 1
    # unfollow (the session's other tests read this journalist's digests)
    page.locator("#following tr", has_text=f"case {URN}").locator("button", has_text="Unfollow").click()
    page.wait_for_url(re.compile(r"/tracking\?done="))
    assert f"case {URN}" not in page.inner_text("#following")
    assert not page.locator(f'#notifications li:has-text("{URN}")').count()


def test_screen_a_csv_follow_the_person_and_download(page, site):  # noqa: F811
    sign_in(page)
    page.click("nav >> text=Screening")
    page.wait_for_url(re.compile(r"/screening$"))
    csv_bytes = (f"name,date_of_birth\nOttoline Frampington,{FRAMPINGTON['dob'].isoformat()}\n"
                 "Zephaniah Quorndonwick,\n").encode()
    page.set_input_files("input[name=file]", files=[{"name": "names.csv", "mimeType": "text/csv", "buffer": csv_bytes}])
    page.click("#screen-form button[type=submit]")
    page.wait_for_selector("#screening-results")
    assert "2 names, 1 with candidates" in page.inner_text("#screening-summary")
    person_link = f'a.person-link[href="/persons/{site.person_plain}"]'
    row = page.locator("#screening-results tr.candidate").filter(has=page.locator(person_link)).first
    link = row.locator(person_link)
    assert "FRAMPINGTON" in link.inner_text()
    assert float(row.locator("td.score").inner_text()) > 0.9
    # the CSV download: the watermarked export
    with page.expect_download() as dl:
        page.click("#download-csv")
    d = dl.value
    assert re.fullmatch(r"courtarchive-screening-\d+\.csv", d.suggested_filename)
    content = open(d.path(), encoding="utf-8").read()
    assert content.splitlines()[0].lstrip('"').startswith("# courtarchive export #") and "for reporter" in content
    assert "FRAMPINGTON" in content and "match_probability" in content
    # the candidate's person page, and following them
    link.click()
    page.wait_for_url(re.compile(rf"/persons/{site.person_plain}$"))
    if page.locator("#follow-button").count():       # (a previous run of the session may follow already)
        page.click("#follow-button")
        page.wait_for_url(re.compile(r"/tracking"))
    page.goto("/tracking")
    assert f"person #{site.person_plain}" in page.inner_text("#following")
    page.locator("#following tr", has_text=f"person #{site.person_plain}").locator("button", has_text="Unfollow").click()
    page.wait_for_url(re.compile(r"/tracking\?done="))
    assert f"person #{site.person_plain}" not in page.inner_text("#following")


def test_public_see_why_not(page, site):  # noqa: F811
    page.goto(f"/cases/{site.urns['plain']}")
    assert "sign in with a verified media account" in page.inner_text("#follow-why")
    assert page.locator("#follow-button").count() == 0
    r = page.goto("/screening")
    assert r.status == 403 and "verified media account" in page.inner_text("#error-message")
