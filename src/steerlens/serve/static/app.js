// steerlens workbench: a lens explorer and a steering playground on the server's own /v1 API.
// Plain JavaScript, no external assets: it works offline.
"use strict";

const $ = (id) => document.getElementById(id);
let info = null;
let apiKey = sessionStorage.getItem("steerlens-key") || "";

function headers() {
  const h = { "Content-Type": "application/json" };
  if (apiKey) h["Authorization"] = "Bearer " + apiKey;
  return h;
}

async function api(path, body) {
  const res = await fetch(path, body === undefined ? { headers: headers() } : { method: "POST", headers: headers(), body: JSON.stringify(body) });
  if (res.status === 401) { $("key-box").hidden = false; throw new Error("this server needs an API key (enter it above)"); }
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error((data.error && data.error.message) || res.statusText);
  return data;
}

function setStatus(id, text, error) {
  const el = $(id);
  el.textContent = text;
  el.classList.toggle("error", !!error);
}

// ---- tabs ----------------------------------------------------------------------------------------------
function selectTab(name) {
  for (const t of ["lens", "steer"]) {
    const on = t === name;
    $("tab-" + t).setAttribute("aria-selected", on ? "true" : "false");
    $("tab-" + t).tabIndex = on ? 0 : -1;
    $("panel-" + t).hidden = !on;
  }
}
$("tab-lens").addEventListener("click", () => selectTab("lens"));
$("tab-steer").addEventListener("click", () => selectTab("steer"));
document.querySelector("nav").addEventListener("keydown", (e) => {
  if (e.key !== "ArrowLeft" && e.key !== "ArrowRight") return;
  const next = $("tab-lens").getAttribute("aria-selected") === "true" ? "steer" : "lens";
  selectTab(next);
  $("tab-" + next).focus();
});
$("key-save").addEventListener("click", () => {
  apiKey = $("api-key").value.trim();
  sessionStorage.setItem("steerlens-key", apiKey);
  $("key-box").hidden = true;
  loadInfo();
});

// ---- model info ----------------------------------------------------------------------------------------
async function loadInfo() {
  try {
    info = await api("/v1/info");
  } catch (e) {
    setStatus("lens-status", e.message, true);
    return;
  }
  $("model-info").textContent = `${info.model} · ${info.model_type} · ${info.n_layers} layers · width ${info.d_model}`;
  const kinds = $("lens-kind");
  kinds.innerHTML = "";
  for (const l of info.lenses) {
    const art = info.artifacts.find((a) => a.name === l);
    kinds.add(new Option(l === "logit" ? "logit lens" : `${art.kind.replace("_", " ")}: ${l}`, l));
  }
  const steerable = info.artifacts.filter((a) => ["steering_vector", "concept", "actadd"].includes(a.kind));
  const arts = $("steer-artifact");
  arts.innerHTML = "";
  for (const a of steerable) arts.add(new Option(`${a.name} (${a.kind})`, a.name));
  const metric = $("steer-metric");
  for (const a of info.artifacts.filter((a) => ["steering_vector", "concept"].includes(a.kind))) {
    if (![...metric.options].some((o) => o.value === a.name)) metric.add(new Option(`${a.name} (${a.kind} probe)`, a.name));
  }
  $("steer-sites").value = `resid_pre.${Math.max(0, Math.floor(info.n_layers / 3))}`;
}

// ---- lens explorer -------------------------------------------------------------------------------------
let traj = null;

function shade(t, hue) {
  // t in [0, 1] -> from white to a saturated colour
  const v = Math.max(0, Math.min(1, t));
  return `hsl(${hue}, 70%, ${Math.round(97 - 52 * v)}%)`;
}

function cellValue(stat, r, c) {
  if (stat === "entropy") return traj.entropy[r][c];
  if (stat === "kl") return traj.kl_to_final[r][c];
  return traj.top_probs[r][c][0];
}

