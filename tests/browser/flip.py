"""Read and move a flip-book (`vizcore.ui.flipbook`: pictures switched in the browser by a range input) in Chromium.

The flip-book lives in a shadow root; Playwright's CSS locators pierce it, `document.querySelector` does not, so
page scripts use `ROOTS` to reach it."""

from __future__ import annotations

# Every flip-book root on the page (each inside its component's shadow root).
ROOTS = """() => [...document.querySelectorAll('*')].filter(e => e.shadowRoot)
    .map(h => h.shadowRoot.querySelector('.flip')).filter(Boolean)"""
# A digest of what each flip-book shows: its label, value, title and the pictures' sources.
SHOWN = f"""() => ({ROOTS})().map(r => [r.querySelector('.name').textContent, r.querySelector('.value').textContent,
    r.querySelector('.title').textContent, ...[...r.querySelectorAll('.panels img')].map(i => i.src)].join('|'))"""


def book(page, label: str):
    """The flip-book whose slider is named `label`."""
    return page.locator(".flip").filter(has=page.locator(".name", has_text=label)).first


def value(page, label: str) -> str:
    return book(page, label).locator(".value").inner_text().strip()


def title(page, label: str) -> str:
    return book(page, label).locator(".title").inner_text().strip()


def sources(page, label: str) -> list[str]:
    return book(page, label).locator(".panels img").evaluate_all("els => els.map(e => e.src)")


def wait_for(page, label: str, timeout: float = 120_000) -> None:
    book(page, label).locator(".panels img").first.wait_for(state="attached", timeout=timeout)


def press(page, label: str, key: str, times: int = 1) -> None:
    """Focus the flip-book's slider and press `key` (ArrowRight, ArrowLeft, Home, End) `times` times."""
    rng = book(page, label).locator("input[type=range]")
    rng.focus()
    for _ in range(times):
        page.keyboard.press(key)


def move(page, label: str, presses: int) -> None:
    """Move by `presses` steps (negative: left); the flip-book switches in the page, with no rerun to wait for."""
    press(page, label, "ArrowRight" if presses > 0 else "ArrowLeft", abs(presses))
