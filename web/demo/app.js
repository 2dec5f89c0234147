// Demo portal page logic, following the citizen's Smart-ID registration
// guide: check for the card software (offering the download that fits
// when it is missing), pick a reader, log in with a Web eID token, enter
// the registration code the phone app shows with the contact details, see
// the application as read from the card, sign it, and go back to the phone.
//
// Every text goes through the Localizer (ui.js) as text nodes: nothing
// from the card, the card software or the portal is parsed as markup.

import { CardBridge, ErrorCode, CardBridgeError } from "/static/cardbridge.js";
import { LANGUAGES, chooseLanguage, rememberLanguage } from "./i18n.js";
import { el, Localizer, show, languageSwitch } from "./ui.js";
import { DOWNLOADS, detectDownloads, downloadURL } from "./platform.js";

const $ = (id) => document.getElementById(id);

const state = {
  bridge: null,
  config: null,
  readers: null, // last readers answer or event, re-rendered on a language switch
  reader: "", // chosen reader name
  person: null, // from the server, i.e. from the authentication certificate
  contact: null, // e-mail and phone the portal accepted with the code
  identity: null, // as read from the card for the summary
  busy: false,
};

/** @type {Localizer} */
let loc;

// ---------------------------------------------------------------------------
// Steps

const STEPS = ["service", "reader", "login", "details", "summary", "done"];

function showStep(name) {
  for (const s of STEPS) $(`step-${s}`).hidden = s !== name;
  const idx = STEPS.indexOf(name);
  document.querySelectorAll(".steps li").forEach((li, i) => {
    li.classList.toggle("done", i < idx || name === "done");
    if (i === idx) li.setAttribute("aria-current", "step");
    else li.removeAttribute("aria-current");
  });
  document.body.dataset.step = name;
  // Move focus to the new heading so screen reader users hear where they are.
  $(`step-${name}`).querySelector("h1, h2")?.focus({ preventScroll: false });
}

function setBusy(button, busy, key) {
  button.disabled = busy;
  button.setAttribute("aria-busy", String(busy));
  if (key) {
    button.dataset.i18n = busy ? key : button.dataset.idleKey ?? button.dataset.i18n;
    button.textContent = loc.text(button.dataset.i18n);
  }
}

function rememberIdleLabel(button) {
  button.dataset.idleKey = button.dataset.i18n;
}

// ---------------------------------------------------------------------------
// Server API

class PortalError extends Error {
  constructor(code, message, fields) {
    super(message);
    this.portalCode = code;
    this.fields = fields ?? {};
  }
}

async function api(path, body) {
  const res = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: body === undefined ? {} : { "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    credentials: "same-origin",
  });
  let data = null;
  try {
    data = await res.json();
  } catch {
    // fall through with data = null
  }
  if (!res.ok) {
    throw new PortalError(String(data?.error?.code || res.status), String(data?.error?.message || `HTTP ${res.status}`), data?.error?.fields);
  }
  return data;
}

/** The key and vars of a portal refusal, in the citizen's words. */
function portalReason(e) {
  const key = `portal.${e.portalCode}`;
  return loc.t.has(key) ? { key } : { key: "portal.other", vars: { message: e.message, code: e.portalCode } };
}

// ---------------------------------------------------------------------------
// The card software's errors, in words for a citizen.

function cardMessage(e) {
  if (!(e instanceof CardBridgeError)) return { key: "card.other", vars: { message: e?.message ?? String(e), code: "?" } };
  if (e.code === ErrorCode.PIN_INCORRECT && e.triesLeft !== undefined) {
    return { key: "card.PIN_INCORRECT_TRIES", vars: { tries: String(e.triesLeft) } };
  }
  const code = e.code === ErrorCode.TOO_MANY_PENDING ? ErrorCode.RATE_LIMITED : e.code;
  const key = `card.${code}`;
  return loc.t.has(key) ? { key } : { key: "card.other", vars: { message: e.message, code: e.code } };
}

/** Shows e in node: a portal refusal under prefixKey, else a card error. */
function showError(node, e, prefixKey) {
  if (e instanceof PortalError) {
    const r = portalReason(e);
    show(loc, node, prefixKey, { reason: (l) => l.text(r.key, r.vars) });
  } else {
    const m = cardMessage(e);
    show(loc, node, m.key, m.vars);
  }
  node.dataset.code = e?.portalCode ?? e?.code ?? "";
}

// ---------------------------------------------------------------------------
// 1. Card software

