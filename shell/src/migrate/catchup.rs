//! The catch-up: carries every source change made since the copy began to the destination.
//!
//! Changes arrive three ways: the persistent-recursive watch set on the source roots before
//! the copy started (created, deleted and changed nodes), the sequential-counter check of
//! the parents of created and deleted nodes, and a reconciliation sweep that walks both
//! trees and compares each source node's mzxid, pzxid and aversion with what was last
//! applied (the watch says nothing of ACL changes, and events are lost across reconnects
//! and restarts). Every change is applied the same way: read the source node now, read the
//! destination node, and make the destination match. Applying a path twice, or in any
//! order, gives the same result.
//!
//! The lag: `pending` changed paths not yet applied, and the source zxid against the last
//! zxid up to which everything is applied. A `sync` on the watching session returns zxid Z
//! only after every notification up to Z was sent (reference §7.6), so once the changes
//! queued then are applied, everything up to Z is.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use futures::StreamExt;
use zk_proto::{Acl, ErrorCode, Stat};

use super::acl::canonical;
use super::engine::{
    create_batched, list_nodes, read_nodes, stored_counter, Create, Engine, Mark, NodeRead,
    PARALLEL, PUMP_NAME,
};
use super::paths::{depth, join, parent};
use super::progress::{Lag, Progress};
use super::{MigrateError, Outcome};

/// How often the lag is reported while changes flow.
const LAG_EVERY: Duration = Duration::from_millis(500);
/// How often an idle catch-up writes its checkpoint.
const IDLE_SAVE_EVERY: Duration = Duration::from_secs(2);
/// Longest pause between rounds when nothing is pending; a change ends it at once.
const IDLE_WAIT: Duration = Duration::from_millis(200);
/// Source nodes listed per sweep step; between steps the catch-up applies what the watch
/// reported, so a sweep of a large tree does not hold changes back for its whole length.
const SWEEP_CHUNK: usize = 2048;

/// A reconciliation sweep in progress: source paths still to list, and those met.
struct Sweep {
    queue: VecDeque<String>,
    seen: HashSet<String>,
}

impl Sweep {
    fn new(roots: Vec<String>) -> Sweep {
        Sweep {
            queue: roots.into(),
            seen: HashSet::new(),
        }
    }
}

/// One update of an existing destination node.
struct Update {
    src: String,
    dst: String,
    data: Option<Option<Vec<u8>>>,
    acl: Option<Vec<Acl>>,
}

impl Engine {
    /// Applies changes until stopped, or (with `until_synced`) until nothing is pending
    /// after at least one sweep.
    pub async fn catch_up_phase(&mut self, until_synced: bool) -> Result<Outcome, MigrateError> {
        self.emit(Progress::Phase {
            phase: self.ck.phase,
        });
        let interval = self.reconcile_interval;
        let mut need_sweep = true;
        let mut last_sweep = Instant::now();
        let mut swept = false;
        let mut sweep: Option<Sweep> = None;
        let mut last_lag = Instant::now() - LAG_EVERY;
        loop {
            let zxid = self.source_zxid().await?;
            if self.collect_events()? {
                need_sweep = true;
            }
            if sweep.is_none() && (need_sweep || last_sweep.elapsed() >= interval) {
                self.emit(Progress::Step {
                    text: "reconciliation sweep".into(),
                });
                sweep = Some(Sweep::new(self.map.source_roots()));
                need_sweep = false;
            }
            if let Some(sw) = sweep.as_mut() {
                if self.sweep_step(sw).await? {
                    sweep = None;
                    swept = true;
                    last_sweep = Instant::now();
                }
            }
            let worked = !self.pending.is_empty() || !self.ck.counters_pending.is_empty();
            while !self.pending.is_empty() {
                let batch = self.take_batch();
                self.apply(batch).await?;
                if last_lag.elapsed() >= LAG_EVERY {
                    self.report_lag(zxid, false);
                    last_lag = Instant::now();
                }
                if self.gate().await? {
                    return Ok(Outcome::Stopped);
                }
            }
            if !self.ck.counters_pending.is_empty() {
                let parents: Vec<String> = self.ck.counters_pending.iter().cloned().collect();
                self.carry_counters(&parents).await?;
            }
            let synced = self.pending.is_empty()
                && self.ck.counters_pending.is_empty()
                && swept
                && sweep.is_none();
            if self.pending.is_empty() {
                self.ck.catch_up.applied_zxid = self.ck.catch_up.applied_zxid.max(zxid);
            }
            if worked || last_lag.elapsed() >= LAG_EVERY || synced {
                self.report_lag(zxid, synced);
                last_lag = Instant::now();
            }
            if synced && until_synced {
                self.save()?;
                return Ok(Outcome::Synced);
            }
            if worked || self.last_save.elapsed() >= IDLE_SAVE_EVERY {
                if self.gate().await? {
                    return Ok(Outcome::Stopped);
                }
            } else if *self.control.borrow() != super::progress::RunControl::Run
                && self.gate().await?
            {
                return Ok(Outcome::Stopped);
            }
            if !worked && sweep.is_none() {
                match self.collector.as_mut() {
                    Some(c) => c.wait(IDLE_WAIT).await,
                    None => tokio::time::sleep(IDLE_WAIT).await,
                }
            }
        }
    }

