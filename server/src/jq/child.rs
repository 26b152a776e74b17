//! The sandbox child: answers jq requests from stdin on stdout, under a memory limit, and dies
//! (rather than the server) when a filter overflows its stack or exhausts its memory.

use super::{CappedWriter, MAX_NESTING};
use jaq_core::data::JustLut;
use jaq_core::load::{self, Arena, File, Loader};
use jaq_core::{compile, Compiler, Ctx, Vars};
use jaq_json::{Num, Val};
use jaq_std::ValT as _;
use serde::ser::{Error as _, SerializeMap, SerializeSeq};
use serde::{Deserialize, Serialize, Serializer};
use std::collections::HashMap;
use std::io::{self, BufRead, Write};
use std::process::ExitCode;
use std::rc::Rc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

/// The evaluation thread's stack. Linux commits stack pages only when they are touched.
const STACK_BYTES: usize = 256 << 20;
/// The child's address-space limit (`RLIMIT_AS`), stack and binary included.
const MEMORY_BYTES: u64 = 1 << 30;
/// At most this many outputs per evaluation.
const MAX_OUTPUTS: usize = 10_000;
/// At most this many bytes in one response line.
const MAX_RESPONSE_BYTES: usize = 16 << 20;
/// Compiled filters kept, least recently used evicted first.
const CACHE_ENTRIES: usize = 256;
/// Error messages are cut to this many characters (`error([range(1e6)])` is a long message).
const MAX_MESSAGE_CHARS: usize = 4096;

type Filter = jaq_core::Filter<JustLut<Val>>;

/// How often the child checks that the server that started it is still alive.
const ORPHAN_CHECK: Duration = Duration::from_secs(1);

/// The entry point of `baton __jq-sandbox`: limit this process, then serve requests on a
/// big-stack thread until stdin closes, or until the server is gone (a killed server closes no
/// pipe for a child busy with an endless filter, so the main thread watches the parent).
pub fn sandbox_main() -> ExitCode {
    if let Err(error) = limit_resources() {
        eprintln!("baton: jq sandbox: cannot limit its resources: {error}");
        return ExitCode::FAILURE;
    }
    let parent = parent_id();
    let (done, finished) = mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("jq".to_owned())
        .stack_size(STACK_BYTES)
        .spawn(move || {
            let _ = done.send(serve());
        });
    if spawned.is_err() {
        return ExitCode::FAILURE;
    }
    loop {
        match finished.recv_timeout(ORPHAN_CHECK) {
            Ok(Ok(())) => return ExitCode::SUCCESS,
            Ok(Err(_)) | Err(RecvTimeoutError::Disconnected) => return ExitCode::FAILURE,
            Err(RecvTimeoutError::Timeout) if parent_id() != parent => return ExitCode::FAILURE,
            Err(RecvTimeoutError::Timeout) => {}
        }
    }
}

#[cfg(unix)]
fn parent_id() -> u32 {
    std::os::unix::process::parent_id()
}

#[cfg(not(unix))]
fn parent_id() -> u32 {
    0
}

