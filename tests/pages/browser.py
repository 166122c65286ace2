"""Open a page in headless Chromium (Debian's ``chromium``): screenshots, and the layout
checks of ``checks.js`` read back from the DOM (``--dump-dom``)."""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
CHECKS = Path(__file__).with_name("checks.js")
VIEWPORT = (1366, 768)


def _command(profile: Path) -> list[str]:
    return [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--hide-scrollbars", f"--window-size={VIEWPORT[0]},{VIEWPORT[1]}",
            f"--user-data-dir={profile}"]


def screenshot(page: Path, out: Path, profile: Path) -> Path:
    """A PNG of the page's first screen (the viewport)."""
    subprocess.run([*_command(profile), f"--screenshot={out}", page.as_uri()],
                   capture_output=True, check=True)
    return out


def page_checks(page: Path, first_screen: list[str], profile: Path) -> dict[str, Any]:
    """The checks of ``checks.js`` on a copy of the page that allows that one inline script
    (the page's own policy forbids every script)."""
    text = page.read_text(encoding="utf-8")
    text = text.replace("default-src 'none';", "default-src 'none'; script-src 'unsafe-inline';")
    script = (f'<script data-first-screen="{html.escape(json.dumps(first_screen))}">'
              f"{CHECKS.read_text()}</script>")
    copy = page.with_name(page.stem + ".checked.html")
    copy.write_text(text.replace("</body>", script + "</body>"), encoding="utf-8")
    dom = subprocess.run([*_command(profile), "--dump-dom", copy.as_uri()],
                         capture_output=True, text=True, check=True).stdout
    match = re.search(r'<pre id="synthgate-checks">(.*?)</pre>', dom, re.S)
    assert match, "the check script did not run"
    result: dict[str, Any] = json.loads(html.unescape(match.group(1)))
    return result
