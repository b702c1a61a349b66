// reesim dashboard: pick or edit a scenario, run it on the server, draw the report's figures.
// Everything comes from this server (plotly.js included); text from the server is set with
// textContent, never parsed as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const FIGURES = ["prices", "prices_other", "sankey", "map", "stage_heatmap", "welfare", "shortages", "china_share"];
const KEY_COMMODITIES = ["oxide:Dy", "oxide:Tb", "oxide:Nd", "oxide:Pr", "magnet:ndfeb"];
const PLOT_CONFIG = { displaylogo: false, responsive: true };
const state = { detail: null, job: null, poll: null, names: [] };

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") e.textContent = v;
    else if (k === "class") e.className = v;
    else if (v !== null && v !== undefined) e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}

async function api(path, options = {}) {
  const r = await fetch(path, options);
  const body = (r.headers.get("content-type") || "").includes("json") ? await r.json() : await r.text();
  if (!r.ok) {
    const err = new Error(`HTTP ${r.status}`);
    err.status = r.status;
    err.body = body;
    throw err;
  }
  return body;
}

function showErrors(list, err) {
  list.replaceChildren();
  const d = err && err.body && err.body.detail;
  const lines = Array.isArray(d) ? d.map((p) => p.msg) : [typeof d === "string" ? d : String(err)];
  for (const line of lines) list.append(el("li", { text: line }));
}

// ------------------------------------------------------------------------------- scenario form
function isShare(key, value) {
  return typeof value === "number" && /share|rate|fraction/.test(key) && value >= 0 && value <= 1;
}

function paramRow(k, key, value) {
  const id = `inst-${k}-${key}`;
  if (typeof value === "number") {
    const row = el("div", { class: "param" }, el("label", { for: id, text: key }));
    const out = el("output", { text: String(value) });
    const input = isShare(key, value)
      ? el("input", { id, type: "range", min: "0", max: "1", step: "any", value: String(value) })
      : el("input", { id, type: "number", step: "any", value: String(value) });
    input.dataset.inst = k;
    input.dataset.key = key;
    input.dataset.kind = "number";
    input.addEventListener("input", () => { out.textContent = input.value; });
    row.append(input, out);
    return row;
  }
  if ((key === "start" || key === "end") && (value === null || /^\d{4}-\d\d-\d\d$/.test(String(value)))) {
    const input = el("input", { id, type: "date", value: value || "" });
    input.dataset.inst = k;
    input.dataset.key = key;
    input.dataset.kind = "date";
    return el("div", { class: "param wide" }, el("label", { for: id, text: key }), input);
  }
  const text = typeof value === "object" ? JSON.stringify(value) : String(value);
  return el("div", { class: "param wide" }, el("span", { text: key }), el("span", { class: "ro", text }));
}

function renderInstruments(detail) {
  const box = $("instruments");
  box.replaceChildren();
  detail.resolved.instruments.forEach((inst, k) => {
    const on = el("input", { type: "checkbox", id: `inst-${k}-on`, checked: "" });
    on.dataset.inst = k;
    on.dataset.kind = "on";
    const card = el("div", { class: "instrument", "data-name": inst.name || inst.type });
    on.addEventListener("change", () => card.classList.toggle("off", !on.checked));
    const head = el("label", { class: "head", for: on.id }, on, ` ${inst.name || inst.type} (${inst.type})`);
    if (detail.inherited[k]) head.append(el("span", { class: "inherited", text: ` from ${detail.extends}` }));
    card.append(head);
    for (const [key, value] of Object.entries(inst)) {
      if (["type", "name"].includes(key) || value === null && key !== "end") continue;
      card.append(paramRow(k, key, value));
    }
    box.append(card);
  });
  if (!detail.resolved.instruments.length) box.append(el("p", { class: "note", text: "No instruments: the reference path." }));
}

async function chooseScenario(name) {
  document.body.dataset.loading = "1";  // until the form shows this scenario
  const d = await api(`/api/scenarios/${encodeURIComponent(name)}`);
  state.detail = d;
  $("scenario-description").textContent = d.description;
  $("scenario-chain").textContent = d.chain.length > 1 ? `extends: ${d.chain.join(" → ")}` : "";
  $("h-start").value = d.horizon.start;
  $("h-end").value = d.horizon.end;
  $("h-step").value = d.horizon.step;
  $("against").value = d.counterfactual || "baseline";
  renderInstruments(d);
  $("errors").replaceChildren();
  delete document.body.dataset.loading;
}

