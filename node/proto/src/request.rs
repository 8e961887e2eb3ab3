//! Typed client requests and responses: one enum each, decoded from / encoded to the bytes after
//! the [`RequestHeader`](crate::proto::RequestHeader) / [`ReplyHeader`](crate::proto::ReplyHeader).
//! The server decodes `Request` and encodes `Response`; the client does the opposite, with the
//! same types.

use crate::data::Stat;
use crate::jute::{Jute, Reader, Result, Writer};
use crate::ops::OpCode;
use crate::proto::*;
use crate::DecodeError;

/// One operation inside `multi` (14) or `multiRead` (22).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiOp {
    /// `op` is create (1), create2 (15) or createContainer (19).
    Create {
        op: OpCode,
        req: CreateRequest,
    },
    CreateTtl(CreateTtlRequest),
    Delete(DeleteRequest),
    SetData(SetDataRequest),
    Check(CheckVersionRequest),
    GetData(PathWatchRequest),
    GetChildren(PathWatchRequest),
}

impl MultiOp {
    pub fn op(&self) -> OpCode {
        match self {
            MultiOp::Create { op, .. } => *op,
            MultiOp::CreateTtl(_) => OpCode::CREATE_TTL,
            MultiOp::Delete(_) => OpCode::DELETE,
            MultiOp::SetData(_) => OpCode::SET_DATA,
            MultiOp::Check(_) => OpCode::CHECK,
            MultiOp::GetData(_) => OpCode::GET_DATA,
            MultiOp::GetChildren(_) => OpCode::GET_CHILDREN,
        }
    }

    pub fn path(&self) -> &str {
        match self {
            MultiOp::Create { req, .. } => &req.path,
            MultiOp::CreateTtl(r) => &r.path,
            MultiOp::Delete(r) => &r.path,
            MultiOp::SetData(r) => &r.path,
            MultiOp::Check(r) => &r.path,
            MultiOp::GetData(r) | MultiOp::GetChildren(r) => &r.path,
        }
    }

    pub fn is_read(&self) -> bool {
        matches!(self, MultiOp::GetData(_) | MultiOp::GetChildren(_))
    }

    fn encode_body(&self, out: &mut Vec<u8>) {
        match self {
            MultiOp::Create { req, .. } => req.encode(out),
            MultiOp::CreateTtl(r) => r.encode(out),
            MultiOp::Delete(r) => r.encode(out),
            MultiOp::SetData(r) => r.encode(out),
            MultiOp::Check(r) => r.encode(out),
            // multiRead sub-ops carry only the path in Apache's encoding of GetDataRequest and
            // GetChildrenRequest: path + watch flag.
            MultiOp::GetData(r) | MultiOp::GetChildren(r) => r.encode(out),
        }
    }

    fn body_len(&self) -> usize {
        match self {
            MultiOp::Create { req, .. } => req.encoded_len(),
            MultiOp::CreateTtl(r) => r.encoded_len(),
            MultiOp::Delete(r) => r.encoded_len(),
            MultiOp::SetData(r) => r.encoded_len(),
            MultiOp::Check(r) => r.encoded_len(),
            MultiOp::GetData(r) | MultiOp::GetChildren(r) => r.encoded_len(),
        }
    }
}

/// The terminator of a multi request or response.
const MULTI_END: MultiHeader = MultiHeader {
    op: -1,
    done: true,
    err: -1,
};

fn encode_multi_ops(ops: &[MultiOp], out: &mut Vec<u8>) {
    for op in ops {
        MultiHeader {
            op: op.op().0,
            done: false,
            err: -1,
        }
        .encode(out);
        op.encode_body(out);
    }
    MULTI_END.encode(out);
}

