//! Goal: an idle session stays alive on pings; when the server expires the session, the client
//! says so: an `Expired` state event,
//! then every request fails with SessionExpired and the shell reports it in words.
//! Method: the client talks to a standalone Apache server through a proxy; the proxy cuts it
//! off for longer than the session timeout, the server expires the silent session, and the
//! client's next handshake is answered with "timeout 0".

mod common;

use std::time::Duration;

use common::apache::{available, Apache};
use common::proxy::Proxy;
use zk_shell::client::{event_channel, Client, ClientOptions, Error, Event, SessionState};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn t35_session_expiry_is_an_event_and_an_error() {
    if !available("t35_expiry") {
        return;
    }
    let zk = Apache::standalone();
    let (tx, mut events) = event_channel();
    let opts = ClientOptions {
        session_timeout_ms: 2_000,
        events: Some(tx),
        ..Default::default()
    };
    let proxy = Proxy::start(zk.connect_string()).await;
    let c = Client::connect(&proxy.addr, opts).await.unwrap();
    assert_eq!(c.info().timeout_ms, 2_000);

    // Idle for twice the timeout: pings at a third of it keep the session alive.
    let session = c.session_id();
    tokio::time::sleep(Duration::from_millis(4_000)).await;
    assert!(c.exists("/", false).await.unwrap().is_some());
    assert_eq!(c.session_id(), session);

    proxy.block();
    // Timeout plus a tick of expiry granularity, with room to spare.
    tokio::time::sleep(Duration::from_millis(4_000)).await;
    proxy.unblock();

    let mut states = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !states.contains(&SessionState::Expired) {
        let ev = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("expiry in time")
            .unwrap();
        if let Event::State(s) = ev.event {
            states.push(s);
        }
    }
    assert!(states.contains(&SessionState::Disconnected), "{states:?}");
    let e = c.get_data("/", false).await.unwrap_err();
    assert!(matches!(e, Error::SessionExpired), "{e:?}");
    assert_eq!(e.to_string(), "session expired");
}
