//! Peer networking of an ensemble member, in Apache ZooKeeper's wire format:
//! - the **election port**: one TCP connection per pair of servers, the one opened by the larger
//!   id (a smaller id that connects is hung up on and called back, as Apache's
//!   `QuorumCnxManager` does), a handshake naming the sender, then length-prefixed
//!   notifications both ways. Notifications may be lost; the Zab core retransmits.
//! - the **quorum port**: learners connect to the leader; jute `QuorumPacket`s back to back with
//!   no framing, and after a SNAP packet the leader's database as a jute stream.
//!
//! This module only moves bytes. The core task ([`super::core`]) owns the Zab state machine,
//! decides which quorum connections to keep, and ignores events of links it has dropped (every
//! quorum link carries a number, `link`).
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::tcp::OwnedWriteHalf;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot, watch};
use zk_proto::jute::Jute;
use zk_proto::quorum::{
    ElectionHandshake, Notification, QuorumMessage, ServerId, ELECTION_MESSAGE_LEN_MAX,
    ELECTION_PROTOCOL_V2, HANDSHAKE_ADDRESS_LEN_MAX,
};

use crate::storage::snapshot::{SnapshotData, StreamDecoder};

/// Where one member listens.
#[derive(Debug, Clone, Copy)]
pub struct PeerAddrs {
    pub quorum: SocketAddr,
    pub election: SocketAddr,
}

/// What the network tells the core.
pub enum NetEvent {
    /// An election notification from `from`.
    Notification { from: ServerId, n: Notification },
    /// A quorum connection is open. Learner side: the connection to the leader it asked for.
    /// Leader side: a learner connected and sent `first` (its FOLLOWERINFO/OBSERVERINFO).
    Opened {
        peer: ServerId,
        link: u64,
        tx: mpsc::UnboundedSender<Outgoing>,
        first: Option<QuorumMessage>,
    },
    /// A quorum packet on `link`. A SNAP packet comes with the database that followed it.
    Message {
        peer: ServerId,
        link: u64,
        msg: QuorumMessage,
        snapshot: Option<Box<SnapshotData>>,
    },
    /// The quorum connection `link` ended, or could not be opened.
    Closed { peer: ServerId, link: u64 },
}

/// Bytes for a quorum connection, written in order. `Later` holds the place of bytes still
/// being produced (a snapshot being serialized off the core task).
pub enum Outgoing {
    Bytes(Vec<u8>),
    Later(oneshot::Receiver<Vec<u8>>),
}

enum ElCmd {
    Send(Vec<u8>),
    /// Use this (accepted, handshaken) connection from now on.
    Adopt(TcpStream),
    /// The peer called with a smaller id and was hung up on: call it.
    CallBack,
    /// The reader of connection `gen` ended.
    ReaderDone(u64),
}

/// The running peer network of one member.
pub struct PeerNet {
    my_id: ServerId,
    peers: BTreeMap<ServerId, PeerAddrs>,
    election_links: BTreeMap<ServerId, mpsc::UnboundedSender<ElCmd>>,
    events: mpsc::Sender<NetEvent>,
    next_link: Arc<AtomicU64>,
    max_packet: usize,
}

/// Time allowed to open a TCP connection to a peer.
const CONNECT_TIMEOUT: Duration = Duration::from_millis(1000);
/// Time allowed for the first bytes of an accepted connection.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

impl PeerNet {
    /// Binds this member's quorum and election ports and starts the election links. Events
    /// come out of the returned receiver; everything stops when `shutdown` turns true.
    pub async fn start(
        my_id: ServerId,
        peers: BTreeMap<ServerId, PeerAddrs>,
        max_packet: usize,
        shutdown: watch::Receiver<bool>,
    ) -> anyhow::Result<(PeerNet, mpsc::Receiver<NetEvent>)> {
        use anyhow::Context;
        let me = *peers
            .get(&my_id)
            .with_context(|| format!("server id {my_id} is not in the server list"))?;
        let election = TcpListener::bind(me.election).await.with_context(|| {
            format!(
                "cannot listen on {} (election port of server.{my_id}): is another server using it?",
                me.election
            )
        })?;
        let quorum = TcpListener::bind(me.quorum).await.with_context(|| {
            format!(
                "cannot listen on {} (quorum port of server.{my_id}): is another server using it?",
                me.quorum
            )
        })?;
        let (events, events_rx) = mpsc::channel(4096);
        let next_link = Arc::new(AtomicU64::new(1));
        let mut election_links = BTreeMap::new();
        for (&sid, addrs) in &peers {
            if sid == my_id {
                continue;
            }
            let (tx, rx) = mpsc::unbounded_channel();
            election_links.insert(sid, tx.clone());
            tokio::spawn(election_link(
                my_id,
                me.election,
                sid,
                addrs.election,
                tx,
                rx,
                events.clone(),
                shutdown.clone(),
            ));
        }
        tokio::spawn(election_accept(
            my_id,
            election,
            election_links.clone(),
            shutdown.clone(),
        ));
        tokio::spawn(quorum_accept(
            quorum,
            events.clone(),
            next_link.clone(),
            max_packet,
            shutdown,
        ));
        Ok((
            PeerNet {
                my_id,
                peers,
                election_links,
                events,
                next_link,
                max_packet,
            },
            events_rx,
        ))
    }

