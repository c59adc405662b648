// Scenario 15: a cluster. Three nats-server processes in a JetStream
// cluster (built from the Go module: e2e/nats) and three `herald serve
// --nats ... --nats-replicas 3` nodes on it. Subscribers (npm eventsource,
// Chromium's EventSource and the Go client, `herald subscribe`) are spread
// over the nodes and move to the next node, resuming from the last event
// they got, when their stream breaks; publishers publish on every node
// and send an update that was not acknowledged again, with its own id, to
// the next node. Through a node
// killed, a NATS server killed, every NATS server down and the whole
// cluster restarted, every subscriber must end with every acknowledged
// event exactly once, in the one order of the stream. The nodes run with
// --subscriptions: a list on one shows the subscribers of another.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { launchBrowser, pageServer } from '../lib/clients.mjs';
import { Publisher, failoverSubscriber, goFailoverSubscriber, pageFailoverSubscriber, waitAcked } from '../lib/cluster.mjs';
import { Herald, PUBLISHER_KEY, fetchText, freePort, herald } from '../lib/herald.mjs';
import { NatsCluster } from '../lib/nats.mjs';
import { waitFor } from '../lib/wait.mjs';

const NODES = 3;
const ADMIN = 'e2e-cluster-admin';

let cluster;
const nodes = [];
let browser;
let page;
let site;

// Every event of each scenario's topic, in the stream's order, as its
// subscribers got them: what the cluster must still hold after a restart.
const history = new Map();

before(async () => {
  site = await pageServer();
  cluster = await NatsCluster.start({ label: 'cluster' });
  const args = ['--nats', cluster.urls, '--nats-replicas', '3', '--anonymous', '--cors-origins', site.origin,
    '--subscriptions', '--db-admin-token', ADMIN, '--nats-snapshot-interval', '1s'];
  // The first node creates the stream; the others find it.
  nodes.push(await Herald.start({ label: 'cluster-node1', args }));
  nodes.push(...await Promise.all([2, 3].map((i) => Herald.start({ label: `cluster-node${i}`, args }))));
  browser = await launchBrowser();
  page = await browser.newPage();
  await page.goto(`${site.origin}/`);
});
after(async () => {
  await browser?.close();
  await Promise.all(nodes.map((n) => n.close()));
  await cluster?.close();
  await site?.close();
});

const hubURLs = () => nodes.map((n) => n.hubURL);
const topicOf = (name) => `https://example.com/e2e/cluster/${name}`;

function waitOpened(subs) {
  return waitFor(async () => {
    const snaps = await Promise.all(subs.map((s) => s.snapshot()));
    return snaps.every((s) => s.opens.length > 0);
  }, { what: 'every subscriber connected' });
}

// The status of GET /readyz, or why there was none. The hub gives
// JetStream 2 s to answer its check.
async function readyStatus(node) {
  try {
    return (await fetchText(`${node.origin}/readyz`, { timeout: 5000 })).status;
  } catch (err) {
    return err.message;
  }
}

function waitReady(status, { timeout = 30_000 } = {}) {
  let got;
  return waitFor(async () => {
    got = await Promise.all(nodes.map(readyStatus));
    return got.every((s) => s === status);
  }, { timeout, interval: 100, what: `GET /readyz ${status} on every node` }).catch((err) => {
    throw new Error(`${err.message}; last: ${got}`, { cause: err });
  });
}

/** Waits until every subscriber has got the event with id, and returns their snapshots. */
function waitForID(subs, id, { timeout = 20_000 } = {}) {
  let last;
  return waitFor(async () => {
    last = await Promise.all(subs.map((s) => s.snapshot()));
    return last.every((s) => s.events.some((e) => e.id === id)) && last;
  }, { timeout, what: `event ${id} at every subscriber` }).catch((err) => {
    const counts = last?.map((s) => `${s.events.length} events, opens on nodes ${s.opens}`);
    throw new Error(`${err.message}; subscribers: ${JSON.stringify(counts)}`, { cause: err });
  });
}

