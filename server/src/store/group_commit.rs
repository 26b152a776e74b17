//! Group commit for SQLite: concurrent write transactions share one database commit.
//!
//! SQLite has one writer at a time, and most of a small transaction's cost is its commit
//! (writing the changed pages to the WAL). Here each writer takes the single write
//! connection in turn and runs its work in a savepoint of a transaction that stays open while
//! other writers are queued behind it. The last writer of a run (or the one that fills the
//! batch) commits for everyone, and each writer returns only once the commit that holds its
//! work has succeeded. A writer whose work fails rolls back to its savepoint without
//! disturbing the others; a failed COMMIT fails every writer of the batch.
//!
//! At low load a run is one writer long, so this is a plain transaction per write.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, MutexGuard};

use diesel::connection::TransactionManager;
use diesel::r2d2::{ConnectionManager, PooledConnection};
use diesel::Connection;

use super::connection::{AnyConnection, AnyPool};
use super::{StoreError, StoreResult};

/// Most writes committed together, so a long run cannot hold its first writer for long.
const MAX_BATCH: usize = 64;

struct Writer {
    conn: PooledConnection<ConnectionManager<AnyConnection>>,
    /// Whether a batch transaction is open.
    open: bool,
    /// Writes in the open batch.
    pending: usize,
    /// The open (or next) batch's number.
    batch: u64,
}

struct Outcomes {
    /// Every batch up to this one has finished.
    finished: u64,
    /// Failed batches and why, until their writers have read it.
    failures: HashMap<u64, String>,
}

pub struct GroupCommit {
    writer: Mutex<Writer>,
    /// Writers waiting for the connection.
    queued: AtomicUsize,
    outcomes: Mutex<Outcomes>,
    finished: Condvar,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A poisoned lock means a writer panicked mid-work; the database state is guarded by
    // transactions, so carry on.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl GroupCommit {
    /// Takes one connection from `pool` for good: the only one that writes.
    pub fn new(pool: &AnyPool) -> StoreResult<GroupCommit> {
        Ok(GroupCommit {
            writer: Mutex::new(Writer {
                conn: pool.get()?,
                open: false,
                pending: 0,
                batch: 1,
            }),
            queued: AtomicUsize::new(0),
            outcomes: Mutex::new(Outcomes {
                finished: 0,
                failures: HashMap::new(),
            }),
            finished: Condvar::new(),
        })
    }

    /// Runs `work` in the current batch and returns its result once the batch has committed.
    pub fn write<T>(
        &self,
        work: impl FnOnce(&mut AnyConnection) -> StoreResult<T>,
    ) -> StoreResult<T> {
        self.queued.fetch_add(1, Ordering::SeqCst);
        let mut writer = lock(&self.writer);
        self.queued.fetch_sub(1, Ordering::SeqCst);

        if !writer.open {
            <AnyConnection as Connection>::TransactionManager::begin_transaction(
                &mut *writer.conn,
            )?;
            writer.open = true;
        }
        // A nested transaction is a savepoint: a failure here rolls back only this work.
        let conn: &mut AnyConnection = &mut writer.conn;
        let result = match catch_unwind(AssertUnwindSafe(|| conn.transaction(work))) {
            Ok(result) => result,
            Err(_) => {
                // The savepoint is still open: roll it back so the batch stays consistent.
                let _ = <AnyConnection as Connection>::TransactionManager::rollback_transaction(
                    &mut *writer.conn,
                );
                Err(StoreError::Connection(
                    "a write panicked and was rolled back".into(),
                ))
            }
        };
        writer.pending += 1;
        let my_batch = writer.batch;

        let others_waiting = self.queued.load(Ordering::SeqCst) > 0;
        if others_waiting && writer.pending < MAX_BATCH {
            // Someone queued behind us will commit this batch.
            drop(writer);
            return self.wait_for(my_batch).and(result);
        }
        let committed = <AnyConnection as Connection>::TransactionManager::commit_transaction(
            &mut *writer.conn,
        );
        let committed = match committed {
            Ok(()) => Ok(()),
            Err(error) => {
                // Leave the connection usable for the next batch.
                let _ = <AnyConnection as Connection>::TransactionManager::rollback_transaction(
                    &mut *writer.conn,
                );
                Err(error.to_string())
            }
        };
        writer.open = false;
        writer.pending = 0;
        writer.batch += 1;
        drop(writer);
        {
            let mut outcomes = lock(&self.outcomes);
            // Batches can report out of order (the writer lock is released first): a late
            // report of an older batch must not move `finished` back, or the waiters of the
            // newer one would sleep forever.
            outcomes.finished = outcomes.finished.max(my_batch);
            if let Err(reason) = &committed {
                // Old failures have long been read by their writers.
                outcomes.failures.retain(|batch, _| batch + 1024 > my_batch);
                outcomes.failures.insert(my_batch, reason.clone());
            }
        }
        self.finished.notify_all();
        match committed {
            Ok(()) => result,
            Err(reason) => Err(StoreError::Connection(format!("commit failed: {reason}"))),
        }
    }

    /// Waits until `batch` has committed (or failed).
    fn wait_for(&self, batch: u64) -> StoreResult<()> {
        let mut outcomes = lock(&self.outcomes);
        while outcomes.finished < batch {
            outcomes = self
                .finished
                .wait(outcomes)
                .unwrap_or_else(|e| e.into_inner());
        }
        match outcomes.failures.get(&batch) {
            Some(reason) => Err(StoreError::Connection(format!("commit failed: {reason}"))),
            None => Ok(()),
        }
    }
}
