// Scenario 2: resume without loss. A subscriber is connected, the server is
// killed outright (SIGKILL: no drain, no goodbye) and restarted on the same
// port with the same bolt file; events are published right after the
// restart and later. The client reconnects on its own, sends Last-Event-ID,
// and must end with every event exactly once, in order.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { CONNECTING, launchBrowser, nodeSubscriber, pageSubscriber, waitEvents, waitForSubscriber, waitOpen } from '../lib/clients.mjs';
import { Herald } from '../lib/herald.mjs';

// The first event carries this reconnection hint: short, so the test is
// quick, yet longer than a restart plus three publishes.
const RETRY_MS = 1000;

let browser;
before(async () => {
  browser = await launchBrowser();
});
after(async () => {
  await browser?.close();
});

async function resumeAcrossRestart(t, label, subscribe) {
  const hub = await Herald.start({ label });
  t.after(() => hub.close());
  const topic = `https://example.com/e2e/resume/${label}`;
  const token = await hub.subscriberToken([topic]);
  const sub = await subscribe(hub, `${hub.hubURL}?topic=${encodeURIComponent(topic)}&authorization=${token}`);
  t.after(sub.close);
  await waitOpen(sub);

  const want = [];
  const publish = async (data, extra) => {
    const id = await hub.publish({ topics: [topic], data, ...extra });
    want.push({ type: 'message', id, data });
  };

  await publish('before 1', { retry: `${RETRY_MS}ms` });
  await publish('before 2');
  await publish('before 3');
  await waitEvents(sub, 3, { what: 'the events published before the crash' });

  await hub.kill('SIGKILL');
  // The client fires error once when the stream breaks and once more each
  // time a reconnection attempt fails. Restarting right after a failed
  // attempt leaves a whole retry interval to journal the queued events
  // before the client is back, so they reach it by replay: the path this
  // scenario is about.
  const { errors } = await waitForSubscriber(sub, (s) => s.readyState === CONNECTING, { what: 'the client to notice the crash' });
  await waitForSubscriber(sub, (s) => s.errors > errors, { what: 'a failed reconnection attempt' });
  const queued = ['during 1', 'during 2', 'during 3'];

  await hub.start();
  for (const data of queued) await publish(data);
  const queuedAt = Date.now();
  await waitEvents(sub, 6, { what: 'the events published while the client was away' });
  await publish('after 1');
  await publish('after 2');
  await publish('after 3');

  const s = await waitEvents(sub, want.length, { what: `all ${want.length} events` });
  assert.deepEqual(s.events, want, 'every event exactly once, in order');
  assert.equal(new Set(s.events.map((e) => e.id)).size, want.length, 'event IDs are unique');
  assert.equal(s.opens, 2, 'connections opened: the first and one after the restart');
  // Both orders are correct; the report says which path was exercised.
  t.diagnostic(s.openedAt[1] > queuedAt
    ? 'the client came back after the queued events were journaled: they were replayed'
    : 'the client came back before the queued events were published: they arrived live');
}

test('Chromium EventSource resumes across a server crash without loss', async (t) => {
  const page = await browser.newPage();
  await resumeAcrossRestart(t, 'resume-chromium', async (hub, url) => {
    await page.goto(`${hub.origin}/`);
    return pageSubscriber(page, url);
  });
});

test('npm eventsource resumes across a server crash without loss', async (t) => {
  await resumeAcrossRestart(t, 'resume-node', async (_hub, url) => nodeSubscriber(url));
});
