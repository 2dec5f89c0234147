// Type declarations for cardbridge.js, the browser client of the cardbridge
// daemon (protocol v1). Hand-written; keep in step with cardbridge.js.

/** Default daemon endpoint: ws://127.0.0.1:27183/v1. */
export const DEFAULT_URL: string;
/** Protocol version this client speaks (1). */
export const PROTOCOL_VERSION: 1;

/** How the client reaches cardbridge. */
export type TransportName = "extension" | "websocket";
export const Transport: Readonly<{ EXTENSION: "extension"; WEBSOCKET: "websocket" }>;

/** Error codes sent by the daemon (see docs/protocol.md). */
export type ProtocolErrorCode =
  | "BAD_REQUEST"
  | "UNKNOWN_METHOD"
  | "MESSAGE_TOO_LARGE"
  | "RATE_LIMITED"
  | "TOO_MANY_PENDING"
  | "TIMEOUT"
  | "CANCELLED"
  | "ORIGIN_NOT_ALLOWED"
  | "CONSENT_DENIED"
  | "USER_CANCELLED"
  | "NO_SERVICE"
  | "NO_READER"
  | "NO_CARD"
  | "CARD_REMOVED"
  | "UNKNOWN_CARD"
  | "AMBIGUOUS_READER"
  | "PIN_INCORRECT"
  | "PIN_BLOCKED"
  | "PIN_LAST_TRY"
  | "PINPAD_TIMEOUT"
  | "CARD_ERROR"
  | "BUSY"
  | "INTERNAL";

/**
 * Codes raised by the client itself.
 *
 * - DAEMON_UNAVAILABLE, through the extension (`data.transport`
 *   "extension"): the extension could not start the cardbridge host
 *   (usually "Specified native messaging host not found": cardbridge is not
 *   installed for this browser), or the host ended before answering; with
 *   transport "extension" and no extension, `data.reason` "no-extension".
 *   Through the extension, refusals are not guessed: the host says
 *   CONSENT_DENIED or ORIGIN_NOT_ALLOWED itself.
 * - DAEMON_UNAVAILABLE: the WebSocket never opened and nothing suggests the
 *   browser blocked it. Usually the daemon is not installed or not running.
 *   Browsers hide why a WebSocket failed (refused port, HTTP 403, policy
 *   block all end in close code 1006), so this is a best guess:
 *   `data.permission` carries the browser's loopback permission state
 *   ("granted", "prompt", or undefined where the browser has no such
 *   permission) so the page can hedge its advice.
 * - LOCAL_ACCESS_BLOCKED: the browser refused the loopback connection.
 *   `data.reason` is "mixed-content" (the WebSocket constructor threw a
 *   SecurityError, as Safari does for ws:// from an https page),
 *   "permission-denied" (Chromium's Local Network Access permission,
 *   queried as "loopback-network" and then the older
 *   "local-network-access", is denied) or "permission-prompt" (the connect
 *   timed out while that permission was still undecided, i.e. the browser
 *   is asking the user). Without a permission API a block is reported as
 *   DAEMON_UNAVAILABLE: there is no reliable way to tell.
 * - DISCONNECTED: the connection dropped (or close() was called) while the
 *   request was pending.
 * - PROTOCOL_ERROR: whatever answered is not a protocol-1 cardbridge daemon.
 * - UNSUPPORTED_BROWSER: no WebSocket implementation.
 *
 * Also, when a connect fails and a no-cors GET of /v1/health gets any
 * answer (something listens on the port), the daemon runs but refused this
 * page's handshake. The daemon refuses an origin the user has not allowed
 * at the handshake (HTTP 403), after asking the user in its consent dialog
 * or, for sites it may not ask about, at once. The client tells the two
 * apart by how long the refusal took and reports:
 *
 * - CONSENT_DENIED (a UserCancelledError) with data.reason
 *   "consent-refused" (the refusal took a person's reaction time: the user
 *   denied the site or closed the dialog), "recently-refused" (an immediate
 *   refusal within 30 s of such a denial: the daemon does not ask again so
 *   soon) or "consent-timeout" (nobody answered the dialog within
 *   consentTimeoutMs); data.waitedMs is how long the daemon took to refuse (counted from when
 *   the handshake could reach it: after the browser's own local network
 *   access prompt, if it showed one);
 * - ORIGIN_NOT_ALLOWED with data.reason "handshake-refused" otherwise: the
 *   daemon refuses the site without asking (a plain http page, a daemon run
 *   with --only-allowed-origins), or the user refused it moments ago from
 *   another page or before a reload.
 */
