// Outbound pages: the lead page (click-to-call, outcome) and live campaign progress.
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try { data = await response.json(); } catch (e) { data = {}; }
    if (!response.ok) {
      const error = new Error(data.error || response.statusText);
      error.data = data;
      throw error;
    }
    return data;
  }
  function say(element, message, ok) {
    element.textContent = message;
    element.className = ok ? "ok" : "error";
  }

  // ---- the lead page
  const lead = document.getElementById("lead");
  if (lead) {
    const taskId = lead.dataset.taskId;
    const callResult = document.getElementById("lead-call-result");
    document.getElementById("lead-call").addEventListener("click", async function () {
      const button = this;
      const number = lead.dataset.phone;
      try {
        await post("/api/agent/tasks/" + taskId + "/claim");
        await post("/api/agent/originate", { number: number });
        say(callResult, button.textContent + " ✓", true);
      } catch (error) {
        // A customer marked do-not-call since the list was made: call only with a reason.
        const reason = error.data && error.data.do_not_call ? window.prompt(error.message, "") : "";
        if (reason && reason.trim()) {
          try {
            await post("/api/agent/originate", { number: number, do_not_call_reason: reason });
            say(callResult, button.textContent + " ✓", true);
          } catch (again) { say(callResult, again.message, false); }
        } else {
          say(callResult, error.message, false);
        }
      }
    });
    const mode = document.getElementById("outbound-mode");
    mode.addEventListener("change", async function () {
      const out = document.getElementById("outbound-mode-result");
      try {
        await post("/api/outbound/mode", { outbound: mode.checked });
        say(out, "✓", true);
      } catch (error) {
        mode.checked = !mode.checked;
        say(out, error.message, false);
      }
    });
    const form = document.getElementById("lead-outcome");
    function sync() {
      const chosen = form.querySelector('input[name="outcome"]:checked');
      form.querySelectorAll("fieldset[data-for]").forEach(function (set) {
        set.hidden = !chosen || set.dataset.for !== chosen.value;
      });
    }
    form.addEventListener("change", sync);
    sync();
    form.addEventListener("submit", async function (event) {
      event.preventDefault();
      const chosen = form.querySelector('input[name="outcome"]:checked');
      const conversion = form.querySelector('input[name="conversion"]:checked');
      const out = document.getElementById("lead-result");
      try {
        const result = await post("/api/outbound/tasks/" + taskId + "/outcome", {
          outcome: chosen ? chosen.value : "",
          retry_at: form.retry_at.value,
          reason: form.reason.value,
          conversion: conversion ? conversion.value : "",
          vehicle_model: form.vehicle_model.value,
          quantity: Number(form.quantity.value || 1),
          value_vnd: Number(form.value_vnd.value || 0),
          stage: form.stage.value,
        });
        document.getElementById("lead-status").textContent = result.status_label;
        say(out, result.status_label + " ✓", true);
      } catch (error) {
        say(out, error.message, false);
      }
    });
  }

  // ---- opportunities: move a stage, keep the row's choices and history in step
  const opportunities = document.getElementById("opportunities");
  if (opportunities) {
    opportunities.addEventListener("submit", async function (event) {
      const form = event.target.closest("form.stage-form");
      if (!form) return;
      event.preventDefault();
      const row = form.closest("tr");
      const out = row.querySelector(".stage-result");
      try {
        const result = await post(
          "/api/outbound/opportunities/" + row.dataset.opportunityId + "/stage",
          { stage: form.stage.value }
        );
        row.querySelector(".stage").textContent = result.stage_label;
        form.stage.replaceChildren.apply(form.stage, result.next_stages.map(function (next) {
          return new Option(next.label, next.stage);
        }));
        form.hidden = result.next_stages.length === 0;
        row.querySelector(".stage-closed").hidden = !form.hidden;
        const line = document.createElement("li");
        const change = result.change;
        line.textContent = change.at_text + " · " + change.by + ": " + change.from_label + " → " + change.to_label;
        row.querySelector(".stage-history").appendChild(line);
        say(out, "✓", true);
      } catch (error) {
        say(out, error.message, false);
      }
      out.classList.add("stage-result");  // say() replaced the classes
    });
  }

  // ---- supervisors switch an agent's outbound mode (kept across restarts)
  const modes = document.getElementById("agent-modes");
  if (modes) {
    modes.addEventListener("change", async function (event) {
      const box = event.target.closest("input.agent-mode");
      if (!box) return;
      const row = box.closest("tr");
      const out = row.querySelector(".agent-mode-result");
      try {
        await post("/api/outbound/mode", { outbound: box.checked, agent_id: Number(row.dataset.agentId) });
        say(out, "✓", true);
      } catch (error) {
        box.checked = !box.checked;
        say(out, error.message, false);
      }
      out.classList.add("agent-mode-result");
    });
  }

  // ---- live progress (campaigns and lists)
  if (document.querySelector("[data-live-progress]") && window.EventSource) {
    const source = new EventSource("/outbound/progress/events");
    source.addEventListener("progress", function (event) {
      const data = JSON.parse(event.data);
      document.querySelectorAll('[data-list-id="' + data.list_id + '"]').forEach(function (row) {
        ["items", "called", "reached", "survey_answered"].forEach(function (name) {
          const cell = row.querySelector('[data-count="' + name + '"]');
          if (cell) cell.textContent = String(data[name]);
        });
      });
    });
  }
})();
