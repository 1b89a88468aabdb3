"""A participant in a real browser (Debian's Chromium driven by Playwright): open the invitation, do
the practice, label by click and by key, reload and resume, finish; then check the export."""

import csv
import os
import shutil
from pathlib import Path

import pytest

from tests.study.conftest import make_study
from vistransfer.study.report import write_export
from vistransfer.study.simulate import serving

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no chromium binary (.ci/run installs Debian's chromium)")


def test_a_participant_labels_everything_in_a_browser(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    store = make_study(tmp_path / "study.sqlite", n_sample=3, n_imgs=3, n_practice=2)
    token = store.invite("alice")
    with serving(store.path) as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page()
        page.set_default_timeout(20_000)
        page.goto(f"{url}/s/{token}")
        expect(page.locator("body")).to_contain_text("practice round of 2")
        page.click("text=Begin the practice")

        # practice: answer by click, get feedback, go on (by click, then by key alone)
        for how in ("click", "key"):
            expect(page.locator("progress")).to_be_visible()
            page.click('button[data-key="1"]')
            expect(page.locator("#verdict")).to_be_visible()
            if how == "click":
                page.click("#next")
            else:
                page.wait_for_load_state("load")
                page.keyboard.press("Enter")
        expect(page.locator("body")).to_contain_text("Practice done")
        page.wait_for_load_state("load")
        page.keyboard.press("Enter")  # the start button has the focus: no Tab needed

        # the study: the image is shown large and unsmoothed
        img = page.locator("img.shown")
        box = img.bounding_box()
        assert box["width"] >= 256 and box["height"] >= 256
        assert img.evaluate("e => getComputedStyle(e).imageRendering") in ("pixelated", "crisp-edges")
        shot = Path(os.environ.get("VISTRANSFER_SCREENSHOT", tmp_path / "label.png"))
        page.screenshot(path=str(shot), full_page=True)

        page.wait_for_load_state("load")
        page.keyboard.press("7")  # by key
        expect(page.locator("body")).to_contain_text("Study: 1 of 6 done")
        page.click('button[data-key="2"]')  # by click
        expect(page.locator("body")).to_contain_text("Study: 2 of 6 done")

        page.reload()  # as if the tab were closed and the link opened again
        page.goto(f"{url}/s/{token}")
        expect(page.locator("body")).to_contain_text("Study: 2 of 6 done")
        for i, key in enumerate("012"):
            page.wait_for_load_state("load")  # keys.js listens once the page has loaded
            page.keyboard.press(key)
            expect(page.locator("body")).to_contain_text(f"Study: {3 + i} of 6 done")
        page.wait_for_load_state("load")
        page.keyboard.press("3")
        expect(page.locator("#done")).to_contain_text("all 6 pictures")

        # a phone: every page fits 360 px (and 320 px) without sideways scrolling
        bob = store.invite("bob")
        phone = browser.new_page(viewport={"width": 360, "height": 740})
        phone.set_default_timeout(20_000)
        for width in (360, 320):
            phone.set_viewport_size({"width": width, "height": 740})
            for url_ in (f"{url}/s/{bob}", f"{url}/s/{bob}/label"):
                phone.goto(url_)
                phone.wait_for_load_state("load")
                assert phone.evaluate("document.documentElement.scrollWidth") <= width, (width, url_)
        buttons = phone.locator(".classes button")
        assert buttons.count() == 10 and all(buttons.nth(i).bounding_box()["x"] + buttons.nth(i).bounding_box()["width"] <= 320 for i in range(10))
        browser.close()

    rows = list(csv.DictReader(open(write_export(store, tmp_path / "labels.csv"))))
    study = [r for r in rows if r["practice"] == "0"]
    assert len(rows) == 8 and len(study) == 6
    assert sorted(int(r["answer"]) for r in study) == [0, 1, 2, 2, 3, 7]
    assert {r["set"] for r in study} == {"sample", "imgs"}
