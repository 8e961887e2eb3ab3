//! `org.apache.zookeeper.txn`, `...server.persistence` and `...server.quorum`: the transaction
//! records that go into the log, into proposals, and the quorum packet envelope.
//!
//! A transaction is a [`TxnHeader`] followed by one body chosen by `TxnHeader::txn_type` (an
//! opcode number); optionally followed by a [`TxnDigest`] (3.6+).

use crate::data::{Acl, Id};
use crate::jute::{Jute, Reader, Result};
use crate::jute_record;
use crate::ops::OpCode;
use crate::DecodeError;

jute_record! {
    pub struct TxnHeader {
        pub client_id: i64,
        pub cxid: i32,
        pub zxid: i64,
        pub time: i64,
        pub txn_type: i32,
    }
}

jute_record! {
    pub struct TxnDigest {
        pub version: i32,
        pub tree_digest: i64,
    }
}

jute_record! {
    pub struct CreateTxn {
        pub path: String,
        pub data: Option<Vec<u8>>,
        pub acl: Vec<Acl>,
        pub ephemeral: bool,
        pub parent_cversion: i32,
    }
}

jute_record! {
    pub struct CreateTtlTxn {
        pub path: String,
        pub data: Option<Vec<u8>>,
        pub acl: Vec<Acl>,
        pub parent_cversion: i32,
        pub ttl: i64,
    }
}

jute_record! {
    pub struct CreateContainerTxn {
        pub path: String,
        pub data: Option<Vec<u8>>,
        pub acl: Vec<Acl>,
        pub parent_cversion: i32,
    }
}

jute_record! {
    pub struct DeleteTxn {
        pub path: String,
    }
}

jute_record! {
    pub struct SetDataTxn {
        pub path: String,
        pub data: Option<Vec<u8>>,
        pub version: i32,
    }
}

jute_record! {
    pub struct CheckVersionTxn {
        pub path: String,
        pub version: i32,
    }
}

jute_record! {
    pub struct SetAclTxn {
        pub path: String,
        pub acl: Vec<Acl>,
        pub version: i32,
    }
}

jute_record! {
    pub struct CreateSessionTxn {
        pub timeout_ms: i32,
    }
}

jute_record! {
    pub struct CloseSessionTxn {
        pub paths_to_delete: Vec<String>,
    }
}

jute_record! {
    pub struct ErrorTxn {
        pub err: i32,
    }
}

jute_record! {
    /// One sub-transaction of a [`MultiTxn`]: its type and its encoded body.
    pub struct SubTxn {
        pub txn_type: i32,
        pub data: Vec<u8>,
    }
}

jute_record! {
    pub struct MultiTxn {
        pub txns: Vec<SubTxn>,
    }
}

jute_record! {
    pub struct FileHeader {
        pub magic: i32,
        pub version: i32,
        pub dbid: i64,
    }
}

jute_record! {
    pub struct LearnerInfo {
        pub server_id: i64,
        pub protocol_version: i32,
        pub config_version: i64,
    }
}

jute_record! {
    pub struct QuorumPacket {
        pub packet_type: i32,
        pub zxid: i64,
        pub data: Option<Vec<u8>>,
        /// Null (`None`) on every packet but REQUEST, which carries the session's identities.
        pub auth_info: Option<Vec<Id>>,
    }
}

/// A decoded transaction body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Txn {
    Create(CreateTxn),
    Create2(CreateTxn),
    CreateContainer(CreateContainerTxn),
    CreateTtl(CreateTtlTxn),
    Delete(DeleteTxn),
    DeleteContainer(DeleteTxn),
    SetData(SetDataTxn),
    SetAcl(SetAclTxn),
    Check(CheckVersionTxn),
    CreateSession(CreateSessionTxn),
    /// 3.6+ writes the paths to delete; an empty body is accepted for older logs.
    CloseSession(Option<CloseSessionTxn>),
    Error(ErrorTxn),
    Multi(Vec<Txn>),
}