/// Cap the address space, and write no core file when a filter crashes the child.
#[cfg(unix)]
fn limit_resources() -> io::Result<()> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    for (resource, wanted) in [(Resource::As, MEMORY_BYTES), (Resource::Core, 0)] {
        // Lowering a limit is always allowed; never try to raise one.
        let limit = match getrlimit(resource).maximum {
            Some(maximum) => wanted.min(maximum),
            None => wanted,
        };
        let limit = Some(limit);
        setrlimit(
            resource,
            Rlimit {
                current: limit,
                maximum: limit,
            },
        )?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn limit_resources() -> io::Result<()> {
    Ok(())
}

fn serve() -> io::Result<()> {
    let mut stdin = io::stdin().lock();
    let mut stdout = io::stdout().lock();
    let mut cache = FilterCache::default();
    let mut line = Vec::new();
    loop {
        line.clear();
        if stdin.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let mut response = answer(&mut cache, &line);
        response.push(b'\n');
        stdout.write_all(&response)?;
        stdout.flush()?;
    }
}

#[derive(Deserialize)]
struct Request {
    filter: String,
    input: Val,
}

/// One request line in, one response line (without its newline) out.
fn answer(cache: &mut FilterCache, line: &[u8]) -> Vec<u8> {
    let result = match serde_json::from_slice::<Request>(line) {
        Ok(request) => cache
            .get_or_compile(&request.filter)
            .and_then(|filter| run(&filter, request.input)),
        Err(error) => Err(format!("cannot read the jq request: {error}")),
    };
    result.unwrap_or_else(|message| {
        serde_json::to_vec(&serde_json::json!({ "error": truncate(message) }))
            .expect("a string serializes")
    })
}

/// Run `filter` on `input` and write `{"ok": [...]}`, or say why not.
fn run(filter: &Filter, input: Val) -> Result<Vec<u8>, String> {
    let mut out = CappedWriter {
        buf: b"{\"ok\":[".to_vec(),
        limit: MAX_RESPONSE_BYTES - 2,
    };
    let ctx = Ctx::<JustLut<Val>>::new(&filter.lut, Vars::new([]));
    for (count, output) in filter.id.run((ctx, input)).enumerate() {
        let value = match output {
            Ok(value) => value,
            Err(exception) => match exception.get_err() {
                Ok(error) => return Err(runtime_message(error)),
                Err(exception) => match exception.get_halt() {
                    Ok(0) => break,
                    Ok(code) => return Err(format!("jq error: halted with exit code {code}")),
                    Err(_) => return Err("jq error: unexpected exception".to_owned()),
                },
            },
        };
        if count == MAX_OUTPUTS {
            return Err(format!(
                "jq error: the filter produced more than {MAX_OUTPUTS} outputs"
            ));
        }
        if count > 0 {
            out.write_all(b",").map_err(|_| response_too_large())?;
        }
        let json = Json {
            value: &value,
            depth: 0,
        };
        // The only I/O error writing to memory is the size cap.
        serde_json::to_writer(&mut out, &json).map_err(|error| match error.is_io() {
            true => response_too_large(),
            false => format!("jq error: {error}"),
        })?;
    }
    let mut buf = out.buf;
    buf.extend_from_slice(b"]}");
    Ok(buf)
}

fn response_too_large() -> String {
    format!(
        "jq error: the outputs are larger than {} MiB",
        MAX_RESPONSE_BYTES >> 20
    )
}

/// jaq's runtime error; a string raised with `error("...")` is shown without its quotes.
fn runtime_message(error: jaq_json::Error) -> String {
    let value = error.into_val();
    match value.as_utf8_bytes() {
        Some(text) => format!("jq error: {}", String::from_utf8_lossy(text)),
        None => format!("jq error: {value} (not a string)"),
    }
}

fn truncate(mut message: String) -> String {
    if let Some((at, _)) = message.char_indices().nth(MAX_MESSAGE_CHARS) {
        message.truncate(at);
        message.push('…');
    }
    message
}

/// A jaq value written as JSON: byte strings as text, NaN as null and infinities as the largest
/// finite numbers (as jq does); a non-string object key or too deep a nesting is an error.
struct Json<'a> {
    value: &'a Val,
    depth: usize,
}

impl Json<'_> {
    fn nested<E: serde::ser::Error>(&self) -> Result<usize, E> {
        if self.depth >= MAX_NESTING {
            return Err(E::custom(format!(
                "an output is nested deeper than {MAX_NESTING} levels"
            )));
        }
        Ok(self.depth + 1)
    }
}

impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.value {
            Val::Null => serializer.serialize_unit(),
            Val::Bool(b) => serializer.serialize_bool(*b),
            Val::Num(n) => serialize_num(n, serializer),
            Val::TStr(text) | Val::BStr(text) => {
                serializer.serialize_str(&String::from_utf8_lossy(&text[..]))
            }
            Val::Arr(items) => {
                let depth = self.nested()?;
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for value in items.iter() {
                    seq.serialize_element(&Json { value, depth })?;
                }
                seq.end()
            }
            Val::Obj(entries) => {
                let depth = self.nested()?;
                let mut map = serializer.serialize_map(Some(entries.len()))?;
                for (key, value) in entries.iter() {
                    let key = match key {
                        Val::TStr(text) | Val::BStr(text) => String::from_utf8_lossy(&text[..]),
                        other => {
                            return Err(S::Error::custom(format!(
                                "object keys must be strings, not {other}"
                            )))
                        }
                    };
                    map.serialize_entry(&*key, &Json { value, depth })?;
                }
                map.end()
            }
        }
    }
}

fn serialize_num<S: Serializer>(n: &Num, serializer: S) -> Result<S::Ok, S::Error> {
    match n {
        Num::Int(i) => serializer.serialize_i64(*i as i64),
        Num::Float(x) => serialize_float(*x, serializer),
        // Big integers and decimal literals: exactly when they fit, else as a float.
        Num::BigInt(_) | Num::Dec(_) => {
            let text = n.to_string();
            if let Ok(i) = text.parse::<i64>() {
                serializer.serialize_i64(i)
            } else if let Ok(u) = text.parse::<u64>() {
                serializer.serialize_u64(u)
            } else {
                serialize_float(text.parse().unwrap_or(f64::NAN), serializer)
            }
        }
    }
}

