// What the analytics pages (Metal & loss, Analytics, Partners) share: the window links (last 7, 30 or 90
// days, kept in the URL), the "Computed at" line with its Refresh button (these pages are not live: the
// analytics service's answers are cached for minutes, so the page says when its answer was computed and
// asks again only when told to), sections, tables of figures, and number formats.
//
//   windowNav(path, params)           -> a nav of links to the three windows (the current one marked)
//   currentWindow()                   -> {key, days, label} from the URL
//   refreshBar(computedAt)            -> "Computed at 14:05:09 (3 min ago)" and the Refresh button
//   section(id, title, intro, ...children), facts([[term, value], ...])
//   dataTable(key, caption, headers, rows, numeric?) -> a table of figures (numeric columns right-aligned)
//   tableRow(head, ...cells), numCell(value, volatile?) -> its rows and their figures
//   count(n), percent(ratio), percentValue(pct), minutes(min), hours(h), days(d), bucketLabel(iso, grain)
import { formatAge, formatTime, h, refetch, refreshFailed } from "./live.js";

export const WINDOWS = [
  { key: "7d", days: 7, label: "Last 7 days" },
  { key: "30d", days: 30, label: "Last 30 days" },
  { key: "90d", days: 90, label: "Last 90 days" },
];
const DEFAULT_WINDOW = "30d";

/** The window the URL asks for (the server refused anything else with a 400). */
export function currentWindow() {
  const key = (new URLSearchParams(window.location.search).get("window") || DEFAULT_WINDOW).toLowerCase();
  return WINDOWS.find((w) => w.key === key) || WINDOWS.find((w) => w.key === DEFAULT_WINDOW);
}

/** Links to the page with each window (`params`: the other query parameters to keep). */
export function windowNav(path, params = {}) {
  const current = currentWindow();
  const link = (w) => {
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) if (value) query.set(name, value);
    if (w.key !== DEFAULT_WINDOW) query.set("window", w.key);
    const text = query.toString();
    return h(
      "li",
      {},
      h("a", { href: text ? `${path}?${text}` : path, "aria-current": w.key === current.key ? "true" : false }, w.label),
    );
  };
  return h("nav", { class: "window-nav", "aria-label": "Period" }, h("ul", { class: "chips" }, WINDOWS.map(link)));
}

let refreshing = false;

/** "Computed at <time> (n min ago)" and the Refresh button: a new answer of the page's query, which the
 *  facade serves from its cache until that answer is minutes old; a failure is told by the header. */
export function refreshBar(computedAt) {
  const button = h("button", { type: "button", class: "refresh", "data-refresh": "" }, "Refresh");
  button.disabled = refreshing;
  button.addEventListener("click", async () => {
    if (refreshing) return;
    refreshing = true;
    button.disabled = true;
    button.setAttribute("aria-busy", "true");
    try {
      await refetch();
    } catch (error) {
      refreshFailed(error);
    } finally {
      refreshing = false;
      const again = document.querySelector("button[data-refresh]");
      if (again) {
        again.disabled = false;
        again.removeAttribute("aria-busy");
        again.focus();
      }
    }
  });
  const age = computedAt ? Math.max(0, (Date.now() - new Date(computedAt).getTime()) / 1000) : null;
  return h(
    "div",
    { class: "refresh-bar" },
    h(
      "p",
      { class: "computed" },
      computedAt
        ? ["Computed at ", h("time", { datetime: computedAt }, formatTime(computedAt)), h("span", { "data-volatile": "" }, ` (${formatAge(age)} ago)`)]
        : "Not computed yet",
    ),
    button,
  );
}

export function section(id, title, intro, ...children) {
  return h(
    "section",
    { class: "report", "aria-labelledby": id },
    h("h2", { id }, title),
    intro ? h("p", { class: "muted intro" }, intro) : null,
    ...children,
  );
}

/**
 * A table of figures: `headers` in its head, `rows` (its `tr`s) in its body. Numeric columns are
 * right-aligned: `numeric(i)` says which (by default every one but the first, which names the row).
 * `key` names it for the browser tests (`data-table`); `caption` is for screen readers.
 */
export function dataTable(key, caption, headers, rows, numeric = (i) => i > 0) {
  return h(
    "table",
    { class: "data", "data-table": key },
    h("caption", { class: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {}, headers.map((t, i) => h("th", { scope: "col", class: numeric(i) ? "num" : false }, t)))),
    h("tbody", {}, rows),
  );
}

/** A row of a table of figures: `head` names it (its `th`), then its `cells` (`td`s). */
export function tableRow(head, ...cells) {
  return h("tr", {}, h("th", { scope: "row" }, head), ...cells);
}

/** A figure's cell (right-aligned); `volatile`: its value moves with the clock (`data-volatile`). */
export function numCell(value, volatile = false) {
  return h("td", { class: "num", "data-volatile": volatile ? "" : false }, value);
}

export function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.map(([term, value]) => [h("dt", {}, term), h("dd", {}, value)]));
}

