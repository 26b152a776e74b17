//! The server's side of the jq sandbox: a small pool of long-lived children, one request at a
//! time each, killed on time-out and replaced after a crash.

use super::{CappedWriter, MAX_NESTING, SANDBOX_ARG};
use serde::Deserialize;
use serde_json::Value;
use std::io;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::Semaphore;

/// Environment variables the child keeps; everything else (database URLs with passwords) is
/// cleared, because jq's `env` reads the environment.
const KEPT_ENV: [&str; 2] = ["LD_LIBRARY_PATH", "TZ"];

/// Limits on one evaluation and on the pool.
#[derive(Debug, Clone)]
pub struct JqLimits {
    /// Longest an evaluation may take; the child is killed after it. Default 2 s.
    pub timeout: Duration,
    /// Largest filter, in bytes. Default 64 KiB.
    pub max_filter_bytes: usize,
    /// Largest input, in bytes of compact JSON. Default 8 MiB.
    pub max_input_bytes: usize,
    /// Most child processes alive at once, and so most evaluations at once. Default 2.
    pub processes: usize,
}

impl Default for JqLimits {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(2),
            max_filter_bytes: 64 << 10,
            max_input_bytes: 8 << 20,
            processes: 2,
        }
    }
}

/// Why an evaluation gave no outputs. The messages are fit for a task's `reasonForIncompletion`.
#[derive(Debug, thiserror::Error)]
pub enum JqError {
    /// The filter or the input is over a limit; nothing was evaluated.
    #[error("{0}")]
    TooLarge(String),
    /// The filter does not compile, or failed at run time (jaq's message).
    #[error("{0}")]
    Filter(String),
    /// The evaluation ran past the time-out and was killed.
    #[error("jq evaluation timed out after {} ms", .0.as_millis())]
    TimedOut(Duration),
    /// The child died during the evaluation.
    #[error("jq evaluation crashed the sandbox (stack overflow or memory limit)")]
    Crashed,
    /// The sandbox could not be started or spoke nonsense.
    #[error("the jq sandbox is unavailable: {0}")]
    Unavailable(String),
}

/// Evaluates jq filters in child processes (see the [module documentation](super)).
#[derive(Debug)]
pub struct JqSandbox {
    program: PathBuf,
    limits: JqLimits,
    /// One permit per process that may exist.
    permits: Semaphore,
    /// Children waiting for a request; at most `limits.processes` exist, idle or busy.
    idle: Mutex<Vec<Worker>>,
}

impl JqSandbox {
    /// A sandbox that runs `program __jq-sandbox` as its children, started on first use.
    pub fn new(program: PathBuf, limits: JqLimits) -> Self {
        let processes = limits.processes.max(1);
        Self {
            program,
            limits,
            permits: Semaphore::new(processes),
            idle: Mutex::new(Vec::with_capacity(processes)),
        }
    }

    pub fn limits(&self) -> &JqLimits {
        &self.limits
    }

    /// Every output of `filter` run on `input`. Waits for a free child if all are busy.
    /// Cancel-safe: dropping the future kills the child it was using.
    pub async fn evaluate(&self, filter: &str, input: &Value) -> Result<Vec<Value>, JqError> {
        let request = self.request_line(filter, input)?;
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| JqError::Unavailable("the pool is closed".to_owned()))?;
        let (mut worker, mut reused) = match self.take_idle() {
            Some(worker) => (worker, true),
            None => (self.spawn()?, false),
        };
        loop {
            let outcome =
                tokio::time::timeout(self.limits.timeout, worker.exchange(&request)).await;
            let failure = match outcome {
                Ok(Ok(response)) => {
                    self.put_idle(worker);
                    return response.into_result();
                }
                Err(_elapsed) => JqError::TimedOut(self.limits.timeout),
                // An idle child that died since its last request never saw this one: retry once.
                Ok(Err(Exchange::Send(_))) if reused => {
                    worker.discard().await;
                    (worker, reused) = (self.spawn()?, false);
                    continue;
                }
                Ok(Err(Exchange::Send(error))) => {
                    JqError::Unavailable(format!("cannot send the request: {error}"))
                }
                Ok(Err(Exchange::Closed)) => JqError::Crashed,
                Ok(Err(Exchange::Receive(error))) => {
                    JqError::Unavailable(format!("cannot read the answer: {error}"))
                }
                Ok(Err(Exchange::Garbled(error))) => {
                    JqError::Unavailable(format!("unreadable answer: {error}"))
                }
            };
            worker.discard().await;
            return Err(failure);
        }
    }

    /// The request line, or why the filter or the input is refused.
    fn request_line(&self, filter: &str, input: &Value) -> Result<Vec<u8>, JqError> {
        let limits = &self.limits;
        if filter.len() > limits.max_filter_bytes {
            return Err(JqError::TooLarge(format!(
                "the jq filter is {} bytes, more than the limit of {}",
                filter.len(),
                limits.max_filter_bytes
            )));
        }
        if nesting_exceeds(input, MAX_NESTING) {
            return Err(JqError::TooLarge(format!(
                "the jq input is nested deeper than {MAX_NESTING} levels"
            )));
        }
        let mut buf = Vec::with_capacity(filter.len() + 64);
        buf.extend_from_slice(b"{\"filter\":");
        serde_json::to_writer(&mut buf, filter).expect("a string serializes");
        buf.extend_from_slice(b",\"input\":");
        let limit = buf.len().saturating_add(limits.max_input_bytes);
        let mut line = CappedWriter { buf, limit };
        // A `Value` always serializes, so the only error is the size cap.
        if serde_json::to_writer(&mut line, input).is_err() {
            return Err(JqError::TooLarge(format!(
                "the jq input is more than {} bytes",
                limits.max_input_bytes
            )));
        }
        line.buf.extend_from_slice(b"}\n");
        Ok(line.buf)
    }

    fn spawn(&self) -> Result<Worker, JqError> {
        let mut command = Command::new(&self.program);
        command
            .arg(SANDBOX_ARG)
            .env_clear()
            .envs(
                KEPT_ENV
                    .iter()
                    .filter_map(|name| Some((name, std::env::var_os(name)?))),
            )
            // mimalloc (the binary's allocator) reserves a 1 GiB arena up front by default,
            // which alone fills the child's address-space cap.
            .env("MIMALLOC_ARENA_RESERVE", "16MiB")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        let mut process = command.spawn().map_err(|error| {
            JqError::Unavailable(format!("cannot start {}: {error}", self.program.display()))
        })?;
        let (Some(stdin), Some(stdout)) = (process.stdin.take(), process.stdout.take()) else {
            return Err(JqError::Unavailable("the child has no pipes".to_owned()));
        };
        tracing::debug!(pid = process.id(), "jq sandbox child started");
        Ok(Worker {
            process,
            stdin,
            stdout: BufReader::new(stdout),
        })
    }

    fn take_idle(&self) -> Option<Worker> {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
    }

    fn put_idle(&self, worker: Worker) {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(worker);
    }
}

