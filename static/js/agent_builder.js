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
  // Model names: offer the chosen service's models (a datalist, so typing stays possible) and its note.
  function modelPicker(input) {
    const select = document.getElementById(input.dataset.modelsFor);
    if (!select) return;
    const list = document.createElement("datalist");
    list.id = input.id + "_choices";
    input.setAttribute("list", list.id);
    input.setAttribute("autocomplete", "off");
    const note = document.createElement("p");
    note.className = "help shuzhi-models-note";
    note.hidden = true;
    input.after(list, note);
    async function refresh() {
      list.replaceChildren();
      note.hidden = true;
      if (!select.value) return;
      try {
        const url = input.dataset.modelsUrl + "?endpoint=" + encodeURIComponent(select.value);
        const response = await fetch(url, { credentials: "same-origin" });
        if (!response.ok) return;
        const data = await response.json();
        for (const name of data.names) {
          const option = document.createElement("option");
          option.value = name;
          list.append(option);
        }
        if (!input.value && data.names.length === 1) {
          input.value = data.names[0];
          input.dispatchEvent(new Event("change", { bubbles: true }));
        }
        note.textContent = data.note;
        note.hidden = !data.note;
        input.dataset.modelsReady = "1";
      } catch (e) { /* typing the name still works */ }
    }
    select.addEventListener("change", refresh);
    refresh();
  }
  document.addEventListener("DOMContentLoaded", start);
  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("input[data-models-for]").forEach(modelPicker);
  });
})();