    /// The source's latest zxid, from a `sync` on the watching session.
    async fn source_zxid(&mut self) -> Result<i64, MigrateError> {
        let root = self.map.source_roots().remove(0);
        let z = self
            .src
            .client
            .sync(&root)
            .await
            .map_err(|e| MigrateError::zk(&self.src.side.label, e))?;
        self.ck.catch_up.source_zxid = z.0;
        Ok(z.0)
    }

    fn report_lag(&mut self, zxid: i64, synced: bool) {
        let now = self.started.elapsed().as_millis() as u64;
        let oldest = self
            .pending
            .values()
            .min()
            .map_or(0, |t| now.saturating_sub(*t));
        let c = &mut self.ck.catch_up;
        c.pending = self.pending.len() as u64;
        c.pending_max = c.pending_max.max(c.pending);
        c.lag_ms_max = c.lag_ms_max.max(oldest);
        let lag = Lag {
            pending: self.pending.len() as u64,
            counters_pending: self.ck.counters_pending.len() as u64,
            source_zxid: zxid,
            applied_zxid: c.applied_zxid,
            oldest_ms: oldest,
            applied: c.applied,
            events: c.events,
            events_dropped: self.src.client.events_dropped(),
            sweeps: c.sweeps,
            synced,
        };
        self.emit(Progress::Lag(lag));
    }

    /// The first pending paths in name order, at most a batch. A parent sorts before its
    /// descendants, so it is never applied after them.
    fn take_batch(&mut self) -> Vec<String> {
        let batch: Vec<String> = self
            .pending
            .keys()
            .take(self.copy.batch_nodes_max)
            .cloned()
            .collect();
        for p in &batch {
            self.pending.remove(p);
        }
        batch
    }

