// The organiser's Part 3 screens end to end against the real server: the
// create form's icebreakers (the default set), the live roster with Remove,
// "Show on a screen" (big code, QR code, counts), a new code that evicts the
// old code's sockets ("The code was changed"), what the join screen and the
// organiser link say about a changed code and a closed circle, and the final
// screen when a circle ends. Screenshots at 1280×800 and 390×844; axe on each.
//
// Run through ./run.sh. Every wait is on page state; nothing sleeps.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE, T, CODE_RE, launch, newPage as open, screenshotter, waitText, visible, until, checkA11y, axeLog,
} from './helpers.mjs';

let browser;
const pages = [];
const shot = screenshotter('organizer3');

async function newPage(label, options) {
  const entry = await open(browser, label, { allow: /status of 4(0[0134]|10)/, ...options });
  pages.push(entry);
  return entry;
}

// A member whose socket goes through the test, which can add server events.
async function member(label, mobile = false) {
  const x = { inject: null };
  const route = (ws) => {
    const server = ws.connectToServer();
    server.onMessage((m) => ws.send(m));
    ws.onMessage((m) => server.send(m));
    x.inject = (ev) => ws.send(JSON.stringify(ev));
  };
  Object.assign(x, await newPage(label, { mobile, routeSockets: route }));
  return x;
}

async function join(x, link, name) {
  await x.page.goto(link);
  await visible(x.page.locator('#preview h2'));
  await x.page.getByLabel('Your name').fill(name);
  await x.page.getByRole('button', { name: 'Enter circle' }).click();
}

const chattingWith = (x, name) => waitText(x.page.locator('#chat-title'), `Chatting with ${name}`);
const inviteFor = (code) => `${BASE}?code=${code}`;

before(async () => { browser = await launch(); });
after(async () => {
  if (browser) await browser.close();
  if (axeLog.length) console.log(`# axe:\n#   ${axeLog.join('\n#   ')}`);
});

