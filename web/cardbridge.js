// cardbridge.js — browser client for the cardbridge daemon (protocol v1).
//
// A portal page imports this module, connects to cardbridge on the user's
// own machine and calls card methods. It uses the cardbridge browser
// extension when the page has it (native messaging: no socket, no Local
// Network Access prompt) and the loopback WebSocket otherwise; the API and
// the error codes are the same either way. No build step, no
// dependencies: it is a plain ES module.
//
//   import { CardBridge, CardBridgeError, ErrorCode } from "./cardbridge.js";
//   const bridge = new CardBridge();
//   await bridge.connect();
//   const token = await bridge.authenticate({ challengeNonce });
//
// See cardbridge.d.ts for the typed API and docs/protocol.md for the wire
// protocol.

/** Default daemon endpoint. */
export const DEFAULT_URL = "ws://127.0.0.1:27183/v1";

/** Protocol version this client speaks. */
export const PROTOCOL_VERSION = 1;

/** The ways to reach cardbridge, for the `transport` option and property. */
export const Transport = Object.freeze({
  EXTENSION: "extension",
  WEBSOCKET: "websocket",
});

/**
 * Every error code a CardBridgeError can carry: the daemon's protocol codes
 * plus the ones this client raises itself (marked "client").
 * @readonly
 * @enum {string}
 */
export const ErrorCode = Object.freeze({
  // Protocol codes sent by the daemon.
  BAD_REQUEST: "BAD_REQUEST",
  UNKNOWN_METHOD: "UNKNOWN_METHOD",
  MESSAGE_TOO_LARGE: "MESSAGE_TOO_LARGE",
  RATE_LIMITED: "RATE_LIMITED",
  TOO_MANY_PENDING: "TOO_MANY_PENDING",
  TIMEOUT: "TIMEOUT",
  CANCELLED: "CANCELLED",
  ORIGIN_NOT_ALLOWED: "ORIGIN_NOT_ALLOWED",
  CONSENT_DENIED: "CONSENT_DENIED",
  USER_CANCELLED: "USER_CANCELLED",
  NO_SERVICE: "NO_SERVICE",
  NO_READER: "NO_READER",
  NO_CARD: "NO_CARD",
  CARD_REMOVED: "CARD_REMOVED",
  UNKNOWN_CARD: "UNKNOWN_CARD",
  AMBIGUOUS_READER: "AMBIGUOUS_READER",
  PIN_INCORRECT: "PIN_INCORRECT",
  PIN_BLOCKED: "PIN_BLOCKED",
  PIN_LAST_TRY: "PIN_LAST_TRY",
  PINPAD_TIMEOUT: "PINPAD_TIMEOUT",
  CARD_ERROR: "CARD_ERROR",
  BUSY: "BUSY",
  INTERNAL: "INTERNAL",
  // Client codes.
  DAEMON_UNAVAILABLE: "DAEMON_UNAVAILABLE", // client: nothing answered on the port
  LOCAL_ACCESS_BLOCKED: "LOCAL_ACCESS_BLOCKED", // client: the browser refused the loopback connection
  DISCONNECTED: "DISCONNECTED", // client: the connection dropped with the request pending
  PROTOCOL_ERROR: "PROTOCOL_ERROR", // client: the daemon spoke something unexpected
  UNSUPPORTED_BROWSER: "UNSUPPORTED_BROWSER", // client: no WebSocket implementation
});

const CONNECTION_CODES = new Set([
  ErrorCode.DAEMON_UNAVAILABLE,
  ErrorCode.LOCAL_ACCESS_BLOCKED,
  ErrorCode.DISCONNECTED,
  ErrorCode.PROTOCOL_ERROR,
  ErrorCode.UNSUPPORTED_BROWSER,
  ErrorCode.ORIGIN_NOT_ALLOWED,
]);
const PIN_CODES = new Set([
  ErrorCode.PIN_INCORRECT,
  ErrorCode.PIN_BLOCKED,
  ErrorCode.PIN_LAST_TRY,
  ErrorCode.PINPAD_TIMEOUT,
]);
const CARD_CODES = new Set([
  ErrorCode.NO_SERVICE,
  ErrorCode.NO_READER,
  ErrorCode.NO_CARD,
  ErrorCode.CARD_REMOVED,
  ErrorCode.UNKNOWN_CARD,
  ErrorCode.AMBIGUOUS_READER,
  ErrorCode.CARD_ERROR,
  ErrorCode.BUSY,
]);
const USER_CODES = new Set([
  ErrorCode.CONSENT_DENIED,
  ErrorCode.USER_CANCELLED,
  ErrorCode.CANCELLED,
]);

/**
 * Base class of every error this module rejects with. `code` is one of
 * ErrorCode; `data` is the daemon's optional detail object (for example
 * `{ triesLeft: 2 }` with PIN_INCORRECT, `{ readers: [...] }` with
 * AMBIGUOUS_READER).
 */
export class CardBridgeError extends Error {
  /**
   * @param {string} code
   * @param {string} [message]
   * @param {object} [data]
   * @param {{cause?: unknown, method?: string, requestId?: number}} [extra]
   */
  constructor(code, message, data, extra = {}) {
    super(message || code, extra.cause === undefined ? undefined : { cause: extra.cause });
    this.name = "CardBridgeError";
    /** @type {string} */
    this.code = code;
    /** @type {object|undefined} */
    this.data = data;
    /** @type {string|undefined} */
    this.method = extra.method;
    /** @type {number|undefined} */
    this.requestId = extra.requestId;
  }
}