    pub fn my_id(&self) -> ServerId {
        self.my_id
    }

    /// Sends an election notification (dropped if the peer cannot be reached).
    pub fn notify(&self, to: ServerId, n: &Notification) {
        if let Some(l) = self.election_links.get(&to) {
            let _ = l.send(ElCmd::Send(n.to_frame()));
        }
    }

    /// Opens a quorum connection to `to`'s quorum port; returns the link number that
    /// [`NetEvent::Opened`] or [`NetEvent::Closed`] will carry.
    pub fn connect(&self, to: ServerId) -> u64 {
        let link = self.next_link.fetch_add(1, Ordering::Relaxed);
        let Some(addr) = self.peers.get(&to).map(|a| a.quorum) else {
            let events = self.events.clone();
            tokio::spawn(async move {
                let _ = events.send(NetEvent::Closed { peer: to, link }).await;
            });
            return link;
        };
        let events = self.events.clone();
        let max = self.max_packet;
        tokio::spawn(async move {
            // Like Apache's learner: a few tries, the leader may be a moment from listening.
            let mut stream = None;
            for attempt in 0..5 {
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(100 * attempt)).await;
                }
                if let Ok(Ok(s)) =
                    tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await
                {
                    stream = Some(s);
                    break;
                }
            }
            let Some(stream) = stream else {
                tracing::debug!(peer = %to, %addr, "cannot connect to the leader's quorum port");
                let _ = events.send(NetEvent::Closed { peer: to, link }).await;
                return;
            };
            let _ = stream.set_nodelay(true);
            run_quorum_conn(stream, Some(to), link, events, max).await;
        });
        link
    }
}

// ---- election port ----

