//! A metrics writer that keeps the lines, for handler tests: run the handler inside
//! [`RecordedMetrics::scope`] and read the documents back.

use crate::ports::metrics::{MetricsSink, MetricsWriter, with_sink};
use serde_json::Value;
use std::future::Future;
use std::sync::{Arc, Mutex};

/// Keeps every line written.
#[derive(Debug, Default)]
pub struct RecordedMetrics {
    lines: Mutex<Vec<String>>,
}

impl MetricsWriter for RecordedMetrics {
    fn write_line(&self, line: &str) {
        self.lines.lock().unwrap().push(line.to_owned());
    }
}

impl RecordedMetrics {
    /// Runs `fut` with a fresh recorder for `cluster`; returns its output and the recorder.
    pub async fn scope<F: Future>(cluster: &str, fut: F) -> (F::Output, Arc<Self>) {
        let recorder = Arc::new(Self::default());
        let sink = MetricsSink {
            cluster: cluster.to_owned(),
            writer: recorder.clone(),
        };
        (with_sink(sink, fut).await, recorder)
    }

    /// The lines written so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// The lines, parsed (a line that is no JSON panics: every line must be a document).
    pub fn documents(&self) -> Vec<Value> {
        self.lines()
            .iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }
}
