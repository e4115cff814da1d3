extension Page {
    /// `/page.js`: plain JavaScript over the page's API (`/pitch/v1`, see ``PitchPage``). Text
    /// from the model or a customer list only ever reaches the page as `textContent`.
    static let script = #"""
"use strict";
const $ = (id) => document.getElementById(id);
const checkNames = { name: "names the customer", product: "names the product", language: "right language", ending: "complete" };
const fieldIds = ["name", "age", "gender", "job", "interests", "behavior", "product", "industry"];
const state = { rows: [], byKey: new Map(), polling: null, lastPitches: -1 };

function element(tag, props = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  for (const child of children) if (child != null) node.append(child);
  return node;
}

// ---- the API ------------------------------------------------------------------------------
function headers(extra = {}) {
  const key = sessionStorage.getItem("apiKey");
  return key ? { ...extra, Authorization: "Bearer " + key } : extra;
}

class APIError extends Error {
  constructor(message, status, param) { super(message); this.status = status; this.param = param; }
}

async function api(path, options = {}) {
  let response;
  try {
    response = await fetch("/pitch/v1/" + path, { ...options, headers: headers(options.headers) });
  } catch (_) {
    throw new APIError("Cannot reach the server: is generate serve still running?", 0, null);
  }
  if (!response.ok) {
    let message = response.status + " " + response.statusText, param = null;
    try { const body = await response.json(); message = body.error.message; param = body.error.param; } catch (_) {}
    if (response.status === 401) showLogin(message);
    throw new APIError(message, response.status, param);
  }
  return response;
}
const getJSON = async (path) => (await api(path)).json();
const postJSON = async (path, body) =>
  (await api(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) }));

// One JSON object per line, as the server writes them.
async function* jsonLines(response) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, end);
      buffer = buffer.slice(end + 1);
      if (line.trim()) yield JSON.parse(line);
    }
  }
  if (buffer.trim()) yield JSON.parse(buffer);
}

// ---- sign-in ------------------------------------------------------------------------------
function showLogin(message) {
  $("login-section").hidden = false;
  $("app").hidden = true;
  $("logout").hidden = true;
  $("model-line").textContent = "Sign in to continue.";
  $("login-error").textContent = sessionStorage.getItem("apiKey") ? message : "";
  $("api-key").focus();
}

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  sessionStorage.setItem("apiKey", $("api-key").value);
  start();
});

$("logout").addEventListener("click", () => {
  sessionStorage.removeItem("apiKey");
  $("api-key").value = "";
  showLogin("");
});

// ---- settings -----------------------------------------------------------------------------
const settingIds = ["temperature", "max-tokens", "variants", "seed", "language"];
function settings() {
  const value = (id) => $(id).value.trim();
  localStorage.setItem("pitchSettings", JSON.stringify(Object.fromEntries(settingIds.map((id) => [id, value(id)]))));
  return { temperature: value("temperature"), max_tokens: value("max-tokens"), variants: value("variants"),
           seed: value("seed"), language: value("language") };
}

// The settings of the last pitch or list, as they were (a reload keeps them).
function restoreSettings() {
  try {
    const saved = JSON.parse(localStorage.getItem("pitchSettings") || "{}");
    for (const id of settingIds) if (typeof saved[id] === "string") $(id).value = saved[id];
  } catch (_) {}
}

const plural = (count, word) => count + " " + word + (count === 1 ? "" : "s");

const paramIds = { max_tokens: "max-tokens", temperature: "temperature", variants: "variants", seed: "seed", language: "language" };
function markInvalid(param) {
  for (const input of document.querySelectorAll("[aria-invalid]")) input.removeAttribute("aria-invalid");
  const input = param && $(paramIds[param] || param);
  if (input) { input.setAttribute("aria-invalid", "true"); input.focus(); }
}

// ---- one customer -------------------------------------------------------------------------
function checksList(row, title) {
  const passed = (row.checks || "").split(" ");
  const list = element("ul");
  for (const [check, label] of Object.entries(checkNames)) {
    const pass = passed.includes(check);
    list.append(element("li", { className: pass ? "pass" : "fail", textContent: label + (pass ? "" : " (failed)") }));
    list.lastChild.dataset.check = check;
  }
  const box = element("div", {}, title ? element("h3", { textContent: title }) : null, list);
  return box;
}