async fn election_accept(
    my_id: ServerId,
    listener: TcpListener,
    links: BTreeMap<ServerId, mpsc::UnboundedSender<ElCmd>>,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let (mut stream, addr) = tokio::select! {
            _ = shutdown.changed() => return,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("election port: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let links = links.clone();
        tokio::spawn(async move {
            let hs =
                match tokio::time::timeout(HANDSHAKE_TIMEOUT, read_handshake(&mut stream)).await {
                    Ok(Ok(h)) => h,
                    Ok(Err(e)) => {
                        tracing::debug!(%addr, "election port: bad handshake: {e}");
                        return;
                    }
                    Err(_) => return,
                };
            let sid = hs.sid();
            let Some(link) = links.get(&sid) else {
                tracing::warn!(%addr, %sid, "election port: connection from a server that is not in the server list; closing it");
                return;
            };
            if sid < my_id {
                // The larger id keeps the connection it opens.
                drop(stream);
                let _ = link.send(ElCmd::CallBack);
            } else {
                let _ = stream.set_nodelay(true);
                let _ = link.send(ElCmd::Adopt(stream));
            }
        });
    }
}

async fn read_handshake(s: &mut TcpStream) -> std::io::Result<ElectionHandshake> {
    let bad = |m: String| std::io::Error::new(std::io::ErrorKind::InvalidData, m);
    let first = s.read_i64().await?;
    if first >= 0 {
        return Ok(ElectionHandshake::Legacy {
            sid: ServerId(first),
        });
    }
    let sid = s.read_i64().await?;
    let len = s.read_i32().await?;
    if len <= 0 || len as usize > HANDSHAKE_ADDRESS_LEN_MAX {
        return Err(bad(format!("address length {len}")));
    }
    let mut addr = vec![0; len as usize];
    s.read_exact(&mut addr).await?;
    Ok(ElectionHandshake::Versioned {
        protocol_version: first,
        sid: ServerId(sid),
        addresses: String::from_utf8_lossy(&addr).into_owned(),
    })
}

#[allow(clippy::too_many_arguments)]
async fn election_link(
    my_id: ServerId,
    my_election: SocketAddr,
    peer: ServerId,
    addr: SocketAddr,
    self_tx: mpsc::UnboundedSender<ElCmd>,
    mut rx: mpsc::UnboundedReceiver<ElCmd>,
    events: mpsc::Sender<NetEvent>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut writer: Option<(u64, OwnedWriteHalf)> = None;
    let mut gen = 0u64;
    let mut readers: Vec<tokio::task::JoinHandle<()>> = Vec::new();
    let handshake = ElectionHandshake::Versioned {
        protocol_version: ELECTION_PROTOCOL_V2,
        sid: my_id,
        addresses: my_election.to_string(),
    }
    .to_bytes();
    loop {
        let cmd = tokio::select! {
            _ = shutdown.changed() => break,
            c = rx.recv() => match c { Some(c) => c, None => break },
        };
        let mut adopt = |stream: TcpStream, writer: &mut Option<(u64, OwnedWriteHalf)>| {
            gen += 1;
            let (r, w) = stream.into_split();
            readers.retain(|h| !h.is_finished());
            readers.push(tokio::spawn(election_reader(
                r,
                peer,
                gen,
                self_tx.clone(),
                events.clone(),
            )));
            *writer = Some((gen, w));
        };
        match cmd {
            ElCmd::Adopt(stream) => adopt(stream, &mut writer),
            ElCmd::ReaderDone(g) => {
                if writer.as_ref().is_some_and(|(wg, _)| *wg == g) {
                    writer = None;
                }
            }
            ElCmd::CallBack | ElCmd::Send(_) => {
                if writer.is_none() {
                    if let Ok(Ok(mut s)) =
                        tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(addr)).await
                    {
                        let _ = s.set_nodelay(true);
                        if s.write_all(&handshake).await.is_ok() {
                            adopt(s, &mut writer);
                        }
                    }
                }
                if let ElCmd::Send(frame) = cmd {
                    if let Some((_, w)) = &mut writer {
                        if w.write_all(&frame).await.is_err() {
                            writer = None;
                        }
                    }
                }
            }
        }
    }
    for r in readers {
        r.abort();
    }
}

