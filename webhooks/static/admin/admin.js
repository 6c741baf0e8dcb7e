// helpdesk connector admin pages: small progressive JavaScript, no outside assets.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]').content;

async function api(method, url, body, type) {
  const headers = { "X-CSRF-Token": csrf() };
  let payload;
  if (body !== undefined) {
    headers["Content-Type"] = type || "application/json";
    payload = typeof body === "string" ? body : JSON.stringify(body);
  }
  const res = await fetch(url, { method, headers, body: payload, credentials: "same-origin" });
  let data = null;
  try { data = await res.json(); } catch (e) { data = null; }
  return { ok: res.ok, status: res.status, data };
}

function flash(text, bad) {
  const el = document.getElementById("flash");
  if (!el) return;
  el.textContent = text;
  el.hidden = false;
  el.classList.toggle("bad", !!bad);
}

function why(r) {
  return (r.data && (r.data.message || r.data.error)) || `HTTP ${r.status}`;
}

// --- replay buttons (deliveries, outbox) ---------------------------------------------------
document.addEventListener("click", async (ev) => {
  const button = ev.target.closest("button.replay");
  if (!button) return;
  button.disabled = true;
  const r = await api("POST", button.dataset.url);
  if (r.ok) {
    flash(`Replayed: ${JSON.stringify(r.data)}`);
    const row = button.closest("tr");
    const cell = row && row.querySelector(".status");
    if (cell) cell.textContent = (r.data && r.data.status) || "replayed";
  } else {
    flash(`Not replayed: ${why(r)}`, true);
    button.disabled = false;
  }
});

document.addEventListener("click", async (ev) => {
  const button = ev.target.closest("button.replay-all");
  if (!button) return;
  button.disabled = true;
  const r = await api("POST", button.dataset.url, JSON.parse(button.dataset.selection));
  if (r.ok) {
    flash(`Replayed ${r.data.replayed}.`);
    for (const cell of document.querySelectorAll("td.status")) cell.textContent = "replayed";
  } else {
    flash(`Not replayed: ${why(r)}`, true);
    button.disabled = false;
  }
});

// --- live SLA countdowns ------------------------------------------------------------------
function human(seconds) {
  const s = Math.abs(Math.round(seconds));
  const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
  return (h ? `${h}h ` : "") + `${String(m).padStart(2, "0")}m ${String(r).padStart(2, "0")}s`;
}
function tick() {
  for (const el of document.querySelectorAll(".countdown")) {
    const left = (Date.parse(el.dataset.due) - Date.now()) / 1000;
    el.textContent = left >= 0 ? `${human(left)} left` : `late by ${human(left)}`;
    el.classList.toggle("late", left < 0);
  }
}
if (document.querySelector(".countdown")) { tick(); setInterval(tick, 1000); }

