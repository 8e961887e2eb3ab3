//! A small launcher for Apache ZooKeeper 3.8 (standalone or an ensemble on loopback), for the
//! shell's own tests. It starts the JVM directly so the PID is the server's own, and kills every
//! server it started when dropped.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const JAR: &str = "/usr/share/java/zookeeper.jar";
const CLASSPATH: &str =
    "/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar";
/// A JVM start plus an election fits well inside this on a loaded 2-core machine.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// True when the tests that need Apache should run. Without Apache: skip with a message, unless
/// `CI` is set, where a missing server is a failure.
pub fn available(test: &str) -> bool {
    if Path::new(JAR).exists() && which("java") {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false") {
        panic!("{test}: Apache ZooKeeper ({JAR}) and java are required when CI is set");
    }
    eprintln!("skipping {test}: Apache ZooKeeper ({JAR}) or java is not installed");
    false
}

fn which(cmd: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(cmd).exists()))
        .unwrap_or(false)
}

/// A free loopback port, from the OS.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind 127.0.0.1:0")
}

struct Server {
    dir: PathBuf,
    client_port: u16,
    child: Option<Child>,
}

/// One or more Apache servers. Servers are numbered from 0 here (myid is index + 1).
pub struct Apache {
    _tmp: tempfile::TempDir,
    servers: Vec<Server>,
}

impl Apache {
    pub fn standalone() -> Apache {
        Apache::start(1)
    }

    pub fn ensemble(n: usize) -> Apache {
        Apache::start(n)
    }

    fn start(n: usize) -> Apache {
        let tmp = tempfile::tempdir().expect("tempdir");
        let ports: Vec<[u16; 3]> = (0..n)
            .map(|_| [free_port(), free_port(), free_port()])
            .collect();
        let mut servers = Vec::new();
        for (i, p) in ports.iter().enumerate() {
            let dir = tmp.path().join(format!("s{}", i + 1));
            write_config(&dir, i + 1, p[0], (n > 1).then_some(&ports[..]));
            servers.push(Server {
                dir,
                client_port: p[0],
                child: None,
            });
        }
        let mut apache = Apache { _tmp: tmp, servers };
        for i in 0..n {
            apache.spawn(i);
        }
        for i in 0..n {
            apache.wait_ready(i);
        }
        apache
    }

    fn spawn(&mut self, i: usize) {
        let s = &mut self.servers[i];
        let log = std::fs::File::create(s.dir.join("server.out")).expect("log file");
        let child = Command::new("java")
            .args(["-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"])
            .arg("-Djava.net.preferIPv4Stack=true")
            .arg(format!("-Dzookeeper.log.dir={}", s.dir.display()))
            .arg(format!(
                "-Dlog4j.configuration=file:{}",
                s.dir.join("log4j.properties").display()
            ))
            .arg("-Dznode.container.checkIntervalMs=500")
            .arg("-Dzookeeper.extendedTypesEnabled=true")
            .args([
                "-cp",
                CLASSPATH,
                "org.apache.zookeeper.server.quorum.QuorumPeerMain",
            ])
            .arg(s.dir.join("zoo.cfg"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start java");
        s.child = Some(child);
    }

    /// Waits until server `i` answers `srvr` with a serving mode.
    pub fn wait_ready(&self, i: usize) {
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if four_letter(self.servers[i].client_port, "srvr").contains("Mode: ") {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let log = std::fs::read_to_string(self.servers[i].dir.join("server.out"));
        panic!("server {i} not ready; log:\n{}", log.unwrap_or_default());
    }

    /// Connect string of every server.
    pub fn connect_string(&self) -> String {
        let hosts: Vec<String> = (0..self.servers.len()).map(|i| self.host(i)).collect();
        hosts.join(",")
    }

    pub fn host(&self, i: usize) -> String {
        format!("127.0.0.1:{}", self.servers[i].client_port)
    }

    /// Index of the server listening on `host:port`.
    pub fn index_of(&self, host: &str) -> Option<usize> {
        (0..self.servers.len()).find(|i| self.host(*i) == host)
    }

    /// Kills server `i` with SIGKILL, by PID.
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.servers[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The `Mode:` line of `srvr` for server `i` (empty when it does not answer).
    pub fn mode(&self, i: usize) -> String {
        let out = four_letter(self.servers[i].client_port, "srvr");
        out.lines()
            .find_map(|l| l.strip_prefix("Mode: "))
            .unwrap_or("")
            .to_string()
    }
}

impl Drop for Apache {
    fn drop(&mut self) {
        for i in 0..self.servers.len() {
            self.kill(i);
        }
    }
}

fn write_config(dir: &Path, id: usize, client_port: u16, quorum: Option<&[[u16; 3]]>) {
    std::fs::create_dir_all(dir.join("data")).expect("data dir");
    let mut cfg = format!(
        "tickTime=500\ndataDir={}\nclientPort={client_port}\nclientPortAddress=127.0.0.1\n\
         maxClientCnxns=0\n4lw.commands.whitelist=*\nadmin.enableServer=false\n\
         extendedTypesEnabled=true\nminSessionTimeout=1000\nmaxSessionTimeout=60000\n",
        dir.join("data").display()
    );
    if let Some(peers) = quorum {
        cfg.push_str("initLimit=20\nsyncLimit=10\n");
        for (i, p) in peers.iter().enumerate() {
            cfg.push_str(&format!("server.{}=127.0.0.1:{}:{}\n", i + 1, p[1], p[2]));
        }
        std::fs::write(dir.join("data/myid"), format!("{id}\n")).expect("myid");
    }
    std::fs::write(dir.join("zoo.cfg"), cfg).expect("zoo.cfg");
    let log4j = "log4j.rootLogger=INFO, F\nlog4j.appender.F=org.apache.log4j.ConsoleAppender\n\
                 log4j.appender.F.layout=org.apache.log4j.PatternLayout\n\
                 log4j.appender.F.layout.ConversionPattern=%d %p %c{1}: %m%n\n";
    std::fs::write(dir.join("log4j.properties"), log4j).expect("log4j");
}

/// Sends a four-letter word and returns the answer ("" if the server does not answer).
pub fn four_letter(port: u16, word: &str) -> String {
    let addr = format!("127.0.0.1:{port}");
    let Ok(mut s) = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(1))
    else {
        return String::new();
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.write_all(word.as_bytes());
    let mut out = String::new();
    let _ = s.read_to_string(&mut out);
    out
}
