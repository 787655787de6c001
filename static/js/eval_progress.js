// A test set running in the admin: poll its progress, and reload the page once it has finished.
(function () {
  function poll(box) {
    fetch(box.dataset.progressUrl, { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : null))
      .then((data) => {
        if (data) {
          const bar = box.querySelector("progress");
          if (bar) { bar.max = data.total || 1; bar.value = data.done; }
          const count = box.querySelector(".eval-count");
          if (count) count.textContent = data.done + " / " + data.total;
          if (data.status === "finished" || data.status === "failed") { window.location.reload(); return; }
        }
        setTimeout(() => poll(box), 2000);
      })
      .catch(() => setTimeout(() => poll(box), 2000));
  }
  document.addEventListener("DOMContentLoaded", () => {
    const box = document.getElementById("eval-run");
    if (box && (box.dataset.status === "queued" || box.dataset.status === "running")) setTimeout(() => poll(box), 1500);
  });
})();