$("customer-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  $("form-error").textContent = "";
  markInvalid(null);
  const fields = {};
  for (const id of fieldIds) if ($(id).value.trim()) fields[id] = $(id).value.trim();
  for (const id of ["name", "product"]) {
    if (!fields[id]) { $("form-error").textContent = "Give the customer's " + id + "."; markInvalid(id); return; }
  }
  const button = $("write");
  button.disabled = true;
  button.textContent = "Writing…";
  $("pitch").replaceChildren();
  $("checks").replaceChildren();
  $("pitch").classList.toggle("many", Number($("variants").value) > 1);
  const boxes = new Map();
  const box = (variant) => {
    if (!boxes.has(variant)) {
      const node = element("div", { className: "variant" });
      node.dataset.variant = variant;
      boxes.set(variant, node);
      $("pitch").append(node);
    }
    return boxes.get(variant);
  };
  const rows = [];
  try {
    const response = await postJSON("pitch", { fields, ...settings() });
    for await (const event of jsonLines(response)) {
      if (event.event === "text") {
        box(event.variant).append(event.text);
      } else if (event.event === "redraw") {
        const failed = event.failed.map((check) => checkNames[check] || check).join(", ");
        box(event.variant).replaceChildren(element("span", { className: "note", textContent: "Failed: " + failed + " · drawing again" }));
      } else if (event.event === "pitch") {
        rows.push(event.row);
      } else if (event.event === "error") {
        throw new APIError(event.message);
      }
    }
    // the kept draws, best first (a redraw can keep an earlier one)
    $("pitch").replaceChildren();
    $("checks").replaceChildren();
    for (const row of rows) {
      const node = box(row.variant);
      node.replaceChildren(row.pitch.trim());
      $("pitch").append(node);
      const title = rows.length > 1 ? "Variant " + row.variant + " (rank " + row.rank + ")" : null;
      $("checks").append(checksList(row, title));
    }
    await loadRows();
  } catch (error) {
    $("form-error").textContent = error.message;
    markInvalid(error.param);
  } finally {
    button.disabled = false;
    button.textContent = "Write pitch";
  }
});

// ---- a customer list ----------------------------------------------------------------------
$("customers").addEventListener("change", async () => {
  const file = $("customers").files[0];
  if (!file) return;
  $("list-error").textContent = "";
  markInvalid(null);
  const query = new URLSearchParams({ name: file.name, ...settings() });
  if (state.maxUpload && file.size > state.maxUpload) {
    $("list-error").textContent = file.name + " is " + (file.size / 1048576).toFixed(1) + " MB, larger than the " +
      Math.round(state.maxUpload / 1048576) + " MB the page takes: split the list, or run generate pitch --customers on it.";
    $("customers").value = "";
    return;
  }
  try {
    const response = await api("lists?" + query, { method: "POST", headers: { "Content-Type": "text/csv" }, body: file });
    showRun(await response.json());
  } catch (error) {
    $("list-error").textContent = error.message;
    if (error.status !== 409) $("list-status").hidden = true;  // not an earlier list's figures under this error
    markInvalid(error.param === "customers" ? null : error.param);
  } finally {
    $("customers").value = "";
  }
});

$("stop").addEventListener("click", async () => {
  if (state.run) showRun(await (await api("lists/" + state.run + "/stop", { method: "POST" })).json());
});

function clock(seconds) {
  const s = Math.max(0, Math.round(seconds));
  return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
}

