// luna's web console: log in, submit a dataset straight to the store's presigned URLs, follow
// its validation live, read and download the findings; organisers also see every team and the
// service. Plain JavaScript over the public API (docs/contract.md); nothing to build.
"use strict";

const PARALLEL_UPLOADS = 4;
const PART_URL_BATCH = 32;
const PUT_ATTEMPTS = 3;
const HASH_MAX_BYTES = 64 * 1024 * 1024; // larger files are checked by size only
const FINDINGS_PAGE = 1000;
const FINDINGS_SHOWN_MAX = 20000;
const OVERVIEW_REFRESH_MS = 5000;
const CONTENT_TYPES = { ".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".dcm": "application/dicom", ".csv": "text/csv" };

const $ = (selector) => document.querySelector(selector);
const state = { token: null, claims: null, ruleset: null, picked: [], report: null, overviewTimer: null };

class Problem extends Error {
  constructor(status, body) {
    super(body && body.detail ? body.detail : `the service answered ${status}`);
    this.status = status;
    this.body = body || {};
  }
}

// ------------------------------------------------------------------ messages and session

function say(text, kind = "error") {
  const box = $("#message");
  box.textContent = text;
  box.className = kind;
  box.hidden = !text;
}

function describeProblem(error) {
  if (!(error instanceof Problem)) return `${error.message}. Check your connection and try again.`;
  const quota = (error.body.errors || []).find((e) => e.field === "quota");
  if (quota && quota.resets_at) {
    return `${error.message}. Your team's quota resets at ${new Date(quota.resets_at).toLocaleString()}.`;
  }
  if (error.status === 503) return `${error.message}.`;
  return error.message;
}

function decodeClaims(token) {
  const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
  return JSON.parse(atob(part + "=".repeat((4 - (part.length % 4)) % 4)));
}

function setSession(token) {
  state.token = token;
  state.claims = token ? decodeClaims(token) : null;
  if (token) sessionStorage.setItem("luna.token", token);
  else sessionStorage.removeItem("luna.token");
  render();
}

function sessionExpired() {
  setSession(null);
  say("Your session has expired: log in again. An upload in progress must be started again.");
}

async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(`/api/v1${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let parsed = null;
  try { parsed = text ? JSON.parse(text) : null; } catch (_) { parsed = { detail: text }; }
  if (response.status === 401 && state.token) {
    sessionExpired();
    throw new Problem(401, parsed);
  }
  if (!response.ok) throw new Problem(response.status, parsed);
  return parsed;
}

// ------------------------------------------------------------------ rendering helpers

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (className) td.className = className;
  return td;
}

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
}

function age(seconds) {
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  return `${(seconds / 3600).toFixed(1)} h`;
}

function render() {
  const loggedIn = Boolean(state.token);
  $("#login-view").hidden = loggedIn;
  $("#app-view").hidden = !loggedIn;
  $("#logout").hidden = !loggedIn;
  const admin = loggedIn && state.claims.admin;
  $("#who").textContent = loggedIn ? `${state.claims.username}${admin ? " (organiser)" : ""}` : "";
  $("#organiser-view").hidden = !admin;
  $("#datasets-title").textContent = admin ? "Every team's datasets" : "Your team's datasets";
  document.body.classList.toggle("organiser", Boolean(admin));
  clearInterval(state.overviewTimer);
  if (loggedIn) {
    loadDatasets();
    loadRuleset();
    if (admin) {
      loadOverview();
      state.overviewTimer = setInterval(loadOverview, OVERVIEW_REFRESH_MS);
    }
  }
}

// ------------------------------------------------------------------ login

$("#login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  say("");
  try {
    const answer = await api("/auth/login", { method: "POST", body: { username: $("#username").value, password: $("#password").value } });
    $("#password").value = "";
    setSession(answer.access_token);
  } catch (error) {
    if (error.status === 401) say("Wrong username or password. Check both, or ask your organisers to reset it.");
    else if (error.status === 429) say(`${error.message}. Wait, then try again.`);
    else say(describeProblem(error));
  }
});

$("#logout").addEventListener("click", () => { setSession(null); say("You are logged out.", "info"); });

// ------------------------------------------------------------------ picking files

async function loadRuleset() {
  if (!state.ruleset) state.ruleset = await api("/ruleset").catch(() => null);
}

function stripTopFolder(path) {
  const parts = path.split("/");
  return parts.length > 1 ? parts.slice(1).join("/") : path;
}

function usePicked(entries) {
  // entries: [{filename, file}]; hidden files (.DS_Store and the like) are left out.
  state.picked = entries.filter((e) => !e.filename.split("/").some((p) => p.startsWith(".")));
  const total = state.picked.reduce((sum, e) => sum + e.file.size, 0);
  $("#picked").textContent = state.picked.length ? `${state.picked.length} files, ${bytes(total)}` : "No files picked.";
  if (!$("#dataset-name").value && state.picked.length) $("#dataset-name").value = state.folderName || "dataset";
  preflight();
}

function fromInput(input, folder) {
  const files = Array.from(input.files);
  state.folderName = folder && files.length ? files[0].webkitRelativePath.split("/")[0] : "";
  usePicked(files.map((file) => ({ filename: folder ? stripTopFolder(file.webkitRelativePath) : file.name, file })));
  input.value = "";
}

$("#folder-input").addEventListener("change", (e) => fromInput(e.target, true));
$("#files-input").addEventListener("change", (e) => fromInput(e.target, false));

async function walk(entry, prefix, out) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    out.push({ filename: prefix + entry.name, file });
  } else if (entry.isDirectory) {
    const reader = entry.createReader();
    for (;;) {
      const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
      if (!batch.length) break;
      for (const child of batch) await walk(child, `${prefix}${entry.name}/`, out);
    }
  }
}

const zone = $("#drop-zone");
zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
zone.addEventListener("dragleave", () => zone.classList.remove("over"));
zone.addEventListener("drop", async (e) => {
  e.preventDefault();
  zone.classList.remove("over");
  const entries = Array.from(e.dataTransfer.items).map((i) => i.webkitGetAsEntry()).filter(Boolean);
  const out = [];
  for (const entry of entries) await walk(entry, "", out);
  // One folder dropped: its contents are the dataset.
  const single = entries.length === 1 && entries[0].isDirectory;
  state.folderName = single ? entries[0].name : "";
  usePicked(single ? out.map((x) => ({ ...x, filename: stripTopFolder(x.filename) })) : out);
});

async function preflight() {
  const box = $("#preflight");
  box.textContent = "";
  $("#upload-button").disabled = !state.picked.length;
  if (!state.picked.length) return;
  await loadRuleset();
  if (!state.ruleset) return;
  const manifest = state.picked.find((e) => e.filename === state.ruleset.manifest);
  const text = manifest ? await manifest.file.text() : null;
  const found = checkManifest(state.ruleset, state.picked, text);
  const heading = document.createElement("p");
  heading.className = found.length ? "warn" : "ok";
  heading.textContent = found.length
    ? `Checked in your browser: ${found.length} problem${found.length > 1 ? "s" : ""} the service will reject. Fix them, or upload anyway for the full report.`
    : "Manifest checked in your browser: no problems found. The service checks every image too.";
  box.append(heading);
  if (found.length) {
    const list = document.createElement("ul");
    for (const f of found.slice(0, 50)) {
      const item = document.createElement("li");
      item.textContent = `${f.rule}${f.row ? ` (row ${f.row})` : ""}: ${f.message}`;
      list.append(item);
    }
    box.append(list);
  }
}

// ------------------------------------------------------------------ uploading

async function sha256Hex(file) {
  if (!window.crypto || !crypto.subtle || file.size > HASH_MAX_BYTES) return undefined;
  const digest = await crypto.subtle.digest("SHA-256", await file.arrayBuffer());
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

function contentType(entry) {
  return CONTENT_TYPES[extensionOf(entry.filename)] || entry.file.type || "application/octet-stream";
}

// One PUT with progress; resolves on 2xx, rejects with {status, text}.
function put(url, headers, body, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("PUT", url);
    for (const [name, value] of Object.entries(headers || {})) {
      // The browser sets Content-Length itself, from the body.
      if (name.toLowerCase() !== "content-length") xhr.setRequestHeader(name, value);
    }
    xhr.upload.onprogress = (e) => onProgress(e.loaded);
    xhr.onload = () => (xhr.status >= 200 && xhr.status < 300 ? resolve() : reject({ status: xhr.status, text: xhr.responseText }));
    xhr.onerror = () => reject({ status: 0, text: "" });
    xhr.send(body);
  });
}

function storeRefusal(filename, failure) {
  if (failure.status === 0) {
    return `${filename} could not reach the store from this page (network down, or the store's CORS rule does not allow this site: see docs/deploy.md). Try again; if it repeats, tell the organisers.`;
  }
  let detail = "";
  try { detail = JSON.parse(failure.text).detail || ""; } catch (_) { detail = (failure.text.match(/<Message>([^<]*)/) || [])[1] || ""; }
  return `The store refused ${filename} (${failure.status}${detail ? `: ${detail}` : ""}). Start the upload again; if it repeats, tell the organisers.`;
}

async function putWithRetries(filename, send, refresh) {
  let lastFailure = null;
  for (let attempt = 1; attempt <= PUT_ATTEMPTS; attempt++) {
    try {
      return await send();
    } catch (failure) {
      if (failure instanceof Problem) throw failure;
      lastFailure = failure;
      if (failure.status === 403 && refresh && attempt === 1) { await refresh(); continue; }
      if (failure.status !== 0 && failure.status < 500) break;
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
  throw new Error(storeRefusal(filename, lastFailure));
}

class Progress {
  constructor(entries) {
    this.total = entries.reduce((sum, e) => sum + e.file.size, 0) || 1;
    this.done = new Map();
    this.bars = new Map();
    const body = $("#file-progress tbody");
    body.textContent = "";
    for (const e of entries) {
      const row = body.insertRow();
      cell(row, e.filename);
      cell(row, bytes(e.file.size));
      const bar = document.createElement("progress");
      bar.max = e.file.size || 1;
      bar.value = 0;
      bar.setAttribute("aria-label", e.filename);
      row.insertCell().append(bar);
      this.bars.set(e.filename, bar);
    }
    $("#upload-progress").hidden = false;
    this.update("", 0);
  }

  update(filename, loaded) {
    if (filename) {
      this.done.set(filename, loaded);
      this.bars.get(filename).value = loaded;
    }
    const sum = Array.from(this.done.values()).reduce((a, b) => a + b, 0);
    $("#total-progress").value = sum / this.total;
    $("#total-text").textContent = `${Math.floor((100 * sum) / this.total)}% of ${bytes(this.total)}`;
  }
}

async function sendWhole(datasetId, entry, target, progress) {
  let url = target.upload_url, headers = target.headers;
  await putWithRetries(entry.filename, () => put(url, headers, entry.file, (n) => progress.update(entry.filename, n)), async () => {
    const fresh = await api("/upload/urls", { method: "POST", body: { dataset_id: datasetId, file_ids: [target.file_id] } });
    ({ upload_url: url, headers } = fresh.upload_urls[0]);
  });
  progress.update(entry.filename, entry.file.size);
}

async function sendParts(datasetId, entry, target, progress) {
  // As `luna submit`: part URLs asked for a batch at a time, parts sent in order, each retried.
  const plan = target.multipart;
  const sent = new Map();
  for (let first = 1; first <= plan.parts; first += PART_URL_BATCH) {
    const numbers = [];
    for (let n = first; n < first + PART_URL_BATCH && n <= plan.parts; n++) numbers.push(n);
    const ask = () => api("/upload/parts", { method: "POST", body: { dataset_id: datasetId, file_id: target.file_id, part_numbers: numbers } });
    let urls = (await ask()).parts;
    for (let i = 0; i < urls.length; i++) {
      const number = urls[i].part_number;
      const start = (number - 1) * plan.part_size_bytes;
      const slice = entry.file.slice(start, start + urls[i].size_bytes);
      await putWithRetries(`${entry.filename} (part ${number})`, () => put(urls[i].upload_url, urls[i].headers, slice, (n) => {
        sent.set(number, n);
        progress.update(entry.filename, Array.from(sent.values()).reduce((a, b) => a + b, 0));
      }), async () => { urls = (await ask()).parts; });
      sent.set(number, urls[i].size_bytes);
    }
  }
  progress.update(entry.filename, entry.file.size);
}

async function runPool(items, limit, work) {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++]);
  });
  await Promise.all(workers);
}

