// spimguard operator dashboard: polls the daemon's JSON API and fills the
// page (index.html).  No library, no external resource.  The bearer token,
// when the daemon has one, comes from the URL fragment (#token=...) or the
// form, and is kept in localStorage.  API: docs/daemon.md,
// docs/enforcement.md.
"use strict";

const POLL_MS = 2000;
let token = "";
let last = null;          // previous summary, for rates
let selected = null;      // campaign whose graph is drawn

function $(id) { return document.getElementById(id); }

function initToken() {
  const m = /token=([^&]+)/.exec(location.hash);
  if (m) { token = decodeURIComponent(m[1]); localStorage.setItem("sg_token", token); }
  else token = localStorage.getItem("sg_token") || "";
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    token = $("token").value;
    localStorage.setItem("sg_token", token);
    $("token-form").hidden = true;
    refresh();
  });
}

async function api(path, opts) {
  opts = opts || {};
  opts.headers = Object.assign({}, opts.headers || {});
  if (token) opts.headers["Authorization"] = "Bearer " + token;
  const r = await fetch(path, opts);
  if (r.status === 401) { $("token-form").hidden = false; throw new Error("token needed"); }
  const body = await r.json();
  if (!r.ok) throw new Error(body.error || ("HTTP " + r.status));
  return body;
}

function td(text, cls) {
  const c = document.createElement("td");
  c.textContent = text === undefined || text === null ? "" : String(text);
  if (cls) c.className = cls;
  return c;
}

function when(ms) {
  if (!ms) return "";
  return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

function fillBody(table, rows) {
  const tb = table.tBodies[0];
  tb.replaceChildren(...rows);
}

// ------------------------------------------------------------------ rates

function rateRows(now, prev, dt) {
  return Object.keys(now).map((k) => {
    const tr = document.createElement("tr");
    tr.dataset.key = k;
    const rate = prev && dt > 0 ? (now[k] - (prev[k] || 0)) / dt : 0;
    tr.append(td(k), td(rate.toFixed(1), "num"), td(now[k], "num"));
    return tr;
  });
}

async function refreshSummary() {
  const s = await api("/v1/enforcement/summary");
  const dt = last ? (Date.now() - last.at) / 1000 : 0;
  fillBody($("rates-actions"), rateRows(s.actions, last && last.s.actions, dt));
  fillBody($("rates-labels"), rateRows(s.labels, last && last.s.labels, dt));
  fillBody($("rates-accounts"), rateRows(s.account_actions, last && last.s.account_actions, dt));
  $("total-checks").textContent = Object.values(s.actions).reduce((a, b) => a + b, 0);
  $("evidence-entries").textContent = s.evidence ? s.evidence.entries : "no evidence log";
  $("evidence-head").textContent = s.evidence ? s.evidence.head.slice(0, 16) + "…" : "–";
  $("policy").textContent = s.policy.version + (s.policy.dry_run ? " · DRY RUN" : "");
  last = { s: s, at: Date.now() };
}

// ------------------------------------------------------------------ campaigns

async function refreshCampaigns() {
  const c = await api("/v1/campaigns");
  const list = c.campaigns.slice().sort((a, b) => b.senders - a.senders || b.messages - a.messages).slice(0, 10);
  fillBody($("campaigns"), list.map((k) => {
    const tr = document.createElement("tr");
    tr.className = "campaign" + (selected === k.id ? " selected" : "");
    tr.dataset.id = k.id;
    tr.append(td(k.id), td(k.senders, "num"), td(k.recipients, "num"), td(k.messages, "num"),
              td(k.locked_senders, "num"), td(k.infections, "num"), td(when(k.first_seen_ms)),
              td(k.urls.slice(0, 2).join(" ")));
    tr.addEventListener("click", () => { selected = k.id; drawGraph(k); refreshCampaigns(); });
    return tr;
  }));
  if (!list.length) return;
  const pick = list.find((k) => k.id === selected) || list[0];
  selected = pick.id;
  drawGraph(pick);
}

// Layered drawing: roots (senders nobody in the list infected) on the left,
// each infection edge one layer to the right.
function layers(k) {
  const parent = {}, nodes = new Set(k.sender_ids);
  k.infection_edges.forEach((e) => { nodes.add(e.from); nodes.add(e.to); parent[e.to] = e.from; });
  const depth = {};
  const d = (n, guard) => {
    if (depth[n] !== undefined) return depth[n];
    if (!parent[n] || guard > 64) return (depth[n] = 0);
    return (depth[n] = d(parent[n], guard + 1) + 1);
  };
  nodes.forEach((n) => d(n, 0));
  return { nodes: [...nodes], depth: depth };
}

function drawGraph(k) {
  const svg = $("campaign-graph"), NS = "http://www.w3.org/2000/svg";
  $("graph-title").textContent = k.id;
  svg.replaceChildren();
  const L = layers(k), cols = {}, pos = {};
  L.nodes.forEach((n) => { const c = L.depth[n]; (cols[c] = cols[c] || []).push(n); });
  const ncol = Object.keys(cols).length || 1;
  const W = svg.clientWidth || 900, H = 320;
  Object.keys(cols).forEach((c) => cols[c].forEach((n, i) => {
    pos[n] = { x: 40 + (W - 80) * (ncol > 1 ? c / (ncol - 1) : 0.5),
               y: 20 + (H - 40) * ((i + 0.5) / cols[c].length) };
  }));
  k.infection_edges.forEach((e) => {
    const a = pos[e.from], b = pos[e.to];
    if (!a || !b) return;
    const l = document.createElementNS(NS, "line");
    l.setAttribute("x1", a.x); l.setAttribute("y1", a.y);
    l.setAttribute("x2", b.x); l.setAttribute("y2", b.y);
    l.setAttribute("stroke", "#999");
    svg.append(l);
  });
  L.nodes.forEach((n) => {
    const c = document.createElementNS(NS, "circle");
    c.setAttribute("cx", pos[n].x); c.setAttribute("cy", pos[n].y); c.setAttribute("r", 5);
    c.setAttribute("fill", L.depth[n] === 0 ? "#c0392b" : "#e67e22");
    c.setAttribute("class", "node");
    const t = document.createElementNS(NS, "title");
    t.textContent = n + " (generation " + L.depth[n] + ")";
    c.append(t);
    svg.append(c);
  });
}

// ------------------------------------------------------------------ accounts

async function decide(id, decision) {
  const note = decision === "clear" ? prompt("Why clear " + id + "?", "") : "";
  if (note === null) return;
  await api("/v1/accounts/" + encodeURIComponent(id) + "/decision", {
    method: "POST", headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ decision: decision, operator: $("operator").value, note: note }) });
  refresh();
}

