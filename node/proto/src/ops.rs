//! Opcodes (`ZooDefs.OpCode`), error codes (`KeeperException.Code`), create modes and the watch
//! enums, as numbers on the wire.

use std::fmt;

/// A request opcode. Unknown numbers are kept so the server can answer them as Apache does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OpCode(pub i32);

impl OpCode {
    pub const NOTIFICATION: OpCode = OpCode(0);
    pub const CREATE: OpCode = OpCode(1);
    pub const DELETE: OpCode = OpCode(2);
    pub const EXISTS: OpCode = OpCode(3);
    pub const GET_DATA: OpCode = OpCode(4);
    pub const SET_DATA: OpCode = OpCode(5);
    pub const GET_ACL: OpCode = OpCode(6);
    pub const SET_ACL: OpCode = OpCode(7);
    pub const GET_CHILDREN: OpCode = OpCode(8);
    pub const SYNC: OpCode = OpCode(9);
    pub const PING: OpCode = OpCode(11);
    pub const GET_CHILDREN2: OpCode = OpCode(12);
    pub const CHECK: OpCode = OpCode(13);
    pub const MULTI: OpCode = OpCode(14);
    pub const CREATE2: OpCode = OpCode(15);
    pub const RECONFIG: OpCode = OpCode(16);
    pub const CHECK_WATCHES: OpCode = OpCode(17);
    pub const REMOVE_WATCHES: OpCode = OpCode(18);
    pub const CREATE_CONTAINER: OpCode = OpCode(19);
    pub const DELETE_CONTAINER: OpCode = OpCode(20);
    pub const CREATE_TTL: OpCode = OpCode(21);
    pub const MULTI_READ: OpCode = OpCode(22);
    pub const AUTH: OpCode = OpCode(100);
    pub const SET_WATCHES: OpCode = OpCode(101);
    pub const SASL: OpCode = OpCode(102);
    pub const GET_EPHEMERALS: OpCode = OpCode(103);
    pub const GET_ALL_CHILDREN_NUMBER: OpCode = OpCode(104);
    pub const SET_WATCHES2: OpCode = OpCode(105);
    pub const ADD_WATCH: OpCode = OpCode(106);
    pub const WHO_AM_I: OpCode = OpCode(107);
    pub const CREATE_SESSION: OpCode = OpCode(-10);
    pub const CLOSE_SESSION: OpCode = OpCode(-11);
    pub const ERROR: OpCode = OpCode(-1);

    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "notification",
            1 => "create",
            2 => "delete",
            3 => "exists",
            4 => "getData",
            5 => "setData",
            6 => "getACL",
            7 => "setACL",
            8 => "getChildren",
            9 => "sync",
            11 => "ping",
            12 => "getChildren2",
            13 => "check",
            14 => "multi",
            15 => "create2",
            16 => "reconfig",
            17 => "checkWatches",
            18 => "removeWatches",
            19 => "createContainer",
            20 => "deleteContainer",
            21 => "createTTL",
            22 => "multiRead",
            100 => "auth",
            101 => "setWatches",
            102 => "sasl",
            103 => "getEphemerals",
            104 => "getAllChildrenNumber",
            105 => "setWatches2",
            106 => "addWatch",
            107 => "whoAmI",
            -10 => "createSession",
            -11 => "closeSession",
            -1 => "error",
            _ => "unknown",
        }
    }
}

impl fmt::Display for OpCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

/// `KeeperException.Code`. `Ok` is 0; everything else is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ErrorCode(pub i32);

