// The Bench page (/bench/{workCenterCode}), for a tablet at the work center: the operations at the bench
// with a running timer, the queue in order, and the actions: Start (weigh-in), Pause (a reason), Resume,
// Finish (weigh-out and scrap returned); supervisors also Block/Unblock the work center and resolve the
// loss reviews waiting here (the server refuses them to operators anyway). Every click sends its own
// idempotency key; an error shows next to its control. A mutation's answer is applied at once; then
// `floorEvents` about this work center refetch the page's query (at most one refetch per 250 ms).
import { formatAge, formatMg, formatTime, h, mutate, onData, refetchSoon, subscribe } from "../live.js";

const root = document.getElementById("app");
const TICK_MS = 1_000;

const SUBSCRIPTION = `subscription BenchLive($since: Long) {
  floorEvents(since: $since) {
    __typename
    ... on WorkCenterUpdated { seq workCenter { id state stateReason stateTime } }
    ... on OperationUpdated { seq operation { id workCenterId } }
    ... on ResyncRequired { seq reason }
  }
}`;

const OPERATION_FIELDS = "id status startedBy startTime pauseReason pauseTime pausedSeconds weighInMg version";
const CENTER_FIELDS = "id state stateReason stateTime version";
const MUTATIONS = {
  start: `mutation Start($id: ID!, $mg: Long!, $key: String) {
    startOperation(id: $id, weighInMg: $mg, idempotencyKey: $key) { ${OPERATION_FIELDS} } }`,
  pause: `mutation Pause($id: ID!, $reason: String!, $key: String) {
    pauseOperation(id: $id, reason: $reason, idempotencyKey: $key) { ${OPERATION_FIELDS} } }`,
  resume: `mutation Resume($id: ID!, $key: String) {
    resumeOperation(id: $id, idempotencyKey: $key) { ${OPERATION_FIELDS} } }`,
  finish: `mutation Finish($id: ID!, $out: Long!, $scrap: Long!, $key: String) {
    finishOperation(id: $id, weighOutMg: $out, scrapReturnedMg: $scrap, idempotencyKey: $key) { ${OPERATION_FIELDS} } }`,
  block: `mutation Block($id: ID!, $reason: String!) { blockWorkCenter(id: $id, reason: $reason) { ${CENTER_FIELDS} } }`,
  unblock: `mutation Unblock($id: ID!) { unblockWorkCenter(id: $id) { ${CENTER_FIELDS} } }`,
  review: `mutation Review($id: ID!, $decision: LossReviewDecision!, $note: String) {
    resolveLossReview(id: $id, decision: $decision, note: $note) { id status } }`,
};

const PAUSE_REASONS = ["Break", "Waiting for stones", "Waiting for material", "Tool broken", "Machine fault"];
const STATE = {
  RUNNING: ["ok", "Running", "▶"],
  IDLE: ["idle", "Idle", "■"],
  BLOCKED: ["bad", "Blocked", "✖"],
};

//: What people are told for the error codes of the floor's mutations.
const PHRASES = {
  FORBIDDEN: "Only a supervisor may do this.",
  FAILED_PRECONDITION: "This cannot be done now: the operation or the work center changed meanwhile. The page now shows how things stand.",
  INVALID_STATE_TRANSITION:
    "This cannot be done now: the operation is no longer in that state (someone may have moved it). The page now shows how it stands.",
  WORK_CENTER_BLOCKED: "The work center is blocked: nothing starts or resumes here until a supervisor unblocks it.",
  CAPACITY_EXCEEDED: "The bench is full: finish or pause an operation first.",
  RESOURCE_EXHAUSTED: "The bench is full: finish or pause an operation first.",
  VERSION_CONFLICT: "Someone changed this at the same time. The page now shows how it stands; try again.",
  IDEMPOTENCY_KEY_REUSED: "This click was already sent with other values; try again.",
  NOT_FOUND: "This operation or work center no longer exists.",
  UNAVAILABLE: "The server cannot be reached right now; try again in a moment.",
  UNAUTHENTICATED: "You are signed out; sign in again.",
};

