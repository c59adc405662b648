// Scenario 3: private events and cross-origin subscribers. An anonymous
// browser never sees a private event; one holding a subscriber token does,
// whether the token travels as the mercureAuthorization cookie from a
// second origin allowed by --cors-origins, or as the authorization query
// parameter. A page on an origin that is not allowed is refused by CORS.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { CLOSED, launchBrowser, pageServer, pageSubscriber, waitEvents, waitForSubscriber, waitOpen } from '../lib/clients.mjs';
import { Herald, openResponse } from '../lib/herald.mjs';

const topic = 'https://example.com/e2e/private';

let browser;
let hub;
let allowed;
let denied;
before(async () => {
  browser = await launchBrowser();
  allowed = await pageServer();
  denied = await pageServer();
  hub = await Herald.start({
    label: 'private-cors',
    args: ['--anonymous', '--cors-origins', `https://unused.example,${allowed.origin}`],
  });
});
after(async () => {
  await Promise.all([browser?.close(), hub?.close(), allowed?.close(), denied?.close()]);
});

// Each subscriber gets its own browser context, so no cookie leaks from one
// to another (cookies are per host, whatever the port).
async function openPage(origin) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${origin}/`);
  return page;
}

function setAuthCookie(page, token) {
  return page.evaluate((token) => {
    document.cookie = `mercureAuthorization=${token}; Path=/; SameSite=Strict`;
  }, token);
}

test('private events reach only subscribers whose token grants the topic', async () => {
  const token = await hub.subscriberToken([topic]);
  const otherToken = await hub.subscriberToken(['https://example.com/e2e/unrelated']);
  const url = `${hub.hubURL}?topic=${encodeURIComponent(topic)}`;

  const anonymous = await pageSubscriber(await openPage(hub.origin), url);
  const crossOriginPage = await openPage(allowed.origin);
  await setAuthCookie(crossOriginPage, token);
  const cookie = await pageSubscriber(crossOriginPage, url, { withCredentials: true });
  const query = await pageSubscriber(await openPage(hub.origin), `${url}&authorization=${token}`);
  const otherGrant = await pageSubscriber(await openPage(hub.origin), `${url}&authorization=${otherToken}`);
  const all = { anonymous, cookie, query, otherGrant };
  for (const [name, sub] of Object.entries(all)) await waitOpen(sub, { what: `${name}: readyState OPEN` });

  const sent = [];
  for (const [data, priv] of [['public 1', false], ['private 1', true], ['public 2', false], ['private 2', true], ['public end', false]]) {
    sent.push({ type: 'message', id: await hub.publish({ topics: [topic], data, private: priv }), data, private: priv });
  }
  const everything = sent.map(({ private: _, ...e }) => e);
  const publicOnly = sent.filter((e) => !e.private).map(({ private: _, ...e }) => e);

  const want = { anonymous: publicOnly, cookie: everything, query: everything, otherGrant: publicOnly };
  for (const [name, sub] of Object.entries(all)) {
    // Every stream ends with the same public event, so by the time it has
    // arrived a leaked private event would already be in the list.
    const s = await waitForSubscriber(sub, (s) => s.events.at(-1)?.data === 'public end', { what: `${name}: the last event` });
    assert.deepEqual(s.events, want[name], `${name}: events received`);
  }
});

test('an allowed origin gets CORS headers and may publish with a bearer token', async () => {
  const res = await openResponse(`${hub.hubURL}?topic=${encodeURIComponent(topic)}`, {
    headers: { accept: 'text/event-stream', origin: allowed.origin },
  });
  res.destroy();
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['access-control-allow-origin'], allowed.origin);
  assert.equal(res.headers['access-control-allow-credentials'], 'true');

  const page = await openPage(allowed.origin);
  const watcher = await pageSubscriber(await openPage(hub.origin), `${hub.hubURL}?topic=${encodeURIComponent(topic)}`);
  await waitOpen(watcher);
  const result = await page.evaluate(async ({ hubURL, topic, token }) => {
    const res = await fetch(hubURL, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}` },
      body: new URLSearchParams({ topic, data: 'from the allowed origin' }),
    });
    return { status: res.status, id: await res.text() };
  }, { hubURL: hub.hubURL, topic, token: hub.publisherToken });
  assert.equal(result.status, 200, 'cross-origin publish status');
  const s = await waitEvents(watcher, 1);
  assert.deepEqual(s.events, [{ type: 'message', id: result.id.trim(), data: 'from the allowed origin' }]);
});

test('an origin not in --cors-origins is refused', async () => {
  const token = await hub.subscriberToken([topic]);
  const page = await openPage(denied.origin);
  await setAuthCookie(page, token);
  const url = `${hub.hubURL}?topic=${encodeURIComponent(topic)}`;
  const watcher = await pageSubscriber(await openPage(hub.origin), url);
  await waitOpen(watcher);

  const es = await pageSubscriber(page, url, { withCredentials: true });
  const s = await waitForSubscriber(es, (s) => s.readyState === CLOSED, { what: 'the refused EventSource to close' });
  assert.equal(s.opens, 0, 'the refused EventSource never opened');
  assert.ok(s.errors >= 1, 'the refused EventSource fired error');

  const outcome = await page.evaluate(async ({ url, hubURL, topic, token }) => {
    const attempt = async (p) => {
      try {
        const res = await p;
        return `answered ${res.status}`;
      } catch (err) {
        return err.name;
      }
    };
    return {
      subscribe: await attempt(fetch(url, { credentials: 'include' })),
      publish: await attempt(fetch(hubURL, {
        method: 'POST',
        headers: { Authorization: `Bearer ${token}` },
        body: new URLSearchParams({ topic, data: 'from the refused origin' }),
      })),
    };
  }, { url, hubURL: hub.hubURL, topic, token: hub.publisherToken });
  assert.deepEqual(outcome, { subscribe: 'TypeError', publish: 'TypeError' }, 'fetch from the refused origin');

  // The refused publish must not have happened: a later event is the first
  // the watcher sees.
  const id = await hub.publish({ topics: [topic], data: 'marker' });
  const w = await waitEvents(watcher, 1);
  assert.deepEqual(w.events, [{ type: 'message', id, data: 'marker' }]);
});
