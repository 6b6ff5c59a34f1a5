//! The storage layer: everything that talks to DynamoDB, and nothing above it.
//!
//! Read bottom-up (no module here imports one listed after it):
//!
//! | module | what |
//! |---|---|
//! | `error` | [`StoreError`], by what the caller does next |
//! | `attr` | [`Item`] and attribute constructors/readers |
//! | `keys` | where each record lives (pk/sk of each item kind), and the glossary of attribute names |
//! | `tables` | the tables' definitions ([`Table`], [`TableNames`]) |
//! | `metrics` | counters of every request and `@connections` call |
//! | `expr` | request builders with derived `#name`s |
//! | `client` | [`Store`]: get, batch get, update, put, delete, scan |
//! | `query` | one partition a page at a time |
//! | `tx` | transactions with named slots ([`Tx`], [`Slot`]) |

pub mod attr;
mod client;
mod error;
mod expr;
pub mod keys;
pub mod metrics;
mod query;
pub mod tables;
mod tx;

pub use attr::Item;
pub use client::Store;
pub use error::StoreError;
pub use query::{Page, QuerySpec, SkCond};
pub use tables::{Table, TableNames};
pub use tx::{Slot, Tx};
