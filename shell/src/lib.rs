//! zk-shell: the ZooKeeper client library, the shell's command layer and the cluster list.
//!
//! - [`client`]: the asynchronous client (sessions, reconnects, watches, pipelining).
//! - [`commands`]: the shell's commands: parse, execute, render (used by zksh and zk-top).
//! - [`clusters`]: `clusters.toml`, shared with zk-top.
//! - [`migrate`]: the migration engine (plan, preflight, copy, catch-up, verify, cutover,
//!   rollback), driven by `zksh migrate` and zk-top's wizard.
//! - [`bench`]: `zksh bench`, the load generator (workloads, latency histograms, cleanup).
//!
//! The codec is `zk-proto`; this crate never encodes or decodes jute itself.

pub mod bench;
pub mod client;
pub mod clusters;
pub mod commands;
pub mod migrate;
