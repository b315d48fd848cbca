//! The writer thread: takes every event waiting in the channel as one batch, drops events
//! whose callers already gave up, seals the rest into the chain, writes them through every sink
//! (all or nothing), then acknowledges each caller. Signed checkpoints follow batches at the
//! configured interval and at shutdown; while no event arrives, a timer task's ticks let the
//! writer checkpoint the last record within about one interval.

use std::{
    fs::{self, OpenOptions},
    io::Write as _,
    os::unix::fs::OpenOptionsExt as _,
    path::{Path, PathBuf},
    sync::Arc,
    time::{Duration, Instant},
};

use airlock_shared::audit::{
    chain::{seal, seal_prepared},
    checkpoint::{self, Checkpoint},
    format_ts,
};
use ring::signature::Ed25519KeyPair;
use tokio::sync::mpsc;

use super::{AuditError, Job, Msg, Receipt, recover::ChainEnd, sink::Sink};

/// Most events in one batch.
const MAX_BATCH: usize = 4096;

/// Default group-commit delay, microseconds (`[audit] commit_delay_us`).
pub const DEFAULT_COMMIT_DELAY_US: u64 = 400;

/// A previous batch at least this big means several callers are appending at once: only then
/// does the writer wait for more (PostgreSQL's `commit_siblings`, measured per batch).
const COMMIT_SIBLINGS: usize = 8;

/// With this many events already queued, the writer does not wait.
const COMMIT_FULL: usize = 32;

/// Ticks per checkpoint interval: an idle writer checkpoints the last record at most
/// 1 + 1/`TICKS_PER_INTERVAL` intervals after the previous checkpoint.
const TICKS_PER_INTERVAL: u32 = 10;

/// The writer's timing.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// How long a caller waits for its event before AUDIT_UNAVAILABLE.
    pub deadline: Duration,
    /// Group-commit delay under load (zero: never wait).
    pub commit_delay: Duration,
}

impl Timing {
    /// The given deadline, no commit delay (tests).
    pub fn deadline(deadline: Duration) -> Self {
        Self {
            deadline,
            commit_delay: Duration::ZERO,
        }
    }
}

/// Joins the writer thread.
#[derive(Debug)]
pub struct WriterHandle(Option<std::thread::JoinHandle<()>>);

impl WriterHandle {
    /// Waits for the writer to finish. It finishes once every [`super::AuditLog`] clone is
    /// dropped and the queue is drained (writing a final checkpoint).
    pub fn join(mut self) {
        if let Some(thread) = self.0.take() {
            let _ = thread.join();
        }
    }
}

/// Writes signed checkpoints to `audit.checkpoints` and publishes the public key as
/// `audit-checkpoint.pub`.
pub struct Checkpointer {
    path: PathBuf,
    key: Arc<Ed25519KeyPair>,
    interval: Option<Duration>,
    last: Instant,
    last_seq: u64,
}

impl Checkpointer {
    /// Prepares checkpoints in `dir`; `interval_secs` 0 means only at shutdown.
    pub fn open(
        dir: &Path,
        key: Arc<Ed25519KeyPair>,
        interval_secs: u64,
    ) -> Result<Self, AuditError> {
        let public = dir.join("audit-checkpoint.pub");
        fs::write(&public, checkpoint::public_key_hex(&key) + "\n").map_err(|e| {
            AuditError::Open {
                dir: dir.to_owned(),
                why: format!("cannot write {}: {e}", public.display()),
            }
        })?;
        let path = dir.join("audit.checkpoints");
        Self::cut_torn_line(&path).map_err(|e| AuditError::Open {
            dir: dir.to_owned(),
            why: format!("cannot repair a torn last line of {}: {e}", path.display()),
        })?;
        let interval = (interval_secs > 0).then(|| Duration::from_secs(interval_secs));
        Ok(Self {
            path,
            key,
            interval,
            last: Instant::now(),
            last_seq: 0,
        })
    }

    /// A crash while appending a checkpoint leaves the file without its final newline; the next
    /// checkpoint would be appended onto that fragment and both lines lost (and `audit verify
    /// --checkpoint` refuses the file). Cuts the file back to just after its last newline (to
    /// empty if it has none) and syncs it.
    fn cut_torn_line(path: &Path) -> std::io::Result<()> {
        let mut file = match OpenOptions::new().read(true).write(true).open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        let len = file.metadata()?.len();
        let keep = super::recover::end_of_last_complete_line(&mut file, len)?;
        if keep == len {
            return Ok(());
        }
        file.set_len(keep)?;
        file.sync_all()?;
        tracing::warn!(
            file = %path.display(),
            bytes = len - keep,
            "audit checkpoint file had a torn last line (crash during a write); cut it off"
        );
        Ok(())
    }

