// The Metal & loss page (/metal): alloy balances in gross and fine weight; custody pending per holder (J4);
// loss per operation and alloy against tolerance (J1, J2) and per operator with the excess (J3), as bullet
// bars; the loss trend (per day over 7 days, per week otherwise); the loss reviews waiting per work center
// (resolved on its Bench page).
// The window (last 7, 30 or 90 days) is in the URL. Not live: the Refresh button asks again.
import { barChart, bulletChart, lineChart } from "../charts.js";
import { formatAge, formatMg, formatTime, h, onData } from "../live.js";
import {
  bucketLabel,
  bucketLong,
  count,
  currentWindow,
  dataTable,
  inBucket,
  nothing,
  numCell,
  refreshBar,
  section,
  tableRow,
  timeline,
  windowNav,
} from "../report.js";

const root = document.getElementById("app");

function grams(mg) {
  return `${(Number(mg || 0) / 1000).toLocaleString("en-US", { maximumFractionDigits: 1 })} g`;
}

/** Percent with two decimals: losses and tolerances are a few per cent. */
function pct(value) {
  return Number.isFinite(Number(value)) ? `${Number(value).toFixed(2)}%` : "—";
}

function tolerance(row) {
  return Number(row.grossInMg) > 0 ? (100 * Number(row.allowedMg)) / Number(row.grossInMg) : 0;
}

function balances(connection) {
  const rows = connection ? connection.nodes : null;
  if (!rows) return section("balances-title", "Alloy balances", null, nothing("The balances could not be read."));
  if (!rows.length) return section("balances-title", "Alloy balances", null, nothing("No alloy is in stock."));
  const categories = rows.map((b) => ({
    label: b.materialCode,
    long: b.alloy ? `${b.materialCode} (${b.alloy.displayName || b.alloy.fineness + "‰"})` : b.materialCode,
  }));
  const gross = rows.map((b) => Number(b.onHandMg));
  const fine = rows.map((b) => Number(b.fineOnHandMg));
  const total = fine.reduce((a, b) => a + b, 0);
  return section(
    "balances-title",
    "Alloy balances",
    "On hand in stores now, gross and fine (gross × fineness ÷ 1000); reserved metal is held for orders.",
    barChart({
      key: "balances",
      title: "On hand per alloy (gross and fine)",
      summary: `On hand per alloy: ${rows.length} alloys, ${grams(total)} of fine metal in all; ${rows
        .map((b) => `${b.materialCode} ${grams(b.onHandMg)} gross, ${grams(b.fineOnHandMg)} fine`)
        .join("; ")}.`,
      categories,
      series: [
        { name: "Gross on hand", values: gross },
        { name: "Fine on hand", values: fine },
      ],
      format: grams,
      horizontal: true,
      categoryName: "Alloy",
      container: root,
    }),
    h(
      "table",
      { class: "data" },
      h("caption", { class: "visually-hidden" }, "Balances per alloy"),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          ["Alloy", "On hand", "Fine on hand", "Reserved", "Available", "Fine available"].map((t, i) =>
            h("th", { scope: "col", class: i ? "num" : false }, t),
          ),
        ),
      ),
      h(
        "tbody",
        {},
        rows.map((b) =>
          tableRow(
            b.materialCode,
            [b.onHandMg, b.fineOnHandMg, b.reservedMg, b.availableMg, b.fineAvailableMg].map((mg) => numCell(formatMg(mg))),
          ),
        ),
      ),
    ),
  );
}

/** A holder: an order (its metal issued to it) links to the order's page. */
function holder(name) {
  const order = name.startsWith("orders/") ? name.slice("orders/".length) : null;
  return order ? ["Order ", h("a", { href: `/orders/${encodeURIComponent(order)}` }, order)] : name;
}

