"""Screenshots of the pages at 1280x800, kept in ``docs/screenshots/<page>.png`` (the README shows
them) and compared with those committed baselines.

A shot is taken with animations off and the caret hidden, again until two consecutive shots are
equal (the page has settled), with what changes from run to run frozen or masked: the ids the
stack made are replaced by fixed stand-ins (so the layout does not move), ages and timers all
read ``AGE``, what the page's ``frozen`` selectors match reads their fixed text (what moves with the
clock and the layout with it: the shift on now), and times of day (the ``mask`` locators) are painted
a flat grey. It then matches
the baseline when at most ``MAX_DIFFERING`` of its pixels differ (pixelmatch, which also ignores
anti-aliasing, on images decoded by Pillow). ``MES_UPDATE_SCREENSHOTS=1`` writes the new shots as
the baselines instead; a missing baseline fails and says so. A failed comparison leaves the shot and a picture of the
differences beside the test's temporary files.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path

from PIL import Image
from pixelmatch.contrib.PIL import pixelmatch
from playwright.sync_api import Locator, Page

from tests.e2e._stack import ROOT

SCREENSHOTS = ROOT / "docs" / "screenshots"
UPDATE_VAR = "MES_UPDATE_SCREENSHOTS"
#: At most this share of the pixels may differ from the baseline (0.1 %).
MAX_DIFFERING = 0.001
#: The grey of a masked value: it reads as "a value here" in the README's pictures.
MASK_COLOR = "#c9ced6"
_SETTLE_TRIES = 5
#: The ids the stack makes (orders' UUIDv7, work orders' ``wo-<hex>``) and their stand-ins in the
#: pictures: the n-th distinct id of a page becomes the n-th stand-in, so the layout never moves;
#: ages and timers (``formatAge``: "45 s", "12 min", "3 h 05 min", "2 d 4 h") all read ``AGE``.
_ID_PATTERNS = (r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", r"wo-[0-9a-f]{32}")
_AGE_PATTERN = r"\b(?:\d+ d \d+ h|\d+ h \d\d min|\d+ min|\d+ s)\b"
AGE = "4 min"
_STAND_INS = [str(uuid.uuid5(uuid.NAMESPACE_URL, f"jewelry-mes/demo/{n}")) for n in range(1, 100)]
_FREEZE = """([patterns, standIns, agePattern, age]) => {
  const kinds = patterns.map((p) => new RegExp(p, "g"));
  const ages = new RegExp(agePattern, "g");
  const seen = new Map();
  const standIn = (kind, value) => {
    if (!seen.has(value)) {
      const n = seen.size;
      const id = standIns[n % standIns.length];
      seen.set(value, kind === 0 ? id : `wo-${id.replaceAll("-", "")}`);
    }
    return seen.get(value);
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    let text = node.nodeValue;
    kinds.forEach((re, kind) => { text = text.replace(re, (value) => standIn(kind, value)); });
    text = text.replace(ages, age);
    if (text !== node.nodeValue) node.nodeValue = text;
  }
  return seen.size;
}"""


def updating() -> bool:
    return os.environ.get(UPDATE_VAR, "").strip().lower() in {"1", "true", "yes"}


_FIX_TEXT = """(frozen) => {
  for (const [selector, text] of Object.entries(frozen)) {
    for (const element of document.querySelectorAll(selector)) {
      if (element.textContent !== text) element.textContent = text;
    }
  }
}"""


def freeze(page: Page, frozen: Mapping[str, str] | None = None) -> int:
    """Replace the text of what ``frozen``'s selectors match by its fixed text, the ids the stack made in
    the page's text by fixed stand-ins, and every age by ``AGE``; returns how many ids."""
    if frozen:
        page.evaluate(_FIX_TEXT, dict(frozen))
    count: int = page.evaluate(_FREEZE, [list(_ID_PATTERNS), _STAND_INS, _AGE_PATTERN, AGE])
    return count


def shoot(page: Page, mask: Sequence[Locator] = (), frozen: Mapping[str, str] | None = None) -> bytes:
    """A PNG of the viewport once two consecutive shots are equal, ids and ages frozen (and ``frozen``'s
    selectors' text fixed) and ``mask`` painted grey (frozen again before each shot: a page's timer may
    have rendered its ages anew)."""
    previous = b""
    for _ in range(_SETTLE_TRIES):
        freeze(page, frozen)
        shot = page.screenshot(animations="disabled", caret="hide", mask=list(mask), mask_color=MASK_COLOR)
        if shot == previous:
            return shot
        previous = shot
        page.wait_for_timeout(250)
    raise AssertionError(f"the page did not settle: {_SETTLE_TRIES} consecutive screenshots all differ")


def differing(actual: Image.Image, baseline: Image.Image, diff_path: Path | None = None) -> float:
    """The share of pixels that differ (pixelmatch's default threshold, anti-aliasing ignored)."""
    if actual.size != baseline.size:
        return 1.0
    output = Image.new("RGBA", actual.size) if diff_path is not None else None
    count = pixelmatch(actual, baseline, output)
    if output is not None and count:
        output.save(diff_path)
    width, height = actual.size
    return count / (width * height)


def check(name: str, png: bytes, scratch: Path) -> None:
    """Compare the shot with ``docs/screenshots/<name>.png`` (or write it there when updating)."""
    baseline_path = SCREENSHOTS / f"{name}.png"
    if updating():
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        baseline_path.write_bytes(png)
        return
    assert baseline_path.exists(), f"no baseline {baseline_path.relative_to(ROOT)}: run with {UPDATE_VAR}=1"
    actual = Image.open(io.BytesIO(png)).convert("RGBA")
    baseline = Image.open(baseline_path).convert("RGBA")
    scratch.mkdir(parents=True, exist_ok=True)
    diff_path = scratch / f"{name}.diff.png"
    share = differing(actual, baseline, diff_path)
    if share > MAX_DIFFERING:
        (scratch / f"{name}.png").write_bytes(png)
        raise AssertionError(
            f"{name}: {share:.3%} of the pixels differ from {baseline_path.relative_to(ROOT)} "
            f"(at most {MAX_DIFFERING:.1%}; sizes {actual.size} vs {baseline.size}); the shot and its "
            f"differences are in {scratch}. If the change is meant, look at it and run with {UPDATE_VAR}=1"
        )
