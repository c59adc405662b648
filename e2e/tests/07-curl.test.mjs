// curl -N, the simplest SSE client there is, reads what `herald publish`
// sends, byte for byte as the wire format says — and resumes with a
// Last-Event-ID header, the way a script would after a drop.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { curlStream } from '../lib/curl.mjs';
import { Herald } from '../lib/herald.mjs';
import { waitFor } from '../lib/wait.mjs';

let hub;
before(async () => {
  hub = await Herald.start({ label: 'curl' });
});
after(async () => {
  await hub?.close();
});

test('curl -N receives published events on the wire, and resumes', async (t) => {
  const topic = 'https://example.com/e2e/curl';
  const token = await hub.subscriberToken([topic]);
  const url = `${hub.hubURL}?topic=${encodeURIComponent(topic)}`;
  const live = curlStream(url, { Authorization: `Bearer ${token}` });
  t.after(live.stop);
  await waitFor(() => live.text.includes('\r\n\r\n') && live.text.includes('retry:'), {
    what: `curl's response head (stderr: ${live.err})`,
  });
  assert.match(live.text, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(live.text, /\r\nContent-Type: text\/event-stream\r\n/i);

  const first = await hub.publish({ topics: [topic], data: 'one\ntwo' });
  const second = await hub.publish({ topics: [topic], data: '{"n":2}', type: 'update' });
  const want = `id: ${first}\ndata: one\ndata: two\n\nid: ${second}\nevent: update\ndata: {"n":2}\n\n`;
  await waitFor(() => live.text.endsWith(want), { what: `both frames in curl's output:\n${live.text}` });

  // A new curl with Last-Event-ID gets exactly what came after.
  const third = await hub.publish({ topics: [topic], data: 'three' });
  const resumed = curlStream(url, { Authorization: `Bearer ${token}`, 'Last-Event-ID': first });
  t.after(resumed.stop);
  const replay = `id: ${second}\nevent: update\ndata: {"n":2}\n\nid: ${third}\ndata: three\n\n`;
  await waitFor(() => resumed.text.endsWith(replay), { what: `the replay in curl's output:\n${resumed.text}` });
  // The stream opens with its position: a client that drops before its
  // first event resumes from there, even one that follows the spec to the
  // letter (a blank line alone would reset its last event ID).
  const body = resumed.text.slice(resumed.text.indexOf('\r\n\r\n') + 4);
  assert.ok(body.startsWith(`retry: 3000\nid: ${first}\n\n`), `the stream opens with ${JSON.stringify(body.slice(0, 80))}`);
  // The head names the newest event the hub had fanned out when curl
  // subscribed: the second or, once the hub caught up, the third.
  const head = /\r\nLast-Event-ID: ([^\r]+)\r\n/i.exec(resumed.text);
  assert.ok(head && [second, third].includes(head[1]), `Last-Event-ID response header: ${head?.[1]}`);
});
