//! jq for JSON_JQ_TRANSFORM: jaq, evaluated in a child process that may crash instead of the server.
//!
//! jaq has no resource limits: `def f: 1+f; f` overflows the stack (which aborts the process) and
//! `[repeat(1)]` allocates until memory runs out, with no way to interrupt it from another thread.
//! So evaluation runs in a hidden mode of the `baton` binary itself (`baton __jq-sandbox`), a
//! long-lived child with a memory limit and a big evaluation stack ([`sandbox_main`]), and the
//! server talks to a small pool of them ([`JqSandbox`]), killing one that runs past its time-out
//! and replacing one that died.
//!
//! The protocol is one line of JSON each way per evaluation:
//! `{"filter": "<jq>", "input": <json>}` in, `{"ok": [<outputs>]}` or `{"error": "<message>"}` out.

mod child;
mod sandbox;

use serde_json::{Map, Value};
use std::io;
use std::path::PathBuf;

pub use child::sandbox_main;
pub use sandbox::{JqError, JqLimits, JqSandbox};

/// The first argument that turns the `baton` binary into a sandbox child.
pub const SANDBOX_ARG: &str = "__jq-sandbox";

/// How deeply arrays and objects may nest, in the input and in each output. serde_json refuses
/// to parse more than 128 levels, and a request or response line adds two of its own.
pub const MAX_NESTING: usize = 120;

/// The program to run as the sandbox child: the running `baton` binary.
pub fn default_program() -> io::Result<PathBuf> {
    std::env::current_exe()
}

/// A JSON_JQ_TRANSFORM task's output, as Conductor builds it: the first output (or null) as
/// `result`, and every output as `resultList`.
pub fn transform_output(outputs: Vec<Value>) -> Map<String, Value> {
    let mut output = Map::new();
    output.insert(
        "result".to_owned(),
        outputs.first().cloned().unwrap_or(Value::Null),
    );
    output.insert("resultList".to_owned(), Value::Array(outputs));
    output
}

/// Writes into a buffer until it would pass `limit` bytes, then fails: serializing stops at the
/// limit instead of building a huge buffer first.
struct CappedWriter {
    buf: Vec<u8>,
    limit: usize,
}

impl io::Write for CappedWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.buf.len() + bytes.len() > self.limit {
            return Err(io::Error::other("size limit reached"));
        }
        self.buf.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_output_holds_the_first_result_and_all_results() {
        let output = transform_output(vec![json!({"a": 1}), json!(2)]);
        assert_eq!(
            Value::Object(output),
            json!({"result": {"a": 1}, "resultList": [{"a": 1}, 2]})
        );
    }

    #[test]
    fn no_outputs_give_a_null_result_and_an_empty_list() {
        let output = transform_output(Vec::new());
        assert_eq!(
            Value::Object(output),
            json!({"result": null, "resultList": []})
        );
    }
}
