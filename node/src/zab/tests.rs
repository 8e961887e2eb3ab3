//! Step tests of the core, written as data: feed events, compare the exact outputs. Each test
//! is named after the rule it checks.

use std::sync::Arc;

use zk_proto::quorum::{
    Epoch, LearnerInfo, Notification, NotificationFormat, PeerState, QuorumMessage, ServerId,
    TxnLogEntry, NOTIFICATION_VERSION, ZAB_PROTOCOL_VERSION,
};
use zk_proto::txn::{ErrorTxn, Txn, TxnHeader};
use zk_proto::Zxid;

use super::*;

fn sid(i: i64) -> ServerId {
    ServerId(i)
}

fn config(me: i64, voters: usize) -> ZabConfig {
    ZabConfig::new(sid(me), Ensemble::numbered(voters, 0))
}

fn txn() -> TxnLogEntry {
    TxnLogEntry {
        hdr: TxnHeader {
            txn_type: -1,
            ..Default::default()
        },
        txn: Txn::Error(ErrorTxn { err: 0 }),
        digest: None,
    }
}

fn entry(epoch: u32, counter: u32) -> Arc<TxnLogEntry> {
    let mut t = txn();
    t.hdr.zxid = Zxid::new(epoch, counter).0;
    Arc::new(t)
}

fn notification(state: PeerState, leader: i64, zxid: Zxid, round: i64, epoch: i64) -> Notification {
    Notification {
        state,
        leader,
        zxid: zxid.0,
        election_epoch: round,
        peer_epoch: epoch,
        format: NotificationFormat::WithConfig {
            version: NOTIFICATION_VERSION,
            config: Vec::new(),
        },
    }
}

fn step(z: &mut Zab, ev: Event) -> Vec<Output> {
    z.step(ev);
    z.take_outputs()
}

fn msg(from: i64, msg: QuorumMessage) -> Event {
    Event::Message {
        from: sid(from),
        msg,
    }
}

fn send(to: i64, msg: QuorumMessage) -> Output {
    Output::Send { to: sid(to), msg }
}

fn state(state: PeerState, zab_state: ZabState, leader: Option<i64>, epoch: Option<u32>) -> Output {
    Output::State(RoleState {
        state,
        zab_state,
        leader: leader.map(sid),
        epoch: epoch.map(Epoch),
    })
}

/// Server 2 of 3 hears that 1 leads and 3 follows it, and follows 1.
fn follower_of_1(durable: DurableState) -> Zab {
    let mut z = Zab::new(config(2, 3), durable);
    z.take_outputs();
    step(
        &mut z,
        Event::Notification {
            from: sid(1),
            n: notification(PeerState::Leading, 1, Zxid(0), 1, 0),
        },
    );
    let out = step(
        &mut z,
        Event::Notification {
            from: sid(3),
            n: notification(PeerState::Following, 1, Zxid(0), 1, 0),
        },
    );
    assert_eq!(
        out,
        vec![
            state(PeerState::Following, ZabState::Discovery, Some(1), None),
            Output::Connect { to: sid(1) },
        ]
    );
    z
}

#[test]
fn a_lone_server_leads_and_commits_after_its_own_fsync() {
    let mut z = Zab::new(
        ZabConfig::new(sid(1), Ensemble::numbered(1, 0)),
        DurableState::default(),
    );
    assert_eq!(
        z.take_outputs(),
        vec![state(PeerState::Looking, ZabState::Election, None, None)]
    );
    let out = step(&mut z, Event::Tick);
    assert_eq!(
        out,
        vec![
            state(PeerState::Leading, ZabState::Discovery, Some(1), None),
            Output::SaveAcceptedEpoch(Epoch(1)),
            state(PeerState::Leading, ZabState::Discovery, Some(1), Some(1)),
            Output::SaveCurrentEpoch(Epoch(1)),
            state(
                PeerState::Leading,
                ZabState::Synchronization,
                Some(1),
                Some(1)
            ),
            state(PeerState::Leading, ZabState::Broadcast, Some(1), Some(1)),
        ]
    );
    assert_eq!(z.next_zxid(), Some(Zxid::new(1, 1)));
    let zxid = z.propose(txn()).unwrap();
    assert_eq!(zxid, Zxid::new(1, 1));
    // Logged, not committed: the disk has not said it is durable.
    assert_eq!(z.take_outputs(), vec![Output::Append(entry(1, 1))]);
    let out = step(&mut z, Event::Persisted { zxid });
    assert_eq!(out, vec![Output::Commit(entry(1, 1))]);
}

