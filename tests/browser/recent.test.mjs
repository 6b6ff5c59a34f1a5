// Recent chats in the page, against the real server: "Good chat?" after a
// chat ends, keep in touch from both sides (each sees the other's contact)
// and from one side only (nothing shown), reporting an earlier partner from
// the list while chatting with someone new, and the organiser's count per
// reported member. Screenshots at both sizes; axe on each new screen.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE, launch, newPage as open, screenshotter, waitText, visible, checkA11y, axeLog,
} from './helpers.mjs';

let browser;
const pages = [];
const shot = screenshotter('recent');

async function newPage(label, options) {
  const entry = await open(browser, label, { allow: /status of 4(00|04|29)/, ...options });
  pages.push(entry);
  return entry;
}

async function join(x, invite, name) {
  await x.page.goto(invite);
  await visible(x.page.locator('#preview h2'));
  await x.page.getByLabel('Your name').fill(name);
  await x.page.getByRole('button', { name: 'Enter circle' }).click();
}

// The Recent chats list, opened.
async function recent(page) {
  const panel = page.locator('#recent');
  await visible(panel);
  if (!(await panel.evaluate((d) => d.open))) await panel.locator('summary').click();
  return panel;
}

const item = (panel, name) => panel.locator('.recent-item').filter({ has: panel.page().locator('bdi', { hasText: name }) });

before(async () => {
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  if (axeLog.length) console.log(`# axe:\n#   ${axeLog.join('\n#   ')}`);
  for (const p of pages) assert.deepEqual(p.errors, [], `${p.label} had no page errors`);
});

test('recent chats: feedback, keep in touch, reporting an earlier partner', { timeout: 300_000 }, async (t) => {
  const created = await (await fetch(`${BASE}groups`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'Recent club', description: 'Chats worth keeping.' }),
  })).json();
  const { access_code: code, organizer_key: key } = created;
  const invite = `${BASE}?code=${code}`;
  const A = await newPage('ann');
  const B = await newPage('ben', { mobile: true });
  const C = await newPage('cy');

  await t.test('Ann and Ben pair; Ann asks to keep in touch, told first what happens', async () => {
    await join(A, invite, 'Ann');
    await waitText(A.page.locator('#waiting-title'), 'Waiting for someone');
    await join(B, invite, 'Ben');
    await waitText(A.page.locator('#chat-title'), 'Chatting with Ben');
    const panel = await recent(A.page);
    await item(panel, 'Ben').getByRole('button', { name: 'Keep in touch with Ben' }).click();
    const d = A.page.getByRole('dialog', { name: 'Keep in touch with Ben?' });
    await visible(d);
    await waitText(d, 'never shown to the organiser');
    await waitText(d, 'at most 10 minutes');
    await shot.both(A.page, 'keep-in-touch-dialog');
    await checkA11y(A.page, 'keep in touch dialog');
    await d.getByLabel(/Your contact/).fill('ann@example.org');
    await d.getByRole('button', { name: 'Ask to keep in touch' }).click();
    await waitText(item(panel, 'Ben'), 'Asked to keep in touch');
    // Ben hears nothing of it yet.
    assert.equal(await B.page.locator('.recent-contact').count(), 0);
  });

  await t.test('Ben leaves: "Good chat?" is asked; he rates it and asks to keep in touch too', async () => {
    const p = B.page;
    await p.getByRole('button', { name: 'Leave' }).click();
    await waitText(p.locator('#ended-text'), 'You left the chat');
    const panel = p.locator('#recent');
    await visible(panel.getByText('Good chat?'));
    assert.equal(await panel.evaluate((d) => d.open), true, 'the list opens after a chat');
    await shot.both(p, 'chat-ended-good-chat');
    await checkA11y(p, 'chat ended with Recent chats');
    await panel.getByRole('button', { name: 'Good', exact: true }).click();
    await waitText(panel, 'Thanks for rating this chat');
    await item(panel, 'Ann').getByRole('button', { name: 'Keep in touch with Ann' }).click();
    const d = p.getByRole('dialog', { name: 'Keep in touch with Ann?' });
    await d.getByLabel(/Your contact/).fill('ben on signal');
    await d.getByRole('button', { name: 'Ask to keep in touch' }).click();
    await waitText(panel.locator('.recent-contact'), 'ann@example.org');
    const annSide = await recent(A.page);
    await waitText(annSide.locator('.recent-contact'), 'ben on signal');
    await shot.both(p, 'contact-received');
  });

  await t.test('Ann waits for someone new with Recent chats on the waiting screen', async () => {
    const p = A.page;
    await p.getByRole('button', { name: 'Find someone new' }).click();
    await waitText(p.locator('#waiting-title'), /Waiting|Looking/);
    const panel = await recent(p);
    await visible(item(panel, 'Ben'));
    await shot.both(p, 'waiting-recent');
    await checkA11y(p, 'waiting with Recent chats');
  });

  await t.test('chatting with Cy, Ann reports Ben from Recent chats', async () => {
    await join(C, invite, 'Cy');
    await waitText(A.page.locator('#chat-title'), 'Chatting with Cy');
    const p = A.page;
    const panel = await recent(p);
    await item(panel, 'Ben').getByRole('button', { name: 'Report Ben' }).click();
    const d = p.getByRole('dialog', { name: 'Report Ben' });
    await visible(d);
    await d.getByLabel(/What happened/).fill('Rude after the chat');
    await d.getByRole('button', { name: 'Send report' }).click();
    await waitText(p.locator('#status'), 'your report was sent');
    await waitText(item(panel, 'Ben'), 'Reported.');
    // The chat with Cy goes on.
    await waitText(p.locator('#chat-title'), 'Chatting with Cy');
    await shot.both(p, 'chat-with-recent');
    await checkA11y(p, 'chat with Recent chats');
  });

  await t.test('keep in touch from one side only shows nothing to the other', async () => {
    const panel = await recent(C.page);
    await item(panel, 'Ann').getByRole('button', { name: 'Keep in touch with Ann' }).click();
    const d = C.page.getByRole('dialog', { name: 'Keep in touch with Ann?' });
    await d.getByRole('button', { name: 'Ask to keep in touch' }).click();
    await waitText(item(panel, 'Ann'), 'Asked to keep in touch');
    const annSide = await recent(A.page);
    assert.equal(await item(annSide, 'Cy').locator('.recent-contact').count(), 0);
  });

  await t.test('the organiser sees the report and the count per reported member', async () => {
    const O = await newPage('organiser');
    const p = O.page;
    await p.goto(`${BASE}#organizer=${key}`);
    await waitText(p.locator('#org-title'), 'Recent club');
    await waitText(p.locator('#org-counts'), '1 report');
    await waitText(p.locator('#org-reports'), 'Rude after the chat');
    const body = await p.locator('#screen-organizer').textContent();
    assert.equal(body.includes('ann@example.org'), false, 'no contact in the organiser view');
    await shot.both(p, 'organiser-reports-counts', { fullPage: true });
    await checkA11y(p, 'organiser reports with counts');
  });
});
