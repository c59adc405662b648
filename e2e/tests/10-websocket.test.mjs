// Scenario 10: the WebSocket transport (subprotocol herald.v1) with the npm
// `ws` client, message by message: subscribe with replay and live events,
// unsubscribe, resume with the cursor across a SIGKILL and restart,
// pipelined publishes acknowledged in order, and bad input — each answered
// with an error message or a close code, losing nothing else.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { Herald } from '../lib/herald.mjs';
import { openSocket } from '../lib/ws.mjs';

let hub;
let token;
const topic = 'https://example.com/e2e/ws/{id}';
const book = (n) => `https://example.com/e2e/ws/${n}`;
before(async () => {
  hub = await Herald.start({ label: 'websocket' });
  token = await hub.subscriberToken([topic]);
});
after(async () => {
  await hub?.close();
});

const bearer = (t) => ({ Authorization: `Bearer ${t}` });

test('subscribe replays then goes live; unsubscribe stops; ping is answered', async (t) => {
  const first = await hub.post({ topics: [book(1)], data: 'one' });
  const second = await hub.post({ topics: [book(1)], data: 'two\nlines', type: 'greeting' });

  // A browser sends its token as the first message.
  const conn = await openSocket(hub.hubURL);
  t.after(conn.close);
  conn.send({ op: 'auth', token });
  await conn.next((m) => m.op === 'auth', 'the auth answer');
  conn.send({ op: 'subscribe', sub: 'a', topics: [topic], lastEventID: first });
  const subscribed = await conn.next((m) => m.op === 'subscribed', 'subscribed');
  assert.deepEqual(subscribed, { op: 'subscribed', sub: 'a', lastEventID: first });
  const third = await hub.post({ topics: [book(1), book(2)], data: 'three' });
  await conn.until(() => conn.events('a').length === 2, 'the replay and the live event');
  assert.deepEqual(conn.events('a'), [
    { op: 'event', sub: 'a', id: second, type: 'greeting', topics: [book(1)], data: 'two\nlines' },
    { op: 'event', sub: 'a', id: third, topics: [book(1), book(2)], data: 'three' },
  ]);
  assert.ok(conn.messages.indexOf(subscribed) < conn.messages.findIndex((m) => m.op === 'event'), 'subscribed comes before the events');

  conn.send({ op: 'unsubscribe', sub: 'a' });
  await conn.next((m) => m.op === 'unsubscribed' && m.sub === 'a', 'unsubscribed');
  // Absence shown by what comes next: b subscribes and receives the next
  // event; a receives nothing more.
  conn.send({ op: 'subscribe', sub: 'b', topics: [topic] });
  await conn.next((m) => m.op === 'subscribed' && m.sub === 'b', 'subscribed b');
  const fourth = await hub.post({ topics: [book(3)], data: 'four' });
  await conn.until(() => conn.events('b').length === 1, 'the event of b');
  assert.equal(conn.events('b')[0].id, fourth);
  assert.equal(conn.events('a').length, 2, 'no event of a after unsubscribed');

  conn.send({ op: 'ping' });
  await conn.next((m) => m.op === 'pong', 'pong');
});

test('a subscription resumes with its cursor across a hub crash without loss', async (t) => {
  const crashHub = await Herald.start({ label: 'websocket-resume' });
  t.after(() => crashHub.close());
  const crashToken = await crashHub.subscriberToken([topic]);
  const want = [];
  const publish = async (data) => want.push({ id: await crashHub.post({ topics: [book(7)], data }), data });

  const before1 = await openSocket(crashHub.hubURL, { headers: bearer(crashToken) });
  before1.send({ op: 'subscribe', sub: 's', topics: [topic] });
  const { lastEventID: start } = await before1.next((m) => m.op === 'subscribed', 'subscribed');
  assert.equal(start, 'earliest', 'a new subscriber of an empty journal starts at earliest');
  for (const data of ['before 1', 'before 2', 'before 3']) await publish(data);
  await before1.until(() => before1.events('s').length === 3, 'the events before the crash');

  await crashHub.kill('SIGKILL');
  const { code } = await before1.closed;
  assert.equal(code, 1006, 'a crash is an abnormal close');
  await crashHub.start();
  for (const data of ['during 1', 'during 2', 'during 3']) await publish(data);

  const cursor = before1.events('s').at(-1).id;
  const again = await openSocket(crashHub.hubURL, { headers: bearer(crashToken) });
  t.after(again.close);
  again.send({ op: 'subscribe', sub: 's', topics: [topic], lastEventID: cursor });
  const resumed = await again.next((m) => m.op === 'subscribed', 'subscribed after the restart');
  assert.equal(resumed.lastEventID, cursor, 'the hub knew the cursor');
  assert.ok(!resumed.earliest);
  for (const data of ['after 1', 'after 2', 'after 3']) await publish(data);
  await again.until(() => again.events('s').length === 6, 'the rest of the events');

  const got = [...before1.events('s'), ...again.events('s')].map(({ id, data }) => ({ id, data }));
  assert.deepEqual(got, want, 'every event once, in order');
});

