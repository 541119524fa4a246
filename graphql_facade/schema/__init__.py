"""The two schemas of the facade: operators' (full floor) and partners' (own orders, catalogue).

Both have the analytics fields (``schema.analytics``): all of them for operators, a partner's own
``partnerAnalytics`` for partners (the plant's ``flowAnalytics`` and ``metalAnalytics`` answer it FORBIDDEN).

Partners' schema has introspection disabled and no field suggestions; both mask unexpected
errors and use the parser and validation caches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext

from graphql_facade.documents import DocumentCache, DocumentCaching
from graphql_facade.errors import ErrorShaping
from graphql_facade.schema.analytics import OperatorAnalyticsQuery, PartnerAnalyticsQuery
from graphql_facade.schema.common import SCALARS
from graphql_facade.schema.operator import OperatorMutation, OperatorQuery, OperatorSubscription
from graphql_facade.schema.partner import PartnerMutation, PartnerQuery, PartnerSubscription

__all__ = ["FacadeSchema", "Schemas", "build_schemas"]


class FacadeSchema(strawberry.Schema):
    """A Strawberry schema whose errors are logged by the facade's error model, not here."""

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        return None


@strawberry.type(name="Query")
class OperatorRoot(OperatorQuery, OperatorAnalyticsQuery):
    """The operators' queries and the analytics."""


@strawberry.type(name="Query")
class PartnerRoot(PartnerQuery, PartnerAnalyticsQuery):
    """The partners' queries and their own analytics."""


@dataclass(frozen=True)
class Schemas:
    operator: FacadeSchema
    partner: FacadeSchema
    operator_documents: DocumentCache
    partner_documents: DocumentCache

    def for_audience(self, audience: str) -> tuple[FacadeSchema, DocumentCache]:
        if audience == "partner":
            return self.partner, self.partner_documents
        return self.operator, self.operator_documents


def _schema(
    query: type, mutation: type, subscription: type, *, partner: bool, cache_size: int
) -> tuple[FacadeSchema, DocumentCache]:
    holder: dict[str, Any] = {}

    def caching() -> DocumentCaching:
        return DocumentCaching(holder["documents"])

    def shaping() -> ErrorShaping:
        return ErrorShaping(hide_suggestions=partner)

    schema = FacadeSchema(
        query=query,
        mutation=mutation,
        subscription=subscription,
        extensions=[caching, shaping],
        config=StrawberryConfig(scalar_map=SCALARS, disable_field_suggestions=partner),
    )
    documents = DocumentCache(schema, maxsize=cache_size, introspection=not partner, hide_suggestions=partner)
    holder["documents"] = documents
    return schema, documents


def build_schemas(*, document_cache_size: int = 1024) -> Schemas:
    operator, operator_documents = _schema(
        OperatorRoot, OperatorMutation, OperatorSubscription, partner=False, cache_size=document_cache_size
    )
    partner, partner_documents = _schema(
        PartnerRoot, PartnerMutation, PartnerSubscription, partner=True, cache_size=document_cache_size
    )
    return Schemas(operator, partner, operator_documents, partner_documents)
