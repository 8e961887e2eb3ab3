//! Fixed vectors: bytes captured from Apache ZooKeeper 3.8.0 (reference §2.1, §2.2, §3, §8.2,
//! §10.4, §11.2 and Appendix A) decode to the values we expect and re-encode to the very same
//! bytes.
//!
//! Goal: the property tests only prove the codec agrees with itself; these pin it to what
//! Apache actually sends. Method: each test names the exchange it comes from, decodes the hex,
//! compares with a value written by hand, and re-encodes.

mod common;

use common::hex;
use zk_proto::data::{Acl, Stat};
use zk_proto::frame;
use zk_proto::jute::{Jute, Reader};
use zk_proto::ops::OpCode;
use zk_proto::proto::*;
use zk_proto::request::{MultiOp, MultiResult, Request, Response};
use zk_proto::txn::*;
use zk_proto::{session, DecodeError};

/// Decodes a whole record from `bytes` and checks it re-encodes identically.
fn decode_exact<T: Jute + PartialEq + std::fmt::Debug>(bytes: &[u8]) -> T {
    let v = T::from_bytes(bytes).unwrap_or_else(|e| panic!("decode failed: {e}"));
    assert_eq!(v.to_bytes(), bytes, "re-encoding differs");
    assert_eq!(v.encoded_len(), bytes.len());
    v
}

/// Splits a reply payload into its header and a reader over the body.
fn reply(bytes: &[u8]) -> (ReplyHeader, Reader<'_>) {
    let mut r = Reader::new(bytes);
    let h = ReplyHeader::decode(&mut r).unwrap();
    (h, r)
}

/// Encodes a reply the way the server does: header, then the body only when `err == 0`.
fn encode_reply(h: &ReplyHeader, body: Option<&Response>) -> Vec<u8> {
    let mut out = h.to_bytes();
    if let Some(b) = body {
        b.encode(&mut out);
    }
    out
}

const CONNECT_REQUEST_HEX: &str = "00000000 0000000000000000 000003e8 0000000000000000 00000010 00000000000000000000000000000000 00";
const CONNECT_RESPONSE_HEX: &str =
    "00000000 00000fa0 01000003e1cd0000 00000010 290fe0d3027c66d8af64e5ec1b61171f 00";

/// §2.1: a new session asking for 1000 ms, with the readOnly byte (45 bytes).
#[test]
fn connect_request_with_read_only_byte() {
    let bytes = hex(CONNECT_REQUEST_HEX);
    assert_eq!(bytes.len(), 45);
    let req: ConnectRequest = decode_exact(&bytes);
    assert_eq!(
        req,
        ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout_ms: 1000,
            session_id: 0,
            passwd: vec![0; 16],
            read_only: Some(false),
        }
    );
}

/// §2.1/§2.3: an old client omits the readOnly byte; the request decodes with `None` and
/// re-encodes without it.
#[test]
fn connect_request_without_read_only_byte() {
    let bytes = hex(CONNECT_REQUEST_HEX);
    let req: ConnectRequest = decode_exact(&bytes[..44]);
    assert_eq!(req.read_only, None);
    assert_eq!(req.timeout_ms, 1000);
}

/// §2.1: the request arrives framed with length 0x2d.
#[test]
fn connect_request_frame() {
    let mut framed = hex("0000002d");
    framed.extend(hex(CONNECT_REQUEST_HEX));
    let (used, payload) = frame::parse(&framed, frame::FRAME_LEN_MAX_DEFAULT)
        .unwrap()
        .unwrap();
    assert_eq!(used, 49);
    let req: ConnectRequest = decode_exact(payload);
    assert_eq!(frame::build(|out| req.encode(out)), framed);
}

/// §2.2: 1000 ms requested on tickTime 2000 became 4000; the password is the Java-Random one
/// for the session id.
#[test]
fn connect_response_with_read_only_byte() {
    let bytes = hex(CONNECT_RESPONSE_HEX);
    assert_eq!(bytes.len(), 37);
    let resp: ConnectResponse = decode_exact(&bytes);
    assert_eq!(
        resp,
        ConnectResponse {
            protocol_version: 0,
            timeout_ms: 4000,
            session_id: 0x0100_0003_e1cd_0000,
            passwd: session::password(0x0100_0003_e1cd_0000).to_vec(),
            read_only: Some(false),
        }
    );
}

