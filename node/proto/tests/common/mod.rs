//! Shared strategies and checks for the codec property tests.
//!
//! Every record gets an [`Arb`] strategy that covers its whole value space (null and empty
//! buffers, negative numbers, non-ASCII strings), so that one generic check can run over all of
//! them. The checks return `TestCaseError` so proptest shrinks a failure to a small value.
#![allow(dead_code)]

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;
use std::fmt::Debug;
use zk_proto::data::{Acl, Id, Stat, StatPersisted};
use zk_proto::jute::{Jute, Reader};
use zk_proto::ops::OpCode;
use zk_proto::proto::*;
use zk_proto::request::{MultiOp, MultiResult, Request, Response};
use zk_proto::txn::*;

/// A strategy for every value of a record type.
pub trait Arb: Sized + Debug + Clone + 'static {
    fn arb() -> BoxedStrategy<Self>;
}

impl Arb for i32 {
    fn arb() -> BoxedStrategy<Self> {
        any::<i32>().boxed()
    }
}

impl Arb for i64 {
    fn arb() -> BoxedStrategy<Self> {
        any::<i64>().boxed()
    }
}

impl Arb for bool {
    fn arb() -> BoxedStrategy<Self> {
        any::<bool>().boxed()
    }
}

/// Strings: paths, empty, and arbitrary Unicode (multi-byte UTF-8 included).
impl Arb for String {
    fn arb() -> BoxedStrategy<Self> {
        prop_oneof![
            Just(String::new()),
            "(/[a-z0-9_-]{1,6}){1,3}",
            "\\PC{0,12}",
            any::<String>().prop_map(|s| s.chars().take(12).collect()),
        ]
        .boxed()
    }
}

/// Buffers: empty, short, and arbitrary bytes.
impl Arb for Vec<u8> {
    fn arb() -> BoxedStrategy<Self> {
        vec(any::<u8>(), 0..40).boxed()
    }
}

impl<T: Arb> Arb for Option<T> {
    fn arb() -> BoxedStrategy<Self> {
        option::of(T::arb()).boxed()
    }
}

/// Short vectors of records; long ones only cost time.
pub fn small_vec<T: Arb>() -> BoxedStrategy<Vec<T>> {
    vec(T::arb(), 0..4).boxed()
}

/// Implements [`Arb`] for a record from the strategies of its fields, in declaration order.
macro_rules! arb_record {
    ($name:ident { $($f:ident : $s:expr),* $(,)? }) => {
        impl Arb for $name {
            fn arb() -> BoxedStrategy<Self> {
                ($($s,)*).prop_map(|($($f,)*)| $name { $($f),* }).boxed()
            }
        }
    };
}

// Vectors of strings and of records need `small_vec`, so they are listed field by field.
fn strings() -> BoxedStrategy<Vec<String>> {
    small_vec::<String>()
}

arb_record!(Id {
    scheme: String::arb(),
    id: String::arb()
});
arb_record!(Acl {
    perms: i32::arb(),
    id: Id::arb()
});
arb_record!(Stat {
    czxid: i64::arb(),
    mzxid: i64::arb(),
    ctime: i64::arb(),
    mtime: i64::arb(),
    version: i32::arb(),
    cversion: i32::arb(),
    aversion: i32::arb(),
    ephemeral_owner: i64::arb(),
    data_length: i32::arb(),
    num_children: i32::arb(),
    pzxid: i64::arb(),
});
arb_record!(StatPersisted {
    czxid: i64::arb(),
    mzxid: i64::arb(),
    ctime: i64::arb(),
    mtime: i64::arb(),
    version: i32::arb(),
    cversion: i32::arb(),
    aversion: i32::arb(),
    ephemeral_owner: i64::arb(),
    pzxid: i64::arb(),
});

