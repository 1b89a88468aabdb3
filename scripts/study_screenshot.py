"""Screenshot of the labelling page of a study, as a participant sees it (for the README).

    python scripts/study_screenshot.py --db study.sqlite --out docs/study-label.png

Invites a participant named "screenshot", answers the practice round through the HTTP routes, and
photographs the first study image's page in Debian's Chromium (Playwright), on a server it runs on
127.0.0.1 and stops. The participant's practice answers stay in the study file, marked as
simulated; the report leaves them out because they never finish.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import httpx

from vistransfer.study.simulate import serving
from vistransfer.study.store import Store


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", type=Path, default=Path("study.sqlite"))
    ap.add_argument("--out", type=Path, default=Path("docs/study-label.png"))
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright

    store = Store.open(args.db)
    token = store.invite("screenshot", kind="simulated")
    with serving(args.db) as url, sync_playwright() as pw:
        with httpx.Client(base_url=url, headers={"Accept": "application/json"}) as c:
            while (nxt := c.get(f"/s/{token}/label").json())["practice"]:
                c.post(f"/s/{token}/label", json={"item": nxt["item"], "answer": 0}).raise_for_status()
        browser = pw.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 900, "height": 820})
        page.goto(f"{url}/s/{token}/label?start=1")
        page.wait_for_load_state("load")
        args.out.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(args.out), full_page=True)
        browser.close()
    print(f"-> {args.out}")


if __name__ == "__main__":
    main()
