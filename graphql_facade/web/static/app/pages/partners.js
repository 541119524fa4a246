// The Partners page (/partners): what the partners order and how they use the API, over the window (in
// days for 7 days, in weeks otherwise). Orders per bucket and partner (C1, C2), the mix by style and alloy
// (C3), cancellation cohorts with their maturity (C4), lead time p50/p85/p95 (C5), on-time delivery (C7),
// cadence with the quiet partners (C9); API usage per bucket and partner: requests, throttle rate, cost
// utilisation, error rates, latency p95 (A1-A5), the top operations, the error codes and the idempotent
// replays (A6). The window and the partner (`partner=<id>`, every partner by default) are in the URL.
// Not live: the Refresh button asks again.
import { barChart } from "../charts.js";
import { h, onData } from "../live.js";
import {
  bucketLabel,
  bucketLong,
  count,
  dataTable,
  currentWindow,
  days,
  hours,
  inBucket,
  nothing,
  numCell,
  percent,
  refreshBar,
  section,
  tableRow,
  timeline,
  unavailable,
  windowNav,
} from "../report.js";

const root = document.getElementById("app");
const params = new URLSearchParams(window.location.search);
const chosen = (params.get("partner") || "").trim();
const TOP_OPERATIONS = 10;
const TOP_MIX = 8;

function grain() {
  return currentWindow().days <= 7 ? "DAY" : "WEEK";
}

function per() {
  return grain() === "DAY" ? "day" : "week";
}

function ms(value) {
  return value === null || value === undefined ? "—" : `${Math.round(Number(value))} ms`;
}

function sum(values) {
  return values.reduce((a, b) => a + Number(b || 0), 0);
}

function partnerIds(answer) {
  const ids = new Set();
  for (const list of [answer.volume, answer.cadence, answer.apiUsage, answer.delivery, answer.cancellation]) {
    for (const row of list) if (row.partnerId) ids.add(row.partnerId);
  }
  if (chosen) ids.add(chosen);
  return [...ids].sort();
}

function filterForm(ids) {
  const win = currentWindow();
  return h(
    "form",
    { class: "filters", method: "get", action: "/partners", role: "search", "aria-label": "Choose a partner" },
    h(
      "label",
      {},
      "Partner",
      h(
        "select",
        { name: "partner" },
        h("option", { value: "", selected: !chosen }, "All partners"),
        ids.map((id) => h("option", { value: id, selected: id === chosen }, id)),
      ),
    ),
    win.key !== "30d" ? h("input", { type: "hidden", name: "window", value: win.key }) : null,
    h("button", { type: "submit" }, "Show"),
    chosen ? h("a", { href: win.key !== "30d" ? `/partners?window=${win.key}` : "/partners" }, "All partners") : null,
  );
}

/** Per bucket of the window and partner: the values of `rows` under `field`, as chart series (one per partner). */
function byBucket(rows, field, ids) {
  const starts = rows.length ? timeline(rows, grain()) : [];
  const series = ids
    .map((id) => ({
      name: id,
      values: starts.map((start) => {
        const row = rows.find((r) => inBucket(r, start) && r.partnerId === id);
        return row ? Number(row[field]) : 0;
      }),
    }))
    .filter((one) => one.values.some((v) => v > 0));
  const categories = starts.map((start) => ({ label: bucketLabel(start, grain()), long: bucketLong(start, grain()), time: start }));
  return { starts, categories, series };
}

function volume(answer, ids) {
  const intro = `Accepted orders each partner submitted per ${per()} (an idempotent replay counts once), stacked.`;
  const { categories, series } = byBucket(answer.volume, "orders", ids);
  if (!series.length) return section("volume-title", "Volume", intro, nothing("No order was submitted in this window."));
  const orders = sum(answer.volume.map((r) => r.orders));
  const pieces = sum(answer.volume.map((r) => r.pieces));
  return section(
    "volume-title",
    "Volume",
    intro,
    h("p", { class: "totals" }, `${count(orders)} orders, ${count(pieces)} pieces.`),
    barChart({
      key: "volume",
      title: `Orders per ${per()} and partner`,
      summary: `${count(orders)} orders over ${categories.length} ${per()}s: ${series.map((one) => `${one.name} ${count(sum(one.values))}`).join(", ")}.`,
      categories,
      series,
      format: count,
      integer: true,
      stacked: true,
      legend: true,
      categoryName: per() === "day" ? "Day" : "Week",
      container: root,
    }),
  );
}

