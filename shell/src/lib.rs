//! zk-shell: the ZooKeeper client library, the shell's command layer and the cluster list.
//!
//! - [`client`]: the asynchronous client (sessions, reconnects, watches, pipelining).
//! - [`commands`]: the shell's commands: parse, execute, render (used by zksh and zk-top).
//! - [`clusters`]: `clusters.toml`, shared with zk-top.
//! - [`bench`]: `zksh bench`, the load generator (workloads, latency histograms, cleanup).
//!
//! The codec is `zk-proto`; this crate never encodes or decodes jute itself.

pub mod bench;
pub mod client;
pub mod clusters;
pub mod commands;
