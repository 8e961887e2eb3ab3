//! Arbitrary bytes never panic a decoder, and whatever decodes re-encodes consistently.
//!
//! Goal: the server decodes bytes from any client and any peer; a panic there takes a
//! connection task (or worse, the core) down, and a decode that does not re-encode to what
//! was read means a proposal or a log record would change on its way through us. Method: for
//! every record, feed pure noise and mutated valid encodings (bytes set, inserted, removed,
//! lengths overwritten with -1/huge/negative values, truncation); when something decodes,
//! re-encode it and require (1) the same bytes that were consumed, except where the input held
//! a non-canonical boolean (Apache reads any non-zero byte as true, we write 0x01) or a null
//! string (kazoo writes empty strings as null, we write length 0), (2)
//! `encoded_len` equal to the bytes written and (3) a decode of the re-encoding equal to the
//! value. The typed enums (`Request`, `Response`, `Txn`) tolerate a few things by design
//! (bodiless replies ignore trailing bytes, createContainer/TTL multi results are written back
//! as create2, a multi terminator only needs `done`), so for them the byte check is replaced by
//! "the re-encoding is a fixed point".

mod common;

use common::*;
use proptest::prelude::*;
use zk_proto::data::{Acl, Id, Stat, StatPersisted};
use zk_proto::frame;
use zk_proto::jute::{Jute, Reader};
use zk_proto::ops::OpCode;
use zk_proto::proto::*;
use zk_proto::request::{Request, Response};
use zk_proto::txn::*;

/// One never-panic proptest per record type, over noise and mutated encodings of that type.
macro_rules! arbitrary_records {
    ($($test:ident: $t:ty),* $(,)?) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]
            $(
                #[test]
                fn $test(bytes in noise_or_mutated::<$t>()) {
                    check_arbitrary::<$t>(&bytes)?;
                }
            )*
        }
    };
}

arbitrary_records! {
    arbitrary_id: Id,
    arbitrary_acl: Acl,
    arbitrary_stat: Stat,
    arbitrary_stat_persisted: StatPersisted,
    arbitrary_connect_request: ConnectRequest,
    arbitrary_connect_response: ConnectResponse,
    arbitrary_request_header: RequestHeader,
    arbitrary_reply_header: ReplyHeader,
    arbitrary_multi_header: MultiHeader,
    arbitrary_auth_packet: AuthPacket,
    arbitrary_set_watches: SetWatches,
    arbitrary_set_watches2: SetWatches2,
    arbitrary_create_request: CreateRequest,
    arbitrary_create_ttl_request: CreateTtlRequest,
    arbitrary_create_response: CreateResponse,
    arbitrary_create2_response: Create2Response,
    arbitrary_delete_request: DeleteRequest,
    arbitrary_path_watch_request: PathWatchRequest,
    arbitrary_path_request: PathRequest,
    arbitrary_stat_response: StatResponse,
    arbitrary_get_data_response: GetDataResponse,
    arbitrary_set_data_request: SetDataRequest,
    arbitrary_get_acl_response: GetAclResponse,
    arbitrary_set_acl_request: SetAclRequest,
    arbitrary_get_children_response: GetChildrenResponse,
    arbitrary_get_children2_response: GetChildren2Response,
    arbitrary_check_version_request: CheckVersionRequest,
    arbitrary_reconfig_request: ReconfigRequest,
    arbitrary_watches_request: WatchesRequest,
    arbitrary_get_all_children_number_response: GetAllChildrenNumberResponse,
    arbitrary_get_ephemerals_response: GetEphemeralsResponse,
    arbitrary_add_watch_request: AddWatchRequest,
    arbitrary_error_response: ErrorResponse,
    arbitrary_client_info: ClientInfo,
    arbitrary_who_am_i_response: WhoAmIResponse,
    arbitrary_watcher_event: WatcherEvent,
    arbitrary_sasl_request: SaslRequest,
    arbitrary_txn_header: TxnHeader,
    arbitrary_txn_digest: TxnDigest,
    arbitrary_create_txn: CreateTxn,
    arbitrary_create_ttl_txn: CreateTtlTxn,
    arbitrary_create_container_txn: CreateContainerTxn,
    arbitrary_delete_txn: DeleteTxn,
    arbitrary_set_data_txn: SetDataTxn,
    arbitrary_check_version_txn: CheckVersionTxn,
    arbitrary_set_acl_txn: SetAclTxn,
    arbitrary_create_session_txn: CreateSessionTxn,
    arbitrary_close_session_txn: CloseSessionTxn,
    arbitrary_error_txn: ErrorTxn,
    arbitrary_sub_txn: SubTxn,
    arbitrary_multi_txn: MultiTxn,
    arbitrary_file_header: FileHeader,
    arbitrary_learner_info: LearnerInfo,
    arbitrary_quorum_packet: QuorumPacket,
}

