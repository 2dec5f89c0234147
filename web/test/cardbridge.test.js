import { test, describe, afterEach } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";

import {
  CardBridge,
  CardBridgeError,
  ConnectionError,
  PinError,
  CardError,
  UserCancelledError,
  ErrorCode,
  healthURL,
  toBase64,
  fromBase64,
} from "../cardbridge.js";
import { FakeDaemon, freePort, sleep, forever, until } from "../testing/fake-daemon.js";

// Every test registers what it starts, so a failing assertion does not leak
// sockets or timers into the next test.
const cleanups = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()();
});

async function daemon(opts) {
  const d = await new FakeDaemon(opts).start();
  cleanups.push(() => d.stop().catch(() => {}));
  return d;
}

function client(opts) {
  const c = new CardBridge({ WebSocket, probe: false, reconnect: { retries: 0 }, ...opts });
  cleanups.push(() => c.close());
  return c;
}

function once(bridge, event) {
  return new Promise((resolve) => {
    const off = bridge.on(event, (d) => {
      off();
      resolve(d);
    });
  });
}

describe("requests", () => {
  test("connect receives the hello and version round-trips", async () => {
    const d = await daemon();
    const c = client({ url: d.url });
    const hello = await c.connect();
    assert.deepEqual(hello, { protocol: 1, version: "0.1.0-fake" });
    assert.equal(c.connected, true);
    assert.deepEqual(await c.version(), { protocol: 1, version: "0.1.0-fake", os: "linux" });
    const req = d.received.find((r) => r.method === "version");
    assert.equal(typeof req.id, "number");
    assert.deepEqual(req.params, {});
  });

  test("the first request connects by itself", async () => {
    const d = await daemon();
    const c = client({ url: d.url });
    assert.equal(c.connected, false);
    assert.equal((await c.version()).os, "linux");
    assert.equal(c.connected, true);
  });

  test("overlapping requests are matched by id, whatever the answer order", async () => {
    let releaseSlow;
    const d = await daemon({
      methods: {
        identity: () => new Promise((r) => (releaseSlow = () => r({ identity: { surname: "Specimen" } }))),
        address: () => ({ address: { municipality: "Brussel" } }),
      },
    });
    const c = client({ url: d.url });
    await c.connect();
    const slow = c.identity({ reader: "R1" });
    const fast = c.address();
    assert.deepEqual(await fast, { address: { municipality: "Brussel" } });
    releaseSlow();
    assert.deepEqual(await slow, { identity: { surname: "Specimen" } });
    const ids = d.received.map((r) => r.id);
    assert.equal(new Set(ids).size, ids.length, "ids are unique");
    assert.deepEqual(d.received.find((r) => r.method === "identity").params, { reader: "R1" });
    assert.deepEqual(d.received.find((r) => r.method === "address").params, {});
  });

  test("a request times out on the client and a cancel is sent", async () => {
    const d = await daemon({ methods: { card: forever } });
    const c = client({ url: d.url });
    await c.connect();
    const p = c.card({ timeoutMs: 100 });
    const id = p.requestId;
    await assert.rejects(p, (e) => {
      assert.ok(e instanceof CardBridgeError);
      assert.equal(e.code, ErrorCode.TIMEOUT);
      assert.equal(e.data.clientSide, true);
      assert.equal(e.method, "card");
      return true;
    });
    const cancel = await d.waitFor((r) => r.method === "cancel");
    assert.deepEqual(cancel.params, { id });
  });

  test("aborting with an AbortSignal sends cancel and rejects with CANCELLED", async () => {
    const d = await daemon({ methods: { authenticate: forever } });
    const c = client({ url: d.url });
    await c.connect();
    const ctrl = new AbortController();
    const p = c.authenticate({ challengeNonce: "n".repeat(44), signal: ctrl.signal });
    await d.waitFor((r) => r.method === "authenticate");
    ctrl.abort(new Error("user left the page"));
    await assert.rejects(p, (e) => {
      assert.ok(e instanceof UserCancelledError);
      assert.equal(e.code, ErrorCode.CANCELLED);
      assert.equal(e.cause.message, "user left the page");
      return true;
    });
    const cancel = await d.waitFor((r) => r.method === "cancel");
    assert.deepEqual(cancel.params, { id: p.requestId });
    // The connection stays usable.
    assert.equal((await c.version()).protocol, 1);
  });

  test("an already aborted signal sends nothing", async () => {
    const d = await daemon();
    const c = client({ url: d.url });
    await c.connect();
    const ctrl = new AbortController();
    ctrl.abort();
    await assert.rejects(c.card({ signal: ctrl.signal }), { code: ErrorCode.CANCELLED });
    await sleep(30);
    assert.equal(d.received.length, 0);
  });

  test("cancel(id) asks the daemon and the target rejects with CANCELLED", async () => {
    const d = await daemon({ methods: { "pin.verify": forever } });
    const c = client({ url: d.url });
    await c.connect();
    const p = c.verifyPin();
    await d.waitFor((r) => r.method === "pin.verify");
    assert.deepEqual(await c.cancel(p.requestId), { cancelled: true });
    await assert.rejects(p, (e) => e instanceof UserCancelledError && e.code === "CANCELLED");
    assert.deepEqual(await c.cancel(9999), { cancelled: false });
  });
});

