//! Cutover and rollback.
//!
//! Cutover fences the writers off the source, drains the last changes, verifies, and names
//! the destination as the new home. The ACL fence gives every migrated source node an ACL
//! that keeps READ for its readers and everything for the migrator; ZooKeeper ACLs are not
//! inherited, so a fence on the roots alone would not stop writes below them. The original
//! ACLs are written to the checkpoint before the first one changes, and rollback puts them
//! back. On request a reverse catch-up then carries changes made on the destination back to
//! the fenced source, so that rolling back loses nothing.

use futures::future::join_all;
use serde::Serialize;
use zk_proto::ErrorCode;

use super::acl::fence_acl;
use super::checkpoint::{acl_from_text, acl_text, Fence, Phase};
use super::engine::{delete_tree, walk, Direction, Engine, PARALLEL};
use super::paths::depth;
use super::plan::{FenceMode, Plan};
use super::progress::Progress;
use super::verify::VerifyReport;
use super::{MigrateError, Outcome};

/// Rounds of verify-and-repair before cutover gives up.
const VERIFY_ROUNDS_MAX: usize = 3;
/// Walks over the source while putting up the fence, before cutover gives up.
const FENCE_ROUNDS_MAX: usize = 10;

/// What cutover did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CutoverReport {
    /// The connect string clients should use now.
    pub connect: String,
    pub fenced_nodes: u64,
    pub verify: VerifyReport,
    /// True when a reverse catch-up ran until it was stopped.
    pub reverse: bool,
}

/// What rollback did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RollbackReport {
    pub acls_restored: u64,
    pub nodes_removed: u64,
    pub kept: bool,
}

/// The connect string for the destination's copy: its hosts, its chroot, and the prefix.
pub fn new_connect_string(plan: &Plan) -> String {
    if plan.prefix == "/" {
        plan.destination.connect.clone()
    } else {
        format!("{}{}", plan.destination.connect, plan.prefix)
    }
}

impl Engine {
    /// Puts the fence ACL on every migrated source node. Each node's ACL is read with its
    /// aversion, recorded in the checkpoint (on disk before anything changes), then replaced
    /// only if it is still that version: a writer changing an ACL meanwhile makes the swap
    /// fail and the node is read again. Walks repeat until no unfenced node is left, which
    /// catches nodes created before their parent was fenced (parents sort before children,
    /// so they are fenced first).
    pub async fn fence_source(&mut self) -> Result<u64, MigrateError> {
        let entry = self.src.identity.fence_entry();
        match &entry {
            None => self.warn(
                "the migrator has no identity an ACL can name on the source; the fence keeps READ only \
                 and only a super user can lift it"
                    .into(),
            ),
            Some(a) if a.id.scheme == "ip" => self.warn(format!(
                "the fence lets {} write (the migrator's address); writers on that host are not fenced",
                a.id.id
            )),
            Some(_) => {}
        }
        if self.ck.fence.is_none() {
            self.ck.fence = Some(Fence::default());
        }
        self.emit(Progress::Step {
            text: "fencing writers off the source".into(),
        });
        for _ in 0..FENCE_ROUNDS_MAX {
            let todo = self.unfenced().await?;
            if todo.is_empty() {
                // Apache checks a request against the ACL of the last *applied* state of a
                // node (PrepRequestProcessor keeps the old ACL in its pending change
                // record), so a writer's setACL queued right behind the fence's can still
                // pass. Read every fenced ACL back and fence again what a writer changed.
                if self.unfence_overwritten(entry.as_ref()).await? == 0 {
                    return Ok(self.ck.fence.as_ref().map_or(0, |f| f.applied.len() as u64));
                }
                continue;
            }
            for chunk in todo.chunks(PARALLEL) {
                self.fence_chunk(chunk, entry.as_ref()).await?;
            }
        }
        Err(MigrateError::Failed(format!(
            "the source kept changing while the fence went up ({FENCE_ROUNDS_MAX} rounds); run cutover again"
        )))
    }