    /// One step of a sweep: lists up to [`SWEEP_CHUNK`] source nodes and queues those that
    /// may differ from their copy. A node with a mark (what was last applied) is compared by
    /// its stat alone: changed data or ACL (mzxid, aversion) queues it, changed children
    /// (pzxid) queues its counter. A node without one (after a restart whose marks were not
    /// saved yet) is compared with the destination: missing there, extra children there, or
    /// a different counter. At the end, marked nodes the walk did not meet are queued: they
    /// were deleted while their events were lost. Returns true when the sweep is complete.
    async fn sweep_step(&mut self, sw: &mut Sweep) -> Result<bool, MigrateError> {
        let n = sw.queue.len().min(SWEEP_CHUNK);
        let paths: Vec<String> = sw.queue.drain(..n).collect();
        let lists = list_nodes(&self.src.client, &paths)
            .await
            .map_err(|e| MigrateError::zk(&self.src.side.label, e))?;
        let unmarked: Vec<(String, String)> = paths
            .iter()
            .zip(&lists)
            .filter(|(p, l)| l.is_some() && !self.marks.contains_key(*p))
            .filter_map(|(p, _)| Some((p.clone(), self.map.to_destination(p)?)))
            .collect();
        let dst_paths: Vec<String> = unmarked.iter().map(|(_, d)| d.clone()).collect();
        let dst_lists = list_nodes(&self.dst.client, &dst_paths)
            .await
            .map_err(|e| MigrateError::zk(&self.dst.side.label, e))?;
        let dst_of: HashMap<String, Option<(Vec<String>, Stat)>> = unmarked
            .into_iter()
            .map(|(s, _)| s)
            .zip(dst_lists)
            .collect();
        for (src, list) in paths.into_iter().zip(lists) {
            let Some((children, stat)) = list else {
                continue;
            };
            sw.seen.insert(src.clone());
            if self.skips(&stat) {
                self.ephemeral_paths.insert(src);
                continue;
            }
            for c in &children {
                let p = join(&src, c);
                if self.map.covers(&p) {
                    sw.queue.push_back(p);
                }
            }
            let dst = self
                .map
                .to_destination(&src)
                .expect("swept nodes are covered");
            if self.untouchable(&dst) {
                continue;
            }
            if let Some(m) = self.marks.get(&src).copied() {
                if m.mzxid != stat.mzxid || m.aversion != stat.aversion {
                    self.queue(src.clone());
                }
                if m.pzxid != stat.pzxid {
                    self.ck.counters_pending.insert(src);
                }
                continue;
            }
            self.queue(src.clone());
            let Some(Some((dst_children, dstat))) = dst_of.get(&src) else {
                continue;
            };
            if stored_counter(&stat) != stored_counter(dstat) {
                self.ck.counters_pending.insert(src.clone());
            }
            for c in dst_children {
                let d = join(&dst, c);
                if !children.contains(c)
                    && c != PUMP_NAME
                    && !self.preexisting.contains(&d)
                    && !self.dst_ephemerals.contains(&d)
                {
                    if let Some(s) = self.map.to_source(&d) {
                        self.queue(s);
                    }
                }
            }
        }
        if !sw.queue.is_empty() {
            return Ok(false);
        }
        let gone: Vec<String> = self
            .marks
            .keys()
            .filter(|p| !sw.seen.contains(*p) && self.map.covers(p))
            .cloned()
            .collect();
        for p in gone {
            self.queue(p);
        }
        self.ck.catch_up.sweeps += 1;
        Ok(true)
    }

