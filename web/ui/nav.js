// Which screen is shown, and where focus goes when it changes.

import { $, setStatus } from '../lib/dom.js';
import { state } from '../state.js';
import { tick } from './ticker.js';

const focusOf = {
  create: () => $('c-name'),
  join: () => ($('j-code').value ? $('j-name') : $('j-code')),
  chat: () => $('msg'),
  trouble: () => $('rejoin-btn'),
};

const leaving = [];

// `hook(name)` runs on every `show(name)`, before focus moves.
export function onShow(hook) {
  leaving.push(hook);
}

export function show(name) {
  for (const s of document.querySelectorAll('.screen')) s.hidden = s.dataset.screen !== name;
  const changed = state.screen !== name;
  state.screen = name;
  document.body.dataset.screen = name;
  setStatus('');
  for (const hook of leaving) hook(name);
  if (changed) {
    const f = focusOf[name] ? focusOf[name]() : document.querySelector(`#screen-${name} h1`);
    f && f.focus();
    window.scrollTo(0, 0);
  }
  tick();
}