function editedScenario() {
  const d = state.detail;
  const sc = JSON.parse(JSON.stringify(d.resolved));
  let changed = false;
  const keep = [];
  sc.instruments.forEach((inst, k) => {
    const on = $(`inst-${k}-on`);
    if (!on.checked) { changed = true; return; }
    for (const input of document.querySelectorAll(`#instruments [data-inst="${k}"][data-key]`)) {
      const key = input.dataset.key;
      const v = input.dataset.kind === "number" ? Number(input.value) : (input.value || null);
      if (v !== inst[key]) { inst[key] = v; changed = true; }
    }
    keep.push(inst);
  });
  sc.instruments = keep;
  const h = { start: Number($("h-start").value), end: Number($("h-end").value), step: $("h-step").value };
  if (h.start !== sc.horizon.start || h.end !== sc.horizon.end || h.step !== sc.horizon.step) changed = true;
  sc.horizon = h;
  if ($("against").value !== (d.counterfactual || "baseline")) changed = true;
  sc.extends = null;  // the resolved scenario is complete: nothing is merged again
  if (changed) sc.name = `${d.name}-edited`;
  return { sc, changed };
}

// ------------------------------------------------------------------------------------ running
async function run() {
  const { sc, changed } = editedScenario();
  const body = changed ? { yaml: JSON.stringify(sc), against: $("against").value }
                       : { scenario: state.detail.name, against: $("against").value };
  $("errors").replaceChildren();
  $("run").disabled = true;
  try {
    if (changed) await api("/api/validate", post({ yaml: body.yaml }));
    const job = await api("/api/runs", post(body));
    state.lastBody = body;
    track(job);
  } catch (err) {
    showErrors($("errors"), err);
    $("run").disabled = false;
    // 422: the scenario; 429: this client's own jobs; 503: the server's queue (the errors say which)
    $("status").textContent = err.status === 422 ? "Not run: fix the scenario."
      : err.status === 429 || err.status === 503 ? "Not run: try again when a job has finished."
      : "Not run.";
  }
}

function post(obj) {
  return { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(obj) };
}

function track(job) {
  clearTimeout(state.poll);
  const pct = Math.round(100 * job.progress);
  $("progress").style.width = `${pct}%`;
  $("status").textContent = `${job.scenario} vs ${job.counterfactual}: ${job.status}` +
    (job.status === "running" ? ` (${pct} %)` : "") + (job.message ? ` — ${job.message}` : "");
  if (job.status === "done") { $("run").disabled = false; showResults(job); return; }
  if (job.status === "failed" || job.status === "expired") { $("run").disabled = false; return; }
  state.poll = setTimeout(async () => track(await api(`/api/runs/${job.id}`)), 400);
}

function fmt(x, digits = 1, sign = false) {
  if (x === null || x === undefined || Number.isNaN(x)) return "";
  const s = Number(x).toLocaleString("en-US", { maximumFractionDigits: digits, minimumFractionDigits: digits });
  return sign && x > 0 ? `+${s}` : s;
}

function fillTable(table, header, rows, numeric = []) {
  table.replaceChildren(el("tr", {}, ...header.map((h) => el("th", { text: h }))));
  for (const r of rows) {
    table.append(el("tr", {}, ...r.map((v, i) => el("td", { text: v, class: numeric.includes(i) ? "num" : "" }))));
  }
}

async function showResults(job) {
  state.job = job.id;
  const summary = await api(`/api/runs/${job.id}/summary`);
  $("empty").hidden = true;
  $("results").hidden = false;
  $("results-title").textContent = `${summary.scenario} vs ${summary.counterfactual}`;
  const base = `/api/runs/${job.id}`;
  $("dl-report").href = `${base}/report`;
  $("dl-xlsx").href = `${base}/tables.xlsx`;
  const tables = await api(`${base}/tables`);
  const sel = $("dl-table");
  sel.replaceChildren(...tables.scenario.map((t) => el("option", { text: t, value: t })));
  const setLinks = () => {
    $("dl-csv").href = `${base}/tables/${sel.value}?format=csv`;
    $("dl-parquet").href = `${base}/tables/${sel.value}?format=parquet`;
  };
  sel.onchange = setLinks;
  setLinks();
  const pc = summary.headline.price_changes.filter((r) => KEY_COMMODITIES.includes(r.commodity));
  fillTable($("headline"), ["commodity", "market", "peak change %", "period", "USD/kg", "counterfactual USD/kg"],
    pc.map((r) => [r.commodity, r.market, fmt(r.peak_change_pct, 1, true), r.period, fmt(r.usd_per_kg, 2), fmt(r.usd_per_kg_cf, 2)]),
    [2, 4, 5]);
  const costs = (summary.impacts.product_cost_peaks || []).filter((r) => ["inside China", "outside China"].includes(r.market));
  fillTable($("product-costs"), ["product", "per", "market", "period", "change USD (low)", "change USD (high)"],
    costs.map((r) => [r.product, r.per, r.market, r.period, fmt(r.change_usd_low, 2, true), fmt(r.change_usd_high, 2, true)]),
    [4, 5]);
  const elements = [...new Set(summary.headline.price_changes.map((r) => r.commodity)
    .filter((c) => c.startsWith("oxide:")).map((c) => c.slice(6)))].sort();
  const esel = $("element");
  const current = esel.value || "Nd";
  esel.replaceChildren(...elements.map((e) => el("option", { text: e, value: e })));
  esel.value = elements.includes(current) ? current : elements[0];
  esel.onchange = () => drawFigure(job.id, "sankey");
  await Promise.all(FIGURES.map((name) => drawFigure(job.id, name)));
}

