// Drives the demo portal in headless Chromium through the citizen's whole
// Smart-ID registration (the guide in ../shared/smart-id-registration-guide-nl.txt):
// the phone-app stand-in shows a registration code; on the portal the card
// software is found, the reader chosen, the citizen logs in with the eID
// card, enters the code (a wrong one first, which must be refused) with the
// contact details, checks the application read from the card, signs it, and
// is sent back to the phone, which then shows the account as active.
//
// Run by e2e_test.go, which starts the daemon (bridge) and the portal and
// answers the daemon's dialogs. Environment:
//   PORTAL_URL   https://localhost:PORT/ of the demo portal (required)
//   CHROMIUM     browser binary (default /usr/bin/chromium)
//   LOCALE       browser locale, e.g. nl-BE (sets Accept-Language; default en-US)
//   SCREENSHOT   where to save a full-page PNG of the final page (optional)
//   SHOTS_DIR    where to save the documentation screenshots of the flow:
//                1-code.png (phone), 2-form-wrong-code.png, 2-form.png,
//                3-summary.png, 4-done.png, 5-phone-complete.png (optional)
//   USER_DATA    fresh profile directory (required: never the user's own)
//   EXPECT_SERVICE_ERROR  set to stop after the card-service check, which
//                must fail; the result then holds the error code the page
//                derived (data-code of #service-status), its help text and
//                the downloads it offered
//   EXPECT_LOGIN_REFUSED  set to stop after the login, which the portal
//                must refuse; the result holds the page's message and code
//   CODE_RENEWAL set when the portal's codes live a few seconds: the flow
//                waits for the phone to show a new code, checks the old one
//                is refused as expired, and goes on with the current one
//   EXPECT_COUNTERFEIT  set to stop at the summary, which must warn that the
//                card failed its checks; the result holds the checks shown
//   HOSTILE      a string the test planted in the card and the daemon's
//                answers: the page must show it as text and never as markup
// Prints one JSON line with what the page showed; exits non-zero on failure.

import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

// playwright-core lives in web/node_modules; resolve it from there so this
// script needs no node_modules of its own.
const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "web", "package.json"));
const { chromium } = require("playwright-core");

const url = process.env.PORTAL_URL;
const userData = process.env.USER_DATA;
if (!url || !userData) {
  console.error("PORTAL_URL and USER_DATA are required");
  process.exit(2);
}
const locale = process.env.LOCALE || "en-US";
const shotsDir = process.env.SHOTS_DIR;

const STEP_TIMEOUT = 30_000;
const problems = [];

const context = await chromium.launchPersistentContext(userData, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  locale,
  args: [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--ignore-certificate-errors",
  ],
  ignoreHTTPSErrors: true,
  viewport: { width: 1100, height: 900 },
});

let result = { locale };
let failed = null;
const page = context.pages()[0] ?? (await context.newPage());
watch(page, "portal");
let phone = null;

function watch(p, name) {
  p.setDefaultTimeout(STEP_TIMEOUT);
  p.on("pageerror", (e) => problems.push(`${name} pageerror: ${e.message}`));
  p.on("console", (m) => {
    if (m.type() === "error") problems.push(`${name} console: ${m.text()}`);
  });
}

// snap saves an intermediate screenshot next to the final one.
async function snap(suffix) {
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT.replace(/\.png$/, `-${suffix}.png`), fullPage: true });
}

// doc saves a documentation screenshot of p.
async function doc(p, name) {
  if (shotsDir) await p.screenshot({ path: path.join(shotsDir, name), fullPage: true });
}

const text = async (p, sel) => ((await p.textContent(sel)) ?? "").trim();

// step runs one stage and names it in the failure message.
async function step(name, fn) {
  try {
    return await fn();
  } catch (e) {
    const texts = await page
      .evaluate(() =>
        [...document.querySelectorAll('[role="status"], [role="alert"], .error, .field-error')]
          .filter((el) => !el.hidden && el.textContent.trim())
          .map((el) => `${el.id}: ${el.textContent.trim()}`),
      )
      .catch(() => []);
    throw new Error(`step "${name}" failed: ${e.message}\npage says: ${JSON.stringify(texts)}`);
  }
}

// checkHostile fails when the planted string became markup anywhere on p,
// and reports whether it is shown as text.
async function checkHostile(p, where) {
  const hostile = process.env.HOSTILE;
  if (!hostile) return;
  const found = await p.evaluate((h) => ({
    injected: document.querySelectorAll(".pwned").length,
    shown: document.body.innerText.includes(h),
  }), hostile);
  if (found.injected) throw new Error(`${where}: the planted markup became ${found.injected} element(s)`);
  (result.hostileShown ??= {})[where] = found.shown;
}

