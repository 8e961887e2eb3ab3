//! Properties of the peer protocol codec (`zk_proto::quorum`).
//!
//! Goal: every message a server sends to another (election handshake, notification, every
//! quorum packet type) decodes back to itself, `encoded_len` predicts the bytes, arbitrary bytes
//! never panic a decoder, and whatever decodes re-encodes to the bytes it was read from (a
//! proposal must not change on its way through a learner, since it is logged byte for byte).
//! Method: one strategy per message family covering every variant, round-trip and
//! arbitrary-bytes checks from `common`.

mod common;

use std::sync::Arc;

use common::*;
use proptest::collection::vec;
use proptest::prelude::*;
use zk_proto::jute::Jute;
use zk_proto::quorum::*;
use zk_proto::txn::{Txn, TxnDigest, TxnHeader};
use zk_proto::Zxid;

fn zxid() -> BoxedStrategy<Zxid> {
    prop_oneof![any::<i64>(), 0i64..0x3_0000_0010]
        .prop_map(Zxid)
        .boxed()
}

/// A log entry whose header names its body's type. An empty closeSession body followed by a
/// digest is left out: those bytes also read as a one-path `CloseSessionTxn` (Apache has the
/// same ambiguity and 3.8 always writes the body).
fn txn_entry() -> BoxedStrategy<Arc<TxnLogEntry>> {
    (TxnHeader::arb(), Txn::arb(), Option::<TxnDigest>::arb())
        .prop_map(|(mut hdr, txn, mut digest)| {
            hdr.txn_type = txn.op().0;
            if txn == Txn::CloseSession(None) {
                digest = None;
            }
            Arc::new(TxnLogEntry { hdr, txn, digest })
        })
        .boxed()
}

impl Arb for QuorumMessage {
    fn arb() -> BoxedStrategy<Self> {
        let learner_info =
            (any::<i64>(), any::<i32>(), any::<i64>()).prop_map(|(s, p, c)| LearnerInfo {
                server_id: s,
                protocol_version: p,
                config_version: c,
            });
        let touches = option::of(vec(
            (any::<i64>(), any::<i32>()).prop_map(|(session_id, timeout_ms)| SessionTouch {
                session_id,
                timeout_ms,
            }),
            0..4,
        ));
        let request = (
            any::<i64>(),
            any::<i32>(),
            any::<i32>(),
            Vec::<u8>::arb(),
            option::of(small_vec::<zk_proto::Id>()),
        )
            .prop_map(|(session_id, cxid, op, body, auth_info)| ForwardedRequest {
                session_id,
                cxid,
                op,
                body,
                auth_info,
            });
        let revalidate = prop_oneof![
            (any::<i64>(), any::<i32>()).prop_map(|(session_id, timeout_ms)| {
                Revalidate::Request {
                    session_id,
                    timeout_ms,
                }
            }),
            (any::<i64>(), any::<bool>())
                .prop_map(|(session_id, valid)| Revalidate::Reply { session_id, valid }),
        ];
        prop_oneof![
            request.prop_map(QuorumMessage::Request),
            (zxid(), txn_entry()).prop_map(|(zxid, txn)| QuorumMessage::Proposal { zxid, txn }),
            zxid().prop_map(|zxid| QuorumMessage::Ack { zxid }),
            zxid().prop_map(|zxid| QuorumMessage::Commit { zxid }),
            (zxid(), touches).prop_map(|(zxid, touches)| QuorumMessage::Ping { zxid, touches }),
            revalidate.prop_map(QuorumMessage::Revalidate),
            Just(QuorumMessage::Sync),
            (zxid(), txn_entry()).prop_map(|(zxid, txn)| QuorumMessage::Inform { zxid, txn }),
            (zxid(), any::<i64>()).prop_map(|(zxid, designated_leader)| {
                QuorumMessage::CommitAndActivate {
                    zxid,
                    designated_leader,
                }
            }),
            (zxid(), Option::<Vec<u8>>::arb())
                .prop_map(|(zxid, config)| QuorumMessage::NewLeader { zxid, config }),
            (zxid(), learner_info.clone())
                .prop_map(|(zxid, info)| QuorumMessage::FollowerInfo { zxid, info }),
            Just(QuorumMessage::UpToDate),
            zxid().prop_map(|zxid| QuorumMessage::Diff { zxid }),
            zxid().prop_map(|zxid| QuorumMessage::Trunc { zxid }),
            zxid().prop_map(|zxid| QuorumMessage::Snap { zxid }),
            (zxid(), learner_info)
                .prop_map(|(zxid, info)| QuorumMessage::ObserverInfo { zxid, info }),
            (zxid(), any::<i32>()).prop_map(|(zxid, protocol_version)| {
                QuorumMessage::LeaderInfo {
                    zxid,
                    protocol_version,
                }
            }),
            (zxid(), any::<i32>()).prop_map(|(zxid, current_epoch)| QuorumMessage::AckEpoch {
                zxid,
                current_epoch
            }),
            (zxid(), any::<i64>(), txn_entry()).prop_map(|(zxid, designated_leader, txn)| {
                QuorumMessage::InformAndActivate {
                    zxid,
                    designated_leader,
                    txn,
                }
            }),
        ]
        .boxed()
    }
}

