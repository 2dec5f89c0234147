// The extension's content script and background (run in a fake browser,
// testing/fake-extension.js) and the client's extension transport.
import { test, describe, afterEach } from "node:test";
import assert from "node:assert/strict";
import crypto from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import WebSocket from "ws";

import { CardBridge, ErrorCode, UserCancelledError, ConnectionError } from "../cardbridge.js";
import { loadExtension, helloHost } from "../testing/fake-extension.js";
import { FakeDaemon, sleep, until } from "../testing/fake-daemon.js";
import { build, manifestFor, FIREFOX_ID } from "../extension/build.mjs";

const cleanups = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()();
});

// The probe ends as soon as the content script answers, a few timer hops
// later; its limit only matters when the answer is late, as it is on a
// loaded machine. Tests of a window without the extension, where the
// whole probe is waited out, pass a short one.
function client(opts) {
  const c = new CardBridge({ WebSocket, probe: false, reconnect: { retries: 0 }, extensionProbeMs: 10_000, ...opts });
  cleanups.push(() => c.close());
  return c;
}


describe("extension transport", () => {
  test("the client uses the extension when present; the host gets the origin from the browser", async () => {
    const ext = loadExtension({ origin: "https://portal.example", host: helloHost });
    const c = client({ window: ext.window, url: "ws://127.0.0.1:1/v1" });
    assert.equal(c.transport, null);
    assert.deepEqual(await c.connect(), { protocol: 1, version: "0.1.0-fakehost" });
    assert.equal(c.transport, "extension");
    assert.equal((await c.version()).os, "linux");
    assert.equal(ext.sessions.length, 1);
    const [open, req] = ext.sessions[0].received;
    assert.deepEqual(open, { cardbridge: "open", protocol: 1, origin: "https://portal.example" });
    assert.equal(req.method, "version");
  });

  test("nothing the page sends sets the origin or reaches the host beyond the request", async () => {
    const ext = loadExtension({ origin: "https://portal.example", host: helloHost });
    const w = ext.window;
    w.postMessage({ cardbridge: "page", type: "open", session: "s1", origin: "https://bank.example" }, "*");
    await until(() => ext.sessions[0]?.received.length === 1);
    w.postMessage(
      { cardbridge: "page", type: "message", session: "s1", origin: "https://bank.example", data: { id: 1, method: "version", params: {}, origin: "https://bank.example", cardbridge: "open" } },
      "*",
    );
    await until(() => ext.sessions[0].received.length === 2);
    assert.deepEqual(ext.sessions[0].received, [
      { cardbridge: "open", protocol: 1, origin: "https://portal.example" },
      { id: 1, method: "version", params: {} },
    ]);
  });

  test("the origin comes from sender.url when the browser gives no sender.origin (Firefox)", async () => {
    const ext = loadExtension({
      host: helloHost,
      sender: { id: "eabimfdgphmkgijljjnoadmjicgbnnkk", tab: { id: 1 }, url: "https://idp.example:8443/a/b?c#d" },
    });
    await client({ window: ext.window }).connect();
    assert.equal(ext.sessions[0].received[0].origin, "https://idp.example:8443");
  });

  for (const [name, sender] of [
    ["a plain http page that is not on loopback", { id: "eabimfdgphmkgijljjnoadmjicgbnnkk", tab: { id: 1 }, origin: "http://portal.example" }],
    ["a sender without a tab", { id: "eabimfdgphmkgijljjnoadmjicgbnnkk", origin: "https://portal.example" }],
    ["another extension", { id: "otherextension", tab: { id: 1 }, origin: "https://portal.example" }],
    ["an opaque origin", { id: "eabimfdgphmkgijljjnoadmjicgbnnkk", tab: { id: 1 }, origin: "null", url: "about:blank" }],
    ["a sandboxed https document (opaque origin)", { id: "eabimfdgphmkgijljjnoadmjicgbnnkk", tab: { id: 1 }, origin: "null", url: "https://portal.example/x" }],
  ]) {
    test(`no host is started for ${name}`, async () => {
      const ext = loadExtension({ host: helloHost, sender });
      const err = await client({ window: ext.window }).connect().catch((e) => e);
      assert.ok(err instanceof ConnectionError, String(err));
      assert.equal(err.code, ErrorCode.DISCONNECTED);
      assert.equal(ext.sessions.length, 0);
    });
  }

  test("http://localhost pages work for development", async () => {
    const ext = loadExtension({ origin: "http://localhost:8080", host: helloHost });
    await client({ window: ext.window }).connect();
    assert.equal(ext.sessions[0].received[0].origin, "http://localhost:8080");
  });

  test("a refusal from the host is CONSENT_DENIED, and the client does not reconnect", async () => {
    const ext = loadExtension({
      host: (s) => {
        s.onMessage = () => {
          s.send({ event: "refused", data: { code: "CONSENT_DENIED", message: "The user did not allow this site" } });
          s.exit();
        };
      },
    });
    const c = client({ window: ext.window, reconnect: { retries: 3, delayMs: 10 } });
    const err = await c.connect().catch((e) => e);
    assert.ok(err instanceof UserCancelledError, String(err));
    assert.equal(err.code, ErrorCode.CONSENT_DENIED);
    assert.equal(err.data.transport, "extension");
    await sleep(100);
    assert.equal(ext.sessions.length, 1);
  });

  test("ORIGIN_NOT_ALLOWED from the host passes through", async () => {
    const ext = loadExtension({
      host: (s) => {
        s.onMessage = () => s.send({ event: "refused", data: { code: "ORIGIN_NOT_ALLOWED", message: "not on the managed list" } });
      },
    });
    const err = await client({ window: ext.window }).connect().catch((e) => e);
    assert.equal(err.code, ErrorCode.ORIGIN_NOT_ALLOWED);
    await until(() => ext.sessions[0].exited);
  });

  test("no host installed is DAEMON_UNAVAILABLE with the browser's reason; no WebSocket is tried", async () => {
    const d = await new FakeDaemon().start();
    cleanups.push(() => d.stop().catch(() => {}));
    const ext = loadExtension({ hostMissing: true });
    const c = client({ window: ext.window, url: d.url });
    const err = await c.connect().catch((e) => e);
    assert.equal(err.code, ErrorCode.DAEMON_UNAVAILABLE);
    assert.match(err.message, /native messaging host not found/);
    assert.equal(c.transport, "extension");
    assert.equal(d.received.length, 0);
  });

  test("without the extension the client falls back to the WebSocket", async () => {
    const d = await new FakeDaemon().start();
    cleanups.push(() => d.stop().catch(() => {}));
    const ext = loadExtension({ host: helloHost });
    const bare = new (ext.window.constructor)("https://portal.example"); // a window without the content script
    const c = client({ window: bare, url: d.url, extensionProbeMs: 100 });
    await c.connect();
    assert.equal(c.transport, "websocket");
    assert.equal(ext.sessions.length, 0);
  });

  test('transport "extension" without the extension is DAEMON_UNAVAILABLE (no-extension)', async () => {
    const ext = loadExtension({ host: helloHost });
    const bare = new (ext.window.constructor)("https://portal.example");
    const err = await client({ window: bare, transport: "extension", extensionProbeMs: 100 }).connect().catch((e) => e);
    assert.equal(err.code, ErrorCode.DAEMON_UNAVAILABLE);
    assert.equal(err.data.reason, "no-extension");
  });

  test('transport "websocket" does not probe for the extension', async () => {
    const d = await new FakeDaemon().start();
    cleanups.push(() => d.stop().catch(() => {}));
    const ext = loadExtension({ host: helloHost });
    const c = client({ window: ext.window, url: d.url, transport: "websocket" });
    await c.connect();
    assert.equal(c.transport, "websocket");
    assert.equal(ext.sessions.length, 0);
    assert.ok(!ext.window.posted.some((m) => m.cardbridge === "page"));
  });

  test("the content script announces itself at load and answers probes, without any request", async () => {
    const ext = loadExtension({ host: helloHost });
    const first = ext.window.posted[0];
    assert.equal(first.cardbridge, "extension");
    assert.equal(first.type, "present");
    assert.equal(first.protocol, 1);
    assert.equal(first.version, JSON.parse(fs.readFileSync(new URL("../extension/manifest.json", import.meta.url))).version);
  });

  test("messages from other windows are ignored", async () => {
    const ext = loadExtension({ host: helloHost });
    ext.window.postFromElsewhere({ cardbridge: "page", type: "open", session: "x1" });
    ext.window.postFromElsewhere({ cardbridge: "page", type: "probe" });
    await sleep(50);
    assert.equal(ext.sessions.length, 0);
    assert.equal(ext.window.posted.filter((m) => m.type === "present").length, 1);
  });

  test("a request over 64 KiB is refused with MESSAGE_TOO_LARGE before it reaches the host", async () => {
    const ext = loadExtension({ host: helloHost });
    const c = client({ window: ext.window });
    await c.connect();
    const err = await c.request("identity", { pad: "x".repeat(70_000) }).catch((e) => e);
    assert.equal(err.code, ErrorCode.MESSAGE_TOO_LARGE);
    assert.equal(ext.sessions[0].received.length, 1);
  });

  test("a page gets at most four sessions", async () => {
    const ext = loadExtension({ host: helloHost });
    const clients = Array.from({ length: 5 }, () => client({ window: ext.window }));
    const results = await Promise.allSettled(clients.map((c) => c.connect()));
    assert.equal(results.filter((r) => r.status === "fulfilled").length, 4);
    const refused = results.find((r) => r.status === "rejected");
    assert.equal(refused.reason.code, ErrorCode.TOO_MANY_PENDING);
    assert.equal(ext.sessions.length, 4);
  });

  test("close() while the client looks for the extension opens nothing", async () => {
    const ext = loadExtension({ host: helloHost });
    const c = client({ window: ext.window });
    const p = c.connect();
    c.close();
    const err = await p.catch((e) => e);
    assert.equal(err.code, ErrorCode.DISCONNECTED);
    await sleep(30);
    assert.equal(ext.sessions.length, 0);
    assert.equal(c.connected, false);
  });

  test("a page that opens sessions in a loop is rate limited", async () => {
    const ext = loadExtension({ host: helloHost });
    const codes = [];
    for (let i = 0; i < 10; i++) {
      const c = client({ window: ext.window });
      const err = await c.connect().then(
        () => null,
        (e) => e,
      );
      codes.push(err?.code ?? "ok");
      c.close();
    }
    assert.deepEqual(codes, [...Array(8).fill("ok"), "RATE_LIMITED", "RATE_LIMITED"]);
    assert.equal(ext.sessions.length, 8);
  });

  test("the content script stays out of documents with an opaque origin", async () => {
    const ext = loadExtension({ origin: "null", host: helloHost });
    assert.equal(ext.window.posted.length, 0);
    ext.window.postMessage({ cardbridge: "page", type: "probe" }, "*");
    await sleep(20);
    assert.equal(ext.window.posted.filter((m) => m.cardbridge === "extension").length, 0);
  });

  test("closing the client ends its host; a host that ends disconnects the client", async () => {
    const ext = loadExtension({ host: helloHost });
    const c1 = client({ window: ext.window });
    await c1.connect();
    c1.close();
    await until(() => ext.sessions[0].exited);

    const c2 = client({ window: ext.window });
    await c2.connect();
    const gone = new Promise((r) => c2.on("disconnect", r));
    ext.sessions[1].exit("Native host has exited.");
    const d = await gone;
    assert.equal(d.willReconnect, false);
    assert.equal(c2.connected, false);
  });

  test("a pending request fails with DISCONNECTED when the host exits", async () => {
    const ext = loadExtension({
      host: (s) => {
        s.onMessage = (m) => {
          if (m.cardbridge === "open") s.send({ event: "hello", data: { protocol: 1, version: "x" } });
          else s.exit("Native host has exited.");
        };
      },
    });
    const c = client({ window: ext.window });
    await c.connect();
    const err = await c.identity().catch((e) => e);
    assert.equal(err.code, ErrorCode.DISCONNECTED);
  });

  test("events from the host reach the page", async () => {
    const ext = loadExtension({ host: helloHost });
    const c = client({ window: ext.window });
    await c.connect();
    const got = new Promise((r) => c.on("readers", r));
    ext.sessions[0].send({ event: "readers", data: { readers: [{ name: "R", cardPresent: true, card: null, pinpad: false }] } });
    assert.equal((await got).readers[0].name, "R");
  });
});

