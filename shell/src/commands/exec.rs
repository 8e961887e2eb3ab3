//! Running a parsed [`Command`] against the shell's connections.

use std::time::Duration;

use zk_proto::proto::SetDataRequest;
use zk_proto::proto::{CheckVersionRequest, CreateRequest, CreateTtlRequest, DeleteRequest};
use zk_proto::{Acl, CreateMode, ErrorCode, MultiOp, MultiResult, OpCode, Stat};

use super::bulk::{self, End};
use super::glob;
use super::output::{AclView, DataView, Output, StatView};
use super::parse::{DataFormat, Location};
use super::spec::COMMANDS;
use super::walk::{read_data, relative, walk, Subtree};
use super::{normalize, CmdError, Command, Frontend, Shell};
use crate::client::{self, Client, ClientOptions, Event, EventType, NodeEvent};

impl Shell {
    /// Runs one command; results go to `fe`.
    pub async fn execute(&mut self, cmd: Command, fe: &mut dyn Frontend) -> Result<(), CmdError> {
        if self.txn.is_some() && is_txn_op(&cmd) {
            return self.queue_op(cmd, fe);
        }
        match cmd {
            Command::Ls { .. }
            | Command::Get { .. }
            | Command::Set { .. }
            | Command::Stat { .. } => self.exec_read_write(cmd, fe).await,
            Command::Create { .. } | Command::Delete { .. } | Command::DeleteAll { .. } => {
                self.exec_create_delete(cmd, fe).await
            }
            Command::Sync { .. } | Command::GetAcl { .. } | Command::SetAcl { .. } => {
                self.exec_acl_sync(cmd, fe).await
            }
            Command::AddAuth { .. }
            | Command::AddWatch { .. }
            | Command::RemoveWatches { .. }
            | Command::GetAllChildrenNumber { .. }
            | Command::GetEphemerals { .. }
            | Command::WhoAmI
            | Command::Config { .. } => self.exec_session_reads(cmd, fe).await,
            Command::Tree { .. }
            | Command::Find { .. }
            | Command::Grep { .. }
            | Command::Du { .. } => self.exec_search(cmd, fe).await,
            Command::Cp { .. }
            | Command::Diff { .. }
            | Command::Watch { .. }
            | Command::Edit { .. } => self.exec_beyond(cmd, fe).await,
            Command::Txn | Command::Check { .. } | Command::Commit | Command::Abort => {
                self.exec_txn(cmd, fe).await
            }
            _ => self.exec_shell(cmd, fe).await,
        }
    }

    async fn exec_read_write(
        &mut self,
        cmd: Command,
        fe: &mut dyn Frontend,
    ) -> Result<(), CmdError> {
        let client = self.conn()?.client.clone();
        match cmd {
            Command::Ls {
                path,
                stat,
                watch,
                recursive,
            } => {
                let path = self.resolve(path.as_deref())?;
                if recursive {
                    let tree = walk(&client, &path, None).await?;
                    let paths = tree.depth_first().into_iter().map(|(p, _)| p).collect();
                    fe.emit(Output::Paths { paths });
                    return Ok(());
                }
                let mut c = client.get_children(&path, watch).await?;
                c.children.sort();
                let stat = stat.then(|| StatView::from(&c.stat));
                fe.emit(Output::Children {
                    path,
                    children: c.children,
                    stat,
                });
            }
            Command::Get {
                path,
                stat,
                watch,
                format,
            } => {
                let path = self.resolve(Some(&path))?;
                let d = client.get_data(&path, watch).await?;
                let data = DataView::new(d.data.as_deref(), format);
                let stat = stat.then(|| StatView::from(&d.stat));
                fe.emit(Output::Data { path, data, stat });
            }
            Command::Set {
                path,
                data,
                stat,
                version,
            } => {
                let path = self.resolve(Some(&path))?;
                let s = client.set_data(&path, Some(data), version).await?;
                if stat {
                    fe.emit(Output::Stat {
                        path,
                        stat: StatView::from(&s),
                    });
                }
            }
            Command::Stat { path, watch } => {
                let path = self.resolve(Some(&path))?;
                let s = client.exists(&path, watch).await?;
                let s = s.ok_or_else(|| no_node(&path, OpCode::EXISTS))?;
                fe.emit(Output::Stat {
                    path,
                    stat: StatView::from(&s),
                });
            }
            _ => unreachable!("dispatched by execute"),
        }
        Ok(())
    }

