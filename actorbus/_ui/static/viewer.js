// The actorbus log viewer: a page over the viewer's read-only JSON API.
//
// Everything the log holds is text from outside (payloads, model answers, tool
// results): it is only ever put in the page with textContent and DOM calls,
// never parsed as markup. The server's Content-Security-Policy forbids inline
// scripts and styles besides.

const PAGE = 100;
const PALETTE = ["#2f5bd3", "#d9480f", "#2b8a3e", "#862e9c", "#c2255c", "#1098ad", "#e67700", "#5c940d"];

const state = {
  view: "timeline",
  filters: {},
  rows: [],          // the records shown, ascending
  atNewest: true,    // the page shows the newest records (so new ones are appended)
  moreOlder: false,
  moreNewer: false,
  lastSeq: 0,
  deadBefore: null,
  treeFor: null,
  actorsShown: false,
  actorsBusy: false,
  appending: false,  // appendNew is under way
  appendAgain: false,
};

// -- small helpers ------------------------------------------------------------------

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = String(value);
    else if (name === "class") node.className = value;
    else if (name.startsWith("data-")) node.setAttribute(name, String(value));
    else node.setAttribute(name, String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function clear(node) {
  while (node.firstChild) node.firstChild.remove();
}

function when(seconds) {
  if (seconds === null || seconds === undefined) return "-";
  const d = new Date(seconds * 1000);
  const pad = (n, w = 2) => String(n).padStart(w, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

function money(dollars) {
  return dollars === null || dollars === undefined ? "-" : `$${Number(dollars).toFixed(6)}`;
}

function pretty(value) {
  if (typeof value === "string") return value;
  return JSON.stringify(value, null, 2);
}

function problem(text) {
  const node = document.getElementById("problem");
  node.hidden = !text;
  node.textContent = text || "";
}

async function api(path, params = {}) {
  const query = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") query.set(name, String(value));
  }
  const url = query.toString() ? `${path}?${query}` : path;
  const response = await fetch(url, { headers: { accept: "application/json" } });
  let body;
  try {
    body = await response.json();
  } catch {
    body = { error: `${response.status} ${response.statusText}` };
  }
  if (!response.ok) throw new Error(body.error || `${response.status} ${response.statusText}`);
  return body;
}

// -- views and routing --------------------------------------------------------------

function route() {
  const hash = location.hash || "#/timeline";
  const [, view, ...rest] = hash.split("/");
  const name = ["timeline", "message", "actors", "dead"].includes(view) ? view : "timeline";
  state.view = name;
  for (const section of document.querySelectorAll("main > section")) {
    section.hidden = section.dataset.view !== name;
  }
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("active", link.dataset.nav === name);
  }
  problem("");
  if (name === "message") openMessage(decodeURIComponent(rest.join("/")));
  else if (name === "actors") loadActors();
  else if (name === "dead") loadDead(true);
}

// -- timeline -----------------------------------------------------------------------

function filterParams() {
  return { ...state.filters };
}

function readFilters() {
  const form = document.getElementById("filters");
  const data = new FormData(form);
  state.filters = {};
  for (const name of ["topic", "type", "sender", "correlation"]) {
    const value = String(data.get(name) || "").trim();
    if (value) state.filters[name] = value;
  }
}

function recordRow(record, fresh = false) {
  const row = el("tr", { "data-seq": record.seq, "data-id": record.id, tabindex: 0, class: fresh ? "fresh" : null },
    el("td", { class: "num mono", text: record.seq }),
    el("td", { class: "mono", text: when(record.time) }),
    el("td", { text: record.topic }),
    el("td", { text: record.type }),
    el("td", { text: record.sender || "-" }),
    el("td", { class: "mono", text: record.correlation_id || "-" }),
  );
  if (record.topic.startsWith("_dead.")) row.classList.add("dead");
  const open = () => { location.hash = `#/message/${encodeURIComponent(record.id)}`; };
  row.addEventListener("click", open);
  row.addEventListener("keydown", (event) => { if (event.key === "Enter") open(); });
  return row;
}

function showRows() {
  const body = document.querySelector("#records tbody");
  clear(body);
  for (const record of state.rows) body.append(recordRow(record));
  const info = document.getElementById("page-info");
  if (state.rows.length) {
    info.textContent = `seq ${state.rows[0].seq} to ${state.rows[state.rows.length - 1].seq}` +
      (Object.keys(state.filters).length ? " (filtered)" : "");
  } else {
    info.textContent = "no records match";
  }
  document.getElementById("page-older").disabled = !state.moreOlder;
  document.getElementById("page-first").disabled = !state.moreOlder;
  document.getElementById("page-newer").disabled = state.atNewest;
  document.getElementById("page-last").disabled = state.atNewest;
}

async function loadPage(where) {
  // where: {newest: true} | {before: seq} | {after: seq} | {oldest: true}
  try {
    let page;
    if (where.after !== undefined) {
      page = await api("/api/records", { ...filterParams(), after: where.after, limit: PAGE });
      state.moreNewer = page.more;
      state.atNewest = !page.more;
      state.moreOlder = true;
    } else if (where.oldest) {
      page = await api("/api/records", { ...filterParams(), after: 0, limit: PAGE });
      state.atNewest = !page.more;
      state.moreOlder = false;
    } else {
      page = await api("/api/records", { ...filterParams(), before: where.before, limit: PAGE });
      state.moreOlder = page.more;
      state.atNewest = where.before === undefined;
    }
    state.rows = page.records;
    problem("");
    showRows();
  } catch (error) {
    problem(error.message);
  }
}

async function appendNew() {
  // Called when the log grew: new matching records go at the end of the newest page.
  // One at a time: a call while one is under way makes it look once more after.
  if (state.appending) { state.appendAgain = true; return; }
  state.appending = true;
  try {
    await appendOnce();
  } finally {
    state.appending = false;
  }
  if (state.appendAgain) {
    state.appendAgain = false;
    appendNew();
  }
}

async function appendOnce() {
  if (!state.atNewest || !document.getElementById("follow").checked) return;
  const after = state.rows.length ? state.rows[state.rows.length - 1].seq : 0;
  try {
    const page = await api("/api/records", { ...filterParams(), after, limit: PAGE });
    if (page.more) { await loadPage({ newest: true }); return; }
    if (!page.records.length) return;
    const body = document.querySelector("#records tbody");
    for (const record of page.records) {
      state.rows.push(record);
      body.append(recordRow(record, true));
    }
    while (state.rows.length > PAGE) {
      state.rows.shift();
      body.firstElementChild.remove();
      state.moreOlder = true;
    }
    showRowsInfo();
  } catch (error) {
    problem(error.message);
  }
}

function showRowsInfo() {
  const info = document.getElementById("page-info");
  if (state.rows.length) {
    info.textContent = `seq ${state.rows[0].seq} to ${state.rows[state.rows.length - 1].seq}` +
      (Object.keys(state.filters).length ? " (filtered)" : "");
  }
  document.getElementById("page-older").disabled = !state.moreOlder;
  document.getElementById("page-first").disabled = !state.moreOlder;
}

async function loadFacets() {
  try {
    const facets = await api("/api/facets");
    for (const [id, counts] of [["topics", facets.topics], ["types", facets.types], ["senders", facets.senders]]) {
      const list = document.getElementById(id);
      clear(list);
      for (const name of Object.keys(counts)) {
        if (name !== "-") list.append(el("option", { value: name }));
      }
    }
  } catch {
    // the filters still work without suggestions
  }
}

// -- message: causation tree and details ----------------------------------------------

async function openMessage(id) {
  const tree = document.getElementById("tree");
  const detail = document.getElementById("detail");
  clear(tree);
  clear(detail);
  tree.append(el("p", { class: "muted", text: "reading…" }));
  try {
    const found = await api("/api/tree", { id });
    state.treeFor = found;
    drawTree(found);
    await showDetail(found.focus);
  } catch (error) {
    clear(tree);
    problem(error.message);
  }
}

function drawTree(found) {
  const tree = document.getElementById("tree");
  clear(tree);
  const start = found.nodes.length ? found.nodes[0].time : 0;
  const lists = new Map();
  const top = el("ul");
  tree.append(top);
  for (const node of found.nodes) {
    const parentList = node.parent === null ? top : lists.get(node.parent);
    const label = el("button", { type: "button", class: "node", "data-node-id": node.id },
      el("span", { class: "mono", text: `${node.seq} ` }),
      el("span", { class: node.topic.startsWith("_dead.") ? "topic dead" : "topic", text: node.topic }),
      ` ${node.type} `,
      el("span", { class: "muted", text: `${node.sender || "-"} +${((node.time - start) * 1000).toFixed(1)}ms` }),
    );
    label.addEventListener("click", () => showDetail(node.id));
    const item = el("li", {}, label);
    const children = el("ul");
    item.append(children);
    lists.set(node.id, children);
    (parentList || top).append(item);
  }
  if (found.truncated) tree.append(el("p", { class: "muted", text: "(more messages below: the tree is cut at 1,000)" }));
}

function fields(pairs) {
  const list = el("dl", { class: "fields" });
  for (const [name, value] of pairs) {
    list.append(el("dt", { text: name }), el("dd", { class: "mono", text: value === null || value === undefined ? "-" : value }));
  }
  return list;
}

async function showDetail(id) {
  for (const button of document.querySelectorAll("#tree button.node")) {
    button.classList.toggle("selected", button.dataset.nodeId === id);
  }
  const detail = document.getElementById("detail");
  clear(detail);
  try {
    const found = await api("/api/message", { id });
    const r = found.record;
    detail.append(
      el("h2", { text: `${r.topic} · ${r.type}` }),
      fields([
        ["seq", r.seq], ["id", r.id], ["time", when(r.time)], ["sender", r.sender],
        ["correlation", r.correlation_id], ["caused by", r.causation], ["reply to", r.reply_to],
      ]),
      el("h3", { text: "Payload" }),
      el("pre", { class: "payload", text: found.payload_error || pretty(found.payload) }),
    );
    if (found.handlings.length) {
      detail.append(el("h3", { text: "Model and tool calls of its handling" }));
      for (const handling of found.handlings) detail.append(...handlingBlocks(handling));
    }
  } catch (error) {
    problem(error.message);
  }
}

function handlingBlocks(handling) {
  return handling.calls.map((call) => {
    const box = el("div", { class: "call", "data-actor": handling.actor },
      el("strong", { text: `${handling.actor}: model call ${call.index}` }),
      el("span", { class: "muted", text: ` (${call.turns.length} turn${call.turns.length === 1 ? "" : "s"})` }),
    );
    for (const turn of call.turns) box.append(turnBlock(turn));
    return box;
  });
}

function turnBlock(turn) {
  const block = el("div", { class: "turn" });
  const head = el("div", {},
    el("strong", { text: `turn ${turn.index}` }),
    ` ${turn.model || "?"} via ${turn.provider || "?"} · ${turn.prompt_tokens} in, ${turn.completion_tokens} out · ${money(turn.cost)} · ${(turn.latency * 1000).toFixed(0)} ms`,
  );
  if (turn.attempts > 1) head.append(el("span", { class: "badge error", text: `${turn.attempts - 1} retr${turn.attempts === 2 ? "y" : "ies"}` }));
  head.append(turn.replayed
    ? el("span", { class: "badge replayed", text: "from the journal" })
    : el("span", { class: "badge", text: "asked" }));
  block.append(head);
  if (turn.problem) block.append(el("p", { class: "problem", text: turn.problem }));
  if (turn.sent.length) {
    block.append(el("div", { class: "muted", text: "sent" }));
    for (const message of turn.sent) block.append(messageBlock(message));
  }
  if (turn.answer !== "" && turn.answer !== null) {
    block.append(el("div", { class: "muted", text: "answered" }), el("pre", { class: "answer", text: pretty(turn.answer) }));
  }
  for (const tool of turn.tools) block.append(toolBlock(tool));
  return block;
}

function messageBlock(message) {
  const box = el("div", { class: "msg" }, el("span", { class: "role", text: message.role }));
  if (message.tool_call_id) box.append(el("span", { class: "muted", text: ` (for ${message.tool_call_id})` }));
  if (message.content !== null && message.content !== undefined) box.append(el("pre", { text: pretty(message.content) }));
  for (const call of message.tool_calls || []) {
    box.append(el("pre", { text: `${call.name}(${pretty(call.arguments)})` }));
  }
  return box;
}

function toolBlock(tool) {
  const box = el("div", { class: "tool", "data-tool": tool.name },
    el("strong", { text: `tool ${tool.name}` }),
  );
  if (!tool.ran) box.append(el("span", { class: "badge", text: "not run" }));
  else {
    box.append(el("span", { class: tool.error ? "badge error" : "badge ok", text: tool.error ? "error" : "ok" }));
    box.append(el("span", { class: "muted", text: ` ${(tool.duration * 1000).toFixed(1)} ms` }));
    if (tool.replayed) box.append(el("span", { class: "badge replayed", text: "from the journal" }));
  }
  box.append(el("div", { class: "muted", text: "arguments" }), el("pre", { text: pretty(tool.arguments) }));
  if (tool.ran) box.append(el("div", { class: "muted", text: "result" }), el("pre", { text: pretty(tool.result) }));
  if (tool.problem) box.append(el("p", { class: "problem", text: tool.problem }));
  return box;
}

// -- actors -------------------------------------------------------------------------

async function loadActors() {
  if (state.actorsBusy) return;
  state.actorsBusy = true;
  try {
    const found = await api("/api/actors");
    drawActors(found);
    state.actorsShown = true;
  } catch (error) {
    problem(error.message);
  } finally {
    state.actorsBusy = false;
  }
}

function drawActors(found) {
  const usage = found.usage.by_actor;
  const body = document.querySelector("#actors tbody");
  clear(body);
  const names = new Set([...found.actors.map((a) => a.name), ...Object.keys(usage)]);
  const byName = new Map(found.actors.map((a) => [a.name, a]));
  for (const name of [...names].sort()) {
    const a = byName.get(name) || {};
    const models = Object.values(usage[name] || {});
    const calls = models.reduce((n, m) => n + m.calls, 0);
    const tokens = models.reduce((n, m) => n + m.prompt_tokens + m.completion_tokens, 0);
    const cost = models.reduce((n, m) => n + m.cost, 0);
    const num = (v) => el("td", { class: "num", text: v === undefined || v === null ? "-" : v });
    body.append(el("tr", { "data-actor": name },
      el("td", { text: name }), num(a.published), num(a.handled), num(a.failed), num(a.dead_lettered),
      num(a.cursor), num(a.lag), num(calls), num(tokens), el("td", { class: "num", text: models.length ? money(cost) : "-" }),
    ));
  }
  const perModel = document.querySelector("#models tbody");
  clear(perModel);
  for (const [actor, models] of Object.entries(usage)) {
    for (const [model, t] of Object.entries(models)) {
      perModel.append(el("tr", {},
        el("td", { text: actor }), el("td", { text: model }), el("td", { class: "num", text: t.calls }),
        el("td", { class: "num", text: t.prompt_tokens }), el("td", { class: "num", text: t.completion_tokens }),
        el("td", { class: "num", text: money(t.cost) }), el("td", { class: "num", text: t.unpriced }),
      ));
    }
  }
  drawBudget(found.usage.total_cost, found.budget);
  drawChart(found.usage);
}

function drawBudget(total, budget) {
  const box = document.getElementById("budget");
  clear(box);
  if (budget === null || budget === undefined) {
    box.append(el("span", { text: `Run total ${money(total)}` }), el("span", { class: "muted", text: " (no budget given: actorbus log serve --budget DOLLARS)" }));
    return;
  }
  const share = budget > 0 ? Math.min(total / budget, 1) : 1;
  box.append(
    el("span", { text: `Run total ${money(total)} of a ${money(budget)} budget (${(100 * total / (budget || 1)).toFixed(1)}%) ` }),
    el("progress", { max: 1, value: share }),
  );
}

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs = {}) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  return node;
}

