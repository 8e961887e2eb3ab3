//! zkfleet-tests: the shared harness for the end-to-end tests in `tests/tests/`.
//!
//! Owns: starting and stopping real servers for a test (Apache ZooKeeper 3.8 standalone or as an
//! ensemble, and our `zk-node`), free ports and temporary directories, a raw wire client built on
//! `zk-proto` for exchanges no ordinary client can express, and the differential framework
//! (transcripts, normalization, scenario runner) used by `t10_differential`; for the fault
//! tests, ensembles of either implementation with controllable peer links (`ensemble`, `proxy`),
//! a write load that records every acknowledged write (`workload`), whole-tree dumps
//! (`treedump`) and a reader of the on-disk transaction log (`txnlog`); `suite` reruns another
//! test binary of this package in another set-up (`ZKFLEET_ENSEMBLE=follower`).
//!
//! Never: leaves a process behind (every child is killed by PID when its guard drops), binds
//! anything but 127.0.0.1, or silently passes a test that could not run: without Java and
//! `zookeeper.jar` an Apache-backed test prints why and skips, and fails when `CI` is set.

pub mod apache;
pub mod diff;
pub mod digest;
pub mod ensemble;
pub mod net;
pub mod process;
pub mod proxy;
pub mod raw;
pub mod req;
pub mod suite;
pub mod target;
pub mod treedump;
pub mod txnlog;
pub mod workload;
pub mod zknode;

pub use apache::{ApacheEnsemble, ApacheServer};
pub use ensemble::{Ensemble, EnsembleOptions, Mode, Partition, Role};
pub use target::{Server, ServerOptions, Target};
pub use zknode::ZkNode;
