// Logs in to the demo portal with the eID card in Debian's Firefox ESR
// through the cardbridge extension, driven over WebDriver BiDi by
// puppeteer-core (no browser download: the system's firefox-esr).
//
// Run by extension_test.go, which builds the Firefox variant of the
// extension, registers the host with `cardbridge install` in a throw-away
// HOME, and runs the daemon and the portal. Environment:
//   PORTAL_URL  https://portal.example:PORT/ of the demo portal (required)
//   EXTENSION   the Firefox build of the extension (required); installed as
//               a temporary add-on (BiDi webExtension.install), which is
//               how Firefox loads an unsigned extension
//   PROFILE     fresh profile directory (required)
//   FIREFOX     browser binary (default /usr/bin/firefox-esr)
//   SCREENSHOT  where to save a PNG of the final page (optional)
//   LOCALE      the browser's language (Accept-Language), default en-US
// HOME is passed on to Firefox, which looks for the host manifest in
// $HOME/.mozilla/native-messaging-hosts/.
// Prints one JSON line with what the page showed; exits non-zero on failure.

import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "web", "package.json"));
const puppeteer = require("puppeteer-core");

const { PORTAL_URL: url, EXTENSION: extension, PROFILE: profile } = process.env;
if (!url || !extension || !profile) {
  console.error("PORTAL_URL, EXTENSION and PROFILE are required");
  process.exit(2);
}
const STEP_TIMEOUT = 30_000;
const problems = [];
const result = {};

const browser = await puppeteer.launch({
  browser: "firefox",
  executablePath: process.env.FIREFOX || "/usr/bin/firefox-esr",
  headless: true,
  userDataDir: profile,
  acceptInsecureCerts: true,
  env: process.env,
  extraPrefsFirefox: {
    // portal.example resolves to loopback, where the test serves the portal.
    "network.dns.localDomains": new URL(url).hostname,
    "intl.accept_languages": process.env.LOCALE || "en-US",
  },
});
let failed = null;
let page;
try {
  result.browser = await browser.version();
  result.extensionId = await browser.installExtension(extension);
  page = await browser.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT);
  page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
  page.on("console", (m) => {
    if (m.type() === "error") problems.push(`console: ${m.text()}`);
  });
  const text = (sel) => page.$eval(sel, (el) => el.textContent.trim());

  await page.goto(url, { waitUntil: "load" });
  await page.waitForSelector('#service-status[data-state="ok"], #service-status[data-state="error"]');
  result.service = await text("#service-status");
  result.transport = await page.$eval("#service-status", (el) => el.dataset.transport ?? "");
  if ((await page.$eval("#service-status", (el) => el.dataset.state)) !== "ok") throw new Error(`card service: ${result.service}`);

  await page.waitForSelector('#reader-list .reader-state[data-state="ok"]');
  result.reader = await text("#reader-list .reader:has(.reader-state[data-state='ok']) .reader-name");
  await page.click("#reader-list .reader:has(.reader-state[data-state='ok']) input");
  await page.click("#reader-continue:not([disabled])");
  await page.waitForSelector("#step-login:not([hidden])");

  await page.click("#login-button");
  await page.waitForSelector('#login-result[data-state="verified"], #login-error:not([hidden])', { timeout: 60_000 });
  if (await page.$('#login-result[data-state="verified"]')) {
    result.login = await text("#login-result");
  } else {
    throw new Error(`login: ${await text("#login-error")}`);
  }
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
} catch (e) {
  failed = e;
  if (page && process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT.replace(/\.png$/, "-failed.png") }).catch(() => {});
} finally {
  await browser.close().catch(() => {});
}
result.problems = problems;
console.log(JSON.stringify(result));
if (failed) {
  console.error(failed.stack || String(failed));
  process.exit(1);
}
