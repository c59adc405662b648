// Scenario 4: the stop signal. A browser's EventSource stops reconnecting
// for good when a server answers 204 No Content or a type other than
// text/event-stream (WHATWG HTML, "fail the connection"). Mercure hubs use
// the same rule, so Herald must never answer that way by accident.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';

import { CLOSED, OPEN, launchBrowser, pageSubscriber, waitForSubscriber, waitOpen, waitEvents } from '../lib/clients.mjs';
import { Herald, openResponse } from '../lib/herald.mjs';
import { waitFor } from '../lib/wait.mjs';

// A scripted server. /control streams one event with a 30 ms retry hint and
// ends, so the browser keeps coming back; each /stop/... route does the same
// on the first request and answers with its stop signal from the second on.
function scriptedServer() {
  const hits = new Map();
  const stops = {
    '/stop/204': (res) => res.writeHead(204).end(),
    '/stop/html': (res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<p>not a stream</p>'),
    '/stop/json': (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":"x"}'),
  };
  const server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url, 'http://x');
    const n = (hits.get(pathname) ?? 0) + 1;
    hits.set(pathname, n);
    if (pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>scripted</title>');
      return;
    }
    if (pathname === '/control' || (stops[pathname] && n === 1)) {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.end(`retry: 30\ndata: first ${pathname}\n\n`);
      return;
    }
    if (stops[pathname]) {
      stops[pathname](res);
      return;
    }
    res.writeHead(404).end();
  });
  return {
    hits: (p) => hits.get(p) ?? 0,
    stopPaths: Object.keys(stops),
    listen: () => new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${server.address().port}`))),
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

test('the browser stops reconnecting after 204 or a non-SSE content type', async (t) => {
  const scripted = scriptedServer();
  const origin = await scripted.listen();
  t.after(scripted.close);
  const page = await browser.newPage();
  await page.goto(`${origin}/`);

  const control = await pageSubscriber(page, `${origin}/control`);
  const stopped = new Map();
  for (const p of scripted.stopPaths) stopped.set(p, await pageSubscriber(page, `${origin}${p}`));

  for (const [p, sub] of stopped) {
    const s = await waitForSubscriber(sub, (s) => s.readyState === CLOSED, { what: `${p} to be CLOSED` });
    assert.deepEqual(s.events.map((e) => e.data), [`first ${p}`], `${p}: events before the stop signal`);
    assert.ok(s.errors >= 1, `${p}: an error event announces the failure`);
  }
  // The control stream reconnects every ~30 ms. Ten more of its reconnects
  // give the stopped streams ample opportunity to reconnect had they been
  // going to; this bounds the wait by evidence rather than a guessed sleep.
  const base = scripted.hits('/control');
  await waitFor(() => scripted.hits('/control') >= base + 10, { what: 'the control stream to reconnect 10 times' });
  for (const p of scripted.stopPaths) {
    assert.equal(scripted.hits(p), 2, `${p}: requests (one stream, one stop signal, then none)`);
    assert.equal((await stopped.get(p).snapshot()).readyState, CLOSED, `${p}: readyState`);
  }
  assert.notEqual((await control.snapshot()).readyState, CLOSED, 'the control stream is still alive');
});

test('Herald answers every normal subscription with 200 text/event-stream', async (t) => {
  const hub = await Herald.start({ label: 'stop-signal', args: ['--anonymous', '--heartbeat', '200ms'] });
  t.after(() => hub.close());
  const topic = 'https://example.com/e2e/stop-signal';
  const known = await hub.publish({ topics: [topic], data: 'before' });

  const sub = (query) => `${hub.hubURL}?${new URLSearchParams(query)}`;
  const cases = [
    { name: 'one topic', url: sub([['topic', topic]]) },
    { name: 'two topics', url: sub([['topic', topic], ['topic', 'https://example.com/e2e/other']]) },
    { name: 'URI template', url: sub([['topic', 'https://example.com/e2e/{name}']]) },
    { name: 'Last-Event-ID header', url: sub([['topic', topic]]), headers: { 'last-event-id': known } },
    { name: 'unknown Last-Event-ID', url: sub([['topic', topic]]), headers: { 'last-event-id': 'no-such-event' } },
    { name: 'lastEventID query', url: sub([['topic', topic], ['lastEventID', known]]) },
  ];
  for (const c of cases) {
    const res = await openResponse(c.url, { headers: { accept: 'text/event-stream', ...c.headers } });
    res.destroy();
    assert.equal(res.statusCode, 200, `${c.name}: status`);
    assert.match(res.headers['content-type'] ?? '', /^text\/event-stream(;|$)/, `${c.name}: Content-Type`);
  }

  // The browser itself stays connected across heartbeats: one open, no
  // error, and it still receives what is published afterwards.
  const page = await browser.newPage();
  await page.goto(`${hub.origin}/`);
  const es = await pageSubscriber(page, sub([['topic', topic]]));
  await waitOpen(es);
  const raw = await openResponse(sub([['topic', topic]]), { headers: { accept: 'text/event-stream' } });
  t.after(() => raw.destroy());
  let comments = 0;
  raw.setEncoding('utf8');
  raw.on('data', (chunk) => { comments += chunk.split('\n').filter((l) => l.startsWith(':')).length; });
  await waitFor(() => comments >= 3, { what: 'three heartbeat comments' });
  const id = await hub.publish({ topics: [topic], data: 'after heartbeats' });
  const s = await waitEvents(es, 1);
  assert.deepEqual(s.events, [{ type: 'message', id, data: 'after heartbeats' }]);
  assert.equal(s.readyState, OPEN);
  assert.equal(s.opens, 1, 'connections opened');
  assert.equal(s.errors, 0, 'error events');
});
