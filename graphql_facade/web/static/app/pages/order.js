// The Order page (/orders/{id}): header, lines, status history, work orders with their operations as a
// step bar (who, when, weigh-in/out, loss against tolerance), reservations. Live: each status change of
// the order refetches the page's query (at most one refetch per 250 ms).
import {
  ORDER_TONE,
  formatAge,
  formatEnum as label,
  formatMg,
  formatTime,
  h,
  onData,
  refetchSoon,
  snapshot,
  subscribe,
} from "../live.js";

const root = document.getElementById("app");

function badge(text, tone) {
  return h("span", { class: `badge ${tone}` }, text);
}

function time(iso) {
  return iso ? h("time", { datetime: iso }, formatTime(iso)) : "—";
}

function table(caption, headers, rows) {
  return h(
    "table",
    { class: "data" },
    h("caption", { class: "muted" }, caption),
    h("thead", {}, h("tr", {}, headers.map(([text, num]) => h("th", { scope: "col", class: num ? "num" : false }, text)))),
    h("tbody", {}, rows),
  );
}

// -- operations as a step bar -----------------------------------------------------------------------------

const STEP = {
  DONE: ["done", "Done"],
  IN_PROGRESS: ["active", "In progress"],
  PAUSED: ["paused", "Paused"],
  LOSS_REVIEW: ["review", "Loss review"],
  REWORK: ["active", "Rework"],
  QUEUED: ["queued", "Queued"],
  PENDING: ["queued", "Waiting"],
  SKIPPED: ["queued", "Skipped"],
  CANCELLED: ["queued", "Cancelled"],
};

/** Loss against tolerance: the allowed loss is weigh-in × tolerance ‰. */
function lossLine(op) {
  if (!Number(op.weighInMg) || !["DONE", "LOSS_REVIEW", "REWORK"].includes(op.status)) return null;
  const allowed = Math.floor((Number(op.weighInMg) * Number(op.lossTolerancePerMille)) / 1000);
  const loss = Number(op.lossMg);
  const over = loss > allowed;
  return h(
    "span",
    { class: over ? "step-detail over-tolerance" : "step-detail" },
    `Loss ${formatMg(loss)} of ${formatMg(allowed)} allowed (${op.lossTolerancePerMille} ‰)`,
    over ? " — over tolerance" : "",
  );
}

function step(op) {
  const [tone, text] = STEP[op.status] || ["queued", label(op.status)];
  const details = [];
  if (op.workCenterId) details.push(h("span", { class: "step-detail" }, `At ${op.workCenterId}`));
  if (op.startTime) {
    details.push(h("span", { class: "step-detail" }, `Started ${formatTime(op.startTime)}`, op.startedBy ? ` by ${op.startedBy}` : ""));
  }
  if (op.status === "PAUSED") {
    const since = op.pauseTime ? (Date.now() - Date.parse(op.pauseTime)) / 1000 : null;
    details.push(
      h("span", { class: "step-detail" }, `Paused${op.pauseReason ? `: ${op.pauseReason}` : ""}`, since !== null ? ` (${formatAge(since)})` : ""),
    );
  }
  if (op.finishTime) {
    details.push(h("span", { class: "step-detail" }, `Finished ${formatTime(op.finishTime)}`, op.finishedBy ? ` by ${op.finishedBy}` : ""));
  }
  if (Number(op.weighInMg)) details.push(h("span", { class: "step-detail" }, `In ${formatMg(op.weighInMg)}`));
  if (Number(op.weighOutMg)) {
    const scrap = Number(op.scrapReturnedMg) ? `, scrap ${formatMg(op.scrapReturnedMg)}` : "";
    details.push(h("span", { class: "step-detail" }, `Out ${formatMg(op.weighOutMg)}${scrap}`));
  }
  details.push(lossLine(op));
  if (op.reviewedBy) details.push(h("span", { class: "step-detail" }, `Reviewed by ${op.reviewedBy}`));
  if (Number(op.attempt) > 1) details.push(h("span", { class: "step-detail" }, `Attempt ${op.attempt}`));
  return h(
    "li",
    { class: tone, "aria-current": tone === "active" ? "step" : false },
    h("span", { class: "step-name" }, `${op.sequence}. ${op.operationCode.length <= 3 ? op.operationCode : label(op.operationCode)}`),
    h("span", { class: "step-state" }, text),
    details,
  );
}

function workOrder(wo) {
  const operations = wo.operations;
  const done = (operations || []).filter((op) => op.status === "DONE").length;
  return h(
    "section",
    { class: "work-order", "aria-labelledby": `wo-${wo.id}` },
    h("h3", { id: `wo-${wo.id}` }, `Work order ${wo.id} · line ${wo.lineNumber} · ${label(wo.status)}`),
    h(
      "p",
      { class: "muted" },
      `${wo.styleSku} · ${wo.alloyCode} · ${wo.quantity} pcs · issued ${formatMg(wo.issuedMg)} · finished ${formatMg(
        wo.finishedMg,
      )} · loss ${formatMg(wo.lossMg)}`,
    ),
    operations === null || operations === undefined
      ? h("p", { class: "notice warn" }, "The operations could not be read.")
      : h(
          "ol",
          { class: "steps", "aria-label": `Operations of work order ${wo.id}: ${done} of ${operations.length} done` },
          operations.map(step),
        ),
  );
}

// -- the page ---------------------------------------------------------------------------------------------