async fn election_reader(
    mut r: tokio::net::tcp::OwnedReadHalf,
    peer: ServerId,
    gen: u64,
    link: mpsc::UnboundedSender<ElCmd>,
    events: mpsc::Sender<NetEvent>,
) {
    while let Ok(len) = r.read_i32().await {
        if len <= 0 || len as usize > ELECTION_MESSAGE_LEN_MAX {
            tracing::warn!(%peer, len, "election port: bad message length; closing the connection");
            break;
        }
        let mut payload = vec![0; len as usize];
        if r.read_exact(&mut payload).await.is_err() {
            break;
        }
        match Notification::from_payload(&payload) {
            Ok(n) => {
                if events
                    .send(NetEvent::Notification { from: peer, n })
                    .await
                    .is_err()
                {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(%peer, "election port: undecodable notification ({e}); closing the connection");
                break;
            }
        }
    }
    let _ = link.send(ElCmd::ReaderDone(gen));
}

// ---- quorum port ----

async fn quorum_accept(
    listener: TcpListener,
    events: mpsc::Sender<NetEvent>,
    next_link: Arc<AtomicU64>,
    max_packet: usize,
    mut shutdown: watch::Receiver<bool>,
) {
    loop {
        let (stream, _addr) = tokio::select! {
            _ = shutdown.changed() => return,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("quorum port: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let link = next_link.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(run_quorum_conn(
            stream,
            None,
            link,
            events.clone(),
            max_packet,
        ));
    }
}

/// Runs one quorum connection: a writer task fed by the core, and this task reading packets.
/// `peer` is known on the learner side; on the leader side it comes from the first packet.
async fn run_quorum_conn(
    stream: TcpStream,
    peer: Option<ServerId>,
    link: u64,
    events: mpsc::Sender<NetEvent>,
    max_packet: usize,
) {
    let (mut r, w) = stream.into_split();
    let (tx, out_rx) = mpsc::unbounded_channel();
    let (writer_done_tx, mut writer_done) = oneshot::channel::<()>();
    tokio::spawn(async move {
        quorum_writer(w, out_rx).await;
        let _ = writer_done_tx.send(());
    });
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut peer = peer;
    let mut tx = Some(tx);
    if let Some(p) = peer {
        let tx = tx.take().expect("tx");
        if events
            .send(NetEvent::Opened {
                peer: p,
                link,
                tx,
                first: None,
            })
            .await
            .is_err()
        {
            return;
        }
    }
    let mut chunk = vec![0u8; 64 * 1024];
    'conn: loop {
        // Decode every whole packet in the buffer.
        let mut consumed = 0;
        loop {
            let msg = match QuorumMessage::decode_stream(&buf[consumed..], max_packet) {
                Ok(Some((m, used))) => {
                    consumed += used;
                    m
                }
                Ok(None) => break,
                Err(e) => {
                    tracing::warn!(peer = ?peer, "quorum port: undecodable packet ({e}); closing the connection");
                    break 'conn;
                }
            };
            let Some(p) = peer else {
                // The leader side learns who called from FOLLOWERINFO / OBSERVERINFO.
                let sid = match &msg {
                    QuorumMessage::FollowerInfo { info, .. }
                    | QuorumMessage::ObserverInfo { info, .. } => ServerId(info.server_id),
                    other => {
                        tracing::warn!(packet = other.name(), "quorum port: a learner must start with FOLLOWERINFO or OBSERVERINFO; closing the connection");
                        break 'conn;
                    }
                };
                peer = Some(sid);
                let ev = NetEvent::Opened {
                    peer: sid,
                    link,
                    tx: tx.take().expect("tx"),
                    first: Some(msg),
                };
                if events.send(ev).await.is_err() {
                    return;
                }
                continue;
            };
            let snapshot = if let QuorumMessage::Snap { .. } = &msg {
                let rest = buf.split_off(consumed);
                buf.clear();
                consumed = 0;
                match read_snapshot(&mut r, rest, max_packet).await {
                    Ok((snap, leftover)) => {
                        buf = leftover;
                        Some(Box::new(snap))
                    }
                    Err(e) => {
                        tracing::warn!(peer = %p, "quorum port: cannot read the leader's snapshot: {e}; closing the connection");
                        break 'conn;
                    }
                }
            } else {
                None
            };
            let ev = NetEvent::Message {
                peer: p,
                link,
                msg,
                snapshot,
            };
            if events.send(ev).await.is_err() {
                return;
            }
        }
        buf.drain(..consumed);
        let n = tokio::select! {
            r = r.read(&mut chunk) => match r { Ok(0) | Err(_) => break, Ok(n) => n },
            _ = &mut writer_done => break,
        };
        buf.extend_from_slice(&chunk[..n]);
    }
    drop(tx);
    if let Some(p) = peer {
        let _ = events.send(NetEvent::Closed { peer: p, link }).await;
    }
}

/// Reads the database that follows a SNAP packet; returns it and the bytes read past it.
async fn read_snapshot(
    r: &mut tokio::net::tcp::OwnedReadHalf,
    already: Vec<u8>,
    max_record: usize,
) -> Result<(SnapshotData, Vec<u8>), String> {
    let mut dec = StreamDecoder::new(max_record);
    let mut chunk = vec![0u8; 256 * 1024];
    let mut input = already;
    loop {
        if !input.is_empty() {
            if let Some((snap, unconsumed)) = dec.feed(&input).map_err(|e| e.0)? {
                let leftover = input[input.len() - unconsumed..].to_vec();
                return Ok((snap, leftover));
            }
        }
        let n = r.read(&mut chunk).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed in the middle of the snapshot".into());
        }
        input.clear();
        input.extend_from_slice(&chunk[..n]);
    }
}

async fn quorum_writer(w: OwnedWriteHalf, mut rx: mpsc::UnboundedReceiver<Outgoing>) {
    let mut w = BufWriter::with_capacity(64 * 1024, w);
    while let Some(item) = rx.recv().await {
        let bytes = match item {
            Outgoing::Bytes(b) => b,
            Outgoing::Later(rx) => match rx.await {
                Ok(b) => b,
                Err(_) => break,
            },
        };
        if w.write_all(&bytes).await.is_err() {
            return;
        }
        if rx.is_empty() && w.flush().await.is_err() {
            return;
        }
    }
    let _ = w.flush().await;
    let _ = w.into_inner().shutdown().await;
}

/// A quorum packet as bytes.
pub fn packet_bytes(msg: &QuorumMessage) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    msg.encode(&mut out);
    out
}
