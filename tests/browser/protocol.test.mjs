// The page's Part 2 screens against a stand-in for the server: the test itself
// answers the page's WebSocket frames and organiser HTTP requests exactly as the
// README's Protocol section says the server will. This checks the page's side of
// that contract now (and every new screen with axe, with screenshots);
// part2.test.mjs checks both sides together against the real server.
//
// Run through ./run.sh (the local stack serves the page and config.json only).

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import {
  BASE, SCREENS, T, MEMBER_RE, DESKTOP, MOBILE, launch, newPage as open, screenshotter, waitText, visible, until,
  checkA11y, axeLog, focusStaysIn,
} from './helpers.mjs';

let browser;
const pages = [];
const screenshot = screenshotter('protocol');

async function newPage(label, options) {
  const entry = await open(browser, label, { allow: /status of 40[0134]/, ...options });
  pages.push(entry);
  return entry;
}

// Desktop and phone-sized screenshots of the same state (the phone one in both colour schemes).
async function shots(page, name) {
  const own = page.viewportSize();
  await screenshot(page, `${name}-desktop`);
  await page.setViewportSize(MOBILE);
  await screenshot(page, `${name}-mobile`);
  await page.emulateMedia({ colorScheme: 'dark' });
  await screenshot(page, `${name}-mobile-dark`);
  await page.emulateMedia({ colorScheme: null });
  await page.setViewportSize(own || DESKTOP);
}

// Stands in for the WebSocket API for one browser context: keeps what the page
// sends, and sends what the test says.
class FakeSocket {
  constructor() {
    this.sockets = [];
    this.frames = [];
    this.taken = new Set();
    this.route = (ws) => {
      this.sockets.push(ws);
      ws.onMessage((m) => {
        let f;
        try { f = JSON.parse(m); } catch { f = { unparsable: m }; }
        this.frames.push(f);
      });
    };
  }

  get count() { return this.sockets.length; }

  send(ev) { this.sockets[this.sockets.length - 1].send(JSON.stringify(ev)); }

  // The socket drops as a network failure would.
  async drop() { await this.sockets[this.sockets.length - 1].close({ code: 4000, reason: 'dropped by the test' }); }

  // The next frame (not taken before) with this action, or matching this predicate.
  async take(what, timeout = T) {
    const match = typeof what === 'function' ? what : (f) => f.action === what;
    return until(() => {
      const i = this.frames.findIndex((f, n) => !this.taken.has(n) && match(f));
      if (i < 0) return null;
      this.taken.add(i);
      return this.frames[i];
    }, `a frame ${what}`, timeout);
  }

  sent(action) { return this.frames.filter((f) => f.action === action); }
}

const CODE = 'HJKMN-PQRST';
const RAW = CODE.replace('-', '');
const CIRCLE_ID = 'c1rcleId_7';
const GROUP = { name: 'Design team', description: 'Coffee chats across the team.', rules: ['Be kind'] };
const inSeconds = (s) => new Date(Date.now() + s * 1000).toISOString();
// The stand-in server's clock runs ten minutes ahead of the browser's: the page
// must count down from `seconds_left`, not from its own clock.
const SKEW_S = 600;
const serverIn = (s) => inSeconds(s + SKEW_S);
const now = () => new Date().toISOString();

// GET /groups/{code} for the members' pages.
async function publicGroup(context) {
  await context.route((u) => u.pathname === `/groups/${RAW}`, (route) => route.fulfill({
    json: { id: CIRCLE_ID, access_code: CODE, ...GROUP, prompts: ['What made you smile this week?'], created_at: now(), expires_at: inSeconds(3 * 86400) },
  }));
}

async function joinAs(p, name) {
  await p.goto(`${BASE}?code=${CODE}`);
  await waitText(p.locator('#preview h2'), GROUP.name);
  await p.getByLabel('Your name').fill(name);
  await p.getByRole('button', { name: 'Enter circle' }).click();
}

