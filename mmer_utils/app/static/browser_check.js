// /browser/check: load the in-browser face models once and say whether they run. The parity test and
// the speed benchmark use window.mmerCheck (the loaded MmerFace) from Selenium.
(function () {
  "use strict";
  var config = document.getElementById("mmer-live-config"), status = document.getElementById("check-status");
  var threads = parseInt(new URLSearchParams(location.search).get("threads"), 10) || 0;   // 0: the default
  var proxy = new URLSearchParams(location.search).get("proxy") === "1";
  var model = new MmerFace({ threads: threads, proxy: proxy, wasmPaths: config.getAttribute("data-wasm"),
                             faceModel: config.getAttribute("data-face-model"),
                             detectorModel: config.getAttribute("data-detector-model") });
  var started = performance.now();
  model.load().then(function () {
    return model.classify(new Uint8Array(48 * 48), 1);
  }).then(function (p) {
    window.mmerCheck = model;
    status.setAttribute("data-state", "ready");
    status.setAttribute("data-threads", String(ort.env.wasm.numThreads));
    status.textContent = "The models run in this browser (" + ort.env.wasm.numThreads + " thread(s); loaded in " +
      ((performance.now() - started) / 1000).toFixed(1) + " s; " + p.length + " probabilities for a blank face).";
  }).catch(function (e) {
    status.setAttribute("data-state", "failed");
    status.textContent = "The models cannot run in this browser: " + (e && e.message ? e.message : e);
  });
})();