arb_record!(ConnectRequest {
    protocol_version: i32::arb(),
    last_zxid_seen: i64::arb(),
    timeout_ms: i32::arb(),
    session_id: i64::arb(),
    passwd: Vec::<u8>::arb(),
    read_only: Option::<bool>::arb(),
});
arb_record!(ConnectResponse {
    protocol_version: i32::arb(),
    timeout_ms: i32::arb(),
    session_id: i64::arb(),
    passwd: Vec::<u8>::arb(),
    read_only: Option::<bool>::arb(),
});
arb_record!(RequestHeader {
    xid: i32::arb(),
    op: i32::arb()
});
arb_record!(ReplyHeader {
    xid: i32::arb(),
    zxid: i64::arb(),
    err: i32::arb()
});
arb_record!(MultiHeader {
    op: i32::arb(),
    done: bool::arb(),
    err: i32::arb()
});
arb_record!(AuthPacket {
    auth_type: i32::arb(),
    scheme: String::arb(),
    auth: Vec::<u8>::arb()
});
arb_record!(SetWatches {
    relative_zxid: i64::arb(),
    data_watches: strings(),
    exist_watches: strings(),
    child_watches: strings(),
});
arb_record!(SetWatches2 {
    relative_zxid: i64::arb(),
    data_watches: strings(),
    exist_watches: strings(),
    child_watches: strings(),
    persistent_watches: strings(),
    persistent_recursive_watches: strings(),
});
arb_record!(CreateRequest {
    path: String::arb(),
    data: Option::<Vec<u8>>::arb(),
    acl: small_vec::<Acl>(),
    flags: i32::arb(),
});
arb_record!(CreateTtlRequest {
    path: String::arb(),
    data: Option::<Vec<u8>>::arb(),
    acl: small_vec::<Acl>(),
    flags: i32::arb(),
    ttl: i64::arb(),
});
arb_record!(CreateResponse {
    path: String::arb()
});
arb_record!(Create2Response {
    path: String::arb(),
    stat: Stat::arb()
});
arb_record!(DeleteRequest {
    path: String::arb(),
    version: i32::arb()
});
arb_record!(PathWatchRequest {
    path: String::arb(),
    watch: bool::arb()
});
arb_record!(PathRequest {
    path: String::arb()
});
arb_record!(StatResponse { stat: Stat::arb() });
arb_record!(GetDataResponse {
    data: Option::<Vec<u8>>::arb(),
    stat: Stat::arb()
});
arb_record!(SetDataRequest {
    path: String::arb(),
    data: Option::<Vec<u8>>::arb(),
    version: i32::arb(),
});
arb_record!(GetAclResponse {
    acl: small_vec::<Acl>(),
    stat: Stat::arb()
});
arb_record!(SetAclRequest {
    path: String::arb(),
    acl: small_vec::<Acl>(),
    version: i32::arb()
});
arb_record!(GetChildrenResponse {
    children: strings()
});
arb_record!(GetChildren2Response {
    children: strings(),
    stat: Stat::arb()
});
arb_record!(CheckVersionRequest {
    path: String::arb(),
    version: i32::arb()
});
arb_record!(ReconfigRequest {
    joining_servers: Option::<String>::arb(),
    leaving_servers: Option::<String>::arb(),
    new_members: Option::<String>::arb(),
    cur_config_id: i64::arb(),
});
arb_record!(WatchesRequest {
    path: String::arb(),
    watcher_type: i32::arb()
});
arb_record!(GetAllChildrenNumberResponse {
    total_number: i32::arb()
});
arb_record!(GetEphemeralsResponse {
    ephemerals: strings()
});
arb_record!(AddWatchRequest {
    path: String::arb(),
    mode: i32::arb()
});
arb_record!(ErrorResponse { err: i32::arb() });
arb_record!(ClientInfo {
    auth_scheme: String::arb(),
    user: String::arb()
});
arb_record!(WhoAmIResponse {
    client_info: small_vec::<ClientInfo>()
});
arb_record!(WatcherEvent {
    event_type: i32::arb(),
    state: i32::arb(),
    path: String::arb()
});
arb_record!(SaslRequest {
    token: Option::<Vec<u8>>::arb()
});