    /// How often an idle writer should check whether a checkpoint is due (none: only at
    /// shutdown).
    fn tick_period(&self) -> Option<Duration> {
        self.interval.map(|i| i / TICKS_PER_INTERVAL)
    }

    /// Writes a checkpoint for `end` when one is due (`force`: at shutdown) and the chain
    /// advanced since the last one.
    fn maybe_write(&mut self, end: &ChainEnd, force: bool) {
        let due = force || self.interval.is_some_and(|i| self.last.elapsed() >= i);
        if !due || end.seq == 0 || end.seq == self.last_seq {
            return;
        }
        let cp = Checkpoint {
            seq: end.seq,
            hash: end.hash.clone(),
            ts: format_ts(time::OffsetDateTime::now_utc()),
        };
        let line = checkpoint::sign(&cp, &self.key) + "\n";
        let written = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o644)
            .open(&self.path)
            .and_then(|mut f| f.write_all(line.as_bytes()).and_then(|()| f.sync_data()));
        match written {
            Ok(()) => {
                self.last = Instant::now();
                self.last_seq = end.seq;
            }
            // A missed checkpoint weakens tail detection but loses no event: log and go on.
            Err(e) => tracing::error!(error = %e, "cannot write an audit checkpoint"),
        }
    }
}

/// Answers the callers of a written batch. From inside the runtime (one task per batch, so
/// the wakes stay on the runtime's own queues instead of one cross-thread wake per caller)
/// when there is one; callers that already gave up are reported back as [`Msg::Late`].
pub(crate) struct Acker {
    runtime: Option<tokio::runtime::Handle>,
    writer: mpsc::WeakSender<Msg>,
}

impl Acker {
    pub(crate) fn new(writer: mpsc::WeakSender<Msg>) -> Self {
        Self {
            runtime: tokio::runtime::Handle::try_current().ok(),
            writer,
        }
    }

    /// Acknowledges `jobs`; returns the seqs of callers gone when answering inline.
    fn ack(&self, jobs: Vec<(Job, Receipt)>) -> Vec<u64> {
        let answer = |jobs: Vec<(Job, Receipt)>| -> Vec<u64> {
            jobs.into_iter()
                .filter_map(|(job, r)| {
                    let seq = r.seq;
                    job.ack.send(Ok(r)).err().map(|_| seq)
                })
                .collect()
        };
        let Some(rt) = &self.runtime else {
            return answer(jobs);
        };
        let writer = self.writer.clone();
        rt.spawn(async move {
            let late = answer(jobs);
            if let (false, Some(tx)) = (late.is_empty(), writer.upgrade()) {
                // The writer may be gone (shutdown) or full; the seqs are also logged.
                if tx.try_send(Msg::Late(late.clone())).is_err() {
                    tracing::error!(?late, "audit events written after their callers gave up");
                }
            }
        });
        Vec::new()
    }
}

/// Sends [`Msg::Tick`] every `period` until the writer is gone. Holds only a weak sender, so
/// it never keeps the writer alive; a full queue skips the tick (the writer is busy and checks
/// after every batch anyway).
async fn tick(writer: mpsc::WeakSender<Msg>, period: Duration) {
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let Some(tx) = writer.upgrade() else {
            return;
        };
        if let Err(mpsc::error::TrySendError::Closed(_)) = tx.try_send(Msg::Tick) {
            return;
        }
    }
}

/// Starts the writer thread, and with interval checkpoints and a runtime, the task that ticks
/// it while idle (without a runtime, interval checkpoints follow batches only).
pub(crate) fn spawn(
    rx: mpsc::Receiver<Msg>,
    acker: Acker,
    sinks: Vec<Box<dyn Sink>>,
    end: ChainEnd,
    checkpoints: Option<Checkpointer>,
    commit_delay: Duration,
) -> WriterHandle {
    if let (Some(period), Some(rt)) = (
        checkpoints.as_ref().and_then(Checkpointer::tick_period),
        &acker.runtime,
    ) {
        rt.spawn(tick(acker.writer.clone(), period));
    }
    let thread = std::thread::Builder::new()
        .name("airlock-audit".into())
        .spawn(move || run(rx, acker, sinks, end, checkpoints, commit_delay))
        .ok();
    WriterHandle(thread)
}

