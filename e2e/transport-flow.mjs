// Runs flow.mjs (the demo portal's registration flow in headless Chromium)
// with the browser set up for one transport case of extension_test.go and
// lna_test.go, leaving the flow's steps in one place:
//
//   PUBLIC_PORT   the portal's port: Chromium resolves portal.example to
//                 127.0.0.1 and treats 127.0.0.1:PUBLIC_PORT as a public
//                 address, so Local Network Access gates the page's
//                 WebSocket to the daemon on loopback
//   EXTENSION     unpacked extension directory to load (web/extension)
//   GRANT         a permission to grant the portal's origin before the flow
//                 (playwright's name for Local Network Access is
//                 "local-network-access")
//
// plus flow.mjs's own variables (PORTAL_URL, USER_DATA, ...). The browser's
// Local Network Access switches:
// https://developer.chrome.com/blog/local-network-access (ip-address-space-overrides).

import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, "..", "web", "package.json"));
// The same module instance flow.mjs resolves: adjusting its launcher here
// adjusts flow.mjs's browser.
const { chromium } = require("playwright-core");

const extra = [];
if (process.env.PUBLIC_PORT) {
  extra.push(`--ip-address-space-overrides=127.0.0.1:${process.env.PUBLIC_PORT}=public`, "--host-resolver-rules=MAP portal.example 127.0.0.1");
}
if (process.env.EXTENSION) {
  // Extensions load in the new headless mode only; --headless already
  // means it in Chromium 132 and later, said explicitly here.
  extra.push("--headless=new", `--load-extension=${process.env.EXTENSION}`, `--disable-extensions-except=${process.env.EXTENSION}`);
}

const launch = chromium.launchPersistentContext.bind(chromium);
chromium.launchPersistentContext = async (userData, options) => {
  const args = [...(options.args ?? []), ...extra];
  // playwright adds --disable-extensions unless told not to.
  const ignoreDefaultArgs = process.env.EXTENSION ? ["--disable-extensions"] : options.ignoreDefaultArgs;
  const context = await launch(userData, { ...options, args, ignoreDefaultArgs });
  if (process.env.GRANT) {
    await context.grantPermissions([process.env.GRANT], { origin: new URL(process.env.PORTAL_URL).origin });
  }
  if (process.env.EXTENSION) {
    // The extension's service worker starts with the browser; waiting for
    // it makes a missing or broken extension fail here, by name.
    const worker = context.serviceWorkers().find((w) => w.url().startsWith("chrome-extension://")) ?? (await context.waitForEvent("serviceworker", { timeout: 15_000 }));
    console.error(`extension service worker: ${worker.url()}`);
  }
  return context;
};

await import("./flow.mjs");