test('the organiser runs a room: roster, screen view, evicting code change, close', { timeout: 300_000 }, async (t) => {
  const A = await newPage('organiser');
  let O = null;
  let code = '';
  let oldCode = '';

  await t.test('the create form starts with the default icebreakers', async () => {
    const p = A.page;
    await p.goto(BASE);
    await p.getByRole('button', { name: 'Create a circle' }).click();
    const box = p.getByLabel('Icebreakers');
    await until(async () => (await box.inputValue()).split('\n').length === 24, 'the 24 default icebreakers');
    assert.match(await box.inputValue(), /^What made you smile this week\?/);
    await p.getByLabel('Name', { exact: true }).fill('Room \u202Eclub');
    await p.getByLabel('Description').fill('A live event.');
    await shot.both(p, 'create-icebreakers', { fullPage: true });
    await checkA11y(p, 'create, with the icebreakers');
    await p.getByRole('button', { name: 'Create circle' }).click();
    await waitText(p.locator('#screen-created h1'), 'Your circle is ready');
    code = (await p.locator('#created-code').textContent()).trim();
    assert.match(code, CODE_RE);
    const info = await p.evaluate(async (c) => (await fetch(`/groups/${c}`)).json(), code);
    assert.equal(info.name, 'Room club', 'the bidi override is gone');
    assert.deepEqual(info.prompts, [], 'the default set, unchanged, is not stored as the circle\u2019s own');
    [O] = await Promise.all([
      A.context.waitForEvent('page'),
      p.getByRole('link', { name: 'Open the organiser view in a new tab' }).click(),
    ]);
    O.setDefaultTimeout(T);
    O.on('pageerror', (e) => A.errors.push(`organiser tab: ${e.message}`));
    await waitText(O.locator('#org-title'), 'Organise “Room club”');
    await until(async () => (await O.locator('#e-prompts').inputValue()).split('\n').length === 24, 'the set in use');
  });

  const ann = await member('ann');
  const bob = await member('bob', true);
  const tab = await member('ann-tab');

  await t.test('the roster lists who is here, what each is doing, with Remove', async () => {
    await join(ann, inviteFor(code), 'Ann');
    await join(bob, inviteFor(code), 'Bob');
    await chattingWith(ann, 'Bob');
    await join(tab, inviteFor(code), 'Ann\u200B');
    await waitText(tab.page.locator('#screen-waiting h1'), '');
    const roster = O.locator('#org-present');
    await until(async () => (await roster.locator('li').count()) === 3, 'three people in the roster', 3 * T);
    await waitText(O.locator('#org-present-h'), 'Here now (3)');
    await waitText(roster.locator('li').filter({ hasText: 'Bob' }), 'chatting');
    await waitText(roster.locator('li').filter({ hasText: 'waiting' }), 'Ann');
    const names = await roster.locator('bdi').allTextContents();
    assert.deepEqual([...names].sort(), ['Ann', 'Ann', 'Bob'], 'the zero-width space is gone; names are isolated');
    const tags = await roster.locator('.tag').allTextContents();
    assert.equal(tags.length, 3);
    for (const tag of tags) assert.match(tag, /^#[0-9a-f]{4}$/);
    assert.equal(await roster.getByRole('button', { name: /^Remove member #/ }).count(), 3);
    await O.locator('#org-present').scrollIntoViewIfNeeded();
    await shot.both(O, 'roster', { fullPage: true });
    await checkA11y(O, 'organiser view, with the roster');
  });

  await t.test('"Show on a screen": the code large, a QR code, live counts', async () => {
    await O.getByRole('button', { name: 'Show on a screen' }).click();
    await visible(O.locator('#org-screen'));
    await waitText(O.locator('#scr-code'), code);
    await visible(O.locator('#scr-qr svg'));
    assert.equal(await O.locator('#scr-qr svg').getAttribute('role'), 'img');
    await waitText(O.locator('#scr-present'), '3');
    await waitText(O.locator('#scr-chatting'), '2');
    assert.equal(await O.locator('#org-body').isVisible(), false, 'only the screen view shows');
    await shot.both(O, 'screen-view');
    await checkA11y(O, 'show on a screen');
    await O.getByRole('button', { name: 'Back to the organiser view' }).click();
    await visible(O.locator('#org-body'));
    // With a round running, the screen counts it down.
    await O.getByLabel(/Minutes per round/).fill('30');
    await O.getByRole('button', { name: 'Start rounds' }).click();
    await visible(O.getByRole('button', { name: 'Stop rounds' }));
    await O.getByRole('button', { name: 'Show on a screen' }).click();
    await waitText(O.locator('#scr-round'), 'Round 1:');
    assert.match(await O.locator('#scr-round').textContent(), /Round 1: \d+:\d\d left/);
    await shot.both(O, 'screen-view-round');
    await checkA11y(O, 'show on a screen, with a round');
    await O.getByRole('button', { name: 'Back to the organiser view' }).click();
    await O.getByRole('button', { name: 'Stop rounds' }).click();
    await visible(O.getByRole('button', { name: 'Start rounds' }));
  });

  await t.test('Remove from the roster, then a new code that evicts the old code\u2019s tabs', async () => {
    const bobRow = O.locator('#org-present li').filter({ hasText: 'Bob' });
    await bobRow.getByRole('button', { name: /^Remove member #/ }).click();
    await O.getByRole('dialog', { name: 'Remove Bob from the circle?' }).getByRole('button', { name: 'Remove Bob' }).click();
    await waitText(bob.page.locator('#closed-title'), 'You were removed');
    await O.getByLabel(/Also disconnect everyone/).check();
    await O.locator('#rotate-btn').click();
    await O.getByRole('dialog', { name: 'Change the access code?' }).getByRole('button', { name: 'Change the code' }).click();
    oldCode = code;
    await until(async () => {
      const c = (await O.locator('#org-code').textContent()).trim();
      return c !== oldCode && CODE_RE.test(c) ? (code = c) : null;
    }, 'the new code');
    for (const x of [ann, tab]) await waitText(x.page.locator('#closed-title'), 'The code was changed');
    await waitText(tab.page.locator('#closed-text'), 'new code');
    await shot.both(tab.page, 'code-changed-evicted');
    await checkA11y(tab.page, 'evicted: the code was changed');
    await waitText(O.locator('#org-present-sum'), 'Nobody is connected');
  });

  const cat = await member('cat');
  await t.test('the old code on the join screen says it was changed', async () => {
    await cat.page.goto(inviteFor(oldCode));
    await waitText(cat.page.locator('#j-code-err'), 'changed this circle’s code');
    await shot.both(cat.page, 'join-code-changed');
    await checkA11y(cat.page, 'join: the code was changed');
  });

  await t.test('a circle that ends: the final screen', async () => {
    await join(cat, inviteFor(code), 'Cat');
    await waitText(cat.page.locator('#screen-waiting h1'), '');
    cat.inject({ event: 'circle_ended', reason: 'expired' });
    await waitText(cat.page.locator('#closed-title'), 'This circle has ended');
    await waitText(cat.page.locator('#closed-text'), 'end of its time');
    await shot.both(cat.page, 'circle-ended');
    await checkA11y(cat.page, 'the circle ended');
  });

  const dee = await member('dee', true);
  await t.test('closing: members see it closed; the code and the organiser link say so', async () => {
    await join(dee, inviteFor(code), 'Dee');
    // In the lobby for the server too: the roster lists her.
    await waitText(O.locator('#org-present'), 'Dee', 3 * T);
    const orgUrl = O.url();
    await O.getByRole('button', { name: 'Close the circle' }).click();
    await O.getByRole('dialog').getByRole('button', { name: 'Close the circle' }).click();
    await waitText(dee.page.locator('#closed-title'), 'This circle is closed');
    await waitText(dee.page.locator('#closed-text'), 'organiser closed');
    const late = await newPage('late');
    await late.page.goto(inviteFor(code));
    await waitText(late.page.locator('#j-code-err'), 'closed this circle');
    await shot.both(late.page, 'join-circle-closed');
    await checkA11y(late.page, 'join: the circle was closed');
    const again = await newPage('organiser-again');
    await again.page.goto(orgUrl);
    await waitText(again.page.locator('#org-error'), 'This circle was closed');
    await shot.both(again.page, 'organiser-link-closed');
    await checkA11y(again.page, 'organiser link: closed');
  });

  for (const x of [A, ann, bob, tab, cat, dee, ...pages]) assert.deepEqual(x.errors || [], [], x.label);
});
