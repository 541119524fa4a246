// Charts of the operators' web app, drawn by hand as SVG (no library, no build step): bars (grouped or
// stacked, vertical or horizontal), lines, and bullet bars (a value against its target). Each chart is a
// <figure> with its title, a "Table" toggle (a button: Tab reaches it, Enter or Space switches) that shows
// the same numbers in a <table> instead of the picture, a legend in text, and an SVG with role="img" and an
// aria-label summing it up. State is never told by colour alone: series differ by pattern or marker shape
// too, and a flag (over tolerance, not mature, constraint candidate) is written as a word beside the mark.
// Every mark carries data-series, data-category and data-value (the raw number), as every table cell does.
//
//   barChart({title, summary, categories, series, format, stacked, horizontal, notes, open, legend, integer})
//   lineChart({title, summary, categories, series, format})
//   bulletChart({title, summary, rows: [{label, value, target, flag, note, detail}], format, valueName, targetName})
//
// categories: [{label, long?, time?}] (`time`: an ISO instant, shown as a <time> in the table and marked
// data-volatile in the picture); series: [{name, values: [number | null per category]}]; `volatile: true`
// marks the picture and the values data-volatile (figures that move with the clock); `legend: true` shows
// the legend for a single series too (a series named after a partner); `integer: true` keeps the axis on
// whole numbers (counts); `container` (measured), `width` or `half` size it. A chart never
// draws more points than its plot has pixels: a longer line is averaged over neighbouring buckets in the
// picture (the table keeps every bucket).
import { h } from "./live.js";

const SVG = "http://www.w3.org/2000/svg";
//: Colours with at least 3:1 against white; each series also has its own pattern and marker.
const COLOURS = ["#0a58ca", "#b35c00", "#116329", "#6f42c1", "#a40e26", "#3d4852", "#00707a", "#8a6100"];
const PATTERNS = ["solid", "hatch", "dots", "cross", "vertical", "horizontal", "solid", "hatch"];
const MARKERS = ["circle", "square", "triangle", "diamond", "circle", "square", "triangle", "diamond"];
const HEIGHT = 220;
const MARGIN = { top: 12, right: 16, bottom: 34, left: 64 };
const LABEL_WIDTH = 56;
let charts = 0;
//: The charts (by key) shown as their table: a redraw (a refresh) keeps what the reader chose.
const asTable = new Set();

