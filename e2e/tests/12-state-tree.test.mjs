// The state tree's REST streams (Firebase's text/event-stream API) read by
// Chromium's own EventSource, from a page of another origin allowed by
// --cors-origins, and by npm `eventsource`: the first put of the value at
// the watched path, then a put or patch, relative to that path, for each
// write at, below or above it (and none for writes beside it); keep-alive;
// auth_revoked when the token expires, after which a new URL with a fresh
// token resumes from the last event. And a client that resumes by itself,
// with Last-Event-ID, across a SIGKILL and restart while a writer writes:
// only the changes since, none lost or repeated, its copy equal to the
// tree.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { CLOSED, CONNECTING, launchBrowser, nodeSubscriber, pageServer, pageSubscriber, waitForSubscriber } from '../lib/clients.mjs';
import { ADMIN_TOKEN, applyEvent, dbGet, dbRequest, dbToken, dbURL, dbWrite, parseEvent, writesOf } from '../lib/db.mjs';
import { Herald } from '../lib/herald.mjs';
import { waitFor } from '../lib/wait.mjs';

const TYPES = ['put', 'patch', 'keep-alive', 'cancel', 'auth_revoked'];

let browser;
let site;
let hub;
before(async () => {
  browser = await launchBrowser();
  site = await pageServer();
  hub = await Herald.start({
    label: 'state-tree',
    args: ['--db-admin-token', ADMIN_TOKEN, '--heartbeat', '1s', '--cors-origins', site.origin],
  });
});
after(async () => {
  await Promise.all([browser?.close(), site?.close(), hub?.close()]);
});

async function sitePage(t) {
  const context = await browser.newContext();
  t.after(() => context.close());
  const page = await context.newPage();
  await page.goto(`${site.origin}/`);
  return page;
}

/** Waits until sub has received n puts and patches, and returns them parsed. */
async function waitWrites(sub, n, what = `${n} puts and patches`) {
  const s = await waitForSubscriber(sub, (s) => writesOf(s.events).length >= n, { what });
  return writesOf(s.events).map(parseEvent);
}

// Writes at, below, above and beside the watched path /{room}/b, each
// with the event it must bring (none for the writes beside it). Every
// write is made once the previous event has arrived, so an event due to a
// write beside the path would come before the next one and show.
async function watchEvents(room, sub) {
  const want = [{ type: 'put', path: '/', data: { c: 1 } }];
  const writes = [
    ['PUT', `/${room}/b/c`, 2, { type: 'put', path: '/c', data: 2 }],
    ['PATCH', `/${room}/b`, { d: 3, 'e/f': 4 }, { type: 'patch', path: '/', data: { d: 3, 'e/f': 4 } }],
    ['PUT', `/${room}/a`, 'beside', null],
    ['PATCH', `/${room}`, { 'b/c': 5, a: 'beside again' }, { type: 'patch', path: '/', data: { c: 5 } }],
    ['PUT', `/${room}`, { a: 'w', b: { g: 6 } }, { type: 'put', path: '/', data: { g: 6 } }],
    ['PATCH', `/${room}`, { a: 'v' }, null],
    ['DELETE', `/${room}/b/g`, undefined, { type: 'put', path: '/g', data: null }],
    ['PUT', `/${room}/b`, { h: { '.sv': { increment: 7 } } }, { type: 'put', path: '/', data: { h: 7 } }],
    ['DELETE', `/${room}`, undefined, { type: 'put', path: '/', data: null }],
    ['PUT', `/${room}/b/end`, true, { type: 'put', path: '/end', data: true }],
  ];
  await waitWrites(sub, 1, 'the first put');
  for (const [method, path, body, event] of writes) {
    await dbWrite(hub, method, path, body);
    if (event) {
      want.push(event);
      await waitWrites(sub, want.length, `the event of ${method} ${path}`);
    }
  }
  const s = await sub.snapshot();
  assert.deepEqual(writesOf(s.events).map(parseEvent), want, 'puts and patches, relative to /b');
  const ids = writesOf(s.events).map((e) => e.id);
  assert.ok(ids.every((id) => id !== ''), `every put and patch has an id: ${ids}`);
  assert.equal(new Set(ids).size, ids.length, 'event IDs are unique');
  assert.deepEqual(writesOf(s.events).reduce(applyEvent, null), await dbGet(hub, `/${room}/b`), 'the events rebuild the value');

  // --heartbeat 1s: keep-alive, whose data is null.
  const k = await waitForSubscriber(sub, (s) => s.events.some((e) => e.type === 'keep-alive'), { what: 'a keep-alive' });
  assert.equal(k.events.find((e) => e.type === 'keep-alive').data, 'null');
  assert.equal(k.opens, 1, 'one connection all along');
}

// Each client under test opens a URL and records every event of TYPES.
const clients = {
  'Chromium EventSource': async (t) => {
    const page = await sitePage(t);
    return (url) => pageSubscriber(page, url, { types: TYPES });
  },
  'npm eventsource': async (t) => (url) => {
    const sub = nodeSubscriber(url, { types: TYPES });
    t.after(sub.close);
    return sub;
  },
};