$("#upload-button").addEventListener("click", async () => {
  const button = $("#upload-button");
  button.disabled = true;
  say("");
  const entries = state.picked;
  const name = $("#dataset-name").value.trim() || "dataset";
  try {
    $("#picked").textContent = "Checking each file's SHA-256…";
    const files = [];
    for (const e of entries) {
      const declared = { filename: e.filename, content_type: contentType(e), size_bytes: e.file.size };
      const sha = await sha256Hex(e.file);
      if (sha) declared.sha256 = sha;
      files.push(declared);
    }
    $("#picked").textContent = `Uploading ${entries.length} files…`;
    const started = await api("/upload/start", { method: "POST", body: { dataset_name: name, files } });
    const byName = new Map(entries.map((e) => [e.filename, e]));
    const progress = new Progress(entries);
    await runPool(started.upload_urls, PARALLEL_UPLOADS, async (target) => {
      const entry = byName.get(target.filename);
      if (target.multipart) await sendParts(started.dataset_id, entry, target, progress);
      else await sendWhole(started.dataset_id, entry, target, progress);
    });
    await api("/upload/complete", { method: "POST", body: { dataset_id: started.dataset_id } });
    $("#picked").textContent = `Uploaded ${entries.length} files.`;
    loadDatasets();
    await follow(started.dataset_id, name);
  } catch (error) {
    if (error.status !== 401) say(error instanceof Problem ? describeProblem(error) : error.message);
  } finally {
    button.disabled = !state.picked.length;
  }
});

