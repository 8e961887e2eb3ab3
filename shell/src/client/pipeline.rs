//! Closed-loop pipelines for load generators
//! ([`Client::run_pipeline`](super::Client::run_pipeline)).
//!
//! A [`Pipeline`] runs inside the session task: whenever fewer than `depth` of its requests are
//! in flight, the task asks it for the next one and encodes it straight into the connection's
//! output buffer; each reply is handed to it in request order as it is read. So a benchmark
//! session costs one read and one write per batch of replies, and no task, channel, oneshot or
//! allocation per request, which is what a caller awaiting [`Client`](super::Client) methods
//! pays.

use std::collections::VecDeque;
use std::time::Instant;

use tokio::sync::oneshot;
use zk_proto::jute::{encode_vec, Reader, Writer};
use zk_proto::{Acl, CreateMode, DecodeError, Jute, OpCode, Response, Stat};

use super::Error;

/// One request of a pipeline, borrowed from it. Paths are client paths: the session prepends
/// the chroot as it encodes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PipelineOp<'a> {
    /// getData without a watch.
    GetData { path: &'a str },
    /// setData; `version` -1 means any.
    SetData {
        path: &'a str,
        data: Option<&'a [u8]>,
        version: i32,
    },
    /// create2 (createContainer for containers), as [`Client::create`](super::Client::create)
    /// sends it. TTL modes go out as createTTL without a TTL, which servers refuse.
    Create {
        path: &'a str,
        data: Option<&'a [u8]>,
        acl: &'a [Acl],
        mode: CreateMode,
    },
}

impl PipelineOp<'_> {
    pub fn op(&self) -> OpCode {
        match self {
            PipelineOp::GetData { .. } => OpCode::GET_DATA,
            PipelineOp::SetData { .. } => OpCode::SET_DATA,
            PipelineOp::Create { mode, .. } if mode.is_ttl() => OpCode::CREATE_TTL,
            PipelineOp::Create { mode, .. } if mode.is_container() => OpCode::CREATE_CONTAINER,
            PipelineOp::Create { .. } => OpCode::CREATE2,
        }
    }

    /// The request body, as `Request::encode_body` writes the owned equivalent.
    pub(crate) fn encode_body(&self, chroot: Option<&str>, out: &mut Vec<u8>) {
        match *self {
            PipelineOp::GetData { path } => {
                put_path(out, chroot, path);
                out.put_bool(false);
            }
            PipelineOp::SetData {
                path,
                data,
                version,
            } => {
                put_path(out, chroot, path);
                out.put_buffer(data);
                out.put_i32(version);
            }
            PipelineOp::Create {
                path,
                data,
                acl,
                mode,
            } => {
                put_path(out, chroot, path);
                out.put_buffer(data);
                encode_vec(acl, out);
                out.put_i32(mode as i32);
                if mode.is_ttl() {
                    out.put_i64(0);
                }
            }
        }
    }
}

/// A jute string holding the server path of `path` (see `to_server_path`), without building it.
fn put_path(out: &mut Vec<u8>, chroot: Option<&str>, path: &str) {
    match chroot {
        None => out.put_buffer(Some(path.as_bytes())),
        Some(c) if path == "/" => out.put_buffer(Some(c.as_bytes())),
        Some(c) => {
            out.put_i32((c.len() + path.len()) as i32);
            out.put_bytes(c.as_bytes());
            out.put_bytes(path.as_bytes());
        }
    }
}

/// Checks that a successful reply to `op` decodes, as the client's own calls would decode it
/// (a reply that does not is a protocol error). getData's data is skipped, not copied.
pub(crate) fn check_reply(op: OpCode, r: &mut Reader<'_>) -> Result<(), DecodeError> {
    if op == OpCode::GET_DATA {
        match r.i32()? {
            -1 => {}
            n if n >= 0 => {
                r.take(n as usize)?;
            }
            n => {
                return Err(DecodeError::invalid(
                    "buffer",
                    format!("negative length {n}"),
                ))
            }
        }
        Stat::decode(r)?;
    } else {
        Response::decode(op, r)?;
    }
    Ok(())
}