export type ClientErrorCode =
  | "DAEMON_UNAVAILABLE"
  | "LOCAL_ACCESS_BLOCKED"
  | "DISCONNECTED"
  | "PROTOCOL_ERROR"
  | "UNSUPPORTED_BROWSER";

export type ErrorCodeName = ProtocolErrorCode | ClientErrorCode;

export const ErrorCode: Readonly<{ [K in ErrorCodeName]: K }>;

/** Base class of every rejection from this module. */
export class CardBridgeError extends Error {
  constructor(code: string, message?: string, data?: object, extra?: { cause?: unknown; method?: string; requestId?: number });
  /** One of ErrorCode (or a newer daemon code this client does not know). */
  readonly code: ErrorCodeName | (string & {});
  /** The daemon's optional detail object. */
  readonly data?: Record<string, any>;
  /** Protocol method of the failed request, when there was one. */
  readonly method?: string;
  /** Id of the failed request, when one was sent. */
  readonly requestId?: number;
}
/** DAEMON_UNAVAILABLE, LOCAL_ACCESS_BLOCKED, DISCONNECTED, PROTOCOL_ERROR, UNSUPPORTED_BROWSER, ORIGIN_NOT_ALLOWED. */
export class ConnectionError extends CardBridgeError {}
/** PIN_INCORRECT, PIN_BLOCKED, PIN_LAST_TRY, PINPAD_TIMEOUT. */
export class PinError extends CardBridgeError {
  /** Tries left after PIN_INCORRECT, when the daemon reported it. */
  readonly triesLeft: number | undefined;
}
/** NO_SERVICE, NO_READER, NO_CARD, CARD_REMOVED, UNKNOWN_CARD, AMBIGUOUS_READER, CARD_ERROR, BUSY. */
export class CardError extends CardBridgeError {}
/** CONSENT_DENIED (also from connect(), when the user did not allow the site), USER_CANCELLED, CANCELLED (also an aborted AbortSignal). */
export class UserCancelledError extends CardBridgeError {}

/** Builds the CardBridgeError subclass that fits `code`. */
export function makeError(code: string, message?: string, data?: object, extra?: { cause?: unknown; method?: string; requestId?: number }): CardBridgeError;

export interface Hello {
  protocol: 1;
  version: string;
}

export interface VersionResult {
  protocol: number;
  version: string;
  os: string;
}

export interface ReaderInfo {
  name: string;
  cardPresent: boolean;
  card: { type: "beid" | (string & {}); atr: string } | null;
  pinpad: boolean;
}

export interface ReadersResult {
  readers: ReaderInfo[];
  /** Present in a readers event when the smart card service went away. */
  error?: { code: string; message: string; data?: object };
}

export interface CardResult {
  reader: string;
  type: string;
  applet: string;
  cardNumber: string;
  serial: string;
  atr: string;
}

export interface Integrity {
  valid: boolean;
  errors: string[];
}

export interface Identity {
  cardNumber: string;
  chipNumber: string;
  validFrom: string;
  validUntil: string;
  issuingMunicipality: string;
  nationalNumber: string;
  surname: string;
  givenNames: string;
  thirdNameInitial?: string;
  nationality: string;
  birthPlace: string;
  /** "YYYY-MM-DD", or "YYYY" / "YYYY-MM" for partial dates. */
  birthDate: string;
  sex: string;
  nobleCondition?: string;
  documentType: string;
  documentTypeName?: string;
  specialStatus?: string;
  [field: string]: unknown;
}

