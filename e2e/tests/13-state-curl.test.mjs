// The state tree with curl. `curl -N` reads a stream's frames as they are
// on the wire (id, event: put or patch, one line of data
// {"path", "data"}), and resumes with a Last-Event-ID header: only the
// writes since, or a fresh put "/" once the journal no longer holds that
// event (--retention-events). Then bad input: each request is refused with
// the right status and a Firebase-style {"error": "..."} body, and the
// tree is the same afterwards.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { curl, curlStream } from '../lib/curl.mjs';
import { ADMIN_TOKEN, dbGet, dbToken, dbURL, dbWrite } from '../lib/db.mjs';
import { Herald } from '../lib/herald.mjs';
import { waitFor } from '../lib/wait.mjs';

const MAX_WRITE = 1000;

let hub;
before(async () => {
  hub = await Herald.start({
    label: 'state-curl',
    args: ['--db-admin-token', ADMIN_TOKEN, '--db-max-write', String(MAX_WRITE), '--retention-events', '20'],
  });
});
after(async () => {
  await hub?.close();
});

function stream(t, url, headers = {}) {
  const args = ['-H', 'Accept: text/event-stream'];
  for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
  const s = curlStream([...args, String(url)]);
  t.after(s.stop);
  return s;
}

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// The exact frames [type, path, data] of a state stream, as a pattern
// that captures their IDs.
function framesPattern(frames) {
  const each = frames.map(([type, path, data]) => `id: (\\S+)\nevent: ${type}\ndata: ${escape(JSON.stringify({ path, data }))}\n\n`);
  return new RegExp(`^${each.join('')}$`);
}

/** Waits until the body of out, after skip characters, matches pattern. */
function waitBody(out, pattern, what, skip = 0) {
  return waitFor(() => {
    const m = pattern.exec(out.body().slice(skip));
    if (!m) throw new Error(`the body so far: ${JSON.stringify(out.body())}; curl: ${out.err}`);
    return m;
  }, { what });
}

test('curl -N reads the frames of a state stream on the wire, and resumes with Last-Event-ID', async (t) => {
  await dbWrite(hub, 'PUT', '/wire', { a: 1 });
  const token = await dbToken({ read: ['/wire'] });
  const live = stream(t, dbURL(hub, '/wire', { auth: token }));
  const first = await waitBody(live, framesPattern([['put', '/', { a: 1 }]]), 'the first frame');
  assert.match(live.text, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(live.text, /\r\nContent-Type: text\/event-stream\r\n/i);
  assert.match(live.text, /\r\nCache-Control: no-cache\r\n/i);

  // A string with a line break and a U+2028 stays on one data line: JSON
  // escapes the one, and SSE does not break on the other.
  await dbWrite(hub, 'PUT', '/wire/b', 'two\nlines\u2028é');
  await dbWrite(hub, 'PATCH', '/wire', { 'c/d': true, a: null });
  await dbWrite(hub, 'PUT', '/elsewhere', 1);
  await dbWrite(hub, 'DELETE', '/wire/b');
  const rest = [['put', '/b', 'two\nlines\u2028é'], ['patch', '/', { a: null, 'c/d': true }], ['put', '/b', null]];
  const m = await waitBody(live, framesPattern(rest), 'the frames of three writes', first[0].length);
  const ids = [first[1], ...m.slice(1)];
  assert.equal(new Set(ids).size, ids.length, `event IDs are unique: ${ids}`);
  assert.ok(!live.body().includes('\r'), 'frames end lines with LF alone');

  // From the first event: the three writes, as they came live.
  const resumed = stream(t, dbURL(hub, '/wire', { auth: token }), { 'Last-Event-ID': first[1] });
  const want = live.body().slice(first[0].length);
  await waitBody(resumed, new RegExp(`^${escape(want)}$`), 'the writes since the first event');
  // From the last one: nothing, until the next write.
  const caughtUp = stream(t, dbURL(hub, '/wire', { auth: token }), { 'Last-Event-ID': ids.at(-1) });
  await waitFor(() => caughtUp.text.includes('\r\n\r\n'), { what: 'the head of the caught-up stream' });
  await dbWrite(hub, 'PUT', '/wire/e', 5);
  await waitBody(caughtUp, framesPattern([['put', '/e', 5]]), 'only the next write');
});

test('a Last-Event-ID the journal no longer holds gets a fresh put of the whole value', async (t) => {
  await dbWrite(hub, 'PUT', '/retained', { n: 0 });
  const token = await dbToken({ read: ['/retained'] });
  const s = stream(t, dbURL(hub, '/retained', { auth: token }));
  const first = await waitBody(s, framesPattern([['put', '/', { n: 0 }]]), 'the first frame');
  await s.stop();
  // --retention-events 20: these push the first event out of the journal.
  for (let n = 1; n <= 25; n++) await dbWrite(hub, 'PUT', '/retained/n', n);
  const again = stream(t, dbURL(hub, '/retained', { auth: token }), { 'Last-Event-ID': first[1] });
  const m = await waitBody(again, framesPattern([['put', '/', { n: 25 }]]), 'a fresh put "/"');
  assert.notEqual(m[1], first[1], 'the fresh put has the newest ID');
});
