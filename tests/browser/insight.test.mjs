// Insight in the page, against the real server: the organiser's activity chart
// (SVG with a table fallback) and its CSV download (checked by content), an
// announcement shown as a banner on members' pages, and the title alert (and
// notification) in a hidden tab.
//
// A hidden tab: headless Chromium keeps every page "visible", so the page is
// told it is hidden the way it reads it: document.hidden / visibilityState
// overridden and a visibilitychange dispatched (helpers.mjs setHidden, as
// circle.test.mjs does). Nothing sleeps a fixed time.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  BASE, T, DESKTOP, MOBILE, launch, newPage as open, screenshotter, waitText, visible, until, checkA11y, axeLog, setHidden,
} from './helpers.mjs';

let browser;
const pages = [];
const shot = screenshotter('insight');

async function newPage(label, options) {
  const entry = await open(browser, label, { allow: /status of 4(00|04|29)/, ...options });
  pages.push(entry);
  return entry;
}

// Notifications as the page would make them, recorded (headless Chromium shows none).
function fakeNotifications() {
  window.__notes = [];
  window.Notification = function Notification(title, options) {
    window.__notes.push(options && options.body);
    this.close = () => {};
  };
  window.Notification.permission = 'granted';
  window.Notification.requestPermission = async () => 'granted';
}

async function join(x, invite, name) {
  await x.page.goto(invite);
  await visible(x.page.locator('#preview h2'));
  await x.page.getByLabel('Your name').fill(name);
  await x.page.getByRole('button', { name: 'Enter circle' }).click();
}

before(async () => {
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (axeLog.length) console.log(`# axe:\n#   ${axeLog.join('\n#   ')}`);
});

