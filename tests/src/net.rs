//! Loopback networking helpers: free ports and four-letter words.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Ports handed out by this process, so two servers of one test never get the same port even
/// though the OS may reuse a just-released one.
static HANDED_OUT: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// Asks the OS for a free port on 127.0.0.1 (bind port 0, read it, release it).
pub fn free_port() -> u16 {
    for _ in 0..64 {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local addr").port();
        let mut set = HANDED_OUT.lock().unwrap_or_else(|e| e.into_inner());
        if set.get_or_insert_with(HashSet::new).insert(port) {
            return port;
        }
    }
    panic!("the OS kept returning ports this process already used");
}

/// Sends a four-letter word and returns the whole answer (the server closes after answering).
pub fn four_letter_word(addr: SocketAddr, word: &str, timeout: Duration) -> Result<String> {
    let mut s =
        TcpStream::connect_timeout(&addr, timeout).with_context(|| format!("connect to {addr}"))?;
    s.set_read_timeout(Some(timeout))?;
    s.set_write_timeout(Some(timeout))?;
    s.write_all(word.as_bytes())
        .with_context(|| format!("send {word} to {addr}"))?;
    let mut out = Vec::new();
    s.read_to_end(&mut out)
        .with_context(|| format!("read {word} answer from {addr}"))?;
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Polls `ruok` until the server answers `imok`, `alive` reports the process died, or `timeout`
/// passes.
pub fn wait_for_imok(
    addr: SocketAddr,
    timeout: Duration,
    mut alive: impl FnMut() -> Result<()>,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    let mut last = String::new();
    while Instant::now() < deadline {
        alive()?;
        match four_letter_word(addr, "ruok", Duration::from_secs(2)) {
            Ok(a) if a == "imok" => return Ok(()),
            Ok(a) => last = format!("answered {a:?}"),
            Err(e) => last = format!("{e:#}"),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!("{addr} did not answer ruok with imok within {timeout:?} (last: {last})")
}
