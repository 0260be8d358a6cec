// tend's web UI: a single page over the agent's API (/api/v1), with three
// views chosen by the URL's hash (#/ the fleet, #/hosts/NAME a host and
// its resource graph, #/history the syncs and drift events), live updates
// from the agent's server-sent events, and the actions of the CLI (sync,
// rollback, pause, resume), each confirmed in a dialog.
//
// Every value from the API reaches the page through textContent or an
// attribute, never as HTML. The session cookie is HttpOnly: this script
// never sees a token after the login form has sent it.
"use strict";

(() => {
  // ---- state ----------------------------------------------------------

  const state = {
    session: null,   // SessionReply: name, read_only, csrf
    status: null,    // Status
    history: null,   // HistoryReply
    hostView: null,  // HostView of the host shown
    syncing: new Map(), // sync ID -> host names, for syncs in flight
    busy: false,     // an action of this page is running
    filters: { role: "", group: "", status: "", name: "" },
    events: null,    // the EventSource
    focusDiff: false, // move the focus to the diff once drawn
  };

  const $ = (id) => document.getElementById(id);
  const SVG = "http://www.w3.org/2000/svg";

  // h builds an element: h("td", {class: "x", "data-label": "Host"}, child...)
  // Children are nodes or strings (text); null and false are skipped.
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "text") el.textContent = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c === null || c === undefined || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }

  // s builds an SVG element.
  function s(tag, attrs, ...children) {
    const el = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined) continue;
      if (k === "text") el.textContent = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v);
    }
    for (const c of children.flat()) if (c) el.append(c);
    return el;
  }

  // ---- formatting -----------------------------------------------------

  // shortRev prints main@sha1:<hex> as main@<8 hex>.
  function shortRev(rev) {
    if (!rev) return "—";
    const m = /^(.*)@sha1:([0-9a-f]+)$/.exec(rev);
    return m ? `${m[1]}@${m[2].slice(0, 8)}` : rev;
  }

  // isZero reports whether an API time is unset (Go's zero time).
  function isZero(t) { return !t || t.startsWith("0001-01-01"); }

  // timeEl shows a time as "3 min ago", the exact time in its title.
  function timeEl(t) {
    if (isZero(t)) return h("span", { class: "muted", text: "never" });
    const d = new Date(t);
    return h("time", { datetime: d.toISOString(), title: d.toLocaleString() }, ago(d));
  }

  // ago says how long ago d was, in the largest unit that fits.
  function ago(d) {
    const sec = Math.round((Date.now() - d.getTime()) / 1000);
    if (sec < 5) return "just now";
    if (sec < 60) return `${sec} s ago`;
    if (sec < 3600) return `${Math.floor(sec / 60)} min ago`;
    if (sec < 86400) return `${Math.floor(sec / 3600)} h ago`;
    return d.toLocaleString();
  }

  // duration is the time from a to b, "—" when either is unset.
  function duration(a, b) {
    if (isZero(a) || isZero(b)) return "—";
    const ms = new Date(b) - new Date(a);
    if (ms < 1000) return `${ms} ms`;
    if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
    return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
  }

  // badge is a pill whose color comes from its kind (a status or result).
  function badge(text, kind) { return h("span", { class: "badge", "data-s": kind || text, text }); }

  // health is what a host's status says of its health, the way Argo CD
  // shows health beside sync status.
  function health(host) {
    if (syncingHosts().has(host.name)) return "Progressing";
    switch (host.status) {
      case "Synced": case "OutOfSync": return host.error ? "Degraded" : "Healthy";
      case "Failed": return "Degraded";
      default: return "Unknown";
    }
  }

  // syncingHosts are the hosts of the syncs running now, from the events.
  function syncingHosts() {
    const set = new Set();
    for (const hosts of state.syncing.values()) hosts.forEach((n) => set.add(n));
    return set;
  }

  // ---- API --------------------------------------------------------------

  // APIError is a refused API call: its HTTP status and the agent's reason.
  class APIError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }

  // api calls the agent's API with the session cookie (and the CSRF
  // header for changes), and returns the decoded reply. A 401 means the
  // session has ended: the page goes back to the login form.
  async function api(method, path, body) {
    const opt = { method, headers: {}, credentials: "same-origin" };
    if (body !== undefined) {
      opt.headers["Content-Type"] = "application/json";
      opt.body = JSON.stringify(body);
    }
    if (method !== "GET" && state.session && state.session.csrf) {
      opt.headers["X-Tend-CSRF"] = state.session.csrf;
    }
    const resp = await fetch(path, opt);
    let data = null;
    try { data = await resp.json(); } catch (e) { data = null; }
    if (!resp.ok) {
      if (resp.status === 401 && path !== "/api/v1/login") loggedOut();
      throw new APIError(resp.status, (data && data.error) || `${resp.status} ${resp.statusText}`);
    }
    return data;
  }

  // ---- banner -----------------------------------------------------------

  // banner shows a message under the header: kind info, ok or error,
  // with a progress bar while an action runs.
  function banner(text, kind, progress) {
    $("banner").hidden = false;
    $("banner").dataset.kind = kind || "info";
    $("banner-text").textContent = text;
    $("banner-progress").hidden = !progress;
  }
  $("banner-close").addEventListener("click", () => { $("banner").hidden = true; });

  // ---- login ------------------------------------------------------------

  // loggedOut forgets the session, closes the event stream and shows the
  // login form.
  function loggedOut() {
    state.session = null;
    if (state.events) { state.events.close(); state.events = null; }
    setLive("off");
    $("who").textContent = "";
    $("logout").hidden = true;
    show("login");
  }

  $("login-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    $("login-error").textContent = "";
    const input = $("login-token");
    try {
      state.session = await api("POST", "/api/v1/login", { token: input.value });
      input.value = "";
      await started();
    } catch (e) {
      $("login-error").textContent = e.status === 401 ? "This token is not one of the agent's." : e.message;
      input.focus();
    }
  });

  $("logout").addEventListener("click", async () => {
    try { await api("POST", "/api/v1/logout"); } catch (e) { /* logged out anyway */ }
    loggedOut();
  });

  // started runs once logged in: who, live events, the current view.
  async function started() {
    const who = $("who");
    who.textContent = `Token ${state.session.name}`;
    if (state.session.read_only) who.append(h("span", { class: "ro", text: "read-only" }));
    $("logout").hidden = false;
    document.body.classList.toggle("read-only", !!state.session.read_only);
    connect();
    await route();
  }

  // ---- live updates -----------------------------------------------------

  // setLive shows the state of the event stream: on, retry or off.
  function setLive(st) {
    const el = $("live");
    el.dataset.state = st;
    el.textContent = { on: "Live", retry: "Reconnecting…", off: "Offline" }[st];
  }

  let refreshTimer = null;
  // refreshSoon coalesces the refreshes a burst of events asks for.
  function refreshSoon() {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => { refresh().catch(() => {}); }, 120);
  }

  // connect opens the event stream. Each event asks for a fresh read of
  // what the view shows; sync events also drive the progress shown on the
  // hosts being synced and the banner.
  function connect() {
    if (state.events) state.events.close();
    const es = new EventSource("/api/v1/events");
    state.events = es;
    es.addEventListener("ready", () => {
      // (Re)connected: the end of a sync may have been missed meanwhile.
      state.syncing.clear();
      setLive("on");
      refreshSoon();
    });
    es.addEventListener("status", refreshSoon);
    es.addEventListener("source-ok", refreshSoon);
    es.addEventListener("source-error", refreshSoon);
    es.addEventListener("drift", (m) => {
      const e = JSON.parse(m.data);
      if (e.drift && !state.busy) banner(`Drift on ${e.drift.Host}: ${e.drift.Resources.length} resource(s) differ from ${shortRev(e.drift.Revision)}.`, "info");
      refreshSoon();
    });
    es.addEventListener("sync-started", (m) => {
      const e = JSON.parse(m.data);
      if (e.sync) {
        state.syncing.set(e.sync.ID, (e.sync.Hosts || []).map((x) => x.Name));
        if (!state.busy) banner(`Sync ${e.sync.ID} of ${shortRev(e.sync.Revision)} (${e.sync.Trigger}) is running…`, "info", true);
      }
      renderAll();
    });
    es.addEventListener("sync-finished", (m) => {
      const e = JSON.parse(m.data);
      if (e.sync) {
        state.syncing.delete(e.sync.ID);
        if (!state.busy) syncBanner(e.sync);
      }
      refreshSoon();
    });
    es.onerror = async () => {
      setLive(es.readyState === EventSource.CLOSED ? "off" : "retry");
      if (es.readyState === EventSource.CLOSED) {
        // Refused (a session that expired) or the agent went away:
        // ask who we are, which logs out on 401, else retry later.
        try { await api("GET", "/api/v1/session"); setTimeout(connect, 3000); } catch (err) { /* 401 logs out */ }
      }
    };
  }

  // syncBanner tells how a sync ended.
  function syncBanner(x) {
    const ok = x.Result === "succeeded";
    banner(`Sync ${x.ID} of ${shortRev(x.Revision)} (${x.Trigger}) ${x.Result}${x.Reason ? ": " + x.Reason : ""}.`, ok ? "ok" : "error");
  }

  // ---- routing ----------------------------------------------------------

  const views = ["login", "hosts", "host", "history"];
  // show makes one view visible and marks its link in the navigation.
  function show(name) {
    for (const v of views) $(`${v}-view`).hidden = v !== name;
    $("nav-hosts").toggleAttribute("aria-current", false);
    $("nav-history").toggleAttribute("aria-current", false);
    if (name === "hosts" || name === "host") $("nav-hosts").setAttribute("aria-current", "page");
    if (name === "history") $("nav-history").setAttribute("aria-current", "page");
  }

  // parseHash reads #/, #/history, #/hosts/NAME and #/hosts/NAME/r/ADDRESS.
  function parseHash() {
    const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
    if (parts[0] === "history") return { view: "history" };
    if (parts[0] === "hosts" && parts[1]) return { view: "host", host: parts[1], resource: parts[2] === "r" ? parts.slice(3).join("/") : "" };
    return { view: "hosts" };
  }

  // hostHref is the link to a host's view, with a resource's diff open.
  function hostHref(name, resource) {
    let href = `#/hosts/${encodeURIComponent(name)}`;
    if (resource) href += `/r/${encodeURIComponent(resource)}`;
    return href;
  }

  let lastView = "";
  // route shows the view the URL names and reads its data.
  async function route() {
    if (!state.session) { show("login"); return; }
    const r = parseHash();
    show(r.view);
    const key = r.view + "/" + (r.host || "");
    if (key !== lastView) {
      lastView = key;
      document.title = r.view === "host" ? `${r.host} · tend` : r.view === "history" ? "History · tend" : "Hosts · tend";
    }
    await refresh();
  }
  window.addEventListener("hashchange", () => {
    // A resource opened from the graph or the list takes the focus to its
    // diff once drawn (the element clicked is redrawn meanwhile).
    const a = document.activeElement;
    state.focusDiff = !!(a && a.closest && a.closest("#graph, #resources"));
    route().catch(showError);
  });

  // showError puts an error in the banner.
  function showError(e) { banner(e.message || String(e), "error"); }

  // refresh reads what the current view shows and draws it.
  async function refresh() {
    if (!state.session) return;
    const r = parseHash();
    const jobs = [api("GET", "/api/v1/status").then((st) => { state.status = st; })];
    if (r.view === "history") jobs.push(api("GET", "/api/v1/history?limit=50").then((x) => { state.history = x; }));
    if (r.view === "host") {
      jobs.push(api("GET", `/api/v1/hosts/${encodeURIComponent(r.host)}`)
        .then((x) => { state.hostView = x; })
        .catch((e) => { if (e.status === 404) state.hostView = { missing: r.host }; else throw e; }));
    }
    try { await Promise.all(jobs); } catch (e) { if (e.status !== 401) showError(e); return; }
    renderAll();
  }

  // renderAll draws the current view from the state read last.
  function renderAll() {
    if (!state.session || !state.status) return;
    const r = parseHash();
    if (r.view === "hosts") renderHosts();
    if (r.view === "host" && state.hostView) renderHost(r);
    if (r.view === "history" && state.history) renderHistory();
    writable();
  }

  // writable disables every action for a read-only token, with the reason.
  function writable() {
    const ro = !!(state.session && state.session.read_only);
    for (const b of document.querySelectorAll("[data-write]")) {
      b.disabled = ro || state.busy;
      if (ro) b.title = "Read-only token: it cannot change anything";
      else b.removeAttribute("title");
    }
  }

  // ---- actions ----------------------------------------------------------

  let confirmFrom = null;
  // confirmAction asks in the dialog; it resolves true when confirmed.
  function confirmAction(title, text, okLabel, danger) {
    const dlg = $("confirm");
    $("confirm-title").textContent = title;
    $("confirm-text").textContent = text;
    $("confirm-ok").textContent = okLabel;
    $("confirm-ok").className = danger ? "primary danger" : "primary";
    confirmFrom = document.activeElement;
    return new Promise((resolve) => {
      dlg.addEventListener("close", () => {
        if (confirmFrom && confirmFrom.focus) confirmFrom.focus();
        resolve(dlg.returnValue === "ok");
      }, { once: true });
      dlg.returnValue = "";
      dlg.showModal();
      $("confirm-cancel").focus();
    });
  }

  // run does an action: confirm, progress in the banner, result, refresh.
  async function run(title, text, okLabel, progress, fn, danger) {
    if (state.busy) return;
    if (!(await confirmAction(title, text, okLabel, danger))) return;
    state.busy = true;
    writable();
    banner(progress, "info", true);
    try {
      const out = await fn();
      if (out && out.ID) syncBanner(out);
      else banner(`${okLabel}: done.`, "ok");
    } catch (e) {
      banner(`${okLabel} refused: ${e.message}`, "error");
    } finally {
      state.busy = false;
      writable();
      await refresh();
    }
  }

  // syncHosts syncs the named hosts, after confirmation.
  function syncHosts(hosts) {
    const label = hosts.length === 1 ? `host ${hosts[0]}` : `${hosts.length} hosts`;
    return run(`Sync ${label}?`, `Apply the target revision ${shortRev(state.status.head ? `${state.status.head.Ref}@sha1:${state.status.head.Hash}` : "")} to ${hosts.join(", ")} now, whatever the sync policy and windows.`,
      "Sync", `Syncing ${label}…`, () => api("POST", "/api/v1/sync", { hosts }));
  }

  $("sync-all").addEventListener("click", () => {
    const hosts = state.status.hosts.map((x) => x.name);
    run("Sync all hosts?", `Apply the target revision to every host (${hosts.length}) now.`, "Sync",
      "Syncing all hosts…", () => api("POST", "/api/v1/sync", {}));
  });
  $("sync-role").addEventListener("click", () => {
    const role = state.filters.role;
    run(`Sync role ${role}?`, `Apply the target revision to every host of role ${role} now.`, "Sync",
      `Syncing role ${role}…`, () => api("POST", "/api/v1/sync", { roles: [role] }));
  });
  $("pause").addEventListener("click", () => {
    const role = state.filters.role;
    const paused = isPaused(role);
    const what = role ? `role ${role}` : "every host";
    if (paused) {
      run(`Resume auto-sync of ${what}?`, `New revisions will be applied on their own again (where the policy is auto), starting now.`,
        "Resume", `Resuming ${what}…`, () => api("POST", "/api/v1/resume", { role }));
    } else {
      run(`Pause auto-sync of ${what}?`, `New revisions and self-heal will wait until you resume.`,
        "Pause", `Pausing ${what}…`, () => api("POST", "/api/v1/pause", { role }));
    }
  });
  $("sync-host").addEventListener("click", () => {
    if (state.hostView && state.hostView.host) syncHosts([state.hostView.host.name]);
  });

  // isPaused reports whether the auto-sync of a role ("": of everything)
  // is paused.
  function isPaused(role) {
    const p = (state.status && state.status.paused) || [];
    return role ? p.includes(role) || p.includes("*") : p.includes("*");
  }

  // rollback applies the revision of history entry x again to its hosts.
  function rollback(x) {
    const hosts = (x.Hosts || []).map((y) => y.Name);
    run(`Roll back to sync ${x.ID}?`,
      `Apply ${shortRev(x.Revision)} ("${x.Message}") again to ${hosts.join(", ")}. Auto-sync of their roles is paused so that the next poll does not undo it.`,
      "Roll back", `Rolling back to sync ${x.ID}…`, () => api("POST", "/api/v1/rollback", { id: x.ID }), true);
  }

  // ---- the fleet --------------------------------------------------------

  // The filters redraw the table as they change.
  for (const [id, key] of [["f-role", "role"], ["f-group", "group"], ["f-status", "status"], ["f-name", "name"]]) {
    $(id).addEventListener("input", () => { state.filters[key] = $(id).value; renderHosts(); writable(); });
  }
  $("filters").addEventListener("submit", (ev) => ev.preventDefault());

  // fillSelect sets the options of a filter, keeping the choice when it
  // is still one of them; unchanged options are not redrawn.
  function fillSelect(sel, values, current, allLabel) {
    const want = [allLabel, ...values].join("\n");
    if (sel.dataset.values !== want) {
      sel.replaceChildren(h("option", { value: "", text: allLabel }), ...values.map((v) => h("option", { value: v, text: v })));
      sel.dataset.values = want;
    }
    sel.value = values.includes(current) ? current : "";
  }

  // matches reports whether a host passes the filters; the name filter
  // takes * and ? wildcards, or any part of the name.
  function matches(host, f) {
    if (f.role && !(host.roles || []).includes(f.role)) return false;
    if (f.group && !(host.groups || []).includes(f.group)) return false;
    if (f.status && host.status !== f.status) return false;
    if (f.name) {
      const re = new RegExp("^" + f.name.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, "."));
      if (!re.test(host.name) && !host.name.includes(f.name)) return false;
    }
    return true;
  }

  // renderSource lists what the agent follows and how it syncs.
  function renderSource(dl, st) {
    const item = (k, v) => h("div", {}, h("dt", { text: k }), h("dd", {}, v));
    const head = st.head ? `${st.head.Ref}@sha1:${st.head.Hash}` : "";
    dl.replaceChildren(
      item("Source", h("span", { class: "mono", text: st.source + (st.ref ? ` (${st.ref})` : "") })),
      item("Head", h("span", { class: "mono", title: head, text: head ? shortRev(head) : "not fetched yet" })),
      item("Policy", `${st.policy}${st.self_heal ? ", self-heal" : ""}`),
      item("Auto-sync", (st.paused || []).length ? `paused: ${st.paused.join(", ")}` : "running"),
      item("Sync window", st.sync_window_open ? "open" : "closed"),
    );
  }

  // alerts shows the source's and the specs' errors, if any.
  function alerts(el, st) {
    el.replaceChildren();
    if (st.source_error) el.append(h("p", { class: "alert", role: "alert", text: st.source_error }));
    if (st.spec_error) el.append(h("p", { class: "alert warn", text: st.spec_error }));
  }

  // renderHosts draws the fleet: counts, filters and the table of hosts.
  function renderHosts() {
    const st = state.status;
    if (!st) return;
    renderSource($("source"), st);
    alerts($("agent-alerts"), st);
    const hosts = st.hosts || [];
    const roles = [...new Set(hosts.flatMap((x) => x.roles || []))].sort();
    const groups = [...new Set(hosts.flatMap((x) => x.groups || []))].sort();
    fillSelect($("f-role"), roles, state.filters.role, "All roles");
    fillSelect($("f-group"), groups, state.filters.group, "All groups");
    state.filters.role = $("f-role").value;
    state.filters.group = $("f-group").value;
    $("f-status").value = state.filters.status;

    // Counts over the whole fleet; each one filters by its status.
    const counts = { "": hosts.length, Synced: 0, OutOfSync: 0, Failed: 0, Unreachable: 0 };
    for (const x of hosts) if (x.status in counts) counts[x.status]++;
    $("counts").replaceChildren(...Object.entries(counts).map(([k, n]) => h("li", {},
      h("button", {
        type: "button", "data-status": k, "aria-pressed": String(state.filters.status === k),
        id: `count-${k || "all"}`,
        onclick: () => { state.filters.status = k; renderHosts(); },
      }, h("span", { class: "n", text: String(n) }), h("span", { class: "l", text: k || "Hosts" })))));

    const role = state.filters.role;
    $("sync-role").hidden = !role;
    $("sync-role").textContent = role ? `Sync role ${role}` : "Sync role";
    $("pause").textContent = `${isPaused(role) ? "Resume" : "Pause"} auto-sync${role ? " of " + role : ""}`;

    const syncing = syncingHosts();
    const rows = hosts.filter((x) => matches(x, state.filters)).map((x) => {
      const busy = syncing.has(x.name);
      const status = busy
        ? h("span", { class: "badge", "data-s": "Syncing" }, h("span", { class: "spin", "aria-hidden": "true" }), "Syncing")
        : badge(x.status);
      return h("tr", { "data-host": x.name },
        h("td", { class: "host", "data-label": "Host" }, h("a", { href: hostHref(x.name), text: x.name })),
        h("td", { "data-label": "Status", class: "status" }, h("div", {}, status,
          x.reason ? h("span", { class: "reason", text: x.reason }) : null,
          x.error ? h("span", { class: "reason error", text: x.error }) : null)),
        h("td", { "data-label": "Health" }, badge(health(x))),
        h("td", { "data-label": "Roles" }, h("span", { class: "tags" }, (x.roles || []).map((r) => h("span", { class: "tag", text: r })))),
        h("td", { "data-label": "Groups" }, h("span", { class: "tags" }, (x.groups || []).map((g) => h("span", { class: "tag", text: g })))),
        h("td", { "data-label": "Applied", class: "mono", title: x.applied_revision || "" }, shortRev(x.applied_revision)),
        h("td", { "data-label": "Target", class: "mono", title: x.target_revision || "" }, shortRev(x.target_revision)),
        h("td", { "data-label": "Last sync" }, timeEl(x.last_sync)),
        h("td", { "data-label": "" }, h("button", {
          type: "button", class: "small", "data-write": true, "aria-label": `Sync ${x.name}`,
          onclick: () => syncHosts([x.name]),
        }, "Sync")),
      );
    });
    $("hosts-body").replaceChildren(...rows);
    $("hosts-empty").hidden = rows.length > 0;
    writable();
  }

  // ---- a host -----------------------------------------------------------

  // renderHost draws a host: its facts, graph, resource list and the
  // diff of the resource the URL names.
  function renderHost(r) {
    const hv = state.hostView;
    if (hv.missing) {
      $("host-title").textContent = hv.missing;
      $("host-crumb").textContent = hv.missing;
      $("host-facts").replaceChildren();
      $("host-alerts").replaceChildren(h("p", { class: "alert", text: `The agent has no host ${hv.missing}.` }));
      $("graph-wrap").replaceChildren();
      $("resources").replaceChildren();
      return;
    }
    const x = hv.host;
    $("host-crumb").textContent = x.name;
    const syncing = syncingHosts().has(x.name);
    $("host-title").replaceChildren(x.name, " ", syncing ? badge("Syncing") : badge(x.status), " ", badge(health(x)));
    const item = (k, v) => h("div", {}, h("dt", { text: k }), h("dd", {}, v));
    $("host-facts").replaceChildren(
      item("Applied", h("span", { class: "mono", title: x.applied_revision || "", text: shortRev(x.applied_revision) })),
      item("Target", h("span", { class: "mono", title: x.target_revision || "", text: shortRev(x.target_revision) })),
      item("Last sync", timeEl(x.last_sync)),
      item("Roles", (x.roles || []).join(", ") || "—"),
      x.groups && x.groups.length ? item("Groups", x.groups.join(", ")) : null,
      item("Last check", hv.mode ? h("span", {}, `${hv.mode} of ${shortRev(hv.revision)}, `, timeEl(hv.time)) : "none yet"),
    );
    const al = $("host-alerts");
    al.replaceChildren();
    if (x.reason) al.append(h("p", { class: "alert warn", text: `OutOfSync: ${x.reason}` }));
    if (hv.error || x.error) al.append(h("p", { class: "alert", role: "alert", text: hv.error || x.error }));
    const wrap = $("graph-wrap"), list = $("resources");
    const keep = [wrap.scrollLeft, wrap.scrollTop, list.scrollTop];
    drawGraph(hv, r.resource);
    renderResources(hv, r.resource);
    renderDiff(hv, r.resource);
    [wrap.scrollLeft, wrap.scrollTop, list.scrollTop] = keep;
    writable();
  }

  // drawGraph lays the resources out in columns by dependency depth
  // (dependencies to the left), each column ordered by where its
  // dependencies are, and draws the edges as curves between them.
  function drawGraph(hv, selected) {
    const wrap = $("graph-wrap");
    const nodes = hv.nodes || [];
    if (nodes.length === 0) {
      wrap.replaceChildren(h("p", { class: "empty", text: "The agent has not planned this host yet." }));
      return;
    }
    const W = 230, H = 58, GX = 70, GY = 18, PAD = 16;
    const cols = [];
    for (const n of nodes) (cols[n.depth] = cols[n.depth] || []).push(n);
    const deps = new Map();
    for (const e of hv.edges) (deps.get(e.to) || deps.set(e.to, []).get(e.to)).push(e.from);
    const pos = new Map();
    cols.forEach((col, d) => {
      if (!col) return;
      if (d > 0) {
        const key = (n) => {
          const ys = (deps.get(n.id) || []).map((id) => pos.get(id)).filter(Boolean).map((p) => p.y);
          return ys.length ? ys.reduce((a, b) => a + b, 0) / ys.length : Infinity;
        };
        col.sort((a, b) => key(a) - key(b));
      }
      col.forEach((n, i) => pos.set(n.id, { x: PAD + d * (W + GX), y: PAD + i * (H + GY) }));
    });
    const width = PAD * 2 + cols.length * W + (cols.length - 1) * GX;
    const height = PAD * 2 + Math.max(...cols.filter(Boolean).map((c) => c.length)) * (H + GY) - GY;
    const svg = s("svg", {
      width, height, viewBox: `0 0 ${width} ${height}`, role: "group",
      "aria-label": `Resource graph of ${hv.host.name}: ${nodes.length} resources, ${hv.edges.length} edges`, id: "graph",
    });
    svg.append(s("defs", {}, s("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" },
      s("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow" }))));
    const edges = s("g", { class: "edges", "aria-hidden": "true" });
    for (const e of hv.edges) {
      const a = pos.get(e.from), b = pos.get(e.to);
      if (!a || !b) continue;
      const x1 = a.x + W, y1 = a.y + H / 2, x2 = b.x - 2, y2 = b.y + H / 2;
      let d;
      if (b.x - a.x <= W + GX) {
        const mx = (x1 + x2) / 2;
        d = `M ${x1} ${y1} C ${mx} ${y1}, ${mx} ${y2}, ${x2} ${y2}`;
      } else {
        // Across columns: run along the gap above the higher of the two
        // rows, where no box is, and come down at the end.
        const lane = Math.min(a.y, b.y) - GY / 2, q = GX / 2;
        d = `M ${x1} ${y1} C ${x1 + q} ${y1}, ${x1 + q} ${lane}, ${x1 + GX} ${lane} L ${x2 - GX} ${lane} C ${x2 - q} ${lane}, ${x2 - q} ${y2}, ${x2} ${y2}`;
      }
      edges.append(s("path", {
        d,
        class: `edge edge-${e.kind}`, "marker-end": "url(#arrow)", "data-from": e.from, "data-to": e.to, "data-kind": e.kind,
      }));
    }
    svg.append(edges);
    for (const n of nodes) {
      const p = pos.get(n.id);
      const label = n.name.length > 30 ? "…" + n.name.slice(-29) : n.name;
      const action = n.change && n.change.action !== "no-op" ? ` (${n.change.action})` : "";
      const a = s("a", { href: hostHref(hv.host.name, n.id), "aria-label": `${n.id}: ${n.status}${action}`, "data-id": n.id },
        s("title", { text: `${n.id}\n${n.status}${action}${n.role ? "\nrole " + n.role : ""}` }),
        s("rect", { class: "node-box", x: p.x, y: p.y, width: W, height: H, rx: 7 }),
        s("rect", { class: "node-stripe", x: p.x, y: p.y, width: 6, height: H, rx: 3 }),
        s("text", { class: "node-kind", x: p.x + 16, y: p.y + 18, text: n.kind + (n.module ? " · " + n.module : "") }),
        s("text", { class: "node-name", x: p.x + 16, y: p.y + 36, text: label }),
        s("text", { class: "node-status", x: p.x + 16, y: p.y + 51, text: n.status + action }));
      svg.append(s("g", { class: "node" + (n.id === selected ? " selected" : ""), "data-s": n.status }, a));
    }
    wrap.replaceChildren(svg);
  }

  // renderResources lists the resources as buttons, for keyboards, screen
  // readers and small screens.
  function renderResources(hv, selected) {
    const items = (hv.nodes || []).map((n) => {
      const action = n.change && n.change.action !== "no-op" ? n.change.action : "";
      return h("li", {}, h("button", {
        type: "button", "aria-current": String(n.id === selected), "data-id": n.id,
        onclick: () => { location.hash = hostHref(hv.host.name, n.id); },
      }, h("span", { class: "addr mono", text: n.id }), h("span", {}, action ? badge(action, n.status) : null, " ", badge(n.status))));
    });
    $("resources").replaceChildren(...items);
  }

  // renderDiff shows what differs on one resource: attributes on the host
  // against the desired ones, a file's unified diff, the steps of a
  // release. The agent has masked sensitive values already.
  function renderDiff(hv, selected) {
    const body = $("diff-body");
    const n = (hv.nodes || []).find((x) => x.id === selected);
    if (!n) {
      $("diff-title").textContent = "Diff";
      body.replaceChildren(h("p", { class: "empty", text: "Choose a resource in the graph or the list to see what differs." }));
      return;
    }
    $("diff-title").textContent = n.id;
    const out = [h("p", { class: "meta" }, badge(n.status), " ",
      n.change ? `${n.change.action} · ${hv.mode === "apply" ? "applied by a sync of" : "planned at"} ${shortRev(hv.revision)}` : "not reached by the last run",
      n.role ? ` · role ${n.role}` : "")];
    const c = n.change;
    if (c) {
      if (c.error) out.push(h("p", { class: "alert", text: c.error }));
      if (c.skipped_because) out.push(h("p", { class: "alert warn", text: `Skipped: ${c.skipped_because} failed.` }));
      if (c.headline) out.push(h("p", { text: c.headline }));
      if (c.reason) out.push(h("p", { class: "meta", text: c.reason }));
      if (c.attributes && c.attributes.length) {
        out.push(h("table", { class: "attrs" },
          h("caption", { class: "visually-hidden", text: "Attributes that change" }),
          h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Attribute" }), h("th", { scope: "col", text: "On the host" }), h("th", { scope: "col", text: "Desired" }))),
          h("tbody", {}, c.attributes.map((a) => h("tr", {},
            h("th", { scope: "row", class: "mono", text: a.name }),
            h("td", { class: "mono before", text: a.sensitive ? "(sensitive value)" : a.before === null ? "(none)" : JSON.stringify(a.before) }),
            h("td", { class: "mono after", text: a.sensitive ? "(sensitive value)" : a.after === null ? "(none)" : JSON.stringify(a.after) }))))));
      }
      if (c.content) out.push(contentView(c.content));
      if (c.steps && c.steps.length) out.push(h("ol", { class: "steps" }, c.steps.map((x) => h("li", { text: x }))));
      if (c.action === "no-op" && !c.error && !(c.attributes || []).length && !c.content) {
        out.push(h("p", { class: "empty", text: "In sync: the host matches the spec." }));
      }
    }
    body.replaceChildren(...out);
    // Opened from the graph or the list: move the focus to the diff, so
    // that a keyboard or screen reader user lands on it.
    if (state.focusDiff) {
      state.focusDiff = false;
      $("diff-title").focus();
    }
  }

  // contentView shows a file's content change: its diff, or hashes and
  // sizes when there is none (binary, too large, sensitive).
  function contentView(ct) {
    if (ct.sensitive) return h("p", { class: "mono", text: `content of ${ct.path}: (sensitive value)` });
    if (ct.diff) {
      const lines = ct.diff.replace(/\n$/, "").split("\n").map((l, i) => {
        let cls = "";
        if (i < 2 && (l.startsWith("---") || l.startsWith("+++"))) cls = "hdr";
        else if (l.startsWith("@@")) cls = "hunk";
        else if (l.startsWith("+")) cls = "add";
        else if (l.startsWith("-")) cls = "del";
        return h("span", { class: cls, text: l });
      });
      return h("div", {}, h("h3", { class: "visually-hidden", text: "Content diff" }),
        h("pre", { class: "diff", "aria-label": `Unified diff of ${ct.path}`, tabindex: "0" }, lines));
    }
    const size = (n) => (n === null ? "none" : `${n} bytes`);
    const hash = (x) => (x ? x.slice(0, 12) : "unknown");
    return h("p", { class: "mono", text: `content${ct.binary ? " (binary)" : ""}: sha256 ${hash(ct.before_sha256)} -> ${hash(ct.after_sha256)} (${size(ct.before_size)} -> ${size(ct.after_size)})` });
  }

  // ---- history ----------------------------------------------------------

  // renderHistory draws the syncs and the drift events, newest first.
  function renderHistory() {
    const hist = state.history;
    $("syncs").replaceChildren(...(hist.syncs || []).map(syncEntry));
    if (!(hist.syncs || []).length) $("syncs").append(h("li", { class: "empty", text: "No sync yet." }));
    $("drifts").replaceChildren(...(hist.drifts || []).map(driftEntry));
    if (!(hist.drifts || []).length) $("drifts").append(h("li", { class: "empty", text: "No drift found." }));
    writable();
  }

  // syncEntry is one sync: what, who, when, how long, the result per host,
  // and a Rollback button when it applied a revision.
  function syncEntry(x) {
    const canRollback = x.Hash && (x.Hosts || []).length && x.Result !== "running" && x.Result !== "refused";
    const hosts = x.Hosts || [];
    return h("li", { class: "entry", "data-sync": String(x.ID) },
      h("div", { class: "entry-head" },
        h("span", { class: "id", text: `#${x.ID}` }),
        badge(x.Result),
        h("span", { class: "mono", title: x.Revision, text: shortRev(x.Revision) }),
        h("span", { class: "tag", text: x.Trigger + (x.By ? ` by ${x.By}` : "") }),
        canRollback ? h("span", { class: "actions" }, h("button", {
          type: "button", class: "small", "data-write": true, "aria-label": `Roll back to sync ${x.ID}`,
          onclick: () => rollback(x),
        }, "Rollback")) : null),
      h("p", { class: "msg", text: x.Message || "(no message)" }),
      h("div", { class: "facts" },
        h("span", {}, "Author: ", h("span", { class: "author", text: x.Author || "—" })),
        h("span", {}, "Started ", timeEl(x.Started)),
        h("span", { text: `Took ${duration(x.Started, x.Ended)}` }),
        (x.Roles || []).length ? h("span", { text: `Roles: ${x.Roles.join(", ")}` }) : null),
      x.Reason ? h("p", { class: "alert", text: x.Reason }) : null,
      hosts.length ? h("details", {},
        h("summary", {}, `${hosts.length} host${hosts.length === 1 ? "" : "s"}: `,
          hosts.map((y) => `${y.Name} ${y.Result}`).join(", ")),
        h("ul", { class: "host-results" }, hosts.map((y) => h("li", {},
          h("a", { href: hostHref(y.Name), text: y.Name }), badge(y.Result),
          y.Error ? h("span", { class: "error", text: y.Error }) : null,
          h("ul", { class: "res-list" }, (y.Resources || []).filter((rr) => rr.Action !== "no-op" || rr.Error).map((rr) =>
            h("li", {}, h("span", { class: "mono", text: rr.Address }), ` ${rr.Action}, ${rr.Status}`, rr.Error ? h("span", { class: "error", text: `: ${rr.Error}` }) : null))))))) : null);
  }

  // driftEntry is one drift event, each resource linked to its diff.
  function driftEntry(d) {
    return h("li", { class: "entry", "data-drift": String(d.ID) },
      h("div", { class: "entry-head" },
        h("span", { class: "id", text: `Drift #${d.ID}` }),
        badge(d.Corrected ? "corrected" : "uncorrected", d.Corrected ? "succeeded" : "OutOfSync"),
        h("a", { href: hostHref(d.Host), text: d.Host }),
        h("span", { class: "mono", title: d.Revision, text: `at ${shortRev(d.Revision)}` }),
        timeEl(d.Time),
        d.SyncID ? h("span", { class: "tag", text: `self-heal sync #${d.SyncID}` }) : null),
      h("ul", { class: "res-list" }, (d.Resources || []).map((r) => h("li", {},
        h("a", { class: "mono", href: hostHref(d.Host, r.Address), text: r.Address }), `: ${r.Summary}`))));
  }

  // ---- start --------------------------------------------------------------

  // boot resumes a session (the cookie) or shows the login form.
  async function boot() {
    try {
      state.session = await api("GET", "/api/v1/session");
    } catch (e) {
      show("login");
      $("login-token").focus();
      return;
    }
    await started();
  }
  // Relative times age: redraw them every 30 s.
  setInterval(() => { if (!state.busy) renderAll(); }, 30000);
  boot();
})();