function showRun(run) {
  state.run = run.id;
  $("list-status").hidden = false;
  $("progress").max = Math.max(run.total, 1);
  $("progress").value = run.total ? run.done : 1;
  const parts = [run.name + ": " + run.done + "/" + plural(run.total, "customer"),
                 plural(run.pitches, "pitch").replace("pitchs", "pitches") + " (" + run.passed + " passed every check)"];
  if (run.skipped) parts.push(run.skipped + " already written");
  if (run.rejected.length) parts.push(run.rejected.length + " rejected");
  if (run.running) parts.push(run.eta_s != null ? "ETA " + clock(run.eta_s) : "ETA --:--");
  else parts.push(run.stopped ? "stopped" : "done in " + clock(run.elapsed_s));
  if (run.error) parts.push("error: " + run.error);
  $("progress-text").textContent = parts.join(" · ");
  const body = $("rejected").tBodies[0];
  body.replaceChildren(...run.rejected.map((row) =>
    element("tr", {}, element("td", { textContent: row.line ?? "" }), element("td", { textContent: row.id ?? "" }),
            element("td", { textContent: row.reason }))));
  $("rejected").hidden = run.rejected.length === 0;
  $("stop").hidden = !run.running;
  if (run.pitches !== state.lastPitches) { state.lastPitches = run.pitches; loadRows(); }
  clearTimeout(state.polling);
  if (run.running) {
    state.polling = setTimeout(async () => {
      try { showRun(await getJSON("lists/" + run.id)); } catch (error) { $("list-error").textContent = error.message; }
    }, 700);
  }
}

// ---- review -------------------------------------------------------------------------------
const decisionText = { accept: "accepted", reject: "rejected", edit: "edited" };
const keyOf = (row) => row.id + "\u0000" + row.variant;

async function loadRows() {
  const { rows } = await getJSON("pitches?from=" + state.rows.length);
  for (const row of rows) {
    if (state.byKey.has(keyOf(row))) continue;
    state.rows.push(row);
    state.byKey.set(keyOf(row), row);
    $("results").tBodies[0].append(renderRow(row));
  }
  counts();
}

function counts() {
  const decided = { accept: 0, reject: 0, edit: 0 };
  for (const row of state.rows) if (row.decision) decided[row.decision] += 1;
  const open = state.rows.length - decided.accept - decided.reject - decided.edit;
  $("review-counts").textContent = plural(state.rows.length, "pitch").replace("pitchs", "pitches") + ": " + decided.accept + " accepted, " + decided.edit +
    " edited, " + decided.reject + " rejected, " + open + " to review";
  $("no-results").hidden = state.rows.length > 0;
}

function renderRow(row) {
  const tr = element("tr");
  tr.dataset.id = row.id;
  tr.dataset.variant = row.variant;
  fillRow(tr, row);
  return tr;
}

function fillRow(tr, row) {
  tr.className = row.decision || "";
  const passed = (row.checks || "").split(" ").filter(Boolean);
  const badges = element("span", { className: "badges" }, ...Object.keys(checkNames).map((check) =>
    element("span", { className: passed.includes(check) ? "badge ok" : "badge", textContent: (passed.includes(check) ? "✓ " : "✗ ") + checkNames[check] })));
  const text = element("td", { className: "text" });
  if (row.decision === "edit") {
    text.append(row.edited, element("span", { className: "original", textContent: row.pitch.trim() }));
  } else {
    text.append(row.pitch.trim());
  }
  text.append(badges);
  const decision = row.decision ? decisionText[row.decision] + (row.reason ? ": " + row.reason : "") : "";
  const button = (name, label) => {
    const node = element("button", { type: "button", className: name, textContent: label });
    node.setAttribute("aria-label", label + " pitch " + row.id + " variant " + row.variant);
    return node;
  };
  const review = element("td", { className: "review" }, button("accept", "Accept"), button("reject", "Reject"), button("edit", "Edit"));
  review.querySelector(".accept").addEventListener("click", () => decide(tr, { decision: "accept" }));
  review.querySelector(".reject").addEventListener("click", () => openEditor(tr, "reject"));
  review.querySelector(".edit").addEventListener("click", () => openEditor(tr, "edit"));
  tr.replaceChildren(
    element("td", { className: "customer", textContent: row.id + (row.variant > 1 || row.rank > 1 ? " · v" + row.variant : "") }),
    element("td", { className: "profile", textContent: (row.prompt || "").replace(/\n?(Pitch:|话术：)\s*$/, "") }),
    text, element("td", { className: "decision", textContent: decision }), review);
}

