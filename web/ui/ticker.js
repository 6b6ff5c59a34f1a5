// The once-a-second refresh (countdowns, how long block and report stay
// offered): screens register their part, `tick` runs them all.

const parts = [];

export function onTick(part) {
  parts.push(part);
}

export function tick() {
  for (const part of parts) part();
}