/// What one round of the writer collected.
#[derive(Default)]
struct Collected {
    batch: Vec<Job>,
    late: Vec<u64>,
    closed: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Collected {
    /// Takes `first` and then everything already queued (up to [`MAX_BATCH`], stopping at a
    /// close request).
    fn drain(&mut self, rx: &mut mpsc::Receiver<Msg>, first: Option<Msg>) {
        let mut next = first.or_else(|| rx.try_recv().ok());
        while let Some(msg) = next.take() {
            match msg {
                Msg::Append(job) => self.batch.push(*job),
                Msg::Late(seqs) => self.late.extend(seqs),
                Msg::Tick => {}
                Msg::Close(ack) => {
                    self.closed = Some(ack);
                    return;
                }
            }
            if self.batch.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
    }
}

fn run(
    mut rx: mpsc::Receiver<Msg>,
    acker: Acker,
    mut sinks: Vec<Box<dyn Sink>>,
    mut end: ChainEnd,
    mut checkpoints: Option<Checkpointer>,
    commit_delay: Duration,
) {
    let mut closed = None;
    let mut last_batch = 0;
    while let Some(first) = rx.blocking_recv() {
        let mut c = Collected::default();
        c.drain(&mut rx, Some(first));
        if c.batch.is_empty() && c.late.is_empty() && c.closed.is_none() {
            // Only ticks: nothing to write, but an interval checkpoint may be due. The
            // group-commit heuristic keeps the size of the last real batch.
            if let Some(cp) = checkpoints.as_mut() {
                cp.maybe_write(&end, false);
            }
            continue;
        }
        // Group commit under load: callers are arriving concurrently, so waiting a moment
        // lets this write and fsync cover many more of them. Never for a lone caller.
        if !commit_delay.is_zero()
            && c.closed.is_none()
            && last_batch >= COMMIT_SIBLINGS
            && c.batch.len() < COMMIT_FULL
        {
            std::thread::sleep(commit_delay);
            c.drain(&mut rx, None);
        }
        last_batch = c.batch.len();
        if !c.late.is_empty() {
            write_late(&c.late, &mut sinks, &mut end);
        }
        write_batch(c.batch, &acker, &mut sinks, &mut end);
        if c.closed.is_some() {
            closed = c.closed;
            break;
        }
        if let Some(cp) = checkpoints.as_mut() {
            cp.maybe_write(&end, false);
        }
    }
    // Refuse everything still queued or sent later: their callers fail closed.
    rx.close();
    if let Some(cp) = checkpoints.as_mut() {
        cp.maybe_write(&end, true);
    }
    if let Some(ack) = closed {
        let _ = ack.send(());
    }
}

fn write_batch(batch: Vec<Job>, acker: &Acker, sinks: &mut [Box<dyn Sink>], end: &mut ChainEnd) {
    let now = Instant::now();
    // A caller whose deadline passed was already told AUDIT_UNAVAILABLE and did not act:
    // recording its event would claim something that did not happen.
    let (live, expired): (Vec<Job>, Vec<Job>) = batch
        .into_iter()
        .partition(|j| j.deadline > now && !j.ack.is_closed());
    drop(expired);
    if live.is_empty() {
        return;
    }
    let ts = format_ts(time::OffsetDateTime::now_utc());
    let mut prev = end.hash.clone();
    let mut receipts = Vec::with_capacity(live.len());
    let lines: Vec<String> = live
        .iter()
        .enumerate()
        .map(|(i, job)| {
            let seq = end.seq + 1 + i as u64;
            let (line, hash) = seal_prepared(&job.event, seq, &ts, &prev);
            prev = hash.clone();
            receipts.push(Receipt { seq, hash });
            line
        })
        .collect();
    let first_seq = end.seq + 1;
    let mut result = Ok(());
    for (i, sink) in sinks.iter_mut().enumerate() {
        if let Err(e) = sink.write_batch(first_seq, &lines) {
            result = Err(e);
            break;
        }
        if i == 0 {
            // The primary file holds the records now: the chain has advanced even if a
            // secondary sink (stdout) fails below.
            if let Some(last) = receipts.last() {
                *end = ChainEnd {
                    seq: last.seq,
                    hash: last.hash.clone(),
                };
            }
        }
    }
    match result {
        Ok(()) => {
            let late = acker.ack(live.into_iter().zip(receipts).collect());
            if !late.is_empty() {
                write_late(&late, sinks, end);
            }
        }
        Err(e) => {
            tracing::error!(error = %e, events = live.len(), "audit write failed; refusing the requests");
            for job in live {
                let _ = job.ack.send(Err(AuditError::Io(e.to_string())));
            }
            // The file holds them but a secondary sink failed: their callers were refused.
            if end.seq >= first_seq {
                let seqs: Vec<u64> = receipts.iter().map(|r| r.seq).collect();
                write_late(&seqs, sinks, end);
            }
        }
    }
}

/// Events that reached the log only after their callers gave up (a sink blocked past the
/// deadline): those callers were refused with AUDIT_UNAVAILABLE and did not act, so one
/// `audit.late` record says so, keeping the log truthful.
fn write_late(seqs: &[u64], sinks: &mut [Box<dyn Sink>], end: &mut ChainEnd) {
    use airlock_shared::audit::{Actor, AuditEvent, Outcome};
    let mut ev = AuditEvent::new(super::names::AUDIT_LATE, Actor::default(), Outcome::Error);
    ev.reason = Some(
        airlock_shared::ErrorCode::AuditUnavailable
            .reason()
            .to_owned(),
    );
    let list: Vec<String> = seqs.iter().map(u64::to_string).collect();
    ev.details.insert("refused_seqs".into(), list.join(","));
    let seq = end.seq + 1;
    let (line, hash) = seal(
        &ev,
        seq,
        format_ts(time::OffsetDateTime::now_utc()),
        &end.hash,
    );
    for (i, sink) in sinks.iter_mut().enumerate() {
        if let Err(e) = sink.write_batch(seq, std::slice::from_ref(&line)) {
            tracing::error!(error = %e, "cannot write audit.late");
            return;
        }
        if i == 0 {
            *end = ChainEnd {
                seq,
                hash: hash.clone(),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use ring::rand::SystemRandom;

    use super::*;

    fn key() -> Arc<Ed25519KeyPair> {
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&SystemRandom::new()).unwrap();
        Arc::new(Ed25519KeyPair::from_pkcs8(pkcs8.as_ref()).unwrap())
    }

    fn end(seq: u64) -> ChainEnd {
        ChainEnd {
            seq,
            hash: format!("{seq:064x}"),
        }
    }

    /// A crash mid-checkpoint leaves a fragment without a newline: reopening cuts it off, so
    /// the next checkpoint is a line of its own and the file verifies.
    #[test]
    fn a_torn_checkpoint_line_is_cut_off_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let k = key();
        let public = checkpoint::parse_public_key(&checkpoint::public_key_hex(&k)).unwrap();
        let path = dir.path().join("audit.checkpoints");
        let mut cp = Checkpointer::open(dir.path(), k.clone(), 0).unwrap();
        cp.maybe_write(&end(3), true);
        let first = fs::read_to_string(&path).unwrap();
        assert_eq!(first.lines().count(), 1);
        // The next checkpoint was cut short by a crash.
        let torn = checkpoint::sign(
            &Checkpoint {
                seq: 5,
                hash: end(5).hash,
                ts: "2026-11-26T04:00:00.000000Z".into(),
            },
            &k,
        );
        fs::write(&path, format!("{first}{}", &torn[..torn.len() / 2])).unwrap();
        let mut cp = Checkpointer::open(dir.path(), k.clone(), 0).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), first);
        cp.maybe_write(&end(7), true);
        let text = fs::read_to_string(&path).unwrap();
        let seqs: Vec<u64> = text
            .lines()
            .map(|l| checkpoint::verify(l, &public).unwrap().seq)
            .collect();
        assert_eq!(seqs, [3, 7]);
        // A fragment with no newline before it at all: the file is emptied.
        fs::write(&path, &torn[..10]).unwrap();
        Checkpointer::open(dir.path(), k.clone(), 0).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"");
        // An intact file and a missing one are left alone.
        fs::write(&path, &text).unwrap();
        Checkpointer::open(dir.path(), k.clone(), 0).unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), text);
        fs::remove_file(&path).unwrap();
        Checkpointer::open(dir.path(), k, 0).unwrap();
        assert!(!path.exists());
    }
}
