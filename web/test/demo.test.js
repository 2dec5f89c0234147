// Tests of the demo portal's page modules that need no browser: the
// translations, the download choice, and the rule that no demo script
// builds markup from strings.

import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { MESSAGES, LANGUAGES, interpolate, translator, chooseLanguage, localeFor } from "../demo/i18n.js";
import { detectDownloads, DOWNLOADS, downloadURL } from "../demo/platform.js";

const demoDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "demo");

describe("translations", () => {
  const keys = Object.keys(MESSAGES.en).sort();
  for (const [lang] of LANGUAGES) {
    test(`${lang} has every text and the same placeholders`, () => {
      assert.deepEqual(Object.keys(MESSAGES[lang]).sort(), keys);
      for (const k of keys) {
        const ph = (s) => [...s.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
        assert.deepEqual(ph(MESSAGES[lang][k]), ph(MESSAGES.en[k]), `${lang} ${k}`);
        assert.ok(!/[<>]/.test(MESSAGES[lang][k]), `${lang} ${k} holds markup characters`);
        assert.ok(MESSAGES[lang][k].trim(), `${lang} ${k} is empty`);
      }
    });
  }

  test("every data-i18n key of the pages exists", () => {
    for (const page of ["index.html", "phone.html"]) {
      const html = readFileSync(path.join(demoDir, page), "utf8");
      const used = [...html.matchAll(/data-i18n="([^"]+)"/g)].map((m) => m[1]);
      for (const m of html.matchAll(/data-i18n-attr="([^"]+)"/g)) {
        for (const pair of m[1].split(";")) used.push(pair.split(":")[1]);
      }
      assert.ok(used.length > 10, page);
      for (const k of used) assert.ok(k in MESSAGES.en, `${page}: ${k}`);
    }
  });

  test("placeholders take values as they are", () => {
    const hostile = '<img src=x onerror="alert(1)">{nn}';
    assert.deepEqual(interpolate("Hello {name}, {nn}!", { name: hostile, nn: "1" }), ["Hello ", hostile, ", ", "1", "!"]);
    assert.deepEqual(interpolate("{missing} x", {}), ["{missing}", " x"]);
    const node = { nodeType: 1, textContent: "n" };
    assert.equal(interpolate("a {o} b", { o: node })[1], node);
    const t = translator("nl");
    assert.equal(t("phone.activeUntil", { date: "03-11-2028" }), "Account actief tot 03-11-2028");
    assert.equal(t("no.such.key"), "no.such.key");
  });

  test("language choice: remembered choice, else negotiated, else English", () => {
    const store = (v) => ({ getItem: () => v, setItem() {} });
    assert.equal(chooseLanguage("nl", store(null)), "nl");
    assert.equal(chooseLanguage("nl", store("de")), "de");
    assert.equal(chooseLanguage("es", store("xx")), "en");
    assert.equal(chooseLanguage("fr", { getItem() { throw new Error("denied"); } }), "fr");
    assert.equal(localeFor("nl"), "nl-BE");
    assert.equal(localeFor("en", ["nl-BE", "en-US"]), "en-US");
    assert.equal(localeFor("en", ["fr"]), "en-GB");
  });
});

describe("download choice", () => {
  const hints = (arch) => ({ getHighEntropyValues: async () => ({ architecture: arch }) });
  const cases = [
    ["Windows", { userAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/147.0.0.0 Safari/537.36", userAgentData: { platform: "Windows", ...hints("x86") } }, ["windows"]],
    ["Firefox on Windows", { userAgent: "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:154.0) Gecko/20100101 Firefox/154.0" }, ["windows"]],
    ["Chrome on an Apple chip", { userAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Chrome/147.0.0.0", userAgentData: { platform: "macOS", ...hints("arm") } }, ["mac-apple"]],
    ["Chrome on an Intel Mac", { userAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) Chrome/147.0.0.0", userAgentData: { platform: "macOS", ...hints("x86") } }, ["mac-intel"]],
    ["Safari (cannot tell the chip)", { userAgent: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Version/18.0 Safari/605.1.15" }, ["mac-apple", "mac-intel"]],
    ["Chrome refusing the hint", { userAgent: "Mozilla/5.0 (Macintosh)", userAgentData: { platform: "macOS", getHighEntropyValues: async () => { throw new Error("no"); } } }, ["mac-apple", "mac-intel"]],
    ["Firefox on Fedora", { userAgent: "Mozilla/5.0 (X11; Fedora; Linux x86_64; rv:154.0) Gecko/20100101 Firefox/154.0" }, ["fedora"]],
    ["Firefox on Ubuntu", { userAgent: "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:154.0) Gecko/20100101 Firefox/154.0" }, ["debian", "fedora"]],
    ["Chrome on Linux", { userAgent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/147.0.0.0", userAgentData: { platform: "Linux" } }, ["debian", "fedora"]],
    ["Android", { userAgent: "Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/147.0.0.0 Mobile", userAgentData: { platform: "Android", mobile: true } }, []],
    ["iPhone", { userAgent: "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Safari/604.1" }, []],
    ["nothing known", {}, []],
  ];
  for (const [name, nav, want] of cases) {
    test(name, async () => assert.deepEqual(await detectDownloads(nav), want));
  }

  test("release file names and URL", () => {
    assert.deepEqual(
      DOWNLOADS.map(downloadURL),
      ["cardbridge-windows-x64.msi", "cardbridge-macos-x64.pkg", "cardbridge-macos-arm64.pkg", "cardbridge-linux-amd64.deb", "cardbridge-linux-x86_64.rpm"].map(
        (f) => "https://github.com/cardbridge/cardbridge/releases/latest/download/" + f,
      ),
    );
    for (const d of DOWNLOADS) assert.ok(`sys.${d.id}` in MESSAGES.en, d.id);
  });
});

// Integrators copy the demo's code: it must not show them how to put a
// value through the HTML parser.
test("demo scripts build no markup from strings", () => {
  const files = readdirSync(demoDir).filter((f) => f.endsWith(".js"));
  assert.ok(files.includes("app.js") && files.includes("phone.js"));
  for (const f of files) {
    const src = readFileSync(path.join(demoDir, f), "utf8").replace(/^\s*\/\/.*$/gm, "");
    for (const sink of ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "DOMParser", "createContextualFragment", "srcdoc"]) {
      assert.ok(!src.includes(sink), `${f} uses ${sink}`);
    }
  }
});
