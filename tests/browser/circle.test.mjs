// Circle's page end to end in a real browser (Debian's chromium, driven by
// playwright-core) against the local stack. Run through ./run.sh, which starts
// the stack and sets CIRCLE_URL.
//
// Every screen is checked with axe-core (WCAG 2.1 A/AA and best practices) in
// the light and the dark colour scheme, on a desktop and a mobile viewport.
// Every wait is on page state with a timeout; nothing sleeps a fixed time.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  BASE, CODE_RE, MEMBER_RE, launch, newPage as open, screenshotter, waitText, visible, until,
  checkA11y, axeLog, countTones, setHidden, focusStaysIn, recorder, GRACE_S,
} from './helpers.mjs';

const EVIL = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2"> & <b>bold</b>';

let browser;
const pages = [];
const screenshot = screenshotter('circle');

async function newPage(label, options) {
  const entry = await open(browser, label, options);
  pages.push(entry);
  return entry;
}

before(async () => {
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (axeLog.length) console.log(`# axe:\n#   ${axeLog.join('\n#   ')}`);
});

test('create, join, chat, next, disconnect and rejoin in real browsers', { timeout: 240_000 }, async (t) => {
  const A = await newPage('creator', { init: countTones });
  const bRec = recorder();
  const B = await newPage('ann', { routeSockets: bRec.route, init: countTones });
  const cRec = recorder(); // C's real socket, so the test can drop it like a network failure would
  const C = await newPage('ben', { mobile: true, routeSockets: cRec.route });
  let code = '';
  let invite = '';

  await t.test('the page loads small and fast', async () => {
    const sizes = [];
    A.page.on('requestfinished', async (req) => {
      const s = await req.sizes().catch(() => null);
      const encoding = (await req.response())?.headers()['content-encoding'];
      if (s) sizes.push({ url: req.url(), bytes: s.responseBodySize + s.responseHeadersSize, encoding });
    });
    await A.page.goto(BASE, { waitUntil: 'networkidle' });
    await visible(A.page.getByRole('button', { name: 'Create a circle' }));
    const total = sizes.reduce((n, s) => n + s.bytes, 0);
    const list = sizes.map((s) => `${new URL(s.url).pathname} ${s.bytes} B`).join(', ');
    t.diagnostic(`page transfer: ${total} bytes in ${sizes.length} requests (${list})`);
    console.log(`# page transfer: ${total} bytes in ${sizes.length} requests (${list})`);
    assert.ok(sizes.some((s) => s.url.endsWith('/config.json')), 'config.json is fetched');
    // The page is ES modules with no build step: it fetches the page, its
    // style, config.json and each of web/'s modules once, from its own
    // origin, and nothing else.
    const web = new URL('../../web/', import.meta.url).pathname;
    const modules = readdirSync(web, { recursive: true })
      .filter((f) => f.endsWith('.js'))
      .map((f) => `/${relative(web, join(web, f))}`)
      .sort();
    const paths = sizes.map((s) => new URL(s.url)).filter((u) => u.origin === new URL(BASE).origin);
    assert.equal(paths.length, sizes.length, 'every request goes to the page\'s own origin');
    const fetched = paths.map((u) => u.pathname).filter((p) => p.endsWith('.js')).sort();
    assert.deepEqual(fetched, modules, 'each module of web/ is fetched once');
    assert.equal(sizes.length, modules.length + 3, 'the page, its style, config.json and its modules: nothing else');
    // Files of the page travel gzipped (config.json is a few bytes of JSON).
    const plain = sizes.filter((s) => !s.url.endsWith('/config.json') && s.encoding !== 'gzip');
    assert.deepEqual(plain.map((s) => s.url), [], 'every file of the page comes gzipped');
    assert.ok(total < 80_000, `the page should stay small, got ${total} bytes`);
    await screenshot(A.page, 'home');
    await checkA11y(A.page, 'home');
  });

  await t.test('creating a circle shows API validation errors, then the code and invite link', async () => {
    const p = A.page;
    await p.getByRole('button', { name: 'Create a circle' }).click();
    await visible(p.getByLabel('Name', { exact: true }));
    await checkA11y(p, 'create');
    // Nothing filled in: the API's 400 names the field, shown next to it.
    await p.getByRole('button', { name: 'Create circle' }).click();
    await waitText(p.locator('#c-name-err'), 'Name is required');
    assert.equal(await p.getByLabel('Name', { exact: true }).getAttribute('aria-invalid'), 'true');
    await p.getByLabel('Name', { exact: true }).fill('Friday book club');
    await p.getByRole('button', { name: 'Create circle' }).click();
    await waitText(p.locator('#c-desc-err'), 'Description is required');
    assert.equal(await p.locator('#c-name-err').textContent(), '', 'the fixed field error is cleared');
    await screenshot(p, 'create-validation-error');
    await checkA11y(p, 'create with an error');

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
    await checkA11y(p, 'create with rules');
    await p.getByRole('button', { name: 'Create circle' }).click();

    await waitText(p.locator('#screen-created h1'), 'Your circle is ready');
    code = (await p.locator('#created-code').textContent()).trim();
    assert.match(code, CODE_RE);
    invite = await p.getByLabel('Invite link').inputValue();
    assert.equal(new URL(invite).searchParams.get('code'), code);
    await p.getByRole('button', { name: 'Copy code' }).click();
    await waitText(p.getByRole('button', { name: 'Copied!' }), 'Copied!');
    assert.equal(await p.evaluate(() => navigator.clipboard.readText()), code);
    // The organiser link shows only when the server gives one (Part 2).
    const created = await p.evaluate(async (c) => (await fetch(`/groups/${c}`)).json(), code);
    if (!('id' in created)) t.diagnostic('this server has no Part 2 yet: no organiser link, no circle id');
    await screenshot(p, 'created');
    await checkA11y(p, 'created');
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
    await checkA11y(p, 'join');
    await p.keyboard.type('abc');
    await p.keyboard.press('Enter');
    await waitText(p.locator('#j-code-err'), 'like ABCDE-FGHJK');
    await p.getByLabel('Access code').fill('ZZZZZ-ZZZZZ');
    await p.getByRole('button', { name: 'Enter circle' }).click();
    await waitText(p.locator('#j-code-err'), 'No circle has this code');
    assert.equal(await p.locator('#screen-join').isVisible(), true, 'still on the join form');
    await screenshot(p, 'join-unknown-code');
    await checkA11y(p, 'join with an unknown code');

    // Typed loosely: lower case, spaces instead of the dash.
    await p.getByLabel('Access code').fill(code.toLowerCase().replace('-', ' '));
    await waitText(p.locator('#preview h2'), 'Friday book club');
    assert.equal(await p.locator('#j-code-err').textContent(), '');
    await waitText(p.locator('#preview-rules li').first(), 'No spoilers past chapter 10');
    await p.getByLabel('Your name').fill('Ann');
    await screenshot(p, 'join-preview');
    await checkA11y(p, 'join with the circle shown');
    await p.getByLabel('Your name').press('Enter');
    await waitText(p.locator('#waiting-title'), 'Waiting for someone');
    await waitText(p.locator('#waiting-count'), 'only one');
    assert.equal(await p.getByLabel('Invite someone').inputValue(), invite);
    // "Sound on match" is offered, and off until chosen.
    assert.equal(await p.getByLabel('Sound on match').isChecked(), false);
    await screenshot(p, 'waiting');
    await checkA11y(p, 'waiting');
  });

  await t.test('the invite link opens the join form filled in, and two people are paired', async () => {
    const p = C.page;
    await p.goto(invite);
    await waitText(p.locator('#screen-join h1'), 'Join a circle');
    assert.equal(await p.getByLabel('Access code').inputValue(), code);
    await waitText(p.locator('#preview h2'), 'Friday book club');
    await checkA11y(p, 'join');
    await p.getByLabel('Your name').fill('Ben');
    await p.getByRole('button', { name: 'Enter circle' }).click();
    await waitText(p.locator('#chat-title'), 'Chatting with Ann');
    await waitText(B.page.locator('#chat-title'), 'Chatting with Ben');
    await checkA11y(p, 'chat, empty');
  });

  await t.test('every join carries this browser\'s member secret for the circle', async () => {
    const info = await B.page.evaluate(async (c) => (await fetch(`/groups/${c}`)).json(), code.replace('-', ''));
    const key = `circle.member.${info.id || code.replace('-', '')}`;
    for (const [x, rec] of [[B, bRec], [C, cRec]]) {
      const joins = rec.joins();
      assert.ok(joins.length >= 1, `${x.label} sent join_group`);
      for (const j of joins) {
        assert.match(j.member, MEMBER_RE, `${x.label}'s member secret`);
        if (info.id) assert.equal(j.circle, info.id, 'circle is the stable id');
        else assert.equal('circle' in j, false, 'no circle id to send');
      }
      assert.equal(await x.page.evaluate((k) => localStorage.getItem(k), key), joins[0].member, 'kept in localStorage');
    }
    assert.notEqual(bRec.joins()[0].member, cRec.joins()[0].member, 'each browser has its own');
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
    // The log is a labelled log region holding a list.
    assert.equal(await B.page.getByRole('log', { name: 'Messages' }).locator('ol > li').count(), 3);
    await screenshot(B.page, 'chat-desktop');
    await screenshot(C.page, 'chat-mobile');
    await checkA11y(B.page, 'chat');
    await checkA11y(C.page, 'chat');
  });

  await t.test('Report opens a modal that keeps focus, lists the recent messages, and checks its reason', async () => {
    const p = B.page;
    await p.getByRole('button', { name: 'Report' }).click();
    const dialog = p.getByRole('dialog', { name: 'Report Ben' });
    await visible(dialog);
    await waitText(dialog, 'organiser of “Friday book club” will see this report');
    assert.equal(await p.evaluate(() => document.activeElement.id), 'report-reason', 'focus starts on the reason');
    // Both sides' messages, as text, to tick.
    const boxes = dialog.getByRole('checkbox');
    assert.equal(await boxes.count(), 2);
    await visible(dialog.getByRole('checkbox', { name: /^Ben, .*Hi Ann$/ }));
    await visible(dialog.getByRole('checkbox', { name: /^You, .*<script>/ }));
    assert.equal(await dialog.locator('script, img, b').count(), 0, 'no element injected');
    assert.equal(await focusStaysIn(p, '#report-dialog'), true, 'Tab stays in the dialog');
    assert.equal(await focusStaysIn(p, '#report-dialog', 12, true), true, 'Shift+Tab stays in the dialog');
    // A reason is required.
    await dialog.getByRole('button', { name: 'Send report' }).click();
    await waitText(p.locator('#report-reason-err'), 'Say briefly what happened');
    assert.equal(await p.getByLabel(/What happened/).getAttribute('aria-invalid'), 'true');
    await dialog.getByRole('checkbox', { name: /^Ben/ }).check();
    await screenshot(p, 'report-dialog');
    await checkA11y(p, 'report dialog');
    // Escape closes it; nothing was sent; focus goes back to Report.
    await p.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    assert.equal(await p.evaluate(() => document.activeElement.id), 'report-btn');
    assert.equal(bRec.actions().includes('report'), false, 'nothing reported');

    // On a phone too.
    await C.page.getByRole('button', { name: 'Report' }).click();
    await visible(C.page.getByRole('dialog', { name: 'Report Ann' }));
    await screenshot(C.page, 'report-dialog-mobile');
    await checkA11y(C.page, 'report dialog');
    await C.page.getByRole('button', { name: 'Cancel' }).click();
    await C.page.getByRole('dialog').waitFor({ state: 'hidden' });

    // Block asks first; Cancel sends nothing.
    await C.page.getByRole('button', { name: 'Block' }).click();
    const confirm = C.page.getByRole('dialog', { name: 'Block Ann?' });
    await waitText(confirm, "Ann isn't told that you blocked them");
    assert.equal(await C.page.evaluate(() => document.activeElement.textContent), 'Cancel', 'focus starts on Cancel');
    await screenshot(C.page, 'block-confirm-mobile');
    await checkA11y(C.page, 'block confirmation');
    await C.page.keyboard.press('Escape');
    await confirm.waitFor({ state: 'hidden' });
    assert.equal(cRec.actions().includes('block'), false, 'nothing blocked');
  });

  await t.test('Next pairs with the person waiting; the old partner is told (and may still report)', async () => {
    // The creator joins through "Join it now" and waits, with "sound on match" on and the tab in the background.
    const a = A.page;
    await a.getByRole('button', { name: 'Join it now' }).click();
    assert.equal(await a.getByLabel('Access code').inputValue(), code);
    await waitText(a.locator('#preview h2'), 'Friday book club');
    await a.getByLabel('Your name').fill('Cy');
    await a.getByRole('button', { name: 'Enter circle' }).click();
    await waitText(a.locator('#waiting-title'), 'Waiting for someone');
    await a.getByLabel('Sound on match').check();
    assert.equal(await a.evaluate(() => localStorage.getItem('circle.notify')), 'on', 'the choice is remembered');
    await setHidden(a, true);

    await B.page.getByRole('button', { name: 'Next' }).click();
    await waitText(B.page.locator('#chat-title'), 'Chatting with Cy');
    await waitText(a.locator('#chat-title'), 'Chatting with Ann');
    assert.equal(await B.page.locator('#log .msg').count(), 0, 'a new room starts empty');
    assert.equal(await B.page.evaluate(() => window.__tones), 0, 'no sound unless chosen');
    await until(() => a.evaluate(() => window.__tones >= 2), 'the match tone');
    await until(async () => (await a.title()) === 'Paired with Ann · Circle', 'the title to flash');
    await until(async () => (await a.title()) === 'Circle', 'the title to flash back');
    await setHidden(a, false);
    await until(async () => (await a.title()) === 'Circle', 'the title to be plain');
    await a.waitForTimeout(1100); // one flash period: the title stays plain once the tab is seen
    assert.equal(await a.title(), 'Circle');

    await waitText(C.page.locator('#ended-text'), 'Ann left the chat.');
    await visible(C.page.getByRole('button', { name: 'Find someone new' }));
    assert.equal(await C.page.locator('#composer').isVisible(), false, 'no composer in an ended chat');
    // Block and report stay offered after the partner left.
    await visible(C.page.getByRole('button', { name: 'Report' }));
    await visible(C.page.getByRole('button', { name: 'Block' }));
    await screenshot(C.page, 'partner-left-mobile');
    await checkA11y(C.page, 'chat ended');

    await a.getByLabel('Message', { exact: true }).fill('Hello from Cy');
    await a.getByLabel('Message', { exact: true }).press('Enter');
    await waitText(B.page.locator('#log .msg.theirs .text'), 'Hello from Cy');
    await screenshot(a, 'chat-after-next');
  });

  await t.test('a partner closing the page shows "disconnected"; Find someone new pairs again', async () => {
    await B.context.close();
    // With Part 2 the seat is held for a resume first (A sees "Ann is reconnecting…").
    await waitText(A.page.locator('#ended-text'), 'Ann disconnected.', (GRACE_S + 10) * 1000);
    await screenshot(A.page, 'partner-disconnected');
    await checkA11y(A.page, 'chat ended');

    await C.page.getByRole('button', { name: 'Find someone new' }).click();
    await waitText(C.page.locator('#waiting-title'), /Waiting for someone|Looking for someone new/);
    await checkA11y(C.page, 'waiting');
    await A.page.getByRole('button', { name: 'Find someone new' }).click();
    await waitText(A.page.locator('#chat-title'), 'Chatting with Ben');
    await waitText(C.page.locator('#chat-title'), 'Chatting with Cy');
  });

  await t.test('a dropped connection is said, and Rejoin goes back to the lobby', async () => {
    assert.ok(cRec.server, "Ben's socket was routed");
    // The server holds Ben's seat for a resume: keep the network down until the
    // grace is over (Cy is told), then let the page find out its seat is gone.
    const wait = (GRACE_S + 10) * 1000;
    cRec.refuse = true;
    await cRec.server.close({ code: 4000, reason: 'the test drops the connection' });
    await waitText(C.page.locator('#conn-banner'), 'Reconnecting…');
    await waitText(A.page.locator('#ended-text'), 'Ben disconnected.', wait);
    cRec.refuse = false;
    await waitText(C.page.locator('#screen-trouble h1'), 'Connection lost', wait);
    await waitText(C.page.locator('#trouble-text'), 'chat with Cy has ended');
    await screenshot(C.page, 'connection-lost-mobile');
    await checkA11y(C.page, 'connection lost');
    await C.page.getByRole('button', { name: 'Rejoin' }).click();
    await waitText(C.page.locator('#waiting-title'), 'Waiting for someone');
    await screenshot(C.page, 'rejoined-waiting-mobile');

    // The same member secret on every join, over three sockets.
    assert.equal(new Set(cRec.joins().map((j) => j.member)).size, 1, 'one member secret per circle and browser');

    // Leave from the lobby: Cancel closes the socket and goes back to the form.
    await C.page.getByRole('button', { name: 'Cancel' }).click();
    await waitText(C.page.locator('#screen-join h1'), 'Join a circle');
  });

  await t.test('no page errors', () => {
    const errors = pages.flatMap((x) => x.errors);
    assert.deepEqual(errors, []);
  });
});