let page = null;

/** An idempotency key per click (crypto.randomUUID needs a secure context; a LAN address may not be one). */
function newKey() {
  if (window.crypto && typeof window.crypto.randomUUID === "function") return window.crypto.randomUUID();
  const bytes = window.crypto.getRandomValues(new Uint8Array(16));
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function phrase(error) {
  const code = error && error.code;
  if (code && PHRASES[code]) return PHRASES[code];
  return (error && error.message) || "Something went wrong; try again.";
}

function elapsed(op) {
  if (!op.startTime) return null;
  const end = op.status === "PAUSED" && op.pauseTime ? new Date(op.pauseTime).getTime() : Date.now();
  return Math.max(0, (end - new Date(op.startTime).getTime()) / 1000 - Number(op.pausedSeconds || 0));
}

function tick() {
  for (const element of root.querySelectorAll("[data-timer]")) {
    const op = (page ? page.current : []).find((o) => o.id === element.dataset.timer);
    if (!op) continue;
    const text = formatAge(elapsed(op));
    if (element.textContent !== text) element.textContent = text;
  }
  for (const element of root.querySelectorAll(".age[data-since]")) {
    const seconds = (Date.now() - new Date(element.dataset.since).getTime()) / 1000;
    const text = `${element.dataset.prefix || ""}${formatAge(seconds)}`;
    if (element.textContent !== text) element.textContent = text;
  }
}

function describe(op) {
  const wo = op.workOrder || {};
  const style = (wo.style && wo.style.displayName) || wo.styleSku || "—";
  const details = [`${wo.quantity ?? "?"} pcs`, style, wo.alloyCode || op.alloyCode || "—"];
  if (wo.size) details.push(`size ${wo.size}`);
  if (wo.engraving) details.push(`engraving “${wo.engraving}”`);
  return details.join(" · ");
}

function due(op) {
  return op.dueTime ? h("time", { datetime: op.dueTime }, formatTime(op.dueTime)) : "—";
}

//: The last error of each card (an operation's id, or "center"), shown there until its next action:
//: a refetch re-renders the page, and the control that failed may be gone (the operation moved on).
const notices = new Map();

function notice(key) {
  const found = notices.get(key);
  if (!found) return null;
  const first = !found.shown;
  found.shown = true;
  // announced once (role=alert) when it appears, not again when the page re-renders
  return h("p", { class: "action-error", role: first ? "alert" : false }, found.text);
}

/** A form whose submit runs `action(form)`; an error shows on its card (`key`), next to its controls. */
function actionForm(key, name, label, fields, action, { tone = "" } = {}) {
  const button = h("button", { type: "submit", class: `big ${tone}` }, label);
  const form = h("form", { class: `action ${name}`, novalidate: true }, fields, button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!form.reportValidity()) return;
    button.disabled = true;
    notices.delete(key);
    try {
      await action(form);
    } catch (failure) {
      notices.set(key, { text: phrase(failure), shown: false });
      render();
      refetchSoon();
    } finally {
      button.disabled = false;
    }
  });
  return form;
}

function mgInput(name, label, required = true) {
  const id = `${name}-${Math.random().toString(36).slice(2, 8)}`;
  return h(
    "label",
    { for: id },
    label,
    h("input", { id, name, type: "number", inputmode: "numeric", min: "0", step: "1", required, value: required ? false : "0" }),
  );
}

function weight(form, name) {
  const value = form.elements[name].value.trim();
  if (!/^\d+$/.test(value)) throw Object.assign(new Error("Weights are whole milligrams (0 or more)."), { code: "" });
  return Number(value);
}