function s(tag, attrs, ...children) {
  const element = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

function round(value) {
  return Math.round(value * 10) / 10;
}

/** A tick step of 1, 2 or 5 x 10^n giving about `count` steps up to `max`. */
function niceStep(max, count) {
  if (!(max > 0)) return 1;
  const raw = max / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((candidate) => candidate >= raw);
  return step || 10 * power;
}

function scaleMax(values, integer = false) {
  const max = Math.max(0, ...values.filter((v) => Number.isFinite(v)));
  const step = integer ? Math.max(1, niceStep(max, 4)) : niceStep(max, 4);
  return { max: Math.max(step, Math.ceil(max / step) * step), step };
}

/** The <defs> of a chart: one pattern per series (solid, hatch, dots...), in the series' colour. */
function defs(id, count) {
  const patterns = [];
  for (let i = 0; i < count; i += 1) {
    const colour = COLOURS[i % COLOURS.length];
    const kind = PATTERNS[i % PATTERNS.length];
    const marks = {
      hatch: [s("path", { d: "M0,6 L6,0", stroke: colour, "stroke-width": 2 })],
      dots: [s("circle", { cx: 3, cy: 3, r: 1.6, fill: colour })],
      cross: [s("path", { d: "M0,0 L6,6 M6,0 L0,6", stroke: colour, "stroke-width": 1.2 })],
      vertical: [s("path", { d: "M3,0 L3,6", stroke: colour, "stroke-width": 2 })],
      horizontal: [s("path", { d: "M0,3 L6,3", stroke: colour, "stroke-width": 2 })],
    }[kind];
    if (!marks) continue;
    patterns.push(
      s(
        "pattern",
        { id: `${id}-p${i}`, width: 6, height: 6, patternUnits: "userSpaceOnUse" },
        s("rect", { width: 6, height: 6, fill: "#ffffff" }),
        marks,
      ),
    );
  }
  // the pattern of a cohort that is not mature yet (the bar is outlined and hatched grey)
  patterns.push(
    s(
      "pattern",
      { id: `${id}-open`, width: 6, height: 6, patternUnits: "userSpaceOnUse" },
      s("rect", { width: 6, height: 6, fill: "#ffffff" }),
      s("path", { d: "M0,6 L6,0", stroke: "#57606a", "stroke-width": 1 }),
    ),
  );
  return s("defs", {}, patterns);
}

function fillOf(id, i) {
  return PATTERNS[i % PATTERNS.length] === "solid" ? COLOURS[i % COLOURS.length] : `url(#${id}-p${i})`;
}

function marker(kind, x, y, colour, attrs, size = 3.5) {
  if (kind === "square") {
    return s("rect", { x: x - size, y: y - size, width: size * 2, height: size * 2, fill: colour, ...attrs });
  }
  if (kind === "triangle") {
    const d = `M${x},${y - size - 1} L${x + size + 1},${y + size} L${x - size - 1},${y + size} Z`;
    return s("path", { d, fill: colour, ...attrs });
  }
  if (kind === "diamond") {
    const d = `M${x},${y - size - 1} L${x + size + 1},${y} L${x},${y + size + 1} L${x - size - 1},${y} Z`;
    return s("path", { d, fill: colour, ...attrs });
  }
  return s("circle", { cx: x, cy: y, r: size, fill: colour, ...attrs });
}

function swatch(id, i, kind) {
  const colour = COLOURS[i % COLOURS.length];
  const own = `${id}-${i}`;
  const shape =
    kind === "line"
      ? [s("path", { d: "M1,7 L23,7", stroke: colour, "stroke-width": 2 }), marker(MARKERS[i % MARKERS.length], 12, 7, colour, {})]
      : [s("rect", { x: 1, y: 1, width: 22, height: 12, fill: fillOf(own, i), stroke: colour, "stroke-width": 1 })];
  return s("svg", { width: 24, height: 14, viewBox: "0 0 24 14", "aria-hidden": "true", focusable: "false" }, defs(own, i + 1), shape);
}

function legend(id, series, kind, always) {
  if (series.length < 2 && !(always && series.length)) return null;
  return h(
    "ul",
    { class: "chart-legend" },
    series.map((one, i) => h("li", {}, swatch(`${id}-legend`, i, kind), one.name)),
  );
}

function timeCell(category) {
  if (!category.time) return category.long || category.label;
  return h("time", { datetime: category.time }, category.long || category.label);
}

/** The table of a chart: one row per category, one column per series, every cell with its raw value. */
function dataTable({ title, categories, series, format, categoryName, notes, volatile }) {
  return h(
    "table",
    { class: "data chart-data" },
    h("caption", { class: "visually-hidden" }, title),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        h("th", { scope: "col" }, categoryName || ""),
        series.map((one) => h("th", { scope: "col", class: "num" }, one.name)),
        notes ? h("th", { scope: "col" }, "Note") : null,
      ),
    ),
    h(
      "tbody",
      {},
      categories.map((category, j) =>
        h(
          "tr",
          { "data-category": j },
          h("th", { scope: "row" }, timeCell(category)),
          series.map((one, i) => {
            const value = one.values[j];
            const known = value !== null && value !== undefined && Number.isFinite(Number(value));
            return h(
              "td",
              {
                class: "num",
                "data-series": i,
                "data-category": j,
                "data-value": known ? String(Number(value)) : "",
                "data-volatile": volatile ? true : false,
              },
              known ? format(Number(value)) : "—",
            );
          }),
          notes ? h("td", {}, notes(j) || "") : null,
        ),
      ),
    ),
  );
}