function room(id, partner, extra = {}) {
  return { event: 'join_room', room: id, user: 'Mia', match: { name: partner, id: `p-${partner}` }, prompt: 'What made you smile this week?', resume: `tok-${id}`, ...extra };
}

before(async () => {
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (axeLog.length) console.log(`# axe:\n#   ${axeLog.join('\n#   ')}`);
});

test("a member's Part 2 screens, against a stand-in for the server", { timeout: 240_000 }, async (t) => {
  const S = new FakeSocket();
  const M = await newPage('mia', { routeSockets: S.route });
  await publicGroup(M.context);
  const p = M.page;

  await t.test('the join carries the member secret and the circle id', async () => {
    await joinAs(p, 'Mia');
    const j = await S.take('join_group');
    assert.equal(j.access_code, RAW);
    assert.equal(j.name, 'Mia');
    assert.match(j.member, MEMBER_RE);
    assert.equal(j.circle, CIRCLE_ID);
    assert.equal(await p.evaluate((k) => localStorage.getItem(k), `circle.member.${CIRCLE_ID}`), j.member);
  });

  await t.test('the lobby count follows `waiting`; a round shows its time left', async () => {
    S.send({ event: 'waiting', group: GROUP, waiting: 1 });
    await waitText(p.locator('#waiting-count'), 'only one');
    S.send({ event: 'waiting', group: GROUP, waiting: 3 });
    await waitText(p.locator('#waiting-count'), '2 other people are in the lobby');
    S.send({ event: 'round', number: 1, minutes: 5, ends_at: serverIn(300), seconds_left: 300 });
    await waitText(p.locator('#waiting-round'), /Round 1 · (5:00|4:5\d) left/);
    await shots(p, 'waiting-round');
    await checkA11y(p, 'waiting, in a round');
  });

  await t.test('a room shows its icebreaker and the round time left; messages are kept for a report', async () => {
    S.send(room('r1', 'Noa', { ends_at: serverIn(240) }));
    await waitText(p.locator('#chat-title'), 'Chatting with Noa');
    await waitText(p.locator('#prompt'), 'What made you smile this week?');
    await waitText(p.locator('#chat-timer'), /Round 1 · (4:00|3:5\d) left/);
    S.send({ event: 'message', room: 'r1', from: { name: 'Noa', id: 'p-Noa' }, sent_at: now(), message: 'hello Mia' });
    await waitText(p.locator('#log .msg.theirs'), 'hello Mia');
    await p.getByLabel('Message', { exact: true }).fill('hi Noa');
    await p.getByLabel('Message', { exact: true }).press('Enter');
    const m = await S.take((f) => f.action === 'message' && f.message === 'hi Noa');
    assert.equal(m.room, 'r1');
    S.send({ event: 'message', room: 'r1', from: { name: 'Mia', id: 'p-Mia' }, sent_at: now(), message: 'hi Noa', id: m.id });
    await p.locator('#log .msg.mine:not(.pending)').waitFor();
    await shots(p, 'chat-prompt-round');
    await checkA11y(p, 'chat with an icebreaker and a round');
  });

  await t.test('partner_away says the partner is reconnecting and holds sending; partner_back frees it', async () => {
    S.send({ event: 'partner_away', room: 'r1', grace_s: 30 });
    await waitText(p.getByRole('status').filter({ hasText: 'Noa is reconnecting…' }), 'Noa');
    await p.getByLabel('Message', { exact: true }).fill('are you there?');
    assert.equal(await p.getByRole('button', { name: 'Send' }).isDisabled(), true);
    await p.getByLabel('Message', { exact: true }).press('Enter');
    await shots(p, 'partner-away');
    await checkA11y(p, 'chat, partner reconnecting');
    S.send({ event: 'partner_back', room: 'r1' });
    await waitText(p.locator('#log .note'), 'Noa is back.');
    assert.equal(await p.locator('#conn-banner').textContent(), '');
    assert.equal(await p.getByRole('button', { name: 'Send' }).isDisabled(), false);
    assert.equal(S.sent('message').filter((f) => f.message === 'are you there?').length, 0, 'nothing was sent while away');
    await p.getByLabel('Message', { exact: true }).fill('');
  });

  await t.test('a dropped socket mid-chat reconnects and resumes the same chat', async () => {
    const before = S.count;
    await S.drop();
    await waitText(p.locator('#conn-banner'), 'Reconnecting…');
    assert.equal(await p.locator('#screen-chat').isVisible(), true, 'still in the chat, not the trouble screen');
    const r = await S.take('resume');
    assert.deepEqual(r, { action: 'resume', room: 'r1', token: 'tok-r1' });
    assert.equal(S.count, before + 1, 'on a new socket');
    await shots(p, 'reconnecting');
    await checkA11y(p, 'chat, reconnecting');
    S.send(room('r1', 'Noa', { resumed: true, resume: 'tok-r1b', ends_at: serverIn(200) }));
    await waitText(p.locator('#log .note').last(), 'Reconnected.');
    assert.equal(await p.locator('#conn-banner').textContent(), '');
    assert.deepEqual(await p.locator('#log .msg .text').allTextContents(), ['hello Mia', 'hi Noa'], 'the log is kept');
    await p.getByLabel('Message', { exact: true }).fill('back again');
    await p.getByLabel('Message', { exact: true }).press('Enter');
    assert.equal((await S.take((f) => f.action === 'message' && f.message === 'back again')).room, 'r1');
  });

  await t.test('Report sends the reason and the ticked messages, then ends the chat', async () => {
    await p.getByRole('button', { name: 'Report' }).click();
    const d = p.getByRole('dialog', { name: 'Report Noa' });
    await visible(d);
    assert.equal(await d.getByRole('checkbox').count(), 2, 'both sides, delivered messages only');
    await d.getByLabel(/What happened/).fill('  Rude and pushy  ');
    await d.getByRole('checkbox', { name: /^Noa, .*hello Mia$/ }).check();
    assert.equal(await focusStaysIn(p, '#report-dialog'), true);
    await d.getByRole('button', { name: 'Send report' }).click();
    const r = await S.take('report');
    assert.equal(r.room, 'r1');
    assert.equal(r.reason, 'Rude and pushy');
    assert.equal(r.excerpt.length, 1);
    assert.deepEqual(Object.keys(r.excerpt[0]).sort(), ['from', 'sent_at', 'text']);
    assert.equal(r.excerpt[0].from, 'partner');
    assert.equal(r.excerpt[0].text, 'hello Mia');
    await waitText(d.getByRole('button', { name: 'Sending…' }), 'Sending');
    S.send({ event: 'reported', room: 'r1' });
    await d.waitFor({ state: 'hidden' });
    await waitText(p.locator('#ended-text'), 'your report was sent to the organiser');
    await visible(p.getByRole('button', { name: 'Find someone new' }));
    assert.equal(await p.locator('#safety').isVisible(), false, 'reported once is enough');
    await shots(p, 'reported');
    await checkA11y(p, 'chat ended by a report');
  });

  await t.test('a round ends the chat and shows the break until the next room; block works from there', async () => {
    await p.getByRole('button', { name: 'Find someone new' }).click();
    await S.take('join_group');
    S.send(room('r2', 'Oli', { ends_at: serverIn(60) }));
    await waitText(p.locator('#chat-title'), 'Chatting with Oli');
    assert.equal(await p.locator('#log .msg').count(), 0, 'a new room starts empty');
    S.send({ event: 'round_over', room: 'r2', number: 1 });
    await waitText(p.locator('#break-title'), 'Round 1 is over');
    await waitText(p.locator('#break-text'), 'The next round starts in a moment');
    await visible(p.getByRole('button', { name: 'Report Oli' }));
    await shots(p, 'round-break');
    await checkA11y(p, 'round break');
    S.send({ event: 'round', number: 2, minutes: 5, ends_at: serverIn(300), seconds_left: 300 });
    await waitText(p.locator('#break-text'), 'Round 2 has started');
    await waitText(p.locator('#break-round'), /Round 2 · (5:00|4:5\d) left/);
    // A late `waiting` count doesn't leave the break.
    S.send({ event: 'waiting', group: GROUP, waiting: 4 });
    await waitText(p.locator('#break-text'), '3 other people are in the lobby');
    await p.getByRole('button', { name: 'Block Oli' }).click();
    const c = p.getByRole('dialog', { name: 'Block Oli?' });
    await c.getByRole('button', { name: 'Block Oli' }).click();
    assert.equal((await S.take('block')).room, 'r2');
    S.send({ event: 'blocked', room: 'r2' });
    await waitText(p.locator('#break-safety-text'), 'You blocked Oli.');
    await shots(p, 'round-break-blocked');
    await checkA11y(p, 'round break, blocked');
    S.send(room('r3', 'Pia', { ends_at: serverIn(299) }));
    await waitText(p.locator('#chat-title'), 'Chatting with Pia');
    await waitText(p.locator('#chat-timer'), 'Round 2 ·');
    S.send({ event: 'round', number: 0, minutes: 0, ends_at: null, seconds_left: 0 });
    await p.locator('#chat-timer').waitFor({ state: 'hidden' });
  });

  await t.test('Block in a chat asks first, then ends it with a confirmation', async () => {
    await p.getByRole('button', { name: 'Block' }).click();
    await p.getByRole('dialog', { name: 'Block Pia?' }).getByRole('button', { name: 'Block Pia' }).click();
    assert.deepEqual(await S.take('block'), { action: 'block', room: 'r3' });
    S.send({ event: 'blocked', room: 'r3' });
    await waitText(p.locator('#ended-text'), "You blocked Pia. You won't be paired with them again");
    await visible(p.getByRole('button', { name: 'Find someone new' }));
    assert.equal(await p.evaluate(() => document.activeElement.id), 'again-btn');
    await checkA11y(p, 'chat ended by a block');
  });

  await t.test('a refused resume is tried again briefly (the server may not have seen the drop yet), then falls back to "Connection lost"', async () => {
    await p.getByRole('button', { name: 'Find someone new' }).click();
    await S.take('join_group');
    S.send(room('r4', 'Quin'));
    await waitText(p.locator('#chat-title'), 'Chatting with Quin');
    const dropped = Date.now();
    await S.drop();
    // Refuse every resume until the page gives up.
    let refused = 0;
    const resumeWaiting = () => S.frames.some((f, n) => !S.taken.has(n) && f.action === 'resume');
    for (;;) {
      const next = await until(async () => (resumeWaiting() ? 'resume' : null)
        || ((await p.locator('#screen-trouble').isVisible()) ? 'gave up' : null), 'a resume, or "Connection lost"', 10_000);
      if (next === 'gave up') break;
      assert.deepEqual(await S.take('resume'), { action: 'resume', room: 'r4', token: 'tok-r4' });
      S.send({ event: 'error', code: 'not_in_room', message: 'you are not in that room' });
      refused += 1;
      if (refused === 1) await waitText(p.locator('#conn-banner'), 'Reconnecting…');
    }
    const took = Date.now() - dropped;
    assert.ok(refused >= 2, `tried again after the first refusal (${refused} tries)`);
    assert.ok(took < 9000, `gave up soon after the drop, took ${took} ms`);
    await waitText(p.locator('#screen-trouble h1'), 'Connection lost');
    await waitText(p.locator('#trouble-text'), 'chat with Quin has ended');
  });

  await t.test('an unanswered resume gives up after the grace period', async () => {
    await p.getByRole('button', { name: 'Rejoin' }).click();
    await S.take('join_group');
    S.send(room('r5', 'Ray'));
    await waitText(p.locator('#chat-title'), 'Chatting with Ray');
    // The grace the server uses, learnt from partner_away: 2 s here.
    S.send({ event: 'partner_away', room: 'r5', grace_s: 2 });
    S.send({ event: 'partner_back', room: 'r5' });
    await waitText(p.locator('#log .note'), 'Ray is back.');
    const dropped = Date.now();
    await S.drop();
    await S.take('resume');
    await waitText(p.locator('#screen-trouble h1'), 'Connection lost', 10_000);
    const took = Date.now() - dropped;
    assert.ok(took >= 1500 && took < 6000, `gave up after the grace, took ${took} ms`);
  });

  await t.test('partner_left "disconnected" after partner_away ends the chat as before', async () => {
    await p.getByRole('button', { name: 'Rejoin' }).click();
    await S.take('join_group');
    S.send(room('r6', 'Sam'));
    await waitText(p.locator('#chat-title'), 'Chatting with Sam');
    S.send({ event: 'partner_away', room: 'r6', grace_s: 30 });
    await waitText(p.locator('#conn-banner'), 'Sam is reconnecting…');
    S.send({ event: 'partner_left', room: 'r6', reason: 'disconnected' });
    await waitText(p.locator('#ended-text'), 'Sam disconnected.');
    assert.equal(await p.locator('#conn-banner').textContent(), '');
  });

  await t.test('circle_closed says the organiser closed the circle, and stops', async () => {
    await p.getByRole('button', { name: 'Find someone new' }).click();
    await S.take('join_group');
    S.send({ event: 'waiting', group: GROUP, waiting: 1 });
    await waitText(p.locator('#waiting-title'), 'Waiting');
    const sockets = S.count;
    S.send({ event: 'circle_closed' });
    await waitText(p.locator('#closed-title'), 'This circle is closed');
    await waitText(p.locator('#closed-text'), 'The organiser closed this circle');
    await shots(p, 'circle-closed');
    await checkA11y(p, 'circle closed');
    await p.waitForTimeout(1500);
    assert.equal(S.count, sockets, 'no reconnecting');
  });

  await t.test('a removed member is told so', async () => {
    const S2 = new FakeSocket();
    const N = await newPage('nat', { mobile: true, routeSockets: S2.route });
    await publicGroup(N.context);
    await joinAs(N.page, 'Nat');
    await S2.take('join_group');
    S2.send(room('r7', 'Mia'));
    await waitText(N.page.locator('#chat-title'), 'Chatting with Mia');
    await shots(N.page, 'chat-prompt-mobile-start');
    S2.send({ event: 'error', code: 'removed', message: 'removed by the organiser' });
    await waitText(N.page.locator('#closed-title'), 'You were removed from this circle');
    await screenshot(N.page, 'removed-mobile');
    await checkA11y(N.page, 'removed');
  });

  await t.test('no page errors', () => {
    assert.deepEqual(pages.flatMap((x) => x.errors), []);
  });
});

