// cardbridge extension, background side (Chromium service worker, Firefox
// background script): one native-messaging port to the cardbridge host per
// page session.
//
// Content scripts connect here with runtime.connect (a port per page). For
// each session the page opens, this starts the host with
// runtime.connectNative and tells it the page's origin, taken from the
// browser's sender information of the content script's port: the page
// never gets a say in it. Then protocol v1 frames pass through unchanged.
//
// Docs deciding values here:
//   https://developer.chrome.com/docs/extensions/develop/concepts/native-messaging
//   https://developer.mozilla.org/en-US/docs/Mozilla/Add-ons/WebExtensions/Native_messaging
//   https://developer.mozilla.org/en-US/docs/Mozilla/Add-ons/WebExtensions/API/runtime/MessageSender
// A connected native port keeps a Chromium extension service worker alive
// (Chrome 105+, see "Extension service worker lifecycle"), so a session
// outlives the worker's 30 s idle timer.
"use strict";

(() => {
  const api = globalThis.browser ?? globalThis.chrome;

  // Host name fixed by the project's contract (host manifest
  // org.cardbridge.host.json).
  const HOST = "org.cardbridge.host";
  const PROTOCOL = 1;
  const PAGE_PORT = "cardbridge-page";
  // Each session is a host process: a page gets a few, not unbounded.
  const MAX_SESSIONS_PER_PAGE = 4;
  // The host refuses larger requests anyway (docs/protocol.md §7); refusing
  // here keeps a hostile page from pushing megabytes through the browser.
  const MAX_REQUEST_CHARS = 64 * 1024;
  const SESSION_ID = /^[A-Za-z0-9_-]{1,64}$/;
  // Each session starts a process: a page that opens and closes sessions
  // in a loop is held to a few per window of time.
  const MAX_OPENS = 8;
  const OPEN_WINDOW_MS = 10_000;

  /**
   * The origin of the page behind a content script's port, from what the
   * browser says about the sender: sender.origin where the browser gives it
   * (Chromium 80+), else the origin of sender.url (Firefox). Only https,
   * and http on loopback names for development, as the content script's
   * matches allow; anything else is refused (null).
   */
  function senderOrigin(sender) {
    if (!sender || sender.id !== api.runtime.id || !sender.tab) return null;
    // An opaque origin ("null": a sandboxed document) is refused, not
    // replaced by its URL's origin: the page runs without that origin's
    // rights, and gets none here either.
    let origin = typeof sender.origin === "string" ? sender.origin : null;
    if (origin === null && typeof sender.url === "string") {
      try {
        origin = new URL(sender.url).origin;
      } catch {
        return null;
      }
    }
    if (!origin || origin === "null") return null;
    let u;
    try {
      u = new URL(origin);
    } catch {
      return null;
    }
    if (u.protocol === "https:") return origin;
    if (u.protocol === "http:" && (u.hostname === "localhost" || u.hostname === "127.0.0.1")) return origin;
    return null;
  }

  function lastErrorMessage(port) {
    // Chromium reports why a native port closed in runtime.lastError, read
    // inside onDisconnect; Firefox in port.error.
    const e = api.runtime.lastError ?? port.error;
    return e && typeof e.message === "string" ? e.message : "";
  }

  function servePage(page) {
    const origin = senderOrigin(page.sender);
    if (page.name !== PAGE_PORT || !origin) {
      page.disconnect();
      return;
    }
    const sessions = new Map(); // session id -> {native, answered}
    let pageGone = false;

    const toPage = (msg) => {
      if (pageGone) return;
      try {
        page.postMessage(msg);
      } catch {
        pageGone = true;
      }
    };

    const closed = (session, code, message) => toPage({ type: "closed", session, reason: { code, message } });

    let recentOpens = []; // times of this page's last opens
    const open = (session) => {
      if (sessions.has(session)) return;
      if (sessions.size >= MAX_SESSIONS_PER_PAGE) {
        closed(session, "TOO_MANY_PENDING", `At most ${MAX_SESSIONS_PER_PAGE} cardbridge sessions per page`);
        return;
      }
      const now = Date.now();
      recentOpens = recentOpens.filter((t) => now - t < OPEN_WINDOW_MS);
      if (recentOpens.length >= MAX_OPENS) {
        closed(session, "RATE_LIMITED", "Too many cardbridge sessions opened; try again in a few seconds");
        return;
      }
      recentOpens.push(now);
      let native;
      try {
        native = api.runtime.connectNative(HOST);
      } catch (e) {
        closed(session, "DAEMON_UNAVAILABLE", `Cannot start the cardbridge host: ${e?.message ?? e}`);
        return;
      }
      const s = { native, answered: false };
      sessions.set(session, s);
      native.onMessage.addListener((data) => {
        s.answered = true;
        toPage({ type: "message", session, data });
      });
      native.onDisconnect.addListener(() => {
        const why = lastErrorMessage(native);
        if (sessions.get(session) !== s) return;
        sessions.delete(session);
        if (s.answered) {
          closed(session, "DISCONNECTED", why || "The cardbridge host ended the session");
        } else {
          // Typically "Specified native messaging host not found.": the
          // cardbridge program is not installed for this browser.
          closed(session, "DAEMON_UNAVAILABLE", why || "The cardbridge host ended before it answered");
        }
      });
      native.postMessage({ cardbridge: "open", protocol: PROTOCOL, origin });
    };

    const forward = (session, data) => {
      const s = sessions.get(session);
      if (!s) return;
      if (data === null || typeof data !== "object" || Array.isArray(data)) return;
      // Only the fields of a protocol v1 request go to the host: nothing
      // the page adds (an "origin", a "cardbridge" tag) reaches it.
      const request = { id: data.id, method: data.method, params: data.params };
      let size;
      try {
        size = JSON.stringify(request).length;
      } catch {
        return;
      }
      if (size > MAX_REQUEST_CHARS) {
        toPage({
          type: "message",
          session,
          data: { id: typeof data.id === "number" ? data.id : null, error: { code: "MESSAGE_TOO_LARGE", message: "The request is larger than 64 KiB" } },
        });
        return;
      }
      s.native.postMessage(request);
    };

    const close = (session) => {
      const s = sessions.get(session);
      if (!s) return;
      sessions.delete(session);
      s.native.disconnect();
      closed(session, "DISCONNECTED", "Closed by the page");
    };

    page.onMessage.addListener((msg) => {
      if (!msg || typeof msg !== "object" || typeof msg.session !== "string" || !SESSION_ID.test(msg.session)) return;
      switch (msg.type) {
        case "open":
          open(msg.session);
          break;
        case "message":
          forward(msg.session, msg.data);
          break;
        case "close":
          close(msg.session);
          break;
      }
    });
    page.onDisconnect.addListener(() => {
      // The page went away (navigation, tab closed, reload): its hosts go
      // with it, which ends their card work and closes their dialogs.
      pageGone = true;
      for (const s of sessions.values()) s.native.disconnect();
      sessions.clear();
    });
  }

  api.runtime.onConnect.addListener(servePage);
})();
