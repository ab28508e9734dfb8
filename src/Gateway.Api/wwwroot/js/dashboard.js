// The dashboard: asks for an API key, follows every call the key may see live over the hub, and places, hangs up and
// transfers calls through the REST API. Call state only ever comes from the gateway (snapshot + events); the page never
// guesses it from its own requests.

import { GatewayApi, ProblemError } from "./api.js";
import { CallsView } from "./calls-view.js";
import { CallStream } from "./stream.js";

const KEY_STORAGE = "active-calls-gateway.api-key";

const $ = (id) => document.getElementById(id);
const keyForm = $("key-form");
const keyInput = $("api-key");
const keyHint = $("key-hint");
const placeForm = $("place-form");
const statusElement = $("connection-status");
const cursorElement = $("connection-cursor");
const problemElement = $("problem");
const noticeElement = $("notice");

let api = null;
let stream = null;
// The highest event sequence applied per call: the hub never repeats or reorders a call's events, and this makes
// sure of it here too (a REST answer or a snapshot never rolls a call back past an event already shown).
const sequences = new Map();

const view = new CallsView({ hangUp, transfer });

const STATUS_TEXT = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  resubscribed: "Connected (resubscribed)",
  disconnected: "Not connected",
};

function setStatus(state, detail) {
  statusElement.dataset.status = state;
  statusElement.textContent = detail ? `${STATUS_TEXT[state]}: ${detail}` : STATUS_TEXT[state];
}

function setCursor(cursor) {
  cursorElement.hidden = cursor === null;
  $("cursor-value").textContent = cursor ?? "";
}

function notify(message) {
  noticeElement.textContent = message;
}

function clearProblem() {
  problemElement.hidden = true;
  problemElement.replaceChildren();
}

/** Shows a problem+json body the way the API wrote it: title, status and code, detail, and per-field errors. */
function showProblem(error, action) {
  const problem = error instanceof ProblemError ? error.problem : { title: "Unexpected error", detail: String(error?.message ?? error) };
  const heading = document.createElement("p");
  const title = document.createElement("strong");
  title.textContent = `${action} failed: ${problem.title ?? "error"}`;
  heading.append(title);
  const status = error instanceof ProblemError && error.status ? error.status : problem.status;
  if (status || problem.code) heading.append(` (${[status, problem.code].filter(Boolean).join(", ")})`);
  const parts = [heading];
  if (problem.detail) {
    const detail = document.createElement("p");
    detail.textContent = problem.detail;
    parts.push(detail);
  }
  if (problem.errors && typeof problem.errors === "object") {
    const list = document.createElement("ul");
    for (const [field, messages] of Object.entries(problem.errors)) {
      const item = document.createElement("li");
      const name = document.createElement("code");
      name.textContent = field;
      item.append(name, `: ${[].concat(messages).join(" ")}`);
      list.append(item);
    }
    parts.push(list);
  }
  if (error instanceof ProblemError && error.retryAfter) {
    const retry = document.createElement("p");
    retry.textContent = `Try again in ${error.retryAfter} s.`;
    parts.push(retry);
  }
  problemElement.replaceChildren(...parts);
  problemElement.hidden = false;
}

// --- call state -------------------------------------------------------------------------------------------------

function applyEvent(callEvent) {
  const id = callEvent.call.id;
  if (callEvent.sequence <= (sequences.get(id) ?? 0)) return;
  sequences.set(id, callEvent.sequence);
  view.show(callEvent.call, callEvent);
}

/** A snapshot lists the calls as of its cursor. A call shown as active that it leaves out ended (or was evicted)
 *  while the page was away: its final state is read from the API. */
async function applySnapshot(snapshot) {
  // A reset may come from a restarted gateway, whose calls count their events from 1 again.
  if (snapshot.reset) sequences.clear();
  const reader = api;
  const listed = new Set(snapshot.calls.map((call) => call.id));
  for (const call of snapshot.calls) view.show(call);
  const vanished = [...document.querySelectorAll("#active-calls > li")]
    .map((item) => item.dataset.callId)
    .filter((id) => !listed.has(id));
  for (const id of vanished) {
    if (reader !== api) return; // the user disconnected or changed keys meanwhile
    try {
      view.show(await reader.getCall(id));
    } catch (error) {
      if (error instanceof ProblemError && error.status === 404) view.remove(id);
      else showProblem(error, `Reading call ${id}`);
    }
  }
}