arb_record!(TxnHeader {
    client_id: i64::arb(),
    cxid: i32::arb(),
    zxid: i64::arb(),
    time: i64::arb(),
    txn_type: i32::arb(),
});
arb_record!(TxnDigest {
    version: i32::arb(),
    tree_digest: i64::arb()
});
arb_record!(CreateTxn {
    path: String::arb(),
    data: Option::<Vec<u8>>::arb(),
    acl: small_vec::<Acl>(),
    ephemeral: bool::arb(),
    parent_cversion: i32::arb(),
});
arb_record!(CreateTtlTxn {
    path: String::arb(),
    data: Option::<Vec<u8>>::arb(),
    acl: small_vec::<Acl>(),
    parent_cversion: i32::arb(),
    ttl: i64::arb(),
});
arb_record!(CreateContainerTxn {
    path: String::arb(),
    data: Option::<Vec<u8>>::arb(),
    acl: small_vec::<Acl>(),
    parent_cversion: i32::arb(),
});
arb_record!(DeleteTxn {
    path: String::arb()
});
arb_record!(SetDataTxn {
    path: String::arb(),
    data: Option::<Vec<u8>>::arb(),
    version: i32::arb()
});
arb_record!(CheckVersionTxn {
    path: String::arb(),
    version: i32::arb()
});
arb_record!(SetAclTxn {
    path: String::arb(),
    acl: small_vec::<Acl>(),
    version: i32::arb()
});
arb_record!(CreateSessionTxn {
    timeout_ms: i32::arb()
});
arb_record!(CloseSessionTxn {
    paths_to_delete: strings()
});
arb_record!(ErrorTxn { err: i32::arb() });
arb_record!(SubTxn {
    txn_type: i32::arb(),
    data: Vec::<u8>::arb()
});
arb_record!(MultiTxn {
    txns: small_vec::<SubTxn>()
});
arb_record!(FileHeader {
    magic: i32::arb(),
    version: i32::arb(),
    dbid: i64::arb()
});
arb_record!(LearnerInfo {
    server_id: i64::arb(),
    protocol_version: i32::arb(),
    config_version: i64::arb(),
});
arb_record!(QuorumPacket {
    packet_type: i32::arb(),
    zxid: i64::arb(),
    data: Option::<Vec<u8>>::arb(),
    auth_info: option::of(small_vec::<Id>()),
});

/// Every sub-op `multi` and `multiRead` can carry, with each create opcode.
pub fn multi_op() -> BoxedStrategy<MultiOp> {
    let create_op = prop_oneof![
        Just(OpCode::CREATE),
        Just(OpCode::CREATE2),
        Just(OpCode::CREATE_CONTAINER)
    ];
    prop_oneof![
        (create_op, CreateRequest::arb()).prop_map(|(op, req)| MultiOp::Create { op, req }),
        CreateTtlRequest::arb().prop_map(MultiOp::CreateTtl),
        DeleteRequest::arb().prop_map(MultiOp::Delete),
        SetDataRequest::arb().prop_map(MultiOp::SetData),
        CheckVersionRequest::arb().prop_map(MultiOp::Check),
        PathWatchRequest::arb().prop_map(MultiOp::GetData),
        PathWatchRequest::arb().prop_map(MultiOp::GetChildren),
    ]
    .boxed()
}

impl Arb for MultiOp {
    fn arb() -> BoxedStrategy<Self> {
        multi_op()
    }
}

impl Arb for Request {
    fn arb() -> BoxedStrategy<Self> {
        let create_op = prop_oneof![
            Just(OpCode::CREATE),
            Just(OpCode::CREATE2),
            Just(OpCode::CREATE_CONTAINER)
        ];
        let ops = || vec(multi_op(), 0..5);
        prop_oneof![
            (create_op, CreateRequest::arb()).prop_map(|(op, req)| Request::Create { op, req }),
            CreateTtlRequest::arb().prop_map(Request::CreateTtl),
            DeleteRequest::arb().prop_map(Request::Delete),
            PathWatchRequest::arb().prop_map(Request::Exists),
            PathWatchRequest::arb().prop_map(Request::GetData),
            SetDataRequest::arb().prop_map(Request::SetData),
            PathRequest::arb().prop_map(Request::GetAcl),
            SetAclRequest::arb().prop_map(Request::SetAcl),
            PathWatchRequest::arb().prop_map(Request::GetChildren),
            PathWatchRequest::arb().prop_map(Request::GetChildren2),
            PathRequest::arb().prop_map(Request::Sync),
            Just(Request::Ping),
            CheckVersionRequest::arb().prop_map(Request::Check),
            ops().prop_map(Request::Multi),
            ops().prop_map(Request::MultiRead),
            ReconfigRequest::arb().prop_map(Request::Reconfig),
            WatchesRequest::arb().prop_map(Request::CheckWatches),
            WatchesRequest::arb().prop_map(Request::RemoveWatches),
            Vec::<u8>::arb().prop_map(Request::DeleteContainer),
            AuthPacket::arb().prop_map(Request::Auth),
            SetWatches::arb().prop_map(Request::SetWatches),
            SetWatches2::arb().prop_map(Request::SetWatches2),
            SaslRequest::arb().prop_map(Request::Sasl),
            PathRequest::arb().prop_map(Request::GetEphemerals),
            PathRequest::arb().prop_map(Request::GetAllChildrenNumber),
            AddWatchRequest::arb().prop_map(Request::AddWatch),
            Just(Request::WhoAmI),
            Just(Request::CloseSession),
        ]
        .boxed()
    }
}