function custody(rows) {
  const pending = rows.filter((r) => Number(r.pendingMg) !== 0);
  const intro =
    "What each holder (an order's work, an operator) was issued and has not returned or lost yet (issued − returned − loss), now.";
  if (!pending.length) return section("custody-title", "Custody pending per holder", intro, nothing("No metal is pending."));
  pending.sort((a, b) => Number(b.pendingFineMg) - Number(a.pendingFineMg));
  return section(
    "custody-title",
    "Custody pending per holder",
    intro,
    dataTable(
      "custody",
      "Custody pending per holder and alloy",
      ["Holder", "Alloy", "Issued", "Returned", "Loss", "Pending", "Pending fine", "Oldest open issue"],
      pending.map((r) =>
        tableRow(
          holder(r.holder),
          h("td", {}, r.materialCode),
          [r.issuedMg, r.returnedMg, r.lossMg, r.pendingMg, r.pendingFineMg].map((mg) => numCell(formatMg(mg))),
          h(
            "td",
            {},
            r.oldestOpenIssueTime
              ? [
                  h("time", { datetime: r.oldestOpenIssueTime }, formatTime(r.oldestOpenIssueTime)),
                  h("span", { class: "muted" }, ` (${formatAge((Date.now() - new Date(r.oldestOpenIssueTime).getTime()) / 1000)} ago)`),
                ]
              : "—",
          ),
        ),
      ),
      (i) => i > 1 && i < 7,
    ),
  );
}

function byOperation(rows) {
  const intro =
    "Loss (weigh-in − weigh-out − scrap returned) over the weigh-in of the operations finished in the window, " +
    "per operation and alloy, against the tolerance of those operations (the tick). ▲ over: above tolerance.";
  if (!rows.length) return section("operation-title", "Loss per operation and alloy", intro, nothing("No operation finished in this window."));
  const over = rows.filter((r) => Number(r.lossMg) > Number(r.allowedMg));
  return section(
    "operation-title",
    "Loss per operation and alloy",
    intro,
    bulletChart({
      key: "loss-operation",
      title: "Loss % against tolerance, per operation and alloy",
      summary: `Loss against tolerance for ${rows.length} operation and alloy pairs; ${over.length} above tolerance${
        over.length ? `: ${over.map((r) => `${r.operationCode} ${r.alloyCode}`).join(", ")}` : ""
      }.`,
      rows: rows.map((r) => ({
        label: `${r.operationCode} · ${r.alloyCode}`,
        value: Number(r.lossPct),
        target: tolerance(r),
        flag: Number(r.lossMg) > Number(r.allowedMg),
        detail: `${count(r.exceptions)} of ${count(r.operations)} operations over tolerance; loss ${formatMg(r.lossMg)} (fine ${formatMg(
          r.lossFineMg,
        )}), excess ${formatMg(r.excessMg)}`,
      })),
      format: pct,
      valueName: "Loss %",
      targetName: "Tolerance %",
      categoryName: "Operation · alloy",
      container: root,
    }),
  );
}

function byOperator(rows) {
  const intro =
    "Loss of the operations each operator finished in the window against what their tolerances allowed; the excess is " +
    "the loss above the tolerance, operation by operation.";
  if (!rows.length) return section("operator-title", "Loss per operator", intro, nothing("No operation finished in this window."));
  const sorted = [...rows].sort((a, b) => Number(b.excessMg) - Number(a.excessMg) || a.operatorCode.localeCompare(b.operatorCode));
  const over = sorted.filter((r) => Number(r.lossMg) > Number(r.allowedMg));
  return section(
    "operator-title",
    "Loss per operator",
    intro,
    bulletChart({
      key: "loss-operator",
      title: "Loss % against tolerance, per operator (largest excess first)",
      summary: `Loss against tolerance for ${rows.length} operators, ${over.length} above it; excess: ${sorted
        .map((r) => `${r.operatorCode} ${formatMg(r.excessMg)}`)
        .join(", ")}.`,
      rows: sorted.map((r) => ({
        label: r.operatorCode,
        value: Number(r.lossPct),
        target: tolerance(r),
        flag: Number(r.lossMg) > Number(r.allowedMg),
        note: `excess ${formatMg(r.excessMg)}`,
        detail: `${count(r.operations)} operations; loss ${formatMg(r.lossMg)} of ${formatMg(r.grossInMg)}`,
      })),
      format: pct,
      valueName: "Loss %",
      targetName: "Tolerance %",
      categoryName: "Operator",
      container: root,
    }),
  );
}

