//! The proxy's audit log (invariant 4): every security-relevant decision appends exactly one
//! event, written and flushed **before** the caller gets its answer. Appends that cannot be
//! written within a bounded deadline fail with `AUDIT_UNAVAILABLE` — the request then fails
//! too: never a hang, never an unaudited success.
//!
//! One writer thread owns the files. Callers hand it events over a bounded channel and wait
//! for its acknowledgement; everything that arrives while a batch is being written goes into
//! the next batch (group commit), so one fsync covers many events under load.
//!
//! # Layout
//! - this file — [`AuditLog`] (the handle services use) and [`AuditConfig`].
//! - [`names`] — every event name (checked against docs/audit-events.md).
//! - [`record`] — decisions → events; the ConnectionAdmin hook; the authorization observer.
//! - [`service`] — AuditService.AuditHash.
//! - [`writer`] — the writer thread: batching, sealing, checkpoints.
//! - [`sink`] — where lines go: the rotating file ([`sink::FileSink`]), stdout, test sinks.
//! - [`recover`] — finding where the chain left off after a restart or crash.

pub mod names;
pub mod record;
pub mod recover;
pub mod service;
pub mod sink;
pub mod writer;

use std::{path::PathBuf, sync::Arc, time::Duration};

use airlock_shared::{
    SecretBytes,
    audit::{AuditEvent, chain::Prepared, fingerprint::FingerprintKey},
};
use ring::signature::Ed25519KeyPair;
use serde::Deserialize;
use tokio::sync::{mpsc, oneshot};

/// How durable each batch is before callers are answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FsyncPolicy {
    /// `fsync` the file after every batch (group commit): an acknowledged event survives a
    /// power cut. The default.
    #[default]
    Always,
    /// Write to the OS and flush, without `fsync`: survives a proxy crash, not a power cut.
    Never,
}

/// `[audit]` configuration.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct AuditConfig {
    /// Directory of `audit.log`, its rotated files, `audit.checkpoints` and
    /// `audit-checkpoint.pub`. Created (mode 0700) if missing. Unset: `audit/` next to the
    /// store file.
    pub dir: PathBuf,
    /// Rotate `audit.log` when it would grow beyond this many bytes.
    pub max_file_bytes: u64,
    /// Durability of each batch.
    pub fsync: FsyncPolicy,
    /// How long a request waits for its event to be written before failing with
    /// AUDIT_UNAVAILABLE, in milliseconds.
    pub write_deadline_ms: u64,
    /// Also write every line to stdout (for container log shipping). Fail closed: a blocked or
    /// broken stdout fails requests like a full disk.
    pub stdout: bool,
    /// Write a signed checkpoint every this many seconds (0 = only at shutdown).
    pub checkpoint_interval_secs: u64,
    /// Group commit under load, in microseconds (0 = off): when the previous batch showed
    /// concurrent callers and few events are queued, the writer waits this long for more, so
    /// one write and fsync cover more events. A lone caller is never delayed.
    pub commit_delay_us: u64,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            // Empty: `ProxyConfig::audit_dir` puts the log next to the store.
            dir: PathBuf::new(),
            max_file_bytes: 64 * 1024 * 1024,
            fsync: FsyncPolicy::Always,
            write_deadline_ms: 2000,
            stdout: false,
            checkpoint_interval_secs: 60,
            commit_delay_us: writer::DEFAULT_COMMIT_DELAY_US,
        }
    }
}

impl AuditConfig {
    /// The write deadline.
    pub fn write_deadline(&self) -> Duration {
        Duration::from_millis(self.write_deadline_ms)
    }

    /// The writer's timing: write deadline and group-commit delay.
    pub fn timing(&self) -> writer::Timing {
        writer::Timing {
            deadline: self.write_deadline(),
            commit_delay: Duration::from_micros(self.commit_delay_us),
        }
    }
}

/// Where an event landed in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// Its seq.
    pub seq: u64,
    /// Its hash.
    pub hash: String,
}

/// Why an event could not be written. Every variant means: fail the request with
/// AUDIT_UNAVAILABLE.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// Not written within the deadline (blocked disk or sink, overload).
    #[error("audit event not written within {0:?}")]
    Deadline(Duration),
    /// A sink reported an error (disk full, permission denied, ...).
    #[error("audit write failed: {0}")]
    Io(String),
    /// The writer has stopped (shutdown, or a previous failure left the file in an unknown
    /// state).
    #[error("audit writer is not running: {0}")]
    Stopped(String),
    /// Opening the log failed.
    #[error("cannot open the audit log in {dir}: {why}")]
    Open {
        /// The audit directory.
        dir: PathBuf,
        /// What went wrong and what to do.
        why: String,
    },
}

