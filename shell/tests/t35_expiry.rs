//! Goal: an idle session stays alive on pings; when the server expires the session, the client
//! says so: an `Expired` state event,
//! then every request fails with SessionExpired and the shell reports it in words.
//! Method: freeze the (standalone) Apache server with SIGSTOP for longer than the session
//! timeout; when it is continued, its session tracker expires the silent session and the
//! client's reconnect is answered with "timeout 0".

mod common;

use std::time::Duration;

use common::apache::{available, Apache};
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
    let c = Client::connect(&zk.connect_string(), opts).await.unwrap();
    assert_eq!(c.info().timeout_ms, 2_000);

    // Idle for twice the timeout: pings at a third of it keep the session alive.
    let session = c.session_id();
    tokio::time::sleep(Duration::from_millis(4_000)).await;
    assert!(c.exists("/", false).await.unwrap().is_some());
    assert_eq!(c.session_id(), session);

    zk.signal(0, "STOP");
    tokio::time::sleep(Duration::from_millis(5_000)).await;
    zk.signal(0, "CONT");

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
