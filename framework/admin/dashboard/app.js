// nows dashboard: polls api/snapshot (relative, so it works behind a path
// prefix) every second, keeps the last 5 minutes in memory and redraws.
// No dependencies: the charts are drawn on <canvas> by hand.
"use strict";

const POLL_MS = 1000;           // one snapshot per second
const TIMEOUT_MS = 3000;        // a snapshot slower than this is a failure
const WINDOW_S = 300;           // the charts show the last 5 minutes
const ROOMS_PER_PAGE = 20;      // one page of rooms at a time
const MAX_ROUTES = 25;          // more routes are summed in one row
const CHART_ROUTES = 5;         // the chart draws the top routes and "other"
const COLORS = ["#2f6fdb", "#e07b00", "#1a9e77", "#c2185b", "#7b5cd6", "#8a8f99"];

const $ = (id) => document.getElementById(id);

const state = {
  prev: null,        // the previous snapshot, for rates
  last: null,        // the latest snapshot
  started: null,     // its "started": a change means the server restarted
  history: [],       // {t, conns: {route: n}, msgsIn, msgsOut, bytesIn, bytesOut} (null rates across a gap)
  page: 1,           // the rooms page shown
  roomsMax: 0,       // the largest room seen on page 1, for the bars
  failures: 0,       // consecutive failed polls
  downSince: null,
  timer: 0,
  inflight: null,    // the AbortController of the running poll
};

// ---- formatting -------------------------------------------------------

// num formats a count or rate: 950, 1.2k, 34.5k, 100k, 1.2M, 3.4G.
function num(v) {
  if (v === null || v === undefined || !isFinite(v)) return "–";
  const a = Math.abs(v);
  if (a < 10 && v !== Math.round(v)) return v.toFixed(1);
  if (a < 1000) return String(Math.round(v));
  const units = [["G", 1e9], ["M", 1e6], ["k", 1e3]];
  for (const [u, d] of units) {
    if (a >= d) {
      const x = v / d;
      return (Math.abs(x) < 100 ? x.toFixed(1) : Math.round(x).toString()) + u;
    }
  }
  return String(v);
}

// bytes formats a byte count (decimal units): 512 B, 6.4 kB, 3.4 MB.
function bytes(v) {
  if (v === null || v === undefined || !isFinite(v)) return "–";
  const units = [["GB", 1e9], ["MB", 1e6], ["kB", 1e3]];
  for (const [u, d] of units) {
    if (Math.abs(v) >= d) {
      const x = v / d;
      return (Math.abs(x) < 100 ? x.toFixed(1) : Math.round(x).toString()) + " " + u;
    }
  }
  return Math.round(v) + " B";
}

// seconds formats a duration in seconds: 850 ns, 12 µs, 3.4 ms, 1.2 s.
function seconds(s) {
  if (s === null || s === undefined || !isFinite(s)) return "–";
  if (s < 1e-6) return Math.round(s * 1e9) + " ns";
  if (s < 1e-3) return (s * 1e6).toFixed(s < 1e-5 ? 1 : 0) + " µs";
  if (s < 1) return (s * 1e3).toFixed(s < 1e-2 ? 1 : 0) + " ms";
  return s.toFixed(1) + " s";
}

function duration(ms) {
  let s = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(s / 86400); s -= d * 86400;
  const h = Math.floor(s / 3600); s -= h * 3600;
  const m = Math.floor(s / 60); s -= m * 60;
  if (d) return d + "d " + h + "h";
  if (h) return h + "h " + m + "m";
  if (m) return m + "m " + s + "s";
  return s + "s";
}

// parseTime reads an RFC 3339 time with up to nanoseconds, in seconds.
function parseTime(s) {
  return Date.parse(String(s).replace(/(\.\d{3})\d+/, "$1")) / 1000;
}

function clock(d) {
  return d.toLocaleTimeString([], { hour12: false });
}

// ---- polling ----------------------------------------------------------

function schedule(ms) {
  clearTimeout(state.timer);
  state.timer = setTimeout(poll, ms);
}

