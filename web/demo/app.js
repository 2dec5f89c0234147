// Demo portal page logic: check for the daemon, pick a reader, log in with
// a Web eID token, fill the form from the card, sign it and submit.

import { CardBridge, ErrorCode, CardBridgeError } from "/static/cardbridge.js";

const $ = (id) => document.getElementById(id);

const state = {
  bridge: null,
  config: null,
  readers: [],
  reader: "", // chosen reader name
  person: null, // from the server, i.e. from the authentication certificate
  busy: false,
};

// ---------------------------------------------------------------------------
// Steps

const STEPS = ["service", "reader", "login", "form", "done"];

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
  const h = $(`step-${name}`).querySelector("h1, h2");
  h?.focus({ preventScroll: false });
}

function show(el, text, kind) {
  el.hidden = !text;
  el.textContent = text || "";
  if (kind) el.dataset.state = kind;
}

function setBusy(button, busy, label) {
  button.disabled = busy;
  button.setAttribute("aria-busy", String(busy));
  if (label) {
    button.dataset.label ??= button.textContent;
    button.textContent = busy ? label : button.dataset.label;
  }
}

// ---------------------------------------------------------------------------
// Server API

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
    const e = new Error(data?.error?.message || `The portal answered ${res.status}`);
    e.portalCode = data?.error?.code || String(res.status);
    throw e;
  }
  return data;
}

// ---------------------------------------------------------------------------
// Messages for the daemon's errors, in words for a citizen.

function cardMessage(e) {
  if (!(e instanceof CardBridgeError)) return e?.message || String(e);
  switch (e.code) {
    case ErrorCode.USER_CANCELLED:
      return "You cancelled in the card service window. Nothing was sent.";
    case ErrorCode.CONSENT_DENIED:
      // At connect: the site was not allowed; on a request: the signature
      // was refused, or the user revoked this site in the tray.
      return "You did not allow this. Click the button again if you changed your mind.";
    case ErrorCode.CANCELLED:
      return "The request was cancelled.";
    case ErrorCode.PIN_INCORRECT:
      return e.triesLeft !== undefined
        ? `Wrong PIN. ${e.triesLeft} ${e.triesLeft === 1 ? "try" : "tries"} left before your card is blocked.`
        : "Wrong PIN.";
    case ErrorCode.PIN_BLOCKED:
      return "Your PIN is blocked. Unblock it at your municipality with your PUK letter.";
    case ErrorCode.PIN_LAST_TRY:
      return "Only one PIN try is left and you chose not to use it. Make sure you know your PIN before trying again.";
    case ErrorCode.PINPAD_TIMEOUT:
      return "The PIN was not entered on the reader's keypad in time.";
    case ErrorCode.NO_CARD:
      return "No eID card found. Insert your card in the reader.";
    case ErrorCode.CARD_REMOVED:
      return "The card was removed. Insert it again and retry.";
    case ErrorCode.UNKNOWN_CARD:
      return "The card in the reader is not a Belgian eID card.";
    case ErrorCode.NO_READER:
      return "The card reader is no longer connected.";
    case ErrorCode.AMBIGUOUS_READER:
      return "Several readers hold an eID card; choose one.";
    case ErrorCode.NO_SERVICE:
      return "The smart card service of your computer is not running.";
    case ErrorCode.BUSY:
      return "The card is busy with another request. Try again in a moment.";
    case ErrorCode.TIMEOUT:
      return "The card service did not answer in time.";
    case ErrorCode.DISCONNECTED:
      return "The connection to the card service was lost. It will reconnect by itself; then try again.";
    case ErrorCode.RATE_LIMITED:
    case ErrorCode.TOO_MANY_PENDING:
      return "Too many requests at once. Wait a moment and try again.";
    default:
      return `${e.message} (${e.code})`;
  }
}

// ---------------------------------------------------------------------------
// 1. Card service