/** The figure around a picture and its table; `Table` switches between them. */
function figure({ key, title, summary, plot, table, legendNode, volatile }) {
  charts += 1;
  const id = `chart-${charts}`;
  const shown = Boolean(key) && asTable.has(key);
  const plotBox = h(
    "div",
    { class: "chart-plot", id: `${id}-plot`, hidden: shown, "data-volatile": volatile ? true : false },
    plot,
    legendNode,
  );
  const tableBox = h("div", { class: "chart-table", id: `${id}-table`, hidden: !shown }, table);
  const toggle = h(
    "button",
    { type: "button", class: "chart-toggle", "aria-pressed": String(shown), "aria-controls": `${id}-plot ${id}-table` },
    "Table",
  );
  toggle.addEventListener("click", () => {
    const showTable = toggle.getAttribute("aria-pressed") !== "true";
    toggle.setAttribute("aria-pressed", String(showTable));
    tableBox.hidden = !showTable;
    plotBox.hidden = showTable;
    if (key && showTable) asTable.add(key);
    else if (key) asTable.delete(key);
  });
  plot.setAttribute("role", "img");
  plot.setAttribute("aria-label", summary);
  return h(
    "figure",
    { class: "chart", "data-chart": key || false },
    h("figcaption", {}, h("span", { class: "chart-title" }, title), toggle),
    plotBox,
    tableBox,
  );
}

//: A figure's border and padding, left and right (app.css: figure.chart).
const FIGURE_INSET = 26;

/** The width the chart may use (one SVG unit is one pixel): `width`, else its container's measured when
 *  drawn, less the figure's border and padding; `half`: one of two charts side by side. */
function widthOf({ container, width, half }) {
  if (width) return Math.max(240, Math.floor(width));
  const measured = container && container.clientWidth ? container.clientWidth : 0;
  const whole = measured || 640;
  const room = half ? (whole - 16) / 2 : whole;
  return Math.max(240, Math.min(1400, Math.floor(room - FIGURE_INSET)));
}

function axisY(width, top, bottom, left, max, step, format) {
  const ticks = [];
  for (let v = 0; v <= max + step / 2; v += step) {
    const y = round(bottom - ((bottom - top) * v) / max);
    ticks.push(
      s("line", { x1: left, x2: width - MARGIN.right, y1: y, y2: y, class: v === 0 ? "axis" : "grid" }),
      s("text", { x: left - 6, y: y + 4, "text-anchor": "end", class: "tick" }, format(v)),
    );
  }
  return s("g", { "aria-hidden": "true" }, ticks);
}

function labelEvery(count, plotWidth) {
  return Math.max(1, Math.ceil((count * LABEL_WIDTH) / Math.max(plotWidth, 1)));
}

/** A categories' label under the x axis (dates are marked volatile: they move with the clock). */
function xLabel(category, x, y) {
  return s("text", { x, y, "text-anchor": "middle", class: "tick", "data-volatile": category.time ? true : false }, category.label);
}

/** The bar of series `i` at category `j` in `box` (x, y, width, height); `outlined`: hatched, not filled. */
function bar(id, i, j, value, outlined, box) {
  return s("rect", {
    ...box,
    fill: outlined ? `url(#${id}-open)` : fillOf(id, i),
    stroke: COLOURS[i % COLOURS.length],
    "stroke-width": 1,
    "data-series": i,
    "data-category": j,
    "data-value": String(value),
  });
}

/**
 * Vertical bars per category (grouped, or `stacked`), or `horizontal` bars with the labels on the left.
 * `notes(j)`: a word about category j written beside its bar and in the table (e.g. "not mature"), and
 * `open(j)`: whether the bar is drawn outlined and hatched grey instead of filled.
 */
