// The playground page: pickers and toolbar -> JSON API; Server-Sent Events frames -> canvases. No build step.
"use strict";

const COLORS = { real: "#1a9850", fake: "#7b3294", critic: "#d95f02", generator: "#7570b3", penalty: "#999",
                 w: "#2b6cb0", modes: "#1a9850", hq: "#d95f02", grid: "rgba(60,60,60,0.35)", arrow: "#333" };
const NUMBER_FIELDS = ["n_critic", "d_lr", "g_lr", "g_width", "g_depth", "d_width", "d_depth", "batch_size", "seed"];
const HISTORY = 600;  // chart points kept

const $ = (id) => document.getElementById(id);
const app = { options: null, session: null, source: null, frame: null, history: [], drawn: [], frameTimes: [],
              requestError: "" };

// ---------- API ----------

async function api(path, body) {
  const response = await fetch(path, body === undefined ? {} : {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  let data = null;
  try { data = await response.json(); } catch (e) { data = { error: `Bad reply from the server (${response.status}).` }; }
  if (!response.ok) throw new Error(data.error || `HTTP ${response.status}`);
  return data;
}

// Two sources of errors: a refused request (kept until the next accepted one) and the session's own (in frames).
function showError(requestError) {
  if (requestError !== undefined) app.requestError = requestError;
  const message = app.requestError || (app.frame && app.frame.error) || "";
  const box = $("error");
  box.textContent = message;
  box.style.display = message ? "block" : "none";
}

function notice(message) { $("notice").textContent = message || ""; }

// ---------- settings ----------

function readSettings() {
  const settings = { data: $("data").value, loss: $("loss").value, prior: $("prior").value };
  for (const name of NUMBER_FIELDS) {
    const text = $(name).value.trim();
    settings[name] = text === "" ? null : Number(text);
  }
  if (settings.data === "drawn") settings.points = app.drawn;
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
    showError("");
    app.history = [];
    writeSettings(reply.settings);
    if (!app.session || reply.session !== app.session) connect(reply.session);
    notice("New run: compiling the step (a few seconds the first time)…");
  } catch (error) {
    showError(app.session ? `Settings not applied (the current run goes on): ${error.message}` : error.message);
  }
}

async function command(action, value) {
  if (!app.session) return;
  try { await api(`/api/sessions/${app.session}/command`, { action, value }); showError(""); }
  catch (error) { showError(error.message); }
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
  if (frame.real) notice("");
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
  const view = makeView(canvas, [-extent, extent, -extent, extent]);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, canvas.width, canvas.height);
  const showFrame = frame && frame.real && frame.extent === extent;
  if (showFrame) {
    if ($("show-heat").checked) drawHeat(ctx, frame, view);
    if ($("show-manifold").checked) drawLines(ctx, frame.manifold, view, COLORS.grid, 1);
    if ($("show-real").checked) drawPoints(ctx, frame.real, view, COLORS.real, 2.2);
    if ($("show-fake").checked) drawPoints(ctx, frame.fake, view, COLORS.fake, 2.2);
    if ($("show-arrows").checked) drawArrows(ctx, frame, view);
  }
  if (drawing) drawPoints(ctx, app.drawn, view, "rgba(0,0,0,0.6)", 3);
  ctx.strokeStyle = "#eee"; ctx.lineWidth = 1;
  ctx.strokeRect(view.x(-extent), view.y(extent), 2 * extent * view.scale, 2 * extent * view.scale);
  canvas.classList.toggle("drawing", drawing);
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
  const view = makeView(canvas, bounds(frame.latent_grid, 0.15));
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
}

