// Scenario 9: one subscription moves from EventSource to long polling to
// WebSocket while events are being published without pause, through
// herald.js's API and through the live page's transport switch. Every
// event must arrive once, in order: each transport starts after the last
// event its predecessor delivered.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { heraldSubscriber, launchBrowser, waitForSubscriber, waitHeraldOpen } from '../lib/clients.mjs';
import { Herald } from '../lib/herald.mjs';
import { waitFor } from '../lib/wait.mjs';

let browser;
let hub;
before(async () => {
  browser = await launchBrowser();
  hub = await Herald.start({ label: 'switch-transport' });
});
after(async () => {
  await Promise.all([browser?.close(), hub?.close()]);
});

// Paces the publisher: fast enough that every switch happens with events
// in flight, slow enough that the page's list (500 at most) holds them all.
const PUBLISH_GAP_MS = 10;

/**
 * Publishes to topic one event after another until stop() is called; stop
 * resolves to the events published, in order.
 */
function publishContinuously(topic) {
  const published = [];
  let stopping = false;
  const done = (async () => {
    for (let n = 1; !stopping; n++) {
      const data = `event ${n}`;
      published.push({ id: await hub.post({ topics: [topic], data }), data });
      await new Promise((resolve) => setTimeout(resolve, PUBLISH_GAP_MS));
    }
  })();
  return {
    published,
    stop: async () => {
      stopping = true;
      await done;
      return published;
    },
  };
}

// The transports in the order they delivered, each once: a transport that
// delivered after its successor started would show up twice.
const runs = (transports) => transports.filter((t, i) => t !== transports[i - 1]);

test('herald.js switches from EventSource to polling to WebSocket mid-stream without loss or repeat', async (t) => {
  const topic = 'https://example.com/e2e/switch/api';
  const page = await browser.newPage();
  t.after(() => page.close());
  await page.goto(`${hub.origin}/`);
  const sub = await heraldSubscriber(page, hub.hubURL, { topics: [topic], token: await hub.subscriberToken([topic]), transport: 'sse' });
  await waitHeraldOpen(sub);

  const publisher = publishContinuously(topic);
  t.after(publisher.stop);
  const over = (name, n) => (s) => s.events.filter((e) => e.transport === name).length >= n;
  await waitForSubscriber(sub, over('sse', 10), { what: '10 events over EventSource' });
  await sub.switchTransport('poll');
  await waitForSubscriber(sub, over('poll', 10), { what: '10 events over long polling' });
  await sub.switchTransport('ws');
  await waitForSubscriber(sub, over('ws', 10), { what: '10 events over WebSocket' });
  const published = await publisher.stop();

  const s = await waitForSubscriber(sub, (s) => s.events.length >= published.length, { what: `all ${published.length} events` });
  assert.deepEqual(s.events.map(({ id, data }) => ({ id, data })), published, 'every event once, in order');
  assert.deepEqual(runs(s.events.map((e) => e.transport)), ['sse', 'poll', 'ws']);
  assert.deepEqual(s.transports.map((x) => x.name), ['sse', 'poll', 'ws']);
  assert.ok(s.errors.every((e) => !e.fatal), `no error ended the subscription: ${JSON.stringify(s.errors)}`);
  t.diagnostic(`${published.length} events, ${['sse', 'poll', 'ws'].map((n) => `${s.events.filter((e) => e.transport === n).length} over ${n}`).join(', ')}`);
});

test('the live page switches transport mid-stream without loss or repeat', async (t) => {
  const topic = 'https://example.com/e2e/switch/page';
  const page = await browser.newPage();
  t.after(() => page.close());
  await page.goto(`${hub.origin}/`);
  await page.fill('#topic', topic);
  await page.selectOption('#transport', 'sse');
  await page.click('#subscribe-form summary');
  await page.fill('#sub-token', await hub.subscriberToken([topic]));
  await page.click('#subscribe');
  await page.waitForSelector('#state[data-state="OPEN"]');
  assert.equal(await page.getAttribute('#transport-in-use', 'data-transport'), 'sse');

  // The list shows the newest first.
  const shown = () => page.$$eval('#events .event', (items) => items.reverse().map((li) => ({
    id: li.dataset.id, data: li.querySelector('.event-data').textContent, transport: li.dataset.transport,
  })));
  const over = (name, n) => waitFor(async () => (await shown()).filter((e) => e.transport === name).length >= n, {
    what: `${n} events over ${name} on the page`,
  });

  const publisher = publishContinuously(topic);
  t.after(publisher.stop);
  await over('sse', 5);
  await page.selectOption('#transport', 'poll');
  await over('poll', 5);
  assert.equal(await page.getAttribute('#transport-in-use', 'data-transport'), 'poll');
  await page.selectOption('#transport', 'ws');
  await over('ws', 5);
  assert.equal(await page.getAttribute('#transport-in-use', 'data-transport'), 'ws');
  const published = await publisher.stop();
  assert.ok(published.length <= 500, `${published.length} events: more than the page's list keeps`);

  await waitFor(async () => (await shown()).length >= published.length, { what: `all ${published.length} events on the page` });
  const events = await shown();
  assert.deepEqual(events.map(({ id, data }) => ({ id, data })), published, 'every event once, in order');
  assert.deepEqual(runs(events.map((e) => e.transport)), ['sse', 'poll', 'ws']);
  assert.equal(await page.textContent('#event-count'), String(published.length));
});
