//! Apache ZooKeeper 3.8 servers started as plain JVM processes (`QuorumPeerMain zoo.cfg`),
//! each in its own temporary directory, on free loopback ports, killed by PID on drop.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const JAR: &str = "/usr/share/java/zookeeper.jar";
/// The jars Debian's `zookeeper.jar` needs at run time: logging, and Jetty for the
/// AdminServer (without them Apache logs "Unable to load jetty" and serves no admin port).
const CLASSPATH_EXTRA: &[&str] = &[
    "slf4j-log4j12.jar",
    "log4j-1.2.jar",
    "servlet-api.jar",
    "jetty9-server.jar",
    "jetty9-servlet.jar",
    "jetty9-http.jar",
    "jetty9-io.jar",
    "jetty9-util.jar",
    "jetty9-security.jar",
    "jetty9-util-ajax.jar",
    "jackson-core.jar",
    "jackson-databind.jar",
    "jackson-annotations.jar",
];

/// Whether Apache ZooKeeper and tmux can be used. When not, the test is skipped with a
/// message, except under CI (`CI=true`), where a missing prerequisite is a failure.
pub fn prerequisites(need_tmux: bool) -> bool {
    let mut missing = Vec::new();
    if !Path::new(JAR).exists() {
        missing.push(format!("{JAR} (apt-get install zookeeper)"));
    }
    if !Command::new("java")
        .arg("-version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        missing.push("java".to_string());
    }
    if need_tmux && !super::tmux::available() {
        missing.push("tmux".to_string());
    }
    if missing.is_empty() {
        return true;
    }
    let message = format!("Apache ZooKeeper test needs {}", missing.join(", "));
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{message}");
    }
    eprintln!("SKIPPED: {message}");
    false
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Sends a four-letter word; empty on any error.
pub fn four_letter(port: u16, word: &str) -> String {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return String::new();
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(3)));
    let _ = stream.write_all(word.as_bytes());
    let mut out = String::new();
    let _ = stream.read_to_string(&mut out);
    out
}

/// `Mode:` and `Zxid:` from srvr, if the server serves.
pub fn mode_and_zxid(port: u16) -> Option<(String, u64)> {
    let text = four_letter(port, "srvr");
    let mode = text
        .lines()
        .find_map(|l| l.strip_prefix("Mode: "))?
        .to_string();
    let zxid = text.lines().find_map(|l| l.strip_prefix("Zxid: 0x"))?;
    Some((mode, u64::from_str_radix(zxid, 16).ok()?))
}

pub struct Server {
    pub id: usize,
    pub client_port: u16,
    pub admin_port: Option<u16>,
    pub dir: PathBuf,
    child: Option<Child>,
}

impl Server {
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the JVM by its PID and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// One Apache ensemble (or a standalone server when `n == 1`).
pub struct Ensemble {
    pub servers: Vec<Server>,
    _dir: tempfile::TempDir,
}

impl Ensemble {
    /// Starts `n` servers; `extra` lines go into every zoo.cfg. With `admin`, each server's
    /// AdminServer listens on a free port.
    pub fn start(n: usize, extra: &[&str], admin: bool) -> Ensemble {
        let dir = tempfile::tempdir().unwrap();
        let peers: Vec<(u16, u16)> = (0..n).map(|_| (free_port(), free_port())).collect();
        let mut servers = Vec::new();
        for id in 1..=n {
            let sdir = dir.path().join(format!("s{id}"));
            std::fs::create_dir_all(sdir.join("data")).unwrap();
            let client_port = free_port();
            let admin_port = admin.then(free_port);
            let mut cfg = format!(
                "tickTime=500\ninitLimit=20\nsyncLimit=10\ndataDir={}\nclientPort={client_port}\n\
                 clientPortAddress=127.0.0.1\nmaxClientCnxns=0\n",
                sdir.join("data").display()
            );
            match admin_port {
                Some(p) => cfg.push_str(&format!(
                    "admin.enableServer=true\nadmin.serverAddress=127.0.0.1\nadmin.serverPort={p}\n"
                )),
                None => cfg.push_str("admin.enableServer=false\n"),
            }
            for line in extra {
                cfg.push_str(line);
                cfg.push('\n');
            }
            if n > 1 {
                std::fs::write(sdir.join("data/myid"), format!("{id}\n")).unwrap();
                for (i, (q, e)) in peers.iter().enumerate() {
                    cfg.push_str(&format!("server.{}=127.0.0.1:{q}:{e}\n", i + 1));
                }
            }
            std::fs::write(sdir.join("zoo.cfg"), cfg).unwrap();
            std::fs::write(
                sdir.join("log4j.properties"),
                "log4j.rootLogger=INFO, F\nlog4j.appender.F=org.apache.log4j.FileAppender\n\
                 log4j.appender.F.File=${zookeeper.log.dir}/zookeeper.log\n\
                 log4j.appender.F.layout=org.apache.log4j.PatternLayout\n\
                 log4j.appender.F.layout.ConversionPattern=%d %p %c{1} %m%n\n",
            )
            .unwrap();
            let child = spawn_jvm(&sdir);
            servers.push(Server {
                id,
                client_port,
                admin_port,
                dir: sdir,
                child: Some(child),
            });
        }
        Ensemble { servers, _dir: dir }
    }

    pub fn connect_string(&self) -> String {
        self.servers
            .iter()
            .map(Server::addr)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Waits until every live server serves and exactly one leads (or it is standalone).
    pub fn wait_ready(&self, limit: Duration) {
        let start = Instant::now();
        loop {
            let modes: Vec<Option<String>> = self
                .servers
                .iter()
                .filter(|s| s.child.is_some())
                .map(|s| mode_and_zxid(s.client_port).map(|(m, _)| m))
                .collect();
            let leaders = modes
                .iter()
                .filter(|m| matches!(m.as_deref(), Some("leader" | "standalone")))
                .count();
            if modes.iter().all(Option::is_some) && leaders == 1 {
                return;
            }
            if start.elapsed() > limit {
                let logs: Vec<String> = self
                    .servers
                    .iter()
                    .map(|s| std::fs::read_to_string(s.dir.join("jvm.out")).unwrap_or_default())
                    .collect();
                panic!(
                    "Apache ensemble not ready: {modes:?}\n{}",
                    logs.join("\n---\n")
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Index of the server that leads now.
    pub fn leader(&self) -> Option<usize> {
        self.servers.iter().position(|s| {
            s.child.is_some() && mode_and_zxid(s.client_port).is_some_and(|(m, _)| m == "leader")
        })
    }
}

impl Drop for Ensemble {
    fn drop(&mut self) {
        for server in &mut self.servers {
            server.kill();
        }
    }
}

fn spawn_jvm(dir: &Path) -> Child {
    let mut classpath = vec![JAR.to_string()];
    for jar in CLASSPATH_EXTRA {
        let path = Path::new("/usr/share/java").join(jar);
        if path.exists() {
            classpath.push(path.display().to_string());
        }
    }
    let out = std::fs::File::create(dir.join("jvm.out")).unwrap();
    Command::new("java")
        .args([
            "-Xmx128m",
            "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1",
            "-Djava.net.preferIPv4Stack=true",
        ])
        .arg(format!(
            "-Dlog4j.configuration=file:{}",
            dir.join("log4j.properties").display()
        ))
        .arg(format!("-Dzookeeper.log.dir={}", dir.display()))
        .arg("-cp")
        .arg(classpath.join(":"))
        .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
        .arg(dir.join("zoo.cfg"))
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("start java")
}