    /// Reads the ACL of every fenced node and takes those that are no longer the fence ACL
    /// out of `applied` (the next round records their new ACL and fences them again).
    /// Returns how many were found.
    async fn unfence_overwritten(
        &mut self,
        entry: Option<&zk_proto::Acl>,
    ) -> Result<usize, MigrateError> {
        let root = self.map.source_roots().remove(0);
        // Everything the fence wrote is applied once a sync on this session returns.
        self.src
            .client
            .sync(&root)
            .await
            .map_err(|e| MigrateError::zk(&self.src.side.label, e))?;
        let fence = self.ck.fence.clone().expect("fence");
        let paths: Vec<&String> = fence.applied.iter().collect();
        let mut changed = Vec::new();
        for chunk in paths.chunks(PARALLEL) {
            let client = &self.src.client;
            let acls = join_all(chunk.iter().map(|p| client.get_acl(p))).await;
            for (p, a) in chunk.iter().zip(acls) {
                match a {
                    Ok((acl, _)) => {
                        let orig = acl_from_text(&fence.originals[*p]);
                        let want = super::acl::canonical(&fence_acl(&orig, entry));
                        if super::acl::canonical(&acl) != want {
                            changed.push((*p).clone());
                        }
                    }
                    Err(e) if e.is(ErrorCode::NO_NODE) => {}
                    Err(e) => return Err(MigrateError::zk(&self.src.side.label, e)),
                }
            }
        }
        let f = self.ck.fence.as_mut().expect("fence");
        for p in &changed {
            f.applied.remove(p);
        }
        if !changed.is_empty() {
            self.warn(format!(
                "{} source ACLs were changed by writers while the fence went up; fencing them again",
                changed.len()
            ));
        }
        self.save()?;
        Ok(changed.len())
    }

    /// Migrated source nodes without the fence yet, parents first.
    async fn unfenced(&self) -> Result<Vec<String>, MigrateError> {
        let applied = &self.ck.fence.as_ref().expect("fence").applied;
        let mut out = Vec::new();
        for root in self.map.source_roots() {
            // Creates queued behind the parent's fence are applied before a sync returns.
            self.src
                .client
                .sync(&root)
                .await
                .map_err(|e| MigrateError::zk(&self.src.side.label, e))?;
            let map = self.map.clone();
            let w = walk(&self.src.client, &root, &|p| map.covers(p))
                .await
                .map_err(|e| MigrateError::zk(&self.src.side.label, e))?;
            // A node the walk could not list hides its children from the fence.
            if let Some((p, why)) = w.unreadable.first() {
                return Err(MigrateError::Unreadable {
                    path: p.clone(),
                    why: why.clone(),
                });
            }
            out.extend(
                w.nodes
                    .iter()
                    .filter(|(p, (s, _))| !self.skips(s) && !applied.contains(*p))
                    .map(|(p, _)| p.clone()),
            );
        }
        Ok(out)
    }

    async fn fence_chunk(
        &mut self,
        chunk: &[String],
        entry: Option<&zk_proto::Acl>,
    ) -> Result<(), MigrateError> {
        let client = self.src.client.clone();
        let acls = join_all(chunk.iter().map(|p| client.get_acl(p))).await;
        let mut swaps = Vec::new();
        for (p, a) in chunk.iter().zip(acls) {
            match a {
                Ok((acl, stat)) => {
                    let fence = self.ck.fence.as_mut().expect("fence");
                    fence.originals.insert(p.clone(), acl_text(&acl));
                    swaps.push((p.clone(), fence_acl(&acl, entry), stat.aversion));
                }
                Err(e) if e.is(ErrorCode::NO_NODE) => {}
                Err(e) => return Err(MigrateError::zk(&self.src.side.label, e)),
            }
        }
        // The originals are on disk before the first ACL changes.
        self.save()?;
        let results = join_all(
            swaps
                .iter()
                .map(|(p, acl, v)| client.set_acl(p, acl.clone(), *v)),
        )
        .await;
        for ((p, _, _), r) in swaps.iter().zip(results) {
            match r {
                Ok(stat) => {
                    if let Some(mut m) = self.marks.get(p).copied() {
                        // The fence's own ACL change is not a change to carry.
                        m.aversion = stat.aversion;
                        self.set_mark(p, m);
                    }
                    self.ck
                        .fence
                        .as_mut()
                        .expect("fence")
                        .applied
                        .insert(p.clone());
                }
                // Changed since read, or gone: the next round reads it again.
                Err(e) if e.is(ErrorCode::NO_NODE) || e.is(ErrorCode::BAD_VERSION) => {}
                Err(e) if e.is(ErrorCode::NO_AUTH) => {
                    self.save()?;
                    return Err(MigrateError::Failed(format!(
                        "cannot fence {p}: the migrator lacks ADMIN on it (authenticate as super on \
                         the source, or set [cutover] fence = \"confirm\"); `zksh migrate rollback` \
                         lifts the part of the fence already in place"
                    )));
                }
                Err(e) => return Err(MigrateError::zk(&self.src.side.label, e)),
            }
        }
        self.save()
    }

