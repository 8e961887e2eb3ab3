//! A controllable TCP proxy for one directed peer link (server A's connections to one of server
//! B's ports), so a test can partition real server processes without root or iptables.
//!
//! Each server of an ensemble is given a zoo.cfg in which the *other* servers' quorum and
//! election addresses are proxies owned by the test. Cutting every proxy into and out of a server
//! isolates it; healing restores the network. Three states:
//! - [`LinkState::Open`]: bytes are forwarded both ways.
//! - [`LinkState::Cut`]: every connection is closed at once and new ones are accepted and closed
//!   immediately (the peer sees a reset or an EOF, as with a refusing firewall).
//! - [`LinkState::Blackhole`]: connections stay open but every byte is discarded, and new
//!   connections are accepted and then ignored (as with a dropping firewall: the peers notice
//!   only by their own timeouts). Healing closes every blackholed connection, because the bytes
//!   it lost would leave both ends out of step; the peers then reconnect through the open proxy.
//!
//! Threads, not tokio: a proxy must keep working while a test blocks its own runtime, and the
//! handful of peer connections of a test ensemble makes a thread per direction cheap.
//!
//! Never: binds anything but 127.0.0.1, or outlives its owner (dropping a [`Proxy`] stops its
//! threads and closes its connections).

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};

/// How long a pump waits for bytes before it looks at the link state again: the longest a cut
/// or a blackhole takes to apply to bytes already in flight.
const POLL: Duration = Duration::from_millis(20);
/// How long the proxy tries to reach the real server for a new connection.
const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// Size of each pump's buffer.
const BUF_LEN: usize = 64 * 1024;

/// What a link does with connections and bytes; see the module doc.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum LinkState {
    Open = 0,
    Cut = 1,
    Blackhole = 2,
}

impl LinkState {
    fn from_u8(v: u8) -> LinkState {
        match v {
            0 => LinkState::Open,
            1 => LinkState::Cut,
            _ => LinkState::Blackhole,
        }
    }
}

/// State shared by the listener thread, the pumps and the owner.
#[derive(Debug)]
struct Shared {
    state: AtomicU8,
    /// Set when the proxy is dropped: every thread exits.
    stop: AtomicBool,
    /// Both ends of every live connection, so a cut or a heal can close them. A connection is
    /// removed when its pumps end.
    conns: Mutex<Vec<Conn>>,
    /// Counts connections, for names and for removal.
    next_id: Mutex<u64>,
}

#[derive(Debug)]
struct Conn {
    id: u64,
    /// The connection accepted from the server that dials.
    downstream: TcpStream,
    /// Our connection to the real server; `None` for a connection swallowed by a blackhole.
    upstream: Option<TcpStream>,
    /// Set once the connection may have lost bytes (it was open when a blackhole began, or
    /// was accepted during one): it never forwards again and a heal closes it.
    tainted: Arc<AtomicBool>,
}

impl Conn {
    fn close(&self) {
        let _ = self.downstream.shutdown(Shutdown::Both);
        if let Some(u) = &self.upstream {
            let _ = u.shutdown(Shutdown::Both);
        }
    }
}

impl Shared {
    fn state(&self) -> LinkState {
        LinkState::from_u8(self.state.load(Ordering::SeqCst))
    }

    fn conns(&self) -> std::sync::MutexGuard<'_, Vec<Conn>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Closes every live connection (both ends); the pumps see the error and exit.
    fn close_all(&self) {
        for c in std::mem::take(&mut *self.conns()) {
            c.close();
        }
    }

    /// Closes the connections that may have lost bytes.
    fn close_tainted(&self) {
        let mut conns = self.conns();
        for c in conns.iter().filter(|c| c.tainted.load(Ordering::SeqCst)) {
            c.close();
        }
        conns.retain(|c| !c.tainted.load(Ordering::SeqCst));
    }

    fn taint_all(&self) {
        for c in self.conns().iter() {
            c.tainted.store(true, Ordering::SeqCst);
        }
    }

    fn remove(&self, id: u64) {
        self.conns().retain(|c| c.id != id);
    }

    fn register(
        &self,
        down: &TcpStream,
        up: Option<&TcpStream>,
        tainted: bool,
    ) -> Option<(u64, Arc<AtomicBool>)> {
        let id = {
            let mut n = self.next_id.lock().unwrap_or_else(|e| e.into_inner());
            *n += 1;
            *n
        };
        let flag = Arc::new(AtomicBool::new(tainted));
        let upstream = match up {
            Some(u) => Some(u.try_clone().ok()?),
            None => None,
        };
        self.conns().push(Conn {
            id,
            downstream: down.try_clone().ok()?,
            upstream,
            tainted: flag.clone(),
        });
        Some((id, flag))
    }
}