export function barChart(options) {
  const { key, title, summary, categories, series, format, stacked = false, horizontal = false, notes, open } = options;
  charts += 1;
  const id = `svg-${charts}`;
  const width = widthOf(options);
  const totals = categories.map((_, j) =>
    stacked
      ? series.reduce((sum, one) => sum + Math.max(0, Number(one.values[j]) || 0), 0)
      : Math.max(0, ...series.map((one) => Number(one.values[j]) || 0)),
  );
  const { max, step } = scaleMax(totals, options.integer);
  const marks = [];
  let svg;
  if (horizontal) {
    const rowHeight = stacked || series.length === 1 ? 22 : 12 * series.length + 8;
    const height = MARGIN.top + rowHeight * categories.length + MARGIN.bottom;
    const left = Math.min(200, 24 + 7 * Math.max(4, ...categories.map((c) => String(c.label).length)));
    const right = width - MARGIN.right - 24 - (notes ? 96 : 0);
    const bottom = height - MARGIN.bottom;
    const plot = Math.max(right - left, 1);
    const ticks = [];
    for (let v = 0; v <= max + step / 2; v += step) {
      const x = round(left + (plot * v) / max);
      ticks.push(
        s("line", { x1: x, x2: x, y1: MARGIN.top, y2: bottom, class: v === 0 ? "axis" : "grid" }),
        s("text", { x, y: bottom + 16, "text-anchor": "middle", class: "tick" }, format(v)),
      );
    }
    categories.forEach((category, j) => {
      const top = MARGIN.top + rowHeight * j;
      marks.push(
        s("text", { x: left - 6, y: top + rowHeight / 2 + 4, "text-anchor": "end", class: "label" }, category.label),
      );
      let offset = 0;
      series.forEach((one, i) => {
        const value = Number(one.values[j]);
        if (!Number.isFinite(value)) return;
        const length = round((plot * Math.max(0, value)) / max);
        const y = stacked || series.length === 1 ? top + 4 : top + 4 + 12 * i;
        const thickness = stacked || series.length === 1 ? rowHeight - 8 : 10;
        const x = stacked ? left + offset : left;
        marks.push(bar(id, i, j, value, open && open(j), { x, y, width: Math.max(length, value > 0 ? 1 : 0), height: thickness }));
        if (stacked) offset += length;
      });
      const note = notes && notes(j);
      if (note) {
        const end = left + round((plot * totals[j]) / max);
        marks.push(s("text", { x: end + 6, y: top + rowHeight / 2 + 4, class: "note" }, note));
      }
    });
    svg = s("svg", { viewBox: `0 0 ${width} ${height}`, width, height, class: "chart-svg" }, defs(id, series.length), ticks, marks);
  } else {
    const height = HEIGHT;
    const bottom = height - MARGIN.bottom;
    const left = MARGIN.left;
    const plot = Math.max(width - MARGIN.right - left, 1);
    const slot = plot / Math.max(categories.length, 1);
    const groups = stacked ? 1 : series.length;
    const barWidth = Math.max(1, Math.min(48, (slot * 0.7) / groups));
    const every = labelEvery(categories.length, plot);
    categories.forEach((category, j) => {
      const centre = left + slot * (j + 0.5);
      let base = bottom;
      series.forEach((one, i) => {
        const value = Number(one.values[j]);
        if (!Number.isFinite(value)) return;
        const length = round(((bottom - MARGIN.top) * Math.max(0, value)) / max);
        const x = stacked ? centre - barWidth / 2 : centre - (barWidth * groups) / 2 + barWidth * i;
        const y = stacked ? base - length : bottom - length;
        marks.push(bar(id, i, j, value, open && open(j), { x: round(x), y, width: round(barWidth), height: length }));
        if (stacked) base -= length;
      });
      if (j % every === 0) marks.push(xLabel(category, round(centre), bottom + 16));
      const note = notes && notes(j);
      if (note) marks.push(s("text", { x: round(centre), y: bottom + 30, "text-anchor": "middle", class: "note" }, note));
    });
    svg = s(
      "svg",
      { viewBox: `0 0 ${width} ${height}`, width, height, class: "chart-svg" },
      defs(id, series.length),
      axisY(width, MARGIN.top, bottom, left, max, step, format),
      marks,
    );
  }
  const volatile = Boolean(options.volatile);
  const table = dataTable({ title, categories, series, format, categoryName: options.categoryName, notes, volatile });
  const legendNode = legend(id, series, "bar", options.legend);
  return figure({ key, title, summary, plot: svg, table, legendNode, volatile });
}