/// §2.2: the response to an old client has no readOnly byte (36 bytes).
#[test]
fn connect_response_without_read_only_byte() {
    let bytes = hex(CONNECT_RESPONSE_HEX);
    let resp: ConnectResponse = decode_exact(&bytes[..36]);
    assert_eq!(resp.read_only, None);
    assert_eq!(resp.session_id, 0x0100_0003_e1cd_0000);
}

/// §2.3/§12 #21: the answer for a dead session is timeout 0, id 0, 16 zero bytes.
#[test]
fn connect_response_invalid_session() {
    let resp = ConnectResponse {
        protocol_version: 0,
        timeout_ms: 0,
        session_id: 0,
        passwd: vec![0; 16],
        read_only: Some(false),
    };
    assert_eq!(
        resp.to_bytes(),
        hex("00000000 00000000 0000000000000000 00000010 00000000000000000000000000000000 00")
    );
}

/// Appendix A: ping request and reply.
#[test]
fn ping() {
    let bytes = hex("fffffffe 0000000b");
    let mut r = Reader::new(&bytes);
    let h = RequestHeader::decode(&mut r).unwrap();
    assert_eq!(h, RequestHeader { xid: -2, op: 11 });
    assert_eq!(
        Request::decode(OpCode(h.op), &mut r),
        Ok(Some(Request::Ping))
    );
    assert!(r.is_empty());

    let bytes = hex("fffffffe 0000000000000003 00000000");
    let h: ReplyHeader = decode_exact(&bytes);
    assert_eq!(
        h,
        ReplyHeader {
            xid: -2,
            zxid: 3,
            err: 0
        }
    );
}

/// Appendix A: create `/t1` reply, then the duplicate's NodeExists (header only).
#[test]
fn create_replies() {
    let bytes = hex("00000001 0000000000000004 00000000 00000003 2f7431");
    let (h, mut r) = reply(&bytes);
    assert_eq!(
        h,
        ReplyHeader {
            xid: 1,
            zxid: 4,
            err: 0
        }
    );
    let body = Response::decode(OpCode::CREATE, &mut r).unwrap();
    assert_eq!(
        body,
        Response::Create(CreateResponse { path: "/t1".into() })
    );
    assert_eq!(encode_reply(&h, Some(&body)), bytes);

    let bytes = hex("00000002 0000000000000005 ffffff92");
    let h: ReplyHeader = decode_exact(&bytes);
    assert_eq!(h.err, zk_proto::ErrorCode::NODE_EXISTS.0);
}

/// Appendix A: the create request itself, `/t1` "hello" OPEN_ACL_UNSAFE flags 0.
#[test]
fn create_request() {
    let expected = hex(
        "00000001 00000001 | 00000003 2f7431 | 00000005 68656c6c6f | \
         00000001 0000001f 00000005 776f726c64 00000006 616e796f6e65 | 00000000",
    );
    let req = Request::Create {
        op: OpCode::CREATE,
        req: CreateRequest {
            path: "/t1".into(),
            data: Some(b"hello".to_vec()),
            acl: Acl::open_unsafe(),
            flags: 0,
        },
    };
    let mut out = RequestHeader { xid: 1, op: 1 }.to_bytes();
    req.encode_body(&mut out);
    assert_eq!(out, expected);
    let mut r = Reader::new(&expected[8..]);
    assert_eq!(Request::decode(OpCode::CREATE, &mut r), Ok(Some(req)));
    assert!(r.is_empty());
}

/// Appendix A: getData `/t1` reply carries "hello" and a 68-byte Stat.
#[test]
fn get_data_reply() {
    let stat = Stat {
        czxid: 4,
        mzxid: 4,
        ctime: 0x0000_01a2_0fea_bcd1,
        mtime: 0x0000_01a2_0fea_bcd1,
        version: 0,
        cversion: 0,
        aversion: 0,
        ephemeral_owner: 0,
        data_length: 5,
        num_children: 0,
        pzxid: 4,
    };
    let mut bytes = hex("0000000f 0000000000000011 00000000 00000005 68656c6c6f");
    stat.encode(&mut bytes);
    assert_eq!(bytes.len(), 16 + 4 + 5 + 68);
    let (h, mut r) = reply(&bytes);
    assert_eq!(
        h,
        ReplyHeader {
            xid: 15,
            zxid: 17,
            err: 0
        }
    );
    let body = Response::decode(OpCode::GET_DATA, &mut r).unwrap();
    assert_eq!(
        body,
        Response::GetData(GetDataResponse {
            data: Some(b"hello".to_vec()),
            stat
        })
    );
    assert_eq!(encode_reply(&h, Some(&body)), bytes);
}

