// What Circle's browser tests share: Debian's chromium, pages, waits,
// screenshots, and axe-core checks (WCAG 2.1 A/AA and best practices, light and
// dark colour schemes). Never downloads a browser.

import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

export const BASE = (process.env.CIRCLE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '') + '/';
export const SCREENS = process.env.SCREENS_DIR || new URL('../artifacts/screens/', import.meta.url).pathname;
export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const T = 15_000; // the longest any single page state may take to appear
export const CODE_RE = /^[23456789ABCDEFGHJKMNPQRSTVWXYZ]{5}-[23456789ABCDEFGHJKMNPQRSTVWXYZ]{5}$/;
export const MEMBER_RE = /^[A-Za-z0-9_-]{24,64}$/;
export const AXE_TAGS = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'];

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

mkdirSync(SCREENS, { recursive: true });

export async function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
    ],
  });
}

// Screenshots are numbered in the order taken, prefixed by the test file's name.
// `shot.both(page, name)` takes the same state at the desktop and the mobile size
// (`fullPage`: the whole page, not just the viewport), then restores the page's size.
export function screenshotter(prefix) {
  let n = 0;
  const shot = async (page, name, options = {}) => {
    n += 1;
    await page.screenshot({ path: join(SCREENS, `${prefix}-${String(n).padStart(2, '0')}-${name}.png`), ...options });
  };
  shot.both = async (page, name, options = {}) => {
    const own = page.viewportSize();
    for (const [where, size] of [['desktop', DESKTOP], ['mobile', MOBILE]]) {
      await page.setViewportSize(size);
      await shot(page, `${name}-${where}`, options);
    }
    await page.setViewportSize(own);
  };
  return shot;
}

// Waits until `locator` (first match) is visible and its text contains `text`.
export async function waitText(locator, text, timeout = T) {
  await locator.filter({ hasText: text }).first().waitFor({ state: 'visible', timeout });
}

export async function visible(locator, timeout = T) {
  await locator.first().waitFor({ state: 'visible', timeout });
}

// Polls `fn` until it returns something truthy.
export async function until(fn, what, timeout = T) {
  const end = Date.now() + timeout;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export const DESKTOP = { width: 1280, height: 800 };
export const MOBILE = { width: 390, height: 844 };

// A fresh browser context and page; console errors and page errors are collected
// (expected HTTP error statuses are named by `allow`).
export async function newPage(browser, label, { mobile = false, routeSockets = null, init = null, allow = /status of 40[04]/ } = {}) {
  const context = await browser.newContext({
    viewport: mobile ? MOBILE : DESKTOP,
    deviceScaleFactor: 1,
    isMobile: mobile,
    hasTouch: mobile,
    locale: 'en-GB',
    timezoneId: 'UTC',
  });
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: new URL(BASE).origin });
  if (routeSockets) await context.routeWebSocket(/\/ws\b/, routeSockets);
  if (init) await context.addInitScript(init);
  const page = await context.newPage();
  page.setDefaultTimeout(T);
  const errors = [];
  page.on('pageerror', (e) => errors.push(`${label}: page error: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !allow.test(m.text())) errors.push(`${label}: console: ${m.text()}`);
  });
  return { label, page, context, errors };
}

// Every screen checked, for the summary line.
export const axeLog = [];

// Runs axe-core on the page as it is, in the light and the dark colour scheme, at
// a desktop and a phone-sized viewport, and fails on any violation.
export async function checkA11y(page, screen) {
  const found = [];
  const own = page.viewportSize();
  const sizes = own.width < 600 ? [['mobile', own], ['desktop', DESKTOP]] : [['desktop', own], ['mobile', MOBILE]];
  for (const [where, size] of sizes) {
    await page.setViewportSize(size);
    for (const colorScheme of ['light', 'dark']) {
      await page.emulateMedia({ colorScheme });
      // Evaluated, not added as an inline <script>: the page's CSP refuses those.
      if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE_SOURCE);
      const violations = await page.evaluate(async (tags) => {
        const r = await window.axe.run(document, { runOnly: { type: 'tag', values: tags }, resultTypes: ['violations'] });
        return r.violations.map((v) => `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
      }, AXE_TAGS);
      for (const v of violations) found.push(`${screen} [${where}, ${colorScheme}] ${v}`);
    }
  }
  await page.setViewportSize(own);
  await page.emulateMedia({ colorScheme: null });
  axeLog.push(`${screen}: ${found.length} violations (desktop and mobile, light and dark)`);
  assert.deepEqual(found, [], `axe found violations on "${screen}"`);
}