function renderHeatmap() {
  const table = $("heatmap");
  table.innerHTML = "";
  const stat = $("lens-stat").value;
  const vals = traj.rows.flatMap((_, r) => traj.tokens.map((_, c) => cellValue(stat, r, c) || 0));
  const max = stat === "prob" ? 1 : Math.max(1e-6, ...vals);
  const head = table.createTHead().insertRow();
  const corner = document.createElement("th");
  corner.className = "row";
  corner.textContent = "layer \\ input";
  head.appendChild(corner);
  traj.tokens.forEach((tok) => {
    const th = document.createElement("th");
    th.textContent = JSON.stringify(tok).slice(1, -1);
    head.appendChild(th);
  });
  const body = table.createTBody();
  // the output row on top, then the layers from the last down to the first
  for (let r = traj.rows.length - 1; r >= 0; r--) {
    const tr = body.insertRow();
    const th = document.createElement("th");
    th.className = "row";
    th.scope = "row";
    th.textContent = traj.rows[r];
    tr.appendChild(th);
    traj.tokens.forEach((_, c) => {
      const td = tr.insertCell();
      td.className = "cell";
      td.tabIndex = r === traj.rows.length - 1 && c === 0 ? 0 : -1;
      td.dataset.row = r;
      td.dataset.col = c;
      td.textContent = JSON.stringify(traj.top_tokens[r][c][0]).slice(1, -1);
      const v = cellValue(stat, r, c) || 0;
      td.style.background = shade(stat === "prob" ? v : v / max, stat === "prob" ? 225 : 20);
      td.setAttribute("aria-label", `${traj.rows[r]}, position ${c}: top token ${traj.top_tokens[r][c][0]}`);
    });
  }
}

function cellText(r, c) {
  const lines = [`${traj.rows[r]} · position ${c} (input ${JSON.stringify(traj.tokens[c])})`];
  traj.top_tokens[r][c].forEach((t, k) => lines.push(`${(100 * traj.top_probs[r][c][k]).toFixed(1).padStart(5)}%  ${JSON.stringify(t)}`));
  lines.push(`entropy ${traj.entropy[r][c].toFixed(2)} bits · KL to output ${(traj.kl_to_final[r][c] || 0).toFixed(2)} bits`);
  return lines.join("\n");
}

function showTooltip(td) {
  const tip = $("tooltip");
  tip.textContent = cellText(+td.dataset.row, +td.dataset.col);
  tip.hidden = false;
  const box = td.getBoundingClientRect();
  const left = Math.min(box.right + 8, window.innerWidth - tip.offsetWidth - 8);
  const top = box.bottom + 6 + tip.offsetHeight > window.innerHeight ? box.top - tip.offsetHeight - 6 : box.bottom + 6;
  tip.style.left = `${Math.max(4, left)}px`;
  tip.style.top = `${Math.max(4, top)}px`;
}

function showDetail(td) {
  const r = +td.dataset.row, c = +td.dataset.col;
  document.querySelectorAll("#heatmap td.selected").forEach((x) => x.classList.remove("selected"));
  td.classList.add("selected");
  const box = $("cell-detail");
  box.innerHTML = "";
  const h = document.createElement("h2");
  h.textContent = `${traj.rows[r]} at position ${c} (after ${JSON.stringify(traj.tokens.slice(0, c + 1).join(""))})`;
  box.appendChild(h);
  traj.top_tokens[r][c].forEach((t, k) => {
    const p = traj.top_probs[r][c][k];
    const row = document.createElement("div");
    row.className = "bar";
    const label = document.createElement("span");
    label.textContent = JSON.stringify(t);
    const track = document.createElement("div");
    const fill = document.createElement("div");
    fill.className = "fill";
    fill.style.width = `${(100 * p).toFixed(1)}%`;
    track.appendChild(fill);
    const num = document.createElement("span");
    num.textContent = `${(100 * p).toFixed(1)}%`;
    row.append(label, track, num);
    box.appendChild(row);
  });
}