describe("errors", () => {
  const cases = [
    { code: "PIN_INCORRECT", data: { triesLeft: 2 }, cls: PinError, check: (e) => assert.equal(e.triesLeft, 2) },
    { code: "PIN_BLOCKED", cls: PinError, check: (e) => assert.equal(e.triesLeft, undefined) },
    { code: "PIN_LAST_TRY", cls: PinError },
    { code: "NO_CARD", cls: CardError },
    { code: "NO_SERVICE", cls: CardError },
    { code: "AMBIGUOUS_READER", data: { readers: ["A", "B"] }, cls: CardError, check: (e) => assert.deepEqual(e.data.readers, ["A", "B"]) },
    { code: "CONSENT_DENIED", cls: UserCancelledError },
    { code: "USER_CANCELLED", cls: UserCancelledError },
    { code: "ORIGIN_NOT_ALLOWED", cls: ConnectionError },
    { code: "RATE_LIMITED", cls: CardBridgeError },
    { code: "SOMETHING_NEW", cls: CardBridgeError },
  ];
  for (const tc of cases) {
    test(`daemon error ${tc.code} becomes ${tc.cls.name}`, async () => {
      const d = await daemon({
        methods: {
          "pin.verify": () => {
            throw { code: tc.code, message: `human text for ${tc.code}`, data: tc.data };
          },
        },
      });
      const c = client({ url: d.url });
      await assert.rejects(c.verifyPin({ reader: "Virtual PCD 00 00" }), (e) => {
        assert.ok(e instanceof tc.cls, `${e.name} is not ${tc.cls.name}`);
        assert.ok(e instanceof CardBridgeError);
        assert.ok(e instanceof Error);
        assert.equal(e.code, tc.code);
        assert.equal(e.message, `human text for ${tc.code}`);
        assert.equal(e.method, "pin.verify");
        assert.equal(typeof e.requestId, "number");
        tc.check?.(e);
        return true;
      });
    });
  }

  test("UNKNOWN_METHOD from the daemon", async () => {
    const d = await daemon();
    const c = client({ url: d.url });
    await assert.rejects(c.request("no.such.method"), { code: ErrorCode.UNKNOWN_METHOD });
  });

  test("every protocol code of the contract is exported", () => {
    const contract =
      "BAD_REQUEST UNKNOWN_METHOD MESSAGE_TOO_LARGE RATE_LIMITED TOO_MANY_PENDING TIMEOUT CANCELLED ORIGIN_NOT_ALLOWED CONSENT_DENIED USER_CANCELLED NO_SERVICE NO_READER NO_CARD CARD_REMOVED UNKNOWN_CARD AMBIGUOUS_READER PIN_INCORRECT PIN_BLOCKED PIN_LAST_TRY PINPAD_TIMEOUT CARD_ERROR BUSY INTERNAL".split(
        " ",
      );
    for (const code of contract) assert.equal(ErrorCode[code], code);
    assert.ok(Object.isFrozen(ErrorCode));
  });
});