/// One proxy: listens on a free loopback port and forwards to `upstream`.
#[derive(Debug)]
pub struct Proxy {
    /// Who the link connects, for messages ("2->1 election").
    name: String,
    listen: SocketAddr,
    upstream: SocketAddr,
    shared: Arc<Shared>,
    /// The accept loop; joined on drop.
    acceptor: Option<JoinHandle<()>>,
}

impl Proxy {
    /// Binds 127.0.0.1 on a port the OS picks and starts forwarding to `upstream` (which need
    /// not be listening yet: a connection made while it is down is closed).
    pub fn start(name: impl Into<String>, upstream: SocketAddr) -> Result<Proxy> {
        let name = name.into();
        let listener = TcpListener::bind("127.0.0.1:0").context("bind proxy on 127.0.0.1:0")?;
        listener
            .set_nonblocking(true)
            .context("set proxy listener nonblocking")?;
        let listen = listener.local_addr().context("proxy local addr")?;
        let shared = Arc::new(Shared {
            state: AtomicU8::new(LinkState::Open as u8),
            stop: AtomicBool::new(false),
            conns: Mutex::new(Vec::new()),
            next_id: Mutex::new(0),
        });
        let s = shared.clone();
        let acceptor = std::thread::Builder::new()
            .name(format!("proxy {name}"))
            .spawn(move || accept_loop(listener, upstream, s))
            .context("spawn proxy thread")?;
        Ok(Proxy {
            name,
            listen,
            upstream,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// Where the dialing server must connect (the address to write into its zoo.cfg).
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
    }

    pub fn upstream(&self) -> SocketAddr {
        self.upstream
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn state(&self) -> LinkState {
        self.shared.state()
    }

    /// Closes every connection and refuses new ones until [`Proxy::heal`].
    pub fn cut(&self) {
        self.shared
            .state
            .store(LinkState::Cut as u8, Ordering::SeqCst);
        self.shared.close_all();
    }

    /// Keeps connections open but drops every byte, and swallows new connections, until
    /// [`Proxy::heal`].
    pub fn blackhole(&self) {
        self.shared
            .state
            .store(LinkState::Blackhole as u8, Ordering::SeqCst);
        self.shared.taint_all();
    }

    /// Forwards again. Connections that lived through a blackhole are closed (they lost bytes).
    pub fn heal(&self) {
        self.shared
            .state
            .store(LinkState::Open as u8, Ordering::SeqCst);
        self.shared.close_tainted();
    }

    /// Number of connections currently held (forwarded or swallowed).
    pub fn connections(&self) -> usize {
        self.shared.conns().len()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.close_all();
        if let Some(h) = self.acceptor.take() {
            let _ = h.join();
        }
    }
}

fn accept_loop(listener: TcpListener, upstream: SocketAddr, shared: Arc<Shared>) {
    let mut pumps: Vec<JoinHandle<()>> = Vec::new();
    while !shared.stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((down, _)) => pumps.extend(on_accept(down, upstream, &shared)),
            // WouldBlock: nothing to accept; anything else: try again after the same pause.
            Err(_) => std::thread::sleep(POLL),
        }
        pumps.retain(|h| !h.is_finished());
    }
    shared.close_all();
    for h in pumps {
        let _ = h.join();
    }
}

/// Handles one accepted connection according to the link state; returns its threads.
fn on_accept(down: TcpStream, upstream: SocketAddr, shared: &Arc<Shared>) -> Vec<JoinHandle<()>> {
    let _ = down.set_nonblocking(false);
    match shared.state() {
        LinkState::Cut => {
            let _ = down.shutdown(Shutdown::Both);
            return Vec::new();
        }
        LinkState::Blackhole => return spawn_sink(down, shared).into_iter().collect(),
        LinkState::Open => {}
    }
    let up = match TcpStream::connect_timeout(&upstream, UPSTREAM_CONNECT_TIMEOUT) {
        Ok(s) => s,
        Err(_) => {
            // The real server is down: the dialer sees its connection closed, as it would see
            // a refusal without the proxy.
            let _ = down.shutdown(Shutdown::Both);
            return Vec::new();
        }
    };
    let _ = down.set_nodelay(true);
    let _ = up.set_nodelay(true);
    let Some((id, tainted)) = shared.register(&down, Some(&up), false) else {
        return Vec::new();
    };
    let (Ok(down2), Ok(up2)) = (down.try_clone(), up.try_clone()) else {
        shared.remove(id);
        return Vec::new();
    };
    let pumps = [
        spawn_pump(id, down, up, tainted.clone(), shared),
        spawn_pump(id, up2, down2, tainted, shared),
    ];
    pumps.into_iter().flatten().collect()
}

/// A connection accepted during a blackhole: read and discard until a heal or the dialer closes
/// it (draining keeps the dialer's writes from blocking on a full window).
fn spawn_sink(down: TcpStream, shared: &Arc<Shared>) -> Option<JoinHandle<()>> {
    let (id, _) = shared.register(&down, None, true)?;
    let s = shared.clone();
    std::thread::Builder::new()
        .name(format!("proxy sink {id}"))
        .spawn(move || {
            let mut d = down;
            let _ = d.set_read_timeout(Some(POLL));
            let mut buf = vec![0u8; BUF_LEN];
            while !s.stop.load(Ordering::SeqCst) {
                match d.read(&mut buf) {
                    Ok(0) => break,
                    Ok(_) => {}
                    Err(e) if is_timeout(&e) => {}
                    Err(_) => break,
                }
            }
            let _ = d.shutdown(Shutdown::Both);
            s.remove(id);
        })
        .ok()
}

/// Copies `from` → `to` while the link is open and the connection untainted, discards
/// otherwise, and closes both ends on a cut, an error or an EOF.
fn spawn_pump(
    id: u64,
    mut from: TcpStream,
    mut to: TcpStream,
    tainted: Arc<AtomicBool>,
    shared: &Arc<Shared>,
) -> Option<JoinHandle<()>> {
    let s = shared.clone();
    std::thread::Builder::new()
        .name(format!("proxy pump {id}"))
        .spawn(move || {
            let _ = from.set_read_timeout(Some(POLL));
            let mut buf = vec![0u8; BUF_LEN];
            while !s.stop.load(Ordering::SeqCst) && s.state() != LinkState::Cut {
                match from.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        let forward =
                            s.state() == LinkState::Open && !tainted.load(Ordering::SeqCst);
                        if forward && to.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    Err(e) if is_timeout(&e) => {}
                    Err(_) => break,
                }
            }
            let _ = from.shutdown(Shutdown::Both);
            let _ = to.shutdown(Shutdown::Both);
            s.remove(id);
        })
        .ok()
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An echo server on a free port; returns its address.
    fn echo_server() -> SocketAddr {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind echo");
        let addr = l.local_addr().expect("addr");
        std::thread::spawn(move || {
            for s in l.incoming() {
                let Ok(mut s) = s else { return };
                std::thread::spawn(move || {
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = s.read(&mut buf) {
                        if n == 0 || s.write_all(&buf[..n]).is_err() {
                            return;
                        }
                    }
                });
            }
        });
        addr
    }