const HELP = {
  [ErrorCode.DAEMON_UNAVAILABLE]: 3,
  [ErrorCode.LOCAL_ACCESS_BLOCKED]: 2,
  [ErrorCode.CONSENT_DENIED]: 2,
  [ErrorCode.ORIGIN_NOT_ALLOWED]: 2,
  [ErrorCode.PROTOCOL_ERROR]: 1,
  [ErrorCode.UNSUPPORTED_BROWSER]: 1,
};

function spinnerStatus(key) {
  const status = $("service-status");
  loc.unbind(status);
  const text = el("span");
  loc.say(text, key);
  status.replaceChildren(el("span", { class: "spinner", "aria-hidden": "true" }), " ", text);
}

async function checkService() {
  const status = $("service-status");
  status.dataset.state = "checking";
  spinnerStatus("service.looking");
  $("service-help").hidden = true;
  $("downloads").hidden = true;
  $("service-retry").hidden = true;
  // The card software asks the user whether this site may use the card
  // before it lets the page connect; the page waits meanwhile.
  const hint = setTimeout(() => {
    if (status.dataset.state === "checking") spinnerStatus("service.asking");
  }, 1500);
  try {
    await state.bridge.connect();
    const v = await state.bridge.version();
    const via = state.bridge.transport === "extension" ? "via.extension" : "via.websocket";
    loc.say(status, "service.found", { version: String(v.version ?? ""), via: (l) => l.text(via) });
    status.dataset.transport = state.bridge.transport ?? "";
    status.dataset.state = "ok";
    await startReaders();
  } catch (e) {
    const items = HELP[e.code];
    const box = $("service-help");
    if (items) {
      loc.say(status, `help.${e.code}.title`);
      const list = el("ul");
      for (let i = 1; i <= items; i++) {
        const li = el("li");
        loc.say(li, `help.${e.code}.${i}`);
        list.append(li);
      }
      box.replaceChildren(list);
    } else {
      loc.say(status, "service.unreachable");
      const p = el("p");
      const m = cardMessage(e);
      loc.say(p, m.key, m.vars);
      box.replaceChildren(p);
    }
    status.dataset.state = "error";
    status.dataset.code = e.code ?? "";
    status.dataset.transport = state.bridge.transport ?? "";
    box.hidden = false;
    if (e.code === ErrorCode.DAEMON_UNAVAILABLE) await showDownloads();
    $("service-retry").hidden = false;
  } finally {
    clearTimeout(hint);
  }
}

/** Offers the cardbridge download that fits this computer, and the others. */
async function showDownloads() {
  const best = await detectDownloads(navigator);
  const link = (d, cls) => {
    const a = el("a", { class: cls, href: downloadURL(d), download: d.file, dataset: { download: d.id } });
    loc.say(a, cls === "button" ? "dl.for" : `sys.${d.id}`, { system: (l) => l.text(`sys.${d.id}`) });
    return a;
  };
  $("download-main").replaceChildren(...DOWNLOADS.filter((d) => best.includes(d.id)).map((d) => link(d, "button")));
  $("download-list").replaceChildren(...DOWNLOADS.filter((d) => !best.includes(d.id)).map((d) => el("li", {}, link(d, "link"))));
  $("download-mac-hint").hidden = !(best.includes("mac-apple") && best.includes("mac-intel"));
  $("download-none").hidden = best.length > 0;
  $("downloads").dataset.detected = best.join(" ");
  $("downloads").hidden = false;
}

// ---------------------------------------------------------------------------
// 2. Readers

async function startReaders() {
  const list = await state.bridge.readers();
  renderReaders(list);
  if (state.person && state.contact) {
    showStep("summary");
    await fillFromCard();
  } else if (state.person) {
    showStep("details");
  } else {
    showStep("reader");
  }
}