function header(order) {
  return [
    h("h1", {}, `Order ${order.id}`),
    h(
      "dl",
      { class: "facts" },
      h("dt", {}, "Partner"),
      h("dd", {}, order.partnerId),
      h("dt", {}, "Partner reference"),
      h("dd", {}, order.partnerReference || "—"),
      h("dt", {}, "Status"),
      h(
        "dd",
        {},
        badge(label(order.status), ORDER_TONE[order.status] || "idle"),
        order.late ? [" ", badge("Late", "bad")] : null,
        order.statusReason ? ` ${order.statusReason}` : null,
      ),
      h("dt", {}, "Priority"),
      h("dd", {}, label(order.priority)),
      h("dt", {}, "Due"),
      h("dd", {}, time(order.dueTime)),
      h("dt", {}, "Created"),
      h("dd", {}, time(order.createTime)),
      h("dt", {}, "Updated"),
      h("dd", {}, time(order.updateTime)),
    ),
  ];
}

function lines(order) {
  return [
    h("h2", {}, "Lines"),
    table(
      `${order.lines.length} ${order.lines.length === 1 ? "line" : "lines"}`,
      [["Line", true], ["Style"], ["Alloy"], ["Size"], ["Quantity", true], ["Engraving"]],
      order.lines.map((line) =>
        h(
          "tr",
          {},
          h("th", { scope: "row", class: "num" }, String(line.lineNumber)),
          h("td", {}, line.styleCode, line.style ? h("span", { class: "muted" }, ` ${line.style.displayName}`) : null),
          h("td", {}, line.alloyCode),
          h("td", {}, line.size || "—"),
          h("td", { class: "num" }, String(line.quantity)),
          h("td", {}, line.engraving || "—"),
        ),
      ),
    ),
  ];
}

function history(order) {
  const changes = order.statusHistory || [];
  return [
    h("h2", {}, "Status history"),
    changes.length === 0
      ? h("p", { class: "muted" }, "No status change recorded.")
      : table(
          "Oldest first",
          [["Time"], ["From"], ["To"], ["Reason"]],
          changes.map((change) =>
            h(
              "tr",
              {},
              h("td", {}, time(change.time)),
              h("td", {}, change.fromStatus ? label(change.fromStatus) : "—"),
              h("th", { scope: "row" }, label(change.toStatus)),
              h("td", {}, change.reason || "—"),
            ),
          ),
        ),
  ];
}

function production(order) {
  const workOrders = order.workOrders;
  return [
    h("h2", {}, "Work orders"),
    workOrders === null || workOrders === undefined
      ? h("p", { class: "notice warn" }, "Production could not be reached: the work orders are not shown.")
      : workOrders.length === 0
        ? h("p", { class: "muted" }, "No work order yet.")
        : null,
    ...(workOrders || []).map(workOrder),
  ];
}

function reservations(order) {
  const found = order.reservations;
  if (found === null || found === undefined) {
    return [h("h2", {}, "Reservations"), h("p", { class: "notice warn" }, "Inventory could not be reached: the reservations are not shown.")];
  }
  const rows = found.flatMap((reservation) =>
    reservation.items.map((item) =>
      h(
        "tr",
        {},
        h("th", { scope: "row" }, item.materialCode, item.kind ? h("span", { class: "muted" }, ` ${label(item.kind)}`) : null),
        h("td", { class: "num" }, Number(item.pieces) ? `${item.pieces} pcs` : formatMg(item.weightMg)),
        h("td", {}, label(reservation.state)),
        h("td", {}, item.lineNumber ? String(item.lineNumber) : "—"),
        h("td", {}, item.lotId),
        h("td", {}, reservation.id),
      ),
    ),
  );
  return [
    h("h2", {}, "Reservations"),
    rows.length === 0
      ? h("p", { class: "muted" }, "No material reserved.")
      : table("Material held for the order", [["Material"], ["Quantity", true], ["State"], ["Line"], ["Lot"], ["Reservation"]], rows),
  ];
}

function render(data) {
  const order = data && data.order;
  if (!order) {
    root.replaceChildren(h("h1", {}, "Order"), h("p", { class: "notice warn" }, "The order could not be read."));
    return;
  }
  const focused = document.activeElement && root.contains(document.activeElement) ? document.activeElement.id : null;
  const parts = [...header(order), ...lines(order), ...history(order), ...production(order), ...reservations(order)];
  root.replaceChildren(...parts.filter((part) => part !== null));
  if (focused) document.getElementById(focused)?.focus();
}

onData(render);

const SUBSCRIPTION = `subscription OrderLive($orderIds: [ID!], $since: Long) {
  orderStatusChanged(orderIds: $orderIds, since: $since) {
    __typename
    ... on OrderStatusChanged { seq orderId toStatus orderVersion }
    ... on ResyncRequired { seq reason }
  }
}`;

const OPERATIONS = `subscription OrderOperations {
  floorEvents {
    __typename
    ... on OperationUpdated { seq operation { orderId } }
    ... on ResyncRequired { seq reason }
  }
}`;

const order = snapshot().data && snapshot().data.order;
if (order) {
  subscribe(SUBSCRIPTION, { orderIds: [order.id] }, () => refetchSoon(250), { stream: "ORDERS" });
  // The order's operations (started, paused, finished at a bench) come from production's stream: a trigger
  // that refetches the page's query when one of this order's operations changes.
  subscribe(
    OPERATIONS,
    {},
    (event) => {
      if (event && event.operation && event.operation.orderId === order.id) refetchSoon(250);
    },
    { trigger: true, stream: "PRODUCTION" },
  );
}
