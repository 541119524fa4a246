"""The analytics fields on the compiled path: the same calls as the Strawberry resolvers
(:mod:`graphql_facade.schema.analytics`), whose objects are the sources here; every field of their types
is one attribute, written as JSON the way Strawberry writes it (enum names, ISO date-times)."""

from __future__ import annotations

from typing import Any

from strawberry.utils.str_converters import to_camel_case

from graphql_facade.compiled.fields import Args, Spec, TypeSpecs, attribute, one
from graphql_facade.context import RequestContext
from graphql_facade.schema import analytics as schema

__all__ = ["ANALYTICS_OBJECTS", "ANALYTICS_ROOT", "with_analytics"]

#: The types of the answers (each field one attribute of the Strawberry object).
_TYPES: tuple[type, ...] = (
    schema.AnalyticsAsOf,
    schema.StreamPosition,
    schema.PartnerAnalytics,
    schema.VolumeBucket,
    schema.MixShare,
    schema.CancellationCohort,
    schema.LeadTime,
    schema.Delivery,
    schema.Cadence,
    schema.ApiUsageBucket,
    schema.ApiOperationUsage,
    schema.ApiErrorCount,
    schema.Idempotency,
    schema.FlowAnalytics,
    schema.ValueStreamStep,
    schema.WorkCenterNow,
    schema.WipAgingBucket,
    schema.ThroughputBucket,
    schema.ShippedBucket,
    schema.Utilisation,
    schema.LittlesLaw,
    schema.MetalAnalytics,
    schema.LossByOperation,
    schema.LossByOperator,
    schema.LossTrendBucket,
    schema.CustodyPending,
)


def _specs(kind: type) -> tuple[str, dict[str, Spec]]:
    """The GraphQL name of a Strawberry type and a getter per field."""
    definition = kind.__strawberry_definition__  # type: ignore[attr-defined]
    fields: dict[str, Spec] = {
        str(field.graphql_name or to_camel_case(field.python_name)): attribute(field.python_name)
        for field in definition.fields
    }
    return str(definition.name), fields


async def _partners(context: RequestContext, args: Args) -> Any:
    return await schema.partner_analytics(context, args["from"], args["to"], args["grain"], args.get("partner"))


async def _flow(context: RequestContext, args: Args) -> Any:
    return await schema.flow_analytics(context, args["from"], args["to"], args["grain"])


async def _metal(context: RequestContext, args: Args) -> Any:
    return await schema.metal_analytics(context, args["from"], args["to"], args["grain"])


#: The root fields (the same in both schemas: the resolvers confine a partner or refuse it).
ANALYTICS_ROOT: dict[str, Spec] = {
    "partnerAnalytics": one(_partners),
    "flowAnalytics": one(_flow),
    "metalAnalytics": one(_metal),
}
ANALYTICS_OBJECTS: TypeSpecs = dict(_specs(kind) for kind in _TYPES)


def with_analytics(specs: TypeSpecs) -> TypeSpecs:
    """``specs`` with the analytics types and root fields added."""
    merged = {**specs, **ANALYTICS_OBJECTS}
    merged["Query"] = {**specs.get("Query", {}), **ANALYTICS_ROOT}
    return merged