/// §1.2: null data (-1) and empty data (0) are different values.
#[test]
fn null_and_empty_buffers_differ() {
    let null = GetDataResponse {
        data: None,
        stat: Stat::default(),
    };
    let empty = GetDataResponse {
        data: Some(vec![]),
        stat: Stat::default(),
    };
    assert_eq!(&null.to_bytes()[..4], &hex("ffffffff")[..]);
    assert_eq!(&empty.to_bytes()[..4], &hex("00000000")[..]);
    assert_eq!(decode_exact::<GetDataResponse>(&null.to_bytes()), null);
    assert_eq!(decode_exact::<GetDataResponse>(&empty.to_bytes()), empty);
}

/// Appendix A: exists on a missing node, auth replies, unknown opcode: header-only replies.
#[test]
fn header_only_replies() {
    let cases = [
        ("00000010 0000000000000011 ffffff9b", (16, 17, -101)),
        ("fffffffc 0000000000000000 00000000", (-4, 0, 0)),
        ("fffffffc 0000000000000000 ffffff8d", (-4, 0, -115)),
        ("00000001 ffffffffffffffff fffffffa", (1, -1, -6)),
    ];
    for (h, (xid, zxid, err)) in cases {
        let v: ReplyHeader = decode_exact(&hex(h));
        assert_eq!(v, ReplyHeader { xid, zxid, err }, "{h}");
    }
}

/// Appendix A: addWatch answers with an `ErrorResponse{0}` body.
#[test]
fn add_watch_reply() {
    let bytes = hex("00000001 000000000000002e 00000000 00000000");
    let (h, mut r) = reply(&bytes);
    assert_eq!(h.zxid, 0x2e);
    let body = Response::decode(OpCode::ADD_WATCH, &mut r).unwrap();
    assert_eq!(body, Response::AddWatch(ErrorResponse { err: 0 }));
    assert!(r.is_empty());
    assert_eq!(encode_reply(&h, Some(&body)), bytes);
}

/// Appendix A: whoAmI with only the ip identity.
#[test]
fn who_am_i_reply() {
    let bytes = hex(
        "00000008 000000000000001d 00000000 00000001 00000002 6970 00000009 3132372e302e302e31",
    );
    let (h, mut r) = reply(&bytes);
    assert_eq!(
        h,
        ReplyHeader {
            xid: 8,
            zxid: 0x1d,
            err: 0
        }
    );
    let body = Response::decode(OpCode::WHO_AM_I, &mut r).unwrap();
    assert_eq!(
        body,
        Response::WhoAmI(WhoAmIResponse {
            client_info: vec![ClientInfo {
                auth_scheme: "ip".into(),
                user: "127.0.0.1".into()
            }]
        })
    );
    assert!(r.is_empty());
    assert_eq!(encode_reply(&h, Some(&body)), bytes);
}

/// §3: a watch notification, NodeDataChanged on `/t1`.
#[test]
fn watch_notification() {
    let bytes = hex("ffffffff ffffffffffffffff 00000000 00000003 00000003 00000003 2f7431");
    let (h, mut r) = reply(&bytes);
    assert_eq!(
        h,
        ReplyHeader {
            xid: -1,
            zxid: -1,
            err: 0
        }
    );
    let ev = WatcherEvent::decode(&mut r).unwrap();
    assert!(r.is_empty());
    assert_eq!(
        ev,
        WatcherEvent {
            event_type: zk_proto::ops::event_type::NODE_DATA_CHANGED,
            state: zk_proto::ops::keeper_state::SYNC_CONNECTED,
            path: "/t1".into()
        }
    );
    let mut out = h.to_bytes();
    ev.encode(&mut out);
    assert_eq!(out, bytes);
}

/// §8.2: the reply to `[create /t2/m1, create /t2 (exists), setData /t2]`: header err 0, then
/// ErrorResult(0), ErrorResult(NodeExists), ErrorResult(RuntimeInconsistency), terminator.
#[test]
fn multi_failure_reply() {
    let bytes = hex(
        "00000014 0000000000000026 00000000 | ffffffff 00 00000000 00000000 | \
         ffffffff 00 ffffff92 ffffff92 | ffffffff 00 fffffffe fffffffe | ffffffff 01 ffffffff",
    );
    let (h, mut r) = reply(&bytes);
    assert_eq!(
        h,
        ReplyHeader {
            xid: 0x14,
            zxid: 0x26,
            err: 0
        }
    );
    let body = Response::decode(OpCode::MULTI, &mut r).unwrap();
    assert!(r.is_empty());
    assert_eq!(
        body,
        Response::Multi(vec![
            MultiResult::Error { err: 0 },
            MultiResult::Error { err: -110 },
            MultiResult::Error { err: -2 },
        ])
    );
    assert_eq!(encode_reply(&h, Some(&body)), bytes);
}

