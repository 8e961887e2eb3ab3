//! `org.apache.zookeeper.server.quorum`: what servers of an ensemble say to each other.
//!
//! Two ports, two formats (reference §10.3, §10.4):
//! - **Election port** (`QuorumCnxManager`, `FastLeaderElection`): a connection opens with an
//!   [`ElectionHandshake`], then carries frames (`int length` + payload, at most
//!   [`ELECTION_MESSAGE_LEN_MAX`]) each holding one [`Notification`].
//! - **Quorum port** (`Leader`, `Learner`, `LearnerHandler`): jute [`QuorumPacket`] records back
//!   to back with no length prefix. [`QuorumMessage`] is the typed view of a packet, one variant
//!   per packet type, with the `data` bytes parsed the way Apache lays them out. Proposals carry
//!   a [`TxnLogEntry`]: `TxnHeader` + txn body + optional `TxnDigest`, the same serialization as a
//!   transaction log record.
//!
//! Decoders never panic and are strict where Apache writes fixed values (null `data` on
//! ACK/COMMIT/DIFF..., zxid -1 on UPTODATE/REQUEST/REVALIDATE, 0 on SYNC), so that a decoded
//! message re-encodes to the bytes it came from.

use std::sync::Arc;

use crate::data::Id;
use crate::jute::{Jute, Reader, Result, Writer};
pub use crate::txn::{LearnerInfo, QuorumPacket};
use crate::txn::{Txn, TxnDigest, TxnHeader};
use crate::{DecodeError, Zxid};

/// A server's id in the ensemble (`myid`, the `N` of `server.N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct ServerId(pub i64);

impl std::fmt::Display for ServerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A Zab epoch: the high 32 bits of every zxid its leader assigns (`acceptedEpoch`,
/// `currentEpoch`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Epoch(pub u32);

impl Epoch {
    /// The zxid that opens this epoch (counter 0: no transaction ever has it).
    pub fn start_zxid(self) -> Zxid {
        Zxid::new(self.0, 0)
    }
}

impl std::fmt::Display for Epoch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// `Leader.java` packet type numbers.
pub mod packet_type {
    pub const REQUEST: i32 = 1;
    pub const PROPOSAL: i32 = 2;
    pub const ACK: i32 = 3;
    pub const COMMIT: i32 = 4;
    pub const PING: i32 = 5;
    pub const REVALIDATE: i32 = 6;
    pub const SYNC: i32 = 7;
    pub const INFORM: i32 = 8;
    pub const COMMITANDACTIVATE: i32 = 9;
    pub const NEWLEADER: i32 = 10;
    pub const FOLLOWERINFO: i32 = 11;
    pub const UPTODATE: i32 = 12;
    pub const DIFF: i32 = 13;
    pub const TRUNC: i32 = 14;
    pub const SNAP: i32 = 15;
    pub const OBSERVERINFO: i32 = 16;
    pub const LEADERINFO: i32 = 17;
    pub const ACKEPOCH: i32 = 18;
    pub const INFORMANDACTIVATE: i32 = 19;
}

/// The Zab protocol version learners and leaders announce (`0x10000`, "Zab 1.0").
pub const ZAB_PROTOCOL_VERSION: i32 = 0x10000;

/// The ACKEPOCH epoch value that says "I had already accepted this epoch" (the ack does not
/// count towards the leader's quorum).
pub const ACKEPOCH_ALREADY_ACCEPTED: i32 = -1;

// ---------------------------------------------------------------------------------------------
// Election port
// ---------------------------------------------------------------------------------------------

/// The largest election message Apache accepts (`QuorumCnxManager.PACKETMAXSIZE`).
pub const ELECTION_MESSAGE_LEN_MAX: usize = 512 * 1024;

/// The largest address string in a handshake (`QuorumCnxManager.maxBuffer`).
pub const HANDSHAKE_ADDRESS_LEN_MAX: usize = 2048;

/// Handshake protocol version 1: one `host:port`.
pub const ELECTION_PROTOCOL_V1: i64 = -65536;
/// Handshake protocol version 2 (`multiAddress.enabled`): `host:port` entries joined by `|`.
pub const ELECTION_PROTOCOL_V2: i64 = -65535;

/// The sid an observer sends to ask for an id to be assigned (`QuorumPeer.OBSERVER_ID`).
pub const OBSERVER_ID: ServerId = ServerId(i64::MAX);

/// The first bytes on an election connection, from the connecting side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ElectionHandshake {
    /// Pre-3.5: a bare sid (≥ 0) and nothing else.
    Legacy { sid: ServerId },
    /// `protocol_version` is [`ELECTION_PROTOCOL_V1`] or [`ELECTION_PROTOCOL_V2`]; `addresses`
    /// is the sender's election address(es), 1..=2048 bytes of UTF-8.
    Versioned {
        protocol_version: i64,
        sid: ServerId,
        addresses: String,
    },
}

