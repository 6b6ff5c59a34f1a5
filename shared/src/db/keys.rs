//! Where every record lives: the partition and sort keys of each item kind, in
//! one place. The groups table holds everything of a circle, spread over
//! partitions so that no single key carries a whole circle's traffic:
//!
//! | item | pk | sk |
//! |---|---|---|
//! | circle (found by its code) | `CODE#{code}` | `CIRCLE` |
//! | circle pointer (by stable id) | `C#{cid}` | `CIRCLE` |
//! | round-robin roster | `C#{cid}` | `ROSTER` |
//! | matchmaker lease | `C#{cid}` | `MATCH` |
//! | organiser key index | `ORG#{hash}` | `ORG` |
//! | lobby entry | `L#{cid}#{shard}` | `W#{ticket}` |
//! | member | `M#{cid}#{0..16}` | `{member_id}` |
//! | report (one per reporter and room) | `R#{cid}` | `{room}#{reporter's pid}` |
//! | reports naming one member (a count) | `RN#{cid}` | `{member_id}` |
//! | a side's feedback was counted (no rating, no member) | `FB#{cid}` | `{room}#{pid}` |
//! | keep in touch: a room's two slots, until delivered or 10 min | `K#{cid}` | `{room}` |
//! | counters | `S#{cid}#{0..8}` | `STATS` |
//! | a seat held for resume | `AWAY#{room}` | `{pid}` |
//! | circles created by an address this hour | `RL#{hash}#{hour}` | `RL` |
//! | HTTP API requests from an address this minute | `RQ#{hash}#{minute}` | `RQ` |
//! | sockets opened from an address this epoch (2 h 15 min) | `SOCK#{hash}#{epoch}` | `SOCK` |
//! | a replaced code or a closed circle's code (tombstone) | `TOMB#{hash}` | `TOMB` |
//! | activity: counts of a 5-minute bucket; feedback of a round | `A#{cid}` | `B#{start:010}`; `R#{round:05}` |
//!
//! A listed circle's item also carries `lk` = `LISTED` and `lt` =
//! `{expires_at:010}.{tag}`: the keys of the groups table's sparse `listed`
//! index, which holds listed circles only (`GET /groups`, newest first).
//!
//! Connections are keyed by `connection_id` in their own table; its `by_circle`
//! index (hash `ck` = `{cid}#{0..8}`) lists a circle's connections.
//!
//! # Glossary
//!
//! Items keep attribute names short (every byte is stored and read); the code
//! uses the long names. "Circle" is the code's word for what the protocol and
//! the HTTP paths call a group (`join_group`, `/groups`); the table is `Groups`.
//!
//! | short | long | on |
//! |---|---|---|
//! | `cid` | circle id: stable for the circle's life (a code can change) | most items |
//! | `mid` | member id: keyed hash of the member secret, per circle | member, entry, connection |
//! | `pid` | participant id: one side of one room, all the partner ever sees of you | connection, seat |
//! | `okh` | organiser key hash | circle |
//! | `ck` | presence key `{cid}#{shard}`, the `by_circle` index's hash key | connection |
//! | `cexp` | the circle's `expires_at`, copied onto a connection | connection |
//! | `thr` | throttled until (epoch ms): every instance refuses until then | connection |
//! | `ths` | strikes: throttle marks in a row (each within 10 s of the last); the connection is closed at 10 | connection |
//! | `lk`, `lt` | the `listed` index's keys: `LISTED`, and `{expires_at:010}.{tag}` (sorts by age) | listed circle |
//! | `rh` | resume hash: keyed hash of the room's resume token | connection, seat |
//! | `rnd` | the round a room belongs to (0: none) | connection |
//! | `paway` | the partner's seat is held until (epoch ms) | connection |
//! | `r0` … `r4` | recent rooms, newest first (a shift register); each a map: `rm` room, `p` own pid, `m`/`n`/`c` partner's member id, name, connection, `rnd` round, `u` until (epoch ms) | connection |
//! | `reports` | reports naming the member | report count |
//! | `s_{pid}` | one side's keep-in-touch line: `c` contact, `conn` connection, `at` (epoch ms) | keep in touch |
//! | `avoid`, `avoid_until` | the repeat guard: the member just left, until when | connection, entry |
//! | `nt` | next notice: a lobby-count notice is not sent before it | entry |
//! | `told` | the lobby count last told | entry |
//! | `seen`, `since` | last heard from; entered the lobby (epoch ms) | entry |
//! | `fresh` | a new member (no history), for the matchmaker's crowd test | entry |
//! | `labels`, `lmode` | the circle's labels and label mode (`across`, `within`) | circle |
//! | `label` | the label chosen at the join | connection, entry |
//! | `lx`, `lw` | chats across labels, within a label | counters |
//! | `ron`, `rmin`, `rends` | rounds on; round minutes; the round ends at (epoch ms) | circle |
//! | `ver` | the circle item's version, for a code change | circle |
//! | `rwarn` | the round whose `round_ending` warning went out (sent once) | circle |
//! | `sit` | `sit_out` is on: left out of rounds and lobby pairing (1; absent: off) | connection |
//! | `rec` | the away record a held seat restores | seat |
//! | `sched`, `base` | the roster still follows its schedule; the round it started at | roster |
//! | `holder`, `until` | the matchmaker run holding the lease, until when | matchmaker lease |
//! | `j`, `ch`, `g`, `mh` | joins, chats, `good` and `meh` ratings counted (never who) | activity bucket, round feedback |
//! | `ann` | no announcement before (epoch ms) | announcement limit (`C#{cid}` / `ANNOUNCE`) |
//! | `why`, `ev` | what became of the code (`code_changed`, `circle_closed`); its connections were evicted | tombstone |
//! | `closed` | the circle was closed (the organiser key index kept as a tombstone, without `cid`) | organiser key index |