async function poll() {
  if (state.inflight) state.inflight.abort();
  const ctl = new AbortController();
  state.inflight = ctl;
  const timeout = setTimeout(() => ctl.abort(), TIMEOUT_MS);
  const url = "api/snapshot?page=" + state.page + "&per_page=" + ROOMS_PER_PAGE;
  try {
    const res = await fetch(url, { cache: "no-store", signal: ctl.signal });
    if (!res.ok) {
      const text = (await res.text()).trim().split("\n")[0];
      throw new Error("HTTP " + res.status + (text ? ": " + text : ""));
    }
    const snap = await res.json();
    if (ctl !== state.inflight) return; // a newer poll replaced this one
    if (!snap || typeof snap !== "object" || !("connections" in snap)) {
      throw new Error("the answer is not a nows snapshot");
    }
    accept(snap);
  } catch (err) {
    if (ctl !== state.inflight) return;
    failed(ctl.signal.aborted ? "no answer within " + TIMEOUT_MS / 1000 + " s" : String(err.message || err));
  } finally {
    clearTimeout(timeout);
    if (ctl === state.inflight) {
      state.inflight = null;
      schedule(POLL_MS);
    }
  }
}

function failed(why) {
  state.failures++;
  if (!state.downSince) state.downSince = new Date();
  const where = new URL("api/snapshot", location.href).href;
  $("banner").hidden = false;
  $("banner").textContent = "Cannot reach the server at " + where + " (" + why + ") since " +
    clock(state.downSince) + ": " + state.failures + " failed " + (state.failures === 1 ? "attempt" : "attempts") +
    ", retrying every " + POLL_MS / 1000 + " s." + (state.last ? " The numbers below are from " + clock(new Date(parseTime(state.last.time) * 1000)) + "." : "");
  setStatus("down", "unreachable");
  document.body.classList.add("stale");
  // A gap in the charts: the lines break instead of joining across it.
  if (state.history.length && state.history[state.history.length - 1].gap !== true) {
    state.history.push({ t: state.history[state.history.length - 1].t, gap: true });
  }
  state.prev = null; // rates restart after the outage
}

function setStatus(cls, text) {
  const s = $("status");
  s.className = "pill " + cls;
  s.textContent = text;
}

// ---- a new snapshot ---------------------------------------------------

function accept(snap) {
  state.failures = 0;
  state.downSince = null;
  $("banner").hidden = true;
  document.body.classList.remove("stale");
  setStatus("live", "live");

  if (state.started !== null && snap.started !== state.started) {
    // The server restarted: its counters started again from zero.
    state.history = [];
    state.prev = null;
  }
  state.started = snap.started;
  state.prev = state.last && !isGapLast() ? state.last : state.prev;
  if (state.prev && state.prev.started !== snap.started) state.prev = null;
  state.last = snap;

  const rates = computeRates(state.prev, snap);
  record(snap, rates);
  render(snap, rates);
}

function isGapLast() {
  const h = state.history;
  return h.length > 0 && h[h.length - 1].gap === true;
}

function sum(list, f) {
  let s = 0;
  for (const x of list || []) s += f(x) || 0;
  return s;
}

function hookTotals(route) {
  let count = 0, secs = 0;
  for (const h of Object.values(route.hooks || {})) {
    count += h.count || 0;
    secs += h.sum_seconds || 0;
  }
  return { count, secs };
}

