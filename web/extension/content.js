// cardbridge extension, content script: relays between the page (window
// messages tagged {cardbridge: "page"}) and the extension's background
// (one runtime port per page, opened on the page's first session).
//
// It announces itself with {cardbridge: "extension", type: "present"} at
// document_start and again when the page sends {cardbridge: "page",
// type: "probe"}: the page learns the extension is there without any
// network request. It adds nothing from the page to what the background
// sends the host but the session id and the request: the origin the host
// sees comes from the browser (see background.js).
//
// window.postMessage between a page and a content script:
// https://developer.mozilla.org/en-US/docs/Mozilla/Add-ons/WebExtensions/Content_scripts#communicating_with_the_web_page
"use strict";

(() => {
  const api = globalThis.browser ?? globalThis.chrome;
  // A document with an opaque origin (sandboxed) cannot be told apart
  // from others of its kind and cannot be a target of postMessage: the
  // extension stays out of it.
  if (window.location.origin === "null") return;
  const PROTOCOL = 1;
  const PAGE_PORT = "cardbridge-page";
  const SESSION_ID = /^[A-Za-z0-9_-]{1,64}$/;
  const version = api.runtime.getManifest().version;

  let port = null;
  const sessions = new Set();

  // Messages to the page go to this window only, and only while it still
  // shows the origin the content script was started for.
  const targetOrigin = window.location.origin;
  const toPage = (msg) => window.postMessage({ cardbridge: "extension", ...msg }, targetOrigin);

  const announce = () => toPage({ type: "present", protocol: PROTOCOL, version });

  function background() {
    if (port) return port;
    port = api.runtime.connect({ name: PAGE_PORT });
    port.onMessage.addListener((msg) => {
      if (!msg || typeof msg.session !== "string" || !sessions.has(msg.session)) return;
      if (msg.type === "message") {
        toPage({ type: "message", session: msg.session, data: msg.data });
      } else if (msg.type === "closed") {
        sessions.delete(msg.session);
        toPage({ type: "closed", session: msg.session, reason: msg.reason });
      }
    });
    port.onDisconnect.addListener(() => {
      // The extension was reloaded, updated or disabled: every session
      // ended with it.
      port = null;
      for (const session of sessions) {
        toPage({ type: "closed", session, reason: { code: "DISCONNECTED", message: "The cardbridge extension ended the session" } });
      }
      sessions.clear();
    });
    return port;
  }

  window.addEventListener("message", (ev) => {
    // Only this window's own scripts talk to the extension, not frames or
    // other windows holding a reference to it.
    if (ev.source !== window) return;
    const msg = ev.data;
    if (!msg || typeof msg !== "object" || msg.cardbridge !== "page") return;
    if (msg.type === "probe") {
      announce();
      return;
    }
    const session = msg.session;
    if (typeof session !== "string" || !SESSION_ID.test(session)) return;
    try {
      switch (msg.type) {
        case "open":
          if (sessions.has(session)) return;
          sessions.add(session);
          background().postMessage({ type: "open", session });
          break;
        case "message":
          if (!sessions.has(session)) return;
          // A copy through JSON: plain data only, nothing of the page's
          // objects (getters, prototypes) crosses into the extension.
          background().postMessage({ type: "message", session, data: JSON.parse(JSON.stringify(msg.data ?? null)) });
          break;
        case "close":
          if (!sessions.has(session)) return;
          background().postMessage({ type: "close", session });
          break;
      }
    } catch (e) {
      sessions.delete(session);
      toPage({ type: "closed", session, reason: { code: "DISCONNECTED", message: `cardbridge extension: ${e?.message ?? e}` } });
    }
  });

  announce();
})();
