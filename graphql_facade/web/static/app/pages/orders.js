// The Orders page (/orders): status chips with counts, filters (status, partner, late only) kept in the
// URL, one keyset page of 50 orders, "Previous" / "Next" links. Live: status changes patch visible rows
// in place and the chips' counts; orders newly matching the filter show a banner instead of moving rows.
// The snapshot's `asOf` is a lower bound (its data may already hold the next events), so every event is
// applied once: per order the page keeps the status and version it shows, and an event moves the counts
// only when it is newer than that and changes the status.
import { ORDER_TONE, formatEnum, formatTime, h, onData, refetch, refreshFailed, snapshot, subscribe } from "../live.js";

const STATUSES = Object.keys(ORDER_TONE);
const DONE_WORK_ORDERS = new Set(["COMPLETED", "CLOSED"]);
const MAX_TRAIL = 20;

const params = new URLSearchParams(window.location.search);
const filter = {
  statuses: params
    .getAll("status")
    .flatMap((s) => s.split(","))
    .map((s) => s.trim().toUpperCase())
    .filter(Boolean),
  partner: (params.get("partner") || "").trim(),
  late: ["1", "true", "on", "yes"].includes((params.get("late") || "").toLowerCase()),
  after: params.get("after") || "",
  trail: params.get("trail") ? params.get("trail").split(".") : [],
};

export function statusLabel(status) {
  return formatEnum(status, "Unknown");
}

function statusBadge(status) {
  return h("span", { class: `badge ${ORDER_TONE[status] || "idle"}` }, statusLabel(status));
}

/** The page's URL with `changes` applied to the filters (a new filter starts at the first page). */
function pageUrl(changes, { keepPage = false } = {}) {
  const next = { ...filter, ...changes };
  const query = new URLSearchParams();
  for (const status of next.statuses) query.append("status", status);
  if (next.partner) query.set("partner", next.partner);
  if (next.late) query.set("late", "1");
  if (keepPage) {
    if (next.after) query.set("after", next.after);
    if (next.trail.length) query.set("trail", next.trail.join("."));
  }
  const text = query.toString();
  return text ? `/orders?${text}` : "/orders";
}

function sameStatuses(a, b) {
  return a.length === b.length && a.every((s) => b.includes(s));
}

// -- the parts rendered once: heading, filters, banner --------------------------------------------------

const root = document.getElementById("app");
const heading = h("h1", { id: "orders-title", tabindex: "-1" }, "Orders");
const chips = h("nav", { "aria-label": "Orders by status" });
const partners = h("datalist", { id: "partner-ids" });
const form = h(
  "form",
  { class: "filters", method: "get", action: "/orders", role: "search", "aria-label": "Filter orders" },
  h(
    "label",
    {},
    "Status",
    h(
      "select",
      { name: "status" },
      h("option", { value: "" }, "Any status"),
      STATUSES.map((s) =>
        h("option", { value: s, selected: filter.statuses.length === 1 && filter.statuses[0] === s }, statusLabel(s)),
      ),
    ),
  ),
  h(
    "label",
    {},
    "Partner id",
    h("input", {
      type: "text",
      name: "partner",
      value: filter.partner,
      list: "partner-ids",
      autocomplete: "off",
      spellcheck: "false",
      maxlength: "64",
      pattern: "[A-Za-z0-9_\\-]{1,64}",
    }),
  ),
  partners,
  h("label", { class: "inline" }, h("input", { type: "checkbox", name: "late", value: "1", checked: filter.late }), "Late only"),
  h("button", { type: "submit" }, "Apply filters"),
  filter.statuses.length || filter.partner || filter.late ? h("a", { href: "/orders" }, "Clear filters") : null,
);
const bannerText = h("span", {});
const banner = h(
  "div",
  { class: "banner", role: "status", hidden: true },
  bannerText,
  h("button", { type: "button", onclick: () => showNew() }, "Show"),
);
const results = h("div", {});
root.replaceChildren(heading, chips, form, banner, results);

// -- rendering from data ------------------------------------------------------------------------------

const rows = new Map();
//: order id -> {status, version} as the page shows it (its rows, then every order an event told of).
const known = new Map();
let counts = { total: 0, late: 0, byStatus: [] };
let newOrders = 0;