// computeRates returns per-second rates between two snapshots, or null when
// there is no earlier one.
function computeRates(prev, cur) {
  if (!prev) return null;
  const dt = parseTime(cur.time) - parseTime(prev.time);
  if (!(dt > 0)) return null;
  const rate = (a, b) => Math.max(0, (a - b) / dt);
  const prevRoutes = new Map((prev.routes || []).map((r) => [r.route, r]));
  const routes = new Map();
  for (const r of cur.routes || []) {
    const p = prevRoutes.get(r.route);
    if (!p) continue;
    routes.set(r.route, {
      msgsIn: rate(r.messages_in, p.messages_in),
      msgsOut: rate(r.messages_out, p.messages_out),
      bytesIn: rate(r.bytes_in, p.bytes_in),
      bytesOut: rate(r.bytes_out, p.bytes_out),
    });
  }
  const prevCloses = new Map((prev.closes || []).map((c) => [c.code + "|" + c.cause, c.count]));
  const closes = new Map();
  for (const c of cur.closes || []) {
    const k = c.code + "|" + c.cause;
    closes.set(k, rate(c.count, prevCloses.get(k) || 0) * 60);
  }
  const all = (f) => rate(sum(cur.routes, f), sum(prev.routes, f));
  return {
    routes,
    closes,
    msgsIn: all((r) => r.messages_in),
    msgsOut: all((r) => r.messages_out),
    bytesIn: all((r) => r.bytes_in),
    bytesOut: all((r) => r.bytes_out),
    drops: rate(cur.queue_dropped || 0, prev.queue_dropped || 0),
    published: cur.broker && prev.broker ? rate(cur.broker.published, prev.broker.published) : null,
  };
}

function record(snap, rates) {
  const t = parseTime(snap.time) || Date.now() / 1000;
  const conns = {};
  for (const r of snap.routes || []) conns[r.route] = r.connections || 0;
  state.history.push({
    t,
    conns,
    msgsIn: rates ? rates.msgsIn : null,
    msgsOut: rates ? rates.msgsOut : null,
    bytesIn: rates ? rates.bytesIn : null,
    bytesOut: rates ? rates.bytesOut : null,
  });
  while (state.history.length && state.history[0].t < t - WINDOW_S) state.history.shift();
  if (state.history.length > WINDOW_S * 2) state.history.splice(0, state.history.length - WINDOW_S * 2);
}

// ---- rendering --------------------------------------------------------

function setText(id, text, value) {
  const el = $(id);
  el.textContent = text;
  if (value !== undefined) el.dataset.value = value === null ? "" : String(value);
}

function render(snap, rates) {
  $("node").textContent = snap.node ? "node " + snap.node : "";
  $("uptime").textContent = "up " + duration((parseTime(snap.time) - parseTime(snap.started)) * 1000);
  $("updated").textContent = "updated " + clock(new Date(parseTime(snap.time) * 1000));

  const r = rates || {};
  setText("connections", num(snap.connections), snap.connections);
  const hs = snap.handshakes || {};
  const accepted = hs["101"] || 0;
  const rejected = Object.entries(hs).reduce((s, [k, v]) => (k === "101" ? s : s + v), 0);
  setText("handshakes", num(accepted) + " handshakes, " + num(rejected) + " rejected");
  setText("msgs-in", num(r.msgsIn), rates ? r.msgsIn : null);
  setText("msgs-out", num(r.msgsOut), rates ? r.msgsOut : null);
  setText("bytes-in", rates ? bytes(r.bytesIn) + "/s" : "–", rates ? r.bytesIn : null);
  setText("bytes-out", rates ? bytes(r.bytesOut) + "/s" : "–", rates ? r.bytesOut : null);
  setText("msgs-in-total", num(sum(snap.routes, (x) => x.messages_in)) + " total");
  setText("msgs-out-total", num(sum(snap.routes, (x) => x.messages_out)) + " total");
  setText("bytes-in-total", bytes(sum(snap.routes, (x) => x.bytes_in)) + " total");
  setText("bytes-out-total", bytes(sum(snap.routes, (x) => x.bytes_out)) + " total");
  setText("drops", num(snap.queue_dropped || 0), snap.queue_dropped || 0);
  $("drops").className = "big" + (snap.queue_dropped > 0 ? " bad" : "");
  setText("drops-rate", rates ? num(r.drops) + "/s now" : "");
  renderBroker(snap.broker, r.published);

  renderRoutes(snap, rates);
  renderRooms(snap.rooms);
  renderCloses(snap.closes, rates);
  renderCharts();
}

