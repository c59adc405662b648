// The state tree with curl. `curl -N` reads a stream's frames as they are
// on the wire (id, event: put or patch, one line of data
// {"path", "data"}), and resumes with a Last-Event-ID header: only the
// writes since, or a fresh put "/" once the journal no longer holds that
// event (--retention-events). Then bad input: each request is refused with
// the right status and a Firebase-style {"error": "..."} body, and the
// tree is the same afterwards. And --db-prefix /, the tree at the root.
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
  const s = curlStream(url, { Accept: 'text/event-stream', ...headers });
  t.after(s.stop);
  return s;
}

const escape = (s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// The exact frames [type, path, data] of a state stream, as a pattern
// that captures their IDs. A stream opens with a block that dispatches
// nothing: the retry hint, and the resumed position's id.
function framesPattern(frames) {
  const opening = '(?:retry: \\d+\n(?:id: \\S+\n)?\n)?';
  const each = frames.map(([type, path, data]) => `id: (\\S+)\nevent: ${type}\ndata: ${escape(JSON.stringify({ path, data }))}\n\n`);
  return new RegExp(`^${opening}${each.join('')}$`);
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
  // It opens with the retry hint and the position it resumed from.
  await waitBody(resumed, new RegExp(`^retry: \\d+\nid: ${escape(first[1])}\n\n${escape(want)}$`), 'the writes since the first event');
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

// Bad requests, each with the status and error it must get: method (PUT
// unless said) to path (/bad/new unless said), body sent as it is (raw: as
// bytes), query, headers; auth names a token (admin unless said), or is
// null for none.
const deep = (n) => '{"k":'.repeat(n) + '1' + '}'.repeat(n);
const keys = (n) => '/k'.repeat(n);
const BAD_KEY = /^Invalid key "[^"]*": keys must not contain "\.", "\$", "#", "\[", "\]" or "\/"$/;
const BAD_PATH_KEY = /^Invalid path: Invalid key "[^"]*": keys must not contain "\.", "\$", "#", "\[", "\]" or "\/"$/;
const CONTROL = /keys must not contain ASCII control characters$/;
const UNPARSED = /^Invalid data; couldn't parse JSON object, array, or value\.$/;
const DENIED = /^Permission denied$/;
const BAD = [
  ...['.', '$', '#', '[', ']', '/'].map((c) => ({ what: `key with ${c}`, body: `{"a${c}b":1}`, status: 400, error: BAD_KEY })),
  { what: 'nested key with .', body: '{"ok":{"x.y":1}}', status: 400, error: BAD_KEY },
  { what: 'PATCH key with $', method: 'PATCH', path: '/bad', body: '{"keep/a$b":1}', status: 400, error: BAD_PATH_KEY },
  ...['\\u0001', '\\u001f', '\\u007f'].map((c) => ({ what: `key with ${c}`, body: `{"a${c}b":1}`, status: 400, error: CONTROL })),
  { what: 'empty key', body: '{"":1}', status: 400, error: /keys must not be empty/ },
  ...['a.b', 'a%24b', 'a%23b', 'a[b', 'a%5Db'].map((k) => ({ what: `path key ${k}`, path: `/bad/${k}`, status: 400, error: BAD_PATH_KEY })),
  ...['a%01b', 'a%7Fb'].map((k) => ({ what: `path key ${k}`, path: `/bad/${k}`, status: 400, error: CONTROL })),
  { what: 'GET 33 keys deep', method: 'GET', path: keys(33), status: 400, error: /too deep/ },
  { what: 'PUT 33 keys deep', path: keys(33), body: '1', status: 400, error: /too deep/ },
  { what: 'value nested 33 levels', body: deep(33), status: 400, error: /^Invalid data; data nested deeper than 32 levels$/ },
  { what: 'PATCH key of 33 levels', method: 'PATCH', path: '/bad', body: `{"${'k/'.repeat(32)}k":1}`, status: 400, error: /nested deeper than 32 levels/ },
  { what: 'POST at 32 keys', method: 'POST', path: keys(32), body: '1', status: 400, error: /too deep/ },
  { what: 'value nesting the tree past 32 with its path', body: deep(31), status: 400, error: /too deep: the tree nests at most 32 levels/ },
  { what: 'POST of an object at 31 keys', method: 'POST', path: keys(31), body: '{"x":1}', status: 400, error: /too deep/ },
  { what: 'path key of 769 bytes', path: `/bad/${'k'.repeat(769)}`, body: '1', status: 400, error: /longer than 768 bytes/ },
  { what: 'key of 769 bytes', body: `{"${'k'.repeat(769)}":1}`, status: 400, error: /longer than 768 bytes/ },
  { what: `PUT of ${MAX_WRITE + 100} bytes`, body: JSON.stringify('x'.repeat(MAX_WRITE + 98)), status: 413, error: /exceeds the maximum size of 1000 bytes/ },
  { what: `PATCH of ${MAX_WRITE + 100} bytes`, method: 'PATCH', path: '/bad', body: JSON.stringify({ keep: 'x'.repeat(MAX_WRITE + 89) }), status: 413, error: /exceeds the maximum size/ },
  ...['{"a":', '', 'nul', '{"a":1}x', '1 2', "{'a':1}", '{"a":"\u0001"}'].map((body) => ({
    what: `malformed JSON ${JSON.stringify(body)}`, body, status: 400, error: UNPARSED,
  })),
  { what: 'duplicate key', body: '{"a":1,"a":2}', status: 400, error: /duplicate key "a"/ },
  { what: 'invalid UTF-8 in a string', raw: Buffer.from([0x22, 0xff, 0x22]), status: 400, error: /valid UTF-8/ },
  { what: 'PATCH with a number', method: 'PATCH', path: '/bad', body: '1', status: 400, error: /PATCH body must be a JSON object/ },
  { what: 'PATCH with an array', method: 'PATCH', path: '/bad', body: '[1]', status: 400, error: /PATCH body must be a JSON object/ },
  { what: 'PATCH of a path and its child', method: 'PATCH', path: '/bad', body: '{"keep":1,"keep/x":2}', status: 400, error: /ancestor/ },
  { what: 'unknown server value', body: '{".sv":"bogus"}', status: 400, error: /unsupported server value/ },
  { what: 'increment by a string', body: '{".sv":{"increment":"a"}}', status: 400, error: /unsupported server value/ },
  { what: 'priority', body: '{".priority":1}', status: 400, error: /priorities are not supported/ },
  ...[
    ['orderBy=$key', /^orderBy must be a valid JSON encoded path$/],
    ['orderBy="$key"&limitToFirst=-1', /^limitToFirst must be a non-negative integer$/],
    ['orderBy="$key"&limitToLast=1.5', /^limitToLast must be a non-negative integer$/],
    ['limitToFirst=1', /^orderBy must be defined when other query parameters are defined$/],
    ['orderBy="$key"&startAt=1', /startAt must be a JSON value: a string when orderBy is "\$key"/],
    ['orderBy="$key"&shallow=true', /Mixing 'shallow' and querying parameters/],
    ['print=ugly', /print=ugly is not supported/],
    ['shallow=maybe', /shallow must be true or false/],
  ].map(([query, error]) => ({ what: `GET ?${query}`, method: 'GET', path: '/bad', query, status: 400, error })),
  ...['/bad/../other', '/bad/%2e%2e/other', '/bad/./keep', '/bad//keep', '/../bad'].map((path) => ({
    what: `path ${path}`, method: 'GET', path, status: 400, error: /^Invalid path: /,
  })),
  { what: 'PUT to a path with ..', path: '/bad/../other', body: '1', status: 400, error: /^Invalid path: / },
  { what: 'percent-encoded slash', path: '/bad/keep%2Fx', body: '1', status: 400, error: /encoded "\/"/ },
  { what: 'stream of an invalid path', method: 'GET', path: '/bad/a.b', headers: ['Accept: text/event-stream'], status: 400, error: BAD_PATH_KEY },
  { what: 'invalid ns', method: 'GET', path: '/bad', query: 'ns=a.b', status: 400, error: /^Invalid ns/ },
  { what: 'X-HTTP-Method-Override: TRACE', method: 'POST', path: '/bad', headers: ['X-HTTP-Method-Override: TRACE'], body: '1', status: 400, error: /X-HTTP-Method-Override/ },
  { what: 'PUT without a token', auth: null, body: '1', status: 401, error: DENIED },
  { what: 'GET without a token', method: 'GET', auth: null, path: '/bad', status: 401, error: DENIED },
  { what: 'stream without a token', method: 'GET', auth: null, path: '/bad', headers: ['Accept: text/event-stream'], status: 401, error: DENIED },
  { what: 'PUT with a read grant', auth: 'reader', body: '1', status: 401, error: DENIED },
  { what: 'DELETE with a read grant', method: 'DELETE', auth: 'reader', path: '/bad', status: 401, error: DENIED },
  { what: 'PUT beside the write grant', auth: 'otherWriter', body: '1', status: 401, error: DENIED },
  { what: 'PUT above the write grant', auth: 'keepWriter', path: '/bad', body: '{}', status: 401, error: DENIED },
  { what: 'PATCH of a granted and a refused path', method: 'PATCH', auth: 'otherWriter', path: '/', body: '{"other/y":3,"bad/x":1}', status: 401, error: DENIED },
  { what: 'a garbage token', auth: 'garbage', body: '1', status: 401, error: /^Could not parse auth token\.$/ },
  { what: 'Basic authorization', auth: null, headers: ['Authorization: Basic YTpi'], body: '1', status: 401, error: /not Bearer/ },
];