    /// Drains, verifies, repairs what differs and verifies again, a few times at most.
    pub async fn drain_and_verify(&mut self) -> Result<Option<VerifyReport>, MigrateError> {
        let mut last = None;
        for _ in 0..VERIFY_ROUNDS_MAX {
            if self.catch_up_phase(true).await? == Outcome::Stopped {
                return Ok(None);
            }
            let report = self.verify().await?;
            if report.equal {
                return Ok(Some(report));
            }
            self.note(format!(
                "{} differences after draining; repairing them",
                report.differences.len()
            ));
            for d in &report.differences {
                self.queue(d.source.clone());
                self.ck
                    .counters_pending
                    .insert(super::paths::parent(&d.source).to_string());
                if matches!(d.kind, super::digest::DiffKind::Counter { .. }) {
                    self.ck.counters_pending.insert(d.source.clone());
                }
            }
            last = Some(report);
        }
        Ok(last)
    }

    /// Cutover from a caught-up migration.
    pub async fn cutover(
        &mut self,
        plan: &Plan,
        confirm: &mut (dyn FnMut(&str) -> bool + Send),
    ) -> Result<Option<CutoverReport>, MigrateError> {
        match self.ck.phase {
            Phase::CatchingUp | Phase::Fenced | Phase::CutOver => {}
            Phase::Planned | Phase::Copying => {
                return Err(MigrateError::WrongPhase(
                    "the copy is not finished; run `zksh migrate run` first".into(),
                ))
            }
            Phase::RolledBack => {
                return Err(MigrateError::WrongPhase(
                    "the migration was rolled back".into(),
                ))
            }
        }
        let mut fenced = 0;
        if self.ck.phase == Phase::CatchingUp {
            match plan.fence {
                FenceMode::Confirm => {
                    let q = format!(
                        "Stop every client that writes to {} under {}. Are all writers stopped?",
                        plan.source.label,
                        plan.paths.join(", ")
                    );
                    if !confirm(&q) {
                        return Err(MigrateError::Refused(
                            "cutover cancelled; nothing was changed".into(),
                        ));
                    }
                }
                FenceMode::Acl => {
                    let q = format!(
                        "Fence writers off {} (a read-only ACL on every migrated node) and cut over to {}?",
                        plan.source.label, plan.destination.label
                    );
                    if !confirm(&q) {
                        return Err(MigrateError::Refused(
                            "cutover cancelled; nothing was changed".into(),
                        ));
                    }
                }
            }
            self.ck.phase = Phase::Fenced;
            self.save()?;
        }
        self.emit(Progress::Phase {
            phase: Phase::Fenced,
        });
        if plan.fence == FenceMode::Acl {
            fenced = self.fence_source().await?;
        }
        let Some(report) = self.drain_and_verify().await? else {
            return Ok(None);
        };
        if !report.equal {
            self.save()?;
            return Err(MigrateError::Failed(format!(
                "{} differences remain after draining:\n{}the source stays fenced; run cutover again, or roll back",
                report.differences.len(),
                report.to_text()
            )));
        }
        let connect = new_connect_string(plan);
        self.ck.new_connect = Some(connect.clone());
        self.ck.phase = Phase::CutOver;
        self.note(format!("cut over: clients should now use {connect}"));
        self.emit(Progress::Phase {
            phase: Phase::CutOver,
        });
        self.save()?;
        Ok(Some(CutoverReport {
            connect,
            fenced_nodes: fenced,
            verify: report,
            reverse: false,
        }))
    }

