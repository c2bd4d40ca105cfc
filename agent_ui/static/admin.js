// Admin console helpers. Every form works without this script; it only adds comfort:
// confirmation before deleting, ↑/↓ reordering of members, a size check before a
// prompt upload (the server checks again), and switching the hours page's hotline.
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.dataset ? form.dataset.confirm : "";
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});

function renumber(tbody) {
  tbody.querySelectorAll("tr[data-member] input.priority").forEach((input, index) => {
    input.value = String(index + 1);
  });
}

document.addEventListener("click", (event) => {
  const button = event.target.closest("button.move");
  if (!button) return;
  const row = button.closest("tr");
  const tbody = row.parentElement;
  if (button.classList.contains("up") && row.previousElementSibling) {
    tbody.insertBefore(row, row.previousElementSibling);
  } else if (button.classList.contains("down") && row.nextElementSibling) {
    tbody.insertBefore(row.nextElementSibling, row);
  }
  renumber(tbody);
});

document.addEventListener("change", (event) => {
  const input = event.target;
  if (input.matches("select[data-autosubmit]")) {
    input.form.submit();
    return;
  }
  if (input.matches("input[type=file][data-max-bytes]")) {
    const limit = Number(input.dataset.maxBytes);
    const file = input.files && input.files[0];
    let message = "";
    if (file && file.size > limit) {
      const megabytes = (limit / (1024 * 1024)).toFixed(1) + " MB";
      message = input.dataset.tooLarge.replace("{limit}", megabytes);
    }
    input.setCustomValidity(message);
    input.reportValidity();
  }
});
