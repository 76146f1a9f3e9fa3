// Shared by the workbench's pages: small helpers, no framework, nothing fetched from the network.
"use strict";
const WB = {
  async json(url, options = {}) {
    const headers = Object.assign({"Accept": "application/json"}, options.headers || {});
    const response = await fetch(url, Object.assign({}, options, {headers, credentials: "same-origin"}));
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || response.statusText);
    return data;
  },
  post(url, body) {
    return WB.json(url, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body || {})});
  },
  clock(seconds) {
    if (seconds === null || seconds === undefined) return "–";
    const s = Math.round(seconds);
    return `${Math.floor(s / 3600)}:${String(Math.floor(s / 60) % 60).padStart(2, "0")}:${String(s % 60).padStart(2, "0")}`;
  },
  progressLine(j) {
    const parts = [];
    if (j.state === "running" || j.state === "queued") parts.push(j.phase || j.state);
    else parts.push(j.state === "done" ? "finished" : j.state);
    if (j.frames_total) parts.push(`${j.frames_done}/${j.frames_total} frames (${j.percent} %)`);
    if (j.state === "running" && j.fps) parts.push(`${j.fps.toFixed(2)} fps`);
    if (j.state === "running" && j.eta_s !== null && j.eta_s !== undefined) parts.push(`ETA ${WB.clock(j.eta_s)}`);
    if (j.state === "running" && j.stage) parts.push(`stages: ${j.stage}`);
    if (j.state === "running" && j.segments_total > 1) parts.push(`segment ${Math.min(j.segments_done + (j.state === "running" ? 1 : 0), j.segments_total)} of ${j.segments_total}`);
    if (j.error) parts.push(`— ${j.error}`);
    return parts.join(" · ");
  },
  el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (k === "class") node.className = v; else if (k.startsWith("data-")) node.setAttribute(k, v); else node[k] = v;
    }
    for (const child of children) node.append(child);
    return node;
  },
  name() { return localStorage.getItem("restore-operator") || ""; },
  remember(name) { if (name) localStorage.setItem("restore-operator", name); },
  every(ms, fn) { fn(); return setInterval(fn, ms); },
};
// the operator's name, filled in once, remembered by this browser
document.addEventListener("DOMContentLoaded", () => {
  for (const input of document.querySelectorAll("input[autocomplete=name]")) {
    if (!input.value) input.value = WB.name();
    input.addEventListener("change", () => WB.remember(input.value.trim()));
  }
});