export interface IdentityResult {
  identity: Identity;
  integrity: Integrity;
}

export interface AddressResult {
  address: { street: string; zipCode: string; municipality: string };
  integrity: Integrity;
}

export interface PhotoResult {
  /** base64 JPEG */
  photo: string;
  mimeType: "image/jpeg";
  integrity: Integrity;
}

/** base64 DER certificates. */
export interface CertificatesResult {
  authentication: string;
  signing: string;
  ca: string;
  root: string;
  rrn: string;
}

/** A Web eID authentication token (format "web-eid:1"). */
export interface AuthToken {
  unverifiedCertificate: string;
  algorithm: "ES256" | "ES384" | "ES512" | "RS256" | "RS384" | "RS512" | "PS256" | "PS384" | "PS512";
  signature: string;
  /**
   * "web-eid:1" or a 1.x minor version: cardbridge sends "web-eid:1.0", or
   * "web-eid:1.1" when asked for the signing certificate.
   */
  format: "web-eid:1" | `web-eid:1.${string}`;
  appVersion: string;
  /** web-eid:1.1: the card's signing certificate, for a later `sign`. Validate it on the server. */
  unverifiedSigningCertificates?: SigningCertificate[];
}

export interface SigningCertificate {
  /** base64 DER. */
  certificate: string;
  supportedSignatureAlgorithms: SignatureAlgorithm[];
}

export interface SignatureAlgorithm {
  cryptoAlgorithm: "ECC" | "RSA";
  hashFunction: HashAlgorithm;
  paddingScheme: "NONE" | "PKCS1.5" | "PSS";
}

export type HashAlgorithm = "SHA-256" | "SHA-384" | "SHA-512";

export interface SignResult {
  /** base64; ECDSA as raw r‖s (IEEE P1363), RSA as PKCS #1 v1.5. */
  signature: string;
  signatureAlgorithm: {
    cryptoAlgorithm: "ECC" | "RSA";
    hashFunction: HashAlgorithm;
    paddingScheme: "NONE" | "PKCS1.5";
  };
  /** base64 DER of the signing certificate. */
  certificate: string;
}

/** Per-request options. */
export interface RequestOptions {
  /** Aborting sends `cancel` to the daemon and rejects with CANCELLED. */
  signal?: AbortSignal;
  /** Client-side timeout; on expiry a `cancel` is sent and the promise rejects with TIMEOUT. */
  timeoutMs?: number;
}

export interface ReaderOptions extends RequestOptions {
  /** Reader name; omitted = the only reader holding a Belgian eID. */
  reader?: string;
}

/** A promise of a request's result that also tells the request's id (for cancel()). */
export type RequestPromise<T> = Promise<T> & { readonly requestId: number | undefined };

export interface CardBridgeOptions {
  /** Default ws://127.0.0.1:27183/v1. */
  url?: string;
  /** Per-request timeout; default 135 s for card methods, 35 s for version and cancel. */
  timeoutMs?: number;
  /** How long connect() waits for the daemon to answer; default 30 s. */
  connectTimeoutMs?: number;
  /**
   * How long connect() waits in all when the daemon answers /v1/health but
   * holds the handshake: it is asking the user whether this site may use
   * the card. Default 135 s (the daemon's dialog closes after 120 s). Some
   * browsers give up on a WebSocket handshake sooner (Firefox after 20 s).
   */
  consentTimeoutMs?: number;
  /** Reconnect after an unexpected close: delay doubles from delayMs up to maxDelayMs. Defaults 5 / 500 ms / 30 s; retries 0 disables. */
  reconnect?: { retries?: number; delayMs?: number; maxDelayMs?: number };
  /** WebSocket implementation; default globalThis.WebSocket (pass ws's in Node). */
  WebSocket?: any;
  /** Replacement for navigator.permissions (tests). */
  permissions?: { query(desc: { name: string }): Promise<{ state: string }> };
  /** Replacement for fetch, used by the health probe (tests). */
  fetch?: typeof fetch;
  /** Probe GET /v1/health (mode no-cors) after a failed connect to tell "refused" from "absent". Default true. */
  probe?: boolean;
  /**
   * "auto" (default): the cardbridge extension when the page has it, else
   * the WebSocket. "extension" or "websocket" to use only that one.
   */
  transport?: "auto" | TransportName;
  /** How long connect() waits for the extension's answer to its probe; default 400 ms. */
  extensionProbeMs?: number;
  /** The window the extension's content script listens on; default globalThis.window (tests). */
  window?: any;
}