fn decode_multi_ops(r: &mut Reader<'_>) -> Result<Vec<MultiOp>> {
    let mut ops = Vec::new();
    loop {
        let h = MultiHeader::decode(r)?;
        if h.done {
            return Ok(ops);
        }
        let op = match OpCode(h.op) {
            o @ (OpCode::CREATE | OpCode::CREATE2 | OpCode::CREATE_CONTAINER) => MultiOp::Create {
                op: o,
                req: CreateRequest::decode(r)?,
            },
            OpCode::CREATE_TTL => MultiOp::CreateTtl(CreateTtlRequest::decode(r)?),
            OpCode::DELETE => MultiOp::Delete(DeleteRequest::decode(r)?),
            OpCode::SET_DATA => MultiOp::SetData(SetDataRequest::decode(r)?),
            OpCode::CHECK => MultiOp::Check(CheckVersionRequest::decode(r)?),
            OpCode::GET_DATA => MultiOp::GetData(PathWatchRequest::decode(r)?),
            OpCode::GET_CHILDREN => MultiOp::GetChildren(PathWatchRequest::decode(r)?),
            other => {
                return Err(DecodeError::invalid(
                    "multi",
                    format!("operation type {} is not allowed in a multi", other.0),
                ))
            }
        };
        ops.push(op);
    }
}

/// A decoded client request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `op` is create (1), create2 (15) or createContainer (19): same body, different reply.
    Create {
        op: OpCode,
        req: CreateRequest,
    },
    CreateTtl(CreateTtlRequest),
    Delete(DeleteRequest),
    Exists(PathWatchRequest),
    GetData(PathWatchRequest),
    SetData(SetDataRequest),
    GetAcl(PathRequest),
    SetAcl(SetAclRequest),
    GetChildren(PathWatchRequest),
    GetChildren2(PathWatchRequest),
    Sync(PathRequest),
    Ping,
    Check(CheckVersionRequest),
    Multi(Vec<MultiOp>),
    MultiRead(Vec<MultiOp>),
    Reconfig(ReconfigRequest),
    CheckWatches(WatchesRequest),
    RemoveWatches(WatchesRequest),
    /// Internal to the server; a client that sends it gets BadArguments. The body is kept raw.
    DeleteContainer(Vec<u8>),
    Auth(AuthPacket),
    SetWatches(SetWatches),
    SetWatches2(SetWatches2),
    Sasl(SaslRequest),
    GetEphemerals(PathRequest),
    GetAllChildrenNumber(PathRequest),
    AddWatch(AddWatchRequest),
    WhoAmI,
    CloseSession,
}

impl Request {
    pub fn op(&self) -> OpCode {
        match self {
            Request::Create { op, .. } => *op,
            Request::CreateTtl(_) => OpCode::CREATE_TTL,
            Request::Delete(_) => OpCode::DELETE,
            Request::Exists(_) => OpCode::EXISTS,
            Request::GetData(_) => OpCode::GET_DATA,
            Request::SetData(_) => OpCode::SET_DATA,
            Request::GetAcl(_) => OpCode::GET_ACL,
            Request::SetAcl(_) => OpCode::SET_ACL,
            Request::GetChildren(_) => OpCode::GET_CHILDREN,
            Request::GetChildren2(_) => OpCode::GET_CHILDREN2,
            Request::Sync(_) => OpCode::SYNC,
            Request::Ping => OpCode::PING,
            Request::Check(_) => OpCode::CHECK,
            Request::Multi(_) => OpCode::MULTI,
            Request::MultiRead(_) => OpCode::MULTI_READ,
            Request::Reconfig(_) => OpCode::RECONFIG,
            Request::CheckWatches(_) => OpCode::CHECK_WATCHES,
            Request::RemoveWatches(_) => OpCode::REMOVE_WATCHES,
            Request::DeleteContainer(_) => OpCode::DELETE_CONTAINER,
            Request::Auth(_) => OpCode::AUTH,
            Request::SetWatches(_) => OpCode::SET_WATCHES,
            Request::SetWatches2(_) => OpCode::SET_WATCHES2,
            Request::Sasl(_) => OpCode::SASL,
            Request::GetEphemerals(_) => OpCode::GET_EPHEMERALS,
            Request::GetAllChildrenNumber(_) => OpCode::GET_ALL_CHILDREN_NUMBER,
            Request::AddWatch(_) => OpCode::ADD_WATCH,
            Request::WhoAmI => OpCode::WHO_AM_I,
            Request::CloseSession => OpCode::CLOSE_SESSION,
        }
    }

