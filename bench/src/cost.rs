//! AWS cost per 1,000 chats from per-action request counts. A chat: two
//! connections, two joins, 20 messages each way, one leave, two disconnects.
//! docs/cost.md shows the same arithmetic by hand.

use serde::Serialize;

use crate::report::PhaseReport;

/// On-demand prices, US East, USD.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Prices {
    pub apigw_per_million_messages: f64,
    pub apigw_per_million_connection_minutes: f64,
    pub lambda_per_gb_second: f64,
    pub lambda_per_million_requests: f64,
    pub ddb_per_million_write_units: f64,
    pub ddb_per_million_read_units: f64,
}

pub const PRICES: Prices = Prices {
    apigw_per_million_messages: 1.00,
    apigw_per_million_connection_minutes: 0.25,
    lambda_per_gb_second: 0.000_013_333_4,
    lambda_per_million_requests: 0.20,
    ddb_per_million_write_units: 0.625,
    ddb_per_million_read_units: 0.125,
};

/// What the counters cannot tell: Lambda size and durations on AWS, how long a
/// connection stays open.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Assumptions {
    pub lambda_memory_mb: f64,
    pub connect_ms: f64,
    pub join_ms: f64,
    pub message_ms: f64,
    pub leave_ms: f64,
    pub disconnect_ms: f64,
    pub connection_minutes_per_connection: f64,
    /// Count `$connect` and `$disconnect` as billed messages (the pricing page
    /// does not say they are free; counting them is the cautious choice).
    pub connect_disconnect_are_messages: bool,
}

pub const ASSUMPTIONS: Assumptions = Assumptions {
    lambda_memory_mb: 128.0,
    connect_ms: 15.0,
    join_ms: 40.0,
    message_ms: 25.0,
    leave_ms: 30.0,
    disconnect_ms: 20.0,
    connection_minutes_per_connection: 5.0,
    connect_disconnect_are_messages: true,
};

/// One action's counted cost.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ActionCost {
    pub ddb_requests: f64,
    pub read_units: f64,
    pub write_units: f64,
    /// `@connections` posts (each a billed outbound message).
    pub posts: f64,
}

impl From<&PhaseReport> for ActionCost {
    fn from(p: &PhaseReport) -> Self {
        Self {
            ddb_requests: p.per_action.ddb_requests,
            read_units: p.per_action.read_units,
            write_units: p.per_action.write_units,
            posts: p.per_action.gateway_posts,
        }
    }
}

/// Per-action costs for the five actions of a chat.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ActionCosts {
    pub connect: ActionCost,
    pub join: ActionCost,
    pub message: ActionCost,
    pub leave: ActionCost,
    pub disconnect: ActionCost,
}

/// Usage and dollars per 1,000 chats.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct ChatCost {
    pub apigw_messages: f64,
    pub connection_minutes: f64,
    pub lambda_requests: f64,
    pub lambda_gb_seconds: f64,
    pub ddb_requests: f64,
    pub read_units: f64,
    pub write_units: f64,
    pub usd_apigw_messages: f64,
    pub usd_apigw_connection_minutes: f64,
    pub usd_lambda_requests: f64,
    pub usd_lambda_duration: f64,
    pub usd_ddb_writes: f64,
    pub usd_ddb_reads: f64,
    pub usd_total: f64,
}

/// Counts of each action in one chat.
const CONNECTS: f64 = 2.0;
const JOINS: f64 = 2.0;
const MESSAGES: f64 = 40.0;
const LEAVES: f64 = 1.0;
const DISCONNECTS: f64 = 2.0;

