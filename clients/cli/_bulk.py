"""``mesctl orders bulk-submit``: one order per CSV row, concurrent, with a progress bar, re-runnable.

Each row's request_id is derived from the file name and the row number, so running the same file again
replays the orders already submitted instead of duplicating them (a changed row fails
IDEMPOTENCY_KEY_REUSED). CSV columns (header required, case-insensitive): ``reference``, ``priority``,
``due``, ``parent``, ``request_id`` (optional override) and either ``lines`` (``;``-separated
``STYLE:ALLOY:QTY[:SIZE[:ENGRAVING]]``) or ``style``, ``alloy``, ``quantity``, ``size``, ``engraving``.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from clients import MesClientError
from clients.cli._app import CliUsageError, Context
from clients.cli._args import enum_value, order_line, parse_due, resource_name
from clients.orders import OrdersClient
from mes.common.v1 import common_pb2
from mes.orders.v1 import orders_pb2 as pb

__all__ = ["DESCRIPTION", "BulkSummary", "ProgressBar", "add_arguments", "bulk_submit", "row_request", "row_request_id"]

DESCRIPTION = """\
Submit one order per CSV row, concurrently, with a progress bar on stderr and a summary on stdout.

CSV columns (a header row is required; names are case-insensitive):
  reference   the partner's order reference
  priority    low, normal, high or rush (optional)
  due         YYYY-MM-DD or an ISO date-time
  parent      partner id (optional; default --parent, or the caller's partner)
  lines       ';'-separated STYLE:ALLOY:QTY[:SIZE[:ENGRAVING]]
              (or one line in columns style, alloy, quantity, size, engraving)
  request_id  optional; by default derived from the file name (or --batch) and the row number, so
              running the same file again replays the submitted orders instead of duplicating them

Exit status 1 when any row failed.
"""

_NAMESPACE = uuid.UUID("5b0d8a8e-2f4a-4c33-9d1e-6d6573637463")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--csv", required=True, metavar="FILE", help="CSV file, one order per row")
    p.add_argument("--concurrency", type=int, default=8, help="calls in flight (default 8)")
    p.add_argument("--parent", help="partner for rows without a parent column")
    p.add_argument(
        "--batch",
        help="name the derived request ids are made from (default: the CSV file name); give each new batch "
        "its own name when file names are reused",
    )
    p.add_argument("--no-progress", action="store_true", help="do not draw the progress bar")


def row_request_id(batch: str, row_number: int) -> str:
    """Deterministic per (batch name, data row); the batch name defaults to the CSV file's name (not its
    folder), so a re-run of the same file replays instead of duplicating."""
    return str(uuid.uuid5(_NAMESPACE, f"mesctl-bulk-submit:{Path(batch).name}:{row_number}"))


def row_request(row: Mapping[str, str], *, file_name: str, row_number: int, parent: str = "") -> pb.SubmitOrderRequest:
    """The SubmitOrderRequest of one CSV row (keys lower-case); raises CliUsageError when malformed."""

    def get(key: str) -> str:
        return (row.get(key) or "").strip()

    if get("lines"):
        lines = [order_line(spec.strip()) for spec in get("lines").split(";") if spec.strip()]
    elif get("style"):
        spec = ":".join([get("style"), get("alloy"), get("quantity") or "1", get("size"), row.get("engraving") or ""])
        lines = [order_line(spec)]
    else:
        raise CliUsageError("no 'lines' or 'style' column value")
    for number, line in enumerate(lines, start=1):
        line.line_number = number
    req = pb.SubmitOrderRequest(
        parent=resource_name(get("parent"), "partners") if get("parent") else parent,
        partner_reference=get("reference") or get("partner_reference"),
        lines=lines,
        request_id=get("request_id") or row_request_id(file_name, row_number),
    )
    if get("priority"):
        req.priority = enum_value(common_pb2.Priority, get("priority"), "priority")
    if get("due"):
        req.due_time.FromDatetime(parse_due(get("due")))
    return req


@dataclass
class Failure:
    row: int
    reference: str
    error: str
    code: str = ""
    reason: str = ""


@dataclass
class BulkSummary:
    total: int
    submitted: int = 0
    replayed: int = 0
    failures: list[Failure] = field(default_factory=list)
    orders: list[dict[str, object]] = field(default_factory=list)

    @property
    def done(self) -> int:
        return self.submitted + self.replayed + len(self.failures)

    def as_dict(self) -> dict[str, object]:
        return {
            "total": self.total,
            "submitted": self.submitted,
            "replayed": self.replayed,
            "failed": len(self.failures),
            "failures": [vars(f) for f in sorted(self.failures, key=lambda f: f.row)],
            "orders": sorted(self.orders, key=lambda o: int(str(o["row"]))),
        }

    def render(self) -> str:
        text = f"submitted: {self.submitted}  replayed: {self.replayed}  failed: {len(self.failures)}"
        for f in sorted(self.failures, key=lambda f: f.row):
            text += f"\n  row {f.row} ({f.reference or '-'}): {f.error}"
        return text


class ProgressBar:
    """A plain-text bar on a terminal (redrawn in place); one line per 10 % otherwise."""

    def __init__(self, total: int, stream: TextIO, *, width: int = 30, enabled: bool = True) -> None:
        self.total, self.stream, self.width, self.enabled = total, stream, width, enabled
        self.tty = stream.isatty()
        self._last_draw = 0.0
        self._last_decile = -1

    def line(self, summary: BulkSummary) -> str:
        done, total = summary.done, max(summary.total, 1)
        filled = self.width * done // total
        return (
            f"[{'#' * filled}{'.' * (self.width - filled)}] {done}/{summary.total} {100 * done // total:3d}%"
            f"  submitted {summary.submitted}  replayed {summary.replayed}  failed {len(summary.failures)}"
        )

    def update(self, summary: BulkSummary, *, final: bool = False) -> None:
        if not self.enabled:
            return
        if self.tty:
            now = time.monotonic()
            if final or now - self._last_draw >= 0.1:
                self._last_draw = now
                self.stream.write("\r" + self.line(summary) + ("\n" if final else ""))
                self.stream.flush()
            return
        decile = 10 * summary.done // max(summary.total, 1)
        if decile != self._last_decile and (final or decile > self._last_decile):
            self._last_decile = decile
            self.stream.write(self.line(summary) + "\n")


def _rows(path: str) -> list[dict[str, str]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            if not reader.fieldnames:
                raise CliUsageError(f"{path}: empty CSV (a header row is required)")
            return [{(k or "").strip().lower(): _text(v) for k, v in row.items()} for row in reader]
    except (csv.Error, UnicodeDecodeError) as exc:
        raise CliUsageError(f"{path}: not a readable CSV file: {exc}") from None


def _text(value: str | list[str] | None) -> str:
    """A cell; extra cells beyond the header (a list under the None key) are joined back."""
    if isinstance(value, list):
        return ",".join(value)
    return value or ""


async def _submit_all(
    client: OrdersClient,
    jobs: Iterator[tuple[int, dict[str, str]]],
    summary: BulkSummary,
    args: argparse.Namespace,
    progress: ProgressBar,
) -> None:
    parent = resource_name(args.parent, "partners") if args.parent else ""
    for number, row in jobs:  # shared by all workers: each row is taken once
        reference = (row.get("reference") or row.get("partner_reference") or "").strip()
        try:
            req = row_request(row, file_name=args.batch or args.csv, row_number=number, parent=parent)
            resp = await client.submit_order(req)
        except CliUsageError as exc:
            summary.failures.append(Failure(number, reference, f"bad row: {exc}", "USAGE", "BAD_ROW"))
        except MesClientError as exc:
            summary.failures.append(Failure(number, reference, str(exc), exc.code.name, exc.reason))
        else:
            if resp.replayed:
                summary.replayed += 1
            else:
                summary.submitted += 1
            summary.orders.append({"row": number, "name": resp.order.name, "replayed": resp.replayed})
        progress.update(summary)


async def bulk_submit(args: argparse.Namespace, ctx: Context) -> int:
    if args.concurrency < 1:
        raise CliUsageError("--concurrency must be at least 1")
    rows = _rows(args.csv)
    summary = BulkSummary(total=len(rows))
    progress = ProgressBar(len(rows), ctx.output.stderr, enabled=not args.no_progress)
    jobs = iter(enumerate(rows, start=1))
    workers = [
        _submit_all(ctx.clients.orders, jobs, summary, args, progress) for _ in range(min(args.concurrency, len(rows)))
    ]
    await asyncio.gather(*workers)
    progress.update(summary, final=True)
    ctx.output.emit(summary.as_dict(), summary.render)
    return 1 if summary.failures else 0
