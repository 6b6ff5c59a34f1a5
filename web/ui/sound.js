// "Sound on match": a tone, and the title flashing while the tab is hidden.

import { $ } from '../lib/dom.js';
import { store } from '../lib/storage.js';

const TITLE = document.title;
let audio = null;
let titleTimer = 0;
const notifyOn = () => store.get('circle.notify') === 'on';

// Browsers let a page make sound only after a click: make the context then.
// `force`: for the alerts' own "Play a sound" (ui/alerts.js).
export function primeAudio(force = false) {
  if (!notifyOn() && !force) return;
  try {
    audio = audio || new (window.AudioContext || window.webkitAudioContext)();
    if (audio.state === 'suspended') audio.resume().catch(() => {});
  } catch {
    audio = null;
  }
}

export function tone(force = false) {
  primeAudio(force);
  if (!audio) return;
  const t0 = audio.currentTime + 0.02;
  [660, 880].forEach((hz, i) => {
    const o = audio.createOscillator();
    const g = audio.createGain();
    const t = t0 + i * 0.16;
    o.type = 'sine';
    o.frequency.value = hz;
    g.gain.setValueAtTime(0.0001, t);
    g.gain.exponentialRampToValueAtTime(0.2, t + 0.02);
    g.gain.exponentialRampToValueAtTime(0.0001, t + 0.15);
    o.connect(g).connect(audio.destination);
    o.start(t);
    o.stop(t + 0.16);
  });
}

export const flashing = () => titleTimer !== 0;

export function stopFlash() {
  clearInterval(titleTimer);
  titleTimer = 0;
  document.title = TITLE;
}

export function alertMatch(name) {
  if (!notifyOn()) return;
  tone();
  if (!document.hidden) return;
  const text = `Paired with ${name} · ${TITLE}`;
  let on = true;
  document.title = text;
  clearInterval(titleTimer);
  titleTimer = setInterval(() => { on = !on; document.title = on ? text : TITLE; }, 1000);
}

$('notify').checked = notifyOn();
$('notify').addEventListener('change', (e) => {
  store.set('circle.notify', e.target.checked ? 'on' : 'off');
  primeAudio();
});