impl Arb for MultiResult {
    fn arb() -> BoxedStrategy<Self> {
        prop_oneof![
            String::arb().prop_map(|path| MultiResult::Create { path }),
            (String::arb(), Stat::arb())
                .prop_map(|(path, stat)| MultiResult::Create2 { path, stat }),
            Just(MultiResult::Delete),
            Stat::arb().prop_map(|stat| MultiResult::SetData { stat }),
            Just(MultiResult::Check),
            (Option::<Vec<u8>>::arb(), Stat::arb())
                .prop_map(|(data, stat)| MultiResult::GetData { data, stat }),
            strings().prop_map(|children| MultiResult::GetChildren { children }),
            i32::arb().prop_map(|err| MultiResult::Error { err }),
        ]
        .boxed()
    }
}

/// Every response with an opcode whose reply decodes to it.
pub fn response_with_op() -> BoxedStrategy<(OpCode, Response)> {
    let bodiless = prop_oneof![
        Just(OpCode::DELETE),
        Just(OpCode::CHECK),
        Just(OpCode::SET_WATCHES),
        Just(OpCode::SET_WATCHES2),
        Just(OpCode::CHECK_WATCHES),
        Just(OpCode::REMOVE_WATCHES),
        Just(OpCode::CLOSE_SESSION),
        Just(OpCode::PING),
        Just(OpCode::AUTH),
    ];
    let create2 = prop_oneof![
        Just(OpCode::CREATE2),
        Just(OpCode::CREATE_CONTAINER),
        Just(OpCode::CREATE_TTL)
    ];
    let stat = prop_oneof![
        Just(OpCode::EXISTS),
        Just(OpCode::SET_DATA),
        Just(OpCode::SET_ACL)
    ];
    let multi = prop_oneof![Just(OpCode::MULTI), Just(OpCode::MULTI_READ)];
    prop_oneof![
        bodiless.prop_map(|op| (op, Response::Empty)),
        CreateResponse::arb().prop_map(|r| (OpCode::CREATE, Response::Create(r))),
        (create2, Create2Response::arb()).prop_map(|(op, r)| (op, Response::Create2(r))),
        (stat, Stat::arb()).prop_map(|(op, s)| (op, Response::Stat(s))),
        GetDataResponse::arb().prop_map(|r| (OpCode::GET_DATA, Response::GetData(r))),
        GetAclResponse::arb().prop_map(|r| (OpCode::GET_ACL, Response::GetAcl(r))),
        GetChildrenResponse::arb().prop_map(|r| (OpCode::GET_CHILDREN, Response::GetChildren(r))),
        GetChildren2Response::arb()
            .prop_map(|r| (OpCode::GET_CHILDREN2, Response::GetChildren2(r))),
        PathRequest::arb().prop_map(|r| (OpCode::SYNC, Response::Sync(r))),
        (multi, vec(MultiResult::arb(), 0..5)).prop_map(|(op, rs)| (op, Response::Multi(rs))),
        GetEphemeralsResponse::arb()
            .prop_map(|r| (OpCode::GET_EPHEMERALS, Response::GetEphemerals(r))),
        GetAllChildrenNumberResponse::arb().prop_map(|r| (
            OpCode::GET_ALL_CHILDREN_NUMBER,
            Response::GetAllChildrenNumber(r)
        )),
        ErrorResponse::arb().prop_map(|r| (OpCode::ADD_WATCH, Response::AddWatch(r))),
        WhoAmIResponse::arb().prop_map(|r| (OpCode::WHO_AM_I, Response::WhoAmI(r))),
        SaslRequest::arb().prop_map(|r| (OpCode::SASL, Response::Sasl(r))),
    ]
    .boxed()
}

