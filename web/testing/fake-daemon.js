// A fake cardbridge daemon for the client tests: speaks protocol v1 over a
// real WebSocket (the ws package) on 127.0.0.1, answers GET /v1/health, and
// lets each test script its answers.

import http from "node:http";
import { WebSocketServer } from "ws";

export class FakeDaemon {
  /**
   * @param {object} [opts]
   * @param {Record<string, (params: any, ctx: {id: any, send: Function}) => any>} [opts.methods]
   *   handlers: return a result (or a promise of one), throw {code, message, data}
   *   for an error answer, or return FakeDaemon.NO_ANSWER to stay silent.
   * @param {boolean} [opts.refuse] refuse every WebSocket handshake with 403
   * @param {number} [opts.answerAfterMs] hold every handshake this long before
   *   accepting (or, with refuse, refusing) it, as the real daemon does while
   *   its consent dialog waits for the user
   * @param {object} [opts.hello] hello data to send
   */
  constructor({ methods = {}, refuse = false, answerAfterMs = 0, hello = { protocol: 1, version: "0.1.0-fake" } } = {}) {
    this.methods = {
      version: () => ({ protocol: 1, version: "0.1.0-fake", os: "linux" }),
      readers: () => ({ readers: [] }),
      cancel: (params) => {
        const p = this.inflight.get(params.id);
        if (!p) return { cancelled: false };
        p.reject({ code: "CANCELLED", message: "cancelled" });
        return { cancelled: true };
      },
      ...methods,
    };
    this.refuse = refuse;
    this.answerAfterMs = answerAfterMs;
    this.hello = hello;
    this.handshakes = 0; // handshakes received, answered or not
    this.held = new Set(); // handshakes not answered yet: {socket, timer}
    this.received = []; // every request, in arrival order
    this.sockets = new Set();
    this.inflight = new Map(); // id -> {reject}
    this.port = 0;
  }

  static NO_ANSWER = Symbol("no answer");

  /** Starts listening (on the given port, or a free one). */
  async start(port = this.port) {
    this.http = http.createServer((req, res) => {
      if (req.url === "/v1/health") {
        res.writeHead(200, { "content-type": "application/json" });
        res.end('{"ok":true,"protocol":1}');
        return;
      }
      res.writeHead(404);
      res.end("not found");
    });
    this.wss = new WebSocketServer({
      server: this.http,
      path: "/v1",
      verifyClient: (info, cb) => {
        this.handshakes++;
        const answer = () => (this.refuse ? cb(false, 403, "Forbidden") : cb(true));
        if (this.answerAfterMs > 0) {
          const h = {
            socket: info.req.socket,
            timer: setTimeout(() => {
              this.held.delete(h);
              answer();
            }, this.answerAfterMs),
          };
          this.held.add(h);
        } else answer();
      },
    });
    this.wss.on("connection", (ws) => this.#onConnection(ws));
    await new Promise((resolve, reject) => {
      this.http.once("error", reject);
      this.http.listen(port, "127.0.0.1", resolve);
    });
    this.port = this.http.address().port;
    this.url = `ws://127.0.0.1:${this.port}/v1`;
    return this;
  }

  /** Stops listening and drops every connection abruptly (like a crash). */
  async stop() {
    // Held handshakes are upgrade requests, which the HTTP server no
    // longer tracks: drop them here, or closing waits for them.
    for (const h of this.held) {
      clearTimeout(h.timer);
      h.socket.destroy();
    }
    this.held.clear();
    for (const ws of this.sockets) ws.terminate();
    this.sockets.clear();
    await new Promise((resolve) => this.wss.close(() => resolve()));
    await new Promise((resolve) => this.http.close(() => resolve()));
    this.http.closeAllConnections?.();
  }

  /** Sends an event to every connected client. */
  broadcast(event, data) {
    for (const ws of this.sockets) ws.send(JSON.stringify({ event, data }));
  }

  /**
   * Resolves with the first received request matching pred. The wait ends
   * on the request; its limit is generous for a loaded machine.
   */
  async waitFor(pred, timeoutMs = 10_000) {
    let hit;
    await until(() => (hit = this.received.find(pred)) !== undefined, "FakeDaemon.waitFor timed out", timeoutMs);
    return hit;
  }

  #onConnection(ws) {
    this.sockets.add(ws);
    ws.on("close", () => this.sockets.delete(ws));
    ws.send(JSON.stringify({ event: "hello", data: this.hello }));
    ws.on("message", async (raw) => {
      const req = JSON.parse(String(raw));
      this.received.push(req);
      const handler = this.methods[req.method];
      const reply = (obj) => ws.readyState === ws.OPEN && ws.send(JSON.stringify({ id: req.id, ...obj }));
      if (!handler) {
        reply({ error: { code: "UNKNOWN_METHOD", message: `unknown method ${req.method}` } });
        return;
      }
      try {
        const cancel = new Promise((_, reject) => this.inflight.set(req.id, { reject }));
        cancel.catch(() => {});
        const out = await Promise.race([
          Promise.resolve(handler(req.params ?? {}, { id: req.id, send: (m) => ws.send(JSON.stringify(m)) })),
          cancel,
        ]);
        if (out === FakeDaemon.NO_ANSWER) return;
        reply({ result: out });
      } catch (e) {
        reply({ error: { code: e.code ?? "INTERNAL", message: e.message ?? "error", ...(e.data ? { data: e.data } : {}) } });
      } finally {
        this.inflight.delete(req.id);
      }
    });
  }
}

/** Returns a port on 127.0.0.1 that nothing listens on (at the moment). */
export async function freePort() {
  const s = http.createServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

/** A promise that resolves after ms. */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Waits until cond() holds; rejects with message after timeoutMs. */
export async function until(cond, message = "condition not reached", timeoutMs = 10_000) {
  for (const deadline = Date.now() + timeoutMs; !cond(); await sleep(5)) {
    if (Date.now() > deadline) throw new Error(message);
  }
}

/** A never-settling handler result used to keep a request pending. */
export const forever = () => new Promise(() => {});