describe("params", () => {
  test("sign sends a base64 digest, hash algorithm and document name", async () => {
    const d = await daemon({
      methods: {
        sign: () => ({ signature: "AAAA", signatureAlgorithm: { cryptoAlgorithm: "ECC", hashFunction: "SHA-384", paddingScheme: "NONE" }, certificate: "MIIB" }),
      },
    });
    const c = client({ url: d.url });
    const digest = new Uint8Array(48).map((_, i) => i * 5);
    const res = await c.sign({ digest, hashAlgorithm: "SHA-384", documentName: "Smart-ID account application", reader: "R" });
    assert.equal(res.signatureAlgorithm.cryptoAlgorithm, "ECC");
    const req = d.received.find((r) => r.method === "sign");
    assert.deepEqual(req.params, { reader: "R", digest: Buffer.from(digest).toString("base64"), hashAlgorithm: "SHA-384", documentName: "Smart-ID account application" });
    // A base64 string is passed through as is.
    await c.sign({ digest: Buffer.alloc(32, 7).toString("base64"), hashAlgorithm: "SHA-256" });
    assert.equal(d.received.filter((r) => r.method === "sign")[1].params.digest, Buffer.alloc(32, 7).toString("base64"));
  });

  test("sign refuses a digest of the wrong length or algorithm without sending", async () => {
    const d = await daemon();
    const c = client({ url: d.url });
    await c.connect();
    await assert.rejects(c.sign({ digest: new Uint8Array(32), hashAlgorithm: "SHA-384" }), { code: ErrorCode.BAD_REQUEST });
    await assert.rejects(c.sign({ digest: new Uint8Array(20), hashAlgorithm: "SHA-1" }), { code: ErrorCode.BAD_REQUEST });
    await assert.rejects(c.sign({ digest: "not base64!", hashAlgorithm: "SHA-256" }), { code: ErrorCode.BAD_REQUEST });
    await assert.rejects(c.sign({ digest: 42, hashAlgorithm: "SHA-256" }), { code: ErrorCode.BAD_REQUEST });
    await sleep(20);
    assert.equal(d.received.length, 0);
  });

  test("authenticate checks the nonce length locally and passes it on", async () => {
    const token = { unverifiedCertificate: "MIIB", algorithm: "ES384", signature: "AAAA", format: "web-eid:1", appVersion: "https://cardbridge.invalid/releases/0.1.0" };
    const d = await daemon({ methods: { authenticate: () => token } });
    const c = client({ url: d.url });
    await assert.rejects(c.authenticate({ challengeNonce: "short" }), { code: ErrorCode.BAD_REQUEST });
    await assert.rejects(c.authenticate({}), { code: ErrorCode.BAD_REQUEST });
    const nonce = Buffer.alloc(32, 1).toString("base64");
    assert.deepEqual(await c.authenticate({ challengeNonce: nonce }), token);
    assert.deepEqual(d.received.find((r) => r.method === "authenticate").params, { challengeNonce: nonce });
    await c.authenticate({ challengeNonce: nonce, getSigningCertificate: true });
    assert.deepEqual(d.received.filter((r) => r.method === "authenticate")[1].params, { challengeNonce: nonce, getSigningCertificate: true });
  });

  test("base64 helpers round-trip", () => {
    const b = new Uint8Array([0, 1, 2, 250, 251, 252, 253, 254, 255]);
    assert.deepEqual(fromBase64(toBase64(b)), b);
    assert.equal(toBase64(b.buffer), toBase64(b));
    assert.equal(healthURL("ws://127.0.0.1:27183/v1"), "http://127.0.0.1:27183/v1/health");
    assert.equal(healthURL("ws://[::1]:1234/v1/"), "http://[::1]:1234/v1/health");
  });
});

describe("events", () => {
  test("readers events reach handlers; off() stops them", async () => {
    const list = { readers: [{ name: "Virtual PCD 00 00", cardPresent: false, card: null, pinpad: false }] };
    const d = await daemon({ methods: { readers: () => list } });
    const c = client({ url: d.url });
    assert.deepEqual(await c.readers(), list);
    const seen = [];
    const handler = (data) => seen.push(data);
    c.on("readers", handler);
    const inserted = { readers: [{ name: "Virtual PCD 00 00", cardPresent: true, card: { type: "beid", atr: "3B7F" }, pinpad: false }] };
    let delivered = once(c, "readers");
    d.broadcast("readers", inserted);
    await delivered;
    assert.deepEqual(seen, [inserted]);
    c.off("readers", handler);
    // A handler still on would be called with this one, before once's.
    delivered = once(c, "readers");
    d.broadcast("readers", list);
    assert.deepEqual(await delivered, list);
    assert.equal(seen.length, 1);
  });

  test("an error without a request id becomes an error event", async () => {
    const d = await daemon();
    const c = client({ url: d.url });
    await c.connect();
    const got = once(c, "error");
    for (const ws of d.sockets) ws.send(JSON.stringify({ id: null, error: { code: "BAD_REQUEST", message: "malformed JSON" } }));
    const e = await got;
    assert.ok(e instanceof CardBridgeError);
    assert.equal(e.code, "BAD_REQUEST");
    assert.equal(e.message, "malformed JSON");
  });

  test("a throwing handler does not break the client", async () => {
    const d = await daemon();
    const c = client({ url: d.url });
    await c.connect();
    const logged = [];
    const saved = console.error;
    console.error = (e) => logged.push(e);
    cleanups.push(() => (console.error = saved));
    c.on("readers", () => {
      throw new Error("page bug");
    });
    const got = once(c, "readers");
    d.broadcast("readers", { readers: [] });
    assert.deepEqual(await got, { readers: [] });
    assert.equal((await c.version()).protocol, 1);
    assert.equal(logged[0].message, "page bug", "the handler's error is reported, not swallowed");
  });
});