function trend(rows) {
  const grain = currentWindow().days <= 7 ? "DAY" : "WEEK";
  const per = grain === "DAY" ? "day" : "week";
  const intro = `Loss of every operator per ${per} against the tolerance of the same operations.`;
  const title = `Loss trend per ${per}`;
  if (!rows.some((r) => Number(r.grossInMg) > 0)) return section("trend-title", title, intro, nothing("No operation finished in this window."));
  const starts = timeline(rows, grain);
  const at = starts.map((start) => rows.find((r) => inBucket(r, start)) || null);
  const categories = starts.map((start) => ({ label: bucketLabel(start, grain), long: bucketLong(start, grain), time: start }));
  const losses = at.map((r) => (r && Number(r.grossInMg) > 0 ? Number(r.lossPct) : null));
  const tolerances = at.map((r) => (r && Number(r.grossInMg) > 0 ? tolerance(r) : null));
  const last = [...rows].reverse().find((r) => Number(r.grossInMg) > 0);
  const shown = losses.filter((v) => v !== null);
  return section(
    "trend-title",
    title,
    intro,
    lineChart({
      key: "loss-trend",
      title: `Loss % and tolerance % per ${per}`,
      summary: `Loss per ${per} over ${starts.length} ${per}s (${shown.length} with finished operations), from ${pct(shown[0])} to ${pct(
        shown[shown.length - 1],
      )}; the last such ${per}'s tolerance ${pct(tolerance(last))}.`,
      categories,
      series: [
        { name: "Loss %", values: losses },
        { name: "Tolerance %", values: tolerances },
      ],
      format: pct,
      categoryName: grain === "DAY" ? "Day" : "Week",
      container: root,
    }),
  );
}

function reviews(connection) {
  const intro = "Operations whose loss was above tolerance wait for a supervisor, who approves or sends them to rework on the work center's Bench page.";
  if (!connection) return section("reviews-title", "Open loss reviews", intro, nothing("The work centers could not be read."));
  const waiting = connection.nodes.filter((wc) => wc.stats && Number(wc.stats.inReview) > 0);
  if (!waiting.length) return section("reviews-title", "Open loss reviews", intro, nothing("No loss review is waiting."));
  return section(
    "reviews-title",
    "Open loss reviews",
    intro,
    h(
      "ul",
      { class: "reviews-list" },
      waiting.map((wc) =>
        h(
          "li",
          {},
          h("span", { class: "badge bad" }, h("span", { "aria-hidden": "true" }, "▲ "), `${wc.stats.inReview} waiting`),
          " ",
          `${wc.displayName || wc.code} (${wc.code}) · `,
          h("a", { href: `/bench/${encodeURIComponent(wc.code)}` }, `Resolve on the ${wc.code} Bench page`),
        ),
      ),
    ),
  );
}

function render(data, current) {
  const metal = data ? data.metalAnalytics : null;
  const errors = (current && current.errors) || [];
  const parts = [
    h("h1", {}, "Metal & loss"),
    h("div", { class: "report-bar" }, windowNav("/metal"), refreshBar(metal ? metal.asOf.computedAt : null)),
    h("p", { class: "muted" }, `${currentWindow().label}, up to the end of today; custody and balances now.`),
  ];
  if (!data) {
    parts.push(nothing("The page could not be read."));
  } else {
    parts.push(balances(data.alloyBalances));
    if (metal) {
      parts.push(custody(metal.custody), byOperation(metal.byOperation), byOperator(metal.byOperator), trend(metal.trend));
    } else {
      const error = errors.find((e) => (e.path || [])[0] === "metalAnalytics");
      parts.push(h("p", { class: "notice warn" }, error ? error.message : "The metal analytics could not be read."));
    }
    parts.push(reviews(data.workCenters));
  }
  root.replaceChildren(...parts);
}

onData(render);
