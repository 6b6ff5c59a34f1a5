// Part 2 end to end: the page and the real server together (members, report,
// never meeting again, the organiser's view and API, removing a member, a new
// code, resume, rounds and prompts, closing a circle).
//
// NOT run by default: it needs the Part 2 server. Run it with
//   CIRCLE_PART2=1 tests/browser/run.sh
// which also starts circle-local with a short --resume-grace (GRACE_S).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE, T, CODE_RE, MEMBER_RE, GRACE_S, launch, newPage as open, screenshotter, waitText, visible, until,
  checkA11y, axeLog, recorder,
} from './helpers.mjs';

let browser;
const pages = [];
const screenshot = screenshotter('part2');
const GRACE_MS = (GRACE_S + 10) * 1000;

async function newPage(label, options) {
  const entry = await open(browser, label, { allow: /status of 40[0134]/, ...options });
  pages.push(entry);
  return entry;
}

// A member: a page whose sockets go to the server through a recorder.
async function member(label, mobile = false) {
  const rec = recorder();
  const x = await newPage(label, { mobile, routeSockets: rec.route });
  x.rec = rec;
  return x;
}

async function join(x, invite, name) {
  await x.page.goto(invite);
  await visible(x.page.locator('#preview h2'));
  await x.page.getByLabel('Your name').fill(name);
  await x.page.getByRole('button', { name: 'Enter circle' }).click();
}

const chattingWith = (x, name, timeout) => waitText(x.page.locator('#chat-title'), `Chatting with ${name}`, timeout);

async function say(x, text) {
  await x.page.getByLabel('Message', { exact: true }).fill(text);
  await x.page.getByLabel('Message', { exact: true }).press('Enter');
  await x.page.locator('#log .msg.mine:not(.pending) .text').filter({ hasText: text }).waitFor();
}

before(async () => {
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (axeLog.length) console.log(`# axe:\n#   ${axeLog.join('\n#   ')}`);
});

