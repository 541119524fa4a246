"""The browser side of the live-latency bench (``perf.live_bench``): pages of the web app open in Debian's
chromium (Playwright's async API, one browser context per page), each signed in through the form, with a
MutationObserver that records when a work center's element changes what it says.

The observer (:data:`OBSERVER`, an init script of every document of the context) runs after each batch
of DOM changes (a microtask after the script that made them, before the next paint) and reads every
work center the page shows: on the Floor page each tile (``.tile[data-center]``: its state badge and
``.tile-reason``, ``floor.js``), on a Bench page the state line (``.bench-state``: its badge and its
text without the ticking age, ``bench.js``). When what a work center's element says differs from the
last record of it, a record ``[center, state, text, ms]`` is appended, ``ms`` being
``performance.timeOrigin + performance.now()``: wall-clock milliseconds on the host's clock, the clock
of ``time.time()`` in the driver. :meth:`LivePage.clock_offset_ms` checks that the two agree. The same
script wraps ``WebSocket`` to note when each ``WorkCenterUpdated`` frame of ``floorEvents`` reaches the
page (before the page's own handler runs), so that a latency splits into the facade's part and the
page's.

Problems of a page (console errors and warnings, page errors, failed requests, answers of 400 and more,
requests to another origin) are watched with the web tests' ``Hygiene``.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.async_api import Browser, BrowserContext, Page, expect

from perf._live_match import PageSpec, Record
from perf._pg import _children
from tests.e2e.web._browser import CONTEXT_OPTIONS, EXPECT_MS, Hygiene

__all__ = ["OBSERVER", "LivePage", "browser_pids", "open_page"]

#: Records each change of what a work center's element says, with the wall-clock time of the change.
OBSERVER = r"""
(() => {
  if (window.__live) return;
  const records = [];
  const last = new Map();
  const now = () => performance.timeOrigin + performance.now();
  const match = window.location.pathname.match(/^\/bench\/([^/?#]+)/);
  const benchCenter = match ? decodeURIComponent(match[1]) : null;
  const clean = (text) => (text || "").replace(/\s+/g, " ").trim();
  function note(center, state, text, at) {
    const key = `${state}\u0000${text}`;
    if (last.get(center) === key) return;
    last.set(center, key);
    records.push([center, state, text, at]);
  }
  function scan() {
    const at = now();
    for (const tile of document.querySelectorAll(".tile[data-center]")) {
      const badge = tile.querySelector(".tile-state .badge");
      const reason = tile.querySelector(".tile-reason");
      note(tile.dataset.center, clean(badge && badge.textContent), clean(reason && reason.textContent), at);
    }
    if (benchCenter) {
      const line = document.querySelector(".bench-state");
      if (line) {
        const copy = line.cloneNode(true);
        for (const element of copy.querySelectorAll(".badge, .age")) element.remove();
        const badge = line.querySelector(".badge");
        note(benchCenter, clean(badge && badge.textContent), clean(copy.textContent), at);
      }
    }
  }
  new MutationObserver(scan).observe(document, { childList: true, subtree: true, characterData: true });
  // The tiles the page's socket receives (WorkCenterUpdated frames of floorEvents), when they arrive:
  // this listener is added when the socket is made, before the page's own.
  const frames = [];
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener("message", (message) => {
        const at = now();
        let frame;
        try {
          frame = JSON.parse(message.data);
        } catch (_) {
          return;
        }
        const data = frame && frame.payload && frame.payload.data;
        const event = data && data.floorEvents;
        if (!event) return;
        if (event.__typename === "ResyncRequired") {
          notes.push(["resync", String(event.reason), Number(event.seq), at]);
          return;
        }
        if (event.__typename !== "WorkCenterUpdated" || !event.workCenter) return;
        const center = event.workCenter;
        const state = center.state === "BLOCKED" ? "Blocked" : String(center.state);
        frames.push([String(center.id), state, center.stateReason || "", at]);
      });
    }
  };
  // The page's own requests to /graphql (its refetches): when each started and answered.
  const notes = [];
  const nativeFetch = window.fetch.bind(window);
  window.fetch = async (...args) => {
    const started = now();
    const response = await nativeFetch(...args);
    notes.push(["fetch", String(args[0]), response.status, started, now()]);
    return response;
  };
  window.__live = { records, frames, notes, now };
})();
"""


@dataclass
class LivePage:
    spec: PageSpec
    origin: str
    context: BrowserContext
    page: Page
    hygiene: Hygiene

    async def records(self) -> list[Record]:
        """What the page's DOM said of each work center, each time it changed."""
        return await self._rows("records")

    async def frames(self) -> list[Record]:
        """The work centers' tiles the page's socket received, when they arrived."""
        return await self._rows("frames")

    async def notes(self) -> list[list[Any]]:
        """The page's refetches (``fetch``, url, status, started, answered) and the ``ResyncRequired`` frames
        of its socket (``resync``, reason, seq, when)."""
        rows: list[list[Any]] = await self.page.evaluate("window.__live ? window.__live.notes : []")
        return rows

    async def _rows(self, name: str) -> list[Record]:
        rows: list[list[Any]] = await self.page.evaluate(f"window.__live ? window.__live.{name} : []")
        return [Record(self.spec.name, str(c), str(s), str(t), float(at)) for c, s, t, at in rows]

    async def clock_offset_ms(self) -> float:
        """The page's wall clock minus ``time.time()`` at the middle of the call (ms)."""
        before = time.time()
        page_ms = float(await self.page.evaluate("performance.timeOrigin + performance.now()"))
        after = time.time()
        return page_ms - (before + after) * 500.0

    async def live_status(self) -> str:
        return str(await self.page.locator("#live-status").text_content() or "")

    def problems(self) -> list[str]:
        return [f"{self.spec.name}: {p}" for p in self.hygiene.problems()]

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.context.close()


async def open_page(browser: Browser, origin: str, spec: PageSpec, path: str, who: tuple[str, str]) -> LivePage:
    """A new context signed in as ``who`` (code, password) through the sign-in form, landing on ``path``,
    once its live indicator says ``Live``."""
    context = await browser.new_context(**CONTEXT_OPTIONS)
    try:
        await context.add_init_script(OBSERVER)
        page = await context.new_page()
        # The async page emits the same events, with the same payloads, as the sync one Hygiene is typed for.
        hygiene = Hygiene(origin).watch(page)  # type: ignore[arg-type]
        code, password = who
        await page.goto(f"{origin}/sign-in?next={path}", timeout=60_000)
        await page.get_by_label("Operator code").fill(code)
        await page.get_by_label("Password").fill(password)
        await page.get_by_role("button", name="Sign in").click()
        await page.wait_for_url(f"{origin}{path}*", timeout=60_000)
        await expect(page.locator("#live-status")).to_have_text("Live", timeout=max(EXPECT_MS, 60_000))
    except BaseException:
        await context.close()
        raise
    return LivePage(spec, origin, context, page, hygiene)


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def browser_pids(exclude: Sequence[int]) -> dict[str, list[int]]:
    """This process's descendants that are not the stack's (``exclude`` and theirs): chromium's processes
    and Playwright's driver, by kind."""
    skip = set(exclude)
    found: dict[str, list[int]] = {"chromium": [], "playwright driver": []}
    todo = [os.getpid()]
    while todo:
        for child in _children(todo.pop()):
            if child in skip:
                continue
            todo.append(child)
            line = _cmdline(child)
            if "chrom" in line:
                found["chromium"].append(child)
            elif "playwright" in line or "node" in line:
                found["playwright driver"].append(child)
    return found