impl ErrorCode {
    pub const OK: ErrorCode = ErrorCode(0);
    pub const SYSTEM_ERROR: ErrorCode = ErrorCode(-1);
    pub const RUNTIME_INCONSISTENCY: ErrorCode = ErrorCode(-2);
    pub const DATA_INCONSISTENCY: ErrorCode = ErrorCode(-3);
    pub const CONNECTION_LOSS: ErrorCode = ErrorCode(-4);
    pub const MARSHALLING_ERROR: ErrorCode = ErrorCode(-5);
    pub const UNIMPLEMENTED: ErrorCode = ErrorCode(-6);
    pub const OPERATION_TIMEOUT: ErrorCode = ErrorCode(-7);
    pub const BAD_ARGUMENTS: ErrorCode = ErrorCode(-8);
    pub const UNKNOWN_SESSION: ErrorCode = ErrorCode(-12);
    pub const NEW_CONFIG_NO_QUORUM: ErrorCode = ErrorCode(-13);
    pub const RECONFIG_IN_PROGRESS: ErrorCode = ErrorCode(-14);
    pub const API_ERROR: ErrorCode = ErrorCode(-100);
    pub const NO_NODE: ErrorCode = ErrorCode(-101);
    pub const NO_AUTH: ErrorCode = ErrorCode(-102);
    pub const BAD_VERSION: ErrorCode = ErrorCode(-103);
    pub const NO_CHILDREN_FOR_EPHEMERALS: ErrorCode = ErrorCode(-108);
    pub const NODE_EXISTS: ErrorCode = ErrorCode(-110);
    pub const NOT_EMPTY: ErrorCode = ErrorCode(-111);
    pub const SESSION_EXPIRED: ErrorCode = ErrorCode(-112);
    pub const INVALID_CALLBACK: ErrorCode = ErrorCode(-113);
    pub const INVALID_ACL: ErrorCode = ErrorCode(-114);
    pub const AUTH_FAILED: ErrorCode = ErrorCode(-115);
    pub const SESSION_MOVED: ErrorCode = ErrorCode(-118);
    pub const NOT_READ_ONLY: ErrorCode = ErrorCode(-119);
    pub const EPHEMERAL_ON_LOCAL_SESSION: ErrorCode = ErrorCode(-120);
    pub const NO_WATCHER: ErrorCode = ErrorCode(-121);
    pub const REQUEST_TIMEOUT: ErrorCode = ErrorCode(-122);
    pub const RECONFIG_DISABLED: ErrorCode = ErrorCode(-123);
    pub const SESSION_CLOSED_REQUIRE_SASL_AUTH: ErrorCode = ErrorCode(-124);
    pub const QUOTA_EXCEEDED: ErrorCode = ErrorCode(-125);
    pub const THROTTLED_OP: ErrorCode = ErrorCode(-127);

    pub fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// Apache's name for the code (`KeeperException.Code`), e.g. `NONODE`.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "OK",
            -1 => "SYSTEMERROR",
            -2 => "RUNTIMEINCONSISTENCY",
            -3 => "DATAINCONSISTENCY",
            -4 => "CONNECTIONLOSS",
            -5 => "MARSHALLINGERROR",
            -6 => "UNIMPLEMENTED",
            -7 => "OPERATIONTIMEOUT",
            -8 => "BADARGUMENTS",
            -12 => "UNKNOWNSESSION",
            -13 => "NEWCONFIGNOQUORUM",
            -14 => "RECONFIGINPROGRESS",
            -100 => "APIERROR",
            -101 => "NONODE",
            -102 => "NOAUTH",
            -103 => "BADVERSION",
            -108 => "NOCHILDRENFOREPHEMERALS",
            -110 => "NODEEXISTS",
            -111 => "NOTEMPTY",
            -112 => "SESSIONEXPIRED",
            -113 => "INVALIDCALLBACK",
            -114 => "INVALIDACL",
            -115 => "AUTHFAILED",
            -118 => "SESSIONMOVED",
            -119 => "NOTREADONLY",
            -120 => "EPHEMERALONLOCALSESSION",
            -121 => "NOWATCHER",
            -122 => "REQUESTTIMEOUT",
            -123 => "RECONFIGDISABLED",
            -124 => "SESSIONCLOSEDREQUIRESASLAUTH",
            -125 => "QUOTAEXCEEDED",
            -127 => "THROTTLEDOP",
            _ => "UNKNOWN",
        }
    }

    /// A sentence for people, in the words Apache's `KeeperException` uses.
    pub fn describe(self) -> &'static str {
        match self.0 {
            0 => "ok",
            -2 => "a previous operation in the transaction failed",
            -4 => "connection lost",
            -5 => "the request could not be marshalled",
            -6 => "operation not implemented by the server",
            -7 => "operation timed out",
            -8 => "bad arguments",
            -101 => "node does not exist",
            -102 => "not authorized",
            -103 => "version does not match",
            -108 => "ephemeral nodes may not have children",
            -110 => "node already exists",
            -111 => "node has children",
            -112 => "session expired",
            -114 => "invalid ACL",
            -115 => "authentication failed",
            -118 => "session moved to another server",
            -119 => "server is read-only",
            -121 => "no such watcher",
            -123 => "reconfig is disabled",
            -125 => "quota exceeded",
            _ => "error",
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

/// Create mode flags (`CreateMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CreateMode {
    Persistent = 0,
    Ephemeral = 1,
    PersistentSequential = 2,
    EphemeralSequential = 3,
    Container = 4,
    PersistentWithTtl = 5,
    PersistentSequentialWithTtl = 6,
}