const HELP = {
  [ErrorCode.DAEMON_UNAVAILABLE]: {
    title: "The card service is not running on this computer",
    body: [
      "If it is not installed yet, install cardbridge for your system and start it.",
      "If it is installed, start it (on Linux: <code>cardbridge run</code>) and click Try again.",
      "Some browsers block pages from reaching programs on your own computer without telling the page; if the service is running, check your browser's site settings for “local network access” and allow it for this site.",
    ],
  },
  [ErrorCode.LOCAL_ACCESS_BLOCKED]: {
    title: "Your browser blocked this page from reaching the card service",
    body: [
      "In Chrome or Edge: click the icon left of the address, open Site settings, and set <em>Local network access</em> (or <em>Apps on device</em>) to Allow. Your administrator can also allow it for this site by policy.",
      "Safari does not allow secure pages to use local services this way; use Chrome, Edge or Firefox.",
    ],
  },
  [ErrorCode.CONSENT_DENIED]: {
    title: "You did not allow this site to use your card",
    body: [
      "The card service asked whether this site may use your eID card, and it was not allowed (or nobody answered in time).",
      "If you changed your mind, click Try again and choose Allow in the card service window. After a refusal, the card service waits half a minute before it asks again.",
    ],
  },
  [ErrorCode.ORIGIN_NOT_ALLOWED]: {
    title: "The card service refused this site",
    body: [
      "If you just refused this site in the card service window, wait half a minute and click Try again.",
      "Otherwise the cardbridge service is running but does not accept requests from this site. Ask your administrator.",
    ],
  },
  [ErrorCode.PROTOCOL_ERROR]: {
    title: "The card service on this computer is not compatible",
    body: ["Update cardbridge to the latest version."],
  },
  [ErrorCode.UNSUPPORTED_BROWSER]: {
    title: "This browser is too old",
    body: ["Use a current version of Chrome, Edge, Firefox or Safari."],
  },
};

async function checkService() {
  const status = $("service-status");
  status.innerHTML = '<span class="spinner" aria-hidden="true"></span> Looking for the card service…';
  status.dataset.state = "checking";
  $("service-help").hidden = true;
  $("service-retry").hidden = true;
  // The card service asks the user whether this site may use the card
  // before it lets the page connect; the page waits meanwhile.
  const hint = setTimeout(() => {
    if (status.dataset.state !== "checking") return;
    status.innerHTML =
      '<span class="spinner" aria-hidden="true"></span> The card service is asking whether this site may use your card. Answer in its window.';
  }, 1500);
  try {
    await state.bridge.connect();
    const v = await state.bridge.version();
    const via = state.bridge.transport === "extension" ? "through the cardbridge browser extension" : "over the local connection";
    status.textContent = `Card service found (cardbridge ${v.version}, ${via}).`;
    status.dataset.transport = state.bridge.transport ?? "";
    status.dataset.state = "ok";
    await startReaders();
  } catch (e) {
    const help = HELP[e.code] ?? { title: "The card service could not be reached", body: [cardMessage(e)] };
    status.textContent = help.title + ".";
    status.dataset.state = "error";
    status.dataset.code = e.code ?? "";
    const box = $("service-help");
    box.innerHTML = "<ul>" + help.body.map((b) => `<li>${b}</li>`).join("") + "</ul>";
    box.hidden = false;
    $("service-retry").hidden = false;
  } finally {
    clearTimeout(hint);
  }
}

// ---------------------------------------------------------------------------
// 2. Readers

async function startReaders() {
  const list = await state.bridge.readers();
  renderReaders(list);
  if (state.person) {
    showStep("form");
    await fillFromCard();
  } else {
    showStep("reader");
  }
}

function renderReaders(data) {
  state.readers = data?.readers ?? [];
  const box = $("reader-list");
  box.replaceChildren();
  if (data?.error) {
    const p = document.createElement("p");
    p.className = "error";
    p.textContent = data.error.code === ErrorCode.NO_SERVICE ? "Your computer's smart card service stopped." : data.error.message;
    box.append(p);
  }
  if (state.readers.length === 0) {
    const p = document.createElement("p");
    p.className = "empty";
    p.textContent = "No card reader found. Connect your reader.";
    box.append(p);
  }
  const withCard = state.readers.filter((r) => r.card?.type === "beid");
  if (!state.readers.some((r) => r.name === state.reader)) state.reader = "";
  if (!state.reader && withCard.length === 1) state.reader = withCard[0].name;

  for (const r of state.readers) {
    const id = "reader-" + Math.random().toString(36).slice(2);
    const label = document.createElement("label");
    label.className = "reader";
    label.htmlFor = id;
    const input = document.createElement("input");
    input.type = "radio";
    input.name = "reader";
    input.id = id;
    input.value = r.name;
    input.checked = r.name === state.reader;
    input.addEventListener("change", () => {
      state.reader = r.name;
      updateReaderContinue();
    });
    const name = document.createElement("span");
    name.className = "reader-name";
    name.textContent = r.name;
    const st = document.createElement("span");
    st.className = "reader-state";
    const isBeid = r.card?.type === "beid";
    st.textContent = isBeid ? "Belgian eID card inserted" : r.cardPresent ? "Unknown card" : "No card";
    st.dataset.state = isBeid ? "ok" : "empty";
    label.append(input, name, st);
    if (r.pinpad) {
      const pp = document.createElement("span");
      pp.className = "tag";
      pp.textContent = "PIN pad";
      label.append(pp);
    }
    box.append(label);
  }
  box.dataset.count = String(state.readers.length);
  updateReaderContinue();
}

function selectedReaderHasCard() {
  return state.readers.some((r) => r.name === state.reader && r.card?.type === "beid");
}