fn serialize_float<S: Serializer>(x: f64, serializer: S) -> Result<S::Ok, S::Error> {
    if x.is_nan() {
        serializer.serialize_unit()
    } else if x.is_infinite() {
        serializer.serialize_f64(f64::MAX.copysign(x))
    } else {
        serializer.serialize_f64(x)
    }
}

/// Compiled filters by source text; the least recently used goes when it is full.
#[derive(Default)]
struct FilterCache {
    entries: HashMap<String, (Rc<Filter>, u64)>,
    clock: u64,
}

impl FilterCache {
    fn get_or_compile(&mut self, code: &str) -> Result<Rc<Filter>, String> {
        self.clock += 1;
        if let Some((filter, used)) = self.entries.get_mut(code) {
            *used = self.clock;
            return Ok(Rc::clone(filter));
        }
        let filter = Rc::new(compile_filter(code)?);
        if self.entries.len() >= CACHE_ENTRIES {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(code, _)| code.clone());
            if let Some(oldest) = oldest {
                self.entries.remove(&oldest);
            }
        }
        self.entries
            .insert(code.to_owned(), (Rc::clone(&filter), self.clock));
        Ok(filter)
    }
}

/// Parse and compile with jq's standard library. Imports are refused (the loader reads no files).
fn compile_filter(code: &str) -> Result<Filter, String> {
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs());
    let arena = Arena::default();
    let modules = Loader::new(defs)
        .load(&arena, File { code, path: () })
        .map_err(|errors| load_message(code, errors))?;
    Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errors| compile_message(code, errors))
}

fn load_message(code: &str, errors: load::Errors<&str, ()>) -> String {
    let mut problems = Vec::new();
    for (_file, error) in errors {
        match error {
            load::Error::Io(errors) => problems.extend(
                errors
                    .into_iter()
                    .map(|(path, why)| format!("cannot import {path}: {why}{}", at(code, path))),
            ),
            load::Error::Lex(errors) => {
                problems.extend(errors.into_iter().map(|(expected, pos)| {
                    format!("expected {}{}", expected.as_str(), at(code, pos))
                }))
            }
            load::Error::Parse(errors) => {
                problems.extend(errors.into_iter().map(|(expected, found)| {
                    let position = at(code, found);
                    let found = match found {
                        "" => "the end of the filter".to_owned(),
                        token => format!("`{token}`"),
                    };
                    format!("expected {}, found {found}{position}", expected.as_str())
                }))
            }
        }
    }
    format!("jq syntax error: {}", problems.join("; "))
}

fn compile_message(code: &str, errors: compile::Errors<&str, ()>) -> String {
    let problems: Vec<String> = errors
        .into_iter()
        .flat_map(|(_file, errors)| errors)
        .map(|(name, undefined)| {
            let arity = match undefined {
                compile::Undefined::Filter(arity) => format!("/{arity}"),
                _ => String::new(),
            };
            format!(
                "undefined {} `{name}{arity}`{}",
                undefined.as_str(),
                at(code, name)
            )
        })
        .collect();
    format!("jq compile error: {}", problems.join("; "))
}

