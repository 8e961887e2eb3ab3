//! `org.apache.zookeeper.proto`: the client request and response records.

use crate::data::{Acl, Stat};
use crate::jute::{Jute, Reader, Result, Writer};
use crate::jute_record;

/// The first frame a client sends. The trailing `read_only` byte is optional: very old clients
/// omit it, and then the response must omit it too.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectRequest {
    pub protocol_version: i32,
    pub last_zxid_seen: i64,
    pub timeout_ms: i32,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    /// `None` for a client that did not send the byte.
    pub read_only: Option<bool>,
}

impl Jute for ConnectRequest {
    fn encode(&self, out: &mut Vec<u8>) {
        out.put_i32(self.protocol_version);
        out.put_i64(self.last_zxid_seen);
        out.put_i32(self.timeout_ms);
        out.put_i64(self.session_id);
        self.passwd.encode(out);
        if let Some(ro) = self.read_only {
            out.put_bool(ro);
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let protocol_version = r.i32()?;
        let last_zxid_seen = r.i64()?;
        let timeout_ms = r.i32()?;
        let session_id = r.i64()?;
        let passwd = Vec::<u8>::decode(r)?;
        let read_only = if r.is_empty() { None } else { Some(r.bool()?) };
        Ok(ConnectRequest {
            protocol_version,
            last_zxid_seen,
            timeout_ms,
            session_id,
            passwd,
            read_only,
        })
    }
    fn encoded_len(&self) -> usize {
        4 + 8 + 4 + 8 + self.passwd.encoded_len() + self.read_only.map_or(0, |_| 1)
    }
}

/// The server's answer to [`ConnectRequest`]. `timeout_ms == 0` means the session is invalid.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnectResponse {
    pub protocol_version: i32,
    pub timeout_ms: i32,
    pub session_id: i64,
    pub passwd: Vec<u8>,
    /// Present only when the request carried its read-only byte.
    pub read_only: Option<bool>,
}

impl Jute for ConnectResponse {
    fn encode(&self, out: &mut Vec<u8>) {
        out.put_i32(self.protocol_version);
        out.put_i32(self.timeout_ms);
        out.put_i64(self.session_id);
        self.passwd.encode(out);
        if let Some(ro) = self.read_only {
            out.put_bool(ro);
        }
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let protocol_version = r.i32()?;
        let timeout_ms = r.i32()?;
        let session_id = r.i64()?;
        let passwd = Vec::<u8>::decode(r)?;
        let read_only = if r.is_empty() { None } else { Some(r.bool()?) };
        Ok(ConnectResponse {
            protocol_version,
            timeout_ms,
            session_id,
            passwd,
            read_only,
        })
    }
    fn encoded_len(&self) -> usize {
        4 + 4 + 8 + self.passwd.encoded_len() + self.read_only.map_or(0, |_| 1)
    }
}

jute_record! {
    pub struct RequestHeader {
        pub xid: i32,
        pub op: i32,
    }
}

jute_record! {
    pub struct ReplyHeader {
        pub xid: i32,
        pub zxid: i64,
        pub err: i32,
    }
}

jute_record! {
    pub struct MultiHeader {
        pub op: i32,
        pub done: bool,
        pub err: i32,
    }
}

jute_record! {
    pub struct AuthPacket {
        pub auth_type: i32,
        pub scheme: String,
        pub auth: Vec<u8>,
    }
}

jute_record! {
    pub struct SetWatches {
        pub relative_zxid: i64,
        pub data_watches: Vec<String>,
        pub exist_watches: Vec<String>,
        pub child_watches: Vec<String>,
    }
}

jute_record! {
    pub struct SetWatches2 {
        pub relative_zxid: i64,
        pub data_watches: Vec<String>,
        pub exist_watches: Vec<String>,
        pub child_watches: Vec<String>,
        pub persistent_watches: Vec<String>,
        pub persistent_recursive_watches: Vec<String>,
    }
}

jute_record! {
    pub struct CreateRequest {
        pub path: String,
        pub data: Option<Vec<u8>>,
        pub acl: Vec<Acl>,
        pub flags: i32,
    }
}

jute_record! {
    pub struct CreateTtlRequest {
        pub path: String,
        pub data: Option<Vec<u8>>,
        pub acl: Vec<Acl>,
        pub flags: i32,
        pub ttl: i64,
    }
}

jute_record! {
    pub struct CreateResponse {
        pub path: String,
    }
}

jute_record! {
    pub struct Create2Response {
        pub path: String,
        pub stat: Stat,
    }
}

jute_record! {
    pub struct DeleteRequest {
        pub path: String,
        pub version: i32,
    }
}

jute_record! {
    /// Shared by `exists`, `getData`, `getChildren` and `getChildren2`: a path and a watch flag.
    pub struct PathWatchRequest {
        pub path: String,
        pub watch: bool,
    }
}

jute_record! {
    /// Shared by `sync`, `getACL`, `getAllChildrenNumber`, `getEphemerals` and the sync reply.
    pub struct PathRequest {
        pub path: String,
    }
}

jute_record! {
    pub struct StatResponse {
        pub stat: Stat,
    }
}

jute_record! {
    pub struct GetDataResponse {
        pub data: Option<Vec<u8>>,
        pub stat: Stat,
    }
}

jute_record! {
    pub struct SetDataRequest {
        pub path: String,
        pub data: Option<Vec<u8>>,
        pub version: i32,
    }
}

jute_record! {
    pub struct GetAclResponse {
        pub acl: Vec<Acl>,
        pub stat: Stat,
    }
}

jute_record! {
    pub struct SetAclRequest {
        pub path: String,
        pub acl: Vec<Acl>,
        pub version: i32,
    }
}

jute_record! {
    pub struct GetChildrenResponse {
        pub children: Vec<String>,
    }
}

jute_record! {
    pub struct GetChildren2Response {
        pub children: Vec<String>,
        pub stat: Stat,
    }
}

jute_record! {
    pub struct CheckVersionRequest {
        pub path: String,
        pub version: i32,
    }
}

jute_record! {
    pub struct ReconfigRequest {
        pub joining_servers: Option<String>,
        pub leaving_servers: Option<String>,
        pub new_members: Option<String>,
        pub cur_config_id: i64,
    }
}

jute_record! {
    /// Shared by `checkWatches` and `removeWatches`.
    pub struct WatchesRequest {
        pub path: String,
        pub watcher_type: i32,
    }
}

jute_record! {
    pub struct GetAllChildrenNumberResponse {
        pub total_number: i32,
    }
}

jute_record! {
    pub struct GetEphemeralsResponse {
        pub ephemerals: Vec<String>,
    }
}

jute_record! {
    pub struct AddWatchRequest {
        pub path: String,
        pub mode: i32,
    }
}

jute_record! {
    pub struct ErrorResponse {
        pub err: i32,
    }
}

jute_record! {
    pub struct ClientInfo {
        pub auth_scheme: String,
        pub user: String,
    }
}

jute_record! {
    pub struct WhoAmIResponse {
        pub client_info: Vec<ClientInfo>,
    }
}

jute_record! {
    pub struct WatcherEvent {
        pub event_type: i32,
        pub state: i32,
        pub path: String,
    }
}

jute_record! {
    pub struct SaslRequest {
        pub token: Option<Vec<u8>>,
    }
}
