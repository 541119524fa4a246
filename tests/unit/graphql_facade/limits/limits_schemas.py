"""Schemas shared by the limits tests: a small generic one and a realistic MES snippet."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLSchema, build_schema

SMALL_SDL = """
type Query {
  shop: Shop
  node(id: ID!): Node
  search(term: String!): [SearchResult!]!
  products(first: Int, last: Int, after: String): ProductConnection!
  featured(first: Int = 10): ProductConnection!
  tags: [String!]!
}
interface Node { id: ID! }
type Shop { name: String! owner: Person }
type Person implements Node {
  id: ID!
  name: String!
  friends(first: Int, last: Int): PersonConnection!
}
type Product implements Node {
  id: ID!
  title: String!
  price: Int!
  status: Status!
  tags: [String!]!
  vendor: Person
  variants(first: Int, last: Int): VariantConnection!
}
type Variant { id: ID! price: Int! }
enum Status { ACTIVE DRAFT }
union SearchResult = Product | Person
type PageInfo { hasNextPage: Boolean! endCursor: String }
type ProductConnection { edges: [ProductEdge!]! nodes: [Product!]! pageInfo: PageInfo! totalCount: Int! }
type ProductEdge { cursor: String! node: Product! }
type VariantConnection { edges: [VariantEdge!]! nodes: [Variant!]! pageInfo: PageInfo! }
type VariantEdge { cursor: String! node: Variant! }
type PersonConnection { edges: [PersonEdge!]! nodes: [Person!]! }
type PersonEdge { cursor: String! node: Person! }
type UserError { field: [String!] message: String! }
type CreateProductPayload { product: Product userErrors: [UserError!]! }
type Mutation {
  createProduct(title: String!): CreateProductPayload!
  ping: Boolean!
}
type Subscription { productUpdated: Product! }
"""

MES_SDL = """
type Query {
  orders(first: Int, last: Int, after: String, before: String, status: OrderStatus): OrderConnection!
  order(id: ID!): Order
  catalogue(first: Int, after: String): StyleConnection!
  search(text: String!, first: Int, last: Int): SearchConnection!
  alloys: [Alloy!]!
  viewer: Partner!
}
enum OrderStatus { RECEIVED IN_PRODUCTION SHIPPED CANCELLED }
type Partner { id: ID! name: String! }
type Order {
  id: ID!
  reference: String!
  status: OrderStatus!
  createdAt: String!
  partner: Partner!
  lines(first: Int, last: Int): OrderLineConnection!
  statusHistory: [StatusChange!]!
}
type OrderLine { id: ID! quantity: Int! style: Style! alloy: Alloy! size: String engraving: String }
type StatusChange { status: OrderStatus! at: String! note: String }
type Style { code: ID! name: String! alloys: [Alloy!]! stones(first: Int): StoneConnection! }
type Stone { code: ID! pieces: Int! }
type Alloy { code: ID! name: String! fineness: Int! }
type PageInfo { hasNextPage: Boolean! endCursor: String }
type OrderConnection { edges: [OrderEdge!]! pageInfo: PageInfo! totalCount: Int! }
type OrderEdge { cursor: String! node: Order! }
type OrderLineConnection { edges: [OrderLineEdge!]! nodes: [OrderLine!]! pageInfo: PageInfo! }
type OrderLineEdge { cursor: String! node: OrderLine! }
type StyleConnection { nodes: [Style!]! pageInfo: PageInfo! }
type StoneConnection { nodes: [Stone!]! }
union SearchResult = Order | Style
type SearchConnection { edges: [SearchEdge!]! }
type SearchEdge { cursor: String! node: SearchResult! }
input OrderLineInput { style: ID! alloy: ID! quantity: Int! }
input SubmitOrderInput { idempotencyKey: String! reference: String! lines: [OrderLineInput!]! }
type UserError { field: [String!] message: String! code: String! }
type SubmitOrderPayload { order: Order userErrors: [UserError!]! }
type Mutation {
  submitOrder(input: SubmitOrderInput!): SubmitOrderPayload!
  cancelOrder(id: ID!): SubmitOrderPayload!
}
type OrderStatusChanged { order: Order! status: OrderStatus! }
type OrderShipped { trackingNumber: String! }
union OrderEvent = OrderStatusChanged | OrderShipped
type Subscription { orderEvents: OrderEvent! }
"""

SMALL: GraphQLSchema = build_schema(SMALL_SDL)
MES: GraphQLSchema = build_schema(MES_SDL)

# Realistic operations on MES.

ORDERS_DASHBOARD = """
query Orders($first: Int = 20, $status: OrderStatus) {
  orders(first: $first, status: $status) {
    totalCount
    pageInfo { hasNextPage endCursor }
    edges {
      cursor
      node {
        id reference status
        partner { name }
        lines(first: 5) { nodes { quantity style { name } alloy { code } } }
        statusHistory { status at }
      }
    }
  }
}
"""

CATALOGUE = """
query { catalogue(first: 30) { nodes { ...StyleCard } pageInfo { hasNextPage } } }
fragment StyleCard on Style { code name alloys { code fineness } stones(first: 4) { nodes { code pieces } } }
"""

SUBMIT_ORDER = """
mutation Submit($input: SubmitOrderInput!) {
  submitOrder(input: $input) {
    order { id reference status lines(first: 100) { nodes { id quantity } } }
    userErrors { field message code }
  }
}
"""

SEARCH_UNION = """
{ search(text: "ring", first: 10) { edges { cursor node {
    __typename
    ... on Order { reference partner { name } }
    ... on Style { name stones(first: 2) { nodes { code } } }
} } } }
"""

ORDER_WITH_FRAGMENTS = """
query Order($id: ID!, $n: Int = 10) {
  order(id: $id) { ...OrderBits lines(last: $n) { edges { node { ...LineBits } } } }
}
fragment OrderBits on Order { reference partner { ...PartnerBits } }
fragment PartnerBits on Partner { name }
fragment LineBits on OrderLine { quantity style { name } alloy { ... on Alloy { name } } }
"""

ORDER_EVENTS = """
subscription { orderEvents {
  ... on OrderStatusChanged { status order { id reference } }
  ... on OrderShipped { trackingNumber }
} }
"""

SUBMIT_VARIABLES: dict[str, Any] = {"input": {"idempotencyKey": "k", "reference": "r", "lines": []}}
