// The playground page: pickers and toolbar -> JSON API; Server-Sent Events frames -> canvases. No build step.
"use strict";

const COLORS = { real: "#1a9850", fake: "#7b3294", critic: "#d95f02", generator: "#7570b3", penalty: "#999",
                 w: "#2b6cb0", modes: "#1a9850", hq: "#d95f02", grid: "rgba(60,60,60,0.35)", arrow: "#333" };
const NUMBER_FIELDS = ["n_critic", "d_lr", "g_lr", "g_width", "g_depth", "d_width", "d_depth", "batch_size", "seed"];
const SETTING_FIELDS = ["data", "loss", "prior", ...NUMBER_FIELDS];
const LAYERS = ["heat", "manifold", "real", "fake", "arrows"];  // checkboxes show-<name>
// The address holds the run's settings, then what only the page uses: the drawn points, the speed, hidden layers
// (?hide=heat,arrows) and autoplay=1 (training starts on load).
const LIVE_CONTROLS = ["n_critic", "d_lr", "g_lr"];  // may change in the running run, where options.live says so
const PAGE_FIELDS = ["points", "speed", "hide", "autoplay"];
const HISTORY = 600;  // chart points kept
const MAIN_PAD = 18;  // room on the data canvas for its axes' labels

const $ = (id) => document.getElementById(id);
const app = { options: null, session: null, source: null, frame: null, history: [], drawn: [], frameTimes: [],
              requestError: "", addressWarning: "", settings: null, runPoints: null, pending: {}, autoplay: false };

// ---------- API ----------