export interface CardBridgeEvents {
  readers: ReadersResult;
  connect: Hello;
  disconnect: { code?: number; reason?: string; willReconnect: boolean };
  reconnecting: { attempt: number; delayMs: number };
  /** Reconnecting gave up: after `attempts` failures, or at once when the daemon or the user refused the page (`error`: CONSENT_DENIED or ORIGIN_NOT_ALLOWED). */
  reconnectfailed: { attempts: number; error?: CardBridgeError };
  /** An error the daemon sent without a request id (e.g. for an unparsable message). */
  error: CardBridgeError;
  [event: string]: unknown;
}

export class CardBridge {
  constructor(options?: CardBridgeOptions);
  readonly url: string;
  /** The transport of the current or last connection; null before the first connect(). */
  readonly transport: TransportName | null;
  readonly connected: boolean;
  readonly hello: Hello | null;

  /**
   * Opens the connection. For a site the user has not allowed yet, the
   * daemon's consent dialog is answered first; rejects with CONSENT_DENIED
   * or ORIGIN_NOT_ALLOWED when the page is refused.
   */
  connect(): Promise<Hello>;
  close(): void;
  on<E extends keyof CardBridgeEvents>(event: E, handler: (data: CardBridgeEvents[E]) => void): () => void;
  off<E extends keyof CardBridgeEvents>(event: E, handler: (data: CardBridgeEvents[E]) => void): void;

  version(opts?: RequestOptions): RequestPromise<VersionResult>;
  readers(opts?: RequestOptions): RequestPromise<ReadersResult>;
  card(opts?: ReaderOptions): RequestPromise<CardResult>;
  identity(opts?: ReaderOptions): RequestPromise<IdentityResult>;
  address(opts?: ReaderOptions): RequestPromise<AddressResult>;
  photo(opts?: ReaderOptions): RequestPromise<PhotoResult>;
  certificates(opts?: ReaderOptions): RequestPromise<CertificatesResult>;
  verifyPin(opts?: ReaderOptions): RequestPromise<{ verified: true }>;
  authenticate(opts: ReaderOptions & { challengeNonce: string; getSigningCertificate?: boolean }): RequestPromise<AuthToken>;
  sign(
    opts: ReaderOptions & {
      digest: Uint8Array | ArrayBuffer | ArrayBufferView | string;
      hashAlgorithm: HashAlgorithm;
      /** Shown in the daemon's confirmation dialog; at most 200 characters. */
      documentName?: string;
    },
  ): RequestPromise<SignResult>;
  cancel(id: number, opts?: RequestOptions): RequestPromise<{ cancelled: boolean }>;
  /** Sends any method. */
  request<T = unknown>(method: string, params?: object, opts?: RequestOptions): RequestPromise<T>;
}

/** ws://host:port/v1 → http://host:port/v1/health */
export function healthURL(wsURL: string): string;
/** Bytes or base64 string → standard base64. */
export function toBase64(v: Uint8Array | ArrayBuffer | ArrayBufferView | string): string;
/** Standard base64 → bytes. */
export function fromBase64(s: string): Uint8Array;