/** The daemon cannot be reached or the connection was lost. */
export class ConnectionError extends CardBridgeError {
  constructor(code, message, data, extra) {
    super(code, message, data, extra);
    this.name = "ConnectionError";
  }
}

/** A PIN problem: wrong PIN (see triesLeft), blocked, last try refused, pinpad timeout. */
export class PinError extends CardBridgeError {
  constructor(code, message, data, extra) {
    super(code, message, data, extra);
    this.name = "PinError";
  }
  /** Tries left after a wrong PIN, when the daemon reported it. */
  get triesLeft() {
    return typeof this.data?.triesLeft === "number" ? this.data.triesLeft : undefined;
  }
}

/** Reader, card or smart card service problem. */
export class CardError extends CardBridgeError {
  constructor(code, message, data, extra) {
    super(code, message, data, extra);
    this.name = "CardError";
  }
}

/** The user (or the page, with an AbortSignal) said no or cancelled. */
export class UserCancelledError extends CardBridgeError {
  constructor(code, message, data, extra) {
    super(code, message, data, extra);
    this.name = "UserCancelledError";
  }
}

/**
 * Builds the right subclass for a code.
 * @returns {CardBridgeError}
 */
export function makeError(code, message, data, extra) {
  const C = CONNECTION_CODES.has(code)
    ? ConnectionError
    : PIN_CODES.has(code)
      ? PinError
      : CARD_CODES.has(code)
        ? CardError
        : USER_CODES.has(code)
          ? UserCancelledError
          : CardBridgeError;
  return new C(code, message, data, extra);
}

// Card methods get the long timeout: PIN and signature dialogs take a
// person's time, and a first request that has to connect waits for the
// consent dialog too. The daemon's own limit for a dialog is 120 s; ours is
// a little longer so that its answer arrives first.
const LONG_TIMEOUT_MS = 135_000;
const SHORT_TIMEOUT_MS = 35_000;
const SHORT_METHODS = new Set(["version", "cancel"]);

// The daemon asks the user about an origin it does not know before it
// completes the WebSocket handshake, and refuses it with HTTP 403 unless the
// user allows it. The page cannot see the 403, but it can see how long the
// refusal took: a policy refusal is immediate, a refusal after at least
// this long came from a person answering the daemon's consent dialog.
const CONSENT_ANSWER_MIN_MS = 1_000;
// How long the daemon refuses an origin again, without asking, after the
// user denied it (its DenyCooldown).
const RECENT_DENIAL_MS = 30_000;

const DIGEST_LENGTHS = { "SHA-256": 32, "SHA-384": 48, "SHA-512": 64 };

// Permission names for loopback access, newest first. Chromium split the
// original "local-network-access" permission into "local-network" and
// "loopback-network"; the daemon is on loopback. Browsers that do not know
// a name make permissions.query reject, so each is tried in turn.
const LOOPBACK_PERMISSION_NAMES = ["loopback-network", "local-network-access"];

/**
 * Client for the cardbridge daemon.
 *
 * Requests get increasing integer ids and may overlap. Each has a timeout
 * and can be aborted with an AbortSignal, which sends the protocol's
 * `cancel` to the daemon. When an established connection drops, pending
 * requests reject with DISCONNECTED, a "disconnect" event fires and the
 * client reconnects with exponential backoff (if `reconnect.retries` > 0),
 * firing "connect" and, if the page had subscribed by calling readers(), a
 * fresh "readers" event.
 */
export class CardBridge {
  #url;
  #WebSocket;
  #permissions;
  #fetch;
  #timeoutMs;
  #connectTimeoutMs;
  #consentTimeoutMs;
  #reconnect;
  #probe;
  #window;
  #transportChoice; // "auto" | "extension" | "websocket"
  #extensionProbeMs;
  #transport = null; // the transport of the current or last connection
  #deniedAt = 0; // when the daemon last refused this page after asking the user

  #ws = null;
  #state = "idle"; // idle | connecting | open | closed
  #connecting = null; // Promise<Hello> while connecting
  #hello = null;
  #nextId = 1;
  #pending = new Map(); // id -> {resolve, reject, timer, method, cleanup}
  #handlers = new Map(); // event -> Set<fn>
  #subscribedReaders = false;
  #closedByUser = false;
  #reconnectTimer = null;
  #attempt = 0;

