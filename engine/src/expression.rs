//! `${...}` input expressions: Conductor's parameter mapping, resolved over a lookup of named roots.
//!
//! A reference `${root.rest}` names a root (`workflow`, a task reference name, or a
//! special name such as `CPEWF_TASK_ID`) and a JSONPath into that root's document.
//! Semantics kept from Conductor (`ParametersUtils`):
//! - a string that is exactly one reference keeps the value's JSON type;
//! - a missing root or path resolves to null, never an error;
//! - references embedded in longer strings are interpolated as text;
//! - `$${` escapes a literal `${`;
//! - maps and lists are resolved recursively.
//!
//! Most references are plain dotted paths (`workflow.input.name`, `t1.output.list[0]`);
//! those walk the value directly. Anything else goes to `jsonpath-rust`, after rewriting
//! the Jayway forms that Conductor users write and RFC 9535 rejects (`.length()`).

use jsonpath_rust::JsonPath;
use serde_json::{Map, Value};

/// Where the roots of references come from. The decider implements it over a workflow.
pub trait Roots {
    /// The document for a root name (`workflow`, a task reference name, ...), or `None`.
    fn root(&self, name: &str) -> Option<Value>;
}

/// Resolves every `${...}` in a map of input parameters.
pub fn resolve_map(params: &Map<String, Value>, roots: &dyn Roots) -> Map<String, Value> {
    params
        .iter()
        .map(|(key, value)| (key.clone(), resolve_value(value, roots)))
        .collect()
}

/// Resolves every `${...}` inside a JSON value, recursively.
pub fn resolve_value(value: &Value, roots: &dyn Roots) -> Value {
    match value {
        Value::String(text) => resolve_string(text, roots),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| resolve_value(v, roots)).collect())
        }
        Value::Object(map) => Value::Object(resolve_map(map, roots)),
        other => other.clone(),
    }
}

/// One piece of a string that may hold references.
#[derive(Debug, PartialEq)]
enum Piece<'a> {
    Text(&'a str),
    Reference(&'a str),
}

/// Splits a string into literal text and `${...}` references. `$${` is an escaped `${`.
fn split_pieces(text: &str) -> Vec<Piece<'_>> {
    let mut pieces = Vec::new();
    let bytes = text.as_bytes();
    let mut literal_start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'$' && text[i..].starts_with("$${") {
            // Escaped: keep "${" as text, drop the first '$'.
            if literal_start < i {
                pieces.push(Piece::Text(&text[literal_start..i]));
            }
            literal_start = i + 1;
            i += 3;
            continue;
        }
        if bytes[i] == b'$' && text[i..].starts_with("${") {
            if let Some(end) = text[i + 2..].find('}') {
                if literal_start < i {
                    pieces.push(Piece::Text(&text[literal_start..i]));
                }
                pieces.push(Piece::Reference(&text[i + 2..i + 2 + end]));
                i = i + 2 + end + 1;
                literal_start = i;
                continue;
            }
        }
        i += 1;
    }
    if literal_start < text.len() {
        pieces.push(Piece::Text(&text[literal_start..]));
    }
    pieces
}

fn resolve_string(text: &str, roots: &dyn Roots) -> Value {
    if !text.contains("${") {
        return Value::String(text.to_owned());
    }
    let pieces = split_pieces(text);
    if let [Piece::Reference(reference)] = pieces.as_slice() {
        return resolve_reference(reference, roots);
    }
    let mut rendered = String::with_capacity(text.len());
    for piece in pieces {
        match piece {
            Piece::Text(literal) => rendered.push_str(literal),
            Piece::Reference(reference) => {
                render_into(&mut rendered, &resolve_reference(reference, roots))
            }
        }
    }
    Value::String(rendered)
}