use super::Item;
use super::attr::s;

/// Sort key of a circle item and of its pointer.
pub const CIRCLE_SK: &str = "CIRCLE";
/// Sort key of a circle's round-robin roster.
pub const ROSTER_SK: &str = "ROSTER";
/// Sort key of a counter shard.
pub const STATS_SK: &str = "STATS";
/// Sort-key prefix of a lobby entry (`W#{ticket}`).
pub const ENTRY_PREFIX: &str = "W#";
/// Partition-key prefix of a circle item (`CODE#{code}`).
pub const CODE_PREFIX: &str = "CODE#";

/// Member records of a circle are spread over this many partitions.
pub const MEMBER_SHARDS: u32 = 16;
/// Counter shards: a pairing bumps one at random.
pub const STATS_SHARDS: u32 = 8;
/// Shards of the connections table's `by_circle` index.
pub const PRESENCE_SHARDS: u32 = 8;
/// The `by_circle` index on the connections table.
pub const BY_CIRCLE_INDEX: &str = "by_circle";
/// The sparse `listed` index on the groups table: listed circles only.
pub const LISTED_INDEX: &str = "listed";
/// The `listed` index's one partition key value (`lk`): a listing is one Query.
pub const LISTED: &str = "LISTED";

fn key(pk: String, sk: impl Into<String>) -> Item {
    Item::from([("pk".into(), s(pk)), ("sk".into(), s(sk.into()))])
}

/// A small stable hash (FNV-1a) for spreading ids over shards; not a secret.
pub fn shard_of(id: &str, shards: u32) -> u32 {
    let h = id.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    (h % u64::from(shards.max(1))) as u32
}

/// A circle, found by its code: `CODE#{code}` / `CIRCLE`.
pub fn circle(code: &str) -> Item {
    key(format!("{CODE_PREFIX}{code}"), CIRCLE_SK)
}

/// The pointer from a circle's stable id to its current code: `C#{cid}` / `CIRCLE`.
pub fn pointer(cid: &str) -> Item {
    key(format!("C#{cid}"), CIRCLE_SK)
}

/// A circle's round-robin roster: `C#{cid}` / `ROSTER`.
pub fn roster(cid: &str) -> Item {
    key(format!("C#{cid}"), ROSTER_SK)
}

/// The lease of a circle's matchmaker run (`pairing::matchmaker`).
pub fn matchmaker(cid: &str) -> Item {
    key(format!("C#{cid}"), "MATCH")
}

/// The organiser key index: `ORG#{key_hash}` / `ORG`.
pub fn organizer(key_hash: &str) -> Item {
    key(format!("ORG#{key_hash}"), "ORG")
}

/// The partition key of one lobby shard: `L#{cid}#{shard}`.
pub fn lobby_pk(cid: &str, shard: u32) -> String {
    format!("L#{cid}#{shard}")
}

/// A lobby entry: `L#{cid}#{shard}` / `W#{ticket}`.
pub fn entry(cid: &str, shard: u32, ticket: &str) -> Item {
    key(lobby_pk(cid, shard), format!("{ENTRY_PREFIX}{ticket}"))
}

/// The partition key a member record lives in: `M#{cid}#{n}`, `n` the shard of `mid`.
pub fn member_pk(cid: &str, mid: &str) -> String {
    format!("M#{cid}#{}", shard_of(mid, MEMBER_SHARDS))
}

/// A member record: `M#{cid}#{n}` / `{mid}`.
pub fn member(cid: &str, mid: &str) -> Item {
    key(member_pk(cid, mid), mid)
}

/// The partition key of a circle's reports: `R#{cid}`.
pub fn reports_pk(cid: &str) -> String {
    format!("R#{cid}")
}

/// A report: `R#{cid}` / `{room}#{pid}`, one per reporter (its side of the
/// room) and room.
pub fn report(cid: &str, room: &str, pid: &str) -> Item {
    key(reports_pk(cid), format!("{room}#{pid}"))
}

/// A report's key from its sort key (a page cursor).
pub fn report_at(cid: &str, sk: &str) -> Item {
    key(reports_pk(cid), sk)
}

/// The partition of a circle's counts per reported member: `RN#{cid}`.
pub fn report_counts_pk(cid: &str) -> String {
    format!("RN#{cid}")
}

/// The count of reports naming `mid`: `RN#{cid}` / `{mid}`.
pub fn report_count(cid: &str, mid: &str) -> Item {
    key(report_counts_pk(cid), mid)
}