    async fn exec_create_delete(
        &mut self,
        cmd: Command,
        fe: &mut dyn Frontend,
    ) -> Result<(), CmdError> {
        let client = self.conn()?.client.clone();
        match cmd {
            Command::Create {
                path,
                data,
                acl,
                mode,
                ttl_ms,
            } => {
                let path = self.resolve_keep_slash(&path)?;
                let acl = acl.unwrap_or_else(Acl::open_unsafe);
                let (created, _) = client.create(&path, data, acl, mode, ttl_ms).await?;
                fe.emit(Output::message(format!("Created {created}")));
            }
            Command::Delete { path, version } => {
                let path = self.resolve(Some(&path))?;
                client.delete(&path, version).await?;
            }
            Command::DeleteAll { path } => {
                let path = self.resolve(Some(&path))?;
                let yes = self.opts.yes;
                let mut ask = |q: &str| yes || fe.confirm(q);
                let out = bulk::delete_all(&client, &path, &mut ask).await?;
                fe.emit(out);
            }
            _ => unreachable!("dispatched by execute"),
        }
        Ok(())
    }

    /// Like `resolve`, but keeps a trailing `/` (`create -s /q/` makes `/q/0000000001`).
    fn resolve_keep_slash(&self, path: &str) -> Result<String, CmdError> {
        let p = self.resolve(Some(path))?;
        Ok(if path.ends_with('/') && p != "/" {
            format!("{p}/")
        } else {
            p
        })
    }

    async fn exec_acl_sync(&mut self, cmd: Command, fe: &mut dyn Frontend) -> Result<(), CmdError> {
        let client = self.conn()?.client.clone();
        match cmd {
            Command::Sync { path } => {
                let path = self.resolve(Some(&path))?;
                client.sync(&path).await?;
                fe.emit(Output::message("Sync is OK"));
            }
            Command::GetAcl { path, stat } => {
                let path = self.resolve(Some(&path))?;
                let (acl, s) = client.get_acl(&path).await?;
                let acl = acl.iter().map(AclView::from).collect();
                let stat = stat.then(|| StatView::from(&s));
                fe.emit(Output::Acl { path, acl, stat });
            }
            Command::SetAcl {
                path,
                acl,
                recursive: true,
                ..
            } => {
                let path = self.resolve(Some(&path))?;
                let yes = self.opts.yes;
                let mut ask = |q: &str| yes || fe.confirm(q);
                let out = bulk::set_acl_all(&client, &path, &acl, &mut ask).await?;
                fe.emit(out);
            }
            Command::SetAcl {
                path,
                acl,
                version,
                stat,
                ..
            } => {
                let path = self.resolve(Some(&path))?;
                let s = client.set_acl(&path, acl, version).await?;
                if stat {
                    fe.emit(Output::Stat {
                        path,
                        stat: StatView::from(&s),
                    });
                }
            }
            _ => unreachable!("dispatched by execute"),
        }
        Ok(())
    }

    async fn exec_session_reads(
        &mut self,
        cmd: Command,
        fe: &mut dyn Frontend,
    ) -> Result<(), CmdError> {
        let client = self.conn()?.client.clone();
        match cmd {
            Command::AddAuth { scheme, auth } => {
                client.add_auth(&scheme, auth.clone().into_bytes()).await?;
                self.conn_mut()?.auth.push((scheme, auth));
            }
            Command::AddWatch { path, recursive } => {
                let path = self.resolve(Some(&path))?;
                client.add_watch(&path, recursive).await?;
            }
            Command::RemoveWatches {
                path,
                watcher_type,
                local,
            } => {
                let path = self.resolve(Some(&path))?;
                if local {
                    client.remove_watches_locally(&path, watcher_type);
                } else {
                    client.remove_watches(&path, watcher_type).await?;
                }
            }
            Command::GetAllChildrenNumber { path } => {
                let path = self.resolve(Some(&path))?;
                let value = client.get_all_children_number(&path).await? as i64;
                fe.emit(Output::Number { path, value });
            }
            Command::GetEphemerals { path } => {
                let path = self.resolve(path.as_deref())?;
                let mut paths = client.get_ephemerals(&path).await?;
                paths.sort();
                fe.emit(Output::Paths { paths });
            }
            Command::WhoAmI => {
                let who = client.who_am_i().await?;
                let rows = who
                    .into_iter()
                    .map(|i| vec![i.auth_scheme, i.user])
                    .collect();
                fe.emit(Output::Table {
                    headers: vec!["SCHEME".into(), "USER".into()],
                    rows,
                });
            }
            Command::Config { stat } => {
                let d = client.get_config(false).await?;
                let data = DataView::new(d.data.as_deref(), DataFormat::Auto);
                let stat = stat.then(|| StatView::from(&d.stat));
                fe.emit(Output::Data {
                    path: client::CONFIG_NODE.into(),
                    data,
                    stat,
                });
            }
            _ => unreachable!("dispatched by execute"),
        }
        Ok(())
    }

