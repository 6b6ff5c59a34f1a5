// Circle's page end to end in a real browser (Debian's chromium, driven by
// playwright-core) against the local stack. Run through ./run.sh, which starts
// the stack and sets CIRCLE_URL.
//
// Every wait is on page state with a timeout; nothing sleeps a fixed time.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const BASE = (process.env.CIRCLE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '') + '/';
const SCREENS = process.env.SCREENS_DIR || new URL('../artifacts/screens/', import.meta.url).pathname;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const T = 15_000; // the longest any single page state may take to appear
const CODE_RE = /^[23456789ABCDEFGHJKMNPQRSTVWXYZ]{5}-[23456789ABCDEFGHJKMNPQRSTVWXYZ]{5}$/;
const EVIL = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> & <b>bold</b>';

mkdirSync(SCREENS, { recursive: true });

let browser;
const pages = [];
let shot = 0;

async function screenshot(page, name) {
  shot += 1;
  await page.screenshot({ path: join(SCREENS, `${String(shot).padStart(2, '0')}-${name}.png`) });
}

// Waits until `locator` (first match) is visible and its text contains `text`.
async function waitText(locator, text, timeout = T) {
  await locator.filter({ hasText: text }).first().waitFor({ state: 'visible', timeout });
}

async function visible(locator, timeout = T) {
  await locator.first().waitFor({ state: 'visible', timeout });
}

async function newPage(label, { mobile = false, routeSockets = null } = {}) {
  const context = await browser.newContext({
    viewport: mobile ? { width: 390, height: 780 } : { width: 1024, height: 720 },
    deviceScaleFactor: 1,
    isMobile: mobile,
    hasTouch: mobile,
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(BASE).origin });
  if (routeSockets) await context.routeWebSocket(/\/ws\b/, routeSockets);
  const page = await context.newPage();
  page.setDefaultTimeout(T);
  const errors = [];
  page.on('pageerror', (e) => errors.push(`${label}: page error: ${e.message}`));
  page.on('console', (m) => {
    // The unknown-code lookup's 404 is expected; anything else is a bug.
    if (m.type() === 'error' && !/status of 40[04]/.test(m.text())) errors.push(`${label}: console: ${m.text()}`);
  });
  const entry = { label, page, context, errors };
  pages.push(entry);
  return entry;
}

before(async () => {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
    ],
  });
});

after(async () => {
  if (browser) await browser.close();
});