test('pipelined publishes are acknowledged in order and delivered in that order', async (t) => {
  const N = 200;
  const watcher = await openSocket(hub.hubURL, { headers: bearer(token) });
  t.after(watcher.close);
  watcher.send({ op: 'subscribe', sub: 'w', topics: [book('pipelined')] });
  await watcher.next((m) => m.op === 'subscribed', 'subscribed');

  const publisher = await openSocket(hub.hubURL, { headers: bearer(hub.publisherToken) });
  t.after(publisher.close);
  // Every publish goes out before any ack is read.
  for (let i = 1; i <= N; i++) {
    publisher.send({ op: 'publish', ref: String(i), topics: [book('pipelined')], data: `p${i}`, ...(i % 2 ? { type: 'odd' } : {}) });
  }
  await publisher.until(() => publisher.messages.filter((m) => m.op === 'ack').length === N, `${N} acks`);
  const acks = publisher.messages.filter((m) => m.op === 'ack');
  assert.deepEqual(acks.map((a) => a.ref), Array.from({ length: N }, (_, i) => String(i + 1)), 'acks in the order sent');
  assert.equal(new Set(acks.map((a) => a.id)).size, N, 'one event ID each');
  assert.equal(publisher.messages.filter((m) => m.op === 'error').length, 0);

  await watcher.until(() => watcher.events('w').length === N, `${N} events`);
  assert.deepEqual(watcher.events('w').map((e) => [e.id, e.data, e.type]),
    acks.map((a, i) => [a.id, `p${i + 1}`, (i + 1) % 2 ? 'odd' : undefined]), 'events in the order acknowledged');
});

test('bad messages are answered with an error and lose nothing', async (t) => {
  const conn = await openSocket(hub.hubURL, { headers: bearer(token) });
  t.after(conn.close);
  conn.send({ op: 'subscribe', sub: 'keep', topics: [topic] });
  await conn.next((m) => m.op === 'subscribed', 'subscribed');

  const errors = () => conn.messages.filter((m) => m.op === 'error');
  const nextError = (n, what) => conn.until(() => errors()[n - 1], what);
  conn.send('{"op":"subscribe",');
  assert.equal((await nextError(1, 'the error for malformed JSON')).code, 400);
  conn.send({ op: 'frobnicate', ref: 'u1' });
  const unknown = await nextError(2, 'the error for an unknown op');
  assert.deepEqual([unknown.code, unknown.ref], [400, 'u1']);
  conn.send({ op: 'subscribe', sub: 'nothing' });
  const missing = await nextError(3, 'the error for a subscribe without topics');
  assert.deepEqual([missing.code, missing.sub], [400, 'nothing']);
  conn.send({ op: 'subscribe', sub: 'keep', topics: [topic] });
  const taken = await nextError(4, 'the error for a sub already in use');
  assert.equal(taken.sub, 'keep');
  assert.ok(taken.code >= 400 && taken.code < 500, `code ${taken.code}`);
  // A subscriber's token has no publish grant.
  conn.send({ op: 'publish', ref: 'p1', topics: [book(1)], data: 'not mine to send' });
  const refused = await nextError(5, 'the error for a publish without the grant');
  assert.deepEqual([refused.code, refused.ref], [403, 'p1']);
  for (const e of errors()) assert.ok(typeof e.error === 'string' && e.error.length > 0, `error ${JSON.stringify(e)} says why`);

  // The socket and its subscription go on.
  const id = await hub.post({ topics: [book(9)], data: 'still here' });
  await conn.until(() => conn.events('keep').length === 1, 'the event after the errors');
  assert.equal(conn.events('keep')[0].id, id);
  assert.equal(errors().length, 5, 'one error per bad message');
});