// Counts the oscillators the page starts (the "sound on match" tone).
export function countTones() {
  window.__tones = 0;
  const make = AudioContext.prototype.createOscillator;
  AudioContext.prototype.createOscillator = function createOscillator() {
    window.__tones += 1;
    return make.call(this);
  };
}

// Makes the page believe its tab is hidden (or visible again).
export async function setHidden(page, hidden) {
  await page.evaluate((h) => {
    if (h) {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    } else {
      delete document.hidden;
      delete document.visibilityState;
    }
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

// Tab `times` times and say whether focus stayed inside `selector` all along.
export async function focusStaysIn(page, selector, times = 12, shift = false) {
  for (let i = 0; i < times; i += 1) {
    await page.keyboard.press(shift ? 'Shift+Tab' : 'Tab');
    const inside = await page.evaluate((s) => !!document.activeElement && !!document.activeElement.closest(s), selector);
    if (!inside) return false;
  }
  return true;
}

const parse = (m) => { try { return JSON.parse(m); } catch { return m; } };

// Routes a context's sockets to the real server, keeping every frame each way.
// `refuse = true` makes new sockets fail at once (a network that is down).
// `hold = true` keeps new sockets from reaching the server (the page's frames
// wait) until `release()`: a network that is slow to come back.
export function recorder() {
  const rec = { frames: [], events: [], server: null, sockets: 0, refuse: false, hold: false, held: [] };
  const connect = (ws, queued = []) => {
    const server = ws.connectToServer();
    rec.server = server;
    server.onMessage((m) => { rec.events.push(parse(m)); ws.send(m); });
    ws.onMessage((m) => { rec.frames.push(parse(m)); server.send(m); });
    for (const m of queued) { rec.frames.push(parse(m)); server.send(m); }
  };
  rec.route = (ws) => {
    rec.sockets += 1;
    if (rec.refuse) { ws.close({ code: 4001, reason: 'the test refuses this connection' }); return; }
    if (!rec.hold) { connect(ws); return; }
    const held = { ws, queued: [] };
    ws.onMessage((m) => held.queued.push(m));
    rec.held.push(held);
  };
  // Lets held sockets through, with what their pages sent meanwhile.
  rec.release = () => {
    rec.hold = false;
    for (const { ws, queued } of rec.held.splice(0)) connect(ws, queued);
  };
  rec.joins = () => rec.frames.filter((f) => f && f.action === 'join_group');
  rec.actions = () => rec.frames.map((f) => f && f.action);
  rec.lastRoom = () => rec.events.filter((e) => e && e.event === 'join_room').pop();
  return rec;
}

// How long the server holds a dropped seat, and how long a round's "minute" lasts (run.sh sets both).
export const GRACE_S = Number(process.env.GRACE_S) || 30;
export const ROUND_MINUTE_S = Number(process.env.ROUND_MINUTE_S) || 60;

// A member's page joins through the invite link, as a person would.
export async function enterCircle(x, invite, name) {
  await x.page.goto(invite);
  await visible(x.page.locator('#preview h2'));
  await x.page.getByLabel('Your name').fill(name);
  await x.page.getByRole('button', { name: 'Enter circle' }).click();
}