function applyOperation(updated) {
  if (!page) return;
  const all = [...page.current, ...page.queue];
  const known = all.find((op) => op.id === updated.id);
  const merged = { ...(known || {}), ...updated };
  page.current = page.current.filter((op) => op.id !== updated.id);
  page.queue = page.queue.filter((op) => op.id !== updated.id);
  if (merged.status === "IN_PROGRESS" || merged.status === "PAUSED") page.current = [...page.current, merged];
  else if (merged.status === "QUEUED") page.queue = [merged, ...page.queue];
  render();
  refetchSoon();
}

function applyCenter(updated) {
  if (!page) return;
  page.center = { ...page.center, ...updated };
  render();
  refetchSoon();
}

async function run(name, variables) {
  const data = await mutate(MUTATIONS[name], variables);
  return data[Object.keys(data)[0]];
}

function currentRow(op) {
  const paused = op.status === "PAUSED";
  const controls = paused
    ? [actionForm(op.id, "resume", "Resume", [], async () => applyOperation(await run("resume", { id: op.id, key: newKey() })))]
    : [
        actionForm(
          op.id,
          "pause",
          "Pause",
          [
            h(
              "label",
              {},
              "Reason",
              h("select", { name: "reason", required: true }, h("option", { value: "" }, "Choose…"), PAUSE_REASONS.map((r) => h("option", { value: r }, r))),
            ),
            h("label", {}, "Details (optional)", h("input", { name: "details", type: "text", maxlength: "200" })),
          ],
          async (form) => {
            const details = form.elements.details.value.trim();
            const reason = [form.elements.reason.value, details].filter(Boolean).join(": ");
            applyOperation(await run("pause", { id: op.id, reason, key: newKey() }));
          },
          { tone: "warn" },
        ),
        actionForm(
          op.id,
          "finish",
          "Finish",
          [mgInput("out", "Weigh-out (mg)"), mgInput("scrap", "Scrap returned (mg)", false)],
          async (form) => {
            const variables = { id: op.id, out: weight(form, "out"), scrap: weight(form, "scrap"), key: newKey() };
            applyOperation(await run("finish", variables));
          },
          { tone: "ok" },
        ),
      ];
  return h(
    "li",
    { class: `op-card ${paused ? "paused" : "running"}`, "data-op": op.id },
    h("h3", {}, `${op.operationCode} · ${op.id}`),
    h("p", { class: "op-what" }, describe(op)),
    h(
      "p",
      { class: "op-status" },
      h("span", { class: `badge ${paused ? "warn" : "ok"}` }, paused ? "Paused" : "In progress"),
      " ",
      h("span", { class: "visually-hidden" }, "worked "),
      h("span", { class: "timer", "data-timer": op.id }, formatAge(elapsed(op))),
      ` · by ${op.startedBy || "—"} since `,
      op.startTime ? h("time", { datetime: op.startTime }, formatTime(op.startTime)) : "—",
      ` · ${formatMg(op.weighInMg)} in`,
    ),
    paused
      ? h("p", { class: "op-pause" }, `Paused: ${op.pauseReason || "—"} since `, h("time", { datetime: op.pauseTime || "" }, formatTime(op.pauseTime)))
      : null,
    h("p", { class: "muted" }, "Order ", h("a", { href: `/orders/${encodeURIComponent(op.orderId)}` }, op.orderId), " · due ", due(op)),
    notice(op.id),
    h("div", { class: "op-actions" }, controls),
  );
}

function queueRow(op, position, blocked) {
  const wo = op.workOrder || {};
  return h(
    "tr",
    { "data-op": op.id },
    h("td", { class: "num" }, String(position)),
    h("th", { scope: "row" }, `${op.operationCode} · ${op.id}`, op.attempt > 1 ? h("span", { class: "badge warn" }, ` rework ${op.attempt - 1}`) : null),
    h("td", {}, wo.priority || "—"),
    h("td", {}, describe(op)),
    h("td", {}, h("a", { href: `/orders/${encodeURIComponent(op.orderId)}` }, op.orderId)),
    h("td", {}, due(op)),
    h(
      "td",
      {},
      notice(op.id),
      blocked
        ? h("span", { class: "muted" }, "Blocked")
        : actionForm(op.id, "start", "Start", [mgInput("mg", "Weigh-in (mg)")], async (form) => {
            applyOperation(await run("start", { id: op.id, mg: weight(form, "mg"), key: newKey() }));
          }),
    ),
  );
}