    /// True for the operations that become transactions (go through the write pipeline).
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Request::Create { .. }
                | Request::CreateTtl(_)
                | Request::Delete(_)
                | Request::SetData(_)
                | Request::SetAcl(_)
                | Request::Check(_)
                | Request::Multi(_)
                | Request::Reconfig(_)
                | Request::DeleteContainer(_)
                | Request::CloseSession
        )
    }

    /// Decodes the body of a request with opcode `op`. Returns `Ok(None)` for an opcode this
    /// protocol does not know (the server answers Unimplemented).
    pub fn decode(op: OpCode, r: &mut Reader<'_>) -> Result<Option<Request>> {
        Ok(Some(match op {
            OpCode::CREATE | OpCode::CREATE2 | OpCode::CREATE_CONTAINER => Request::Create {
                op,
                req: CreateRequest::decode(r)?,
            },
            OpCode::CREATE_TTL => Request::CreateTtl(CreateTtlRequest::decode(r)?),
            OpCode::DELETE => Request::Delete(DeleteRequest::decode(r)?),
            OpCode::EXISTS => Request::Exists(PathWatchRequest::decode(r)?),
            OpCode::GET_DATA => Request::GetData(PathWatchRequest::decode(r)?),
            OpCode::SET_DATA => Request::SetData(SetDataRequest::decode(r)?),
            OpCode::GET_ACL => Request::GetAcl(PathRequest::decode(r)?),
            OpCode::SET_ACL => Request::SetAcl(SetAclRequest::decode(r)?),
            OpCode::GET_CHILDREN => Request::GetChildren(PathWatchRequest::decode(r)?),
            OpCode::GET_CHILDREN2 => Request::GetChildren2(PathWatchRequest::decode(r)?),
            OpCode::SYNC => Request::Sync(PathRequest::decode(r)?),
            OpCode::PING => Request::Ping,
            OpCode::CHECK => Request::Check(CheckVersionRequest::decode(r)?),
            OpCode::MULTI => Request::Multi(decode_multi_ops(r)?),
            OpCode::MULTI_READ => Request::MultiRead(decode_multi_ops(r)?),
            OpCode::RECONFIG => Request::Reconfig(ReconfigRequest::decode(r)?),
            OpCode::CHECK_WATCHES => Request::CheckWatches(WatchesRequest::decode(r)?),
            OpCode::REMOVE_WATCHES => Request::RemoveWatches(WatchesRequest::decode(r)?),
            OpCode::DELETE_CONTAINER => Request::DeleteContainer(r.take(r.remaining())?.to_vec()),
            OpCode::AUTH => Request::Auth(AuthPacket::decode(r)?),
            OpCode::SET_WATCHES => Request::SetWatches(SetWatches::decode(r)?),
            OpCode::SET_WATCHES2 => Request::SetWatches2(SetWatches2::decode(r)?),
            OpCode::SASL => Request::Sasl(SaslRequest::decode(r)?),
            OpCode::GET_EPHEMERALS => Request::GetEphemerals(PathRequest::decode(r)?),
            OpCode::GET_ALL_CHILDREN_NUMBER => {
                Request::GetAllChildrenNumber(PathRequest::decode(r)?)
            }
            OpCode::ADD_WATCH => Request::AddWatch(AddWatchRequest::decode(r)?),
            OpCode::WHO_AM_I => Request::WhoAmI,
            OpCode::CLOSE_SESSION => Request::CloseSession,
            _ => return Ok(None),
        }))
    }

    /// Encodes the body (without the request header).
    pub fn encode_body(&self, out: &mut Vec<u8>) {
        match self {
            Request::Create { req, .. } => req.encode(out),
            Request::CreateTtl(r) => r.encode(out),
            Request::Delete(r) => r.encode(out),
            Request::Exists(r)
            | Request::GetData(r)
            | Request::GetChildren(r)
            | Request::GetChildren2(r) => r.encode(out),
            Request::SetData(r) => r.encode(out),
            Request::GetAcl(r)
            | Request::Sync(r)
            | Request::GetEphemerals(r)
            | Request::GetAllChildrenNumber(r) => r.encode(out),
            Request::SetAcl(r) => r.encode(out),
            Request::Ping | Request::WhoAmI | Request::CloseSession => {}
            Request::Check(r) => r.encode(out),
            Request::Multi(ops) | Request::MultiRead(ops) => encode_multi_ops(ops, out),
            Request::Reconfig(r) => r.encode(out),
            Request::CheckWatches(r) | Request::RemoveWatches(r) => r.encode(out),
            Request::DeleteContainer(b) => out.put_bytes(b),
            Request::Auth(r) => r.encode(out),
            Request::SetWatches(r) => r.encode(out),
            Request::SetWatches2(r) => r.encode(out),
            Request::Sasl(r) => r.encode(out),
            Request::AddWatch(r) => r.encode(out),
        }
    }

    pub fn body_len(&self) -> usize {
        match self {
            Request::Multi(ops) | Request::MultiRead(ops) => {
                ops.iter().map(|o| 9 + o.body_len()).sum::<usize>() + 9
            }
            _ => {
                let mut v = Vec::new();
                self.encode_body(&mut v);
                v.len()
            }
        }
    }
}