/// Whether arrays and objects nest more than `limit` deep (iterative: any depth is safe).
fn nesting_exceeds(value: &Value, limit: usize) -> bool {
    let mut pending = vec![(value, 0)];
    while let Some((value, depth)) = pending.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(entries) => Box::new(entries.values()),
            _ => continue,
        };
        if depth >= limit {
            return true;
        }
        pending.extend(children.map(|child| (child, depth + 1)));
    }
    false
}

/// One child and its pipes.
#[derive(Debug)]
struct Worker {
    process: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

enum Exchange {
    Send(io::Error),
    Receive(io::Error),
    /// The child closed its stdout: it died.
    Closed,
    Garbled(serde_json::Error),
}

#[derive(Deserialize)]
enum Response {
    #[serde(rename = "ok")]
    Ok(Vec<Value>),
    #[serde(rename = "error")]
    Error(String),
}

impl Response {
    fn into_result(self) -> Result<Vec<Value>, JqError> {
        match self {
            Response::Ok(outputs) => Ok(outputs),
            Response::Error(message) => Err(JqError::Filter(message)),
        }
    }
}

impl Worker {
    async fn exchange(&mut self, request: &[u8]) -> Result<Response, Exchange> {
        self.stdin
            .write_all(request)
            .await
            .map_err(Exchange::Send)?;
        self.stdin.flush().await.map_err(Exchange::Send)?;
        let mut line = Vec::new();
        match self.stdout.read_until(b'\n', &mut line).await {
            Ok(0) => Err(Exchange::Closed),
            Ok(_) => serde_json::from_slice(&line).map_err(Exchange::Garbled),
            Err(error) => Err(Exchange::Receive(error)),
        }
    }

    /// Kill the child (if it still runs) and reap it.
    async fn discard(mut self) {
        if let Err(error) = self.process.kill().await {
            tracing::warn!(%error, "cannot kill a jq sandbox child");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nested(depth: usize) -> Value {
        (0..depth).fold(json!(1), |inner, _| json!([inner]))
    }

    #[test]
    fn nesting_is_counted_in_arrays_and_objects() {
        assert!(!nesting_exceeds(&json!(1), 0));
        assert!(nesting_exceeds(&json!([]), 0));
        assert!(!nesting_exceeds(&nested(3), 3));
        assert!(nesting_exceeds(&nested(4), 3));
        assert!(nesting_exceeds(&json!({"a": [{"b": 1}]}), 2));
        assert!(!nesting_exceeds(&json!({"a": [{"b": 1}]}), 3));
    }

    #[test]
    fn the_request_line_is_one_line_of_json() {
        let sandbox = JqSandbox::new(PathBuf::from("unused"), JqLimits::default());
        let line = sandbox
            .request_line(".a\n| .b", &json!({"a": "x\ny"}))
            .unwrap();
        assert_eq!(line.iter().filter(|&&b| b == b'\n').count(), 1);
        assert!(line.ends_with(b"\n"));
        let request: Value = serde_json::from_slice(&line).unwrap();
        assert_eq!(
            request,
            json!({"filter": ".a\n| .b", "input": {"a": "x\ny"}})
        );
    }

    #[test]
    fn the_input_limit_counts_compact_json_bytes() {
        let limits = JqLimits {
            max_input_bytes: 7,
            ..JqLimits::default()
        };
        let sandbox = JqSandbox::new(PathBuf::from("unused"), limits);
        assert!(sandbox.request_line(".", &json!({"a": 1})).is_ok()); // {"a":1} is 7 bytes
        assert!(matches!(
            sandbox.request_line(".", &json!({"a": 12})),
            Err(JqError::TooLarge(_))
        ));
    }
}
