// The Analytics page (/analytics): the flow of work over the window, per day. The value stream per
// operation (queue and touch time, p50 and p85: P5, P6); WIP aging (P3) and the queue per work center now
// (P1, P2); throughput and orders shipped per day (P4); utilisation and bottleneck rank per work center
// (P10, P11), the constraint candidate written out, not only coloured; Little's law (P9) with its
// "steady" verdict. The window (last 7, 30 or 90 days) is in the URL. Not live: the Refresh button asks again.
import { barChart, lineChart } from "../charts.js";
import { formatMg, h, onData } from "../live.js";
import {
  bucketLabel,
  bucketLong,
  count,
  dataTable,
  currentWindow,
  days,
  facts,
  hours,
  inBucket,
  minutes,
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

function valueStream(rows) {
  const intro =
    "Per operation finished in the window: the time it waited in its queue (ready to started) and the time it was " +
    "worked on (pauses excluded), medians stacked; percentiles need at least 5 operations.";
  if (!rows.length) return section("stream-title", "Value stream per operation", intro, nothing("No operation finished in this window."));
  const known = rows.filter((r) => r.hasPercentiles);
  const few = rows.filter((r) => !r.hasPercentiles);
  return section(
    "stream-title",
    "Value stream per operation",
    intro,
    known.length
      ? barChart({
          key: "value-stream",
          title: "Queue and touch time per operation (median, minutes)",
          summary: `Median queue and touch time of ${known.length} operations: ${known
            .map((r) => `${r.operationCode} ${minutes(r.queueP50Min)} waiting, ${minutes(r.touchP50Min)} worked`)
            .join("; ")}.`,
          categories: known.map((r) => ({ label: r.operationCode, long: `${r.operationCode} (${count(r.n)} operations)` })),
          series: [
            { name: "Queue p50", values: known.map((r) => r.queueP50Min) },
            { name: "Touch p50", values: known.map((r) => r.touchP50Min) },
          ],
          format: minutes,
          stacked: true,
          horizontal: true,
          categoryName: "Operation",
          container: root,
        })
      : null,
    dataTable(
      "value-stream",
      "Queue and touch time per operation, p50 and p85",
      ["Operation", "Finished", "Queue p50", "Queue p85", "Touch p50", "Touch p85"],
      rows.map((r) =>
        tableRow(
          r.operationCode,
          numCell(count(r.n)),
          r.hasPercentiles
            ? [r.queueP50Min, r.queueP85Min, r.touchP50Min, r.touchP85Min].map((v) => numCell(minutes(v)))
            : h("td", { class: "muted", colspan: "4" }, "fewer than 5 operations"),
        ),
      ),
    ),
    few.length ? h("p", { class: "muted" }, `Not enough operations for percentiles: ${few.map((r) => r.operationCode).join(", ")}.`) : null,
  );
}

function utilisation(rows) {
  const intro =
    "Busy minutes (an operation in progress) over the calendar's shift minutes in the window, ranked by utilisation " +
    "then mean queue time. A constraint candidate runs at 85% or more and has the longest queue.";
  if (!rows.length) return section("utilisation-title", "Utilisation and bottleneck rank", intro, nothing("No work center has a calendar."));
  const ranked = [...rows].sort((a, b) => a.rank - b.rank);
  const candidate = ranked.find((r) => r.constraintCandidate);
  return section(
    "utilisation-title",
    "Utilisation and bottleneck rank",
    intro,
    h(
      "p",
      { class: candidate ? "constraint" : "muted", "data-volatile": "" },
      candidate
        ? [h("span", { class: "badge bad" }, h("span", { "aria-hidden": "true" }, "◆ "), "Constraint candidate"), ` ${candidate.workCenterId}: ${percent(candidate.utilisation)} busy, mean queue ${minutes(candidate.meanQueueMin)}.`]
        : "No constraint candidate: no work center is both at 85% or more and the longest queue.",
    ),
    barChart({
      key: "utilisation",
      title: "Utilisation per work center, by rank",
      summary: `Utilisation of ${ranked.length} work centers by rank: ${ranked
        .map((r) => `${r.rank}. ${r.workCenterId} ${percent(r.utilisation)}${r.constraintCandidate ? " (constraint candidate)" : ""}`)
        .join("; ")}.`,
      categories: ranked.map((r) => ({ label: `${r.rank}. ${r.workCenterId}`, long: `${r.rank}. ${r.workCenterId}` })),
      series: [{ name: "Utilisation", values: ranked.map((r) => r.utilisation) }],
      format: percent,
      horizontal: true,
      notes: (j) => (ranked[j].constraintCandidate ? "◆ constraint" : null),
      categoryName: "Rank and work center",
      volatile: true,
      container: root,
    }),
    dataTable(
      "utilisation",
      "Utilisation and queue time per work center",
      ["Rank", "Work center", "Utilisation", "Busy", "On shift", "Mean queue", "Constraint"],
      ranked.map((r) =>
        h(
          "tr",
          {},
          h("td", {}, String(r.rank)),
          h("th", { scope: "row" }, h("a", { href: `/bench/${encodeURIComponent(r.workCenterId)}` }, r.workCenterId)),
          numCell(percent(r.utilisation), true),
          numCell(hours(Number(r.busyMin) / 60), true),
          numCell(hours(Number(r.availableMin) / 60), true),
          numCell(minutes(r.meanQueueMin), true),
          h("td", { "data-volatile": "" }, r.constraintCandidate ? "◆ Candidate" : "—"),
        ),
      ),
      (i) => i > 1 && i < 6,
    ),
  );
}

function wipAging(rows) {
  const intro = "Work orders released and not finished, by hours since their release, now.";
  if (!rows.length) return section("aging-title", "WIP aging", intro, nothing("No work order is open."));
  const label = (r) => (r.upToHours === null ? `over ${rows[rows.length - 2] ? rows[rows.length - 2].upToHours : 0} h` : `up to ${r.upToHours} h`);
  const total = rows.reduce((sum, r) => sum + Number(r.workOrders), 0);
  return section(
    "aging-title",
    "WIP aging",
    intro,
    barChart({
      key: "wip-aging",
      title: "Open work orders by hours since release",
      summary: `${count(total)} open work orders: ${rows.map((r) => `${label(r)} ${count(r.workOrders)}`).join(", ")}.`,
      categories: rows.map((r) => ({ label: label(r) })),
      series: [{ name: "Work orders", values: rows.map((r) => r.workOrders) }],
      format: count,
      integer: true,
      categoryName: "Since release",
      container: root,
      half: true,
    }),
  );
}

function throughput(flow) {
  const intro = "Operations finished per day (every work center) and orders shipped per day.";
  const rows = [...flow.throughput, ...flow.shipped];
  if (!rows.some((r) => Number(r.operations || r.orders) > 0)) {
    return section("throughput-title", "Throughput per day", intro, nothing("Nothing was finished in this window."));
  }
  const starts = timeline(rows, "DAY");
  const finished = starts.map((start) =>
    flow.throughput.filter((r) => inBucket(r, start)).reduce((sum, r) => sum + Number(r.operations), 0),
  );
  const shipped = starts.map((start) => {
    const row = flow.shipped.find((r) => inBucket(r, start));
    return row ? Number(row.orders) : 0;
  });
  const sum = (values) => values.reduce((a, b) => a + b, 0);
  return section(
    "throughput-title",
    "Throughput per day",
    intro,
    lineChart({
      key: "throughput",
      title: "Operations finished and orders shipped per day",
      summary: `Over ${starts.length} days: ${count(sum(finished))} operations finished, ${count(sum(shipped))} orders shipped; at most ${count(
        Math.max(...finished),
      )} operations in a day.`,
      categories: starts.map((start) => ({ label: bucketLabel(start, "DAY"), long: bucketLong(start, "DAY"), time: start })),
      series: [
        { name: "Operations finished", values: finished },
        { name: "Orders shipped", values: shipped },
      ],
      format: count,
      integer: true,
      categoryName: "Day",
      container: root,
    }),
  );
}

function littlesLaw(law) {
  const expected = Number(law.throughputPerDay) * Number(law.meanFlowDays);
  return section(
    "little-title",
    "Little's law",
    "Mean WIP should equal throughput × mean flow time when the flow is steady (as many work orders start as finish); a large deviation on a steady window means events are missing.",
    facts([
      ["Mean WIP", h("span", { "data-volatile": "" }, `${Number(law.meanWip).toFixed(1)} work orders`)],
      ["Throughput", `${Number(law.throughputPerDay).toFixed(2)} work orders a day (${count(law.completed)} completed)`],
      ["Mean flow time", days(law.meanFlowDays)],
      ["Throughput × flow time", `${expected.toFixed(1)} work orders`],
      ["Deviation", h("span", { "data-volatile": "" }, percent(law.deviation))],
      [
        "State",
        law.steady
          ? h("span", { class: "badge ok" }, h("span", { "aria-hidden": "true" }, "● "), "Steady")
          : h("span", { class: "badge warn" }, h("span", { "aria-hidden": "true" }, "▲ "), "Not steady: WIP at the start and the end differ by 10% or more"),
      ],
    ]),
  );
}

function queues(rows) {
  const intro = "Operations ready at each work center now, the oldest and the median wait (minutes), and the fine metal at its benches.";
  if (!rows.length) return section("queues-title", "Queue per work center now", intro, nothing("No work center has work."));
  const sorted = [...rows].sort((a, b) => a.workCenterId.localeCompare(b.workCenterId));
  return section(
    "queues-title",
    "Queue per work center now",
    intro,
    barChart({
      key: "queues",
      title: "Operations queued per work center",
      summary: `Queued now: ${sorted.map((r) => `${r.workCenterId} ${count(r.queue)}`).join(", ")}.`,
      categories: sorted.map((r) => ({ label: r.workCenterId })),
      series: [{ name: "Queued", values: sorted.map((r) => r.queue) }],
      format: count,
      integer: true,
      horizontal: true,
      categoryName: "Work center",
      container: root,
      half: true,
    }),
    dataTable(
      "queues",
      "Queue and WIP per work center now",
      ["Work center", "Queued", "Oldest", "Median", "WIP ops", "WIP fine"],
      sorted.map((r) =>
        tableRow(
          h("a", { href: `/bench/${encodeURIComponent(r.workCenterId)}` }, r.workCenterId),
          numCell(count(r.queue)),
          numCell(minutes(r.oldestQueueMin), true),
          numCell(minutes(r.medianQueueMin), true),
          numCell(count(r.wipOperations)),
          h("td", { class: "num", title: `${formatMg(r.wipGrossMg)} gross` }, formatMg(r.wipFineMg)),
        ),
      ),
    ),
  );
}

function render(data, current) {
  const flow = data ? data.flowAnalytics : null;
  if (!flow) {
    root.replaceChildren(
      ...unavailable("Analytics", current && current.errors),
      h("div", { class: "report-bar" }, windowNav("/analytics"), refreshBar(null)),
    );
    return;
  }
  root.replaceChildren(
    h("h1", {}, "Analytics"),
    h("div", { class: "report-bar" }, windowNav("/analytics"), refreshBar(flow.asOf.computedAt)),
    h("p", { class: "muted" }, `${currentWindow().label}, up to the end of today, per day; queues and WIP now.`),
    valueStream(flow.valueStream),
    h("div", { class: "pair" }, wipAging(flow.wipAging), queues(flow.workCenters)),
    throughput(flow),
    utilisation(flow.utilisation),
    littlesLaw(flow.littlesLaw),
  );
}

onData(render);