async function api(path, body) {
  const response = await fetch(path, body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  let data = null;
  try { data = await response.json(); } catch (e) { data = { error: `Bad reply from the server (${response.status}).` }; }
  if (!response.ok) {
    const error = new Error(data.error || `HTTP ${response.status}`);
    error.status = response.status;
    throw error;
  }
  return data;
}

// Three sources of errors: a refused request (kept until the next accepted one), the session's own (in frames), and
// what the address asked for that the page ignored (kept until a control changes).
function showError(requestError) {
  if (requestError !== undefined) app.requestError = requestError;
  const message = [app.requestError || (app.frame && app.frame.error), app.addressWarning].filter(Boolean).join("\n");
  const box = $("error");
  box.textContent = message;
  box.style.display = message ? "block" : "none";
}

// A notice marked `untilFrame` (the compile message) gives way to the first frame; the others stay until replaced.
function notice(message, untilFrame = false) {
  $("notice").textContent = message || "";
  app.noticeUntilFrame = untilFrame;
}

// ---------- settings ----------

// What the controls say. A value from the address that its control cannot show (an unknown loss, a word in a
// number field) is in app.pending until that control changes, and goes to the server as it was written, so that the
// server's message names it.
function readSettings() {
  const settings = { data: $("data").value, loss: $("loss").value, prior: $("prior").value };
  for (const name of NUMBER_FIELDS) {
    const text = $(name).value.trim();
    settings[name] = text === "" ? null : Number(text);
  }
  Object.assign(settings, app.pending);
  if (settings.data === "drawn") settings.points = app.pending.points ?? app.drawn;
  return settings;
}

function writeSettings(settings) {
  for (const name of ["data", "loss", "prior", ...NUMBER_FIELDS]) {
    if (settings[name] !== undefined && settings[name] !== null) $(name).value = settings[name];
  }
  updateOverview(settings);
}

function updateOverview(s) {
  const loss = app.options.losses.find((l) => l.name === s.loss);
  const prior = app.options.priors.find((p) => p.name === s.prior);
  const box = (text) => `<span class="box">${text}</span>`;
  $("model-overview").innerHTML = [
    box(`z ~ ${prior ? prior.label : s.prior}, 2-D`), "→",
    box(`G: ${s.g_depth}×${s.g_width} ReLU MLP`), "→", box("fake x"), "→",
    box(`${s.loss.startsWith("t_") ? "T(x<sub>r</sub>, x<sub>f</sub>)" : "D"}: ${s.d_depth}×${s.d_width} MLP`), "→",
    box(`loss: ${loss ? loss.label : s.loss}, n_critic ${s.n_critic}`),
  ].join(" ");
}

async function applySettings() {
  const settings = readSettings();
  if (settings.data === "drawn" && app.drawn.length === 0) {
    notice("Draw some points on the canvas, then press “Train on these”.");
    return;
  }
  try {
    const reply = app.session ? await api(`/api/sessions/${app.session}/settings`, settings)
                              : await api("/api/sessions", settings);
    app.pending = {};
    app.settings = reply.settings;
    app.runPoints = settings.data === "drawn" ? settings.points : null;
    showError("");
    app.history = [];
    writeSettings(reply.settings);
    updateUrl();
    if (!app.session || reply.session !== app.session) connect(reply.session);
    notice("New run: compiling the step (a few seconds the first time)…", true);
  } catch (error) {
    showError(app.session ? `Settings not applied (the current run goes on): ${error.message}` : error.message);
  }
}

async function command(action, value) {
  if (!app.session) return;
  try { await api(`/api/sessions/${app.session}/command`, { action, value }); showError(""); }
  catch (error) { showError(error.message); }
}

// A learning rate or n_critic: the running run takes it ("set") where the server says it can (options.live), and
// goes on; otherwise, or if the run refuses (409), a new run starts with the settings, as for the other controls.
async function setLive(name) {
  delete app.pending[name];
  const text = $(name).value.trim();
  if (!app.session || !app.settings || !app.options.live.includes(name) || text === ""
      || Object.keys(app.pending).length) {
    await applySettings();
    return;
  }
  const value = Number(text);
  try {
    await api(`/api/sessions/${app.session}/command`, { action: "set", value: { [name]: value } });
  } catch (error) {
    if (error.status === 409) await applySettings();
    else showError(`${name} not changed (the run goes on as it was): ${error.message}`);
    return;
  }
  showError("");
  app.settings = { ...app.settings, [name]: value };
  updateOverview(app.settings);
  updateUrl();
  notice(`${name} = ${value} from now on; the run goes on.`);
}

// ---------- the address ----------

function encodePoints(points) { return points.map(([x, y]) => `${x},${y}`).join(" "); }

function decodePoints(text) {
  const points = text.trim().split(/\s+/).map((pair) => pair.split(",").map(Number));
  return points.every((p) => p.length === 2 && p.every(Number.isFinite)) ? points : null;
}

// The running run's settings and the page's view, as the address: a link to it restores both.
function updateUrl() {
  if (!app.settings) return;
  const query = new URLSearchParams();
  for (const name of SETTING_FIELDS) {
    if (app.settings[name] !== undefined && app.settings[name] !== null) query.set(name, app.settings[name]);
  }
  if (app.settings.data === "drawn" && app.runPoints) query.set("points", encodePoints(app.runPoints));
  if ($("speed").value !== "0") query.set("speed", $("speed").value);
  const hidden = LAYERS.filter((name) => !$(`show-${name}`).checked);
  if (hidden.length) query.set("hide", hidden.join(","));
  if (app.autoplay) query.set("autoplay", "1");
  // Commas are legal in a query; left unescaped, the points and hidden layers stay readable.
  history.replaceState(null, "", `${location.pathname}?${query.toString().replace(/%2C/gi, ",")}`);
}

// Puts the address's settings in the controls (before the first run starts). Returns the speed asked for.
function readAddress() {
  const query = new URLSearchParams(location.search);
  const asked = {}, warnings = [];
  for (const [name, text] of query) {
    if (SETTING_FIELDS.includes(name)) asked[name] = text;
    else if (!PAGE_FIELDS.includes(name)) warnings.push(`${name}=${text}`);
  }
  // A loss in the address brings its own n_critic and learning rates, unless the address gives them too.
  const preset = app.options.losses.find((l) => l.name === asked.loss);
  const presetDefaults = preset ? { n_critic: preset.n_critic, d_lr: preset.lr, g_lr: preset.lr } : {};
  writeSettings({ ...app.options.defaults, ...presetDefaults });
  for (const [name, text] of Object.entries(asked)) {
    const number = Number(text);
    const isNumber = NUMBER_FIELDS.includes(name);
    $(name).value = isNumber ? (text.trim() !== "" && Number.isFinite(number) ? number : "") : text;
    if (isNumber ? $(name).value === "" : $(name).value !== text) app.pending[name] = text;
  }
  updateOverview(readSettings());
  if (query.has("points")) {
    const points = decodePoints(query.get("points"));
    if (points) { app.drawn = points; $("point-count").textContent = points.length; }
    else app.pending.points = query.get("points");
  }
  for (const name of (query.get("hide") || "").split(",")) {
    if (LAYERS.includes(name)) $(`show-${name}`).checked = false;
    else if (name) warnings.push(`hide=${name} (layers: ${LAYERS.join(", ")})`);
  }
  if (query.has("speed")) {
    $("speed").value = query.get("speed");
    if ($("speed").value !== query.get("speed")) {
      warnings.push(`speed=${query.get("speed")} (speeds: ${[...$("speed").options].map((o) => o.value).join(", ")})`);
      $("speed").value = "0";
    }
  }
  app.autoplay = ["1", "true", "yes"].includes((query.get("autoplay") || "").toLowerCase());
  if (warnings.length) {
    app.addressWarning = `Ignored in the address: ${warnings.join("; ")}. Settings: ${SETTING_FIELDS.join(", ")}; ` +
      `also ${PAGE_FIELDS.join(", ")}.`;
  }
}

// ---------- stream ----------

function connect(sessionId) {
  if (app.source) app.source.close();
  app.session = sessionId;
  const source = new EventSource(`/api/sessions/${sessionId}/events`);
  app.source = source;
  source.onmessage = (event) => onFrame(JSON.parse(event.data));
  source.addEventListener("end", () => {
    source.close();
    showError("This session ended. Reload the page to start a new one.");
  });
  source.onerror = () => {
    if (source.readyState === EventSource.CLOSED) {
      showError("Lost the connection to the playground server. Is it still running? Reload the page to reconnect.");
    }
  };
}

function onFrame(frame) {
  const now = performance.now();
  app.frameTimes.push(now);
  while (app.frameTimes.length && now - app.frameTimes[0] > 2000) app.frameTimes.shift();
  app.frame = frame;
  showError();
  if (frame.real && app.noticeUntilFrame) notice("");
  $("play").innerHTML = frame.playing ? "&#10073;&#10073; Pause" : "&#9654; Play";
  $("steps").textContent = frame.steps ?? "–";
  $("d-updates").textContent = frame.d_updates ?? 0;
  $("g-updates").textContent = frame.g_updates ?? 0;
  $("steps-per-s").textContent = Math.round(frame.steps_per_s || 0);
  $("fps").textContent = (app.frameTimes.length > 1
    ? (1000 * (app.frameTimes.length - 1) / (now - app.frameTimes[0])) : 0).toFixed(1);
  if (!frame.real) return;
  const last = app.history[app.history.length - 1];
  if (!last || last.updates !== frame.d_updates + frame.g_updates) {
    app.history.push({ updates: frame.d_updates + frame.g_updates, steps: frame.steps, ...frame.metrics,
                       modes: frame.coverage ? frame.coverage.modes_covered : null,
                       hq: frame.coverage ? frame.coverage.high_quality_fraction : null });
    if (app.history.length > HISTORY) app.history.shift();
  }
  drawAll();
}

// ---------- drawing ----------

function makeView(canvas, extent, pad = 0) {
  const size = canvas.width;
  const [x0, x1, y0, y1] = extent;
  const scale = (size - 2 * pad) / Math.max(x1 - x0, y1 - y0);
  return {
    x: (x) => pad + (x - x0) * scale,
    y: (y) => size - pad - (y - y0) * scale,
    inverse: (px, py) => [x0 + (px - pad) / scale, y0 + (size - pad - py) / scale],
    scale,
  };
}

function heatColor(t) {
  // 0: fake-looking (purple), 0.5: white, 1: real-looking (green)
  const fake = [123, 50, 148], real = [26, 152, 80], white = [255, 255, 255];
  const [a, b, u] = t < 0.5 ? [fake, white, t / 0.5] : [white, real, (t - 0.5) / 0.5];
  return a.map((c, i) => Math.round(c + (b[i] - c) * u * 1));
}

function drawHeat(ctx, frame, view) {
  const heat = frame.heat, n = heat.length;  // scaled to [0, 1] by the server; frame.heat_range holds the scale
  const image = new ImageData(n, n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const t = Math.min(1, Math.max(0, heat[i][j]));
      const [r, g, b] = heatColor(t);
      const k = 4 * ((n - 1 - i) * n + j);  // row i is y = axis[i], drawn bottom-up
      image.data[k] = r; image.data[k + 1] = g; image.data[k + 2] = b; image.data[k + 3] = 150;
    }
  }
  const tile = document.createElement("canvas");
  tile.width = tile.height = n;
  tile.getContext("2d").putImageData(image, 0, 0);
  const e = frame.extent, cell = (2 * e) / (n - 1);
  ctx.imageSmoothingEnabled = true;
  const x = view.x(-e - cell / 2), y = view.y(e + cell / 2);
  ctx.drawImage(tile, x, y, view.x(e + cell / 2) - x, view.y(-e - cell / 2) - y);
  const [lo, hi] = frame.heat_range;
  $("heat-legend").innerHTML = (frame.heat_kind === "probability" ? "heat-map: D(x) = sigmoid(critic), "
    : "heat-map: critic score, ") +
    `<span style='color:#7b3294'>${lo.toPrecision(3)}</span> → <span style='color:#1a9850'>${hi.toPrecision(3)}</span>`;
}

