//! zk-proto: the ZooKeeper 3.8 client wire protocol, written once for the server (`zk-node`),
//! the client (`zk-shell`) and the tests.
//!
//! Owns: jute primitives ([`jute`]), the records of `zookeeper.jute` ([`data`], [`proto`],
//! [`txn`]), typed requests and responses ([`request`]), opcodes, error codes and watch enums
//! ([`ops`]), frames ([`frame`]), the session password generator ([`session`]), and the peer
//! protocol: election notifications and typed quorum packets ([`quorum`]).
//!
//! Never: does I/O, depends on tokio, reads a clock, or panics on input. Every decoder is
//! bounds-checked and returns [`DecodeError`].

pub mod data;
pub mod frame;
pub mod jute;
pub mod ops;
pub mod proto;
pub mod quorum;
pub mod request;
pub mod session;
pub mod txn;

pub use data::{perms, Acl, Id, Stat, StatPersisted};
pub use jute::{DecodeError, Jute, Reader};
pub use ops::{CreateMode, ErrorCode, OpCode};
pub use request::{MultiOp, MultiResult, Request, Response};

/// A zxid: epoch in the high 32 bits, counter in the low 32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Zxid(pub i64);

impl Zxid {
    pub fn new(epoch: u32, counter: u32) -> Zxid {
        Zxid(((epoch as i64) << 32) | counter as i64)
    }
    pub fn epoch(self) -> u32 {
        (self.0 >> 32) as u32
    }
    pub fn counter(self) -> u32 {
        self.0 as u32
    }
}

impl std::fmt::Display for Zxid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "0x{:x}", self.0)
    }
}
