//! zk-node: a ZooKeeper 3.8 compatible server.
//!
//! Owns: the DataTree and its semantics ([`tree`], pure), the request pipeline and the client
//! protocol surface ([`server`], tokio; with the operations surface: four-letter words,
//! AdminServer, Prometheus metrics), storage ([`storage`]), configuration ([`config`], and
//! Apache's zoo.cfg in [`zoocfg`]), logging ([`logging`]) and the local development ensemble
//! ([`dev`]).
//!
//! Never: answers a write before the log says it is durable; lets one client's bad input stop
//! another client's service; panics on input from the network.

pub mod config;
pub mod dev;
pub mod logging;
pub mod server;
pub mod storage;
pub mod tree;
pub mod zab;
pub mod zoocfg;

pub use config::Config;
pub use server::{run, Server};
