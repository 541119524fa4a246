"""Property: whatever partners ask, in whatever order, with the response cache on, every answer
holds only the asking partner's orders (another partner's order looks exactly like a missing one)."""

from __future__ import annotations

import asyncio

from hypothesis import given, settings
from hypothesis import strategies as st

from mes_kernel import api_keys
from tests.unit.graphql_facade.conftest import running_app
from tests.unit.graphql_facade.facade_fakes import FakeBackend

PARTNERS = {"partner-a": api_keys.issue(), "partner-b": api_keys.issue(), "partner-c": api_keys.issue()}
LIST = "query($f: OrderFilter) { orders(first: 50, filter: $f) { nodes { id partnerReference } } }"
ONE = "query($id: ID!) { order(id: $id) { id partnerReference } }"

requests = st.lists(
    st.tuples(
        st.sampled_from(sorted(PARTNERS)),
        st.sampled_from(["list", "late", "one"]),
        st.integers(0, 11),
    ),
    min_size=1,
    max_size=25,
)


async def scenario(owners: list[str], calls: list[tuple[str, str, int]]) -> None:
    backend = FakeBackend()
    for partner, key in PARTNERS.items():
        backend.add_partner(partner, key)
    orders = [backend.add_order(owner, with_production=False) for owner in owners]
    owner_of = {o.order_id: o.partner.removeprefix("partners/") for o in orders}
    async with running_app(backend) as client:
        for partner, kind, index in calls:
            headers = {"X-API-Key": PARTNERS[partner]}
            if kind == "one":
                target = orders[index % len(orders)].order_id
                body = (await client.gql(ONE, {"id": target}, headers=headers)).json()
                found = body["data"]["order"]
                if owner_of[target] == partner:
                    assert found is not None and found["id"] == target
                else:
                    assert found is None and "errors" not in body
            else:
                variables = {"f": {"lateOnly": False}} if kind == "late" else None
                body = (await client.gql(LIST, variables, headers=headers)).json()
                ids = [n["id"] for n in body["data"]["orders"]["nodes"]]
                assert ids == [o for o, owner in owner_of.items() if owner == partner]


@settings(max_examples=25, deadline=None)
@given(owners=st.lists(st.sampled_from(sorted(PARTNERS)), min_size=1, max_size=12), calls=requests)
def test_answers_never_cross_tenants(owners: list[str], calls: list[tuple[str, str, int]]) -> None:
    asyncio.run(scenario(owners, calls))
