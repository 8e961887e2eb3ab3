//! The copy: breadth-first over parents, a checkpoint after every batch.
//!
//! A batch is the next children of the frontier's parents (in name order, after the
//! cursor), read pipelined (data + ACL, then the child lists of those with children) and
//! created in multis sized under jute.maxbuffer, several in flight. Every created parent
//! joins the back of the frontier; a parent whose children are all written leaves it, gets
//! its sequential counter carried and, if it had to be created open so its children could
//! be created, its real ACL. Creates that meet an existing node (a batch repeated after a
//! crash, or `conflicts = "overwrite"`) become updates.

use std::time::{Duration, Instant};

use futures::StreamExt;
use zk_proto::data::perms;
use zk_proto::{Acl, ErrorCode};

use super::checkpoint::{acl_from_text, acl_text, FrontierEntry, Phase};
use super::engine::{
    create_batched, list_nodes, read_nodes, stored_counter, walk, Create, Engine, NodeRead,
    BATCH_READ_BYTES_MAX, PARALLEL,
};
use super::paths::{join, parent};
use super::plan::ConflictPolicy;
use super::progress::{CopyProgress, Progress};
use super::{MigrateError, Outcome};

/// One child to copy and where it sits in the frontier.
struct Target {
    /// Index into the frontier.
    entry: usize,
    name: String,
    src: String,
}

impl Engine {
    /// Runs (or resumes) the copy until the frontier is empty or the front end stops it.
    pub async fn copy_phase(&mut self) -> Result<Outcome, MigrateError> {
        if self.ck.phase == Phase::Planned {
            self.start_copy().await?;
        }
        self.emit(Progress::Phase {
            phase: Phase::Copying,
        });
        let run_started = Instant::now();
        let elapsed_before = self.ck.copy.elapsed_ms;
        let nodes_before = self.ck.copy.nodes;
        let bytes_before = self.ck.copy.bytes;
        loop {
            self.ck.copy.elapsed_ms = elapsed_before + run_started.elapsed().as_millis() as u64;
            if self.gate().await? {
                return Ok(Outcome::Stopped);
            }
            if !self.ck.cursor.roots_left.is_empty() {
                self.copy_roots().await?;
                continue;
            }
            if self.ck.cursor.frontier.is_empty() {
                break;
            }
            let batch_start = Instant::now();
            let (nodes, bytes) = self.copy_batch().await?;
            // Keep the watch queue short; the paths wait in `pending` for the catch-up.
            self.collect_events()?;
            self.rate_limit(nodes, bytes, batch_start.elapsed()).await;
            let secs = run_started.elapsed().as_secs_f64().max(0.001);
            let done = self.ck.copy.nodes - nodes_before;
            let rate = done as f64 / secs;
            let total = self.ck.copy.nodes_total;
            self.emit(Progress::Copy(CopyProgress {
                nodes: self.ck.copy.nodes,
                nodes_total: total,
                bytes: self.ck.copy.bytes,
                nodes_per_s: rate,
                bytes_per_s: (self.ck.copy.bytes - bytes_before) as f64 / secs,
                eta_s: (total > 0 && rate > 0.0)
                    .then(|| (total.saturating_sub(self.ck.copy.nodes) as f64 / rate) as u64),
                elapsed_ms: elapsed_before + run_started.elapsed().as_millis() as u64,
            }));
        }
        self.ck.copy.elapsed_ms = elapsed_before + run_started.elapsed().as_millis() as u64;
        self.ck.copy.done = true;
        self.ck.phase = Phase::CatchingUp;
        let c = self.ck.copy.clone();
        let secs = (c.elapsed_ms as f64 / 1000.0).max(0.001);
        self.note(format!(
            "copy done: {} nodes, {} bytes in {:.1} s ({:.0} nodes/s, {:.2} MB/s); {} ephemerals skipped",
            c.nodes,
            c.bytes,
            secs,
            c.nodes as f64 / secs,
            c.bytes as f64 / secs / 1e6,
            c.ephemerals_skipped
        ));
        self.save()?;
        Ok(Outcome::Done)
    }

