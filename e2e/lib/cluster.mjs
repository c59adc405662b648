// Clients of several Herald nodes, as an application in front of a cluster
// would write them without a load balancer: a subscriber that moves to the
// next node when its stream breaks, resuming from the last event it got,
// and a publisher that sends each update again, to the next node, until
// one acknowledges it.
import readline from 'node:readline';

import { EventSource } from 'eventsource';

import { fetchText, spawnHerald } from './herald.mjs';
import { waitFor } from './wait.mjs';

// How long a client waits before it tries the next node: long enough not
// to spin while every node is down, short next to the scenarios' waits.
const MOVE_DELAY_MS = 100;

/**
 * @typedef {{id: string, data: string}} Got
 * @typedef {{events: Got[], opens: number[], moves: number, errors: number}} FailoverSnapshot
 *   opens lists the node index of each connection opened.
 * @typedef {{snapshot(): Promise<FailoverSnapshot>, close(): Promise<void>}} FailoverSubscriber
 */

/**
 * The Last-Event-ID a subscriber resumes from: the last event it got; else
 * from, where it started; else, once it has moved, earliest, which on a
 * topic first published to after it subscribed is exactly what it missed.
 */
function resumeFrom(events, from, moved) {
  return events.at(-1)?.id ?? from ?? (moved ? 'earliest' : undefined);
}

/**
 * Subscribes with npm `eventsource` to topic on hubURLs[start]; whenever
 * the stream fails it closes it and opens a new EventSource on the next
 * node, with the Last-Event-ID header of the last event received. from,
 * when set, is the Last-Event-ID of the first connection.
 * @returns {FailoverSubscriber}
 */
export function failoverSubscriber(hubURLs, topic, { start = 0, from } = {}) {
  return failover(hubURLs, start, (node, rec, failed) => {
    const lastID = resumeFrom(rec.events, from, rec.moves > 0);
    const url = new URL(hubURLs[node]);
    url.searchParams.set('topic', topic);
    // The library sends its own Last-Event-ID when it reconnects by
    // itself; it never does here, since a failure moves to the next node.
    const es = new EventSource(url, {
      fetch: (input, init) => fetch(input, { ...init, headers: { ...(lastID && { 'Last-Event-ID': lastID }), ...init.headers } }),
    });
    es.addEventListener('message', (e) => rec.events.push({ id: e.lastEventId, data: e.data }));
    es.addEventListener('open', () => rec.opens.push(node));
    es.addEventListener('error', () => {
      rec.errors++;
      es.close();
      failed();
    });
    return () => es.close();
  });
}

/**
 * Subscribes with the Go client, `herald subscribe --json`, to topic on
 * hubURLs[start], from earliest (the topic is the scenario's own, so
 * that is every event of it, whenever the connection is made); when the
 * command reports its stream broken, it is stopped, and once all it
 * printed is read, started on the next node with the last event's ID.
 * @returns {FailoverSubscriber}
 */
export function goFailoverSubscriber(hubURLs, topic, { start = 0 } = {}) {
  return failover(hubURLs, start, (node, rec, failed) => {
    const lastID = rec.events.at(-1)?.id ?? 'earliest';
    const child = spawnHerald(['subscribe', '--hub', hubURLs[node], '--topic', topic, '--json', '--last-event-id', lastID]);
    rec.opens.push(node);
    let broken = false;
    const out = readline.createInterface({ input: child.stdout });
    out.on('line', (line) => {
      const ev = JSON.parse(line);
      rec.events.push({ id: ev.id, data: ev.data });
    });
    // Every event it printed is read before the next one starts from the
    // last of them.
    out.on('close', () => {
      if (broken) failed();
    });
    readline.createInterface({ input: child.stderr }).on('line', (line) => {
      if (broken || !line.includes('(reconnecting)')) return;
      broken = true;
      rec.errors++;
      child.kill('SIGKILL');
    });
    return () => child.kill('SIGKILL');
  });
}

/**
 * The part of a failover subscriber that does not depend on the client:
 * connect(node, rec, failed) opens a connection on hubURLs[node] that
 * records what it receives in rec and calls failed once its stream broke
 * and all it received is recorded; it returns a function that closes it.
 * After a failure the next node is connected, MOVE_DELAY_MS later.
 * @returns {FailoverSubscriber}
 */
function failover(hubURLs, start, connect) {
  const rec = { events: [], opens: [], moves: 0, errors: 0 };
  let node = start;
  let closeConn;
  let timer;
  let closed = false;
  const open = () => {
    closeConn = connect(node, rec, () => {
      if (closed) return;
      node = (node + 1) % hubURLs.length;
      rec.moves++;
      timer = setTimeout(open, MOVE_DELAY_MS);
    });
  };
  open();
  return {
    snapshot: async () => ({ events: [...rec.events], opens: [...rec.opens], moves: rec.moves, errors: rec.errors }),
    close: async () => {
      closed = true;
      clearTimeout(timer);
      closeConn();
    },
  };
}

let pageFailovers = 0;

/**
 * failoverSubscriber in page, with the browser's own EventSource: it
 * cannot set a header, so it resumes with the lastEventID query parameter
 * that Mercure hubs read instead. The hubs must allow page's origin
 * (--cors-origins).
 * @returns {Promise<FailoverSubscriber>}
 */
