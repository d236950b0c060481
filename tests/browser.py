"""Headless Chromium (Debian's, driven by Playwright) for the tests that look at what a person would see."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def chromium_path() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if not path:
        raise RuntimeError("Chromium is missing: `make test` installs it (Debian package chromium)")
    return path


@dataclass
class PageErrors:
    """Uncaught JavaScript exceptions and console errors of a page (network noise from blocked external hosts
    is kept apart: this machine has no internet, and pages may try to load telemetry or fonts)."""

    exceptions: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)


@contextmanager
def open_page(url: str, width: int = 1400, height: int = 900) -> Iterator[tuple[object, PageErrors]]:
    from playwright.sync_api import sync_playwright

    errors = PageErrors()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            page.on("pageerror", lambda exc: errors.exceptions.append(str(exc)))
            page.on(
                "console",
                lambda msg: (
                    errors.console.append(msg.text)
                    if msg.type == "error" and "Failed to load resource" not in msg.text
                    else None
                ),
            )
            page.goto(url)
            yield page, errors
        finally:
            browser.close()