function drawLines(ctx, lines, view, color, width) {
  ctx.strokeStyle = color; ctx.lineWidth = width;
  for (const line of lines) {
    ctx.beginPath();
    line.forEach(([x, y], i) => (i ? ctx.lineTo(view.x(x), view.y(y)) : ctx.moveTo(view.x(x), view.y(y))));
    ctx.stroke();
  }
}

function drawPoints(ctx, points, view, color, radius) {
  ctx.fillStyle = color;
  for (const [x, y] of points) {
    ctx.beginPath(); ctx.arc(view.x(x), view.y(y), radius, 0, 2 * Math.PI); ctx.fill();
  }
}

function drawArrows(ctx, frame, view) {
  // The server scales the arrows so the longest is 1; frame.arrow_scale is its true length.
  $("arrow-scale").textContent = `longest |∇| = ${frame.arrow_scale.toPrecision(2)}`;
  if (frame.arrow_scale === 0) return;
  const unit = 0.12 * frame.extent;  // the longest arrow spans 6% of the view
  ctx.strokeStyle = COLORS.arrow; ctx.lineWidth = 1;
  frame.fake.forEach(([x, y], i) => {
    const [gx, gy] = frame.arrows[i];
    const x1 = view.x(x), y1 = view.y(y), x2 = view.x(x + unit * gx), y2 = view.y(y + unit * gy);
    const length = Math.hypot(x2 - x1, y2 - y1);
    if (length < 0.5) return;
    const angle = Math.atan2(y2 - y1, x2 - x1), head = Math.min(4, length / 2);
    ctx.beginPath(); ctx.moveTo(x1, y1); ctx.lineTo(x2, y2);
    ctx.lineTo(x2 - head * Math.cos(angle - 0.5), y2 - head * Math.sin(angle - 0.5));
    ctx.moveTo(x2, y2); ctx.lineTo(x2 - head * Math.cos(angle + 0.5), y2 - head * Math.sin(angle + 0.5));
    ctx.stroke();
  });
}

