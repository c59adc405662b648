// Scenario 5: HTTP/2. A browser allows only six HTTP/1.1 connections per
// origin, so a page with more EventSources than that stalls; over HTTP/2
// they share one connection. Herald with TLS must negotiate h2 so that 20
// streams from one page all open and all receive events.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';

import { CONNECTING, OPEN, launchBrowser, pageSubscriber, waitEvents } from '../lib/clients.mjs';
import { Herald } from '../lib/herald.mjs';
import { waitFor } from '../lib/wait.mjs';

const STREAMS = 20;
// Chromium's limit of HTTP/1.1 connections per origin.
const HTTP1_LIMIT = 6;

let browser;
before(async () => {
  browser = await launchBrowser(['--ignore-certificate-errors']);
});
after(async () => {
  await browser?.close();
});

async function openStreams(page, hub, topic) {
  const url = `${hub.hubURL}?topic=${encodeURIComponent(topic)}`;
  const subs = [];
  for (let i = 0; i < STREAMS; i++) subs.push(await pageSubscriber(page, url));
  return subs;
}

const snapshots = (subs) => Promise.all(subs.map((s) => s.snapshot()));

function waitOpenCount(subs, n) {
  return waitFor(async () => (await snapshots(subs)).filter((s) => s.readyState === OPEN).length === n, {
    what: `${n} EventSources to be OPEN`,
  });
}

async function assertAllStreamsWork(page, hub, topic, publish) {
  const protocol = await page.evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol);
  assert.equal(protocol, 'h2', 'the page itself came over HTTP/2');

  const subs = await openStreams(page, hub, topic);
  await waitOpenCount(subs, STREAMS);
  const id = await publish('to every stream');
  for (const [i, sub] of subs.entries()) {
    const s = await waitEvents(sub, 1, { what: `stream ${i}: the event` });
    assert.deepEqual(s.events, [{ type: 'message', id, data: 'to every stream' }], `stream ${i}`);
  }
  // A request made while the 20 streams are open rides the same connection.
  const probe = await page.evaluate(async () => {
    const res = await fetch('/healthz', { cache: 'no-store' });
    await res.text();
    const entry = performance.getEntriesByType('resource').findLast((e) => e.name.endsWith('/healthz'));
    return { status: res.status, protocol: entry?.nextHopProtocol };
  });
  assert.deepEqual(probe, { status: 200, protocol: 'h2' }, 'GET /healthz beside the streams');
}

test('--tls-self-signed: 20 EventSources share one HTTP/2 connection', async (t) => {
  const hub = await Herald.start({ label: 'http2-self-signed', tls: true, args: ['--anonymous', '--tls-self-signed'] });
  t.after(() => hub.close());
  const topic = 'https://example.com/e2e/h2/self-signed';
  const page = await browser.newPage();
  await page.goto(`${hub.origin}/`);
  // herald publish would refuse the self-signed certificate; the page
  // publishes instead, over the same HTTP/2 connection.
  await assertAllStreamsWork(page, hub, topic, (data) => page.evaluate(async ({ topic, data, token }) => {
    const res = await fetch('/.well-known/mercure', {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}` },
      body: new URLSearchParams({ topic, data }),
    });
    if (!res.ok) throw new Error(`publish: ${res.status} ${await res.text()}`);
    return (await res.text()).trim();
  }, { topic, data, token: hub.publisherToken }));
});

test('--tls-cert/--tls-key: 20 EventSources over HTTP/2, herald publish over TLS', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-e2e-tls-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const cert = path.join(dir, 'cert.pem');
  const key = path.join(dir, 'key.pem');
  try {
    await promisify(execFile)('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', key, '-out', cert, '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1',
    ]);
  } catch (err) {
    throw new Error(`openssl could not make a test certificate (install openssl): ${err.message}`, { cause: err });
  }
  const hub = await Herald.start({ label: 'http2-cert', tls: true, args: ['--anonymous', '--tls-cert', cert, '--tls-key', key] });
  t.after(() => hub.close());
  const topic = 'https://example.com/e2e/h2/cert';
  const page = await browser.newPage();
  await page.goto(`${hub.origin}/`);
  // Go's TLS stack trusts the certificate through SSL_CERT_FILE.
  await assertAllStreamsWork(page, hub, topic, (data) => hub.publish({ topics: [topic], data, env: { SSL_CERT_FILE: cert } }));
});

// The control: without TLS the browser speaks HTTP/1.1 and only six
// streams get a connection. It shows that the tests above would notice a
// server that fell back to HTTP/1.1.
test('over plain HTTP/1.1 the browser stalls after 6 EventSources', async (t) => {
  const hub = await Herald.start({ label: 'http2-control', args: ['--anonymous'] });
  t.after(() => hub.close());
  const topic = 'https://example.com/e2e/h2/control';
  const page = await browser.newPage();
  await page.goto(`${hub.origin}/`);
  const protocol = await page.evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol);
  assert.equal(protocol, 'http/1.1');

  const subs = await openStreams(page, hub, topic);
  await waitOpenCount(subs, HTTP1_LIMIT);
  const id = await hub.publish({ topics: [topic], data: 'only six hear this' });
  const snaps = await waitFor(async () => {
    const all = await snapshots(subs);
    return all.filter((s) => s.events.length > 0).length === HTTP1_LIMIT ? all : false;
  }, { what: `the ${HTTP1_LIMIT} open streams to receive the event` });
  for (const [i, s] of snaps.entries()) {
    if (s.readyState === OPEN) {
      assert.deepEqual(s.events, [{ type: 'message', id, data: 'only six hear this' }], `stream ${i}`);
    } else {
      assert.equal(s.readyState, CONNECTING, `stream ${i}: still waiting for a connection`);
      assert.equal(s.events.length, 0, `stream ${i}: events`);
    }
  }
});
