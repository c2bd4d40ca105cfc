// The agent page: one websocket, pushed screen-pops, call controls, after-call work.
//
// Everything that comes from a caller or the database is untrusted text: it is put
// into the page with textContent (or as a form value), never through innerHTML.
// Labels come translated from the server (the #agent-config JSON blob).
"use strict";

(function () {
  const config = JSON.parse(document.getElementById("agent-config").textContent);
  const L = config.labels;
  const csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  const $ = (id) => document.getElementById(id);

  let socket = null;
  let retryDelay = 500;
  let stopped = false;
  let serverOffset = 0; // server clock minus browser clock, in ms
  let current = null; // {linkedid, phase, answered_at, ended_at, wrapup_deadline, muted, parked_at}
  let currentPop = null;
  let agentState = { state: "logged_out", reason: "", since: null };
  let counters = { waiting: 0, longest_wait_seconds: 0, as_of: null, calls_today: 0 };
  let popsReceived = 0;

  // ------------------------------------------------------------------ small helpers
  function text(el, value) {
    el.textContent = value == null ? "" : String(value);
    return el;
  }
  function make(tag, value, className) {
    const el = document.createElement(tag);
    if (value != null) el.textContent = String(value);
    if (className) el.className = className;
    return el;
  }
  function clear(el) {
    while (el.firstChild) el.removeChild(el.firstChild);
  }
  function now() {
    return Date.now() + serverOffset;
  }
  function clock(seconds) {
    seconds = Math.max(0, Math.floor(seconds));
    const h = Math.floor(seconds / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    const s = seconds % 60;
    const mm = String(m).padStart(2, "0") + ":" + String(s).padStart(2, "0");
    return h > 0 ? h + ":" + mm : mm;
  }
  function since(iso) {
    return iso ? (now() - Date.parse(iso)) / 1000 : 0;
  }
  const fadeTimers = new Map();
  // A confirmation fades after a few seconds (a stale "Done" misleads); an error stays
  // until the next action replaces it.
  function status(el, message, ok) {
    text(el, message);
    el.className = ok ? "ok" : "error";
    clearTimeout(fadeTimers.get(el));
    if (ok && message) fadeTimers.set(el, setTimeout(() => text(el, ""), 5000));
  }

  // The page's one prominent notice: the wrap-up saved (with the ticket's link) or timed out.
  function notice(message, kind, code) {
    const box = $("notice");
    text($("notice-text"), message);
    box.className = "notice " + kind;
    const link = $("notice-link");
    link.hidden = !code;
    if (code) {
      text(link, code);
      link.href = "/tickets/" + encodeURIComponent(code);
    }
    box.hidden = false;
  }
  function hideNotice() {
    $("notice").hidden = true;
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body || {}),
    });
    let data = {};
    try {
      data = await response.json();
    } catch (e) {
      data = {};
    }
    if (!response.ok) {
      const error = new Error(data.error || response.statusText || String(response.status));
      error.status = response.status;
      throw error;
    }
    return data;
  }

  // ------------------------------------------------------------------ websocket
  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/agent/ws");
    socket.addEventListener("open", () => {
      retryDelay = 500;
      $("offline-banner").hidden = true;
      document.body.dataset.online = "1";
    });
    socket.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      handle(message);
    });
    socket.addEventListener("close", (event) => {
      document.body.dataset.online = "0";
      $("offline-banner").hidden = false;
      if (event.code === 4001 || event.code === 4004) {
        text($("offline-banner"), L.session_ended);
        goToLogin(500);
        return;
      }
      if (event.code === 4003 || stopped) return;
      setTimeout(reconnect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 5000);
    });
  }

  // The session ended: go to the login form once the server answers (it may be restarting;
  // navigating now would leave the agent on the browser's own error page).
  async function goToLogin(delay) {
    try {
      const probe = await fetch("/login", { method: "HEAD", credentials: "same-origin" });
      if (probe.ok) {
        location.href = "/login?next=/agent";
        return;
      }
    } catch (e) {
      // not reachable yet
    }
    setTimeout(() => goToLogin(Math.min(delay * 2, 5000)), delay);
  }

  // Before reconnecting, ask whether the session still exists: a logged-out page goes to
  // the login form instead of retrying forever. A network error just means "retry".
  async function reconnect() {
    try {
      const probe = await fetch("/agent", { method: "HEAD", redirect: "manual", credentials: "same-origin" });
      if (probe.type === "opaqueredirect" || probe.status === 401) {
        location.href = "/login?next=/agent";
        return;
      }
    } catch (e) {
      // offline or the daemon is restarting: try the websocket anyway
    }
    connect();
  }

  function send(message) {
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  function handle(message) {
    switch (message.type) {
      case "sync":
        serverOffset = Date.parse(message.server_time) - Date.now();
        applyState(message.state);
        applyCounters(message.counters);
        current = message.call;
        if (message.pop) renderPop(message.pop);
        else if (!current) hidePop();
        if (message.draft_notes && !$("wrapup").notes.value) {
          $("wrapup").notes.value = message.draft_notes;
        }
        renderCall();
        break;
      case "pop":
        popsReceived += 1;
        document.body.dataset.pops = String(popsReceived);
        if (!current || current.linkedid !== message.call.linkedid) {
          resetWrapup();
          hideNotice();
          text($("control-result"), "");
        }
        current = Object.assign({}, current && current.linkedid === message.call.linkedid ? current : {}, {
          linkedid: message.call.linkedid,
          phase: message.phase || "ringing",
        });
        renderPop(message);
        renderCall();
        break;
      case "call":
        current = message.call;
        renderCall();
        break;
      case "offer_ended":
        if (current && current.linkedid === message.linkedid) {
          current = null;
          hidePop();
          renderCall();
          status($("control-result"), L.offer_ended, true);
        }
        break;
      case "wrapup_timed_out":
        if (current && current.linkedid === message.linkedid) {
          current = null;
          hidePop(); // the call is over and filed: its pop must not linger
          renderCall();
          resetWrapup();
          notice(L.timed_out_notice, "warn", "");
        }
        break;
      case "state":
        applyState(message);
        if (message.state === "available" || message.state === "wrapup") loadTasks();
        break;
      case "counters":
        applyCounters(message);
        break;
    }
  }

  // ------------------------------------------------------------------ state bar
  function applyState(state) {
    agentState = state;
    const pill = $("state-label");
    pill.dataset.state = state.state;
    text(pill, L[state.state] || state.state);
    text($("state-reason"), state.reason ? config.pause_reasons[state.reason] || state.reason : "");
  }
  function applyCounters(c) {
    counters = c;
    text($("counter-waiting"), c.waiting);
    text($("counter-today"), c.calls_today);
  }

  // ------------------------------------------------------------------ pop
  function hidePop() {
    $("pop").hidden = true;
    currentPop = null;
    clear($("wrapup").open_ticket_id); // the last caller's tickets must not stay on offer
  }

  function renderPop(pop) {
    currentPop = pop;
    document.dispatchEvent(new CustomEvent("agent:pop", { detail: pop })); // e.g. the survey panel
    $("pop").hidden = false;
    const call = pop.call;
    const customer = pop.customer;
    text($("caller-number"), call.anonymous ? L.anonymous : call.caller_display || call.caller_number);
    text($("caller-name"), call.caller_name);
    $("caller-name-part").hidden = !call.caller_name;  // most trunks send no name
    text($("caller-hotline"), call.hotline);
    $("caller-hotline-part").hidden = !call.hotline;
    text($("caller-title"), customer ? customer.name : call.anonymous ? L.anonymous
      : pop.history_pending ? L.looking_up_caller : L.unknown_caller);

    $("customer").hidden = !customer;
    if (customer) {
      text($("customer-kind"), L[customer.kind] || customer.kind);
      const tags = $("customer-tags");
      clear(tags);
      customer.tags.forEach((tag) => tags.appendChild(make("span", tag, "tag")));
      const phones = $("customer-phones");
      clear(phones);
      customer.phones.forEach((phone) => phones.appendChild(dialLink(phone.number, phone.display)));
      text($("customer-address"), [customer.address, customer.district, customer.province].filter(Boolean).join(", ") || "—");
      const vehicles = $("vehicles");
      clear(vehicles);
      customer.vehicles.forEach((v) => {
        const row = make("tr");
        [v.vin, v.model, v.plate, v.purchase_date_text, v.dealer].forEach((cell) => row.appendChild(make("td", cell)));
        vehicles.appendChild(row);
      });
    }

    const form = $("quick-create");
    form.hidden = !pop.quick_create;
    if (pop.quick_create) {
      form.phone.value = pop.quick_create.phone;
      text($("quick-create-result"), "");
    }

    renderTickets($("open-tickets"), pop.history.open_tickets);
    renderTickets($("recent-tickets"), pop.history.recent_tickets);
    const select = $("wrapup").open_ticket_id;
    clear(select);
    pop.history.open_tickets.forEach((t) => {
      const option = make("option", (t.code || "") + " " + t.subject);
      option.value = String(t.id);
      select.appendChild(option);
    });

    renderCalls($("earlier-calls"), pop.history.calls, 5);

    const surveys = $("surveys");
    clear(surveys);
    if (!pop.history.surveys.length) surveys.appendChild(make("li", L.no_surveys, "muted"));
    pop.history.surveys.forEach((s) => surveys.appendChild(make("li", s.question + ": " + s.answer)));
  }

  function renderCalls(calls, list, columns) {
    clear(calls);
    if (!list.length) {
      const row = make("tr");
      const cell = make("td", L.no_calls, "muted");
      cell.colSpan = columns;
      row.appendChild(cell);
      calls.appendChild(row);
    }
    list.forEach((c) => {
      const row = make("tr");
      row.appendChild(make("td", c.at_text));
      row.appendChild(make("td", c.agent));
      row.appendChild(make("td", c.category));
      row.appendChild(make("td", clock(c.duration_seconds)));
      calls.appendChild(row);
      if (columns < 5) return;
      const rec = make("td");
      if (c.recording_url) {
        const link = make("a", L.listen);
        link.href = c.recording_url;
        link.target = "_blank";
        link.rel = "noopener";
        rec.appendChild(link);
      } else if (c.has_recording) {
        rec.appendChild(make("span", L.recording, "muted"));
      }
      row.appendChild(rec);
      if (c.transcript) {
        const trow = make("tr", null, "transcript");
        const cell = make("td", L.transcript + ": " + c.transcript);
        cell.colSpan = 5;
        trow.appendChild(cell);
        calls.appendChild(trow);
      }
    });
  }

  function renderTickets(list, tickets) {
    clear(list);
    if (!tickets.length) list.appendChild(make("li", L.no_tickets, "muted"));
    tickets.forEach((t) => {
      const item = make("li", null, "parts");
      const link = make("a", t.code, "ticket-code");
      link.href = t.url;
      item.appendChild(link);
      // Only the parts that have a value, joined by a dot in CSS (never "· ·").
      if (t.subject) item.appendChild(make("span", t.subject));
      if (t.department) item.appendChild(make("span", t.department, "muted"));
      item.appendChild(make("span", L["status_" + t.status] || t.status, "status status-" + t.status.replace(/[^a-z_]/g, "")));
      if (t.created_text) item.appendChild(make("span", t.created_text, "muted"));
      list.appendChild(item);
    });
  }

  function dialLink(number, display) {
    const button = make("button", display || number, "link");
    button.type = "button";
    button.addEventListener("click", () => originate(number));
    return button;
  }

  // ------------------------------------------------------------------ call state
  function renderCall() {
    const phase = current ? current.phase : "";
    document.body.dataset.phase = phase;
    const pill = $("call-phase");
    pill.dataset.phase = phase;
    text(pill, phase ? L[phase] || phase : "");
    text($("btn-mute"), current && current.muted ? L.unmuted : $("btn-mute").dataset.label);
    const parked = Boolean(current && current.parked_at);
    text($("park-info"), parked ? L.parked_now : "");
    $("btn-retrieve").hidden = !parked;
    $("btn-park").hidden = parked;
    $("btn-save").disabled = !current || (phase !== "talking" && phase !== "wrapup");
    $("wrapup-card").hidden = !current; // after-call work belongs to a call
    // Call controls only work on a call of mine: greyed out otherwise (click-to-call stays).
    const talking = phase === "talking";
    $("btn-hangup").disabled = !(talking || phase === "ringing");
    ["btn-park", "btn-retrieve", "btn-mute", "btn-blind", "btn-attended"].forEach((id) => {
      $(id).disabled = !talking;
    });
    $("transfer-target").disabled = !talking;
  }

  function resetWrapup() {
    const form = $("wrapup");
    form.reset();
    text($("wrapup-result"), "");
  }

  function tick() {
    text($("state-timer"), clock(since(agentState.since)));
    const extra = counters.as_of && counters.waiting > 0 ? since(counters.as_of) : 0;
    text($("counter-longest"), clock(counters.waiting > 0 ? counters.longest_wait_seconds + extra : 0));
    if (current && current.phase === "talking" && current.answered_at) {
      text($("call-timer"), L.talking + " " + clock(since(current.answered_at)));
    } else if (current && current.phase === "ringing") {
      text($("call-timer"), L.ringing);
    } else {
      text($("call-timer"), "");
    }
    if (current && current.phase === "wrapup" && current.wrapup_deadline) {
      text($("wrapup-countdown"), clock(-since(current.wrapup_deadline)));
    } else {
      text($("wrapup-countdown"), "");
    }
  }

  // ------------------------------------------------------------------ actions
  async function action(url, body, okMessage) {
    const out = $("control-result");
    try {
      const result = await post(url, body);
      status(out, okMessage == null ? L.done : okMessage, true);
      return result;
    } catch (error) {
      status(out, L.action_failed + ": " + error.message, false);
      return null;
    }
  }
  function callUrl(verb) {
    return "/api/agent/calls/" + encodeURIComponent(current ? current.linkedid : "-") + "/" + verb;
  }
  function originate(number) {
    return action("/api/agent/originate", { number: number }, L.calling);
  }

  // State changes show in the state pill; only a failure needs words here.
  $("btn-available").addEventListener("click", () => action("/api/agent/state", { action: "available" }, ""));
  $("btn-pause").addEventListener("click", () =>
    action("/api/agent/state", { action: "pause", reason: $("pause-reason").value }, ""));
  $("btn-login").addEventListener("click", () =>
    action("/api/agent/state", { action: "login", interface: $("login-interface").value }, ""));
  $("btn-logout-phone").addEventListener("click", () => action("/api/agent/state", { action: "logout" }, ""));
  $("btn-hangup").addEventListener("click", () => action(callUrl("hangup")));
  $("btn-park").addEventListener("click", async () => {
    const result = await action(callUrl("park"));
    if (result && current) {
      current.parked_at = result.parked_at;
      renderCall();
    }
  });
  $("btn-retrieve").addEventListener("click", async () => {
    const result = await action(callUrl("retrieve"));
    if (result && current) {
      current.parked_at = "";
      renderCall();
    }
  });
  $("btn-mute").dataset.label = $("btn-mute").textContent;
  $("btn-mute").addEventListener("click", async () => {
    const mute = !(current && current.muted);
    const result = await action(callUrl("mute"), { mute: mute }, mute ? L.muted : L.unmuted);
    if (result && current) {
      current.muted = mute;
      renderCall();
    }
  });
  $("transfer-kind").addEventListener("change", () => {
    const department = $("transfer-kind").value === "department";
    $("transfer-department").hidden = !department;
    $("transfer-target").hidden = department;
  });
  function transfer(mode) {
    const kind = $("transfer-kind").value;
    const target = kind === "department" ? $("transfer-department").value : $("transfer-target").value;
    action(callUrl("transfer"), { kind: kind, target: target, mode: mode });
  }
  $("btn-blind").addEventListener("click", () => transfer("blind"));
  $("btn-attended").addEventListener("click", () => transfer("attended"));
  $("btn-dial").addEventListener("click", () => originate($("dial-number").value));

  $("quick-create").addEventListener("submit", async (event) => {
    event.preventDefault();
    const form = event.target;
    const out = $("quick-create-result");
    try {
      const result = await post("/api/agent/customers", {
        name: form.name.value,
        phone: form.phone.value,
        province: form.province.value,
        linkedid: current ? current.linkedid : "",
      });
      status(out, L.customer_created + ": " + result.name, true);
      text($("caller-title"), result.name);
    } catch (error) {
      status(out, L.save_failed + ": " + error.message, false);
    }
  });

  const wrapForm = $("wrapup");
  wrapForm.category_id.addEventListener("change", () => {
    const option = wrapForm.category_id.selectedOptions[0];
    const department = option ? option.dataset.department : "";
    if (department) wrapForm.department_id.value = department;
  });
  let draftTimer = null;
  wrapForm.notes.addEventListener("input", () => {
    clearTimeout(draftTimer);
    draftTimer = setTimeout(() => {
      if (current) send({ type: "draft", linkedid: current.linkedid, notes: wrapForm.notes.value });
    }, 400);
  });
  wrapForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!current) return;
    const out = $("wrapup-result");
    const value = (name) => wrapForm[name].value;
    const number = (name) => (value(name) ? Number(value(name)) : null);
    const outcome = wrapForm.querySelector('input[name="outcome"]:checked').value;
    try {
      const result = await post(callUrl("wrapup"), {
        outcome: outcome,
        category_id: number("category_id"),
        department_id: number("department_id"),
        priority: value("priority"),
        notes: value("notes"),
        open_ticket_id: outcome === "add_to_open" ? number("open_ticket_id") : null,
      });
      text(out, "");
      if (outcome === "info_only") notice(L.wrapup_saved_info, "ok", "");
      else notice(L.wrapup_saved, "ok", result.code);
      resetWrapup();
      if (current && current.phase === "wrapup") {
        current = null;
        hidePop();
        renderCall();
      }
    } catch (error) {
      status(out, L.save_failed + ": " + error.message, false);
    }
  });

  $("notice-dismiss").addEventListener("click", hideNotice);

  // ------------------------------------------------------------------ callbacks (task list)
  let tasks = [];
  let openTask = null; // the task whose details are shown
  // A datetime-local value in the centre's zone (the server reads it so), whatever zone
  // the browser's computer is set to.
  function localInput(date) {
    const parts = {};
    new Intl.DateTimeFormat("en-GB", {
      timeZone: config.zone, hourCycle: "h23",
      year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    }).formatToParts(date).forEach((p) => { parts[p.type] = p.value; });
    return parts.year + "-" + parts.month + "-" + parts.day + "T" + parts.hour + ":" + parts.minute;
  }
  async function getJson(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const error = new Error(data.error || response.statusText);
      error.status = response.status;
      throw error;
    }
    return data;
  }
  async function loadTasks() {
    try {
      const data = await getJson("/api/agent/tasks");
      tasks = data.tasks;
    } catch (error) {
      status($("tasks-result"), L.action_failed + ": " + error.message, false);
      return;
    }
    renderTasks();
  }
  function renderTasks() {
    const list = $("task-list");
    clear(list);
    const count = $("tasks-count");
    text(count, tasks.length);
    count.className = "count-pill" + (tasks.length ? " some" : "");
    document.body.dataset.tasks = String(tasks.length);
    if (!tasks.length) list.appendChild(make("li", L.tasks_none, "muted"));
    tasks.forEach((t) => {
      const item = make("li");
      item.dataset.taskId = String(t.id);
      if (openTask && openTask.id === t.id) item.classList.add("selected");
      item.appendChild(make("span", t.customer_name || t.phone_display, "who"));
      const parts = make("span", null, "parts");
      if (t.customer_name) parts.appendChild(make("span", t.phone_display, "number"));
      parts.appendChild(make("span", t.origin_label));
      parts.appendChild(make("span", t.created_text, "muted"));
      if (t.outcome_label) parts.appendChild(make("span", t.outcome_label, "muted"));
      if (t.mine) parts.appendChild(make("span", L.task_mine, "tag"));
      item.appendChild(parts);
      const actions = make("span", null, "actions");
      const call = make("button", L.task_call_back);
      call.type = "button";
      call.className = "task-call";
      call.addEventListener("click", () => callBack(t));
      const open = make("button", L.task_open, "secondary task-open");
      open.type = "button";
      open.addEventListener("click", () => showTask(t.id));
      actions.appendChild(call);
      actions.appendChild(open);
      item.appendChild(actions);
      list.appendChild(item);
    });
    if (openTask && !tasks.some((t) => t.id === openTask.id)) {
      openTask = null;
      $("task-detail").hidden = true;
    }
  }
  async function claimTask(t) {
    try {
      return await post("/api/agent/tasks/" + t.id + "/claim");
    } catch (error) {
      status($("tasks-result"), error.status === 409 ? L.task_taken : L.action_failed + ": " + error.message, false);
      loadTasks();
      return null;
    }
  }
  async function callBack(t) {
    // Claim first, so no colleague calls the same customer; then the usual click-to-call.
    if (!(await claimTask(t))) return;
    await showTask(t.id);
    const result = await originate(t.phone);
    status($("tasks-result"), result ? L.calling : L.action_failed, Boolean(result));
    loadTasks();
  }
  async function showTask(id) {
    let data;
    try {
      data = await getJson("/api/agent/tasks/" + id);
    } catch (error) {
      status($("tasks-result"), error.status === 404 ? L.task_taken : L.action_failed + ": " + error.message, false);
      loadTasks();
      return;
    }
    openTask = data.task;
    $("task-detail").hidden = false;
    text($("task-title"), (data.customer ? data.customer.name + " · " : "") + data.task.phone_display);
    text($("task-meta"), [data.task.origin_label, data.task.created_text, data.task.status_label].filter(Boolean).join(" · "));
    text($("task-notes"), data.task.notes);
    renderTickets($("task-open-tickets"), data.history.open_tickets);
    renderTickets($("task-recent-tickets"), data.history.recent_tickets);
    renderCalls($("task-calls"), data.history.calls, 4);
    const form = $("task-outcome");
    form.reset();
    const later = new Date(now() + 60 * 60 * 1000);
    form.retry_at.value = localInput(later);
    form.retry_at.disabled = true;
    text($("task-outcome-result"), "");
    $("btn-task-release").hidden = !data.task.mine;
    Array.from($("task-list").children).forEach((li) =>
      li.classList.toggle("selected", li.dataset.taskId === String(id)));
  }
  $("btn-tasks-refresh").addEventListener("click", loadTasks);
  $("task-outcome").addEventListener("change", () => {
    const chosen = $("task-outcome").querySelector('input[name="outcome"]:checked');
    $("task-outcome").retry_at.disabled = !(chosen && chosen.value === "not_reached");
  });
  $("btn-task-call").addEventListener("click", () => {
    if (openTask) callBack(openTask);
  });
  $("btn-task-release").addEventListener("click", async () => {
    if (!openTask) return;
    try {
      await post("/api/agent/tasks/" + openTask.id + "/release");
      openTask = null;
      $("task-detail").hidden = true;
    } catch (error) {
      status($("task-outcome-result"), L.action_failed + ": " + error.message, false);
    }
    loadTasks();
  });
  $("task-outcome").addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!openTask) return;
    const form = event.target;
    const chosen = form.querySelector('input[name="outcome"]:checked');
    const out = $("task-outcome-result");
    if (!chosen) {
      status(out, L.choose_outcome, false);
      return;
    }
    try {
      const result = await post("/api/agent/tasks/" + openTask.id + "/outcome", {
        outcome: chosen.value,
        retry_at: chosen.value === "not_reached" ? form.retry_at.value : "",
        note: form.note.value,
      });
      status($("tasks-result"), L.task_saved + ": " + result.outcome_label, true);
      openTask = null;
      $("task-detail").hidden = true;
    } catch (error) {
      status(out, error.status === 409 ? L.task_taken : L.save_failed + ": " + error.message, false);
    }
    loadTasks();
  });

  window.addEventListener("beforeunload", () => {
    stopped = true;
  });
  renderCall();
  setInterval(tick, 1000);
  setInterval(loadTasks, 20000); // callbacks arrive from the ACD while the page is open
  loadTasks();
  connect();
})();
