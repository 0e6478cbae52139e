/* The live dashboard: a class switch opens the class's event stream
   (GET /api/dashboard/{class}/events) and its tiles fill in as the oracle results arrive.
   The server sends each tile and source as the HTML fragment the page renders itself; this
   script only places them. Messages of any token but the current stream's are ignored (the
   server never sends them; this is a second guard). Without JavaScript the form's GET
   renders the class on the server. */
(function () {
  "use strict";

  var form = document.getElementById("dashboard-form");
  var select = document.getElementById("class-select");
  if (!form || !select || !window.EventSource) {
    return;
  }
  var tiles = document.getElementById("tiles");
  var oracles = document.getElementById("oracle-list");
  var state = document.getElementById("live-state");
  var label = document.getElementById("class-label");
  var exportSection = document.getElementById("export");
  var exportAbout = document.getElementById("export-about");
  var exportButton = document.getElementById("export-button");
  var parityBody = document.querySelector("#parity tbody");
  var base = select.getAttribute("data-events");
  var stream = null;
  var token = null;
  var shown = [];
  var seq = 0;
  /* one coordinator session per page load (a tab), its switches counted in order */
  var page = Array.prototype.map.call(window.crypto.getRandomValues(new Uint8Array(12)),
    function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  window.snapkitDashboard = { shown: shown };  /* the tokens of applied messages (tests) */

  function fragment(html) {
    var holder = document.createElement("template");
    holder.innerHTML = html.trim();
    return holder.content.firstElementChild;
  }

  function place(container, selector, html) {
    var node = fragment(html);
    var old = container.querySelector(selector);
    if (old) {
      container.replaceChild(node, old);
    } else {
      container.appendChild(node);
    }
  }

  function say(text) {
    state.textContent = text;
  }

  function text(tag, content) {
    var node = document.createElement(tag);
    node.textContent = content;
    return node;
  }

  function showExport(info) {
    exportSection.hidden = false;
    exportAbout.textContent = "";
    parityBody.textContent = "";
    if (!info || !info.profile) {
      exportAbout.textContent = "No export profile covers these tiles.";
      exportButton.hidden = true;
      return;
    }
    exportAbout.appendChild(document.createTextNode("The "));
    exportAbout.appendChild(text("code", info.profile));
    exportAbout.appendChild(document.createTextNode(" ZIP of the stored snapshot "));
    var id = text("code", info.snapshot_id.slice(0, 12));
    id.title = info.snapshot_id;
    exportAbout.appendChild(id);
    exportAbout.appendChild(document.createTextNode(
      ". The tiles above are assembled live and may be newer."));
    exportButton.href = info.url;
    exportButton.hidden = false;
    Object.keys(info.parity).sort().forEach(function (key) {
      var row = document.createElement("tr");
      row.setAttribute("data-projection", key);
      var head = text("th", key);
      head.scope = "row";
      var cell = document.createElement("td");
      var code = text("code", info.parity[key]);
      code.className = "fingerprint";
      cell.appendChild(code);
      row.appendChild(head);
      row.appendChild(cell);
      parityBody.appendChild(row);
    });
  }

  function sources(counts) {
    var parts = Object.keys(counts).sort().map(function (source) {
      return counts[source] + " " + (source === "cache" ? "from the cache" : source);
    });
    return parts.join(", ");
  }

  function open(classId) {
    if (stream) {
      stream.close();
    }
    token = null;
    tiles.setAttribute("data-class", classId);
    tiles.setAttribute("aria-busy", "true");
    Array.prototype.forEach.call(tiles.querySelectorAll("[data-tile]"), function (tile) {
      /* the previous class's numbers go at once: a tile shows only its class's figures */
      Array.prototype.forEach.call(
        tile.querySelectorAll(".figures, .counts, h4, .tile-reason"), function (node) {
          node.parentNode.removeChild(node);
        });
      tile.setAttribute("data-status", "waiting");
      tile.removeAttribute("data-token");
      tile.className = "tile tile-waiting";
      var pill = tile.querySelector(".tile-status");
      if (pill) {
        pill.textContent = "waiting";
        pill.className = "pill tile-status status-waiting";
      }
    });
    say("Loading " + classId + "…");
    seq += 1;
    var source = new EventSource(base + encodeURIComponent(classId) + "/events?page=" +
      page + "&seq=" + seq);
    stream = source;

    function mine(event) {
      if (source !== stream) {
        return null;
      }
      var data = JSON.parse(event.data);
      if (token !== null && data.token !== token) {
        return null;
      }
      return data;
    }

    source.addEventListener("session", function (event) {
      if (source !== stream) {
        return;
      }
      var data = JSON.parse(event.data);
      token = data.token;
      state.setAttribute("data-token", token);
      if (label) {
        label.textContent = "of " + data.label;
      }
      showExport(data.export);
    });
    source.addEventListener("loading", function (event) {
      var data = mine(event);
      if (!data) {
        return;
      }
      oracles.textContent = "";
      data.oracles.forEach(function (key) {
        var item = document.createElement("li");
        item.setAttribute("data-oracle", key);
        item.setAttribute("data-state", "waiting");
        item.innerHTML = '<span class="oracle-name"></span> <span class="oracle-state">waiting</span>';
        item.firstChild.textContent = key;
        oracles.appendChild(item);
      });
      say("Loading " + data.class_id + ": waiting for " + data.oracles.length + " oracles…");
    });
    source.addEventListener("oracle", function (event) {
      var data = mine(event);
      if (!data) {
        return;
      }
      shown.push(data.token);
      place(oracles, '[data-oracle="' + data.key + '"]', data.html);
    });
    source.addEventListener("tile", function (event) {
      var data = mine(event);
      if (!data) {
        return;
      }
      shown.push(data.token);
      var node = fragment(data.html);
      node.setAttribute("data-token", data.token);
      var old = tiles.querySelector('[data-tile="' + data.key + '"]');
      if (old) {
        tiles.replaceChild(node, old);
      } else {
        tiles.appendChild(node);
      }
    });
    function finished(event, what) {
      var data = mine(event);
      if (!data) {
        return;
      }
      tiles.removeAttribute("aria-busy");
      state.setAttribute("data-done", data.token);
      say(what + ": " + sources(data.sources) + ".");
    }
    source.addEventListener("complete", function (event) {
      finished(event, "Complete");
    });
    source.addEventListener("timeout", function (event) {
      finished(event, "Timed out, shown with what arrived");
    });
    source.onerror = function () {
      if (source === stream && source.readyState === EventSource.CLOSED) {
        say("The live stream closed; choose the class again to retry.");
      }
    };
  }

  select.addEventListener("change", function () {
    if (!select.value) {
      return;
    }
    var url = new URL(window.location.href);
    url.searchParams.set("class", select.value);
    window.history.replaceState(null, "", url.toString());
    open(select.value);
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (select.value) {
      open(select.value);
    }
  });
}());
