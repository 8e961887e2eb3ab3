//! Short constructors for `zk_proto::Request`s, for raw-client tests.

use zk_proto::proto::*;
use zk_proto::{Acl, MultiOp, OpCode, Request};

/// `OPEN_ACL_UNSAFE`.
pub fn open_acl() -> Vec<Acl> {
    Acl::open_unsafe()
}

/// create (opcode 1) with the open ACL.
pub fn create(path: &str, data: Option<&[u8]>, flags: i32) -> Request {
    create_op(OpCode::CREATE, path, data, open_acl(), flags)
}

/// create2 (opcode 15) with the open ACL.
pub fn create2(path: &str, data: Option<&[u8]>, flags: i32) -> Request {
    create_op(OpCode::CREATE2, path, data, open_acl(), flags)
}

/// createContainer (opcode 19) with the open ACL.
pub fn create_container(path: &str, data: Option<&[u8]>) -> Request {
    create_op(OpCode::CREATE_CONTAINER, path, data, open_acl(), 4)
}

/// Any of create (1), create2 (15), createContainer (19).
pub fn create_op(
    op: OpCode,
    path: &str,
    data: Option<&[u8]>,
    acl: Vec<Acl>,
    flags: i32,
) -> Request {
    Request::Create {
        op,
        req: create_request(path, data, acl, flags),
    }
}

pub fn create_request(path: &str, data: Option<&[u8]>, acl: Vec<Acl>, flags: i32) -> CreateRequest {
    CreateRequest {
        path: path.to_string(),
        data: data.map(<[u8]>::to_vec),
        acl,
        flags,
    }
}

/// createTTL (opcode 21) with the open ACL.
pub fn create_ttl(path: &str, data: Option<&[u8]>, flags: i32, ttl: i64) -> Request {
    Request::CreateTtl(create_ttl_request(path, data, flags, ttl))
}

pub fn create_ttl_request(
    path: &str,
    data: Option<&[u8]>,
    flags: i32,
    ttl: i64,
) -> CreateTtlRequest {
    CreateTtlRequest {
        path: path.to_string(),
        data: data.map(<[u8]>::to_vec),
        acl: open_acl(),
        flags,
        ttl,
    }
}

pub fn delete(path: &str, version: i32) -> Request {
    Request::Delete(DeleteRequest {
        path: path.to_string(),
        version,
    })
}

fn pw(path: &str, watch: bool) -> PathWatchRequest {
    PathWatchRequest {
        path: path.to_string(),
        watch,
    }
}

pub fn exists(path: &str, watch: bool) -> Request {
    Request::Exists(pw(path, watch))
}

pub fn get_data(path: &str, watch: bool) -> Request {
    Request::GetData(pw(path, watch))
}

pub fn get_children(path: &str, watch: bool) -> Request {
    Request::GetChildren(pw(path, watch))
}

pub fn get_children2(path: &str, watch: bool) -> Request {
    Request::GetChildren2(pw(path, watch))
}

pub fn set_data(path: &str, data: Option<&[u8]>, version: i32) -> Request {
    Request::SetData(SetDataRequest {
        path: path.to_string(),
        data: data.map(<[u8]>::to_vec),
        version,
    })
}

fn path_req(path: &str) -> PathRequest {
    PathRequest {
        path: path.to_string(),
    }
}

pub fn get_acl(path: &str) -> Request {
    Request::GetAcl(path_req(path))
}

pub fn set_acl(path: &str, acl: Vec<Acl>, version: i32) -> Request {
    Request::SetAcl(SetAclRequest {
        path: path.to_string(),
        acl,
        version,
    })
}

pub fn sync(path: &str) -> Request {
    Request::Sync(path_req(path))
}

pub fn get_ephemerals(prefix: &str) -> Request {
    Request::GetEphemerals(path_req(prefix))
}

pub fn get_all_children_number(path: &str) -> Request {
    Request::GetAllChildrenNumber(path_req(path))
}

pub fn check(path: &str, version: i32) -> Request {
    Request::Check(CheckVersionRequest {
        path: path.to_string(),
        version,
    })
}

pub fn check_watches(path: &str, watcher_type: i32) -> Request {
    Request::CheckWatches(WatchesRequest {
        path: path.to_string(),
        watcher_type,
    })
}

pub fn remove_watches(path: &str, watcher_type: i32) -> Request {
    Request::RemoveWatches(WatchesRequest {
        path: path.to_string(),
        watcher_type,
    })
}

pub fn add_watch(path: &str, mode: i32) -> Request {
    Request::AddWatch(AddWatchRequest {
        path: path.to_string(),
        mode,
    })
}

pub fn auth(scheme: &str, auth: &[u8]) -> Request {
    Request::Auth(AuthPacket {
        auth_type: 0,
        scheme: scheme.to_string(),
        auth: auth.to_vec(),
    })
}

pub fn digest_auth(user_password: &str) -> Request {
    auth("digest", user_password.as_bytes())
}

pub fn multi(ops: Vec<MultiOp>) -> Request {
    Request::Multi(ops)
}

pub fn multi_read(ops: Vec<MultiOp>) -> Request {
    Request::MultiRead(ops)
}

pub fn set_watches(rel: i64, data: &[&str], exist: &[&str], child: &[&str]) -> Request {
    Request::SetWatches(SetWatches {
        relative_zxid: rel,
        data_watches: strings(data),
        exist_watches: strings(exist),
        child_watches: strings(child),
    })
}

pub fn set_watches2(
    rel: i64,
    data: &[&str],
    exist: &[&str],
    child: &[&str],
    persistent: &[&str],
    recursive: &[&str],
) -> Request {
    Request::SetWatches2(SetWatches2 {
        relative_zxid: rel,
        data_watches: strings(data),
        exist_watches: strings(exist),
        child_watches: strings(child),
        persistent_watches: strings(persistent),
        persistent_recursive_watches: strings(recursive),
    })
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// Multi sub-operations.
pub mod m {
    use super::*;

    pub fn create(path: &str, data: Option<&[u8]>, flags: i32) -> MultiOp {
        MultiOp::Create {
            op: OpCode::CREATE,
            req: create_request(path, data, open_acl(), flags),
        }
    }

    pub fn create_op(
        op: OpCode,
        path: &str,
        data: Option<&[u8]>,
        acl: Vec<Acl>,
        flags: i32,
    ) -> MultiOp {
        MultiOp::Create {
            op,
            req: create_request(path, data, acl, flags),
        }
    }

    pub fn create_ttl(path: &str, data: Option<&[u8]>, flags: i32, ttl: i64) -> MultiOp {
        MultiOp::CreateTtl(create_ttl_request(path, data, flags, ttl))
    }

    pub fn delete(path: &str, version: i32) -> MultiOp {
        MultiOp::Delete(DeleteRequest {
            path: path.to_string(),
            version,
        })
    }

    pub fn set_data(path: &str, data: Option<&[u8]>, version: i32) -> MultiOp {
        MultiOp::SetData(SetDataRequest {
            path: path.to_string(),
            data: data.map(<[u8]>::to_vec),
            version,
        })
    }

    pub fn check(path: &str, version: i32) -> MultiOp {
        MultiOp::Check(CheckVersionRequest {
            path: path.to_string(),
            version,
        })
    }

    pub fn get_data(path: &str) -> MultiOp {
        MultiOp::GetData(pw(path, false))
    }

    pub fn get_children(path: &str) -> MultiOp {
        MultiOp::GetChildren(pw(path, false))
    }
}