/// One result inside a multi / multiRead response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MultiResult {
    /// Reported for create (1) and for create2 (15) inside a multi.
    Create {
        path: String,
    },
    /// Reported for createContainer and createTTL.
    Create2 {
        path: String,
        stat: Stat,
    },
    Delete,
    SetData {
        stat: Stat,
    },
    Check,
    GetData {
        data: Option<Vec<u8>>,
        stat: Stat,
    },
    GetChildren {
        children: Vec<String>,
    },
    Error {
        err: i32,
    },
}

impl MultiResult {
    fn header(&self) -> MultiHeader {
        let (op, err) = match self {
            MultiResult::Create { .. } => (1, 0),
            MultiResult::Create2 { .. } => (15, 0),
            MultiResult::Delete => (2, 0),
            MultiResult::SetData { .. } => (5, 0),
            MultiResult::Check => (13, 0),
            MultiResult::GetData { .. } => (4, 0),
            MultiResult::GetChildren { .. } => (8, 0),
            MultiResult::Error { err } => (-1, *err),
        };
        MultiHeader {
            op,
            done: false,
            err,
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        self.header().encode(out);
        match self {
            MultiResult::Create { path } => path.encode(out),
            MultiResult::Create2 { path, stat } => {
                path.encode(out);
                stat.encode(out);
            }
            MultiResult::Delete | MultiResult::Check => {}
            MultiResult::SetData { stat } => stat.encode(out),
            MultiResult::GetData { data, stat } => {
                data.encode(out);
                stat.encode(out);
            }
            MultiResult::GetChildren { children } => children.encode(out),
            MultiResult::Error { err } => out.put_i32(*err),
        }
    }

    fn decode(h: &MultiHeader, r: &mut Reader<'_>) -> Result<MultiResult> {
        Ok(match h.op {
            1 => MultiResult::Create {
                path: String::decode(r)?,
            },
            15 | 19 | 21 => MultiResult::Create2 {
                path: String::decode(r)?,
                stat: Stat::decode(r)?,
            },
            2 => MultiResult::Delete,
            5 => MultiResult::SetData {
                stat: Stat::decode(r)?,
            },
            13 => MultiResult::Check,
            4 => MultiResult::GetData {
                data: Option::<Vec<u8>>::decode(r)?,
                stat: Stat::decode(r)?,
            },
            8 => MultiResult::GetChildren {
                children: Vec::<String>::decode(r)?,
            },
            -1 => MultiResult::Error { err: r.i32()? },
            other => {
                return Err(DecodeError::invalid(
                    "multi result",
                    format!("unknown result type {other}"),
                ))
            }
        })
    }
}

/// A decoded response body (what follows a `ReplyHeader` with `err == 0`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Response {
    /// delete, sync-less ops with no body: setWatches, checkWatches, removeWatches, closeSession,
    /// ping, auth.
    Empty,
    Create(CreateResponse),
    Create2(Create2Response),
    /// exists, setData, setACL.
    Stat(Stat),
    GetData(GetDataResponse),
    GetAcl(GetAclResponse),
    GetChildren(GetChildrenResponse),
    GetChildren2(GetChildren2Response),
    Sync(PathRequest),
    Multi(Vec<MultiResult>),
    GetEphemerals(GetEphemeralsResponse),
    GetAllChildrenNumber(GetAllChildrenNumberResponse),
    /// addWatch answers with an `ErrorResponse{0}` body.
    AddWatch(ErrorResponse),
    WhoAmI(WhoAmIResponse),
    Sasl(SaslRequest),
}