// registration is the flow after the login: guide steps 4 to 6.
async function registration() {
  if (process.env.CODE_RENEWAL) {
    await step("the phone renews the code; the old one is refused as expired", async () => {
      const first = result.phoneCode;
      await phone.waitForFunction((c) => document.getElementById("code").textContent !== c, first, { timeout: 60_000 });
      result.firstCode = first;
      result.renewedCode = await text(phone, "#code");
      await page.fill("#f-code", first);
      await page.fill("#f-email", "lotte.vandenbossche@example.org");
      await page.click("#details-continue");
      await page.waitForSelector("#e-code:not([hidden])");
      result.expiredError = await text(page, "#e-code");
      result.expiredErrorCode = await page.getAttribute("#e-code", "data-code");
    });
  }

  await step("the form refuses a bad e-mail address on the page", async () => {
    await page.fill("#f-code", result.phoneCode);
    await page.fill("#f-email", "not-an-address");
    await page.click("#details-continue");
    await page.waitForSelector("#e-email:not([hidden])");
    result.emailError = await text(page, "#e-email");
  });

  await step("the portal refuses a wrong registration code", async () => {
    const c = result.phoneCode;
    const wrong = (c[0] === "2" ? "3" : "2") + c.slice(1);
    await page.fill("#f-code", wrong);
    await page.fill("#f-email", "lotte.vandenbossche@example.org");
    await page.fill("#f-phone", "0470 12 34 56");
    await page.click("#details-continue");
    await page.waitForSelector("#e-code:not([hidden])");
    result.codeError = await text(page, "#e-code");
    result.codeErrorCode = await page.getAttribute("#e-code", "data-code");
    if (await page.isVisible("#step-summary")) throw new Error("a wrong code was accepted");
    await doc(page, "2-form-wrong-code.png");
  });

  await step("the right registration code is accepted", async () => {
    // The code the phone shows now (it may have been renewed meanwhile).
    result.phoneCode = await text(phone, "#code");
    await page.fill("#f-code", result.phoneCode.toLowerCase());
    if (await page.isVisible("#e-code")) throw new Error("the code's error stayed after the code was changed");
    await snap("2-form");
    await page.evaluate(() => document.activeElement?.blur());
    await doc(page, "2-form.png");
    await page.click("#details-continue");
    await page.waitForSelector("#step-summary:not([hidden]), #e-code:not([hidden])");
    if (process.env.CODE_RENEWAL && (await page.getAttribute("#e-code", "data-code")) === "CODE_EXPIRED" && (await page.isVisible("#e-code"))) {
      // Short-lived codes can run out between reading and sending, as the
      // page then says: take the new one, once.
      result.phoneCode = await text(phone, "#code");
      await page.fill("#f-code", result.phoneCode);
      await page.click("#details-continue");
    }
    await page.waitForSelector("#step-summary:not([hidden])");
    // The phone polls the portal: it shows the code was taken soon after.
    await phone.waitForSelector('#phone[data-state="confirmed"]', { timeout: 10_000 }).catch(() => {});
    result.phoneAfterCode = await phone.getAttribute("#phone", "data-state");
  });

  await step("the summary shows the application read from the card", async () => {
    await page.waitForSelector('#summary-form[data-state="filled"], #sign-error:not([hidden])');
    const warning = await page.isVisible("#identity-warning");
    if (warning && !process.env.EXPECT_COUNTERFEIT) throw new Error(`identity warning: ${await page.textContent("#identity-warning")}`);
    result.warning = warning ? await text(page, "#identity-warning") : "";
    result.integrityErrors = await page.$$eval("#integrity-errors:not([hidden]) li", (lis) => lis.map((li) => li.textContent));
    result.summary = {};
    for (const f of ["givenName", "surname", "nationalNumber", "documentNumber", "country", "email", "phone"]) {
      result.summary[f] = await text(page, `#s-${f}`);
    }
    result.summary.countryCode = await page.getAttribute("#s-country", "data-code");
    result.integrity = await page.getAttribute("#s-integrity", "data-state");
    result.genuine = await page.getAttribute("#s-genuine", "data-state");
    result.genuineText = await text(page, "#s-genuine");
    await checkHostile(page, "summary");
    await page.check("#s-confirm");
    await doc(page, "3-summary.png");
  });
  if (process.env.EXPECT_COUNTERFEIT) return;

  await step("sign and submit", async () => {
    await page.click("#sign-button");
    await page.waitForSelector('#step-done[data-state="submitted"], #sign-error:not([hidden])', { timeout: 60_000 });
    if (!(await page.isVisible("#step-done"))) throw new Error(await page.textContent("#sign-error"));
    result.reference = await text(page, "#reference");
    result.signedBy = await text(page, "#signed-by");
    result.submittedAt = await text(page, "#submitted-at");
    result.heading = await text(page, "#h-done");
    await checkHostile(page, "done");
    await doc(page, "4-done.png");
  });

  await step("the phone shows the account as active", async () => {
    await phone.waitForSelector('#phone[data-state="complete"]', { timeout: 10_000 });
    result.phoneDone = await text(phone, "#h-complete");
    result.activeUntil = await text(phone, "#active-until");
    result.activeUntilISO = await phone.getAttribute("#active-until", "data-until");
    await doc(phone, "5-phone-complete.png");
  });

  await step("the language switch re-renders the page in place", async () => {
    const to = result.locale.startsWith("fr") ? "de" : "fr";
    await page.selectOption("#lang-switch", to);
    await page.waitForFunction((l) => document.documentElement.lang === l, to);
    result.switched = {
      lang: to,
      heading: await text(page, "#h-done"),
      submittedAt: await text(page, "#submitted-at"),
      step: await text(page, '.steps li[data-step="summary"]'),
    };
  });
}

