//! Race-free pairing on DynamoDB conditional writes: connect, join (lobby and
//! pairing), message relay, leave (with "next"), and disconnect.
//!
//! Every state change is one `TransactWriteItems` whose conditions name exactly the
//! state that was read, so concurrent Lambdas can only commit consistent changes:
//!
//! - a pairing deletes the waiter's lobby entry (condition: its `ticket`), moves
//!   the waiter's connection from `waiting` to `paired` (condition: `waiting` with
//!   that ticket) and the joiner's likewise (condition: the state read). Both
//!   records name each other and the room, or nothing changes (invariants 1, 2).
//! - a joiner who finds no compatible waiter enqueues itself, then re-reads the
//!   lobby with a strongly consistent Query and claims any compatible waiter it
//!   now sees. Of two people enqueuing at once, the later one's re-read sees the
//!   earlier one, so two compatible people are never both left waiting (3).
//! - the choice among compatible waiters is uniformly random (4); people who just
//!   ended a room avoid each other for `repeat_guard` (5), after which any join
//!   (a waiter's repeated `join_group` too) pairs them.
//! - a waiter whose connection is gone (410) is deleted and the joiner's record
//!   put back before anyone is told, and the join goes on (6).
//! - expired records are ignored on every read (7, 8).

mod join;
mod leave;
mod ops;
mod relay;

pub use join::{connect, join};
pub use leave::{disconnect, leave};
pub use ops::{Lobby, compatible, get_connection, read_lobby, send_error};
pub use relay::relay;