  /**
   * @param {object} [options]
   * @param {string} [options.url] daemon endpoint, default ws://127.0.0.1:27183/v1
   * @param {number} [options.timeoutMs] per-request timeout for card methods
   * @param {number} [options.connectTimeoutMs] how long connect() waits for the daemon to answer
   * @param {number} [options.consentTimeoutMs] how long connect() waits in all while the daemon
   *   asks the user whether this site may use the card
   * @param {{retries?: number, delayMs?: number, maxDelayMs?: number}} [options.reconnect]
   * @param {typeof WebSocket} [options.WebSocket] WebSocket implementation (tests, Node)
   * @param {Permissions} [options.permissions] navigator.permissions replacement (tests)
   * @param {typeof fetch} [options.fetch] fetch replacement for the health probe (tests)
   * @param {boolean} [options.probe] probe GET /v1/health after a failed connect (default true)
   * @param {"auto"|"extension"|"websocket"} [options.transport] "auto" (default): the
   *   extension when the page has it, else the WebSocket
   * @param {number} [options.extensionProbeMs] how long connect() waits for the extension to
   *   answer its probe (default 400 ms; the extension's content script runs before the page's
   *   scripts, so it answers at once when present)
   * @param {Window} [options.window] the window the extension's content script listens on (tests)
   */
  constructor({
    url = DEFAULT_URL,
    timeoutMs,
    connectTimeoutMs = 30_000,
    consentTimeoutMs = LONG_TIMEOUT_MS,
    reconnect = {},
    WebSocket: WS,
    permissions,
    fetch: fetchImpl,
    probe = true,
    transport = "auto",
    extensionProbeMs = 400,
    window: win,
  } = {}) {
    if (!["auto", Transport.EXTENSION, Transport.WEBSOCKET].includes(transport)) {
      throw new TypeError(`transport must be "auto", "extension" or "websocket", not ${transport}`);
    }
    this.#transportChoice = transport;
    this.#extensionProbeMs = extensionProbeMs;
    this.#window = win ?? (typeof globalThis.window === "object" ? globalThis.window : undefined);
    this.#url = url;
    this.#WebSocket = WS ?? globalThis.WebSocket;
    this.#permissions = permissions ?? globalThis.navigator?.permissions;
    this.#fetch = fetchImpl ?? globalThis.fetch?.bind(globalThis);
    this.#timeoutMs = timeoutMs;
    this.#connectTimeoutMs = connectTimeoutMs;
    this.#consentTimeoutMs = Math.max(consentTimeoutMs, connectTimeoutMs);
    this.#reconnect = {
      retries: reconnect.retries ?? 5,
      delayMs: reconnect.delayMs ?? 500,
      maxDelayMs: reconnect.maxDelayMs ?? 30_000,
    };
    this.#probe = probe;
  }

  /** The endpoint URL. */
  get url() {
    return this.#url;
  }

  /**
   * How this client reaches cardbridge: "extension" (the cardbridge browser
   * extension and native messaging) or "websocket" (ws:// on loopback); null
   * before the first connect() chose.
   */
  get transport() {
    return this.#transport;
  }

  /** True while the connection is open and the hello was received. */
  get connected() {
    return this.#state === "open";
  }

  /** The daemon's hello ({protocol, version}) of the current connection, or null. */
  get hello() {
    return this.#hello;
  }

  /**
   * Opens the connection and waits for the daemon's hello. Calling it while
   * connected returns the current hello; while connecting, the same promise.
   * Card methods call it themselves when needed.
   *
   * For a site the user has not allowed yet, the daemon shows its consent
   * dialog first, and this waits for the answer (up to consentTimeoutMs).
   * It rejects with CONSENT_DENIED (a UserCancelledError) when the user
   * refuses, and with ORIGIN_NOT_ALLOWED when the daemon refuses the site
   * without asking.
   * @returns {Promise<{protocol: number, version: string}>}
   */
  connect() {
    if (this.#state === "open") return Promise.resolve(this.#hello);
    if (this.#connecting) return this.#connecting;
    this.#closedByUser = false;
    this.#clearReconnectTimer();
    this.#connecting = this.#open().finally(() => {
      this.#connecting = null;
    });
    return this.#connecting;
  }

  /** Closes the connection for good: no reconnect; pending requests reject with DISCONNECTED. */
  close() {
    this.#closedByUser = true;
    this.#clearReconnectTimer();
    const ws = this.#ws;
    this.#ws = null;
    this.#state = "closed";
    this.#hello = null;
    this.#failPending(new ConnectionError(ErrorCode.DISCONNECTED, "Connection closed by the page"));
    if (ws) {
      detach(ws);
      try {
        ws.close(1000, "client closed");
      } catch {
        // Closing a socket that never opened may throw in some engines.
      }
    }
  }

  /**
   * Subscribes to an event: "readers" (reader list changed; data like the
   * readers() result, possibly with an `error`), "connect" (hello),
   * "disconnect" ({code, reason, willReconnect}), "reconnecting" ({attempt,
   * delayMs}), "reconnectfailed" ({attempts}), "error" (a CardBridgeError
   * the daemon sent without a request id), or any other event name the
   * daemon sends.
   * @returns {() => void} a function that unsubscribes
   */
  on(event, handler) {
    if (!this.#handlers.has(event)) this.#handlers.set(event, new Set());
    this.#handlers.get(event).add(handler);
    return () => this.off(event, handler);
  }

  /** Removes a handler added with on(). */
  off(event, handler) {
    this.#handlers.get(event)?.delete(handler);
  }

  // ---- protocol methods -------------------------------------------------

  /** `version`: daemon and protocol version; needs no consent. */
  version(opts = {}) {
    return this.request("version", {}, opts);
  }

  /**
   * `readers`: the reader list. After the first successful call the page
   * receives "readers" events on every change (also after reconnects).
   */
  readers(opts = {}) {
    const p = this.request("readers", {}, opts);
    const q = p.then((r) => {
      this.#subscribedReaders = true;
      return r;
    });
    q.requestId = p.requestId;
    return q;
  }

  /** `card`: type, applet version, card number, chip serial, ATR. */
  card({ reader, ...opts } = {}) {
    return this.request("card", readerParams(reader), opts);
  }

  /** `identity`: the identity file, with the RRN signature check result. */
  identity({ reader, ...opts } = {}) {
    return this.request("identity", readerParams(reader), opts);
  }

  /** `address`: the address file, with the RRN signature check result. */
  address({ reader, ...opts } = {}) {
    return this.request("address", readerParams(reader), opts);
  }

  /** `photo`: the JPEG photo as base64, with its hash check result. */
  photo({ reader, ...opts } = {}) {
    return this.request("photo", readerParams(reader), opts);
  }

  /** `certificates`: the card's certificates as base64 DER. */
  certificates({ reader, ...opts } = {}) {
    return this.request("certificates", readerParams(reader), opts);
  }

  /** `pin.verify`: asks for the PIN (native prompt or pinpad) and checks it. */
  verifyPin({ reader, ...opts } = {}) {
    return this.request("pin.verify", readerParams(reader), opts);
  }

  /**
   * `authenticate`: a Web eID (web-eid:1) authentication token for the
   * portal's challenge nonce. The daemon signs hash(origin) ‖ hash(nonce)
   * with the page's real origin, so post the token to your own server only.
   * With `getSigningCertificate: true` the token is web-eid:1.1 and also
   * carries the signing certificate (`unverifiedSigningCertificates`), so
   * the portal needs no separate `certificates` call before a signature.
   */
  authenticate({ challengeNonce, reader, getSigningCertificate, ...opts } = {}) {
    if (typeof challengeNonce !== "string" || challengeNonce.length < 44 || challengeNonce.length > 128) {
      return rejectNow(ErrorCode.BAD_REQUEST, "challengeNonce must be a string of 44 to 128 characters", "authenticate");
    }
    const params = { ...readerParams(reader), challengeNonce };
    if (getSigningCertificate) params.getSigningCertificate = true;
    return this.request("authenticate", params, opts);
  }

  /**
   * `sign`: signs a digest with the card's signature key after the user
   * confirmed in the daemon's own dialog. `digest` is a Uint8Array,
   * ArrayBuffer or base64 string of the hash of the document; ECDSA
   * signatures come back as raw r‖s, RSA ones as PKCS #1 v1.5.
   */
  sign({ digest, hashAlgorithm, documentName, reader, ...opts } = {}) {
    const want = DIGEST_LENGTHS[hashAlgorithm];
    if (!want) {
      return rejectNow(ErrorCode.BAD_REQUEST, "hashAlgorithm must be SHA-256, SHA-384 or SHA-512", "sign");
    }
    let b64;
    try {
      b64 = toBase64(digest);
    } catch (e) {
      return rejectNow(ErrorCode.BAD_REQUEST, String(e.message || e), "sign");
    }
    if (base64Length(b64) !== want) {
      return rejectNow(ErrorCode.BAD_REQUEST, `a ${hashAlgorithm} digest is ${want} bytes`, "sign");
    }
    const params = { ...readerParams(reader), digest: b64, hashAlgorithm };
    if (documentName !== undefined) params.documentName = String(documentName);
    return this.request("sign", params, opts);
  }

  /** `cancel`: asks the daemon to cancel request `id`. Resolves to {cancelled}. */
  cancel(id, opts = {}) {
    return this.request("cancel", { id }, opts);
  }

  /**
   * Sends any method. The returned promise has a `requestId` property.
   * @param {string} method
   * @param {object} [params]
   * @param {{signal?: AbortSignal, timeoutMs?: number}} [opts]
   */
  request(method, params = {}, { signal, timeoutMs } = {}) {
    const id = this.#nextId++;
    const timeout = timeoutMs ?? this.#timeoutMs ?? (SHORT_METHODS.has(method) ? SHORT_TIMEOUT_MS : LONG_TIMEOUT_MS);
    const extra = { method, requestId: id };
    const p = new Promise((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortError(signal, extra));
        return;
      }
      let settled = false;
      let sent = false;
      const entry = {
        method,
        resolve: (v) => finish(() => resolve(v)),
        reject: (e) => finish(() => reject(e)),
      };
      const onAbort = () => {
        // Tell the daemon so it closes any prompt and stops the card work;
        // the answer to the cancel itself is of no interest here.
        if (sent && this.#state === "open") this.#sendCancel(id);
        entry.reject(abortError(signal, extra));
      };
      const timer = setTimeout(() => {
        if (sent && this.#state === "open") this.#sendCancel(id);
        entry.reject(makeError(ErrorCode.TIMEOUT, `No answer to ${method} within ${timeout} ms`, { clientSide: true }, extra));
      }, timeout);
      const finish = (fn) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        this.#pending.delete(id);
        fn();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#pending.set(id, entry);

      const send = () => {
        if (settled) return;
        try {
          this.#ws.send(JSON.stringify({ id, method, params }));
          sent = true;
        } catch (e) {
          entry.reject(new ConnectionError(ErrorCode.DISCONNECTED, "Could not send the request", undefined, { ...extra, cause: e }));
        }
      };
      if (this.#state === "open") {
        send();
      } else {
        this.connect().then(send, (e) =>
          entry.reject(makeError(e.code ?? ErrorCode.DAEMON_UNAVAILABLE, e.message, e.data, { ...extra, cause: e.cause ?? e })),
        );
      }
    });
    p.requestId = id;
    return p;
  }

  // ---- connection internals ---------------------------------------------

  #emit(event, data) {
    for (const fn of [...(this.#handlers.get(event) ?? [])]) {
      try {
        fn(data);
      } catch (e) {
        // A page's handler bug must not break the client, nor vanish.
        if (typeof globalThis.reportError === "function") globalThis.reportError(e);
        else console.error(e);
      }
    }
  }

  async #open() {
    if (this.#transportChoice !== Transport.WEBSOCKET) {
      const ext = await findExtension(this.#window, this.#extensionProbeMs);
      // The page may have closed the client while the probe ran.
      if (this.#closedByUser) throw new ConnectionError(ErrorCode.DISCONNECTED, "Connection closed by the page");
      if (ext) {
        this.#transport = Transport.EXTENSION;
        return this.#openExtension(ext);
      }
      if (this.#transportChoice === Transport.EXTENSION) {
        this.#transport = Transport.EXTENSION;
        throw new ConnectionError(ErrorCode.DAEMON_UNAVAILABLE, "The cardbridge browser extension is not installed or not enabled on this page", {
          reason: "no-extension",
        });
      }
    }
    this.#transport = Transport.WEBSOCKET;
    return this.#openWebSocket();
  }

  // Opens a session through the extension. The host asks the user about
  // an origin it does not know before it says hello, so the wait for the
  // hello is the consent timeout. Failures carry the host's or the
  // extension's own code: no guessing as with a WebSocket.
  #openExtension(ext) {
    return new Promise((resolve, reject) => {
      this.#state = "connecting";
      const startedAt = Date.now();
      const sock = new ExtensionSocket(this.#window, ext.version);
      this.#ws = sock;
      let done = false;
      const fail = (err) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        detach(sock);
        if (this.#ws === sock) this.#ws = null;
        this.#state = "closed";
        sock.close();
        reject(err);
      };
      const timer = setTimeout(
        () =>
          fail(
            makeError(ErrorCode.CONSENT_DENIED, "The user did not answer whether this site may use the card", {
              reason: "consent-timeout",
              waitedMs: Date.now() - startedAt,
              transport: Transport.EXTENSION,
            }),
          ),
        this.#consentTimeoutMs,
      );
      sock.onclose = (ev) => {
        const r = ev?.cardbridge ?? {};
        fail(
          makeError(String(r.code || ErrorCode.DAEMON_UNAVAILABLE), r.message || "The cardbridge extension closed the session", {
            reason: "extension-closed",
            transport: Transport.EXTENSION,
          }),
        );
      };
      sock.onmessage = (ev) => {
        let msg;
        try {
          msg = JSON.parse(ev.data);
        } catch {
          msg = null;
        }
        if (msg?.event === "refused") {
          // The host ends the session after this; the user or the
          // administrator's policy refused the page.
          const { code, message, data } = msg.data ?? {};
          const waitedMs = Date.now() - startedAt;
          if (code === ErrorCode.CONSENT_DENIED) this.#deniedAt = Date.now();
          fail(makeError(String(code || ErrorCode.ORIGIN_NOT_ALLOWED), message, { ...data, waitedMs, transport: Transport.EXTENSION }));
          return;
        }
        const bad = helloError(msg, { transport: Transport.EXTENSION });
        if (bad) {
          fail(bad);
          return;
        }
        const hello = msg.data;
        done = true;
        clearTimeout(timer);
        this.#attach(sock, hello);
        resolve(hello);
      };
    });
  }

  #openWebSocket() {
    return new Promise((resolve, reject) => {
      const WS = this.#WebSocket;
      if (typeof WS !== "function") {
        reject(new ConnectionError(ErrorCode.UNSUPPORTED_BROWSER, "This browser has no WebSocket support"));
        return;
      }
      this.#state = "connecting";
      const startedAt = Date.now();
      // When the daemon can have received the handshake: now, unless the
      // browser first asks the user for local network access, in which case
      // from when that was answered. The time from then to a refusal tells
      // whether the daemon asked the user (see #classifyOpenFailure).
      let reachedAt = startedAt;
      const stopWatching = this.#probe ? this.#onPermissionAnswered(() => (reachedAt = Date.now())) : () => {};
      let ws;
      try {
        ws = new WS(this.#url);
      } catch (e) {
        this.#state = "closed";
        // Safari (and any browser strict about mixed content) throws a
        // SecurityError from the constructor when an https page opens a
        // ws:// URL, even to loopback.
        if (e?.name === "SecurityError") {
          reject(
            new ConnectionError(
              ErrorCode.LOCAL_ACCESS_BLOCKED,
              "The browser blocked the connection to the local cardbridge service (mixed content)",
              { reason: "mixed-content" },
              { cause: e },
            ),
          );
        } else {
          reject(new ConnectionError(ErrorCode.DAEMON_UNAVAILABLE, `Cannot open ${this.#url}`, { reason: "constructor" }, { cause: e }));
        }
        return;
      }
      this.#ws = ws;
      let opened = false;
      let done = false;
      const fail = (err) => {
        if (done) return;
        done = true;
        stopWatching();
        clearTimeout(timer);
        detach(ws);
        // Node's ws reports closing a socket still in its handshake as an
        // error event, which would be thrown without a listener.
        ws.onerror = () => {};
        if (this.#ws === ws) this.#ws = null;
        this.#state = "closed";
        try {
          ws.close();
        } catch {
          // ignore
        }
        reject(err);
      };
      // No answer in time: the daemon may be asking the user about this
      // site (it holds the handshake meanwhile), or the browser may be
      // asking for local network access, or nothing answers at all.
      const noAnswer = async () => {
        if (opened) {
          fail(new ConnectionError(ErrorCode.PROTOCOL_ERROR, "The service did not greet the page (is this really cardbridge?)"));
          return;
        }
        const waited = Date.now() - startedAt;
        if (waited < this.#consentTimeoutMs && this.#probe && (await this.#healthAnswers())) {
          // The daemon runs: its consent dialog is open. Wait for the
          // user, who answers there, up to the consent timeout.
          if (!done) timer = setTimeout(consentTimedOut, this.#consentTimeoutMs - (Date.now() - startedAt));
          return;
        }
        const permission = await this.#permissionState();
        fail(
          permission === "prompt"
            ? new ConnectionError(ErrorCode.LOCAL_ACCESS_BLOCKED, "The browser is asking for permission to access this device", {
                reason: "permission-prompt",
                permission,
              })
            : new ConnectionError(ErrorCode.DAEMON_UNAVAILABLE, "The cardbridge service did not answer in time", {
                reason: "timeout",
                permission,
              }),
        );
      };
      const consentTimedOut = () => {
        if (opened) {
          noAnswer();
          return;
        }
        // Closing the socket closes the daemon's dialog too.
        fail(
          makeError(ErrorCode.CONSENT_DENIED, "The user did not answer whether this site may use the card", {
            reason: "consent-timeout",
            waitedMs: Date.now() - startedAt,
          }),
        );
      };
      let timer = setTimeout(noAnswer, this.#connectTimeoutMs);

      ws.onopen = () => {
        opened = true;
      };
      ws.onerror = () => {
        // Browsers give no detail here on purpose; onclose follows.
      };
      ws.onclose = (ev) => {
        if (done) return;
        if (opened) {
          fail(new ConnectionError(ErrorCode.DISCONNECTED, "The service closed the connection during the handshake", { code: ev?.code, reason: ev?.reason }));
          return;
        }
        done = true; // classification is async; keep later events out
        clearTimeout(timer);
        detach(ws);
        if (this.#ws === ws) this.#ws = null;
        this.#state = "closed";
        stopWatching();
        this.#classifyOpenFailure(Date.now() - reachedAt).then(reject, reject);
      };
      ws.onmessage = (ev) => {
        let msg;
        try {
          msg = JSON.parse(typeof ev.data === "string" ? ev.data : String(ev.data));
        } catch {
          fail(new ConnectionError(ErrorCode.PROTOCOL_ERROR, "The service sent something that is not JSON"));
          return;
        }
        const bad = helloError(msg);
        if (bad) {
          fail(bad);
          return;
        }
        const hello = msg.data;
        done = true;
        stopWatching();
        clearTimeout(timer);
        this.#attach(ws, hello);
        resolve(hello);
      };
    });
  }

  // Installs the steady-state handlers once the hello arrived.
  #attach(ws, hello) {
    this.#ws = ws;
    this.#hello = hello;
    this.#state = "open";
    this.#attempt = 0;
    ws.onmessage = (ev) => this.#onMessage(ev);
    ws.onerror = () => {};
    ws.onclose = (ev) => this.#onClose(ws, ev);
    this.#emit("connect", hello);
  }

  #onMessage(ev) {
    let msg;
    try {
      msg = JSON.parse(typeof ev.data === "string" ? ev.data : String(ev.data));
    } catch {
      return; // not ours to answer; the daemon never sends this
    }
    if (msg === null || typeof msg !== "object") return;
    if (msg.error && (msg.id === null || msg.id === undefined)) {
      // An error the daemon could not tie to a request (for example a
      // message it could not parse): surface it rather than drop it.
      const { code, message, data } = msg.error;
      this.#emit("error", makeError(String(code || ErrorCode.INTERNAL), message, data));
      return;
    }
    if ("id" in msg && msg.id !== null) {
      const entry = this.#pending.get(msg.id);
      if (!entry) return; // late answer to a timed-out or aborted request
      if (msg.error) {
        const { code, message, data } = msg.error;
        entry.reject(makeError(String(code || ErrorCode.INTERNAL), message, data, { method: entry.method, requestId: msg.id }));
      } else {
        entry.resolve(msg.result);
      }
      return;
    }
    if (typeof msg.event === "string") this.#emit(msg.event, msg.data);
  }

  #onClose(ws, ev) {
    if (this.#ws !== ws) return;
    detach(ws);
    this.#ws = null;
    this.#state = "closed";
    this.#hello = null;
    const willReconnect = !this.#closedByUser && this.#reconnect.retries > 0;
    this.#failPending(
      new ConnectionError(ErrorCode.DISCONNECTED, "The connection to the cardbridge service was lost", { code: ev?.code, reason: ev?.reason }),
    );
    this.#emit("disconnect", { code: ev?.code, reason: ev?.reason, willReconnect });
    if (willReconnect) this.#scheduleReconnect();
  }

  #scheduleReconnect() {
    if (this.#attempt >= this.#reconnect.retries) {
      this.#emit("reconnectfailed", { attempts: this.#attempt });
      return;
    }
    const delayMs = Math.min(this.#reconnect.delayMs * 2 ** this.#attempt, this.#reconnect.maxDelayMs);
    this.#attempt++;
    this.#emit("reconnecting", { attempt: this.#attempt, delayMs });
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      if (this.#closedByUser || this.#state === "open") return;
      this.connect().then(
        () => this.#afterReconnect(),
        (e) => {
          if (this.#closedByUser || this.#state === "open") return;
          if (e?.code === ErrorCode.CONSENT_DENIED || e?.code === ErrorCode.ORIGIN_NOT_ALLOWED) {
            // A refusal, by the user or the daemon, is not a passing
            // failure: retrying would only ask the user again and again.
            this.#emit("reconnectfailed", { attempts: this.#attempt, error: e });
            return;
          }
          this.#scheduleReconnect();
        },
      );
    }, delayMs);
  }

  // After a reconnect the daemon knows nothing of this page's subscription:
  // ask for the readers again, which both re-subscribes and tells the page
  // what changed while it was away.
  #afterReconnect() {
    if (!this.#subscribedReaders) return;
    this.readers().then(
      (r) => this.#emit("readers", r),
      () => {},
    );
  }

  #clearReconnectTimer() {
    if (this.#reconnectTimer) {
      clearTimeout(this.#reconnectTimer);
      this.#reconnectTimer = null;
    }
  }

  #failPending(err) {
    for (const [id, entry] of [...this.#pending]) {
      const e = makeError(err.code, err.message, err.data, { method: entry.method, requestId: id });
      entry.reject(e);
    }
  }

  #sendCancel(targetId) {
    const id = this.#nextId++;
    try {
      this.#ws?.send(JSON.stringify({ id, method: "cancel", params: { id: targetId } }));
    } catch {
      // The connection is going away; the daemon cancels on disconnect anyway.
    }
  }

  /**
   * Works out why a WebSocket closed before opening. Browsers deliberately
   * give the page no reason (a refused TCP connection, an HTTP 403 from the
   * daemon and a browser policy block all look the same: close code 1006),
   * so this is a heuristic, in order:
   *
   * 1. Local Network Access permission (Chromium; "loopback-network", or
   *    the older "local-network-access") is "denied" → LOCAL_ACCESS_BLOCKED.
   * 2. A no-cors GET of /v1/health succeeds (an opaque response still means
   *    something answered on the port): the daemon runs but refused this
   *    page's handshake. Then:
   *    a. the refusal took a person's reaction time, counted from when
   *       the handshake could reach the daemon (after the browser's own
   *       permission prompt, if it showed one): the daemon asked the user,
   *       who did not allow the site → CONSENT_DENIED ("consent-refused");
   *    b. an immediate refusal shortly after such a denial: the daemon's
   *       cooldown → CONSENT_DENIED ("recently-refused");
   *    c. otherwise the daemon refuses the site without asking (plain http,
   *       --only-allowed-origins) or the user refused it from another page
   *       moments ago → ORIGIN_NOT_ALLOWED ("handshake-refused").
   * 3. Otherwise DAEMON_UNAVAILABLE; data.permission says what the browser
   *    reported ("granted", "prompt", or undefined when it has no such
   *    permission), so a page can word its advice with the right caution.
   *
   * @param {number} waitedMs how long the daemon took to refuse the handshake
   */
  async #classifyOpenFailure(waitedMs) {
    const permission = await this.#permissionState();
    if (permission === "denied") {
      return new ConnectionError(ErrorCode.LOCAL_ACCESS_BLOCKED, "The browser blocked access to the local cardbridge service", {
        reason: "permission-denied",
        permission,
      });
    }
    if (this.#probe && (await this.#healthAnswers())) {
      const now = Date.now();
      if (waitedMs >= CONSENT_ANSWER_MIN_MS) {
        this.#deniedAt = now;
        return makeError(ErrorCode.CONSENT_DENIED, "The user did not allow this site to use the card", {
          reason: "consent-refused",
          waitedMs,
          permission,
        });
      }
      if (now - this.#deniedAt < RECENT_DENIAL_MS) {
        return makeError(ErrorCode.CONSENT_DENIED, "The user did not allow this site to use the card moments ago", {
          reason: "recently-refused",
          waitedMs,
          permission,
        });
      }
      return new ConnectionError(
        ErrorCode.ORIGIN_NOT_ALLOWED,
        "The cardbridge service is running but refused this page: the site is not allowed, or the user refused it moments ago",
        { reason: "handshake-refused", waitedMs, permission },
      );
    }
    return new ConnectionError(ErrorCode.DAEMON_UNAVAILABLE, "The cardbridge service is not installed or not running", {
      reason: "no-answer",
      permission,
    });
  }

  async #permissionState() {
    return (await this.#permissionStatus())?.state;
  }

  // The browser's PermissionStatus for loopback access, if it has one.
  async #permissionStatus() {
    const perms = this.#permissions;
    if (!perms || typeof perms.query !== "function") return undefined;
    for (const name of LOOPBACK_PERMISSION_NAMES) {
      try {
        const status = await perms.query({ name });
        if (status?.state) return status;
      } catch {
        // Unknown permission name in this browser: try the next one.
      }
    }
    return undefined;
  }

  // Calls fn when the loopback permission, still undecided, gets decided:
  // the browser held the connection while it asked. A state of "prompt"
  // alone proves nothing (Chromium reports it for pages it never asks
  // about). Returns a function that stops watching.
  #onPermissionAnswered(fn) {
    let stopped = false;
    let stop = () => {
      stopped = true;
    };
    this.#permissionStatus().then(
      (status) => {
        if (stopped || status?.state !== "prompt" || typeof status.addEventListener !== "function") return;
        const onchange = () => fn();
        status.addEventListener("change", onchange);
        stop = () => status.removeEventListener("change", onchange);
      },
      () => {},
    );
    return () => stop();
  }

  async #healthAnswers() {
    if (typeof this.#fetch !== "function") return false;
    let url;
    try {
      url = healthURL(this.#url);
    } catch {
      return false;
    }
    const ctrl = typeof AbortController === "function" ? new AbortController() : undefined;
    const timer = ctrl ? setTimeout(() => ctrl.abort(), 3000) : undefined;
    try {
      await this.#fetch(url, { mode: "no-cors", cache: "no-store", credentials: "omit", signal: ctrl?.signal });
      return true;
    } catch {
      return false;
    } finally {
      clearTimeout(timer);
    }
  }
}

