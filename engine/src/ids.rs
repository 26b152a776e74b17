//! Ids come from outside the engine, so decisions are reproducible in tests.

/// A source of fresh, unique ids for new tasks and workflows.
pub trait IdSource {
    fn next_id(&mut self) -> String;
}

/// Sequential ids (`prefix-1`, `prefix-2`, ...), for tests and tools.
#[derive(Debug, Clone)]
pub struct SequentialIds {
    prefix: String,
    next: u64,
}

impl SequentialIds {
    pub fn new(prefix: &str) -> Self {
        SequentialIds {
            prefix: prefix.to_owned(),
            next: 1,
        }
    }
}

impl IdSource for SequentialIds {
    fn next_id(&mut self) -> String {
        let id = format!("{}-{}", self.prefix, self.next);
        self.next += 1;
        id
    }
}