/// ZOOKEEPER-4643: a follower that wrote `currentEpoch` before the synced entries were on disk
/// could, after a crash, win an election with the new epoch and a short log, and truncate
/// committed transactions elsewhere.
#[test]
fn a_follower_writes_current_epoch_and_acks_newleader_only_once_its_log_is_durable() {
    let mut z = follower_of_1(DurableState::default());
    let info = LearnerInfo {
        server_id: 2,
        protocol_version: ZAB_PROTOCOL_VERSION,
        config_version: 0,
    };
    assert_eq!(
        step(&mut z, Event::Connected { peer: sid(1) }),
        vec![send(
            1,
            QuorumMessage::FollowerInfo {
                zxid: Zxid(0),
                info
            }
        )]
    );
    let e1 = Epoch(1).start_zxid();
    assert_eq!(
        step(
            &mut z,
            msg(
                1,
                QuorumMessage::LeaderInfo {
                    zxid: e1,
                    protocol_version: ZAB_PROTOCOL_VERSION
                }
            )
        ),
        vec![
            Output::SaveAcceptedEpoch(Epoch(1)),
            send(
                1,
                QuorumMessage::AckEpoch {
                    zxid: Zxid(0),
                    current_epoch: 0
                }
            ),
        ]
    );
    assert!(step(
        &mut z,
        msg(
            1,
            QuorumMessage::Diff {
                zxid: Zxid::new(0, 0)
            }
        )
    )
    .is_empty());
    // Epoch 0 history from the leader, committed, and NEWLEADER.
    let t = entry(0, 1);
    assert_eq!(
        step(
            &mut z,
            msg(
                1,
                QuorumMessage::Proposal {
                    zxid: t.zxid(),
                    txn: t.clone()
                }
            )
        ),
        vec![Output::Append(t.clone())]
    );
    assert!(step(&mut z, msg(1, QuorumMessage::Commit { zxid: t.zxid() })).is_empty());
    assert!(step(
        &mut z,
        msg(
            1,
            QuorumMessage::NewLeader {
                zxid: e1,
                config: None
            }
        )
    )
    .is_empty());
    assert_eq!(
        step(&mut z, Event::Persisted { zxid: t.zxid() }),
        vec![
            Output::SaveCurrentEpoch(Epoch(1)),
            send(1, QuorumMessage::Ack { zxid: e1 }),
        ]
    );
    // UPTODATE: apply what the sync committed, acknowledge, serve.
    assert_eq!(
        step(&mut z, msg(1, QuorumMessage::UpToDate)),
        vec![
            Output::Commit(t),
            send(1, QuorumMessage::Ack { zxid: e1 }),
            state(PeerState::Following, ZabState::Broadcast, Some(1), Some(1)),
        ]
    );
    // Broadcast: a proposal is acknowledged after it is logged, applied on COMMIT.
    let p = entry(1, 1);
    assert_eq!(
        step(
            &mut z,
            msg(
                1,
                QuorumMessage::Proposal {
                    zxid: p.zxid(),
                    txn: p.clone()
                }
            )
        ),
        vec![Output::Append(p.clone())]
    );
    assert_eq!(
        step(&mut z, Event::Persisted { zxid: p.zxid() }),
        vec![send(1, QuorumMessage::Ack { zxid: p.zxid() })]
    );
    assert_eq!(
        step(&mut z, msg(1, QuorumMessage::Commit { zxid: p.zxid() })),
        vec![Output::Commit(p)]
    );
}

#[test]
fn a_learner_refuses_a_leader_whose_epoch_is_below_its_promise() {
    let durable = DurableState {
        accepted_epoch: Epoch(3),
        current_epoch: Epoch(2),
        ..Default::default()
    };
    let mut z = follower_of_1(durable);
    step(&mut z, Event::Connected { peer: sid(1) });
    let out = step(
        &mut z,
        msg(
            1,
            QuorumMessage::LeaderInfo {
                zxid: Epoch(2).start_zxid(),
                protocol_version: ZAB_PROTOCOL_VERSION,
            },
        ),
    );
    assert_eq!(out[0], Output::Disconnect { to: sid(1) });
    assert_eq!(
        out[1],
        state(PeerState::Looking, ZabState::Election, None, None)
    );
}