describe("connection", () => {
  test("reconnects after a daemon restart, failing pending requests and re-subscribing", async () => {
    const d = await daemon({ methods: { identity: forever, readers: () => ({ readers: [{ name: "R", cardPresent: true, card: null, pinpad: false }] }) } });
    const c = client({ url: d.url, reconnect: { retries: 20, delayMs: 20, maxDelayMs: 100 } });
    await c.readers();
    const pending = c.identity();
    await d.waitFor((r) => r.method === "identity");

    const disconnected = once(c, "disconnect");
    const port = d.port;
    const pendingFailed = assert.rejects(pending, (e) => e instanceof ConnectionError && e.code === ErrorCode.DISCONNECTED);
    await d.stop();
    await pendingFailed;
    const info = await disconnected;
    assert.equal(info.willReconnect, true);
    assert.equal(c.connected, false);

    await sleep(60); // let a reconnect attempt or two fail
    const d2 = new FakeDaemon({ methods: { readers: () => ({ readers: [] }) } });
    await d2.start(port);
    cleanups.push(() => d2.stop().catch(() => {}));
    const connected = once(c, "connect");
    const readers = once(c, "readers");
    assert.equal((await connected).protocol, 1);
    assert.deepEqual(await readers, { readers: [] }, "a fresh readers list after reconnect");
    await d2.waitFor((r) => r.method === "readers");
    assert.equal(c.connected, true);
    assert.equal((await c.version()).os, "linux");
  });

  test("gives up after the configured retries", async () => {
    const d = await daemon();
    const c = client({ url: d.url, reconnect: { retries: 2, delayMs: 10 } });
    await c.connect();
    const attempts = [];
    c.on("reconnecting", (a) => attempts.push(a));
    const failed = once(c, "reconnectfailed");
    await d.stop();
    assert.deepEqual(await failed, { attempts: 2 });
    assert.deepEqual(attempts, [
      { attempt: 1, delayMs: 10 },
      { attempt: 2, delayMs: 20 },
    ]);
  });

  test("close() fails pending requests and does not reconnect", async () => {
    const d = await daemon({ methods: { card: forever } });
    const c = client({ url: d.url, reconnect: { retries: 5, delayMs: 10 } });
    await c.connect();
    const p = c.card();
    await d.waitFor((r) => r.method === "card");
    let reconnecting = false;
    c.on("reconnecting", () => (reconnecting = true));
    c.close();
    await assert.rejects(p, { code: ErrorCode.DISCONNECTED });
    await until(() => d.sockets.size === 0, "the daemon never saw the socket close");
    await sleep(60); // a reconnect would have started by now (delayMs 10)
    assert.equal(reconnecting, false);
    assert.equal(d.sockets.size, 0);
  });

  test("DAEMON_UNAVAILABLE when nothing listens", async () => {
    const port = await freePort();
    const c = client({ url: `ws://127.0.0.1:${port}/v1`, probe: true });
    await assert.rejects(c.connect(), (e) => {
      assert.ok(e instanceof ConnectionError);
      assert.equal(e.code, ErrorCode.DAEMON_UNAVAILABLE);
      assert.equal(e.data.reason, "no-answer");
      assert.equal(e.data.permission, undefined, "Node has no permission API");
      return true;
    });
    // A card method fails the same way instead of hanging, naming itself.
    await assert.rejects(c.card(), (e) => e instanceof ConnectionError && e.code === ErrorCode.DAEMON_UNAVAILABLE && e.method === "card");
  });

  test("LOCAL_ACCESS_BLOCKED when the constructor throws SecurityError (mixed content)", async () => {
    class MixedContentWebSocket {
      constructor() {
        throw new DOMException("The operation is insecure.", "SecurityError");
      }
    }
    const c = client({ WebSocket: MixedContentWebSocket });
    await assert.rejects(c.connect(), (e) => {
      assert.equal(e.code, ErrorCode.LOCAL_ACCESS_BLOCKED);
      assert.equal(e.data.reason, "mixed-content");
      assert.equal(e.cause.name, "SecurityError");
      return true;
    });
  });

  test("LOCAL_ACCESS_BLOCKED when the loopback permission is denied", async () => {
    const port = await freePort();
    const asked = [];
    const permissions = {
      async query({ name }) {
        asked.push(name);
        if (name === "loopback-network") throw new TypeError("unknown permission"); // an older Chrome
        return { state: "denied" };
      },
    };
    const c = client({ url: `ws://127.0.0.1:${port}/v1`, permissions });
    await assert.rejects(c.connect(), (e) => {
      assert.equal(e.code, ErrorCode.LOCAL_ACCESS_BLOCKED);
      assert.equal(e.data.reason, "permission-denied");
      return true;
    });
    assert.deepEqual(asked, ["loopback-network", "local-network-access"]);
  });

  test("a granted permission with nothing listening is DAEMON_UNAVAILABLE", async () => {
    const port = await freePort();
    const permissions = { query: async () => ({ state: "granted" }) };
    const c = client({ url: `ws://127.0.0.1:${port}/v1`, permissions });
    await assert.rejects(c.connect(), (e) => e.code === ErrorCode.DAEMON_UNAVAILABLE && e.data.permission === "granted");
  });

  test("ORIGIN_NOT_ALLOWED when the daemon answers health but refuses the handshake", async () => {
    const d = await daemon({ refuse: true });
    const c = client({ url: d.url, probe: true });
    await assert.rejects(c.connect(), (e) => {
      assert.equal(e.code, ErrorCode.ORIGIN_NOT_ALLOWED);
      assert.equal(e.data.reason, "handshake-refused");
      return true;
    });
  });

  test("CONSENT_DENIED when the daemon refuses after asking the user", async () => {
    // The daemon holds the handshake while its consent dialog is open; the
    // user's "deny" makes it answer 403, which the page sees only as a
    // failed socket, after a person's reaction time.
    const d = await daemon({ refuse: true, answerAfterMs: 1_100 });
    const c = client({ url: d.url, probe: true });
    await assert.rejects(c.connect(), (e) => {
      assert.ok(e instanceof UserCancelledError, `${e.name} is not UserCancelledError`);
      assert.equal(e.code, ErrorCode.CONSENT_DENIED);
      assert.equal(e.data.reason, "consent-refused");
      assert.ok(e.data.waitedMs >= 1_000, `waited ${e.data.waitedMs} ms`);
      return true;
    });
    // Reconnecting at once is refused at once (the daemon's cooldown):
    // still the user's refusal, not a site the daemon does not accept.
    d.answerAfterMs = 0;
    await assert.rejects(c.version(), (e) => e.code === ErrorCode.CONSENT_DENIED && e.data.reason === "recently-refused" && e.method === "version");
    // A page that knows of no denial cannot tell the cooldown from a
    // policy refusal.
    const fresh = client({ url: d.url, probe: true });
    await assert.rejects(fresh.connect(), (e) => e.code === ErrorCode.ORIGIN_NOT_ALLOWED && e.data.reason === "handshake-refused");
    assert.equal(d.handshakes, 3);
  });

  // A PermissionStatus whose state the test changes, as the browser does
  // when the user answers its local network access prompt.
  class FakePermissionStatus extends EventTarget {
    constructor(state) {
      super();
      this.state = state;
    }
    set(state) {
      this.state = state;
      this.dispatchEvent(new Event("change"));
    }
  }

  test("a refusal is timed from when the browser's permission prompt was answered", async () => {
    // The browser held the handshake while it asked; the daemon then
    // refused at once, by policy: not the user's answer to the daemon.
    const status = new FakePermissionStatus("prompt");
    const permissions = { query: async () => status };
    setTimeout(() => status.set("granted"), 1_000);
    const d = await daemon({ refuse: true, answerAfterMs: 1_100 });
    const c = client({ url: d.url, probe: true, permissions });
    await assert.rejects(c.connect(), (e) => {
      assert.equal(e.code, ErrorCode.ORIGIN_NOT_ALLOWED);
      assert.equal(e.data.permission, "granted");
      assert.ok(e.data.waitedMs < 1_000, `waited ${e.data.waitedMs} ms`);
      return true;
    });
  });

  test("a permission that stays undecided does not discount the daemon's dialog", async () => {
    // Chromium reports "prompt" for pages it never prompts for (a portal
    // on localhost): the wait is the daemon's dialog.
    const permissions = { query: async () => new FakePermissionStatus("prompt") };
    const d = await daemon({ refuse: true, answerAfterMs: 1_100 });
    const c = client({ url: d.url, probe: true, permissions });
    await assert.rejects(c.connect(), (e) => e.code === ErrorCode.CONSENT_DENIED && e.data.reason === "consent-refused");
  });

  test("connect waits while the daemon asks the user, past connectTimeoutMs", async () => {
    const d = await daemon({ answerAfterMs: 400 });
    const c = client({ url: d.url, probe: true, connectTimeoutMs: 100 });
    const t0 = Date.now();
    assert.deepEqual(await c.connect(), { protocol: 1, version: "0.1.0-fake" });
    assert.ok(Date.now() - t0 >= 350);
    assert.equal(d.handshakes, 1, "no second handshake, so no second dialog");
  });

  test("connect gives up on an unanswered consent dialog after consentTimeoutMs", async () => {
    const d = await daemon({ answerAfterMs: 5_000 });
    const c = client({ url: d.url, probe: true, connectTimeoutMs: 50, consentTimeoutMs: 300 });
    const t0 = Date.now();
    await assert.rejects(c.connect(), (e) => e.code === ErrorCode.CONSENT_DENIED && e.data.reason === "consent-timeout");
    const waited = Date.now() - t0;
    assert.ok(waited >= 280 && waited < 2_000, `gave up after ${waited} ms`);
    assert.equal(c.connected, false);
  });

  test("without an answer from the health probe a held handshake is DAEMON_UNAVAILABLE", async () => {
    const d = await daemon({ answerAfterMs: 5_000 });
    const c = client({ url: d.url, probe: true, connectTimeoutMs: 100, fetch: async () => Promise.reject(new TypeError("blocked")) });
    await assert.rejects(c.connect(), (e) => e.code === ErrorCode.DAEMON_UNAVAILABLE && e.data.reason === "timeout");
  });

  test("reconnecting stops when the daemon refuses the page", async () => {
    const d = await daemon();
    const c = client({ url: d.url, probe: true, reconnect: { retries: 5, delayMs: 10 } });
    await c.connect();
    const port = d.port;
    const failed = once(c, "reconnectfailed");
    await d.stop();
    const d2 = new FakeDaemon({ refuse: true });
    await d2.start(port);
    cleanups.push(() => d2.stop().catch(() => {}));
    const info = await failed;
    assert.equal(info.error.code, ErrorCode.ORIGIN_NOT_ALLOWED);
    await sleep(100);
    assert.equal(d2.handshakes, info.attempts, "no attempt after the refusal");
  });

  test("PROTOCOL_ERROR for a daemon speaking another protocol version", async () => {
    const d = await daemon({ hello: { protocol: 2, version: "9.0.0" } });
    const c = client({ url: d.url });
    await assert.rejects(c.connect(), (e) => e.code === ErrorCode.PROTOCOL_ERROR && e.data.protocol === 2);
    assert.equal(c.connected, false);
  });

  test("a connect timeout while the browser prompts is LOCAL_ACCESS_BLOCKED", async () => {
    // A WebSocket that never opens, as when the browser waits on its
    // local-network permission prompt.
    class PendingWebSocket {
      constructor() {}
      close() {}
    }
    const permissions = { query: async () => ({ state: "prompt" }) };
    const c = client({ WebSocket: PendingWebSocket, permissions, connectTimeoutMs: 50 });
    await assert.rejects(c.connect(), (e) => e.code === ErrorCode.LOCAL_ACCESS_BLOCKED && e.data.reason === "permission-prompt");
  });

  test("no WebSocket implementation is UNSUPPORTED_BROWSER", async () => {
    const c = new CardBridge({ WebSocket: null });
    const saved = globalThis.WebSocket;
    // Node 20 has no global WebSocket; make sure of it for this test.
    delete globalThis.WebSocket;
    try {
      const c2 = new CardBridge();
      await assert.rejects(c2.connect(), { code: ErrorCode.UNSUPPORTED_BROWSER });
    } finally {
      if (saved) globalThis.WebSocket = saved;
    }
    c.close();
  });

  test("concurrent connect() calls share one socket", async () => {
    const d = await daemon();
    const c = client({ url: d.url });
    const [a, b] = await Promise.all([c.connect(), c.connect(), c.version(), c.version()]);
    assert.equal(a, b);
    await sleep(20);
    assert.equal(d.sockets.size, 1);
  });
});