test('private events need the grant; an unknown cursor is said with earliest', async (t) => {
  // A valid token without the topic among its subscribe grants.
  const other = await hub.subscriberToken(['https://example.com/e2e/elsewhere']);
  const conn = await openSocket(hub.hubURL, { headers: bearer(other) });
  t.after(conn.close);
  conn.send({ op: 'subscribe', sub: 'p', topics: [topic] });
  await conn.next((m) => m.op === 'subscribed', 'subscribed');
  await hub.post({ topics: [book('private')], data: 'not for this token', priv: true });
  const pub = await hub.post({ topics: [book('private')], data: 'for everyone' });
  await conn.until(() => conn.events('p').some((e) => e.id === pub), 'the public event');
  assert.deepEqual(conn.events('p').map((e) => e.id), [pub], 'the private event, published first, was not delivered');

  conn.send({ op: 'subscribe', sub: 'old', topics: [topic], lastEventID: 'urn:example:never-stored' });
  const subscribed = await conn.next((m) => m.op === 'subscribed' && m.sub === 'old', 'subscribed with an unknown cursor');
  assert.equal(subscribed.earliest, true);
});

test('a message over the size limit closes with 1009, a binary one with 1003, one not UTF-8 with 1007', async () => {
  const big = await openSocket(hub.hubURL, { headers: bearer(hub.publisherToken) });
  big.send({ op: 'publish', ref: 'big', topics: [book(1)], data: 'x'.repeat((1 << 20) + 1) });
  const tooBig = await big.closed;
  assert.equal(tooBig.code, 1009, `closed with ${JSON.stringify(tooBig)}, socket error: ${big.error?.message}`);

  const binary = await openSocket(hub.hubURL, { headers: bearer(token) });
  binary.ws.send(Buffer.from('{"op":"ping"}'));
  const refused = await binary.closed;
  assert.equal(refused.code, 1003, `closed with ${JSON.stringify(refused)}, socket error: ${binary.error?.message}`);

  const garbled = await openSocket(hub.hubURL, { headers: bearer(token) });
  garbled.ws.send(Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), { binary: false });
  const invalid = await garbled.closed;
  assert.equal(invalid.code, 1007, `closed with ${JSON.stringify(invalid)}, socket error: ${garbled.error?.message}`);
});

test('the upgrade is refused from a foreign Origin (403) and without the subprotocol (400)', async () => {
  await assert.rejects(openSocket(hub.hubURL, { headers: bearer(token), origin: 'https://evil.example' }), (err) => err.status === 403);
  await assert.rejects(openSocket(hub.hubURL, { headers: bearer(token), protocols: [] }), (err) => err.status === 400);
  // The hub's own origin is welcome.
  const own = await openSocket(hub.hubURL, { headers: bearer(token), origin: hub.origin });
  own.send({ op: 'ping' });
  await own.next((m) => m.op === 'pong', 'pong');
  await own.close();
});

test('a socket without a token may do nothing but auth', async (t) => {
  const conn = await openSocket(hub.hubURL);
  t.after(conn.close);
  conn.send({ op: 'subscribe', sub: 'x', topics: [topic] });
  const refused = await conn.next((m) => m.op === 'error', 'the error for a subscribe without a token');
  assert.deepEqual([refused.code, refused.sub], [401, 'x']);
  conn.send({ op: 'auth', token: 'not-a-token' });
  const bad = await conn.next((m) => m.op === 'error' && m !== refused, 'the error for a bad token');
  assert.equal(bad.code, 401);
  conn.send({ op: 'auth', token });
  await conn.next((m) => m.op === 'auth', 'the auth answer');
  conn.send({ op: 'subscribe', sub: 'x', topics: [topic] });
  await conn.next((m) => m.op === 'subscribed' && m.sub === 'x', 'subscribed once authenticated');
});
