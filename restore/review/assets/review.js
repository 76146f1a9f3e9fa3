// The review page: viewer (wipe, side by side, loupe), charts, inventions, faces, provenance.
// No dependencies and no network: it reads window.REVIEW from data.js (a script tag, because
// pages opened from file:// may not fetch() files) and images stored beside it.
"use strict";
(function () {
  const R = window.REVIEW;
  const S = R.summary, series = R.series, stored = R.stored;
  const N = series.fidelity.length;
  const $ = (id) => document.getElementById(id);
  const el = (tag, props, children) => {
    const node = Object.assign(document.createElement(tag), props || {});
    (children || []).forEach((c) => node.append(c));
    return node;
  };
  const fmt = (v, d) => (v === null || v === undefined ? "–" : Number(v).toFixed(d === undefined ? 3 : d));
  const state = { frame: 0, shown: null, wipe: 50, zoom: 2, pointer: null };
  const charts = [];

  // ---- header ----------------------------------------------------------------
  $("files").textContent = `before: ${S.before} · after: ${S.after} · ${S.alignment.mapping} · ` +
    `fidelity against ${S.alignment.reference}`;
  const facts = [
    ["frames", `${S.frames} (from ${S.source_frames} source frames)`],
    ["fidelity mean / min", `${fmt(S.fidelity.mean)} / ${fmt(S.fidelity.min)}`],
    ["frames with inventions to check", `${S.inventions.frames_above_threshold} (threshold ${S.threshold})`],
    ["exposure step before → after", `${fmt(S.flicker.before_mean, 2)} → ${fmt(S.flicker.after_mean, 2)}`],
    ["flicker index (static areas, 1 = as steady as the source)", fmt(S.flicker.index, 2)],
    ["NIQE before → after", S.niqe.computed ? `${fmt(S.niqe.before_mean, 2)} → ${fmt(S.niqe.after_mean, 2)}` : "not computed"],
    ["face tracks", `${S.faces.tracks.length} (${S.faces.tracks.filter((t) => t.below_threshold).length} below threshold)`],
  ];
  if (S.preview) {
    // restore run --preview N: only these source frames were restored, each with its pipeline's context
    facts.unshift(["preview (no output written)", `source frames ${S.preview.source_frames.join(", ")} of ` +
      `${S.preview.source_total}, each restored with ${S.preview.context_behind} frame(s) before and ` +
      `${S.preview.context_ahead} after`]);
  }
  facts.forEach(([k, v]) => $("keyfacts").append(el("div", {}, [el("dt", { textContent: k }), el("dd", { textContent: v })])));
  (S.warnings || []).forEach((w) => $("warnings").append(el("li", { textContent: w })));

  // ---- viewer ----------------------------------------------------------------
  const stage = $("stage");
  stage.style.aspectRatio = `${R.display[0]} / ${R.display[1]}`;
  $("scrubber").max = Math.max(0, N - 1);
  const storedFrames = stored.map((s) => s.frame);

  function nearestStored(frame) {
    if (!stored.length) return null;
    let lo = 0, hi = storedFrames.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (storedFrames[mid] < frame) lo = mid + 1; else hi = mid;
    }
    if (lo > 0 && frame - storedFrames[lo - 1] <= storedFrames[lo] - frame) lo -= 1;
    // on a frame with inventions, show the stored invention of its stretch rather than a clean sample
    const p99 = series.p99[frame];
    if (stored[lo].frame !== frame && p99 !== null && p99 > S.threshold) {
      const near = stored.filter((s) => s.regions.length && Math.abs(s.frame - frame) < S.every);
      if (near.length) return near.reduce((a, b) => (Math.abs(a.frame - frame) <= Math.abs(b.frame - frame) ? a : b));
    }
    return stored[lo];
  }

  function showFrame(frame) {
    state.frame = Math.max(0, Math.min(N - 1, frame | 0));
    $("scrubber").value = state.frame;
    const shot = nearestStored(state.frame);
    if (shot && shot !== state.shown) {
      state.shown = shot;
      $("before").src = shot.before; $("after").src = shot.after; $("heatmap").src = shot.map;
      $("side-before").src = shot.before; $("side-after").src = shot.after;
      const boxes = $("boxes"); boxes.textContent = "";
      shot.regions.forEach((r) => {
        const [x, y, w, h] = r.box, [bw, bh] = R.before_size;
        boxes.append(el("div", { title: `departure peak ${fmt(r.peak)}`, style:
          `left:${100 * x / bw}%;top:${100 * y / bh}%;width:${100 * w / bw}%;height:${100 * h / bh}%` }));
      });
    }
    stage.dataset.frame = state.frame;
    stage.dataset.shown = shot ? shot.frame : "";
    const src = series.source[state.frame];
    const pictured = shot ? (shot.frame === state.frame ? "pictured" :
      `pictures from stored frame ${shot.frame} (every ${S.every}th frame and each stretch's worst invention are stored)`) : "no pictures stored";
    $("framelabel").textContent = `frame ${state.frame} (source ${src}) · fidelity ${fmt(series.fidelity[state.frame])} · ${pictured}`;
    document.querySelectorAll("#inventions-body tr").forEach((tr) => tr.classList.toggle("current", +tr.dataset.frame === state.frame));
    charts.forEach((c) => c.draw());
    drawLoupe();
  }

  function setWipe(pos) {
    state.wipe = Math.max(0, Math.min(100, pos));
    $("after").style.clipPath = `inset(0 0 0 ${state.wipe}%)`;
    $("heatmap").style.clipPath = `inset(0 0 0 ${state.wipe}%)`;
    $("handle").style.left = `${state.wipe}%`;
    $("wipe").value = state.wipe;
  }

  $("scrubber").addEventListener("input", (e) => showFrame(+e.target.value));
  $("wipe").addEventListener("input", (e) => setWipe(+e.target.value));
  $("heat").addEventListener("change", (e) => { $("heatmap").hidden = !e.target.checked; $("boxes").hidden = !e.target.checked; });
  const step = (dir) => {
    const list = dir > 0 ? storedFrames.filter((f) => f > state.frame) : storedFrames.filter((f) => f < state.frame).reverse();
    if (list.length) showFrame(list[0]);
  };
  $("prev").addEventListener("click", () => step(-1));
  $("next").addEventListener("click", () => step(1));
  document.addEventListener("keydown", (e) => {
    if (e.target.tagName === "INPUT" || e.target.tagName === "SELECT") return;
    if (e.key === "ArrowLeft") step(-1);
    if (e.key === "ArrowRight") step(1);
  });
  document.querySelectorAll("input[name=mode]").forEach((r) => r.addEventListener("change", () => {
    const side = document.querySelector("input[name=mode]:checked").value === "side";
    $("side").hidden = !side; stage.hidden = side; $("wipe").hidden = side;
  }));
  // drag on the picture moves the wipe too (the slider below it is the accessible way)
  let dragging = false;
  stage.addEventListener("pointerdown", (e) => { dragging = true; stage.setPointerCapture(e.pointerId); moveWipe(e); });
  stage.addEventListener("pointerup", () => { dragging = false; });
  const moveWipe = (e) => { const r = stage.getBoundingClientRect(); setWipe(100 * (e.clientX - r.left) / r.width); };

  // ---- loupe: AFTER at native pixels × zoom, BEFORE of the same region upscaled -----------
  function drawLoupe() {
    const p = state.pointer || { x: 0.5, y: 0.5 };
    const [aw, ah] = R.after_size, [bw, bh] = R.before_size;
    const ca = $("loupe-after"), cb = $("loupe-before");
    const size = ca.width / state.zoom;  // AFTER pixels shown
    const ax = p.x * aw - size / 2, ay = p.y * ah - size / 2;
    const sx = bw / aw, sy = bh / ah;
    const draw = (canvas, img, x, y, w, h, smooth) => {
      const g = canvas.getContext("2d");
      g.imageSmoothingEnabled = smooth; g.imageSmoothingQuality = "high";
      g.fillStyle = "#111"; g.fillRect(0, 0, canvas.width, canvas.height);
      if (img.complete && img.naturalWidth) g.drawImage(img, x, y, w, h, 0, 0, canvas.width, canvas.height);
    };
    draw(ca, $("after"), ax, ay, size, size, false);
    ca.dataset.region = [ax, ay, size].map(Math.round).join(",");
    draw(cb, $("before"), ax * sx, ay * sy, size * sx, size * sy, $("resample").value === "smooth");
  }
  stage.addEventListener("pointermove", (e) => {
    const r = stage.getBoundingClientRect();
    state.pointer = { x: (e.clientX - r.left) / r.width, y: (e.clientY - r.top) / r.height };
    if (dragging) moveWipe(e);
    drawLoupe();
  });
  stage.addEventListener("wheel", (e) => {
    e.preventDefault();
    const zooms = [1, 2, 4, 8], i = zooms.indexOf(state.zoom);
    setZoom(zooms[Math.max(0, Math.min(3, i + (e.deltaY < 0 ? 1 : -1)))]);
  }, { passive: false });
  const setZoom = (z) => { state.zoom = z; $("zoom").value = String(z); $("loupe-zoom").textContent = z; drawLoupe(); };
  $("zoom").addEventListener("change", (e) => setZoom(+e.target.value));
  const setResample = () => {
    const smooth = $("resample").value === "smooth";
    $("loupe-mode").textContent = smooth ? "bicubic" : "nearest";
    ["before", "side-before"].forEach((id) => { $(id).style.imageRendering = smooth ? "auto" : "pixelated"; });
    drawLoupe();
  };
  $("resample").addEventListener("change", setResample);
  $("before").addEventListener("load", drawLoupe);
  $("after").addEventListener("load", drawLoupe);

  // ---- charts -----------------------------------------------------------------
  // lines: [{points: [[frame, value], ...], color, dash}]; hlines: [{y, color}]
  function chart(canvas, lines, hlines) {
    const c = {
      draw() {
        const dpr = window.devicePixelRatio || 1;
        canvas.width = Math.max(1, canvas.clientWidth * dpr); canvas.height = Math.max(1, canvas.clientHeight * dpr);
        const g = canvas.getContext("2d"), W = canvas.width, H = canvas.height, pad = 4 * dpr, left = 40 * dpr;
        g.clearRect(0, 0, W, H);
        const values = lines.flatMap((l) => l.points.map((p) => p[1])).concat((hlines || []).map((h) => h.y))
          .filter((v) => v !== null && Number.isFinite(v));
        g.font = `${10 * dpr}px sans-serif`; g.fillStyle = "#888";
        if (!values.length) { g.fillText("no data", left, H / 2); return; }
        let lo = Math.min(...values), hi = Math.max(...values);
        if (hi - lo < 1e-9) { hi += 0.5; lo -= 0.5; }
        const X = (f) => left + (W - left - pad) * (N > 1 ? f / (N - 1) : 0.5);
        const Y = (v) => H - pad - (H - 2 * pad) * (v - lo) / (hi - lo);
        g.fillText(fmt(hi, 2), 2, pad + 8 * dpr); g.fillText(fmt(lo, 2), 2, H - pad);
        (hlines || []).forEach((h) => {
          g.strokeStyle = h.color; g.setLineDash([4 * dpr, 3 * dpr]); g.lineWidth = dpr;
          g.beginPath(); g.moveTo(left, Y(h.y)); g.lineTo(W - pad, Y(h.y)); g.stroke();
        });
        lines.forEach((l) => {
          g.strokeStyle = l.color; g.fillStyle = l.color; g.lineWidth = 1.25 * dpr; g.setLineDash(l.dash ? [3 * dpr, 2 * dpr] : []);
          g.beginPath(); let open = false;
          l.points.forEach(([f, v]) => {
            if (v === null || !Number.isFinite(v)) { open = false; return; }
            if (open) g.lineTo(X(f), Y(v)); else g.moveTo(X(f), Y(v));
            open = true;
            if (l.dots) g.fillRect(X(f) - dpr, Y(v) - dpr, 2 * dpr, 2 * dpr);
          });
          g.stroke();
        });
        g.setLineDash([]); g.strokeStyle = "#e67e22"; g.lineWidth = dpr;
        g.beginPath(); g.moveTo(X(state.frame), 0); g.lineTo(X(state.frame), H); g.stroke();
        canvas.dataset.drawn = String(state.frame);
      },
    };
    canvas.addEventListener("click", (e) => {
      const r = canvas.getBoundingClientRect(), left = 40;
      showFrame(Math.round((N - 1) * Math.max(0, (e.clientX - r.left - left) / (r.width - left - 4))));
    });
    charts.push(c);
    return c;
  }
  const indexed = (arr) => arr.map((v, i) => [i, v]);
  chart($("chart-fidelity"), [
    { points: indexed(series.fidelity), color: "#1f6fb2" },
    { points: indexed(series.p99.map((v) => (v === null ? null : 1 - v))), color: "#c0392b", dash: true },
  ], [{ y: 1 - S.threshold, color: "#c0392b" }]);
  chart($("chart-flicker"), [
    { points: indexed(series.flicker_before), color: "#999" },
    { points: indexed(series.flicker_after), color: "#1f6fb2" },
  ]);
  $("niqe-caption").textContent += S.niqe.computed ? ` — computed on every ${S.niqe.every}th frame` : " — not computed";
  chart($("chart-niqe"), [
    { points: series.niqe.map((p) => [p[0], p[1]]), color: "#999", dots: true },
    { points: series.niqe.map((p) => [p[0], p[2]]), color: "#1f6fb2", dots: true },
  ]);
  const palette = ["#1f6fb2", "#27ae60", "#8e44ad", "#d35400", "#16a085", "#2c3e50"];
  chart($("chart-identity"), R.faces.map((t, i) => ({ points: t.points, color: palette[i % palette.length], dots: true })),
    R.faces.length ? [{ y: S.faces.identity_threshold, color: "#c0392b" }] : []);
  const stageLines = Object.entries(series.stages).map(([name, v], i) => ({ points: indexed(v), color: palette[i % palette.length], name }));
  chart($("chart-stages"), stageLines);
  const legend = (canvas, entries) => {
    const p = el("p", { className: "legend" });
    entries.forEach(([name, color]) => p.append(el("span", { textContent: `■ ${name}`, style: `color:${color}` })));
    canvas.after(p);
  };
  legend($("chart-stages"), stageLines.map((l) => [l.name, l.color]));
  legend($("chart-identity"), R.faces.map((t, i) => [`track ${t.track}`, palette[i % palette.length]]));
  window.addEventListener("resize", () => charts.forEach((c) => c.draw()));

  // ---- inventions -------------------------------------------------------------
  const inv = S.inventions;
  $("inventions-hint").textContent = inv.frames_above_threshold
    ? `${inv.frames_above_threshold} frames have regions whose structure departs from the source by more than ${S.threshold}; ` +
      `the ${inv.listed} most severe are listed (severity = area × mean departure). Click a row to see the frame.`
    : `No region departs from the source's structure by more than ${S.threshold}.`;
  inv.list.forEach((e) => {
    const tr = el("tr", {}, [
      el("td", { textContent: e.frame }), el("td", { textContent: e.source }),
      el("td", { textContent: e.regions.map((r) => `(${r.box.join(", ")})`).join(" ") }),
      el("td", { textContent: fmt(Math.max(...e.regions.map((r) => r.peak))) }), el("td", { textContent: e.severity.toExponential(2) }),
    ]);
    tr.dataset.frame = e.frame;
    tr.addEventListener("click", () => { showFrame(e.frame); stage.scrollIntoView({ block: "center" }); });
    $("inventions-body").append(tr);
  });

  // ---- faces ------------------------------------------------------------------
  $("faces-hint").textContent = R.faces.length
    ? `Faces from: ${S.faces.source}. Identity is the SFace cosine between the restored face and the source face; ` +
      `below ${S.faces.identity_threshold} the restored face may no longer be the same person (highlighted). Each crop: source above, restored below.`
    : `No face tracks (faces from: ${S.faces.source}).`;
  R.faces.forEach((t, i) => {
    const low = t.below_threshold;
    const card = el("div", { className: "track" + (low ? " low" : "") }, [
      el("h3", { textContent: `Track ${t.track} · frames ${t.first}–${t.last} (${t.frames} seen) · identity min ${fmt(t.identity_min)}, ` +
        `mean ${fmt(t.identity_mean)}${low ? ` · ${t.frames_below} frames below threshold` : ""}` }),
    ]);
    const crops = el("div", { className: "crops" });
    t.crops.forEach((c) => {
      const below = c.identity !== null && c.identity < S.faces.identity_threshold;
      const cell = el("div", { className: "crop" + (below ? " low" : ""), title: `frame ${c.frame}: source above, restored below` }, [
        el("img", { src: c.source, alt: `source face, frame ${c.frame}` }),
        el("img", { src: c.restored, alt: `restored face, frame ${c.frame}` }),
        el("span", { textContent: `#${c.frame} · ${fmt(c.identity, 2)}` }),
      ]);
      cell.addEventListener("click", () => showFrame(c.frame));
      crops.append(cell);
    });
    card.append(crops);
    const spark = el("canvas", { className: "spark" });
    card.append(spark);
    $("tracks").append(card);
    chart(spark, [{ points: t.points, color: palette[i % palette.length], dots: true }], [{ y: S.faces.identity_threshold, color: "#c0392b" }]);
  });

  // ---- provenance -------------------------------------------------------------
  const P = S.provenance;
  if (!P) {
    $("provenance-body").textContent = "No provenance record found for AFTER.";
  } else {
    const dl = el("dl");
    const row = (k, v) => { if (v !== null && v !== undefined && v !== "") dl.append(el("dt", { textContent: k }), el("dd", { textContent: v })); };
    row("record", P.record);
    row("software", P.tool);
    row("pipeline", typeof P.pipeline === "string" ? P.pipeline : P.pipeline && (P.pipeline.name || JSON.stringify(P.pipeline)));
    row("stages", (P.stages || []).map((s) => `${s.stage} ${JSON.stringify(s.params || {})}`).join(" → "));
    row("device", P.device);
    (P.models || []).forEach((m) => {
      const corpora = (m.corpora || []).map((c) => `${c.name || "corpus"} manifest sha256 ${c.manifest_sha256}` +
        (c.licences ? ` (${typeof c.licences === "string" ? c.licences : JSON.stringify(c.licences)})` : ""));
      row(`model ${m.name || ""}`, [m.architecture, m.sha256 && `weights sha256 ${m.sha256}`, m.origin, ...corpora]
        .filter(Boolean).join(" · "));
    });
    if (P.energy) row("energy", `${fmt(P.energy.kwh, 6)} kWh · ${fmt(P.energy.gco2e, 4)} gCO2e (${P.energy.method || "method not stated"})` +
      (P.energy.assumptions ? ` — ${P.energy.assumptions}` : ""));
    if (P.signer) row("signed by", typeof P.signer === "string" ? P.signer : (P.signer.common_name || JSON.stringify(P.signer)));
    row("C2PA", P.c2pa);
    row("source sha256", P.source_sha256);
    row("run", P.started && `${P.started} → ${P.finished}`);
    $("provenance-body").append(dl);
  }
  const t = S.timings;
  $("provenance-body").append(el("p", { className: "hint", textContent:
    `This report took ${fmt(t.report_seconds, 1)} s` + (t.restore_seconds ? `; the restoration took ${fmt(t.restore_seconds, 1)} s.` : ".") }));

  setWipe(50);
  setResample();
  showFrame(0);
  document.body.dataset.ready = "1";
})();
