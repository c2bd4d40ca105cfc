/* Survey forms: render a survey's questions, show a dependent question only while the
   earlier answer matches (the same rule as callcenter/core/surveys.py), collect the
   answers. Used by the agent page's survey panel and the ticket follow-up form. */
(function () {
  "use strict";

  const SCALES = { scale_5: [1, 5], scale_10: [0, 10] };

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function choice(type, name, value, label) {
    const wrap = el("label");
    const input = el("input", { type: type, name: name, value: String(value) });
    wrap.appendChild(input);
    wrap.appendChild(document.createTextNode(" " + label));
    return wrap;
  }

  function render(form, survey) {
    form.replaceChildren();
    form.dataset.surveyId = survey ? String(survey.id) : "";
    if (!survey) return;
    survey.questions.forEach((q) => {
      const box = el("fieldset", { "data-question": String(q.id) });
      box.appendChild(el("legend", {}, q.text));
      const name = "q" + q.id;
      if (q.kind === "free_text") {
        box.appendChild(el("textarea", { name: name, rows: "2", maxlength: "2000", "aria-label": q.text }));
      } else if (SCALES[q.kind]) {
        const row = el("div", { class: "scale" });
        for (let n = SCALES[q.kind][0]; n <= SCALES[q.kind][1]; n += 1) row.appendChild(choice("radio", name, n, String(n)));
        box.appendChild(row);
      } else {
        const type = q.kind === "multiple_choice" ? "checkbox" : "radio";
        q.options.forEach((o) => box.appendChild(choice(type, name, o, o)));
      }
      form.appendChild(box);
    });
    form.onchange = () => refresh(form, survey);
    refresh(form, survey);
  }

  function valueOf(form, q) {
    const name = "q" + q.id;
    if (q.kind === "free_text") return form.querySelector('[name="' + name + '"]').value.trim();
    const picked = Array.from(form.querySelectorAll('input[name="' + name + '"]:checked')).map((i) => i.value);
    if (q.kind === "multiple_choice") return picked;
    return picked.length ? picked[0] : "";
  }

  function tokens(value) {
    return Array.isArray(value) ? value : value === "" ? [] : [String(value)];
  }

  /* Hide (and clear) a dependent question whose condition no longer holds. */
  function refresh(form, survey) {
    const answers = {};
    survey.questions.forEach((q) => {
      const box = form.querySelector('[data-question="' + q.id + '"]');
      let shown = true;
      if (q.depends_on_id) {
        const earlier = answers[q.depends_on_id];
        shown = earlier !== undefined && tokens(earlier).some((t) => q.depends_values.includes(t));
      }
      box.hidden = !shown;
      box.disabled = !shown;
      if (shown) answers[q.id] = valueOf(form, q);
    });
    return answers;
  }

  function collect(form, survey) {
    const answers = refresh(form, survey);
    const body = {};
    Object.entries(answers).forEach(([id, value]) => {
      if (value !== "" && !(Array.isArray(value) && !value.length)) body[id] = value;
    });
    return body;
  }

  function csrf() {
    const meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  async function load() {
    const response = await fetch("/api/surveys", { credentials: "same-origin" });
    if (!response.ok) return [];
    return (await response.json()).surveys;
  }

  async function submit(survey, answers, context) {
    const response = await fetch("/api/surveys/" + survey.id + "/responses", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(Object.assign({ answers: answers }, context)),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.error || String(response.status));
    return body;
  }

  window.SurveyForms = { render: render, collect: collect, load: load, submit: submit };

  /* The agent page's panel. */
  const panel = document.getElementById("survey-panel");
  if (!panel) return;
  const choiceBox = document.getElementById("survey-choice");
  const form = document.getElementById("survey-form");
  const status = document.getElementById("survey-status");
  let surveys = [];
  let call = { linkedid: null, customer_id: null };

  function current() {
    return surveys.find((s) => String(s.id) === choiceBox.value) || null;
  }

  document.addEventListener("agent:pop", (event) => {
    const pop = event.detail;
    const linkedid = pop.call ? pop.call.linkedid : null;
    if (linkedid !== call.linkedid) {
      render(form, current()); // a new call: a fresh form
      status.textContent = "";
    }
    call = { linkedid: linkedid, customer_id: pop.customer ? pop.customer.id : null };
  });

  choiceBox.addEventListener("change", () => render(form, current()));

  document.getElementById("survey-save").addEventListener("click", async () => {
    const survey = current();
    if (!survey) return;
    status.className = "survey-status";
    try {
      const context = {};
      if (call.linkedid) context.linkedid = call.linkedid;
      if (call.customer_id) context.customer_id = call.customer_id;
      await submit(survey, collect(form, survey), context);
      status.textContent = panel.dataset.saved + (call.linkedid ? "" : " " + panel.dataset.noCall);
      render(form, survey);
    } catch (error) {
      status.className = "survey-status error";
      status.textContent = panel.dataset.failed + ": " + error.message;
    }
  });

  load().then((list) => {
    surveys = list;
    list.forEach((s) => choiceBox.appendChild(el("option", { value: String(s.id) }, s.name)));
    if (list.length === 1) {
      choiceBox.value = String(list[0].id);
      render(form, list[0]);
    }
    panel.dataset.ready = "1";
  });
})();
