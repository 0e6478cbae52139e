// snapkit pages: the Refresh button (confirmation + admin token -> POST /api/admin/refresh),
// live per-oracle progress from the run's event stream, and a reload when it ends.
// Reading works without this file; it only drives refreshes.
(function () {
  "use strict";
  var root = document.body.getAttribute("data-root") || "";
  var badge = document.getElementById("badge");
  if (!badge) { return; }
  var badgeText = document.getElementById("badge-text");
  var detail = document.getElementById("badge-detail");
  var button = document.getElementById("refresh-button");
  var dialog = document.getElementById("refresh-dialog");
  var form = document.getElementById("refresh-form");
  var token = document.getElementById("refresh-token");
  var problem = document.getElementById("refresh-error");
  var progress = document.getElementById("progress");
  var summary = document.getElementById("progress-summary");
  var list = document.getElementById("progress-list");
  var timer = null;

  function url(path) {
    return path.indexOf(root + "/") === 0 ? path : root + path;
  }

  function setBadge(colour, state, text) {
    badge.className = "badge badge-" + colour;
    badge.setAttribute("data-colour", colour);
    badge.setAttribute("data-state", state);
    badgeText.textContent = text;
  }

  function duration(seconds) {
    var s = Math.max(0, Math.floor(seconds));
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    if (h) { return h + " h " + m + " min"; }
    if (m) { return m + " min " + r + " s"; }
    return r + " s";
  }

  function tick(startedAt) {
    var started = Date.parse(startedAt);
    if (timer) { clearInterval(timer); }
    function show() { setBadge("blue", "fetching", "Fetching: " + duration((Date.now() - started) / 1000)); }
    show();
    timer = setInterval(show, 1000);
  }

  function render(run) {
    progress.hidden = false;
    var keys = Object.keys(run.oracles || {}).sort();
    var done = keys.filter(function (k) { return run.oracles[k].state === "done"; }).length;
    summary.textContent = done + " of " + keys.length + " oracles done" +
      (run.state === "running" ? "" : "; the refresh " + (run.state === "failed" ? "failed" : "ended"));
    list.textContent = "";
    keys.forEach(function (key) {
      var info = run.oracles[key];
      var item = document.createElement("li");
      item.setAttribute("data-oracle", key);
      item.setAttribute("data-state", info.state);
      var name = document.createElement("span");
      name.className = "oracle-name";
      name.textContent = key;
      var state = document.createElement("span");
      state.className = "oracle-state state-" + info.state;
      state.textContent = info.state + (info.attempt > 1 ? " (attempt " + info.attempt + ")" : "");
      var records = document.createElement("span");
      records.className = "oracle-records";
      records.textContent = (info.records || 0).toLocaleString("en") + " records";
      item.append(name, " ", state, " ", records);
      list.appendChild(item);
    });
  }

  function finished(run) {
    if (timer) { clearInterval(timer); timer = null; }
    render(run);
    if (run.state === "success" || run.state === "partial") {
      setBadge("green", "landed", "New snapshot ready");
      detail.textContent = "Snapshot " + (run.snapshot_id || "").slice(0, 12) + " landed; updating the page.";
    } else {
      setBadge("red", "ended", "Refresh failed");
      detail.textContent = run.error ? run.error.reason + ": " + run.error.message : "The refresh failed.";
    }
    window.setTimeout(function () { window.location.reload(); }, 300);
  }

  function follow(runId, startedAt) {
    var base = "/api/refresh/runs/" + encodeURIComponent(runId);
    tick(startedAt || new Date().toISOString());
    detail.textContent = "Refreshing; the current snapshot stays in use until the new one is complete.";
    if (button) { button.hidden = true; }
    var events = new EventSource(url(base + "/events"));
    var done = false;
    events.addEventListener("progress", function (e) { render(JSON.parse(e.data)); });
    events.addEventListener("done", function (e) {
      done = true;
      events.close();
      finished(JSON.parse(e.data));
    });
    events.onerror = function () {
      if (done) { return; }
      // The stream dropped: ask for the run instead, and follow it by polling.
      events.close();
      poll(base);
    };
  }

  function poll(base) {
    fetch(url(base), { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (run) {
        if (run && run.state !== "running") { finished(run); return; }
        if (run) { render(run); }
        window.setTimeout(function () { poll(base); }, 2000);
      })
      .catch(function () { window.setTimeout(function () { poll(base); }, 5000); });
  }

  function watchLock() {
    // A refresh run by another process (the CLI, another server): reload when it ends.
    fetch(url("/api/refresh"), { headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (status) {
        if (!status.running) { window.location.reload(); return; }
        window.setTimeout(watchLock, 5000);
      })
      .catch(function () { window.setTimeout(watchLock, 5000); });
  }

  function explain(response, body) {
    var error = (body && body.error) || {};
    if (response.status === 401 || response.status === 403) { return "That token was not accepted. Check the admin token and try again."; }
    if (response.status === 409) { return "A refresh is already running" + (error.holder ? " (" + error.holder + ")" : "") + "."; }
    if (response.status === 429) { return "Too many refreshes; try again in " + (response.headers.get("Retry-After") || "a few") + " seconds."; }
    if (response.status === 503) { return error.message || "Refreshing from the pages is not enabled on this server (no admin token is configured)."; }
    return error.message || ("The server answered " + response.status + ".");
  }

  function start() {
    problem.textContent = "";
    var confirm = document.getElementById("refresh-confirm");
    confirm.disabled = true;
    fetch(url("/api/admin/refresh"), {
      method: "POST",
      headers: { Authorization: "Bearer " + token.value, Accept: "application/json" }
    }).then(function (response) {
      return response.json().catch(function () { return null; }).then(function (body) {
        confirm.disabled = false;
        if (response.status === 202 && body) {
          token.value = "";
          dialog.close();
          follow(body.run_id, new Date().toISOString());
        } else if (response.status === 409) {
          dialog.close();
          tick(new Date().toISOString());
          detail.textContent = explain(response, body);
          watchLock();
        } else {
          problem.textContent = explain(response, body);
          token.focus();
        }
      });
    }).catch(function () {
      confirm.disabled = false;
      problem.textContent = "Could not reach the server.";
    });
  }

  if (button && dialog) {
    button.hidden = false;
    button.addEventListener("click", function () {
      problem.textContent = "";
      dialog.showModal();
      token.focus();
    });
    document.getElementById("refresh-cancel").addEventListener("click", function () {
      dialog.close();
      button.focus();
    });
    form.addEventListener("submit", function (event) {
      // The one submit button (or Enter in the token field) confirms.
      event.preventDefault();
      if (!token.value) { problem.textContent = "Enter the admin token."; token.focus(); return; }
      start();
    });
  }

  var running = badge.getAttribute("data-run");
  if (running) {
    follow(running, badge.getAttribute("data-started"));
  } else if (badge.getAttribute("data-lock")) {
    watchLock();
  }
})();
