//! Helpers shared by the shell's integration tests.
#![allow(dead_code)]

pub mod apache;
pub mod proxy;
pub mod script;