/** A call the page just placed shows at once; the hub's events take it from there (a later event always wins). */
function showAccepted(call) {
  if (!sequences.has(call.id) && !document.querySelector(`#active-calls > li[data-call-id="${CSS.escape(call.id)}"]`)) view.show(call);
}

// --- actions ----------------------------------------------------------------------------------------------------

async function run(button, action, work) {
  clearProblem();
  button.disabled = true;
  try {
    await work();
    return true;
  } catch (error) {
    showProblem(error, action);
    return false;
  } finally {
    button.disabled = false;
  }
}

function requireKey(action) {
  if (api !== null) return true;
  showProblem(new ProblemError({ title: "No API key", detail: "Enter an API key and connect first." }, 0), action);
  keyInput.focus();
  return false;
}

async function hangUp(call, button) {
  if (!requireKey("Hang-up")) return;
  await run(button, `Hang-up of call ${call.id}`, async () => {
    const accepted = await api.hangUp(call.id);
    notify(accepted.state === "ended" ? `Call ${call.id} had already ended.` : `Hang-up of call ${call.id} requested.`);
  });
}

async function transfer(call, endpoint, target, form) {
  if (!requireKey("Transfer")) return;
  await run(form.querySelector("button"), `Transfer of call ${call.id}`, async () => {
    await api.transfer(call.id, endpoint, target);
    notify(`Transfer of the ${endpoint} of call ${call.id} to ${target} requested.`);
    form.reset();
  });
}

placeForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  if (!requireKey("Placing a call")) return;
  const data = new FormData(placeForm);
  const from = String(data.get("from") ?? "").trim();
  const to = String(data.get("to") ?? "").trim();
  await run(placeForm.querySelector("button[type=submit]"), "Placing the call", async () => {
    const call = await api.placeCall(from, to);
    showAccepted(call);
    notify(`Call ${call.id} placed: ${from} to ${to}.`);
  });
});

// --- key and connection -----------------------------------------------------------------------------------------

async function connect(key) {
  await disconnect();
  const candidate = new GatewayApi(key);
  setStatus("connecting");
  try {
    await candidate.checkKey();
  } catch (error) {
    setStatus("disconnected", "the API key was not accepted");
    showProblem(error, "Connecting");
    return;
  }
  sessionStorage.setItem(KEY_STORAGE, key);
  api = candidate;
  stream = new CallStream(key, {
    status: setStatus,
    cursor: setCursor,
    event: applyEvent,
    snapshot: (snapshot) => void applySnapshot(snapshot),
  });
  await stream.start();
}

async function disconnect() {
  const current = stream;
  api = null;
  stream = null;
  sequences.clear();
  view.clear();
  setCursor(null);
  setStatus("disconnected");
  if (current !== null) await current.stop();
}

keyForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const key = keyInput.value.trim();
  if (key === "") {
    showProblem(new ProblemError({ title: "No API key", detail: "Enter the API key the gateway gave you." }, 0), "Connecting");
    keyInput.focus();
    return;
  }
  clearProblem();
  await connect(key);
});

$("forget-key").addEventListener("click", async () => {
  sessionStorage.removeItem(KEY_STORAGE);
  keyInput.value = "";
  clearProblem();
  notify("The API key was forgotten.");
  await disconnect();
});

async function init() {
  const stored = sessionStorage.getItem(KEY_STORAGE);
  if (stored !== null) {
    keyInput.value = stored;
    await connect(stored);
    return;
  }
  try {
    const response = await fetch("dashboard/settings", { cache: "no-store" });
    const settings = response.ok ? await response.json() : {};
    if (settings.devApiKey) {
      keyInput.value = settings.devApiKey;
      keyHint.textContent = "Development: the dev API key is filled in. Press Connect.";
    }
  } catch {
    // Without the settings the user simply types the key.
  }
}

void init();