    /// First start: records what already exists on the destination (and refuses under
    /// `conflicts = "fail"`), estimates the total, and queues the roots.
    async fn start_copy(&mut self) -> Result<(), MigrateError> {
        self.emit(Progress::Step {
            text: "looking for existing nodes on the destination".into(),
        });
        let mut existing = std::collections::BTreeSet::new();
        for dst_root in self.map.destination_roots() {
            let w = walk(&self.dst.client, &dst_root, &|p| {
                !crate::commands::bulk::is_reserved(p)
            })
            .await
            .map_err(|e| MigrateError::zk(&self.dst.side.label, e))?;
            existing.extend(w.nodes.into_keys());
        }
        // The server's root always exists and is not a conflict.
        existing.remove("/");
        if self.conflicts == ConflictPolicy::Fail && !existing.is_empty() {
            let list: Vec<String> = existing.iter().take(20).cloned().collect();
            return Err(MigrateError::Conflicts {
                count: existing.len(),
                examples: list,
            });
        }
        self.preexisting = existing.clone();
        self.ck.preexisting = existing;
        let mut total = 0u64;
        for root in self.map.source_roots() {
            match self.src.client.get_all_children_number(&root).await {
                Ok(n) => total += n as u64 + 1,
                Err(e) if e.is(ErrorCode::NO_NODE) => {}
                Err(e) => return Err(MigrateError::zk(&self.src.side.label, e)),
            }
        }
        self.ck.copy.nodes_total = total;
        self.ck.cursor.roots_left = self.map.source_roots();
        self.ck.phase = Phase::Copying;
        self.note(format!(
            "copy started: about {total} nodes; {} nodes already on the destination",
            self.preexisting.len()
        ));
        self.save()
    }

    /// Copies the root nodes (creating missing destination ancestors) and queues them.
    async fn copy_roots(&mut self) -> Result<(), MigrateError> {
        let roots = std::mem::take(&mut self.ck.cursor.roots_left);
        let reads = read_nodes(&self.src.client, &roots)
            .await
            .map_err(|e| MigrateError::zk(&self.src.side.label, e))?;
        for (root, read) in roots.iter().zip(reads) {
            let Some(node) = read else {
                self.warn(format!(
                    "source path {root} does not exist; nothing to copy there"
                ));
                continue;
            };
            let dst = self.map.to_destination(root).expect("roots are covered");
            self.make_ancestors(&dst).await?;
            let targets = vec![Target {
                entry: usize::MAX,
                name: String::new(),
                src: root.clone(),
            }];
            self.write_nodes(&targets, vec![Some(node)]).await?;
        }
        Ok(())
    }

    /// Creates the missing ancestors of a destination root (empty, open), remembering them.
    async fn make_ancestors(&mut self, dst: &str) -> Result<(), MigrateError> {
        let mut chain = Vec::new();
        let mut p = parent(dst);
        while p != "/" {
            chain.push(p.to_string());
            p = parent(p);
        }
        for a in chain.into_iter().rev() {
            match self
                .dst
                .client
                .create(
                    &a,
                    None,
                    Acl::open_unsafe(),
                    zk_proto::CreateMode::Persistent,
                    None,
                )
                .await
            {
                Ok(_) => {
                    if !self.ck.created_ancestors.contains(&a) {
                        self.ck.created_ancestors.push(a);
                    }
                }
                Err(e) if e.is(ErrorCode::NODE_EXISTS) => {}
                Err(e) => return Err(MigrateError::zk(&self.dst.side.label, e)),
            }
        }
        Ok(())
    }

    /// One batch: pick, read, write, advance the cursor. Returns nodes and bytes written.
    async fn copy_batch(&mut self) -> Result<(u64, u64), MigrateError> {
        let targets = self.pick_batch().await?;
        let mut done_targets = 0;
        let mut nodes = 0;
        let mut bytes = 0;
        let mut read_bytes = 0u64;
        for chunk in targets.chunks(PARALLEL) {
            let paths: Vec<String> = chunk.iter().map(|t| t.src.clone()).collect();
            let reads = read_nodes(&self.src.client, &paths)
                .await
                .map_err(|e| MigrateError::zk(&self.src.side.label, e))?;
            read_bytes += reads.iter().flatten().map(NodeRead::len).sum::<u64>();
            let (n, b) = self.write_nodes(chunk, reads).await?;
            nodes += n;
            bytes += b;
            done_targets += chunk.len();
            if read_bytes > BATCH_READ_BYTES_MAX {
                break;
            }
        }
        self.advance(&targets[..done_targets]).await?;
        Ok((nodes, bytes))
    }