function renderBroker(b, published) {
  const el = $("broker");
  if (!b || !b.configured) {
    el.textContent = "none";
    el.className = "big off";
    $("broker-detail").textContent = "single node (no broker configured)";
    return;
  }
  el.textContent = b.ok ? "ok" : "error";
  el.className = "big " + (b.ok ? "ok" : "bad");
  let detail = num(b.published) + " published" + (published !== null && published !== undefined ? " (" + num(published) + "/s)" : "") +
    ", " + num(b.publish_errors) + " errors";
  if (b.error) detail += ": " + b.error;
  $("broker-detail").textContent = detail;
  $("broker-detail").title = b.error || "";
}

function cell(tr, text, cls, title) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  if (title) td.title = title;
  tr.appendChild(td);
  return td;
}

function emptyRow(tbody, cols, text) {
  const tr = document.createElement("tr");
  const td = cell(tr, text, "empty");
  td.colSpan = cols;
  tbody.appendChild(tr);
}

function renderRoutes(snap, rates) {
  const tbody = $("routes").tBodies[0];
  const routes = (snap.routes || []).slice().sort((a, b) => b.connections - a.connections || a.route.localeCompare(b.route));
  const rows = document.createDocumentFragment();
  const rowOf = (name, list, cls) => {
    const tr = document.createElement("tr");
    if (cls) tr.className = cls;
    const rr = list.map((x) => (rates && rates.routes.get(x.route)) || null);
    const rsum = (f) => (rates ? rr.reduce((s, x) => s + (x ? f(x) : 0), 0) : null);
    let count = 0, secs = 0, titles = [];
    for (const x of list) {
      const h = hookTotals(x);
      count += h.count;
      secs += h.secs;
      for (const [hook, hv] of Object.entries(x.hooks || {})) {
        if (hv.count) titles.push(hook + ": " + num(hv.count) + " calls, avg " + seconds(hv.sum_seconds / hv.count));
      }
    }
    cell(tr, name, "route", name);
    cell(tr, num(sum(list, (x) => x.connections)), "n");
    cell(tr, num(sum(list, (x) => x.opened)), "n");
    cell(tr, num(sum(list, (x) => x.closed)), "n");
    cell(tr, num(rsum((x) => x.msgsIn)), "n");
    cell(tr, num(rsum((x) => x.msgsOut)), "n");
    cell(tr, rates ? bytes(rsum((x) => x.bytesIn)) + "/s" : "–", "n");
    cell(tr, rates ? bytes(rsum((x) => x.bytesOut)) + "/s" : "–", "n");
    cell(tr, count ? seconds(secs / count) : "–", "n", titles.slice(0, 12).join("\n"));
    rows.appendChild(tr);
  };
  const shown = routes.slice(0, MAX_ROUTES);
  for (const x of shown) rowOf(x.route, [x]);
  const rest = routes.slice(MAX_ROUTES);
  if (rest.length) rowOf("+ " + rest.length + " more routes", rest, "more");
  tbody.replaceChildren(rows);
  if (!routes.length) emptyRow(tbody, 9, "no routes registered");
  $("routes-summary").textContent = routes.length + (routes.length === 1 ? " route" : " routes") +
    ", busiest first; avg hook = time per hook call since start";
}

