// Herald live page: subscribes through herald.js, the hub's browser client
// (EventSource, long polling or WebSocket, switchable while subscribed),
// and publishes through it over HTTP, so what it shows is exactly what any
// web client of the hub would see. No framework and no build step on
// purpose: the page is embedded in the binary and must keep working offline.
"use strict";

(() => {
  // The list is capped so a busy topic cannot grow the DOM without bound.
  const MAX_EVENTS = 500;
  const COOKIE = "mercureAuthorization";

  const $ = (id) => document.getElementById(id);
  const el = {
    state: $("state"),
    subscribeForm: $("subscribe-form"),
    topic: $("topic"),
    types: $("types"),
    lastEventID: $("last-event-id"),
    hubURL: $("hub-url"),
    subToken: $("sub-token"),
    tokenQuery: $("token-query"),
    withCredentials: $("with-credentials"),
    transport: $("transport"),
    transportInUse: $("transport-in-use"),
    subscribe: $("subscribe"),
    unsubscribe: $("unsubscribe"),
    subscribeURL: $("subscribe-url"),
    subscribeError: $("subscribe-error"),
    publishForm: $("publish-form"),
    pubTopic: $("pub-topic"),
    pubData: $("pub-data"),
    pubType: $("pub-type"),
    pubID: $("pub-id"),
    pubToken: $("pub-token"),
    pubPrivate: $("pub-private"),
    publish: $("publish"),
    publishResult: $("publish-result"),
    events: $("events"),
    eventsEmpty: $("events-empty"),
    eventCount: $("event-count"),
    clearEvents: $("clear-events"),
  };

  const TRANSPORT_NAMES = { sse: "EventSource", poll: "long polling", ws: "WebSocket" };

  let subscription = null;
  let received = 0;

  // Topics and types are whitespace separated: neither a URI nor an event
  // type can contain a space, and commas are legal in both.
  const words = (s) => s.split(/\s+/).filter(Boolean);

  function hubURL() {
    return new URL(el.hubURL.value.trim() || "/.well-known/mercure", location.href);
  }

  function setState(state) {
    state = state.toUpperCase();
    el.state.textContent = state;
    el.state.dataset.state = state;
    const closed = state === "CLOSED";
    el.subscribe.disabled = !closed;
    el.unsubscribe.disabled = closed;
    el.transportInUse.hidden = closed;
  }

  function showTransport(name, reason) {
    el.transportInUse.textContent = TRANSPORT_NAMES[name] || name;
    el.transportInUse.dataset.transport = name;
    el.transportInUse.title = reason;
  }

  // The cookie can only be set for this page's own host; a hub elsewhere
  // needs the query parameter (or a cookie set by its own domain).
  function setAuthCookie(url, token) {
    const base = `${COOKIE}=${token}; Path=${url.pathname}; SameSite=Strict`;
    const secure = location.protocol === "https:" ? "; Secure" : "";
    document.cookie = token ? base + secure : `${COOKIE}=; Path=${url.pathname}; Max-Age=0`;
  }

  function subscribe() {
    const topics = words(el.topic.value);
    if (topics.length === 0) {
      el.topic.setAttribute("aria-invalid", "true");
      el.topic.focus();
      return;
    }
    el.topic.removeAttribute("aria-invalid");

    let url;
    try {
      url = hubURL();
    } catch {
      el.hubURL.setAttribute("aria-invalid", "true");
      el.hubURL.focus();
      return;
    }
    el.hubURL.removeAttribute("aria-invalid");
    const lastEventID = el.lastEventID.value.trim();
    const token = el.subToken.value.trim();
    const tokenInQuery = el.tokenQuery.checked;
    setAuthCookie(url, tokenInQuery ? "" : token);

    // What a stream or a poll asks for; never echo a token on screen.
    const shown = new URL(url);
    for (const t of topics) shown.searchParams.append("topic", t);
    if (lastEventID) shown.searchParams.set("lastEventID", lastEventID);
    if (tokenInQuery && token) shown.searchParams.set("authorization", "…");
    el.subscribeURL.textContent = `GET ${shown.href}`;
    el.subscribeError.textContent = "";

    const types = words(el.types.value);
    setState("CONNECTING");
    const sub = Herald.subscribe(url, {
      topics,
      types: types.length ? types : ["message"],
      lastEventID,
      transport: el.transport.value,
      token: tokenInQuery ? token : undefined,
      withCredentials: el.withCredentials.checked,
      onEvent: showEvent,
      onState: setState,
      onTransport: showTransport,
      onError(err) {
        el.subscribeError.textContent = err.message;
        if (err.fatal) subscription = null;
      },
      onOpen() {
        el.subscribeError.textContent = "";
      },
    });
    // A subscription can end before subscribe returns (no WebSocket in
    // this browser): it has no transport then.
    subscription = sub.transport ? sub : null;
  }

  function unsubscribe() {
    subscription?.close();
    subscription = null;
    setState("CLOSED");
  }

  function pad(n, width = 2) {
    return String(n).padStart(width, "0");
  }

  function showEvent(e) {
    const now = new Date();
    const li = document.createElement("li");
    li.className = "event";
    li.dataset.type = e.type;
    li.dataset.id = e.id;
    li.dataset.transport = e.transport;

    const meta = document.createElement("div");
    meta.className = "event-meta";
    const type = document.createElement("span");
    type.className = "event-type";
    type.textContent = e.type;
    const id = document.createElement("code");
    id.className = "event-id";
    id.textContent = e.id || "(no id)";
    const transport = document.createElement("span");
    transport.className = "event-transport";
    transport.textContent = TRANSPORT_NAMES[e.transport];
    const time = document.createElement("time");
    time.className = "event-time";
    time.dateTime = now.toISOString();
    time.textContent = `${pad(now.getHours())}:${pad(now.getMinutes())}:${pad(now.getSeconds())}.${pad(now.getMilliseconds(), 3)}`;
    meta.append(type, id, transport, time);

    const data = document.createElement("pre");
    data.className = "event-data";
    data.textContent = e.data;

    li.append(meta, data);
    el.events.prepend(li);
    while (el.events.childElementCount > MAX_EVENTS) el.events.lastElementChild.remove();
    received++;
    el.eventCount.textContent = String(received);
    el.eventsEmpty.hidden = true;
  }

  function clearEvents() {
    el.events.replaceChildren();
    received = 0;
    el.eventCount.textContent = "0";
    el.eventsEmpty.hidden = false;
  }

  function showResult(status, text) {
    el.publishResult.dataset.status = status;
    el.publishResult.textContent = text;
  }

  async function publish() {
    const topics = words(el.pubTopic.value);
    if (topics.length === 0) {
      el.pubTopic.setAttribute("aria-invalid", "true");
      el.pubTopic.focus();
      return;
    }
    el.pubTopic.removeAttribute("aria-invalid");

    el.publish.disabled = true;
    showResult("pending", "Publishing…");
    try {
      const id = await Herald.publish(hubURL(), {
        topics,
        data: el.pubData.value,
        type: el.pubType.value.trim(),
        id: el.pubID.value.trim(),
        private: el.pubPrivate.checked,
        token: el.pubToken.value.trim(),
        // Without a token in the form, no cookie either: a cookie the page
        // set earlier must not publish behind the user's back.
        credentials: el.pubToken.value.trim() ? "same-origin" : "omit",
      });
      el.publishResult.dataset.eventId = id;
      showResult("ok", `Published ${id}`);
    } catch (err) {
      delete el.publishResult.dataset.eventId;
      // A refusal carries the hub's status and reason; anything else never
      // reached the hub.
      showResult("error", err.status ? err.message : `Network error: ${err.message}`);
    } finally {
      el.publish.disabled = false;
    }
  }

  // Query parameters prefill the forms, so a link can open the page
  // already pointed at a topic: /?topic=...&types=...&hub=... A token comes
  // in the fragment (#token=...), which the browser never sends anywhere,
  // fills both token fields, and is taken off the address at once.
  function prefill() {
    const fragment = new URLSearchParams(location.hash.slice(1));
    if (fragment.has("token")) {
      el.subToken.value = el.pubToken.value = fragment.get("token");
      history.replaceState(null, "", location.pathname + location.search);
    }
    const q = new URLSearchParams(location.search);
    const topics = q.getAll("topic").join(" ");
    if (topics) el.topic.value = topics;
    if (q.has("types")) el.types.value = q.getAll("types").join(" ");
    if (q.has("lastEventID")) el.lastEventID.value = q.get("lastEventID");
    el.hubURL.value = q.get("hub") || hubURL().href;
    el.pubTopic.value = words(el.topic.value)[0] || "";
  }

  el.subscribeForm.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!subscription) subscribe();
  });
  // Switching goes on from the last event shown: herald.js hands its
  // position to the new transport.
  el.transport.addEventListener("change", () => {
    if (subscription) subscription.switchTransport(el.transport.value);
  });
  el.unsubscribe.addEventListener("click", unsubscribe);
  el.publishForm.addEventListener("submit", (e) => {
    e.preventDefault();
    publish();
  });
  el.clearEvents.addEventListener("click", clearEvents);
  // Publishing to what one watches is the common case; follow the
  // subscribe field until the user types a publish topic of their own.
  el.topic.addEventListener("input", () => {
    if (el.pubTopic.dataset.edited !== "true") el.pubTopic.value = words(el.topic.value)[0] || "";
  });
  el.pubTopic.addEventListener("input", () => {
    el.pubTopic.dataset.edited = "true";
  });

  prefill();
  setState("CLOSED");
})();