impl ElectionHandshake {
    pub fn sid(&self) -> ServerId {
        match self {
            ElectionHandshake::Legacy { sid } | ElectionHandshake::Versioned { sid, .. } => *sid,
        }
    }
}

impl Jute for ElectionHandshake {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            ElectionHandshake::Legacy { sid } => out.put_i64(sid.0),
            ElectionHandshake::Versioned {
                protocol_version,
                sid,
                addresses,
            } => {
                out.put_i64(*protocol_version);
                out.put_i64(sid.0);
                out.put_buffer(Some(addresses.as_bytes()));
            }
        }
    }

    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let first = r.i64()?;
        if first >= 0 {
            return Ok(ElectionHandshake::Legacy {
                sid: ServerId(first),
            });
        }
        if first != ELECTION_PROTOCOL_V1 && first != ELECTION_PROTOCOL_V2 {
            return Err(DecodeError::invalid(
                "election handshake",
                format!("unknown protocol version {first}"),
            ));
        }
        let sid = ServerId(r.i64()?);
        let len = r.i32()?;
        if len <= 0 || len as usize > HANDSHAKE_ADDRESS_LEN_MAX {
            return Err(DecodeError::invalid(
                "election handshake",
                format!("address length {len} outside 1..={HANDSHAKE_ADDRESS_LEN_MAX}"),
            ));
        }
        let bytes = r.take(len as usize)?;
        let addresses = String::from_utf8(bytes.to_vec())
            .map_err(|e| DecodeError::invalid("election handshake", e.to_string()))?;
        Ok(ElectionHandshake::Versioned {
            protocol_version: first,
            sid,
            addresses,
        })
    }

    fn encoded_len(&self) -> usize {
        match self {
            ElectionHandshake::Legacy { .. } => 8,
            ElectionHandshake::Versioned { addresses, .. } => 8 + 8 + 4 + addresses.len(),
        }
    }
}

/// A server's state as election notifications report it (`QuorumPeer.ServerState` ordinal).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PeerState {
    Looking = 0,
    Following = 1,
    Leading = 2,
    Observing = 3,
}

impl PeerState {
    pub fn from_i32(v: i32) -> Option<PeerState> {
        Some(match v {
            0 => PeerState::Looking,
            1 => PeerState::Following,
            2 => PeerState::Leading,
            3 => PeerState::Observing,
            _ => return None,
        })
    }
}

/// Which of Apache's three notification layouts a message uses; chosen by its length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotificationFormat {
    /// 28 bytes (before ZOOKEEPER-107): no peer epoch on the wire; it is the epoch of `zxid`.
    Short,
    /// 40 bytes: the peer epoch, then an int Apache neither reads nor needs (it writes 1).
    Compat { trailer: i32 },
    /// 44 + n bytes: a format version (> 1; Apache 3.5+ writes 2) and the dynamic config text
    /// (`server.N=...` lines and `version=<hex>`). Apache 3.8 peers must get a config that
    /// parses: an unparsable one kills their election receiver thread.
    WithConfig { version: i32, config: Vec<u8> },
}

/// One `FastLeaderElection` notification: the sender's state and the vote it currently holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    pub state: PeerState,
    /// The proposed leader's sid.
    pub leader: i64,
    /// The proposed leader's last logged zxid.
    pub zxid: i64,
    /// The sender's logical clock (election round).
    pub election_epoch: i64,
    /// The proposed leader's current epoch.
    pub peer_epoch: i64,
    pub format: NotificationFormat,
}

/// The notification format version Apache 3.5+ sends.
pub const NOTIFICATION_VERSION: i32 = 2;

