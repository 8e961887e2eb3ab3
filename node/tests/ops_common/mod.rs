//! Shared by the ops_* tests: start Apache ZooKeeper 3.8 and zk-node side by side on free
//! loopback ports, run the same client operations on both, and read their four-letter words,
//! AdminServer and Prometheus endpoints. Every process started here is killed by its PID when
//! its handle drops.
#![allow(dead_code)]

pub mod shape;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zk_proto::proto::{
    ConnectRequest, ConnectResponse, CreateRequest, PathWatchRequest, ReplyHeader, RequestHeader,
    SetDataRequest,
};
use zk_proto::{frame, Acl, Jute, OpCode, Reader, Request};

pub const ZK_JAR: &str = "/usr/share/java/zookeeper.jar";

/// How long a server may take to answer `srvr` after start (a cold JVM takes a few seconds).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A port the OS says is free on 127.0.0.1 (released before use; the window is tiny).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// True when Apache ZooKeeper 3.8 and Java are installed. Without them the test is skipped with
/// a message, unless `CI=true`, where it fails: CI must compare against the real thing.
pub fn apache_available(test: &str) -> bool {
    let java = Command::new("java")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if java && Path::new(ZK_JAR).exists() {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{test}: Apache ZooKeeper 3.8 ({ZK_JAR}) and java are required under CI=true; install zookeeper (see .ci/run)");
    }
    eprintln!("SKIP {test}: Apache ZooKeeper 3.8 is not installed ({ZK_JAR} or java missing)");
    false
}

/// A server process, killed on drop.
pub struct Proc {
    child: Child,
    pub dir: tempfile::TempDir,
    pub client_port: u16,
    pub admin_port: Option<u16>,
    pub metrics_port: Option<u16>,
    pub name: &'static str,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proc {
    pub fn four(&self, word: &str) -> String {
        four(self.client_port, word)
    }

    pub fn admin(&self, name: &str) -> serde_json::Value {
        let port = self.admin_port.expect("admin server enabled");
        let (status, _, body) = http(port, "GET", &format!("/commands/{name}"));
        assert_eq!(status, 200, "{}: /commands/{name}: {body}", self.name);
        serde_json::from_str(&body)
            .unwrap_or_else(|e| panic!("{}: /commands/{name} is not JSON ({e}): {body}", self.name))
    }

    /// The log or stderr captured so far, for failure messages.
    pub fn output(&self) -> String {
        let mut s = String::new();
        for f in ["stderr", "zookeeper.log"] {
            if let Ok(t) = std::fs::read_to_string(self.dir.path().join(f)) {
                s.push_str(&t);
            }
        }
        s
    }

