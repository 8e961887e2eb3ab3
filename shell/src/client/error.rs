//! The client's error type: ZooKeeper's own codes with the path they concern, and the client's
//! local failures (connection loss, expiry, closed, bad input).

use zk_proto::{DecodeError, ErrorCode, OpCode};

/// What went wrong with a request or with the session.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The server answered with an error code.
    #[error("{}", keeper_words(*code, path.as_deref(), *op))]
    Keeper {
        code: ErrorCode,
        op: OpCode,
        /// The client path (chroot stripped) the request was about, if it had one.
        path: Option<String>,
    },
    /// The connection broke while the request was in flight; it may or may not have been applied.
    #[error("connection lost while {op} was in flight")]
    ConnectionLoss { op: OpCode },
    /// The server declared the session expired; this client can do nothing more.
    #[error("session expired")]
    SessionExpired,
    /// The client was closed (by `close` or because every handle was dropped).
    #[error("session is closed")]
    Closed,
    /// An `auth` packet was rejected.
    #[error("authentication with scheme {scheme:?} failed")]
    AuthFailed { scheme: String },
    /// No server could be reached in time.
    #[error("could not connect to {hosts}: {last}")]
    ConnectTimeout { hosts: String, last: String },
    #[error("bad connect string {input:?}: {why}")]
    BadConnectString { input: String, why: String },
    /// The server sent bytes that do not decode; the connection is dropped.
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl Error {
    /// ZooKeeper's code for this error (client-side failures map to Apache's client codes).
    pub fn code(&self) -> ErrorCode {
        match self {
            Error::Keeper { code, .. } => *code,
            Error::ConnectionLoss { .. } | Error::ConnectTimeout { .. } => {
                ErrorCode::CONNECTION_LOSS
            }
            Error::SessionExpired => ErrorCode::SESSION_EXPIRED,
            Error::Closed => ErrorCode::SESSION_EXPIRED,
            Error::AuthFailed { .. } => ErrorCode::AUTH_FAILED,
            Error::BadConnectString { .. } => ErrorCode::BAD_ARGUMENTS,
            Error::Protocol(_) => ErrorCode::MARSHALLING_ERROR,
        }
    }

    /// True when the server said `code`.
    pub fn is(&self, code: ErrorCode) -> bool {
        matches!(self, Error::Keeper { code: c, .. } if *c == code)
    }
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        Error::Protocol(e.to_string())
    }
}

/// A sentence in the words a person would use: `node /a/b does not exist`.
fn keeper_words(code: ErrorCode, path: Option<&str>, op: OpCode) -> String {
    let Some(p) = path else {
        return format!("{} ({})", code.describe(), code.name());
    };
    match code {
        ErrorCode::NO_NODE if is_create(op) => format!("parent of {p} does not exist"),
        ErrorCode::NO_NODE => format!("node {p} does not exist"),
        ErrorCode::NODE_EXISTS => format!("node {p} already exists"),
        ErrorCode::NOT_EMPTY => format!("node {p} has children"),
        ErrorCode::BAD_VERSION => format!("version of {p} does not match"),
        ErrorCode::NO_AUTH => format!("not authorized to {} {p}", op.name()),
        ErrorCode::NO_CHILDREN_FOR_EPHEMERALS => {
            format!("parent of {p} is ephemeral and may not have children")
        }
        ErrorCode::INVALID_ACL => format!("invalid ACL for {p}"),
        ErrorCode::BAD_ARGUMENTS => format!("bad arguments for {p}"),
        ErrorCode::NO_WATCHER => format!("no watch of that kind on {p}"),
        _ => format!("{} on {p} ({})", code.describe(), code.name()),
    }
}

fn is_create(op: OpCode) -> bool {
    matches!(
        op,
        OpCode::CREATE | OpCode::CREATE2 | OpCode::CREATE_CONTAINER | OpCode::CREATE_TTL
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_as_sentences() {
        let e = Error::Keeper {
            code: ErrorCode::NO_NODE,
            op: OpCode::GET_DATA,
            path: Some("/a/b".into()),
        };
        assert_eq!(e.to_string(), "node /a/b does not exist");
        assert_eq!(e.code(), ErrorCode::NO_NODE);
        let e = Error::Keeper {
            code: ErrorCode::NO_AUTH,
            op: OpCode::SET_DATA,
            path: Some("/x".into()),
        };
        assert_eq!(e.to_string(), "not authorized to setData /x");
    }
}