function mixChart(rows, dimension, label) {
  const top = rows.filter((r) => r.dimension === dimension).sort((a, b) => Number(b.share) - Number(a.share)).slice(0, TOP_MIX);
  if (!top.length) return null;
  return barChart({
    key: `mix-${dimension.toLowerCase()}`,
    title: `Share of the pieces by ${label}`,
    summary: `Share of the pieces ordered by ${label}: ${top.map((r) => `${r.key} ${percent(r.share)}`).join(", ")}.`,
    categories: top.map((r) => ({ label: r.key, long: `${r.key} (${count(r.pieces)} pieces)` })),
    series: [{ name: "Share", values: top.map((r) => r.share) }],
    format: percent,
    horizontal: true,
    categoryName: label.charAt(0).toUpperCase() + label.slice(1),
    container: root,
    half: true,
  });
}

function mix(rows) {
  const intro = `What was ordered in the window: the share of the pieces per style and per alloy (the ${TOP_MIX} largest).`;
  if (!rows.length) return section("mix-title", "Order mix", intro, nothing("No order was submitted in this window."));
  return section("mix-title", "Order mix", intro, h("div", { class: "pair" }, mixChart(rows, "STYLE", "style"), mixChart(rows, "ALLOY", "alloy")));
}

function cancellations(rows, ids) {
  const intro =
    `Orders submitted each ${per()} and the share cancelled within 30 days. A cohort is mature once its ${per()} ended ` +
    "30 days ago: before that its rate can still grow (drawn hatched, marked “not mature”).";
  if (!rows.some((r) => Number(r.submitted) > 0)) {
    return section("cancel-title", "Cancellation cohorts", intro, nothing("No order was submitted in this window."));
  }
  const ended = Date.now() - 30 * 24 * 3600 * 1000;
  const cohort = timeline(rows, grain()).map((start, j, starts) => {
    const mine = rows.filter((r) => inBucket(r, start));
    const submitted = sum(mine.map((r) => r.submitted));
    const cancelled = sum(mine.map((r) => r.cancelled));
    // the service's verdict where it gave the bucket; an empty bucket is mature once it ended 30 days ago
    const end = j + 1 < starts.length ? Date.parse(starts[j + 1]) : Infinity;
    const mature = mine.length ? mine.every((r) => r.mature) : end <= ended;
    return { start, submitted, cancelled, rate: submitted ? cancelled / submitted : 0, mature };
  });
  const perPartner = ids
    .map((id) => {
      const mine = rows.filter((r) => r.partnerId === id);
      return {
        id,
        submitted: sum(mine.map((r) => r.submitted)),
        cancelled: sum(mine.map((r) => r.cancelled)),
        before: sum(mine.map((r) => r.cancelledBeforeRelease)),
        after: sum(mine.map((r) => r.cancelledAfterRelease)),
      };
    })
    .filter((row) => row.submitted > 0);
  const open = cohort.filter((c) => !c.mature).length;
  return section(
    "cancel-title",
    "Cancellation cohorts",
    intro,
    barChart({
      key: "cancellation",
      title: `Cancelled within 30 days, per ${per()} of submission`,
      summary: `Cancellation rate of ${cohort.length} cohorts (${open} not mature yet): ${cohort
        .map((c) => `${bucketLabel(c.start, grain())} ${percent(c.rate)} of ${count(c.submitted)}${c.mature ? "" : " (not mature)"}`)
        .join("; ")}.`,
      categories: cohort.map((c) => ({ label: bucketLabel(c.start, grain()), long: bucketLong(c.start, grain()), time: c.start })),
      series: [{ name: "Cancelled", values: cohort.map((c) => c.rate) }],
      format: percent,
      notes: (j) => (cohort[j].mature ? null : "not mature"),
      open: (j) => !cohort[j].mature,
      categoryName: "Submitted",
      container: root,
    }),
    dataTable(
      "cancellation",
      "Cancellations per partner over the window",
      ["Partner", "Submitted", "Cancelled", "Before release", "After release", "Rate"],
      perPartner.map((row) =>
        tableRow(
          row.id,
          [row.submitted, row.cancelled, row.before, row.after].map((n) => numCell(count(n))),
          numCell(percent(row.submitted ? row.cancelled / row.submitted : 0)),
        ),
      ),
    ),
  );
}

