// The idle warning: before the server signs an idle session out, say so and offer to stay.
// Loaded as a file (the Content-Security-Policy forbids inline scripts). The server decides: this
// asks it how long is left (other tabs count as activity too) and reloads the page once it is over,
// which lands on the login page with the server's message.
(() => {
  const dialog = document.getElementById("idle-warning");
  if (!dialog) return;
  const idle = Number(dialog.dataset.idleSeconds) * 1000;
  const warning = Number(dialog.dataset.warningSeconds) * 1000;
  const url = dialog.dataset.sessionUrl;
  const countdown = dialog.querySelector("[data-idle-countdown]");
  let deadline = Date.now() + idle;
  let timer = null;

  const csrf = () => (document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/) || [])[1] || "";
  const over = () => window.location.assign(window.location.href);

  function schedule() {
    clearTimeout(timer);
    timer = setTimeout(check, Math.max(0, deadline - warning - Date.now()));
  }

  async function ask(method) {
    const response = await fetch(url, {
      method,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrf() },
    });
    return response.json();
  }

  async function check() {
    let state;
    try {
      state = await ask("GET");
    } catch {
      timer = setTimeout(check, 5000); // the server is unreachable for now: ask again soon
      return;
    }
    if (!state || !state.signed_in) return over();
    deadline = Date.now() + state.idle_left * 1000;
    if (state.idle_left * 1000 > warning) {
      if (dialog.open) dialog.close();
      return schedule();
    }
    if (!dialog.open) dialog.showModal();
    tick();
  }

  function tick() {
    clearTimeout(timer);
    const left = Math.max(0, Math.ceil((deadline - Date.now()) / 1000));
    countdown.textContent = String(left);
    // At the end the server is asked again (it decides): signed out, the page reloads; else the wait goes on.
    timer = setTimeout(left <= 0 ? check : tick, 1000);
  }

  dialog.querySelector("[data-idle-stay]").addEventListener("click", async () => {
    const state = await ask("POST").catch(() => null);
    if (!state || !state.signed_in) return over();
    deadline = Date.now() + state.idle_left * 1000;
    dialog.close();
    schedule();
  });
  // Escape closes a modal dialog: that is "stay" too, not a way to ignore the warning.
  dialog.addEventListener("cancel", (event) => {
    event.preventDefault();
    dialog.querySelector("[data-idle-stay]").click();
  });
  // Any request this page makes to the server is activity.
  document.body.addEventListener("htmx:afterRequest", () => {
    deadline = Date.now() + idle;
    schedule();
  });
  schedule();
})();