function drawMain() {
  const canvas = $("main-canvas"), ctx = canvas.getContext("2d");
  const drawing = $("data").value === "drawn";
  const frame = app.frame;
  const extent = drawing ? app.options.drawn_extent : (frame && frame.extent) || 2;
  const view = makeView(canvas, [-extent, extent, -extent, extent], MAIN_PAD);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, canvas.width, canvas.height);
  const showFrame = frame && frame.real && frame.extent === extent;
  ctx.save();  // the layers stay inside the square, clear of the axes' labels around it
  ctx.beginPath();
  ctx.rect(view.x(-extent), view.y(extent), 2 * extent * view.scale, 2 * extent * view.scale);
  ctx.clip();
  if (showFrame) {
    if ($("show-heat").checked) drawHeat(ctx, frame, view);
    if ($("show-manifold").checked) drawLines(ctx, frame.manifold, view, COLORS.grid, 1);
    if ($("show-real").checked) drawPoints(ctx, frame.real, view, COLORS.real, 2.2);
    if ($("show-fake").checked) drawPoints(ctx, frame.fake, view, COLORS.fake, 2.2);
    if ($("show-arrows").checked) drawArrows(ctx, frame, view);
  }
  if (drawing) drawPoints(ctx, app.drawn, view, "rgba(0,0,0,0.6)", 3);
  ctx.restore();
  ctx.strokeStyle = "#eee"; ctx.lineWidth = 1;
  ctx.strokeRect(view.x(-extent), view.y(extent), 2 * extent * view.scale, 2 * extent * view.scale);
  drawAxes(canvas, view, [-extent, extent, -extent, extent], ["x₁", "x₂"], "data space");
  canvas.classList.toggle("drawing", drawing);
}