export async function pageFailoverSubscriber(page, hubURLs, topic, { start = 0, from } = {}) {
  const name = `f${++pageFailovers}`;
  await page.evaluate(({ name, hubURLs, topic, start, from, delay, resumeFromSrc }) => {
    const resumeFrom = new Function(`return ${resumeFromSrc}`)();
    const rec = { events: [], opens: [], moves: 0, errors: 0, node: start, closed: false };
    const open = () => {
      const lastID = resumeFrom(rec.events, from, rec.moves > 0);
      const url = new URL(hubURLs[rec.node]);
      url.searchParams.set('topic', topic);
      if (lastID) url.searchParams.set('lastEventID', lastID);
      const es = new EventSource(url);
      rec.es = es;
      const opened = rec.node;
      es.addEventListener('message', (e) => rec.events.push({ id: e.lastEventId, data: e.data }));
      es.addEventListener('open', () => rec.opens.push(opened));
      es.addEventListener('error', () => {
        rec.errors++;
        es.close();
        if (rec.closed) return;
        rec.node = (rec.node + 1) % hubURLs.length;
        rec.moves++;
        rec.timer = setTimeout(open, delay);
      });
    };
    open();
    (window.e2eFailover ??= {})[name] = rec;
  }, { name, hubURLs: hubURLs.map(String), topic, start, from, delay: MOVE_DELAY_MS, resumeFromSrc: resumeFrom.toString() });
  return {
    snapshot: () => page.evaluate((name) => {
      const { events, opens, moves, errors } = window.e2eFailover[name];
      return { events, opens, moves, errors };
    }, name),
    close: async () => {
      if (page.isClosed()) return;
      await page.evaluate((name) => {
        const rec = window.e2eFailover[name];
        rec.closed = true;
        clearTimeout(rec.timer);
        rec.es.close();
      }, name);
    },
  };
}

/**
 * Publishes to topic over HTTP, one update at a time, each acknowledged
 * before the next is sent, so that the stream must keep each publisher's
 * order. Each update has a publisher-chosen id (unless generatedIDs),
 * unique for good: an update that fails (no answer, a broken connection,
 * a 503) is sent again with the same id to the next node, and a 409 then
 * says an earlier attempt was stored after all. acked lists every
 * acknowledged update; failures every attempt that was not.
 */
export class Publisher {
  /**
   * @param {object} o
   * @param {string} o.name prefix of the ids and data
   * @param {{hubURL: string, publisherToken: string}[]} o.nodes
   * @param {string} o.topic
   * @param {number} [o.start] index of the first node to publish to
   * @param {boolean} [o.generatedIDs] let the hub choose the ids (no retries then)
   * @param {number} [o.timeout] ms without an answer before an attempt is given up
   */
  constructor({ name, nodes, topic, start = 0, generatedIDs = false, timeout = 5000 }) {
    Object.assign(this, { name, nodes, topic, node: start, generatedIDs, timeout });
    /** @type {{id: string, data: string, node: number, attempts: number, status: number, at: number}[]} */
    this.acked = [];
    /** @type {{data: string, node: number, outcome: string, at: number}[]} */
    this.failures = [];
    this.count = 0;
    this.stopped = false;
    this.running = null;
    this.error = null;
  }

  /** Publishes the next update; resolves once it is acknowledged. */
  async publishNext() {
    const data = `${this.name}-${++this.count}`;
    const deadline = Date.now() + 30_000;
    for (let attempt = 1; ; attempt++) {
      const node = this.node;
      const fields = { topic: this.topic, data };
      if (!this.generatedIDs) fields.id = data;
      let outcome;
      try {
        const res = await fetchText(this.nodes[node].hubURL, {
          method: 'POST',
          headers: { Authorization: `Bearer ${this.nodes[node].publisherToken}`, 'Content-Type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams(fields).toString(),
          timeout: this.timeout,
        });
        const stored = res.status === 200 || (res.status === 409 && attempt > 1);
        if (stored) {
          const id = res.status === 200 ? res.body.trim() : data;
          if (!this.generatedIDs && id !== data) throw new Error(`${data}: acknowledged with id ${id}`);
          this.acked.push({ id, data, node, attempts: attempt, status: res.status, at: Date.now() });
          return;
        }
        if (res.status !== 503) throw new Error(`${data}: POST ${this.nodes[node].hubURL} answered ${res.status} ${res.body.trim()}`);
        outcome = `503 ${res.body.trim()} (Retry-After ${res.headers['retry-after']})`;
      } catch (err) {
        if (err.message.startsWith(`${data}:`)) throw err;
        outcome = err.message;
      }
      this.failures.push({ data, node, outcome, at: Date.now() });
      if (this.generatedIDs) throw new Error(`${data}: ${outcome}, and without an id of its own it cannot be sent again`);
      if (Date.now() > deadline) throw new Error(`${data}: not acknowledged after ${attempt} attempts; last: ${outcome}`);
      this.node = (node + 1) % this.nodes.length;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  /** Publishes without pause (pace ms between updates) until stop. */
  start(pace = 10) {
    this.running = (async () => {
      while (!this.stopped) {
        await this.publishNext();
        await new Promise((resolve) => setTimeout(resolve, pace));
      }
    })();
    // A failure is reported by stop, and by waitAcked meanwhile.
    this.running.catch((err) => { this.error = err; });
  }

  /** Stops after the update in flight; rejects if an update failed for good. */
  async stop() {
    this.stopped = true;
    await this.running;
  }
}

/**
 * Waits until every publisher has n more acknowledged updates than it had
 * at since (the acked counts of a moment before, in publishers' order;
 * none: from the start); a publisher that failed for good ends the wait
 * with its error. Returns the counts now, for a later since.
 */
export async function waitAcked(publishers, n, { since = [], timeout = 20_000, what = `${n} more acknowledged publishes each` } = {}) {
  await waitFor(() => publishers.some((p) => p.error) || publishers.every((p, i) => p.acked.length >= (since[i] ?? 0) + n), { timeout, what });
  const failed = publishers.find((p) => p.error);
  if (failed) throw failed.error;
  return publishers.map((p) => p.acked.length);
}