    /// Makes the destination match the source for these paths (shallowest first).
    pub async fn apply(&mut self, paths: Vec<String>) -> Result<(), MigrateError> {
        let pairs: Vec<(String, String)> = paths
            .into_iter()
            .filter_map(|p| {
                let d = self.map.to_destination(&p)?;
                Some((p, d))
            })
            .filter(|(_, d)| !self.untouchable(d))
            .collect();
        let srcs: Vec<String> = pairs.iter().map(|(s, _)| s.clone()).collect();
        let dsts: Vec<String> = pairs.iter().map(|(_, d)| d.clone()).collect();
        let (s, d) = futures::join!(
            read_nodes(&self.src.client, &srcs),
            read_nodes(&self.dst.client, &dsts)
        );
        let s = s.map_err(|e| MigrateError::zk(&self.src.side.label, e))?;
        let d = d.map_err(|e| MigrateError::zk(&self.dst.side.label, e))?;
        let mut deletes = Vec::new();
        let mut creates: Vec<(String, Create)> = Vec::new();
        let mut updates = Vec::new();
        for ((src, dst), (s, d)) in pairs.into_iter().zip(s.into_iter().zip(d)) {
            self.decide(src, dst, s, d, &mut deletes, &mut creates, &mut updates);
        }
        self.apply_deletes(deletes).await?;
        self.apply_creates(creates).await;
        self.apply_updates_cu(updates).await;
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn decide(
        &mut self,
        src: String,
        dst: String,
        s: Option<NodeRead>,
        d: Option<NodeRead>,
        deletes: &mut Vec<(String, String)>,
        creates: &mut Vec<(String, Create)>,
        updates: &mut Vec<Update>,
    ) {
        let owned = !self.preexisting.contains(&dst);
        let node = match s {
            Some(n) if self.skips(&n.stat) => {
                self.ephemeral_paths.insert(src.clone());
                None
            }
            other => other,
        };
        let Some(node) = node else {
            self.drop_mark(&src);
            match d {
                // An ephemeral on the destination belongs to a live session there (on the
                // fenced source, during a reverse catch-up): never the migration's to delete.
                Some(n) if n.stat.ephemeral_owner != 0 => {
                    self.dst_ephemerals.insert(dst);
                }
                Some(_) if owned => deletes.push((src, dst)),
                _ => {}
            }
            return;
        };
        if super::acl::is_masked(&node.acl)
            && !matches!(self.acl_policy, super::plan::AclPolicy::Replace(_))
        {
            self.warn(format!(
                "cannot read the ACL of {src} (digest hashes hidden without ADMIN); not applied"
            ));
            return;
        }
        self.set_mark(&src, Mark::of(&node.stat));
        let wanted = self.wanted_acl(&src, &node.acl);
        match d {
            None => {
                let acl = self.acl_to_write(&dst, &wanted);
                creates.push((
                    src,
                    Create {
                        path: dst,
                        data: node.data,
                        acl,
                    },
                ));
            }
            Some(have) => {
                let data = (have.data != node.data).then_some(node.data);
                let have_acl = canonical(&self.destination_acl(&dst, &have.acl));
                let acl = (self.acl_carry && have_acl != canonical(&wanted))
                    .then(|| self.acl_to_write(&dst, &wanted));
                if data.is_some() || acl.is_some() {
                    updates.push(Update {
                        src,
                        dst,
                        data,
                        acl,
                    });
                }
            }
        }
    }

    async fn apply_deletes(
        &mut self,
        mut deletes: Vec<(String, String)>,
    ) -> Result<(), MigrateError> {
        deletes.sort_by_key(|(_, d)| std::cmp::Reverse(depth(d)));
        for (src, dst) in deletes {
            let keep = self.preexisting.clone();
            match super::engine::delete_tree(&self.dst.client, &dst, &keep).await {
                Ok(n) => {
                    self.ck.catch_up.deleted += n;
                    self.ck.catch_up.applied += 1;
                    self.counter_of_parent(&src);
                    if let Some(f) = self
                        .ck
                        .fence
                        .as_mut()
                        .filter(|_| self.dst_fence_entry.is_some())
                    {
                        f.originals.remove(&dst);
                        f.applied.remove(&dst);
                    }
                }
                Err(e) if e.is(ErrorCode::NO_AUTH) => self.block(&dst, &e),
                Err(e) => return Err(MigrateError::zk(&self.dst.side.label, e)),
            }
        }
        Ok(())
    }

    async fn apply_creates(&mut self, mut creates: Vec<(String, Create)>) {
        creates.sort_by_key(|(_, c)| depth(&c.path));
        let mut i = 0;
        while i < creates.len() {
            let level = depth(&creates[i].1.path);
            let mut j = i;
            while j < creates.len() && depth(&creates[j].1.path) == level {
                j += 1;
            }
            let batch: Vec<Create> = creates[i..j].iter().map(|(_, c)| c.clone()).collect();
            let failed = create_batched(&self.dst.client, &batch, &self.copy).await;
            let failed_idx: BTreeSet<usize> = failed.iter().map(|(k, _)| *k).collect();
            for (k, e) in failed {
                let src = creates[i + k].0.clone();
                self.drop_mark(&src);
                if e.is(ErrorCode::NODE_EXISTS) {
                    self.queue(src);
                } else if e.is(ErrorCode::NO_NODE) {
                    let p = parent(&src).to_string();
                    if self.map.covers(&p) {
                        self.queue(p);
                    }
                    self.queue(src);
                } else {
                    self.block(&batch[k].path, &e);
                }
            }
            for (k, (src, _)) in creates[i..j].iter().enumerate() {
                if !failed_idx.contains(&k) {
                    self.ck.catch_up.applied += 1;
                    let src = src.clone();
                    self.counter_of_parent(&src);
                }
            }
            i = j;
        }
    }

    async fn apply_updates_cu(&mut self, updates: Vec<Update>) {
        let client = self.dst.client.clone();
        let results: Vec<(String, String, Result<(), crate::client::Error>)> =
            futures::stream::iter(updates.into_iter().map(|u| {
                let client = client.clone();
                async move {
                    let r = async {
                        if let Some(data) = u.data {
                            client.set_data(&u.dst, data, -1).await?;
                        }
                        if let Some(acl) = u.acl {
                            client.set_acl(&u.dst, acl, -1).await?;
                        }
                        Ok(())
                    }
                    .await;
                    (u.src, u.dst, r)
                }
            }))
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        for (src, dst, r) in results {
            match r {
                Ok(()) => self.ck.catch_up.applied += 1,
                Err(e) if e.is(ErrorCode::NO_NODE) => {
                    self.drop_mark(&src);
                    self.queue(src)
                }
                Err(e) => self.block(&dst, &e),
            }
        }
    }

    fn counter_of_parent(&mut self, src: &str) {
        let p = parent(src);
        if p != src && self.map.covers(p) {
            self.ck.counters_pending.insert(p.to_string());
        }
    }
}