// The names and end values of a square plot's axes, in the margin makeView left (its pad).
function drawAxes(canvas, view, [x0, x1, y0, y1], [xName, yName], what) {
  const ctx = canvas.getContext("2d"), tick = (v) => String(Number(v.toPrecision(2)));
  ctx.fillStyle = "#666"; ctx.font = "10px sans-serif";
  const bottom = view.y(y0) + 12, left = view.x(x0) - 5;
  ctx.textAlign = "left"; ctx.fillText(tick(x0), view.x(x0), bottom);
  ctx.textAlign = "center"; ctx.fillText(xName, (view.x(x0) + view.x(x1)) / 2, bottom);
  ctx.textAlign = "right"; ctx.fillText(tick(x1), view.x(x1), bottom);
  ctx.save(); ctx.translate(left, 0); ctx.rotate(-Math.PI / 2);
  ctx.textAlign = "left"; ctx.fillText(tick(y0), -view.y(y0), 0);
  ctx.textAlign = "center"; ctx.fillText(yName, -(view.y(y0) + view.y(y1)) / 2, 0);
  ctx.textAlign = "right"; ctx.fillText(tick(y1), -view.y(y1), 0);
  ctx.restore();
  ctx.textAlign = "left";
  canvas.dataset.xLabel = xName;
  canvas.dataset.yLabel = yName;
  canvas.setAttribute("aria-label", `${what}: ${yName} against ${xName}`);
}

function bounds(lines, extra) {
  let x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
  for (const line of lines) for (const [x, y] of line) {
    x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
  }
  const cx = (x0 + x1) / 2, cy = (y0 + y1) / 2, half = Math.max(x1 - x0, y1 - y0) / 2 * (1 + extra);
  return [cx - half, cx + half, cy - half, cy + half];
}