test('bad input gets a Firebase-style error with the right status, and the tree stays as it was', async () => {
  await dbWrite(hub, 'PUT', '/bad', { keep: { x: 1 }, list: { a: 1 } });
  await dbWrite(hub, 'PUT', '/other', { y: 2 });
  const tokens = {
    admin: ADMIN_TOKEN,
    garbage: 'not.a.token',
    reader: await dbToken({ read: ['/bad', '/other'] }),
    otherWriter: await dbToken({ write: ['/other'] }),
    keepWriter: await dbToken({ write: ['/bad/keep'] }),
  };
  const root = `${hub.origin}/db`;
  const state = () => curl(['-H', `Authorization: Bearer ${ADMIN_TOKEN}`, '-H', 'X-Firebase-ETag: true', `${root}/.json`]);
  const before = await state();
  assert.equal(before.status, 200);

  for (const c of BAD) {
    const { method = 'PUT', path = '/bad/new', body, raw, query, headers = [], auth = 'admin' } = c;
    const args = ['-g', '--path-as-is', '-X', method];
    if (auth) args.push('-H', `Authorization: Bearer ${tokens[auth]}`);
    for (const h of headers) args.push('-H', h);
    if (body !== undefined || raw) args.push('-H', 'Content-Type: application/json', '--data-binary', '@-');
    args.push(`${root}${path}.json${query ? `?${query}` : ''}`);
    const res = await curl(args, { input: raw ?? body });
    const seen = `${c.what}: ${res.status} ${res.body.trim()}`;
    assert.equal(res.status, c.status, seen);
    assert.match(res.headers['content-type'], /^application\/json/, seen);
    assert.deepEqual(Object.keys(res.json ?? {}), ['error'], seen);
    assert.match(res.json.error, c.error, seen);
    const now = await state();
    assert.equal(now.headers.etag, before.headers.etag, `${c.what}: the tree changed to ${now.body}`);
  }
  assert.deepEqual((await state()).json, before.json);
});