/// The partition of a circle's feedback marks: `FB#{cid}`.
pub fn feedback_pk(cid: &str) -> String {
    format!("FB#{cid}")
}

/// One side's feedback mark (that it rated; never what): `FB#{cid}` / `{room}#{pid}`.
pub fn feedback_mark(cid: &str, room: &str, pid: &str) -> Item {
    key(feedback_pk(cid), format!("{room}#{pid}"))
}

/// The partition of a circle's keep-in-touch items: `K#{cid}`.
pub fn keep_in_touch_pk(cid: &str) -> String {
    format!("K#{cid}")
}

/// A room's keep-in-touch item: `K#{cid}` / `{room}`.
pub fn keep_in_touch(cid: &str, room: &str) -> Item {
    key(keep_in_touch_pk(cid), room)
}

/// One shard of a circle's counters: `S#{cid}#{shard}` / `STATS`.
pub fn stats(cid: &str, shard: u32) -> Item {
    key(format!("S#{cid}#{shard}"), STATS_SK)
}

/// The partition key of a room's held seats: `AWAY#{room}`.
pub fn away_pk(room: &str) -> String {
    format!("AWAY#{room}")
}

/// A seat held for resume: `AWAY#{room}` / `{pid}`.
pub fn away(room: &str, pid: &str) -> Item {
    key(away_pk(room), pid)
}

/// Circles created from one address in one hour: `RL#{addr_hash}#{hour}` / `RL`, `hour` being
/// epoch seconds / 3600.
pub fn create_limit(addr_hash: &str, hour: i64) -> Item {
    key(format!("RL#{addr_hash}#{hour}"), "RL")
}

/// A listed circle's sort key in the `listed` index (`lt`): its expiry, so the
/// newest sort last and the expired fall below a key condition, then a random
/// `tag` that orders circles expiring the same second. Holds no code or id.
pub fn listing_key(expires_at: i64, tag: &str) -> String {
    format!("{expires_at:010}.{tag}")
}

/// HTTP API requests from one address in one minute: `RQ#{addr_hash}#{minute}` /
/// `RQ`, `minute` being epoch seconds / 60.
pub fn request_count(addr_hash: &str, minute: i64) -> Item {
    key(format!("RQ#{addr_hash}#{minute}"), "RQ")
}

/// Sockets opened from one address in one epoch (the `edge` module):
/// `SOCK#{addr_hash}#{epoch}` / `SOCK`.
pub fn socket_count(addr_hash: &str, epoch: i64) -> Item {
    key(format!("SOCK#{addr_hash}#{epoch}"), "SOCK")
}

/// A tombstone of a code that no longer admits anyone: `TOMB#{code_hash}` /
/// `TOMB`, `code_hash` the code's keyed hash (never the code itself).
pub fn tombstone(code_hash: &str) -> Item {
    key(format!("TOMB#{code_hash}"), "TOMB")
}

/// Sort-key prefix of an activity bucket (`B#{start:010}`).
pub const BUCKET_PREFIX: &str = "B#";
/// Sort-key prefix of a round's feedback counts (`R#{round:05}`).
pub const ROUND_PREFIX: &str = "R#";

/// The partition of a circle's activity counts: `A#{cid}`.
pub fn activity_pk(cid: &str) -> String {
    format!("A#{cid}")
}

/// A circle's counts for the 5-minute bucket starting at `start` (epoch
/// seconds): `A#{cid}` / `B#{start:010}`.
pub fn activity_bucket(cid: &str, start: i64) -> Item {
    key(activity_pk(cid), format!("{BUCKET_PREFIX}{start:010}"))
}

/// A circle's feedback counts of one round: `A#{cid}` / `R#{round:05}`.
pub fn activity_round(cid: &str, round: u32) -> Item {
    key(activity_pk(cid), format!("{ROUND_PREFIX}{round:05}"))
}

/// When a circle's next announcement may go: `C#{cid}` / `ANNOUNCE`.
pub fn announce_limit(cid: &str) -> Item {
    key(format!("C#{cid}"), "ANNOUNCE")
}

/// A connection record's key in the connections table: `connection_id`.
pub fn connection(id: &str) -> Item {
    Item::from([("connection_id".into(), s(id))])
}

/// The `by_circle` hash key of a connection in a circle.
pub fn presence_key(cid: &str, conn_id: &str) -> String {
    format!("{cid}#{}", shard_of(conn_id, PRESENCE_SHARDS))
}

/// What kind of item a partition key belongs to (for metrics that must not
/// show access codes or ids).
pub fn kind_of(pk: &str) -> &str {
    pk.split('#').next().unwrap_or(pk)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_spread_and_are_stable() {
        let mut seen = [0u32; 16];
        for i in 0..1600 {
            seen[shard_of(&format!("m{i}"), 16) as usize] += 1;
        }
        assert!(seen.iter().all(|n| (50..=150).contains(n)), "{seen:?}");
        assert_eq!(shard_of("abc", 8), shard_of("abc", 8));
        assert_eq!(kind_of("CODE#ABC"), "CODE");
    }
}
