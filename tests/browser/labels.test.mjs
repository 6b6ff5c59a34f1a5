// Labels in the page, against the real server: a circle created with labels on
// the create form, the join screen's label choice (required, a radio group),
// two members of different labels paired across, each chat header showing the
// partner's label, and the organiser's share of chats across labels and its
// edit form. Screenshots of the join screen with labels, desktop and mobile;
// axe-core on each new screen.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  BASE, CODE_RE, launch, newPage as open, screenshotter, waitText, visible, checkA11y, axeLog,
} from './helpers.mjs';

let browser;
const pages = [];
const shot = screenshotter('labels');

async function newPage(label, options) {
  const entry = await open(browser, label, { allow: /status of 4(00|04)/, ...options });
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

test('labels: create with labels, choose one, be paired across, see the partner’s label', { timeout: 300_000 }, async (t) => {
  const O = await newPage('organiser');
  const A = await newPage('ann');
  const B = await newPage('ben', { mobile: true });
  let code = '';
  let orgLink = '';

  await t.test('the create form takes labels and the mode', async () => {
    const p = O.page;
    await p.goto(BASE);
    await p.getByRole('button', { name: 'Create a circle' }).click();
    await visible(p.getByLabel('Name', { exact: true }));
    await p.getByLabel('Name', { exact: true }).fill('Mentoring');
    await p.getByLabel('Description').fill('Mentors meet mentees.');
    // Nine labels: the API's 400 is shown by the labels field.
    await p.locator('#c-labels').fill('a,b,c,d,e,f,g,h,i');
    await p.getByRole('button', { name: 'Create circle' }).click();
    await waitText(p.locator('#c-labels-err'), 'Labels at most 8 labels');
    assert.equal(await p.locator('#c-labels').getAttribute('aria-invalid'), 'true');
    await p.locator('#c-labels').fill('Mentor\nMentee');
    assert.equal(await p.getByRole('radio', { name: /Mix labels/ }).isChecked(), true, 'across by default');
    await shot.both(p, 'create-with-labels', { fullPage: true });
    await checkA11y(p, 'create with labels');
    await p.getByRole('button', { name: 'Create circle' }).click();
    await waitText(p.locator('#screen-created h1'), 'Your circle is ready');
    code = (await p.locator('#created-code').textContent()).trim();
    assert.match(code, CODE_RE);
    orgLink = await p.locator('#created-org-link').inputValue();
  });

  const invite = () => `${BASE}?code=${code}`;

  await t.test('the join screen asks for a label', async () => {
    const p = A.page;
    await p.goto(invite());
    await visible(p.getByRole('group', { name: 'Your label' }));
    assert.deepEqual(await p.getByRole('group', { name: 'Your label' }).getByRole('radio').evaluateAll((rs) => rs.map((r) => r.value)), ['Mentor', 'Mentee']);
    await p.getByLabel('Your name').fill('Ann');
    await p.getByRole('button', { name: 'Enter circle' }).click();
    await waitText(p.locator('#j-label-err'), 'Choose your label.');
    await shot.both(p, 'join-with-labels', { fullPage: true });
    await checkA11y(p, 'join with labels');
    await p.getByRole('radio', { name: 'Mentor' }).check();
    await p.getByRole('button', { name: 'Enter circle' }).click();
    await waitText(p.locator('#waiting-title'), 'Waiting for someone');
  });

  await t.test('a member of the other label is paired across and each sees the other’s label', async () => {
    const p = B.page;
    await p.goto(invite());
    await visible(p.getByRole('group', { name: 'Your label' }));
    await p.getByRole('radio', { name: 'Mentee' }).check();
    await p.getByLabel('Your name').fill('Ben');
    await p.getByRole('button', { name: 'Enter circle' }).click();
    await waitText(p.locator('#chat-title'), 'Chatting with Ann');
    await waitText(p.locator('#chat-label'), 'Label: Mentor');
    await waitText(A.page.locator('#chat-title'), 'Chatting with Ben');
    await waitText(A.page.locator('#chat-label'), 'Label: Mentee');
    await shot.both(A.page, 'chat-partner-label');
    await checkA11y(A.page, 'chat with a partner’s label');
  });

  await t.test('the organiser sees the share across labels and can edit the labels', async () => {
    const p = O.page;
    await p.goto(orgLink);
    await waitText(p.locator('#org-title'), 'Organise “Mentoring”');
    await waitText(p.locator('#st-labels'), '1 of 1 (100%)');
    assert.equal(await p.locator('#e-labels').inputValue(), 'Mentor\nMentee');
    await p.locator('#e-labels').fill('Mentor, Mentee, Alumni');
    await p.getByRole('radio', { name: /Keep labels together/ }).check();
    await p.getByRole('button', { name: 'Save changes' }).click();
    await waitText(p.locator('#org-note'), 'Saved');
    const view = await (await fetch(`${BASE}groups/${code}`)).json();
    assert.deepEqual(view.labels, ['Mentor', 'Mentee', 'Alumni']);
    assert.equal(view.label_mode, 'within');
    await shot.both(p, 'organiser-labels', { fullPage: true });
    await checkA11y(p, 'organiser with labels');
  });

  const errors = pages.flatMap((x) => x.errors);
  assert.deepEqual(errors, [], 'no page errors');
});