/// §8.1: the request of the same failing multi, built from its parts.
#[test]
fn multi_request_encoding() {
    let create = |path: &str| CreateRequest {
        path: path.into(),
        data: Some(vec![]),
        acl: Acl::open_unsafe(),
        flags: 0,
    };
    let ops = vec![
        MultiOp::Create {
            op: OpCode::CREATE,
            req: create("/t2/m1"),
        },
        MultiOp::Create {
            op: OpCode::CREATE,
            req: create("/t2"),
        },
        MultiOp::SetData(SetDataRequest {
            path: "/t2".into(),
            data: Some(b"x".to_vec()),
            version: -1,
        }),
    ];
    let acl = "00000001 0000001f 00000005 776f726c64 00000006 616e796f6e65";
    let expected = hex(&format!(
        "00000001 00 ffffffff | 00000006 2f74322f6d31 00000000 {acl} 00000000 | \
         00000001 00 ffffffff | 00000003 2f7432 00000000 {acl} 00000000 | \
         00000005 00 ffffffff | 00000003 2f7432 00000001 78 ffffffff | \
         ffffffff 01 ffffffff"
    ));
    let req = Request::Multi(ops);
    let mut out = Vec::new();
    req.encode_body(&mut out);
    assert_eq!(out, expected);
    assert_eq!(req.body_len(), expected.len());
    let mut r = Reader::new(&expected);
    assert_eq!(Request::decode(OpCode::MULTI, &mut r), Ok(Some(req)));
    assert!(r.is_empty());
}

/// Appendix A: an all-ok multi `[create, create2, setData, check, delete]` answers
/// `(1,0,0)+path` for both creates, `(5,0,0)+Stat`, `(13,0,0)`, `(2,0,0)`, then `(-1,1,-1)`.
#[test]
fn multi_all_ok_reply() {
    let stat = Stat {
        version: 1,
        ..Stat::default()
    };
    let body = Response::Multi(vec![
        MultiResult::Create { path: "/a".into() },
        MultiResult::Create { path: "/b".into() },
        MultiResult::SetData { stat: stat.clone() },
        MultiResult::Check,
        MultiResult::Delete,
    ]);
    let mut expected = hex("00000001 00 00000000 00000002 2f61 00000001 00 00000000 00000002 2f62 00000005 00 00000000");
    stat.encode(&mut expected);
    expected.extend(hex(
        "0000000d 00 00000000 | 00000002 00 00000000 | ffffffff 01 ffffffff",
    ));
    let mut out = Vec::new();
    body.encode(&mut out);
    assert_eq!(out, expected);
    let mut r = Reader::new(&expected);
    assert_eq!(Response::decode(OpCode::MULTI, &mut r), Ok(body));
    assert!(r.is_empty());
}

/// §8.3: multiRead reports a failing sub-op by itself, the others carry data.
#[test]
fn multi_read_reply() {
    let stat = Stat::default();
    let body = Response::Multi(vec![
        MultiResult::GetData {
            data: Some(b"v".to_vec()),
            stat: stat.clone(),
        },
        MultiResult::Error { err: -101 },
        MultiResult::GetChildren {
            children: vec!["m1".into()],
        },
    ]);
    let mut expected = hex("00000004 00 00000000 00000001 76");
    stat.encode(&mut expected);
    expected.extend(hex(
        "ffffffff 00 ffffff9b ffffff9b | 00000008 00 00000000 00000001 00000002 6d31 | \
         ffffffff 01 ffffffff",
    ));
    let mut out = Vec::new();
    body.encode(&mut out);
    assert_eq!(out, expected);
    let mut r = Reader::new(&expected);
    assert_eq!(Response::decode(OpCode::MULTI_READ, &mut r), Ok(body));
}

/// Appendix A / §10.4: LEADERINFO for epoch 1, whose authinfo is the null vector.
#[test]
fn quorum_leader_info() {
    let p: QuorumPacket =
        decode_exact(&hex("00000011 0000000100000000 00000004 00010000 ffffffff"));
    assert_eq!(
        p,
        QuorumPacket {
            packet_type: 17,
            zxid: 1 << 32,
            data: Some(hex("00010000")),
            auth_info: None,
        }
    );
}

