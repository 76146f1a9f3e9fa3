// Approve & package: the job's state while the package is written and checked; the page reloads when it is done.
"use strict";
(function () {
  const status = document.getElementById("job-status");
  const jobId = status.dataset.job;
  let previous = null;
  WB.every(1000, async () => {
    let job;
    try { job = await WB.json(`/api/jobs/${jobId}`); } catch (err) { return; }
    status.textContent = (job.task === "package" ? "package: " : "") + WB.progressLine(job);
    status.dataset.state = job.state;
    status.dataset.task = job.task;
    document.getElementById("job-bar").style.width = `${job.percent}%`;
    const running = job.state === "running" || job.state === "queued";
    document.getElementById("approve").disabled = running || !job.output || job.state === "failed" && job.task !== "package";
    if (previous && previous !== job.state && !running) location.reload();
    previous = job.state;
  });
})();