const heat = $("heatmap");
heat.addEventListener("mouseover", (e) => { const td = e.target.closest("td.cell"); if (td) showTooltip(td); });
heat.addEventListener("mouseleave", () => { $("tooltip").hidden = true; });
heat.addEventListener("focusin", (e) => { const td = e.target.closest("td.cell"); if (td) showTooltip(td); });
heat.addEventListener("focusout", () => { $("tooltip").hidden = true; });
heat.addEventListener("click", (e) => { const td = e.target.closest("td.cell"); if (td) showDetail(td); });
heat.addEventListener("keydown", (e) => {
  const td = e.target.closest("td.cell");
  if (!td) return;
  if (e.key === "Enter" || e.key === " ") { e.preventDefault(); showDetail(td); return; }
  const moves = { ArrowUp: [1, 0], ArrowDown: [-1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
  if (!moves[e.key]) return;
  e.preventDefault();
  const r = +td.dataset.row + moves[e.key][0], c = +td.dataset.col + moves[e.key][1];
  const next = heat.querySelector(`td.cell[data-row="${r}"][data-col="${c}"]`);
  if (next) { td.tabIndex = -1; next.tabIndex = 0; next.focus(); }
});
$("lens-stat").addEventListener("change", () => { if (traj) renderHeatmap(); });

$("lens-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const button = $("lens-run");
  button.disabled = true;
  setStatus("lens-status", "running the lens…");
  try {
    traj = await api("/v1/lens", { prompt: $("lens-prompt").value, lens: $("lens-kind").value || "logit", top_k: +$("lens-topk").value });
    renderHeatmap();
    setStatus("lens-status", `${traj.lens} lens: ${traj.rows.length} rows × ${traj.tokens.length} positions`);
  } catch (err) {
    setStatus("lens-status", err.message, true);
  } finally {
    button.disabled = false;
  }
});

// ---- steering playground -------------------------------------------------------------------------------
$("steer-source").addEventListener("change", () => {
  const actadd = $("steer-source").value === "actadd";
  document.querySelectorAll(".actadd-only").forEach((x) => (x.hidden = !actadd));
  document.querySelectorAll(".artifact-only").forEach((x) => (x.hidden = actadd));
});

function steeringSpec() {
  const strength = +$("steer-strength").value;
  const sites = $("steer-sites").value.trim();
  if ($("steer-source").value === "actadd") {
    return [{ actadd: { plus: $("steer-plus").value, minus: $("steer-minus").value }, sites, strength }];
  }
  const name = $("steer-artifact").value;
  if (!name) throw new Error("this server has no saved steering artifacts; upload one or use an ActAdd pair");
  const art = info.artifacts.find((a) => a.name === name);
  const item = { artifact: name, strength };
  if (art.kind !== "actadd" && sites) item.sites = sites;
  if (art.kind === "steering_vector") item.positions = $("steer-positions").value;
  return [item];
}

function colourFor(v, metric) {
  if (v === null || v === undefined) return "transparent";
  // sentiment and cosines are centred on 0, a concept probe's probability on 0.5
  const centred = metric === "sentiment" ? v : (info.artifacts.find((a) => a.name === metric) || {}).kind === "concept" ? 2 * (v - 0.5) : v;
  const t = Math.max(-1, Math.min(1, centred));
  return t >= 0 ? `hsla(130, 60%, 45%, ${0.55 * t})` : `hsla(0, 70%, 50%, ${-0.55 * t})`;
}

async function streamInto(column, body) {
  const out = column.querySelector(".out");
  const score = column.querySelector(".score");
  out.innerHTML = "";
  score.textContent = "";
  const p = document.createElement("span");
  p.className = "prompt";
  p.textContent = body.prompt;
  const gen = document.createElement("span");
  gen.className = "gen";
  out.append(p, gen);
  const res = await fetch("/v1/completions", { method: "POST", headers: headers(), body: JSON.stringify({ ...body, stream: true }) });
  if (!res.ok) {
    const data = await res.json().catch(() => ({}));
    if (res.status === 401) $("key-box").hidden = false;
    throw new Error((data.error && data.error.message) || res.statusText);
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "", final = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let cut;
    while ((cut = buffer.indexOf("\n\n")) >= 0) {
      const line = buffer.slice(0, cut).trim();
      buffer = buffer.slice(cut + 2);
      if (!line.startsWith("data:")) continue;
      const data = line.slice(5).trim();
      if (data === "[DONE]") continue;
      const msg = JSON.parse(data);
      if (msg.error) throw new Error(msg.error.message);
      const choice = msg.choices[0];
      gen.textContent += choice.text;
      if (choice.finish_reason) final = msg;
    }
  }
  column.dataset.done = "1";
  if (final && final.steerlens && final.steerlens.metric) {
    const { tokens, metric } = final.steerlens;
    gen.textContent = "";
    tokens.forEach((t, k) => {
      const s = document.createElement("span");
      s.className = "tok";
      s.textContent = t;
      s.style.background = colourFor(metric[k], body.metric);
      s.title = metric[k] === null ? "" : metric[k].toFixed(3);
      gen.appendChild(s);
    });
    const vals = metric.filter((v) => v !== null);
    const mean = vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : NaN;
    score.textContent = `${body.metric}: mean ${mean.toFixed(3)} over ${vals.length} tokens`;
  }
  return final;
}

$("steer-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  const button = $("steer-run");
  let steering;
  try {
    steering = steeringSpec();
  } catch (err) {
    setStatus("steer-status", err.message, true);
    return;
  }
  button.disabled = true;
  setStatus("steer-status", "generating…");
  for (const id of ["col-plain", "col-steered"]) delete $(id).dataset.done;
  const base = {
    prompt: $("steer-prompt").value,
    max_tokens: +$("steer-max").value,
    temperature: +$("steer-temp").value,
    seed: +$("steer-seed").value,
  };
  if ($("steer-metric").value) base.metric = $("steer-metric").value;
  try {
    await Promise.all([streamInto($("col-plain"), base), streamInto($("col-steered"), { ...base, steering })]);
    setStatus("steer-status", "done: same seed, with and without the steering");
  } catch (err) {
    setStatus("steer-status", err.message, true);
  } finally {
    button.disabled = false;
  }
});

selectTab("lens");
loadInfo();