impl Notification {
    /// Parses a whole election message payload (the frame's bytes).
    pub fn from_payload(b: &[u8]) -> Result<Notification> {
        let mut r = Reader::new(b);
        let invalid = |d: String| DecodeError::invalid("notification", d);
        if b.len() < 28 {
            return Err(invalid(format!("{} bytes, at least 28 needed", b.len())));
        }
        let state_raw = r.i32()?;
        let state =
            PeerState::from_i32(state_raw).ok_or_else(|| invalid(format!("state {state_raw}")))?;
        let leader = r.i64()?;
        let zxid = r.i64()?;
        let election_epoch = r.i64()?;
        let (peer_epoch, format) = match b.len() {
            28 => (zxid >> 32, NotificationFormat::Short),
            40 => {
                let peer_epoch = r.i64()?;
                let trailer = r.i32()?;
                (peer_epoch, NotificationFormat::Compat { trailer })
            }
            _ => {
                let peer_epoch = r.i64()?;
                let version = r.i32()?;
                if version <= 1 {
                    return Err(invalid(format!(
                        "{} bytes with format version {version}",
                        b.len()
                    )));
                }
                let len = r.i32()?;
                if len < 0 || len as usize != r.remaining() {
                    return Err(invalid(format!(
                        "config length {len} but {} bytes follow",
                        r.remaining()
                    )));
                }
                let config = r.take(len as usize)?.to_vec();
                (
                    peer_epoch,
                    NotificationFormat::WithConfig { version, config },
                )
            }
        };
        Ok(Notification {
            state,
            leader,
            zxid,
            election_epoch,
            peer_epoch,
            format,
        })
    }

    /// The payload bytes (without the frame's length prefix).
    pub fn to_payload(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.payload_len());
        out.put_i32(self.state as i32);
        out.put_i64(self.leader);
        out.put_i64(self.zxid);
        out.put_i64(self.election_epoch);
        match &self.format {
            NotificationFormat::Short => {}
            NotificationFormat::Compat { trailer } => {
                out.put_i64(self.peer_epoch);
                out.put_i32(*trailer);
            }
            NotificationFormat::WithConfig { version, config } => {
                out.put_i64(self.peer_epoch);
                out.put_i32(*version);
                out.put_buffer(Some(config));
            }
        }
        out
    }

    pub fn payload_len(&self) -> usize {
        match &self.format {
            NotificationFormat::Short => 28,
            NotificationFormat::Compat { .. } => 40,
            NotificationFormat::WithConfig { config, .. } => 44 + config.len(),
        }
    }

    /// A frame for the election connection: `int length` + payload.
    pub fn to_frame(&self) -> Vec<u8> {
        let payload = self.to_payload();
        crate::frame::build(|out| out.put_bytes(&payload))
    }
}

// ---------------------------------------------------------------------------------------------
// Quorum port
// ---------------------------------------------------------------------------------------------

/// A transaction as proposals carry it and as the transaction log stores it:
/// `TxnHeader`, the body chosen by `hdr.txn_type`, and (3.6+) a `TxnDigest` of the tree after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxnLogEntry {
    pub hdr: TxnHeader,
    pub txn: Txn,
    pub digest: Option<TxnDigest>,
}

impl TxnLogEntry {
    pub fn zxid(&self) -> Zxid {
        Zxid(self.hdr.zxid)
    }
}

impl Jute for TxnLogEntry {
    fn encode(&self, out: &mut Vec<u8>) {
        self.hdr.encode(out);
        self.txn.encode_body(out);
        if let Some(d) = &self.digest {
            d.encode(out);
        }
    }

    /// Reads the whole of `r`: the body has no length of its own, so whatever follows it must
    /// be exactly a digest or nothing (Apache reads the same way, `SerializeUtils.deserializeTxn`).
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        let hdr = TxnHeader::decode(r)?;
        let txn = Txn::decode_body(hdr.txn_type, r)?;
        let digest = match r.remaining() {
            0 => None,
            12 => Some(TxnDigest::decode(r)?),
            n => {
                return Err(DecodeError::invalid(
                    "txn log entry",
                    format!("{n} bytes after the txn body; only a 12-byte digest may follow"),
                ))
            }
        };
        Ok(TxnLogEntry { hdr, txn, digest })
    }

    fn encoded_len(&self) -> usize {
        let mut body = Vec::new();
        self.txn.encode_body(&mut body);
        self.hdr.encoded_len() + body.len() + self.digest.as_ref().map_or(0, |d| d.encoded_len())
    }
}

/// A session a learner saw activity on since its last PING reply, with its timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionTouch {
    pub session_id: i64,
    pub timeout_ms: i32,
}

/// A client write (or `sync`, `createSession`, `closeSession`) a learner forwards to the leader.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForwardedRequest {
    pub session_id: i64,
    pub cxid: i32,
    /// The request's opcode.
    pub op: i32,
    /// The request body exactly as the client sent it (after the request header).
    pub body: Vec<u8>,
    /// The session's authenticated identities.
    pub auth_info: Option<Vec<Id>>,
}

/// REVALIDATE travels both ways with different bodies (told apart by length: 12 vs 9 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revalidate {
    /// Learner → leader: a client reconnected here with this session.
    Request { session_id: i64, timeout_ms: i32 },
    /// Leader → learner: whether the session is alive (and now owned by the asking learner).
    Reply { session_id: i64, valid: bool },
}