test('insight: the activity chart, CSV, announcements and alerts', { timeout: 300_000 }, async (t) => {
  const created = await (await fetch(`${BASE}groups`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Insight club', description: 'Counting, never recording.' }),
  })).json();
  const { access_code: code, organizer_key: key } = created;
  const invite = `${BASE}?code=${code}`;
  const O = await newPage('organiser');
  const B = await newPage('ann', { init: fakeNotifications });
  const C = await newPage('ben', { mobile: true });
  const requests = [];
  O.page.on('request', (r) => requests.push(r.url()));

  await t.test('two members pair', async () => {
    await join(B, invite, 'Ann');
    await waitText(B.page.locator('#waiting-title'), 'Waiting for someone');
    await join(C, invite, 'Ben');
    await waitText(B.page.locator('#chat-title'), 'Chatting with Ben');
    await waitText(C.page.locator('#chat-title'), 'Chatting with Ann');
  });

  await t.test('the organiser sees the activity chart, with a table and the feedback', async () => {
    const p = O.page;
    await p.goto(`${BASE}#organizer=${key}`);
    await waitText(p.locator('#org-title'), 'Organise “Insight club”');
    const chart = p.getByRole('img', { name: 'Joins and chats per 5 minutes' });
    await visible(chart);
    assert.equal(await chart.evaluate((s) => s.tagName), 'svg');
    assert.match(await p.locator('#act-desc').textContent(), /2 joins and 1 chats/);
    assert.equal(await p.locator('.act-chart rect').count(), 2, 'a bar for the joins and one for the chat');
    await waitText(p.locator('#act-feedback'), 'No feedback yet');
    await p.getByText('Show as a table').click();
    const row = p.locator('.act-table tbody tr').first();
    await visible(row);
    assert.deepEqual(await row.locator('td').allTextContents(), ['2', '1', '0', '0']);
    // Each size scrolled to the activity section (the chart redraws at its width).
    for (const [where, size] of [['desktop', DESKTOP], ['mobile', MOBILE]]) {
      await p.setViewportSize(size);
      await p.locator('#org-activity').evaluate((e) => e.scrollIntoView());
      await until(() => p.evaluate(() => {
        const w = document.getElementById('act-figure').clientWidth;
        return document.querySelector('.act-chart').viewBox.baseVal.width === Math.round(Math.max(300, Math.min(900, w)));
      }), 'the chart drawn at its width');
      await shot(p, `organiser-activity-${where}`);
    }
    await p.setViewportSize(DESKTOP);
    await checkA11y(p, 'organiser view with activity');
  });

  await t.test('Download CSV saves the activity, fetched with the key in a header', async () => {
    const p = O.page;
    const [download] = await Promise.all([
      p.waitForEvent('download'),
      p.getByRole('button', { name: 'Download CSV' }).click(),
    ]);
    assert.equal(download.suggestedFilename(), 'circle-activity.csv');
    const text = readFileSync(await download.path(), 'utf8');
    const lines = text.trim().split(/\r?\n/);
    assert.equal(lines[0], 'at,joins,chats,good,meh');
    assert.match(lines[1], /^\d{4}-\d\d-\d\dT\d\d:\d[05]:00Z,2,1,0,0$/);
    await waitText(p.locator('#act-csv-note'), 'Downloaded');
    for (const url of requests) assert.equal(url.includes(key), false, `no key in ${url}`);
  });

  await t.test('an announcement shows as a banner on every member page; a second within 10 s waits', async () => {
    const p = O.page;
    await p.getByLabel(/Message to everyone connected now/).fill('Pizza in the kitchen at 1');
    await p.getByRole('button', { name: 'Send announcement' }).click();
    await waitText(p.locator('#ann-note'), 'Sent to 2 people');
    for (const x of [B, C]) {
      const banner = x.page.getByRole('region', { name: 'From the organiser' });
      await waitText(banner, 'Pizza in the kitchen at 1');
    }
    await shot.both(C.page, 'announcement-banner');
    await checkA11y(B.page, 'member page with an announcement');
    await p.getByLabel(/Message to everyone connected now/).fill('Again');
    await p.getByRole('button', { name: 'Send announcement' }).click();
    await waitText(p.locator('#ann-note'), 'One announcement every 10 seconds');
    await p.getByLabel(/Message to everyone connected now/).fill('   ');
    await p.getByRole('button', { name: 'Send announcement' }).click();
    await waitText(p.locator('#ann-text-err'), 'Write something');
    await C.page.getByRole('button', { name: 'Dismiss' }).click();
    await C.page.locator('#announce').waitFor({ state: 'hidden' });
  });

  await t.test('a message in a hidden tab counts in the title and notifies; seeing the tab resets it', async () => {
    const b = B.page;
    await b.getByText('Alerts', { exact: true }).click();
    const notify = b.getByLabel('Show a notification');
    await notify.check();
    assert.equal(await b.evaluate(() => localStorage.getItem('circle.alert.notify')), 'on');
    assert.equal(await b.getByLabel('Count in the tab title').isChecked(), true, 'on by default');
    await shot.both(b, 'alerts-menu');
    await checkA11y(b, 'alerts menu open');
    await b.getByText('Alerts', { exact: true }).click();
    await setHidden(b, true);
    await C.page.getByLabel('Message', { exact: true }).fill('Are you there?');
    await C.page.getByLabel('Message', { exact: true }).press('Enter');
    await until(async () => (await b.title()) === '(1) New message — Circle', 'the title alert', T);
    await C.page.getByLabel('Message', { exact: true }).fill('Hello?');
    await C.page.getByLabel('Message', { exact: true }).press('Enter');
    await until(async () => (await b.title()) === '(2) New message — Circle', 'the count to go up', T);
    assert.deepEqual(await b.evaluate(() => window.__notes), ['New message', 'New message']);
    await setHidden(b, false);
    await until(async () => (await b.title()) === 'Circle', 'the title to reset', T);
  });

  await t.test('no page errors', () => {
    assert.deepEqual(pages.flatMap((x) => x.errors), []);
  });
});
