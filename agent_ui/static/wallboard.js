// The supervisor's wallboard: one websocket, whole snapshots pushed by the server.
//
// Names and numbers come from callers and the database: they go into the page with
// textContent only, never innerHTML. Labels come translated from the server (the
// #wallboard-config JSON). Times tick here, every second, from the "since" instants,
// corrected by the server's clock ("now" in each snapshot).
"use strict";

(function () {
  const config = JSON.parse(document.getElementById("wallboard-config").textContent);
  const L = config.labels;
  const csrf = document.querySelector('meta[name="csrf-token"]').getAttribute("content");
  const $ = (id) => document.getElementById(id);

  let board = null;
  let serverOffset = 0;
  let socket = null;
  let retryDelay = 500;
  let stopped = false;
  let noticeTimer = null;
  window.wallboardUpdates = 0; // how many snapshots this page has drawn (tests read it)

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
  function duration(seconds) {
    if (seconds == null || !isFinite(seconds)) return "–";
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const pad = (n) => String(n).padStart(2, "0");
    return (h ? h + ":" + pad(m) : pad(m)) + ":" + pad(s % 60);
  }
  function since(iso) {
    return iso ? (now() - Date.parse(iso)) / 1000 : null;
  }
  function stateLabel(state) {
    return L[state] || state;
  }
  function reasonLabel(code) {
    if (!code) return "";
    return config.pause_reasons[code] || code;
  }

  // ------------------------------------------------------------------ drawing
  function draw() {
    if (!board) return;
    const today = board.today;
    $("wb-day").textContent = board.day;
    $("kpi-waiting").textContent = board.waiting.length;
    $("kpi-offered").textContent = today.offered;
    $("kpi-answered").textContent = today.answered;
    $("kpi-abandoned").textContent = today.abandoned;
    $("kpi-sl-threshold").textContent = Math.round(today.service_level_seconds);
    $("kpi-sl").textContent = today.service_level == null ? "–" : today.service_level.toFixed(1) + " %";
    $("kpi-asa").textContent = today.asa_seconds == null ? "–" : duration(today.asa_seconds);
    $("kpi-aht").textContent = today.aht_seconds == null ? "–" : duration(today.aht_seconds);
    $("kpi-tickets").textContent = board.tickets.open;
    $("kpi-overdue").textContent = board.tickets.overdue;
    $("kpi-overdue").parentElement.classList.toggle("alert", board.tickets.overdue > 0);
    $("kpi-callbacks").textContent = board.callbacks.open;
    drawWaiting();
    drawAgents();
    drawTickets();
    tick();
  }

  function drawWaiting() {
    const body = $("waiting-rows");
    clear(body);
    if (!board.waiting.length) {
      const row = make("tr");
      const cell = make("td", L.no_waiting, "muted");
      cell.colSpan = 5;
      row.appendChild(cell);
      body.appendChild(row);
      return;
    }
    for (const w of board.waiting) {
      const row = make("tr");
      row.dataset.since = w.since;
      if (w.priority > 0) row.className = "priority";
      row.appendChild(make("td", w.position));
      row.appendChild(make("td", w.caller || L.withheld, "number"));
      row.appendChild(make("td", w.group_name));
      row.appendChild(make("td", w.priority > 0 ? L.priority + " " + w.priority : ""));
      row.appendChild(make("td", "", "timer wait"));
      body.appendChild(row);
    }
  }

  function drawAgents() {
    const counts = $("agent-counts");
    clear(counts);
    for (const state of config.states) {
      const n = board.agent_counts[state] || 0;
      if (!n) continue;
      const pill = make("span", stateLabel(state) + ": " + n, "state-pill");
      pill.dataset.state = state;
      counts.appendChild(pill);
    }
    const body = $("agent-rows");
    clear(body);
    if (!board.acd) {
      const row = make("tr");
      const cell = make("td", L.no_acd, "muted");
      cell.colSpan = 5;
      row.appendChild(cell);
      body.appendChild(row);
      return;
    }
    for (const a of board.agents) {
      const row = make("tr");
      row.dataset.agentId = a.id;
      row.dataset.state = a.state;
      row.dataset.since = a.since || "";
      row.appendChild(make("td", a.name, "agent-name"));
      const state = make("td");
      const pill = make("span", stateLabel(a.state), "state-pill");
      pill.dataset.state = a.state;
      state.appendChild(pill);
      if (a.state === "paused" && a.reason) state.appendChild(make("span", " " + reasonLabel(a.reason), "muted"));
      row.appendChild(state);
      row.appendChild(make("td", "", "timer in-state"));
      const caller = make("td", "", "caller");
      if (a.caller) {
        caller.appendChild(make("span", a.caller.number || L.withheld, "number"));
        if (a.caller.name) caller.appendChild(make("span", " " + a.caller.name, "caller-name"));
      }
      row.appendChild(caller);
      const actions = make("td", "", "wb-listen-col");
      if (a.state === "on_call" && a.caller) {
        for (const mode of config.listen_modes) {
          const button = make("button", L[mode], "listen-" + mode);
          button.type = "button";
          button.addEventListener("click", () => listen(a.id, mode));
          actions.appendChild(button);
        }
      }
      row.appendChild(actions);
      body.appendChild(row);
    }
  }

  function drawTickets() {
    const body = $("ticket-rows");
    clear(body);
    const rows = board.tickets.departments;
    if (!rows.length) {
      const row = make("tr");
      const cell = make("td", L.no_tickets, "muted");
      cell.colSpan = 3;
      row.appendChild(cell);
      body.appendChild(row);
      return;
    }
    for (const d of rows) {
      const row = make("tr");
      const name = config.language === "en" && d.name_en ? d.name_en : d.name;
      row.appendChild(make("td", name || L.no_department));
      row.appendChild(make("td", d.open));
      row.appendChild(make("td", d.overdue, d.overdue ? "alert" : ""));
      body.appendChild(row);
    }
  }

  // Every second: waits, times in state, the longest wait and the oldest callback.
  function tick() {
    if (!board) return;
    for (const row of $("waiting-rows").querySelectorAll("tr[data-since]")) {
      row.querySelector(".wait").textContent = duration(since(row.dataset.since));
    }
    for (const row of $("agent-rows").querySelectorAll("tr[data-agent-id]")) {
      row.querySelector(".in-state").textContent = row.dataset.since ? duration(since(row.dataset.since)) : "";
    }
    $("kpi-longest").textContent = board.longest_wait_since ? duration(since(board.longest_wait_since)) : "00:00";
    $("kpi-callback-age").textContent = board.callbacks.oldest_since ? duration(since(board.callbacks.oldest_since)) : "–";
  }

  // ------------------------------------------------------------------ listening in
  function notice(message, isError) {
    const el = $("wb-notice");
    el.textContent = message;
    el.classList.toggle("error", !!isError);
    el.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(() => { el.hidden = true; }, 8000);
  }

  async function listen(agentId, mode) {
    try {
      const response = await fetch("/api/supervisor/listen", {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify({ agent_id: agentId, mode: mode }),
      });
      const body = await response.json().catch(() => ({}));
      if (response.ok) notice(L.listen_started + " (" + body.phone + ")", false);
      else notice(L.listen_failed + ": " + (body.error || response.status), true);
    } catch (err) {
      notice(L.listen_failed, true);
    }
  }

  // ------------------------------------------------------------------ full screen
  $("wb-fullscreen").addEventListener("click", () => {
    const on = !document.body.classList.contains("wallboard-full");
    document.body.classList.toggle("wallboard-full", on);
    if (on && document.documentElement.requestFullscreen) {
      document.documentElement.requestFullscreen().catch(() => {});
    } else if (!on && document.fullscreenElement && document.exitFullscreen) {
      document.exitFullscreen().catch(() => {});
    }
  });
  document.addEventListener("fullscreenchange", () => {
    if (!document.fullscreenElement) document.body.classList.remove("wallboard-full");
  });

  // ------------------------------------------------------------------ the socket
  function connect() {
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    socket = new WebSocket(scheme + location.host + "/supervisor/ws");
    socket.addEventListener("open", () => {
      retryDelay = 500;
      $("wb-offline").hidden = true;
    });
    socket.addEventListener("message", (event) => {
      const message = JSON.parse(event.data);
      if (message.type !== "board") return;
      serverOffset = Date.parse(message.now) - Date.now();
      board = message;
      draw();
      window.wallboardUpdates += 1;
    });
    socket.addEventListener("close", (event) => {
      if (stopped) return;
      if (event.code === 4001 || event.code === 4004) {
        location.href = "/login?next=" + encodeURIComponent(location.pathname);
        return;
      }
      if (event.code === 4003) return;
      $("wb-offline").hidden = false;
      setTimeout(connect, retryDelay);
      retryDelay = Math.min(retryDelay * 2, 10000);
    });
  }
  window.addEventListener("beforeunload", () => { stopped = true; });
  setInterval(tick, 1000);
  connect();
})();