impl Response {
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Response::Empty => {}
            Response::Create(r) => r.encode(out),
            Response::Create2(r) => r.encode(out),
            Response::Stat(s) => s.encode(out),
            Response::GetData(r) => r.encode(out),
            Response::GetAcl(r) => r.encode(out),
            Response::GetChildren(r) => r.encode(out),
            Response::GetChildren2(r) => r.encode(out),
            Response::Sync(r) => r.encode(out),
            Response::Multi(results) => {
                for res in results {
                    res.encode(out);
                }
                MULTI_END.encode(out);
            }
            Response::GetEphemerals(r) => r.encode(out),
            Response::GetAllChildrenNumber(r) => r.encode(out),
            Response::AddWatch(r) => r.encode(out),
            Response::WhoAmI(r) => r.encode(out),
            Response::Sasl(r) => r.encode(out),
        }
    }

    /// Decodes the body of a successful reply to a request with opcode `op` (client side).
    pub fn decode(op: OpCode, r: &mut Reader<'_>) -> Result<Response> {
        Ok(match op {
            OpCode::CREATE => Response::Create(CreateResponse::decode(r)?),
            OpCode::CREATE2 | OpCode::CREATE_CONTAINER | OpCode::CREATE_TTL => {
                Response::Create2(Create2Response::decode(r)?)
            }
            OpCode::EXISTS | OpCode::SET_DATA | OpCode::SET_ACL => Response::Stat(Stat::decode(r)?),
            // reconfig answers with the new configuration and the stat of /zookeeper/config.
            OpCode::GET_DATA | OpCode::RECONFIG => Response::GetData(GetDataResponse::decode(r)?),
            OpCode::GET_ACL => Response::GetAcl(GetAclResponse::decode(r)?),
            OpCode::GET_CHILDREN => Response::GetChildren(GetChildrenResponse::decode(r)?),
            OpCode::GET_CHILDREN2 => Response::GetChildren2(GetChildren2Response::decode(r)?),
            OpCode::SYNC => Response::Sync(PathRequest::decode(r)?),
            OpCode::MULTI | OpCode::MULTI_READ => {
                let mut results = Vec::new();
                loop {
                    let h = MultiHeader::decode(r)?;
                    if h.done {
                        break;
                    }
                    results.push(MultiResult::decode(&h, r)?);
                }
                Response::Multi(results)
            }
            OpCode::GET_EPHEMERALS => Response::GetEphemerals(GetEphemeralsResponse::decode(r)?),
            OpCode::GET_ALL_CHILDREN_NUMBER => {
                Response::GetAllChildrenNumber(GetAllChildrenNumberResponse::decode(r)?)
            }
            OpCode::ADD_WATCH => Response::AddWatch(ErrorResponse::decode(r)?),
            OpCode::WHO_AM_I => Response::WhoAmI(WhoAmIResponse::decode(r)?),
            OpCode::SASL => Response::Sasl(SaslRequest::decode(r)?),
            _ => {
                // Bodiless replies: delete, check, setWatches*, checkWatches, removeWatches,
                // closeSession, ping, auth.
                let _ = r.take(r.remaining())?;
                Response::Empty
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A successful reconfig reply carries the new configuration and the stat of
    /// /zookeeper/config (GetDataResponse); decoding it as bodiless lost both.
    #[test]
    fn reconfig_reply_decodes_as_get_data() {
        let body = GetDataResponse {
            data: Some(b"server.1=127.0.0.1:2888:3888:participant\nversion=100000000".to_vec()),
            stat: Stat::default(),
        };
        let bytes = body.to_bytes();
        let decoded = Response::decode(OpCode::RECONFIG, &mut Reader::new(&bytes)).unwrap();
        assert_eq!(decoded, Response::GetData(body));
    }
}
