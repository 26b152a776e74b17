//! SQLite: WAL checkpoints, off the writer thread, with a WAL that stays small.
//!
//! A checkpoint copies the WAL's pages into the database file and syncs both. Run inside a
//! commit (SQLite's default, every 1,000 pages) it stalls every writer queued behind it, so
//! the writer turns automatic checkpoints off and this thread runs a passive checkpoint beside
//! it instead, at most every [`CHECKPOINT_INTERVAL`].
//!
//! A passive checkpoint beside a busy writer never lets the WAL start over: SQLite rewinds
//! the WAL only at the start of a write once a checkpoint has copied every frame in it, and
//! the writer appends new frames while the checkpoint runs. The file then grows without end
//! (1.5 GB in 14 s of the benchmark), every commit extends it (the kernel zeroes each new
//! block: 12 % of the writer's time), and so does the wal-index readers search. So once the
//! WAL holds [`REWIND_AT_FRAMES`] frames, the checkpointer asks the writer to finish the job:
//! between two batches, the writer runs a passive checkpoint of its own, which has only the
//! frames of the last batch or two left to copy and, with no write in flight, copies them all.
//! Its next commit then writes from the start of the file again (unless a reader still reads
//! the WAL: then the next round tries again), and `journal_size_limit` cuts the file back.
//! A RESTART checkpoint on the checkpointer's connection instead would wait for the write lock
//! against a writer that hardly ever lets go of it, then copy seconds of frames holding it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Integer;

use super::connection::{AnyConnection, AnyPool};
use super::{StoreError, StoreResult};

/// How often the checkpointer runs while commits keep coming.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(100);
/// WAL frames (a page each, 4 KiB by default) past which the WAL is made to start over.
const REWIND_AT_FRAMES: i32 = 16_384;
/// The size a rewound WAL file is cut back to, in bytes.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;

/// The writer's side of the checkpointer.
pub struct Checkpoints {
    commits: mpsc::SyncSender<()>,
    rewind_due: Arc<AtomicBool>,
    rewind_at_frames: i32,
    /// A rewind was asked for and the WAL has not started over yet.
    rewinding: bool,
}

impl Checkpoints {
    /// Tells the checkpointer a commit grew the WAL.
    pub fn committed(&self) {
        // Full means a checkpoint is already due.
        let _ = self.commits.try_send(());
    }

    /// On the writer's connection, between batches: once the WAL has grown past
    /// [`REWIND_AT_FRAMES`], copies what is left of it, so that the next commit starts the WAL
    /// over, and again after each commit until one has (a commit cannot while a reader still
    /// reads a snapshot older than the copy; the next one can).
    pub fn rewind_if_due(&mut self, writer: &mut AnyConnection) {
        if !self.rewinding && !self.rewind_due.swap(false, Ordering::Relaxed) {
            return;
        }
        match checkpoint(writer) {
            Ok(done) => {
                self.rewinding = done.log >= self.rewind_at_frames;
                tracing::debug!(?done, "wal copied for a rewind");
            }
            Err(error) => {
                self.rewinding = false;
                tracing::warn!(%error, "wal checkpoint failed; trying again later");
            }
        }
    }
}

/// Turns automatic checkpoints off on the writer's connection and starts the checkpointer on
/// a connection of its own. Stops when the writer does.
pub fn start(pool: &AnyPool, writer: &mut AnyConnection) -> StoreResult<Checkpoints> {
    start_with(pool, writer, REWIND_AT_FRAMES, WAL_SIZE_LIMIT)
}

