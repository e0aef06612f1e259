"""The report, opened from its file in real headless Chromium driven by Playwright.

Needs Debian's chromium (/usr/bin/chromium) and the playwright package; `make test`
installs both. Playwright's own browser download does not work on these machines, so the
system Chromium is launched through ``executable_path``.
"""

import shutil

import pytest

from regimescope.report import write_report
from regimescope.studies import STUDIES, run_study
from tests.test_study_framework import TOY

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def open_in_chromium(path):
    """(image states, console errors, verdict rows) of the page at ``path``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page()
        errors = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(path.resolve().as_uri())
        page.wait_for_load_state("load")
        images = page.eval_on_selector_all(
            "img", "imgs => imgs.map(i => i.complete && i.naturalWidth > 0)"
        )
        rows = page.locator("tr.verdict-row").count()
        browser.close()
    return images, errors, rows


def test_report_opens_with_every_image_and_no_errors(store, tmp_path):
    if not shutil.which("chromium"):
        pytest.fail("Debian's chromium is missing: run `make test`, which installs it")
    for study in STUDIES.values():
        run_study(study, "smoke")
    run_study(TOY, "quick")
    html, _ = write_report(store, tmp_path / "out")
    images, errors, rows = open_in_chromium(html)
    assert images and all(images)
    assert errors == []
    assert rows == len(STUDIES) + 1  # one row per registered study, plus the toy