    async fn exec_search(&mut self, cmd: Command, fe: &mut dyn Frontend) -> Result<(), CmdError> {
        let client = self.conn()?.client.clone();
        match cmd {
            Command::Tree { path, depth } => {
                let path = self.resolve(path.as_deref())?;
                let tree = walk(&client, &path, depth).await?;
                fe.emit(Output::Tree {
                    lines: draw_tree(&tree),
                    path,
                });
            }
            Command::Find { path, pattern } => {
                let root = self.resolve(path.as_deref())?;
                let tree = walk(&client, &root, None).await?;
                let paths = find_matches(&tree, &root, &pattern);
                fe.emit(Output::Paths { paths });
            }
            Command::Grep {
                path,
                text,
                ignore_case,
            } => {
                let root = self.resolve(path.as_deref())?;
                let tree = walk(&client, &root, None).await?;
                let data = read_data(&client, &tree.paths()).await?;
                let paths = grep_matches(&tree, &data, &text, ignore_case);
                fe.emit(Output::Paths { paths });
            }
            Command::Du { path } => {
                let root = self.resolve(path.as_deref())?;
                let tree = walk(&client, &root, None).await?;
                fe.emit(du_table(&tree));
            }
            _ => unreachable!("dispatched by execute"),
        }
        Ok(())
    }

    async fn exec_beyond(&mut self, cmd: Command, fe: &mut dyn Frontend) -> Result<(), CmdError> {
        match cmd {
            Command::Cp {
                src,
                dst,
                recursive,
            } => {
                let (sc, sl) = self.locate(&src).await?;
                let (dc, dl) = self.locate(&dst).await?;
                let src = End {
                    client: &sc,
                    root: sl.path.clone(),
                    label: label(&sl),
                };
                let dst = End {
                    client: &dc,
                    root: dl.path.clone(),
                    label: label(&dl),
                };
                let yes = self.opts.yes;
                let mut ask = |q: &str| yes || fe.confirm(q);
                let out = bulk::copy(src, dst, recursive, &mut ask).await?;
                fe.emit(out);
            }
            Command::Diff { a, b } => {
                let (ac, al) = self.locate(&a).await?;
                let (bc, bl) = self.locate(&b).await?;
                let a = End {
                    client: &ac,
                    root: al.path.clone(),
                    label: label(&al),
                };
                let b = End {
                    client: &bc,
                    root: bl.path.clone(),
                    label: label(&bl),
                };
                let out = bulk::diff(a, b).await?;
                let n = match &out {
                    Output::Diff { lines, .. } => lines.len(),
                    _ => 0,
                };
                fe.emit(out);
                if n > 0 {
                    return Err(CmdError::Differ(n));
                }
            }
            Command::Watch {
                path,
                count,
                seconds,
            } => {
                let path = self.resolve(path.as_deref())?;
                self.watch(&path, count, seconds, fe).await?;
            }
            Command::Edit { path } => {
                let path = self.resolve(Some(&path))?;
                self.edit(&path, fe).await?;
            }
            _ => unreachable!("dispatched by execute"),
        }
        Ok(())
    }