/** The form that resolves the loss review of `op` with `decision` (and an optional note). */
function reviewForm(op, label, decision, tone) {
  return actionForm(
    op.id,
    "review",
    label,
    [h("label", {}, "Note (optional)", h("input", { name: "note", type: "text", maxlength: "200" }))],
    async (form) => {
      await run("review", { id: op.id, decision, note: form.elements.note.value.trim() });
      page.reviews = page.reviews.filter((r) => r.id !== op.id);
      render();
      refetchSoon();
    },
    { tone },
  );
}

function supervisorPanel(center) {
  const blocked = center.state === "BLOCKED";
  const control = blocked
    ? actionForm("center", "unblock", "Unblock", [], async () => applyCenter(await run("unblock", { id: center.code })))
    : actionForm(
        "center",
        "block",
        "Block",
        [h("label", {}, "Reason", h("input", { name: "reason", type: "text", required: true, maxlength: "200" }))],
        async (form) => applyCenter(await run("block", { id: center.code, reason: form.elements.reason.value.trim() })),
        { tone: "bad" },
      );
  const reviews = page.reviews;
  return h(
    "section",
    { "aria-labelledby": "supervisor-title", class: "supervisor" },
    h("h2", { id: "supervisor-title" }, "Supervisor"),
    notice("center"),
    control,
    h("h3", {}, `Loss reviews waiting here (${reviews.length})`),
    reviews.length === 0
      ? h("p", { class: "muted" }, "None.")
      : h(
          "ul",
          { class: "reviews" },
          reviews.map((op) =>
            h(
              "li",
              { class: "op-card review" },
              h("h4", {}, `${op.operationCode} · ${op.id}`),
              h("p", {}, describe(op)),
              notice(op.id),
              h(
                "p",
                {},
                `In ${formatMg(op.weighInMg)} · out ${formatMg(op.weighOutMg)} · scrap ${formatMg(op.scrapReturnedMg)} · `,
                h("strong", {}, `loss ${formatMg(op.lossMg)}`),
                ` (tolerance ${op.lossTolerancePerMille} ‰) · by ${op.finishedBy || "—"}`,
              ),
              reviewForm(op, "Approve", "APPROVE", "ok"),
              reviewForm(op, "Rework", "REWORK", "warn"),
            ),
          ),
        ),
  );
}