    /// Waits until the server answers `srvr` with its version (it serves).
    pub fn wait_ready(&mut self) {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "{} exited with {status} before serving:\n{}",
                    self.name,
                    self.output()
                );
            }
            if let Ok(t) = try_four(self.client_port, "srvr") {
                if t.starts_with("Zookeeper version") {
                    return;
                }
            }
            if start.elapsed() > START_TIMEOUT {
                panic!(
                    "{} did not answer srvr within {START_TIMEOUT:?}:\n{}",
                    self.name,
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Starts Apache ZooKeeper 3.8 standalone with `extra` zoo.cfg lines appended to a test config
/// (client port, data dir, no connection limit, AdminServer on a free port).
pub fn start_apache(extra: &str) -> Proc {
    let dir = tempfile::tempdir().unwrap();
    let client_port = free_port();
    let admin_port = free_port();
    let d = dir.path();
    std::fs::create_dir_all(d.join("data")).unwrap();
    let cfg = format!(
        "tickTime=2000\ndataDir={}\nclientPort={client_port}\nclientPortAddress=127.0.0.1\nmaxClientCnxns=0\nadmin.serverPort={admin_port}\nadmin.serverAddress=127.0.0.1\n{extra}\n",
        d.join("data").display()
    );
    std::fs::write(d.join("zoo.cfg"), cfg).unwrap();
    start_apache_with(dir, client_port, Some(admin_port))
}

/// Starts Apache on `dir/zoo.cfg` as written by the caller.
pub fn start_apache_with(
    dir: tempfile::TempDir,
    client_port: u16,
    admin_port: Option<u16>,
) -> Proc {
    let mut p = spawn_apache(dir, client_port, admin_port);
    p.wait_ready();
    p
}

/// Starts Apache on `dir/zoo.cfg` without waiting for it to serve (ensemble members serve only
/// once a quorum of them runs).
pub fn spawn_apache(dir: tempfile::TempDir, client_port: u16, admin_port: Option<u16>) -> Proc {
    let d = dir.path();
    std::fs::write(
        d.join("log4j.properties"),
        format!(
            "log4j.rootLogger=INFO, F\nlog4j.appender.F=org.apache.log4j.FileAppender\nlog4j.appender.F.File={}\nlog4j.appender.F.layout=org.apache.log4j.PatternLayout\nlog4j.appender.F.layout.ConversionPattern=%d %-5p [%t] %c{{1}}: %m%n\n",
            d.join("zookeeper.log").display()
        ),
    )
    .unwrap();
    // servlet-api.jar lets the Debian package's Jetty AdminServer start.
    let cp = format!("{ZK_JAR}:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar:/usr/share/java/servlet-api.jar");
    let child = Command::new("java")
        .args([
            "-Xmx256m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Xshare:auto",
            "-Djava.net.preferIPv4Stack=true",
        ])
        .arg(format!(
            "-Dlog4j.configuration=file:{}",
            d.join("log4j.properties").display()
        ))
        .arg(format!("-Dzookeeper.log.dir={}", d.display()))
        .args([
            "-cp",
            &cp,
            "org.apache.zookeeper.server.quorum.QuorumPeerMain",
        ])
        .arg(d.join("zoo.cfg"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(d.join("stderr")).unwrap())
        .spawn()
        .expect("start java");
    Proc {
        child,
        dir,
        client_port,
        admin_port,
        metrics_port: None,
        name: "Apache ZooKeeper",
    }
}

pub fn zk_node_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_zk-node"))
}

/// Starts zk-node with a TOML config: the test basics plus `extra` lines. `admin` and
/// `metrics` give those endpoints free ports.
pub fn start_zk_node(extra: &str, admin: bool, metrics: bool) -> Proc {
    let dir = tempfile::tempdir().unwrap();
    let client_port = free_port();
    let admin_port = admin.then(free_port);
    let metrics_port = metrics.then(free_port);
    let mut cfg = format!(
        "client_port = {client_port}\nclient_address = \"127.0.0.1\"\ndata_dir = \"{}\"\nmax_client_cnxns = 0\nforce_sync = false\n",
        dir.path().join("data").display()
    );
    if let Some(p) = admin_port {
        cfg.push_str(&format!(
            "admin_server_port = {p}\nadmin_server_address = \"127.0.0.1\"\n"
        ));
    }
    if let Some(p) = metrics_port {
        cfg.push_str(&format!(
            "metrics_port = {p}\nmetrics_address = \"127.0.0.1\"\n"
        ));
    }
    cfg.push_str(extra);
    std::fs::write(dir.path().join("node.toml"), cfg).unwrap();
    let args = vec![
        "run".to_string(),
        "--config".into(),
        dir.path().join("node.toml").display().to_string(),
    ];
    spawn_zk_node(dir, &args, client_port, admin_port, metrics_port)
}

/// Starts `zk-node <args>` (its stderr goes to `dir/stderr`) and waits until it answers srvr.
pub fn spawn_zk_node(
    dir: tempfile::TempDir,
    args: &[String],
    client_port: u16,
    admin_port: Option<u16>,
    metrics_port: Option<u16>,
) -> Proc {
    let mut p = spawn_zk_node_unready(dir, args, client_port, admin_port, metrics_port);
    p.wait_ready();
    p
}

/// Starts `zk-node <args>` without waiting for it to serve (ensemble members serve only once a
/// quorum of them runs).
pub fn spawn_zk_node_unready(
    dir: tempfile::TempDir,
    args: &[String],
    client_port: u16,
    admin_port: Option<u16>,
    metrics_port: Option<u16>,
) -> Proc {
    let child = Command::new(zk_node_bin())
        .args(args)
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("stderr")).unwrap())
        .spawn()
        .expect("start zk-node");
    Proc {
        child,
        dir,
        client_port,
        admin_port,
        metrics_port,
        name: "zk-node",
    }
}

pub fn try_four(port: u16, word: &str) -> std::io::Result<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(word.as_bytes())?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    Ok(out)
}