// ------------------------------------------------------------------ following a validation

function showProgress(p) {
  const bar = $("#validation-progress");
  bar.max = p.files_total || 1;
  bar.value = p.files_done || 0;
  $("#job-status").textContent = `${p.status}: ${p.files_done} of ${p.files_total} files checked`;
}

async function streamEvents(datasetId, onEvent) {
  // EventSource cannot send the Authorization header: read the stream with fetch instead.
  const response = await fetch(`/api/v1/validation/${datasetId}/events`, { headers: { Authorization: `Bearer ${state.token}` } });
  if (response.status === 401) { sessionExpired(); throw new Problem(401, {}); }
  if (!response.ok) throw new Problem(response.status, await response.json().catch(() => null));
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true }).replace(/\r\n/g, "\n");
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let name = "message", data = "";
      for (const line of block.split("\n")) {
        if (line.startsWith("event:")) name = line.slice(6).trim();
        else if (line.startsWith("data:")) data += line.slice(5).trim();
      }
      if (data) onEvent(name, JSON.parse(data));
    }
  }
}

async function follow(datasetId, name) {
  $("#result").hidden = false;
  $("#result-name").textContent = `${name} (#${datasetId})`;
  $("#verdict").textContent = "";
  $("#verdict").className = "";
  $("#findings").hidden = true;
  $("#findings-tools").hidden = true;
  let final = null;
  try {
    await streamEvents(datasetId, (event, data) => {
      if (event === "progress") showProgress(data);
      if (event === "status") final = data;
    });
  } catch (error) {
    if (error.status === 401) return;
    if (error.status === 409) { $("#job-status").textContent = `${describeProblem(error)}`; return; }
  }
  // A stream cut short (proxy, network): fall back to polling the status.
  while (!final) {
    try {
      const status = await api(`/validation/${datasetId}/status`);
      showProgress({ status: status.status, ...status.progress });
      if (status.status === "completed" || status.status === "failed") final = status;
      else await new Promise((r) => setTimeout(r, 2000));
    } catch (error) {
      if (error.status === 401) return;
      $("#job-status").textContent = describeProblem(error);
      return;
    }
  }
  await showResult(final);
  loadDatasets();
  if (state.claims && state.claims.admin) loadOverview();
}