function render() {
  if (!page) return;
  const center = page.center;
  const [tone, word, symbol] = STATE[center.state] || ["idle", "Unknown", "?"];
  const blocked = center.state === "BLOCKED";
  // What the person is typing survives a live update: every field's value, and the focused field, by
  // (operation or work center, form, field name); focus falls back to the operation's first control.
  const drafts = new Map();
  for (const field of root.querySelectorAll("input[name], select[name], textarea[name]")) drafts.set(fieldKey(field), field.value);
  const active = document.activeElement && document.activeElement.name ? fieldKey(document.activeElement) : null;
  const focused = document.activeElement && document.activeElement.closest && document.activeElement.closest("[data-op]");
  const focusOp = focused ? focused.dataset.op : null;
  root.replaceChildren(
    h("h1", {}, `${center.displayName || center.code} `, h("span", { class: "muted" }, `(${center.code} · ${center.workCenterType})`)),
    h(
      "p",
      { class: "bench-state" },
      h("span", { class: `badge ${tone}` }, h("span", { "aria-hidden": "true" }, `${symbol} `), word),
      center.stateTime ? [" for ", h("span", { class: "age", "data-since": center.stateTime }, formatAge((Date.now() - new Date(center.stateTime).getTime()) / 1000))] : null,
      center.stateReason ? ` · ${center.stateReason}` : null,
      ` · ${page.current.length} of ${center.capacity} at the bench`,
    ),
    h(
      "section",
      { "aria-labelledby": "current-title" },
      h("h2", { id: "current-title" }, "At the bench"),
      page.unread
        ? h("p", { class: "notice warn" }, "The operations at the bench could not be read; reload the page in a moment.")
        : page.current.length === 0
          ? h("p", { class: "muted" }, "Nothing in progress.")
          : h("ul", { class: "op-cards" }, page.current.map(currentRow)),
    ),
    h(
      "section",
      { "aria-labelledby": "queue-title" },
      h("h2", { id: "queue-title" }, "Queue"),
      page.queue.length === 0
        ? h("p", { class: "muted" }, page.after ? "No more operations in the queue." : "The queue is empty.")
        : h(
            "table",
            { class: "data queue" },
            h("caption", { class: "muted" }, page.after ? "Continued, in order: priority, then the time queued" : "In order: priority, then the time queued"),
            h("thead", {}, h("tr", {}, ["#", "Operation", "Priority", "Work", "Order", "Due", "Start"].map((t) => h("th", { scope: "col" }, t)))),
            h("tbody", {}, page.queue.map((op, i) => queueRow(op, i + 1, blocked))),
          ),
      h(
        "nav",
        { class: "pager", "aria-label": "Queue pages" },
        page.after ? h("a", { href: window.location.pathname }, "First page") : null,
        page.hasNext ? h("a", { href: `${window.location.pathname}?after=${encodeURIComponent(page.endCursor)}` }, "Next page") : null,
      ),
    ),
    ...(page.supervisor ? [supervisorPanel(center)] : []),
  );
  let refocused = false;
  for (const field of root.querySelectorAll("input[name], select[name], textarea[name]")) {
    const key = fieldKey(field);
    if (drafts.has(key)) field.value = drafts.get(key);
    if (key === active) {
      field.focus();
      refocused = true;
    }
  }
  if (focusOp && !refocused) {
    const again = root.querySelector(`[data-op="${CSS.escape(focusOp)}"] button, [data-op="${CSS.escape(focusOp)}"] input`);
    if (again) again.focus();
  }
}

/** A field's identity across renders: its operation (or the work center), its form and its name. */
function fieldKey(field) {
  const op = field.closest("[data-op]");
  const form = field.closest("form");
  return `${op ? op.dataset.op : "center"}|${form ? form.className : ""}|${field.name}`;
}

onData((data) => {
  if (!data || !data.workCenter) {
    root.replaceChildren(h("h1", {}, "Bench"), h("p", { class: "notice warn" }, "This work center could not be read."));
    return;
  }
  const center = data.workCenter;
  const after = new URLSearchParams(window.location.search).get("after");
  page = {
    seq: data.floor ? Number(data.floor.asOf.seq) : 0,
    supervisor: Boolean(data.me && data.me.role === "SUPERVISOR"),
    center,
    current: center.current || [],
    unread: center.current === null,
    queue: center.queue.edges.map((edge) => edge.node),
    hasNext: center.queue.pageInfo.hasNextPage,
    endCursor: center.queue.pageInfo.endCursor,
    reviews: center.reviews.nodes,
    after,
  };
  render();
});

if (page) {
  const code = page.center.code;
  subscribe(SUBSCRIPTION, { since: page.seq }, (event) => {
    if (page && event.seq != null && Number(event.seq) <= page.seq) return; // the data shown has it
    if (event.__typename === "WorkCenterUpdated" && event.workCenter.id === code) {
      applyCenter(event.workCenter);
    } else if (event.__typename === "OperationUpdated") {
      const op = event.operation;
      const here = op.workCenterId === code || [...page.current, ...page.queue, ...page.reviews].some((o) => o.id === op.id);
      if (here) refetchSoon();
    }
  }, { stream: "PRODUCTION" });
}

setInterval(tick, TICK_MS);
