// The Floor page (/floor): a KPI strip (late orders, WIP pieces and fine metal, in progress, paused,
// blocked work centers), one tile per work center (state with its word and colour, reason, since when;
// queue and its oldest; in progress / paused / capacity; WIP; its calendar's shift: finished this hour
// and this shift against the target, utilisation, or "off shift"), each linking to its Bench page, and
// the late orders. Live: `floorEvents` from the snapshot's `floor.asOf.seq` replaces a work center's tile
// (every operation change at a work center comes with its new tile, under the same sequence); ages tick
// every 30 s without a request; the late orders (which no floor event announces) and the output (which
// moves with the clock too) are refreshed with the page's query every 60 s.
import { formatAge, formatMg, formatTime, h, isPaused, onData, refetch, subscribe } from "../live.js";

const root = document.getElementById("app");
const TICK_MS = 30_000;
const RECONCILE_MS = 60_000;

const SUBSCRIPTION = `subscription FloorLive($since: Long) {
  floorEvents(since: $since) {
    __typename
    ... on WorkCenterUpdated { seq workCenter { id name kind state stateReason stateTime capacity version
      queue { length oldestQueuedAt } inProgress paused wip { pieces grossMg fineMg }
      output { shiftName shiftStart shiftEnd finishedThisHour targetThisHour finishedThisShift targetThisShift
        busyMinutes availableMinutes utilisation } } }
    ... on OperationUpdated { seq }
    ... on ResyncRequired { seq reason }
  }
}`;

//: state -> [tone, word, symbol]: the word and symbol carry the state without colour.
const STATE = {
  RUNNING: ["ok", "Running", "▶"],
  IDLE: ["idle", "Idle", "■"],
  BLOCKED: ["bad", "Blocked", "✖"],
};

let floor = null;
let tiles = new Map();

function since(iso) {
  return iso ? Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000) : null;
}

/** An age that ticks: the element keeps its start time and the timer rewrites its text. */
function age(iso, prefix = "") {
  if (!iso) return h("span", { class: "muted" }, "—");
  return h("span", { class: "age", "data-since": iso, "data-prefix": prefix }, `${prefix}${formatAge(since(iso))}`);
}

function tick() {
  for (const element of root.querySelectorAll(".age[data-since]")) {
    const text = `${element.dataset.prefix || ""}${formatAge(since(element.dataset.since))}`;
    if (element.textContent !== text) element.textContent = text;
  }
}

function grams(mg) {
  return `${(Number(mg || 0) / 1000).toLocaleString("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 })} g`;
}

function kpi(label, value, tone) {
  return h("div", { class: `kpi${tone ? ` ${tone}` : ""}` }, h("dt", {}, label), h("dd", {}, String(value)));
}

function kpis() {
  const all = [...tiles.values()];
  const sum = (pick) => all.reduce((total, tile) => total + Number(pick(tile) || 0), 0);
  const blocked = all.filter((tile) => tile.state === "BLOCKED").length;
  const late = floor && floor.lateOrderCount != null ? Number(floor.lateOrderCount) : null;
  return h(
    "section",
    { "aria-labelledby": "kpi-title" },
    h("h2", { id: "kpi-title", class: "visually-hidden" }, "Key figures"),
    h(
      "dl",
      { class: "kpis" },
      kpi("Late orders", late === null ? "—" : late, late ? "bad" : ""),
      kpi("WIP pieces", sum((t) => t.wip.pieces)),
      kpi("WIP fine metal", grams(sum((t) => t.wip.fineMg))),
      kpi("In progress", sum((t) => t.inProgress)),
      kpi("Paused", sum((t) => t.paused), sum((t) => t.paused) ? "warn" : ""),
      kpi("Blocked work centers", blocked, blocked ? "bad" : ""),
    ),
  );
}

function hhmm(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "—";
  return `${String(date.getHours()).padStart(2, "0")}:${String(date.getMinutes()).padStart(2, "0")}`;
}

function against(finished, target) {
  return Number(target) > 0 ? `${finished} of ${target} target` : `${finished} · no target`;
}

/**
 * The tile's output, always the same four rows (the tiles keep their size as shifts come and go): its
 * calendar's shift now with its hours, or "Off shift"; this hour and this shift against the target
 * ("no target" where it is 0); utilisation.
 */
function output(center) {
  const out = center.output;
  const on = Boolean(out && out.shiftName);
  let shift;
  if (!out) shift = h("span", { class: "muted" }, "output unavailable");
  else if (!on) shift = h("span", { class: "badge idle" }, "Off shift");
  else {
    shift = [
      `${out.shiftName.charAt(0).toUpperCase()}${out.shiftName.slice(1)} shift `,
      h("time", { datetime: out.shiftStart }, hhmm(out.shiftStart)),
      "–",
      h("time", { datetime: out.shiftEnd }, hhmm(out.shiftEnd)),
    ];
  }
  const busy = out ? Math.round(Number(out.busyMinutes || 0)) : 0;
  const available = out ? Math.round(Number(out.availableMinutes || 0)) : 0;
  const utilisation =
    on && available > 0
      ? [`${Math.round(Number(out.utilisation || 0) * 100)}%`, h("span", { class: "muted" }, ` (busy ${busy} of ${available} minutes)`)]
      : "—";
  return [
    h("dt", {}, "Shift"),
    h("dd", { class: "tile-shift" }, shift),
    h("dt", {}, "This hour"),
    h("dd", { class: "tile-hour" }, out ? against(out.finishedThisHour, out.targetThisHour) : "—"),
    h("dt", {}, "This shift"),
    h("dd", { class: "tile-this-shift" }, out ? against(out.finishedThisShift, out.targetThisShift) : "—"),
    h("dt", {}, "Utilisation"),
    h("dd", { class: "tile-utilisation" }, utilisation),
  ];
}