#[test]
fn a_learner_that_already_accepted_the_epoch_acks_it_with_minus_one() {
    let durable = DurableState {
        accepted_epoch: Epoch(2),
        current_epoch: Epoch(1),
        ..Default::default()
    };
    let mut z = follower_of_1(durable);
    step(&mut z, Event::Connected { peer: sid(1) });
    let out = step(
        &mut z,
        msg(
            1,
            QuorumMessage::LeaderInfo {
                zxid: Epoch(2).start_zxid(),
                protocol_version: ZAB_PROTOCOL_VERSION,
            },
        ),
    );
    assert_eq!(
        out,
        vec![send(
            1,
            QuorumMessage::AckEpoch {
                zxid: Zxid(0),
                current_epoch: -1
            }
        )]
    );
}

/// Votes order by (peer epoch, zxid, sid): a newer epoch beats a longer log of an older one.
#[test]
fn election_prefers_the_higher_epoch_then_the_higher_zxid_then_the_higher_sid() {
    let durable = DurableState {
        accepted_epoch: Epoch(1),
        current_epoch: Epoch(1),
        log_base: Zxid(0),
        log: vec![entry(1, 1), entry(1, 2), entry(1, 3)],
        committed: Zxid(0),
    };
    let mut z = Zab::new(config(3, 3), durable);
    z.take_outputs();
    let looking = |leader, zxid, epoch| Event::Notification {
        from: sid(leader),
        n: notification(PeerState::Looking, leader, zxid, 1, epoch),
    };
    // 1 has a shorter log in the same epoch: we keep our vote and tell 1.
    let ours = notification(PeerState::Looking, 3, Zxid::new(1, 3), 1, 1);
    assert_eq!(
        step(&mut z, looking(1, Zxid::new(1, 1), 1)),
        vec![Output::Notify {
            to: sid(1),
            n: ours
        }]
    );
    // 2 has a newer epoch with a shorter log: it wins, we tell everyone.
    let out = step(&mut z, looking(2, Zxid::new(2, 0), 2));
    let expect = notification(PeerState::Looking, 2, Zxid::new(2, 0), 1, 2);
    assert_eq!(
        out,
        vec![
            Output::Notify {
                to: sid(1),
                n: expect.clone()
            },
            Output::Notify {
                to: sid(2),
                n: expect
            },
            state(PeerState::Following, ZabState::Discovery, Some(2), None),
            Output::Connect { to: sid(2) },
        ]
    );
}

