//! Each WebSocket route's function timeout, as `template.yaml` gives it (its
//! tests check the two agree): the local emulator cuts a handler off there, as
//! Lambda would, and the join's own budget stays well inside it.

use std::time::Duration;

use super::ws::{BLOCK, FEEDBACK, JOIN_GROUP, KEEP_IN_TOUCH, LEAVE_ROOM, REPORT, RESUME, SIT_OUT};

/// The template's `Globals.Function.Timeout`.
pub const DEFAULT: Duration = Duration::from_secs(10);
/// `JoinGroupFunction` (`join_group`, `resume`, `sit_out`) and `LeaveRoomFunction`
/// (they pair, with retries).
pub const PAIRING: Duration = Duration::from_secs(20);

/// The timeout of the function that serves `route_key`.
pub fn route_timeout(route_key: &str) -> Duration {
    match route_key {
        JOIN_GROUP | RESUME | SIT_OUT | LEAVE_ROOM | BLOCK | REPORT | FEEDBACK | KEEP_IN_TOUCH => {
            PAIRING
        }
        _ => DEFAULT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_joins_budget_ends_well_inside_its_functions_timeout() {
        let budget = crate::Settings::default().join_budget;
        // A pairing's commit and its two posts fit in the margin.
        assert!(
            budget + Duration::from_secs(5) <= route_timeout(JOIN_GROUP),
            "{budget:?}"
        );
    }
}
