//! What the session task tells its owner besides replies: watch notifications and changes of
//! the session's state.

use std::fmt;
use std::sync::Arc;

use zk_proto::ops::event_type;
use zk_proto::Zxid;

/// The kind of a node event (`Watcher.Event.EventType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum EventType {
    NodeCreated,
    NodeDeleted,
    NodeDataChanged,
    NodeChildrenChanged,
    /// A number this client does not know.
    Other(i32),
}

impl EventType {
    pub fn from_wire(v: i32) -> EventType {
        match v {
            event_type::NODE_CREATED => EventType::NodeCreated,
            event_type::NODE_DELETED => EventType::NodeDeleted,
            event_type::NODE_DATA_CHANGED => EventType::NodeDataChanged,
            event_type::NODE_CHILDREN_CHANGED => EventType::NodeChildrenChanged,
            other => EventType::Other(other),
        }
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EventType::Other(v) => write!(f, "Event{v}"),
            other => write!(f, "{other:?}"),
        }
    }
}

/// The state of a session as the client sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum SessionState {
    /// Looking for a server (first connect, or after a disconnect).
    Connecting,
    /// A server accepted the session.
    Connected,
    /// The connection broke; the session lives on until its timeout, and the client is trying
    /// the next server.
    Disconnected,
    /// The server declared the session gone. Terminal.
    Expired,
    /// The server rejected credentials and closed the connection.
    AuthFailed,
    /// The client closed the session. Terminal.
    Closed,
}

impl fmt::Display for SessionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self:?}")
    }
}

/// A change to a watched node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeEvent {
    pub event_type: EventType,
    /// Client path (chroot stripped).
    pub path: String,
    /// The zxid in the notification header, when the server sends one (Apache 3.8 sends -1,
    /// which is reported as `None`).
    pub zxid: Option<Zxid>,
}

/// One event from a client, tagged with the label its options gave it so that several
/// clients can share one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientEvent {
    pub label: Arc<str>,
    pub event: Event,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    Node(NodeEvent),
    State(SessionState),
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Node(e) => write!(f, "{} {}", e.event_type, e.path),
            Event::State(s) => write!(f, "session {s}"),
        }
    }
}
