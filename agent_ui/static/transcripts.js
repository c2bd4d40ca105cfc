// The call page: highlight the word being spoken while the recording plays; a click on a
// word seeks the player there (the server answers Range requests, so seeking works).
(function () {
  "use strict";
  const audio = document.getElementById("call-audio");
  const words = Array.from(document.querySelectorAll("#transcript .word"));
  if (!audio || !words.length) return;
  const starts = words.map((w) => parseFloat(w.dataset.s));
  const ends = words.map((w) => parseFloat(w.dataset.e));
  let current = null;

  function wordAt(time) {
    // the last word that started at or before `time` (binary search), if still spoken
    let lo = 0, hi = starts.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (starts[mid] <= time) { found = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    return found >= 0 && time <= ends[found] + 0.15 ? words[found] : null;
  }

  function highlight() {
    const word = wordAt(audio.currentTime);
    if (word === current) return;
    if (current) current.classList.remove("speaking");
    if (word) {
      word.classList.add("speaking");
      word.scrollIntoView({ block: "nearest" });
    }
    current = word;
  }

  audio.addEventListener("timeupdate", highlight);
  audio.addEventListener("seeked", highlight);
  let frame = null;
  function tick() { highlight(); frame = audio.paused ? null : requestAnimationFrame(tick); }
  audio.addEventListener("play", () => { if (frame === null) frame = requestAnimationFrame(tick); });

  document.getElementById("transcript").addEventListener("click", (event) => {
    const word = event.target.closest(".word");
    if (!word) return;
    audio.currentTime = parseFloat(word.dataset.s);
    highlight();
    if (audio.paused) audio.play().catch(() => {});
  });
})();
