// Live document status in the admin: poll while any shown document is still being processed.
(function () {
  const IN_PROGRESS = ["queued", "parsing", "embedding"];
  function badges() { return Array.from(document.querySelectorAll(".doc-status[data-document-id]")); }
  function pending() { return badges().filter((b) => IN_PROGRESS.includes(b.dataset.status)); }
  async function poll() {
    const waiting = pending();
    if (!waiting.length) return;
    const ids = waiting.map((b) => b.dataset.documentId).join(",");
    const url = document.body.dataset.progressUrl || "/admin/agents/document/progress/";
    try {
      const response = await fetch(url + "?ids=" + ids, { credentials: "same-origin" });
      if (response.ok) {
        const data = await response.json();
        for (const badge of waiting) {
          const state = data[badge.dataset.documentId];
          if (!state) continue;
          badge.dataset.status = state.status;
          badge.textContent = state.label;
          badge.title = state.error || "";
        }
      }
    } catch (e) { /* try again on the next tick */ }
    setTimeout(poll, 2000);
  }
  document.addEventListener("DOMContentLoaded", () => setTimeout(poll, 1500));
})();
