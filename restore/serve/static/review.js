// Review & correct: a painter over the restored frame, the correction form, the list, and the re-run.
"use strict";
(function () {
  const status = document.getElementById("job-status");
  const jobId = status.dataset.job;
  const frames = Number(status.dataset.frames) || 0;
  const img = document.getElementById("frame-img");
  const canvas = document.getElementById("mask");
  const ctx = canvas ? canvas.getContext("2d") : null;
  const frameInput = document.getElementById("frame");
  const showSource = document.getElementById("show-source");
  const brush = document.getElementById("brush");
  const form = document.getElementById("correction-form");
  const message = document.getElementById("correction-message");
  let painted = false, last = null, sized = false, outputStamp = "";
  let lastJob = null;
  let loadFrame = () => {};

  if (img) {
    // --- the frame and the paint --------------------------------------------------------------
    loadFrame = function () {
      const n = Math.max(0, Math.min(Number(frameInput.value) || 0, Math.max(frames - 1, 0)));
      frameInput.value = n;
      img.dataset.loaded = "";
      img.src = `/jobs/${jobId}/frames/${n}.png?of=${showSource.checked ? "source" : "output"}&v=${outputStamp}`;
    };
    img.addEventListener("load", () => {
      if (!sized || canvas.width !== img.naturalWidth || canvas.height !== img.naturalHeight) {
        canvas.width = img.naturalWidth;          // the mask is painted at the output's own pixels
        canvas.height = img.naturalHeight;
        sized = true;
        painted = false;
      }
      img.dataset.loaded = frameInput.value;
    });
    frameInput.addEventListener("change", () => {
      loadFrame();
      document.getElementById("first").value = frameInput.value;
      document.getElementById("last").value = frameInput.value;
    });
    document.getElementById("prev-frame").onclick = () => { frameInput.value = Number(frameInput.value) - 1; frameInput.dispatchEvent(new Event("change")); };
    document.getElementById("next-frame").onclick = () => { frameInput.value = Number(frameInput.value) + 1; frameInput.dispatchEvent(new Event("change")); };
    showSource.addEventListener("change", loadFrame);

    function point(event) {
      const box = canvas.getBoundingClientRect();
      return [(event.clientX - box.left) * canvas.width / box.width, (event.clientY - box.top) * canvas.height / box.height];
    }
    function tool() { return document.querySelector("input[name=tool]:checked").value; }
    let snapshot = null, start = null;
    function dab(from, to) {
      const radius = Number(brush.value) / 2;
      ctx.globalCompositeOperation = tool() === "eraser" ? "destination-out" : "source-over";
      ctx.fillStyle = ctx.strokeStyle = "#ff1f5a";
      ctx.lineWidth = radius * 2;
      ctx.lineCap = "round";
      ctx.beginPath();
      ctx.moveTo(from[0], from[1]);
      ctx.lineTo(to[0], to[1]);
      ctx.stroke();
      ctx.beginPath();
      ctx.arc(to[0], to[1], radius, 0, 2 * Math.PI);
      ctx.fill();
      painted = true;
      canvas.dataset.painted = "1";
    }
    function box(a, b) {            // a filled rectangle from corner a to corner b (shown live while dragging)
      ctx.putImageData(snapshot, 0, 0);
      ctx.globalCompositeOperation = "source-over";
      ctx.fillStyle = "#ff1f5a";
      ctx.fillRect(Math.min(a[0], b[0]), Math.min(a[1], b[1]), Math.abs(b[0] - a[0]) + 1, Math.abs(b[1] - a[1]) + 1);
      painted = true;
      canvas.dataset.painted = "1";
    }
    canvas.addEventListener("pointerdown", (e) => {
      canvas.setPointerCapture(e.pointerId);
      last = point(e);
      if (tool() === "box") { snapshot = ctx.getImageData(0, 0, canvas.width, canvas.height); start = last; box(start, last); }
      else dab(last, last);
      e.preventDefault();
    });
    canvas.addEventListener("pointermove", (e) => {
      if (!last) return;
      const p = point(e);
      if (start) box(start, p); else dab(last, p);
      last = p;
    });
    for (const type of ["pointerup", "pointercancel", "pointerleave"]) canvas.addEventListener(type, () => { last = null; start = null; });
    // the review's inventions to check: go to the frame, or paint its regions (source pixels → output pixels)
    const inventions = document.getElementById("inventions");
    if (inventions) {
      const [sw, sh] = inventions.dataset.sourceSize.split("x").map(Number);
      inventions.addEventListener("click", (event) => {
        const button = event.target.closest("button");
        if (!button) return;
        frameInput.value = button.dataset.frame;
        frameInput.dispatchEvent(new Event("change"));
        if (!button.classList.contains("paint-regions")) return;
        const paint = () => {
          const fx = canvas.width / (sw || canvas.width), fy = canvas.height / (sh || canvas.height);
          ctx.globalCompositeOperation = "source-over";
          ctx.fillStyle = "#ff1f5a";
          for (const [x, y, w, h] of JSON.parse(button.dataset.boxes)) ctx.fillRect(x * fx, y * fy, w * fx, h * fy);
          painted = true;
          canvas.dataset.painted = "1";
        };
        if (sized) paint(); else img.addEventListener("load", paint, {once: true});
      });
    }
    document.getElementById("clear-mask").onclick = () => { ctx.clearRect(0, 0, canvas.width, canvas.height); painted = false; canvas.dataset.painted = ""; };

    // --- the form ---------------------------------------------------------------------------------
    function kind() { return form.querySelector("input[name=kind]:checked").value; }
    function showKind() {
      for (const el of form.querySelectorAll("[class*=kind-]")) el.hidden = !el.classList.contains(`kind-${kind()}`);
    }
    form.addEventListener("change", showKind);
    showKind();
    // rejecting a face track: its frames by default
    function trackFrames() {
      const option = document.getElementById("track").selectedOptions[0];
      if (kind() !== "reject_face" || !option) return;
      document.getElementById("first").value = option.dataset.first;
      document.getElementById("last").value = option.dataset.last;
    }
    document.getElementById("track").addEventListener("change", trackFrames);
    for (const radio of form.querySelectorAll("input[name=kind]")) radio.addEventListener("change", trackFrames);

    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const body = {kind: kind(), first: Number(document.getElementById("first").value),
                    last: Number(document.getElementById("last").value), why: document.getElementById("why").value,
                    who: document.getElementById("who").value.trim()};
      if (body.kind === "keep_source" || body.kind === "dust") {
        if (!painted) { message.textContent = "Paint the region on the frame first."; message.className = "message fail"; return; }
        body.mask = canvas.toDataURL("image/png");
      } else if (body.kind === "reject_face") {
        body.track = document.getElementById("track").value;
      } else if (body.kind === "strength") {
        body.stage = document.getElementById("stage").value;
        body.strength = Number(document.getElementById("strength").value);
      }
      WB.remember(body.who);
      try {
        const doc = await WB.post(`/jobs/${jobId}/corrections`, body);
        message.textContent = `Saved (revision ${doc.revision}). Re-run to apply it to the output.`;
        message.className = "message ok";
        document.getElementById("why").value = "";
        document.getElementById("clear-mask").click();
        refresh();
      } catch (err) {
        message.textContent = err.message;
        message.className = "message fail";
      }
    });
  }

  // --- the list, the status, the re-run ------------------------------------------------------------
  function describe(c) {
    const span = c.frames[0] === c.frames[1] ? `${c.frames[0]}` : `${c.frames[0]}–${c.frames[1]}`;
    const what = {keep_source: "keep the source (painted region)", reject_face: `reject face track ${c.track}`,
                  dust: "remove dust (painted region)", strength: `${c.stage} at strength ${c.strength}`}[c.kind];
    return [what, span];
  }
  let rendered = "";
  function renderCorrections(job) {
    const doc = job.corrections;
    const key = `${doc.revision}/${job.applied_revision}`;
    if (key === rendered) return;       // unchanged: keep the rows (and their buttons) as they are
    rendered = key;
    document.getElementById("revision").textContent = `revision ${doc.revision}`;
    const applied = job.applied_revision || 0;
    document.getElementById("corrections-body").replaceChildren(...doc.corrections.slice().reverse().map((c) => {
      const [what, span] = describe(c);
      const active = c.active !== false;
      const state = !active ? `withdrawn by ${c.withdrawn.who}` : (c.revision <= applied ? "yes" : "after the re-run");
      const tr = WB.el("tr", {"data-correction": c.id, class: active ? "" : "withdrawn"},
        WB.el("td", {textContent: c.id}), WB.el("td", {textContent: what}), WB.el("td", {textContent: span}),
        WB.el("td", {textContent: `${c.who}, ${c.when}`}), WB.el("td", {textContent: c.why || ""}),
        WB.el("td", {class: "applied", textContent: state}), WB.el("td"));
      if (active) {
        const button = WB.el("button", {type: "button", textContent: "Withdraw"});
        button.onclick = async () => {
          const who = document.getElementById("who").value.trim();
          const why = window.prompt("Why withdraw it?") || "";
          try { await WB.post(`/jobs/${jobId}/corrections/${c.id}/withdraw`, {who, why}); refresh(); }
          catch (err) { window.alert(err.message); }
        };
        tr.lastChild.append(button);
      }
      return tr;
    }));
  }
  async function refresh() {
    let job;
    try { job = await WB.json(`/api/jobs/${jobId}`); } catch (err) { return; }
    status.textContent = WB.progressLine(job);
    status.dataset.state = job.state;
    status.dataset.applied = job.applied_revision || 0;
    status.dataset.revision = job.corrections_revision;
    document.getElementById("job-bar").style.width = `${job.percent}%`;
    const busy = job.state === "running" || job.state === "queued";
    const pending = job.corrections_revision !== (job.applied_revision || 0);
    const rerun = document.getElementById("rerun");
    rerun.disabled = busy || !pending || !job.output;
    document.getElementById("rerun-hint").textContent = busy ? "" : pending ? "Some corrections are not in the output yet."
      : "The output has every correction.";
    renderCorrections(job);
    if (lastJob && job.state === "done" && (lastJob.state !== "done" || lastJob.applied_revision !== job.applied_revision)) {
      if (!document.getElementById("report") && job.report) { location.reload(); return; }
      if (!img) { location.reload(); return; }
      outputStamp = String(Date.now());        // a new output: show its pixels and its review
      loadFrame();
      const report = document.getElementById("report");
      if (report) report.src = report.src;
    }
    lastJob = job;
  }
  document.getElementById("rerun-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    await WB.post(`/jobs/${jobId}/rerun`);
    refresh();
  });
  if (img) loadFrame();
  WB.every(1000, refresh);
})();
