// The chat: send a message and show the answer as it streams (server-sent events over fetch),
// stop, regenerate. While streaming, text is inserted as plain text; the finished turn arrives
// as server-rendered, sanitised HTML. Loaded as a file: the CSP forbids inline scripts.
(function () {
  "use strict";
  const composer = document.getElementById("composer");
  const turns = document.getElementById("turns");
  const template = document.getElementById("pending-turn");
  if (!turns || !template) return;
  const stopButton = composer && composer.querySelector("[data-stop]");
  const sendButton = composer && composer.querySelector("button[type=submit]");
  const errorBox = composer && composer.querySelector("[data-error]");
  const csrf = () => {
    const field = document.querySelector("input[name=csrfmiddlewaretoken]");
    return field ? field.value : "";
  };
  let current = null; // {controller, runId}

  function busy(on) {
    if (sendButton) sendButton.disabled = on;
    if (stopButton) stopButton.hidden = !on;
    turns.querySelectorAll("[data-regenerate]").forEach((b) => { b.disabled = on; });
  }

  function showError(message) {
    if (!errorBox) { window.alert(message); return; }
    errorBox.textContent = message;
    errorBox.hidden = !message;
  }

  function addPendingTurn(questionText, replacing) {
    const node = template.content.firstElementChild.cloneNode(true);
    const question = node.querySelector(".question");
    if (questionText) question.textContent = questionText; else question.remove();
    if (replacing) replacing.replaceWith(node); else turns.appendChild(node);
    node.scrollIntoView({ block: "end", behavior: "smooth" });
    return node;
  }

  function parseEvents(buffer, onEvent) {
    let index;
    while ((index = buffer.indexOf("\n\n")) !== -1) {
      const block = buffer.slice(0, index);
      buffer = buffer.slice(index + 2);
      let name = "message";
      const data = [];
      block.split("\n").forEach((line) => {
        if (line.startsWith("event: ")) name = line.slice(7);
        else if (line.startsWith("data: ")) data.push(line.slice(6));
      });
      if (data.length) onEvent(name, JSON.parse(data.join("\n")));
    }
    return buffer;
  }

  async function stream(url, body, node) {
    const controller = new AbortController();
    current = { controller: controller, runId: null };
    busy(true);
    showError("");
    const text = node.querySelector("[data-stream-text]");
    const status = node.querySelector(".status");
    const reasoning = node.querySelector(".reasoning");
    const steps = node.querySelector(".steps");
    let finished = false;
    try {
      const response = await fetch(url, {
        method: "POST",
        body: body,
        headers: { "X-CSRFToken": csrf(), Accept: "text/event-stream" },
        credentials: "same-origin",
        signal: controller.signal,
      });
      if (!response.ok) {
        let message = response.status === 404 ? node.dataset.notFound : "";
        try { message = (await response.json()).error || message; } catch (e) { /* not JSON */ }
        node.remove();
        showError(message || composer.dataset.failed || "Error " + response.status);
        return;
      }
      const reader = response.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const chunk = await reader.read();
        if (chunk.done) break;
        buffer = parseEvents(buffer + decoder.decode(chunk.value, { stream: true }), (name, data) => {
          if (name === "start") {
            current.runId = data.run;
            node.id = "turn-" + data.run;
            if (data.url && composer && window.location.pathname !== data.url) {
              // A new chat became a conversation: later messages, reloads and "back" go to it.
              window.history.replaceState(null, "", data.url);
              const action = new URL(composer.action, window.location.href);
              action.searchParams.set("conversation", data.conversation);
              composer.action = action.pathname + action.search;
            }
          }
          else if (name === "delta") { text.textContent += data.text; }
          else if (name === "replace") { text.textContent = data.text; }
          else if (name === "reasoning") { reasoning.hidden = false; reasoning.querySelector(".reasoning-text").textContent += data.text; }
          else if (name === "tool") { const li = document.createElement("li"); li.textContent = "🔧 " + data.name; steps.appendChild(li); }
          else if (name === "done") {
            finished = true;
            const holder = document.createElement("div");
            holder.innerHTML = data.html; // server-rendered and sanitised
            const rendered = holder.firstElementChild;
            node.replaceWith(rendered);
            if (window.htmx) window.htmx.process(rendered);
          }
        });
      }
    } catch (error) {
      if (error.name !== "AbortError") showError(composer.dataset.failed || String(error));
    } finally {
      if (!finished && status) status.textContent = composer.dataset.interrupted || "";
      if (!finished && current && current.runId && window.htmx) {
        // The run goes on (or was stopped) on the server: show its stored state.
        node.setAttribute("hx-get", composer.dataset.turnUrl.replace("/0/", "/" + current.runId + "/"));
        node.setAttribute("hx-trigger", "load delay:1s");
        node.setAttribute("hx-swap", "outerHTML");
        window.htmx.process(node);
      }
      current = null;
      busy(false);
    }
  }

  if (composer) {
    composer.addEventListener("submit", (event) => {
      event.preventDefault();
      if (current) return;
      const body = new FormData(composer);
      const message = (body.get("message") || "").trim();
      const files = composer.querySelector("input[type=file]");
      const node = addPendingTurn(message || composer.dataset.formSent || "");
      stream(composer.action, body, node);
      composer.querySelector("#message").value = "";
      if (files) files.value = "";
    });
    composer.addEventListener("keydown", (event) => {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        composer.requestSubmit();
      }
    });
  }

  if (stopButton) {
    stopButton.addEventListener("click", async () => {
      if (!current || !current.runId) return;
      await fetch(stopButton.dataset.stop.replace("/0/", "/" + current.runId + "/"), {
        method: "POST",
        headers: { "X-CSRFToken": csrf() },
        credentials: "same-origin",
      });
    });
  }

  turns.addEventListener("click", (event) => {
    const button = event.target.closest("[data-regenerate]");
    if (!button || current) return;
    const old = button.closest(".turn");
    const question = old.querySelector(".question .text");
    const node = addPendingTurn(question ? question.textContent : "", old);
    stream(button.dataset.regenerate, new FormData(), node);
  });
})();