/// " at line L, column C" for a slice of `code`, or nothing if `part` is not inside `code`.
fn at(code: &str, part: &str) -> String {
    let start = code.as_ptr() as usize;
    let offset = (part.as_ptr() as usize).wrapping_sub(start);
    if offset > code.len() || !code.is_char_boundary(offset) {
        return String::new();
    }
    let before = &code[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    format!(" at line {line}, column {column}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    /// The response to `filter` on `input`, as JSON.
    fn eval(filter: &str, input: Value) -> Value {
        let line = serde_json::to_vec(&json!({"filter": filter, "input": input})).unwrap();
        serde_json::from_slice(&answer(&mut FilterCache::default(), &line)).unwrap()
    }

    fn error_of(filter: &str, input: Value) -> String {
        match eval(filter, input) {
            Value::Object(mut response) => match response.remove("error") {
                Some(Value::String(message)) => message,
                other => panic!("expected an error, got {other:?}"),
            },
            other => panic!("expected an object, got {other}"),
        }
    }

    #[test]
    fn every_output_is_answered_in_order() {
        assert_eq!(
            eval(".[] | . * 2", json!([1, 2, 3])),
            json!({"ok": [2, 4, 6]})
        );
        assert_eq!(eval("empty", json!(null)), json!({"ok": []}));
    }

    #[test]
    fn numbers_strings_and_objects_keep_their_json_form() {
        assert_eq!(
            eval(
                "[.i, .f, .s, {k: .s}, 1.5, 100000000000000000000]",
                json!({"i": 3, "f": 0.5, "s": "é"})
            ),
            json!({"ok": [[3, 0.5, "é", {"k": "é"}, 1.5, 1e20]]})
        );
    }

    #[test]
    fn nan_is_null_and_infinity_the_largest_number() {
        assert_eq!(
            eval("[nan, infinite, -infinite]", json!(null)),
            json!({"ok": [[null, f64::MAX, -f64::MAX]]})
        );
    }

    #[test]
    fn a_syntax_error_says_what_was_expected_and_where() {
        let message = error_of("{a: 1", json!(null));
        assert!(
            message.starts_with("jq syntax error: expected"),
            "{message}"
        );
        assert!(message.contains("line 1"), "{message}");
        let message = error_of(".a |", json!(null));
        assert!(message.contains("found the end of the filter"), "{message}");
    }

    #[test]
    fn an_undefined_filter_is_named_with_its_arity() {
        let message = error_of("1 | nosuch(2)", json!(null));
        assert_eq!(
            message,
            "jq compile error: undefined filter `nosuch/1` at line 1, column 5"
        );
    }

    #[test]
    fn imports_are_refused() {
        let message = error_of("import \"etc/passwd\" as p; 1", json!(null));
        assert!(
            message.starts_with("jq syntax error: cannot import"),
            "{message}"
        );
        assert!(
            message.contains("module loading not supported"),
            "{message}"
        );
    }

    #[test]
    fn a_runtime_error_is_jaqs_message() {
        assert_eq!(
            error_of(".a", json!(1)),
            "jq error: cannot index 1 with \"a\""
        );
        assert_eq!(error_of("error(\"boom\")", json!(null)), "jq error: boom");
        assert_eq!(
            error_of("error({a: 1})", json!(null)),
            "jq error: {\"a\":1} (not a string)"
        );
    }

    #[test]
    fn halt_ends_the_outputs_and_a_nonzero_halt_is_an_error() {
        assert_eq!(eval("1, halt, 2", json!(null)), json!({"ok": [1]}));
        assert_eq!(
            error_of("halt_error", json!("bye")),
            "jq error: halted with exit code 5"
        );
    }

    #[test]
    fn too_many_outputs_are_an_error() {
        assert_eq!(
            eval("[range(10000)] | length", json!(null)),
            json!({"ok": [10000]})
        );
        assert_eq!(
            eval("range(10000)", json!(null))["ok"]
                .as_array()
                .unwrap()
                .len(),
            10000
        );
        assert_eq!(
            error_of("range(10001)", json!(null)),
            "jq error: the filter produced more than 10000 outputs"
        );
    }

    #[test]
    fn too_large_a_response_is_an_error() {
        assert_eq!(
            error_of("[range(3000000)]", json!(null)),
            "jq error: the outputs are larger than 16 MiB"
        );
    }

    #[test]
    fn nesting_deeper_than_serde_json_reads_is_an_error() {
        let deep = format!("{}1{}", "[".repeat(MAX_NESTING), "]".repeat(MAX_NESTING));
        assert_eq!(
            eval(&deep, json!(null))["ok"][0],
            serde_json::from_str::<Value>(&deep).unwrap()
        );
        let message = error_of(&format!("[{deep}]"), json!(null));
        assert_eq!(
            message,
            format!("jq error: an output is nested deeper than {MAX_NESTING} levels")
        );
    }

    #[test]
    fn object_keys_must_be_strings() {
        let message = error_of("{(1): 2}", json!(null));
        assert!(message.starts_with("jq error:"), "{message}");
    }

    #[test]
    fn long_messages_are_cut() {
        let message = error_of("error([range(10000)] | tostring)", json!(null));
        assert_eq!(message.chars().count(), MAX_MESSAGE_CHARS + 1);
        assert!(message.ends_with('…'));
    }

    #[test]
    fn a_malformed_request_is_answered_with_an_error() {
        let response = answer(&mut FilterCache::default(), b"{\"filter\": 1}");
        let response: Value = serde_json::from_slice(&response).unwrap();
        assert!(response["error"]
            .as_str()
            .unwrap()
            .starts_with("cannot read the jq request"));
    }

    #[test]
    fn the_cache_keeps_the_most_recently_used_filters() {
        let mut cache = FilterCache::default();
        for i in 0..CACHE_ENTRIES {
            cache.get_or_compile(&i.to_string()).unwrap();
        }
        cache.get_or_compile("0").unwrap(); // now the most recent
        cache.get_or_compile("[]").unwrap();
        assert_eq!(cache.entries.len(), CACHE_ENTRIES);
        assert!(cache.entries.contains_key("0"));
        assert!(!cache.entries.contains_key("1"));
        assert!(cache.entries.contains_key("[]"));
    }
}