/**
 * Stops the publishers and publishes one last update; once every
 * subscriber has it, each must have got exactly the acknowledged updates,
 * that one last, in one order that keeps each publisher's. Records that
 * order in history and returns it and the subscribers' snapshots.
 */
async function finish(topic, publishers, subs) {
  await Promise.all(publishers.map((p) => p.stop()));
  const last = new Publisher({ name: `last-${publishers[0].name}`, nodes, topic, start: publishers[0].node });
  await last.publishNext();
  const lastID = last.acked[0].id;
  const snaps = await waitForID(subs, lastID);
  const acked = [...publishers, last].flatMap((p) => p.acked.map((a) => a.id));
  const order = snaps[0].events;
  assert.equal(order.at(-1).id, lastID, 'the last update published comes last');
  assert.deepEqual(order.map((e) => e.id).toSorted(), acked.toSorted(), 'every acknowledged update once, and nothing else');
  for (const p of publishers) {
    assert.deepEqual(order.filter((e) => e.data.startsWith(`${p.name}-`)).map((e) => e.data), p.acked.map((a) => a.data),
      `${p.name}'s updates in the order it published them`);
  }
  snaps.forEach((s, i) => assert.deepEqual(s.events, order, `subscriber ${i} got the same events in the same order as subscriber 0`));
  history.set(topic, order);
  return { order, snaps };
}

function describeFailures(publishers) {
  const failures = publishers.flatMap((p) => p.failures);
  const retried = publishers.flatMap((p) => p.acked).filter((a) => a.attempts > 1);
  const stored = retried.filter((a) => a.status === 409).length;
  const kinds = [...new Set(failures.map((f) => f.outcome.replace(/:\d+/g, ':PORT')))];
  return `${failures.length} attempts failed${kinds.length ? ` (${kinds.join('; ')})` : ''}; `
    + `${retried.length} updates acknowledged on a later attempt, ${stored} of them by a 409 (an earlier attempt was stored)`;
}

// The longest a publisher went without an acknowledgement.
function longestWait(publishers) {
  return Math.max(...publishers.map((p) => Math.max(0, ...p.acked.slice(1).map((a, i) => a.at - p.acked[i].at))));
}

test('herald serve --nats exits at once with a clear error when no NATS server answers', async () => {
  const port = await freePort();
  const started = Date.now();
  await assert.rejects(
    herald(['serve', '--nats', `nats://127.0.0.1:${port}`, '--publisher-key', PUBLISHER_KEY, '--anonymous', '--addr', '127.0.0.1:0']),
    new RegExp(`herald serve failed \\(1\\): herald: opening the JetStream journal on nats://127\\.0\\.0\\.1:${port}: .*no servers available`),
  );
  assert.ok(Date.now() - started < 30_000, 'it gives up within 30 s');
});

test('every subscriber on every node gets the same events in the same order', async (t) => {
  const topic = topicOf('order');
  const subs = [];
  for (let i = 0; i < NODES; i++) {
    subs.push(failoverSubscriber(hubURLs(), topic, { start: i }), failoverSubscriber(hubURLs(), topic, { start: i }));
  }
  subs.push(await pageFailoverSubscriber(page, hubURLs(), topic, { start: 1 }));
  subs.push(...nodes.map((_, i) => goFailoverSubscriber(hubURLs(), topic, { start: i })));
  t.after(() => Promise.all(subs.map((s) => s.close())));
  await waitOpened(subs);

  // Each node's publisher as fast as it is acknowledged; the third lets
  // the hub choose its ids.
  const publishers = nodes.map((_, i) => new Publisher({ name: `order-p${i + 1}`, nodes, topic, start: i, generatedIDs: i === 2 }));
  const started = Date.now();
  for (const p of publishers) p.start(0);
  await waitAcked(publishers, 50);
  const { order, snaps } = await finish(topic, publishers, subs);
  for (const s of snaps) assert.deepEqual(s.opens.length, 1, 'no subscriber had to reconnect');
  t.diagnostic(`${order.length} events from 3 nodes to ${subs.length} subscribers on 3 nodes in ${Date.now() - started} ms`);
});

