// The real clients under test: headless Chromium (driven by playwright-core,
// running the browser's own EventSource) and the npm `eventsource` package.
// Both are wrapped as a "subscriber" with one shape, so a scenario can be
// written once and run against each.
import fs from 'node:fs';
import http from 'node:http';

import { EventSource } from 'eventsource';
import { chromium } from 'playwright-core';

import { waitFor } from './wait.mjs';

export const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';

if (!fs.existsSync(CHROMIUM)) {
  throw new Error(`chromium not found at ${CHROMIUM}: run e2e/install.sh (apt-get install chromium)`);
}

// Quiet, deterministic Chromium: no QUIC (the servers speak TCP only), no
// background traffic, no first-run UI. playwright-core gives each launch a
// fresh temporary profile.
const BROWSER_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/** Launches Debian's Chromium; extraArgs are appended to the usual flags. */
export function launchBrowser(extraArgs = []) {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [...BROWSER_ARGS, ...extraArgs],
  });
}

export const CONNECTING = 0;
export const OPEN = 1;
export const CLOSED = 2;

/**
 * @typedef {{type: string, id: string, data: string}} Received
 * @typedef {{readyState: number, opens: number, openedAt: number[], errors: number, events: Received[]}} Snapshot
 *   openedAt holds the wall-clock time (ms) of each open event.
 * @typedef {{snapshot(): Promise<Snapshot>, close(): Promise<void>}} Subscriber
 */

let pageSubscribers = 0;

/**
 * Opens `new EventSource(url, {withCredentials})` inside page and records
 * every event of the given types.
 * @returns {Promise<Subscriber>}
 */
export async function pageSubscriber(page, url, { types = ['message'], withCredentials = false } = {}) {
  const name = `s${++pageSubscribers}`;
  await page.evaluate(({ name, url, types, withCredentials }) => {
    const rec = { events: [], openedAt: [], errors: 0 };
    rec.es = new EventSource(url, { withCredentials });
    for (const type of types) {
      rec.es.addEventListener(type, (e) => rec.events.push({ type: e.type, id: e.lastEventId, data: e.data }));
    }
    rec.es.addEventListener('open', () => rec.openedAt.push(Date.now()));
    rec.es.addEventListener('error', () => rec.errors++);
    (window.e2eSubscribers ??= {})[name] = rec;
  }, { name, url: String(url), types, withCredentials });
  return {
    snapshot: () => page.evaluate((name) => {
      const { es, events, openedAt, errors } = window.e2eSubscribers[name];
      return { readyState: es.readyState, opens: openedAt.length, openedAt, errors, events };
    }, name),
    close: () => page.evaluate((name) => window.e2eSubscribers[name].es.close(), name),
  };
}

/**
 * Opens an npm `eventsource` EventSource in this process and records every
 * event of the given types.
 * @returns {Subscriber}
 */
export function nodeSubscriber(url, { types = ['message'] } = {}) {
  const rec = { events: [], openedAt: [], errors: 0 };
  const es = new EventSource(String(url));
  for (const type of types) {
    es.addEventListener(type, (e) => rec.events.push({ type: e.type, id: e.lastEventId, data: e.data }));
  }
  es.addEventListener('open', () => rec.openedAt.push(Date.now()));
  es.addEventListener('error', () => rec.errors++);
  return {
    snapshot: async () => ({
      readyState: es.readyState,
      opens: rec.openedAt.length,
      openedAt: [...rec.openedAt],
      errors: rec.errors,
      events: [...rec.events],
    }),
    close: async () => es.close(),
  };
}

/** Waits until the subscriber's snapshot satisfies pred, and returns it. */
export function waitForSubscriber(sub, pred, { timeout = 10_000, what = 'subscriber state' } = {}) {
  let last;
  return waitFor(async () => {
    last = await sub.snapshot();
    return pred(last) ? last : false;
  }, { timeout, what }).catch((err) => {
    throw new Error(`${err.message}; last state: ${JSON.stringify(last)}`, { cause: err });
  });
}