function renderReaders(data) {
  state.readers = data;
  const readers = data?.readers ?? [];
  const box = $("reader-list");
  box.replaceChildren();
  if (data?.error) {
    const p = el("p", { class: "error" });
    if (data.error.code === ErrorCode.NO_SERVICE) loc.say(p, "reader.stopped");
    else loc.say(p, "card.other", { message: String(data.error.message ?? ""), code: String(data.error.code ?? "") });
    box.append(p);
  }
  if (readers.length === 0) {
    const p = el("p", { class: "empty" });
    loc.say(p, "reader.none");
    box.append(p);
  }
  const withCard = readers.filter((r) => r.card?.type === "beid");
  if (!readers.some((r) => r.name === state.reader)) state.reader = "";
  if (!state.reader && withCard.length === 1) state.reader = withCard[0].name;

  readers.forEach((r, i) => {
    const id = `reader-${i}`;
    const input = el("input", { type: "radio", name: "reader", id });
    input.value = String(r.name);
    input.checked = r.name === state.reader;
    input.addEventListener("change", () => {
      state.reader = r.name;
      updateReaderContinue();
    });
    const isBeid = r.card?.type === "beid";
    const st = el("span", { class: "reader-state", dataset: { state: isBeid ? "ok" : "empty" } });
    loc.say(st, isBeid ? "reader.beid" : r.cardPresent ? "reader.unknown" : "reader.empty");
    const label = el("label", { class: "reader", for: id }, input, el("span", { class: "reader-name" }, String(r.name)), st);
    if (r.pinpad) {
      const pp = el("span", { class: "tag" });
      loc.say(pp, "reader.pinpad");
      label.append(pp);
    }
    box.append(label);
  });
  box.dataset.count = String(readers.length);
  updateReaderContinue();
}

function updateReaderContinue() {
  const ok = (state.readers?.readers ?? []).some((r) => r.name === state.reader && r.card?.type === "beid");
  $("reader-continue").disabled = !ok;
}

// ---------------------------------------------------------------------------
// 3. Login

async function login() {
  const btn = $("login-button");
  show(loc, $("login-error"), "");
  setBusy(btn, true, "login.waiting");
  show(loc, $("login-status"), "login.pin", {}, "working");
  try {
    const { nonce } = await api("/api/nonce", {});
    const token = await state.bridge.authenticate({ challengeNonce: nonce, reader: state.reader });
    show(loc, $("login-status"), "login.checking", {}, "working");
    const { person } = await api("/api/login", token);
    setPerson(person);
    show(loc, $("login-status"), "");
    showStep("details");
  } catch (e) {
    show(loc, $("login-status"), "");
    showError($("login-error"), e, "login.refused");
  } finally {
    setBusy(btn, false, "login.waiting");
  }
}

function fullName(p) {
  return `${p?.givenName ?? ""} ${p?.surname ?? ""}`.trim();
}

function setPerson(person) {
  state.person = person;
  $("who").hidden = !person;
  if (!person) return;
  $("who-name").textContent = fullName(person);
  const res = $("login-result");
  loc.say(res, "login.result", { name: fullName(person), nn: formatNN(person.nationalNumber) });
  res.dataset.state = "verified";
}

// ---------------------------------------------------------------------------
// 4. Registration code and contact details