test('the subscriptions API of any node lists the subscribers of every node', async (t) => {
  const topic = topicOf('subscriptions');
  const sub = failoverSubscriber([nodes[2].hubURL], topic);
  t.after(() => sub.close());
  await waitOpened([sub]);
  const token = await nodes[0].subscriberToken(['/.well-known/mercure/subscriptions{/topic}{/subscriber}']);
  const res = await fetchText(`${nodes[0].hubURL}/subscriptions/${encodeURIComponent(topic)}`, {
    headers: { Authorization: `Bearer ${token}` },
  });
  assert.equal(res.status, 200, res.body);
  const list = JSON.parse(res.body);
  assert.deepEqual(list.subscriptions.map((s) => [s.topic, s.active]), [[topic, true]], 'node 1 lists the subscriber of node 3');
  assert.match(list.subscriptions[0].subscriber, /^urn:uuid:/);
});

test('a node killed while publishers publish: its subscribers resume on another node with nothing lost or repeated', async (t) => {
  const topic = topicOf('node-killed');
  const victim = 2;
  const others = [0, 1].map((i) => failoverSubscriber(hubURLs(), topic, { start: i }));
  const moving = [
    failoverSubscriber(hubURLs(), topic, { start: victim }),
    failoverSubscriber(hubURLs(), topic, { start: victim }),
    await pageFailoverSubscriber(page, hubURLs(), topic, { start: victim }),
    goFailoverSubscriber(hubURLs(), topic, { start: victim }),
  ];
  const subs = [...others, ...moving];
  t.after(() => Promise.all(subs.map((s) => s.close())));
  await waitOpened(subs);

  const publishers = nodes.map((_, i) => new Publisher({ name: `node-killed-p${i + 1}`, nodes, topic, start: i }));
  for (const p of publishers) p.start();
  const atKill = await waitAcked(publishers, 15);
  const killedAt = Date.now();
  await nodes[victim].kill('SIGKILL');
  await waitFor(async () => {
    const snaps = await Promise.all(moving.map((s) => s.snapshot()));
    return snaps.every((s) => s.opens.length > 1);
  }, { what: 'the killed node\'s subscribers connected to another node' });
  const movedIn = Date.now() - killedAt;
  // Publishing goes on, the killed node's publisher on another node.
  await waitAcked(publishers, 30, { since: atKill });
  const { order, snaps } = await finish(topic, publishers, subs);

  snaps.slice(0, others.length).forEach((s, i) => assert.equal(s.opens.length, 1, `subscriber ${i} of a node that lived stayed on it`));
  for (const s of snaps.slice(others.length)) {
    assert.equal(s.opens[0], victim);
    assert.ok(s.opens.slice(1).every((n) => n !== victim), `moved to a node that lives: opens on ${s.opens}`);
  }
  t.diagnostic(`${order.length} events; the killed node's ${moving.length} subscribers were on another node ${movedIn} ms after the kill; ${describeFailures(publishers)}; longest wait for an acknowledgement ${longestWait(publishers)} ms`);

  await nodes[victim].start();
  assert.equal(await readyStatus(nodes[victim]), 200);
});

/**
 * Reads the stream's state as each running NATS server's replica has it.
 */
async function replicaStates(stream = 'HERALD') {
  return Promise.all(cluster.servers.filter((s) => s.child).map(async (s) => {
    const jsz = JSON.parse((await fetchText(`${s.monitor}/jsz?streams=true`, { timeout: 2000 })).body);
    const detail = (jsz.account_details ?? []).flatMap((a) => a.stream_detail ?? []).find((d) => d.name === stream);
    return { server: s.name, messages: detail?.state.messages, lastSeq: detail?.state.last_seq };
  }));
}