function drawLatent() {
  const canvas = $("latent-canvas"), ctx = canvas.getContext("2d"), frame = app.frame;
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, canvas.width, canvas.height);
  if (!frame || !frame.latent_grid) return;
  const box = bounds(frame.latent_grid, 0.15), view = makeView(canvas, box, 16);
  drawAxes(canvas, view, box, ["z₁", "z₂"], "latent space");
  ctx.save();
  const [x0, x1, y0, y1] = box.map((v, i) => (i < 2 ? view.x(v) : view.y(v)));
  ctx.beginPath(); ctx.rect(x0, y1, x1 - x0, y0 - y1);
  ctx.clip();
  drawLines(ctx, frame.latent_grid, view, COLORS.grid, 1);
  drawPoints(ctx, frame.latent, view, COLORS.fake, 1.8);
  if (frame.latent_means) {
    ctx.strokeStyle = "#d95f02"; ctx.lineWidth = 1.5;
    frame.latent_means.forEach(([x, y], i) => {
      const [sx, sy] = frame.latent_sigmas[i];
      ctx.beginPath();
      ctx.ellipse(view.x(x), view.y(y), Math.max(1, sx * view.scale), Math.max(1, sy * view.scale), 0, 0, 2 * Math.PI);
      ctx.stroke();
      ctx.beginPath(); ctx.moveTo(view.x(x) - 3, view.y(y)); ctx.lineTo(view.x(x) + 3, view.y(y));
      ctx.moveTo(view.x(x), view.y(y) - 3); ctx.lineTo(view.x(x), view.y(y) + 3); ctx.stroke();
    });
    $("latent-note").textContent = `DeLiGAN: ${frame.latent_means.length} learned component means (crosses) and σ (ellipses).`;
  } else {
    $("latent-note").textContent = "Latent samples z of the fake points; the grid is mapped to the manifold.";
  }
  ctx.restore();
}

// A line chart of app.history against the training step, with its axes named: options.yLabel (with units), and
// options.min/max to fix the y range. The axis names also go in the canvas's aria-label and data-x/y-label.
function drawChart(canvas, series, options) {
  const ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height;
  const left = 58, right = 6, top = 16, bottom = 28;  // room for the legend, the tick values and the axis names
  const xLabel = "training step", yLabel = options.yLabel;
  canvas.dataset.xLabel = xLabel;
  canvas.dataset.yLabel = yLabel;
  canvas.setAttribute("aria-label", `${series.map((s) => s.label).join(", ")}: ${yLabel} against ${xLabel}`);
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, w, h);
  ctx.font = "10px sans-serif";
  ctx.fillStyle = "#555"; ctx.textAlign = "center";
  ctx.fillText(xLabel, left + (w - left - right) / 2, h - 3);
  ctx.save(); ctx.translate(10, top + (h - top - bottom) / 2); ctx.rotate(-Math.PI / 2);
  ctx.fillText(yLabel, 0, 0); ctx.restore();
  ctx.strokeStyle = "#ccc"; ctx.lineWidth = 1; ctx.beginPath();
  ctx.moveTo(left, top); ctx.lineTo(left, h - bottom); ctx.lineTo(w - right, h - bottom); ctx.stroke();
  const points = app.history;
  // The y range spans the 1st to 99th percentile, so one early spike does not flatten the rest of the chart.
  const values = [];
  for (const s of series) for (const p of points) {
    const v = p[s.key];
    if (v !== null && v !== undefined && isFinite(v)) values.push(v);
  }
  if (!values.length) { ctx.textAlign = "left"; return; }
  values.sort((a, b) => a - b);
  const quantile = (q) => values[Math.min(values.length - 1, Math.floor(q * values.length))];
  let lo = options.min ?? quantile(0.01), hi = options.max ?? quantile(0.99);
  if (hi - lo <= 1e-9 * Math.abs(hi) + 1e-30) { const d = 0.1 * Math.abs(hi) || 0.5; hi += d; lo -= d; }
  // x is the update count (critic + generator), which grows with every button, so the lines never fold back; the
  // ticks name the training step there.
  const u0 = points[0].updates, u1 = Math.max(u0 + 1, points[points.length - 1].updates);
  const x = (p) => left + ((p.updates - u0) / (u1 - u0)) * (w - left - right);
  const y = (v) => h - bottom - ((Math.min(hi, Math.max(lo, v)) - lo) / (hi - lo)) * (h - top - bottom);
  const label = (v) => (Number.isInteger(v) ? String(v) : Math.abs(v) < 1e-3 ? v.toExponential(1) : v.toPrecision(3));
  ctx.fillStyle = "#888"; ctx.textAlign = "right";
  ctx.fillText(label(hi), left - 3, y(hi) + 8); ctx.fillText(label(lo), left - 3, y(lo));
  ctx.textAlign = "left"; ctx.fillText(String(points[0].steps), left, h - bottom + 11);
  ctx.textAlign = "right"; ctx.fillText(String(points[points.length - 1].steps), w - right, h - bottom + 11);
  ctx.textAlign = "left";
  if (lo < 0 && hi > 0) {
    ctx.strokeStyle = "#eee"; ctx.beginPath(); ctx.moveTo(left, y(0)); ctx.lineTo(w - right, y(0)); ctx.stroke();
  }
  let legendX = left;
  for (const s of series) {
    ctx.strokeStyle = s.color; ctx.lineWidth = 1.5; ctx.beginPath();
    let started = false;
    points.forEach((p) => {
      const v = p[s.key];
      if (v === null || v === undefined || !isFinite(v)) return;
      if (started) ctx.lineTo(x(p), y(v)); else { ctx.moveTo(x(p), y(v)); started = true; }
    });
    ctx.stroke();
    ctx.fillStyle = s.color; ctx.fillText(s.label, legendX, 10); legendX += ctx.measureText(s.label).width + 12;
  }
}