/// Text form of a value interpolated into a longer string. Null renders as `null`,
/// as Java's `String.valueOf` does in Conductor; structures render as JSON.
fn render_into(out: &mut String, value: &Value) {
    match value {
        Value::String(text) => out.push_str(text),
        other => out.push_str(&other.to_string()),
    }
}

/// Resolves one reference (the text between `${` and `}`).
pub fn resolve_reference(reference: &str, roots: &dyn Roots) -> Value {
    let reference = reference.trim();
    let (root_name, rest) = match reference.find(['.', '[']) {
        Some(split) => (&reference[..split], &reference[split..]),
        None => (reference, ""),
    };
    let Some(root) = roots.root(root_name) else {
        return Value::Null;
    };
    let rest = rest.strip_prefix('.').unwrap_or(rest);
    if rest.is_empty() {
        return root;
    }
    query(&root, rest)
}

/// Evaluates a path relative to `root`: the fast dotted walk when it applies, JSONPath otherwise.
fn query(root: &Value, path: &str) -> Value {
    if let Some(length_of) = path.strip_suffix(".length()") {
        let target = if length_of.is_empty() {
            root.clone()
        } else {
            query(root, length_of)
        };
        return match target {
            Value::Array(items) => Value::from(items.len()),
            Value::Object(map) => Value::from(map.len()),
            Value::String(text) => Value::from(text.chars().count()),
            _ => Value::Null,
        };
    }
    if let Some(found) = walk_simple_path(root, path) {
        return found.cloned().unwrap_or(Value::Null);
    }
    query_jsonpath(root, path)
}

/// Walks `a.b[0].c` directly. Returns `None` when the path is not a simple one,
/// and `Some(None)` when it is simple but leads nowhere.
fn walk_simple_path<'v>(root: &'v Value, path: &str) -> Option<Option<&'v Value>> {
    let mut current = Some(root);
    for segment in path.split('.') {
        let (key, mut indexes) = match segment.find('[') {
            Some(open) => (&segment[..open], &segment[open..]),
            None => (segment, ""),
        };
        if key.is_empty() && indexes.is_empty() {
            return None;
        }
        if key.contains(['*', '?', '@', '(', ')', '\'', '"', ']', ' ']) {
            return None;
        }
        if !key.is_empty() {
            current = current.and_then(|value| value.get(key));
        }
        while !indexes.is_empty() {
            let close = indexes.find(']')?;
            let index: usize = indexes[1..close].parse().ok()?;
            current = current.and_then(|value| value.get(index));
            indexes = &indexes[close + 1..];
            if !indexes.is_empty() && !indexes.starts_with('[') {
                return None;
            }
        }
    }
    Some(current)
}

/// Full JSONPath through `jsonpath-rust`. A definite path gives its one value (or null);
/// a path that can match many (wildcards, filters, slices, unions, descent) gives a list,
/// as Jayway does for Conductor.
fn query_jsonpath(root: &Value, path: &str) -> Value {
    let expression = if path.starts_with('[') {
        format!("${path}")
    } else {
        format!("$.{path}")
    };
    let Ok(found) = root.query(&expression) else {
        return Value::Null;
    };
    if is_indefinite(path) {
        Value::Array(found.into_iter().cloned().collect())
    } else {
        found.first().map(|v| (*v).clone()).unwrap_or(Value::Null)
    }
}