function drawChart(canvas, series, options = {}) {
  const ctx = canvas.getContext("2d"), w = canvas.width, h = canvas.height, pad = 4, labelWidth = 44;
  ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, w, h);
  const points = app.history;
  // The y range spans the 1st to 99th percentile, so one early spike does not flatten the rest of the chart.
  const values = [];
  for (const s of series) for (const p of points) {
    const v = p[s.key];
    if (v !== null && v !== undefined && isFinite(v)) values.push(v);
  }
  if (!values.length) return;
  values.sort((a, b) => a - b);
  const quantile = (q) => values[Math.min(values.length - 1, Math.floor(q * values.length))];
  let lo = options.min ?? quantile(0.01), hi = options.max ?? quantile(0.99);
  if (hi - lo <= 1e-9 * Math.abs(hi) + 1e-30) { const d = 0.1 * Math.abs(hi) || 0.5; hi += d; lo -= d; }
  const x = (i) => labelWidth + (i / Math.max(1, points.length - 1)) * (w - labelWidth - pad);
  const y = (v) => h - pad - ((Math.min(hi, Math.max(lo, v)) - lo) / (hi - lo)) * (h - 2 * pad - 12);
  ctx.fillStyle = "#888"; ctx.font = "10px sans-serif";
  const label = (v) => (v !== 0 && Math.abs(v) < 1e-3 ? v.toExponential(1) : v.toPrecision(3));
  ctx.fillText(label(hi), 2, y(hi) + 8); ctx.fillText(label(lo), 2, y(lo));
  if (lo < 0 && hi > 0) { ctx.strokeStyle = "#eee"; ctx.beginPath(); ctx.moveTo(labelWidth, y(0)); ctx.lineTo(w, y(0)); ctx.stroke(); }
  let legendX = labelWidth;
  for (const s of series) {
    ctx.strokeStyle = s.color; ctx.lineWidth = 1.5; ctx.beginPath();
    let started = false;
    points.forEach((p, i) => {
      const v = p[s.key];
      if (v === null || v === undefined || !isFinite(v)) return;
      if (started) ctx.lineTo(x(i), y(v)); else { ctx.moveTo(x(i), y(v)); started = true; }
    });
    ctx.stroke();
    ctx.fillStyle = s.color; ctx.fillText(s.label, legendX, 10); legendX += ctx.measureText(s.label).width + 12;
  }
}

function drawAll() {
  drawMain();
  drawLatent();
  const frame = app.frame;
  drawChart($("loss-chart"), [
    { key: "critic_loss", label: "critic", color: COLORS.critic },
    { key: "generator_loss", label: "generator", color: COLORS.generator },
    ...(frame && frame.metrics && frame.metrics.gradient_penalty ? [{ key: "gradient_penalty", label: "penalty", color: COLORS.penalty }] : []),
  ]);
  drawChart($("w-chart"), [{ key: "wasserstein_estimate", label: "W estimate", color: COLORS.w }]);
  const coverage = frame && frame.coverage;
  $("modes").textContent = coverage ? `${coverage.modes_covered} / ${coverage.num_modes}` : "n/a";
  $("hq").textContent = coverage ? coverage.high_quality_fraction.toFixed(3) : "n/a";
  if (coverage) {
    drawChart($("coverage-chart"), [{ key: "hq", label: "HQ fraction", color: COLORS.hq }], { min: 0, max: 1 });
  } else {
    const canvas = $("coverage-chart"), ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.fillStyle = "#888"; ctx.font = "12px sans-serif";
    ctx.fillText("This dataset has no discrete modes to count.", 8, 50);
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
    const [x, y] = makeView(canvas, [-extent, extent, -extent, extent]).inverse(px, py);
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
  writeSettings(app.options.defaults);
  // Settings may come in the address, e.g. ?loss=wgan_gp&data=grid25&d_width=128, so a run can be linked to.
  const query = Object.fromEntries(new URLSearchParams(location.search));
  const preset = app.options.losses.find((l) => l.name === query.loss);
  const presetDefaults = preset ? { n_critic: preset.n_critic, d_lr: preset.lr, g_lr: preset.lr } : {};
  if (Object.keys(query).length) writeSettings({ ...app.options.defaults, ...presetDefaults, ...query });
  $("drawn-tools").style.display = $("data").value === "drawn" ? "block" : "none";

  $("play").onclick = () => command(app.frame && app.frame.playing ? "pause" : "play");
  $("step-d").onclick = () => command("step_d");
  $("step-g").onclick = () => command("step_g");
  $("step").onclick = () => command("step");
  $("reset").onclick = () => { app.history = []; command("reset"); };
  $("speed").onchange = () => command("speed", Number($("speed").value));
  $("loss").onchange = () => {  // a new loss brings its own n_critic and learning rates
    const preset = app.options.losses.find((l) => l.name === $("loss").value);
    $("n_critic").value = preset.n_critic; $("d_lr").value = preset.lr; $("g_lr").value = preset.lr;
    applySettings();
  };
  $("data").onchange = () => {
    const drawing = $("data").value === "drawn";
    $("drawn-tools").style.display = drawing ? "block" : "none";
    drawMain();
    if (!drawing || app.drawn.length) applySettings();
    else notice("Draw some points on the canvas, then press “Train on these”.");
  };
  for (const id of ["prior", ...NUMBER_FIELDS]) $(id).onchange = applySettings;
  for (const id of ["show-heat", "show-manifold", "show-real", "show-fake", "show-arrows"]) $(id).onchange = drawAll;
  setupDrawing();
  window.addEventListener("pagehide", () => {
    if (app.session) navigator.sendBeacon(`/api/sessions/${app.session}/close`, "{}");
  });
  drawAll();
  await applySettings();
}

main();