test('a NATS server killed (the stream leader): publishes go on being acknowledged, and nothing acknowledged is lost', async (t) => {
  const topic = topicOf('nats-killed');
  const subs = nodes.map((_, i) => failoverSubscriber(hubURLs(), topic, { start: i }));
  subs.push(await pageFailoverSubscriber(page, hubURLs(), topic, { start: 0 }));
  t.after(() => Promise.all(subs.map((s) => s.close())));
  await waitOpened(subs);

  const publishers = nodes.map((_, i) => new Publisher({ name: `nats-killed-p${i + 1}`, nodes, topic, start: i }));
  for (const p of publishers) p.start();
  const atKill = await waitAcked(publishers, 15);
  const leader = await cluster.streamLeader();
  const killedAt = Date.now();
  await leader.kill('SIGKILL');
  const whileDown = await waitAcked(publishers, 30, { since: atKill, timeout: 30_000, what: 'publishes acknowledged with a NATS server down' });
  const downFor = Date.now() - killedAt;
  leader.start();
  await cluster.waitHealthy();
  await waitAcked(publishers, 15, { since: whileDown });
  const { order } = await finish(topic, publishers, subs);

  // The server that came back has caught up: its replica holds what the
  // others hold.
  let states;
  await waitFor(async () => {
    states = await replicaStates();
    return states.length === 3 && states.every((s) => s.lastSeq === states[0].lastSeq && s.messages === states[0].messages);
  }, { timeout: 20_000, what: 'the three replicas of the stream equal' }).catch((err) => {
    throw new Error(`${err.message}; replicas: ${JSON.stringify(states)}`, { cause: err });
  });
  t.diagnostic(`${order.length} events; ${leader.name} (the stream leader) was down ${downFor} ms; ${describeFailures(publishers)}; longest wait for an acknowledgement ${longestWait(publishers)} ms`);
});

test('every NATS server down: /readyz 503 on every node, then 200 again, and the subscribers connected through it lose nothing', async (t) => {
  const topic = topicOf('nats-down');
  const subs = nodes.map((_, i) => failoverSubscriber(hubURLs(), topic, { start: i }));
  subs.push(await pageFailoverSubscriber(page, hubURLs(), topic, { start: 2 }));
  t.after(() => Promise.all(subs.map((s) => s.close())));
  await waitOpened(subs);
  const publishers = nodes.map((_, i) => new Publisher({ name: `nats-down-p${i + 1}`, nodes, topic, start: i }));
  for (const p of publishers) await p.publishNext();

  await cluster.killAll('SIGKILL');
  const killedAt = Date.now();
  await waitReady(503);
  const notReadyIn = Date.now() - killedAt;

  await t.test('a publish while NATS is down is answered 503 with Retry-After', async () => {
    const started = Date.now();
    const res = await fetchText(nodes[0].hubURL, {
      method: 'POST',
      headers: { Authorization: `Bearer ${nodes[0].publisherToken}`, 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ topic: topicOf('nats-down-refused'), data: 'refused', id: 'nats-down-refused' }).toString(),
      timeout: 8000,
    }).catch((err) => ({ status: `no answer after ${Date.now() - started} ms (${err.message})`, headers: {} }));
    assert.equal(res.status, 503);
    assert.match(res.headers['retry-after'] ?? '', /^\d+$/);
  });

  const restartedAt = Date.now();
  await cluster.startAll();
  await waitReady(200);
  const readyIn = Date.now() - restartedAt;
  for (const p of publishers) p.start();
  await waitAcked(publishers, 5, { since: [1, 1, 1] });
  const { order, snaps } = await finish(topic, publishers, subs);
  t.diagnostic(`/readyz 503 on every node ${notReadyIn} ms after NATS went down, 200 ${readyIn} ms after it was started again; `
    + `${order.length} events; subscribers reconnected ${snaps.map((s) => s.opens.length - 1)} times; ${describeFailures(publishers)}`);
});

