//! Race-free pairing on DynamoDB conditional writes: connect, join (lobby and
//! pairing), message relay, leave/block/report (with "next"), disconnect with a
//! held seat, and resume.
//!
//! Every state change is one `TransactWriteItems` whose conditions name exactly
//! the state that was read, so concurrent Lambdas can only commit consistent
//! changes:
//!
//! - a pairing deletes the waiter's lobby entry (condition: it exists and was
//!   heard from within the presence window), moves the waiter's record from
//!   `waiting` to `paired` (condition: that ticket) and the joiner's likewise
//!   (condition: the state read), and writes the meeting into both member
//!   records (condition: neither removed nor blocking the other). Both records
//!   name each other and the room, or nothing changes (invariants 1, 2; a
//!   blocked pair can never commit).
//! - a joiner who finds no compatible waiter enqueues itself, then re-reads the
//!   lobby (strongly consistent) and claims any compatible waiter it now sees.
//!   Of two people enqueuing at once, the later one's re-read sees the earlier
//!   one, so two compatible people are never both left waiting (3). A read
//!   that shows a crowd hands the pairing to the circle's matchmaker instead
//!   (`matchmaker.rs`), which keeps the same rules without racing the crowd.
//! - never-met waiters come first, at random; else the one met longest ago (4, 5).
//! - a waiter whose connection is gone (410) is deleted and the joiner's record
//!   put back before anyone is told, and the join goes on (6).
//! - expired records are ignored on every read (7, 8).

//!
//! Files, in the order a join walks them: `join.rs` (who is joining, from
//! where) → `member.rs` (the joiner, its member record) and `prior.rs` (where
//! it was) → `seek.rs` (the loop) → `lobby.rs` (reading the lobby, removing
//! stale entries) → `claim.rs` (the pairing or the wait, one transaction each)
//! → `room.rs` (the new room, the meeting, the counters) → `notices.rs` (what
//! waiters are told); a crowd goes to `matchmaker.rs`. `relay.rs`, `leave.rs`,
//! `resume.rs`, `sit_out.rs` and `aftercare.rs` (`feedback`, `keep_in_touch`) are the other
//! actions, `recent.rs` the rooms they may name; `ops.rs` is the shared plumbing.

mod aftercare;
mod claim;
mod join;
mod labels;
mod leave;
mod lobby;
mod matchmaker;
mod member;
mod notices;
mod ops;
mod prior;
pub mod recent;
mod relay;
mod resume;
mod room;
mod seek;
mod sit_out;

pub use crate::rules::matching::{Seeker, compatible};
pub use aftercare::{feedback, forget_contacts, keep_in_touch};
pub(crate) use join::seek_for_round;
pub use join::{JoinRequest, connect, join};
pub(crate) use labels::{Share, of_record as label_of_record};
pub(crate) use leave::end_both;
pub use leave::{Ending, disconnect, end_room};
pub(crate) use lobby::{EntryRef, remove_entry};
pub(crate) use member::Joiner;
pub(crate) use notices::round_info;
pub use ops::{CLOSE_AFTER_STRIKES, STRIKE_GAP_MS, get_connection, send_error};
pub(crate) use ops::{Identity, send, tell_partner_left, to_paired};
pub(crate) use prior::Prior;
pub use relay::relay;
pub use resume::{expire_hold, resume};
pub use room::MET_CAP;
pub(crate) use room::{NewRoom, add_counts, member_met};
pub use sit_out::sit_out;