/// A source of requests run by the session task (see [`Client::run_pipeline`]).
///
/// [`Client::run_pipeline`]: super::Client::run_pipeline
pub trait Pipeline: Send + 'static {
    /// The next request, or `None` when there is nothing more to send: the pipeline ends once
    /// its last reply has arrived. `now` is when the request is encoded; it is written to the
    /// socket right after, with every other request encoded in the same turn.
    fn next(&mut self, now: Instant) -> Option<PipelineOp<'_>>;

    /// The outcome of the oldest request still in flight: replies come in request order,
    /// exactly one per request. `now` is when the reply was read (one instant for all the
    /// replies of one read). Requests in flight when the connection breaks fail with
    /// [`Error::ConnectionLoss`]; the pipeline carries on after the reconnect. When the session
    /// ends (closed or expired), each of its `depth` slots asks [`Pipeline::next`] once more and
    /// gets [`Error::Closed`] or [`Error::SessionExpired`], as `depth` callers would.
    fn reply(&mut self, result: Result<(), Error>, now: Instant);

    /// True when the pipeline would send nothing more (asked without taking an operation).
    /// While the session cannot reach a server, a pipeline that has nothing in flight and is
    /// over is handed back instead of waiting for the reconnect: a timed run must end on time
    /// against a cluster that went down.
    fn over(&self, _now: Instant) -> bool {
        false
    }
}

/// A pipeline on its way through the session task; dropping it hands the pipeline back to
/// whoever waits in `run_pipeline`, whatever happened to the session.
pub(crate) struct Running<P: Pipeline> {
    pipeline: Option<P>,
    done: Option<oneshot::Sender<P>>,
}

impl<P: Pipeline> Running<P> {
    pub fn new(pipeline: P) -> (Running<P>, oneshot::Receiver<P>) {
        let (done, rx) = oneshot::channel();
        let running = Running {
            pipeline: Some(pipeline),
            done: Some(done),
        };
        (running, rx)
    }
}

impl<P: Pipeline> Pipeline for Running<P> {
    fn next(&mut self, now: Instant) -> Option<PipelineOp<'_>> {
        self.pipeline.as_mut()?.next(now)
    }

    fn over(&self, now: Instant) -> bool {
        self.pipeline.as_ref().is_none_or(|p| p.over(now))
    }

    fn reply(&mut self, result: Result<(), Error>, now: Instant) {
        if let Some(p) = self.pipeline.as_mut() {
            p.reply(result, now);
        }
    }
}

impl<P: Pipeline> Drop for Running<P> {
    fn drop(&mut self) {
        if let (Some(p), Some(done)) = (self.pipeline.take(), self.done.take()) {
            let _ = done.send(p);
        }
    }
}

/// One pipeline waiting or running in the session task.
pub(crate) struct Queued {
    pub pipeline: Box<dyn Pipeline>,
    pub depth: usize,
}

