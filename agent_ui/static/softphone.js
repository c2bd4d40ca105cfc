// The browser phone in the agent page: JsSIP (served from its npm package) registers
// to Asterisk over a (secure) websocket with the credentials the daemon hands to the
// logged-in agent only, and carries calls over WebRTC (DTLS-SRTP, G.711).
//
// The page says what is going on at every moment (registration, microphone, call)
// through data-* attributes on #softphone (what the tests read) and translated text
// (labels rendered by the server into #softphone-labels).
"use strict";

(function () {
  const $ = (id) => document.getElementById(id);
  const panel = $("softphone");
  if (!panel) return;
  const L = JSON.parse($("softphone-labels").textContent);
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.getAttribute("content") : "";

  let creds = null; // {username, password, ws_url, sip_domain, interface, display_name, ice_servers}
  let ua = null;
  let session = null; // the call on screen
  let consult = null; // the attended transfer's second call
  let callStarted = 0;
  let timerHandle = null;
  let refreshTimer = null;
  let authFailures = 0;

  function text(el, value) {
    el.textContent = value == null ? "" : String(value);
  }
  function result(message, ok) {
    const el = $("sp-result");
    text(el, message);
    el.className = ok ? "ok" : "error";
  }

  // ------------------------------------------------------------------ registration state
  function setReg(state, message) {
    panel.dataset.reg = state;
    const pill = $("sp-reg");
    pill.dataset.state = state;
    text(pill, message || L[state] || state);
  }

  // ------------------------------------------------------------------ microphone
  function micProblem(kind, detail) {
    panel.dataset.mic = kind;
    const box = $("sp-mic");
    if (kind === "ok") {
      box.hidden = true;
      text(box, "");
      return;
    }
    const message = L["mic_" + kind] || L.mic_error;
    text(box, detail ? message + " (" + detail + ")" : message);
    box.hidden = false;
  }

  // Ask for the microphone as soon as the page is a phone: the agent sees a missing or
  // blocked one before the first call rings, not while the customer waits.
  async function checkMicrophone() {
    if (!window.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      micProblem("insecure");
      return false;
    }
    try {
      const stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
      stream.getTracks().forEach((t) => t.stop());
      micProblem("ok");
      return true;
    } catch (err) {
      const name = err && err.name;
      if (name === "NotFoundError" || name === "DevicesNotFoundError" || name === "OverconstrainedError") {
        micProblem("missing");
      } else if (name === "NotAllowedError" || name === "PermissionDeniedError" || name === "SecurityError") {
        micProblem("blocked");
      } else {
        micProblem("error", name || String(err));
      }
      return false;
    }
  }

  // ------------------------------------------------------------------ ringtone (Web Audio)
  // Two mixed tones, 1 s on / 2 s off: no sound file to ship.
  let audioCtx = null;
  let ringTimer = null;
  let ringNodes = [];
  function context() {
    if (!audioCtx) {
      const Ctx = window.AudioContext || window.webkitAudioContext;
      if (!Ctx) return null;
      audioCtx = new Ctx();
    }
    if (audioCtx.state === "suspended") audioCtx.resume().catch(() => {});
    return audioCtx;
  }
  // Browsers start audio only after a gesture: any click in the page unlocks the ringtone.
  document.addEventListener("click", () => context(), { once: true, capture: true });
  function burst() {
    const ctx = context();
    if (!ctx) return;
    const gain = ctx.createGain();
    gain.gain.value = 0.15;
    gain.connect(ctx.destination);
    [440, 480].forEach((hz) => {
      const osc = ctx.createOscillator();
      osc.frequency.value = hz;
      osc.connect(gain);
      osc.start();
      osc.stop(ctx.currentTime + 1);
      ringNodes.push(osc);
    });
  }
  function startRinging() {
    if (ringTimer) return;
    panel.dataset.ringtone = "on";
    burst();
    ringTimer = setInterval(burst, 3000);
  }
  function stopRinging() {
    panel.dataset.ringtone = "off";
    clearInterval(ringTimer);
    ringTimer = null;
    ringNodes.forEach((n) => {
      try {
        n.stop();
      } catch (e) {
        /* already stopped */
      }
    });
    ringNodes = [];
  }

  // ------------------------------------------------------------------ call display
  function peerOf(s) {
    const id = s.remote_identity;
    if (!id) return "";
    const number = id.uri && id.uri.user ? id.uri.user : "";
    return id.display_name && id.display_name !== number ? id.display_name + " " + number : number;
  }
  function showCall(state) {
    panel.dataset.call = state;
    $("sp-call").hidden = state === "idle";
    const label = { ringing: L.ringing_in, calling: L.calling_out, talking: L.talking, held: L.on_hold }[state];
    text($("sp-call-state"), label || "");
    $("sp-answer").hidden = state !== "ringing";
    $("sp-reject").hidden = state !== "ringing";
    $("sp-hangup").hidden = state === "ringing" || state === "idle";
    const inCall = state === "talking" || state === "held";
    ["sp-mute", "sp-hold", "sp-keypad-toggle", "sp-blind", "sp-consult"].forEach((id) => {
      $(id).disabled = !inCall;
    });
    const held = state === "held";
    $("sp-hold").setAttribute("aria-pressed", held ? "true" : "false");
    text($("sp-hold"), held ? L.resume : L.hold);
  }
  function tick() {
    if (!callStarted) {
      text($("sp-timer"), "");
      return;
    }
    const s = Math.floor((Date.now() - callStarted) / 1000);
    text($("sp-timer"), String(Math.floor(s / 60)).padStart(2, "0") + ":" + String(s % 60).padStart(2, "0"));
  }
  const wired = new WeakSet(); // peer connections whose audio already plays
  function attachAudio(s) {
    const pc = s.connection;
    if (!pc || wired.has(pc)) return;
    wired.add(pc);
    const play = () => {
      const remote = new MediaStream();
      pc.getReceivers().forEach((r) => r.track && remote.addTrack(r.track));
      $("sp-remote").srcObject = remote;
    };
    pc.addEventListener("track", play);
    play();
  }

  function watch(s) {
    s.on("peerconnection", () => attachAudio(s));
    s.on("accepted", () => {
      if (s === consult) $("sp-complete").disabled = false; // the transfer target answered
      if (s !== session) return;
      stopRinging();
      callStarted = Date.now();
      clearInterval(timerHandle);
      timerHandle = setInterval(tick, 1000);
      showCall("talking");
    });
    s.on("confirmed", () => attachAudio(s));
    s.on("hold", () => s === session && showCall("held"));
    s.on("unhold", () => s === session && showCall("talking"));
    s.on("muted", () => {
      $("sp-mute").setAttribute("aria-pressed", "true");
      text($("sp-mute"), L.unmute);
      result(L.muted, true);
    });
    s.on("unmuted", () => {
      $("sp-mute").setAttribute("aria-pressed", "false");
      text($("sp-mute"), L.mute);
      result("", true);
    });
    const over = () => {
      if (s === consult) {
        consult = null;
        consultButtons(false);
        return;
      }
      if (s !== session) return;
      stopRinging();
      session = null;
      callStarted = 0;
      clearInterval(timerHandle);
      tick();
      $("sp-mute").setAttribute("aria-pressed", "false");
      text($("sp-mute"), L.mute);
      showCall("idle");
    };
    s.on("ended", over);
    s.on("failed", over);
  }

  // STUN/TURN as the daemon hands them out (TURN credentials are short-lived, per agent);
  // none on a LAN. On the panel element too, so a test can open the same connection.
  function pcConfig() {
    return { iceServers: (creds && creds.ice_servers) || [] };
  }
  panel.pcConfig = pcConfig;

  function mediaOptions() {
    return {
      mediaConstraints: { audio: true, video: false },
      pcConfig: pcConfig(),
      rtcOfferConstraints: { offerToReceiveAudio: true, offerToReceiveVideo: false },
    };
  }

  // ------------------------------------------------------------------ the user agent
  function sipUri(target) {
    const domain = creds.sip_domain || window.location.hostname;
    return "sip:" + target + "@" + domain;
  }
  function wsUrl() {
    if (creds.ws_url) return creds.ws_url;
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return scheme + "//" + window.location.host + "/ws";
  }

  async function fetchCredentials() {
    const response = await fetch("/api/softphone/credentials", {
      credentials: "same-origin",
      cache: "no-store",
      headers: { Accept: "application/json" },
    });
    if (response.status === 401) {
      window.location.href = "/login?next=/agent";
      return null;
    }
    if (response.status === 404 || response.status === 403) return { enabled: false }; // no softphone here
    if (!response.ok) throw new Error("HTTP " + response.status);
    return response.json();
  }

  function stopUa() {
    if (!ua) return;
    const old = ua;
    ua = null;
    try {
      old.stop();
    } catch (e) {
      /* already stopped */
    }
  }

  function startUa() {
    stopUa();
    setReg("registering");
    const socket = new window.JsSIP.WebSocketInterface(wsUrl());
    const agent = new window.JsSIP.UA({
      sockets: [socket],
      uri: sipUri(creds.username),
      authorization_user: creds.username,
      password: creds.password,
      display_name: creds.display_name,
      register: true,
      register_expires: 120,
      session_timers: false,
      user_agent: "callcenter-agent-page",
      connection_recovery_min_interval: 2,
      connection_recovery_max_interval: 20,
    });
    ua = agent;
    agent.on("connecting", () => agent === ua && panel.dataset.reg !== "registered" && setReg("registering"));
    agent.on("disconnected", () => agent === ua && setReg("reconnecting"));
    agent.on("registered", () => {
      if (agent !== ua) return;
      authFailures = 0;
      setReg("registered");
    });
    agent.on("unregistered", () => agent === ua && setReg("unregistered"));
    agent.on("registrationFailed", (e) => {
      if (agent !== ua) return;
      const cause = e && e.cause;
      if (cause === window.JsSIP.C.causes.AUTHENTICATION_ERROR || cause === window.JsSIP.C.causes.REJECTED) {
        // The password was rotated (or the phone removed): ask the daemon again.
        setReg("auth_failed");
        authFailures += 1;
        scheduleRefresh(Math.min(30000, 1000 * 2 ** authFailures));
      } else {
        setReg("reconnecting");
      }
    });
    agent.on("newRTCSession", (e) => onNewSession(e));
    agent.start();
  }

  function onNewSession(e) {
    const s = e.session;
    if (e.originator !== "remote") return; // our own calls are set up where they start
    if (session || consult) {
      s.terminate({ status_code: 486, reason_phrase: "Busy Here" });
      return;
    }
    session = s;
    watch(s);
    text($("sp-peer"), peerOf(s));
    showCall("ringing");
    startRinging();
  }

  // Credentials: fetched at start, again when Asterisk refuses them (rotated password),
  // when the network comes back, and every few minutes while not registered.
  async function refresh() {
    clearTimeout(refreshTimer);
    refreshTimer = null;
    let fresh;
    try {
      fresh = await fetchCredentials();
    } catch (err) {
      setReg("reconnecting");
      scheduleRefresh(5000);
      return;
    }
    if (!fresh) return;
    if (!fresh.enabled) {
      stopUa();
      creds = null;
      panel.hidden = true;
      return;
    }
    panel.hidden = false;
    const changed =
      !creds || fresh.password !== creds.password || fresh.username !== creds.username || fresh.ws_url !== creds.ws_url;
    creds = fresh;
    renewTurnBeforeExpiry();
    showWhere();
    if (panel.dataset.mic === "unknown") checkMicrophone();
    if (!window.JsSIP) {
      setReg("off", L.no_library);
      return;
    }
    if (changed || !ua) startUa();
    else if (!ua.isRegistered() && !ua.isConnected()) ua.start();
  }
  // A TURN credential's username starts with its expiry (seconds since 1970): fetch new
  // ones at four fifths of their life, so a page open all day can still relay its calls.
  let turnTimer = null;
  function renewTurnBeforeExpiry() {
    clearTimeout(turnTimer);
    const expiries = ((creds && creds.ice_servers) || [])
      .map((server) => parseInt(String(server.username || "").split(":")[0], 10))
      .filter((value) => value > 0);
    if (!expiries.length) return;
    const left = Math.min(...expiries) * 1000 - Date.now();
    turnTimer = setTimeout(refresh, Math.max(30000, left * 0.8));
  }
  function scheduleRefresh(ms) {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(refresh, ms);
  }
  setInterval(() => {
    if (creds && panel.dataset.reg !== "registered" && !refreshTimer) refresh();
  }, 60000);
  window.addEventListener("online", () => {
    if (!creds) return refresh();
    if (ua && !ua.isConnected()) {
      try {
        ua.start();
      } catch (e) {
        startUa();
      }
    }
  });

  // ------------------------------------------------------------------ hot-desking
  // The ACD rings whichever phone the agent logged in at; show it when it is not this page.
  function currentPhone() {
    const input = $("login-interface");
    return input ? input.value.trim() : "";
  }
  function showWhere() {
    const phone = currentPhone();
    const elsewhere = !!creds && phone !== "" && phone.toLowerCase() !== creds.interface.toLowerCase();
    $("sp-where").hidden = !elsewhere;
    if (elsewhere) text($("sp-where-text"), L.not_here + " " + phone);
  }
  // The agent logged in at another phone with the page's own "Phone" box (agent.js).
  const phoneBox = $("login-interface");
  if (phoneBox) phoneBox.addEventListener("input", showWhere);
  const loginButton = $("btn-login");
  if (loginButton) loginButton.addEventListener("click", () => setTimeout(showWhere, 0));
  $("sp-ring-here").addEventListener("click", async () => {
    if (!creds) return;
    const response = await fetch("/api/agent/state", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify({ action: "login", interface: creds.interface }),
    });
    if (response.ok) {
      const input = $("login-interface");
      if (input) input.value = creds.interface;
      showWhere();
      result(L.here_now, true);
    } else {
      let detail = "";
      try {
        detail = (await response.json()).error || "";
      } catch (e) {
        /* not JSON */
      }
      result(L.failed + (detail ? ": " + detail : ""), false);
    }
  });

  // ------------------------------------------------------------------ buttons
  $("sp-answer").addEventListener("click", () => {
    if (!session || panel.dataset.call !== "ringing") return;
    stopRinging();
    try {
      session.answer(mediaOptions());
    } catch (err) {
      result(L.failed + ": " + err, false);
    }
  });
  $("sp-reject").addEventListener("click", () => {
    if (session) session.terminate({ status_code: 486, reason_phrase: "Busy Here" });
  });
  $("sp-hangup").addEventListener("click", () => {
    if (consult) consult.terminate();
    if (session) session.terminate();
  });
  $("sp-mute").addEventListener("click", () => {
    if (!session) return;
    if (session.isMuted().audio) session.unmute({ audio: true });
    else session.mute({ audio: true });
  });
  $("sp-hold").addEventListener("click", () => {
    if (!session) return;
    if (session.isOnHold().local) session.unhold();
    else session.hold();
  });
  $("sp-keypad-toggle").addEventListener("click", () => {
    const pad = $("sp-keypad");
    pad.hidden = !pad.hidden;
    $("sp-keypad-toggle").setAttribute("aria-expanded", pad.hidden ? "false" : "true");
  });
  $("sp-keypad").addEventListener("click", (ev) => {
    const key = ev.target && ev.target.dataset ? ev.target.dataset.dtmf : null;
    const target = consult || session;
    if (key && target) target.sendDTMF(key, { transportType: "RFC2833" });
  });

  function target() {
    const value = $("sp-transfer-target").value.replace(/[\s.-]/g, "");
    if (!/^\+?[0-9*#]{2,20}$/.test(value)) {
      result(L.need_target, false);
      return null;
    }
    return value;
  }
  // The transferee reached the target (NOTIFY 200): the transferor hangs up its own legs
  // (RFC 5589; Asterisk leaves that to the phone).
  function watchRefer(calls, extra) {
    return {
      eventHandlers: {
        accepted: () => {
          result(L.transferred, true);
          calls.forEach((c) => {
            if (c && !c.isEnded()) c.terminate();
          });
        },
        failed: () => result(L.transfer_failed, false),
      },
      ...(extra || {}),
    };
  }
  $("sp-blind").addEventListener("click", () => {
    const to = target();
    if (!to || !session) return;
    session.refer(sipUri(to), watchRefer([session]));
  });
  function consultButtons(on) {
    $("sp-complete").hidden = !on;
    $("sp-complete").disabled = true; // until the transfer target answers
    $("sp-cancel-consult").hidden = !on;
    $("sp-consult").hidden = on;
    if (on) result(L.consulting, true);
  }
  $("sp-consult").addEventListener("click", () => {
    const to = target();
    if (!to || !session || consult || !ua) return;
    if (!session.isOnHold().local) session.hold();
    const second = ua.call(sipUri(to), mediaOptions());
    consult = second;
    watch(second);
    consultButtons(true);
  });
  $("sp-complete").addEventListener("click", () => {
    if (!session || !consult) return;
    const second = consult;
    // Refer-To <target?Replaces=call-id;to-tag;from-tag> of the consultation call. Built
    // here from its dialog: JsSIP 3.12's own "replaces" option sends to-tag=null for a
    // call the page placed, and Asterisk then cannot find the dialog to replace.
    const dialog = second._dialog && second._dialog.id;
    if (!dialog) return;
    const target = second.remote_identity.uri.clone();
    target.setHeader(
      "Replaces",
      encodeURIComponent(dialog.call_id + ";to-tag=" + dialog.remote_tag + ";from-tag=" + dialog.local_tag),
    );
    session.refer(target, watchRefer([session, second]));
  });
  $("sp-cancel-consult").addEventListener("click", () => {
    if (consult) consult.terminate();
    consult = null;
    consultButtons(false);
    if (session && session.isOnHold().local) session.unhold();
  });
  $("sp-dial").addEventListener("click", () => {
    const value = $("sp-dial-number").value.replace(/[\s.-]/g, "");
    if (!/^\+?[0-9*#]{2,20}$/.test(value)) {
      result(L.need_target, false);
      return;
    }
    if (!ua || session) return;
    const s = ua.call(sipUri(value), mediaOptions());
    session = s;
    watch(s);
    text($("sp-peer"), value);
    showCall("calling");
  });

  window.addEventListener("beforeunload", () => stopUa());
  showCall("idle");
  refresh();
})();