async function showResult(status) {
  showProgress({ status: status.status, ...status.progress });
  const verdict = $("#verdict");
  if (status.status === "failed") {
    verdict.textContent = `Validation could not run: ${status.error_message}. Nothing is wrong with your data that we know of; submit it again, or tell the organisers.`;
    verdict.className = "failed";
    return;
  }
  const results = status.validation_results;
  const accepted = results.verdict === "accepted";
  verdict.textContent = `${accepted ? "ACCEPTED" : "REJECTED"}: ${results.summary.errors} errors, ${results.summary.warnings} warnings (${results.ruleset})`;
  verdict.className = accepted ? "accepted" : "rejected";
  const findings = [];
  let cursor = null;
  do {
    const page = await api(`/validation/${status.dataset_id}/findings?limit=${FINDINGS_PAGE}${cursor ? `&cursor=${cursor}` : ""}`);
    findings.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && findings.length < FINDINGS_SHOWN_MAX);
  state.report = { status, findings };
  const rules = $("#rule-filter");
  rules.length = 1;
  for (const rule of [...new Set(findings.map((f) => f.rule))].sort()) rules.add(new Option(rule, rule));
  $("#findings-tools").hidden = false;
  showFindings();
}

function showFindings() {
  const rule = $("#rule-filter").value, severity = $("#severity-filter").value;
  const shown = state.report.findings.filter((f) => (!rule || f.rule === rule) && (!severity || f.severity === severity));
  const body = $("#findings tbody");
  body.textContent = "";
  for (const f of shown.slice(0, 2000)) {
    const row = body.insertRow();
    cell(row, f.severity, f.severity);
    cell(row, f.rule);
    cell(row, f.file);
    cell(row, f.row);
    cell(row, f.message);
  }
  $("#findings").hidden = !shown.length;
  $("#findings-count").textContent = `${shown.length} of ${state.report.findings.length} findings`;
}

