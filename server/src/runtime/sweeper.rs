//! The sweeper: once a second, applies the timeouts that have fallen due. Its work comes from
//! the database (`next_check_at` on workflows, expired leases on queue entries), so any server
//! can do it, and one that dies leaves nothing behind: the next sweep, here or on another
//! server, finds the same due workflows. Each workflow is swept under its lock, so two servers
//! sweeping at once serialize and the second finds nothing left to do.
//!
//! It also terminates sub-workflows still running under a parent that ended: normally the
//! parent's server does that right after the parent's commit, but it may have died in between.

use std::time::Duration;

use super::{now_ms, Runtime};

/// How often the sweeper looks for due work.
pub const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// How many due workflows one sweep takes on.
const SWEEP_BATCH: usize = 256;

/// Sweeps every [`SWEEP_INTERVAL`] until the future is dropped.
pub async fn run(runtime: Runtime) {
    let mut ticks = tokio::time::interval(SWEEP_INTERVAL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(error) = runtime.sweep(now_ms()).await {
            tracing::warn!(%error, "sweep failed; trying again next tick");
        }
    }
}

impl Runtime {
    /// Applies the timeouts due at `now` to every due workflow, and ends orphaned
    /// sub-workflows. Returns how many workflows it looked at. Tests call it with a `now` in
    /// the future instead of waiting.
    pub async fn sweep(&self, now: i64) -> Result<usize, crate::error::ApiError> {
        let due = self
            .blocking(move |store| store.due_workflows(now, SWEEP_BATCH))
            .await?;
        let count = due.len();
        for workflow_id in due {
            let swept = self
                .change_workflow(workflow_id.clone(), move |workflow, _| {
                    baton_engine::sweep(workflow, now, &mut super::UuidIds)
                })
                .await;
            if let Err(error) = swept {
                tracing::warn!(%workflow_id, %error, "cannot sweep a workflow");
            }
        }
        let orphans = self
            .blocking(|store| store.orphaned_workflows(SWEEP_BATCH))
            .await?;
        let count = count + orphans.len();
        self.end_orphans(
            orphans
                .into_iter()
                .map(|(workflow_id, parent_status)| super::Orphan {
                    workflow_id,
                    parent_status,
                })
                .collect(),
        )
        .await;
        Ok(count)
    }
}