use proptest::option;

fn notification() -> BoxedStrategy<Notification> {
    let state = prop_oneof![
        Just(PeerState::Looking),
        Just(PeerState::Following),
        Just(PeerState::Leading),
        Just(PeerState::Observing),
    ];
    let format = prop_oneof![
        Just(NotificationFormat::Short),
        any::<i32>().prop_map(|trailer| NotificationFormat::Compat { trailer }),
        (2i32..i32::MAX, vec(any::<u8>(), 0..64))
            .prop_map(|(version, config)| NotificationFormat::WithConfig { version, config }),
    ];
    (
        state,
        any::<i64>(),
        any::<i64>(),
        any::<i64>(),
        any::<i64>(),
        format,
    )
        .prop_map(
            |(state, leader, zxid, election_epoch, peer_epoch, format)| {
                // The short layout has no peer epoch: it is the zxid's.
                let peer_epoch = if format == NotificationFormat::Short {
                    zxid >> 32
                } else {
                    peer_epoch
                };
                Notification {
                    state,
                    leader,
                    zxid,
                    election_epoch,
                    peer_epoch,
                    format,
                }
            },
        )
        .boxed()
}

fn handshake() -> BoxedStrategy<ElectionHandshake> {
    prop_oneof![
        (0i64..i64::MAX).prop_map(|sid| ElectionHandshake::Legacy { sid: ServerId(sid) }),
        (
            prop_oneof![Just(ELECTION_PROTOCOL_V1), Just(ELECTION_PROTOCOL_V2)],
            any::<i64>(),
            "[a-z0-9.:|]{1,40}"
        )
            .prop_map(|(protocol_version, sid, addresses)| {
                ElectionHandshake::Versioned {
                    protocol_version,
                    sid: ServerId(sid),
                    addresses,
                }
            }),
    ]
    .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn roundtrip_quorum_message(m in QuorumMessage::arb()) {
        check_roundtrip(&m)?;
        // The packet view agrees with the typed view.
        let p = m.to_packet();
        prop_assert_eq!(p.packet_type, m.packet_type());
        prop_assert_eq!(QuorumMessage::from_packet(&p).unwrap(), m.clone());
        // A stream holding the message and more yields exactly the message.
        let mut stream = m.to_bytes();
        let len = stream.len();
        stream.extend([0u8; 3]);
        let got = QuorumMessage::decode_stream(&stream, usize::MAX).unwrap();
        prop_assert_eq!(got, Some((m, len)));
    }

    #[test]
    fn roundtrip_txn_log_entry(e in txn_entry()) {
        check_roundtrip(&*e)?;
    }

    #[test]
    fn roundtrip_notification(n in notification()) {
        let p = n.to_payload();
        prop_assert_eq!(p.len(), n.payload_len());
        prop_assert_eq!(Notification::from_payload(&p).unwrap(), n);
    }

    #[test]
    fn roundtrip_election_handshake(h in handshake()) {
        check_roundtrip(&h)?;
    }

    #[test]
    fn arbitrary_quorum_message(bytes in noise_or_mutated::<QuorumMessage>()) {
        check_arbitrary::<QuorumMessage>(&bytes)?;
    }

    #[test]
    fn arbitrary_txn_log_entry(bytes in prop_oneof![
        vec(any::<u8>(), 0..96),
        (txn_entry(), mutations()).prop_map(|(e, ms)| mutate(e.to_bytes(), &ms)),
    ]) {
        if let Ok(e) = TxnLogEntry::from_bytes(&bytes) {
            let re = e.to_bytes();
            prop_assert_eq!(e.encoded_len(), re.len());
            // A multi's sub-txns are read as Apache reads them, ignoring bytes after each
            // sub-record, so only a non-multi entry re-encodes byte for byte.
            if !matches!(e.txn, Txn::Multi(_)) {
                assert_same_bytes_modulo_lenient(&bytes, &re)?;
            }
            prop_assert_eq!(TxnLogEntry::from_bytes(&re).unwrap(), e);
        }
    }

    /// Notification payloads are whole frames: whatever parses re-encodes to the same bytes.
    #[test]
    fn arbitrary_notification(bytes in prop_oneof![
        vec(any::<u8>(), 0..96),
        (notification(), mutations()).prop_map(|(n, ms)| mutate(n.to_payload(), &ms)),
    ]) {
        if let Ok(n) = Notification::from_payload(&bytes) {
            prop_assert_eq!(n.to_payload(), bytes);
        }
    }

    #[test]
    fn arbitrary_election_handshake(bytes in prop_oneof![
        vec(any::<u8>(), 0..64),
        (handshake(), mutations()).prop_map(|(h, ms)| mutate(h.to_bytes(), &ms)),
    ]) {
        check_arbitrary::<ElectionHandshake>(&bytes)?;
    }
}
