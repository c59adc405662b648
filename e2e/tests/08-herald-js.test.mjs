// Scenario 8: the hub's browser client, /herald.js, in Chromium. Over each
// transport — EventSource, long polling (fetch, with window.EventSource
// deleted to force the fallback) and WebSocket — a subscriber is connected,
// the hub is killed outright (SIGKILL) and restarted on the same port and
// bolt file, and the subscriber must end with every event exactly once, in
// order, all carried by the transport under test. Then "auto" behind a
// proxy that buffers responses (the stream shows no byte) or refuses
// streams: the client falls back to long polling on its own.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';

import { heraldSubscriber, launchBrowser, pageServer, waitForSubscriber, waitHeraldOpen } from '../lib/clients.mjs';
import { fetchText, freePort, Herald, mintToken, openResponse, PUBLISHER_KEY, SUBSCRIBER_KEY } from '../lib/herald.mjs';
import { waitFor } from '../lib/wait.mjs';

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

test('GET /herald.js serves the client as JavaScript, revalidated, loadable from any origin', async (t) => {
  const hub = await Herald.start({ label: 'herald-js-asset', memory: true });
  t.after(() => hub.close());
  for (const path of ['/herald.js', '/herald.mjs']) {
    const res = await fetchText(`${hub.origin}${path}`, { headers: { Origin: 'https://elsewhere.example' } });
    assert.equal(res.status, 200, path);
    assert.equal(res.headers['content-type'], 'text/javascript; charset=utf-8', path);
    assert.equal(res.headers['cache-control'], 'no-cache', path);
    assert.ok(res.headers.etag, `${path} has an ETag`);
    assert.equal(res.headers['access-control-allow-origin'], '*', path);
  }
  // The module form works too: a page imports it and gets the same API.
  const page = await browser.newPage();
  t.after(() => page.close());
  await page.goto(`${hub.origin}/`);
  const exported = await page.evaluate(async () => {
    const mod = await import('/herald.mjs');
    return [typeof mod.default.subscribe, typeof mod.subscribe, typeof mod.publish, mod.default === window.Herald];
  });
  assert.deepEqual(exported, ['function', 'function', 'function', true]);
});

test('a page of another origin imports herald.mjs from the hub and receives private events over each transport', async (t) => {
  const site = await pageServer();
  t.after(site.close);
  const hub = await Herald.start({ label: 'herald-js-cross-origin', memory: true, args: ['--cors-origins', site.origin] });
  t.after(() => hub.close());
  const topic = 'https://example.com/e2e/herald-js/cross-origin';
  const token = await hub.subscriberToken([topic]);
  const page = await browser.newPage();
  t.after(() => page.close());
  await page.goto(`${site.origin}/`);
  // A module script from another origin is fetched with CORS.
  await page.evaluate(async (src) => { window.Herald = (await import(src)).default; }, `${hub.origin}/herald.mjs`);

  const subs = {};
  for (const transport of ['sse', 'poll', 'ws']) {
    subs[transport] = await heraldSubscriber(page, hub.hubURL, { topics: [topic], token, transport });
    await waitHeraldOpen(subs[transport], { what: `${transport} open` });
  }
  const want = [
    { id: await hub.post({ topics: [topic], data: 'public' }), data: 'public' },
    { id: await hub.post({ topics: [topic], data: 'private', priv: true }), data: 'private' },
  ];
  for (const [transport, sub] of Object.entries(subs)) {
    const s = await waitForSubscriber(sub, (s) => s.events.length >= 2, { what: `both events over ${transport}` });
    assert.deepEqual(s.events.map(({ id, data }) => ({ id, data })), want, transport);
  }
});

/**
 * Subscribes through herald.js with options, publishes before, during and
 * after a SIGKILL and restart of the hub, and checks every event arrived
 * once, in order, over wantTransport.
 */
