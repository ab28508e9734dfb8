// Renders calls (the REST CallResource shape) as list items built from the page's <template id="call-template">.
// Each call keeps its element: updates change it in place, so focus and half-typed transfer targets survive events.

const MAX_RECENT = 20;

const ROLE_ORDER = { caller: 0, callee: 1 };

function legAddress(leg) {
  return leg.toUri ?? leg.toAor ?? leg.node ?? "unknown";
}

/** The parties as the user knows them: the create request's from/to, else what the legs say. */
function parties(call) {
  const caller = call.legs.find((leg) => leg.role === "caller");
  const callee = call.legs.find((leg) => leg.role === "callee");
  return {
    from: call.from ?? callee?.fromUri ?? caller?.toUri ?? "unknown caller",
    to: call.to ?? callee?.toUri ?? "unknown callee",
  };
}

function text(element, value) {
  if (element.textContent !== value) element.textContent = value;
}

function formatTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleTimeString();
}

export class CallsView {
  #template;
  #activeList;
  #recentList;
  #elements = new Map();
  #actions;

  /** actions: hangUp(call, button), transfer(call, endpoint, target, form). */
  constructor(actions) {
    this.#template = document.getElementById("call-template");
    this.#activeList = document.getElementById("active-calls");
    this.#recentList = document.getElementById("recent-calls");
    this.#actions = actions;
    this.activeCount = document.getElementById("active-count");
    this.activeEmpty = document.getElementById("active-empty");
    this.recentEmpty = document.getElementById("recent-empty");
  }

  clear() {
    this.#elements.clear();
    this.#activeList.replaceChildren();
    this.#recentList.replaceChildren();
    this.#updateCounts();
  }

  /** Shows the call where its state puts it: active calls in order of creation, ended ones newest first. An event
   *  (type, occurredAt) also goes on the call's progress list: what happened while the page watched. */
  show(call, event) {
    let item = this.#elements.get(call.id);
    if (item === undefined) {
      item = this.#create(call);
      this.#elements.set(call.id, item);
    }
    this.#fill(item, call);
    // call.updated changes only legs, which the legs table shows; the progress list keeps the call's own states.
    if (event !== undefined && event.type !== "call.updated") this.#addProgress(item, event);
    if (call.state === "ended") {
      if (item.parentElement !== this.#recentList) this.#retire(item);
    } else if (item.parentElement !== this.#activeList) {
      this.#insertActive(item, call);
    }
    this.#updateCounts();
  }

  /** Takes away a call the gateway no longer knows (evicted while the page was not connected). */
  remove(id) {
    this.#elements.get(id)?.remove();
    this.#elements.delete(id);
    this.#updateCounts();
  }

  #create(call) {
    const item = this.#template.content.firstElementChild.cloneNode(true);
    const titleId = `call-${call.id}-title`;
    item.querySelector(".call-title").id = titleId;
    item.querySelector(".call-card").setAttribute("aria-labelledby", titleId);
    const hangUp = item.querySelector(".hang-up");
    hangUp.setAttribute("aria-describedby", titleId);
    hangUp.addEventListener("click", () => this.#actions.hangUp(item.call, hangUp));
    const transfer = item.querySelector(".transfer");
    transfer.addEventListener("submit", (event) => {
      event.preventDefault();
      const data = new FormData(transfer);
      this.#actions.transfer(item.call, data.get("endpoint"), String(data.get("target") ?? "").trim(), transfer);
    });
    return item;
  }

  #fill(item, call) {
    item.call = call;
    item.dataset.callId = call.id;
    item.dataset.state = call.state;
    const { from, to } = parties(call);
    const title = item.querySelector(".call-title");
    if (title.dataset.parties !== `${from} ${to}`) {
      title.dataset.parties = `${from} ${to}`;
      const arrow = document.createElement("span");
      arrow.setAttribute("aria-hidden", "true");
      arrow.textContent = " → ";
      const spoken = document.createElement("span");
      spoken.className = "visually-hidden";
      spoken.textContent = " to ";
      title.replaceChildren(from, arrow, spoken, to);
    }
    const state = item.querySelector(".state-name");
    text(state, call.state);
    state.dataset.state = call.state;
    text(item.querySelector(".end-reason"), call.endReason ? ` (${call.endReason})` : "");
    text(item.querySelector(".id"), call.id);
    const updated = item.querySelector(".updated");
    updated.dateTime = call.updatedAt;
    text(updated, formatTime(call.updatedAt));
    text(item.querySelector(".legs-caption"), `Legs of call ${call.id}`);
    this.#fillLegs(item, call.legs);

    const transfer = item.querySelector(".transfer fieldset");
    if (transfer !== null) transfer.disabled = call.state !== "connected";
    const hint = item.querySelector(".transfer-hint");
    if (hint !== null) hint.hidden = call.state === "connected";
  }

  #addProgress(item, event) {
    const entry = document.createElement("li");
    const name = document.createElement("span");
    name.className = "event-name";
    name.textContent = event.type.replace(/^call\./, "");
    const time = document.createElement("time");
    time.dateTime = event.occurredAt;
    time.textContent = formatTime(event.occurredAt);
    entry.append(name, " (", time, ")");
    item.querySelector(".progress").append(entry);
  }

  #fillLegs(item, legs) {
    const sorted = [...legs].sort((a, b) =>
      (ROLE_ORDER[a.role] ?? 2) - (ROLE_ORDER[b.role] ?? 2) || a.firstSeenAt.localeCompare(b.firstSeenAt));
    const rows = sorted.map((leg) => {
      const row = document.createElement("tr");
      row.dataset.active = String(leg.active);
      for (const value of [leg.role, legAddress(leg), leg.dialogState ?? "unknown", leg.active ? "yes" : "no"]) {
        const cell = document.createElement("td");
        cell.textContent = value;
        row.append(cell);
      }
      return row;
    });
    item.querySelector(".legs tbody").replaceChildren(...rows);
    item.querySelector(".legs").hidden = rows.length === 0;
    item.querySelector(".no-legs").hidden = rows.length !== 0;
  }

  #insertActive(item, call) {
    const later = [...this.#activeList.children].find((other) => other.call.createdAt > call.createdAt);
    this.#activeList.insertBefore(item, later ?? null);
  }

  /** An ended call keeps its card, greyed and without controls, at the top of "Recently ended". */
  #retire(item) {
    // Moving the element would drop the focus of a user who just pressed its button: keep it on the list instead.
    const hadFocus = item.contains(document.activeElement);
    item.querySelector(".call-actions").remove();
    this.#recentList.prepend(item);
    while (this.#recentList.children.length > MAX_RECENT) {
      const oldest = this.#recentList.lastElementChild;
      this.#elements.delete(oldest.dataset.callId);
      oldest.remove();
    }
    if (hadFocus) {
      const card = item.querySelector(".call-card");
      card.tabIndex = -1;
      card.focus();
    }
  }

  #updateCounts() {
    const active = this.#activeList.children.length;
    text(this.activeCount, String(active));
    this.activeEmpty.hidden = active !== 0;
    this.recentEmpty.hidden = this.#recentList.children.length !== 0;
  }
}