for (const [name, client] of Object.entries(clients)) {
  const room = name.split(' ')[0].toLowerCase();

  test(`${name}: put and patch for writes at, below and above the path; keep-alive`, async (t) => {
    const open = await client(t);
    await dbWrite(hub, 'PUT', `/${room}`, { a: 'x', b: { c: 1 } });
    const token = await dbToken({ read: [`/${room}`] });
    await watchEvents(room, await open(dbURL(hub, `/${room}/b`, { auth: token })));
  });

  test(`${name}: auth_revoked when the token expires; a fresh token resumes from the last event`, async (t) => {
    const open = await client(t);
    const path = `/expiry-${room}`;
    await dbWrite(hub, 'PUT', path, { v: 1 });
    const token = await dbToken({ read: [path], ttl: '3s' });
    const sub = await open(dbURL(hub, path, { auth: token }));
    await waitWrites(sub, 1, 'the first put');
    await dbWrite(hub, 'PUT', `${path}/v`, 2);
    const [, second] = await waitWrites(sub, 2, 'the put of v');
    assert.deepEqual(second, { type: 'put', path: '/v', data: 2 });

    const revoked = await waitForSubscriber(sub, (s) => s.events.some((e) => e.type === 'auth_revoked'), {
      timeout: 8000, what: 'auth_revoked',
    });
    const last = revoked.events.at(-1);
    assert.equal(last.type, 'auth_revoked', 'auth_revoked is the last event');
    assert.equal(JSON.parse(last.data), 'credential is no longer valid');
    // The server closes the stream; the client comes back with the same,
    // expired token, is refused with 401 and gives up.
    const closed = await waitForSubscriber(sub, (s) => s.readyState === CLOSED, { timeout: 8000, what: 'EventSource CLOSED' });
    assert.equal(closed.opens, 1, 'the expired token never opened another stream');
    const refused = await dbRequest(hub, path, { auth: token });
    assert.equal(refused.status, 401, 'the expired token is refused');

    // A write while nobody watches; the new URL carries a fresh token and the
    // last event's ID, and gets that write alone.
    await dbWrite(hub, 'PATCH', path, { w: 3 });
    const fresh = await dbToken({ read: [path], ttl: '1h' });
    const again = await open(dbURL(hub, path, { auth: fresh, lastEventID: writesOf(revoked.events).at(-1).id }));
    assert.deepEqual(await waitWrites(again, 1), [{ type: 'patch', path: '/', data: { w: 3 } }]);
    await dbWrite(hub, 'PUT', `${path}/v`, 4);
    const all = await waitWrites(again, 2);
    assert.deepEqual(all[1], { type: 'put', path: '/v', data: 4 }, 'then live writes');
    const s = await again.snapshot();
    const events = writesOf(revoked.events).concat(writesOf(s.events));
    assert.deepEqual(events.reduce(applyEvent, null), await dbGet(hub, path), 'both streams\' events rebuild the value');
  });
}

// fetch in a page of the allowed origin: the request and its answer as
// the page sees them.
function pageFetch(page, url, init) {
  return page.evaluate(async ({ url, init }) => {
    const res = await fetch(url, init);
    return { status: res.status, etag: res.headers.get('ETag'), body: await res.json() };
  }, { url: String(url), init });
}

test('Chromium fetch from an allowed origin writes with a Bearer token, and a watcher sees it', async (t) => {
  const page = await sitePage(t);
  const token = await dbToken({ read: ['/cors'], write: ['/cors'] });
  const watcher = nodeSubscriber(dbURL(hub, '/cors', { auth: token }), { types: TYPES });
  t.after(watcher.close);
  await waitWrites(watcher, 1, 'the first put');
  const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
  const put = await pageFetch(page, dbURL(hub, '/cors'), { method: 'PUT', headers, body: '{"n":1}' });
  assert.deepEqual([put.status, put.body], [200, { n: 1 }]);
  const patch = await pageFetch(page, dbURL(hub, '/cors'), { method: 'PATCH', headers, body: '{"m":2}' });
  assert.deepEqual([patch.status, patch.body], [200, { m: 2 }]);
  const refused = await pageFetch(page, dbURL(hub, '/elsewhere'), { method: 'PUT', headers, body: '1' });
  assert.deepEqual([refused.status, refused.body], [401, { error: 'Permission denied' }]);
  const stale = await pageFetch(page, dbURL(hub, '/cors'), { method: 'PUT', headers: { ...headers, 'If-Match': 'stale' }, body: '{}' });
  assert.deepEqual([stale.status, stale.body], [412, { n: 1, m: 2 }], 'a 412 answers the current value');
  assert.deepEqual(await waitWrites(watcher, 3), [
    { type: 'put', path: '/', data: null },
    { type: 'put', path: '/', data: { n: 1 } },
    { type: 'patch', path: '/', data: { m: 2 } },
  ]);
});