async function resumeAcrossRestart(t, { label, options, wantTransport, withoutEventSource = false, signal = 'SIGKILL' }) {
  const hub = await Herald.start({ label });
  t.after(() => hub.close());
  const topic = `https://example.com/e2e/herald-js/${label}`;
  const page = await browser.newPage();
  t.after(() => page.close());
  if (withoutEventSource) {
    // As in a browser that never had it: gone before any script runs.
    await page.addInitScript(() => { delete window.EventSource; });
  }
  await page.goto(`${hub.origin}/`);
  assert.equal(await page.evaluate(() => typeof window.EventSource), withoutEventSource ? 'undefined' : 'function');

  const sub = await heraldSubscriber(page, hub.hubURL, { topics: [topic], token: await hub.subscriberToken([topic]), ...options });
  t.after(sub.close);
  await waitHeraldOpen(sub);

  const want = [];
  const publish = async (data) => {
    const id = await hub.post({ topics: [topic], data });
    want.push({ id, type: 'message', data, transport: wantTransport });
  };
  for (const data of ['before 1', 'before 2', 'before 3']) await publish(data);
  await waitForSubscriber(sub, (s) => s.events.length >= 3, { what: 'the events published before the crash' });

  await hub.kill(signal);
  await waitForSubscriber(sub, (s) => s.state === 'connecting', { what: 'the client to notice the crash' });
  await hub.start();
  for (const data of ['during 1', 'during 2', 'during 3']) await publish(data);
  await waitForSubscriber(sub, (s) => s.events.length >= 6, { what: 'the events published while the client was away' });
  for (const data of ['after 1', 'after 2', 'after 3']) await publish(data);

  const s = await waitForSubscriber(sub, (s) => s.events.length >= want.length, { what: `all ${want.length} events` });
  assert.deepEqual(s.events, want, 'every event exactly once, in order, over the transport under test');
  assert.equal(s.transport, wantTransport);
  assert.equal(s.lastEventID, want.at(-1).id, 'the client resumes after the last event it delivered');
  assert.equal(s.opens, 2, 'opened twice: at first and after the restart');
  assert.ok(s.errors.every((e) => !e.fatal), `no error ended the subscription: ${JSON.stringify(s.errors)}`);
  return s;
}

test('herald.js over EventSource resumes across a hub crash without loss', async (t) => {
  const s = await resumeAcrossRestart(t, { label: 'herald-js-sse', options: { transport: 'auto' }, wantTransport: 'sse' });
  assert.deepEqual(s.transports, [{ name: 'sse', reason: 'chosen' }]);
});

test('herald.js without EventSource falls back to long polling and resumes across a hub crash without loss', async (t) => {
  const s = await resumeAcrossRestart(t, {
    label: 'herald-js-poll', options: { transport: 'auto' }, wantTransport: 'poll', withoutEventSource: true,
  });
  assert.deepEqual(s.transports, [{ name: 'poll', reason: 'the browser has no EventSource' }]);
});

test('herald.js over WebSocket resumes across a hub crash without loss', async (t) => {
  const s = await resumeAcrossRestart(t, { label: 'herald-js-ws', options: { transport: 'ws' }, wantTransport: 'ws' });
  assert.deepEqual(s.transports, [{ name: 'ws', reason: 'chosen' }]);
});

test('herald.js publishes over its WebSocket: pipelined, acknowledged in order, refused without the grant', async (t) => {
  // One key for both roles, so one token may subscribe and publish on the
  // same socket.
  const hub = await Herald.start({ label: 'herald-js-ws-publish', memory: true, args: ['--subscriber-key', PUBLISHER_KEY] });
  t.after(() => hub.close());
  const topic = 'https://example.com/e2e/herald-js/ws-publish';
  const token = await mintToken({ key: PUBLISHER_KEY, publish: [topic], subscribe: [topic] });
  const page = await browser.newPage();
  t.after(() => page.close());
  await page.goto(`${hub.origin}/`);
  const sub = await heraldSubscriber(page, hub.hubURL, { topics: [topic], token, transport: 'ws' });
  t.after(sub.close);
  await waitHeraldOpen(sub);

  const updates = Array.from({ length: 20 }, (_, i) => ({ topics: [topic], data: `over the socket ${i + 1}` }));
  const acks = await sub.publish(updates);
  assert.ok(acks.every((a) => a.id), JSON.stringify(acks));
  const s = await waitForSubscriber(sub, (s) => s.events.length >= updates.length, { what: 'the published events' });
  assert.deepEqual(s.events.map(({ id, data }) => ({ id, data })), acks.map((a, i) => ({ id: a.id, data: updates[i].data })),
    'the events arrive in the order their publishes were acknowledged');

  const [refused] = await sub.publish([{ topics: ['https://example.com/e2e/not-granted'], data: 'no' }]);
  assert.equal(refused.code, 403, JSON.stringify(refused));
  assert.equal((await sub.snapshot()).state, 'open', 'a refused publish leaves the subscription open');
});

test('herald.js over WebSocket resumes across a drained restart (close 1001)', async (t) => {
  const s = await resumeAcrossRestart(t, { label: 'herald-js-ws-drain', options: { transport: 'ws' }, wantTransport: 'ws', signal: 'SIGTERM' });
  assert.equal(s.errors[0].code, 1001, `the hub said it was going away: ${JSON.stringify(s.errors)}`);
});