    /// The next children to copy, in frontier order, at most `batch_nodes_max`.
    async fn pick_batch(&mut self) -> Result<Vec<Target>, MigrateError> {
        let max = self.copy.batch_nodes_max;
        let mut out = Vec::new();
        let mut i = 0;
        while out.len() < max && i < self.ck.cursor.frontier.len() {
            self.ensure_listings(i).await?;
            let entry = &self.ck.cursor.frontier[i];
            let names = self.listings.get(&entry.path).cloned().unwrap_or_default();
            let after = if i == 0 {
                self.ck.cursor.after.clone()
            } else {
                None
            };
            for n in names
                .iter()
                .filter(|n| after.as_ref().is_none_or(|a| n.as_str() > a.as_str()))
            {
                let src = join(&entry.path, n);
                if !self.map.covers(&src) {
                    continue;
                }
                out.push(Target {
                    entry: i,
                    name: n.clone(),
                    src,
                });
                if out.len() >= max {
                    break;
                }
            }
            i += 1;
        }
        Ok(out)
    }

    /// Makes sure the child lists of the frontier entries from `from` on are known, reading
    /// up to [`PARALLEL`] missing ones at once (after a restart none are).
    async fn ensure_listings(&mut self, from: usize) -> Result<(), MigrateError> {
        if self
            .listings
            .contains_key(&self.ck.cursor.frontier[from].path)
        {
            return Ok(());
        }
        let missing: Vec<String> = self
            .ck
            .cursor
            .frontier
            .iter()
            .skip(from)
            .filter(|e| !self.listings.contains_key(&e.path))
            .take(PARALLEL)
            .map(|e| e.path.clone())
            .collect();
        let lists = list_nodes(&self.src.client, &missing)
            .await
            .map_err(|e| MigrateError::zk(&self.src.side.label, e))?;
        for (p, l) in missing.into_iter().zip(lists) {
            self.listings
                .insert(p, l.map(|(c, _)| c).unwrap_or_default());
        }
        Ok(())
    }

    /// Writes what was read for `targets` and queues the new parents. Returns nodes and
    /// bytes written.
    async fn write_nodes(
        &mut self,
        targets: &[Target],
        reads: Vec<Option<NodeRead>>,
    ) -> Result<(u64, u64), MigrateError> {
        let mut creates = Vec::new();
        let mut updates = Vec::new();
        let mut parents = Vec::new();
        for (t, read) in targets.iter().zip(reads) {
            let Some(node) = read else { continue };
            if self.skips(&node.stat) {
                self.ephemeral_paths.insert(t.src.clone());
                self.ck.copy.ephemerals_skipped += 1;
                continue;
            }
            if super::acl::is_masked(&node.acl)
                && !matches!(self.acl_policy, super::plan::AclPolicy::Replace(_))
            {
                return Err(MigrateError::Unreadable {
                    path: t.src.clone(),
                    why: "its ACL names digest users but the migrator lacks ADMIN on it, so \
                          the server hides their hashes (authenticate as super on the source, \
                          or use acl.policy = \"replace\")"
                        .into(),
                });
            }
            let dst = self
                .map
                .to_destination(&t.src)
                .expect("targets are covered");
            let acl = self.wanted_acl(&t.src, &node.acl);
            let has_children = node.stat.num_children > 0;
            // A parent whose ACL would keep the migrator from creating its children is
            // created open and given its ACL once they exist.
            let deferred = has_children && !self.dst.identity.granted(&acl, perms::CREATE);
            if has_children {
                parents.push(FrontierEntry {
                    path: t.src.clone(),
                    deferred_acl: deferred.then(|| acl_text(&acl)),
                });
            } else if stored_counter(&node.stat) > 0 {
                // Every child is gone, but the counter still has to be carried.
                self.ck.counters_pending.insert(t.src.clone());
            }
            self.set_mark(&t.src, super::engine::Mark::of(&node.stat));
            if self.preexisting.contains(&dst) {
                match self.conflicts {
                    ConflictPolicy::Skip => {
                        self.ck.copy.conflicts_skipped += 1;
                        continue;
                    }
                    _ => {
                        self.ck.copy.overwritten += 1;
                        updates.push((dst, node.data.clone(), acl));
                        continue;
                    }
                }
            }
            let acl = if deferred { Acl::open_unsafe() } else { acl };
            creates.push(Create {
                path: dst,
                data: node.data,
                acl,
            });
        }
        let failed = create_batched(&self.dst.client, &creates, &self.copy).await;
        let mut written: u64 = creates.len() as u64;
        let mut bytes: u64 = creates
            .iter()
            .map(|c| c.data.as_ref().map_or(0, |d| d.len() as u64))
            .sum();
        for (i, e) in failed {
            let c = &creates[i];
            if e.is(ErrorCode::NODE_EXISTS) {
                // Written before a restart: bring it up to date instead.
                updates.push((c.path.clone(), c.data.clone(), c.acl.clone()));
            } else {
                written -= 1;
                bytes -= c.data.as_ref().map_or(0, |d| d.len() as u64);
                self.block(&c.path.clone(), &e);
            }
        }
        self.apply_updates(updates).await?;
        self.ck.copy.nodes += written;
        self.ck.copy.bytes += bytes;
        for p in parents {
            self.ck.cursor.frontier.push_back(p);
        }
        Ok((written, bytes))
    }

