//! Route handlers over typed events: the Lambdas and the local stack call these
//! very functions, so the two worlds differ only in endpoints and credentials.

pub mod http;
pub mod timeouts;
pub mod timer;
pub mod ws;
