// The phone-app stand-in: shows the registration code the portal issued to
// this browser's session, with its countdown, and gets a new one when it
// runs out; then follows the registration to "Registration complete,
// account active until <date>".

import { LANGUAGES, chooseLanguage, rememberLanguage } from "./i18n.js";
import { Localizer, show, languageSwitch } from "./ui.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 2000;

let loc;
let deadline = 0; // local clock time at which the shown code expires
let total = 0; // the code's whole validity, in seconds
let polling = null;

/** Seconds as m:ss, as the app shows "14:57". */
export function mmss(seconds) {
  const s = Math.max(0, Math.ceil(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

async function poll() {
  clearTimeout(polling);
  try {
    const res = await fetch("/api/phone", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: "{}",
      credentials: "same-origin",
    });
    const data = await res.json();
    if (!res.ok) throw new Error(String(data?.error?.message ?? `HTTP ${res.status}`));
    show(loc, $("phone-error"), "");
    render(data);
    if (data.status === "complete") return; // nothing changes after this
  } catch (e) {
    show(loc, $("phone-error"), "phone.error", { reason: String(e?.message ?? e) });
  }
  polling = setTimeout(poll, POLL_MS);
}

function render(data) {
  const views = { code: "view-code", confirmed: "view-confirmed", complete: "view-complete", locked: "view-locked" };
  for (const [status, id] of Object.entries(views)) $(id).hidden = status !== data.status;
  $("phone").dataset.state = data.status;
  if (data.status === "code") {
    if ($("code").textContent !== data.code) $("code").textContent = String(data.code);
    // The portal says how long is left; the local clock counts it down,
    // whatever the two clocks say.
    deadline = Date.now() + data.validForSeconds * 1000;
    total = Math.max(total, data.validForSeconds);
    tick();
  }
  if (data.status === "complete") {
    loc.say($("active-until"), "phone.activeUntil", { date: (l) => l.date(data.activeUntil) });
    $("active-until").dataset.until = String(data.activeUntil);
  }
}

function tick() {
  const left = (deadline - Date.now()) / 1000;
  const t = $("countdown");
  t.textContent = mmss(left);
  t.setAttribute("datetime", `PT${Math.max(0, Math.ceil(left))}S`);
  $("meter").style.width = total ? `${Math.max(0, Math.min(100, (100 * left) / total))}%` : "0";
  // At zero the portal has a new code: ask for it at once.
  if (left <= 0 && $("phone").dataset.state === "code") poll();
}

async function main() {
  // The stand-in speaks the language the portal negotiated from the
  // browser's Accept-Language, or the one last picked on either page.
  let negotiated = "en";
  try {
    negotiated = (await (await fetch("/api/config")).json()).language;
  } catch {
    // the poll below reports an unreachable portal
  }
  loc = new Localizer(chooseLanguage(negotiated, globalThis.localStorage));
  loc.translateStatic();
  languageSwitch($("lang-switch"), LANGUAGES, loc.lang, (lang) => {
    rememberLanguage(lang, globalThis.localStorage);
    loc.setLanguage(lang);
    loc.refresh();
  });
  setInterval(tick, 1000);
  poll();
}

main();