test('If-Match that is not the current ETag: 412 with the current value and its ETag', async () => {
  await dbWrite(hub, 'PUT', '/cas', { n: 1, s: 'x' });
  const auth = ['-H', `Authorization: Bearer ${ADMIN_TOKEN}`];
  const url = `${hub.origin}/db/cas.json`;
  const current = await curl([...auth, '-H', 'X-Firebase-ETag: true', url]);
  for (const ifMatch of ['garbage', '"quoted"', '*', current.headers.etag.slice(1)]) {
    const res = await curl([...auth, '-X', 'PUT', '-H', `If-Match: ${ifMatch}`, '--data-binary', '{"n":2}', url]);
    assert.equal(res.status, 412, `If-Match: ${ifMatch}`);
    assert.deepEqual(res.json, { n: 1, s: 'x' }, `If-Match: ${ifMatch}: the current value`);
    assert.equal(res.headers.etag, current.headers.etag, `If-Match: ${ifMatch}: the current ETag`);
  }
  const del = await curl([...auth, '-X', 'DELETE', '-H', 'If-Match: garbage', url]);
  assert.deepEqual([del.status, del.json, del.headers.etag], [412, { n: 1, s: 'x' }, current.headers.etag], 'a DELETE too');
  assert.deepEqual(await dbGet(hub, '/cas'), { n: 1, s: 'x' });
  const ok = await curl([...auth, '-X', 'PUT', '-H', `If-Match: ${current.headers.etag}`, '--data-binary', '{"n":2}', url]);
  assert.equal(ok.status, 200, 'the current ETag matches');
  assert.deepEqual(await dbGet(hub, '/cas'), { n: 2 });
});