function renderRooms(rooms) {
  const tbody = $("rooms").tBodies[0];
  rooms = rooms || { count: 0, members: 0, page: 1, per_page: ROOMS_PER_PAGE, largest: [] };
  const perPage = rooms.per_page || ROOMS_PER_PAGE;
  const pages = Math.max(1, Math.ceil((rooms.count || 0) / perPage));
  if (state.page > pages) {
    // The rooms shrank under the page shown: go to the last one.
    state.page = pages;
    schedule(0);
  }
  const page = rooms.page || 1;
  const largest = rooms.largest || [];
  if (page === 1 && largest.length) state.roomsMax = largest[0].members;
  const max = Math.max(state.roomsMax, largest.length ? largest[0].members : 0, 1);
  const frag = document.createDocumentFragment();
  largest.forEach((room, i) => {
    const tr = document.createElement("tr");
    cell(tr, num((page - 1) * perPage + i + 1), "n");
    cell(tr, room.room, "room", room.room);
    const m = cell(tr, num(room.members), "n");
    m.dataset.value = String(room.members);
    const bar = cell(tr, "", "bar");
    const span = document.createElement("span");
    span.style.width = Math.max(1, Math.round((room.members / max) * 100)) * 0.7 + "%";
    bar.appendChild(span);
    const em = document.createElement("em");
    em.textContent = rooms.members ? ((room.members / rooms.members) * 100).toFixed(1) + "%" : "";
    bar.appendChild(em);
    frag.appendChild(tr);
  });
  tbody.replaceChildren(frag);
  if (!largest.length) emptyRow(tbody, 4, rooms.count ? "no rooms on this page" : "no rooms");
  $("rooms-summary").textContent = num(rooms.count) + " rooms, " + num(rooms.members) + " members; largest first";
  $("rooms-summary").dataset.count = String(rooms.count || 0);
  $("rooms-page").textContent = "page " + page + " of " + num(pages);
  $("rooms-page").dataset.page = String(page);
  $("rooms-prev").disabled = state.page <= 1;
  $("rooms-next").disabled = state.page >= pages;
}

function goPage(delta) {
  const next = Math.max(1, state.page + delta);
  if (next === state.page) return;
  state.page = next;
  $("rooms-prev").disabled = $("rooms-next").disabled = true; // until the page arrives
  schedule(0);
}

function renderCloses(closes, rates) {
  const tbody = $("closes").tBodies[0];
  const list = (closes || []).slice().sort((a, b) => b.count - a.count || a.code - b.code);
  const frag = document.createDocumentFragment();
  for (const c of list.slice(0, 20)) {
    const tr = document.createElement("tr");
    cell(tr, String(c.code), "n");
    cell(tr, c.cause || "", "", c.cause || "");
    cell(tr, num(c.count), "n");
    const perMin = rates ? rates.closes.get(c.code + "|" + c.cause) : null;
    cell(tr, perMin === null || perMin === undefined ? "–" : num(perMin), "n");
    frag.appendChild(tr);
  }
  tbody.replaceChildren(frag);
  if (!list.length) emptyRow(tbody, 4, "no connection closed yet");
  const total = sum(list, (c) => c.count);
  $("closes-summary").textContent = num(total) + " closes, most frequent first" + (list.length > 20 ? " (top 20 of " + list.length + ")" : "");
}

// ---- charts -----------------------------------------------------------

