//! Round-trip properties for every record of the codec.
//!
//! Goal: any value a server or client can build is encoded to bytes that decode back to the
//! same value with nothing left over, and `encoded_len()` predicts the bytes written (the server
//! sizes its frames with it). Method: one proptest per record type over its whole value space,
//! plus the typed `Request`, `Response` and `Txn` enums with every variant and every multi
//! sub-op/result. `coverage.rs` checks that no record of `src/` is missing from the list below.

mod common;

use common::*;
use proptest::prelude::*;
use zk_proto::data::{Acl, Id, Stat, StatPersisted};
use zk_proto::jute::{Jute, Reader};
use zk_proto::proto::*;
use zk_proto::request::{Request, Response};
use zk_proto::txn::*;

/// One round-trip proptest per record type.
macro_rules! roundtrip_records {
    ($($test:ident: $t:ty),* $(,)?) => {
        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]
            $(
                #[test]
                fn $test(v in <$t as Arb>::arb()) {
                    check_roundtrip(&v)?;
                }
            )*
        }
    };
}

roundtrip_records! {
    // org.apache.zookeeper.data
    roundtrip_id: Id,
    roundtrip_acl: Acl,
    roundtrip_stat: Stat,
    roundtrip_stat_persisted: StatPersisted,
    // org.apache.zookeeper.proto
    roundtrip_connect_request: ConnectRequest,
    roundtrip_connect_response: ConnectResponse,
    roundtrip_request_header: RequestHeader,
    roundtrip_reply_header: ReplyHeader,
    roundtrip_multi_header: MultiHeader,
    roundtrip_auth_packet: AuthPacket,
    roundtrip_set_watches: SetWatches,
    roundtrip_set_watches2: SetWatches2,
    roundtrip_create_request: CreateRequest,
    roundtrip_create_ttl_request: CreateTtlRequest,
    roundtrip_create_response: CreateResponse,
    roundtrip_create2_response: Create2Response,
    roundtrip_delete_request: DeleteRequest,
    roundtrip_path_watch_request: PathWatchRequest,
    roundtrip_path_request: PathRequest,
    roundtrip_stat_response: StatResponse,
    roundtrip_get_data_response: GetDataResponse,
    roundtrip_set_data_request: SetDataRequest,
    roundtrip_get_acl_response: GetAclResponse,
    roundtrip_set_acl_request: SetAclRequest,
    roundtrip_get_children_response: GetChildrenResponse,
    roundtrip_get_children2_response: GetChildren2Response,
    roundtrip_check_version_request: CheckVersionRequest,
    roundtrip_reconfig_request: ReconfigRequest,
    roundtrip_watches_request: WatchesRequest,
    roundtrip_get_all_children_number_response: GetAllChildrenNumberResponse,
    roundtrip_get_ephemerals_response: GetEphemeralsResponse,
    roundtrip_add_watch_request: AddWatchRequest,
    roundtrip_error_response: ErrorResponse,
    roundtrip_client_info: ClientInfo,
    roundtrip_who_am_i_response: WhoAmIResponse,
    roundtrip_watcher_event: WatcherEvent,
    roundtrip_sasl_request: SaslRequest,
    // org.apache.zookeeper.txn, persistence and quorum
    roundtrip_txn_header: TxnHeader,
    roundtrip_txn_digest: TxnDigest,
    roundtrip_create_txn: CreateTxn,
    roundtrip_create_ttl_txn: CreateTtlTxn,
    roundtrip_create_container_txn: CreateContainerTxn,
    roundtrip_delete_txn: DeleteTxn,
    roundtrip_set_data_txn: SetDataTxn,
    roundtrip_check_version_txn: CheckVersionTxn,
    roundtrip_set_acl_txn: SetAclTxn,
    roundtrip_create_session_txn: CreateSessionTxn,
    roundtrip_close_session_txn: CloseSessionTxn,
    roundtrip_error_txn: ErrorTxn,
    roundtrip_sub_txn: SubTxn,
    roundtrip_multi_txn: MultiTxn,
    roundtrip_file_header: FileHeader,
    roundtrip_learner_info: LearnerInfo,
    roundtrip_quorum_packet: QuorumPacket,
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Every request variant (multi and multiRead with every sub-op included) decodes from its
    /// body under its own opcode, `body_len` equals the bytes written, nothing is left over.
    #[test]
    fn roundtrip_request(req in Request::arb()) {
        let bytes = request_bytes(&req);
        prop_assert_eq!(req.body_len(), bytes.len());
        let mut r = Reader::new(&bytes);
        let back = Request::decode(req.op(), &mut r);
        prop_assert_eq!(back, Ok(Some(req)));
        prop_assert_eq!(r.remaining(), 0);
    }

    /// A request travels as `RequestHeader` + body in a frame; the server reads the header,
    /// then the body by the header's opcode.
    #[test]
    fn roundtrip_request_in_frame(xid in any::<i32>(), req in Request::arb()) {
        let frame = zk_proto::frame::build(|out| {
            RequestHeader { xid, op: req.op().0 }.encode(out);
            req.encode_body(out);
        });
        let (used, payload) = zk_proto::frame::parse(&frame, usize::MAX).unwrap().unwrap();
        prop_assert_eq!(used, frame.len());
        let mut r = Reader::new(payload);
        let h = RequestHeader::decode(&mut r).unwrap();
        prop_assert_eq!(h.xid, xid);
        let back = Request::decode(zk_proto::OpCode(h.op), &mut r).unwrap();
        prop_assert_eq!(back, Some(req));
        prop_assert!(r.is_empty());
    }

    /// Every response variant, multi with every result kind included, decodes from its body
    /// under an opcode that answers with it, with nothing left over.
    #[test]
    fn roundtrip_response((op, resp) in response_with_op()) {
        let bytes = response_bytes(&resp);
        let mut r = Reader::new(&bytes);
        let back = Response::decode(op, &mut r);
        prop_assert_eq!(back, Ok(resp));
        prop_assert_eq!(r.remaining(), 0);
    }

    /// Every transaction variant, multi holding every sub-transaction kind included.
    #[test]
    fn roundtrip_txn(txn in Txn::arb()) {
        let bytes = txn_bytes(&txn);
        let mut r = Reader::new(&bytes);
        let back = Txn::decode_body(txn.op().0, &mut r);
        prop_assert_eq!(back, Ok(txn));
        prop_assert_eq!(r.remaining(), 0);
    }

    /// A log entry: `TxnHeader` + body + `TxnDigest`, as written to `log.<zxid>` and carried in
    /// a PROPOSAL.
    #[test]
    fn roundtrip_txn_entry(mut hdr in TxnHeader::arb(), txn in Txn::arb(), digest in TxnDigest::arb()) {
        hdr.txn_type = txn.op().0;
        let mut bytes = hdr.to_bytes();
        txn.encode_body(&mut bytes);
        let body_end = bytes.len();
        digest.encode(&mut bytes);
        let mut r = Reader::new(&bytes);
        prop_assert_eq!(TxnHeader::decode(&mut r).unwrap(), hdr.clone());
        let mut body = Reader::new(&bytes[TxnHeader::default().encoded_len()..body_end]);
        prop_assert_eq!(Txn::decode_body(hdr.txn_type, &mut body).unwrap(), txn);
        prop_assert!(body.is_empty());
        prop_assert_eq!(TxnDigest::from_bytes(&bytes[body_end..]).unwrap(), digest);
    }

    /// Frames: whatever payload goes in comes out, with the bytes the frame used; any strict
    /// prefix of a frame asks for more bytes.
    #[test]
    fn roundtrip_frame(payload in proptest::collection::vec(any::<u8>(), 0..300), tail in proptest::collection::vec(any::<u8>(), 0..8), cut in any::<usize>()) {
        let frame = zk_proto::frame::build(|out| out.extend_from_slice(&payload));
        prop_assert_eq!(frame.len(), 4 + payload.len());
        let mut stream = frame.clone();
        stream.extend_from_slice(&tail);
        let parsed = zk_proto::frame::parse(&stream, zk_proto::frame::FRAME_LEN_MAX_DEFAULT);
        prop_assert_eq!(parsed, Ok(Some((frame.len(), &payload[..]))));
        let cut = cut % frame.len();
        prop_assert_eq!(zk_proto::frame::parse(&frame[..cut], zk_proto::frame::FRAME_LEN_MAX_DEFAULT), Ok(None));
    }
}