test('herald.js polling pages through a backlog with limit and more, in order', async (t) => {
  const hub = await Herald.start({ label: 'herald-js-more', memory: true });
  t.after(() => hub.close());
  const topic = 'https://example.com/e2e/herald-js/more';
  const want = [];
  for (let i = 1; i <= 7; i++) want.push({ id: await hub.post({ topics: [topic], data: `backlog ${i}` }), data: `backlog ${i}` });
  const page = await browser.newPage();
  t.after(() => page.close());
  await page.goto(`${hub.origin}/`);
  const sub = await heraldSubscriber(page, hub.hubURL, {
    topics: [topic], token: await hub.subscriberToken([topic]), transport: 'poll', lastEventID: 'earliest', pollLimit: 2,
  });
  const s = await waitForSubscriber(sub, (s) => s.events.length >= want.length, { what: 'the backlog' });
  assert.deepEqual(s.events.map(({ id, data }) => ({ id, data })), want);
});

test('herald.js polling is one subscriber for the subscriptions API however many polls it makes', async (t) => {
  const hub = await Herald.start({ label: 'herald-js-presence', memory: true, args: ['--subscriptions'] });
  t.after(() => hub.close());
  const topic = 'https://example.com/e2e/herald-js/presence';
  const page = await browser.newPage();
  t.after(() => page.close());
  // Counts the polls the client makes.
  await page.addInitScript(() => {
    const fetch = window.fetch;
    window.e2ePolls = 0;
    window.fetch = (url, init) => {
      if (init?.headers?.Accept === 'application/json') window.e2ePolls++;
      return fetch(url, init);
    };
  });
  await page.goto(`${hub.origin}/`);
  const sub = await heraldSubscriber(page, hub.hubURL, {
    topics: [topic], token: await hub.subscriberToken([topic]), transport: 'poll', pollWait: 0.2,
  });
  t.after(sub.close);
  await waitHeraldOpen(sub);
  await waitFor(() => page.evaluate(() => window.e2ePolls >= 5), { what: 'five polls' });

  const watcher = await hub.subscriberToken(['/.well-known/mercure/subscriptions{/topic}{/subscriber}']);
  const res = await fetchText(`${hub.origin}/.well-known/mercure/subscriptions`, { headers: { Authorization: `Bearer ${watcher}` } });
  assert.equal(res.status, 200, res.body);
  const listed = JSON.parse(res.body).subscriptions.filter((s) => s.topic === topic);
  assert.equal(listed.length, 1, `subscriptions of the topic: ${JSON.stringify(listed)}`);
  assert.ok(listed[0].active);
});

test('herald.js polling waits out a 503 for its Retry-After, then gets in', async (t) => {
  // One stream at most, and a curl-like client holds it.
  const hub = await Herald.start({ label: 'herald-js-retry-after', memory: true, args: ['--max-connections', '1', '--anonymous'] });
  t.after(() => hub.close());
  const topic = 'https://example.com/e2e/herald-js/retry-after';
  const holder = await openResponse(`${hub.hubURL}?topic=${encodeURIComponent(topic)}`);
  t.after(() => holder.destroy());
  assert.equal(holder.statusCode, 200);

  const page = await browser.newPage();
  t.after(() => page.close());
  await page.goto(`${hub.origin}/`);
  const sub = await heraldSubscriber(page, hub.hubURL, { topics: [topic], transport: 'poll' });
  t.after(sub.close);
  const refused = await waitForSubscriber(sub, (s) => s.errors.length > 0, { what: 'the 503' });
  const [err] = refused.errors;
  assert.deepEqual([err.status, err.fatal, err.retryAfter], [503, false, 5000], JSON.stringify(err));
  holder.destroy();

  const s = await waitForSubscriber(sub, (s) => s.state === 'open', { what: 'the poll to get in', timeout: 20_000 });
  // However long the hub takes to see the slot free, each attempt after a
  // refusal waits its Retry-After: no retry storm.
  const attempts = [...s.errors.map((e) => e.at), s.openedAt[0]];
  for (let i = 1; i < attempts.length; i++) {
    assert.ok(attempts[i] - attempts[i - 1] >= 4900, `attempt ${i + 1} came ${attempts[i] - attempts[i - 1]} ms after a 503 with Retry-After: 5`);
  }
});

