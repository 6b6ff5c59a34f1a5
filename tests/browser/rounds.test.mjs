// Rounds include everyone, in the page against the real server: the waiting
// screen explains a wait (the partner just left) with the same count for
// both; members on the "chat ended" screen are pulled into a round; the
// warning before a round ends counts down and a half-typed draft survives the
// switch; previous chats stay readable, collapsed; "Sit out rounds"; the
// circle's end on the join preview and the waiting screen.
//
// Run through ./run.sh (a 2 s round "minute"). Every wait is on page state;
// nothing sleeps a fixed time.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE, T, ROUND_MINUTE_S, launch, newPage as open, screenshotter, waitText, visible, until, checkA11y, axeLog, enterCircle,
} from './helpers.mjs';

let browser;
const pages = [];
const shot = screenshotter('rounds');
// Rounds long enough for a screenshot and an axe check inside each (about 20 s
// with run.sh's 2 s "minute"); the warning comes a round-minute before the end.
const ROUND_MIN = Math.min(30, Math.max(2, Math.ceil(20 / ROUND_MINUTE_S)));
const ROUND_MS = ROUND_MIN * ROUND_MINUTE_S * 1000;

async function newPage(label, options) {
  const entry = await open(browser, label, options);
  pages.push(entry);
  return entry;
}

const title = (x) => x.page.locator('#chat-title').textContent();
const chattingWith = (x, name, timeout = T) => waitText(x.page.locator('#chat-title'), `Chatting with ${name}`, timeout);

async function say(x, text) {
  await x.page.getByLabel('Message', { exact: true }).fill(text);
  await x.page.getByLabel('Message', { exact: true }).press('Enter');
  await x.page.locator('#log .msg.mine:not(.pending) .text').filter({ hasText: text }).waitFor();
}

before(async () => {
  browser = await launch();
});

after(async () => {
  for (const { errors } of pages) assert.deepEqual(errors, []);
  if (browser) await browser.close();
  if (axeLog.length) console.log(`# axe:\n#   ${axeLog.join('\n#   ')}`);
});