fn start_with(
    pool: &AnyPool,
    writer: &mut AnyConnection,
    rewind_at_frames: i32,
    wal_size_limit: i64,
) -> StoreResult<Checkpoints> {
    writer.batch_execute(&format!(
        "PRAGMA wal_autocheckpoint = 0; PRAGMA journal_size_limit = {wal_size_limit};"
    ))?;
    let mut conn = pool.get()?;
    let (commits, committed) = mpsc::sync_channel::<()>(1);
    let rewind_due = Arc::new(AtomicBool::new(false));
    let due = rewind_due.clone();
    std::thread::Builder::new()
        .name("baton-checkpoint".into())
        .spawn(move || {
            while committed.recv().is_ok() {
                match checkpoint(&mut conn) {
                    Ok(done) if done.log >= rewind_at_frames => due.store(true, Ordering::Relaxed),
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, "wal checkpoint failed; trying again later")
                    }
                }
                std::thread::sleep(CHECKPOINT_INTERVAL);
            }
        })
        .map_err(|e| StoreError::Connection(format!("cannot start the checkpointer: {e}")))?;
    Ok(Checkpoints {
        commits,
        rewind_due,
        rewind_at_frames,
        rewinding: false,
    })
}

/// What `PRAGMA wal_checkpoint` reports.
#[derive(QueryableByName, Debug)]
#[allow(dead_code)] // `busy` and `checkpointed` are read by the debug log only.
struct CheckpointResult {
    /// 1 when the checkpoint could not finish (a lock it needed was held).
    #[diesel(sql_type = Integer)]
    busy: i32,
    /// Frames in the WAL.
    #[diesel(sql_type = Integer)]
    log: i32,
    /// Frames copied into the database so far.
    #[diesel(sql_type = Integer)]
    checkpointed: i32,
}

/// A passive checkpoint: copies what it can without waiting on any lock.
fn checkpoint(conn: &mut AnyConnection) -> StoreResult<CheckpointResult> {
    let AnyConnection::Sqlite(conn) = conn else {
        return Err(StoreError::Connection(
            "WAL checkpoints are SQLite's".into(),
        ));
    };
    Ok(diesel::sql_query("PRAGMA wal_checkpoint(PASSIVE)").get_result(conn)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::connection::open_pool;
    use crate::store::DatabaseUrl;

    /// The writer's side as it runs in the writer: many small commits back to back, each told
    /// to the checkpointer, with a rewind between them when one is due, and a reader beside.
    /// Without the rewinds the passive checkpoints never catch up with the commits and the WAL
    /// grows by every page written (84 MB here). With them it overshoots the limit by what is
    /// written between two rounds of the checkpointer (a few MiB, more on a loaded machine).
    #[test]
    fn the_wal_starts_over_while_commits_keep_coming() {
        const LIMIT: i64 = 1024 * 1024;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal.db").display().to_string();
        let pool = open_pool(&DatabaseUrl::Sqlite(path.clone()), 4).unwrap();
        let mut writer = pool.get().unwrap();
        writer
            .batch_execute("CREATE TABLE scratch (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
            .unwrap();
        let mut checkpoints = start_with(&pool, &mut writer, 256, LIMIT).unwrap();
        let wal = std::path::PathBuf::from(format!("{path}-wal"));
        let wal_size = move || std::fs::metadata(&wal).map_or(0, |m| m.len());
        let stop = Arc::new(AtomicBool::new(false));
        let reader = {
            let (pool, stop) = (pool.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut conn = pool.get().unwrap();
                let mut reads = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    conn.batch_execute("SELECT count(*) FROM scratch").unwrap();
                    reads += 1;
                }
                reads
            })
        };
        let mut largest = 0;
        let body = "x".repeat(2000);
        // About 80 MiB of pages through the WAL.
        for i in 0..20_000 {
            writer
                .batch_execute(&format!(
                    "INSERT OR REPLACE INTO scratch (id, body) VALUES ({}, '{body}')",
                    i % 500
                ))
                .unwrap();
            checkpoints.committed();
            checkpoints.rewind_if_due(&mut writer);
            largest = largest.max(wal_size());
        }
        stop.store(true, Ordering::Relaxed);
        assert!(reader.join().unwrap() > 0, "the reader ran");
        assert!(
            largest < 32 * LIMIT as u64,
            "the WAL grew to {largest} bytes against a limit of {LIMIT}"
        );
        let rows: i64 = diesel::sql_query("SELECT count(*) AS n FROM scratch")
            .get_result::<Count>(&mut writer)
            .unwrap()
            .n;
        assert_eq!(rows, 500);
    }

    #[derive(QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
}
