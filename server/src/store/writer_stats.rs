//! Where the writer's time goes, logged every [`REPORT_EVERY`] at `debug` level
//! (`BATON_LOG=baton_server::store=debug`): batches, jobs per batch, and the time spent
//! locking, deciding, writing, claiming and committing. Reading the clock a few times per
//! batch costs nothing next to a batch's work.

use std::time::{Duration, Instant};

const REPORT_EVERY: Duration = Duration::from_secs(10);

/// A batch's phases, in the order they run.
#[derive(Debug, Clone, Copy)]
pub enum Phase {
    Lock,
    Decide,
    Write,
    Claim,
    Commit,
}

const PHASES: usize = 5;

/// One batch's timings, taken lap by lap.
#[derive(Debug)]
pub struct Phases {
    last: Instant,
    spent: [Duration; PHASES],
}

impl Phases {
    pub fn start() -> Phases {
        Phases {
            last: Instant::now(),
            spent: [Duration::ZERO; PHASES],
        }
    }

    /// Charges the time since the previous lap to `phase`.
    pub fn lap(&mut self, phase: Phase) {
        let now = Instant::now();
        self.spent[phase as usize] += now - self.last;
        self.last = now;
    }
}

#[derive(Debug)]
pub struct WriterStats {
    since: Instant,
    batches: u64,
    jobs: u64,
    spent: [Duration; PHASES],
}

impl Default for WriterStats {
    fn default() -> Self {
        WriterStats {
            since: Instant::now(),
            batches: 0,
            jobs: 0,
            spent: [Duration::ZERO; PHASES],
        }
    }
}

impl WriterStats {
    pub fn batch(&mut self, jobs: usize) {
        self.batches += 1;
        self.jobs += jobs as u64;
    }

    /// Adds a committed batch's timings, and reports when it is time.
    pub fn add(&mut self, phases: &Phases) {
        for (total, spent) in self.spent.iter_mut().zip(phases.spent) {
            *total += spent;
        }
        if self.since.elapsed() >= REPORT_EVERY {
            let ms = |phase: Phase| self.spent[phase as usize].as_millis() as u64;
            tracing::debug!(
                batches = self.batches,
                jobs = self.jobs,
                jobs_per_batch = self.jobs as f64 / self.batches.max(1) as f64,
                lock_ms = ms(Phase::Lock),
                decide_ms = ms(Phase::Decide),
                write_ms = ms(Phase::Write),
                claim_ms = ms(Phase::Claim),
                commit_ms = ms(Phase::Commit),
                "writer activity"
            );
            *self = WriterStats::default();
        }
    }
}