async function drawFigure(jobId, name) {
  const div = $(`fig-${name}`);
  const q = name === "sankey" ? `?element=${encodeURIComponent($("element").value || "Nd")}` : "";
  const fig = await api(`/api/runs/${jobId}/figures/${name}${q}`);
  Plotly.purge(div);
  div.replaceChildren();
  div.style.height = "";
  if (fig.absent || !fig.data.length) {
    div.append(el("p", { class: "note", text: "Nothing to draw for this run." }));
  } else {
    div.style.height = `${(fig.layout && fig.layout.height) || 450}px`;  // as the report's figure boxes
    await Plotly.newPlot(div, fig.data, fig.layout, PLOT_CONFIG);
  }
  div.dataset.job = jobId;
}

// ---------------------------------------------------------------------------------- ensembles
async function runEnsemble() {
  if (!state.lastBody) return;
  const body = { ...state.lastBody, n: Number($("ens-n").value) };
  $("ens-errors").replaceChildren();
  $("ens-run").disabled = true;
  try {
    trackEnsemble(await api("/api/ensembles", post(body)));
  } catch (err) {
    showErrors($("ens-errors"), err);
    $("ens-run").disabled = false;
  }
}

function trackEnsemble(job) {
  $("ens-status").textContent = `${job.status}` + (job.total_steps ? ` (${job.done_steps} of ${job.total_steps} members)` : "") +
    (job.message ? ` — ${job.message}` : "");
  if (job.status === "done") { $("ens-run").disabled = false; state.ensemble = job.id; drawEnsemble(); return; }
  if (job.status === "failed" || job.status === "expired") { $("ens-run").disabled = false; return; }
  setTimeout(async () => trackEnsemble(await api(`/api/ensembles/${job.id}`)), 500);
}

async function drawEnsemble() {
  const id = state.ensemble;
  if (!id) return;
  const item = $("ens-item").value;
  const wheres = item.startsWith("oxide:Dy") || item.startsWith("oxide:Tb") ? ["Europe", "inside China"] : ["outside China", "inside China"];
  const q = new URLSearchParams({ item });
  for (const w of wheres) q.append("where", w);
  $("ens-report").href = `/api/ensembles/${id}/report`;
  $("ens-report").hidden = false;
  for (const [name, div] of [["fan", $("fig-ens-fan")], ["drivers", $("fig-ens-drivers")]]) {
    const fig = await api(`/api/ensembles/${id}/figures/${name}?${q}`);
    Plotly.purge(div);
    div.replaceChildren();
    div.style.height = "";
    if (fig.absent || !fig.data.length) {
      div.append(el("p", { class: "note", text: "Nothing to draw: too few members succeeded." }));
    } else {
      div.style.height = `${(fig.layout && fig.layout.height) || 400}px`;
      await Plotly.newPlot(div, fig.data, fig.layout, PLOT_CONFIG);
    }
    div.dataset.job = id;
  }
}

// ---------------------------------------------------------------------------------- game tab
async function loadGames() {
  const games = await api("/api/games");
  state.games = Object.fromEntries(games.map((g) => [g.name, g]));
  const sel = $("game");
  sel.replaceChildren(...games.map((g) => el("option", { value: g.name, text: `${g.name} (${g.profiles} profiles)` })));
  sel.onchange = () => {
    const g = state.games[sel.value];
    $("game-description").textContent = g.description;
    $("game-players").textContent = g.players.map((p) => `${p.name}: ${p.strategies.join(", ")}`).join(" · ");
    $("game-text").value = g.text;
  };
  if (games.length) sel.onchange();
}

async function runGame() {
  const g = state.games[$("game").value];
  const text = $("game-text").value;
  const body = text === g.text ? { game: g.name } : { yaml: text };
  $("game-errors").replaceChildren();
  $("game-run").disabled = true;
  try {
    trackGame(await api("/api/games", post(body)));
  } catch (err) {
    showErrors($("game-errors"), err);
    $("game-run").disabled = false;
  }
}

