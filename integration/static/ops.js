// The ops overview refreshes its numbers every 10 seconds without reloading the page. Without script
// the page works the same; its Refresh link reloads it.
(function () {
  "use strict";
  var body = document.getElementById("overview-body");
  if (!body || !window.fetch) { return; }
  var note = document.querySelector("[data-refresh-note]");
  function refresh() {
    fetch(body.getAttribute("data-refresh"), { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.text(); })
      .then(function (html) {
        body.innerHTML = html;
        if (note) { note.textContent = "Updated " + new Date().toLocaleTimeString() + "."; }
      })
      .catch(function () { if (note) { note.textContent = "Could not update; showing older numbers."; } });
  }
  if (note) { note.textContent = "Updates every 10 seconds."; }
  setInterval(refresh, 10000);
})();