function drawNoChart(canvas, message) {
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = "#888"; ctx.font = "12px sans-serif"; ctx.textAlign = "left";
  ctx.fillText(message, 8, 50);
}

function drawAll() {
  drawMain();
  drawLatent();
  const frame = app.frame;
  drawChart($("loss-chart"), [
    { key: "critic_loss", label: "critic", color: COLORS.critic },
    { key: "generator_loss", label: "generator", color: COLORS.generator },
    ...(frame && frame.metrics && frame.metrics.gradient_penalty ? [{ key: "gradient_penalty", label: "penalty", color: COLORS.penalty }] : []),
  ], { yLabel: "loss (per sample)" });
  drawChart($("w-chart"), [{ key: "wasserstein_estimate", label: "W estimate", color: COLORS.w }],
            { yLabel: "gap (critic units)" });
  const coverage = frame && frame.coverage;
  $("modes").textContent = coverage ? `${coverage.modes_covered} / ${coverage.num_modes}` : "n/a";
  $("hq").textContent = coverage ? coverage.high_quality_fraction.toFixed(3) : "n/a";
  if (coverage) {
    drawChart($("modes-chart"), [{ key: "modes", label: "modes covered", color: COLORS.modes }],
              { min: 0, max: coverage.num_modes, yLabel: `modes (of ${coverage.num_modes})` });
    drawChart($("coverage-chart"), [{ key: "hq", label: "HQ fraction", color: COLORS.hq }],
              { min: 0, max: 1, yLabel: "fraction (0–1)" });
  } else {
    drawNoChart($("modes-chart"), "This dataset has no discrete modes to count.");
    drawNoChart($("coverage-chart"), "This dataset has no discrete modes to count.");
  }
}

// ---------- drawing your own points ----------