    /// The client and absolute path of a location, opening a cluster from the list if needed.
    async fn locate(&mut self, loc: &Location) -> Result<(Client, Location), CmdError> {
        let Some(name) = &loc.cluster else {
            let path = self.resolve(Some(&loc.path))?;
            let name = self.conn()?.name.clone();
            return Ok((
                self.conn()?.client.clone(),
                Location {
                    cluster: Some(name),
                    path,
                },
            ));
        };
        if !self.conns.contains_key(name) {
            let cluster = self
                .clusters
                .get(name)
                .cloned()
                .ok_or_else(|| CmdError::UnknownCluster(name.clone()))?;
            let conn = self
                .open(name, &cluster.connect_string(), cluster.auth_pairs())
                .await?;
            self.conns.insert(name.clone(), conn);
        }
        let client = self.conns[name].client.clone();
        Ok((
            client,
            Location {
                cluster: Some(name.clone()),
                path: normalize("/", &loc.path),
            },
        ))
    }

    /// Streams events from a persistent-recursive watch on a second session, so that the
    /// stream holds only this watch's events.
    async fn watch(
        &mut self,
        path: &str,
        count: Option<usize>,
        seconds: Option<u64>,
        fe: &mut dyn Frontend,
    ) -> Result<(), CmdError> {
        let conn = self.conn()?;
        let (tx, mut rx) = client::event_channel();
        let opts = ClientOptions {
            session_timeout_ms: self.opts.session_timeout_ms,
            label: Some(conn.name.clone()),
            events: Some(tx),
            auth: conn.auth.clone(),
            ..Default::default()
        };
        let name = conn.name.clone();
        let watcher = Client::connect(&conn.connect, opts).await?;
        watcher.add_watch(path, true).await?;
        fe.emit(Output::message(format!("watching {path} (Ctrl-C stops)")));
        let deadline = seconds.map(|s| tokio::time::Instant::now() + Duration::from_secs(s));
        let mut seen = 0;
        while count.is_none_or(|n| seen < n) {
            let next = async {
                match deadline {
                    Some(d) => tokio::time::timeout_at(d, rx.recv()).await.ok().flatten(),
                    None => rx.recv().await,
                }
            };
            let Some(ev) = next.await else { break };
            if let Event::Node(n) = ev.event {
                let zxid = event_zxid(&watcher, &n).await;
                fe.emit(Output::Event {
                    cluster: name.clone(),
                    event: n.event_type.to_string(),
                    path: n.path,
                    zxid,
                });
                seen += 1;
            }
        }
        watcher.close().await;
        Ok(())
    }

    async fn edit(&mut self, path: &str, fe: &mut dyn Frontend) -> Result<(), CmdError> {
        let client = self.conn()?.client.clone();
        let d = client.get_data(path, false).await?;
        let old = d.data.clone().unwrap_or_default();
        match fe.edit(path, &old).map_err(CmdError::Failed)? {
            Some(new) if new != old => {
                client.set_data(path, Some(new), d.stat.version).await?;
                fe.emit(Output::message(format!("updated {path}")));
            }
            _ => fe.emit(Output::message(format!("{path} unchanged"))),
        }
        Ok(())
    }

    async fn exec_txn(&mut self, cmd: Command, fe: &mut dyn Frontend) -> Result<(), CmdError> {
        match cmd {
            Command::Txn if self.txn.is_some() => {
                return Err(CmdError::Failed("a transaction is already open".into()))
            }
            Command::Txn => {
                self.txn = Some(Vec::new());
                fe.emit(Output::message(
                    "transaction started: create/set/delete/check are queued; commit or abort",
                ));
            }
            Command::Abort => {
                let n = self.txn.take().ok_or_else(no_txn)?.len();
                fe.emit(Output::message(format!(
                    "transaction aborted ({n} operations dropped)"
                )));
            }
            Command::Commit => {
                let ops = self.txn.take().ok_or_else(no_txn)?;
                let client = self.conn()?.client.clone();
                let results = client.multi(ops).await?;
                let lines: Vec<String> = results.iter().map(describe_result).collect();
                fe.emit(Output::Text {
                    text: format!("committed {} operations\n{}", lines.len(), lines.join("\n"))
                        .trim_end()
                        .to_string(),
                });
            }
            Command::Check { .. } => {
                return Err(CmdError::Failed("check is only valid inside txn".into()))
            }
            _ => unreachable!("dispatched by execute"),
        }
        Ok(())
    }

