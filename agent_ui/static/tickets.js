// Ticket pages: the live inbox (server-sent events → reload the rows) and the ticket
// page's actions (JSON API with the CSRF header; the page reloads to show the result).
(function () {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;

  function show(text, bad) {
    const box = document.getElementById("message");
    if (!box) return;
    box.textContent = text;
    box.className = bad ? "notice bad" : "notice";
    box.hidden = false;
  }

  async function send(url, body, isForm) {
    const options = { method: "POST", headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" };
    if (isForm) {
      options.body = body;
    } else {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body || {});
    }
    const response = await fetch(url, options);
    let data = {};
    try { data = await response.json(); } catch (e) { data = { error: response.statusText }; }
    if (!response.ok) {
      const error = new Error(data.error || response.statusText);
      error.data = data;
      throw error;
    }
    return data;
  }

  // ---- live inbox
  const rows = document.getElementById("inbox-rows");
  if (rows) {
    const state = document.getElementById("live-state");
    const notice = document.getElementById("live-notice");
    // One reload at a time; changes that arrive meanwhile ask for one more afterwards.
    let reloading = false, again = false;
    async function reload() {
      if (reloading) { again = true; return; }
      reloading = true;
      try {
        do {
          again = false;
          const response = await fetch(rows.dataset.source, { credentials: "same-origin" });
          if (response.ok) rows.innerHTML = await response.text();
        } while (again);
      } finally { reloading = false; }
    }
    const events = new EventSource("/tickets/inbox/events");
    events.onopen = function () { state.textContent = state.dataset.on; state.className = "live on"; };
    events.onerror = function () { state.textContent = state.dataset.off; state.className = "live off"; };
    events.addEventListener("ticket", function (message) {
      const data = JSON.parse(message.data);
      if (data.change === "created") {
        notice.querySelector("span").textContent = data.code;
        notice.hidden = false;
      }
      reload();
    });
  }

  // ---- ticket page
  const ticket = document.getElementById("ticket");
  if (ticket) {
    const base = "/api/tickets/" + ticket.dataset.code;
    async function act(promise) {
      try {
        await promise;
        window.location.reload();
      } catch (error) {
        show(error.message, true);
      }
    }
    ticket.addEventListener("click", function (event) {
      const button = event.target.closest("button[data-action]");
      if (!button) return;
      const action = button.dataset.action;
      if (action === "claim") act(send(base + "/claim"));
      if (action === "status") act(send(base + "/status", { status: button.dataset.status }));
      if (action === "accept-suggestion") {
        // The same path as choosing the category by hand (the category's department).
        act(send(base + "/category", { category_id: Number(button.dataset.categoryId), department_id: null }));
      }
      if (action === "retry") act(send("/api/tickets/notifications/" + button.dataset.id + "/retry"));
      if (action === "call") {
        const done = function () { show(button.textContent + " ✓", false); };
        send(base + "/call", {}).then(done, function (error) {
          // A do-not-call customer: calling anyway needs a reason (audited).
          const reason = error.data && error.data.do_not_call ? window.prompt(error.message, "") : "";
          if (reason && reason.trim()) {
            send(base + "/call", { do_not_call_reason: reason }).then(done, function (again) { show(again.message, true); });
          } else {
            show(error.message, true);
          }
        });
      }
    });
    function onSubmit(id, handler) {
      const form = document.getElementById(id);
      if (form) form.addEventListener("submit", function (event) { event.preventDefault(); handler(form); });
    }
    onSubmit("transfer-form", function (form) {
      const user = form.to_user_id.value, department = form.to_department_id.value;
      act(send(base + "/transfer", {
        reason: form.reason.value,
        to_user_id: user ? Number(user) : null,
        to_department_id: department ? Number(department) : null,
      }));
    });
    onSubmit("categorise-form", function (form) {
      const department = form.department_id.value;
      act(send(base + "/category", {
        category_id: Number(form.category_id.value),
        department_id: department ? Number(department) : null,
      }));
    });
    onSubmit("follow-up-form", function (form) {
      const body = { outcome: form.outcome.value, comment: form.comment.value };
      const survey = document.getElementById("follow-up-survey"); // surveys.js renders it
      if (survey && window.SurveyForms) {
        const spec = JSON.parse(survey.dataset.survey);
        body.survey_id = spec.id;
        body.answers = window.SurveyForms.collect(survey, spec);
      }
      act(send(base + "/follow-up", body));
    });
    onSubmit("comment-form", function (form) { act(send(base + "/comments", { text: form.text.value })); });
    onSubmit("attach-form", function (form) { act(send(base + "/files", new FormData(form), true)); });
  }
})();