/// Where [`Pipelines::fill`] puts requests: the connection.
pub(crate) trait Sink {
    fn has_room(&self) -> bool;
    fn send(&mut self, op: &PipelineOp<'_>);
}

/// The session's pipelines: they run one after another, the front one now.
#[derive(Default)]
pub(crate) struct Pipelines {
    queue: VecDeque<Queued>,
    /// Requests of the front pipeline written and not yet answered.
    in_flight: usize,
    /// The front pipeline said it has nothing more to send.
    exhausted: bool,
}

impl Pipelines {
    pub fn push(&mut self, q: Queued) {
        self.queue.push_back(q);
    }

    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Sends what the pipelines have to send now into `sink` (the front one's requests, up to
    /// its depth; the next one's once the front one has finished), while the sink has room.
    pub fn fill(&mut self, now: Instant, sink: &mut impl Sink) {
        while let Some(front) = self.queue.front_mut() {
            while !self.exhausted && self.in_flight < front.depth {
                if !sink.has_room() {
                    return;
                }
                match front.pipeline.next(now) {
                    Some(op) => {
                        sink.send(&op);
                        self.in_flight += 1;
                    }
                    None => self.exhausted = true,
                }
            }
            if !(self.exhausted && self.in_flight == 0) {
                return;
            }
            self.queue.pop_front();
            self.exhausted = false;
        }
    }

    /// With no connection: hands back the front pipelines that have nothing in flight and
    /// nothing more to send (see [`Pipeline::over`]).
    pub fn settle_disconnected(&mut self, now: Instant) {
        while let Some(front) = self.queue.front() {
            if self.in_flight > 0 || !(self.exhausted || front.pipeline.over(now)) {
                return;
            }
            self.queue.pop_front();
            self.exhausted = false;
        }
    }

    /// Hands a reply to the front pipeline (the one whose request was answered). A pipeline
    /// that is done is handed back by the next [`Pipelines::fill`].
    pub fn reply(&mut self, result: Result<(), Error>, now: Instant) {
        let Some(front) = self.queue.front_mut() else {
            return;
        };
        self.in_flight = self.in_flight.saturating_sub(1);
        front.pipeline.reply(result, now);
    }

    /// The session ended with `err`: every slot of every pipeline gets it once, then the
    /// pipelines go back to their callers.
    pub fn end(&mut self, err: &Error) {
        let now = Instant::now();
        while let Some(mut q) = self.queue.pop_front() {
            if !std::mem::take(&mut self.exhausted) {
                end_one(&mut q, err, now);
            }
            self.in_flight = 0;
        }
    }
}

/// Ends one pipeline with `err`: each of its slots takes one more request and gets the error.
pub(crate) fn end_one(q: &mut Queued, err: &Error, now: Instant) {
    for _ in 0..q.depth {
        if q.pipeline.next(now).is_none() {
            return;
        }
        q.pipeline.reply(Err(err.clone()), now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use zk_proto::proto::{CreateRequest, PathWatchRequest, SetDataRequest};
    use zk_proto::Request;

    fn owned(op: &PipelineOp<'_>, chroot: Option<&str>) -> Vec<u8> {
        let sp = |p: &str| super::super::to_server_path(chroot, p);
        let request = match *op {
            PipelineOp::GetData { path } => Request::GetData(PathWatchRequest {
                path: sp(path),
                watch: false,
            }),
            PipelineOp::SetData {
                path,
                data,
                version,
            } => Request::SetData(SetDataRequest {
                path: sp(path),
                data: data.map(<[u8]>::to_vec),
                version,
            }),
            PipelineOp::Create {
                path,
                data,
                acl,
                mode,
            } => Request::Create {
                op: op.op(),
                req: CreateRequest {
                    path: sp(path),
                    data: data.map(<[u8]>::to_vec),
                    acl: acl.to_vec(),
                    flags: mode as i32,
                },
            },
        };
        assert_eq!(request.op(), op.op());
        let mut out = Vec::new();
        request.encode_body(&mut out);
        out
    }

    #[test]
    fn ops_encode_as_the_owned_requests_do() {
        let acl = Acl::open_unsafe();
        let ops = [
            PipelineOp::GetData { path: "/a/b" },
            PipelineOp::GetData { path: "/" },
            PipelineOp::SetData {
                path: "/k/1",
                data: Some(b"value"),
                version: -1,
            },
            PipelineOp::SetData {
                path: "/k/1",
                data: None,
                version: 7,
            },
            PipelineOp::Create {
                path: "/c0/12",
                data: Some(b"v"),
                acl: &acl,
                mode: CreateMode::Ephemeral,
            },
            PipelineOp::Create {
                path: "/c0",
                data: None,
                acl: &acl,
                mode: CreateMode::Container,
            },
        ];
        for chroot in [None, Some("/app")] {
            for op in &ops {
                let mut out = Vec::new();
                op.encode_body(chroot, &mut out);
                assert_eq!(out, owned(op, chroot), "{op:?} under {chroot:?}");
            }
        }
    }

    #[test]
    fn get_data_replies_are_checked_without_copying() {
        let mut body = Vec::new();
        body.put_buffer(Some(b"hello"));
        Stat::default().encode(&mut body);
        assert!(check_reply(OpCode::GET_DATA, &mut Reader::new(&body)).is_ok());
        assert!(check_reply(OpCode::GET_DATA, &mut Reader::new(&body[..body.len() - 1])).is_err());
        let mut null = Vec::new();
        null.put_buffer(None);
        Stat::default().encode(&mut null);
        assert!(check_reply(OpCode::GET_DATA, &mut Reader::new(&null)).is_ok());
    }

    /// Counts what the session task does with it.
    struct Counter {
        left: usize,
        sent: usize,
        ok: usize,
        errors: Vec<String>,
    }

    impl Pipeline for Counter {
        fn next(&mut self, _: Instant) -> Option<PipelineOp<'_>> {
            self.left = self.left.checked_sub(1)?;
            self.sent += 1;
            Some(PipelineOp::GetData { path: "/x" })
        }

        fn reply(&mut self, result: Result<(), Error>, _: Instant) {
            match result {
                Ok(()) => self.ok += 1,
                Err(e) => self.errors.push(e.to_string()),
            }
        }
    }

    /// Counts what it is sent; room for `room` more.
    struct Out {
        sent: usize,
        room: usize,
    }

    impl Sink for Out {
        fn has_room(&self) -> bool {
            self.sent < self.room
        }
        fn send(&mut self, _: &PipelineOp<'_>) {
            self.sent += 1;
        }
    }

    fn out() -> Out {
        Out {
            sent: 0,
            room: usize::MAX,
        }
    }

    #[test]
    fn pipelines_keep_depth_in_flight_and_run_one_after_another() {
        let (a, a_rx) = Running::new(Counter {
            left: 5,
            sent: 0,
            ok: 0,
            errors: vec![],
        });
        let (b, mut b_rx) = Running::new(Counter {
            left: 1,
            sent: 0,
            ok: 0,
            errors: vec![],
        });
        let mut ps = Pipelines::default();
        ps.push(Queued {
            pipeline: Box::new(a),
            depth: 2,
        });
        ps.push(Queued {
            pipeline: Box::new(b),
            depth: 2,
        });
        let now = Instant::now();
        let mut sink = Out { sent: 0, room: 1 };
        ps.fill(now, &mut sink);
        assert_eq!(sink.sent, 1, "no more than the sink has room for");
        sink.room = usize::MAX;
        ps.fill(now, &mut sink);
        assert_eq!(sink.sent, 2, "no more than depth");
        // Five requests of the first pipeline, answered one at a time.
        for _ in 0..4 {
            ps.reply(Ok(()), now);
            ps.fill(now, &mut sink);
        }
        assert_eq!(sink.sent, 5);
        ps.reply(Ok(()), now);
        assert!(b_rx.try_recv().is_err(), "the second waits for the first");
        ps.fill(now, &mut sink);
        let a = a_rx.blocking_recv().unwrap();
        assert_eq!((a.sent, a.ok), (5, 5));
        assert_eq!(sink.sent, 6, "the second pipeline starts");
        ps.end(&Error::Closed);
        let b = b_rx.blocking_recv().unwrap();
        assert_eq!((b.sent, b.ok, b.errors.len()), (1, 0, 0));
        assert!(ps.is_empty());
    }

    #[test]
    fn an_ended_session_fails_each_slot_once() {
        let (a, a_rx) = Running::new(Counter {
            left: 100,
            sent: 0,
            ok: 0,
            errors: vec![],
        });
        let mut ps = Pipelines::default();
        ps.push(Queued {
            pipeline: Box::new(a),
            depth: 3,
        });
        ps.fill(Instant::now(), &mut out());
        for _ in 0..3 {
            ps.reply(
                Err(Error::ConnectionLoss {
                    op: OpCode::GET_DATA,
                }),
                Instant::now(),
            );
        }
        ps.end(&Error::SessionExpired);
        let a = a_rx.blocking_recv().unwrap();
        assert_eq!(a.sent, 6);
        assert_eq!(a.errors.len(), 6);
        assert_eq!(a.errors[5], "session expired");
    }

    /// Answers the handshake, then every getData (of `/app/x`, the chroot applied) with a
    /// value; after `answer` of them it drops the connection without answering more.
    async fn fake_server(mut s: tokio::net::TcpStream, answer: usize) {
        use super::super::test_server::{accept_session, read_request, reply};
        use zk_proto::ops::xid;
        use zk_proto::proto::{GetDataResponse, PathWatchRequest};
        accept_session(&mut s, 30_000).await;
        let mut answered = 0;
        while let Some((h, body)) = read_request(&mut s).await {
            if h.xid == xid::PING {
                reply(&mut s, h.xid, |_| {}).await;
                continue;
            }
            if h.op == OpCode::CLOSE_SESSION.0 {
                reply(&mut s, h.xid, |_| {}).await;
                return;
            }
            assert_eq!(h.op, OpCode::GET_DATA.0);
            let req = PathWatchRequest::from_bytes(&body).expect("getData");
            assert_eq!(req.path, "/app/x");
            if answered == answer {
                return;
            }
            answered += 1;
            let data = GetDataResponse {
                data: Some(b"v".to_vec()),
                stat: Stat::default(),
            };
            reply(&mut s, h.xid, |out| data.encode(out)).await;
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_pipeline_carries_on_after_a_lost_connection() {
        use super::super::{Client, ClientOptions};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            fake_server(s, 50).await;
            let (s, _) = listener.accept().await.unwrap();
            fake_server(s, usize::MAX).await;
        });
        let run = async {
            let client = Client::connect(&format!("{addr}/app"), ClientOptions::default())
                .await
                .expect("connect");
            let counter = Counter {
                left: 200,
                sent: 0,
                ok: 0,
                errors: vec![],
            };
            let p = client.run_pipeline(8, counter).await;
            client.close().await;
            p
        };
        let p = tokio::time::timeout(std::time::Duration::from_secs(20), run)
            .await
            .expect("the pipeline finishes");
        assert_eq!(p.sent, 200);
        assert_eq!(p.ok + p.errors.len(), 200, "one reply per request");
        assert!(p.ok >= 50 + 200 - 50 - 8, "{} answered", p.ok);
        assert!((1..=8).contains(&p.errors.len()), "{:?}", p.errors);
        for e in &p.errors {
            assert!(e.starts_with("connection lost"), "{e}");
        }
        server.await.expect("the server saw what it expected");
    }
}
