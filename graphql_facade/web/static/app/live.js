// The operators' web app's client: the page's inline snapshot, its refetch, live events over one
// graphql-transport-ws socket (resumed with `since`, buffered while paused), mutations, and small DOM
// and formatting helpers. No dependencies; every page module imports what it needs from here.
//
//   snapshot()                               -> {data, asOf} inlined by the server (#snapshot)
//   onData(fn)                               -> fn(data) now and after every refetch
//   refetch()                                -> POSTs the page's query again (#page-query), calls the renderers
//                                               with an answer at least as new as the events applied
//   refetchSoon(ms = 250)                    -> refetch(), coalesced: at most one per `ms`
//   subscribe(query, variables, onEvent, {seqOf, stream}) -> one subscription on the shared socket; returns stop()
//   mutate(query, variables)                 -> data, or throws an Error with .code and .message
//   h(tag, attrs, ...children), formatMg(mg), formatAge(seconds), formatTime(iso), formatEnum(value, empty)
//   ORDER_TONE                               -> the badge tone of each order status

const PROTOCOL = "graphql-transport-ws";
const MAX_BUFFERED = 2000;
const BACKOFF_MS = [500, 1000, 2000, 4000, 8000, 15000, 30000];
//: Waits before asking again when a refetch answers older than the events already applied.
const STALE_RETRY_MS = [150, 300, 600, 1200, 2400];
//: The facade's read-your-writes header: the answer must reflect these stream positions.
const MIN_POSITION_HEADER = "x-mes-min-position";

function readJson(id) {
  const element = document.getElementById(id);
  if (!element) return null;
  try {
    return JSON.parse(element.textContent);
  } catch (error) {
    console.error(`#${id} is not JSON`, error);
    return null;
  }
}

const initial = readJson("snapshot") || { data: null, asOf: null };
const pageQuery = readJson("page-query");
let current = { data: initial.data, asOf: initial.asOf, errors: initial.errors || [] };
const renderers = [];

/** The page's data as the server inlined it: `{data, asOf}` (and `errors` when some fields failed). */
export function snapshot() {
  return initial;
}

/** The page's current data (the snapshot's, or the last refetch's). */
export function currentData() {
  return current;
}

function render() {
  for (const fn of renderers) {
    try {
      fn(current.data, current);
    } catch (error) {
      console.error("a renderer failed", error);
    }
  }
}

/** Register a renderer: called with the data at once and after every refetch. */
export function onData(fn) {
  renderers.push(fn);
  try {
    fn(current.data, current);
  } catch (error) {
    console.error("a renderer failed", error);
  }
}

// -- HTTP -------------------------------------------------------------------------------------------

class GraphQLRequestError extends Error {
  constructor(message, code, status, errors) {
    super(message);
    this.name = "GraphQLRequestError";
    this.code = code;
    this.status = status;
    this.errors = errors || [];
  }
}

async function post(query, variables, extraHeaders) {
  let response;
  try {
    response = await fetch("/graphql", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", ...(extraHeaders || {}) },
      body: JSON.stringify({ query, variables: variables || {} }),
    });
  } catch (error) {
    throw new GraphQLRequestError("The facade cannot be reached.", "UNAVAILABLE", 0);
  }
  if (response.status === 401) {
    signedOut();
    throw new GraphQLRequestError("Signed out.", "UNAUTHENTICATED", 401);
  }
  let body;
  try {
    body = await response.json();
  } catch (error) {
    throw new GraphQLRequestError(`HTTP ${response.status}`, "INTERNAL_SERVER_ERROR", response.status);
  }
  return { body, status: response.status };
}

function firstError(errors, status) {
  const error = (errors && errors[0]) || {};
  const code = (error.extensions && error.extensions.code) || (status >= 500 ? "UNAVAILABLE" : "BAD_REQUEST");
  return new GraphQLRequestError(error.message || `HTTP ${status}`, code, status, errors);
}

/** A result's position: its root `asOf`, else the first root field's (`floor { asOf }`), as the server reads it. */
function asOfOf(data) {
  if (!data) return null;
  if (data.asOf) return data.asOf;
  for (const value of Object.values(data)) {
    if (value && typeof value === "object" && value.asOf) return value.asOf;
  }
  return null;
}

/** The last sequence the page's subscriptions applied, and the stream it counts (null: no live events). */
//: stream -> the highest sequence a trigger subscription saw: a refetch must reflect it too.
const triggered = new Map();

