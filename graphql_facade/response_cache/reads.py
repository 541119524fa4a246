"""What a cached answer depends on: the tags (:mod:`~graphql_facade.response_cache.tags`) it reads.

Computed once per computation from the operation (its root fields and their arguments, with the
variables), the caller's tenant and the answer's data (the ids of the orders it shows), so it does
not depend on how the answer was executed. Per object type:

* ``Query.orders`` reads the order lists of its partner (the filter's ``partnerId``; a partner's
  own id for partners) and statuses; ``orderCounts`` the lists of its partner, any status;
* an ``Order`` reads ``order:<id>``, its ``workOrders`` ``prod:<id>``, its ``reservations``
  ``inv:<id>`` (the id from the answer, or from ``order(id:)``);
* a ``WorkOrder`` or ``Operation`` reads ``prod:<order id>`` (the order above it, or its own
  ``orderId``); in a work center's queue, its fields are covered by the center;
* a ``WorkCenter``'s ``stats``, ``queue`` and ``current`` read ``wc:<code>`` and ``wc:?`` (all
  centers: ``wc:*`` for ``workCenters``), and so do its ``state``, ``stateReason`` and ``stateTime``
  wherever the center appears; its other fields are reference data (TTL only). Its ``calendar``
  and ``output`` read ``wc:<code>`` too (every operation event of the center and its calendar's
  event touch it); what the clock alone moves in ``output`` (targets, a new hour or shift) is
  bounded by the TTL;
* ``floor`` reads every work center (``wc:*``: every operation and work-center event touches it)
  and, for its late orders and their count, the order lists of every partner and status; its tiles,
  their queue and WIP and its position are covered by it. What the clock alone changes (output in
  the last hour, orders becoming late) is bounded by the TTL;
* ``partnerAnalytics``, ``flowAnalytics`` and ``metalAnalytics`` read ``analytics:*`` (no event touches
  it: such an answer lives for the analytics TTL); every type below them is covered;
* ``Style`` and ``Alloy`` read the catalogue; ``AlloyBalance`` and ``Shortage`` all of inventory;
  ``LossSummary`` all of production; ``asOf`` reads everything;
* connections, edges, page info, lines, history entries, counts, reservations and their items are
  covered by the object or list above them.

Anything this table does not know (a new root field or type, an object whose id the answer does
not carry, data that is not plain JSON) reads ``*``: such an answer goes stale on every event.

The root fields of :data:`LIVE_FIELDS` read data that no event announces (a partner's webhook
endpoints change through the webhooks service alone), or that differ between callers of one cache
scope (``me``: every operator shares the operators' scope): an operation selecting one is never
cached nor answered from the cache (:func:`selects_live`; the pipeline runs it like a mutation).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    get_named_type,
    get_operation_ast,
)

from graphql_facade.response_cache.selections import Selections, Unknown
from graphql_facade.response_cache.tags import (
    ALLOYS,
    ANALYTICS,
    ANY,
    INVENTORY,
    PRODUCTION,
    STYLES,
    WORK_CENTER_UNKNOWN,
    WORK_CENTERS,
    inventory_of,
    order_lists,
    order_of,
    production_of,
    work_center,
)

__all__ = ["LIVE_FIELDS", "reads_of", "selects_live"]

#: Root fields always answered by their service, never from the cache: no event announces their changes.
LIVE_FIELDS = frozenset({"webhookEndpoints", "webhookEndpoint", "webhookDeliveries", "webhookLog", "me"})

_META = frozenset({"__typename", "__schema", "__type"})
#: The fields of a work center that events change (the others are reference data).
_CENTER_STATE = frozenset({"state", "stateReason", "stateTime"})
#: The fields of a work center that read its operations or its calendar (``wc:<code>``).
_CENTER_READS = frozenset({"stats", "queue", "current", "calendar", "output"})
#: The root fields of the analytics read model (``schema.analytics``) and the types of their answers.
_ANALYTICS_ROOTS = frozenset({"partnerAnalytics", "flowAnalytics", "metalAnalytics"})
_ANALYTICS_TYPES = frozenset(
    {
        "PartnerAnalytics",
        "FlowAnalytics",
        "MetalAnalytics",
        "AnalyticsAsOf",
        "StreamPosition",
        "VolumeBucket",
        "MixShare",
        "CancellationCohort",
        "LeadTime",
        "Delivery",
        "Cadence",
        "ApiUsageBucket",
        "ApiOperationUsage",
        "ApiErrorCount",
        "Idempotency",
        "ValueStreamStep",
        "WorkCenterNow",
        "WipAgingBucket",
        "ThroughputBucket",
        "ShippedBucket",
        "Utilisation",
        "LittlesLaw",
        "LossByOperation",
        "LossByOperator",
        "LossTrendBucket",
        "CustodyPending",
    }
)
#: Types whose fields are covered by the object or list above them.
_COVERED = frozenset(
    {
        "PageInfo",
        "OrderLine",
        "StatusChange",
        "StatusCount",
        "OrderCounts",
        "Reservation",
        "ReservationItem",
        "WorkCenterStats",
        "ShiftCalendar",
        "ShiftWindow",
        "WorkCenterOutput",
        "AsOf",
        "Floor",
        "FloorAsOf",
        "FloorWorkCenter",
        "QueueSummary",
        "Wip",
        *_ANALYTICS_TYPES,
    }
)
#: Objects whose fields read the production of the order above them.
_OF_ORDER = frozenset({"WorkOrder", "Operation"})


class _Ctx(NamedTuple):
    #: The order whose production and inventory data this subtree shows.
    order_id: str | None = None
    #: The work center whose queue this subtree is.
    center: str | None = None


def reads_of(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    partner: str | None,
    data: Any,
) -> frozenset[str]:
    """The tags an answer (``data``: the decoded ``data`` member) reads; ``{"*"}`` when unknown."""
    operation = get_operation_ast(document, operation_name)
    if operation is None or operation.operation is not OperationType.QUERY or schema.query_type is None:
        return frozenset({ANY})
    walk = _Walk(schema, document, operation, variables, partner)
    try:
        walk.selections(schema.query_type, operation.selection_set, data, _Ctx(), root=True)
    except (Unknown, RecursionError):
        return frozenset({ANY})
    return frozenset(walk.tags)


def selects_live(document: DocumentNode, operation_name: str | None) -> bool:
    """Whether the operation selects a root field of :data:`LIVE_FIELDS` (in fragments too, whatever
    ``@skip``/``@include`` say: such an answer must not be cached)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return False
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    seen: set[str] = set()
    todo = [operation.selection_set]
    while todo:
        for selection in todo.pop().selections:
            if isinstance(selection, FieldNode):
                if selection.name.value in LIVE_FIELDS:
                    return True
            elif isinstance(selection, InlineFragmentNode):
                todo.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in seen and name in fragments:
                    seen.add(name)
                    todo.append(fragments[name].selection_set)
    return False


