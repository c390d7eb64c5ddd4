// A job's page, live: the journal's events (server-sent, resumed by the browser with
// Last-Event-ID after a drop) update each device's row and the progress without a reload.
(function () {
  "use strict";
  var section = document.querySelector("section[data-job]");
  if (!section || !window.EventSource) { return; }
  var job = section.getAttribute("data-job");
  var after = section.getAttribute("data-last-seq") || "0";
  var done = ["Maintenance Mode Deactivated", "Skipped"];
  function progress() {
    var rows = section.querySelectorAll("tr[data-device]");
    var total = 0, finished = 0;
    rows.forEach(function (row) {
      if (row.getAttribute("data-batch") === "0") { return; }
      total += 1;
      if (done.indexOf(row.getAttribute("data-state")) >= 0) { finished += 1; }
    });
    var shown = section.querySelector("[data-progress]");
    shown.setAttribute("data-progress", finished + "/" + total);
    shown.textContent = finished + "/" + total;
    var bar = section.querySelector("progress");
    if (bar) { bar.max = total; bar.value = finished; }
  }
  function refreshJob() {
    fetch("/api/v1/jobs/" + encodeURIComponent(job), { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (detail) {
        if (!detail) { return; }
        var state = detail.job.state;
        section.setAttribute("data-job-state", state);
        section.querySelector("[data-field=state]").textContent = state;
        var show = { approve: state === "paused", resume: state === "halted" || state === "running",
                     cancel: state !== "finished" && state !== "cancelled" };
        section.querySelectorAll("button[data-action]").forEach(function (b) {
          b.hidden = !show[b.getAttribute("data-action")];
        });
      });
  }
  var source = new EventSource("/api/v1/jobs/" + encodeURIComponent(job) + "/events?after=" + encodeURIComponent(after));
  source.onmessage = function (message) {
    var event = JSON.parse(message.data);
    if (!event.device) {
      var li = document.createElement("li");
      li.textContent = event.message;
      section.querySelector("[data-field=notes]").prepend(li);
      refreshJob();
      return;
    }
    var row = null;
    section.querySelectorAll("tr[data-device]").forEach(function (r) {
      if (r.getAttribute("data-device") === event.device) { row = r; }
    });
    if (!row) { return; }
    row.setAttribute("data-state", event.state);
    row.querySelector("[data-field=state]").textContent = event.state;
    row.querySelector("[data-field=message]").textContent = event.message;
    progress();
  };
  source.addEventListener("end", function () {
    source.close();
    refreshJob();
  });
}());