function updateReaderContinue() {
  $("reader-continue").disabled = !selectedReaderHasCard();
}

// ---------------------------------------------------------------------------
// 3. Login

async function login() {
  const btn = $("login-button");
  show($("login-error"), "");
  setBusy(btn, true, "Waiting for the card service…");
  show($("login-status"), "Enter your PIN in the card service window.", "working");
  try {
    const { nonce } = await api("/api/nonce", {});
    const token = await state.bridge.authenticate({ challengeNonce: nonce, reader: state.reader });
    show($("login-status"), "Checking your authentication…", "working");
    const { person } = await api("/api/login", token);
    setPerson(person);
    show($("login-status"), "");
    showStep("form");
    await fillFromCard();
  } catch (e) {
    show($("login-status"), "");
    show($("login-error"), e.portalCode ? `The portal refused the login: ${e.message}` : cardMessage(e));
  } finally {
    setBusy(btn, false, "Waiting for the card service…");
  }
}

function setPerson(person) {
  state.person = person;
  $("who").hidden = !person;
  if (!person) return;
  const name = `${person.givenName} ${person.surname}`.trim();
  $("who-name").textContent = name;
  const res = $("login-result");
  res.textContent = `Logged in as ${name} (national register number ${formatNN(person.nationalNumber)}), verified by the portal.`;
  res.dataset.state = "verified";
}

// ---------------------------------------------------------------------------
// 4. Form

const COUNTRIES = [
  ["BE", "Belgium"], ["AT", "Austria"], ["BG", "Bulgaria"], ["HR", "Croatia"], ["CY", "Cyprus"],
  ["CZ", "Czechia"], ["DK", "Denmark"], ["EE", "Estonia"], ["FI", "Finland"], ["FR", "France"],
  ["DE", "Germany"], ["GR", "Greece"], ["HU", "Hungary"], ["IS", "Iceland"], ["IE", "Ireland"],
  ["IT", "Italy"], ["LV", "Latvia"], ["LI", "Liechtenstein"], ["LT", "Lithuania"], ["LU", "Luxembourg"],
  ["MT", "Malta"], ["NL", "Netherlands"], ["NO", "Norway"], ["PL", "Poland"], ["PT", "Portugal"],
  ["RO", "Romania"], ["SK", "Slovakia"], ["SI", "Slovenia"], ["ES", "Spain"], ["SE", "Sweden"],
  ["CH", "Switzerland"], ["GB", "United Kingdom"],
];

// The card prints nationality as a word in the card's language (Dutch,
// French or German); map the common ones to ISO codes.
const NATIONALITIES = {
  BE: ["belg", "belge", "belgier", "belgisch", "belgische", "belgian"],
  NL: ["nederlander", "nederlandse", "néerlandais", "néerlandaise", "niederländer"],
  FR: ["fransman", "franse", "français", "française", "franzose", "französin"],
  DE: ["duitser", "duitse", "allemand", "allemande", "deutscher", "deutsche"],
  LU: ["luxemburger", "luxemburgse", "luxembourgeois", "luxembourgeoise"],
  IT: ["italiaan", "italiaanse", "italien", "italienne", "italiener", "italienerin"],
  ES: ["spanjaard", "spaanse", "espagnol", "espagnole", "spanier", "spanierin"],
};

export function countryFromNationality(n) {
  const k = String(n || "").trim().toLowerCase();
  for (const [code, words] of Object.entries(NATIONALITIES)) if (words.includes(k)) return code;
  return "";
}

function formatNN(nn) {
  const d = String(nn || "").replace(/\D/g, "");
  if (d.length !== 11) return nn || "";
  return `${d.slice(0, 2)}.${d.slice(2, 4)}.${d.slice(4, 6)}-${d.slice(6, 9)}.${d.slice(9)}`;
}

async function fillFromCard() {
  const warn = $("identity-warning");
  show(warn, "");
  show($("sign-error"), "");
  show($("sign-status"), "Reading your card…", "working");
  try {
    const { identity, integrity } = await state.bridge.identity({ reader: state.reader });
    $("f-given").value = identity.givenNames ?? "";
    $("f-surname").value = identity.surname ?? "";
    $("f-nn").value = formatNN(identity.nationalNumber);
    $("f-nn").dataset.raw = identity.nationalNumber ?? "";
    $("f-doc").value = identity.cardNumber ?? "";
    const country = countryFromNationality(identity.nationality);
    if (country) $("f-country").value = country;
    const problems = [];
    if (!integrity?.valid) problems.push("The card's identity data failed its integrity check.");
    if (state.person && identity.nationalNumber !== state.person.nationalNumber) {
      problems.push("The card in the reader is not the card you logged in with.");
    }
    show(warn, problems.join(" "));
    show($("sign-status"), "");
    $("application-form").dataset.state = "filled";
  } catch (e) {
    show($("sign-status"), "");
    show($("sign-error"), cardMessage(e));
  }
}

