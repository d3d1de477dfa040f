// Sweep's batch pages: live progress from each batch's event stream (GET {api}/batch/{id}/events)
// and the actions of a batch's page, sent to the REST API on the same origin.
"use strict";

// Browsers open at most 6 HTTP/1.1 connections per origin: the list streams this many batches
// and reads the others' statistics every few seconds, so other requests still get a connection.
const MAX_STREAMS = 4;
const POLL_MS = 3000;

const api = () => document.body.dataset.api || "/engine-rest";

function formatEta(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  const s = seconds % 60;
  return (h ? h + " h " : "") + (h || m ? m + " min " : "") + s + " s";
}

function stateOf(kind, data) {
  if (kind !== "progress") return kind;
  if (data.failedJobs > 0 && data.remainingJobs === data.failedJobs) return "failed";
  if (data.suspended) return "suspended";
  return data.waitingForWindow ? "waiting" : "running";
}

function render(root, kind, data) {
  const processed = (data.deletedInstances || 0) + (data.skippedInstances || 0) + (data.failedInstances || 0);
  root.querySelectorAll("[data-field]").forEach((el) => {
    const field = el.dataset.field;
    if (field === "bar") {
      el.max = Math.max(data.totalInstances || 0, 1);
      el.value = processed;
    } else if (field === "processed") {
      el.textContent = processed;
    } else if (field === "state") {
      const state = stateOf(kind, data);
      el.textContent = state;
      el.dataset.state = state;
    } else if (field === "etaSeconds") {
      el.textContent = formatEta(data.etaSeconds);
    } else if (field === "runWindow") {
      if (field in data) {
        const w = data.runWindow;
        el.textContent = w ? w.start + "\u2013" + w.end + " " + w.timeZone : "always";
      }
    } else if (field === "maxInstancesPerSecond" || field === "maxConcurrentJobs") {
      if (field in data) el.textContent = data[field] === null ? "unlimited" : data[field];
    } else if (field === "waitingForWindow") {
      if (field in data) el.textContent = data[field] ? "yes" : "no";
    } else if (field in data && data[field] !== null) {
      el.textContent = data[field];
    }
  });
  root.dataset.events = String(Number(root.dataset.events || 0) + 1);
  if (kind !== "progress") {
    root.dataset.live = "false";
    // A batch that stalled on failed jobs is still there: its failed items can be retried.
    const stalled = kind === "failed" && !data.endTime;
    root.querySelectorAll("[data-action]").forEach((b) => {
      const action = b.dataset.action;
      b.disabled = !stalled || (action === "retry" ? !(data.failedInstances > 0) : action !== "cancel");
    });
  } else {
    root.querySelectorAll("[data-action=suspend]").forEach((b) => (b.hidden = data.suspended));
    root.querySelectorAll("[data-action=resume]").forEach((b) => (b.hidden = !data.suspended));
    root.querySelectorAll("[data-action=retry]").forEach((b) => (b.disabled = !(data.failedInstances > 0)));
  }
}

function watch(root) {
  const id = root.dataset.batch;
  const source = new EventSource(api() + "/batch/" + encodeURIComponent(id) + "/events");
  for (const kind of ["progress", "completed", "failed", "deleted"]) {
    source.addEventListener(kind, (event) => {
      render(root, kind, JSON.parse(event.data));
      if (kind !== "progress") source.close();
    });
  }
  return source;
}

const ACTIONS = {
  suspend: { ask: "Suspend this batch? Workers stop taking its jobs.", method: "PUT", path: "/suspended", body: { suspended: true } },
  resume: { ask: "Resume this batch?", method: "PUT", path: "/suspended", body: { suspended: false } },
  retry: { ask: "Retry the failed items of this batch?", method: "POST", path: "/retry-failed-items" },
  cancel: { ask: "Cancel this batch? Instances not deleted yet stay.", method: "DELETE", path: "" },
};

async function act(root, name) {
  const action = ACTIONS[name];
  if (!window.confirm(action.ask)) return;
  const message = document.getElementById("message");
  const init = { method: action.method, headers: { Accept: "application/json" } };
  if (action.body) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(action.body);
  }
  try {
    const response = await fetch(api() + "/batch/" + encodeURIComponent(root.dataset.batch) + action.path, init);
    if (!response.ok) {
      let detail = response.statusText;
      try {
        detail = (await response.json()).message || detail;
      } catch (_) {}
      message.textContent = name + " failed: " + detail;
      message.dataset.kind = "error";
      return;
    }
  } catch (e) {
    message.textContent = name + " failed: " + e;
    message.dataset.kind = "error";
    return;
  }
  // The page reads the new state as the server has it.
  window.location.reload();
}

// The batches beyond MAX_STREAMS, from one `GET /batch/statistics` per interval.
function poll(rows) {
  const byId = new Map(rows.map((row) => [row.dataset.batch, row]));
  const tick = async () => {
    try {
      // The list's own order and length, so every row of it is in the answer.
      const response = await fetch(api() + "/batch/statistics?sortBy=startTime&sortOrder=desc&maxResults=100");
      if (!response.ok) return;
      for (const stats of await response.json()) {
        const row = byId.get(stats.id);
        if (row) render(row, "progress", stats);
      }
    } catch (_) {
      // The next tick tries again.
    }
  };
  window.setInterval(tick, POLL_MS);
}

document.addEventListener("DOMContentLoaded", () => {
  const live = [...document.querySelectorAll("[data-batch][data-live=true]")];
  live.slice(0, MAX_STREAMS).forEach(watch);
  if (live.length > MAX_STREAMS) poll(live.slice(MAX_STREAMS));
  document.querySelectorAll("[data-action]").forEach((button) => {
    const root = button.closest("[data-batch]");
    button.addEventListener("click", () => act(root, button.dataset.action));
  });
});
