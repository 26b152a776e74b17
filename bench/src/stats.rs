//! Percentiles over recorded durations.

use std::time::Duration;

use serde_json::{json, Value};

/// Recorded samples, in milliseconds.
#[derive(Debug, Default)]
pub struct Samples(Vec<f64>);

impl Samples {
    pub fn push(&mut self, duration: Duration) {
        self.0.push(duration.as_secs_f64() * 1000.0);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The nearest-rank percentile `p` (0–100), or 0 with no samples.
    pub fn percentile(&mut self, p: f64) -> f64 {
        if self.0.is_empty() {
            return 0.0;
        }
        self.0.sort_by(f64::total_cmp);
        let rank = ((p / 100.0) * self.0.len() as f64).ceil() as usize;
        self.0[rank.clamp(1, self.0.len()) - 1]
    }

    /// `{p50, p90, p99, max}` rounded to microseconds.
    pub fn summary(&mut self, percentiles: &[(&str, f64)]) -> Value {
        let mut out = serde_json::Map::new();
        for (name, p) in percentiles {
            out.insert((*name).to_owned(), json!(round3(self.percentile(*p))));
        }
        Value::Object(out)
    }
}

pub fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let mut samples = Samples::default();
        for ms in 1..=100 {
            samples.push(Duration::from_millis(ms));
        }
        assert_eq!(samples.percentile(50.0), 50.0);
        assert_eq!(samples.percentile(99.0), 99.0);
        assert_eq!(samples.percentile(100.0), 100.0);
        assert_eq!(Samples::default().percentile(50.0), 0.0);
    }
}