function drawChart(usage) {
  const box = document.getElementById("cost-chart");
  clear(box);
  const series = Object.entries(usage.series).filter(([, points]) => points.length);
  if (!series.length) {
    box.append(el("p", { class: "muted", text: "No model calls recorded." }));
    return;
  }
  const width = 720, height = 240, left = 70, right = 16, top = 12, bottom = 28;
  const t0 = usage.first_at, t1 = Math.max(usage.last_at, usage.first_at + 1e-3);
  const most = Math.max(...series.map(([, points]) => points[points.length - 1][1]), 1e-9);
  const x = (t) => left + ((t - t0) / (t1 - t0)) * (width - left - right);
  const y = (c) => height - bottom - (c / most) * (height - top - bottom);
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, width, height, role: "img" });
  chart.append(svg("line", { x1: left, y1: height - bottom, x2: width - right, y2: height - bottom, stroke: "#98a2b3" }));
  chart.append(svg("line", { x1: left, y1: top, x2: left, y2: height - bottom, stroke: "#98a2b3" }));
  const label = (text, attrs) => { const t = svg("text", { "font-size": 11, fill: "#667085", ...attrs }); t.textContent = text; return t; };
  chart.append(label(money(most), { x: 4, y: top + 10 }), label("$0", { x: 4, y: height - bottom }));
  chart.append(label(when(t0).slice(11), { x: left, y: height - 8 }), label(when(t1).slice(11), { x: width - right - 90, y: height - 8 }));
  const legend = el("div", { class: "legend" });
  series.forEach(([actor, points], n) => {
    const color = PALETTE[n % PALETTE.length];
    let d = `M ${x(points[0][0]).toFixed(1)} ${y(0).toFixed(1)}`;
    let last = 0;
    for (const [t, cost] of points) {
      d += ` L ${x(t).toFixed(1)} ${y(last).toFixed(1)} L ${x(t).toFixed(1)} ${y(cost).toFixed(1)}`;
      last = cost;
    }
    d += ` L ${x(t1).toFixed(1)} ${y(last).toFixed(1)}`;
    chart.append(svg("path", { d, fill: "none", stroke: color, "stroke-width": 2, "data-actor": actor }));
    legend.append(el("span", {}, el("span", { class: `swatch c${n % PALETTE.length}` }), `${actor} ${money(last)}`));
  });
  box.append(chart, legend);
}