/** Average neighbouring points until there are at most `limit` (the picture only). */
function thin(categories, series, limit) {
  if (categories.length <= limit) return { categories, series, groups: categories.map((_, j) => [j]) };
  const size = Math.ceil(categories.length / limit);
  const groups = [];
  for (let start = 0; start < categories.length; start += size) {
    groups.push([...Array(Math.min(size, categories.length - start)).keys()].map((k) => start + k));
  }
  return {
    categories: groups.map((group) => categories[group[0]]),
    series: series.map((one) => ({
      ...one,
      values: groups.map((group) => {
        const known = group.map((j) => Number(one.values[j])).filter(Number.isFinite);
        return known.length ? known.reduce((a, b) => a + b, 0) / known.length : null;
      }),
    })),
    groups,
  };
}

/** Lines over time buckets, one per series, each with its own marker shape. */
export function lineChart(options) {
  const { key, title, summary, categories, series, format } = options;
  charts += 1;
  const id = `svg-${charts}`;
  const width = widthOf(options);
  const height = HEIGHT;
  const bottom = height - MARGIN.bottom;
  const left = MARGIN.left;
  const plot = Math.max(width - MARGIN.right - left, 1);
  const drawn = thin(categories, series, Math.floor(plot));
  const all = drawn.series.flatMap((one) => one.values.map(Number));
  const { max, step } = scaleMax(all, options.integer);
  const slot = plot / Math.max(drawn.categories.length, 1);
  const every = labelEvery(drawn.categories.length, plot);
  const xOf = (j) => round(left + slot * (j + 0.5));
  const yOf = (v) => round(bottom - ((bottom - MARGIN.top) * Math.max(0, v)) / max);
  const marks = [];
  const dense = drawn.categories.length * 10 > plot;
  drawn.series.forEach((one, i) => {
    const colour = COLOURS[i % COLOURS.length];
    let d = "";
    one.values.forEach((value, j) => {
      const v = Number(value);
      if (value === null || value === undefined || !Number.isFinite(v)) return;
      d += `${d ? " L" : "M"}${xOf(j)},${yOf(v)}`;
    });
    if (d) {
      marks.push(
        s("path", { d, fill: "none", stroke: colour, "stroke-width": 2, "stroke-dasharray": i % 2 ? "6 3" : false }),
      );
    }
    one.values.forEach((value, j) => {
      const v = Number(value);
      if (value === null || value === undefined || !Number.isFinite(v)) return;
      marks.push(
        marker(MARKERS[i % MARKERS.length], xOf(j), yOf(v), colour, {
          "data-series": i,
          "data-category": drawn.groups[j][0],
          "data-value": String(v),
        }, dense ? 1.5 : 3.5),
      );
    });
  });
  drawn.categories.forEach((category, j) => {
    if (j % every === 0) marks.push(xLabel(category, xOf(j), bottom + 16));
  });
  const svg = s(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, width, height, class: "chart-svg" },
    defs(id, 0),
    axisY(width, MARGIN.top, bottom, left, max, step, format),
    marks,
  );
  const volatile = Boolean(options.volatile);
  const table = dataTable({ title, categories, series, format, categoryName: options.categoryName, volatile });
  const legendNode = legend(id, series, "line", options.legend);
  return figure({ key, title, summary, plot: svg, table, legendNode, volatile });
}

/**
 * Bullet bars: one row per item, a bar for its value and a tick for its target, "▲ over" written beside
 * a row whose `flag` is set (state in a word, not only in colour) and its `note` (a few words) after it;
 * `detail` is shown in the table.
 */
