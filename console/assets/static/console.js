// chemledger analyst console. Hand-written, no dependencies: it calls the
// service's own JSON API as the browser's client certificate, builds every
// element from text nodes (never from markup strings), so whatever a member wrote in
// an event renders as text, and checks evidence itself with WebCrypto.
"use strict";

(function () {
  const view = document.getElementById("view");
  const me = { member: document.body.dataset.member || "", roles: (document.body.dataset.roles || "").split(" ").filter(Boolean) };

  // ---- DOM helpers: the only way this script puts text on the page.
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const k of kids.flat()) {
      if (k === undefined || k === null || k === false) continue;
      e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    }
    return e;
  }
  function svg(tag, attrs, ...kids) {
    const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    for (const k of kids.flat()) if (k !== undefined && k !== null) e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    return e;
  }
  function show(...kids) { view.replaceChildren(...kids.flat().filter((k) => k !== null && k !== undefined && k !== false)); }
  // A wide table scrolls inside its own region, so at 200 % zoom the page
  // reflows and only the table scrolls sideways (WCAG 1.4.10 allows that
  // for data tables); the region is focusable so the keyboard can scroll it.
  const wide = (label, table) => el("div", { class: "scroll", tabindex: 0, role: "region", "aria-label": label }, table);
  const short = (s) => String(s || "").replace(/^(SEVERITY|FLAG_STATUS|EVENT_KIND|PEN_REPLY|MEMBER_STATUS|DISPOSITION_STATUS)_/, "");
  const time = (t) => (t ? String(t).replace("T", " ").replace(/\.\d+Z$/, "Z") : "—");
  const kg = (n) => (n ? Number(n).toLocaleString("en", { maximumFractionDigits: 3 }) + " kg" : "unknown");

  // ---- API: the same RPCs, through the gateway, as this certificate.
  class APIError extends Error { constructor(status, msg) { super(msg); this.status = status; } }
  async function api(path, opts) {
    const init = Object.assign({ credentials: "same-origin", headers: {} }, opts || {});
    // A header no cross-site page can send without a preflight the server
    // never grants: with the server's cross-origin check it keeps the
    // disposition POST from being forged by another site.
    init.headers = Object.assign({ Accept: "application/json", "X-Chemledger-Console": "1" }, init.headers);
    const r = await fetch(path, init);
    const text = await r.text();
    let body = null;
    try { body = text ? JSON.parse(text) : null; } catch (e) { body = null; }
    if (!r.ok) throw new APIError(r.status, (body && body.message) || text || r.statusText);
    return body;
  }
  function failure(err) {
    const denied = err && (err.status === 403 || err.status === 401);
    return el("p", { class: "error", role: "alert" },
      denied ? "Your certificate's role may not see this: " : "The service answered: ", err.message || String(err));
  }

  // ---- bytes and hashes
  const enc = new TextEncoder();
  function b64dec(s) { const bin = atob(s || ""); const b = new Uint8Array(bin.length); for (let i = 0; i < bin.length; i++) b[i] = bin.charCodeAt(i); return b; }
  function b64enc(b) { let s = ""; for (const x of b) s += String.fromCharCode(x); return btoa(s); }
  function hex(b) { return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join(""); }
  function concat(...parts) { const n = parts.reduce((a, p) => a + p.length, 0); const o = new Uint8Array(n); let i = 0; for (const p of parts) { o.set(p, i); i += p.length; } return o; }
  function eq(a, b) { if (a.length !== b.length) return false; for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false; return true; }
  async function sha256(b) { return new Uint8Array(await crypto.subtle.digest("SHA-256", b)); }
  const u64 = (n) => { const b = new Uint8Array(8); new DataView(b.buffer).setBigUint64(0, BigInt.asUintN(64, BigInt(n))); return b; };

  // ---- checkpoint and inclusion proofs (C2SP signed note, RFC 6962/9162)
  // The log's key comes from the service the first time this browser sees
  // it and is kept; a different key later is reported, never used silently.
  async function logKey() {
    const info = await api("/v1/log");
    const kept = localStorage.getItem("chemledger.verifierKey");
    if (!kept) { localStorage.setItem("chemledger.verifierKey", info.verifierKey); return { key: info.verifierKey, first: true }; }
    if (kept !== info.verifierKey) throw new Error("the service now gives the log key " + info.verifierKey + ", not the key " + kept + " this browser kept");
    return { key: kept, first: false };
  }
  async function verifyNote(note, vkey) {
    // name+hash+key: the name has no "+", the hash is 8 hex digits, and
    // the base64 key may itself contain "+".
    const m = /^([^+\s]+)\+([0-9a-f]{8})\+([A-Za-z0-9+/=]+)$/.exec(vkey);
    if (!m) throw new Error("verifier key is not name+hash+key");
    const [, name, hashHex, keyB64] = m;
    const raw = b64dec(keyB64);
    if (raw.length !== 33 || raw[0] !== 1) throw new Error("verifier key is not an Ed25519 key (0x01 and 32 bytes)");
    const idHash = (await sha256(concat(enc.encode(name + "\n"), raw))).slice(0, 4);
    if (hex(idHash) !== hashHex) throw new Error("verifier key hash does not match its name and key");
    const split = note.indexOf("\n\n");
    if (split < 0) throw new Error("checkpoint note has no signature block");
    const body = note.slice(0, split + 1);
    let checked = false;
    for (const line of note.slice(split + 2).split("\n")) {
      const m = /^\u2014 (\S+) (\S+)$/.exec(line);
      if (!m || m[1] !== name) continue;
      const sig = b64dec(m[2]);
      if (sig.length !== 68 || !eq(sig.slice(0, 4), idHash)) continue;
      const key = await crypto.subtle.importKey("raw", raw.slice(1), { name: "Ed25519" }, false, ["verify"]);
      if (!(await crypto.subtle.verify({ name: "Ed25519" }, key, sig.slice(4), enc.encode(body)))) throw new Error("the checkpoint's signature does not verify with the log key");
      checked = true;
    }
    if (!checked) throw new Error("no signature by " + name + " on the checkpoint");
    const lines = body.split("\n");
    return { origin: lines[0], size: BigInt(lines[1]), root: b64dec(lines[2]) };
  }
  async function nodeHash(l, r) { return sha256(concat(Uint8Array.of(1), l, r)); }
  async function rootFromProof(index, size, leafHash, path) {
    let fn = BigInt(index), sn = BigInt(size) - 1n, r = leafHash;
    if (fn > sn) throw new Error("index beyond the tree");
    for (const p of path) {
      if (sn === 0n) throw new Error("proof is too long");
      if ((fn & 1n) === 1n || fn === sn) {
        r = await nodeHash(p, r);
        if ((fn & 1n) === 0n) while ((fn & 1n) === 0n && fn !== 0n) { fn >>= 1n; sn >>= 1n; }
      } else {
        r = await nodeHash(r, p);
      }
      fn >>= 1n; sn >>= 1n;
    }
    if (sn !== 0n) throw new Error("proof is too short");
    return r;
  }
  // verifyEntry checks one evidence entry: its leaf bytes hash to the leaf
  // hash, the proof leads from it to the root of the checkpoint, and the
  // checkpoint is signed by the log's key. It returns the decoded payload
  // of the verified bytes, so what the page shows is what was checked.
  async function verifyEntry(entry, proof, vkey) {
    const leaf = b64dec(entry.leaf);
    const lh = await sha256(concat(Uint8Array.of(0), leaf));
    if (!eq(lh, b64dec(proof.leafHash))) throw new Error("the entry's bytes do not hash to the proof's leaf hash");
    const cp = await verifyNote(proof.checkpoint.note, vkey);
    if (cp.size !== BigInt(proof.treeSize)) throw new Error("the proof is for size " + proof.treeSize + ", the checkpoint for " + cp.size);
    const root = await rootFromProof(entry.index, proof.treeSize, lh, (proof.hashes || []).map(b64dec));
    if (!eq(root, cp.root)) throw new Error("the inclusion proof does not lead to the checkpoint's root");
    const envl = JSON.parse(new TextDecoder().decode(leaf));
    // A JSON payload is decoded here from the verified bytes. This page
    // does not decode protobuf: for a protobuf payload the fields shown are
    // the service's decoding, and the page says so.
    if (/\+json$/.test(envl.payloadType)) return { size: cp.size, payload: JSON.parse(new TextDecoder().decode(b64dec(envl.payload))), payloadType: envl.payloadType, here: true };
    return { size: cp.size, payload: entry.event || entry.registry || entry.disposition, payloadType: envl.payloadType, here: false };
  }

  // ---- router: the hash holds the page and its filters, so a view can be
  // shared as a link (and nothing secret is in it).
  function route() {
    const h = location.hash.replace(/^#/, "") || "/flags";
    const [p, q] = h.split("?");
    const params = new URLSearchParams(q || "");
    const parts = p.split("/").filter(Boolean).map(decodeURIComponent);
    const pages = { flags: queuePage, flag: flagPage, shipment: shipmentPage, rules: rulesPage, stats: statsPage, registry: registryPage, audit: auditPage, entry: entryPage };
    for (const a of document.querySelectorAll("nav a")) a.removeAttribute("aria-current");
    const cur = document.querySelector('nav a[href="#/' + parts[0] + '"]');
    if (cur) cur.setAttribute("aria-current", "page");
    const fn = pages[parts[0]] || queuePage;
    Promise.resolve(fn(parts.slice(1), params)).catch((err) => show(failure(err)));
  }
  window.addEventListener("hashchange", route);

  // ---- 1. flag queue
  const FILTERS = [
    ["rule", "rule_id", "Rule"], ["severity", "severity", "Severity"], ["status", "status", "Status"],
    ["country", "country", "Country"], ["cas", "cas", "Chemical (CAS)"],
  ];
  function filterExpr(params) {
    const conds = [];
    for (const [key, field] of FILTERS) {
      const v = (params.get(key) || "").trim();
      if (!v) continue;
      if (field === "severity" || field === "status") conds.push(field + " = " + v.replace(/[^A-Z_]/g, ""));
      else conds.push(field + " = " + JSON.stringify(v));
    }
    if (params.get("from")) conds.push("raised_time >= " + JSON.stringify(params.get("from") + "T00:00:00Z"));
    if (params.get("to")) conds.push("raised_time < " + JSON.stringify(params.get("to") + "T23:59:59Z"));
    return conds.join(" AND ");
  }
  async function queuePage(_, params) {
    const filter = filterExpr(params);
    const order = params.get("order") === "newest" ? "raised_time desc" : "severity desc";
    const q = new URLSearchParams({ order_by: order, page_size: "50" });
    if (filter) q.set("filter", filter);
    if (params.get("page")) q.set("page_token", params.get("page"));
    const sq = new URLSearchParams(filter ? { filter } : {});
    // The rows need only the page of flags and the rule names; the counts
    // per filter value (GetStats walks every matching flag, hundreds of
    // milliseconds over 100,000) fill in when they come, in space kept
    // for them, so the page neither waits for them nor shifts.
    const statsP = api("/v1/stats?" + sq).catch(() => null);
    const [list, rules] = await Promise.all([api("/v1/flags?" + q), api("/v1/rules").catch(() => ({ rules: [] }))]);
    const opt = (v, label, cur, n) => el("option", { value: v, selected: v === cur }, label + (n !== undefined ? " (" + n + ")" : ""));
    const sel = (name, label, options) => el("label", {}, label, el("select", { name, id: "f-" + name }, options));
    const cur = (k) => params.get(k) || "";
    const keys = (m) => Object.keys(m || {}).sort();
    const form = el("form", { class: "filters", id: "filters", onsubmit: (e) => {
      e.preventDefault();
      const p = new URLSearchParams();
      for (const [k, v] of new FormData(e.target)) if (String(v).trim()) p.set(k, String(v).trim());
      location.hash = "#/flags?" + p;
    } },
      sel("rule", "Rule", [opt("", "any", cur("rule")), ...rules.rules.map((r) => opt(r.id, r.id + " " + r.name, cur("rule")))]),
      sel("severity", "Severity", [opt("", "any", cur("severity")), ...["CRITICAL", "HIGH", "MEDIUM", "INFO"].map((s) => opt(s, s.toLowerCase(), cur("severity")))]),
      sel("status", "Status", [opt("", "any", cur("status")), ...["OPEN", "CONFIRMED", "DISMISSED", "ESCALATED"].map((s) => opt(s, s.toLowerCase(), cur("status")))]),
      sel("country", "Country", [opt("", "any", cur("country")), cur("country") ? opt(cur("country"), cur("country"), cur("country")) : null]),
      sel("cas", "Chemical (CAS)", [opt("", "any", cur("cas")), cur("cas") ? opt(cur("cas"), cur("cas"), cur("cas")) : null]),
      el("label", {}, "Raised from", el("input", { type: "date", name: "from", value: cur("from") })),
      el("label", {}, "to", el("input", { type: "date", name: "to", value: cur("to") })),
      sel("order", "Order", [opt("", "most severe first", cur("order")), opt("newest", "newest first", cur("order"))]),
      el("button", { type: "submit", id: "apply" }, "Apply"),
      el("a", { href: "#/flags", class: "button-link" }, "Clear"));
    const rows = (list.flags || []).map((f, i) => el("tr", { "data-href": "#/flag/" + encodeURIComponent(f.id), class: i === 0 ? "sel" : "" },
      el("td", {}, el("span", { class: "sev sev-" + short(f.severity).toLowerCase() }, short(f.severity))),
      el("td", {}, el("a", { href: "#/flag/" + encodeURIComponent(f.id), class: "flaglink" }, f.id)),
      el("td", {}, f.ruleId),
      el("td", {}, short(f.status).toLowerCase()),
      el("td", {}, f.shipmentRef ? el("a", { href: "#/shipment/" + encodeURIComponent(f.shipmentRef) }, f.shipmentRef) : f.subject),
      el("td", {}, (f.countries || []).join(" ")),
      el("td", {}, f.cas),
      el("td", {}, time(f.raisedTime))));
    const pager = el("p", { class: "pager" },
      params.get("page") ? el("button", { type: "button", onclick: () => history.back() }, "← previous page") : null, " ",
      list.nextPageToken ? el("a", { id: "next", href: "#/flags?" + withParam(params, "page", list.nextPageToken) }, "next page →") : null);
    const total = el("p", { class: "summary", id: "total" }, "Counting… · keys: j/k move, Enter opens");
    statsP.then((stats) => {
      if (!stats) { total.textContent = "Counts unavailable · keys: j/k move, Enter opens"; return; }
      total.textContent = stats.total + " flags match" + (filter ? " " + filter : "") + " · keys: j/k move, Enter opens";
      const fill = (name, list, label) => {
        const select = document.getElementById("f-" + name);
        if (!select) return;
        const have = new Set(Array.from(select.options, (o) => o.value));
        for (const o of select.options) { const c = list.find((x) => x.key === o.value); if (o.value && c) o.textContent = label(o.value) + " (" + c.count + ")"; else if (o.value && name === "rule") o.textContent = label(o.value) + " (0)"; }
        for (const c of list) if (!have.has(c.key)) select.append(opt(c.key, label(c.key), cur(name), c.count));
      };
      const ruleName = (id) => { const r = (rules.rules || []).find((x) => x.id === id); return r ? id + " " + r.name : id; };
      fill("rule", stats.byRule || [], ruleName);
      fill("country", stats.byCountry || [], (k) => k);
      fill("cas", stats.byChemical || [], (k) => k);
    });
    show(el("h1", {}, "Flag queue"),
      total,
      form,
      wide("Flags", el("table", { class: "queue", id: "queue" },
        el("caption", { class: "vh" }, "Flags"),
        el("thead", {}, el("tr", {}, ["Severity", "Flag", "Rule", "Status", "Shipment or subject", "Countries", "CAS", "Raised"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", { colspan: 8 }, "No flags match."))))),
      pager);
  }
  function withParam(params, k, v) { const p = new URLSearchParams(params); p.set(k, v); return p.toString(); }
  // Keyboard: j/k (or arrows with Alt) move through the queue, Enter opens.
  document.addEventListener("keydown", (e) => {
    const t = e.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "SELECT" || t.tagName === "TEXTAREA")) return;
    const rows = Array.from(document.querySelectorAll("#queue tbody tr[data-href]"));
    if (!rows.length) return;
    let i = rows.findIndex((r) => r.classList.contains("sel"));
    if (e.key === "j" || e.key === "k") {
      i = Math.max(0, Math.min(rows.length - 1, i + (e.key === "j" ? 1 : -1)));
      rows.forEach((r) => r.classList.remove("sel"));
      rows[i].classList.add("sel");
      rows[i].querySelector("a.flaglink").focus();
      e.preventDefault();
    } else if (e.key === "Enter" && i >= 0 && t === document.body) {
      location.hash = rows[i].dataset.href;
    }
  });

  // ---- 2. flag, with its evidence verified here, and 3. disposition
  async function flagPage(parts) {
    const id = parts[0];
    const [d, rules] = await Promise.all([api("/v1/flags/" + encodeURIComponent(id)), api("/v1/rules").catch(() => ({ rules: [] }))]);
    const f = d.flag;
    const rule = (rules.rules || []).find((r) => r.id === f.ruleId);
    const status = el("span", { id: "status", class: "status" }, short(f.status).toLowerCase());
    const verdict = el("p", { id: "verdict", class: "verdict pending" }, "Checking the evidence in this browser…");
    const evidence = el("div", { class: "evidence" });
    const history = el("ol", { id: "history" }, (f.statusHistory || []).map(historyItem));
    show(
      el("h1", {}, "Flag ", f.id),
      el("p", { class: "meta" }, el("span", { class: "sev sev-" + short(f.severity).toLowerCase() }, short(f.severity)), " · status ", status,
        " · raised ", time(f.raisedTime), f.shipmentRef ? [" · shipment ", el("a", { href: "#/shipment/" + encodeURIComponent(f.shipmentRef) }, f.shipmentRef)] : null),
      el("section", {}, el("h2", {}, "Rule ", f.ruleId, " version ", f.ruleVersion, rule ? ": " + rule.name : ""),
        rule ? el("p", { class: "rule-text" }, rule.description) : null,
        el("p", { class: "small" }, "Policy ", f.policyVersion, rule && rule.source ? " · source: " + rule.source : ""),
        el("table", { class: "kv" }, el("tbody", {}, (f.thresholds || []).map((t) => el("tr", {}, el("th", { scope: "row" }, t.name), el("td", {}, t.value)))))),
      el("section", {}, el("h2", {}, "Why it fired"), el("p", { id: "explanation" }, f.explanation)),
      el("section", {}, el("h2", {}, "Status history"), history, (f.statusHistory || []).length ? null : el("p", { class: "small", id: "no-history" }, "No disposition yet.")),
      el("section", {}, el("h2", {}, "Evidence"), verdict, evidence),
      dispositionForm(f, status, history));
    // Each entry is shown at once as the service decoded it, then redrawn in
    // place once checked, so the page does not jump while it verifies.
    const cards = (d.evidence || []).map((e) => evidenceCard(e, null, null));
    evidence.append(...cards);
    let vkey;
    try { vkey = await logKey(); } catch (err) {
      verdict.className = "verdict bad"; verdict.textContent = "Not verified in this browser: " + err.message;
      cards.forEach((c, i) => c.replaceWith(evidenceCard(d.evidence[i], null, "not checked: " + err.message)));
      return;
    }
    let ok = 0, size = null;
    const failures = [];
    for (let i = 0; i < (d.evidence || []).length; i++) {
      const e = d.evidence[i];
      let v = null, why = null;
      try { v = await verifyEntry(e, d.proofs[i], vkey.key); ok++; size = v.size; } catch (err) { why = err.message; failures.push("entry " + e.index + ": " + why); }
      cards[i].replaceWith(evidenceCard(e, v, why));
    }
    if (failures.length === 0 && ok > 0) {
      verdict.className = "verdict good";
      verdict.textContent = "✓ verified in this browser: " + ok + " evidence entr" + (ok === 1 ? "y" : "ies") + " included in the log at size " + size +
        ", checkpoint signed by " + vkey.key.split("+").slice(0, 2).join("+") + (vkey.first ? " (log key first seen now, kept for next time)" : " (log key kept by this browser)");
    } else {
      verdict.className = "verdict bad";
      verdict.textContent = "✗ not verified in this browser: " + (failures.join("; ") || "no evidence entries");
    }
  }
  function historyItem(h) {
    return el("li", {}, time(h.time), " ", el("strong", {}, short(h.status).toLowerCase()), " by ", h.member, " (entry ", h.index, "): ", h.note);
  }
  function party(p) { return p && p.name ? [p.name, p.country ? " (" + p.country + ")" : ""] : null; }
  function evidenceCard(e, v, why) {
    const pending = !v && !why;
    // Unchecked or failed: the service's decoding, labelled as such.
    const ev = v ? v.payload : e.event || e.registry || e.disposition;
    const fields = [];
    // Rows marked minor are left out of the printed case summary, which
    // keeps to one page.
    const minor = { importer: 1, intermediaries: 1, location: 1, occurred: 0, remarks: 1, shipment: 1, kind: 1 };
    const add = (k, val) => { if (val !== undefined && val !== null && val !== "" && !(Array.isArray(val) && !val.length)) fields.push(el("tr", { class: minor[k] ? "minor" : null }, el("th", { scope: "row" }, k), el("td", {}, val))); };
    if (ev) {
      add("kind", short(ev.kind || ev.status || v.payloadType));
      add("shipment", ev.shipmentRef);
      add("occurred", time(ev.occurredTime));
      if (ev.chemical) add("chemical", [ev.chemical.name || "", " ", ev.chemical.cas || "", ev.chemical.concentrationPercent ? " at " + ev.chemical.concentrationPercent + " %" : ""]);
      if (ev.quantity) add("quantity", ev.quantity.value + " " + ev.quantity.unit);
      add("exporter", party(ev.exporter)); add("importer", party(ev.importer)); add("consignee", party(ev.consignee));
      if (ev.intermediaries) add("intermediaries", ev.intermediaries.map((p) => p.name).join("; "));
      if (ev.route) add("route", ev.route.map((r) => r.locode + (r.freeTradeZone ? " (free zone)" : "")).join(" → "));
      add("reply", ev.penReply && ev.penReply !== "PEN_REPLY_UNSPECIFIED" ? short(ev.penReply) : "");
      add("location", ev.locationCountry);
      add("remarks", ev.remarks);
      if (!ev.kind && !ev.shipmentRef) add("payload", JSON.stringify(ev));
    }
    return el("article", { class: "entry", id: "entry-" + e.index },
      el("h3", {}, "Entry ", el("a", { href: "#/entry/" + e.index }, e.index), " · ", e.member, " · ", short(ev && ev.kind) || e.payloadType, " · integrated ", time(e.integratedTime)),
      el("p", { class: pending ? "pending" : v ? "ok" : "bad" }, pending ? "… checking in this browser; the fields below are the service's decoding until then" :
        v ? "✓ inclusion proof checked in this browser" + (v.here ? "; fields decoded here from the verified bytes" : "; the payload is protobuf, so the fields below are the service's decoding of it") :
        "✗ " + why + "; the fields below are the service's decoding, not checked"),
      el("table", { class: "kv" }, el("tbody", {}, fields)),
      el("p", { class: "small mono" }, "leaf hash ", hex(b64dec(e.leafHash))));
  }

  // The disposition is signed here, with a key file the analyst loads: the
  // file is read into this page's memory and imported as a non-extractable
  // WebCrypto key; neither it nor the seed is ever sent. For an analyst
  // whose key lives elsewhere, the exact payload and the CLI command that
  // signs it are shown instead.
  let signingKey = null; // { member, keyId, key: CryptoKey }
  function dispositionForm(f, statusEl, historyEl) {
    const msg = el("p", { id: "disp-msg", role: "status" });
    const keyState = el("span", { id: "key-state" }, signingKey ? "key " + signingKey.keyId + " loaded" : "no key loaded");
    const note = el("textarea", { name: "note", id: "note", rows: 3, required: true, maxlength: 4000 });
    const choice = el("select", { name: "decision", id: "decision" }, ["confirmed", "dismissed", "escalated"].map((s) => el("option", { value: s }, s)));
    const cli = el("pre", { id: "cli", class: "mono" });
    const refreshCLI = () => {
      const st = "DISPOSITION_STATUS_" + choice.value.toUpperCase();
      cli.textContent = "payload (" + PT_DISPOSITION + "):\n" + JSON.stringify({ flagId: f.id, status: st, note: note.value }) +
        "\n\nor sign and send it with the CLI:\nchemledger flags dispose " + f.id + " --status " + choice.value + " --note " + shellQuote(note.value) + " --member " + (me.member || "MEMBER");
    };
    note.addEventListener("input", refreshCLI); choice.addEventListener("change", refreshCLI); refreshCLI();
    const file = el("input", { type: "file", id: "keyfile", accept: ".json,application/json", onchange: async (e) => {
      try {
        const k = JSON.parse(await e.target.files[0].text());
        e.target.value = "";
        const seed = b64dec(k.ed25519_seed);
        if (seed.length !== 32 || !k.member || !k.key_id) throw new Error("want a member key file: member, key_id and a 32-byte ed25519_seed");
        const pkcs8 = concat(Uint8Array.from([0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20]), seed);
        signingKey = { member: k.member, keyId: k.key_id, key: await crypto.subtle.importKey("pkcs8", pkcs8, { name: "Ed25519" }, false, ["sign"]) };
        seed.fill(0);
        keyState.textContent = "key " + k.key_id + " of " + k.member + " loaded in this page (not sent)";
      } catch (err) { keyState.textContent = "could not load the key: " + err.message; }
    } });
    const submit = async (e) => {
      e.preventDefault();
      if (!signingKey) { msg.textContent = "Load your member key file first, or use the CLI command below."; return; }
      if (!note.value.trim()) { msg.textContent = "Say why in the note."; return; }
      const st = "DISPOSITION_STATUS_" + choice.value.toUpperCase();
      const payload = enc.encode(JSON.stringify({ flagId: f.id, status: st, note: note.value }));
      const pae = concat(enc.encode("DSSEv1 " + PT_DISPOSITION.length + " " + PT_DISPOSITION + " " + payload.length + " "), payload);
      const sig = new Uint8Array(await crypto.subtle.sign({ name: "Ed25519" }, signingKey.key, pae));
      const envl = JSON.stringify({ payloadType: PT_DISPOSITION, payload: b64enc(payload), signatures: [{ keyid: signingKey.keyId, sig: b64enc(sig) }] });
      const digest = hex((await sha256(enc.encode(f.id + "\0" + st + "\0" + note.value))).slice(0, 8));
      let sub = signingKey.member + ":disp-" + f.id + "-" + digest;
      if (sub.length > 128) sub = signingKey.member + ":disp-" + hex((await sha256(enc.encode(f.id + "\0" + st + "\0" + note.value))).slice(0, 16));
      msg.textContent = "Sending the signed disposition…";
      try {
        const r = await api("/v1/flags/" + encodeURIComponent(f.id) + ":disposition", {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ submissionId: sub, envelope: b64enc(enc.encode(envl)) }),
        });
        msg.textContent = "Recorded as entry " + r.index + "; waiting for the detector to read it…";
        for (let i = 0; i < 100; i++) {
          const d = await api("/v1/flags/" + encodeURIComponent(f.id));
          if ((d.flag.statusHistory || []).some((h) => String(h.index) === String(r.index))) {
            statusEl.textContent = short(d.flag.status).toLowerCase();
            historyEl.replaceChildren(...d.flag.statusHistory.map(historyItem));
            document.getElementById("no-history")?.remove();
            msg.textContent = "Disposition recorded as entry " + r.index + ": the flag is now " + short(d.flag.status).toLowerCase() + ".";
            return;
          }
          await new Promise((res) => setTimeout(res, 100));
        }
        msg.textContent = "Recorded as entry " + r.index + "; the detector has not read it yet. Reload to see the status.";
      } catch (err) { msg.replaceChildren(failure(err)); }
    };
    return el("section", { class: "dispose noprint" }, el("h2", {}, "Record a disposition"),
      el("form", { id: "dispose", onsubmit: submit },
        el("label", {}, "Decision ", choice),
        el("label", { class: "wide" }, "Note ", note),
        el("label", {}, "Member key file ", file), " ", keyState,
        el("p", {}, el("button", { type: "submit", id: "sign" }, "Sign in this browser and record")),
        msg),
      el("details", {}, el("summary", {}, "The exact payload, and the CLI command that signs it"), cli));
  }
  const PT_DISPOSITION = "application/vnd.chemledger.disposition.v1+json";
  function shellQuote(s) { return "'" + String(s).replace(/'/g, "'\\''") + "'"; }

  // ---- 4. shipment
  let places = null;
  async function placeTable() { if (!places) places = await (await fetch("/console/static/places.json")).json(); return places; }
  async function shipmentPage(parts) {
    const ref = parts.join("/");
    const s = await api("/v1/shipments/" + ref.split("/").map(encodeURIComponent).join("/"));
    const legs = s.legs || [];
    // The route: from the legs' own entries (the notification names it).
    const entries = await Promise.all(legs.map((l) => api("/v1/entries/" + l.index).catch(() => null)));
    const route = [];
    for (const e of entries) for (const r of (e && e.event && e.event.route) || []) if (!route.some((x) => x.locode === r.locode)) route.push(r);
    const kinds = ["PRE_EXPORT_NOTIFICATION", "EXPORT_DECLARATION", "IMPORT_DECLARATION", "RECEIPT_CONFIRMATION"];
    const byKind = {};
    for (const l of legs) { const k = short(l.kind); if (kinds.includes(k)) byKind[k] = l; }
    const recon = [];
    let prev = null;
    for (const k of kinds) {
      const l = byKind[k];
      const row = el("tr", {}, el("th", { scope: "row" }, k.toLowerCase().replace(/_/g, " ")), el("td", {}, l ? kg(l.kilograms) : "not recorded"),
        el("td", {}, l && prev && prev.kilograms && l.kilograms ? diff(l.kilograms - prev.kilograms, prev.kilograms) : ""));
      recon.push(row);
      if (l) prev = l;
    }
    show(el("h1", {}, "Shipment ", s.ref),
      el("section", {}, el("h2", {}, "Timeline"),
        el("ol", { class: "timeline", id: "legs" }, legs.map((l) => el("li", { class: "leg" },
          el("span", { class: "when" }, time(l.occurredTime)), " ",
          el("strong", {}, short(l.kind).toLowerCase().replace(/_/g, " ")), " · ", l.member, " · ", l.locationCountry, " · ",
          kg(l.kilograms), " pure (declared ", l.declaredQuantity, ")",
          l.consignee ? " · consignee " + l.consignee : "", l.penReply && l.penReply !== "PEN_REPLY_UNSPECIFIED" ? " · reply " + short(l.penReply) : "",
          " · ", el("a", { href: "#/entry/" + l.index }, "entry " + l.index))))),
      el("section", {}, el("h2", {}, "Reconciled quantities (kg of pure substance)"),
        el("table", { class: "kv", id: "recon" }, el("thead", {}, el("tr", {}, el("th", {}, "Leg"), el("th", {}, "Quantity"), el("th", {}, "Difference from the leg before"))), el("tbody", {}, recon))),
      el("section", {}, el("h2", {}, "Open questions"), (s.openQuestions || []).length ? el("ul", {}, s.openQuestions.map((q) => el("li", {}, q))) : el("p", {}, "None.")),
      el("section", {}, el("h2", {}, "Flags on this shipment"), el("ul", {}, (s.flags || []).map((f) => el("li", {}, el("span", { class: "sev sev-" + short(f.severity).toLowerCase() }, short(f.severity)), " ",
        el("a", { href: "#/flag/" + encodeURIComponent(f.id) }, f.id), " ", short(f.status).toLowerCase())))),
      el("section", {}, el("h2", {}, "Route"), await routeMap(route)));
  }
  function diff(d, base) { const pct = (100 * d) / base; return (d > 0 ? "+" : "") + d.toFixed(3).replace(/\.?0+$/, "") + " kg (" + pct.toFixed(1) + " %)"; }
  // routeMap draws the places on an equirectangular projection fitted to
  // them, with a graticule every 10°; the coordinates are UN/LOCODE's
  // (console/assets/static/places.json says which release).
  async function routeMap(route) {
    const t = await placeTable();
    const pts = route.map((r) => ({ r, p: t.places[r.locode] })).filter((x) => x.p);
    const missing = route.filter((r) => !t.places[r.locode]).map((r) => r.locode);
    if (!pts.length) return el("p", {}, route.length ? "No coordinates for " + missing.join(", ") : "The record names no route.");
    // Longitudes unwrapped along the route, so Shanghai to Colón crosses
    // the Pacific rather than the whole map.
    let prevLon = null;
    for (const x of pts) {
      let lon = x.p.lon;
      if (prevLon !== null) { while (lon - prevLon > 180) lon -= 360; while (prevLon - lon > 180) lon += 360; }
      x.p = Object.assign({}, x.p, { lon }); prevLon = lon;
    }
    const W = 720, H = 360, pad = 150;
    let [minLat, maxLat, minLon, maxLon] = [90, -90, 180, -180];
    for (const { p } of pts) { minLat = Math.min(minLat, p.lat); maxLat = Math.max(maxLat, p.lat); minLon = Math.min(minLon, p.lon); maxLon = Math.max(maxLon, p.lon); }
    const span = Math.max(maxLon - minLon, 2 * (maxLat - minLat), 20);
    const cx = (minLon + maxLon) / 2, cy = (minLat + maxLat) / 2;
    const scale = (W - 2 * pad) / span;
    const x = (lon) => W / 2 + (lon - cx) * scale, y = (lat) => H / 2 - (lat - cy) * scale;
    const g = [];
    for (let lon = Math.ceil((cx - span) / 10) * 10; lon <= cx + span; lon += 10) g.push(svg("line", { x1: x(lon), y1: 0, x2: x(lon), y2: H, class: "grat" }));
    for (let lat = -80; lat <= 80; lat += 10) g.push(svg("line", { x1: 0, y1: y(lat), x2: W, y2: y(lat), class: "grat" }));
    const path = pts.map(({ p }, i) => (i ? "L" : "M") + x(p.lon).toFixed(1) + " " + y(p.lat).toFixed(1)).join(" ");
    const marks = pts.map(({ r, p }, i) => svg("g", { class: "place" + (r.freeTradeZone ? " ftz" : "") },
      svg("circle", { cx: x(p.lon), cy: y(p.lat), r: 6 }),
      svg("text", { x: x(p.lon) + (x(p.lon) > W / 2 ? -9 : 9), y: y(p.lat) + (i % 2 ? 18 : -10), "text-anchor": x(p.lon) > W / 2 ? "end" : "start" }, (i + 1) + ". " + r.locode + " " + p.name + (r.freeTradeZone ? " (free zone)" : ""))));
    return el("figure", { class: "map" },
      svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": "Route: " + route.map((r) => r.locode).join(" to "), id: "map" },
        svg("rect", { x: 0, y: 0, width: W, height: H, class: "sea" }), g, svg("path", { d: path, class: "route" }), marks),
      el("figcaption", {}, "Route ", route.map((r) => r.locode).join(" → "), missing.length ? " (no coordinates for " + missing.join(", ") + ")" : "",
        ". Coordinates: ", t.source, ". Equirectangular, graticule every 10°; no coastlines are drawn."));
  }

  // ---- 5. rules and statistics
  async function rulesPage() {
    const r = await api("/v1/rules");
    show(el("h1", {}, "Rules"), el("p", {}, "Policy version ", r.policyVersion),
      wide("Rules", el("table", { class: "rules", id: "rules" }, el("thead", {}, el("tr", {}, ["Rule", "Name", "Severity", "What it looks for", "Thresholds", "Source"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, (r.rules || []).map((x) => el("tr", {}, el("td", {}, x.id, " v", x.version, x.timeBased ? " (as of)" : ""), el("td", {}, x.name),
          el("td", {}, short(x.severity).toLowerCase()), el("td", {}, x.description),
          el("td", {}, (x.thresholds || []).map((t) => el("div", {}, t.name, " = ", t.value))), el("td", {}, x.source)))))));
  }
  function barChart(title, counts, id) {
    const W = 640, bh = 18, gap = 4, left = 130;
    const max = Math.max(1, ...counts.map((c) => Number(c.count)));
    const H = Math.max(1, counts.length) * (bh + gap) + 10;
    return el("figure", { class: "chart" }, el("figcaption", {}, title),
      svg("svg", { viewBox: "0 0 " + W + " " + H, role: "img", "aria-label": title, id },
        counts.map((c, i) => svg("g", {},
          svg("text", { x: left - 6, y: i * (bh + gap) + bh - 4, "text-anchor": "end" }, c.key),
          svg("rect", { x: left, y: i * (bh + gap), width: Math.max(1, ((W - left - 60) * Number(c.count)) / max), height: bh, class: "bar" }),
          svg("text", { x: left + ((W - left - 60) * Number(c.count)) / max + 6, y: i * (bh + gap) + bh - 4 }, c.count)))));
  }
  function stackedChart(title, months, perRule, id) {
    const W = 640, bw = 36, gap = 12, top = 10, H = 220, left = 40;
    const totals = months.map((m) => perRule.reduce((a, r) => a + (r.months[m] || 0), 0));
    const max = Math.max(1, ...totals);
    const colour = (i) => "hsl(" + ((i * 137) % 360) + " 60% 38%)";
    const bars = months.map((m, i) => {
      let y = top + H;
      return svg("g", {}, perRule.map((r, j) => {
        const h = ((r.months[m] || 0) * H) / max;
        y -= h;
        return h ? svg("rect", { x: left + i * (bw + gap), y, width: bw, height: h, fill: colour(j) }, svg("title", {}, m + " " + r.rule + ": " + r.months[m])) : null;
      }), svg("text", { x: left + i * (bw + gap) + bw / 2, y: top + H + 16, "text-anchor": "middle" }, m.slice(2)),
      svg("text", { x: left + i * (bw + gap) + bw / 2, y: top + H - (totals[i] * H) / max - 4, "text-anchor": "middle" }, totals[i]));
    });
    const width = Math.max(W, left + months.length * (bw + gap));
    return el("figure", { class: "chart" }, el("figcaption", {}, title),
      svg("svg", { viewBox: "0 0 " + width + " " + (H + 40), role: "img", "aria-label": title, id }, bars),
      el("p", { class: "legend" }, perRule.map((r, j) => el("span", { class: "key" }, svg("svg", { width: 12, height: 12, class: "swatch" }, svg("rect", { width: 12, height: 12, fill: colour(j) })), r.rule, " "))));
  }
  async function statsPage(_, params) {
    const filter = filterExpr(params);
    const s = await api("/v1/stats" + (filter ? "?" + new URLSearchParams({ filter }) : ""));
    // Month by rule: one GetStats per rule, the same call with the rule
    // added to the filter.
    const perRule = await Promise.all((s.byRule || []).map(async (c) => {
      const f = (filter ? filter + " AND " : "") + "rule_id = " + JSON.stringify(c.key);
      const r = await api("/v1/stats?" + new URLSearchParams({ filter: f }));
      return { rule: c.key, months: Object.fromEntries((r.byMonth || []).map((m) => [m.key, Number(m.count)])) };
    }));
    show(el("h1", {}, "Statistics"), el("p", {}, s.total, " flags", filter ? " matching " + filter : "", ". ", el("a", { href: "#/flags?" + params }, "Open these in the queue")),
      stackedChart("Flags per month raised, by rule", (s.byMonth || []).map((m) => m.key), perRule, "chart-month"), barChart("By rule", s.byRule || [], "chart-rule"),
      barChart("By country involved", s.byCountry || [], "chart-country"), barChart("By chemical (CAS)", s.byChemical || [], "chart-chemical"));
  }

  // ---- 6. registry and audit
  async function registryPage() {
    const m = await api("/v1/members");
    show(el("h1", {}, "Registry"), el("p", {}, "Members as of log size ", m.treeSize),
      wide("Members", el("table", { id: "members" }, el("thead", {}, el("tr", {}, ["Member", "Country", "Agency", "Status", "Roles", "Keys"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, (m.members || []).map((x) => el("tr", {}, el("td", {}, x.id), el("td", {}, x.country), el("td", {}, x.agency), el("td", {}, short(x.status).toLowerCase()),
          el("td", {}, (x.roles || []).join(", ")), el("td", { class: "mono" }, (x.keys || []).map((k) => el("div", {}, k.keyId, k.revoked ? " (revoked)" : "")))))))),
      el("h2", {}, "Licences"), await registryTable("REGISTRY_LICENCE", "licences", ["Number", "Issued by", "Holder", "Chemicals (CAS)", "Valid", "Revoked", "Entry"], (e, l) => [
        l.number, l.issuingCountry, party(l.holder), (l.cas || []).join(" "), time(l.validFrom).slice(0, 10) + " to " + time(l.validUntil).slice(0, 10), l.revoked ? "revoked" : "", el("a", { href: "#/entry/" + e.index }, e.index)]),
      el("h2", {}, "Watch lists"), await registryTable("REGISTRY_WATCH_LIST_ENTRY", "watchlists", ["List", "Party", "Aliases", "Reason", "Removed", "Entry"], (e, w) => [
        w.list, party(w.party), (w.aliases || []).join("; "), w.reason, w.removed ? "removed" : "", el("a", { href: "#/entry/" + e.index }, e.index)]));
  }
  // registryTable lists the registry entries of kind (first 200), each
  // row from the entry's change.
  async function registryTable(kind, id, heads, row) {
    let r;
    try { r = await api("/v1/entries?" + new URLSearchParams({ filter: "kind = " + kind, page_size: "200" })); } catch (err) { return failure(err); }
    const rows = (r.entries || []).filter((e) => e.registry).map((e) => el("tr", {}, row(e, e.registry.licence || e.registry.watchListEntry || {}).map((c) => el("td", {}, c))));
    return wide(id, el("table", { id }, el("thead", {}, el("tr", {}, heads.map((h) => el("th", { scope: "col" }, h)))), el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", { colspan: heads.length }, "None in the log.")))));
  }
  async function auditPage(_, params) {
    const start = params.get("from") || "0";
    const r = await api("/v1/audit-records?" + new URLSearchParams({ start_seq: start, page_size: "200" }));
    const recs = r.records || [];
    const verdict = el("p", { id: "chain", class: "verdict pending" }, "Checking the chain in this browser…");
    show(el("h1", {}, "Audit trail"), el("p", {}, r.total, " records; showing from ", start), verdict,
      wide("Audit records", el("table", { id: "audit" }, el("thead", {}, el("tr", {}, ["Seq", "Time", "Principal", "Via", "Method", "Resources", "Outcome", "Hash"].map((h) => el("th", { scope: "col" }, h)))),
        el("tbody", {}, recs.map((x) => el("tr", {}, el("td", {}, x.seq), el("td", {}, time(x.time)), el("td", {}, x.principal), el("td", {}, x.via), el("td", {}, x.method),
          el("td", {}, (x.resources || []).join(" ")), el("td", {}, x.outcome), el("td", { class: "mono" }, hex(b64dec(x.hash)).slice(0, 16))))))),
      recs.length === 200 ? el("p", {}, el("a", { href: "#/audit?from=" + (BigInt(recs[recs.length - 1].seq) + 1n) }, "next page →")) : null);
    try {
      // The chain is checked from the record before this page (or, from
      // the start, from the zero hash), and against the newest record this
      // browser saw before: a trail cut back or rewritten since then no
      // longer holds it.
      let prev = null;
      if (start === "0") prev = new Uint8Array(32);
      else {
        const before = await api("/v1/audit-records?" + new URLSearchParams({ start_seq: String(BigInt(start) - 1n), page_size: "1" }));
        if (before.records && before.records.length) prev = await auditHash(before.records[0]);
      }
      const kept = JSON.parse(localStorage.getItem("chemledger.auditHead") || "null");
      let keptChecked = false;
      for (const x of recs) {
        const h = await auditHash(x);
        if (!eq(h, b64dec(x.hash))) throw new Error("record " + x.seq + " does not hash to its stored hash");
        if (prev && !eq(b64dec(x.prev), prev)) throw new Error("record " + x.seq + " does not link to " + (x.seq === "0" ? "the zero hash" : "record " + (BigInt(x.seq) - 1n)));
        if (kept && String(x.seq) === String(kept.seq)) {
          if (hex(h) !== kept.hash) throw new Error("record " + x.seq + " is not the record this browser saw before");
          keptChecked = true;
        }
        prev = h;
      }
      if (kept && BigInt(kept.seq) >= BigInt(r.total)) throw new Error("the trail has " + r.total + " records; this browser saw record " + kept.seq + " before");
      const last = recs[recs.length - 1];
      if (last && (!kept || BigInt(last.seq) > BigInt(kept.seq))) localStorage.setItem("chemledger.auditHead", JSON.stringify({ seq: String(last.seq), hash: hex(b64dec(last.hash)) }));
      verdict.className = "verdict good";
      verdict.textContent = "✓ chain checked in this browser: " + recs.length + " records hash as stored and each links to the one before" +
        (keptChecked ? "; record " + kept.seq + " is the one this browser kept" : "") + (last ? "; kept record " + last.seq + " for next time" : "");
    } catch (err) { verdict.className = "verdict bad"; verdict.textContent = "✗ chain broken: " + err.message; }
  }
  // auditHash is audit.Record.ComputeHash (audit/record.go), byte for byte.
  async function auditHash(x) {
    const str = (s) => { const b = enc.encode(s || ""); return concat(u64(b.length), b); };
    const micros = (t) => {
      const m = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d+))?Z$/.exec(t || "");
      if (!m) throw new Error("record " + x.seq + " has time " + t);
      const secs = BigInt(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) / 1000);
      return secs * 1000000n + BigInt((m[7] || "").padEnd(6, "0").slice(0, 6));
    };
    const prev = b64dec(x.prev);
    const res = (x.resources || []).map(str);
    // A counted record (refusals of one kind within a window) adds its
    // count and the last one's time; a record of one request does not.
    const counted = x.count && BigInt(x.count) > 0n ? [u64(BigInt(x.count)), u64(micros(x.lastTime))] : [];
    return sha256(concat(enc.encode("chemledger-audit-v1\n"), u64(x.seq), u64(micros(x.time)), str(x.principal), str(x.via), str(x.method),
      u64(res.length), ...res, str(x.outcome), u64(prev.length), prev, ...counted));
  }
  // An entry as this certificate may see it: whole for an analyst, its
  // hashes only for an auditor (the server decides; the page shows what
  // came back).
  async function entryPage(parts) {
    const e = await api("/v1/entries/" + encodeURIComponent(parts[0]));
    const rows = [["index", e.index], ["member", e.member], ["integrated", time(e.integratedTime)], ["payload type", e.payloadType], ["leaf hash", e.leafHash ? hex(b64dec(e.leafHash)) : ""]];
    const body = e.event || e.registry || e.disposition;
    show(el("h1", {}, "Entry ", e.index),
      el("table", { class: "kv", id: "entry" }, el("tbody", {}, rows.filter((r) => r[1] !== undefined && r[1] !== "").map((r) => el("tr", {}, el("th", { scope: "row" }, r[0]), el("td", { class: "mono" }, r[1]))))),
      body ? el("pre", { class: "payload", id: "payload" }, JSON.stringify(body, null, 2)) : el("p", { id: "hashes-only" }, "Hashes only: your role does not see entry contents."));
  }

  route();
})();