describe("extension manifests", () => {
  const manifest = JSON.parse(fs.readFileSync(new URL("../extension/manifest.json", import.meta.url)));

  test("the Chromium manifest's key gives the contract's extension id", () => {
    const der = Buffer.from(manifest.key, "base64");
    const hex = crypto.createHash("sha256").update(der).digest("hex").slice(0, 32);
    // Chromium's id: the first 128 bits of SHA-256 of the public key, each
    // hex digit 0-f written as a letter a-p.
    const id = [...hex].map((h) => String.fromCharCode(97 + parseInt(h, 16))).join("");
    assert.equal(id, "eabimfdgphmkgijljjnoadmjicgbnnkk");
  });

  test("Manifest V3, nativeMessaging only, content script on https and loopback http only", () => {
    assert.equal(manifest.manifest_version, 3);
    assert.deepEqual(manifest.permissions, ["nativeMessaging"]);
    assert.equal(manifest.host_permissions, undefined);
    assert.equal(manifest.optional_permissions, undefined);
    assert.equal(manifest.web_accessible_resources, undefined);
    assert.equal(manifest.externally_connectable, undefined);
    assert.equal(manifest.background.service_worker, "background.js");
    assert.equal(manifest.content_scripts.length, 1);
    assert.deepEqual(manifest.content_scripts[0].matches, ["https://*/*", "http://localhost/*", "http://127.0.0.1/*"]);
    assert.equal(manifest.content_scripts[0].run_at, "document_start");
  });

  test("the Firefox build has a background script, the contract's add-on id and no Chromium keys", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cardbridge-ext-"));
    cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
    build("firefox", dir);
    const ff = JSON.parse(fs.readFileSync(path.join(dir, "manifest.json"), "utf8"));
    assert.deepEqual(ff.background, { scripts: ["background.js"] });
    assert.equal(ff.browser_specific_settings.gecko.id, FIREFOX_ID);
    assert.equal(FIREFOX_ID, "cardbridge@cardbridge.org");
    assert.equal(ff.key, undefined);
    assert.equal(ff.minimum_chrome_version, undefined);
    assert.deepEqual(ff.permissions, manifest.permissions);
    assert.deepEqual(ff.content_scripts, manifest.content_scripts);
    assert.equal(ff.version, manifest.version);
    for (const f of ["background.js", "content.js"]) {
      assert.equal(fs.readFileSync(path.join(dir, f), "utf8"), fs.readFileSync(new URL(`../extension/${f}`, import.meta.url), "utf8"));
    }
    assert.deepEqual(manifestFor("chromium"), manifest);
    assert.throws(() => manifestFor("safari"));
  });
});
