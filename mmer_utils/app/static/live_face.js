// Face emotions in the candidate's browser: YuNet finds the faces, the course's face model reads
// them, both ONNX models run in onnxruntime-web (WebAssembly), vendored from npm and served by the
// app (never a CDN). The steps copy the Python pipeline (mmer_utils.video.faces / predict):
//   detection: the frame (longer side at most 640 px) as a BGR float blob padded to 640x640, YuNet's
//     12 outputs decoded as OpenCV's FaceDetectorYN does (score = sqrt(cls * obj), threshold 0.6,
//     NMS at IoU 0.3), boxes clipped to the frame, faces under 24 px dropped;
//   crop: the square around the box (margin 0, no rotation), edge pixels replicated outside the
//     frame, grayscale with OpenCV's BGR2GRAY weights, shrunk to 48x48 by area averaging (INTER_AREA);
//   classification: pixels / 255 as float32 (n, 48, 48, 1) -> 7 probabilities (FER2013 order).
// window.MmerFace is the library (used by the answer page, the parity test and the benchmark);
// the bottom half wires it to the video recorder: a box and a label over the live preview, an
// emotion strip, and in private mode the per-frame probabilities that are sent instead of the video.
(function () {
  "use strict";
  var LABELS = ["angry", "disgust", "fear", "happy", "sad", "surprise", "neutral"];
  var COLORS = { angry: "#d62728", disgust: "#8c564b", fear: "#9467bd", happy: "#2ca02c", sad: "#1f77b4",
                 surprise: "#ff7f0e", neutral: "#7f7f7f" };
  var DET_SIZE = 640, STRIDES = [8, 16, 32], FACE = 48;

  function MmerFace(options) {
    this.options = options || {};
    this.face = null;
    this.detector = null;
    this.scoreThreshold = this.options.scoreThreshold || 0.6;
    this.nmsThreshold = 0.3;
    this.minSize = this.options.minSize || 24;
    this.maxSide = this.options.maxSide || 640;
  }

  MmerFace.LABELS = LABELS;
  MmerFace.COLORS = COLORS;

  MmerFace.prototype.load = async function () {
    if (!window.ort) { throw new Error("onnxruntime-web is not loaded"); }
    var o = this.options;
    ort.env.wasm.wasmPaths = o.wasmPaths;      // the app's static folder: never a CDN
    // threads need a cross-origin-isolated page (the app's COOP/COEP headers); on a 2-core machine that also
    // encodes the recording they slowed the analysis down (docs/browser.md), so: half the cores, at most 4
    var cores = navigator.hardwareConcurrency || 1;
    ort.env.wasm.numThreads = o.threads || (window.crossOriginIsolated && cores >= 4 ? Math.min(4, Math.floor(cores / 2)) : 1);
    ort.env.wasm.proxy = !!o.proxy;            // true: the runtime works in a Web Worker, off the page's thread
    ort.env.logLevel = "error";
    var opts = { executionProviders: ["wasm"], graphOptimizationLevel: "all" };
    this.face = await ort.InferenceSession.create(o.faceModel, opts);
    if (o.detectorModel) {
      this.detector = await ort.InferenceSession.create(o.detectorModel, opts);
      var meta = this.detector.inputMetadata && this.detector.inputMetadata[0];
      var shape = meta && meta.shape;   // [1, 3, h, w]: numbers when fixed, names when free
      this.fixedSize = shape && typeof shape[3] === "number" ? shape[3] : (o.detectorSize || null);
    }
    return this;
  };

  // ---------------------------------------------------------------- classification of 48x48 crops
  // gray: Uint8Array of n * 48 * 48 pixels (0-255); returns Float32Array of n * 7 probabilities
  MmerFace.prototype.classify = async function (gray, n) {
    var x = new Float32Array(n * FACE * FACE);
    for (var i = 0; i < x.length; i++) { x[i] = gray[i] / 255; }
    var feeds = {};
    feeds[this.face.inputNames[0]] = new ort.Tensor("float32", x, [n, FACE, FACE, 1]);
    var out = await this.face.run(feeds);
    return out[this.face.outputNames[0]].data;
  };

  // ---------------------------------------------------------------- detection (YuNet)
  function grayOf(rgba, n) {   // OpenCV's BGR2GRAY in fixed point: (R*4899 + G*9617 + B*1868 + 8192) >> 14
    var g = new Uint8Array(n);
    for (var i = 0, j = 0; i < n; i++, j += 4) {
      g[i] = (rgba[j] * 4899 + rgba[j + 1] * 9617 + rgba[j + 2] * 1868 + 8192) >> 14;
    }
    return g;
  }

  function iou(a, b) {
    var ix = Math.max(0, Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]));
    var iy = Math.max(0, Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]));
    var inter = ix * iy, union = a[2] * a[3] + b[2] * b[3] - inter;
    return union > 0 ? inter / union : 0;
  }

  // a frame as RGBA pixels {data, width, height} (ImageData) -> the detector's input at scale `scale`
  MmerFace.prototype._blob = function (frame, scale) {
    var w = frame.width, h = frame.height, src = frame.data;
    if (scale !== 1) {   // shrunk like Python's resize_max: OpenCV's INTER_AREA (area averaging), rounded to bytes
      var sw = Math.max(1, Math.round(w * scale)), sh = Math.max(1, Math.round(h * scale));
      src = areaResizeRGBA(src, w, h, sw, sh); w = sw; h = sh;
    }
    // like OpenCV's FaceDetectorYN: padded (zeros, bottom and right) to a multiple of 32; a detector file
    // with a fixed input size (YuNet's own: 640x640) gets the frame padded to that size instead
    var padW = this.fixedSize || Math.ceil(w / 32) * 32, padH = this.fixedSize || Math.ceil(h / 32) * 32;
    var plane = padW * padH, x = new Float32Array(3 * plane);   // BGR planes, 0-255
    for (var r = 0; r < h; r++) {
      for (var c = 0; c < w; c++) {
        var j = (r * w + c) * 4, k = r * padW + c;
        x[k] = src[j + 2]; x[plane + k] = src[j + 1]; x[2 * plane + k] = src[j];
      }
    }
    return { data: x, width: padW, height: padH };
  };

  MmerFace.prototype.detect = async function (frame) {
    if (!this.detector) { throw new Error("no face detector loaded"); }
    var W = frame.width, H = frame.height;
    var scale = Math.max(W, H) > this.maxSide ? this.maxSide / Math.max(W, H) : 1;
    if (Math.round(Math.max(W, H) * scale) > DET_SIZE) { throw new Error("frame too large for the detector"); }
    var blob = this._blob(frame, scale), feeds = {};
    feeds[this.detector.inputNames[0]] = new ort.Tensor("float32", blob.data, [1, 3, blob.height, blob.width]);
    var out = await this.detector.run(feeds);
    var cands = [];
    for (var s = 0; s < STRIDES.length; s++) {
      var st = STRIDES[s], cols = blob.width / st, rows = blob.height / st;
      var cls = out["cls_" + st].data, obj = out["obj_" + st].data, bbox = out["bbox_" + st].data,
          kps = out["kps_" + st].data;
      for (var r = 0; r < rows; r++) {
        for (var c = 0; c < cols; c++) {
          var idx = r * cols + c;
          var cs = Math.min(1, Math.max(0, cls[idx])), os = Math.min(1, Math.max(0, obj[idx]));
          var score = Math.sqrt(cs * os);
          if (score < this.scoreThreshold) { continue; }
          var cx = (c + bbox[idx * 4]) * st, cy = (r + bbox[idx * 4 + 1]) * st;
          var bw = Math.exp(bbox[idx * 4 + 2]) * st, bh = Math.exp(bbox[idx * 4 + 3]) * st;
          var marks = [];
          for (var n = 0; n < 5; n++) {
            marks.push([(kps[idx * 10 + 2 * n] + c) * st, (kps[idx * 10 + 2 * n + 1] + r) * st]);
          }
          cands.push({ box: [cx - bw / 2, cy - bh / 2, bw, bh], score: score, marks: marks });
        }
      }
    }
    cands.sort(function (a, b) { return b.score - a.score; });
    var kept = [];
    for (var i = 0; i < cands.length && kept.length < 5000; i++) {
      var ok = true;
      for (var k = 0; k < kept.length; k++) {
        if (iou(cands[i].box, kept[k].box) > this.nmsThreshold) { ok = false; break; }
      }
      if (ok) { kept.push(cands[i]); }
    }
    var faces = [];
    for (var q = 0; q < kept.length; q++) {
      var b = kept[q].box;
      var x0 = Math.max(0, b[0] / scale), y0 = Math.max(0, b[1] / scale);
      var x1 = Math.min(W, (b[0] + b[2]) / scale), y1 = Math.min(H, (b[1] + b[3]) / scale);
      if (x1 - x0 < this.minSize || y1 - y0 < this.minSize) { continue; }
      faces.push({ x: Math.round(x0), y: Math.round(y0), w: Math.round(x1 - x0), h: Math.round(y1 - y0),
                   score: kept[q].score,
                   landmarks: kept[q].marks.map(function (m) { return [m[0] / scale, m[1] / scale]; }) });
    }
    faces.sort(function (a, b) { return a.x - b.x || a.y - b.y; });
    return faces;
  };

  // ---------------------------------------------------------------- the crop (margin 0, no rotation)
  function areaWeights(inSize, outSize) {   // OpenCV's INTER_AREA: each output pixel averages its source interval
    var scale = inSize / outSize, tabs = [];
    for (var d = 0; d < outSize; d++) {
      var f0 = d * scale, f1 = f0 + scale, items = [];
      for (var s = Math.floor(f0); s < Math.ceil(f1 - 1e-9); s++) {
        var wgt = Math.min(f1, s + 1) - Math.max(f0, s);
        if (wgt > 1e-9) { items.push([s, wgt / scale]); }
      }
      tabs.push(items);
    }
    return tabs;
  }

  function bilinearWeights(inSize, outSize) {   // upscaling (faces under 48 px): bilinear, half-pixel centres
    var scale = inSize / outSize, tabs = [];
    for (var d = 0; d < outSize; d++) {
      var f = (d + 0.5) * scale - 0.5, s0 = Math.floor(f), t = f - s0;
      tabs.push([[Math.min(inSize - 1, Math.max(0, s0)), 1 - t], [Math.min(inSize - 1, Math.max(0, s0 + 1)), t]]);
    }
    return tabs;
  }

  function areaResizeRGBA(src, w, h, sw, sh) {   // RGBA -> RGBA (sw x sh), separable area averaging
    var tx = areaWeights(w, sw), ty = areaWeights(h, sh), tmp = new Float32Array(h * sw * 3);
    var out = new Uint8ClampedArray(sw * sh * 4), r, c, k, ch;
    for (r = 0; r < h; r++) {
      for (c = 0; c < sw; c++) {
        var t = tx[c], a0 = 0, a1 = 0, a2 = 0;
        for (k = 0; k < t.length; k++) {
          var j = (r * w + t[k][0]) * 4, wt = t[k][1];
          a0 += src[j] * wt; a1 += src[j + 1] * wt; a2 += src[j + 2] * wt;
        }
        var o = (r * sw + c) * 3; tmp[o] = a0; tmp[o + 1] = a1; tmp[o + 2] = a2;
      }
    }
    for (r = 0; r < sh; r++) {
      var tr = ty[r];
      for (c = 0; c < sw; c++) {
        for (ch = 0; ch < 3; ch++) {
          var acc = 0;
          for (k = 0; k < tr.length; k++) { acc += tmp[(tr[k][0] * sw + c) * 3 + ch] * tr[k][1]; }
          out[(r * sw + c) * 4 + ch] = Math.round(acc);
        }
        out[(r * sw + c) * 4 + 3] = 255;
      }
    }
    return out;
  }

  function cropFace(gray, W, H, face) {
    var side = Math.max(face.w, face.h), out = Math.max(1, Math.round(side));
    var cx = face.x + face.w / 2, cy = face.y + face.h / 2;
    var ox = cx - out / 2, oy = cy - out / 2;                 // the square's corner in the frame
    var sq = new Float32Array(out * out);
    var fx = ox - Math.floor(ox), fy = oy - Math.floor(oy), bx = Math.floor(ox), by = Math.floor(oy);
    function px(x, y) {   // BORDER_REPLICATE
      x = x < 0 ? 0 : (x >= W ? W - 1 : x); y = y < 0 ? 0 : (y >= H ? H - 1 : y);
      return gray[y * W + x];
    }
    for (var v = 0; v < out; v++) {
      for (var u = 0; u < out; u++) {
        var x = bx + u, y = by + v, val;
        if (fx === 0 && fy === 0) { val = px(x, y); } else {
          val = (1 - fx) * (1 - fy) * px(x, y) + fx * (1 - fy) * px(x + 1, y) +
                (1 - fx) * fy * px(x, y + 1) + fx * fy * px(x + 1, y + 1);
          val = Math.round(val);
        }
        sq[v * out + u] = val;
      }
    }
    var tabs = out > FACE ? areaWeights(out, FACE) : bilinearWeights(out, FACE);
    var tmp = new Float32Array(out * FACE), res = new Uint8Array(FACE * FACE), i, j, k;
    for (v = 0; v < out; v++) {          // columns first
      for (j = 0; j < FACE; j++) {
        var acc = 0, t = tabs[j];
        for (k = 0; k < t.length; k++) { acc += sq[v * out + t[k][0]] * t[k][1]; }
        tmp[v * FACE + j] = acc;
      }
    }
    for (i = 0; i < FACE; i++) {         // then rows
      var tr = tabs[i];
      for (j = 0; j < FACE; j++) {
        var a2 = 0;
        for (k = 0; k < tr.length; k++) { a2 += tmp[tr[k][0] * FACE + j] * tr[k][1]; }
        res[i * FACE + j] = Math.max(0, Math.min(255, Math.round(a2)));
      }
    }
    return res;
  }
  MmerFace.cropFace = cropFace;
  MmerFace.grayOf = grayOf;

  // detection + classification of one frame: [{x, y, w, h, score, proba: [7], emotion}]
  MmerFace.prototype.analyse = async function (frame) {
    var faces = await this.detect(frame);
    if (!faces.length) { return faces; }
    var gray = grayOf(frame.data, frame.width * frame.height);
    var crops = new Uint8Array(faces.length * FACE * FACE);
    for (var f = 0; f < faces.length; f++) { crops.set(cropFace(gray, frame.width, frame.height, faces[f]), f * FACE * FACE); }
    var proba = await this.classify(crops, faces.length);
    for (f = 0; f < faces.length; f++) {
      var p = Array.prototype.slice.call(proba, f * 7, f * 7 + 7), best = 0;
      for (var e = 1; e < 7; e++) { if (p[e] > p[best]) { best = e; } }
      faces[f].proba = p;
      faces[f].emotion = LABELS[best];
    }
    return faces;
  };

  // the pixels of a <video> (or any drawable) at its own size, through one reused canvas
  MmerFace.prototype.grab = function (source, width, height) {
    if (!this._canvas) { this._canvas = document.createElement("canvas"); }
    var c = this._canvas;
    if (c.width !== width || c.height !== height) { c.width = width; c.height = height; }
    var ctx = c.getContext("2d", { willReadFrequently: true });
    ctx.drawImage(source, 0, 0, width, height);
    return ctx.getImageData(0, 0, width, height);
  };

  window.MmerFace = MmerFace;

  // ================================================================ the answer page
  function largest(faces) {
    var best = null;
    for (var i = 0; i < faces.length; i++) { if (!best || faces[i].w * faces[i].h > best.w * best.h) { best = faces[i]; } }
    return best;
  }

  function setupLive(box, config) {
    var video = box.querySelector(".rec-live"), overlay = box.querySelector(".live-overlay");
    var strip = box.querySelector(".live-strip"), note = box.querySelector(".live-note");
    var privateBox = document.getElementById("private-mode"), faceJson = document.getElementById("face-json");
    var input = document.getElementById(box.getAttribute("data-input"));
    var minInterval = 1000 / (parseFloat(config.getAttribute("data-max-fps")) || 5);
    var model = new MmerFace({ wasmPaths: config.getAttribute("data-wasm"),
                               maxSide: parseInt(config.getAttribute("data-max-side"), 10) || 640,
                               // the models run in a Web Worker: the page (buttons, timers) never waits for them
                               proxy: config.getAttribute("data-proxy") !== "0",
                               faceModel: config.getAttribute("data-face-model"),
                               detectorModel: config.getAttribute("data-detector-model") });
    var ready = false, busy = false, running = false, recording = false, t0 = 0, lastRun = 0;
    var records = [], analysed = 0, counts = {}, duration = 0, timer = null;
    box.mmerLive = { records: function () { return records; }, analysed: function () { return analysed; } };

    function say(text) { if (note) { note.textContent = text; } }

    var bars = {};
    LABELS.forEach(function (name) {
      var row = document.createElement("div"); row.className = "live-row";
      var label = document.createElement("span"); label.className = "live-label"; label.textContent = name;
      var track = document.createElement("span"); track.className = "live-track";
      var bar = document.createElement("span"); bar.className = "live-bar"; bar.style.background = COLORS[name];
      track.appendChild(bar); row.appendChild(label); row.appendChild(track); strip.appendChild(row);
      bars[name] = bar;
    });
    var history = document.createElement("canvas"); history.className = "live-history";
    history.width = 480; history.height = 14; strip.appendChild(history);
    var hx = 0;

    function draw(faces, vw, vh) {
      var cw = video.clientWidth, ch = video.clientHeight;
      if (overlay.width !== cw || overlay.height !== ch) { overlay.width = cw; overlay.height = ch; }
      var ctx = overlay.getContext("2d");
      ctx.clearRect(0, 0, cw, ch);
      var k = Math.min(cw / vw, ch / vh), dx = (cw - vw * k) / 2, dy = (ch - vh * k) / 2;   // object-fit: contain
      faces.forEach(function (f) {
        var color = COLORS[f.emotion] || "#0c0";
        ctx.strokeStyle = color; ctx.lineWidth = 2;
        ctx.strokeRect(dx + f.x * k, dy + f.y * k, f.w * k, f.h * k);
        var text = f.emotion + " " + Math.round(100 * Math.max.apply(null, f.proba)) + "%";
        ctx.font = "bold 14px system-ui, sans-serif";
        var tw = ctx.measureText(text).width + 8, ty = Math.max(0, dy + f.y * k - 20);
        ctx.fillStyle = color; ctx.fillRect(dx + f.x * k, ty, tw, 20);
        ctx.fillStyle = "#fff"; ctx.fillText(text, dx + f.x * k + 4, ty + 15);
      });
      var main = largest(faces);
      LABELS.forEach(function (name, i) { bars[name].style.width = main ? (100 * main.proba[i]).toFixed(1) + "%" : "0"; });
      var hctx = history.getContext("2d");
      if (hx >= history.width) { hx = 0; hctx.clearRect(0, 0, history.width, history.height); }
      hctx.fillStyle = main ? COLORS[main.emotion] : "#ddd"; hctx.fillRect(hx, 0, 3, history.height); hx += 3;
      box.setAttribute("data-live-emotion", main ? main.emotion : "");
    }

    async function tick() {
      timer = null;
      if (!running) { return; }
      var now = performance.now();
      // throttled: at most data-max-fps analyses a second, and never two at once (a busy frame is skipped)
      if (!busy && video.readyState >= 2 && video.videoWidth && now - lastRun >= minInterval) {
        busy = true; lastRun = now;
        var at = (Date.now() - t0) / 1000, wasRecording = recording;
        try {
          var frame = model.grab(video, video.videoWidth, video.videoHeight);
          var faces = await model.analyse(frame);
          draw(faces, frame.width, frame.height);
          if (wasRecording && recording) {
            analysed += 1;
            var main = largest(faces);
            if (main) {
              records.push({ f: analysed - 1, t: Math.round(at * 1000) / 1000, p: main.proba.map(function (v) { return +v.toFixed(6); }),
                             box: [main.x, main.y, main.w, main.h], score: +main.score.toFixed(4) });
              counts[main.emotion] = (counts[main.emotion] || 0) + 1;
            }
            box.setAttribute("data-live-frames", String(analysed));
            box.setAttribute("data-live-faces", String(records.length));
          }
        } catch (e) {
          running = false;
          say("The live face analysis stopped (" + (e && e.message ? e.message : e) + "); the recording goes on.");
          return;
        } finally { busy = false; }
      }
      timer = setTimeout(tick, Math.max(10, minInterval - (performance.now() - lastRun)));
    }

    function startLoop() {
      if (!ready || running) { return; }
      running = true; tick();
    }

    function privateOn() { return !!(privateBox && privateBox.checked); }

    box.addEventListener("mmer:recording-start", function () {
      records = []; analysed = 0; counts = {}; recording = true; t0 = Date.now();
      if (faceJson) { faceJson.value = ""; }
    });
    box.addEventListener("mmer:recording-stop", function () {
      if (!recording) { return; }
      recording = false; duration = (Date.now() - t0) / 1000;
      running = false;
      if (timer) { clearTimeout(timer); timer = null; }
      var ctx = overlay.getContext("2d"); ctx.clearRect(0, 0, overlay.width, overlay.height);
      if (faceJson) {
        faceJson.value = JSON.stringify({ format: 1, labels: LABELS, frames: analysed,
                                          seconds: Math.round(duration * 1000) / 1000, records: records });
      }
      say("Analysed in your browser: " + analysed + " frames, a face in " + records.length + ".");
    });
    video.addEventListener("playing", startLoop);

    if (privateBox) {
      privateBox.disabled = false;
      var form = document.getElementById("answer-form");
      // capture phase: runs before recorder.js's size check, so a private answer never weighs the video
      form.addEventListener("submit", function (ev) {
        if (!privateOn()) { if (faceJson) { faceJson.disabled = true; } return; }
        if (faceJson) { faceJson.disabled = false; }
        if (!faceJson || !faceJson.value) {
          ev.preventDefault(); ev.stopImmediatePropagation();
          alert("Private mode: record your answer first (your face is analysed while you record).");
          return;
        }
        if (input) { input.value = ""; input.disabled = true; }   // the video stays in this browser
      }, true);
      window.addEventListener("pageshow", function () { if (input) { input.disabled = false; } });
    }

    say("Loading the face models in your browser…");
    model.load().then(function () {
      ready = true;
      box.setAttribute("data-live", "ready");
      say("Live face emotion: computed in your browser (at most " + Math.round(1000 / minInterval) + " frames a second).");
      if (!video.paused && video.readyState >= 2) { startLoop(); }
    }).catch(function (e) {
      box.setAttribute("data-live", "failed");
      if (privateBox) { privateBox.checked = false; privateBox.disabled = true; }
      say("The live face analysis is off: the models could not start in this browser (" +
          (e && e.message ? e.message : e) + ").");
    });
  }

  function init() {
    var config = document.getElementById("mmer-live-config");
    if (!config) { return; }
    if (!window.ort) {   // the runtime's script did not load (blocked, or a half-vendored folder): say so, once
      var notes = document.querySelectorAll(".live-note");
      for (var n = 0; n < notes.length; n++) {
        notes[n].textContent = "The live face analysis is off: the in-browser runtime (onnxruntime-web) did not load.";
      }
      return;
    }
    var boxes = document.querySelectorAll("fieldset.recorder[data-kind=video]");
    for (var i = 0; i < boxes.length; i++) {
      if (boxes[i].querySelector(".live-overlay")) { setupLive(boxes[i], config); }
    }
  }

  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