impl AuditError {
    /// The catalogue error callers return.
    pub fn to_airlock(&self) -> airlock_shared::AirlockError {
        airlock_shared::AirlockError::new(
            airlock_shared::ErrorCode::AuditUnavailable,
            self.to_string(),
        )
    }
}

/// What the writer thread receives.
pub(crate) enum Msg {
    /// An event to write.
    Append(Box<Job>),
    /// Write what is queued, a final checkpoint, and stop; then acknowledge.
    Close(oneshot::Sender<()>),
    /// These records were written but their callers had already given up: write `audit.late`.
    Late(Vec<u64>),
    /// Wakes an idle writer so an interval checkpoint can cover the last record written.
    Tick,
}

pub(crate) struct Job {
    /// Serialized by the caller, so the single writer only frames and hashes.
    pub(crate) event: Prepared,
    pub(crate) deadline: std::time::Instant,
    pub(crate) ack: oneshot::Sender<Result<Receipt, AuditError>>,
}

/// The handle services use to append events. Cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::Sender<Msg>,
    deadline: Duration,
    fingerprints: Arc<FingerprintKey>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditLog")
            .field("deadline", &self.deadline)
            .finish_non_exhaustive()
    }
}

impl AuditLog {
    /// Opens (or creates) the log in `config.dir`, recovers the chain's end, and starts the
    /// writer thread. `fingerprint_key` keys the HMAC fingerprints; `checkpoint_key` signs
    /// checkpoints (none: no checkpoints).
    pub fn open(
        config: &AuditConfig,
        fingerprint_key: &SecretBytes,
        checkpoint_key: Option<Arc<Ed25519KeyPair>>,
    ) -> Result<(Self, writer::WriterHandle), AuditError> {
        let file = sink::FileSink::open(&config.dir, config.max_file_bytes, config.fsync)?;
        let mut sinks: Vec<Box<dyn sink::Sink>> = vec![Box::new(file)];
        if config.stdout {
            sinks.push(Box::new(sink::StdoutSink));
        }
        let state = recover::chain_end(&config.dir)?;
        let checkpoints = match checkpoint_key {
            Some(key) => Some(writer::Checkpointer::open(
                &config.dir,
                key,
                config.checkpoint_interval_secs,
            )?),
            None => None,
        };
        Ok(Self::start(
            sinks,
            state,
            checkpoints,
            config.timing(),
            fingerprint_key,
        ))
    }

    /// Starts a writer over arbitrary sinks (tests inject failing or blocking sinks).
    pub fn start(
        sinks: Vec<Box<dyn sink::Sink>>,
        state: recover::ChainEnd,
        checkpoints: Option<writer::Checkpointer>,
        timing: writer::Timing,
        fingerprint_key: &SecretBytes,
    ) -> (Self, writer::WriterHandle) {
        let (tx, rx) = mpsc::channel(4096);
        let acker = writer::Acker::new(tx.downgrade());
        let handle = writer::spawn(rx, acker, sinks, state, checkpoints, timing.commit_delay);
        (
            Self {
                tx,
                deadline: timing.deadline,
                fingerprints: Arc::new(FingerprintKey::new(fingerprint_key)),
            },
            handle,
        )
    }

    /// Appends `event` and waits until it is written (and fsynced, per policy), or fails within
    /// the deadline.
    pub async fn append(&self, event: AuditEvent) -> Result<Receipt, AuditError> {
        let deadline = std::time::Instant::now() + self.deadline;
        let (ack, done) = oneshot::channel();
        let job = Job {
            event: Prepared::new(&event),
            deadline,
            ack,
        };
        let wait = async {
            self.tx
                .send(Msg::Append(Box::new(job)))
                .await
                .map_err(|_| AuditError::Stopped("the writer has shut down".into()))?;
            done.await
                .map_err(|_| AuditError::Stopped("the writer dropped the event".into()))?
        };
        match tokio::time::timeout(self.deadline, wait).await {
            Ok(result) => result,
            Err(_) => Err(AuditError::Deadline(self.deadline)),
        }
    }

    /// Stops the writer after the events already queued (and a final checkpoint); later
    /// appends fail with [`AuditError::Stopped`]. Waits at most the write deadline.
    pub async fn close(&self) {
        let (ack, done) = oneshot::channel();
        if self.tx.send(Msg::Close(ack)).await.is_ok() {
            let _ = tokio::time::timeout(self.deadline, done).await;
        }
    }

    /// The write deadline.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// The audit fingerprint of a secret value (token, handle).
    pub fn fingerprint(&self, value: &[u8]) -> String {
        self.fingerprints.fingerprint(value)
    }
}

#[cfg(test)]
mod tests;
