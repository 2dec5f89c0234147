// Builds the extension for one browser into a directory of its own.
//
//   node web/extension/build.mjs firefox OUTDIR
//   node web/extension/build.mjs chromium OUTDIR
//
// manifest.json in this folder is the Chromium one (Chrome, Chromium, Edge
// load the folder as it is). Firefox needs a different manifest: its
// Manifest V3 background is an event page declared with "scripts" (it has
// no extension service workers, MDN "background"), its id comes from
// browser_specific_settings.gecko.id rather than from "key", and it warns
// about Chromium-only keys. The scripts are the same files for both.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

/** Files of the extension, besides manifest.json. */
export const FILES = ["background.js", "content.js"];

/** The Firefox add-on id, fixed by the project's contract (host manifest allowed_extensions). */
export const FIREFOX_ID = "cardbridge@cardbridge.org";

/** Returns the manifest object for browser ("chromium" or "firefox"). */
export function manifestFor(browser, source = JSON.parse(fs.readFileSync(path.join(here, "manifest.json"), "utf8"))) {
  const m = structuredClone(source);
  if (browser === "chromium") return m;
  if (browser !== "firefox") throw new Error(`unknown browser ${browser}: chromium or firefox`);
  delete m.key;
  delete m.minimum_chrome_version;
  m.background = { scripts: [m.background.service_worker] };
  m.browser_specific_settings = {
    gecko: {
      id: FIREFOX_ID,
      // Manifest V3 content scripts granted at install, and runtime.getManifest
      // in content scripts: Firefox 128 ESR and later.
      strict_min_version: "128.0",
      // Required by addons.mozilla.org for new add-ons: this one collects nothing.
      data_collection_permissions: { required: ["none"] },
    },
  };
  return m;
}

/** Writes the extension for browser into outDir (created if missing). */
export function build(browser, outDir) {
  fs.mkdirSync(outDir, { recursive: true });
  for (const f of FILES) fs.copyFileSync(path.join(here, f), path.join(outDir, f));
  fs.writeFileSync(path.join(outDir, "manifest.json"), JSON.stringify(manifestFor(browser), null, 2) + "\n");
  return outDir;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const [browser, outDir] = process.argv.slice(2);
  if (!browser || !outDir) {
    console.error("usage: node build.mjs chromium|firefox OUTDIR");
    process.exit(2);
  }
  console.log(build(browser, outDir));
}