// ---------- the organiser ----------

const KEY = 'Zx1_organiserKey-0123456789abcdefXYZ';

// Stands in for the organiser API (and POST /groups); keeps every request.
function fakeOrganizerApi() {
  const s = {
    code: RAW,
    closed: false,
    circle: { id: CIRCLE_ID, access_code: CODE, name: 'Book club', description: 'Fridays', rules: ['Be kind'], prompts: ['What are you reading?'], created_at: now(), expires_at: inSeconds(3 * 86400) },
    stats: { waiting: 2, chatting: 4, chats: 7, members: 9 },
    round: { number: 0, minutes: 0, ends_at: null, active: false },
    reports: [{
      id: 'rep1',
      at: now(),
      reason: 'Kept asking for my number <b>after I said no</b>',
      excerpt: [
        { from: 'partner', text: "what's your number?", sent_at: now() },
        { from: 'me', text: 'no thanks', sent_at: now() },
      ],
      reporter: { name: 'Ann', member_id: 'm-ann' },
      reported: { name: 'Ben', member_id: 'm-ben' },
    }],
    requests: [],
  };
  const board = () => ({ circle: { ...s.circle, access_code: s.code.slice(0, 5) + '-' + s.code.slice(5) }, ...s.stats, round: s.round, reports: s.reports });
  s.handle = async (route) => {
    const req = route.request();
    const url = new URL(req.url());
    const auth = req.headers().authorization || '';
    let body = null;
    try { body = req.postDataJSON(); } catch { /* none */ }
    s.requests.push({ method: req.method(), url: req.url(), path: url.pathname, auth, body });
    const json = (status, data) => route.fulfill({ status, json: data });
    if (req.method() === 'POST' && url.pathname === '/groups') {
      return json(201, { ...board().circle, organizer_key: KEY, organizer_url: `${BASE}#organizer=${KEY}` });
    }
    if (!auth) return json(401, { error: 'unauthorized', message: 'no organiser key' });
    if (auth !== `Bearer ${KEY}`) return json(403, { error: 'forbidden', message: 'wrong organiser key' });
    if (s.closed) return json(404, { error: 'group_not_found', message: 'no such circle' });
    if (url.pathname === '/organizer' && req.method() === 'GET') return json(200, board());
    const m = /^\/groups\/([^/]+)(\/.*)?$/.exec(url.pathname);
    if (!m || m[1] !== s.code) return json(404, { error: 'group_not_found', message: 'no such circle' });
    const [, , rest = ''] = m;
    const key = `${req.method()} ${rest}`;
    if (key === 'GET /organizer') return json(200, board());
    if (key === 'PATCH ') {
      if (body.name !== undefined && !body.name.trim()) return json(400, { error: 'bad_request', message: 'name: is required', field: 'name' });
      Object.assign(s.circle, body);
      return json(200, board().circle);
    }
    if (key === 'POST /code') { s.code = 'WXYZ2WXYZ3'; return json(200, { access_code: 'WXYZ2-WXYZ3' }); }
    if (key === 'POST /remove') return json(200, { member_id: body.member_id, closed: true });
    if (key === 'POST /rounds') {
      s.round = { number: 1, minutes: body.minutes, ends_at: inSeconds(body.minutes * 60), active: true };
      return json(200, { round: s.round });
    }
    if (key === 'DELETE /rounds') { s.round = { number: 0, minutes: 0, ends_at: null, active: false }; return json(200, { round: s.round }); }
    if (key === 'DELETE ') { s.closed = true; return route.fulfill({ status: 204, body: '' }); }
    return json(404, { error: 'not_found' });
  };
  return s;
}

