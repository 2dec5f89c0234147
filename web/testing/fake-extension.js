// A stand-in browser for unit tests of the extension and of the client's
// extension transport: a window that delivers postMessage like a browser
// does (asynchronously, structured-cloned, with event.source), the
// extension's real content.js and background.js run in vm contexts over a
// fake runtime API, and a scripted native host in place of cardbridge.
//
// The end-to-end tests (e2e/) use real browsers and the real host; this
// only makes the JavaScript's own logic testable in node.

import fs from "node:fs";
import path from "node:path";
import vm from "node:vm";
import { fileURLToPath } from "node:url";

const extDir = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "extension");
const EXT_ID = "eabimfdgphmkgijljjnoadmjicgbnnkk";

const tick = () => new Promise((r) => setTimeout(r, 0));

// A "message" event as a browser dispatches it (node's own MessageEvent
// insists on a MessagePort as the source).
function messageEvent(data, origin, source) {
  const ev = new Event("message");
  Object.defineProperties(ev, { data: { value: data }, origin: { value: origin }, source: { value: source } });
  return ev;
}

/** A window: postMessage dispatches a message event to itself, later. */
export class FakeWindow extends EventTarget {
  constructor(origin) {
    super();
    this.location = { origin, href: origin + "/" };
    this.posted = [];
  }
  postMessage(data, targetOrigin) {
    const clone = structuredClone(data);
    this.posted.push(clone);
    setTimeout(() => {
      if (targetOrigin !== "*" && targetOrigin !== this.location.origin) return;
      this.dispatchEvent(messageEvent(clone, this.location.origin, this));
    }, 0);
  }
  /** A message from another window (a frame): event.source is not this window. */
  postFromElsewhere(data) {
    setTimeout(() => this.dispatchEvent(messageEvent(structuredClone(data), "https://frame.example", null)), 0);
  }
}

// An event like runtime.Port.onMessage.
function event() {
  const fns = new Set();
  return {
    addListener: (f) => fns.add(f),
    removeListener: (f) => fns.delete(f),
    fire: (...a) => {
      for (const f of [...fns]) f(...a);
    },
  };
}

// Two connected runtime.Port objects.
function portPair(name, senderForB) {
  const mk = () => ({ name, onMessage: event(), onDisconnect: event(), connected: true });
  const a = mk();
  const b = mk();
  b.sender = senderForB;
  const link = (from, to) => {
    from.postMessage = (m) => {
      if (!from.connected) throw new Error("Attempting to use a disconnected port object");
      const c = structuredClone(m);
      setTimeout(() => to.connected && to.onMessage.fire(c, to), 0);
    };
    from.disconnect = () => {
      if (!from.connected) return;
      from.connected = false;
      setTimeout(() => {
        if (!to.connected) return;
        to.connected = false;
        to.onDisconnect.fire(to);
      }, 0);
    };
  };
  link(a, b);
  link(b, a);
  return [a, b];
}

/**
 * A native host as the background sees it. script(host) is called per
 * session; host.received holds what the extension sent; host.send and
 * host.exit answer.
 */
class FakeHostSession {
  constructor(port, fail) {
    this.port = port;
    this.received = [];
    this.exited = false;
    this.fail = fail;
    port.onMessage.addListener((m) => {
      this.received.push(m);
      this.onMessage?.(m);
    });
    port.onDisconnect.addListener(() => {
      this.exited = true;
    });
  }
  send(m) {
    this.port.postMessage(m);
  }
  exit(lastError) {
    this.fail.lastError = lastError;
    this.port.disconnect();
  }
}

/**
 * Loads the extension into a fake browser. host(session) scripts each
 * native session; hostMissing makes connectNative fail as when no host
 * manifest is installed. sender overrides what the browser says about the
 * content script's page.
 */
export function loadExtension({ origin = "https://portal.example", host, hostMissing = false, sender } = {}) {
  const win = new FakeWindow(origin);
  const sessions = [];
  const errState = { lastError: undefined };
  const onConnect = event();
  const manifest = JSON.parse(fs.readFileSync(path.join(extDir, "manifest.json"), "utf8"));

  const background = {
    runtime: {
      id: EXT_ID,
      onConnect,
      get lastError() {
        return errState.lastError ? { message: errState.lastError } : undefined;
      },
      connectNative(name) {
        const [ext, hostSide] = portPair(name);
        if (name !== "org.cardbridge.host" || hostMissing) {
          setTimeout(() => {
            errState.lastError = "Specified native messaging host not found.";
            ext.connected = false;
            ext.onDisconnect.fire(ext);
            errState.lastError = undefined;
          }, 0);
          return ext;
        }
        const s = new FakeHostSession(hostSide, errState);
        // The disconnect the host causes is seen by the extension with
        // lastError set, as in Chromium.
        hostSide.disconnect = () => {
          if (!hostSide.connected) return;
          hostSide.connected = false;
          setTimeout(() => {
            if (!ext.connected) return;
            ext.connected = false;
            ext.onDisconnect.fire(ext);
            errState.lastError = undefined;
          }, 0);
        };
        sessions.push(s);
        host?.(s);
        return ext;
      },
    },
  };
  const pageSender = sender ?? { id: EXT_ID, tab: { id: 7 }, frameId: 0, origin, url: origin + "/register" };
  const content = {
    runtime: {
      getManifest: () => manifest,
      connect({ name }) {
        const [cs, bg] = portPair(name, pageSender);
        setTimeout(() => onConnect.fire(bg), 0);
        return cs;
      },
    },
  };
  vm.runInNewContext(fs.readFileSync(path.join(extDir, "background.js"), "utf8"), { chrome: background, URL, console }, { filename: "background.js" });
  vm.runInNewContext(
    fs.readFileSync(path.join(extDir, "content.js"), "utf8"),
    { chrome: content, window: win, JSON, console },
    { filename: "content.js" },
  );
  return { window: win, sessions, tick };
}

/** A host that says hello to every session and answers version. */
export function helloHost(s) {
  s.onMessage = (m) => {
    if (m.cardbridge === "open") {
      s.send({ event: "hello", data: { protocol: 1, version: "0.1.0-fakehost" } });
    } else if (m.method === "version") {
      s.send({ id: m.id, result: { protocol: 1, version: "0.1.0-fakehost", os: "linux" } });
    } else {
      s.send({ id: m.id ?? null, error: { code: "UNKNOWN_METHOD", message: "no such method" } });
    }
  };
}