fn is_indefinite(path: &str) -> bool {
    path.contains('*') || path.contains("..") || path.contains("[?") || path.contains(',') || {
        // A slice such as [1:3] (but not a quoted key holding a colon).
        path.split('[').skip(1).any(|inside| {
            inside
                .split(']')
                .next()
                .is_some_and(|i| i.contains(':') && !i.contains('\''))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    struct Doc(HashMap<&'static str, Value>);

    impl Roots for Doc {
        fn root(&self, name: &str) -> Option<Value> {
            self.0.get(name).cloned()
        }
    }

    fn roots() -> Doc {
        Doc(HashMap::from([
            (
                "workflow",
                json!({
                    "input": {"name": "Ada", "count": 3, "tags": ["a", "b"], "nested": {"x": {"y": true}},
                              "headers": {"Content-Type": "json"}, "items": [{"id": 1}, {"id": 2}]},
                    "workflowId": "wf-1"
                }),
            ),
            (
                "t1",
                json!({"output": {"result": {"greeting": "hi"}, "list": [10, 20, 30]}, "status": "COMPLETED"}),
            ),
            ("CPEWF_TASK_ID", json!("task-9")),
        ]))
    }

    fn resolve(text: &str) -> Value {
        resolve_value(&json!(text), &roots())
    }

    #[test]
    fn a_single_reference_keeps_its_json_type() {
        assert_eq!(resolve("${workflow.input.count}"), json!(3));
        assert_eq!(resolve("${workflow.input.tags}"), json!(["a", "b"]));
        assert_eq!(resolve("${workflow.input.nested.x}"), json!({"y": true}));
        assert_eq!(resolve("${t1.output.result}"), json!({"greeting": "hi"}));
    }

    #[test]
    fn a_missing_path_or_root_gives_null() {
        assert_eq!(resolve("${workflow.input.absent}"), Value::Null);
        assert_eq!(resolve("${workflow.input.absent.deeper}"), Value::Null);
        assert_eq!(resolve("${nosuchtask.output.x}"), Value::Null);
        assert_eq!(resolve("${t1.output.list[7]}"), Value::Null);
    }

    #[test]
    fn references_inside_text_are_interpolated() {
        assert_eq!(
            resolve("Hello ${workflow.input.name}, ${workflow.input.count}!"),
            json!("Hello Ada, 3!")
        );
        assert_eq!(resolve("id=${workflow.workflowId}"), json!("id=wf-1"));
        assert_eq!(resolve("x${workflow.input.absent}"), json!("xnull"));
    }

    #[test]
    fn indexes_and_dashed_keys_walk_directly() {
        assert_eq!(resolve("${t1.output.list[1]}"), json!(20));
        assert_eq!(resolve("${workflow.input.items[1].id}"), json!(2));
        assert_eq!(
            resolve("${workflow.input.headers.Content-Type}"),
            json!("json")
        );
    }

    #[test]
    fn jayway_length_and_jsonpath_filters_work() {
        assert_eq!(resolve("${t1.output.list.length()}"), json!(3));
        assert_eq!(resolve("${workflow.input.items[*].id}"), json!([1, 2]));
        assert_eq!(
            resolve("${workflow.input.items[?(@.id > 1)].id}"),
            json!([2])
        );
        assert_eq!(resolve("${workflow.input['name']}"), json!("Ada"));
    }

    #[test]
    fn maps_and_lists_resolve_recursively() {
        let input = json!({"a": ["${workflow.input.name}", {"b": "${t1.output.list[0]}"}], "c": 5, "d": null});
        assert_eq!(
            resolve_value(&input, &roots()),
            json!({"a": ["Ada", {"b": 10}], "c": 5, "d": null})
        );
    }

    #[test]
    fn escaped_dollar_braces_stay_literal() {
        assert_eq!(
            resolve("$${workflow.input.name}"),
            json!("${workflow.input.name}")
        );
        assert_eq!(
            resolve("a $${x} b ${workflow.input.name}"),
            json!("a ${x} b Ada")
        );
    }

    #[test]
    fn the_new_task_id_is_a_root_of_its_own() {
        assert_eq!(resolve("${CPEWF_TASK_ID}"), json!("task-9"));
    }

    #[test]
    fn an_unclosed_reference_is_plain_text() {
        assert_eq!(
            resolve("${workflow.input.name"),
            json!("${workflow.input.name")
        );
    }

    #[test]
    fn a_malformed_jsonpath_gives_null_not_an_error() {
        assert_eq!(resolve("${workflow.input[?(}"), Value::Null);
    }
}
