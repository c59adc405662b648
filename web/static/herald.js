// herald.js — the browser client of a Herald hub: one callback API over
// Server-Sent Events, long polling and WebSocket, with exact resume.
//
//   <script src="https://hub.example.com/herald.js"></script>
//   const sub = Herald.subscribe("https://hub.example.com/.well-known/mercure", {
//     topics: ["https://example.com/books/{id}"],
//     onEvent(ev) { console.log(ev.id, ev.type, ev.data); },
//   });
//   ...
//   sub.close();
//
// or, as a module: import Herald from "https://hub.example.com/herald.mjs".
//
// The script keeps the ID of the last event it delivered and hands it to
// the hub on every reconnection and on every change of transport, so each
// event is delivered once, in journal order, across drops, hub restarts and
// transport switches. The wire formats are in Herald's docs/protocol.md.
//
// No build step and no dependency: the hub serves this file as it is.
"use strict";

(function (root) {
  // Defaults of the options of subscribe; every one can be overridden.
  const DEFAULTS = {
    transport: "auto",
    types: ["message"],
    // A stream that shows no byte for this long after the request was sent
    // is taken for one a proxy buffers; "auto" then falls back to polling.
    stallTimeout: 4000,
    // Failed stream attempts, before the first one ever opened, after which
    // "auto" gives up on streaming.
    streamAttempts: 3,
    pollWait: 25,
    pollLimit: 100,
    // Pause between polls that returned without holding (pollWait 0, a
    // short poll); a long poll asks again at once.
    pollInterval: 1000,
    // A quiet WebSocket sends a ping after this long and is given up as
    // dead when nothing at all arrives within pingTimeout.
    pingInterval: 20000,
    pingTimeout: 10000,
  };

  const CONNECTING = "connecting";
  const OPEN = "open";
  const CLOSED = "closed";

  // WebSocket close codes after which reconnecting cannot help: the client
  // or its token must change (docs/protocol.md, "Close codes").
  const FINAL_CLOSE_CODES = new Set([1000, 1002, 1003, 1007, 1009, 4401, 4403]);
  // Close codes of a hub that asks to be called again at once: it drains,
  // the connection reached its lifetime, or the client read too slowly.
  const PROMPT_CLOSE_CODES = new Set([1001, 4408]);

  /** An error of the hub or of the way to it, as onError receives it. */
  class HeraldError extends Error {
    constructor(message, fields = {}) {
      super(message);
      this.name = "HeraldError";
      // transport, status (HTTP), code (WebSocket close code or the code of
      // an error message), reason, retryAfter (ms) and fatal (the
      // subscription ended) when they apply.
      Object.assign(this, fields);
    }
  }

  // Resolves after ms, or at once when signal aborts.
  const sleepMs = (ms, signal) => new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });

  // Exponential backoff from 1 s to 30 s, with jitter so that the clients
  // of a restarted hub do not all come back in the same instant.
  const backoff = (failures) => Math.min(30000, 1000 * 2 ** Math.min(failures, 5)) * (0.5 + Math.random() / 2);

  // Retry-After is seconds or an HTTP date; capped, so a bad header cannot
  // park a client for good.
  function retryAfter(res) {
    const v = res.headers.get("Retry-After");
    if (!v) return undefined;
    const ms = /^\d+$/.test(v.trim()) ? Number(v) * 1000 : Date.parse(v) - Date.now();
    return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), 600000) : undefined;
  }

  // An HTTP status a retry cannot fix: the request or its token is wrong.
  const finalStatus = (status) => status >= 400 && status < 500 && status !== 408 && status !== 429;

  async function statusError(res, transport) {
    let text = "";
    try {
      text = (await res.text()).trim().slice(0, 500);
    } catch {
      // The body is only for the message; the status says what happened.
    }
    return new HeraldError(`${res.status} ${res.statusText}${text ? `: ${text}` : ""}`, {
      transport, status: res.status, reason: text, retryAfter: retryAfter(res), fatal: finalStatus(res.status),
    });
  }

  // The subscribe URL for SSE and polling. The token goes in the
  // authorization query parameter because EventSource cannot set headers;
  // without one the mercureAuthorization cookie (withCredentials) is used.
  function subscribeURL(cfg, params) {
    const url = new URL(cfg.hub);
    for (const t of cfg.topics) url.searchParams.append("topic", t);
    if (cfg.token) url.searchParams.set("authorization", cfg.token);
    for (const [k, v] of Object.entries(params)) {
      if (v !== undefined && v !== null) url.searchParams.set(k, String(v));
    }
    return url;
  }

  const credentials = (cfg) => (cfg.withCredentials ? "include" : "same-origin");

  // Reads the opening block of an event stream, which Herald sends at once:
  // proof that bytes flow through every proxy on the way, and the
  // subscriber's position (its id: field), so that a client that asked for
  // "from now" knows where now was. Returns {id}, {error} for an HTTP
  // error or {notStream}; throws on a network error, a stall or an abort.
  async function readOpening(url, cfg, signal) {
    const res = await fetch(url, {
      headers: { Accept: "text/event-stream" }, credentials: credentials(cfg), cache: "no-store", signal,
    });
    if (!res.ok) return { error: await statusError(res, "sse") };
    if (!/^text\/event-stream\b/i.test(res.headers.get("Content-Type") || "")) {
      res.body?.cancel().catch(() => {});
      return { notStream: true };
    }
    if (!res.body) return {};
    const reader = res.body.getReader();
    const decoder = new TextDecoder();
    let text = "";
    try {
      while (text.length < 65536) {
        const { done, value } = await reader.read();
        if (done) throw new Error("the stream ended before its opening block");
        text += decoder.decode(value, { stream: true });
        const lines = text.replace(/\r\n?/g, "\n");
        const end = lines.indexOf("\n\n");
        if (end < 0) continue;
        let id;
        for (const line of lines.slice(0, end).split("\n")) {
          if (line === "id" || line.startsWith("id:")) id = line.slice(3).replace(/^ /, "");
        }
        return { id };
      }
      throw new Error("no event stream block in the first 64 KiB");
    } finally {
      reader.cancel().catch(() => {});
    }
  }

  // sse subscribes with the browser's EventSource, which reconnects by
  // itself with a Last-Event-ID header. Each EventSource this function
  // opens is preceded by readOpening, with the same URL: it is the only way
  // to see bytes arrive (the opening block dispatches no event) and to learn
  // an HTTP status (EventSource shows neither).
  function sse(ctx, cfg) {
    const life = new AbortController();
    let es = null;
    let failures = 0;
    let everOpened = false;

    async function connect() {
      while (!life.signal.aborted) {
        ctx.connecting();
        const probe = new AbortController();
        const onStop = () => probe.abort();
        life.signal.addEventListener("abort", onStop, { once: true });
        const stall = setTimeout(() => probe.abort(new DOMException("stalled", "TimeoutError")), cfg.stallTimeout);
        let opening;
        try {
          opening = await readOpening(subscribeURL(cfg, { lastEventID: ctx.cursor }), cfg, probe.signal);
        } catch (err) {
          opening = { failed: probe.signal.reason?.name === "TimeoutError" ? "stalled" : err.message };
        } finally {
          clearTimeout(stall);
          life.signal.removeEventListener("abort", onStop);
        }
        if (life.signal.aborted) return;
        if (opening.error) {
          if (opening.error.fatal) return ctx.fatal(opening.error);
          // A hub that names a time to come back is busy, not unable to
          // stream; any other refusal counts against streaming.
          const { retryAfter } = opening.error;
          if (retryAfter === undefined) failures++;
          if (retryAfter === undefined && cfg.auto && !everOpened && failures >= cfg.streamAttempts) {
            return ctx.fallback(`the stream was refused ${failures} times: ${opening.error.message}`);
          }
          ctx.error(opening.error);
          await sleepMs(retryAfter ?? backoff(failures - 1), life.signal);
          continue;
        }
        if (opening.notStream) {
          if (cfg.auto) return ctx.fallback("the hub's answer is not an event stream");
          return ctx.fatal(new HeraldError("the answer is not an event stream", { transport: "sse" }));
        }
        if (opening.failed) {
          const stalled = opening.failed === "stalled";
          const why = stalled ? `no byte of the stream arrived within ${cfg.stallTimeout} ms (a buffering proxy?)` : opening.failed;
          failures++;
          if (cfg.auto && !everOpened && (stalled || failures >= cfg.streamAttempts)) return ctx.fallback(why);
          ctx.error(new HeraldError(why, { transport: "sse" }));
          await sleepMs(backoff(failures - 1), life.signal);
          continue;
        }
        // Herald opens with the client's own Last-Event-ID when it knew it,
        // and with earliest when it did not.
        const sent = ctx.cursor;
        if (opening.id === "earliest" && sent !== undefined && sent !== "earliest") ctx.earliest();
        ctx.position(opening.id);
        return open();
      }
    }

    function open() {
      let errorsBeforeOpen = 0;
      const source = new EventSource(subscribeURL(cfg, { lastEventID: ctx.cursor }), { withCredentials: !!cfg.withCredentials });
      es = source;
      const onMessage = (e) => ctx.event({ id: e.lastEventId, type: e.type, data: e.data });
      for (const type of cfg.types) source.addEventListener(type, onMessage);
      source.addEventListener("open", () => {
        everOpened = true;
        failures = 0;
        ctx.open();
      });
      source.addEventListener("error", () => {
        if (es !== source) return;
        if (source.readyState === EventSource.CONNECTING) {
          // The browser reconnects by itself, with Last-Event-ID.
          ctx.connecting();
          if (cfg.auto && !everOpened && ++errorsBeforeOpen >= cfg.streamAttempts) {
            return ctx.fallback("the stream failed before it ever opened");
          }
          return ctx.error(new HeraldError("the stream was lost; the browser reconnects", { transport: "sse" }));
        }
        // The browser gave up (an HTTP error or not an event stream); a new
        // EventSource resumes from the last event delivered, after
        // readOpening learnt why.
        source.close();
        es = null;
        sleepMs(backoff(failures++), life.signal).then(connect);
      });
    }

    connect();
    return {
      stop() {
        life.abort();
        es?.close();
        es = null;
      },
    };
  }

  // poll asks the hub for the events after the cursor, holding each request
  // up to pollWait seconds when nothing is due (docs/protocol.md,
  // "Polling"). The answer's lastEventID is the next cursor; subscriber
  // keeps the poller one subscriber for the hub's presence. The first poll,
  // and the first after an error, does not wait: its answer says at once
  // that the hub is there (open) and where "now" is.
  function poll(ctx, cfg) {
    const life = new AbortController();
    let subscriber;
    let failures = 0;
    let opened = false;

    async function request(wait) {
      const url = subscribeURL(cfg, { lastEventID: ctx.cursor, wait, limit: cfg.pollLimit, subscriber });
      const attempt = new AbortController();
      const onStop = () => attempt.abort();
      life.signal.addEventListener("abort", onStop, { once: true });
      // A held request answers within pollWait; one that does not within
      // 15 s more went astray on the way.
      const guard = setTimeout(() => attempt.abort(), wait * 1000 + 15000);
      try {
        const res = await fetch(url, {
          headers: { Accept: "application/json" }, credentials: credentials(cfg), cache: "no-store", signal: attempt.signal,
        });
        if (!res.ok) return { error: await statusError(res, "poll") };
        const type = res.headers.get("Content-Type") || "";
        if (!/^application\/json\b/i.test(type)) {
          // A hub without polling answers with its event stream, which
          // would never end.
          res.body?.cancel().catch(() => {});
          return { error: new HeraldError(`the hub does not answer polls (Content-Type ${type})`, { transport: "poll", fatal: true }) };
        }
        return { answer: await res.json() };
      } catch (err) {
        return { error: new HeraldError(`poll failed: ${err.message}`, { transport: "poll" }) };
      } finally {
        clearTimeout(guard);
        life.signal.removeEventListener("abort", onStop);
      }
    }

    async function loop() {
      while (!life.signal.aborted) {
        const { answer, error } = await request(opened ? cfg.pollWait : 0);
        if (life.signal.aborted) return;
        if (error) {
          if (error.fatal) return ctx.fatal(error);
          opened = false;
          ctx.connecting();
          ctx.error(error);
          await sleepMs(error.retryAfter ?? backoff(failures++), life.signal);
          continue;
        }
        failures = 0;
        subscriber = answer.subscriber ?? subscriber;
        if (!opened) {
          opened = true;
          ctx.open();
        }
        if (answer.earliest) ctx.earliest();
        for (const ev of answer.events || []) {
          if (!ctx.event({ id: ev.id, type: ev.type || "message", data: ev.data, topics: ev.topics, retry: ev.retry })) return;
        }
        if (typeof answer.lastEventID === "string") ctx.position(answer.lastEventID, true);
        if (!answer.more && cfg.pollWait === 0) await sleepMs(cfg.pollInterval, life.signal);
      }
    }

    loop();
    return {
      setToken(token) {
        cfg.token = token; // the next poll sends it
      },
      stop: () => life.abort(),
    };
  }

  // ws speaks the herald.v1 subprotocol (docs/protocol.md, "WebSocket"):
  // one subscription on the socket, resubscribed with its cursor after a
  // drop, and publishing with acknowledgements.
  function ws(ctx, cfg) {
    const SUB = "herald";
    const life = new AbortController();
    const pending = new Map();
    let nextRef = 1;
    let sock = null;
    let failures = 0;
    let quiet = null;

    const url = new URL(cfg.hub);
    url.protocol = url.protocol === "https:" ? "wss:" : "ws:";

    function send(msg) {
      sock.send(JSON.stringify(msg));
    }

    // A socket that stays silent gets a ping message; one that does not
    // answer it is dropped, because a dead peer is not always reported.
    function heard(s) {
      clearTimeout(quiet);
      quiet = setTimeout(() => {
        if (sock !== s) return;
        send({ op: "ping" });
        quiet = setTimeout(() => drop(s, new HeraldError("the hub did not answer a ping", { transport: "ws" })), cfg.pingTimeout);
      }, cfg.pingInterval);
    }

    function rejectPending(err) {
      for (const { reject } of pending.values()) reject(err);
      pending.clear();
    }

    function drop(s, err) {
      if (sock !== s) return;
      sock = null;
      clearTimeout(quiet);
      s.close();
      rejectPending(new HeraldError("the socket closed before the hub acknowledged the publish", { transport: "ws" }));
      if (life.signal.aborted) return;
      if (err.fatal) return ctx.fatal(err);
      ctx.connecting();
      ctx.error(err);
      const delay = PROMPT_CLOSE_CODES.has(err.code) ? 100 + Math.random() * 400 : backoff(failures++);
      sleepMs(delay, life.signal).then(connect);
    }

    function onMessage(s, msg) {
      switch (msg.op) {
        case "subscribed":
          if (msg.sub !== SUB) return;
          failures = 0;
          if (msg.lastEventID !== undefined) ctx.position(msg.lastEventID);
          if (msg.earliest) ctx.earliest();
          return ctx.open();
        case "event":
          if (msg.sub === SUB) ctx.event({ id: msg.id, type: msg.type || "message", data: msg.data, topics: msg.topics, retry: msg.retry });
          return;
        case "ack": {
          const p = pending.get(msg.ref);
          pending.delete(msg.ref);
          return p?.resolve(msg.id);
        }
        case "error": {
          const err = new HeraldError(`${msg.code} ${msg.error}`, { transport: "ws", code: msg.code, reason: msg.error });
          const p = msg.ref !== undefined && pending.get(msg.ref);
          if (p) {
            pending.delete(msg.ref);
            return p.reject(err);
          }
          if (msg.sub === SUB) {
            // The subscription itself was refused: no retry can fix it.
            err.fatal = true;
            return drop(s, err);
          }
          return ctx.error(err);
        }
        default:
          // auth, pong and unsubscribed need nothing.
          return;
      }
    }

    function connect() {
      if (life.signal.aborted) return;
      if (typeof WebSocket !== "function") {
        return ctx.fatal(new HeraldError("this browser has no WebSocket", { transport: "ws" }));
      }
      ctx.connecting();
      const s = new WebSocket(url, "herald.v1");
      sock = s;
      s.addEventListener("open", () => {
        if (sock !== s) return;
        heard(s);
        // A browser cannot set headers on a WebSocket: the token goes first,
        // as a message, and the hub reads messages in order.
        if (cfg.token) send({ op: "auth", token: cfg.token });
        const sub = { op: "subscribe", sub: SUB, topics: cfg.topics };
        if (ctx.cursor !== undefined) sub.lastEventID = ctx.cursor;
        send(sub);
      });
      s.addEventListener("message", (e) => {
        if (sock !== s) return;
        heard(s);
        let msg;
        try {
          msg = JSON.parse(e.data);
        } catch {
          return ctx.error(new HeraldError("the hub sent a message that is not JSON", { transport: "ws" }));
        }
        onMessage(s, msg);
      });
      s.addEventListener("close", (e) => {
        const why = e.reason ? `: ${e.reason}` : "";
        drop(s, new HeraldError(`the socket closed with ${e.code}${why}`, {
          transport: "ws", code: e.code, reason: e.reason, fatal: FINAL_CLOSE_CODES.has(e.code),
        }));
      });
    }

    connect();
    return {
      // The hub swaps the token of an open socket in place: the
      // subscription goes on, with the new token's grants, from where it is.
      setToken(token) {
        cfg.token = token;
        if (sock?.readyState === WebSocket.OPEN) send({ op: "auth", token });
      },
      stop() {
        life.abort();
        const s = sock;
        sock = null;
        clearTimeout(quiet);
        s?.close(1000);
        rejectPending(new HeraldError("the subscription was closed before the hub acknowledged the publish", { transport: "ws" }));
      },
      publish(fields) {
        if (!sock || sock.readyState !== WebSocket.OPEN) {
          return Promise.reject(new HeraldError("publish needs an open WebSocket", { transport: "ws" }));
        }
        const ref = String(nextRef++);
        const msg = { op: "publish", ref, topics: fields.topics, data: fields.data ?? "" };
        for (const k of ["type", "id", "private", "retry"]) if (fields[k] !== undefined) msg[k] = fields[k];
        send(msg);
        return new Promise((resolve, reject) => pending.set(ref, { resolve, reject }));
      },
    };
  }

  const TRANSPORTS = { sse, poll, ws };

  // A callback that throws must not break the subscription; the error is
  // reported as uncaught, where a developer sees it.
  function call(fn, ...args) {
    if (typeof fn !== "function") return;
    try {
      fn(...args);
    } catch (err) {
      setTimeout(() => { throw err; });
    }
  }

  /** One subscription, whichever transport carries it. */
  class Subscription {
    constructor(hubURL, options) {
      const o = { ...DEFAULTS, ...options };
      if (!Array.isArray(o.topics) || o.topics.length === 0) {
        throw new TypeError("Herald.subscribe: topics must be a non-empty array");
      }
      if (!Array.isArray(o.types)) throw new TypeError("Herald.subscribe: types must be an array");
      this._cfg = {
        hub: new URL(hubURL, root.location?.href).href,
        topics: o.topics.map(String),
        types: o.types.map(String),
        token: o.token || undefined,
        withCredentials: !!o.withCredentials,
        stallTimeout: o.stallTimeout,
        streamAttempts: o.streamAttempts,
        pollWait: o.pollWait,
        pollLimit: o.pollLimit,
        pollInterval: o.pollInterval,
        pingInterval: o.pingInterval,
        pingTimeout: o.pingTimeout,
      };
      this._callbacks = o;
      this._types = new Set(this._cfg.types);
      this._cursor = o.lastEventID || undefined;
      this._state = CLOSED;
      this._generation = 0;
      this._active = null;
      this._start(o.transport, "chosen");
    }

    /** The ID after which a new subscription would resume. */
    get lastEventID() {
      return this._cursor;
    }

    /** The transport in use: "sse", "poll" or "ws"; null once closed. */
    get transport() {
      return this._active?.name ?? null;
    }

    /** "connecting", "open" or "closed". */
    get state() {
      return this._state;
    }

    /**
     * Moves the subscription to another transport ("auto", "sse", "poll"
     * or "ws"), resuming after the last event delivered.
     */
    switchTransport(mode) {
      if (!this._active) throw new Error("Herald: the subscription is closed");
      this._stop();
      this._start(mode, "switched");
    }

    /**
     * Replaces the token before it expires. A WebSocket sends it on the
     * open socket, polling with its next poll; an EventSource, whose URL
     * carries the token, is replaced by one with the new token, resuming
     * after the last event delivered.
     */
    setToken(token) {
      if (!this._active) throw new Error("Herald: the subscription is closed");
      this._cfg.token = token || undefined;
      if (this._active.impl.setToken) return this._active.impl.setToken(this._cfg.token);
      const { name, auto } = this._active;
      this._stop();
      this._start(auto ? "auto" : name, "token replaced");
    }

    /** Publishes over the subscription's WebSocket; resolves to the event ID. */
    publish(fields) {
      if (!this._active?.impl.publish) return Promise.reject(new HeraldError("publish needs the ws transport"));
      return this._active.impl.publish(fields);
    }

    /** Ends the subscription; no callback follows. */
    close() {
      this._stop();
      this._active = null;
      this._state = CLOSED;
    }

    _stop() {
      this._generation++;
      this._active?.impl.stop();
    }

    _setState(state) {
      if (this._state === state) return;
      this._state = state;
      call(this._callbacks.onState, state);
    }

    _start(mode, reason) {
      let name = mode;
      if (mode === "auto") {
        name = typeof root.EventSource === "function" ? "sse" : "poll";
        if (name === "poll") reason = "the browser has no EventSource";
      }
      if (!Object.hasOwn(TRANSPORTS, name)) throw new TypeError(`Herald: unknown transport ${JSON.stringify(mode)}`);
      const cfg = { ...this._cfg, auto: mode === "auto" };
      const generation = this._generation;
      this._active = { name, auto: mode === "auto", impl: { stop() {} } };
      this._setState(CONNECTING);
      call(this._callbacks.onTransport, name, reason);
      if (this._generation !== generation) return; // onTransport closed or switched it
      this._active.impl = TRANSPORTS[name](this._context(generation, name), cfg);
    }

    // The transport's only way to act on the subscription. Every call is
    // ignored once the transport was stopped, so a transport being replaced
    // can never deliver an event after its successor started from the
    // cursor: that is what makes a switch exact.
    _context(generation, name) {
      const sub = this;
      const cb = this._callbacks;
      const live = () => sub._generation === generation;
      return {
        get cursor() {
          return sub._cursor;
        },
        // Delivers ev if its type is wanted; the cursor moves past it
        // either way. Returns whether the transport may go on.
        event(ev) {
          if (!live()) return false;
          // Subscription announcements carry no ID and move no cursor.
          if (typeof ev.id === "string" && ev.id !== "") sub._cursor = ev.id;
          if (sub._types.has(ev.type)) call(cb.onEvent, { ...ev, transport: name });
          return live();
        },
        // A position from the hub without an event: the opening id: of a
        // stream or subscribed's lastEventID replace "from now" (no
        // cursor); a poll answer's lastEventID is the next cursor.
        position(id, always = false) {
          if (live() && typeof id === "string" && id !== "" && (always || sub._cursor === undefined)) sub._cursor = id;
        },
        connecting() {
          if (live()) sub._setState(CONNECTING);
        },
        open() {
          if (!live()) return;
          sub._setState(OPEN);
          call(cb.onOpen, { transport: name });
        },
        earliest() {
          if (live()) call(cb.onEarliest, { transport: name });
        },
        error(err) {
          if (live()) call(cb.onError, err);
        },
        fatal(err) {
          if (!live()) return;
          err.fatal = true;
          sub._stop();
          sub._active = null;
          sub._setState(CLOSED);
          call(cb.onError, err);
        },
        fallback(why) {
          if (!live()) return;
          sub._stop();
          sub._start("poll", why);
        },
      };
    }
  }

  /**
   * Subscribes to topics on the hub at hubURL. Options: topics (required),
   * types (event types delivered, default ["message"]), lastEventID,
   * transport ("auto", "sse", "poll" or "ws"), token, withCredentials,
   * and the callbacks onEvent(ev), onOpen(info), onError(err),
   * onState(state), onTransport(name, reason) and onEarliest(info).
   */
  function subscribe(hubURL, options) {
    return new Subscription(hubURL, options);
  }

  /**
   * Publishes over HTTP (a form POST); resolves to the event ID. fields:
   * topics, data, type, id, private, retry, token, withCredentials, and
   * credentials (fetch's, to override: "omit" sends no cookie).
   */
  async function publish(hubURL, fields) {
    const body = new URLSearchParams();
    for (const t of fields.topics || []) body.append("topic", t);
    body.set("data", fields.data ?? "");
    for (const k of ["type", "id", "retry"]) if (fields[k] !== undefined && fields[k] !== "") body.set(k, String(fields[k]));
    if (fields.private) body.set("private", "on");
    const headers = fields.token ? { Authorization: `Bearer ${fields.token}` } : {};
    const res = await fetch(new URL(hubURL, root.location?.href), {
      method: "POST", headers, body,
      credentials: fields.credentials ?? (fields.withCredentials ? "include" : "same-origin"),
    });
    if (!res.ok) throw await statusError(res, "http");
    return (await res.text()).trim();
  }

  const Herald = Object.freeze({ subscribe, publish, HeraldError });
  root.Herald = Herald;
  if (typeof module === "object" && module.exports) module.exports = Herald;
})(globalThis);