test('Part 2 end to end against the real server', { timeout: 600_000 }, async (t) => {
  const A = await newPage('organiser');
  let O = null; // the organiser view, in a tab of A's browser
  const B = await member('ann');
  const C = await member('ben', true);
  const D = await member('cy');
  const E = await member('dee', true);
  let code = '';
  let invite = '';
  let circleId = '';

  await t.test('creating a circle shows the organiser link once; it opens the organiser view', async () => {
    const p = A.page;
    await p.goto(BASE);
    await p.getByRole('button', { name: 'Create a circle' }).click();
    await p.getByLabel('Name', { exact: true }).fill('Part 2 club');
    await p.getByLabel('Description').fill('Testing safety, rounds and resume.');
    await p.getByRole('button', { name: 'Create circle' }).click();
    await waitText(p.locator('#screen-created h1'), 'Your circle is ready');
    code = (await p.locator('#created-code').textContent()).trim();
    assert.match(code, CODE_RE);
    invite = await p.getByLabel('Invite link').inputValue();
    await waitText(p.locator('#org-box'), 'It is shown only this once.');
    const orgUrl = await p.getByLabel('Organiser link').inputValue();
    assert.match(orgUrl, /#organizer=[A-Za-z0-9_-]{22,}$/, 'the key is in the fragment');
    const info = await p.evaluate(async (c) => (await fetch(`/groups/${c}`)).json(), code);
    assert.equal(typeof info.id, 'string', 'GET /groups/{code} has the stable id');
    circleId = info.id;
    await screenshot(p, 'created');
    await checkA11y(p, 'created, with the organiser link');
    [O] = await Promise.all([
      A.context.waitForEvent('page'),
      p.getByRole('link', { name: 'Open the organiser view in a new tab' }).click(),
    ]);
    O.setDefaultTimeout(T);
    O.on('pageerror', (e) => A.errors.push(`organiser tab: ${e.message}`));
    const requests = [];
    O.on('request', (r) => requests.push(r));
    await waitText(O.locator('#org-title'), 'Organise “Part 2 club”');
    await waitText(O.locator('#org-code'), code);
    await waitText(O.locator('#st-members'), '0');
    for (const r of requests) assert.equal(r.url().includes('organizer='), false, `no key in ${r.url()}`);
  });

  await t.test('members join with their secrets; rooms carry an icebreaker and a resume token', async () => {
    await join(B, invite, 'Ann');
    await waitText(B.page.locator('#waiting-count'), 'only one');
    await join(C, invite, 'Ben');
    await chattingWith(B, 'Ben');
    await chattingWith(C, 'Ann');
    for (const x of [B, C]) {
      const j = x.rec.joins()[0];
      assert.match(j.member, MEMBER_RE);
      assert.equal(j.circle, circleId);
      const room = x.rec.lastRoom();
      assert.equal(typeof room.prompt, 'string');
      assert.ok(room.prompt.length > 0, 'a default icebreaker');
      assert.equal(typeof room.resume, 'string');
      await waitText(x.page.locator('#prompt-text'), room.prompt);
    }
    assert.equal(B.rec.lastRoom().prompt, C.rec.lastRoom().prompt, 'the same icebreaker for both');
    await waitText(O.locator('#st-chatting'), '2', 8000);
    await waitText(O.locator('#st-members'), '2');
    await waitText(O.locator('#st-chats'), '1');
  });

  await t.test('a report reaches the organiser with the ticked messages; the partner only sees "left"', async () => {
    await say(B, 'give me your phone number');
    await say(C, 'no thanks');
    await C.page.locator('#log .msg.theirs').filter({ hasText: 'give me your phone number' }).waitFor();
    await C.page.getByRole('button', { name: 'Report' }).click();
    const d = C.page.getByRole('dialog', { name: 'Report Ann' });
    await d.getByLabel(/What happened/).fill('Asked for my number twice');
    await d.getByRole('checkbox', { name: /give me your phone number/ }).check();
    await d.getByRole('button', { name: 'Send report' }).click();
    await waitText(C.page.locator('#ended-text'), 'your report was sent to the organiser');
    await waitText(B.page.locator('#ended-text'), 'Ben left the chat.');
    assert.equal(C.rec.events.some((e) => e.event === 'reported'), true);
    assert.equal(B.rec.events.some((e) => e.event === 'partner_left' && e.reason === 'left'), true);

    const report = O.locator('#org-reports > li').first();
    await waitText(report.getByRole('heading'), 'Ben reported Ann', 8000);
    await waitText(report, 'Asked for my number twice');
    await waitText(report.locator('.excerpt'), 'give me your phone number');
    assert.equal(await report.locator('.excerpt li').count(), 1, 'only the ticked message');
    await screenshot(O, 'organiser-with-report');
    await checkA11y(O, 'organiser view, with a report');
  });

  await t.test('the reporter and the reported never meet again; others are paired first', async () => {
    await C.page.getByRole('button', { name: 'Find someone new' }).click();
    await waitText(C.page.locator('#waiting-title'), /Waiting|Looking/);
    await join(D, invite, 'Cy');
    await chattingWith(D, 'Ben');
    await chattingWith(C, 'Cy');
    await D.page.getByRole('button', { name: 'Leave' }).click();
    await waitText(C.page.locator('#ended-text'), 'Cy left the chat.');
    await B.page.getByRole('button', { name: 'Find someone new' }).click();
    await waitText(B.page.locator('#waiting-title'), /Waiting|Looking/);
    await C.page.getByRole('button', { name: 'Find someone new' }).click();
    await waitText(C.page.locator('#waiting-title'), /Waiting|Looking/);
    await waitText(C.page.locator('#waiting-count'), '1 other person is in the lobby', 8000);
    await B.page.waitForTimeout(3000);
    assert.equal(await B.page.locator('#screen-waiting').isVisible(), true, 'Ann is not paired with Ben');
    assert.equal(await C.page.locator('#screen-waiting').isVisible(), true, 'Ben is not paired with Ann');
    // Cy just left Ben: the repeat guard sends Cy to Ann.
    await D.page.getByRole('button', { name: 'Find someone new' }).click();
    await chattingWith(D, 'Ann');
    await chattingWith(B, 'Cy');
  });

  await t.test('the organiser removes the reported member, then changes the code', async () => {
    await O.getByRole('button', { name: 'Remove Ann' }).click();
    await O.getByRole('dialog', { name: 'Remove Ann from the circle?' }).getByRole('button', { name: 'Remove Ann' }).click();
    await waitText(O.locator('#org-note'), 'Ann was removed');
    await waitText(B.page.locator('#closed-title'), 'You were removed from this circle');
    await waitText(D.page.locator('#ended-text'), 'Ann left the chat.');
    await screenshot(B.page, 'removed');
    // The same browser can't come back.
    await join(B, invite, 'Ann again');
    await waitText(B.page.locator('#closed-title'), 'You were removed from this circle');

    const old = code;
    await O.getByRole('button', { name: 'Change the code now' }).click();
    await waitText(O.locator('#org-note'), 'The new code is');
    code = (await O.locator('#org-code').textContent()).trim();
    assert.match(code, CODE_RE);
    assert.notEqual(code, old);
    invite = await O.locator('#org-link').inputValue();
    // A new join with the old code is refused at once.
    const F = await newPage('stranger');
    await F.page.goto(`${BASE}?code=${old}`);
    await waitText(F.page.locator('#j-code-err'), 'No circle has this code');
  });

  await t.test('a dropped socket resumes the same chat; the partner sees "reconnecting", then "back"', async () => {
    await join(E, invite, 'Dee');
    await chattingWith(E, 'Ben');
    await chattingWith(C, 'Dee');
    await say(E, 'before the drop');
    await C.rec.server.close({ code: 4000, reason: 'the test drops the connection' });
    await waitText(C.page.locator('#conn-banner'), 'Reconnecting…');
    await waitText(E.page.locator('#conn-banner'), 'Ben is reconnecting…');
    await screenshot(C.page, 'reconnecting');
    await waitText(C.page.locator('#log .note'), 'Reconnected.', GRACE_MS);
    await waitText(E.page.locator('#log .note'), 'Ben is back.');
    assert.equal(C.rec.frames.filter((f) => f.action === 'resume').length >= 1, true);
    assert.equal(C.rec.events.some((e) => e.event === 'join_room' && e.resumed === true), true);
    await C.page.locator('#log .msg.theirs').filter({ hasText: 'before the drop' }).waitFor();
    await say(C, 'after the drop');
    await E.page.locator('#log .msg.theirs').filter({ hasText: 'after the drop' }).waitFor();
  });

  await t.test('a seat nobody takes back ends the chat after the grace', async () => {
    C.rec.refuse = true;
    await C.rec.server.close({ code: 4000, reason: 'the test drops the connection' });
    await waitText(E.page.locator('#conn-banner'), 'Ben is reconnecting…');
    await waitText(C.page.locator('#screen-trouble h1'), 'Connection lost', GRACE_MS);
    await waitText(E.page.locator('#ended-text'), 'Ben disconnected.', GRACE_MS);
    C.rec.refuse = false;
  });

  await t.test('new icebreakers and timed rounds', async () => {
    await O.getByLabel(/Icebreakers/).fill('Favourite snack?');
    await O.getByRole('button', { name: 'Save changes' }).click();
    await waitText(O.locator('#org-note'), 'Saved.');
    await D.page.getByRole('button', { name: 'Find someone new' }).click();
    await E.page.getByRole('button', { name: 'Find someone new' }).click();
    await chattingWith(D, 'Dee');
    await chattingWith(E, 'Cy');
    await waitText(E.page.locator('#prompt-text'), 'Favourite snack?');

    await O.getByLabel(/Minutes per round/).fill('2');
    await O.getByRole('button', { name: 'Start rounds' }).click();
    await waitText(O.locator('#org-round'), /Round 1 of 2-minute rounds: (2:00|1:\d\d) left/);
    // The room from before the rounds ends, and everyone is paired for round 1.
    await until(() => E.rec.events.some((e) => e.event === 'round' && e.number === 1), 'the round event');
    await until(() => E.rec.events.some((e) => e.event === 'round_over' && e.number === 0), 'the old room ending');
    await waitText(E.page.locator('#chat-timer'), /Round 1 · (2:00|1:\d\d) left/);
    await waitText(D.page.locator('#chat-timer'), /Round 1 · (2:00|1:\d\d) left/);
    await waitText(E.page.locator('#prompt-text'), 'Favourite snack?');
    assert.ok(E.rec.lastRoom().ends_at, 'a room in a round carries ends_at');
    await screenshot(E.page, 'round-chat');
    await checkA11y(E.page, 'chat in a round');
    await screenshot(O, 'organiser-rounds');
    await O.getByRole('button', { name: 'Stop rounds' }).click();
    await waitText(O.locator('#org-round'), 'No timed rounds are running');
    await E.page.locator('#chat-timer').waitFor({ state: 'hidden' });
  });

  await t.test('closing the circle tells everyone in it', async () => {
    await O.getByRole('button', { name: 'Close the circle' }).click();
    await O.getByRole('dialog').getByRole('button', { name: 'Close the circle' }).click();
    await waitText(O.locator('#org-title'), 'is closed');
    await waitText(D.page.locator('#closed-title'), 'This circle is closed');
    await waitText(E.page.locator('#closed-title'), 'This circle is closed');
    await screenshot(E.page, 'closed');
    const after = await A.page.evaluate(async (c) => (await fetch(`/groups/${c}`)).status, code.replace('-', ''));
    assert.equal(after, 404);
  });

  await t.test('a wrong organiser key gets 403 and a clear message', async () => {
    const X = await newPage('intruder');
    await X.page.goto(`${BASE}#organizer=${'x'.repeat(32)}`);
    await waitText(X.page.locator('#org-error'), "doesn't match any circle");
  });

  await t.test('no page errors', () => {
    assert.deepEqual(pages.flatMap((x) => x.errors), []);
  });
});