function decisionCell(a) {
  const c = document.createElement("td");
  if (a.action === "none") return c;
  ["clear", "confirm"].forEach((d) => {
    const b = document.createElement("button");
    b.textContent = d;
    b.addEventListener("click", () => decide(a.id, d).catch(showError));
    c.append(b);
  });
  return c;
}

async function refreshAccounts() {
  const r = await api("/v1/enforcement/accounts");
  const counts = { locked: 0, suspended: 0, throttled: 0 };
  fillBody($("accounts"), r.accounts.map((a) => {
    if (counts[a.status] !== undefined) counts[a.status]++;
    const tr = document.createElement("tr");
    tr.className = "account " + a.status;
    tr.dataset.id = a.id;
    tr.append(td(a.id), td(a.status, a.status), td(a.action + (a.dry_run ? " (dry run)" : "")),
              td(when(a.since_ms)), td(a.until_ms ? when(a.until_ms) : a.action === "suspend" ? "permanent" : ""),
              td(a.appeal), td(a.messages, "num"),
              td(a.evidence_hash ? "#" + a.evidence_seq + " " + a.evidence_hash.slice(0, 12) + "…" : "", "hash"),
              decisionCell(a));
    return tr;
  }));
  $("count-locked").textContent = counts.locked;
  $("count-suspended").textContent = counts.suspended;
  $("count-throttled").textContent = counts.throttled;
}

async function refreshAppeals() {
  const r = await api("/v1/enforcement/appeals");
  fillBody($("appeals"), r.appeals.map((a) => {
    const tr = document.createElement("tr");
    tr.className = "appeal";
    tr.append(td(a.id), td(a.action), td(when(a.appeal_ms)),
              td(a.evidence_hash ? a.evidence_hash.slice(0, 12) + "…" : "", "hash"), decisionCell(a));
    return tr;
  }));
}

async function refreshReports() {
  const r = await api("/v1/enforcement/reports");
  fillBody($("reports"), r.reports.slice(0, 30).map((x) => {
    const tr = document.createElement("tr");
    tr.className = "report";
    tr.append(td(when(x.ts_ms)), td(x.reporter), td(x.account), td(x.label));
    return tr;
  }));
}

// ------------------------------------------------------------------ loop

function showError(e) {
  $("status").textContent = String(e.message || e);
  $("status").className = "status bad";
}

async function refresh() {
  try {
    await refreshSummary();
    await Promise.all([refreshCampaigns(), refreshAccounts(), refreshAppeals(), refreshReports()]);
    $("status").textContent = "live · " + new Date().toISOString().slice(11, 19) + "Z";
    $("status").className = "status ok";
    document.body.dataset.loaded = "1";
  } catch (e) {
    showError(e);
  }
}

initToken();
refresh();
setInterval(refresh, POLL_MS);