/// A quorum packet, typed. Every variant maps to one packet type of `Leader.java`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QuorumMessage {
    /// REQUEST (1), learner → leader, zxid -1.
    Request(ForwardedRequest),
    /// PROPOSAL (2), leader → followers.
    Proposal { zxid: Zxid, txn: Arc<TxnLogEntry> },
    /// ACK (3), follower → leader: the proposal (or NEWLEADER/UPTODATE epoch zxid) is logged.
    Ack { zxid: Zxid },
    /// COMMIT (4), leader → followers.
    Commit { zxid: Zxid },
    /// PING (5). The leader sends its last proposed zxid and no data (`touches` is `None`); the
    /// learner echoes the zxid with the sessions it saw activity on (possibly empty).
    Ping {
        zxid: Zxid,
        touches: Option<Vec<SessionTouch>>,
    },
    /// REVALIDATE (6), zxid -1.
    Revalidate(Revalidate),
    /// SYNC (7), leader → learner, zxid 0: the forwarded `sync` has reached the leader.
    Sync,
    /// INFORM (8), leader → observers: a committed transaction.
    Inform { zxid: Zxid, txn: Arc<TxnLogEntry> },
    /// COMMITANDACTIVATE (9): commit of a reconfig, with the designated leader.
    CommitAndActivate { zxid: Zxid, designated_leader: i64 },
    /// NEWLEADER (10), leader → learner, zxid `newEpoch << 32`; data is the dynamic config text
    /// (null from pre-3.5 leaders).
    NewLeader { zxid: Zxid, config: Option<Vec<u8>> },
    /// FOLLOWERINFO (11), zxid `acceptedEpoch << 32`.
    FollowerInfo { zxid: Zxid, info: LearnerInfo },
    /// UPTODATE (12), leader → learner, zxid -1: start serving.
    UpToDate,
    /// DIFF (13): the learner's log is a prefix of the leader's; proposals follow.
    Diff { zxid: Zxid },
    /// TRUNC (14): truncate the log back to `zxid`; proposals follow.
    Trunc { zxid: Zxid },
    /// SNAP (15): a snapshot of the leader's tree at `zxid` follows on the stream.
    Snap { zxid: Zxid },
    /// OBSERVERINFO (16), as FOLLOWERINFO.
    ObserverInfo { zxid: Zxid, info: LearnerInfo },
    /// LEADERINFO (17), zxid `newEpoch << 32`, data: the leader's protocol version.
    LeaderInfo { zxid: Zxid, protocol_version: i32 },
    /// ACKEPOCH (18), zxid: the learner's last logged zxid; data: its current epoch, or
    /// [`ACKEPOCH_ALREADY_ACCEPTED`].
    AckEpoch { zxid: Zxid, current_epoch: i32 },
    /// INFORMANDACTIVATE (19): an INFORM of a reconfig, with the designated leader.
    InformAndActivate {
        zxid: Zxid,
        designated_leader: i64,
        txn: Arc<TxnLogEntry>,
    },
}

fn no_data(p: &QuorumPacket, name: &'static str) -> Result<()> {
    match p.data {
        None => Ok(()),
        Some(_) => Err(DecodeError::invalid(name, "data must be null")),
    }
}

fn data<'a>(p: &'a QuorumPacket, name: &'static str) -> Result<&'a [u8]> {
    p.data
        .as_deref()
        .ok_or_else(|| DecodeError::invalid(name, "data must not be null"))
}

fn fixed_zxid(p: &QuorumPacket, name: &'static str, want: i64) -> Result<()> {
    if p.zxid == want {
        Ok(())
    } else {
        Err(DecodeError::invalid(
            name,
            format!("zxid {:#x}, expected {want}", p.zxid),
        ))
    }
}

