// Scenario 1: the browser's own EventSource, on the page Herald serves at
// "/", receives what `herald publish` sends: unnamed and named events,
// multi-line data and UTF-8 byte for byte. The npm `eventsource` client
// subscribes alongside and must see exactly the same.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { launchBrowser, nodeSubscriber, pageSubscriber, waitEvents, waitOpen } from '../lib/clients.mjs';
import { Herald } from '../lib/herald.mjs';

let browser;
let hub;
before(async () => {
  browser = await launchBrowser();
  hub = await Herald.start({ label: 'browser-eventsource', args: ['--anonymous'] });
});
after(async () => {
  await Promise.all([browser?.close(), hub?.close()]);
});

test('EventSource receives message, named, multi-line and UTF-8 events', async (t) => {
  const topic = 'https://example.com/e2e/basic';
  const page = await browser.newPage();
  await page.goto(`${hub.origin}/`);
  const url = `${hub.hubURL}?topic=${encodeURIComponent(topic)}`;
  const types = ['message', 'greeting'];
  const inBrowser = await pageSubscriber(page, url, { types });
  const inNode = nodeSubscriber(url, { types });
  t.after(inNode.close);
  await Promise.all([waitOpen(inBrowser), waitOpen(inNode)]);

  // sent is what is published; want is what a spec-conforming client must
  // hand to its listeners (line endings normalise to LF).
  const cases = [
    { sent: { data: 'hello' }, want: { type: 'message', data: 'hello' } },
    { sent: { data: 'hi there', type: 'greeting' }, want: { type: 'greeting', data: 'hi there' } },
    // Nobody listens for this type: it must not reach the message listener.
    { sent: { data: 'nobody listens', type: 'ignored' } },
    {
      sent: { data: 'first line\nsecond line\n\nfourth, after an empty one' },
      want: { type: 'message', data: 'first line\nsecond line\n\nfourth, after an empty one' },
    },
    { sent: { data: 'crlf\r\nthen cr\rthen lf\nend' }, want: { type: 'message', data: 'crlf\nthen cr\nthen lf\nend' } },
    // The space after "data:" is eaten by the parser; the server must keep these.
    { sent: { data: '  two leading spaces' }, want: { type: 'message', data: '  two leading spaces' } },
    // Field injection through data: it must arrive as text, not as fields.
    {
      sent: { data: 'line\nid: injected\nevent: injected\n\ndata: injected' },
      want: { type: 'message', data: 'line\nid: injected\nevent: injected\n\ndata: injected' },
    },
    {
      sent: { data: 'héllo wörld — 日本語 · Ελληνικά · עברית · 🎉🚀 · e\u0301 · \u00a0nbsp', type: 'greeting' },
      want: { type: 'greeting', data: 'héllo wörld — 日本語 · Ελληνικά · עברית · 🎉🚀 · e\u0301 · \u00a0nbsp' },
    },
    { sent: { data: 'last' }, want: { type: 'message', data: 'last' } },
  ];
  const want = [];
  for (const c of cases) {
    const id = await hub.publish({ topics: [topic], ...c.sent });
    assert.ok(id, 'herald publish prints the event ID');
    if (c.want) want.push({ ...c.want, id });
  }

  for (const [name, sub] of [['Chromium', inBrowser], ['npm eventsource', inNode]]) {
    const s = await waitEvents(sub, want.length, { what: `${name}: ${want.length} events` });
    assert.deepEqual(s.events, want, `${name}: events received`);
    assert.equal(s.opens, 1, `${name}: connections opened`);
  }
});