/** The `x-mes-min-position` value: the applied position and every trigger's, one per stream. */
function minPositions(need) {
  const positions = new Map(triggered);
  if (need.seq !== null && need.stream) positions.set(need.stream, Math.max(need.seq, positions.get(need.stream) || 0));
  return [...positions].map(([stream, seq]) => `${stream}:${seq}`).join(",");
}

function applied() {
  let seq = null;
  let stream = null;
  for (const sub of subscriptions.values()) {
    if (sub.lastSeq === null || sub.lastSeq === undefined) continue;
    if (seq === null || sub.lastSeq > seq) {
      seq = sub.lastSeq;
      stream = sub.stream;
    }
  }
  return { seq, stream };
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

let refetching = null;
let refetchAgain = false;

/**
 * POST the page's query again and call the renderers with its data. The answer must be at least as
 * new as the events the page applied: the request carries `x-mes-min-position` (the facade then
 * bypasses a cached answer that does not reflect them), and an answer whose `asOf.seq` is still older
 * is asked for again after a short wait (bounded, with backoff) instead of being rendered over newer
 * data; after the last try the page keeps what it shows and says the refresh is behind.
 */
export async function refetch() {
  if (!pageQuery) return current;
  if (refetching) {
    refetchAgain = true;
    return refetching;
  }
  refetching = (async () => {
    try {
      do {
        refetchAgain = false;
        for (let attempt = 0; ; attempt += 1) {
          const need = applied();
          const positions = minPositions(need);
          const headers = positions ? { [MIN_POSITION_HEADER]: positions } : {};
          const { body, status } = await post(pageQuery.query, pageQuery.variables, headers);
          if (!body || body.data == null) throw firstError(body && body.errors, status);
          const asOf = asOfOf(body.data);
          const behind = need.seq !== null && asOf && asOf.seq != null && Number(asOf.seq) < need.seq;
          if (behind && attempt < STALE_RETRY_MS.length) {
            await sleep(STALE_RETRY_MS[attempt]);
            continue;
          }
          if (behind) {
            throw new GraphQLRequestError(
              `the answer (at ${asOf.seq}) is older than the live updates shown (at ${need.seq})`,
              "STALE",
              status,
            );
          }
          current = { data: body.data, asOf: asOf || current.asOf, errors: body.errors || [] };
          break;
        }
        clearRefreshProblem();
        if (!paused) render();
        else renderPending = true;
      } while (refetchAgain);
      return current;
    } finally {
      refetching = null;
    }
  })();
  return refetching;
}

let soonTimer = null;
let lastRefetchAt = 0;

/** refetch(), coalesced: at most one per `ms` milliseconds (events in a burst make one request). */
export function refetchSoon(ms = 250) {
  if (soonTimer !== null) return;
  const wait = Math.max(0, lastRefetchAt + ms - Date.now());
  soonTimer = setTimeout(() => {
    soonTimer = null;
    lastRefetchAt = Date.now();
    refetch().catch(refreshFailed);
  }, wait);
}

/** A mutation (or query) as the signed-in operator: its data, or an Error with `.code` and `.message`. */
export async function mutate(query, variables) {
  const { body, status } = await post(query, variables);
  if (body && body.errors && body.errors.length) throw firstError(body.errors, status);
  if (!body || body.data == null) throw firstError(null, status);
  return body.data;
}

// -- the live indicator and the pause toggle -----------------------------------------------------

const statusElement = document.getElementById("live-status");
const pauseButton = document.getElementById("live-pause");
let paused = false;
let renderPending = false;
let reconnectingSince = null;
let connected = false;
let problem = "";
//: The last refresh's failure: shown until a later refresh succeeds.
let refreshProblem = "";

function pad(n) {
  return String(n).padStart(2, "0");
}

function clock(date) {
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

function showStatus() {
  if (!statusElement) return;
  let state;
  let text;
  if (paused) {
    state = "paused";
    text = "Paused";
  } else if (reconnectingSince) {
    state = "reconnecting";
    text = `Reconnecting since ${clock(reconnectingSince)}`;
  } else if (connected) {
    state = "live";
    text = "Live";
  } else if (subscriptions.size === 0) {
    state = "static";
    text = "Not live";
  } else {
    state = "connecting";
    text = "Connecting…";
  }
  if (problem) text = `${text} · ${problem}`;
  if (refreshProblem) text = `${text} · ${refreshProblem}`;
  statusElement.dataset.state = state;
  if (statusElement.textContent !== text) statusElement.textContent = text;
}

function showProblem(message) {
  problem = message;
  showStatus();
}

/** Show that a refresh failed (until a later one succeeds); `refetch().catch(refreshFailed)`. */
export function refreshFailed(error) {
  refreshProblem = `Refresh failed: ${(error && error.message) || "error"}`;
  showStatus();
}

function clearRefreshProblem() {
  if (!refreshProblem) return;
  refreshProblem = "";
  showStatus();
}

function setPaused(value) {
  paused = value;
  if (pauseButton) {
    pauseButton.setAttribute("aria-pressed", String(paused));
    pauseButton.textContent = paused ? "Resume live updates" : "Pause live updates";
  }
  if (!paused) {
    for (const sub of subscriptions.values()) sub.flush();
    if (renderPending) {
      renderPending = false;
      render();
    }
  }
  showStatus();
}

if (pauseButton) {
  pauseButton.addEventListener("click", () => setPaused(!paused));
}

/** Whether live updates are paused (the page's own timers may want to know). */
export function isPaused() {
  return paused;
}

function signedOut() {
  const next = window.location.pathname + window.location.search;
  window.location.assign(`/sign-in?next=${encodeURIComponent(next)}`);
}

// -- the socket -------------------------------------------------------------------------------------

const subscriptions = new Map();
let socket = null;
let acknowledged = false;
let attempt = 0;
let nextId = 1;
let reconnectTimer = null;
let stopped = false;

function socketUrl() {
  const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${window.location.host}/graphql`;
}

function send(message) {
  if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
}

function start(sub) {
  const variables = { ...sub.variables };
  if (sub.lastSeq !== null && sub.lastSeq !== undefined) variables.since = sub.lastSeq;
  send({ id: sub.id, type: "subscribe", payload: { query: sub.query, variables } });
}

// The first connection waits for the first contentful paint (the page is drawn from the snapshot
// inlined in its HTML, so no request to /graphql comes before it); the subscription resumes from
// the snapshot's position, so nothing committed meanwhile is missed. A page that paints nothing
// (a hidden tab) still goes live after FIRST_PAINT_WAIT_MS.
const FIRST_PAINT_WAIT_MS = 3000;
let painted = performance.getEntriesByName("first-contentful-paint").length > 0;
const afterPaint = [];
function firstPaintDone() {
  if (painted) return;
  painted = true;
  for (const callback of afterPaint.splice(0)) callback();
}
if (!painted) {
  try {
    new PerformanceObserver((list, observer) => {
      if (list.getEntriesByName("first-contentful-paint").length) {
        observer.disconnect();
        setTimeout(firstPaintDone, 0);
      }
    }).observe({ type: "paint", buffered: true });
  } catch (_) {
    painted = true; // no paint timing in this browser
  }
  setTimeout(firstPaintDone, FIRST_PAINT_WAIT_MS);
}
function afterFirstPaint(callback) {
  if (painted) callback();
  else afterPaint.push(callback);
}

function connect() {
  if (stopped || socket) return;
  acknowledged = false;
  const ws = new WebSocket(socketUrl(), PROTOCOL);
  socket = ws;
  ws.addEventListener("open", () => {
    ws.send(JSON.stringify({ type: "connection_init" }));
  });
  ws.addEventListener("message", (message) => {
    let frame;
    try {
      frame = JSON.parse(message.data);
    } catch (error) {
      return;
    }
    onFrame(ws, frame);
  });
  ws.addEventListener("close", (event) => onClose(ws, event));
}

function onFrame(ws, frame) {
  switch (frame.type) {
    case "connection_ack":
      acknowledged = true;
      attempt = 0;
      connected = true;
      reconnectingSince = null;
      problem = "";
      showStatus();
      for (const sub of subscriptions.values()) start(sub);
      break;
    case "ping":
      ws.send(JSON.stringify({ type: "pong" }));
      break;
    case "next": {
      const sub = subscriptions.get(frame.id);
      if (sub) sub.receive(frame.payload);
      break;
    }
    case "error": {
      const sub = subscriptions.get(frame.id);
      const error = Array.isArray(frame.payload) ? frame.payload[0] : frame.payload;
      showProblem(`Live updates refused: ${(error && error.message) || "error"}`);
      if (sub) sub.refused = true;
      break;
    }
    case "complete": {
      const sub = subscriptions.get(frame.id);
      if (sub && !sub.refused) {
        // The server ended it (a restart, a limit): subscribe again from where we are, after a breath.
        setTimeout(() => {
          if (subscriptions.get(sub.id) === sub && socket === ws && acknowledged) start(sub);
        }, 1000);
      }
      break;
    }
    default:
      break;
  }
}

function onClose(ws, event) {
  if (socket !== ws) return;
  socket = null;
  connected = false;
  acknowledged = false;
  if (event.code === 4403 || event.code === 4401) {
    stopped = true;
    showProblem("Signed out: sign in again for live updates");
    return;
  }
  if (stopped || subscriptions.size === 0) {
    showStatus();
    return;
  }
  if (!reconnectingSince) reconnectingSince = new Date();
  showStatus();
  const base = BACKOFF_MS[Math.min(attempt, BACKOFF_MS.length - 1)];
  attempt += 1;
  const delay = base / 2 + Math.random() * (base / 2);
  clearTimeout(reconnectTimer);
  reconnectTimer = setTimeout(connect, delay);
}

window.addEventListener("online", () => {
  if (!socket && !stopped && subscriptions.size) {
    clearTimeout(reconnectTimer);
    connect();
  }
});

function resyncRequired(payload) {
  return payload && payload.__typename === "ResyncRequired";
}

/**
 * One subscription on the shared socket. A stream's sequences count every event of the stream, so a
 * filtered subscription sees gaps that lose nothing; the server, which knows what it could not replay
 * after `since`, says so with `ResyncRequired`. `onEvent(event)` gets the root field's value of each event, in
 * order, never one with a sequence below the last applied (initially the snapshot's `asOf.seq`), nor one
 * at the snapshot's sequence; several events may share a sequence (`floorEvents` sends an operation's
 * change and its work center's new tile under the change's sequence): each kind (`__typename`) is
 * applied once per sequence. `seqOf(event)` reads an event's sequence (default: `event.seq`); `stream`
 * names the stream the sequences count (`ORDERS`, `PRODUCTION`): `refetch()` asks the facade for an
 * answer reflecting the last applied one. Events wait while live updates are paused. `ResyncRequired`
 * (the server could not replay from `since`) refetches the page's query.
 * Returns a function that ends the subscription.
 */
export function subscribe(query, variables, onEvent, { seqOf, stream, trigger = false } = {}) {
  const readSeq = seqOf || ((event) => (event && event.seq != null ? Number(event.seq) : null));
  const base = initial.asOf && initial.asOf.seq != null ? Number(initial.asOf.seq) : null;
  const sub = {
    id: String(nextId++),
    query,
    variables: variables || {},
    stream: stream || null,
    //: A trigger only (another stream than the page's snapshot): from now on, no `since`, no sequence kept.
    trigger,
    lastSeq: trigger ? null : base,
    //: The kinds of event applied at `lastSeq`; null: everything at `lastSeq` is in the data shown.
    kindsAtLast: null,
    buffered: [],
    overflow: false,
    refused: false,
    receive(payload) {
      if (payload && payload.errors && payload.errors.length && !payload.data) {
        showProblem(`Live updates: ${payload.errors[0].message}`);
        return;
      }
      const data = payload && payload.data;
      if (!data) return;
      const event = data[Object.keys(data)[0]];
      if (paused) {
        if (sub.buffered.length >= MAX_BUFFERED) sub.overflow = true;
        else sub.buffered.push(event);
        return;
      }
      sub.apply(event);
    },
    apply(event) {
      if (sub.trigger) {
        const seq = readSeq(event);
        if (sub.stream && seq !== null) triggered.set(sub.stream, Math.max(seq, triggered.get(sub.stream) || 0));
        if (resyncRequired(event)) refetch().catch(refreshFailed);
        else onEvent(event);
        return;
      }
      if (resyncRequired(event)) {
        if (event.seq != null) sub.advance(Number(event.seq), null);
        refetch().catch(refreshFailed);
        return;
      }
      const seq = readSeq(event);
      const kind = (event && event.__typename) || "";
      if (seq !== null && sub.lastSeq !== null) {
        if (seq < sub.lastSeq) return;
        if (seq === sub.lastSeq && (sub.kindsAtLast === null || sub.kindsAtLast.has(kind))) return;
      }
      if (seq !== null) {
        if (seq === sub.lastSeq) sub.kindsAtLast.add(kind);
        else sub.advance(seq, kind);
      }
      try {
        onEvent(event);
      } catch (error) {
        console.error("an event handler failed", error);
      }
    },
    /** Move to `seq`: with the one kind applied there, or (`kind` null) as wholly in the data shown. */
    advance(seq, kind) {
      if (sub.lastSeq !== null && seq < sub.lastSeq) return;
      if (seq !== sub.lastSeq || kind === null) sub.kindsAtLast = kind === null ? null : new Set([kind]);
      sub.lastSeq = seq;
    },
    flush() {
      const events = sub.buffered;
      sub.buffered = [];
      if (sub.overflow) {
        sub.overflow = false;
        const seqs = events.map(readSeq).filter((s) => s !== null);
        if (seqs.length) sub.advance(Math.max(sub.lastSeq || 0, ...seqs), null);
        refetch().catch(refreshFailed);
        return;
      }
      for (const event of events) sub.apply(event);
    },
  };
  subscriptions.set(sub.id, sub);
  stopped = false;
  if (socket && acknowledged) start(sub);
  else afterFirstPaint(connect);
  showStatus();
  return () => {
    subscriptions.delete(sub.id);
    send({ id: sub.id, type: "complete" });
    showStatus();
  };
}

// -- helpers ------------------------------------------------------------------------------------------

/**
 * A small element builder: `h("a", {href: "/x", class: "y"}, "text", child)`. Attributes named `on…`
 * with a function are event listeners; `true` sets an empty attribute, `false`/null/undefined skip it;
 * children may be strings, numbers, nodes, arrays, or null (skipped).
 */
export function h(tag, attrs, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2).toLowerCase(), value);
    } else if (name === "dataset" && typeof value === "object") {
      Object.assign(element.dataset, value);
    } else {
      element.setAttribute(name === "className" ? "class" : name, value === true ? "" : String(value));
    }
  }
  const append = (child) => {
    if (child === null || child === undefined || child === false) return;
    if (Array.isArray(child)) child.forEach(append);
    else element.append(child instanceof Node ? child : String(child));
  };
  children.forEach(append);
  return element;
}

const grouped = new Intl.NumberFormat("en-US");

/** A weight in milligrams: "850 mg" below a gram, else grams with three decimals ("12.345 g"). */
export function formatMg(mg) {
  if (mg === null || mg === undefined || mg === "") return "—";
  const value = Number(mg);
  if (!Number.isFinite(value)) return "—";
  const sign = value < 0 ? "-" : "";
  const abs = Math.abs(Math.round(value));
  if (abs < 1000) return `${sign}${grouped.format(abs)} mg`;
  return `${sign}${grouped.format(Math.floor(abs / 1000))}.${String(abs % 1000).padStart(3, "0")} g`;
}

/** A duration: "45 s", "12 min", "3 h 05 min", "2 d 4 h". */
export function formatAge(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(Number(seconds))) return "—";
  const s = Math.max(0, Math.floor(Number(seconds)));
  if (s < 60) return `${s} s`;
  const minutes = Math.floor(s / 60);
  if (minutes < 60) return `${minutes} min`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ${pad(minutes % 60)} min`;
  return `${Math.floor(hours / 24)} d ${hours % 24} h`;
}

/** An enum value in words: "READY_TO_SHIP" -> "Ready to ship"; `empty` when there is none. */
export function formatEnum(value, empty = "—") {
  if (!value) return empty;
  const text = String(value).toLowerCase().replaceAll("_", " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** The badge tone of each order status. */
export const ORDER_TONE = {
  SUBMITTED: "idle",
  ACCEPTED: "info",
  IN_PRODUCTION: "info",
  ON_HOLD: "warn",
  READY_TO_SHIP: "ok",
  SHIPPED: "ok",
  REJECTED: "bad",
  CANCELLED: "idle",
};

/** A time in local time: "14:05:09" today, "2026-12-07 14:05" another day; "—" when there is none. */
export function formatTime(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return "—";
  const now = new Date();
  if (date.toDateString() === now.toDateString()) return clock(date);
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${pad(date.getHours())}:${pad(
    date.getMinutes(),
  )}`;
}

showStatus();
