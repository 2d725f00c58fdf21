// The live dashboard, served by the service at /dashboard with no build step. It reads the
// API as any client does (GET /admin/queues, /admin/jobs, /admin/jobs/{id}, /admin/limits, /schedules,
// /resources/{id}/events, DELETE /resources/{id}) with an admin's key kept in this tab, and
// stays live with a long-poll: GET /admin/queues with `Prefer: wait` answers when a job
// changes. Charts are uPlot. Text from the API only ever reaches the page as text.
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const KEY = "jobs.adminKey";
  let key = sessionStorage.getItem(KEY) || "";

  class AuthError extends Error {}

  async function api(path, init = {}) {
    const headers = { Accept: "application/json", ...(init.headers || {}) };
    if (key) headers.Authorization = `Bearer ${key}`;
    const r = await fetch(path, { ...init, headers });
    if (r.status === 401 || r.status === 403) {
      showLogin(r.status === 403 ? "this key is not an admin's" : key ? "the service does not know this key" : "");
      throw new AuthError();
    }
    const type = r.headers.get("content-type") || "";
    // Read to the end also when there is nothing to read (a 204): an answer left unread is
    // cancelled, which the browser's tools report as a failed request.
    const body = type.includes("json") ? await r.json() : (await r.text(), null);
    if (!r.ok) throw new Error((body && (body.detail || body.title)) || `HTTP ${r.status}`);
    return body;
  }

  function showLogin(message) {
    $("overview").hidden = true;
    $("job").hidden = true;
    $("login").hidden = false;
    $("login-error").textContent = message;
    $("key").focus();
  }

  $("login").addEventListener("submit", (e) => {
    e.preventDefault();
    key = $("key").value.trim();
    sessionStorage.setItem(KEY, key);
    $("login").hidden = true;
    refreshNow();
  });

  const el = (tag, props = {}, ...children) => {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(props)) {
      if (k === "class") e.className = v;
      else if (k === "style") Object.assign(e.style, v);
      else e.setAttribute(k, v);
    }
    for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    return e;
  };

  function progressBar(percent, big) {
    const bar = el("div", { class: big ? "progress big" : "progress", role: "progressbar", "aria-valuenow": String(percent ?? 0) }, el("div", { style: { width: `${percent ?? 0}%` } }));
    return bar;
  }

  const age = (start) => span(Date.now() - Date.parse(start));
  /** "42 s", "5 min", "1 h 59 min", "3 d". */
  function span(ms) {
    const s = Math.max(0, Math.round(ms / 1000));
    if (s < 60) return `${s} s`;
    if (s < 3600) return `${Math.floor(s / 60)} min`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
    return `${Math.floor(s / 86400)} d`;
  }

  const statusPill = (status) => el("span", { class: `status status-${status.replace(" ", "_")}` }, status);

  // ---- overview ------------------------------------------------------------------------

  const charts = {};

  /** Creates the chart, or re-creates it when its series change; otherwise only new data. */
  function chart(id, labels, data, yLabel) {
    const box = $(id);
    const signature = labels.join("\u0000");
    const c = charts[id];
    if (c && c.signature === signature) {
      c.plot.setData(data);
      return;
    }
    if (c) c.plot.destroy();
    const colors = ["#1976d2", "#ef6c00", "#2e7d32", "#c62828", "#6a1b9a", "#00838f", "#5d4037", "#455a64", "#ad1457", "#9e9d24"];
    const opts = {
      width: Math.max(240, box.clientWidth || 360),
      height: 200,
      scales: { x: { time: true } },
      axes: [{}, { label: yLabel, size: 50 }],
      series: [{}, ...labels.map((label, i) => ({ label, stroke: colors[i % colors.length], width: 1.5, spanGaps: false }))],
      legend: { show: true },
    };
    charts[id] = { signature, plot: new uPlot(opts, data, box) };
  }

  /** The `changes` of the last overview shown: the next long-poll answers at once if it is out of date. */
  let lastChanges;
  /** The server's queue sample interval (s). */
  let interval = 10;

  function renderOverview(o) {
    lastChanges = o.changes;
    interval = o.intervalSeconds;
    const waiting = o.now.queues.reduce((n, q) => n + q.waiting, 0);
    const running = o.now.queues.reduce((n, q) => n + q.running, 0);
    $("n-waiting").textContent = waiting;
    $("n-running").textContent = running;
    $("n-outbox").textContent = o.now.outbox;
    const samples = o.samples;
    const x = samples.map((s) => Date.parse(s.at) / 1000);
    // Per-minute rates: what ended in each interval over the interval's length.
    const minutes = samples.map((s, i) => (i === 0 ? o.intervalSeconds : x[i] - x[i - 1]) / 60);
    const recent = samples.slice(-6);
    const ended = recent.reduce((n, s) => n + (s.ended.SUCCESS || 0) + (s.ended.FAILED || 0) + (s.ended.CANCELLED || 0), 0);
    const span = recent.length ? recent.reduce((n, s, i) => n + minutes[samples.length - recent.length + i], 0) : 0;
    $("n-throughput").textContent = span ? (ended / span).toFixed(1) : "–";
    const lat = [...samples].reverse().find((s) => s.claimLatency);
    $("n-latency").textContent = lat ? `${lat.claimLatency.p50Ms} / ${lat.claimLatency.p99Ms} ms` : "–";

    // Depth: each name's waiting and running, the eight deepest names (the rest as "other").
    const depth = new Map();
    for (const s of samples) for (const q of s.queues) depth.set(q.name ?? "(no name)", Math.max(depth.get(q.name ?? "(no name)") || 0, q.waiting + q.running));
    const names = [...depth.keys()].sort((a, b) => depth.get(b) - depth.get(a));
    const shown = names.slice(0, 8);
    const other = names.length > 8;
    const labels = [];
    const series = [];
    for (const name of [...shown, ...(other ? ["other"] : [])]) {
      for (const state of ["waiting", "running"]) {
        labels.push(`${name} ${state}`);
        series.push(
          samples.map((s) =>
            s.queues.filter((q) => (name === "other" ? !shown.includes(q.name ?? "(no name)") : (q.name ?? "(no name)") === name)).reduce((n, q) => n + q[state], 0),
          ),
        );
      }
    }
    if (samples.length) {
      chart("chart-depth", labels, [x, ...series], "jobs");
      chart("chart-throughput", ["succeeded", "failed", "cancelled"], [x, ...["SUCCESS", "FAILED", "CANCELLED"].map((st) => samples.map((s, i) => (s.ended[st] || 0) / minutes[i]))], "per min");
      chart("chart-latency", ["p50", "p99"], [x, samples.map((s) => (s.claimLatency ? s.claimLatency.p50Ms : null)), samples.map((s) => (s.claimLatency ? s.claimLatency.p99Ms : null))], "ms");
    }
  }

  let shownJobs = 25;

  function jobsQuery() {
    const q = new URLSearchParams({ limit: String(Math.min(shownJobs, 100)) });
    const name = $("f-name").value.trim();
    const status = $("f-status").value;
    if (name) q.set("name", name);
    if (status) q.set("status", status);
    return q;
  }

  /** Each name with jobs in progress or paused: its counts, and Pause or Resume. */
  async function loadNames(o) {
    const paused = new Map((await api("/admin/paused")).names.map((p) => [p.name, p]));
    const rows = new Map(o.now.queues.filter((q) => q.name !== undefined).map((q) => [q.name, q]));
    for (const name of paused.keys()) if (!rows.has(name)) rows.set(name, { name, waiting: 0, running: 0 });
    $("names").tBodies[0].replaceChildren(
      ...[...rows.values()]
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((q) => {
          const p = paused.get(q.name);
          const button = el("button", { type: "button", "data-name": q.name, "data-action": p ? "resume" : "pause" }, p ? "Resume" : "Pause");
          return el("tr", { "data-name": q.name, class: p ? "paused" : "" }, el("td", {}, q.name), el("td", {}, q.waiting), el("td", {}, q.running), el("td", {}, p ? `paused ${age(new Date(p.since).toISOString())} ago${p.by ? ` by ${p.by}` : ""} ` : "", button));
        }),
    );
  }

  /** The limits set (GET /admin/limits), with how many of each group run now. */
  async function loadLimits() {
    const { limits } = await api("/admin/limits");
    $("limits").tBodies[0].replaceChildren(
      ...limits.map((l) =>
        el(
          "tr",
          { "data-group": `${l.kind}/${l.value}` },
          el("td", {}, l.kind === "name" ? l.value : `key ${l.value}`),
          el("td", {}, l.running),
          el("td", {}, l.concurrency === undefined ? "–" : `≤ ${l.concurrency} at once`),
          el("td", {}, l.ratePerSecond === undefined ? "–" : `${l.ratePerSecond}/s (burst ${l.burst})`),
        ),
      ),
    );
  }

  /** Every client's schedules (GET /schedules as an admin), with Pause or Resume. */
  async function loadSchedules() {
    const { schedules } = await api("/schedules");
    $("schedules").tBodies[0].replaceChildren(
      ...schedules.map((sc) => {
        const when = sc.cron !== undefined ? `${sc.cron}${sc.timezone ? ` (${sc.timezone})` : ""}` : `every ${sc.everySeconds} s`;
        const next = sc.paused ? "paused" : sc.nextRunAt ? new Date(sc.nextRunAt).toLocaleString(undefined, { hour12: false }) : "–";
        const button = el("button", { type: "button", "data-schedule": sc.id, "data-paused": String(!sc.paused) }, sc.paused ? "Resume" : "Pause");
        return el("tr", { "data-schedule": sc.id, class: sc.paused ? "paused" : "" }, el("td", {}, sc.job.name), el("td", {}, when), el("td", {}, next), el("td", {}, button));
      }),
    );
  }

  $("schedules").addEventListener("click", async (e) => {
    const b = e.target.closest("button[data-schedule]");
    if (!b) return;
    try {
      await api(`/schedules/${encodeURIComponent(b.dataset.schedule)}`, {
        method: "PATCH",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ paused: b.dataset.paused === "true" }),
      });
    } catch (err) {
      if (!(err instanceof AuthError)) $("error").textContent = err.message;
    }
    refreshNow();
  });

  $("names").addEventListener("click", async (e) => {
    const b = e.target.closest("button[data-action]");
    if (!b) return;
    try {
      await api(`/admin/paused/${encodeURIComponent(b.dataset.name)}`, { method: b.dataset.action === "pause" ? "PUT" : "DELETE" });
    } catch (err) {
      if (!(err instanceof AuthError)) $("error").textContent = err.message;
    }
    refreshNow();
  });

  $("redrive").addEventListener("click", async () => {
    const name = $("f-name").value.trim();
    if (!confirm(`Run the failed ${name} jobs again (up to 1000, oldest first)?`)) return;
    try {
      const r = await api("/admin/redrive", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ name, limit: 1000 }) });
      $("redrive-result").textContent = `${r.rerun} running again${r.more ? "; more are left" : ""}`;
    } catch (err) {
      if (!(err instanceof AuthError)) $("redrive-result").textContent = err.message;
    }
    refreshNow();
  });

  async function loadJobs() {
    // The dead-letter view: a name's failed jobs, with the redrive.
    $("redrive").hidden = !($("f-status").value === "FAILED" && $("f-name").value.trim());
    const page = await api(`/admin/jobs?${jobsQuery()}`);
    const body = $("jobs").tBodies[0];
    body.replaceChildren(
      ...page.jobs.map((j) =>
        el(
          "tr",
          { "data-id": j.id },
          el("td", { class: "id" }, el("a", { href: `#/jobs/${encodeURIComponent(j.id)}` }, j.id)),
          el("td", {}, j.name ?? ""),
          el("td", {}, statusPill(j.status)),
          el("td", {}, progressBar(j.status === "SUCCESS" ? 100 : j.progress)),
          el("td", {}, `${j.attempts} / ${j.maxAttempts}`),
          el("td", {}, age(j.start)),
        ),
      ),
    );
    $("more").hidden = !page.next || shownJobs >= 100;
  }

  $("more").addEventListener("click", () => {
    shownJobs = Math.min(100, shownJobs + 25);
    refreshNow();
  });
  let filterTimer;
  for (const id of ["f-name", "f-status"]) {
    $(id).addEventListener("input", () => {
      clearTimeout(filterTimer);
      filterTimer = setTimeout(refreshNow, 200);
    });
  }
  $("filters").addEventListener("submit", (e) => e.preventDefault());

  // ---- one job ---------------------------------------------------------------------------

  function eventDetail(e) {
    const parts = [];
    if (e.actor) parts.push(`by ${e.actor}`);
    if (e.attempt) parts.push(`attempt ${e.attempt}`);
    if (e.progress !== undefined) parts.push(`${e.progress}%`);
    if (e.leaseSeconds !== undefined) parts.push(`lease ${e.leaseSeconds} s`);
    if (e.runAfter) parts.push(`again from ${new Date(e.runAfter).toLocaleTimeString()}`);
    if (e.from) parts.push(`was ${e.from}`);
    if (e.error) parts.push(`${e.error.title}${e.error.detail ? `: ${e.error.detail}` : ""}`);
    if (e.url) parts.push(`to ${e.url}`);
    if (e.deliveryAttempts) parts.push(`${e.deliveryAttempts} delivery attempt(s)`);
    if (e.deliveryError) parts.push(e.deliveryError);
    return parts.join(" · ");
  }

  async function loadJob(id) {
    const job = await api(`/admin/jobs/${encodeURIComponent(id)}`);
    const events = [];
    let next = `/resources/${encodeURIComponent(id)}/events?limit=200`;
    while (next && events.length < 2000) {
      const page = await api(next);
      events.push(...page.events);
      next = page.next;
    }
    $("job-title").replaceChildren(`Job ${job.id} `, statusPill(job.status));
    const facts = [
      ["name", job.name ?? "(none)"],
      ["priority", job.priority],
      ["tags", job.tags.join(", ") || "(none)"],
      ["attempts", `${job.attempts} of ${job.maxAttempts}`],
      ["created", `${new Date(job.start).toLocaleString()} (${age(job.start)} ago)`],
      ...(job.runAt ? [["runs at", `${new Date(job.runAt).toLocaleString()}${Date.parse(job.runAt) > Date.now() ? ` (in ${span(Date.parse(job.runAt) - Date.now())})` : " (due)"}`]] : []),
      ...(job.dependsOn ? [["depends on", `${job.dependsOn.length} job(s)${job.waitingFor ? `, waiting for ${job.waitingFor}` : ""}`]] : []),
      ...(job.schedule ? [["schedule", `${job.schedule}, due ${new Date(job.scheduledFor).toLocaleString()}`]] : []),
      ...(job.concurrencyKey ? [["concurrency key", job.concurrencyKey]] : []),
      ["ended", job.end ? new Date(job.end).toLocaleString() : "not yet"],
      ["progress", job.progress !== undefined ? `${job.progress}%` : "–"],
    ];
    $("job-facts").replaceChildren(...facts.flatMap(([k, v]) => [el("dt", {}, k), el("dd", {}, v)]));
    const bar = $("job-progress");
    bar.style.width = `${job.status === "SUCCESS" ? 100 : (job.progress ?? 0)}%`;
    bar.parentElement.setAttribute("aria-valuenow", String(job.progress ?? 0));
    $("job-input").textContent = job.input === undefined ? "(none)" : JSON.stringify(job.input, null, 2);
    $("outcome-title").textContent = job.status === "FAILED" ? "Error" : "Result";
    $("job-outcome").textContent = job.status === "SUCCESS" ? JSON.stringify(job.result, null, 2) : job.status === "FAILED" ? JSON.stringify(job.error, null, 2) : "(not yet)";
    $("cancel").hidden = job.status !== "IN PROGRESS";
    $("cancel").dataset.id = job.id;
    $("rerun").hidden = job.status !== "FAILED" && job.status !== "CANCELLED";
    $("rerun").dataset.id = job.id;
    $("timeline").replaceChildren(
      ...events.map((e) =>
        el("li", { "data-type": e.type }, el("time", { datetime: e.at }, new Date(e.at).toLocaleTimeString(undefined, { hour12: false }) + "." + String(new Date(e.at).getMilliseconds()).padStart(3, "0")), el("span", { class: "type" }, e.type), " ", el("span", { class: "detail" }, eventDetail(e))),
      ),
    );
  }

  $("cancel").addEventListener("click", async () => {
    const id = $("cancel").dataset.id;
    if (!confirm(`Cancel job ${id}? Its worker hears of it at its next heartbeat.`)) return;
    try {
      const job = await api(`/resources/${encodeURIComponent(id)}`, { method: "DELETE" });
      $("cancel-result").textContent = `now ${job.status}`;
    } catch (e) {
      if (!(e instanceof AuthError)) $("cancel-result").textContent = e.message;
    }
    refreshNow();
  });

  $("rerun").addEventListener("click", async () => {
    const id = $("rerun").dataset.id;
    try {
      const job = await api(`/admin/jobs/${encodeURIComponent(id)}/rerun`, { method: "POST" });
      $("cancel-result").textContent = `now ${job.status}, a new series of attempts`;
    } catch (e) {
      if (!(e instanceof AuthError)) $("cancel-result").textContent = e.message;
    }
    refreshNow();
  });

  // ---- routing and the live loop -----------------------------------------------------------

  function route() {
    const m = /^#\/jobs\/(.+)$/.exec(location.hash);
    return m ? { page: "job", id: decodeURIComponent(m[1]) } : { page: "overview" };
  }

  async function refresh(overview) {
    const r = route();
    $("login").hidden = true;
    $("overview").hidden = r.page !== "overview";
    $("job").hidden = r.page !== "job";
    if (r.page === "overview") {
      const o = overview ?? (await api("/admin/queues"));
      renderOverview(o);
      await loadNames(o);
      await Promise.all([loadLimits(), loadSchedules()]);
      await loadJobs();
    } else {
      await loadJob(r.id);
    }
    $("updated").textContent = `updated ${new Date().toLocaleTimeString(undefined, { hour12: false })}`;
    $("error").textContent = "";
  }

  let kick;
  function refreshNow() {
    if (kick) kick();
  }
  window.addEventListener("hashchange", () => {
    $("cancel-result").textContent = "";
    refreshNow();
  });

  async function live() {
    let overview;
    for (;;) {
      try {
        await refresh(overview);
        $("live").classList.remove("off");
      } catch (e) {
        if (e instanceof AuthError) {
          await new Promise((r) => (kick = r));
          continue;
        }
        $("error").textContent = `${e.message}; retrying`;
        $("live").classList.add("off");
        await new Promise((r) => setTimeout(r, 2000));
      }
      // Until a job changes (the long-poll answers), 20 s pass, or the view asks for more now.
      const controller = new AbortController();
      const asked = new Promise((r) => (kick = () => (controller.abort(), r(undefined))));
      const seen = lastChanges === undefined ? "" : `?seen=${lastChanges}`;
      // At least once per queue sample, so that the charts move while no job changes.
      const wait = Math.min(20, interval);
      overview = await Promise.race([api(`/admin/queues${seen}`, { headers: { Prefer: `wait=${wait}` }, signal: controller.signal }).catch(() => undefined), asked]);
      if (overview) {
        lastChanges = overview.changes;
        interval = overview.intervalSeconds;
      }
      // Changes come in bursts: at most a few refreshes a second.
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  live();
})();