impl Txn {
    pub fn op(&self) -> OpCode {
        match self {
            Txn::Create(_) => OpCode::CREATE,
            Txn::Create2(_) => OpCode::CREATE2,
            Txn::CreateContainer(_) => OpCode::CREATE_CONTAINER,
            Txn::CreateTtl(_) => OpCode::CREATE_TTL,
            Txn::Delete(_) => OpCode::DELETE,
            Txn::DeleteContainer(_) => OpCode::DELETE_CONTAINER,
            Txn::SetData(_) => OpCode::SET_DATA,
            Txn::SetAcl(_) => OpCode::SET_ACL,
            Txn::Check(_) => OpCode::CHECK,
            Txn::CreateSession(_) => OpCode::CREATE_SESSION,
            Txn::CloseSession(_) => OpCode::CLOSE_SESSION,
            Txn::Error(_) => OpCode::ERROR,
            Txn::Multi(_) => OpCode::MULTI,
        }
    }

    pub fn encode_body(&self, out: &mut Vec<u8>) {
        match self {
            Txn::Create(t) | Txn::Create2(t) => t.encode(out),
            Txn::CreateContainer(t) => t.encode(out),
            Txn::CreateTtl(t) => t.encode(out),
            Txn::Delete(t) | Txn::DeleteContainer(t) => t.encode(out),
            Txn::SetData(t) => t.encode(out),
            Txn::SetAcl(t) => t.encode(out),
            Txn::Check(t) => t.encode(out),
            Txn::CreateSession(t) => t.encode(out),
            Txn::CloseSession(t) => {
                if let Some(t) = t {
                    t.encode(out)
                }
            }
            Txn::Error(t) => t.encode(out),
            Txn::Multi(txns) => {
                let subs: Vec<SubTxn> = txns
                    .iter()
                    .map(|t| {
                        let mut data = Vec::new();
                        t.encode_body(&mut data);
                        SubTxn {
                            txn_type: t.op().0,
                            data,
                        }
                    })
                    .collect();
                MultiTxn { txns: subs }.encode(out)
            }
        }
    }

    /// Decodes a body of the given type. `r` must hold exactly the body (the digest, if any,
    /// is read by the caller).
    pub fn decode_body(txn_type: i32, r: &mut Reader<'_>) -> Result<Txn> {
        Ok(match OpCode(txn_type) {
            OpCode::CREATE => Txn::Create(CreateTxn::decode(r)?),
            OpCode::CREATE2 => Txn::Create2(CreateTxn::decode(r)?),
            OpCode::CREATE_CONTAINER => Txn::CreateContainer(CreateContainerTxn::decode(r)?),
            OpCode::CREATE_TTL => Txn::CreateTtl(CreateTtlTxn::decode(r)?),
            OpCode::DELETE => Txn::Delete(DeleteTxn::decode(r)?),
            OpCode::DELETE_CONTAINER => Txn::DeleteContainer(DeleteTxn::decode(r)?),
            OpCode::SET_DATA => Txn::SetData(SetDataTxn::decode(r)?),
            OpCode::SET_ACL => Txn::SetAcl(SetAclTxn::decode(r)?),
            OpCode::CHECK => Txn::Check(CheckVersionTxn::decode(r)?),
            OpCode::CREATE_SESSION => Txn::CreateSession(CreateSessionTxn::decode(r)?),
            OpCode::CLOSE_SESSION => {
                if r.is_empty() {
                    Txn::CloseSession(None)
                } else {
                    Txn::CloseSession(Some(CloseSessionTxn::decode(r)?))
                }
            }
            OpCode::ERROR => Txn::Error(ErrorTxn::decode(r)?),
            OpCode::MULTI => {
                let m = MultiTxn::decode(r)?;
                let mut txns = Vec::with_capacity(m.txns.len());
                for sub in m.txns {
                    // Apache's DataTree.processTxn rejects a multi inside a multi; refusing it
                    // here also bounds the recursion (12 bytes a level would otherwise
                    // overflow the stack well under jute.maxbuffer).
                    if sub.txn_type == OpCode::MULTI.0 {
                        return Err(DecodeError::invalid("txn", "a multi inside a multi"));
                    }
                    let mut sr = Reader::new(&sub.data);
                    txns.push(Txn::decode_body(sub.txn_type, &mut sr)?);
                }
                Txn::Multi(txns)
            }
            other => {
                return Err(DecodeError::invalid(
                    "txn",
                    format!("unsupported txn type {}", other.0),
                ))
            }
        })
    }
}