pub fn per_thousand_chats(c: &ActionCosts, a: &Assumptions, p: &Prices) -> ChatCost {
    let sum = |f: fn(&ActionCost) -> f64| {
        CONNECTS * f(&c.connect)
            + JOINS * f(&c.join)
            + MESSAGES * f(&c.message)
            + LEAVES * f(&c.leave)
            + DISCONNECTS * f(&c.disconnect)
    };
    let chats = 1000.0;
    let inbound = JOINS
        + MESSAGES
        + LEAVES
        + if a.connect_disconnect_are_messages {
            CONNECTS + DISCONNECTS
        } else {
            0.0
        };
    let apigw_messages = chats * (inbound + sum(|x| x.posts));
    let connection_minutes = chats * CONNECTS * a.connection_minutes_per_connection;
    let lambda_requests = chats * (CONNECTS + JOINS + MESSAGES + LEAVES + DISCONNECTS);
    let lambda_ms = CONNECTS * a.connect_ms
        + JOINS * a.join_ms
        + MESSAGES * a.message_ms
        + LEAVES * a.leave_ms
        + DISCONNECTS * a.disconnect_ms;
    let lambda_gb_seconds = chats * lambda_ms / 1000.0 * a.lambda_memory_mb / 1024.0;
    let read_units = chats * sum(|x| x.read_units);
    let write_units = chats * sum(|x| x.write_units);
    let m = |n: f64, per_million: f64| n / 1e6 * per_million;
    let mut out = ChatCost {
        apigw_messages,
        connection_minutes,
        lambda_requests,
        lambda_gb_seconds,
        ddb_requests: chats * sum(|x| x.ddb_requests),
        read_units,
        write_units,
        usd_apigw_messages: m(apigw_messages, p.apigw_per_million_messages),
        usd_apigw_connection_minutes: m(connection_minutes, p.apigw_per_million_connection_minutes),
        usd_lambda_requests: m(lambda_requests, p.lambda_per_million_requests),
        usd_lambda_duration: lambda_gb_seconds * p.lambda_per_gb_second,
        usd_ddb_writes: m(write_units, p.ddb_per_million_write_units),
        usd_ddb_reads: m(read_units, p.ddb_per_million_read_units),
        usd_total: 0.0,
    };
    out.usd_total = out.usd_apigw_messages
        + out.usd_apigw_connection_minutes
        + out.usd_lambda_requests
        + out.usd_lambda_duration
        + out.usd_ddb_writes
        + out.usd_ddb_reads;
    out
}

/// The costs the run measured, when it had every phase a chat needs.
pub fn from_phases(phases: &[PhaseReport]) -> Option<ActionCosts> {
    let find = |name: &str| phases.iter().find(|p| p.name == name && p.actions > 0);
    Some(ActionCosts {
        connect: find("connect")?.into(),
        join: find("join (burst)")?.into(),
        message: find("message")?.into(),
        leave: find("leave")?.into(),
        disconnect: find("disconnect")?.into(),
    })
}

pub fn print(c: &ChatCost) {
    println!(
        "\ncost per 1,000 chats (2 joins, 20 messages each way, 1 leave; this run's counts; Lambda {} MB, {} min per connection, see docs/cost.md):",
        ASSUMPTIONS.lambda_memory_mb, ASSUMPTIONS.connection_minutes_per_connection
    );
    println!(
        "  API Gateway {:.0} messages ${:.4} + {:.0} connection-minutes ${:.4}; Lambda {:.0} requests ${:.4} + {:.1} GB-s ${:.4}; DynamoDB {:.0} requests, {:.0} WRU ${:.4} + {:.0} RRU ${:.4}; total ${:.4}",
        c.apigw_messages,
        c.usd_apigw_messages,
        c.connection_minutes,
        c.usd_apigw_connection_minutes,
        c.lambda_requests,
        c.usd_lambda_requests,
        c.lambda_gb_seconds,
        c.usd_lambda_duration,
        c.ddb_requests,
        c.write_units,
        c.usd_ddb_writes,
        c.read_units,
        c.usd_ddb_reads,
        c.usd_total
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The uncontended per-action counts of the core's `request_costs` test.
    fn sequential() -> ActionCosts {
        let a = |ddb_requests, read_units, write_units, posts| ActionCost {
            ddb_requests,
            read_units,
            write_units,
            posts,
        };
        ActionCosts {
            connect: a(1.0, 0.0, 1.0, 0.0),
            // One join waits (4 requests, 3 RRU, 4 WRU, 1 post), the other pairs
            // (3 requests, 2 RRU, 6 WRU, 2 posts): the mean of the two.
            join: a(3.5, 2.5, 5.0, 1.5),
            message: a(1.0, 0.5, 0.0, 2.0),
            leave: a(2.0, 1.0, 4.0, 1.0),
            disconnect: a(2.0, 1.0, 1.0, 0.0),
        }
    }

    #[test]
    fn matches_the_hand_arithmetic_in_docs_cost_md() {
        let c = per_thousand_chats(&sequential(), &ASSUMPTIONS, &PRICES);
        // 47 inbound (2 + 40 + 1 + 4) + 84 posts (3 + 80 + 1) per chat.
        assert!((c.apigw_messages - 131_000.0).abs() < 1e-6);
        assert!((c.lambda_requests - 47_000.0).abs() < 1e-6);
        assert!((c.write_units - 18_000.0).abs() < 1e-6);
        assert!((c.read_units - 28_000.0).abs() < 1e-6);
        assert!((c.ddb_requests - 55_000.0).abs() < 1e-6);
        // 2*15 + 2*40 + 40*25 + 30 + 2*20 = 1180 ms at 0.125 GB.
        assert!((c.lambda_gb_seconds - 147.5).abs() < 1e-9);
        assert!(
            (c.usd_total - 0.159_616_676_5).abs() < 1e-9,
            "{}",
            c.usd_total
        );
    }
}
