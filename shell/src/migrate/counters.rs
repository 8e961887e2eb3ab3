//! Carrying sequential counters. A parent's next sequential suffix is its stored cversion,
//! the number of child creations it has seen (reference §5.5). A copy creates only the
//! children that exist, so a parent whose children were ever deleted would hand out
//! suffixes the source already used. The destination counter is raised to the source's with
//! create+delete pairs of a throwaway child inside multis; this works on any server.
//!
//! The counter is carried only when the destination's children are exactly the source's
//! (ephemerals and excluded children aside) as read together with the source counter: every
//! destination creation then matches a distinct source creation up to that counter, so the
//! pump can never overshoot. Parents that do not match yet stay pending, and the child
//! paths that differ are queued for the catch-up.

use std::collections::BTreeSet;

use futures::StreamExt;
use zk_proto::ErrorCode;

use super::engine::{list_nodes, pump_counter, stored_counter, Engine, PARALLEL, PUMP_NAME};
use super::paths::join;
use super::MigrateError;

/// Pumps run at once (each is a few multis on one parent).
const PUMPS_IN_FLIGHT: usize = 32;

/// What to do about one parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CounterStep {
    /// Counters already equal.
    Equal,
    /// Raise the destination by this many creations.
    Pump(u64),
    /// The destination is ahead; nothing a client can do.
    Ahead { source: i64, destination: i64 },
    /// The child sets differ: these names need the catch-up first.
    Mismatch(Vec<String>),
}

/// Decides what a parent needs, from the expected and actual child names and the stored
/// counters. Pure.
pub fn counter_step(
    expected: &BTreeSet<String>,
    actual: &BTreeSet<String>,
    source: i64,
    destination: i64,
) -> CounterStep {
    if expected != actual {
        return CounterStep::Mismatch(expected.symmetric_difference(actual).cloned().collect());
    }
    match destination.cmp(&source) {
        std::cmp::Ordering::Equal => CounterStep::Equal,
        std::cmp::Ordering::Less => CounterStep::Pump((source - destination) as u64),
        std::cmp::Ordering::Greater => CounterStep::Ahead {
            source,
            destination,
        },
    }
}

impl Engine {
    /// Carries the counters of these source parents, or leaves them pending.
    pub async fn carry_counters(&mut self, parents: &[String]) -> Result<(), MigrateError> {
        for chunk in parents.chunks(PARALLEL) {
            let pairs: Vec<(String, String)> = chunk
                .iter()
                .filter_map(|p| Some((p.clone(), self.map.to_destination(p)?)))
                .collect();
            let srcs: Vec<String> = pairs.iter().map(|(s, _)| s.clone()).collect();
            let dsts: Vec<String> = pairs.iter().map(|(_, d)| d.clone()).collect();
            let (s, d) = futures::join!(
                list_nodes(&self.src.client, &srcs),
                list_nodes(&self.dst.client, &dsts)
            );
            let s = s.map_err(|e| MigrateError::zk(&self.src.side.label, e))?;
            let d = d.map_err(|e| MigrateError::zk(&self.dst.side.label, e))?;
            let mut pumps = Vec::new();
            for ((src, dst), (s, d)) in pairs.into_iter().zip(s.into_iter().zip(d)) {
                let Some((src_children, src_stat)) = s else {
                    self.ck.counters_pending.remove(&src);
                    continue;
                };
                let Some((dst_children, dst_stat)) = d else {
                    // The parent itself is not on the destination yet.
                    self.ck.counters_pending.insert(src.clone());
                    self.queue(src);
                    continue;
                };
                let expected: BTreeSet<String> = src_children
                    .iter()
                    .filter(|c| {
                        let p = join(&src, c);
                        self.map.covers(&p)
                            && !(self.ephemerals == super::plan::EphemeralPolicy::Skip
                                && self.ephemeral_paths.contains(&p))
                    })
                    .cloned()
                    .collect();
                let actual: BTreeSet<String> = dst_children
                    .iter()
                    .filter(|c| {
                        let p = join(&dst, c);
                        // Nodes that were there before and are not the source's do not count.
                        let foreign = (self.preexisting.contains(&p) && !src_children.contains(c))
                            || self.dst_ephemerals.contains(&p);
                        c.as_str() != PUMP_NAME && !foreign && self.map.to_source(&p).is_some()
                    })
                    .cloned()
                    .collect();
                let step = counter_step(
                    &expected,
                    &actual,
                    stored_counter(&src_stat),
                    stored_counter(&dst_stat),
                );
                if matches!(step, CounterStep::Equal | CounterStep::Pump(_)) {
                    // The children as of this pzxid are on the destination.
                    if let Some(mut m) = self.marks.get(&src).copied() {
                        m.pzxid = src_stat.pzxid;
                        self.set_mark(&src, m);
                    }
                }
                match step {
                    CounterStep::Equal => {
                        self.ck.counters_pending.remove(&src);
                    }
                    CounterStep::Mismatch(names) => {
                        self.ck.counters_pending.insert(src.clone());
                        for n in names {
                            self.queue(join(&src, &n));
                        }
                    }
                    CounterStep::Ahead {
                        source,
                        destination,
                    } => {
                        self.ck.counters_pending.remove(&src);
                        self.warn(format!(
                            "the sequential counter of {dst} is ahead of the source's ({destination} > {source}); \
                             new sequential children will get higher numbers on the destination"
                        ));
                    }
                    CounterStep::Pump(gap) if gap > self.copy.seq_pump_max => {
                        self.ck.counters_pending.remove(&src);
                        self.warn(format!(
                            "the sequential counter of {src} is {gap} creations ahead of its copy, \
                             more than copy.seq_pump_max; not carried"
                        ));
                    }
                    CounterStep::Pump(gap) => pumps.push((src, dst, gap)),
                }
            }
            let client = self.dst.client.clone();
            let results: Vec<(String, String, Result<(), crate::client::Error>)> =
                futures::stream::iter(pumps.into_iter().map(|(src, dst, gap)| {
                    let client = client.clone();
                    async move {
                        let r = pump_counter(&client, &dst, gap).await;
                        (src, dst, r)
                    }
                }))
                .buffer_unordered(PUMPS_IN_FLIGHT)
                .collect()
                .await;
            for (src, dst, r) in results {
                match r {
                    Ok(()) => {
                        self.ck.counters_pending.remove(&src);
                        self.ck.catch_up.counters_carried += 1;
                    }
                    Err(e) if e.is(ErrorCode::NO_NODE) => {
                        self.ck.counters_pending.insert(src);
                    }
                    Err(e) => {
                        self.ck.counters_pending.remove(&src);
                        self.block(&dst, &e);
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(names: &[&str]) -> BTreeSet<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn pumps_only_when_the_children_match() {
        let a = set(&["job-0000000003", "job-0000000004"]);
        assert_eq!(counter_step(&a, &a, 5, 2), CounterStep::Pump(3));
        assert_eq!(counter_step(&a, &a, 5, 5), CounterStep::Equal);
        assert_eq!(
            counter_step(&a, &a, 5, 7),
            CounterStep::Ahead {
                source: 5,
                destination: 7
            }
        );
        let b = set(&["job-0000000003"]);
        assert_eq!(
            counter_step(&a, &b, 5, 1),
            CounterStep::Mismatch(vec!["job-0000000004".into()])
        );
    }
}
