//! A TCP proxy that can cut a client off from its server: while blocked it closes every
//! connection and drops new ones at once, so the server sees silence and the client sees
//! refusals. Runs on the test's tokio runtime.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Proxy {
    pub addr: String,
    blocked: Arc<AtomicBool>,
    /// Tells live connections to close when blocking starts.
    cut: watch::Sender<u64>,
}

impl Proxy {
    pub async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let blocked = Arc::new(AtomicBool::new(false));
        let (cut, _) = watch::channel(0u64);
        let (b, c) = (blocked.clone(), cut.clone());
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                if b.load(Ordering::SeqCst) {
                    continue; // dropped: the client sees the connection close
                }
                tokio::spawn(pipe(sock, upstream.clone(), c.subscribe()));
            }
        });
        Proxy { addr, blocked, cut }
    }

    pub fn block(&self) {
        self.blocked.store(true, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    pub fn unblock(&self) {
        self.blocked.store(false, Ordering::SeqCst);
    }
}

async fn pipe(mut client: TcpStream, upstream: String, mut cut: watch::Receiver<u64>) {
    let Ok(mut server) = TcpStream::connect(&upstream).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = cut.changed() => {}
    }
}