test('Chromium fetch from an allowed origin reads the ETag, for a conditional write', async (t) => {
  const page = await sitePage(t);
  const token = await dbToken({ read: ['/cas'], write: ['/cas'] });
  const headers = { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' };
  await dbWrite(hub, 'PUT', '/cas', { n: 1 });
  const read = await pageFetch(page, dbURL(hub, '/cas'), { headers: { ...headers, 'X-Firebase-ETag': 'true' } });
  assert.equal(read.status, 200);
  assert.ok(read.etag, 'the ETag of a read');
  const stale = await pageFetch(page, dbURL(hub, '/cas'), { method: 'PUT', headers: { ...headers, 'If-Match': 'stale' }, body: '{"n":2}' });
  assert.equal(stale.etag, read.etag, 'the ETag of a 412');
  const write = await pageFetch(page, dbURL(hub, '/cas'), { method: 'PUT', headers: { ...headers, 'If-Match': read.etag }, body: '{"n":2}' });
  assert.deepEqual([write.status, write.body], [200, { n: 2 }]);
});

// Writes one item after another to /{path} until stopped, alternating a
// PUT below the path and a PATCH at it, each write a new item; records
// which were acknowledged (200) and which failed (the server was down).
function startWriter(server, path) {
  const w = { acked: [], failed: [], stopped: false };
  w.done = (async () => {
    for (let i = 1; !w.stopped; i++) {
      const res = await (i % 2
        ? dbRequest(server, `${path}/items/w${i}`, { method: 'PUT', body: i })
        : dbRequest(server, path, { method: 'PATCH', body: { [`items/w${i}`]: i, last: i } })
      ).catch(() => ({ status: 0 }));
      if (res.status === 200) {
        w.acked.push(i);
      } else {
        w.failed.push(i);
        // The server is down: try again a little later, not in a tight loop.
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
  })();
  w.waitAcked = (n, what) => waitFor(() => w.acked.length >= n, { what: `${n} acknowledged writes (${what})` });
  w.stop = () => {
    w.stopped = true;
    return w.done;
  };
  return w;
}

// The writer's item i that a put or patch carries, or undefined.
function itemOf(e) {
  const { type, path, data } = parseEvent(e);
  const put = type === 'put' && /^\/items\/w(\d+)$/.exec(path);
  if (put) return Number(put[1]);
  const key = type === 'patch' && path === '/' && Object.keys(data).find((k) => /^items\/w\d+$/.test(k));
  return key ? Number(key.slice('items/w'.length)) : undefined;
}

test('npm eventsource resumes with Last-Event-ID across SIGKILL and restart during writes: only the changes since', async (t) => {
  const server = await Herald.start({ label: 'state-tree-resume', args: ['--db-admin-token', ADMIN_TOKEN] });
  t.after(() => server.close());
  await dbWrite(server, 'PUT', '/resume', { title: 'resume', items: { seed: 0 } });
  const token = await dbToken({ read: ['/resume'] });
  const sub = nodeSubscriber(dbURL(server, '/resume', { auth: token }), { types: TYPES });
  t.after(sub.close);
  await waitWrites(sub, 1, 'the first put');

  const writer = startWriter(server, '/resume');
  t.after(writer.stop);
  await writer.waitAcked(20, 'before the crash');
  await server.kill('SIGKILL');
  await waitFor(() => writer.failed.length >= 3, { what: 'writes to fail while the server is down' });
  await waitForSubscriber(sub, (s) => s.readyState === CONNECTING, { what: 'the client to notice the crash' });
  const ackedBefore = writer.acked.length;
  await server.start();
  const restartedAt = Date.now();
  await writer.waitAcked(ackedBefore + 10, 'after the restart');
  await waitForSubscriber(sub, (s) => s.opens === 2, { what: 'the client to reconnect' });
  await writer.waitAcked(writer.acked.length + 10, 'after the client is back');
  await writer.stop();
  await dbWrite(server, 'PUT', '/resume/done', true);
  const s = await waitForSubscriber(sub, (s) => writesOf(s.events).some((e) => parseEvent(e).path === '/done'), {
    what: 'the last write',
  });

  const events = writesOf(s.events);
  assert.equal(s.opens, 2, 'connections: the first and one after the restart');
  const wholePuts = events.map(parseEvent).filter((e) => e.type === 'put' && e.path === '/');
  assert.equal(wholePuts.length, 1, 'one put of the whole value, the first event: the reconnection resumed');
  assert.equal(new Set(events.map((e) => e.id)).size, events.length, 'event IDs are unique');
  const items = events.map(itemOf).filter((i) => i !== undefined);
  assert.deepEqual(items, [...items].sort((a, b) => a - b), 'items in the order they were written');
  assert.equal(new Set(items).size, items.length, 'no item twice');
  const received = new Set(items);
  assert.deepEqual(writer.acked.filter((i) => !received.has(i)), [], 'every acknowledged write came as an event');
  const stored = await dbGet(server, '/resume');
  assert.deepEqual(events.reduce(applyEvent, null), stored, 'the events rebuild the stored value');
  for (const i of writer.acked) assert.equal(stored.items[`w${i}`], i, `acknowledged write ${i} is stored`);
  t.diagnostic(`${writer.acked.length} writes acknowledged, ${writer.failed.length} failed while the server was down; ` +
    `the client came back ${s.openedAt[1] - restartedAt} ms after the restart`);
});