try {
  if (!process.env.EXPECT_SERVICE_ERROR) {
    await step("open the phone app stand-in", async () => {
      phone = await context.newPage();
      watch(phone, "phone");
      await phone.setViewportSize({ width: 420, height: 760 });
      await phone.goto(new URL("phone", url).href, { waitUntil: "load" });
      await phone.waitForSelector('#phone[data-state="code"]');
      result.phoneCode = await text(phone, "#code");
      result.phoneCountdown = await text(phone, "#countdown");
      result.phoneLang = await phone.getAttribute("html", "lang");
      await doc(phone, "1-code.png");
    });
  }

  await step("open portal", () => page.goto(url, { waitUntil: "load" }));
  await page.bringToFront();

  if (process.env.EXPECT_SERVICE_ERROR) {
    await step("see the card service error", async () => {
      await page.waitForSelector('#service-status[data-state="error"]');
      result.serviceError = await page.getAttribute("#service-status", "data-code");
      result.transport = await page.getAttribute("#service-status", "data-transport");
      result.service = await text(page, "#service-status");
      result.help = await text(page, "#service-help");
      await page.waitForSelector("#service-retry:not([hidden])");
      if (result.serviceError === "DAEMON_UNAVAILABLE") {
        await page.waitForSelector("#downloads:not([hidden])");
        result.downloads = await page.$$eval("#download-main a", (as) => as.map((a) => a.href));
        result.otherDownloads = await page.$$eval("#download-list a", (as) => as.map((a) => a.href));
      }
    });
    if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
    await context.close();
    // Connection failures are logged to the console by the browser itself.
    result.problems = problems.filter((p) => !/WebSocket connection|Failed to load resource|ERR_CONNECTION_REFUSED/.test(p));
    console.log(JSON.stringify(result));
    process.exit(0);
  }

  await step("find the card service", async () => {
    result.lang = await page.getAttribute("html", "lang");
    // The step may already have moved on to the readers (and hidden this
    // section) by the time we look: attached is enough.
    await page.waitForSelector('#service-status[data-state="ok"], #service-status[data-state="error"]', { state: "attached" });
    const st = await page.getAttribute("#service-status", "data-state");
    if (st !== "ok") throw new Error(`service check: ${await page.textContent("#service-status")}`);
    result.service = await text(page, "#service-status");
    result.transport = await page.getAttribute("#service-status", "data-transport");
  });

  await step("choose the reader", async () => {
    await page.waitForSelector('#reader-list .reader-state[data-state="ok"]');
    await snap("1-readers");
    await checkHostile(page, "readers");
    result.reader = await text(page, "#reader-list .reader:has(.reader-state[data-state='ok']) .reader-name");
    await page.check("#reader-list .reader:has(.reader-state[data-state='ok']) input");
    await page.click("#reader-continue:not([disabled])");
    await page.waitForSelector("#step-login:not([hidden])");
  });

  await step("log in with the card", async () => {
    await page.click("#login-button");
    await page.waitForSelector('#login-result[data-state="verified"], #login-error:not([hidden])');
    if (process.env.EXPECT_LOGIN_REFUSED) {
      if (!(await page.isVisible("#login-error"))) throw new Error("the login was accepted");
      result.loginError = await text(page, "#login-error");
      result.loginErrorCode = await page.getAttribute("#login-error", "data-code");
      return;
    }
    if (!(await page.isVisible("#step-details"))) throw new Error(await page.textContent("#login-error"));
    result.login = await text(page, "#login-result");
  });
  if (!process.env.EXPECT_LOGIN_REFUSED) await registration();
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
} catch (e) {
  failed = e;
  if (process.env.SCREENSHOT) {
    await page.screenshot({ path: process.env.SCREENSHOT.replace(/\.png$/, "-failed.png"), fullPage: true }).catch(() => {});
  }
} finally {
  await context.close();
}

// The portal answers a refused login or a wrong code with a 4xx status,
// which the browser logs; the page handles those and says so itself.
result.problems = problems.filter((p) => !/Failed to load resource: the server responded with a status of 4\d\d/.test(p));
console.log(JSON.stringify(result));
if (failed) {
  console.error(failed.message);
  process.exit(1);
}
