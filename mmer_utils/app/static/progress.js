// Progress page: asks the server for the job's state every 2 s and reloads when it is done or failed.
(function () {
  "use strict";
  var box = document.getElementById("progress");
  if (!box) { return; }
  var url = box.getAttribute("data-status-url");
  var failures = 0;
  function show(id, text) {
    var el = document.getElementById(id);
    if (el) { el.textContent = text; }
  }
  function poll() {
    fetch(url, { headers: { "Accept": "application/json" }, cache: "no-store", credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 404) { window.location.reload(); return null; }
        return r.json();
      })
      .then(function (s) {
        if (!s) { return; }
        failures = 0;
        if (s.state === "done" || s.state === "failed") { window.location.reload(); return; }
        show("state", s.state);
        show("step", s.step || "");
        var pos = document.getElementById("position");
        if (pos) {
          pos.hidden = !s.position;
          pos.textContent = (s.position || 0) + " answer(s) before yours.";
        }
        setTimeout(poll, 2000);
      })
      .catch(function () {
        failures += 1;
        show("step", "cannot reach the server; trying again...");
        setTimeout(poll, Math.min(30000, 2000 * failures));
      });
  }
  setTimeout(poll, 1500);
})();