function renderChips() {
  const byStatus = new Map((counts.byStatus || []).map((c) => [c.status, Number(c.count)]));
  const chip = (label, count, href, current) =>
    h(
      "li",
      {},
      h("a", { href, "aria-current": current ? "true" : false }, label, " ", h("span", { class: "count" }, String(count))),
    );
  const noFilter = filter.statuses.length === 0 && !filter.late;
  chips.replaceChildren(
    h(
      "ul",
      { class: "chips" },
      chip("All", counts.total, pageUrl({ statuses: [], late: false }), noFilter),
      STATUSES.map((s) =>
        chip(statusLabel(s), byStatus.get(s) || 0, pageUrl({ statuses: [s] }), sameStatuses(filter.statuses, [s])),
      ),
      chip("Late", counts.late, pageUrl({ late: true }), filter.late && filter.statuses.length === 0),
    ),
  );
}

function progress(workOrders) {
  if (workOrders === null || workOrders === undefined) return h("span", { class: "muted" }, "unavailable");
  if (workOrders.length === 0) return h("span", { class: "muted" }, "none yet");
  const done = workOrders.filter((wo) => DONE_WORK_ORDERS.has(wo.status)).length;
  return h(
    "span",
    { class: "progress" },
    h("meter", { min: "0", max: String(workOrders.length), value: String(done), "aria-hidden": "true" }),
    `${done} of ${workOrders.length} done`,
  );
}

function statusCell(order) {
  return [statusBadge(order.status), order.late ? [" ", h("span", { class: "badge bad" }, "Late")] : null];
}

function row(order) {
  const pieces = (order.lines || []).reduce((sum, line) => sum + Number(line.quantity || 0), 0);
  const lines = (order.lines || []).length;
  const status = h("td", {}, statusCell(order));
  const tr = h(
    "tr",
    { "data-order-id": order.id },
    h("th", { scope: "row" }, h("a", { href: `/orders/${encodeURIComponent(order.id)}` }, order.id)),
    h("td", {}, order.partnerId),
    h("td", {}, order.partnerReference || "—"),
    status,
    h("td", {}, order.priority ? statusLabel(order.priority) : "—"),
    h("td", {}, order.dueTime ? h("time", { datetime: order.dueTime }, formatTime(order.dueTime)) : "—"),
    h("td", { class: "num" }, `${lines} ${lines === 1 ? "line" : "lines"} · ${pieces} pcs`),
    h("td", {}, progress(order.workOrders)),
  );
  rows.set(order.id, { tr, status, order: { ...order } });
  known.set(order.id, { status: order.status, version: Number(order.version) });
  return tr;
}

function pager(pageInfo) {
  const links = [];
  if (filter.after || filter.trail.length) {
    const trail = filter.trail.slice();
    const previous = trail.pop();
    const after = previous && previous !== "-" ? previous : "";
    links.push(h("a", { href: pageUrl({ after, trail }, { keepPage: true }), rel: "prev" }, "Previous"));
    links.push(h("a", { href: pageUrl({}) }, "First page"));
  }
  if (pageInfo && pageInfo.hasNextPage && pageInfo.endCursor) {
    const trail = [...filter.trail, filter.after || "-"].slice(-MAX_TRAIL);
    links.push(h("a", { href: pageUrl({ after: pageInfo.endCursor, trail }, { keepPage: true }), rel: "next" }, "Next"));
  }
  return links.length ? h("nav", { class: "pager", "aria-label": "Pages of orders" }, links) : "";
}

function render(data) {
  rows.clear();
  known.clear();
  newOrders = 0;
  banner.hidden = true;
  if (!data) {
    results.replaceChildren(h("p", { class: "notice warn" }, "The orders could not be read."));
    return;
  }
  counts = data.orderCounts || { total: 0, late: 0, byStatus: [] };
  renderChips();
  const connection = data.orders || { edges: [], pageInfo: null };
  const orders = connection.edges.map((edge) => edge.node);
  const seen = [...new Set(orders.map((o) => o.partnerId))].sort();
  partners.replaceChildren(...seen.map((id) => h("option", { value: id })));
  if (orders.length === 0) {
    results.replaceChildren(h("p", { class: "notice" }, "No order matches these filters."), pager(connection.pageInfo));
    return;
  }
  const table = h(
    "table",
    { class: "data" },
    h("caption", { class: "muted" }, `${orders.length} ${orders.length === 1 ? "order" : "orders"} on this page`),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        ["Order", "Partner", "Partner reference", "Status", "Priority", "Due", "Lines", "Work orders"].map((label) =>
          h("th", { scope: "col", class: label === "Lines" ? "num" : false }, label),
        ),
      ),
    ),
    h("tbody", {}, orders.map(row)),
  );
  results.replaceChildren(table, pager(connection.pageInfo));
}