    /// Turns this forward engine into the reverse one: destination back to the fenced
    /// source. The caller connects the watching session on the destination.
    pub fn into_reverse(
        mut self,
        new_src: super::engine::Endpoint,
        collector: super::engine::Collector,
    ) -> Result<Engine, MigrateError> {
        let entry = self.src.identity.fence_entry().ok_or_else(|| {
            MigrateError::Failed(
                "a reverse catch-up writes to the fenced source, so the migrator needs credentials \
                 there ([source] auth)"
                    .into(),
            )
        })?;
        if self.ck.fence.is_none() {
            self.ck.fence = Some(Fence::default());
        }
        let old_src = self.src.clone();
        Ok(Engine {
            direction: Direction::Reverse,
            map: self.map.reversed(),
            src: new_src,
            dst: old_src,
            acl_policy: super::plan::AclPolicy::Preserve,
            // Replaced or remapped ACLs cannot be turned back into the originals; then the
            // reverse catch-up carries data and children and leaves the ACLs alone.
            acl_carry: matches!(self.acl_policy, super::plan::AclPolicy::Preserve),
            ephemerals: super::plan::EphemeralPolicy::Skip,
            conflicts: super::plan::ConflictPolicy::Overwrite,
            copy: self.copy,
            reconcile_interval: self.reconcile_interval,
            preexisting: Default::default(),
            ephemeral_paths: Default::default(),
            dst_ephemerals: Default::default(),
            ck: std::mem::replace(
                &mut self.ck,
                super::checkpoint::Checkpoint::new(String::new(), 0),
            ),
            ck_path: self.ck_path.clone(),
            sink: self.sink.clone(),
            control: self.control.clone(),
            collector: Some(collector),
            pending: Default::default(),
            events_dropped_seen: 0,
            marks: Default::default(),
            marks_dirty: false,
            last_marks_save: std::time::Instant::now(),
            listings: Default::default(),
            dst_fence_entry: Some(entry),
            read_only: false,
            started: std::time::Instant::now(),
            last_save: std::time::Instant::now(),
        })
    }

    /// Lifts the fence and, with `remove`, deletes what the migration created on the
    /// destination.
    pub async fn rollback(&mut self, remove: bool) -> Result<RollbackReport, MigrateError> {
        let mut report = RollbackReport {
            kept: !remove,
            ..Default::default()
        };
        if let Some(fence) = self.ck.fence.clone() {
            self.emit(Progress::Step {
                text: "lifting the fence".into(),
            });
            let paths: Vec<&String> = fence.applied.iter().collect();
            for chunk in paths.chunks(PARALLEL) {
                let client = &self.src.client;
                let results = join_all(chunk.iter().map(|p| {
                    let acl = acl_from_text(&fence.originals[*p]);
                    async move { client.set_acl(p, acl, -1).await }
                }))
                .await;
                for (p, r) in chunk.iter().zip(results) {
                    match r {
                        Ok(_) => report.acls_restored += 1,
                        Err(e) if e.is(ErrorCode::NO_NODE) => {}
                        Err(e) => return Err(MigrateError::zk(&self.src.side.label, e)),
                    }
                    self.ck.fence.as_mut().expect("fence").applied.remove(*p);
                }
                self.save()?;
            }
            self.ck.fence = None;
            self.save()?;
        }
        if remove {
            self.emit(Progress::Step {
                text: "removing what the migration created on the destination".into(),
            });
            for root in self.map.destination_roots() {
                let keep = self.preexisting.clone();
                report.nodes_removed += delete_tree(&self.dst.client, &root, &keep)
                    .await
                    .map_err(|e| MigrateError::zk(&self.dst.side.label, e))?;
            }
            let mut ancestors = self.ck.created_ancestors.clone();
            ancestors.sort_by_key(|p| std::cmp::Reverse(depth(p)));
            for a in ancestors {
                match self.dst.client.delete(&a, -1).await {
                    Ok(()) => report.nodes_removed += 1,
                    Err(e) if e.is(ErrorCode::NO_NODE) || e.is(ErrorCode::NOT_EMPTY) => {}
                    Err(e) => return Err(MigrateError::zk(&self.dst.side.label, e)),
                }
            }
            self.ck.created_ancestors.clear();
        }
        self.ck.phase = Phase::RolledBack;
        self.ck.new_connect = None;
        self.note(format!(
            "rolled back: {} ACLs restored on the source, {} nodes removed from the destination",
            report.acls_restored, report.nodes_removed
        ));
        self.save()?;
        Ok(report)
    }
}
