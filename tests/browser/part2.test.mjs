// Part 2 end to end: the page and the real server together (members, report,
// never meeting again, the organiser's view and API, removing a member, a new
// code, resume, rounds and prompts, closing a circle).
//
// Run through ./run.sh, which starts circle-local with a short resume grace
// (GRACE_S) and a short round "minute" (ROUND_MINUTE_S). Every wait is on page
// state or on the frames the pages got; nothing sleeps a fixed time.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE, T, CODE_RE, MEMBER_RE, GRACE_S, ROUND_MINUTE_S, launch, newPage as open, screenshotter, waitText, visible, until,
  checkA11y, axeLog, recorder,
} from './helpers.mjs';

let browser;
const pages = [];
const screenshot = screenshotter('part2');
const GRACE_MS = (GRACE_S + 10) * 1000;
// Rounds long enough for the screenshots and axe checks taken during one
// (about 20 s of real time with run.sh's 2 s "minute"; 2 real minutes otherwise).
const ROUND_MIN = Math.min(30, Math.max(2, Math.ceil(20 / ROUND_MINUTE_S)));
const ROUND_MS = ROUND_MIN * ROUND_MINUTE_S * 1000;

async function newPage(label, options) {
  const entry = await open(browser, label, { allow: /status of 4(0[0134]|10)/, ...options });
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

// The events a member got after the first one `after` matches (all, without `after`).
function eventsAfter(x, after) {
  const i = after ? x.rec.events.findIndex(after) : -1;
  return after && i < 0 ? [] : x.rec.events.slice(i + 1);
}

const isRound = (n) => (e) => e && e.event === 'round' && e.number === n;

// After round `n` started: the two paired (with each other) and the one who
// waits it out (of three, once two are paired the third can't be).
async function roundPairs(people, n) {
  const name = (x) => x.rec.joins().at(-1).name;
  return until(() => {
    const rooms = people.map((x) => eventsAfter(x, isRound(n)).find((e) => e.event === 'join_room'));
    const paired = people.filter((_, i) => rooms[i]);
    if (paired.length < 2) return null;
    const [P, Q] = paired;
    assert.equal(rooms[people.indexOf(P)].match.name, name(Q));
    assert.equal(rooms[people.indexOf(Q)].match.name, name(P));
    return { paired, out: people.filter((_, i) => !rooms[i]) };
  }, `a pair in round ${n}`, ROUND_MS + T);
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
    await screenshot.both(C.page, 'report-dialog');
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
    const reported = B.rec.events.length;
    const reporter = C.rec.events.length;
    await C.page.getByRole('button', { name: 'Find someone new' }).click();
    await waitText(C.page.locator('#waiting-title'), /Waiting|Looking/);
    await join(D, invite, 'Cy');
    await chattingWith(D, 'Ben');
    await chattingWith(C, 'Cy');
    await D.page.getByRole('button', { name: 'Leave' }).click();
    await waitText(C.page.locator('#ended-text'), 'Cy left the chat.');
    await B.page.getByRole('button', { name: 'Find someone new' }).click();
    await waitText(B.page.locator('#waiting-count'), "You're the only one in the lobby");
    // Ben's join finds Ann waiting and waits beside her: the server says there are two.
    await C.page.getByRole('button', { name: 'Find someone new' }).click();
    await waitText(C.page.locator('#waiting-count'), '1 other person is in the lobby');
    // Cy just left Ben: the repeat guard sends Cy to Ann.
    await D.page.getByRole('button', { name: 'Find someone new' }).click();
    await chattingWith(D, 'Ann');
    await chattingWith(B, 'Cy');
    await visible(C.page.locator('#screen-waiting'));
    const met = (x, from, name) => x.rec.events.slice(from).filter((e) => e.event === 'join_room').map((e) => e.match.name).includes(name);
    assert.equal(met(B, reported, 'Ben'), false, 'Ann was never paired with Ben again');
    assert.equal(met(C, reporter, 'Ann'), false, 'Ben was never paired with Ann again');
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
    await waitText(F.page.locator('#j-code-err'), 'changed this circle’s code');
    await F.context.close();
  });

  await t.test('a dropped socket resumes the same chat; the partner sees "reconnecting", then "back"', async () => {
    await join(E, invite, 'Dee');
    await chattingWith(E, 'Ben');
    await chattingWith(C, 'Dee');
    await say(E, 'before the drop');
    // The network comes back slowly: Ben's new socket waits until both sides have shown it.
    C.rec.hold = true;
    await C.rec.server.close({ code: 4000, reason: 'the test drops the connection' });
    await waitText(C.page.locator('#conn-banner'), 'Reconnecting…');
    await waitText(E.page.locator('#conn-banner'), 'Ben is reconnecting…');
    assert.equal(await E.page.locator('#send-btn').isDisabled(), true, 'nothing is sent to an empty seat');
    C.rec.release();
    await waitText(C.page.locator('#log .note'), 'Reconnected.', GRACE_MS);
    await waitText(E.page.locator('#log .note'), 'Ben is back.');
    assert.equal(await C.page.locator('#conn-banner').textContent(), '');
    assert.equal(await E.page.locator('#conn-banner').textContent(), '');
    assert.equal(C.rec.frames.filter((f) => f.action === 'resume').length >= 1, true);
    assert.equal(C.rec.events.some((e) => e.event === 'join_room' && e.resumed === true), true);
    await C.page.locator('#log .msg.theirs').filter({ hasText: 'before the drop' }).waitFor();
    await say(C, 'after the drop');
    await E.page.locator('#log .msg.theirs').filter({ hasText: 'after the drop' }).waitFor();
  });

  await t.test('a seat nobody takes back ends the chat after the grace; then "Connection lost"', async () => {
    C.rec.refuse = true;
    await C.rec.server.close({ code: 4000, reason: 'the test drops the connection' });
    await waitText(E.page.locator('#conn-banner'), 'Ben is reconnecting…');
    // The page keeps trying (for as long as a seat can be held) and says so.
    await waitText(C.page.locator('#conn-banner'), 'Reconnecting…');
    await screenshot.both(C.page, 'reconnecting');
    await checkA11y(C.page, 'chat, reconnecting');
    await waitText(E.page.locator('#ended-text'), 'Ben disconnected.', GRACE_MS);
    assert.equal(await C.page.locator('#screen-chat').isVisible(), true, 'still trying while the network is down');
    // The network is back, but the seat is gone: the page says so.
    C.rec.refuse = false;
    await waitText(C.page.locator('#screen-trouble h1'), 'Connection lost', GRACE_MS);
    await waitText(C.page.locator('#trouble-text'), 'chat with Dee has ended');
  });

  await t.test('after a new code, rejoining with the old one goes back to the join form, which says why', async () => {
    await C.page.getByRole('button', { name: 'Rejoin' }).click();
    await waitText(C.page.locator('#j-code-err'), 'changed this circle’s code');
    assert.equal(await C.page.getByLabel('Access code').getAttribute('aria-invalid'), 'true');
  });

  // Cy came in with the old code and is still connected (his chat ended when Ann was removed).
  await t.test('after a new code, someone still in the circle can find someone new', async () => {
    const from = D.rec.events.length;
    await D.page.getByRole('button', { name: 'Find someone new' }).click();
    const answer = await until(() => D.rec.events.slice(from).find((e) => ['waiting', 'join_room', 'error'].includes(e.event)), 'an answer to the join');
    assert.notEqual(answer.event, 'error', `refused: ${JSON.stringify(answer)}`);
    await waitText(D.page.locator('#waiting-title'), 'Waiting for someone');
  });

  await t.test('new icebreakers and timed rounds', async (tt) => {
    await O.locator('#e-prompts').fill('Favourite snack?');
    await O.getByRole('button', { name: 'Save changes' }).click();
    await waitText(O.locator('#org-note'), 'Saved.');
    await E.page.getByRole('button', { name: 'Find someone new' }).click();
    await chattingWith(D, 'Dee');
    await chattingWith(E, 'Cy');
    await waitText(E.page.locator('#prompt-text'), 'Favourite snack?');
    // Ben back in with the new code.
    await C.page.getByLabel('Access code').fill(code);
    await waitText(C.page.locator('#preview h2'), 'Part 2 club');
    await C.page.getByRole('button', { name: 'Enter circle' }).click();
    await waitText(C.page.locator('#waiting-count'), "You're the only one in the lobby");

    // Round 1: the room from before ends, and the three present are paired again: two chat, one waits.
    await O.getByLabel(/Minutes per round/).fill(String(ROUND_MIN));
    await O.getByRole('button', { name: 'Start rounds' }).click();
    await waitText(O.locator('#org-round'), new RegExp(`Round 1 of ${ROUND_MIN}-minute rounds: \\d+:\\d\\d left`));
    for (const x of [D, E]) await until(() => eventsAfter(x).some((e) => e.event === 'round_over' && e.number === 0), 'the old room ending');
    const one = await roundPairs([C, D, E], 1);
    const oneAt = Date.now();
    assert.equal(one.paired.length, 2, 'two of three are paired');
    const name = (x) => x.rec.joins().at(-1).name;
    const [P, Q] = one.paired;
    const [out1] = one.out;
    await chattingWith(P, name(Q));
    await chattingWith(Q, name(P));
    const room = P.rec.lastRoom();
    assert.ok(room.ends_at, 'a room in a round carries ends_at');
    assert.equal(room.prompt, 'Favourite snack?');
    await waitText(P.page.locator('#prompt-text'), 'Favourite snack?');
    await waitText(P.page.locator('#chat-timer'), /^Round 1 · \d+:\d\d left$/);
    await say(P, 'Crisps, obviously.');
    await Q.page.locator('#log .msg.theirs').filter({ hasText: 'Crisps, obviously.' }).waitFor();
    await say(Q, 'Toast. Any time of day.');
    await P.page.locator('#log .msg.theirs').filter({ hasText: 'Toast. Any time of day.' }).waitFor();
    await waitText(out1.page.locator('#waiting-round:visible, #break-round:visible'), /Round 1 · \d+:\d\d left/);
    await screenshot.both(P.page, 'round-chat');
    await checkA11y(P.page, 'chat in a round');
    await screenshot.both(out1.page, 'round-1-waiting-it-out');
    await checkA11y(out1.page, 'waiting out a round');
    // The organiser's numbers catch up within a refresh (every 5 s).
    await waitText(O.locator('#st-chatting'), '2', 8000);
    await waitText(O.locator('#st-waiting'), '1', 8000);
    await screenshot.both(O, 'organiser-rounds');
    await screenshot.both(O, 'organiser-rounds-full', { fullPage: true });
    await checkA11y(O, 'organiser view, rounds running');
    assert.equal([C, D, E].some((x) => eventsAfter(x, isRound(2)).length || x.rec.events.some(isRound(2))), false,
      'round 1 outlasted its checks (make the rounds longer if this fails)');
    tt.diagnostic(`round 1's checks took ${Date.now() - oneAt} ms of its ${ROUND_MS} ms`);

    // Round 2: round 1's rooms end; whoever waited round 1 out is paired first, and someone else waits.
    const two = await roundPairs([C, D, E], 2);
    const twoAt = Date.now();
    assert.equal(two.paired.length, 2, 'two of three are paired');
    for (const x of one.paired) {
      assert.equal(x.rec.events.some((e) => e.event === 'round_over' && e.number === 1), true, 'round 1 ended with round_over');
    }
    assert.equal(two.paired.includes(out1), true, 'who waited round 1 out is paired first');
    const [out2] = two.out;
    assert.ok(out2 && out2 !== out1);
    assert.equal(out2.rec.events.some((e) => e.event === 'round_over' && e.number === 1), true);
    await waitText(out2.page.locator('#break-title'), 'Sitting out round 2');
    await waitText(out2.page.locator('#break-text'), 'everyone else is paired for this round');
    await waitText(out2.page.locator('#break-round'), /^Round 2 · \d+:\d\d left$/);
    await screenshot.both(out2.page, 'round-break');
    await checkA11y(out2.page, 'round break');
    assert.equal([C, D, E].some((x) => x.rec.events.some(isRound(3))), false, 'round 2 outlasted its checks');
    tt.diagnostic(`round 2's checks took ${Date.now() - twoAt} ms of its ${ROUND_MS} ms`);

    await O.getByRole('button', { name: 'Stop rounds' }).click();
    await waitText(O.locator('#org-round'), 'No timed rounds are running');
    for (const x of two.paired) await x.page.locator('#chat-timer').waitFor({ state: 'hidden' });
    await waitText(out2.page.locator('#waiting-title'), 'Waiting for someone');
  });

  await t.test('closing the circle tells everyone in it', async () => {
    await O.getByRole('button', { name: 'Close the circle' }).click();
    await O.getByRole('dialog').getByRole('button', { name: 'Close the circle' }).click();
    await waitText(O.locator('#org-title'), 'is closed');
    for (const x of [C, D, E]) await waitText(x.page.locator('#closed-title'), 'This circle is closed');
    await screenshot(E.page, 'closed');
    const after = await A.page.evaluate(async (c) => (await fetch(`/groups/${c}`)).status, code.replace('-', ''));
    assert.equal(after, 410, 'a closed circle\'s code says so (circle_closed)');
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