// Reject asks for a reason, edit for the new text, in place; Enter (Ctrl+Enter in the text)
// saves, Escape cancels.
function openEditor(tr, kind) {
  const row = state.byKey.get(tr.dataset.id + "\u0000" + tr.dataset.variant);
  const close = () => { fillRow(tr, row); tr.querySelector("button." + kind).focus(); };
  const cell = tr.querySelector("td.review");
  const input = kind === "edit"
    ? element("textarea", { className: "edit-text", value: row.decision === "edit" ? row.edited : row.pitch.trim() })
    : element("input", { className: "reason", placeholder: "Reason (optional)" });
  input.setAttribute("aria-label", kind === "edit" ? "New text of the pitch" : "Why it is rejected");
  const save = element("button", { type: "button", className: "save primary", textContent: kind === "edit" ? "Save" : "Reject" });
  const cancel = element("button", { type: "button", className: "cancel", textContent: "Cancel" });
  const problem = element("p", { className: "error", role: "alert" });
  const editor = element("div", { className: "editor" }, input, save, cancel, problem);
  const submit = () => {
    if (kind === "edit" && !input.value.trim()) { problem.textContent = "Write the new text first (or Cancel)."; input.focus(); return; }
    decide(tr, kind === "edit" ? { decision: "edit", edited: input.value } : { decision: "reject", reason: input.value });
  };
  save.addEventListener("click", submit);
  cancel.addEventListener("click", close);
  input.addEventListener("keydown", (event) => {
    if (event.key === "Escape") close();
    else if (event.key === "Enter" && (kind === "reject" || event.ctrlKey || event.metaKey)) { event.preventDefault(); submit(); }
  });
  cell.replaceChildren(editor);
  input.focus();
}

async function decide(tr, decision) {
  try {
    const saved = await (await postJSON("feedback", { id: tr.dataset.id, variant: Number(tr.dataset.variant), ...decision })).json();
    const row = state.byKey.get(keyOf(saved));
    Object.assign(row, { decision: saved.decision, edited: saved.edited, reason: saved.reason });
    fillRow(tr, row);
    counts();
    tr.querySelector("button." + decision.decision)?.focus();
  } catch (error) {
    const cell = tr.querySelector("td.review");
    cell.querySelector(".error")?.remove();
    cell.append(element("p", { className: "error", role: "alert", textContent: error.message }));
  }
}

// Downloads go through fetch, so that they carry the API key.
for (const [id, name] of [["download-pitches", "pitches.csv"], ["download-feedback", "feedback.jsonl"], ["download-dataset", "dataset.jsonl"]]) {
  $(id).addEventListener("click", async () => {
    try {
      const blob = await (await api("files/" + name)).blob();
      const link = element("a", { href: URL.createObjectURL(blob), download: name });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(link.href), 10000);
    } catch (error) {
      $("review-error").textContent = error.message;
    }
  });
}

// Another tab may have decided since: a tab coming back into view shows the workspace as it is.
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible" && !$("app").hidden) reloadRows().catch(() => {});
});

async function reloadRows() {
  const { rows } = await getJSON("pitches?from=0");
  state.rows = [];
  state.byKey.clear();
  $("results").tBodies[0].replaceChildren();
  for (const row of rows) {
    state.rows.push(row);
    state.byKey.set(keyOf(row), row);
    $("results").tBodies[0].append(renderRow(row));
  }
  counts();
}

// ---- start --------------------------------------------------------------------------------
async function start() {
  let config;
  try {
    config = await getJSON("config");
  } catch (error) {
    if (error.status !== 401) $("model-line").textContent = "Cannot reach the server: " + error.message;
    return;
  }
  $("login-section").hidden = true;
  $("app").hidden = false;
  $("logout").hidden = !sessionStorage.getItem("apiKey");
  $("model-line").textContent = "Model " + config.model + " · saved in " + config.workspace;
  state.maxUpload = config.max_upload_bytes;
  $("max-upload").textContent = Math.round(config.max_upload_bytes / 1048576) + " MB";
  restoreSettings();
  await reloadRows();
  const runs = await getJSON("lists");
  if (runs.length) showRun(runs[0]);
}
start();
"""#
}