    fn queue_op(&mut self, cmd: Command, fe: &mut dyn Frontend) -> Result<(), CmdError> {
        let op = match cmd {
            Command::Create {
                path,
                data,
                acl,
                mode,
                ttl_ms,
            } => {
                let path = self.resolve_keep_slash(&path)?;
                create_op(
                    path,
                    data,
                    acl.unwrap_or_else(Acl::open_unsafe),
                    mode,
                    ttl_ms,
                )
            }
            Command::Set {
                path,
                data,
                version,
                ..
            } => MultiOp::SetData(SetDataRequest {
                path: self.resolve(Some(&path))?,
                data: Some(data),
                version,
            }),
            Command::Delete { path, version } => MultiOp::Delete(DeleteRequest {
                path: self.resolve(Some(&path))?,
                version,
            }),
            Command::Check { path, version } => MultiOp::Check(CheckVersionRequest {
                path: self.resolve(Some(&path))?,
                version,
            }),
            _ => unreachable!("only txn operations are queued"),
        };
        let txn = self.txn.as_mut().ok_or_else(no_txn)?;
        fe.emit(Output::message(format!(
            "queued {} {}",
            op.op().name(),
            op.path()
        )));
        txn.push(op);
        Ok(())
    }

    async fn exec_shell(&mut self, cmd: Command, fe: &mut dyn Frontend) -> Result<(), CmdError> {
        match cmd {
            Command::Connect { target, name } => {
                let name = self.connect(&target, name.as_deref()).await?;
                fe.emit(Output::message(format!("connected {name}")));
            }
            Command::Close => {
                let name = self.current.take().ok_or(CmdError::NotConnected)?;
                if let Some(c) = self.conns.remove(&name) {
                    c.client.close().await;
                }
                self.current = self.conns.keys().next().cloned();
            }
            Command::Use { name } => {
                if !self.conns.contains_key(&name) {
                    self.connect(&name, None).await?;
                }
                self.current = Some(name);
            }
            Command::Cd { path } => self.cd(path.as_deref()).await?,
            Command::Pwd => fe.emit(Output::message(self.conn()?.cwd.clone())),
            Command::Servers => self.servers(fe).await?,
            _ => self.exec_local(cmd, fe)?,
        }
        Ok(())
    }

    async fn cd(&mut self, path: Option<&str>) -> Result<(), CmdError> {
        let conn = self.conn()?;
        let target = match path {
            None => "/".to_string(),
            Some("-") => conn.prev_cwd.clone(),
            Some(p) => normalize(&conn.cwd, p),
        };
        if conn.client.exists(&target, false).await?.is_none() {
            return Err(no_node(&target, OpCode::EXISTS));
        }
        let conn = self.conn_mut()?;
        conn.prev_cwd = std::mem::replace(&mut conn.cwd, target);
        Ok(())
    }

    /// Commands that touch only the shell's own state.
    fn exec_local(&mut self, cmd: Command, fe: &mut dyn Frontend) -> Result<(), CmdError> {
        match cmd {
            Command::History => {
                let entries = self.history.iter().cloned().enumerate().collect();
                fe.emit(Output::History { entries });
            }
            Command::Quit => self.quit = true,
            Command::PrintWatches { on: Some(on) } => self.print_watches = on,
            Command::PrintWatches { on: None } => {
                let state = if self.print_watches { "on" } else { "off" };
                fe.emit(Output::message(format!("printwatches is {state}")));
            }
            Command::Version => {
                fe.emit(Output::message(format!(
                    "zksh {}",
                    env!("CARGO_PKG_VERSION")
                )));
            }
            Command::Clusters => fe.emit(self.clusters_table()),
            Command::Help { topic } => fe.emit(help(topic.as_deref())?),
            other => return Err(CmdError::Failed(format!("{other:?} cannot run here"))),
        }
        Ok(())
    }