// ---- the extension transport ------------------------------------------------
//
// The cardbridge extension's content script and the page talk with window
// messages tagged {cardbridge: "page" | "extension"} (docs/protocol.md §10).

const EXTENSION_TAG = "extension";
const PAGE_TAG = "page";

function postToSelf(win, msg) {
  // The message is for this window only; its own origin as the target
  // keeps it from a document the window may have navigated to since.
  const origin = win.location?.origin;
  win.postMessage({ cardbridge: PAGE_TAG, ...msg }, origin && origin !== "null" ? origin : "*");
}

function fromExtension(win, ev) {
  const m = ev?.data;
  return ev.source === win && m !== null && typeof m === "object" && m.cardbridge === EXTENSION_TAG ? m : null;
}

/**
 * Looks for the cardbridge extension's content script in win: it announces
 * itself on its own at document_start, and again when asked. Resolves to
 * {version} or, after timeoutMs without an answer, null.
 */
function findExtension(win, timeoutMs) {
  if (!win || typeof win.postMessage !== "function" || typeof win.addEventListener !== "function") return Promise.resolve(null);
  return new Promise((resolve) => {
    const onMessage = (ev) => {
      const m = fromExtension(win, ev);
      if (m?.type === "present" && m.protocol === PROTOCOL_VERSION) finish({ version: typeof m.version === "string" ? m.version : "" });
    };
    const finish = (v) => {
      clearTimeout(timer);
      win.removeEventListener("message", onMessage);
      resolve(v);
    };
    const timer = setTimeout(() => finish(null), timeoutMs);
    win.addEventListener("message", onMessage);
    postToSelf(win, { type: "probe" });
  });
}