test('herald.js replaces an expiring token over each transport without losing an event', async (t) => {
  const hub = await Herald.start({ label: 'herald-js-token', memory: true });
  t.after(() => hub.close());
  const topic = 'https://example.com/e2e/herald-js/token';
  const minted = Date.now();
  const short = await mintToken({ key: SUBSCRIBER_KEY, subscribe: [topic], ttl: '3s' });
  const long = await hub.subscriberToken([topic]);
  const page = await browser.newPage();
  t.after(() => page.close());
  await page.goto(`${hub.origin}/`);
  const transports = ['sse', 'poll', 'ws'];
  const subs = await Promise.all(transports.map((transport) => heraldSubscriber(page, hub.hubURL, { topics: [topic], token: short, transport })));
  for (const sub of subs) await waitHeraldOpen(sub);
  const first = await hub.post({ topics: [topic], data: 'under the first token' });
  for (const sub of subs) await waitForSubscriber(sub, (s) => s.events.length === 1, { what: 'the first event' });

  for (const sub of subs) await sub.setToken(long);
  // Without the new token, each transport would now be refused or closed
  // (401, 4401): the first token expires.
  await waitFor(() => Date.now() > minted + 4500, { what: 'the first token to expire', timeout: 6000, interval: 100 });
  const second = await hub.post({ topics: [topic], data: 'under the second token' });
  for (const [i, sub] of subs.entries()) {
    const s = await waitForSubscriber(sub, (s) => s.events.length === 2, { what: `the second event over ${transports[i]}` });
    assert.deepEqual(s.events.map((e) => e.id), [first, second], transports[i]);
    assert.ok(s.errors.every((e) => !e.fatal), `${transports[i]}: ${JSON.stringify(s.errors)}`);
  }
  assert.equal((await subs[2].snapshot()).opens, 1, 'the WebSocket took the token on the open socket');
});

for (const transport of ['auto', 'poll', 'ws']) {
  test(`herald.js over ${transport} ends a refused subscription and says why`, async (t) => {
    // No token and no --anonymous: 401, which no retry can fix.
    const hub = await Herald.start({ label: `herald-js-refused-${transport}`, memory: true });
    t.after(() => hub.close());
    const page = await browser.newPage();
    t.after(() => page.close());
    await page.goto(`${hub.origin}/`);
    const sub = await heraldSubscriber(page, hub.hubURL, { topics: ['https://example.com/e2e/refused'], transport });
    const s = await waitForSubscriber(sub, (s) => s.state === 'closed', { what: 'the subscription to end' });
    assert.equal(s.errors.length, 1, JSON.stringify(s.errors));
    const [err] = s.errors;
    assert.ok(err.fatal);
    assert.equal(transport === 'ws' ? err.code : err.status, 401, JSON.stringify(err));
    assert.equal(s.transport, null);
  });
}

/**
 * A reverse proxy in front of the hub that cannot carry streams. "buffer"
 * sends each response's head at once and holds its body until the hub ends
 * it, as proxies that buffer do: a poll passes, a stream shows nothing.
 * "refuse" answers 502 to every request for an event stream.
 */
async function badProxy(upstreamPort, mode) {
  const port = await freePort();
  const server = http.createServer((req, res) => {
    if (mode === 'refuse' && req.headers.accept === 'text/event-stream') {
      res.writeHead(502, { 'Content-Type': 'text/plain' }).end('bad gateway: streams are not allowed here');
      return;
    }
    // The Host header is passed on as it came, so the hub sees the page's
    // own origin (the proxy's) as same-origin.
    const up = http.request({ host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers }, (upRes) => {
      res.writeHead(upRes.statusCode, upRes.headers);
      res.flushHeaders();
      const chunks = [];
      upRes.on('data', (c) => chunks.push(c));
      upRes.on('end', () => res.end(Buffer.concat(chunks)));
    });
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => {
      server.closeAllConnections();
      server.close(resolve);
    }),
  };
}

const proxies = [
  { mode: 'buffer', does: 'buffers', why: /no byte of the stream arrived/ },
  { mode: 'refuse', does: 'refuses', why: /refused 3 times: 502/ },
];
for (const { mode, does, why } of proxies) {
  test(`herald.js "auto" behind a proxy that ${does} streams falls back to long polling`, async (t) => {
    const hub = await Herald.start({ label: `herald-js-proxy-${mode}`, memory: true });
    t.after(() => hub.close());
    const proxy = await badProxy(hub.port, mode);
    t.after(proxy.close);
    const topic = `https://example.com/e2e/herald-js/proxy-${mode}`;
    const page = await browser.newPage();
    t.after(() => page.close());
    await page.goto(`${proxy.origin}/`);

    const sub = await heraldSubscriber(page, `${proxy.origin}/.well-known/mercure`, {
      topics: [topic], token: await hub.subscriberToken([topic]), transport: 'auto',
    });
    t.after(sub.close);
    const s = await waitForSubscriber(sub, (s) => s.transport === 'poll' && s.state === 'open', {
      what: 'the fall back to polling', timeout: 15_000,
    });
    assert.equal(s.transports[0].name, 'sse', 'EventSource was tried first');
    assert.match(s.transports[1].reason, why);

    const want = [];
    for (const data of ['one', 'two', 'three']) {
      want.push({ id: await hub.post({ topics: [topic], data }), type: 'message', data, transport: 'poll' });
    }
    const got = await waitForSubscriber(sub, (s) => s.events.length >= want.length, { what: 'the events, polled' });
    assert.deepEqual(got.events, want);
  });
}
