// Drives the demo portal in headless Chromium through the whole Smart-ID
// registration flow: card service found, reader chosen, login with the eID
// card, form filled from the card, application signed and accepted.
//
// Run by e2e_test.go, which starts the daemon (bridge) and the portal and
// answers the daemon's dialogs. Environment:
//   PORTAL_URL   https://localhost:PORT/ of the demo portal (required)
//   CHROMIUM     browser binary (default /usr/bin/chromium)
//   SCREENSHOT   where to save a full-page PNG of the final page (optional)
//   USER_DATA    fresh profile directory (required: never the user's own)
//   EXPECT_SERVICE_ERROR  set to stop after the card-service check, which
//                must fail; the result then holds the error code the page
//                derived (data-code of #service-status) and its help text
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

const STEP_TIMEOUT = 30_000;
const problems = [];

const context = await chromium.launchPersistentContext(userData, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
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
  viewport: { width: 1100, height: 1000 },
});

let result = {};
let failed = null;
const page = context.pages()[0] ?? (await context.newPage());
page.setDefaultTimeout(STEP_TIMEOUT);
page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
page.on("console", (m) => {
  if (m.type() === "error") problems.push(`console: ${m.text()}`);
});

// snap saves an intermediate screenshot next to the final one.
async function snap(suffix) {
  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT.replace(/\.png$/, `-${suffix}.png`), fullPage: true });
}

// step runs one stage and names it in the failure message.
async function step(name, fn) {
  try {
    return await fn();
  } catch (e) {
    const texts = await page
      .evaluate(() =>
        [...document.querySelectorAll('[role="status"], [role="alert"], .error')]
          .filter((el) => !el.hidden && el.textContent.trim())
          .map((el) => `${el.id}: ${el.textContent.trim()}`),
      )
      .catch(() => []);
    throw new Error(`step "${name}" failed: ${e.message}\npage says: ${JSON.stringify(texts)}`);
  }
}

try {
  await step("open portal", () => page.goto(url, { waitUntil: "load" }));

  if (process.env.EXPECT_SERVICE_ERROR) {
    await step("see the card service error", async () => {
      await page.waitForSelector('#service-status[data-state="error"]');
      result.serviceError = await page.getAttribute("#service-status", "data-code");
      result.service = (await page.textContent("#service-status")).trim();
      result.help = (await page.textContent("#service-help")).trim();
      await page.waitForSelector("#service-retry:not([hidden])");
    });
    if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
    await context.close();
    // Connection failures are logged to the console by the browser itself.
    result.problems = problems.filter((p) => !/WebSocket connection|Failed to load resource|ERR_CONNECTION_REFUSED/.test(p));
    console.log(JSON.stringify(result));
    process.exit(0);
  }

  await step("find the card service", async () => {
    // The step may already have moved on to the readers (and hidden this
    // section) by the time we look: attached is enough.
    await page.waitForSelector('#service-status[data-state="ok"], #service-status[data-state="error"]', { state: "attached" });
    const st = await page.getAttribute("#service-status", "data-state");
    if (st !== "ok") throw new Error(`service check: ${await page.textContent("#service-status")}`);
    result.service = (await page.textContent("#service-status")).trim();
  });

  await step("choose the reader", async () => {
    await page.waitForSelector('#reader-list .reader-state[data-state="ok"]');
    await snap("1-readers");
    result.reader = (await page.textContent("#reader-list .reader:has(.reader-state[data-state='ok']) .reader-name")).trim();
    await page.check("#reader-list .reader:has(.reader-state[data-state='ok']) input");
    await page.click("#reader-continue:not([disabled])");
    await page.waitForSelector("#step-login:not([hidden])");
  });

  await step("log in with the card", async () => {
    await page.click("#login-button");
    await page.waitForSelector('#login-result[data-state="verified"], #login-error:not([hidden])');
    if (!(await page.isVisible("#step-form"))) throw new Error(await page.textContent("#login-error"));
    result.login = (await page.textContent("#login-result")).trim();
  });

  await step("read the form from the card", async () => {
    await page.waitForSelector('#application-form[data-state="filled"], #sign-error:not([hidden])');
    result.form = {
      givenName: await page.inputValue("#f-given"),
      surname: await page.inputValue("#f-surname"),
      nationalNumber: await page.inputValue("#f-nn"),
      documentNumber: await page.inputValue("#f-doc"),
      country: await page.inputValue("#f-country"),
    };
    if (!result.form.nationalNumber) throw new Error("form not filled");
    const warning = await page.isVisible("#identity-warning");
    if (warning) throw new Error(`identity warning: ${await page.textContent("#identity-warning")}`);
  });

  await step("validation refuses a bad e-mail", async () => {
    await page.fill("#f-email", "not-an-address");
    await page.fill("#f-phone", "0470 12 34 56");
    await page.click("#sign-button");
    await page.waitForSelector("#e-email:not([hidden])");
    result.emailError = (await page.textContent("#e-email")).trim();
    await snap("2-form");
  });

  await step("sign and submit", async () => {
    await page.fill("#f-email", "lotte.vandenbossche@example.org");
    if (!(await page.inputValue("#f-country"))) await page.selectOption("#f-country", "BE");
    await page.click("#sign-button");
    await page.waitForSelector('#step-done[data-state="submitted"], #sign-error:not([hidden])', { timeout: 60_000 });
    if (!(await page.isVisible("#step-done"))) throw new Error(await page.textContent("#sign-error"));
    result.reference = (await page.textContent("#reference")).trim();
    result.signedBy = (await page.textContent("#signed-by")).trim();
    result.heading = (await page.textContent("#h-done")).trim();
  });

  if (process.env.SCREENSHOT) await page.screenshot({ path: process.env.SCREENSHOT, fullPage: true });
} catch (e) {
  failed = e;
  if (process.env.SCREENSHOT) {
    await page.screenshot({ path: process.env.SCREENSHOT.replace(/\.png$/, "-failed.png"), fullPage: true }).catch(() => {});
  }
} finally {
  await context.close();
}

result.problems = problems;
console.log(JSON.stringify(result));
if (failed) {
  console.error(failed.message);
  process.exit(1);
}