function trackGame(job) {
  const pct = Math.round(100 * job.progress);
  $("game-progress").style.width = `${pct}%`;
  $("game-status").textContent = `${job.scenario}: ${job.status}` +
    (job.total_steps ? ` (${job.done_steps} of ${job.total_steps} runs)` : "") + (job.message ? ` — ${job.message}` : "");
  if (job.status === "done") { $("game-run").disabled = false; showGame(job); return; }
  if (job.status === "failed" || job.status === "expired") { $("game-run").disabled = false; return; }
  setTimeout(async () => trackGame(await api(`/api/games/${job.id}`)), 500);
}

async function showGame(job) {
  const res = await api(`/api/games/${job.id}/figures`);
  $("game-empty").hidden = true;
  $("game-results").hidden = false;
  $("game-dl-report").href = `/api/games/${job.id}/report`;
  $("game-dl-csv").href = `/api/games/${job.id}/payoffs?format=csv`;
  const box = $("game-figures");
  for (const d of box.querySelectorAll(".js-plotly-plot")) Plotly.purge(d);
  box.replaceChildren();
  for (const { figure, caption } of res.figures) {
    const div = el("div", { class: "fig" });
    div.style.height = `${(figure.layout && figure.layout.height) || 400}px`;
    box.append(el("figure", {}, div, el("figcaption", { text: caption })));
    await Plotly.newPlot(div, figure.data, figure.layout, PLOT_CONFIG);
  }
  $("game-reading").textContent = res.reading;
  box.dataset.job = job.id;
}

// --------------------------------------------------------------------------------- data tab
async function loadTables() {
  const tables = await api("/api/data/tables");
  const sel = $("data-table");
  sel.replaceChildren(...tables.map((t) => el("option", { value: t.name, text: `${t.name} (${t.rows} rows)` })));
  const desc = Object.fromEntries(tables.map((t) => [t.name, `${t.title}. ${t.description}`]));
  sel.onchange = () => { $("data-description").textContent = desc[sel.value]; };
  sel.onchange();
}

async function loadRows() {
  const params = new URLSearchParams({ limit: "500" });
  for (const part of $("data-filter").value.trim().split(/\s+/).filter(Boolean)) {
    const [k, ...v] = part.split("=");
    params.append(k, v.join("="));
  }
  $("data-errors").replaceChildren();
  try {
    const res = await api(`/api/data/tables/${encodeURIComponent($("data-table").value)}?${params}`);
    $("data-count").textContent = `${res.rows.length} of ${res.total} rows`;
    const t = $("data-rows");
    t.replaceChildren(el("tr", {}, ...res.columns.map((c) => el("th", { text: c }))));
    for (const row of res.rows) {
      const c = res.citations[row.source_id];
      const title = c ? `${c.citation}${c.where_read ? ` — ${c.where_read}` : ""}${c.vintage ? ` (vintage ${c.vintage})` : ""}` : "";
      t.append(el("tr", { title }, ...res.columns.map((col) => el("td", { text: row[col] === null ? "" : String(row[col]) }))));
    }
  } catch (err) {
    showErrors($("data-errors"), err);
  }
}

// ------------------------------------------------------------------------------------- start
async function main() {
  const topo = await api("/static/vendor/world_110m.json");
  window.PlotlyGeoAssets = { topojson: { world_110m: topo } };
  for (const b of document.querySelectorAll("nav button.tab")) {
    b.addEventListener("click", () => {
      for (const o of document.querySelectorAll("nav button.tab")) o.classList.toggle("active", o === b);
      for (const t of ["run", "game", "data"]) $(`tab-${t}`).hidden = b.dataset.tab !== t;
    });
  }
  const [health, scenarios] = await Promise.all([api("/api/health"), api("/api/scenarios")]);
  $("footer").textContent = `reesim ${health.version} · dataset ${health.dataset_version} · ${health.workers} worker(s) · works offline`;
  state.names = scenarios.map((s) => s.name);
  $("scenario").replaceChildren(...state.names.map((n) => el("option", { value: n, text: n })));
  $("against").replaceChildren(...state.names.map((n) => el("option", { value: n, text: n })));
  $("scenario").addEventListener("change", () => chooseScenario($("scenario").value));
  $("run").addEventListener("click", run);
  $("data-load").addEventListener("click", loadRows);
  $("game-run").addEventListener("click", runGame);
  $("ens-run").addEventListener("click", runEnsemble);
  $("ens-item").addEventListener("change", drawEnsemble);
  const first = state.names.includes("china-2025-licensing") ? "china-2025-licensing" : state.names[0];
  $("scenario").value = first;
  await chooseScenario(first);
  await Promise.all([loadTables(), loadGames()]);
  document.body.dataset.ready = "1";
}

main().catch((err) => { $("status").textContent = `The dashboard could not start: ${err}`; });