function tile(center) {
  const [tone, word, symbol] = STATE[center.state] || ["idle", "Unknown", "?"];
  const title = `tile-${center.id}`;
  return h(
    "li",
    { class: `tile ${tone}`, "data-center": center.id },
    h(
      "article",
      { "aria-labelledby": title },
      h("h3", { id: title }, h("a", { href: `/bench/${encodeURIComponent(center.id)}` }, center.name)),
      h("p", { class: "tile-kind muted" }, `${center.id} · ${center.kind}`),
      h(
        "p",
        { class: "tile-state" },
        h("span", { class: `badge ${tone}` }, h("span", { "aria-hidden": "true" }, `${symbol} `), word),
        " ",
        age(center.stateTime, "for "),
      ),
      center.stateReason ? h("p", { class: "tile-reason" }, center.stateReason) : null,
      h(
        "dl",
        { class: "tile-facts" },
        h("dt", {}, "Queue"),
        h("dd", {}, `${center.queue.length}`, center.queue.length ? [" · oldest ", age(center.queue.oldestQueuedAt)] : null),
        h("dt", {}, "At the bench"),
        h("dd", {}, `${center.inProgress} in progress · ${center.paused} paused · capacity ${center.capacity}`),
        h("dt", {}, "WIP"),
        h("dd", {}, `${center.wip.pieces} pcs · ${grams(center.wip.fineMg)} fine (${formatMg(center.wip.grossMg)} gross)`),
        output(center),
      ),
    ),
  );
}

function lateOrders() {
  const unread = !floor || !floor.lateOrders;
  const orders = unread ? [] : floor.lateOrders.nodes;
  const more = !unread && floor.lateOrders.pageInfo.hasNextPage;
  return h(
    "section",
    { "aria-labelledby": "late-title" },
    h("h2", { id: "late-title" }, "Late orders"),
    unread
      ? h("p", { class: "notice warn" }, "The late orders could not be read; they are read again every minute.")
      : orders.length === 0
      ? h("p", { class: "muted" }, "No order is late.")
      : h(
          "table",
          { class: "data" },
          h("caption", { class: "muted" }, more ? "The 10 newest late orders" : "Every late order"),
          h(
            "thead",
            {},
            h("tr", {}, ["Order", "Partner", "Reference", "Status", "Priority", "Due"].map((t) => h("th", { scope: "col" }, t))),
          ),
          h(
            "tbody",
            {},
            orders.map((order) =>
              h(
                "tr",
                {},
                h("td", {}, h("a", { href: `/orders/${encodeURIComponent(order.id)}` }, order.id)),
                h("td", {}, order.partnerId),
                h("td", {}, order.partnerReference || "—"),
                h("td", {}, order.status || "—"),
                h("td", {}, order.priority || "—"),
                h("td", {}, order.dueTime ? [h("time", { datetime: order.dueTime }, formatTime(order.dueTime)), " (", age(order.dueTime), " ago)"] : "—"),
              ),
            ),
          ),
        ),
  );
}

function render() {
  root.replaceChildren(
    h("h1", {}, "Floor"),
    h("p", { class: "muted" }, "Output per work center against its shift calendar's target (shift times in local time)."),
    kpis(),
    h(
      "section",
      { "aria-labelledby": "centers-title" },
      h("h2", { id: "centers-title" }, "Work centers"),
      floor && floor.workCenters === null
        ? h("p", { class: "notice warn" }, "The work centers could not be read; they are read again every minute.")
        : tiles.size === 0
          ? h("p", { class: "muted" }, "No active work center.")
          : h("ul", { class: "tiles" }, [...tiles.values()].map(tile)),
    ),
    lateOrders(),
  );
}

function replaceTile(center) {
  tiles.set(center.id, center);
  const old = root.querySelector(`.tile[data-center="${CSS.escape(center.id)}"]`);
  const strip = root.querySelector("section[aria-labelledby='kpi-title']");
  if (!old || !strip) {
    render();
    return;
  }
  old.replaceWith(tile(center));
  strip.replaceWith(kpis());
}

onData((data) => {
  if (!data || !data.floor) {
    root.replaceChildren(h("h1", {}, "Floor"), h("p", { class: "notice warn" }, "The floor could not be read."));
    return;
  }
  floor = data.floor;
  tiles = new Map((floor.workCenters || []).map((center) => [center.id, center]));
  render();
});

const start = floor ? Number(floor.asOf.seq) : null;
subscribe(
  SUBSCRIPTION,
  start === null ? {} : { since: start },
  (event) => {
    if (event.__typename !== "WorkCenterUpdated") return;
    if (floor && Number(event.seq) <= Number(floor.asOf.seq)) return; // older than the data shown
    replaceTile(event.workCenter);
  },
  { stream: "PRODUCTION" },
);

setInterval(tick, TICK_MS);
setInterval(() => {
  if (!isPaused() && document.visibilityState === "visible") {
    refetch().catch(() => {});
  }
}, RECONCILE_MS);