    /// Sets data and ACL of existing destination nodes, pipelined.
    async fn apply_updates(
        &mut self,
        updates: Vec<(String, Option<Vec<u8>>, Vec<Acl>)>,
    ) -> Result<(), MigrateError> {
        let client = self.dst.client.clone();
        let results: Vec<(String, Result<(), crate::client::Error>)> =
            futures::stream::iter(updates.into_iter().map(|(path, data, acl)| {
                let client = client.clone();
                async move {
                    let r = async {
                        client.set_data(&path, data, -1).await?;
                        client.set_acl(&path, acl, -1).await?;
                        Ok(())
                    }
                    .await;
                    (path, r)
                }
            }))
            .buffer_unordered(PARALLEL)
            .collect()
            .await;
        for (path, r) in results {
            if let Err(e) = r {
                self.block(&path, &e);
            }
        }
        Ok(())
    }

    /// Moves the cursor past `done` and finishes the parents that are now complete: their
    /// counters are carried and deferred ACLs applied.
    async fn advance(&mut self, done: &[Target]) -> Result<(), MigrateError> {
        let Some(last) = done.last() else {
            // An empty batch means no frontier entry has a child left: all are complete.
            let n = self.ck.cursor.frontier.len();
            return self.finish_entries(n).await;
        };
        let entry = &self.ck.cursor.frontier[last.entry];
        let names = self.listings.get(&entry.path).cloned().unwrap_or_default();
        let rest_covered = names
            .iter()
            .filter(|n| n.as_str() > last.name.as_str())
            .any(|n| self.map.covers(&join(&entry.path, n)));
        let (finished, after) = if rest_covered {
            (last.entry, Some(last.name.clone()))
        } else {
            (last.entry + 1, None)
        };
        self.finish_entries(finished).await?;
        self.ck.cursor.after = after;
        Ok(())
    }

    /// Pops `n` complete parents off the frontier: carries their counters, then applies
    /// their deferred ACLs (the pumps need CREATE and DELETE on the parent).
    async fn finish_entries(&mut self, n: usize) -> Result<(), MigrateError> {
        let entries: Vec<FrontierEntry> = self.ck.cursor.frontier.drain(..n).collect();
        if n > 0 {
            self.ck.cursor.after = None;
        }
        let parents: Vec<String> = entries.iter().map(|e| e.path.clone()).collect();
        self.carry_counters(&parents).await?;
        let deferred: Vec<(String, Vec<Acl>)> = entries
            .iter()
            .filter_map(|e| {
                let acl = acl_from_text(e.deferred_acl.as_ref()?);
                Some((self.map.to_destination(&e.path)?, acl))
            })
            .collect();
        for (path, acl) in deferred {
            if let Err(e) = self.dst.client.set_acl(&path, acl, -1).await {
                if !e.is(ErrorCode::NO_NODE) {
                    self.block(&path, &e);
                }
            }
        }
        for e in &entries {
            self.listings.remove(&e.path);
        }
        Ok(())
    }

    async fn rate_limit(&self, nodes: u64, bytes: u64, took: Duration) {
        let c = &self.copy;
        let mut want = Duration::ZERO;
        if c.rate_nodes_per_s > 0 {
            want = want.max(Duration::from_secs_f64(
                nodes as f64 / c.rate_nodes_per_s as f64,
            ));
        }
        if c.rate_bytes_per_s > 0 {
            want = want.max(Duration::from_secs_f64(
                bytes as f64 / c.rate_bytes_per_s as f64,
            ));
        }
        if want > took {
            tokio::time::sleep(want - took).await;
        }
    }
}