const organizerRequest = (u) => u.pathname === '/organizer' || u.pathname.startsWith('/groups');

test("the organiser's link and view, against a stand-in for the organiser API", { timeout: 180_000 }, async (t) => {
  const api = fakeOrganizerApi();
  const A = await newPage('organiser');
  await A.context.route(organizerRequest, api.handle);
  let O = null;

  await t.test('after creating a circle, the organiser link is shown once with a plain warning', async () => {
    const p = A.page;
    await p.goto(BASE);
    await p.getByRole('button', { name: 'Create a circle' }).click();
    await p.getByLabel('Name', { exact: true }).fill('Book club');
    await p.getByLabel('Description').fill('Fridays');
    await p.getByRole('button', { name: 'Create circle' }).click();
    await waitText(p.locator('#org-box h2'), 'Keep your organiser link');
    await waitText(p.locator('#org-box'), 'It is shown only this once.');
    assert.equal(await p.getByLabel('Organiser link').inputValue(), `${BASE}#organizer=${KEY}`);
    await p.getByRole('button', { name: 'Copy organiser link' }).click();
    assert.equal(await p.evaluate(() => navigator.clipboard.readText()), `${BASE}#organizer=${KEY}`);
    await shots(p, 'created-organiser-link');
    await checkA11y(p, 'created, with the organiser link');
    const [popup] = await Promise.all([
      A.context.waitForEvent('page'),
      p.getByRole('link', { name: 'Open the organiser view in a new tab' }).click(),
    ]);
    O = popup;
    O.setDefaultTimeout(T);
    O.on('pageerror', (e) => A.errors.push(`organiser tab: ${e.message}`));
  });

  await t.test('the view finds the circle by its key, shows it, its numbers and its reports', async () => {
    await waitText(O.locator('#org-title'), 'Organise “Book club”');
    await waitText(O.locator('#org-code'), CODE);
    assert.equal(await O.locator('#org-link').inputValue(), `${BASE}?code=${CODE}`);
    for (const [id, n] of [['waiting', 2], ['chatting', 4], ['chats', 7], ['members', 9]]) await waitText(O.locator(`#st-${id}`), String(n));
    const report = O.locator('#org-reports > li').first();
    await waitText(report.getByRole('heading'), 'Ann reported Ben');
    await waitText(report, 'Kept asking for my number <b>after I said no</b>');
    assert.equal(await report.locator('b').count(), 0, 'a report is text');
    assert.deepEqual(await report.locator('.excerpt .who').allTextContents(), ['Ben', 'Ann']);
    await waitText(O.locator('#org-round'), 'No timed rounds are running');
    // The key is only ever a header; it starts with GET /organizer, then uses the code.
    const first = api.requests.find((r) => r.auth);
    assert.equal(`${first.method} ${first.path}`, 'GET /organizer');
    await until(() => api.requests.some((r) => r.path === `/groups/${RAW}/organizer`), 'a code-based refresh', 8000);
    for (const r of api.requests) assert.equal(r.url.includes(KEY), false, `no key in ${r.url}`);
    assert.ok(api.requests.filter((r) => r.path !== '/groups').every((r) => r.auth === `Bearer ${KEY}`));
    await shots(O, 'organiser');
    await O.screenshot({ path: join(SCREENS, 'protocol-organiser-full-page.png'), fullPage: true });
    await checkA11y(O, 'organiser view');
  });

  await t.test('the numbers refresh by themselves', async () => {
    api.stats.waiting = 5;
    api.stats.members = 12;
    await waitText(O.locator('#st-waiting'), '5', 8000);
    await waitText(O.locator('#st-members'), '12');
  });

  await t.test('removing a reported member asks first, then offers a new code', async () => {
    await O.getByRole('button', { name: 'Remove Ben' }).click();
    const d = O.getByRole('dialog', { name: 'Remove Ben from the circle?' });
    await waitText(d, 'could still join from a new browser');
    await shots(O, 'organiser-remove-confirm');
    await checkA11y(O, 'organiser, remove confirmation');
    await d.getByRole('button', { name: 'Remove Ben' }).click();
    await until(() => api.requests.find((r) => r.path === `/groups/${RAW}/remove`), 'the remove request');
    assert.deepEqual(api.requests.find((r) => r.path === `/groups/${RAW}/remove`).body, { member_id: 'm-ben' });
    await waitText(O.locator('#org-note'), 'Ben was removed and their connection closed');
    await waitText(O.locator('#org-note'), 'A new browser could still join');
    const offer = O.getByRole('button', { name: 'Change the code now' });
    await visible(offer);
    assert.equal(await O.evaluate(() => document.activeElement.id), 'org-rotate-now');
    await waitText(O.locator('#org-reports .removed'), 'Ben was removed from the circle.');
    assert.equal(await O.getByRole('button', { name: 'Remove Ben' }).count(), 0, 'no second removal offered');
    await checkA11y(O, 'organiser, member removed');
    await offer.click();
    await waitText(O.locator('#org-code'), 'WXYZ2-WXYZ3');
    await waitText(O.locator('#org-note'), 'The new code is WXYZ2-WXYZ3');
    assert.equal(await O.locator('#org-link').inputValue(), `${BASE}?code=WXYZ2-WXYZ3`);
    await until(() => api.requests.some((r) => r.path === '/groups/WXYZ2WXYZ3/organizer'), 'refreshes on the new code', 8000);
  });

  await t.test('editing sends only what changed, and shows the API\'s field errors', async () => {
    await O.locator('#e-name').fill('');
    await O.getByRole('button', { name: 'Save changes' }).click();
    await waitText(O.locator('#e-name-err'), 'Name is required');
    await checkA11y(O, 'organiser, edit error');
    await O.locator('#e-name').fill('Book club (Fridays)');
    await O.locator('#e-prompts').fill('What are you reading?\n\n  Best book this year?  ');
    await O.getByRole('button', { name: 'Save changes' }).click();
    await waitText(O.locator('#org-note'), 'Saved.');
    const patch = api.requests.filter((r) => r.method === 'PATCH').pop();
    assert.deepEqual(patch.body, { name: 'Book club (Fridays)', prompts: ['What are you reading?', 'Best book this year?'] });
    await waitText(O.locator('#org-title'), 'Organise “Book club (Fridays)”');
  });

  await t.test('rounds start (2–30 minutes) with a live countdown, and stop', async () => {
    await O.getByLabel(/Minutes per round/).fill('1');
    await O.getByRole('button', { name: 'Start rounds' }).click();
    await waitText(O.locator('#round-min-err'), '2 to 30');
    await O.getByLabel(/Minutes per round/).fill('5');
    await O.getByRole('button', { name: 'Start rounds' }).click();
    await waitText(O.locator('#org-round'), /Round 1 of 5-minute rounds: (5:00|4:5\d) left/);
    assert.deepEqual(api.requests.filter((r) => r.path === '/groups/WXYZ2WXYZ3/rounds').pop().body, { minutes: 5 });
    const a = await O.locator('#org-round').textContent();
    await until(async () => (await O.locator('#org-round').textContent()) !== a, 'the countdown to move', 3000);
    await shots(O, 'organiser-rounds');
    await checkA11y(O, 'organiser, rounds running');
    await O.getByRole('button', { name: 'Stop rounds' }).click();
    await waitText(O.locator('#org-round'), 'No timed rounds are running');
    assert.equal(api.requests.filter((r) => r.method === 'DELETE' && r.path === '/groups/WXYZ2WXYZ3/rounds').length, 1);
  });

  await t.test('closing the circle asks first, then says it is closed', async () => {
    await O.getByRole('button', { name: 'Close the circle' }).click();
    const d = O.getByRole('dialog', { name: /^Close “Book club \(Fridays\)”\?$/ });
    await visible(d);
    assert.equal(await O.evaluate(() => document.activeElement.textContent), 'Cancel');
    await d.getByRole('button', { name: 'Close the circle' }).click();
    await waitText(O.locator('#org-title'), 'is closed');
    await waitText(O.locator('#org-note'), 'The circle is closed and deleted');
    assert.equal(api.requests.filter((r) => r.method === 'DELETE' && r.path === '/groups/WXYZ2WXYZ3').length, 1);
    await checkA11y(O, 'organiser, circle closed');
  });

  await t.test('a missing, wrong or dead key gets a clear message', async () => {
    const B = await newPage('stranger', { mobile: true });
    await B.context.route(organizerRequest, api.handle);
    await B.page.goto(`${BASE}#organizer=not-the-key`);
    await waitText(B.page.locator('#org-error'), "doesn't match any circle");
    await screenshot(B.page, 'organiser-forbidden-mobile');
    await checkA11y(B.page, 'organiser, wrong key');
    await B.page.goto(`${BASE}#organizer=`);
    await waitText(B.page.locator('#org-error'), 'has no key');
    await B.page.goto(`${BASE}#organizer=${KEY}`); // that circle was closed above
    await waitText(B.page.locator('#org-error'), "doesn't exist any more");
    assert.equal(await B.page.locator('#org-body').isVisible(), false);
  });

  await t.test('no page errors', () => {
    assert.deepEqual(pages.flatMap((x) => x.errors), []);
  });
});
