// Access to the state tree changing under open streams. A --db-rules file
// reloaded on SIGHUP: a broken file is logged and the rules in force stay;
// a file that takes a read away ends that stream with cancel, and only
// that one. `herald revoke`: the stream opened with the token gets
// auth_revoked and closes, any later request with it is refused, and the
// revocation outlives a restart.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { CLOSED, nodeSubscriber, waitForSubscriber } from '../lib/clients.mjs';
import { ADMIN_TOKEN, dbGet, dbRequest, dbToken, dbURL, dbWrite, parseEvent, writesOf } from '../lib/db.mjs';
import { Herald, herald } from '../lib/herald.mjs';
import { waitFor } from '../lib/wait.mjs';

const TYPES = ['put', 'patch', 'cancel', 'auth_revoked'];

// Each user reads and writes their own subtree; anyone reads /public.
const RULES = `{
  // Firebase-style rules, comments and all.
  "rules": {
    "users": {
      "$uid": {
        ".read": "auth != null && auth.uid == $uid",
        ".write": "auth != null && auth.uid == $uid"
      }
    },
    "public": {".read": true}
  }
}`;

let dir;
let rulesFile;
let hub;
before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-e2e-rules-'));
  rulesFile = path.join(dir, 'rules.json');
  fs.writeFileSync(rulesFile, RULES);
  hub = await Herald.start({ label: 'state-access', args: ['--db-admin-token', ADMIN_TOKEN, '--db-rules', rulesFile] });
});
after(async () => {
  await hub?.close();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** How many lines of the server's log contain text. */
function logCount(text) {
  return fs.readFileSync(hub.logFile, 'utf8').split('\n').filter((l) => l.includes(text)).length;
}

/** Writes the rules file, sends SIGHUP and waits for the log line that follows. */
async function reload(rules, line) {
  const seen = logCount(line);
  fs.writeFileSync(rulesFile, rules);
  hub.signal('SIGHUP');
  await waitFor(() => logCount(line) > seen, { what: `the log line "${line}"` });
  return fs.readFileSync(hub.logFile, 'utf8').split('\n').filter((l) => l.includes(line)).at(-1);
}

/** Opens a stream of path with token and waits for its first put. */
async function watch(t, path, token) {
  const sub = nodeSubscriber(dbURL(hub, path, token ? { auth: token } : {}), { types: TYPES });
  t.after(sub.close);
  await waitForSubscriber(sub, (s) => writesOf(s.events).length >= 1, { what: `the first put of ${path}` });
  return sub;
}

/** Writes value at path and waits until sub has it as its last event. */
async function writeSeen(sub, path, value, rel) {
  await dbWrite(hub, 'PUT', path, value);
  return waitForSubscriber(sub, (s) => {
    const last = writesOf(s.events).at(-1);
    return last && JSON.stringify(parseEvent(last)) === JSON.stringify({ type: 'put', path: rel, data: value });
  }, { what: `the put of ${path}` });
}

test('rules reloaded on SIGHUP: a broken file keeps the rules in force; a denied read ends its stream with cancel', async (t) => {
  await dbWrite(hub, 'PUT', '/users', { alice: { n: 1 }, bob: { n: 1 } });
  await dbWrite(hub, 'PUT', '/public', { news: 'none' });
  const alice = await dbToken({ subject: 'alice' });
  const bob = await dbToken({ subject: 'bob' });
  assert.equal((await dbRequest(hub, '/users/alice', { auth: alice })).status, 200, 'alice reads her own');
  assert.deepEqual((await dbRequest(hub, '/users/bob', { auth: alice })).json, { error: 'Permission denied' }, 'not bob\'s');
  assert.equal((await dbRequest(hub, '/users/alice/n', { method: 'PUT', body: 2, auth: alice })).status, 200, 'alice writes her own');
  assert.equal((await dbRequest(hub, '/users/bob/n', { method: 'PUT', body: 2, auth: alice })).status, 401, 'not bob\'s');
  const aliceSub = await watch(t, '/users/alice', alice);
  const bobSub = await watch(t, '/users/bob', bob);
  const publicSub = await watch(t, '/public', null);

  const broken = await reload('{"rules": {"users": {".read": "aut != null"}}}', "reloading the state tree's rules; the rules in force stay");
  assert.match(broken, /level=ERROR/);
  assert.match(broken, /undeclared reference to 'aut'/, 'the log says what is wrong');
  await reload('{"rules": {', "reloading the state tree's rules; the rules in force stay");
  assert.equal((await dbRequest(hub, '/users/alice', { auth: alice })).status, 200, 'alice still reads her own');
  assert.equal((await dbRequest(hub, '/public', { auth: null })).status, 200, 'anyone still reads /public');
  await writeSeen(aliceSub, '/users/alice/n', 3, '/n');

  // Alice's read is taken away; bob's and /public's stay.
  await reload(RULES.replace('"auth != null && auth.uid == $uid",', '"auth != null && auth.uid == $uid && $uid != \'alice\'",'),
    'state tree rules reloaded');
  const cancelled = await waitForSubscriber(aliceSub, (s) => s.events.some((e) => e.type === 'cancel'), { what: 'cancel' });
  const { type, data } = cancelled.events.at(-1);
  assert.deepEqual({ type, data }, { type: 'cancel', data: 'null' }, 'cancel ends the stream');
  // The client comes back, is refused and stays closed.
  const closed = await waitForSubscriber(aliceSub, (s) => s.readyState === CLOSED, { timeout: 8000, what: 'the stream to stay closed' });
  assert.equal(closed.opens, 1);
  assert.deepEqual((await dbRequest(hub, '/users/alice', { auth: alice })).json, { error: 'Permission denied' });
  assert.equal((await dbRequest(hub, '/users/alice/n', { method: 'PUT', body: 4, auth: alice })).status, 200, 'writing is still allowed');
  for (const [sub, p, rel] of [[bobSub, '/users/bob/n', '/n'], [publicSub, '/public/news', '/news']]) {
    const s = await writeSeen(sub, p, 'after the reload', rel);
    assert.ok(!s.events.some((e) => e.type === 'cancel'), `${p}: no cancel`);
    assert.equal(s.opens, 1, `${p}: the same stream`);
  }
});

test('herald revoke: the stream of the token gets auth_revoked and closes; the token is refused from then on', async (t) => {
  await dbWrite(hub, 'PUT', '/public/rev', 0);
  const j1 = await dbToken({ read: ['/public'], write: ['/public'], jti: 'j1' });
  const j2 = await dbToken({ read: ['/public'], write: ['/public'], jti: 'j2' });
  const revoked = await watch(t, '/public/rev', j1);
  const kept = await watch(t, '/public/rev', j2);

  await assert.rejects(herald(['revoke', '--hub', hub.origin, '--admin-token', 'wrong', 'j1']), /401/, 'revoking needs the admin token');
  await writeSeen(revoked, '/public/rev', 1, '/');
  assert.equal(await herald(['revoke', '--hub', hub.origin, '--admin-token', ADMIN_TOKEN, 'j1']), 'revoked j1');

  const s = await waitForSubscriber(revoked, (s) => s.events.at(-1)?.type === 'auth_revoked', { what: 'auth_revoked' });
  assert.equal(JSON.parse(s.events.at(-1).data), 'credential is no longer valid');
  const closed = await waitForSubscriber(revoked, (s) => s.readyState === CLOSED, { timeout: 8000, what: 'the stream to stay closed' });
  assert.equal(closed.opens, 1, 'the revoked token opened no other stream');
  for (const req of [{}, { method: 'PUT', body: 2 }, { headers: { Accept: 'text/event-stream' } }]) {
    const res = await dbRequest(hub, '/public/rev', { ...req, auth: j1 });
    assert.equal(res.status, 401, `${req.method ?? 'GET'} ${JSON.stringify(req.headers ?? {})} with j1: ${res.body}`);
  }
  const k = await writeSeen(kept, '/public/rev', 3, '/');
  assert.ok(!k.events.some((e) => e.type === 'auth_revoked'), 'j2 is not revoked');

  // The revocation is kept in the journal, outside the tree users see.
  await hub.kill('SIGKILL');
  await hub.start();
  assert.equal((await dbRequest(hub, '/public/rev', { auth: j1 })).status, 401, 'j1 after a restart');
  assert.equal((await dbRequest(hub, '/public/rev', { auth: j2 })).status, 200, 'j2 after a restart');
  assert.deepEqual(Object.keys(await dbGet(hub, '/')).sort(), ['public', 'users']);
});

test('an expired or revoked token is told so, whichever of the two keys signed it', async () => {
  await herald(['revoke', '--hub', hub.origin, '--admin-token', ADMIN_TOKEN, 'j3']);
  const revoked = await dbToken({ read: ['/public'], jti: 'j3' });
  assert.deepEqual((await dbRequest(hub, '/public', { auth: revoked })).json, { error: 'Auth token is revoked.' });
  const expiring = await dbToken({ read: ['/public'], ttl: '1s' });
  const res = await waitFor(async () => {
    const r = await dbRequest(hub, '/public', { auth: expiring });
    return r.status === 401 && r;
  }, { what: 'the token to expire' });
  assert.deepEqual(res.json, { error: 'Auth token is expired.' });
});