/// A leader counts itself towards the ACKEPOCH quorum, and so writes `currentEpoch`, only
/// once everything it logged as a follower is on disk.
#[test]
fn a_leader_writes_current_epoch_only_once_its_own_log_is_durable() {
    // Server 3 follows 1, logs a proposal that is not yet durable, then 1 goes away.
    let mut z = Zab::new(config(3, 3), DurableState::default());
    z.take_outputs();
    for (from, st) in [(1, PeerState::Leading), (2, PeerState::Following)] {
        step(
            &mut z,
            Event::Notification {
                from: sid(from),
                n: notification(st, 1, Zxid(0), 1, 0),
            },
        );
    }
    step(&mut z, Event::Connected { peer: sid(1) });
    let e1 = Epoch(1).start_zxid();
    step(
        &mut z,
        msg(
            1,
            QuorumMessage::LeaderInfo {
                zxid: e1,
                protocol_version: ZAB_PROTOCOL_VERSION,
            },
        ),
    );
    step(&mut z, msg(1, QuorumMessage::Diff { zxid: Zxid(0) }));
    step(
        &mut z,
        msg(
            1,
            QuorumMessage::NewLeader {
                zxid: e1,
                config: None,
            },
        ),
    );
    step(&mut z, msg(1, QuorumMessage::UpToDate));
    let p = entry(1, 1);
    step(
        &mut z,
        msg(
            1,
            QuorumMessage::Proposal {
                zxid: p.zxid(),
                txn: p.clone(),
            },
        ),
    );
    step(&mut z, Event::Disconnected { peer: sid(1) });
    // 2 votes for 3 (same epoch, 3 has the longer log): 3 leads.
    let out = step(
        &mut z,
        Event::Notification {
            from: sid(2),
            n: notification(PeerState::Looking, 3, p.zxid(), 2, 1),
        },
    );
    assert!(out.contains(&state(
        PeerState::Leading,
        ZabState::Discovery,
        Some(3),
        None
    )));
    let info = LearnerInfo {
        server_id: 2,
        protocol_version: ZAB_PROTOCOL_VERSION,
        config_version: 0,
    };
    let out = step(
        &mut z,
        msg(2, QuorumMessage::FollowerInfo { zxid: e1, info }),
    );
    let e2 = Epoch(2).start_zxid();
    assert!(out.contains(&Output::SaveAcceptedEpoch(Epoch(2))));
    assert!(out.contains(&send(
        2,
        QuorumMessage::LeaderInfo {
            zxid: e2,
            protocol_version: ZAB_PROTOCOL_VERSION
        }
    )));
    // 2's ACKEPOCH makes a quorum with us, but our log is not durable yet.
    let out = step(
        &mut z,
        msg(
            2,
            QuorumMessage::AckEpoch {
                zxid: Zxid(0),
                current_epoch: 1,
            },
        ),
    );
    assert!(out.is_empty(), "{out:?}");
    let out = step(&mut z, Event::Persisted { zxid: p.zxid() });
    assert_eq!(
        out,
        vec![
            Output::SaveCurrentEpoch(Epoch(2)),
            state(
                PeerState::Leading,
                ZabState::Synchronization,
                Some(3),
                Some(2)
            ),
            send(2, QuorumMessage::Diff { zxid: p.zxid() }),
            send(
                2,
                QuorumMessage::Proposal {
                    zxid: p.zxid(),
                    txn: p.clone()
                }
            ),
            send(2, QuorumMessage::Commit { zxid: p.zxid() }),
            send(
                2,
                QuorumMessage::NewLeader {
                    zxid: e2,
                    config: Some(Vec::new())
                }
            ),
        ]
    );
    // NEWLEADER acknowledged by a quorum: the history commits, UPTODATE, serve.
    let out = step(&mut z, msg(2, QuorumMessage::Ack { zxid: e2 }));
    assert_eq!(
        out,
        vec![
            Output::Commit(p),
            state(PeerState::Leading, ZabState::Broadcast, Some(3), Some(2)),
            send(2, QuorumMessage::UpToDate),
        ]
    );
}

/// A leader that goes `syncLimit` ticks without hearing from a quorum steps down.
#[test]
fn a_leader_without_a_live_quorum_steps_down() {
    let mut z = Zab::new(config(1, 3), DurableState::default());
    z.take_outputs();
    let mut cfg_limit = 0;
    step(
        &mut z,
        Event::Notification {
            from: sid(2),
            n: notification(PeerState::Looking, 1, Zxid(0), 1, 0),
        },
    );
    assert_eq!(z.role().state, PeerState::Leading);
    let info = LearnerInfo {
        server_id: 2,
        protocol_version: ZAB_PROTOCOL_VERSION,
        config_version: 0,
    };
    step(
        &mut z,
        msg(
            2,
            QuorumMessage::FollowerInfo {
                zxid: Zxid(0),
                info,
            },
        ),
    );
    step(
        &mut z,
        msg(
            2,
            QuorumMessage::AckEpoch {
                zxid: Zxid(0),
                current_epoch: 0,
            },
        ),
    );
    step(
        &mut z,
        msg(
            2,
            QuorumMessage::Ack {
                zxid: Epoch(1).start_zxid(),
            },
        ),
    );
    assert!(z.role().serving());
    // Silence from 2.
    while z.role().state == PeerState::Leading {
        step(&mut z, Event::Tick);
        cfg_limit += 1;
        assert!(
            cfg_limit <= 11,
            "still leading after {cfg_limit} silent ticks"
        );
    }
    assert_eq!(z.role().state, PeerState::Looking);
    assert!(
        cfg_limit > 10,
        "stepped down after {cfg_limit} ticks, before syncLimit"
    );
}