test('rounds include everyone', { timeout: 300_000 }, async (t) => {
  const created = await (await fetch(`${BASE}groups`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Speed networking', description: 'Rounds for everyone.' }),
  })).json();
  const { access_code: code, organizer_key: key } = created;
  const invite = `${BASE}?code=${code}`;
  const rounds = (method, body) => fetch(`${BASE}groups/${code}/rounds`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: body ? JSON.stringify(body) : undefined,
  });
  const A = await newPage('ann');
  const B = await newPage('bob', { mobile: true });
  const C = await newPage('cat');
  const D = await newPage('dan');
  let idle = []; // the two on the "chat ended" screen when rounds start

  await t.test('the join preview says when the circle ends', async () => {
    await A.page.goto(invite);
    await waitText(A.page.locator('#preview-ends'), 'This circle ends');
    await shot.both(A.page, 'join-preview-ends');
    await A.page.getByLabel('Your name').fill('Ann');
    await A.page.getByRole('button', { name: 'Enter circle' }).click();
    await waitText(A.page.locator('#waiting-ends'), 'This circle ends');
    await enterCircle(B, invite, 'Bob');
    await chattingWith(A, 'Bob');
    await chattingWith(B, 'Ann');
    await say(A, 'Hi Bob, Ann here');
  });

  await t.test('after Next, both waiting screens say why and show the same count', async () => {
    await A.page.getByRole('button', { name: 'Next' }).click();
    await waitText(B.page.locator('#ended-text'), 'Ann left the chat.');
    await B.page.getByRole('button', { name: 'Find someone new' }).click();
    const why = '1 other person is in the lobby: the one you just chatted with';
    await waitText(B.page.locator('#waiting-count'), why);
    await waitText(A.page.locator('#waiting-count'), why);
    await waitText(B.page.locator('#waiting-retry'), /Pairing again in \d+:\d\d/);
    assert.equal(await A.page.locator('#waiting-count').textContent(), await B.page.locator('#waiting-count').textContent());
    await shot.both(B.page, 'waiting-explained');
    await checkA11y(B.page, 'waiting, explained (the partner just left)');
  });

  await t.test('two more arrive; one chat ends on the "chat ended" screen', async () => {
    await enterCircle(C, invite, 'Cat');
    await chattingWith(C, '', T);
    const withCat = (await title(A)).includes('Cat') ? A : B;
    const other = withCat === A ? B : A;
    await say(C, 'Hello from Cat');
    await C.page.getByRole('button', { name: 'Leave' }).click();
    await waitText(withCat.page.locator('#ended-text'), 'Cat left the chat.');
    await enterCircle(D, invite, 'Dan');
    await chattingWith(D, other === A ? 'Ann' : 'Bob');
    idle = [withCat, C];
    for (const x of idle) await visible(x.page.locator('#again-btn'));
  });

  await t.test('a round pulls in the members on the "chat ended" screen', async () => {
    const res = await rounds('POST', { minutes: ROUND_MIN });
    assert.equal(res.status, 200);
    for (const x of idle) {
      await chattingWith(x, '', T);
      assert.equal(await x.page.locator('#ended').isHidden(), true);
    }
    // Cat's earlier chat stays on her page, collapsed and readable.
    const past = C.page.locator('#history .past-all');
    await visible(past);
    await waitText(past.locator('summary').first(), 'Previous chats (1)');
    await past.locator('summary').first().click();
    await past.locator('.past summary').first().click();
    await waitText(past.locator('.past-log .msg .text'), 'Hello from Cat');
    await waitText(C.page.locator('#chat-timer'), /Round 1 · \d+:\d\d left/);
  });

  await t.test('the warning counts down, and a draft survives the switch', async () => {
    await say(C, 'Round one hello');
    const draft = 'half a thought about';
    await C.page.getByLabel('Message', { exact: true }).fill(draft);
    const before = await title(C);
    await waitText(C.page.locator('#round-warn-time'), /\d:\d\d left/, ROUND_MS + T);
    await waitText(C.page.locator('#round-warn-text'), 'Round 1 is about to end');
    await shot.both(C.page, 'round-ending');
    await checkA11y(C.page, 'chat, round ending');
    await until(async () => (await title(C)) !== before && (await title(C)).startsWith('Chatting with'), 'round 2 pairs Cat again', ROUND_MS + T);
    assert.equal(await C.page.getByLabel('Message', { exact: true }).inputValue(), draft);
    assert.equal(await C.page.locator('#round-warn').isHidden(), true);
    await waitText(C.page.locator('#history .past-all > summary'), 'Previous chats (2)');
    await shot.both(C.page, 'switched-with-draft');
    await checkA11y(C.page, 'chat after a switch, previous chats collapsed');
  });

  await t.test('"Sit out rounds" leaves a member out until it is turned off', async () => {
    const toggle = D.page.getByLabel('Sit out rounds');
    await visible(toggle);
    await toggle.check();
    await until(async () => (await D.page.locator('#chat-timer').textContent()).includes('Round 2'), 'round 2 under way');
    await waitText(D.page.locator('#waiting-title'), "You're sitting out", ROUND_MS + T);
    await waitText(D.page.locator('#waiting-round-time'), /Round 3/);
    await shot.both(D.page, 'sitting-out');
    await checkA11y(D.page, 'sitting out');
    await toggle.uncheck();
    // Back in: the lobby, where the round's odd one out waits for him.
    await waitText(D.page.locator('#chat-timer'), /Round 3 · \d+:\d\d left/);
  });

  await t.test('the "chat ended" screen shows the round under way', async () => {
    await waitText(C.page.locator('#chat-timer'), /Round 3 · \d+:\d\d left/);
    await C.page.getByRole('button', { name: 'Leave' }).click();
    await waitText(C.page.locator('#ended-round'), /Round 3 is running · \d+:\d\d left\. You'll be paired with someone when the next round starts\./);
    await shot.both(C.page, 'ended-round-running');
    await checkA11y(C.page, 'chat ended while a round runs');
    const res = await rounds('DELETE');
    assert.equal(res.status, 200);
  });
});
