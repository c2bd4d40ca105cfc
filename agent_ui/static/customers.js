// Customer import pages: upload with a progress bar, then follow the import's progress.
// No build step; works without it too (plain form post, page refresh while running).
(function () {
  "use strict";
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";

  const form = document.getElementById("upload-form");
  if (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      const error = document.getElementById("upload-error");
      const bar = document.createElement("progress");
      bar.max = 100;
      bar.value = 0;
      form.appendChild(bar);
      const request = new XMLHttpRequest();
      request.open("POST", form.action);
      request.setRequestHeader("X-CSRF-Token", csrf());
      request.setRequestHeader("Accept", "application/json");
      request.upload.onprogress = function (e) {
        if (e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total);
      };
      request.onload = function () {
        let body = {};
        try { body = JSON.parse(request.responseText); } catch (e) { body = { error: request.statusText }; }
        if (request.status === 200 && body.location) {
          window.location.href = body.location;
          return;
        }
        bar.remove();
        error.textContent = body.error || request.statusText;
        error.hidden = false;
      };
      request.onerror = function () {
        bar.remove();
        error.textContent = "network error";
        error.hidden = false;
      };
      request.send(new FormData(form));
    });
  }

  const section = document.getElementById("import");
  if (section) {
    const running = ["uploaded", "previewing", "importing"];
    if (running.indexOf(section.dataset.status) >= 0) {
      const bar = document.getElementById("import-progress");
      const text = document.getElementById("import-progress-text");
      const poll = function () {
        fetch("/api/customers/imports/" + section.dataset.importId, { headers: { Accept: "application/json" } })
          .then(function (response) { return response.json(); })
          .then(function (state) {
            bar.max = Math.max(state.total_rows, 1);
            bar.value = state.processed_rows;
            text.textContent = state.processed_rows + " / " + state.total_rows;
            if (running.indexOf(state.status) < 0) window.location.reload();
            else window.setTimeout(poll, 700);
          })
          .catch(function () { window.setTimeout(poll, 2000); });
      };
      poll();
    }
  }
})();
