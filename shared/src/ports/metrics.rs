//! Where metric documents go: a [`MetricsWriter`] receives each EMF document as one whole line.
//! A function process installs its sink once at start ([`install`]: stdout, with the cluster's
//! name as the dimension); a test runs a handler inside [`with_sink`] to capture the lines
//! instead. Without a sink nothing is written: metrics never fail or slow an invocation.
//!
//! Stdout, not the tracing subscriber: CloudWatch Logs extracts metrics only from a log event
//! that is the EMF object itself, with nothing before or after it. The runtime's subscriber
//! writes its own JSON object per event, and Lambda passes a custom runtime's stdout lines
//! through unchanged (its JSON log format wraps only the managed runtimes' logging methods),
//! so each document is written as one line of its own, in one `write_all`.

use crate::domain::metrics::{Sample, emf_document};
use chrono::{DateTime, Utc};
use std::future::Future;
use std::io::Write as _;
use std::sync::{Arc, OnceLock};

/// Receives EMF documents, one line each (no trailing newline in `line`).
pub trait MetricsWriter: Send + Sync {
    /// Writes one document.
    fn write_line(&self, line: &str);
}

/// Writes each document as a line on the process's stdout.
#[derive(Debug, Clone, Copy, Default)]
pub struct StdoutMetrics;

impl MetricsWriter for StdoutMetrics {
    fn write_line(&self, line: &str) {
        let mut text = String::with_capacity(line.len() + 1);
        text.push_str(line);
        text.push('\n');
        // One write of the whole line under stdout's lock: never interleaved with a log line.
        if let Err(e) = std::io::stdout().lock().write_all(text.as_bytes()) {
            tracing::warn!(error = %e, "metrics line not written");
        }
    }
}

/// A writer and the cluster whose dimension it stamps on every document.
#[derive(Clone)]
pub struct MetricsSink {
    /// The `Cluster` dimension's value.
    pub cluster: String,
    /// Where the lines go.
    pub writer: Arc<dyn MetricsWriter>,
}

impl std::fmt::Debug for MetricsSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsSink")
            .field("cluster", &self.cluster)
            .finish_non_exhaustive()
    }
}

static PROCESS_SINK: OnceLock<MetricsSink> = OnceLock::new();

tokio::task_local! {
    static TASK_SINK: MetricsSink;
}

/// Installs the process's sink (first call wins).
pub fn install(sink: MetricsSink) {
    if PROCESS_SINK.set(sink).is_err() {
        tracing::debug!("metrics sink already installed");
    }
}

/// Runs `fut` with `sink` receiving the metrics it emits (in place of the process's).
pub async fn with_sink<F: Future>(sink: MetricsSink, fut: F) -> F::Output {
    TASK_SINK.scope(sink, fut).await
}

/// Emits `samples` as one EMF document stamped `at`; nothing without samples or a sink.
pub fn emit(at: DateTime<Utc>, samples: &[Sample]) {
    if samples.is_empty() {
        return;
    }
    let write = |sink: &MetricsSink| {
        let doc = emf_document(&sink.cluster, at, samples);
        sink.writer.write_line(&doc.to_string());
    };
    if TASK_SINK.try_with(write).is_err()
        && let Some(sink) = PROCESS_SINK.get()
    {
        write(sink);
    }
}