/// Bytes for a request body of opcode `op`: noise, or a mutated encoding of a request that
/// usually (not always) has that opcode, so the decoder is also fed the wrong body.
fn request_input() -> BoxedStrategy<(OpCode, Vec<u8>)> {
    prop_oneof![
        (any_opcode(), proptest::collection::vec(any::<u8>(), 0..96)),
        (Request::arb(), mutations(), any_opcode(), 0..4u8).prop_map(|(req, ms, other, pick)| {
            let op = if pick == 0 { other } else { req.op() };
            (op, mutate(request_bytes(&req), &ms))
        }),
    ]
    .boxed()
}

fn response_input() -> BoxedStrategy<(OpCode, Vec<u8>)> {
    prop_oneof![
        (any_opcode(), proptest::collection::vec(any::<u8>(), 0..96)),
        (response_with_op(), mutations(), any_opcode(), 0..4u8).prop_map(
            |((op, resp), ms, other, pick)| {
                let op = if pick == 0 { other } else { op };
                (op, mutate(response_bytes(&resp), &ms))
            }
        ),
    ]
    .boxed()
}

fn txn_input() -> BoxedStrategy<(i32, Vec<u8>)> {
    prop_oneof![
        (
            any_opcode().prop_map(|o| o.0),
            proptest::collection::vec(any::<u8>(), 0..96)
        ),
        (Txn::arb(), mutations(), any_opcode(), 0..4u8).prop_map(|(txn, ms, other, pick)| {
            let ty = if pick == 0 { other.0 } else { txn.op().0 };
            (ty, mutate(txn_bytes(&txn), &ms))
        }),
    ]
    .boxed()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// `Request::decode` for any opcode and any body: no panic; a decoded request re-encodes
    /// to `body_len` bytes that decode to the same request under the same opcode.
    #[test]
    fn arbitrary_request((op, bytes) in request_input()) {
        let mut r = Reader::new(&bytes);
        if let Ok(Some(req)) = Request::decode(op, &mut r) {
            let consumed = &bytes[..r.position()];
            // The decoded variant answers to the opcode it came from.
            prop_assert_eq!(req.op(), op);
            let re = request_bytes(&req);
            prop_assert_eq!(req.body_len(), re.len());
            let mut r2 = Reader::new(&re);
            prop_assert_eq!(Request::decode(op, &mut r2), Ok(Some(req.clone())));
            prop_assert!(r2.is_empty());
            prop_assert_eq!(request_bytes(&req), re.clone());
            // A request holds no lenient parts but booleans and the multi terminator.
            if !matches!(req, Request::Multi(_) | Request::MultiRead(_)) {
                assert_same_bytes_modulo_lenient(consumed, &re)?;
            }
        }
    }

    /// `Response::decode` for any opcode and any body: no panic; a decoded response
    /// re-encodes to bytes that decode to the same response, and re-encoding is a fixed point.
    #[test]
    fn arbitrary_response((op, bytes) in response_input()) {
        let mut r = Reader::new(&bytes);
        if let Ok(resp) = Response::decode(op, &mut r) {
            let re = response_bytes(&resp);
            let mut r2 = Reader::new(&re);
            prop_assert_eq!(Response::decode(op, &mut r2), Ok(resp.clone()));
            prop_assert!(r2.is_empty());
        }
    }

    /// `Txn::decode_body` for any type and any body: no panic; a decoded txn re-encodes to
    /// bytes that decode to the same txn under the same type.
    #[test]
    fn arbitrary_txn((ty, bytes) in txn_input()) {
        let mut r = Reader::new(&bytes);
        if let Ok(txn) = Txn::decode_body(ty, &mut r) {
            prop_assert_eq!(txn.op().0, ty);
            let re = txn_bytes(&txn);
            let mut r2 = Reader::new(&re);
            prop_assert_eq!(Txn::decode_body(ty, &mut r2), Ok(txn.clone()));
            prop_assert!(r2.is_empty());
            if !matches!(txn, Txn::Multi(_)) {
                assert_same_bytes_modulo_lenient(&bytes[..r.position()], &re)?;
            }
        }
    }

    /// Frame parsing over any bytes and any limit: no panic; a parsed frame lies inside the
    /// input and respects the limit; a frame build from the payload gives the same bytes.
    #[test]
    fn arbitrary_frame(bytes in proptest::collection::vec(any::<u8>(), 0..64), max in prop_oneof![Just(frame::FRAME_LEN_MAX_DEFAULT), 0usize..64, Just(usize::MAX)]) {
        if let Ok(Some((used, payload))) = frame::parse(&bytes, max) {
            prop_assert!(used <= bytes.len());
            prop_assert_eq!(used, 4 + payload.len());
            prop_assert!(payload.len() <= max);
            let rebuilt = frame::build(|out| out.extend_from_slice(payload));
            prop_assert_eq!(&rebuilt[..], &bytes[..used]);
        }
    }

    /// The first frame of a connection is decoded as a ConnectRequest before anything else is
    /// known; the server's path is `frame::parse` then `ConnectRequest::from_bytes`.
    #[test]
    fn arbitrary_connect_frame(bytes in noise_or_mutated::<ConnectRequest>()) {
        let framed = frame::build(|out| out.extend_from_slice(&bytes));
        let (_, payload) = frame::parse(&framed, frame::FRAME_LEN_MAX_DEFAULT).unwrap().unwrap();
        if let Ok(req) = ConnectRequest::from_bytes(payload) {
            assert_same_bytes_modulo_lenient(payload, &req.to_bytes())?;
        }
    }
}