function newSessionId() {
  const c = globalThis.crypto;
  if (typeof c?.randomUUID === "function") return c.randomUUID();
  const b = new Uint8Array(16);
  c.getRandomValues(b);
  return Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
}

/**
 * One session through the extension, shaped like the parts of a WebSocket
 * the client uses (send, close, onmessage, onclose), so that everything
 * after the hello is the same code for both transports. Messages are JSON
 * text on this side, as with a WebSocket; they travel as objects.
 */
class ExtensionSocket {
  onmessage = null;
  onclose = null;
  onerror = null;
  onopen = null;
  #win;
  #session = newSessionId();
  #listener;
  #closed = false;

  constructor(win, extensionVersion) {
    this.#win = win;
    this.extensionVersion = extensionVersion;
    this.#listener = (ev) => {
      const m = fromExtension(win, ev);
      if (!m || m.session !== this.#session) return;
      if (m.type === "message") {
        this.onmessage?.({ data: JSON.stringify(m.data) });
      } else if (m.type === "closed") {
        this.#end();
        const reason = m.reason && typeof m.reason === "object" ? m.reason : {};
        this.onclose?.({ code: 1006, reason: String(reason.message ?? ""), cardbridge: reason });
      }
    };
    win.addEventListener("message", this.#listener);
    postToSelf(win, { type: "open", session: this.#session });
  }

  send(text) {
    if (this.#closed) throw new Error("the session is closed");
    postToSelf(this.#win, { type: "message", session: this.#session, data: JSON.parse(text) });
  }

  close() {
    if (this.#closed) return;
    postToSelf(this.#win, { type: "close", session: this.#session });
    this.#end();
  }

  #end() {
    this.#closed = true;
    this.#win.removeEventListener("message", this.#listener);
  }
}

// ---- helpers --------------------------------------------------------------

// The error for a first message that is not a protocol-1 hello, or null.
function helloError(msg, data = {}) {
  if (msg?.event !== "hello") return new ConnectionError(ErrorCode.PROTOCOL_ERROR, "Expected the hello event first", data);
  const hello = msg.data ?? {};
  if (hello.protocol === PROTOCOL_VERSION) return null;
  return new ConnectionError(ErrorCode.PROTOCOL_ERROR, `The service speaks protocol ${hello.protocol}, this page needs ${PROTOCOL_VERSION}`, {
    protocol: hello.protocol,
    version: hello.version,
    ...data,
  });
}

function detach(ws) {
  ws.onopen = ws.onclose = ws.onmessage = ws.onerror = null;
}

function readerParams(reader) {
  return reader === undefined || reader === null || reader === "" ? {} : { reader: String(reader) };
}

function rejectNow(code, message, method) {
  const p = Promise.reject(makeError(code, message, undefined, { method }));
  p.requestId = undefined;
  return p;
}

function abortError(signal, extra) {
  return makeError(ErrorCode.CANCELLED, "The request was aborted by the page", undefined, { ...extra, cause: signal?.reason });
}

/** ws://host:port/v1 → http://host:port/v1/health */
export function healthURL(wsURL) {
  const u = new URL(wsURL);
  u.protocol = u.protocol === "wss:" ? "https:" : "http:";
  u.pathname = u.pathname.replace(/\/+$/, "") + "/health";
  u.search = "";
  u.hash = "";
  return u.toString();
}

/** Bytes (Uint8Array, ArrayBuffer, other views) or a base64 string → standard base64. */
export function toBase64(v) {
  if (typeof v === "string") {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(v) || v.length % 4 !== 0) throw new TypeError("digest is not standard base64");
    return v;
  }
  let bytes;
  if (v instanceof Uint8Array) bytes = v;
  else if (v instanceof ArrayBuffer) bytes = new Uint8Array(v);
  else if (ArrayBuffer.isView(v)) bytes = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
  else throw new TypeError("digest must be a Uint8Array, ArrayBuffer or base64 string");
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s);
}

/** Standard base64 → Uint8Array. */
export function fromBase64(s) {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function base64Length(b64) {
  const pad = b64.endsWith("==") ? 2 : b64.endsWith("=") ? 1 : 0;
  return (b64.length / 4) * 3 - pad;
}
