//! zk-shell: the ZooKeeper client library, the shell's command layer and the cluster list.
//!
//! - [`client`]: the asynchronous client (sessions, reconnects, watches, pipelining).
//! - [`clusters`]: `clusters.toml`, shared with zk-top.
//!
//! The codec is `zk-proto`; this crate never encodes or decodes jute itself.

pub mod client;
pub mod clusters;