const CODE_RE = /^[2-9A-HJ-NP-Z]{5}$/;
const EMAIL_RE = /^[^\s@<>"]+@[^\s@<>".]+(\.[^\s@<>".]+)+$/;

export function normaliseCode(s) {
  return String(s || "").replace(/\s+/g, "").toUpperCase();
}

export function normalisePhone(s) {
  let p = String(s || "").trim().replace(/[\s.\-/()]/g, "");
  if (p.startsWith("00")) p = "+" + p.slice(2);
  else if (p.startsWith("0") && p.length >= 9) p = "+32" + p.slice(1);
  return p;
}

export function validPhone(s) {
  return /^\+[1-9][0-9]{7,14}$/.test(normalisePhone(s));
}

function fieldError(id, key) {
  const input = $(`f-${id}`);
  show(loc, $(`e-${id}`), key);
  if (!key) delete $(`e-${id}`).dataset.code;
  if (key) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
  return !key;
}

/** Checks the fields as the portal does; returns the problems by field. */
function detailProblems() {
  const code = normaliseCode($("f-code").value);
  const email = $("f-email").value.trim();
  const phone = $("f-phone").value.trim();
  const p = {};
  if (!code) p.code = "required";
  else if (!CODE_RE.test(code)) p.code = "invalid";
  if (!email) p.email = "required";
  else if (!EMAIL_RE.test(email)) p.email = "invalid";
  if (phone && !validPhone(phone)) p.phone = "invalid";
  return p;
}

function showFieldProblems(problems) {
  let first = null;
  for (const id of ["code", "email", "phone"]) {
    const ok = fieldError(id, problems[id] ? `err.${id}.${problems[id]}` : "");
    if (!ok && !first) first = id;
  }
  if (first) $(`f-${first}`).focus();
  return !first;
}

async function submitDetails(ev) {
  ev.preventDefault();
  if (state.busy) return;
  show(loc, $("details-error"), "");
  if (!showFieldProblems(detailProblems())) return;
  const btn = $("details-continue");
  state.busy = true;
  setBusy(btn, true);
  show(loc, $("details-status"), "details.checking", {}, "working");
  try {
    state.contact = await api("/api/registration", {
      code: normaliseCode($("f-code").value),
      email: $("f-email").value.trim(),
      phone: $("f-phone").value.trim(),
    });
    show(loc, $("details-status"), "");
    showStep("summary");
    await fillFromCard();
  } catch (e) {
    show(loc, $("details-status"), "");
    if (e instanceof PortalError && e.portalCode === "INVALID_FIELDS" && Object.keys(e.fields).length) {
      showFieldProblems(e.fields);
    } else if (e instanceof PortalError && e.portalCode.startsWith("CODE_")) {
      // The code's own messages are whole sentences, shown at the field.
      fieldError("code", `portal.${e.portalCode}`);
      $("e-code").dataset.code = e.portalCode;
      $("f-code").focus();
      $("f-code").select();
    } else {
      showError($("details-error"), e, "summary.refused");
    }
  } finally {
    state.busy = false;
    setBusy(btn, false);
  }
}

// ---------------------------------------------------------------------------
// 5. Summary, read from the card, and signature

function formatNN(nn) {
  const d = String(nn || "").replace(/\D/g, "");
  if (d.length !== 11) return String(nn || "");
  return `${d.slice(0, 2)}.${d.slice(2, 4)}.${d.slice(4, 6)}-${d.slice(6, 9)}.${d.slice(9)}`;
}

/** The country of the document: a Belgian eID card is issued by Belgium. */
const DOCUMENT_COUNTRY = "BE";

function countryName(l) {
  try {
    return new Intl.DisplayNames([l.locale], { type: "region" }).of(DOCUMENT_COUNTRY) ?? DOCUMENT_COUNTRY;
  } catch {
    return DOCUMENT_COUNTRY;
  }
}

/**
 * The outcome of the file checks (the National Register's signatures):
 * "ok", "failed", or "na" when the card software does not say. The
 * protocol's valid covers the genuineness check too, with one line in
 * errors per failed check: a lone failure beside a failed genuineness
 * check is that check, and the files are intact.
 */
export function integrityOutcome(integrity) {
  if (typeof integrity?.valid !== "boolean") return "na";
  if (integrity.valid) return "ok";
  const failed = Array.isArray(integrity.errors) ? integrity.errors.length : 0;
  return integrity.genuine === "failed" && failed === 1 ? "ok" : "failed";
}

/**
 * The card genuineness check (protocol: integrity.genuine, applet 1.8
 * cards): "verified", "failed", or "unavailable" for cards without the
 * key it needs; a card software that predates it sends nothing.
 */
export function genuineness(integrity) {
  switch (integrity?.genuine) {
    case "verified":
      return "ok";
    case "failed":
      return "failed";
  }
  return "na";
}

function showCheck(node, outcome) {
  node.dataset.state = outcome;
  loc.say(node, `checks.${outcome}`);
}

async function fillFromCard() {
  const warn = $("identity-warning");
  show(loc, warn, "");
  $("integrity-errors").hidden = true;
  show(loc, $("sign-error"), "");
  show(loc, $("sign-status"), "summary.reading", {}, "working");
  try {
    const { identity, integrity } = await state.bridge.identity({ reader: state.reader });
    state.identity = identity;
    const put = (id, v) => ($(`s-${id}`).textContent = String(v ?? ""));
    put("givenName", identity.givenNames);
    put("surname", identity.surname);
    put("nationalNumber", formatNN(identity.nationalNumber));
    put("documentNumber", identity.cardNumber);
    put("email", state.contact?.email);
    put("phone", state.contact?.phone || "—");
    loc.bindValue($("s-country"), countryName);
    $("s-country").dataset.code = DOCUMENT_COUNTRY;
    const files = integrityOutcome(integrity);
    const genuine = genuineness(integrity);
    showCheck($("s-integrity"), files);
    showCheck($("s-genuine"), genuine);
    if (!integrity?.valid) {
      show(loc, warn, genuine === "failed" ? "summary.counterfeitWarn" : "summary.integrityWarn");
      // The card software's own lines (English), as text.
      const errors = Array.isArray(integrity?.errors) ? integrity.errors : [];
      $("integrity-errors").replaceChildren(...errors.map((e) => el("li", {}, String(e))));
      $("integrity-errors").hidden = errors.length === 0;
    } else if (state.person && identity.nationalNumber !== state.person.nationalNumber) {
      show(loc, warn, "summary.otherCard");
    }
    show(loc, $("sign-status"), "");
    $("summary-form").dataset.state = "filled";
  } catch (e) {
    show(loc, $("sign-status"), "");
    showError($("sign-error"), e, "summary.refused");
  }
}

async function submitApplication(ev) {
  ev.preventDefault();
  if (state.busy) return;
  show(loc, $("sign-error"), "");
  const id = state.identity;
  if (!id?.nationalNumber) {
    show(loc, $("sign-error"), "summary.notRead");
    return;
  }
  if (!$("s-confirm").checked) {
    show(loc, $("sign-error"), "summary.confirmNeeded");
    $("s-confirm").focus();
    return;
  }
  const btn = $("sign-button");
  state.busy = true;
  setBusy(btn, true, "summary.signing");
  show(loc, $("sign-status"), "summary.preparing", {}, "working");
  try {
    const app = await api("/api/application", {
      givenName: id.givenNames,
      surname: id.surname,
      nationalNumber: id.nationalNumber,
      documentNumber: id.cardNumber,
      country: DOCUMENT_COUNTRY,
    });
    $("document-text").textContent = JSON.stringify(JSON.parse(app.document), null, 2);
    $("document-preview").hidden = false;
    show(loc, $("sign-status"), "summary.confirmSig", {}, "working");
    const sig = await state.bridge.sign({
      digest: app.digest,
      hashAlgorithm: app.hashAlgorithm,
      documentName: app.documentName,
      reader: state.reader,
    });
    show(loc, $("sign-status"), "summary.sending", {}, "working");
    const done = await api(`/api/application/${encodeURIComponent(app.id)}/signature`, sig);
    show(loc, $("sign-status"), "");
    $("reference").textContent = String(done.reference);
    loc.bindValue($("submitted-at"), (l) => l.dateTime(done.submittedAt));
    $("signed-by").textContent = fullName(state.person);
    $("step-done").dataset.state = "submitted";
    showStep("done");
  } catch (e) {
    show(loc, $("sign-status"), "");
    showError($("sign-error"), e, "summary.refused");
  } finally {
    state.busy = false;
    setBusy(btn, false, "summary.signing");
  }
}

// ---------------------------------------------------------------------------
// Wiring

async function logout() {
  await api("/api/logout", {}).catch(() => {});
  location.reload();
}

function setLanguage(lang) {
  rememberLanguage(lang, globalThis.localStorage);
  loc.setLanguage(lang);
  loc.refresh();
  // Texts built from values rather than keys.
  if (state.readers) renderReaders(state.readers);
  document.body.dataset.lang = lang;
}

async function main() {
  state.config = await api("/api/config");
  loc = new Localizer(chooseLanguage(state.config.language, globalThis.localStorage));
  loc.translateStatic();
  document.body.dataset.lang = loc.lang;
  languageSwitch($("lang-switch"), LANGUAGES, loc.lang, setLanguage);
  for (const b of [$("login-button"), $("sign-button"), $("details-continue")]) rememberIdleLabel(b);

  const origin = el("strong", { id: "login-origin" }, String(state.config.origin));
  loc.say($("login-text"), "login.text", { origin });

  state.bridge = new CardBridge({ url: state.config.bridgeUrl, reconnect: { retries: 10, delayMs: 1000 } });
  state.bridge.on("readers", renderReaders);
  state.bridge.on("disconnect", (d) => show(loc, $("connection-banner"), d.willReconnect ? "banner.reconnecting" : "banner.lost"));
  state.bridge.on("connect", () => show(loc, $("connection-banner"), ""));
  state.bridge.on("reconnectfailed", (d) => show(loc, $("connection-banner"), d.error ? "banner.refused" : "banner.gone"));

  $("service-retry").addEventListener("click", checkService);
  $("reader-continue").addEventListener("click", () => showStep("login"));
  $("login-button").addEventListener("click", login);
  $("details-form").addEventListener("submit", submitDetails);
  // An error stays until the citizen changes the field it is about.
  for (const id of ["code", "email", "phone"]) $(`f-${id}`).addEventListener("input", () => fieldError(id, ""));
  $("summary-form").addEventListener("submit", submitApplication);
  $("logout-button").addEventListener("click", logout);

  try {
    const { person } = await api("/api/session");
    if (person) setPerson(person);
  } catch {
    // The portal is unwell; the login step will say so.
  }
  showStep("service");
  await checkService();
}

main();