/// A transaction that may appear inside a multi: every variant but multi itself (Apache's
/// `DataTree.processTxn` rejects a multi inside a multi).
pub fn sub_txn() -> BoxedStrategy<Txn> {
    prop_oneof![
        CreateTxn::arb().prop_map(Txn::Create),
        CreateTxn::arb().prop_map(Txn::Create2),
        CreateContainerTxn::arb().prop_map(Txn::CreateContainer),
        CreateTtlTxn::arb().prop_map(Txn::CreateTtl),
        DeleteTxn::arb().prop_map(Txn::Delete),
        DeleteTxn::arb().prop_map(Txn::DeleteContainer),
        SetDataTxn::arb().prop_map(Txn::SetData),
        SetAclTxn::arb().prop_map(Txn::SetAcl),
        CheckVersionTxn::arb().prop_map(Txn::Check),
        CreateSessionTxn::arb().prop_map(Txn::CreateSession),
        option::of(CloseSessionTxn::arb()).prop_map(Txn::CloseSession),
        ErrorTxn::arb().prop_map(Txn::Error),
    ]
    .boxed()
}

/// Every transaction, a multi holding every sub-transaction kind included.
impl Arb for Txn {
    fn arb() -> BoxedStrategy<Self> {
        prop_oneof![
            3 => sub_txn(),
            1 => vec(sub_txn(), 0..6).prop_map(Txn::Multi),
        ]
        .boxed()
    }
}

fn decode_err(e: zk_proto::DecodeError) -> TestCaseError {
    TestCaseError::fail(format!("decode failed: {e}"))
}

/// (a) + (b): `v` encodes to `encoded_len()` bytes, appended after whatever the buffer held,
/// and those bytes decode back to `v` with nothing left over.
pub fn check_roundtrip<T: Jute + PartialEq + Debug>(v: &T) -> Result<(), TestCaseError> {
    let mut out = vec![0xAB, 0xCD];
    v.encode(&mut out);
    let bytes = &out[2..];
    prop_assert_eq!(&out[..2], &[0xAB, 0xCD], "encode overwrote the buffer");
    prop_assert_eq!(
        v.encoded_len(),
        bytes.len(),
        "encoded_len differs from bytes written"
    );
    prop_assert_eq!(&v.to_bytes()[..], bytes);
    let mut r = Reader::new(bytes);
    let back = T::decode(&mut r).map_err(decode_err)?;
    prop_assert_eq!(r.remaining(), 0, "bytes left over");
    prop_assert_eq!(&back, v);
    prop_assert_eq!(T::from_bytes(bytes).map_err(decode_err)?, back);
    // Any strict prefix is Truncated, never a panic or a different value.
    if !bytes.is_empty() {
        let cut = bytes.len() / 2;
        let mut r = Reader::new(&bytes[..cut]);
        if let Ok(short) = T::decode(&mut r) {
            // Only records with an optional tail (the readOnly byte) may decode from a prefix.
            prop_assert_ne!(&short, v);
        }
    }
    Ok(())
}

/// Re-encoding a decoded value gives the `original` bytes except where the decoder is lenient
/// the way Apache's is: a boolean byte other than 0 and 1 reads as true and is written back as
/// 0x01, and a null `ustring` (length -1, as kazoo writes every empty string) reads as the
/// empty string and is written back with length 0.
pub fn assert_same_bytes_modulo_lenient(
    original: &[u8],
    reencoded: &[u8],
) -> Result<(), TestCaseError> {
    prop_assert_eq!(
        original.len(),
        reencoded.len(),
        "length changed on re-encoding"
    );
    let mut i = 0;
    while i < original.len() {
        let (a, b) = (original[i], reencoded[i]);
        if a == b {
            i += 1;
            continue;
        }
        if original[i..].starts_with(&[0xff; 4]) && reencoded[i..].starts_with(&[0; 4]) {
            i += 4;
            continue;
        }
        prop_assert!(
            a > 1 && b == 1,
            "byte {} changed from {:#04x} to {:#04x} on re-encoding",
            i,
            a,
            b
        );
        i += 1;
    }
    Ok(())
}

