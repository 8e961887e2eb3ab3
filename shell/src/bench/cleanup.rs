//! Deleting what a run created: the whole subtree under its root, deepest first, with many
//! deletes in flight.
//!
//! A bench subtree is wide and shallow (up to millions of leaves under a few parents), so
//! instead of listing every node first (one getChildren per leaf) this tries to delete each
//! child of a listed node and descends only into those that answer NOTEMPTY: a leaf costs one
//! request.

use std::time::Instant;

use futures::stream::{self, StreamExt};
use zk_proto::ErrorCode;

use super::options::SETUP_INFLIGHT;
use super::progress::Progress;
use super::report::CleanupReport;
use super::worker::is_gone;
use crate::client::{Client, Error};
use crate::commands::walk::child_path;

/// Times a node may be found non-empty again after its children were deleted (someone else
/// keeps creating under it) before cleanup gives up.
const RELIST_MAX: usize = 100;

/// Deletes `root` and everything below it; never fails, but says in the report what was left.
pub(super) async fn delete_tree(client: &Client, root: &str, progress: &Progress) -> CleanupReport {
    let t0 = Instant::now();
    let mut deleted = 0;
    let result = delete_tree_counting(client, root, progress, &mut deleted).await;
    CleanupReport {
        deleted,
        seconds: t0.elapsed().as_secs_f64(),
        error: result.err().map(|e| e.to_string()),
    }
}

async fn delete_tree_counting(
    client: &Client,
    root: &str,
    progress: &Progress,
    deleted: &mut u64,
) -> Result<(), Error> {
    // Nodes whose children must go before they can; the top is worked on next.
    let mut stack = vec![(root.to_string(), 0usize)];
    while let Some((top, lists)) = stack.pop() {
        let children = match client.get_children(&top, false).await {
            Ok(c) => c.children,
            Err(e) if is_gone(&e) => continue,
            Err(e) => return Err(e),
        };
        if children.is_empty() {
            match client.delete(&top, -1).await {
                Ok(()) => {
                    *deleted += 1;
                    progress.add_done(1);
                }
                Err(e) if is_gone(&e) => {}
                // A child appeared since the listing: list again.
                Err(e) if e.is(ErrorCode::NOT_EMPTY) && lists < RELIST_MAX => {
                    stack.push((top, lists + 1))
                }
                Err(e) => return Err(e),
            }
            continue;
        }
        if lists >= RELIST_MAX {
            return Err(Error::Keeper {
                code: ErrorCode::NOT_EMPTY,
                op: zk_proto::OpCode::DELETE,
                path: Some(top),
            });
        }
        // Come back to `top` once its children are gone.
        stack.push((top.clone(), lists + 1));
        let paths = children.iter().map(|c| child_path(&top, c));
        let mut results = stream::iter(paths)
            .map(|p| async move {
                let r = client.delete(&p, -1).await;
                (p, r)
            })
            .buffer_unordered(SETUP_INFLIGHT);
        while let Some((p, r)) = results.next().await {
            match r {
                Ok(()) => {
                    *deleted += 1;
                    progress.add_done(1);
                }
                Err(e) if is_gone(&e) => {}
                Err(e) if e.is(ErrorCode::NOT_EMPTY) => stack.push((p, 0)),
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}