/// A multi nested in a multi is refused rather than recursed into: Apache's
/// `DataTree.processTxn` rejects it ("Invalid type of op"), and unbounded nesting
/// (12 bytes per level) would overflow the stack on a frame well under jute.maxbuffer.
#[test]
fn deeply_nested_multi_txn_is_an_error_not_a_stack_overflow() {
    // Level i (counted from the innermost, an empty multi of 4 bytes) is
    // `count 1 | type 14 | data length 4 + 12 (i - 1) | data`: 80,000 levels fit in 960 KB.
    let levels = 80_000;
    let mut body = Vec::with_capacity(12 * levels + 4);
    for i in (1..=levels).rev() {
        body.extend_from_slice(&1i32.to_be_bytes());
        body.extend_from_slice(&OpCode::MULTI.0.to_be_bytes());
        body.extend_from_slice(&(4 + 12 * (i as i32 - 1)).to_be_bytes());
    }
    body.extend_from_slice(&0i32.to_be_bytes());
    assert!(body.len() <= zk_proto::frame::FRAME_LEN_MAX_DEFAULT);
    let mut r = Reader::new(&body);
    assert!(Txn::decode_body(OpCode::MULTI.0, &mut r).is_err());
    // One level is just as invalid.
    let one = Txn::Multi(vec![Txn::Multi(vec![])]);
    let mut bytes = Vec::new();
    one.encode_body(&mut bytes);
    assert!(Txn::decode_body(OpCode::MULTI.0, &mut Reader::new(&bytes)).is_err());
}
