// The console's script: upload with progress, live document status, the
// agent editor's as-you-type check, copy buttons and confirmations. Pages
// work without it except for uploads. It talks only to this origin: the
// API with the session cookie and the CSRF token from the page.
"use strict";

const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

// Forms that destroy something ask first.
document.addEventListener("submit", (e) => {
  const msg = e.target.dataset.confirm;
  if (msg && !window.confirm(msg)) e.preventDefault();
});

// Copy buttons copy the text of the element they name.
document.addEventListener("click", async (e) => {
  const id = e.target.dataset?.copy;
  if (!id) return;
  const out = document.getElementById("copied");
  try {
    await navigator.clipboard.writeText(document.getElementById(id).textContent.trim());
    if (out) out.textContent = "Copied.";
  } catch {
    if (out) out.textContent = "Copy failed: select the key and copy it by hand.";
  }
});

// ---- documents ----

function statusText(d) {
  let s = d.status;
  if (d.stage) s += " · " + d.stage;
  if (d.status === "processing") s += " · " + Math.round((d.progress || 0) * 100) + "%";
  if (d.error) s += " · " + d.error.code + ": " + d.error.message;
  return s;
}

// watch follows a document's events until it is ready, failed or deleted,
// calling show with each state. A page over plain HTTP/1.1 gets six
// connections to the server, and each stream holds one: at most four
// streams are open at once, the others wait their turn, so that uploads
// and clicks always have a connection.
const maxStreams = 4;
let streams = 0;
const waiting = [];

function watch(id, show) {
  waiting.push([id, show]);
  pump();
}

function pump() {
  while (streams < maxStreams && waiting.length > 0) {
    const [id, show] = waiting.shift();
    streams++;
    follow(id, show);
  }
}

function follow(id, show) {
  const es = new EventSource("/v1/documents/" + encodeURIComponent(id) + "/events");
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    es.close();
    streams--;
    pump();
  };
  es.addEventListener("document", (ev) => {
    const d = JSON.parse(ev.data);
    show(d);
    if (d.status === "ready" || d.status === "failed") end();
  });
  es.addEventListener("deleted", () => { show({ status: "deleted" }); end(); });
  // The browser reconnects by itself after a dropped stream; a refusal
  // (the session ended, the document is gone) closes it for good.
  es.onerror = () => { if (es.readyState === EventSource.CLOSED) end(); };
}

// Rows still being processed update themselves.
for (const row of document.querySelectorAll("tr[data-document]")) {
  const st = row.dataset.status;
  if (st !== "queued" && st !== "processing") continue;
  const cell = row.querySelector(".status");
  watch(row.dataset.document, (d) => {
    row.dataset.status = d.status;
    cell.replaceChildren();
    const badge = document.createElement("span");
    badge.className = "badge " + d.status;
    badge.textContent = d.status;
    cell.append(badge);
    if (d.stage) cell.append(" " + d.stage);
    if (d.status === "processing") cell.append(" " + Math.round((d.progress || 0) * 100) + "%");
    if (d.error) {
      const p = document.createElement("p");
      p.className = "reason";
      p.textContent = d.error.code + ": " + d.error.message;
      cell.append(p);
    }
  });
}

// settled offers the refreshed list once every upload has ended.
function settled(list) {
  const pending = [...list.querySelectorAll("li")].some((li) => !["ready", "failed", "refused", "deleted", "duplicate"].includes(li.dataset.status));
  if (pending || document.getElementById("uploads-done")) return;
  const p = document.createElement("p");
  p.id = "uploads-done";
  const a = document.createElement("a");
  a.href = "/console/documents";
  a.textContent = "All uploads have ended: show them in the list";
  p.append(a);
  list.after(p);
}