function leadTime(all) {
  const intro = "Hours from submission to shipment of the orders shipped in the window; percentiles need at least 5 orders.";
  const rows = all.filter((r) => Number(r.n) > 0);
  if (!rows.length) return section("lead-title", "Lead time", intro, nothing("No order shipped in this window."));
  const name = (r) => r.partnerId || "All partners";
  const known = rows.filter((r) => r.hasPercentiles);
  return section(
    "lead-title",
    "Lead time",
    intro,
    known.length
      ? barChart({
          key: "lead-time",
          title: "Lead time p50, p85 and p95 (hours)",
          summary: `Lead time: ${known.map((r) => `${name(r)} p50 ${hours(r.p50Hours)}, p95 ${hours(r.p95Hours)} over ${count(r.n)} orders`).join("; ")}.`,
          categories: known.map((r) => ({ label: name(r), long: `${name(r)} (${count(r.n)} orders)` })),
          series: [
            { name: "p50", values: known.map((r) => r.p50Hours) },
            { name: "p85", values: known.map((r) => r.p85Hours) },
            { name: "p95", values: known.map((r) => r.p95Hours) },
          ],
          format: hours,
          horizontal: true,
          categoryName: "Partner",
          container: root,
        })
      : null,
    dataTable(
      "lead-time",
      "Lead time per partner",
      ["Partner", "Shipped", "p50", "p85", "p95"],
      rows.map((r) =>
        tableRow(
          name(r),
          numCell(count(r.n)),
          r.hasPercentiles
            ? [r.p50Hours, r.p85Hours, r.p95Hours].map((v) => numCell(hours(v)))
            : h("td", { class: "muted", colspan: "3" }, "fewer than 5 orders"),
        ),
      ),
    ),
  );
}

function delivery(all) {
  const intro = "Orders shipped in the window at or before the end of their promised day.";
  const rows = all.filter((r) => Number(r.shipped) > 0);
  if (!rows.length) return section("otd-title", "On-time delivery", intro, nothing("No order shipped in this window."));
  const name = (r) => r.partnerId || "All partners";
  return section(
    "otd-title",
    "On-time delivery",
    intro,
    barChart({
      key: "otd",
      title: "On-time delivery (OTD) per partner",
      summary: `On-time delivery: ${rows.map((r) => `${name(r)} ${percent(r.otd)} (${count(r.onTime)} of ${count(r.shipped)})`).join("; ")}.`,
      categories: rows.map((r) => ({ label: name(r), long: `${name(r)} (${count(r.onTime)} of ${count(r.shipped)} on time)` })),
      series: [{ name: "On time", values: rows.map((r) => r.otd) }],
      format: percent,
      horizontal: true,
      categoryName: "Partner",
      container: root,
    }),
  );
}

function cadence(rows) {
  const intro =
    "Days between a partner's consecutive orders over the last 180 days, now. Quiet: no order for longer than twice " +
    "the usual gap (and at least 14 days).";
  if (!rows.length) return section("cadence-title", "Cadence", intro, nothing("No partner ordered in the last 180 days."));
  const sorted = [...rows].sort((a, b) => Number(b.quiet) - Number(a.quiet) || a.partnerId.localeCompare(b.partnerId));
  return section(
    "cadence-title",
    "Cadence",
    intro,
    dataTable(
      "cadence",
      "Cadence per partner",
      ["Partner", "Orders (180 d)", "Usual gap", "Since the last", "State"],
      sorted.map((r) =>
        tableRow(
          r.partnerId,
          numCell(count(r.submissions)),
          numCell(r.hasMedian ? days(r.medianGapDays) : "—"),
          numCell(days(r.daysSinceLast), true),
          h(
            "td",
            {},
            r.quiet
              ? h("span", { class: "badge warn" }, h("span", { "aria-hidden": "true" }, "▲ "), "Quiet")
              : h("span", { class: "badge ok" }, h("span", { "aria-hidden": "true" }, "● "), "Ordering"),
          ),
        ),
      ),
      (i) => i && i < 4,
    ),
  );
}

function apiUsage(answer, ids) {
  const intro =
    `Requests to the partner API per ${per()} (every facade replica), stacked by partner; below, per partner over the ` +
    "window: throttled share (cost bucket and request rate), cost used of the bucket's capacity, error rates, and the " +
    `worst ${per()}'s latency p95.`;
  const rows = answer.apiUsage;
  const { categories, series } = byBucket(rows, "requests", ids);
  if (!series.length) return section("api-title", "API usage", intro, nothing("No API request in this window."));
  const totals = ids
    .map((id) => {
      const mine = rows.filter((r) => r.partnerId === id);
      const requests = sum(mine.map((r) => r.requests));
      const p95s = mine.filter((r) => r.hasPercentiles && r.p95Ms !== null).map((r) => Number(r.p95Ms));
      return {
        id,
        requests,
        throttled: requests ? sum(mine.map((r) => Number(r.throttled) + Number(r.rateLimited))) / requests : 0,
        cost: sum(mine.map((r) => r.costCapacity)) ? sum(mine.map((r) => r.costUsed)) / sum(mine.map((r) => r.costCapacity)) : 0,
        e4: requests ? sum(mine.map((r) => r.errors4xx)) / requests : 0,
        e5: requests ? sum(mine.map((r) => r.errors5xx)) / requests : 0,
        p95: p95s.length ? Math.max(...p95s) : null,
      };
    })
    .filter((row) => row.requests > 0);
  return section(
    "api-title",
    "API usage",
    intro,
    barChart({
      key: "api-requests",
      title: `API requests per ${per()} and partner`,
      summary: `${count(sum(rows.map((r) => r.requests)))} API requests: ${series.map((one) => `${one.name} ${count(sum(one.values))}`).join(", ")}.`,
      categories,
      series,
      format: count,
      integer: true,
      stacked: true,
      legend: true,
      categoryName: per() === "day" ? "Day" : "Week",
      volatile: true,
      container: root,
    }),
    dataTable(
      "api-usage",
      "API usage per partner over the window",
      ["Partner", "Requests", "Throttled", "Cost used", "4xx", "5xx", `Latency p95 (worst ${per()})`],
      totals.map((row) =>
        tableRow(
          row.id,
          numCell(count(row.requests), true),
          [row.throttled, row.cost, row.e4, row.e5].map((v) => numCell(percent(v), true)),
          numCell(ms(row.p95), true),
        ),
      ),
    ),
  );
}