impl CreateMode {
    pub fn from_flags(flags: i32) -> Option<CreateMode> {
        Some(match flags {
            0 => CreateMode::Persistent,
            1 => CreateMode::Ephemeral,
            2 => CreateMode::PersistentSequential,
            3 => CreateMode::EphemeralSequential,
            4 => CreateMode::Container,
            5 => CreateMode::PersistentWithTtl,
            6 => CreateMode::PersistentSequentialWithTtl,
            _ => return None,
        })
    }

    pub fn is_ephemeral(self) -> bool {
        matches!(
            self,
            CreateMode::Ephemeral | CreateMode::EphemeralSequential
        )
    }

    pub fn is_sequential(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentSequential
                | CreateMode::EphemeralSequential
                | CreateMode::PersistentSequentialWithTtl
        )
    }

    pub fn is_ttl(self) -> bool {
        matches!(
            self,
            CreateMode::PersistentWithTtl | CreateMode::PersistentSequentialWithTtl
        )
    }

    pub fn is_container(self) -> bool {
        self == CreateMode::Container
    }
}

/// Watch event types (`Watcher.Event.EventType`).
pub mod event_type {
    pub const NONE: i32 = -1;
    pub const NODE_CREATED: i32 = 1;
    pub const NODE_DELETED: i32 = 2;
    pub const NODE_DATA_CHANGED: i32 = 3;
    pub const NODE_CHILDREN_CHANGED: i32 = 4;
    pub const DATA_WATCH_REMOVED: i32 = 5;
    pub const CHILD_WATCH_REMOVED: i32 = 6;
    pub const PERSISTENT_WATCH_REMOVED: i32 = 7;
}

/// Session states (`Watcher.Event.KeeperState`).
pub mod keeper_state {
    pub const DISCONNECTED: i32 = 0;
    pub const SYNC_CONNECTED: i32 = 3;
    pub const AUTH_FAILED: i32 = 4;
    pub const CONNECTED_READ_ONLY: i32 = 5;
    pub const EXPIRED: i32 = -112;
    pub const CLOSED: i32 = 7;
}

/// `WatcherType` for checkWatches / removeWatches.
pub mod watcher_type {
    pub const CHILDREN: i32 = 1;
    pub const DATA: i32 = 2;
    pub const ANY: i32 = 3;
    /// 3.9 additions (ZOOKEEPER-4472).
    pub const PERSISTENT: i32 = 4;
    pub const PERSISTENT_RECURSIVE: i32 = 5;
}

/// `AddWatchMode`.
pub mod add_watch_mode {
    pub const PERSISTENT: i32 = 0;
    pub const PERSISTENT_RECURSIVE: i32 = 1;
}

/// Special xids.
pub mod xid {
    pub const NOTIFICATION: i32 = -1;
    pub const PING: i32 = -2;
    pub const AUTH: i32 = -4;
    pub const SET_WATCHES: i32 = -8;
}