// --- a document editor: line numbers, live validation at the line, save with a note, history ---
function documentEditor(opts) {
  const doc = document.getElementById("doc");
  const gutter = document.getElementById("gutter");
  const list = document.getElementById("problems");
  const warnings = document.getElementById("warnings");
  const badge = document.getElementById("validity");
  const save = document.getElementById("save");
  let bad = new Set();
  let valid = true;

  function numbers() {
    const n = doc.value.split("\n").length;
    gutter.innerHTML = "";
    for (let i = 1; i <= n; i++) {
      const line = document.createElement("span");
      line.textContent = String(i);
      if (bad.has(i)) line.className = "bad";
      gutter.appendChild(line);
      gutter.appendChild(document.createTextNode("\n"));
    }
    gutter.scrollTop = doc.scrollTop;
  }
  doc.addEventListener("scroll", () => { gutter.scrollTop = doc.scrollTop; });

  let timer = null;
  async function validate() {
    badge.textContent = "checking…";
    const r = await api("POST", opts.validateUrl, doc.value, "application/yaml");
    list.innerHTML = "";
    if (warnings) warnings.innerHTML = "";
    bad = new Set();
    if (!r.ok) {
      valid = false;
      badge.textContent = "cannot check";
      badge.className = "badge bad";
      list.innerHTML = `<li>${why(r)}</li>`;
    } else {
      valid = r.data.valid;
      for (const p of r.data.problems) {
        if (p.line) bad.add(p.line);
        const li = document.createElement("li");
        li.className = "problem";
        li.dataset.line = p.line || "";
        li.dataset.path = p.path || "";
        li.textContent = `${p.line ? `line ${p.line}` : "document"}${p.path ? ` · ${p.path}` : ""}: ${p.message}`;
        list.appendChild(li);
      }
      for (const w of r.data.warnings || []) {
        const li = document.createElement("li");
        li.textContent = `warning: ${w}`;
        warnings.appendChild(li);
      }
      badge.textContent = valid ? "valid" : `${r.data.problems.length} problem(s)`;
      badge.className = valid ? "badge ok" : "badge bad";
    }
    save.disabled = !valid;
    numbers();
  }
  doc.addEventListener("input", () => { numbers(); clearTimeout(timer); timer = setTimeout(validate, 300); });
  list.addEventListener("click", (ev) => {
    const li = ev.target.closest("li.problem");
    if (!li || !li.dataset.line) return;
    const lines = doc.value.split("\n");
    const at = lines.slice(0, Number(li.dataset.line) - 1).join("\n").length + 1;
    doc.focus();
    doc.setSelectionRange(at, at + (lines[Number(li.dataset.line) - 1] || "").length);
  });
  numbers();
  validate();

  save.addEventListener("click", async () => {
    const note = document.getElementById("note").value.trim();
    const result = document.getElementById("save-result");
    if (!note) { result.textContent = "Write a change note first: what changed and why."; result.className = "error"; return; }
    save.disabled = true;
    const sep = opts.saveUrl.includes("?") ? "&" : "?";
    const r = await api("PUT", `${opts.saveUrl}${sep}comment=${encodeURIComponent(note)}`, doc.value, "application/yaml");
    if (r.ok) {
      result.textContent = `Saved as version ${r.data.version}.`;
      result.className = "";
      setTimeout(() => window.location.reload(), 600);
    } else {
      result.textContent = `Not saved: ${why(r)}`;
      result.className = "error";
      save.disabled = false;
    }
  });

  for (const button of document.querySelectorAll("button.rollback")) {
    button.addEventListener("click", async () => {
      const sep = opts.rollbackUrl.includes("?") ? "&" : "?";
      const r = await api("POST", `${opts.rollbackUrl}${sep}comment=${encodeURIComponent("rolled back from the admin page")}`,
        { version: Number(button.dataset.version) });
      if (r.ok) { flash(`Rolled back: version ${button.dataset.version} is active again as version ${r.data.version}.`); setTimeout(() => window.location.reload(), 600); }
      else flash(`Not rolled back: ${why(r)}`, true);
    });
  }

  document.getElementById("diff").addEventListener("click", async () => {
    const from = document.querySelector('input[name="from"]:checked');
    const to = document.querySelector('input[name="to"]:checked');
    const out = document.getElementById("diff-result");
    if (!from || !to) { out.textContent = "pick a version to compare from and one to compare to"; return; }
    const sep = opts.diffUrl.includes("?") ? "&" : "?";
    const r = await api("GET", `${opts.diffUrl}${sep}from=${from.value}&to=${to.value}`);
    if (!r.ok) { out.textContent = why(r); return; }
    out.innerHTML = "";
    for (const line of (r.data.diff || "(no difference)\n").split("\n")) {
      const span = document.createElement("span");
      span.className = line.startsWith("+") && !line.startsWith("+++") ? "add" : line.startsWith("-") && !line.startsWith("---") ? "del" : "";
      span.textContent = line + "\n";
      out.appendChild(span);
    }
  });
  return doc;
}

// --- the mapping editor --------------------------------------------------------------------
const root = document.getElementById("mapping");
if (root) {
  const vendor = root.dataset.vendor, instance = root.dataset.instance;
  const base = `/api/mappings/${vendor}`;
  const q = `instance=${encodeURIComponent(instance)}`;
  const doc = documentEditor({
    validateUrl: `${base}/validate?${q}`,
    saveUrl: `${base}?${q}`,
    rollbackUrl: `${base}/rollback?${q}`,
    diffUrl: `${base}/diff?${q}`,
  });
  document.getElementById("preview").addEventListener("click", async () => {
    const out = document.getElementById("preview-result");
    const chosen = document.getElementById("delivery").value;
    const pasted = document.getElementById("payload").value.trim();
    const body = { document: doc.value };
    if (pasted) {
      try { body.payload = JSON.parse(pasted); } catch (e) { out.innerHTML = `<p class="error">the pasted payload is not JSON: ${e.message}</p>`; return; }
    } else if (chosen) {
      body.delivery_id = Number(chosen);
    } else {
      out.innerHTML = '<p class="error">pick a stored delivery or paste a payload</p>';
      return;
    }
    const r = await api("POST", `${base}/preview?${q}`, body);
    if (!r.ok) { out.innerHTML = `<p class="error">${why(r)}</p>`; return; }
    out.innerHTML = "";
    const head = document.createElement("p");
    head.textContent = `${r.data.source} · ${r.data.event_type || ""} · mapped with ${r.data.mapping}`;
    out.appendChild(head);
    if (r.data.error || r.data.ignored) {
      const p = document.createElement("p");
      p.className = "error";
      p.textContent = r.data.error || `ignored: ${r.data.ignored}`;
      out.appendChild(p);
    }
    for (const ev of r.data.events) {
      const table = document.createElement("table");
      table.className = "canonical";
      table.innerHTML = "<thead><tr><th>canonical field</th><th>value</th><th>rule</th><th>ticket now</th></tr></thead>";
      const tbody = document.createElement("tbody");
      const changes = ev.ticket_changes || {};
      for (const [name, value] of Object.entries(ev.fields)) {
        const tr = document.createElement("tr");
        tr.dataset.field = name;
        const now = name in changes ? JSON.stringify(changes[name][0]) + " → changes" : (ev.ticket_id ? "same" : "—");
        for (const text of [name, JSON.stringify(value), ev.trace[name] || "", now]) {
          const td = document.createElement("td");
          td.textContent = text;
          tr.appendChild(td);
        }
        tbody.appendChild(tr);
      }
      table.appendChild(tbody);
      const caption = document.createElement("p");
      caption.textContent = `${ev.kind} of ${ev.object.vendor} ${ev.object.type} ${ev.object.key || ev.object.id}` +
        (ev.ticket_id ? ` (ticket ${ev.ticket_id})` : " (no ticket yet)");
      out.appendChild(caption);
      out.appendChild(table);
      for (const note of ev.notes) {
        const p = document.createElement("p"); p.className = "error"; p.textContent = note; out.appendChild(p);
      }
    }
    if (r.data.suggestions && r.data.suggestions.length) {
      const h = document.createElement("h3"); h.textContent = "Suggested mappings for this trigger body"; out.appendChild(h);
      const ul = document.createElement("ul"); ul.id = "suggestions";
      for (const s of r.data.suggestions) {
        const li = document.createElement("li");
        li.textContent = `${s.key} → ${s.field} (${s.why})`;
        ul.appendChild(li);
      }
      out.appendChild(ul);
    }
  });

}