pub fn four(port: u16, word: &str) -> String {
    try_four(port, word).unwrap_or_else(|e| panic!("{word} on port {port}: {e}"))
}

/// One HTTP/1.1 request with `Connection: close`: (status, headers, body).
pub fn http(port: u16, method: &str, path: &str) -> (u16, Vec<(String, String)>, String) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8_lossy(&raw).to_string();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    (status, headers, body.to_string())
}

/// A minimal synchronous ZooKeeper client on zk-proto: enough to create znodes, set watches
/// and keep a session open while the servers are inspected.
pub struct Client {
    stream: TcpStream,
    xid: i32,
    pub session_id: i64,
}

impl Client {
    pub fn connect(port: u16) -> Client {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let req = ConnectRequest {
            protocol_version: 0,
            last_zxid_seen: 0,
            timeout_ms: 30_000,
            session_id: 0,
            passwd: vec![0; 16],
            read_only: Some(false),
        };
        stream.write_all(&frame::build(|o| req.encode(o))).unwrap();
        let payload = read_frame(&mut stream);
        let resp = ConnectResponse::decode(&mut Reader::new(&payload)).unwrap();
        assert_ne!(resp.session_id, 0, "session refused");
        Client {
            stream,
            xid: 0,
            session_id: resp.session_id,
        }
    }

    /// Sends `req` and returns the reply's error code (0 = ok), skipping watch notifications.
    pub fn call(&mut self, req: Request) -> i32 {
        self.xid += 1;
        let hdr = RequestHeader {
            xid: self.xid,
            op: req.op().0,
        };
        let f = frame::build(|o| {
            hdr.encode(o);
            req.encode_body(o);
        });
        self.stream.write_all(&f).unwrap();
        loop {
            let payload = read_frame(&mut self.stream);
            let h = ReplyHeader::decode(&mut Reader::new(&payload)).unwrap();
            if h.xid == self.xid {
                return h.err;
            }
        }
    }

    pub fn create(&mut self, path: &str, data: &[u8], flags: i32) {
        let err = self.call(Request::Create {
            op: OpCode::CREATE,
            req: CreateRequest {
                path: path.into(),
                data: Some(data.to_vec()),
                acl: Acl::open_unsafe(),
                flags,
            },
        });
        assert_eq!(err, 0, "create {path}");
    }

    pub fn set(&mut self, path: &str, data: &[u8]) {
        let err = self.call(Request::SetData(SetDataRequest {
            path: path.into(),
            data: Some(data.to_vec()),
            version: -1,
        }));
        assert_eq!(err, 0, "setData {path}");
    }

    pub fn get(&mut self, path: &str, watch: bool) {
        let err = self.call(Request::GetData(PathWatchRequest {
            path: path.into(),
            watch,
        }));
        assert_eq!(err, 0, "getData {path}");
    }

    pub fn children(&mut self, path: &str, watch: bool) {
        let err = self.call(Request::GetChildren(PathWatchRequest {
            path: path.into(),
            watch,
        }));
        assert_eq!(err, 0, "getChildren {path}");
    }

    pub fn exists(&mut self, path: &str, watch: bool) {
        let err = self.call(Request::Exists(PathWatchRequest {
            path: path.into(),
            watch,
        }));
        assert_eq!(err, 0, "exists {path}");
    }
}

fn read_frame(s: &mut TcpStream) -> Vec<u8> {
    let mut len = [0u8; 4];
    s.read_exact(&mut len).expect("reply length");
    let mut payload = vec![0u8; i32::from_be_bytes(len) as usize];
    s.read_exact(&mut payload).expect("reply body");
    payload
}

/// The same operations on any server: two sessions, persistent, ephemeral and sequential
/// znodes, data, child and exists watches. Returns the clients, whose sessions stay open.
pub fn workload(port: u16) -> (Client, Client) {
    let mut a = Client::connect(port);
    a.create("/a", b"", 0);
    a.create("/a/b", b"", 0);
    a.create("/a/e", b"x", 1);
    a.create("/a/s-", b"y", 2);
    a.set("/a", b"hello");
    a.get("/a", true);
    a.children("/a", true);
    a.exists("/a/b", true);
    let mut b = Client::connect(port);
    b.get("/a", true);
    (a, b)
}
