//! Every decoder a server or client runs on bytes it did not write, fed the same input:
//! frame parsing over a byte stream, `ConnectRequest`, `Request::decode` and `Response::decode`
//! for the opcode in the first 4 bytes, the request path a server takes (`RequestHeader`, then
//! the body by its opcode), `Txn::decode_body` for the type in the first 4 bytes, a log entry
//! (`TxnHeader` + body + digest), a quorum packet stream (raw and typed), an election
//! notification and an election connection handshake.
//!
//! Whatever decodes is re-encoded and decoded again, and must give the same value; the lengths
//! the codec predicts must match the bytes written. A panic, an abort or a mismatch is a crash.
#![no_main]

use libfuzzer_sys::fuzz_target;
use zk_proto::frame;
use zk_proto::jute::{Jute, Reader};
use zk_proto::ops::OpCode;
use zk_proto::proto::{ConnectRequest, ConnectResponse, ReplyHeader, RequestHeader, WatcherEvent};
use zk_proto::quorum::{ElectionHandshake, Notification, QuorumMessage, TxnLogEntry};
use zk_proto::request::{Request, Response};
use zk_proto::txn::{QuorumPacket, Txn, TxnDigest, TxnHeader};

fuzz_target!(|data: &[u8]| {
    frames(data);
    record::<ConnectRequest>(data);
    record::<ConnectResponse>(data);
    if data.len() >= 4 {
        let op = i32::from_be_bytes([data[0], data[1], data[2], data[3]]);
        request(OpCode(op), &data[4..]);
        response(OpCode(op), &data[4..]);
        txn(op, &data[4..]);
    }
    server_request(data);
    client_reply(data);
    log_entry(data);
    record::<TxnLogEntry>(data);
    quorum_stream(data);
    quorum_messages(data);
    notification(data);
    record::<ElectionHandshake>(data);
});

/// Decodes one `T`, re-encodes it and checks the round trip.
fn record<T: Jute + PartialEq + std::fmt::Debug>(data: &[u8]) {
    let mut r = Reader::new(data);
    if let Ok(v) = T::decode(&mut r) {
        recheck(&v);
    }
}

fn recheck<T: Jute + PartialEq + std::fmt::Debug>(v: &T) {
    let bytes = v.to_bytes();
    assert_eq!(bytes.len(), v.encoded_len(), "encoded_len of {v:?}");
    let back = T::from_bytes(&bytes).expect("re-encoding does not decode");
    assert_eq!(&back, v);
}

/// Splits a stream into frames the way a connection does, with a small limit so that both
/// the limit and complete frames are reached.
fn frames(data: &[u8]) {
    for max in [frame::FRAME_LEN_MAX_DEFAULT, 16] {
        let mut rest = data;
        while let Ok(Some((used, payload))) = frame::parse(rest, max) {
            assert!(used <= rest.len() && payload.len() <= max);
            assert_eq!(
                frame::build(|out| out.extend_from_slice(payload)),
                &rest[..used]
            );
            rest = &rest[used..];
        }
    }
}

fn request(op: OpCode, body: &[u8]) {
    let mut r = Reader::new(body);
    if let Ok(Some(req)) = Request::decode(op, &mut r) {
        assert_eq!(req.op(), op);
        let mut out = Vec::new();
        req.encode_body(&mut out);
        assert_eq!(out.len(), req.body_len(), "body_len of {req:?}");
        let mut r2 = Reader::new(&out);
        assert_eq!(Request::decode(op, &mut r2), Ok(Some(req)));
        assert!(r2.is_empty());
    }
}

fn response(op: OpCode, body: &[u8]) {
    let mut r = Reader::new(body);
    if let Ok(resp) = Response::decode(op, &mut r) {
        let mut out = Vec::new();
        resp.encode(&mut out);
        let mut r2 = Reader::new(&out);
        assert_eq!(Response::decode(op, &mut r2), Ok(resp));
        assert!(r2.is_empty());
    }
}

fn txn(txn_type: i32, body: &[u8]) {
    let mut r = Reader::new(body);
    if let Ok(t) = Txn::decode_body(txn_type, &mut r) {
        assert_eq!(t.op().0, txn_type);
        let mut out = Vec::new();
        t.encode_body(&mut out);
        let mut r2 = Reader::new(&out);
        assert_eq!(Txn::decode_body(txn_type, &mut r2), Ok(t));
        assert!(r2.is_empty());
    }
}

/// The server's path: a frame payload is `RequestHeader` then the body for its opcode.
fn server_request(data: &[u8]) {
    let mut r = Reader::new(data);
    if let Ok(h) = RequestHeader::decode(&mut r) {
        recheck(&h);
        request(OpCode(h.op), r.rest());
    }
}

/// The client's path: `ReplyHeader`, then a watch event (xid -1) or nothing else decodable
/// without knowing the request; the body is tried as a watch event either way.
fn client_reply(data: &[u8]) {
    let mut r = Reader::new(data);
    if let Ok(h) = ReplyHeader::decode(&mut r) {
        recheck(&h);
        record::<WatcherEvent>(r.rest());
    }
}

/// A log entry: header, body of the header's type, and an optional 12-byte digest.
fn log_entry(data: &[u8]) {
    let mut r = Reader::new(data);
    let Ok(h) = TxnHeader::decode(&mut r) else {
        return;
    };
    recheck(&h);
    let rest = r.rest();
    txn(h.txn_type, rest);
    if rest.len() >= 12 {
        let (body, digest) = rest.split_at(rest.len() - 12);
        txn(h.txn_type, body);
        record::<TxnDigest>(digest);
    }
}

/// Quorum packets back to back with no length prefix, as on the quorum port.
fn quorum_stream(data: &[u8]) {
    let mut r = Reader::new(data);
    while let Ok(p) = QuorumPacket::decode(&mut r) {
        recheck(&p);
    }
}

/// Typed quorum messages read from a stream, as a learner or leader reads its peer.
fn quorum_messages(data: &[u8]) {
    let mut rest = data;
    while let Ok(Some((m, used))) = QuorumMessage::decode_stream(rest, frame::FRAME_LEN_MAX_DEFAULT)
    {
        assert!(used > 0 && used <= rest.len());
        recheck(&m);
        rest = &rest[used..];
    }
}

/// An election notification payload (one of Apache's three layouts).
fn notification(data: &[u8]) {
    if let Ok(n) = Notification::from_payload(data) {
        let p = n.to_payload();
        assert_eq!(p.len(), n.payload_len());
        assert_eq!(
            Notification::from_payload(&p).expect("re-encoding does not decode"),
            n
        );
    }
}