function renderCharts() {
  const h = state.history;
  const last = h.length ? h[h.length - 1] : null;
  // The busiest routes now get a line each; the others are summed.
  const lastConns = [...h].reverse().find((p) => !p.gap);
  const routes = lastConns ? Object.keys(lastConns.conns).sort((a, b) => lastConns.conns[b] - lastConns.conns[a]) : [];
  const top = routes.slice(0, CHART_ROUTES);
  const others = routes.length > CHART_ROUTES;
  const series = top.map((route, i) => ({ name: route, color: COLORS[i], get: (p) => p.conns[route] ?? null }));
  if (others) {
    const set = new Set(top);
    series.push({
      name: "other " + (routes.length - CHART_ROUTES) + " routes",
      color: COLORS[CHART_ROUTES],
      get: (p) => Object.entries(p.conns).reduce((s, [k, v]) => (set.has(k) ? s : s + v), 0),
    });
  }
  const now = last ? last.t : Date.now() / 1000;
  // Until there are 5 minutes of history, the charts span what there is
  // (at least a minute), so that a fresh tab does not show a thin sliver.
  const first = h.length ? h[0].t : now;
  const span = Math.min(WINDOW_S, Math.max(60, Math.ceil((now - first) / 30) * 30));
  drawChart($("chart-conns"), $("legend-conns"), h, series, now, span, num);
  drawChart($("chart-msgs"), $("legend-msgs"), h, [
    { name: "in", color: COLORS[0], get: (p) => p.msgsIn },
    { name: "out", color: COLORS[1], get: (p) => p.msgsOut },
  ], now, span, num);
  drawChart($("chart-bytes"), $("legend-bytes"), h, [
    { name: "in", color: COLORS[0], get: (p) => p.bytesIn },
    { name: "out", color: COLORS[1], get: (p) => p.bytesOut },
  ], now, span, (v) => bytes(v) + "/s");
}

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function drawChart(canvas, legend, history, series, now, span, fmt) {
  const dpr = window.devicePixelRatio || 1;
  const w = canvas.clientWidth || 300, hgt = canvas.clientHeight || 180;
  if (canvas.width !== Math.round(w * dpr) || canvas.height !== Math.round(hgt * dpr)) {
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(hgt * dpr);
  }
  const g = canvas.getContext("2d");
  g.setTransform(dpr, 0, 0, dpr, 0, 0);
  g.clearRect(0, 0, w, hgt);
  let max = 0;
  for (const p of history) {
    if (p.gap) continue;
    for (const s of series) {
      const v = s.get(p);
      if (v !== null && v > max) max = v;
    }
  }
  max = niceMax(max * 1.05);
  g.font = "11px system-ui, sans-serif";
  // The left margin fits the widest label of the y axis.
  let labelW = 0;
  for (let i = 0; i <= 4; i++) labelW = Math.max(labelW, g.measureText(fmt((max / 4) * i)).width);
  const padL = Math.ceil(labelW) + 10, padR = 8, padT = 8, padB = 20;
  const pw = w - padL - padR, ph = hgt - padT - padB;
  const x = (t) => padL + ((t - (now - span)) / span) * pw;
  const y = (v) => padT + ph - (v / max) * ph;

  g.lineWidth = 1;
  g.strokeStyle = "#e3e6ec";
  g.fillStyle = "#6b7385";
  g.textAlign = "right";
  g.textBaseline = "middle";
  for (let i = 0; i <= 4; i++) {
    const v = (max / 4) * i, yy = Math.round(y(v)) + 0.5;
    g.beginPath(); g.moveTo(padL, yy); g.lineTo(padL + pw, yy); g.stroke();
    g.fillText(fmt(v), padL - 6, yy);
  }
  g.textAlign = "center";
  g.textBaseline = "top";
  const step = span > 120 ? 60 : 15;
  for (let ago = span; ago >= 0; ago -= step) {
    const label = ago === 0 ? "now" : ago % 60 === 0 ? "-" + ago / 60 + "m" : "-" + ago + "s";
    g.fillText(label, Math.max(padL + 8, Math.min(x(now - ago), padL + pw - 12)), padT + ph + 5);
  }

  g.lineWidth = 1.6;
  g.lineJoin = "round";
  for (const s of series) {
    g.strokeStyle = s.color;
    g.beginPath();
    let pen = false;
    for (const p of history) {
      const v = p.gap ? null : s.get(p);
      if (v === null || v === undefined) { pen = false; continue; }
      const xx = x(p.t), yy = y(v);
      if (xx < padL) continue;
      if (pen) g.lineTo(xx, yy); else g.moveTo(xx, yy);
      pen = true;
    }
    g.stroke();
  }

  const frag = document.createDocumentFragment();
  const lastPoint = [...history].reverse().find((p) => !p.gap);
  for (const s of series) {
    const item = document.createElement("span");
    const i = document.createElement("i");
    i.style.background = s.color;
    item.appendChild(i);
    const v = lastPoint ? s.get(lastPoint) : null;
    item.appendChild(document.createTextNode(s.name + " " + (v === null || v === undefined ? "–" : fmt(v))));
    frag.appendChild(item);
  }
  legend.replaceChildren(frag);
}

// ---- start ------------------------------------------------------------

$("rooms-prev").addEventListener("click", () => goPage(-1));
$("rooms-next").addEventListener("click", () => goPage(1));
window.addEventListener("resize", () => renderCharts());
poll();