/// Appendix A: ACKEPOCH from a learner at zxid 0x100000002 with current epoch 0.
#[test]
fn quorum_ack_epoch() {
    let p: QuorumPacket =
        decode_exact(&hex("00000012 0000000100000002 00000004 00000000 ffffffff"));
    assert_eq!(p.packet_type, 18);
    assert_eq!(p.zxid, 0x1_0000_0002);
    assert_eq!(i32::from_bytes(p.data.as_deref().unwrap()), Ok(0));
    assert_eq!(p.auth_info, None);
}

/// Appendix A: the ACK of NEWLEADER/UPTODATE has null data and null authinfo.
#[test]
fn quorum_ack() {
    let p: QuorumPacket = decode_exact(&hex("00000003 0000000100000000 ffffffff ffffffff"));
    assert_eq!(
        p,
        QuorumPacket {
            packet_type: 3,
            zxid: 1 << 32,
            data: None,
            auth_info: None,
        }
    );
}

/// §10.4: OBSERVERINFO for sid 4 carries a LearnerInfo.
#[test]
fn quorum_observer_info() {
    let p: QuorumPacket = decode_exact(&hex(
        "00000010 0000000000000000 00000014 0000000000000004 00010000 0000000100000000 ffffffff",
    ));
    assert_eq!(p.packet_type, 16);
    let info: LearnerInfo = decode_exact(p.data.as_deref().unwrap());
    assert_eq!(
        info,
        LearnerInfo {
            server_id: 4,
            protocol_version: 0x10000,
            config_version: 1 << 32
        }
    );
}

/// §10.4: a REQUEST carries the session's identities; an empty list is not the null one.
#[test]
fn quorum_request_auth_info() {
    let with = QuorumPacket {
        packet_type: 1,
        zxid: -1,
        data: Some(vec![]),
        auth_info: Some(vec![zk_proto::Id::new("ip", "127.0.0.1")]),
    };
    assert_eq!(decode_exact::<QuorumPacket>(&with.to_bytes()), with);
    let empty = QuorumPacket {
        auth_info: Some(vec![]),
        ..with
    };
    assert!(empty.to_bytes().ends_with(&hex("00000000")));
    assert_eq!(decode_exact::<QuorumPacket>(&empty.to_bytes()), empty);
}

/// Adler-32, as the transaction log checksums each entry.
fn adler32(bytes: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &x in bytes {
        a = (a + x as u32) % 65521;
        b = (b + a) % 65521;
    }
    (b << 16) | a
}

/// §11.2: the first record of a fresh log: createSession (timeout 4000) with its digest. The
/// checksum is Adler-32 of the entry; the entry is header + body + TxnDigest; then 'B'.
#[test]
fn txn_log_create_session_record() {
    let record = hex(
        "00000000e9890bce 00000030 | 01000003e1cd0000 00000000 0000000000000001 \
         000001a20feabcd1 fffffff6 | 00000fa0 | 00000002 0000000051c6d660 | 42",
    );
    let mut r = Reader::new(&record);
    let checksum = r.i64().unwrap();
    let len = r.i32().unwrap() as usize;
    let entry = r.take(len).unwrap();
    assert_eq!(r.u8(), Ok(0x42));
    assert!(r.is_empty());
    assert_eq!(checksum, adler32(entry) as i64);

    let mut e = Reader::new(entry);
    let hdr = TxnHeader::decode(&mut e).unwrap();
    assert_eq!(
        hdr,
        TxnHeader {
            client_id: 0x0100_0003_e1cd_0000,
            cxid: 0,
            zxid: 1,
            time: 0x0000_01a2_0fea_bcd1,
            txn_type: OpCode::CREATE_SESSION.0,
        }
    );
    let body_len = len - hdr.encoded_len() - 12;
    let mut body = Reader::new(e.take(body_len).unwrap());
    let txn = Txn::decode_body(hdr.txn_type, &mut body).unwrap();
    assert_eq!(
        txn,
        Txn::CreateSession(CreateSessionTxn { timeout_ms: 4000 })
    );
    let digest = TxnDigest::decode(&mut e).unwrap();
    assert_eq!(
        digest,
        TxnDigest {
            version: 2,
            tree_digest: 0x51c6_d660
        }
    );
    assert!(e.is_empty());

    let mut again = hdr.to_bytes();
    txn.encode_body(&mut again);
    digest.encode(&mut again);
    assert_eq!(again, entry);
}