// -- dead letters --------------------------------------------------------------------

async function loadDead(fresh) {
  const box = document.getElementById("dead-letters");
  if (fresh) { clear(box); state.deadBefore = null; }
  try {
    const found = await api("/api/dead", { before: state.deadBefore, limit: 50 });
    if (fresh && !found.letters.length) box.append(el("p", { class: "muted", text: "No dead letters." }));
    for (const letter of found.letters) box.append(letterBlock(letter));
    if (found.letters.length) state.deadBefore = found.letters[found.letters.length - 1].seq;
    document.getElementById("dead-more").hidden = !found.more;
  } catch (error) {
    problem(error.message);
  }
}

function letterBlock(letter) {
  const original = letter.original || {};
  const summary = el("summary", {},
    el("span", { class: "mono", text: `${letter.seq} ` }),
    el("strong", { text: letter.actor }),
    ` gave up on ${original.topic || "?"} ${original.type || ""} (seq ${original.seq || "?"}) after ${letter.attempts ?? "?"} attempt(s): `,
    el("span", { class: "error", text: `${letter.error_type || "error"}: ${letter.error || ""}` }),
  );
  const details = el("details", { class: "letter", "data-seq": letter.seq }, summary,
    fields([["time", when(letter.time)], ["original id", original.id], ["correlation", letter.correlation_id]]),
  );
  const link = el("a", { href: `#/message/${encodeURIComponent(letter.id)}`, text: "open its causation tree" });
  details.append(el("p", {}, link));
  if (letter.traceback) details.append(el("div", { class: "muted", text: "traceback" }), el("pre", { class: "traceback", text: letter.traceback }));
  details.append(el("div", { class: "muted", text: "the message" }), el("pre", { text: pretty(letter.message) }));
  return details;
}