function setupDrawing() {
  const canvas = $("main-canvas");
  let down = false;
  const add = (event) => {
    if ($("data").value !== "drawn") return;
    const rect = canvas.getBoundingClientRect();
    const px = (event.clientX - rect.left) * (canvas.width / rect.width);
    const py = (event.clientY - rect.top) * (canvas.height / rect.height);
    const extent = app.options.drawn_extent;
    const [x, y] = makeView(canvas, [-extent, extent, -extent, extent], MAIN_PAD).inverse(px, py);
    if (Math.abs(x) > extent || Math.abs(y) > extent) return;
    const last = app.drawn[app.drawn.length - 1];
    if (last && Math.hypot(last[0] - x, last[1] - y) < 0.04) return;
    if (app.drawn.length >= 2000) return;
    app.drawn.push([Number(x.toFixed(3)), Number(y.toFixed(3))]);
    $("point-count").textContent = app.drawn.length;
    drawMain();
  };
  canvas.addEventListener("mousedown", (e) => { down = true; add(e); });
  canvas.addEventListener("mousemove", (e) => { if (down) add(e); });
  window.addEventListener("mouseup", () => { down = false; });
  $("clear-points").onclick = () => { app.drawn = []; $("point-count").textContent = 0; drawMain(); };
  $("use-points").onclick = applySettings;
}

// ---------- start ----------

function fillSelect(select, items) {
  select.innerHTML = items.map((i) => `<option value="${i.name}">${i.label}</option>`).join("");
}

async function main() {
  try {
    app.options = await api("/api/options");
  } catch (error) {
    showError(`Could not reach the playground server: ${error.message}`);
    return;
  }
  fillSelect($("data"), app.options.datasets);
  fillSelect($("loss"), app.options.losses);
  fillSelect($("prior"), app.options.priors);
  for (const [name, [lo, hi]] of Object.entries(app.options.limits)) { $(name).min = lo; $(name).max = hi; }
  // Settings may come in the address, e.g. ?loss=wgan_gp&data=grid25&d_width=128&autoplay=1, so a run can be linked
  // to; every change writes the address again.
  readAddress();
  $("drawn-tools").style.display = $("data").value === "drawn" ? "block" : "none";
  $("live-hint").textContent = app.options.live.length
    ? `${app.options.live.join(", ")} change the running run; the other settings start a fresh one.`
    : "Changing a setting starts a fresh run.";

  $("play").onclick = () => command(app.frame && app.frame.playing ? "pause" : "play");
  $("step-d").onclick = () => command("step_d");
  $("step-g").onclick = () => command("step_g");
  $("step").onclick = () => command("step");
  $("reset").onclick = () => { app.history = []; command("reset"); };
  $("speed").onchange = () => { command("speed", Number($("speed").value)); updateUrl(); };
  $("loss").onchange = () => {  // a new loss brings its own n_critic and learning rates
    const preset = app.options.losses.find((l) => l.name === $("loss").value);
    for (const name of ["loss", "n_critic", "d_lr", "g_lr"]) delete app.pending[name];
    $("n_critic").value = preset.n_critic; $("d_lr").value = preset.lr; $("g_lr").value = preset.lr;
    applySettings();
  };
  $("data").onchange = () => {
    delete app.pending.data;
    const drawing = $("data").value === "drawn";
    $("drawn-tools").style.display = drawing ? "block" : "none";
    drawMain();
    if (!drawing || app.drawn.length) applySettings();
    else notice("Draw some points on the canvas, then press “Train on these”.");
  };
  for (const id of ["prior", ...NUMBER_FIELDS]) {
    $(id).onchange = LIVE_CONTROLS.includes(id) ? () => setLive(id)
                                                : () => { delete app.pending[id]; applySettings(); };
  }
  for (const name of LAYERS) $(`show-${name}`).onchange = () => { drawAll(); updateUrl(); };
  setupDrawing();
  window.addEventListener("pagehide", () => {
    if (app.session) navigator.sendBeacon(`/api/sessions/${app.session}/close`, "{}");
  });
  // The address's warning stays on the page until a control is changed (capture: before that control's handler).
  document.addEventListener("change", () => { app.addressWarning = ""; showError(); }, true);
  drawAll();
  await applySettings();
  if (!app.session) return;  // the message says what to change
  if ($("speed").value !== "0") await command("speed", Number($("speed").value));
  if (app.autoplay) await command("play");
}

main();
