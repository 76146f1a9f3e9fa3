// Jobs page: the probe facts of the chosen film, and the queue, refreshed every second (every tab sees the same).
"use strict";
(function () {
  const body = document.getElementById("jobs-body");
  const facts = document.getElementById("facts");

  document.getElementById("filter").addEventListener("input", (event) => {
    const words = event.target.value.toLowerCase().split(/\s+/).filter(Boolean);
    for (const option of document.getElementById("source").options) {
      if (option.value) option.hidden = !words.every(w => option.value.toLowerCase().includes(w));
    }
  });

  function fact(dl, name, value) {
    if (value === null || value === undefined || value === "") return;
    dl.append(WB.el("dt", {textContent: name}), WB.el("dd", {textContent: String(value)}));
  }

  document.getElementById("source").addEventListener("change", async (event) => {
    facts.replaceChildren();
    facts.hidden = true;
    if (!event.target.value) return;
    facts.hidden = false;
    facts.append(WB.el("dt", {textContent: "probe"}), WB.el("dd", {textContent: "reading the file…"}));
    try {
      const p = await WB.json("/api/probe?path=" + encodeURIComponent(event.target.value));
      facts.replaceChildren();
      const v = (p.streams || []).find(s => s.type === "video") || {};
      const audio = (p.streams || []).filter(s => s.type === "audio");
      fact(facts, "container", p.container_long || p.container);
      fact(facts, "duration", p.duration !== undefined ? `${Number(p.duration).toFixed(2)} s` : null);
      fact(facts, "video", [v.codec, v.pix_fmt, v.bit_depth ? `${v.bit_depth}-bit` : null].filter(Boolean).join(", "));
      fact(facts, "size", v.width ? `${v.width}×${v.height} (SAR ${v.sar || "1:1"}, DAR ${v.dar || "?"})` : null);
      fact(facts, "frame rate", v.r_frame_rate);
      fact(facts, "frames", v.frame_count !== undefined ? `${v.frame_count} (${v.frame_count_method || "stored"})` : null);
      fact(facts, "field order", v.field_order);
      fact(facts, "colour", [v.color_primaries, v.color_transfer || v.color_trc, v.color_space || v.colorspace, v.color_range].filter(Boolean).join(" / ") || "not tagged");
      fact(facts, "timecode", v.timecode || p.timecode);
      fact(facts, "sound", audio.length ? audio.map(a => `${a.codec} ${a.channel_layout || a.channels + " ch"} ${a.sample_rate} Hz${a.language ? " (" + a.language + ")" : ""}`).join("; ") : "none");
    } catch (err) {
      facts.replaceChildren(WB.el("dt", {textContent: "probe"}), WB.el("dd", {textContent: err.message}));
    }
  });

  function action(job, path, label) {
    const form = WB.el("form", {method: "post", action: `/jobs/${job.id}/${path}`, class: "inline"});
    form.append(WB.el("button", {type: "submit", textContent: label, class: path}));
    return form;
  }

  function actions(job) {
    const cell = [];
    if (job.state === "running" || job.state === "queued") cell.push(action(job, "cancel", "Cancel"));
    if (["cancelled", "interrupted", "failed"].includes(job.state) && job.task !== "package") cell.push(action(job, "resume", "Resume"));
    if (job.output || job.report) cell.push(WB.el("a", {href: `/jobs/${job.id}`, textContent: "Review & correct", class: "review"}));
    if (job.output) cell.push(WB.el("a", {href: `/jobs/${job.id}/approve`, textContent: job.approved ? "Approved ✓" : "Approve", class: "approve"}));
    return cell;
  }

  function row(job) {
    const tr = WB.el("tr", {"data-job": job.id});
    const bar = WB.el("div", {class: "bar"}, WB.el("div", {}));
    const trim = job.trim ? ` (frames ${job.trim.first}–${job.trim.first + job.trim.count - 1})` : "";
    tr.append(WB.el("td", {textContent: job.source + trim}), WB.el("td", {textContent: job.preset}),
              WB.el("td", {class: "state"}),
              WB.el("td", {class: "progress"}, bar, WB.el("span", {class: "line"})), WB.el("td", {class: "actions"}));
    return tr;
  }

  // rows are updated in place (a link is not replaced under the pointer while it is being clicked)
  function update(tr, job) {
    tr.dataset.state = job.state;
    tr.querySelector(".state").textContent = job.task === "package" && job.state !== "done" ? `packaging: ${job.state}` : job.state;
    tr.querySelector(".bar > div").style.width = `${job.percent}%`;
    tr.querySelector(".line").textContent = WB.progressLine(job);
    const cell = actions(job);
    const signature = cell.map(n => n.outerHTML).join("");
    if (tr.dataset.actions !== signature) {
      tr.dataset.actions = signature;
      tr.querySelector(".actions").replaceChildren(...cell);
    }
  }

  async function refresh() {
    let data;
    try { data = await WB.json("/api/jobs"); } catch (err) { return; }   // the server may be restarting
    const rows = new Map([...body.querySelectorAll("tr[data-job]")].map(tr => [tr.dataset.job, tr]));
    data.jobs.forEach((job, i) => {
      let tr = rows.get(job.id);
      if (!tr || !tr.querySelector(".line")) { if (tr) tr.remove(); tr = row(job); }
      rows.delete(job.id);
      if (body.children[i] !== tr) body.insertBefore(tr, body.children[i] || null);
      update(tr, job);
    });
    for (const tr of rows.values()) tr.remove();
    document.getElementById("no-jobs").hidden = data.jobs.length > 0;
  }
  WB.every(1000, refresh);
})();