class _Walk(Selections):
    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any] | None,
        partner: str | None,
    ) -> None:
        super().__init__(schema, document, operation, variables)
        self.partner = partner
        self.tags: set[str] = set()

    def selections(
        self, parent: GraphQLObjectType, selection_set: SelectionSetNode, value: Any, ctx: _Ctx, *, root: bool = False
    ) -> None:
        if value is None:
            return
        if not isinstance(value, Mapping):
            raise Unknown
        nodes = self.fields(parent, selection_set)
        if not root:
            ctx = self.enter(parent.name, nodes, value, ctx)
        for node in nodes:
            name = node.name.value
            if name in _META:
                continue
            field = parent.fields.get(name)
            if field is None:
                raise Unknown
            child = ctx
            if root:
                child = self.root(name, node)
            elif parent.name == "WorkCenter" and name in _CENTER_READS:
                self.tags.update(self.center_tags(ctx.center))
            named = get_named_type(field.type)
            if node.selection_set is None:
                continue
            if not isinstance(named, GraphQLObjectType):
                raise Unknown  # interfaces and unions are not part of the query types
            if self.inert(named, node.selection_set, child):
                continue
            self.value(named, node.selection_set, value.get((node.alias or node.name).value), child)

    def inert(self, named: GraphQLObjectType, selection_set: SelectionSetNode, ctx: _Ctx) -> bool:
        """Whether nothing below can add a tag: scalars of a covered type, or of work orders and
        operations of an order whose production is already read."""
        if named.name in _COVERED or (named.name in _OF_ORDER and ctx.order_id):
            return self.leaves_only(named, selection_set)
        return False

    def value(self, named: GraphQLObjectType, selection_set: SelectionSetNode, value: Any, ctx: _Ctx) -> None:
        if isinstance(value, list):
            for item in value:
                self.value(named, selection_set, item, ctx)
        else:
            self.selections(named, selection_set, value, ctx)

    # -- rules -----------------------------------------------------------------------------

    def root(self, name: str, node: FieldNode) -> _Ctx:
        """The tags of a root field (from its arguments); the context its selections are read in."""
        tags = self.tags
        if name == "orders":
            flt = self.argument(node, "filter")
            flt = flt if isinstance(flt, Mapping) else {}
            partner = self.partner or _text(flt.get("partnerId"))
            statuses = flt.get("statuses") or [None]
            tags.update(order_lists(partner, _text(s)) for s in statuses)
        elif name == "orderCounts":
            tags.add(order_lists(self.partner or _text(self.argument(node, "partnerId")), None))
        elif name == "order":
            order_id = _text(self.argument(node, "id"))
            if not order_id:
                raise Unknown
            tags.add(order_of(order_id))
            return _Ctx(order_id=order_id)
        elif name == "workCenters":
            tags.add(WORK_CENTERS)
        elif name == "floor":
            tags.update((WORK_CENTERS, order_lists(None, None)))
        elif name == "workCenter":
            code = _text(self.argument(node, "id"))
            tags.update(self.center_tags(code))
            return _Ctx(center=code)
        elif name in ("alloyBalances", "shortages"):
            tags.add(INVENTORY)
        elif name == "metalLoss":
            tags.add(PRODUCTION)
        elif name in _ANALYTICS_ROOTS:
            tags.add(ANALYTICS)
        elif name == "styles":
            tags.add(STYLES)
        elif name == "alloys":
            tags.add(ALLOYS)
        else:  # asOf (the positions of the moment) and whatever this table does not know
            raise Unknown
        return _Ctx()

    def enter(self, type_name: str, nodes: list[FieldNode], value: Mapping[str, Any], ctx: _Ctx) -> _Ctx:
        """The tags of one object of the answer; the context of its fields."""
        tags = self.tags
        if type_name == "Order":
            order_id = _text(_own(nodes, value, "id")) or ctx.order_id
            if not order_id:
                raise Unknown
            tags.add(order_of(order_id))
            wanted = {node.name.value for node in nodes}
            if "workOrders" in wanted:
                tags.add(production_of(order_id))
            if "reservations" in wanted:
                tags.add(inventory_of(order_id))
            return _Ctx(order_id=order_id)
        if type_name in ("WorkOrder", "Operation"):
            order_id = ctx.order_id or _text(_own(nodes, value, "orderId"))
            if order_id:
                tags.add(production_of(order_id))
            elif ctx.center is None or type_name == "WorkOrder":
                tags.add(PRODUCTION)
            return _Ctx(order_id=order_id, center=ctx.center if type_name == "Operation" else None)
        if type_name == "WorkCenter":
            code = _text(_own(nodes, value, "code")) or _text(_own(nodes, value, "id")) or ctx.center
            if any(node.name.value in _CENTER_STATE for node in nodes):
                tags.add(work_center(code) if code else WORK_CENTERS)  # moved by its operations and blocks
            return _Ctx(center=code or "")  # its queue holds other orders' operations
        if type_name in ("Style", "Alloy"):
            tags.add(STYLES if type_name == "Style" else ALLOYS)
        elif type_name in ("AlloyBalance", "Shortage"):
            tags.add(INVENTORY)
            return _Ctx()
        elif type_name == "LossSummary":
            tags.add(PRODUCTION)
        elif type_name not in _COVERED and not type_name.endswith(("Connection", "Edge")):
            raise Unknown
        return ctx

    @staticmethod
    def center_tags(code: str | None) -> tuple[str, ...]:
        return (work_center(code), WORK_CENTER_UNKNOWN) if code else (WORK_CENTERS,)


def _own(nodes: list[FieldNode], value: Mapping[str, Any], name: str) -> Any:
    """The value of field ``name`` of this object in the answer (under its alias), if selected."""
    for node in nodes:
        if node.name.value == name:
            return value.get((node.alias or node.name).value)
    return None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None
