"""Rows <-> domain objects (JSON columns, enum names, UTC-aware times)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from mes_kernel.errors import Conflict
from services.production.domain.bom import LineSpec
from services.production.domain.styles import BomItem, MaterialKind, RoutingStep

__all__ = [
    "bom_from_json",
    "bom_to_json",
    "lines_from_json",
    "lines_to_json",
    "routing_from_json",
    "routing_to_json",
    "update_versioned",
]


def routing_to_json(routing: Sequence[RoutingStep]) -> list[dict[str, Any]]:
    return [
        {
            "sequence": s.sequence,
            "operation_code": s.operation_code,
            "work_center_type": s.work_center_type,
            "expected_minutes": s.expected_minutes,
            "loss_tolerance_per_mille": s.loss_tolerance_per_mille,
            "optional": s.optional,
        }
        for s in routing
    ]


def routing_from_json(data: Sequence[dict[str, Any]]) -> tuple[RoutingStep, ...]:
    return tuple(
        RoutingStep(
            sequence=int(d["sequence"]),
            operation_code=str(d["operation_code"]),
            work_center_type=str(d["work_center_type"]),
            expected_minutes=int(d["expected_minutes"]),
            loss_tolerance_per_mille=int(d["loss_tolerance_per_mille"]),
            optional=bool(d["optional"]),
        )
        for d in data
    )


def bom_to_json(bom: Sequence[BomItem]) -> list[dict[str, Any]]:
    return [
        {
            "kind": str(item.kind),
            "material_code": item.material_code,
            "weight_mg": item.weight_mg,
            "pieces": item.pieces,
        }
        for item in bom
    ]


def bom_from_json(data: Sequence[dict[str, Any]]) -> tuple[BomItem, ...]:
    return tuple(
        BomItem(MaterialKind(d["kind"]), str(d["material_code"]), int(d["weight_mg"]), int(d["pieces"])) for d in data
    )


def lines_to_json(lines: Sequence[LineSpec]) -> list[dict[str, Any]]:
    return [
        {
            "line_number": ln.line_number,
            "style_code": ln.style_code,
            "alloy_code": ln.alloy_code,
            "size": ln.size,
            "engraving": ln.engraving,
            "quantity": ln.quantity,
        }
        for ln in lines
    ]


def lines_from_json(data: Sequence[dict[str, Any]]) -> tuple[LineSpec, ...]:
    return tuple(
        LineSpec(
            int(d["line_number"]),
            str(d["style_code"]),
            str(d["alloy_code"]),
            str(d["size"]),
            str(d["engraving"]),
            int(d["quantity"]),
        )
        for d in data
    )


async def update_versioned(
    session: AsyncSession,
    table: Table,
    where: Sequence[ColumnElement[bool]],
    version: int,
    values: dict[str, Any],
) -> int:
    """``UPDATE ... WHERE <key> AND version = :version``; returns the new version.

    No row means someone else changed it first: ABORTED (VERSION_CONFLICT), retried by the
    unit of work.
    """
    result = await session.execute(
        update(table).where(*where, table.c.version == version).values(**values, version=version + 1)
    )
    if not isinstance(result, CursorResult) or result.rowcount != 1:
        raise Conflict(f"{table.name} row changed concurrently; retry")
    return version + 1