onData(render);

// -- live -----------------------------------------------------------------------------------------------

/** Whether the event brings an order into the filter: a new order, or one moving into the filtered statuses. */
function newlyMatches(event) {
  if (filter.partner && event.partnerId !== filter.partner) return false;
  if (filter.late) return false; // whether an order is late is not in the event: late-only pages wait for a refetch
  if (!event.fromStatus) return !filter.statuses.length || filter.statuses.includes(event.toStatus);
  return filter.statuses.length > 0 && !filter.statuses.includes(event.fromStatus) && filter.statuses.includes(event.toStatus);
}

/**
 * Fold an event into what the page knows of its order; the status transition it makes on the page
 * (`{from, to}`, `from` null for an order the counts do not hold yet, `from` = `to` when only its
 * reason or version moved), or null when the page already
 * shows it (a version at or below the one shown: the snapshot or an earlier event had it).
 */
function transition(event) {
  const version = Number(event.orderVersion);
  const seen = known.get(event.orderId);
  if (seen && Number.isFinite(version) && seen.version >= version) return null;
  known.set(event.orderId, { status: event.toStatus, version });
  const from = seen ? seen.status : event.fromStatus || null;
  return { from, to: event.toStatus };
}

function patchCounts(event, change) {
  if (filter.partner && event.partnerId !== filter.partner) return;
  if (change.from === change.to) return;
  const byStatus = new Map((counts.byStatus || []).map((c) => [c.status, Number(c.count)]));
  if (change.from) byStatus.set(change.from, Math.max(0, (byStatus.get(change.from) || 0) - 1));
  else counts.total = Number(counts.total) + 1;
  if (change.to) byStatus.set(change.to, (byStatus.get(change.to) || 0) + 1);
  counts.byStatus = [...byStatus].map(([status, count]) => ({ status, count }));
  renderChips();
}

function patchRow(entry, event) {
  if (Number(entry.order.version) >= Number(event.orderVersion)) return;
  entry.order.status = event.toStatus;
  entry.order.version = event.orderVersion;
  entry.order.statusReason = event.reason;
  const stillMatches = !filter.statuses.length || filter.statuses.includes(event.toStatus);
  entry.status.replaceChildren(
    ...[statusCell(entry.order), stillMatches ? null : [" ", h("span", { class: "muted" }, "(no longer in this filter)")]]
      .flat(2)
      .filter(Boolean),
  );
  entry.tr.classList.add("changed");
  setTimeout(() => entry.tr.classList.remove("changed"), 2000);
}

function onEvent(event) {
  const change = transition(event);
  if (change === null) return; // the page shows it already
  patchCounts(event, change);
  const entry = rows.get(event.orderId);
  if (entry) {
    patchRow(entry, event);
  } else if (newlyMatches(event)) {
    newOrders += 1;
    bannerText.textContent = `${newOrders} new ${newOrders === 1 ? "order" : "orders"}`;
    banner.hidden = false;
  }
}

async function showNew() {
  banner.hidden = true;
  const waiting = newOrders;
  try {
    await refetch();
    heading.focus();
  } catch (error) {
    // The rows stay as they were: offer "Show" again; the live indicator says why.
    newOrders = waiting;
    banner.hidden = false;
    refreshFailed(error);
  }
}

const SUBSCRIPTION = `subscription OrdersLive($partnerId: ID, $since: Long) {
  orderStatusChanged(partnerId: $partnerId, since: $since) {
    __typename
    ... on OrderStatusChanged { seq at orderId partnerId fromStatus toStatus reason orderVersion }
    ... on ResyncRequired { seq reason }
  }
}`;

if (snapshot().data) {
  subscribe(SUBSCRIPTION, filter.partner ? { partnerId: filter.partner } : {}, onEvent, { stream: "ORDERS" });
}
