// The agent builder page: list the form's unsaved changes beside the publish button, since
// "保存并发布" saves them first.
(function () {
  function fieldRow(element) { return element.closest(".form-row"); }
  function rowLabel(row) {
    const label = row.querySelector("label");
    return label ? label.textContent.replace(/[:：]\s*$/, "").trim() : "";
  }
  function start() {
    const form = document.getElementById("agent_form");
    const note = document.querySelector(".shuzhi-unsaved");
    if (!form || !note) return;
    const changed = new Map();
    const onEdit = (event) => {
      const target = event.target;
      if (!target.name || target.name === "publish_note") return;
      const row = fieldRow(target);
      if (!row) return;
      changed.set(row, rowLabel(row));
      note.hidden = false;
      note.querySelector(".shuzhi-unsaved-fields").textContent = Array.from(new Set(changed.values())).join("、");
    };
    form.addEventListener("input", onEdit);
    form.addEventListener("change", onEdit);
  }
  document.addEventListener("DOMContentLoaded", start);
})();