    fn clusters_table(&self) -> Output {
        let mut rows: Vec<Vec<String>> = Vec::new();
        for c in &self.clusters.clusters {
            rows.push(vec![
                c.name.clone(),
                c.connect_string(),
                self.state_of(&c.name),
            ]);
        }
        for (name, conn) in &self.conns {
            if self.clusters.get(name).is_none() {
                rows.push(vec![
                    name.clone(),
                    conn.connect.clone(),
                    self.state_of(name),
                ]);
            }
        }
        Output::Table {
            headers: vec!["NAME".into(), "SERVERS".into(), "STATE".into()],
            rows,
        }
    }

    fn state_of(&self, name: &str) -> String {
        let Some(conn) = self.conns.get(name) else {
            return "-".into();
        };
        let current = if self.current.as_deref() == Some(name) {
            " (current)"
        } else {
            ""
        };
        format!("{}{current}", conn.client.info().state)
    }

    /// `servers`: srvr from every host of the current cluster.
    pub async fn servers(&self, fe: &mut dyn Frontend) -> Result<(), CmdError> {
        let conn = self.conn()?;
        let hosts = conn.client.connect_string().hosts.clone();
        let (headers, rows) = super::servers::table(&hosts).await;
        fe.emit(Output::Table { headers, rows });
        Ok(())
    }
}

fn is_txn_op(cmd: &Command) -> bool {
    matches!(
        cmd,
        Command::Create { .. }
            | Command::Set { .. }
            | Command::Delete { .. }
            | Command::Check { .. }
    )
}

fn no_txn() -> CmdError {
    CmdError::Failed("no transaction is open (use txn)".into())
}

fn no_node(path: &str, op: OpCode) -> CmdError {
    CmdError::Zk(client::Error::Keeper {
        code: ErrorCode::NO_NODE,
        op,
        path: Some(path.to_string()),
    })
}

fn label(loc: &Location) -> String {
    match &loc.cluster {
        Some(c) => format!("{c}:{}", loc.path),
        None => loc.path.clone(),
    }
}

fn create_op(
    path: String,
    data: Option<Vec<u8>>,
    acl: Vec<Acl>,
    mode: CreateMode,
    ttl: Option<i64>,
) -> MultiOp {
    if mode.is_ttl() {
        return MultiOp::CreateTtl(CreateTtlRequest {
            path,
            data,
            acl,
            flags: mode as i32,
            ttl: ttl.unwrap_or(0),
        });
    }
    let op = if mode.is_container() {
        OpCode::CREATE_CONTAINER
    } else {
        OpCode::CREATE
    };
    MultiOp::Create {
        op,
        req: CreateRequest {
            path,
            data,
            acl,
            flags: mode as i32,
        },
    }
}

fn describe_result(r: &MultiResult) -> String {
    match r {
        MultiResult::Create { path } | MultiResult::Create2 { path, .. } => {
            format!("created {path}")
        }
        MultiResult::Delete => "deleted".into(),
        MultiResult::SetData { stat } => format!("set (version {})", stat.version),
        MultiResult::Check => "checked".into(),
        other => format!("{other:?}"),
    }
}

/// The zxid of an event: from the notification when the server sends it, otherwise from the
/// node's stat (created: czxid, changed: mzxid, deleted: the parent's pzxid). The stat may be
/// newer than the event when the node changed again meanwhile.
async fn event_zxid(client: &Client, ev: &NodeEvent) -> Option<String> {
    if let Some(z) = ev.zxid {
        return Some(z.to_string());
    }
    let stat_of = |p: String| async move { client.exists(&p, false).await.ok().flatten() };
    let pick: Option<(Stat, fn(&Stat) -> i64)> = match ev.event_type {
        EventType::NodeCreated => stat_of(ev.path.clone())
            .await
            .map(|s| (s, (|s: &Stat| s.czxid) as fn(&Stat) -> i64)),
        EventType::NodeDataChanged => stat_of(ev.path.clone())
            .await
            .map(|s| (s, (|s: &Stat| s.mzxid) as fn(&Stat) -> i64)),
        EventType::NodeDeleted | EventType::NodeChildrenChanged => {
            let parent = normalize(&ev.path, "..");
            let target = if ev.event_type == EventType::NodeDeleted {
                parent
            } else {
                ev.path.clone()
            };
            stat_of(target)
                .await
                .map(|s| (s, (|s: &Stat| s.pzxid) as fn(&Stat) -> i64))
        }
        EventType::Other(_) => None,
    };
    pick.map(|(s, f)| format!("0x{:x}", f(&s)))
}

