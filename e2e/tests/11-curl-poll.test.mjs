// Scenario 11: long polling with curl, the way a script or a device that
// wakes now and then would do it: `Accept: application/json` and a wait.
// The JSON answer, the cursor to send next, a held poll answered by a
// publish, a wait that ends empty with the same cursor, paging with limit
// and `more`, resuming after a SIGKILL and restart, and a garbage cursor,
// wait or limit refused with 400.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';

import { Herald } from '../lib/herald.mjs';

let hub;
let token;
const topic = 'https://example.com/e2e/poll';
before(async () => {
  // --subscriptions: presence is kept, so each answer names its poller.
  hub = await Herald.start({ label: 'curl-poll', args: ['--subscriptions'] });
  token = await hub.subscriberToken([topic]);
});
after(async () => {
  await hub?.close();
});

/**
 * Runs `curl -sS -D - -H 'Accept: application/json' url` and returns the
 * status, headers (lower-case names), parsed body (or the text when it is
 * not JSON) and how long it took.
 */
function curlPoll(url, { headers = { Accept: 'application/json', Authorization: `Bearer ${token}` } } = {}) {
  const args = ['-sS', '--max-time', '40', '-D', '-'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  args.push(url);
  const started = Date.now();
  return new Promise((resolve, reject) => {
    execFile('curl', args, { timeout: 45_000 }, (err, stdout, stderr) => {
      if (err) {
        reject(new Error(`curl ${url}: ${stderr || err.message}`));
        return;
      }
      const split = stdout.indexOf('\r\n\r\n');
      const head = stdout.slice(0, split).split('\r\n');
      const status = Number(head[0].split(' ')[1]);
      const hdrs = Object.fromEntries(head.slice(1).map((l) => {
        const i = l.indexOf(':');
        return [l.slice(0, i).toLowerCase(), l.slice(i + 1).trim()];
      }));
      const text = stdout.slice(split + 4);
      let body = text;
      try {
        body = JSON.parse(text);
      } catch {
        // Errors are text/plain.
      }
      resolve({ status, headers: hdrs, body, ms: Date.now() - started });
    });
  });
}

const pollURL = (params) => {
  const u = new URL(hub.hubURL);
  u.searchParams.set('topic', topic);
  for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
  return u.href;
};

test('a long poll answers JSON with the events after the cursor and the cursor to send next', async () => {
  const one = await hub.post({ topics: [topic], data: 'one', type: 'greeting' });
  const two = await hub.post({ topics: [topic], data: 'two\nlines' });
  const res = await curlPoll(pollURL({ lastEventID: 'earliest', wait: '5' }));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.match(res.headers['content-type'], /^application\/json\b/);
  assert.equal(res.headers['cache-control'], 'no-store');
  assert.ok(res.ms < 4000, `events were due, so the answer came at once (${res.ms} ms)`);
  const { events, lastEventID, maxWait, subscriber } = res.body;
  assert.deepEqual(events, [
    { id: one, type: 'greeting', topics: [topic], data: 'one' },
    { id: two, topics: [topic], data: 'two\nlines' },
  ]);
  assert.equal(lastEventID, two);
  assert.equal(maxWait, 30);
  assert.equal(typeof subscriber, 'string');
  assert.ok(!res.body.more && !res.body.earliest);

  // Nothing after the cursor: the poll is held, then answered by the next
  // publish, with only that event.
  const held = curlPoll(pollURL({ lastEventID, wait: '5', subscriber }));
  const three = await hub.post({ topics: [topic], data: 'three' });
  const next = await held;
  assert.equal(next.status, 200);
  assert.deepEqual(next.body.events.map((e) => e.id), [three]);
  assert.equal(next.body.lastEventID, three);
  assert.equal(next.body.subscriber, subscriber, 'the same poller stays the same subscriber');
});

test('a wait that ends with no event returns the same cursor; wait=0 answers at once', async () => {
  const last = await hub.post({ topics: [topic], data: 'last' });
  const empty = await curlPoll(pollURL({ lastEventID: last, wait: '1' }));
  assert.equal(empty.status, 200);
  assert.deepEqual(empty.body.events, []);
  assert.equal(empty.body.lastEventID, last);
  assert.ok(empty.ms >= 900, `held for the wait (${empty.ms} ms)`);

  const short = await curlPoll(pollURL({ lastEventID: last, wait: '0' }));
  assert.deepEqual([short.status, short.body.events, short.body.lastEventID], [200, [], last]);
  assert.ok(short.ms < 900, `a short poll is not held (${short.ms} ms)`);

  // No cursor: from now, and the answer says where now is.
  const now = await curlPoll(pollURL({ wait: '0' }));
  assert.deepEqual([now.status, now.body.events, now.body.lastEventID], [200, [], last]);
});

test('limit pages the answer and more says to poll again at once', async () => {
  const start = await hub.post({ topics: [topic], data: 'page start' });
  const ids = [];
  for (let i = 1; i <= 5; i++) ids.push(await hub.post({ topics: [topic], data: `page ${i}` }));
  const got = [];
  let cursor = start;
  for (let polls = 0; polls < 10; polls++) {
    const res = await curlPoll(pollURL({ lastEventID: cursor, wait: '0', limit: '2' }));
    assert.equal(res.status, 200);
    got.push(...res.body.events.map((e) => e.id));
    cursor = res.body.lastEventID;
    assert.equal(!!res.body.more, got.length < ids.length, `more after ${got.length} of ${ids.length} events`);
    if (!res.body.more) break;
  }
  assert.deepEqual(got, ids, 'every event once, in order, over three polls');
});

test('an unknown cursor is said with earliest, never silently nothing', async () => {
  const res = await curlPoll(pollURL({ lastEventID: 'never-stored-anywhere', wait: '0', limit: '1' }));
  assert.equal(res.status, 200);
  assert.equal(res.body.earliest, true);
  assert.equal(res.body.events.length, 1, 'the answer starts at the oldest retained event');
});

test('a poll resumes from its cursor across a hub crash', async (t) => {
  const crashHub = await Herald.start({ label: 'curl-poll-resume' });
  t.after(() => crashHub.close());
  const crashToken = await crashHub.subscriberToken([topic]);
  const poll = (params) => {
    const u = new URL(crashHub.hubURL);
    u.searchParams.set('topic', topic);
    for (const [k, v] of Object.entries(params)) u.searchParams.set(k, v);
    return curlPoll(u.href, { headers: { Accept: 'application/json', Authorization: `Bearer ${crashToken}` } });
  };
  const first = await crashHub.post({ topics: [topic], data: 'before' });
  const seen = await poll({ lastEventID: 'earliest', wait: '0' });
  assert.deepEqual(seen.body.events.map((e) => e.id), [first]);

  await crashHub.kill('SIGKILL');
  await crashHub.start();
  const want = [];
  for (const data of ['after 1', 'after 2']) want.push(await crashHub.post({ topics: [topic], data }));
  const resumed = await poll({ lastEventID: seen.body.lastEventID, wait: '5' });
  assert.equal(resumed.status, 200);
  assert.deepEqual(resumed.body.events.map((e) => e.id), want, 'exactly the events after the cursor');
  assert.ok(!resumed.body.earliest, 'the restarted hub knew the cursor');
});

test('a garbage cursor, wait or limit is refused with 400', async () => {
  for (const params of [
    { lastEventID: 'bad\u0001cursor', wait: '0' },
    { wait: 'soon' },
    { wait: '-1' },
    { wait: '1e3' },
    { wait: '0', limit: 'lots' },
    { wait: '0', limit: '0' },
  ]) {
    const res = await curlPoll(pollURL(params));
    assert.equal(res.status, 400, `${JSON.stringify(params)}: ${res.status} ${JSON.stringify(res.body)}`);
    assert.ok(typeof res.body === 'string' && res.body.trim().length > 0, `${JSON.stringify(params)}: the refusal says why`);
  }
  // Without Accept: application/json, wait alone makes it a poll.
  const byWait = await curlPoll(pollURL({ wait: 'soon' }), { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(byWait.status, 400);
});
