// Scenario 6: the live page at "/". Subscribe from its form, publish from
// its form, watch the events appear; save screenshots (desktop and phone
// width) under e2e/artifacts for a human to look at.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, test } from 'node:test';

import { launchBrowser } from '../lib/clients.mjs';
import { ARTIFACTS_DIR, Herald } from '../lib/herald.mjs';

let browser;
let hub;
before(async () => {
  // No --anonymous: the page must send the subscriber token it is given.
  browser = await launchBrowser();
  hub = await Herald.start({ label: 'live-page' });
});
after(async () => {
  await Promise.all([browser?.close(), hub?.close()]);
});

const topic = 'https://example.com/books/1';

async function publishFromForm(page, { data, type = '', priv = false, token = hub.publisherToken }) {
  await page.fill('#pub-data', data);
  await page.fill('#pub-type', type);
  await page.fill('#pub-token', token);
  await page.setChecked('#pub-private', priv);
  await page.click('#publish');
  await page.waitForSelector('#publish-result:not([data-status="pending"])');
  return page.$eval('#publish-result', (el) => ({ status: el.dataset.status, id: el.dataset.eventId, text: el.textContent }));
}

const shownEvents = (page) => page.$$eval('#events .event', (items) => items.map((li) => ({
  id: li.dataset.id,
  type: li.querySelector('.event-type').textContent,
  data: li.querySelector('.event-data').textContent,
  shownID: li.querySelector('.event-id').textContent,
  time: li.querySelector('time').dateTime,
})));

test('subscribe and publish from the live page', async () => {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });
  await page.goto(`${hub.origin}/`);

  const unlabelled = await page.$$eval('input, textarea, select', (els) => els.filter((e) => e.labels.length === 0).map((e) => e.id));
  assert.deepEqual(unlabelled, [], 'form controls without a label');
  assert.equal(await page.getAttribute('#state', 'data-state'), 'CLOSED');
  assert.equal(await page.inputValue('#hub-url'), hub.hubURL, 'the hub URL defaults to this server');

  await page.fill('#topic', topic);
  assert.equal(await page.inputValue('#pub-topic'), topic, 'the publish topic follows the subscribed one');
  await page.fill('#types', 'message greeting');
  await page.click('#subscribe-form summary');
  await page.fill('#sub-token', await hub.subscriberToken([topic]));
  await page.click('#subscribe');
  await page.waitForSelector('#state[data-state="OPEN"]');
  assert.ok(await page.isDisabled('#subscribe'), 'Subscribe is disabled while subscribed');

  const first = await publishFromForm(page, { data: 'Hello from the live page\nwith a second line' });
  assert.equal(first.status, 'ok', first.text);
  await page.waitForSelector('#events .event');
  const second = await publishFromForm(page, { data: '{"title":"Les Misérables","stock":41}', type: 'greeting', priv: true });
  assert.equal(second.status, 'ok', second.text);
  const third = await publishFromForm(page, { data: 'Ünïcödé ✓ — Ελληνικά · Кириллица' });
  assert.equal(third.status, 'ok', third.text);
  await page.waitForFunction(() => document.querySelectorAll('#events .event').length === 3);

  const shown = await shownEvents(page);
  assert.deepEqual(shown.map(({ id, type, data, shownID }) => ({ id, type, data, shownID })), [
    { id: third.id, type: 'message', data: 'Ünïcödé ✓ — Ελληνικά · Кириллица', shownID: third.id },
    { id: second.id, type: 'greeting', data: '{"title":"Les Misérables","stock":41}', shownID: second.id },
    { id: first.id, type: 'message', data: 'Hello from the live page\nwith a second line', shownID: first.id },
  ], 'events, newest first');
  for (const e of shown) assert.ok(!Number.isNaN(Date.parse(e.time)), `event ${e.id} shows when it arrived`);
  assert.equal(await page.textContent('#event-count'), '3');
  // Checked before the refused publish below, which Chromium logs as a
  // failed resource load.
  assert.deepEqual(problems, [], 'errors in the page');

  const shot = path.join(ARTIFACTS_DIR, 'live-page.png');
  await page.screenshot({ path: shot, fullPage: true });
  console.log(`screenshot: ${shot}`);

  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  assert.equal(overflow, 0, 'no horizontal scrolling at phone width');
  const phone = path.join(ARTIFACTS_DIR, 'live-page-phone.png');
  await page.screenshot({ path: phone, fullPage: true });
  console.log(`screenshot: ${phone}`);

  const refused = await publishFromForm(page, { data: 'not allowed', token: 'not-a-token' });
  assert.equal(refused.status, 'error', 'a bad publisher token is reported');
  assert.match(refused.text, /^40[13]\b/, 'the error shows the HTTP status');

  // A cookie holding a token that may publish does not publish for an
  // empty token field: the hub refuses, and the page says why.
  await page.evaluate((t) => { document.cookie = `mercureAuthorization=${t}; Path=/.well-known/mercure`; }, hub.publisherToken);
  const noToken = await publishFromForm(page, { data: 'no token given', token: '' });
  assert.equal(noToken.status, 'error', 'a publish without a token in the form is refused');
  assert.match(noToken.text, /^401\b.*token/, 'the error says a token is needed');

  await page.click('#unsubscribe');
  assert.equal(await page.getAttribute('#state', 'data-state'), 'CLOSED');
  assert.ok(await page.isEnabled('#subscribe'), 'Subscribe is enabled again');
});

test('the live page shows a refused subscription as CLOSED', async () => {
  const page = await browser.newPage();
  await page.goto(`${hub.origin}/?topic=${encodeURIComponent(topic)}`);
  assert.equal(await page.inputValue('#topic'), topic, 'the topic query parameter prefills the form');
  // No token and no --anonymous: the hub refuses, and the client gives up.
  await page.click('#subscribe');
  await page.waitForSelector('#state[data-state="CLOSED"]');
  assert.ok(await page.isEnabled('#subscribe'), 'Subscribe is enabled again');
  assert.match(await page.textContent('#subscribe-error'), /^401\b/, 'the page says why');
});

test('the live page replays from a Last-Event-ID', async () => {
  const replayTopic = 'https://example.com/books/2';
  const ids = [];
  for (const data of ['one', 'two', 'three']) ids.push(await hub.publish({ topics: [replayTopic], data }));
  const page = await browser.newPage();
  await page.goto(`${hub.origin}/`);
  await page.fill('#topic', replayTopic);
  await page.fill('#last-event-id', ids[0]);
  await page.click('#subscribe-form summary');
  await page.fill('#sub-token', await hub.subscriberToken([replayTopic]));
  await page.click('#subscribe');
  await page.waitForFunction(() => document.querySelectorAll('#events .event').length === 2);
  const shown = await shownEvents(page);
  assert.deepEqual(shown.map(({ id, data }) => ({ id, data })), [{ id: ids[2], data: 'three' }, { id: ids[1], data: 'two' }]);
});

test('a token in the fragment fills both token fields and leaves the address', async () => {
  const page = await browser.newPage();
  const token = hub.publisherToken;
  await page.goto(`${hub.origin}/?topic=demo#token=${token}`);
  assert.equal(await page.inputValue('#sub-token'), token, 'the subscribe token is filled in');
  assert.equal(await page.inputValue('#pub-token'), token, 'the publish token is filled in');
  assert.equal(await page.evaluate(() => location.hash), '', 'the token is taken off the address');
  await page.close();
});