/// (c): decoding arbitrary bytes does not panic; what decodes re-encodes to the bytes it
/// consumed (modulo lenient decoding), `encoded_len` agrees, and those bytes decode to
/// the same value.
pub fn check_arbitrary<T: Jute + PartialEq + Debug>(bytes: &[u8]) -> Result<(), TestCaseError> {
    let mut r = Reader::new(bytes);
    let Ok(v) = T::decode(&mut r) else {
        return Ok(());
    };
    let consumed = &bytes[..r.position()];
    let re = v.to_bytes();
    prop_assert_eq!(v.encoded_len(), re.len());
    assert_same_bytes_modulo_lenient(consumed, &re)?;
    let back = T::from_bytes(&re).map_err(decode_err)?;
    prop_assert_eq!(&back, &v);
    prop_assert_eq!(back.to_bytes(), re, "re-encoding is not a fixed point");
    Ok(())
}

/// Flips, overwrites, inserts and cuts bytes of a valid encoding, so that arbitrary-bytes
/// checks reach deep into records instead of failing on the first length.
#[derive(Debug, Clone)]
pub enum Mutation {
    Set(usize, u8),
    Insert(usize, u8),
    Remove(usize),
    /// Writes a big-endian i32 (a length or count) at an offset.
    SetI32(usize, i32),
    Truncate(usize),
}

pub fn mutations() -> BoxedStrategy<Vec<Mutation>> {
    let interesting_i32 = prop_oneof![
        Just(-1i32),
        Just(-2),
        Just(0),
        Just(1),
        Just(i32::MAX),
        Just(i32::MIN),
        Just(0x00ff_ffff),
        any::<i32>()
    ];
    let m = prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Remove),
        (any::<usize>(), interesting_i32).prop_map(|(i, v)| Mutation::SetI32(i, v)),
        any::<usize>().prop_map(Mutation::Truncate),
    ];
    // A single overwritten byte keeps most lengths intact, so it reaches the later fields;
    // the general mutations shift and cut.
    let one_byte = (any::<usize>(), any::<u8>()).prop_map(|(i, b)| vec![Mutation::Set(i, b)]);
    prop_oneof![one_byte, vec(m, 1..4)].boxed()
}

pub fn mutate(mut b: Vec<u8>, ms: &[Mutation]) -> Vec<u8> {
    for m in ms {
        let n = b.len();
        match *m {
            Mutation::Set(i, v) if n > 0 => b[i % n] = v,
            Mutation::Insert(i, v) => b.insert(i % (n + 1), v),
            Mutation::Remove(i) if n > 0 => {
                b.remove(i % n);
            }
            Mutation::SetI32(i, v) if n >= 4 => {
                let at = i % (n - 3);
                b[at..at + 4].copy_from_slice(&v.to_be_bytes());
            }
            Mutation::Truncate(i) => b.truncate(i % (n + 1)),
            _ => {}
        }
    }
    b
}

/// Raw inputs for the never-panic checks: either noise, or a mutated valid encoding.
pub fn noise_or_mutated<T: Arb + Jute>() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        1 => vec(any::<u8>(), 0..96),
        3 => (T::arb(), mutations()).prop_map(|(v, ms)| mutate(v.to_bytes(), &ms)),
    ]
    .boxed()
}

/// Encodes a request body.
pub fn request_bytes(req: &Request) -> Vec<u8> {
    let mut out = Vec::new();
    req.encode_body(&mut out);
    out
}

/// Encodes a response body.
pub fn response_bytes(resp: &Response) -> Vec<u8> {
    let mut out = Vec::new();
    resp.encode(&mut out);
    out
}

/// Encodes a transaction body.
pub fn txn_bytes(txn: &Txn) -> Vec<u8> {
    let mut out = Vec::new();
    txn.encode_body(&mut out);
    out
}

/// Every opcode the protocol names, plus some it does not.
pub fn any_opcode() -> BoxedStrategy<OpCode> {
    let known: Vec<i32> = vec![
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 100, 101,
        102, 103, 104, 105, 106, 107, -10, -11, -1,
    ];
    prop_oneof![
        4 => proptest::sample::select(known).prop_map(OpCode),
        1 => any::<i32>().prop_map(OpCode),
    ]
    .boxed()
}

/// Decodes `hex` written with spaces and `|` separators, as in the reference.
pub fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| b.is_ascii_hexdigit()).collect();
    assert_eq!(digits.len() % 2, 0, "odd number of hex digits in {s:?}");
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}