/// §11.2: the log file header, "ZKLG" version 2 dbid 0.
#[test]
fn txn_log_file_header() {
    let h: FileHeader = decode_exact(&hex("5a4b4c47 00000002 0000000000000000"));
    assert_eq!(
        h,
        FileHeader {
            magic: 0x5a4b_4c47,
            version: 2,
            dbid: 0
        }
    );
}

/// §11.2: a closeSession txn from a pre-3.6 log has no body; 3.6+ lists the paths to delete.
#[test]
fn close_session_txn_with_and_without_body() {
    let mut r = Reader::new(&[]);
    assert_eq!(
        Txn::decode_body(OpCode::CLOSE_SESSION.0, &mut r),
        Ok(Txn::CloseSession(None))
    );
    let bytes = hex("00000001 00000002 2f65");
    let mut r = Reader::new(&bytes);
    assert_eq!(
        Txn::decode_body(OpCode::CLOSE_SESSION.0, &mut r),
        Ok(Txn::CloseSession(Some(CloseSessionTxn {
            paths_to_delete: vec!["/e".into()]
        })))
    );
}

/// §8.3: a failed multi is logged as a multi of ErrorTxns (0 before, code at, -2 after).
#[test]
fn failed_multi_txn() {
    let txn = Txn::Multi(vec![
        Txn::Error(ErrorTxn { err: 0 }),
        Txn::Error(ErrorTxn { err: -110 }),
        Txn::Error(ErrorTxn { err: -2 }),
    ]);
    let expected = hex(
        "00000003 | ffffffff 00000004 00000000 | ffffffff 00000004 ffffff92 | \
         ffffffff 00000004 fffffffe",
    );
    let mut out = Vec::new();
    txn.encode_body(&mut out);
    assert_eq!(out, expected);
    let mut r = Reader::new(&expected);
    assert_eq!(Txn::decode_body(OpCode::MULTI.0, &mut r), Ok(txn));
}

/// §1.1: frame limits: a negative length and one above jute.maxbuffer are errors; exactly
/// jute.maxbuffer is accepted (it waits for the bytes).
#[test]
fn frame_limits() {
    let max = frame::FRAME_LEN_MAX_DEFAULT;
    assert_eq!(max, 1_048_575);
    assert_eq!(frame::parse(&hex("000fffff"), max), Ok(None));
    assert!(matches!(
        frame::parse(&hex("00100000"), max),
        Err(frame::FrameError::TooLarge { len: 0x100000, .. })
    ));
    assert!(matches!(
        frame::parse(&hex("ffffffff"), max),
        Err(frame::FrameError::Negative { len: -1 })
    ));
    assert_eq!(frame::parse(&hex("000000"), max), Ok(None));
    assert_eq!(frame::parse(&hex("00000000"), max), Ok(Some((4, &[][..]))));
}

/// §1.2: lengths below -1 are invalid, not "need more bytes"; a length past the end is
/// Truncated.
#[test]
fn bad_lengths() {
    assert!(matches!(
        String::from_bytes(&hex("fffffffe")),
        Err(DecodeError::Invalid { .. })
    ));
    assert!(matches!(
        String::from_bytes(&hex("00000005 2f")),
        Err(DecodeError::Truncated { .. })
    ));
    assert!(matches!(
        Vec::<String>::from_bytes(&hex("7fffffff")),
        Err(DecodeError::Truncated { .. })
    ));
}

/// kazoo writes every empty string as a null ustring (length -1), so its `CREATOR_ALL_ACL`
/// (`auth` scheme, empty id) arrives as `00000004 61757468 ffffffff`. Apache accepts it; a
/// decoder that rejected null strings answered kazoo's create with MarshallingError.
#[test]
fn kazoo_null_string_reads_as_empty() {
    let body = hex(
        "00000005 2f6d696e65 | 00000000 | 00000001 0000001f 00000004 61757468 ffffffff | 00000000",
    );
    let mut r = Reader::new(&body);
    let req = Request::decode(OpCode::CREATE, &mut r).unwrap().unwrap();
    assert!(r.is_empty());
    assert_eq!(
        req,
        Request::Create {
            op: OpCode::CREATE,
            req: CreateRequest {
                path: "/mine".into(),
                data: Some(vec![]),
                acl: Acl::creator_all(),
                flags: 0,
            },
        }
    );
    assert_eq!(String::from_bytes(&hex("ffffffff")), Ok(String::new()));
    // Written back the Java client's way, with length 0.
    assert_eq!(String::new().to_bytes(), hex("00000000"));
}