function operations(rows) {
  const intro = `The ${TOP_OPERATIONS} GraphQL operations with the most requests in the window (persisted or named; the rest is “other”).`;
  if (!rows.length) return section("ops-title", "Top operations", intro, nothing("No API request in this window."));
  const top = [...rows].sort((a, b) => Number(b.requests) - Number(a.requests)).slice(0, TOP_OPERATIONS);
  return section(
    "ops-title",
    "Top operations",
    intro,
    dataTable(
      "operations",
      "Top operations",
      ["Partner", "Operation", "Requests", "Errors", "p50", "p95"],
      top.map((r) =>
        h(
          "tr",
          {},
          h("td", {}, r.partnerId),
          h("th", { scope: "row" }, r.operation),
          numCell(count(r.requests)),
          numCell(count(r.errors)),
          numCell(r.hasPercentiles ? ms(r.p50Ms) : "—"),
          numCell(r.hasPercentiles ? ms(r.p95Ms) : "—"),
        ),
      ),
      (i) => i > 1,
    ),
  );
}

function errorCodes(rows) {
  const intro = "Answers with an error, by code (THROTTLED and RATE_LIMITED are the limits; the rest the requests' own errors).";
  if (!rows.length) return section("errors-title", "Error codes", intro, nothing("No error in this window."));
  const sorted = [...rows].sort((a, b) => Number(b.count) - Number(a.count));
  return section(
    "errors-title",
    "Error codes",
    intro,
    dataTable(
      "errors",
      "Errors by code",
      ["Partner", "Code", "Answers"],
      sorted.map((r) => h("tr", {}, h("td", {}, r.partnerId), h("th", { scope: "row" }, r.code), numCell(count(r.count)))),
      (i) => i > 1,
    ),
  );
}

function idempotency(rows) {
  const intro = "Order submissions, those answered as idempotent replays (the same key and order again), and keys reused with another order (refused).";
  if (!rows.length) return section("replays-title", "Idempotent replays", intro, nothing("No order was submitted through the API in this window."));
  return section(
    "replays-title",
    "Idempotent replays",
    intro,
    dataTable(
      "idempotency",
      "Idempotent replays per partner",
      ["Partner", "Submissions", "Replays", "Replay rate", "Keys reused"],
      rows.map((r) =>
        tableRow(
          r.partnerId,
          numCell(count(r.submissions)),
          numCell(count(r.replays)),
          numCell(percent(r.replayRate)),
          numCell(count(r.keyReused)),
        ),
      ),
    ),
  );
}

function render(data, current) {
  const answer = data ? data.partnerAnalytics : null;
  const bar = (computedAt) =>
    h("div", { class: "report-bar" }, windowNav("/partners", { partner: chosen }), refreshBar(computedAt));
  if (!answer) {
    root.replaceChildren(...unavailable("Partners", current && current.errors), bar(null));
    return;
  }
  const ids = partnerIds(answer);
  root.replaceChildren(
    h("h1", {}, chosen ? `Partners: ${chosen}` : "Partners"),
    bar(answer.asOf.computedAt),
    filterForm(ids),
    h("p", { class: "muted" }, `${currentWindow().label}, up to the end of today, per ${per()}; cadence now.`),
    volume(answer, ids),
    mix(answer.mix),
    cancellations(answer.cancellation, ids),
    leadTime(answer.leadTime),
    delivery(answer.delivery),
    cadence(answer.cadence),
    apiUsage(answer, ids),
    operations(answer.apiOperations),
    errorCodes(answer.apiErrors),
    idempotency(answer.idempotency),
  );
}

onData(render);