test('create, join, chat, next, disconnect and rejoin in real browsers', { timeout: 180_000 }, async (t) => {
  const A = await newPage('creator');
  const B = await newPage('ann');
  let cServer = null; // C's real socket, so the test can drop it like a network failure would
  const C = await newPage('ben', {
    mobile: true,
    routeSockets: (ws) => { cServer = ws.connectToServer(); },
  });
  let code = '';
  let invite = '';

  await t.test('the page loads small and fast', async () => {
    const sizes = [];
    A.page.on('requestfinished', async (req) => {
      const s = await req.sizes().catch(() => null);
      if (s) sizes.push({ url: req.url(), bytes: s.responseBodySize + s.responseHeadersSize });
    });
    await A.page.goto(BASE, { waitUntil: 'networkidle' });
    await visible(A.page.getByRole('button', { name: 'Create a circle' }));
    const total = sizes.reduce((n, s) => n + s.bytes, 0);
    const list = sizes.map((s) => `${new URL(s.url).pathname} ${s.bytes} B`).join(', ');
    t.diagnostic(`page transfer: ${total} bytes in ${sizes.length} requests (${list})`);
    console.log(`# page transfer: ${total} bytes in ${sizes.length} requests (${list})`);
    assert.ok(sizes.some((s) => s.url.endsWith('/config.json')), 'config.json is fetched');
    assert.ok(total < 60_000, `the page should stay small, got ${total} bytes`);
    await screenshot(A.page, 'home');
  });

  await t.test('creating a circle shows API validation errors, then the code and invite link', async () => {
    const p = A.page;
    await p.getByRole('button', { name: 'Create a circle' }).click();
    await visible(p.getByLabel('Name', { exact: true }));
    // Nothing filled in: the API's 400 names the field, shown next to it.
    await p.getByRole('button', { name: 'Create circle' }).click();
    await waitText(p.locator('#c-name-err'), 'Name is required');
    assert.equal(await p.getByLabel('Name', { exact: true }).getAttribute('aria-invalid'), 'true');
    await p.getByLabel('Name', { exact: true }).fill('Friday book club');
    await p.getByRole('button', { name: 'Create circle' }).click();
    await waitText(p.locator('#c-desc-err'), 'Description is required');
    assert.equal(await p.locator('#c-name-err').textContent(), '', 'the fixed field error is cleared');
    await screenshot(p, 'create-validation-error');

    await p.getByLabel('Description').fill('One-to-one chats about what we are reading.\nBe kind.');
    await p.getByRole('button', { name: '+ Add a rule' }).click();
    await p.getByLabel('Rule 1', { exact: true }).fill('No spoilers past chapter 10');
    await p.getByRole('button', { name: '+ Add a rule' }).click();
    await p.getByLabel('Rule 2', { exact: true }).fill('This rule gets removed');
    await p.getByRole('button', { name: '+ Add a rule' }).click();
    await p.getByLabel('Rule 3', { exact: true }).fill('Be nice');
    await p.getByRole('button', { name: 'Remove rule 2' }).click();
    assert.equal(await p.locator('#rules input').count(), 2);
    assert.equal(await p.getByLabel('Rule 2', { exact: true }).inputValue(), 'Be nice');
    await screenshot(p, 'create-form');
    await p.getByRole('button', { name: 'Create circle' }).click();

    await waitText(p.locator('#screen-created h1'), 'Your circle is ready');
    code = (await p.locator('#created-code').textContent()).trim();
    assert.match(code, CODE_RE);
    invite = await p.getByLabel('Invite link').inputValue();
    assert.equal(new URL(invite).searchParams.get('code'), code);
    await p.getByRole('button', { name: 'Copy code' }).click();
    await waitText(p.getByRole('button', { name: 'Copied!' }), 'Copied!');
    assert.equal(await p.evaluate(() => navigator.clipboard.readText()), code);
    await screenshot(p, 'created');
  });

  await t.test('an unknown code gets a clear error; a real one shows the circle first', async () => {
    const p = B.page;
    await p.goto(BASE);
    await visible(p.getByRole('button', { name: 'Join a circle' }));
    // Keyboard only: Tab past the logo to "Join a circle", which shows its focus.
    await p.keyboard.press('Tab');
    await p.keyboard.press('Tab');
    const focused = await p.evaluate(() => ({
      text: document.activeElement.textContent,
      outline: getComputedStyle(document.activeElement).outlineStyle,
    }));
    assert.deepEqual(focused.text, 'Join a circle');
    assert.notEqual(focused.outline, 'none', 'focus is visible');
    await p.keyboard.press('Enter');
    await waitText(p.locator('#screen-join h1'), 'Join a circle');
    assert.equal(await p.evaluate(() => document.activeElement.id), 'j-code', 'the code field has focus');
    await p.keyboard.type('abc');
    await p.keyboard.press('Enter');
    await waitText(p.locator('#j-code-err'), 'like ABCDE-FGHJK');
    await p.getByLabel('Access code').fill('ZZZZZ-ZZZZZ');
    await p.getByRole('button', { name: 'Enter circle' }).click();
    await waitText(p.locator('#j-code-err'), 'No circle has this code');
    assert.equal(await p.locator('#screen-join').isVisible(), true, 'still on the join form');
    await screenshot(p, 'join-unknown-code');

    // Typed loosely: lower case, spaces instead of the dash.
    await p.getByLabel('Access code').fill(code.toLowerCase().replace('-', ' '));
    await waitText(p.locator('#preview h2'), 'Friday book club');
    assert.equal(await p.locator('#j-code-err').textContent(), '');
    await waitText(p.locator('#preview-rules li').first(), 'No spoilers past chapter 10');
    await p.getByLabel('Your name').fill('Ann');
    await screenshot(p, 'join-preview');
    await p.getByLabel('Your name').press('Enter');
    await waitText(p.locator('#waiting-title'), 'Waiting for someone');
    await waitText(p.locator('#waiting-count'), 'only one');
    assert.equal(await p.getByLabel('Invite someone').inputValue(), invite);
    await screenshot(p, 'waiting');
  });

  await t.test('the invite link opens the join form filled in, and two people are paired', async () => {
    const p = C.page;
    await p.goto(invite);
    await waitText(p.locator('#screen-join h1'), 'Join a circle');
    assert.equal(await p.getByLabel('Access code').inputValue(), code);
    await waitText(p.locator('#preview h2'), 'Friday book club');
    await p.getByLabel('Your name').fill('Ben');
    await p.getByRole('button', { name: 'Enter circle' }).click();
    await waitText(p.locator('#chat-title'), 'Chatting with Ann');
    await waitText(B.page.locator('#chat-title'), 'Chatting with Ben');
  });

  await t.test('messages go both ways, sides are right, typing shows, HTML stays text', async () => {
    // Ben types: Ann sees the indicator, then the message (and the indicator goes).
    await C.page.getByLabel('Message', { exact: true }).pressSequentially('Hi Ann', { delay: 20 });
    await waitText(B.page.locator('#typing'), 'Ben is typing…');
    await screenshot(B.page, 'chat-typing-indicator');
    await C.page.getByLabel('Message', { exact: true }).press('Enter');
    await waitText(B.page.locator('#log .msg.theirs .text'), 'Hi Ann');
    await waitText(C.page.locator('#log .msg.mine:not(.pending) .text'), 'Hi Ann');
    await B.page.locator('#typing:empty').waitFor({ state: 'attached' });
    assert.equal(await C.page.getByLabel('Message', { exact: true }).inputValue(), '', 'the box empties after sending');

    // Ann answers with markup: it must show as text on both sides, nothing injected.
    await B.page.getByLabel('Message', { exact: true }).fill(EVIL);
    await B.page.getByRole('button', { name: 'Send' }).click();
    await visible(C.page.locator('#log .msg.theirs').nth(0));
    await C.page.locator('#log .msg.theirs .text').filter({ hasText: '<script>' }).waitFor();
    await B.page.locator('#log .msg.mine:not(.pending) .text').filter({ hasText: '<script>' }).waitFor();
    for (const x of [B, C]) {
      const texts = await x.page.locator('#log .msg .text').allTextContents();
      assert.ok(texts.includes(EVIL), `${x.label} shows the markup as text: ${JSON.stringify(texts)}`);
      assert.equal(await x.page.locator('#log script, #log img, #log b').count(), 0, `${x.label}: no element injected`);
      assert.equal(await x.page.evaluate(() => window.__pwned), undefined, `${x.label}: nothing ran`);
    }
    // Typing-only messages never become bubbles; each side has exactly two.
    assert.equal(await B.page.locator('#log .msg').count(), 2);
    assert.equal(await C.page.locator('#log .msg').count(), 2);

    // Empty (blank) messages are refused.
    await B.page.getByLabel('Message', { exact: true }).fill('   ');
    assert.equal(await B.page.getByRole('button', { name: 'Send' }).isDisabled(), true);
    await B.page.getByLabel('Message', { exact: true }).press('Enter');
    assert.equal(await B.page.locator('#log .msg').count(), 2, 'a blank message is not sent');
    await B.page.getByLabel('Message', { exact: true }).fill('');

    // Times are shown.
    assert.match(await C.page.locator('#log .msg time').first().textContent(), /^\d{1,2}:\d{2}/);
    await screenshot(B.page, 'chat-desktop');
    await screenshot(C.page, 'chat-mobile');
  });

  await t.test('Next pairs with the person waiting; the old partner is told', async () => {
    // The creator joins through "Join it now" and waits.
    const a = A.page;
    await a.getByRole('button', { name: 'Join it now' }).click();
    assert.equal(await a.getByLabel('Access code').inputValue(), code);
    await waitText(a.locator('#preview h2'), 'Friday book club');
    await a.getByLabel('Your name').fill('Cy');
    await a.getByRole('button', { name: 'Enter circle' }).click();
    await waitText(a.locator('#waiting-title'), 'Waiting for someone');

    await B.page.getByRole('button', { name: 'Next' }).click();
    await waitText(B.page.locator('#chat-title'), 'Chatting with Cy');
    await waitText(a.locator('#chat-title'), 'Chatting with Ann');
    assert.equal(await B.page.locator('#log .msg').count(), 0, 'a new room starts empty');
    await waitText(C.page.locator('#ended-text'), 'Ann left the chat.');
    await visible(C.page.getByRole('button', { name: 'Find someone new' }));
    assert.equal(await C.page.locator('#composer').isVisible(), false, 'no composer in an ended chat');
    await screenshot(C.page, 'partner-left-mobile');

    await a.getByLabel('Message', { exact: true }).fill('Hello from Cy');
    await a.getByLabel('Message', { exact: true }).press('Enter');
    await waitText(B.page.locator('#log .msg.theirs .text'), 'Hello from Cy');
    await screenshot(a, 'chat-after-next');
  });

  await t.test('a partner closing the page shows "disconnected"; Find someone new pairs again', async () => {
    await B.context.close();
    await waitText(A.page.locator('#ended-text'), 'Ann disconnected.');
    await screenshot(A.page, 'partner-disconnected');

    await C.page.getByRole('button', { name: 'Find someone new' }).click();
    await waitText(C.page.locator('#waiting-title'), /Waiting for someone|Looking for someone new/);
    await A.page.getByRole('button', { name: 'Find someone new' }).click();
    await waitText(A.page.locator('#chat-title'), 'Chatting with Ben');
    await waitText(C.page.locator('#chat-title'), 'Chatting with Cy');
  });

  await t.test('a dropped connection is said, and Rejoin goes back to the lobby', async () => {
    assert.ok(cServer, "Ben's socket was routed");
    await cServer.close({ code: 4000, reason: 'the test drops the connection' });
    await waitText(C.page.locator('#screen-trouble h1'), 'Connection lost');
    await waitText(C.page.locator('#trouble-text'), 'chat with Cy has ended');
    await waitText(A.page.locator('#ended-text'), 'Ben disconnected.');
    await screenshot(C.page, 'connection-lost-mobile');
    await C.page.getByRole('button', { name: 'Rejoin' }).click();
    await waitText(C.page.locator('#waiting-title'), 'Waiting for someone');
    await screenshot(C.page, 'rejoined-waiting-mobile');

    // Leave from the lobby: Cancel closes the socket and goes back to the form.
    await C.page.getByRole('button', { name: 'Cancel' }).click();
    await waitText(C.page.locator('#screen-join h1'), 'Join a circle');
  });

  await t.test('no page errors', () => {
    const errors = pages.flatMap((x) => x.errors);
    assert.deepEqual(errors, []);
  });
});
