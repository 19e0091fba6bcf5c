// Records the voice or the video answer in the browser (getUserMedia + MediaRecorder) and puts the
// recording into the form's file input, so the form is sent as if the file had been chosen by hand.
// Vanilla JavaScript, no library. Each <fieldset class="recorder"> has:
//   data-kind="audio" | "video", data-audio="yes" | "no" (record sound with the video),
//   data-max-seconds (the recording stops by itself), data-input (id of its <input type=file>).
(function () {
  "use strict";
  var COUNTDOWN = 3;

  function supported() {
    return !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && window.MediaRecorder &&
              window.DataTransfer);
  }

  function pickType(kind) {
    var types = kind === "video"
      ? ["video/webm;codecs=vp8,opus", "video/webm;codecs=vp8", "video/webm", "video/mp4"]
      : ["audio/webm;codecs=opus", "audio/webm", "audio/ogg;codecs=opus", "audio/mp4"];
    for (var i = 0; i < types.length; i++) {
      if (MediaRecorder.isTypeSupported(types[i])) { return types[i]; }
    }
    return "";
  }

  function extension(type) {
    if (type.indexOf("mp4") >= 0) { return "mp4"; }
    if (type.indexOf("ogg") >= 0) { return "ogg"; }
    return "webm";
  }

  function setup(box) {
    var kind = box.getAttribute("data-kind");
    var withAudio = box.getAttribute("data-audio") === "yes";
    var maxSeconds = parseFloat(box.getAttribute("data-max-seconds")) || 120;
    var input = document.getElementById(box.getAttribute("data-input"));
    var ui = box.querySelector(".rec-ui");
    if (!supported() || !input) {
      var note = box.querySelector(".rec-unsupported");
      if (note) { note.hidden = false; }
      return;
    }
    ui.hidden = false;
    var startBtn = box.querySelector("[data-action=start]");
    var stopBtn = box.querySelector("[data-action=stop]");
    var redoBtn = box.querySelector("[data-action=redo]");
    var status = box.querySelector(".rec-status");
    var live = box.querySelector(".rec-live");
    var preview = box.querySelector(".rec-preview");
    var stream = null, recorder = null, chunks = [], timer = null, started = 0, previewUrl = null;

    function say(text, recording) {
      status.textContent = text;
      status.classList.toggle("recording", !!recording);
    }

    function release() {
      if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
      if (live) { live.srcObject = null; live.hidden = true; }
      if (timer) { clearInterval(timer); timer = null; }
    }

    function clearRecording() {
      input.value = "";
      if (previewUrl) { URL.revokeObjectURL(previewUrl); previewUrl = null; }
      preview.removeAttribute("src");
      preview.hidden = true;
    }

    function finished() {
      box.dispatchEvent(new CustomEvent("mmer:recording-stop"));
      var type = recorder.mimeType || pickType(kind) || (kind === "video" ? "video/webm" : "audio/webm");
      var blob = new Blob(chunks, { type: type.split(";")[0] });
      var seconds = (Date.now() - started) / 1000;
      release();
      var file = new File([blob], kind + "-recording." + extension(type), { type: blob.type });
      var dt = new DataTransfer();
      dt.items.add(file);
      input.files = dt.files;
      previewUrl = URL.createObjectURL(blob);
      preview.src = previewUrl;
      preview.hidden = false;
      say("Recorded " + seconds.toFixed(0) + " s. Listen back, record again, or send your answer.");
      startBtn.disabled = true;
      stopBtn.disabled = true;
      redoBtn.disabled = false;
    }

    function record() {
      chunks = [];
      var type = pickType(kind);
      try {
        recorder = type ? new MediaRecorder(stream, { mimeType: type }) : new MediaRecorder(stream);
      } catch (e) {
        release();
        say("This browser cannot record (" + e.name + "): upload a file instead.");
        startBtn.disabled = false;
        return;
      }
      recorder.ondataavailable = function (ev) { if (ev.data && ev.data.size) { chunks.push(ev.data); } };
      recorder.onstop = finished;
      recorder.start(1000);
      started = Date.now();
      box.dispatchEvent(new CustomEvent("mmer:recording-start"));   // live_face.js listens (video only)
      stopBtn.disabled = false;
      timer = setInterval(function () {
        var elapsed = (Date.now() - started) / 1000;
        var left = Math.max(0, maxSeconds - elapsed);
        say("Recording… " + elapsed.toFixed(0) + " s (" + left.toFixed(0) + " s left)", true);
        if (elapsed >= maxSeconds) { stop(); }
      }, 250);
    }

    function countdown(n) {
      if (n === 0) { record(); return; }
      say("Recording starts in " + n + "…", true);
      setTimeout(function () { countdown(n - 1); }, 1000);
    }

    function start() {
      clearRecording();
      startBtn.disabled = true;
      redoBtn.disabled = true;
      say("Asking for permission…");
      var constraints = kind === "video"
        ? { video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" }, audio: withAudio }
        : { audio: { echoCancellation: true, noiseSuppression: false }, video: false };
      navigator.mediaDevices.getUserMedia(constraints).then(function (s) {
        stream = s;
        if (live) { live.srcObject = s; live.hidden = false; live.play().catch(function () {}); }
        countdown(COUNTDOWN);
      }).catch(function (e) {
        startBtn.disabled = false;
        var why = e && e.name === "NotAllowedError" ? "permission refused" :
                  e && e.name === "NotFoundError" ? "no " + (kind === "video" ? "camera" : "microphone") + " found" :
                  (e && e.name) || "error";
        say("Cannot record (" + why + "): allow the " + (kind === "video" ? "camera" : "microphone") +
            " in the browser, or upload a file.");
      });
    }

    function stop() {
      if (timer) { clearInterval(timer); timer = null; }
      if (recorder && recorder.state !== "inactive") { recorder.stop(); }
      stopBtn.disabled = true;
    }

    startBtn.addEventListener("click", start);
    stopBtn.addEventListener("click", stop);
    redoBtn.addEventListener("click", start);
    // a file chosen by hand replaces a recording
    input.addEventListener("change", function () {
      if (previewUrl && input.files.length && input.files[0].name.indexOf("-recording.") < 0) {
        URL.revokeObjectURL(previewUrl); previewUrl = null;
        preview.hidden = true; startBtn.disabled = false; redoBtn.disabled = true;
        say("Using the file you chose.");
      }
    });
  }

  function init() {
    var boxes = document.querySelectorAll("fieldset.recorder");
    for (var i = 0; i < boxes.length; i++) { setup(boxes[i]); }
    var form = document.getElementById("answer-form");
    if (form) {
      form.addEventListener("submit", function (ev) {
        var rec = document.querySelector(".rec-status.recording");
        if (rec) { ev.preventDefault(); alert("Stop the recording first."); return; }
        // the server refuses an upload over its limit: say so before sending megabytes for nothing
        var limit = parseFloat(form.getAttribute("data-max-bytes")) || 0;
        var total = 0;
        form.querySelectorAll("input[type=file]").forEach(function (inp) {
          for (var i = 0; i < inp.files.length; i++) { total += inp.files[i].size; }
        });
        var note = document.getElementById("too-large");
        if (limit && total > limit) {
          ev.preventDefault();
          if (note) {
            note.hidden = false;
            note.textContent = "Your files weigh " + (total / 1048576).toFixed(1) + " MB; the limit is " +
              (limit / 1048576).toFixed(0) + " MB. Record a shorter answer or choose a smaller file.";
            note.scrollIntoView();
          }
          return;
        }
        if (note) { note.hidden = true; }
        var btn = form.querySelector("button[type=submit]");
        if (btn) { btn.disabled = true; btn.textContent = "Sending… (checking your answer)"; }
      });
      window.addEventListener("pageshow", function () {   // back from an error page: the button works again
        var btn = form.querySelector("button[type=submit]");
        if (btn) { btn.disabled = false; btn.textContent = "Send my answer"; }
      });
    }
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