/// Parses `bytes` completely with `f`; leftovers are an error.
fn parse_all<T>(
    bytes: &[u8],
    name: &'static str,
    f: impl FnOnce(&mut Reader<'_>) -> Result<T>,
) -> Result<T> {
    let mut r = Reader::new(bytes);
    let v = f(&mut r)?;
    if !r.is_empty() {
        return Err(DecodeError::invalid(
            name,
            format!("{} trailing bytes in data", r.remaining()),
        ));
    }
    Ok(v)
}

impl QuorumMessage {
    pub fn packet_type(&self) -> i32 {
        use packet_type::*;
        match self {
            QuorumMessage::Request(_) => REQUEST,
            QuorumMessage::Proposal { .. } => PROPOSAL,
            QuorumMessage::Ack { .. } => ACK,
            QuorumMessage::Commit { .. } => COMMIT,
            QuorumMessage::Ping { .. } => PING,
            QuorumMessage::Revalidate(_) => REVALIDATE,
            QuorumMessage::Sync => SYNC,
            QuorumMessage::Inform { .. } => INFORM,
            QuorumMessage::CommitAndActivate { .. } => COMMITANDACTIVATE,
            QuorumMessage::NewLeader { .. } => NEWLEADER,
            QuorumMessage::FollowerInfo { .. } => FOLLOWERINFO,
            QuorumMessage::UpToDate => UPTODATE,
            QuorumMessage::Diff { .. } => DIFF,
            QuorumMessage::Trunc { .. } => TRUNC,
            QuorumMessage::Snap { .. } => SNAP,
            QuorumMessage::ObserverInfo { .. } => OBSERVERINFO,
            QuorumMessage::LeaderInfo { .. } => LEADERINFO,
            QuorumMessage::AckEpoch { .. } => ACKEPOCH,
            QuorumMessage::InformAndActivate { .. } => INFORMANDACTIVATE,
        }
    }

    /// Apache's name for the packet type (`LearnerHandler.packetToString`).
    pub fn name(&self) -> &'static str {
        packet_type_name(self.packet_type())
    }

    /// The packet on the wire.
    pub fn to_packet(&self) -> QuorumPacket {
        let packet = |zxid: i64, data: Option<Vec<u8>>| QuorumPacket {
            packet_type: self.packet_type(),
            zxid,
            data,
            auth_info: None,
        };
        match self {
            QuorumMessage::Request(req) => {
                let mut d = Vec::with_capacity(16 + req.body.len());
                d.put_i64(req.session_id);
                d.put_i32(req.cxid);
                d.put_i32(req.op);
                d.put_bytes(&req.body);
                QuorumPacket {
                    auth_info: req.auth_info.clone(),
                    ..packet(-1, Some(d))
                }
            }
            QuorumMessage::Proposal { zxid, txn } | QuorumMessage::Inform { zxid, txn } => {
                packet(zxid.0, Some(txn.to_bytes()))
            }
            QuorumMessage::Ack { zxid }
            | QuorumMessage::Commit { zxid }
            | QuorumMessage::Diff { zxid }
            | QuorumMessage::Trunc { zxid }
            | QuorumMessage::Snap { zxid } => packet(zxid.0, None),
            QuorumMessage::Ping { zxid, touches } => {
                let d = touches.as_ref().map(|ts| {
                    let mut d = Vec::with_capacity(ts.len() * 12);
                    for t in ts {
                        d.put_i64(t.session_id);
                        d.put_i32(t.timeout_ms);
                    }
                    d
                });
                packet(zxid.0, d)
            }
            QuorumMessage::Revalidate(rv) => {
                let mut d = Vec::with_capacity(12);
                match rv {
                    Revalidate::Request {
                        session_id,
                        timeout_ms,
                    } => {
                        d.put_i64(*session_id);
                        d.put_i32(*timeout_ms);
                    }
                    Revalidate::Reply { session_id, valid } => {
                        d.put_i64(*session_id);
                        d.put_bool(*valid);
                    }
                }
                packet(-1, Some(d))
            }
            QuorumMessage::Sync => packet(0, None),
            QuorumMessage::UpToDate => packet(-1, None),
            QuorumMessage::CommitAndActivate {
                zxid,
                designated_leader,
            } => packet(zxid.0, Some(designated_leader.to_be_bytes().to_vec())),
            QuorumMessage::NewLeader { zxid, config } => packet(zxid.0, config.clone()),
            QuorumMessage::FollowerInfo { zxid, info }
            | QuorumMessage::ObserverInfo { zxid, info } => packet(zxid.0, Some(info.to_bytes())),
            QuorumMessage::LeaderInfo {
                zxid,
                protocol_version,
            } => packet(zxid.0, Some(protocol_version.to_be_bytes().to_vec())),
            QuorumMessage::AckEpoch {
                zxid,
                current_epoch,
            } => packet(zxid.0, Some(current_epoch.to_be_bytes().to_vec())),
            QuorumMessage::InformAndActivate {
                zxid,
                designated_leader,
                txn,
            } => {
                let mut d = designated_leader.to_be_bytes().to_vec();
                txn.encode(&mut d);
                packet(zxid.0, Some(d))
            }
        }
    }

    /// The typed view of a packet; a packet whose fields do not have the layout its type
    /// demands is [`DecodeError::Invalid`].
    pub fn from_packet(p: &QuorumPacket) -> Result<QuorumMessage> {
        use packet_type::*;
        let name = packet_type_name(p.packet_type);
        if p.packet_type != REQUEST && p.auth_info.is_some() {
            return Err(DecodeError::invalid(name, "authinfo must be null"));
        }
        let zxid = Zxid(p.zxid);
        let msg = match p.packet_type {
            REQUEST => {
                fixed_zxid(p, name, -1)?;
                parse_all(data(p, name)?, name, |r| {
                    Ok(QuorumMessage::Request(ForwardedRequest {
                        session_id: r.i64()?,
                        cxid: r.i32()?,
                        op: r.i32()?,
                        body: r.take(r.remaining())?.to_vec(),
                        auth_info: p.auth_info.clone(),
                    }))
                })?
            }
            PROPOSAL => QuorumMessage::Proposal {
                zxid,
                txn: Arc::new(TxnLogEntry::from_bytes(data(p, name)?)?),
            },
            INFORM => QuorumMessage::Inform {
                zxid,
                txn: Arc::new(TxnLogEntry::from_bytes(data(p, name)?)?),
            },
            ACK | COMMIT | DIFF | TRUNC | SNAP => {
                no_data(p, name)?;
                match p.packet_type {
                    ACK => QuorumMessage::Ack { zxid },
                    COMMIT => QuorumMessage::Commit { zxid },
                    DIFF => QuorumMessage::Diff { zxid },
                    TRUNC => QuorumMessage::Trunc { zxid },
                    _ => QuorumMessage::Snap { zxid },
                }
            }
            PING => {
                let touches = match p.data.as_deref() {
                    None => None,
                    Some(d) if d.len() % 12 != 0 => {
                        return Err(DecodeError::invalid(
                            name,
                            format!("{} bytes of session touches, not a multiple of 12", d.len()),
                        ))
                    }
                    Some(d) => Some(parse_all(d, name, |r| {
                        let mut ts = Vec::with_capacity(d.len() / 12);
                        while !r.is_empty() {
                            ts.push(SessionTouch {
                                session_id: r.i64()?,
                                timeout_ms: r.i32()?,
                            });
                        }
                        Ok(ts)
                    })?),
                };
                QuorumMessage::Ping { zxid, touches }
            }
            REVALIDATE => {
                fixed_zxid(p, name, -1)?;
                let d = data(p, name)?;
                let rv = match d.len() {
                    12 => parse_all(d, name, |r| {
                        Ok(Revalidate::Request {
                            session_id: r.i64()?,
                            timeout_ms: r.i32()?,
                        })
                    })?,
                    9 => {
                        let session_id = parse_all(&d[..8], name, |r| r.i64())?;
                        // Written by Java's writeBoolean: exactly 0 or 1.
                        let valid = match d[8] {
                            0 => false,
                            1 => true,
                            b => {
                                return Err(DecodeError::invalid(name, format!("boolean byte {b}")))
                            }
                        };
                        Revalidate::Reply { session_id, valid }
                    }
                    n => {
                        return Err(DecodeError::invalid(
                            name,
                            format!("{n} bytes of data, expected 12 (request) or 9 (reply)"),
                        ))
                    }
                };
                QuorumMessage::Revalidate(rv)
            }
            SYNC => {
                fixed_zxid(p, name, 0)?;
                no_data(p, name)?;
                QuorumMessage::Sync
            }
            UPTODATE => {
                fixed_zxid(p, name, -1)?;
                no_data(p, name)?;
                QuorumMessage::UpToDate
            }
            COMMITANDACTIVATE => QuorumMessage::CommitAndActivate {
                zxid,
                designated_leader: parse_all(data(p, name)?, name, |r| r.i64())?,
            },
            NEWLEADER => QuorumMessage::NewLeader {
                zxid,
                config: p.data.clone(),
            },
            FOLLOWERINFO => QuorumMessage::FollowerInfo {
                zxid,
                info: LearnerInfo::from_bytes(data(p, name)?)?,
            },
            OBSERVERINFO => QuorumMessage::ObserverInfo {
                zxid,
                info: LearnerInfo::from_bytes(data(p, name)?)?,
            },
            LEADERINFO => QuorumMessage::LeaderInfo {
                zxid,
                protocol_version: parse_all(data(p, name)?, name, |r| r.i32())?,
            },
            ACKEPOCH => QuorumMessage::AckEpoch {
                zxid,
                current_epoch: parse_all(data(p, name)?, name, |r| r.i32())?,
            },
            INFORMANDACTIVATE => {
                let d = data(p, name)?;
                let mut r = Reader::new(d);
                let designated_leader = r.i64()?;
                QuorumMessage::InformAndActivate {
                    zxid,
                    designated_leader,
                    txn: Arc::new(TxnLogEntry::from_bytes(r.rest())?),
                }
            }
            other => {
                return Err(DecodeError::invalid(
                    "quorum packet",
                    format!("unknown packet type {other}"),
                ))
            }
        };
        Ok(msg)
    }

    /// Reads one message from the start of a stream. `Ok(None)`: more bytes are needed.
    /// `data_len_max` bounds the `data` buffer (the leader's `jute.maxbuffer`), so that a bad
    /// length cannot make the reader wait for gigabytes.
    pub fn decode_stream(
        buf: &[u8],
        data_len_max: usize,
    ) -> Result<Option<(QuorumMessage, usize)>> {
        // type (4) + zxid (8) + data length (4).
        if buf.len() >= 16 {
            let len = i32::from_be_bytes([buf[12], buf[13], buf[14], buf[15]]);
            if len > 0 && len as usize > data_len_max {
                return Err(DecodeError::invalid(
                    "quorum packet",
                    format!("data length {len} exceeds {data_len_max}"),
                ));
            }
        }
        let mut r = Reader::new(buf);
        match QuorumPacket::decode(&mut r) {
            Ok(p) => Ok(Some((QuorumMessage::from_packet(&p)?, r.position()))),
            Err(DecodeError::Truncated { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl Jute for QuorumMessage {
    fn encode(&self, out: &mut Vec<u8>) {
        self.to_packet().encode(out)
    }
    fn decode(r: &mut Reader<'_>) -> Result<Self> {
        QuorumMessage::from_packet(&QuorumPacket::decode(r)?)
    }
    fn encoded_len(&self) -> usize {
        self.to_packet().encoded_len()
    }
}

/// Apache's name for a packet type number.
pub fn packet_type_name(t: i32) -> &'static str {
    use packet_type::*;
    match t {
        REQUEST => "REQUEST",
        PROPOSAL => "PROPOSAL",
        ACK => "ACK",
        COMMIT => "COMMIT",
        PING => "PING",
        REVALIDATE => "REVALIDATE",
        SYNC => "SYNC",
        INFORM => "INFORM",
        COMMITANDACTIVATE => "COMMITANDACTIVATE",
        NEWLEADER => "NEWLEADER",
        FOLLOWERINFO => "FOLLOWERINFO",
        UPTODATE => "UPTODATE",
        DIFF => "DIFF",
        TRUNC => "TRUNC",
        SNAP => "SNAP",
        OBSERVERINFO => "OBSERVERINFO",
        LEADERINFO => "LEADERINFO",
        ACKEPOCH => "ACKEPOCH",
        INFORMANDACTIVATE => "INFORMANDACTIVATE",
        _ => "UNKNOWN",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Goal: our bytes equal Apache 3.8's for the exchanges captured in the reference
    /// (Appendix A and §10.3/§10.4). Method: decode each capture, check the fields, re-encode.
    #[test]
    fn captured_packets_decode_and_reencode() {
        let cases: Vec<(&str, QuorumMessage)> = vec![
            (
                "00000010 0000000000000000 00000014 0000000000000004 00010000 0000000100000000 ffffffff",
                QuorumMessage::ObserverInfo {
                    zxid: Zxid(0),
                    info: LearnerInfo {
                        server_id: 4,
                        protocol_version: ZAB_PROTOCOL_VERSION,
                        config_version: 0x1_0000_0000,
                    },
                },
            ),
            (
                "00000011 0000000100000000 00000004 00010000 ffffffff",
                QuorumMessage::LeaderInfo {
                    zxid: Zxid(0x1_0000_0000),
                    protocol_version: ZAB_PROTOCOL_VERSION,
                },
            ),
            (
                "00000012 0000000100000002 00000004 00000000 ffffffff",
                QuorumMessage::AckEpoch {
                    zxid: Zxid(0x1_0000_0002),
                    current_epoch: 0,
                },
            ),
            (
                "00000003 0000000100000000 ffffffff ffffffff",
                QuorumMessage::Ack {
                    zxid: Zxid(0x1_0000_0000),
                },
            ),
        ];
        for (bytes, want) in cases {
            let b = hex(bytes);
            let got = QuorumMessage::from_bytes(&b).unwrap();
            assert_eq!(got, want);
            assert_eq!(got.to_bytes(), b);
            assert_eq!(got.encoded_len(), b.len());
        }
    }

    #[test]
    fn captured_handshake() {
        let b = hex("ffffffffffff0000 0000000000000004 0000000f 3132372e302e302e313a3235343034");
        let h = ElectionHandshake::from_bytes(&b).unwrap();
        assert_eq!(
            h,
            ElectionHandshake::Versioned {
                protocol_version: ELECTION_PROTOCOL_V1,
                sid: ServerId(4),
                addresses: "127.0.0.1:25404".into()
            }
        );
        assert_eq!(h.to_bytes(), b);
        assert_eq!(
            ElectionHandshake::from_bytes(&hex("0000000000000007")).unwrap(),
            ElectionHandshake::Legacy { sid: ServerId(7) }
        );
        // A length of 0 or above 2048 is refused, as Apache does.
        let zero = hex("ffffffffffff0000 0000000000000004 00000000");
        assert!(ElectionHandshake::from_bytes(&zero).is_err());
    }

    /// The follower reply captured in §10.3: state 1, leader 3, zxid 0, round 1, peer epoch 1.
    #[test]
    fn notification_layouts() {
        let n = Notification {
            state: PeerState::Following,
            leader: 3,
            zxid: 0,
            election_epoch: 1,
            peer_epoch: 1,
            format: NotificationFormat::WithConfig {
                version: NOTIFICATION_VERSION,
                config: b"server.1=127.0.0.1:2888:3888:participant\nversion=0".to_vec(),
            },
        };
        let p = n.to_payload();
        assert_eq!(p.len(), n.payload_len());
        assert_eq!(p.len(), 44 + 50);
        assert_eq!(&p[..4], &[0, 0, 0, 1]);
        assert_eq!(&p[36..40], &[0, 0, 0, 2]);
        assert_eq!(Notification::from_payload(&p).unwrap(), n);
        let frame = n.to_frame();
        let (used, payload) = crate::frame::parse(&frame, ELECTION_MESSAGE_LEN_MAX)
            .unwrap()
            .unwrap();
        assert_eq!(used, frame.len());
        assert_eq!(payload, &p[..]);

        // 28 bytes: the peer epoch comes from the zxid.
        let short = &hex("00000000 0000000000000002 0000000300000005 0000000000000009");
        let s = Notification::from_payload(short).unwrap();
        assert_eq!(s.peer_epoch, 3);
        assert_eq!(s.format, NotificationFormat::Short);
        assert_eq!(s.to_payload(), short.to_vec());

        // 40 bytes: peer epoch, then an int that is not a version.
        let mut compat = short.clone();
        compat.extend(hex("0000000000000004 00000001"));
        let c = Notification::from_payload(&compat).unwrap();
        assert_eq!(c.peer_epoch, 4);
        assert_eq!(c.format, NotificationFormat::Compat { trailer: 1 });
        assert_eq!(c.to_payload(), compat);

        // Unknown state, short input, config length that lies.
        assert!(Notification::from_payload(&hex(
            "00000009 0000000000000002 0000000300000005 0000000000000009"
        ))
        .is_err());
        assert!(Notification::from_payload(&short[..27]).is_err());
        let mut lying = p.clone();
        lying[43] = 99;
        assert!(Notification::from_payload(&lying).is_err());
    }

    #[test]
    fn stream_decoding_waits_and_bounds() {
        let m = QuorumMessage::Commit { zxid: Zxid(5) };
        let b = m.to_bytes();
        for cut in 0..b.len() {
            assert_eq!(QuorumMessage::decode_stream(&b[..cut], 1024), Ok(None));
        }
        let mut two = b.clone();
        two.extend(&b);
        assert_eq!(
            QuorumMessage::decode_stream(&two, 1024),
            Ok(Some((m.clone(), b.len())))
        );
        let big = QuorumMessage::NewLeader {
            zxid: Zxid(0x1_0000_0000),
            config: Some(vec![b'x'; 2000]),
        };
        assert!(QuorumMessage::decode_stream(&big.to_bytes()[..20], 1024).is_err());
    }

    #[test]
    fn fixed_fields_are_checked() {
        let mut p = QuorumMessage::UpToDate.to_packet();
        p.zxid = 0;
        assert!(QuorumMessage::from_packet(&p).is_err());
        let mut p = QuorumMessage::Ack { zxid: Zxid(1) }.to_packet();
        p.data = Some(vec![]);
        assert!(QuorumMessage::from_packet(&p).is_err());
        let mut p = QuorumMessage::Commit { zxid: Zxid(1) }.to_packet();
        p.auth_info = Some(vec![]);
        assert!(QuorumMessage::from_packet(&p).is_err());
        p.packet_type = 99;
        assert!(QuorumMessage::from_packet(&p).is_err());
    }
}