fn draw_tree(tree: &Subtree) -> Vec<String> {
    let mut lines = Vec::new();
    // For each depth, whether the ancestor at that depth was the last child.
    let mut last_at: Vec<bool> = Vec::new();
    let order = tree.depth_first();
    for (i, (path, depth)) in order.iter().enumerate() {
        let name = if *depth == 0 {
            path.clone()
        } else {
            path.rsplit('/').next().unwrap_or("").to_string()
        };
        let is_last = order[i + 1..]
            .iter()
            .take_while(|(_, d)| d >= depth)
            .all(|(_, d)| d > depth);
        last_at.truncate(*depth);
        let mut prefix = String::new();
        for last in last_at.iter().take(*depth).skip(1) {
            prefix.push_str(if *last { "    " } else { "│   " });
        }
        if *depth > 0 {
            prefix.push_str(if is_last { "└── " } else { "├── " });
        }
        last_at.push(is_last);
        lines.push(format!("{prefix}{name}"));
    }
    lines
}

fn find_matches(tree: &Subtree, root: &str, pattern: &str) -> Vec<String> {
    tree.depth_first()
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| {
            if pattern.contains('/') {
                glob::matches(
                    pattern.trim_start_matches('/'),
                    relative(root, p).trim_start_matches('/'),
                )
            } else {
                glob::matches(pattern, p.rsplit('/').next().unwrap_or(""))
            }
        })
        .collect()
}

fn grep_matches(
    tree: &Subtree,
    data: &std::collections::BTreeMap<String, client::NodeData>,
    text: &str,
    ignore_case: bool,
) -> Vec<String> {
    let needle = if ignore_case {
        text.to_lowercase()
    } else {
        text.to_string()
    };
    tree.depth_first()
        .into_iter()
        .map(|(p, _)| p)
        .filter(|p| {
            let Some(bytes) = data.get(p).and_then(|d| d.data.as_deref()) else {
                return false;
            };
            let hay = String::from_utf8_lossy(bytes);
            let hay = if ignore_case {
                hay.to_lowercase()
            } else {
                hay.into_owned()
            };
            hay.contains(&needle)
        })
        .collect()
}

/// Bytes and node counts of each child subtree, biggest first, then the total.
fn du_table(tree: &Subtree) -> Output {
    let root = tree.root.clone();
    let mut per_child: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    let mut total = (0u64, 0u64);
    for (path, info) in &tree.nodes {
        let bytes = info.stat.data_length.max(0) as u64;
        total = (total.0 + bytes, total.1 + 1);
        if *path == root {
            continue;
        }
        let rel = relative(&root, path);
        let first = rel
            .trim_start_matches('/')
            .split('/')
            .next()
            .unwrap_or("")
            .to_string();
        let e = per_child.entry(first).or_default();
        *e = (e.0 + bytes, e.1 + 1);
    }
    let mut rows: Vec<(String, (u64, u64))> = per_child.into_iter().collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|(name, (b, n))| {
            vec![
                b.to_string(),
                n.to_string(),
                super::walk::child_path(&root, &name),
            ]
        })
        .collect();
    rows.push(vec![
        total.0.to_string(),
        total.1.to_string(),
        format!("{root} (total)"),
    ]);
    Output::Table {
        headers: vec!["BYTES".into(), "NODES".into(), "PATH".into()],
        rows,
    }
}

fn help(topic: Option<&str>) -> Result<Output, CmdError> {
    let Some(topic) = topic else {
        let lines: Vec<String> = COMMANDS
            .iter()
            .map(|c| format!("  {:<48} {}", c.synopsis, c.help))
            .collect();
        let text = format!(
            "commands (paths may be relative to the working path; CLUSTER:/path in cp and diff):\n{}",
            lines.join("\n")
        );
        return Ok(Output::Text { text });
    };
    let spec = super::spec::find(topic)
        .ok_or_else(|| CmdError::Failed(format!("no command {topic:?}")))?;
    let mut text = format!("{}\n  {}", spec.synopsis, spec.help);
    for f in spec.flags {
        text.push_str(&format!("\n  {:<4} {}", f.name, f.help));
    }
    Ok(Output::Text { text })
}
