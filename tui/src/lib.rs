//! zk-top: watch many ZooKeeper clusters at once, live, in a terminal.
//!
//! Layout (state and drawing apart, as in the Elm architecture):
//! - [`config`]: which clusters to watch (`NAME=host:port,...` or `clusters.toml`).
//! - [`poll`]: one tokio task per server asking `srvr`/`mntr` (or the AdminServer) each
//!   interval under a timeout; pure parsers for the replies. Never changes a server.
//! - [`app`]: all state and `update(&mut State, Msg) -> Vec<Effect>`. No I/O, no clock.
//! - [`ui`]: draws a `&State`. Pure; tested on ratatui's `TestBackend`.
//! - [`run`]: the loop: terminal, input, pollers, effects; drains messages, then draws once
//!   at a capped frame rate.
//! - [`embedded`], [`shell`]: the local dev ensemble and the zksh pane, when their crates
//!   provide them.
//! - [`migration`]: runs `zk_shell::migrate` for the migration wizard (`app::wizard`).
//!
//! Nothing here writes to the screen except `run` through ratatui; logs go to a file.

pub mod app;
pub mod config;
pub mod embedded;
pub mod migration;
pub mod poll;
pub mod run;
pub mod shell;
pub mod term;
pub mod ui;
pub mod units;
pub mod zxid;