/** Waits until the subscriber is OPEN. */
export function waitOpen(sub, opts) {
  return waitForSubscriber(sub, (s) => s.readyState === OPEN, { what: 'readyState OPEN', ...opts });
}

/** Waits until the subscriber has received at least n events. */
export function waitEvents(sub, n, opts) {
  return waitForSubscriber(sub, (s) => s.events.length >= n, { what: `${n} events`, ...opts });
}

/**
 * @typedef {{id: string, type: string, data: string, transport: string}} Delivered
 * @typedef {{state: string, transport: string|null, lastEventID: string|undefined, opens: number, openedAt: number[],
 *   transports: {name: string, reason: string}[],
 *   errors: {message: string, fatal: boolean, code?: number, status?: number, retryAfter?: number, at: number}[],
 *   earliest: number, events: Delivered[]}} HeraldSnapshot
 *   openedAt and errors[].at are wall-clock times (ms).
 * @typedef {{snapshot(): Promise<HeraldSnapshot>, switchTransport(name: string): Promise<void>,
 *   setToken(token: string): Promise<void>, publish(updates: object[]): Promise<({id: string}|{code: number, message: string})[]>,
 *   close(): Promise<void>}} HeraldSubscriber
 */

let heraldSubscribers = 0;

/**
 * Subscribes inside page with the hub's own browser client,
 * `Herald.subscribe(hubURL, options)` from /herald.js (the page must have
 * loaded it), and records every callback.
 * @returns {Promise<HeraldSubscriber>}
 */
export async function heraldSubscriber(page, hubURL, options) {
  const name = `h${++heraldSubscribers}`;
  await page.evaluate(({ name, hubURL, options }) => {
    const rec = { events: [], transports: [], errors: [], opens: 0, openedAt: [], earliest: 0 };
    rec.sub = window.Herald.subscribe(hubURL, {
      ...options,
      onEvent: (ev) => rec.events.push({ id: ev.id, type: ev.type, data: ev.data, transport: ev.transport }),
      onOpen: () => { rec.opens++; rec.openedAt.push(Date.now()); },
      onTransport: (name, reason) => rec.transports.push({ name, reason }),
      onError: (err) => rec.errors.push({
        message: err.message, fatal: !!err.fatal, code: err.code, status: err.status, retryAfter: err.retryAfter, at: Date.now(),
      }),
      onEarliest: () => rec.earliest++,
    });
    (window.e2eHerald ??= {})[name] = rec;
  }, { name, hubURL: String(hubURL), options });
  return {
    snapshot: () => page.evaluate((name) => {
      const { sub, ...rec } = window.e2eHerald[name];
      return { ...rec, state: sub.state, transport: sub.transport, lastEventID: sub.lastEventID };
    }, name),
    switchTransport: (transport) => page.evaluate(({ name, transport }) => window.e2eHerald[name].sub.switchTransport(transport), { name, transport }),
    setToken: (token) => page.evaluate(({ name, token }) => window.e2eHerald[name].sub.setToken(token), { name, token }),
    // Sends every publish before awaiting any ack; resolves to the event
    // ID or the refusal ({code, message}) of each.
    publish: (updates) => page.evaluate(({ name, updates }) => Promise.all(updates.map((u) => window.e2eHerald[name].sub.publish(u)
      .then((id) => ({ id }), (err) => ({ code: err.code, message: err.message })))), { name, updates }),
    // A closed page took its subscription with it.
    close: async () => {
      if (!page.isClosed()) await page.evaluate((name) => window.e2eHerald[name].sub.close(), name);
    },
  };
}

/** Waits until the herald.js subscriber is open. */
export function waitHeraldOpen(sub, opts) {
  return waitForSubscriber(sub, (s) => s.state === 'open', { what: 'state open', ...opts });
}

/**
 * Serves a bare page on an origin of its own: the "other site" that embeds
 * Herald. Resolves to its origin and a close function.
 */
export async function pageServer() {
  const server = http.createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end('<!doctype html><title>another origin</title>');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${server.address().port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}