    fn roundtrip(s: &mut TcpStream, msg: &[u8]) -> std::io::Result<Vec<u8>> {
        s.write_all(msg)?;
        let mut got = vec![0u8; msg.len()];
        s.read_exact(&mut got)?;
        Ok(got)
    }

    fn connect(p: &Proxy) -> TcpStream {
        let s = TcpStream::connect(p.listen_addr()).expect("connect proxy");
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .expect("timeout");
        s
    }

    /// Forwarding, a cut that closes the live connection and refuses new ones, a heal, and a
    /// blackhole that swallows bytes until the heal closes the connection.
    #[test]
    fn open_cut_heal_blackhole() {
        let p = Proxy::start("test", echo_server()).expect("proxy");
        let mut a = connect(&p);
        assert_eq!(roundtrip(&mut a, b"hello").expect("echo"), b"hello");

        p.cut();
        assert!(
            roundtrip(&mut a, b"x").is_err(),
            "a cut closes live connections"
        );
        let mut b = connect(&p);
        assert!(roundtrip(&mut b, b"y").is_err(), "a cut refuses new ones");

        p.heal();
        let mut c = connect(&p);
        assert_eq!(roundtrip(&mut c, b"again").expect("echo"), b"again");

        p.blackhole();
        std::thread::sleep(POLL * 3);
        let err = roundtrip(&mut c, b"lost").expect_err("blackholed bytes never come back");
        assert!(is_timeout(&err), "a blackhole is silent, not closed: {err}");
        p.heal();
        std::thread::sleep(POLL * 3);
        let mut buf = [0u8; 8];
        let closed = matches!(c.read(&mut buf), Ok(0) | Err(_));
        assert!(closed, "a heal closes connections that lost bytes");
        let mut d = connect(&p);
        assert_eq!(roundtrip(&mut d, b"fresh").expect("echo"), b"fresh");
    }
}