test(`a body one byte over --db-max-write gets 413, as a larger one does`, async () => {
  const url = `${hub.origin}/db/bad/new.json`;
  const auth = ['-H', `Authorization: Bearer ${ADMIN_TOKEN}`];
  for (const size of [MAX_WRITE + 1, MAX_WRITE + 2]) {
    const res = await curl([...auth, '-X', 'PUT', '--data-binary', '@-', url], { input: JSON.stringify('x'.repeat(size - 2)) });
    assert.deepEqual([res.status, res.json], [413, { error: 'Data to write exceeds the maximum size of 1000 bytes.' }], `${size} bytes`);
  }
  const fits = await curl([...auth, '-X', 'PUT', '--data-binary', '@-', url], { input: JSON.stringify('x'.repeat(MAX_WRITE - 2)) });
  assert.equal(fits.status, 200, `${MAX_WRITE} bytes fit`);
});

test('--db-prefix / serves the tree at .json URLs of the root, and the rest stays Herald\'s', async (t) => {
  const root = await Herald.start({ label: 'state-curl-root', args: ['--db-admin-token', ADMIN_TOKEN, '--db-prefix', '/'] });
  t.after(() => root.close());
  const auth = ['-H', `Authorization: Bearer ${ADMIN_TOKEN}`];
  const put = await curl([...auth, '-X', 'PUT', '--data-binary', '{"a":1}', `${root.origin}/x.json`]);
  assert.deepEqual([put.status, put.json], [200, { a: 1 }]);
  assert.deepEqual((await curl([...auth, `${root.origin}/.json`])).json, { x: { a: 1 } });
  const s = stream(t, `${root.origin}/x.json`, { Authorization: `Bearer ${ADMIN_TOKEN}` });
  await waitBody(s, framesPattern([['put', '/', { a: 1 }]]), 'the first frame');
  const health = await curl([`${root.origin}/healthz`]);
  assert.deepEqual([health.status, health.json?.status], [200, 'ok'], '/healthz is Herald\'s');
  const page = await curl([`${root.origin}/`]);
  assert.equal(page.status, 200);
  assert.match(page.headers['content-type'], /^text\/html/, '/ is the live page');
  const notTree = await curl([...auth, '-X', 'PUT', '--data-binary', '1', `${root.origin}/x`]);
  assert.deepEqual([notTree.status, notTree.json], [404, { error: 'Not found.' }], 'without .json, not the tree');
});