// -- live ----------------------------------------------------------------------------

function listen() {
  const status = document.getElementById("live-status");
  const source = new EventSource("/api/events");
  source.addEventListener("seq", (event) => {
    const { last_seq: last } = JSON.parse(event.data);
    status.textContent = `live · seq ${last}`;
    status.classList.add("live");
    if (last === state.lastSeq) return;
    state.lastSeq = last;
    if (state.view === "timeline") appendNew();
    else if (state.view === "actors") loadActors();
  });
  source.addEventListener("problem", (event) => problem(JSON.parse(event.data).error));
  source.addEventListener("error", () => {
    status.textContent = "reconnecting…";
    status.classList.remove("live");
  });
}

// -- start ---------------------------------------------------------------------------

async function start() {
  document.getElementById("filters").addEventListener("submit", (event) => {
    event.preventDefault();
    readFilters();
    loadPage({ newest: true });
  });
  document.getElementById("clear-filters").addEventListener("click", () => {
    document.getElementById("filters").reset();
    state.filters = {};
    loadPage({ newest: true });
  });
  document.getElementById("page-first").addEventListener("click", () => loadPage({ oldest: true }));
  document.getElementById("page-last").addEventListener("click", () => loadPage({ newest: true }));
  document.getElementById("page-older").addEventListener("click", () => {
    if (state.rows.length) loadPage({ before: state.rows[0].seq });
  });
  document.getElementById("page-newer").addEventListener("click", () => {
    if (state.rows.length) loadPage({ after: state.rows[state.rows.length - 1].seq });
  });
  document.getElementById("dead-more").addEventListener("click", () => loadDead(false));
  window.addEventListener("hashchange", route);
  try {
    const summary = await api("/api/summary");
    document.getElementById("log-name").textContent = `${summary.log} · ${summary.count} records`;
    state.lastSeq = summary.last_seq;
  } catch (error) {
    problem(error.message);
  }
  await loadPage({ newest: true });
  route();
  loadFacets();
  listen();
  document.body.dataset.ready = "true";
}

start();
