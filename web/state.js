// The page's shared mutable state, in one object: the session, the socket's
// phase, the current room and round. Modules read and write it; none keeps a
// copy. Each module's private state (timers, the organiser view) stays in it.

export const DEFAULT_GRACE_S = 30; // how long a dropped seat is held for `resume`

export const state = {
  screen: 'home',  // the screen shown (data-screen)
  session: null,   // { code, name, group, circle, member }
  // idle | connecting | joining | waiting | break | chat | resuming | ended | dropped | closed
  phase: 'idle',
  // The current room, or the last one once it ended (block and report still reach it):
  // { id, user, partner: { name, id }, resume, prompt, endsAt, msgs, endedAt, away, safety }
  room: null,
  round: null,     // { number, minutes, endsAt } while timed rounds run (endsAt on our clock)
  skewMs: 0,       // the server's clock minus ours, learnt from `round`
  graceS: DEFAULT_GRACE_S,
  lastCount: null, // the lobby count last heard
};

// An ISO time from the server as a time on our clock.
export function serverTime(iso) {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? 0 : t - state.skewMs;
}

// The timed round being counted down, if any.
export const activeRound = () => (state.round && state.round.endsAt > 0 ? state.round : null);