export function bulletChart(options) {
  const { key, title, summary, rows, format } = options;
  const valueName = options.valueName || "Value";
  const targetName = options.targetName || "Target";
  const flagWord = options.flagWord || "over";
  charts += 1;
  const id = `svg-${charts}`;
  const width = widthOf(options);
  const rowHeight = 26;
  const height = MARGIN.top + rowHeight * rows.length + MARGIN.bottom;
  const left = Math.min(240, 24 + 7 * Math.max(4, ...rows.map((row) => String(row.label).length)));
  const noted = rows.some((row) => row.note);
  const right = width - MARGIN.right - (noted ? 150 : 70);
  const bottom = height - MARGIN.bottom;
  const plot = Math.max(right - left, 1);
  const { max, step } = scaleMax(rows.flatMap((row) => [Number(row.value), Number(row.target)]));
  const xOf = (v) => round(left + (plot * Math.max(0, v)) / max);
  const marks = [];
  for (let v = 0; v <= max + step / 2; v += step) {
    marks.push(
      s("line", { x1: xOf(v), x2: xOf(v), y1: MARGIN.top, y2: bottom, class: v === 0 ? "axis" : "grid" }),
      s("text", { x: xOf(v), y: bottom + 16, "text-anchor": "middle", class: "tick" }, format(v)),
    );
  }
  rows.forEach((row, j) => {
    const top = MARGIN.top + rowHeight * j;
    const value = Number(row.value);
    const target = Number(row.target);
    marks.push(s("text", { x: left - 6, y: top + 17, "text-anchor": "end", class: "label" }, row.label));
    marks.push(s("rect", { x: left, y: top + 3, width: plot, height: rowHeight - 6, class: "band" }));
    marks.push(
      s("rect", {
        x: left,
        y: top + 8,
        width: Math.max(xOf(value) - left, value > 0 ? 1 : 0),
        height: rowHeight - 16,
        fill: row.flag ? COLOURS[4] : COLOURS[0],
        "data-series": 0,
        "data-category": j,
        "data-value": String(value),
      }),
    );
    if (Number.isFinite(target)) {
      marks.push(
        s("rect", {
          x: xOf(target) - 1.5,
          y: top + 2,
          width: 3,
          height: rowHeight - 4,
          fill: "#1b1f24",
          "data-series": 1,
          "data-category": j,
          "data-value": String(target),
        }),
      );
    }
    const words = [row.flag ? `▲ ${flagWord}` : "", row.note || ""].filter(Boolean).join(" · ");
    if (words) marks.push(s("text", { x: right + 8, y: top + 17, class: row.flag ? "note flag" : "note" }, words));
  });
  const svg = s(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, width, height, class: "chart-svg" },
    defs(id, 0),
    marks,
  );
  const series = [
    { name: valueName, values: rows.map((row) => row.value) },
    { name: targetName, values: rows.map((row) => row.target) },
  ];
  const categories = rows.map((row) => ({ label: row.label, long: row.long }));
  const table = dataTable({
    title,
    categories,
    series,
    format,
    categoryName: options.categoryName,
    notes: (j) => [rows[j].flag ? `▲ ${flagWord}` : "", rows[j].note || "", rows[j].detail || ""].filter(Boolean).join(" · "),
  });
  const key_ = h(
    "ul",
    { class: "chart-legend" },
    h("li", {}, h("span", { class: "legend-bar", "aria-hidden": "true" }), valueName),
    h("li", {}, h("span", { class: "legend-tick", "aria-hidden": "true" }), targetName),
    h("li", {}, h("span", { class: "legend-bar over", "aria-hidden": "true" }), `▲ ${flagWord}: above the ${targetName.toLowerCase()}`),
  );
  return figure({ key, title, summary, plot: svg, table, legendNode: key_ });
}

/** "3 of 5" style summaries: the largest category of a series. */
export function largest(categories, values) {
  let best = -1;
  values.forEach((value, j) => {
    if (Number.isFinite(Number(value)) && (best < 0 || Number(value) > Number(values[best]))) best = j;
  });
  return best < 0 ? null : { category: categories[best], value: Number(values[best]) };
}
