"""Rows <-> domain objects: columns named like the fields, JSON columns, UTC-aware times,
and the version-checked update every repository uses."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, fields
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Table, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.elements import ColumnElement

from mes_kernel.clock import as_utc
from mes_kernel.errors import Conflict
from services.production.domain.bom import LineSpec
from services.production.domain.styles import BomItem, MaterialKind, RoutingStep

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

__all__ = [
    "bom_from_json",
    "from_row",
    "lines_from_json",
    "read_in_transaction",
    "records_to_json",
    "routing_from_json",
    "to_values",
    "update_versioned",
]

D = TypeVar("D", bound="DataclassInstance")
#: Domain field -> column, where they differ.
_COLUMNS = {"create_time": "created_at", "update_time": "updated_at"}


def _utc(value: Any) -> Any:
    return as_utc(value) if isinstance(value, datetime) else value


def from_row(cls: type[D], row: Any, **values: Any) -> D:
    """A ``cls`` from the row's columns of the same names (``create_time``/``update_time``
    from ``created_at``/``updated_at``; times as aware UTC); ``values`` convert the others."""
    columns = row._mapping
    data = {
        f.name: _utc(columns[_COLUMNS.get(f.name, f.name)])
        for f in fields(cls)
        if f.name not in values and _COLUMNS.get(f.name, f.name) in columns
    }
    return cls(**data, **values)


def _column(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def to_values(obj: DataclassInstance, names: Iterable[str]) -> dict[str, Any]:
    """Column values of the fields ``names`` (enum members by value)."""
    return {_COLUMNS.get(name, name): _column(getattr(obj, name)) for name in names}


def records_to_json(records: Sequence[DataclassInstance]) -> list[dict[str, Any]]:
    """Routing steps, BOM items or line specs as JSON objects (field name -> value)."""
    return [{k: str(v) if k == "kind" else v for k, v in asdict(r).items()} for r in records]


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


def bom_from_json(data: Sequence[dict[str, Any]]) -> tuple[BomItem, ...]:
    return tuple(
        BomItem(MaterialKind(d["kind"]), str(d["material_code"]), int(d["weight_mg"]), int(d["pieces"])) for d in data
    )


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


def read_in_transaction(session: AsyncSession, key: str) -> dict[Any, Any]:
    """What this transaction already read under ``key`` (styles, work centers, open loads),
    dropped with the transaction: a consumer's batch releases many orders in one transaction,
    all of them with the same few styles and work centers. The repositories keep it up to
    date with the transaction's own writes (or drop it)."""
    transaction = session.sync_session.get_transaction()
    found: tuple[Any, dict[Any, Any]] | None = session.info.get(key)
    if found is None or found[0] is not transaction:
        found = session.info[key] = (transaction, {})
    return found[1]