function uploadOne(file, tags, password, list) {
  const li = document.createElement("li");
  const name = document.createElement("span");
  name.textContent = file.name;
  const bar = document.createElement("progress");
  bar.max = 1; bar.value = 0;
  bar.setAttribute("aria-label", "upload of " + file.name);
  const state = document.createElement("span");
  state.className = "state";
  state.setAttribute("role", "status");
  state.textContent = "uploading";
  li.append(name, bar, state);
  li.dataset.file = file.name;
  list.append(li);

  const fd = new FormData();
  for (const t of tags) fd.append("tags", t);
  if (password) fd.append("password", password);
  fd.append("file", file, file.name);
  const xhr = new XMLHttpRequest();
  xhr.open("POST", "/v1/documents");
  xhr.setRequestHeader("X-CSRF-Token", csrf());
  xhr.setRequestHeader("Accept", "application/json");
  xhr.upload.onprogress = (e) => { if (e.lengthComputable) bar.value = e.loaded / e.total; };
  xhr.onload = () => {
    let body = {};
    try { body = JSON.parse(xhr.responseText); } catch { /* not JSON */ }
    if (xhr.status === 200) {
      // The same file is stored already: the API answered with it.
      bar.value = 1;
      li.dataset.document = body.id;
      li.dataset.status = "duplicate";
      state.replaceChildren("already uploaded as ");
      const a = document.createElement("a");
      a.href = "/console/documents/" + encodeURIComponent(body.id);
      a.textContent = body.title;
      state.append(a, " (" + body.status + "); nothing new was stored");
      settled(list);
    } else if (xhr.status >= 200 && xhr.status < 300) {
      bar.value = 1;
      li.dataset.document = body.id;
      state.textContent = statusText(body);
      watch(body.id, (d) => {
        li.dataset.status = d.status;
        state.textContent = statusText(d);
        state.classList.toggle("failed", d.status === "failed");
        settled(list);
      });
    } else {
      li.dataset.status = "refused";
      state.classList.add("failed");
      state.textContent = "refused: " + (body.detail || ("HTTP " + xhr.status));
      settled(list);
    }
  };
  xhr.onerror = () => { state.classList.add("failed"); state.textContent = "the upload failed: network error"; };
  xhr.send(fd);
}

const upload = document.getElementById("upload");
if (upload) {
  const input = document.getElementById("files");
  const list = document.getElementById("uploads");
  const send = (files) => {
    document.getElementById("uploads-done")?.remove();
    const tags = document.getElementById("upload-tags").value.split(",").map((t) => t.trim()).filter(Boolean);
    const pw = document.getElementById("upload-password");
    for (const f of files) uploadOne(f, tags, pw.value, list);
    input.value = "";
    pw.value = "";
  };
  upload.addEventListener("submit", (e) => { e.preventDefault(); send(input.files); });
  for (const ev of ["dragenter", "dragover"]) upload.addEventListener(ev, (e) => { e.preventDefault(); upload.classList.add("over"); });
  upload.addEventListener("dragleave", () => upload.classList.remove("over"));
  upload.addEventListener("drop", (e) => { e.preventDefault(); upload.classList.remove("over"); send(e.dataTransfer.files); });
}

// ---- agent editor: the server checks the form as you type ----

const agentForm = document.getElementById("agent-form");
if (agentForm) {
  const status = document.getElementById("validation");
  let timer = 0, seq = 0;
  const check = async () => {
    const mine = ++seq;
    const res = await fetch(agentForm.dataset.validate, {
      method: "POST", body: new URLSearchParams(new FormData(agentForm)),
      headers: { "X-CSRF-Token": csrf() },
    });
    if (mine !== seq) return; // a later check is on its way
    let out = { errors: {} };
    try { out = await res.json(); } catch { status.textContent = "The check failed (HTTP " + res.status + ")."; return; }
    for (const box of agentForm.querySelectorAll("[data-error-for]")) {
      const msg = out.errors?.[box.dataset.errorFor];
      box.replaceChildren();
      const field = document.getElementById(box.dataset.errorFor);
      if (msg) {
        const p = document.createElement("p");
        p.className = "field-error";
        p.textContent = msg;
        box.append(p);
        field?.setAttribute("aria-invalid", "true");
      } else {
        field?.removeAttribute("aria-invalid");
      }
    }
    status.textContent = out.ok ? "Looks good." : (out.detail || "Some fields need fixing.");
  };
  agentForm.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(check, 400); });
}