// --- the policy editor and its dry run -------------------------------------------------------
if (document.getElementById("policy")) {
  const doc = documentEditor({
    validateUrl: "/api/policy/validate",
    saveUrl: "/api/policy",
    rollbackUrl: "/api/policy/rollback",
    diffUrl: "/api/policy/diff",
  });
  document.getElementById("simulate").addEventListener("click", async () => {
    const out = document.getElementById("sim-result");
    const offset = document.getElementById("sim-offset").value.trim() || "+00:00";
    const created = new Date(`${document.getElementById("sim-created").value}:00${offset}`);
    if (isNaN(created)) { out.innerHTML = '<p class="error">created at: a date and time</p>'; return; }
    const stamp = (minutes) => new Date(created.getTime() + minutes * 60000).toISOString();
    const events = [{ at: stamp(0), type: "created" }];
    for (const row of document.querySelectorAll("#sim-events tbody tr")) {
      const minutes = Number(row.querySelector(".ev-minutes").value);
      const type = row.querySelector(".ev-type").value;
      const value = row.querySelector(".ev-value").value.trim();
      const ev = { at: stamp(minutes), type };
      if (type === "public_reply") ev.author = value || "agent";
      else if (["status", "severity", "tier", "category", "level"].includes(type)) ev[type] = value;
      events.push(ev);
    }
    events.sort((a, b) => a.at.localeCompare(b.at));
    const hours = Number(document.getElementById("sim-hours").value) || 96;
    const scenario = {
      policy: doc.value,
      ticket: {
        severity: document.getElementById("sim-severity").value,
        customer_tier: document.getElementById("sim-tier").value,
        category: document.getElementById("sim-category").value,
        channel: document.getElementById("sim-channel").value,
      },
      events,
      until: stamp(hours * 60),
    };
    const r = await api("POST", "/api/simulate", scenario);
    if (!r.ok) { out.innerHTML = ""; const p = document.createElement("p"); p.className = "error"; p.textContent = why(r); out.appendChild(p); return; }
    const rows = [];
    for (const a of r.data.actions || []) rows.push([a.at, a.kind, a.detail]);
    for (const e of r.data.escalations || []) rows.push([e.at, e.action + (e.target ? ` ${e.target}` : ""), `${e.rule} (${e.outcome}): ${e.reason}`]);
    rows.sort((x, y) => x[0].localeCompare(y[0]));
    out.innerHTML = "";
    const clocks = document.createElement("table");
    clocks.id = "sim-clocks";
    clocks.innerHTML = "<thead><tr><th>clock</th><th>state</th><th>target</th><th>due</th></tr></thead>";
    const cb = document.createElement("tbody");
    for (const c of r.data.clocks || []) {
      const tr = document.createElement("tr");
      for (const text of [c.metric, c.state, `${c.target} (${c.time})`, c.due_at || "—"]) { const td = document.createElement("td"); td.textContent = text; tr.appendChild(td); }
      cb.appendChild(tr);
    }
    clocks.appendChild(cb);
    out.appendChild(clocks);
    const line = document.createElement("table");
    line.id = "sim-timeline";
    line.innerHTML = "<thead><tr><th>when</th><th>what</th><th>why</th></tr></thead>";
    const lb = document.createElement("tbody");
    for (const row of rows) {
      const tr = document.createElement("tr");
      for (const text of row) { const td = document.createElement("td"); td.textContent = text; tr.appendChild(td); }
      lb.appendChild(tr);
    }
    line.appendChild(lb);
    out.appendChild(line);
  });
}