export function nothing(text) {
  return h("p", { class: "muted empty" }, text);
}

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 });

export function count(n) {
  return n === null || n === undefined || !Number.isFinite(Number(n)) ? "—" : integer.format(Number(n));
}

/** A ratio (0..1) as a percentage: "12.5%". */
export function percent(ratio) {
  return ratio === null || ratio === undefined || !Number.isFinite(Number(ratio)) ? "—" : `${oneDecimal.format(Number(ratio) * 100)}%`;
}

/** A value already in percent: "1.5%". */
export function percentValue(value) {
  return value === null || value === undefined || !Number.isFinite(Number(value)) ? "—" : `${oneDecimal.format(Number(value))}%`;
}

export function minutes(value) {
  return value === null || value === undefined ? "—" : `${oneDecimal.format(Number(value))} min`;
}

export function hours(value) {
  return value === null || value === undefined ? "—" : `${oneDecimal.format(Number(value))} h`;
}

export function days(value) {
  return value === null || value === undefined ? "—" : `${oneDecimal.format(Number(value))} d`;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

const HALF_DAY_MS = 12 * 3600 * 1000;

/** The date a bucket stands for: a day or week starts at the plant's midnight, which may be the evening
 *  before in this browser's zone; half a day later is inside the plant's date wherever the browser is. */
function bucketDate(iso, grain) {
  const date = new Date(iso);
  return grain === "HOUR" ? date : new Date(date.getTime() + HALF_DAY_MS);
}

/** A bucket's label: "2 Mar" (a day, or the Monday of a week), "14:00" for an hour (local time). */
export function bucketLabel(iso, grain) {
  const date = bucketDate(iso, grain);
  if (Number.isNaN(date.getTime())) return "—";
  if (grain === "HOUR") return `${String(date.getHours()).padStart(2, "0")}:00`;
  return `${date.getDate()} ${MONTHS[date.getMonth()]}`;
}

/** A bucket's long label for tables: "week of 2 Mar 2026", "2 Mar 2026", "2 Mar 2026 14:00". */
export function bucketLong(iso, grain) {
  const date = bucketDate(iso, grain);
  if (Number.isNaN(date.getTime())) return "—";
  const day = `${date.getDate()} ${MONTHS[date.getMonth()]} ${date.getFullYear()}`;
  if (grain === "HOUR") return `${day} ${String(date.getHours()).padStart(2, "0")}:00`;
  return grain === "WEEK" ? `week of ${day}` : day;
}

/** The sorted distinct bucket starts of rows (ISO strings). */
export function buckets(rows) {
  return [...new Set(rows.map((row) => row.bucketStart))].sort();
}

const HOUR_MS = 3600 * 1000;
const DAY_MS = 24 * HOUR_MS;
//: A bucket the service gave starts within this of where the page expects one (days are 23 to 25 hours
//: long around a clock change).
const SNAP_MS = 3 * HOUR_MS;

function pageWindow() {
  const element = document.getElementById("page-query");
  try {
    const variables = JSON.parse(element.textContent).variables || {};
    const from = Date.parse(variables.from);
    const to = Date.parse(variables.to);
    return Number.isFinite(from) && Number.isFinite(to) && from < to ? { from, to } : null;
  } catch (error) {
    return null;
  }
}

/**
 * Every bucket of the page's window, as ISO starts: the service lists only the buckets that hold
 * something, a chart over time shows the empty ones too. The window starts at the plant's midnight;
 * a week starts on the Monday at or before it. Where the service gave a bucket, its own start is used.
 */
export function timeline(rows, grain) {
  const given = [...new Set(rows.map((row) => Date.parse(row.bucketStart)))].filter(Number.isFinite).sort((a, b) => a - b);
  const window = pageWindow();
  if (!window) return given.map((t) => new Date(t).toISOString());
  const step = grain === "WEEK" ? 7 * DAY_MS : grain === "HOUR" ? HOUR_MS : DAY_MS;
  let t = window.from;
  if (grain === "WEEK") t -= ((new Date(window.from + 12 * HOUR_MS).getUTCDay() + 6) % 7) * DAY_MS;
  const starts = [];
  while (t < window.to && starts.length < 400) {
    const near = given.find((g) => Math.abs(g - t) <= SNAP_MS);
    if (near !== undefined) t = near;
    starts.push(t);
    t += step;
  }
  for (const g of given) if (!starts.some((t0) => Math.abs(t0 - g) <= SNAP_MS)) starts.push(g);
  return starts.sort((a, b) => a - b).map((t0) => new Date(t0).toISOString());
}

/** Whether a row's bucket is the one starting at `iso` (a start of `timeline`). */
export function inBucket(row, iso) {
  return Math.abs(Date.parse(row.bucketStart) - Date.parse(iso)) <= SNAP_MS / 3;
}

/** A page that could not read its analytics says so, with the error's message. */
export function unavailable(title, errors) {
  const message = (errors && errors[0] && errors[0].message) || "The analytics could not be read.";
  return [h("h1", {}, title), h("p", { class: "notice warn" }, message)];
}