$("#rule-filter").addEventListener("change", showFindings);
$("#severity-filter").addEventListener("change", showFindings);

function download(name, type, text) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([text], { type }));
  link.download = name;
  document.body.append(link);
  link.click();
  link.remove();
}

function csvField(value) {
  const text = value === null || value === undefined ? "" : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

$("#download-json").addEventListener("click", () => {
  const { status, findings } = state.report;
  download(`luna-dataset-${status.dataset_id}.json`, "application/json", JSON.stringify({ ...status, findings_all: findings }, null, 2));
});

$("#download-csv").addEventListener("click", () => {
  const { status, findings } = state.report;
  const lines = ["rule,severity,file,row,message", ...findings.map((f) => [f.rule, f.severity, f.file, f.row, f.message].map(csvField).join(","))];
  download(`luna-dataset-${status.dataset_id}-findings.csv`, "text/csv", lines.join("\r\n") + "\r\n");
});

// ------------------------------------------------------------------ datasets and the service

async function loadDatasets() {
  try {
    const page = await api("/datasets?limit=100");
    const body = $("#datasets tbody");
    body.textContent = "";
    for (const d of page.items) {
      const row = body.insertRow();
      row.dataset.id = d.dataset_id;
      cell(row, d.dataset_id);
      cell(row, d.team, "team-column");
      cell(row, d.dataset_name);
      cell(row, new Date(d.created_at).toLocaleString());
      cell(row, `${d.files} (${bytes(d.bytes)})`);
      cell(row, d.status);
      cell(row, d.verdict || "", d.verdict || "");
      const open = document.createElement("button");
      open.type = "button";
      open.textContent = "Report";
      open.disabled = d.status === "uploading" || d.status === "abandoned";
      open.addEventListener("click", () => follow(d.dataset_id, d.dataset_name));
      row.insertCell().append(open);
    }
  } catch (error) {
    if (error.status !== 401) say(describeProblem(error));
  }
}

$("#refresh-datasets").addEventListener("click", loadDatasets);

async function loadOverview() {
  let view;
  try {
    view = await api("/admin/overview");
  } catch (error) {
    if (error.status !== 401) say(describeProblem(error));
    return;
  }
  $("#queue-length").textContent = view.queue.length;
  $("#oldest-job").textContent = view.queue.oldest_job_age_s ? `${age(view.queue.oldest_job_age_s)} old` : "none waiting";
  const workers = $("#workers tbody");
  workers.textContent = "";
  for (const w of view.workers) {
    const row = workers.insertRow();
    [w.worker, w.mode, w.validators, w.busy, `${w.seen_s_ago} s ago`].forEach((v) => cell(row, v));
  }
  if (!view.workers.length) cell(workers.insertRow(), "No validator is running: start `luna worker` (or serve with LUNA_VALIDATORS > 0).");
  const quotas = $("#quotas tbody");
  quotas.textContent = "";
  for (const t of view.teams) {
    const row = quotas.insertRow();
    cell(row, t.team);
    cell(row, t.datasets);
    cell(row, `${t.datasets_today} / ${t.datasets_per_day}`, t.datasets_today >= t.datasets_per_day ? "rejected" : "");
    cell(row, `${bytes(t.bytes_stored)} / ${bytes(t.bytes_stored_limit)}`);
    cell(row, new Date(t.datasets_reset_at).toLocaleString());
  }
}

// ------------------------------------------------------------------ start

(function start() {
  const token = sessionStorage.getItem("luna.token");
  let valid = false;
  try { valid = Boolean(token) && decodeClaims(token).exp * 1000 > Date.now(); } catch (_) { valid = false; }
  if (token && !valid) say("Your session has expired: log in again.");
  setSession(valid ? token : null);
})();