test('the whole cluster restarted: every acknowledged event is still there, from earliest or from an ID in the middle', async (t) => {
  assert.ok(history.size >= 4, 'the scenarios before recorded their topics');
  await Promise.all(nodes.map((n) => n.kill('SIGKILL')));
  await cluster.killAll('SIGKILL');
  const restartedAt = Date.now();
  await cluster.startAll();
  await Promise.all(nodes.map((n) => n.start()));
  t.diagnostic(`3 NATS servers and 3 nodes ready ${Date.now() - restartedAt} ms after the start`);

  let n = 0;
  for (const [topic, order] of history) {
    const mid = Math.floor(order.length / 2);
    const readers = [
      { from: 'earliest', want: order, sub: failoverSubscriber(hubURLs(), topic, { start: n % NODES, from: 'earliest' }) },
      { from: order[mid].id, want: order.slice(mid + 1), sub: failoverSubscriber(hubURLs(), topic, { start: (n + 1) % NODES, from: order[mid].id }) },
      { from: order[mid].id, want: order.slice(mid + 1), sub: await pageFailoverSubscriber(page, hubURLs(), topic, { start: (n + 2) % NODES, from: order[mid].id }) },
    ];
    n++;
    t.after(() => Promise.all(readers.map((r) => r.sub.close())));
    // Whatever a reader would get beyond what it should comes before an
    // update published now.
    await waitOpened(readers.map((r) => r.sub));
    const next = new Publisher({ name: `${topic.split('/').at(-1)}-restarted`, nodes, topic, start: n % NODES });
    await next.publishNext();
    const snaps = await waitForID(readers.map((r) => r.sub), next.acked[0].id);
    readers.forEach((r, i) => {
      assert.deepEqual(snaps[i].events, [...r.want, { id: next.acked[0].id, data: next.acked[0].data }],
        `${topic} from ${r.from}: exactly the events after it`);
    });
  }
});

// One state tree request on a node as the admin: [status, body, headers].
async function db(node, method, path, body, headers = {}) {
  const res = await fetch(`${node.origin}/db${path}`, {
    method, body, headers: { Authorization: `Bearer ${ADMIN}`, ...headers },
  });
  return [res.status, await res.text(), res.headers];
}

test('the state tree is one tree: increments from every node add up, a write on one node is read on another, a node killed comes back with the same tree', async (t) => {
  // 3 nodes x 4 writers x 5 increments, at once.
  const writers = [];
  for (let w = 0; w < 12; w++) {
    writers.push((async () => {
      for (let i = 0; i < 5; i++) {
        const [status, body] = await db(nodes[w % NODES], 'PATCH', '/e2e/counters.json', '{"hits":{".sv":{"increment":1}}}');
        assert.equal(status, 200, body);
      }
    })());
  }
  await Promise.all(writers);
  const [, , h] = await db(nodes[0], 'PUT', '/e2e/last.json', '"from node 1"');
  const after = h.get('herald-event-id');
  assert.ok(after, 'a write answers Herald-Event-ID');
  for (const node of nodes) {
    const [status, body] = await db(node, 'GET', '/e2e.json', undefined, { 'Herald-After': after });
    assert.equal(status, 200, body);
    assert.deepEqual(JSON.parse(body), { counters: { hits: 60 }, last: 'from node 1' }, `the tree on ${node.origin}`);
  }
  // kill -9 node 2 and start it again: it starts from a snapshot and the
  // stream, and has the same tree, with the writes made while it was down.
  await nodes[1].kill('SIGKILL');
  await db(nodes[2], 'PATCH', '/e2e/counters.json', '{"hits":{".sv":{"increment":1}}}');
  const [, , h2] = await db(nodes[0], 'PUT', '/e2e/down.json', 'true');
  await nodes[1].start();
  const [status, body] = await db(nodes[1], 'GET', '/e2e.json', undefined, { 'Herald-After': h2.get('herald-event-id') });
  assert.equal(status, 200, body);
  assert.deepEqual(JSON.parse(body), { counters: { hits: 61 }, last: 'from node 1', down: true });
  t.diagnostic('60 increments over 3 nodes exact; node 2 restarted with the same tree');
});
