"""The HTML report opens in a real headless browser, offline, without console errors.

Chromium (Debian's ``chromium`` package; CI installs it) loads the file with a dead proxy
for any network request, runs its script, and dumps the DOM; its log (stderr) carries
every console message and uncaught error of the page. The test skips only when no
Chromium binary exists on the machine.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.report.conftest import Demo

PRODUCTS = ("gadget-max", "sprocket", "widget-pro")
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def browser() -> str:
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(
        "no Chromium binary on this machine (install Debian's chromium package: "
        "apt-get install -y chromium); CI installs it"
    )


def open_in_browser(page: Path, profile: Path) -> subprocess.CompletedProcess[str]:
    """Loads ``page`` headless with networking off; returns the dumped DOM and the log."""
    command = [
        browser(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--no-default-browser-check",
        # Any request that leaves the machine goes to a port nobody listens on.
        "--proxy-server=http://127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--dump-dom",
        page.as_uri(),
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)


def test_the_html_report_opens_offline_with_its_charts_and_lists(
    demo: Demo, tmp_path: Path
) -> None:
    page = tmp_path / "report.html"
    ran = demo.run(
        "report", demo.examples, "--format", "html", "--out", str(page), "--at", "2026-12-05"
    )
    assert ran.code == 0, ran.output
    html = page.read_text(encoding="utf-8")
    # Self-contained: nothing is fetched (namespaces in SVG are names, not requests).
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html)
    assert "@import" not in html and "url(http" not in html
    assert "Content-Security-Policy" in html

    opened = open_in_browser(page, tmp_path / "profile")
    assert opened.returncode == 0, opened.stderr[-2000:]
    console = [line for line in opened.stderr.splitlines() if ":CONSOLE" in line]
    assert console == []
    assert "Page load failed" not in opened.stderr
    dom = opened.stdout
    assert 'data-ready="true"' in dom  # the page's script ran to its end
    # The first thing on the page: every product summed up, before any product's section.
    summary = dom.split('<section id="summary">', 1)[1].split("</section>", 1)[0]
    assert dom.index('<section id="summary">') < dom.index('id="product-')
    for product in PRODUCTS:
        assert f'href="#product-{product}"' in summary and f'href="#expiring-{product}"' in summary
    assert "Certification report, 5 December 2026" in dom  # dates as people write them
    assert "2026, due 31 December 2026, 26 days left" in summary
    for product in PRODUCTS:
        section = dom.split(f'id="product-{product}"', 1)[1].split("</section>", 1)[0]
        # The trend and the completion curves, drawn by matplotlib as inline SVG with real
        # content, as wide as the page (no fixed size).
        charts = re.findall(r'<figure class="chart (\w+)">.*?<svg.*?</svg>', section, re.S)
        assert charts == ["trend", "completions"], product
        assert not re.search(r'<svg[^>]*\swidth="', section)
        assert section.count("<path") > 10
        assert '<table class="counts">' in section and '<table class="period">' in section
        assert f'<table class="list" id="expiring-{product}">' in section
        assert "compliance rate" in section
        # What to expect at the deadline, with its reasoning.
        assert "expected to lapse on 31 December 2026" in section
    widget = dom.split('id="product-widget-pro"', 1)[1].split("</section>", 1)[0]
    assert "beside period 2025 as it went" in widget and "as period 2025 went" in widget
    # The expiring list holds the learners the CSV report names for the same window.
    listed = re.findall(r'id="expiring-[\w-]+">.*?</table>', dom, re.S)
    in_lists = sum(block.count("<tr>") - 1 for block in listed)
    csv_run = demo.run(
        "report", demo.examples, "--format", "csv", "--at", "2026-12-05", "--expiring-within", "30"
    )
    assert in_lists == len(csv_run.stdout.splitlines()) - 1


def test_the_lapsed_list_after_the_rollover(demo: Demo, tmp_path: Path) -> None:
    page = tmp_path / "rollover.html"
    ran = demo.run(
        "report", demo.examples, "--format", "html", "--out", str(page), "--at", "2027-01-02"
    )
    assert ran.code == 0, ran.output
    html = page.read_text(encoding="utf-8")
    for product, lapsed in (("widget-pro", 20), ("gadget-max", 9), ("sprocket", 6)):
        section = html.split(f'id="product-{product}"', 1)[1].split("</section>", 1)[0]
        assert f"Lapsed at the last rollover: period 2026, due 31 December 2026 ({lapsed})" in (
            section
        )
        table = section.split(f'id="lapsed-{product}"', 1)[1].split("</table>", 1)[0]
        assert table.count("<tr>") - 1 == lapsed
    assert "asmith" in html.split('id="lapsed-gadget-max"', 1)[1].split("</table>", 1)[0]