const EMAIL_RE = /^[^\s@<>"]+@[^\s@<>".]+(\.[^\s@<>".]+)+$/;

export function normalisePhone(s) {
  let p = String(s || "").trim().replace(/[\s.\-/()]/g, "");
  if (p.startsWith("00")) p = "+" + p.slice(2);
  else if (p.startsWith("0") && p.length >= 9) p = "+32" + p.slice(1);
  return p;
}

export function validPhone(s) {
  return /^\+[1-9][0-9]{7,14}$/.test(normalisePhone(s));
}

function fieldError(id, msg) {
  const el = $(`e-${id}`);
  const input = $(`f-${id}`);
  show(el, msg);
  if (msg) input.setAttribute("aria-invalid", "true");
  else input.removeAttribute("aria-invalid");
  return !msg;
}

function validateForm() {
  const okCountry = fieldError("country", $("f-country").value ? "" : "Choose a country.");
  const okEmail = fieldError("email", EMAIL_RE.test($("f-email").value.trim()) ? "" : "Enter an e-mail address like name@example.org.");
  const okPhone = fieldError("phone", validPhone($("f-phone").value) ? "" : "Enter a mobile number like +32 470 12 34 56.");
  const first = !okCountry ? "f-country" : !okEmail ? "f-email" : !okPhone ? "f-phone" : null;
  if (first) $(first).focus();
  return !first;
}

async function submitApplication(ev) {
  ev.preventDefault();
  if (state.busy) return;
  show($("sign-error"), "");
  if (!validateForm()) return;
  if (!$("f-nn").dataset.raw) {
    show($("sign-error"), "Your details could not be read from the card yet.");
    return;
  }
  const btn = $("sign-button");
  state.busy = true;
  setBusy(btn, true, "Signing…");
  try {
    const app = await api("/api/application", {
      givenName: $("f-given").value,
      surname: $("f-surname").value,
      nationalNumber: $("f-nn").dataset.raw,
      documentNumber: $("f-doc").value,
      country: $("f-country").value,
      email: $("f-email").value.trim(),
      phone: normalisePhone($("f-phone").value),
    });
    $("document-text").textContent = JSON.stringify(JSON.parse(app.document), null, 2);
    $("document-preview").hidden = false;
    show($("sign-status"), "Confirm the signature in the card service window and enter your PIN.", "working");
    const sig = await state.bridge.sign({
      digest: app.digest,
      hashAlgorithm: app.hashAlgorithm,
      documentName: app.documentName,
      reader: state.reader,
    });
    show($("sign-status"), "Sending your signed application…", "working");
    const done = await api(`/api/application/${encodeURIComponent(app.id)}/signature`, sig);
    show($("sign-status"), "");
    $("reference").textContent = done.reference;
    $("submitted-at").textContent = new Date(done.submittedAt).toLocaleString();
    $("signed-by").textContent = `${state.person.givenName} ${state.person.surname}`;
    $("step-done").dataset.state = "submitted";
    showStep("done");
  } catch (e) {
    show($("sign-status"), "");
    show($("sign-error"), e.portalCode ? `The portal refused the application: ${e.message}` : cardMessage(e));
  } finally {
    state.busy = false;
    setBusy(btn, false, "Signing…");
  }
}

// ---------------------------------------------------------------------------
// Wiring

async function logout() {
  await api("/api/logout", {}).catch(() => {});
  location.reload();
}

async function main() {
  const sel = $("f-country");
  for (const [code, name] of COUNTRIES) sel.add(new Option(name, code));

  state.config = await api("/api/config");
  $("login-origin").textContent = state.config.origin;
  state.bridge = new CardBridge({ url: state.config.bridgeUrl, reconnect: { retries: 10, delayMs: 1000 } });
  state.bridge.on("readers", renderReaders);
  state.bridge.on("disconnect", (d) => {
    const b = $("connection-banner");
    b.textContent = d.willReconnect ? "Lost the connection to the card service. Reconnecting…" : "Lost the connection to the card service.";
    b.hidden = false;
  });
  state.bridge.on("connect", () => ($("connection-banner").hidden = true));
  state.bridge.on("reconnectfailed", (d) => {
    $("connection-banner").textContent = d.error
      ? "The card service no longer accepts this site. Reload this page to be asked again."
      : "The card service is gone. Start it again and reload this page.";
  });

  $("service-retry").addEventListener("click", checkService);
  $("reader-continue").addEventListener("click", () => showStep("login"));
  $("login-button").addEventListener("click", login);
  $("application-form").addEventListener("submit", submitApplication);
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
