use std::{
    io,
    path::Path,
    sync::{Arc, Condvar, Mutex},
    time::{Duration, Instant},
};

use airlock_shared::audit::{
    Actor, AuditEvent, Outcome,
    chain::{Anchors, verify_files},
    checkpoint,
};
use ring::{rand::SystemRandom, signature::Ed25519KeyPair};

use super::{sink::Sink, *};

fn key() -> SecretBytes {
    SecretBytes::copy_from(&[7; 32])
}

fn config(dir: &Path) -> AuditConfig {
    AuditConfig {
        dir: dir.to_owned(),
        write_deadline_ms: 2000,
        checkpoint_interval_secs: 0,
        ..Default::default()
    }
}

fn event(n: usize) -> AuditEvent {
    let mut e = AuditEvent::new(
        "token.issued",
        Actor {
            spiffe_id: Some("spiffe://airlock.local/worker/w".into()),
            ..Default::default()
        },
        Outcome::Allowed,
    );
    e.job_id = Some(format!("job-{n}"));
    e
}

fn verify(dir: &Path) -> airlock_shared::audit::chain::Summary {
    verify_files(&sink::log_files(dir).unwrap(), &Anchors::default())
        .unwrap_or_else(|f| panic!("{f}"))
}

/// A log over one sink, continuing from `end`, with a 2 s deadline and no commit delay.
fn start_over(
    sink: impl Sink + 'static,
    end: recover::ChainEnd,
) -> (AuditLog, writer::WriterHandle) {
    AuditLog::start(
        vec![Box::new(sink)],
        end,
        None,
        writer::Timing::deadline(Duration::from_secs(2)),
        &key(),
    )
}

#[tokio::test]
async fn appends_are_chained_and_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (log, writer) = AuditLog::open(&config(dir.path()), &key(), None).unwrap();
    for i in 1..=3 {
        assert_eq!(log.append(event(i)).await.unwrap().seq, i as u64);
    }
    drop(log);
    writer.join();
    let (log, writer) = AuditLog::open(&config(dir.path()), &key(), None).unwrap();
    assert_eq!(log.append(event(4)).await.unwrap().seq, 4);
    drop(log);
    writer.join();
    assert_eq!(verify(dir.path()).records, 4);
}

#[tokio::test]
async fn a_torn_last_line_is_moved_aside_and_the_chain_continues() {
    let dir = tempfile::tempdir().unwrap();
    let (log, writer) = AuditLog::open(&config(dir.path()), &key(), None).unwrap();
    log.append(event(1)).await.unwrap();
    drop(log);
    writer.join();
    let path = dir.path().join("audit.log");
    let mut text = std::fs::read(&path).unwrap();
    text.extend_from_slice(b"{\"seq\":2,\"ts\":\"2026-");
    std::fs::write(&path, text).unwrap();
    let (log, writer) = AuditLog::open(&config(dir.path()), &key(), None).unwrap();
    assert_eq!(log.append(event(2)).await.unwrap().seq, 2);
    drop(log);
    writer.join();
    assert_eq!(verify(dir.path()).records, 2);
    let torn: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("torn"))
        .collect();
    assert_eq!(torn.len(), 1);
}

#[tokio::test]
async fn an_edited_last_record_stops_the_proxy_from_writing_on() {
    let dir = tempfile::tempdir().unwrap();
    let (log, writer) = AuditLog::open(&config(dir.path()), &key(), None).unwrap();
    log.append(event(1)).await.unwrap();
    drop(log);
    writer.join();
    let path = dir.path().join("audit.log");
    std::fs::write(
        &path,
        std::fs::read_to_string(&path)
            .unwrap()
            .replace("job-1", "job-2"),
    )
    .unwrap();
    let err = AuditLog::open(&config(dir.path()), &key(), None).unwrap_err();
    assert!(err.to_string().contains("audit verify"), "{err}");
}

#[tokio::test]
async fn rotation_keeps_one_chain_across_files() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = AuditConfig {
        max_file_bytes: 4096,
        ..config(dir.path())
    };
    let (log, writer) = AuditLog::open(&cfg, &key(), None).unwrap();
    for i in 1..=60 {
        log.append(event(i)).await.unwrap();
    }
    drop(log);
    writer.join();
    let files = sink::log_files(dir.path()).unwrap();
    assert!(files.len() > 2, "{files:?}");
    assert_eq!(verify(dir.path()).records, 60);
}

#[tokio::test]
async fn fsync_never_still_writes_every_acknowledged_event_and_rotates() {
    // The config spelling `fsync = "never"`.
    let parsed: AuditConfig = serde_json::from_str(r#"{"fsync":"never"}"#).unwrap();
    assert_eq!(parsed.fsync, FsyncPolicy::Never);

    // Without rotation: every acknowledged event is in audit.log, in one valid chain.
    let dir = tempfile::tempdir().unwrap();
    let cfg = AuditConfig {
        fsync: FsyncPolicy::Never,
        ..config(dir.path())
    };
    let (log, writer) = AuditLog::open(&cfg, &key(), None).unwrap();
    for i in 1..=5 {
        assert_eq!(log.append(event(i)).await.unwrap().seq, i as u64);
    }
    // Acknowledged means in the file already, before the writer stops.
    let text = std::fs::read_to_string(dir.path().join("audit.log")).unwrap();
    assert_eq!(text.lines().count(), 5);
    assert!(text.lines().last().unwrap().contains("job-5"));
    drop(log);
    writer.join();
    assert_eq!(verify(dir.path()).records, 5);

    // With rotation (small files): one chain across several files.
    let dir = tempfile::tempdir().unwrap();
    let cfg = AuditConfig {
        fsync: FsyncPolicy::Never,
        max_file_bytes: 4096,
        ..config(dir.path())
    };
    let (log, writer) = AuditLog::open(&cfg, &key(), None).unwrap();
    for i in 1..=60 {
        assert_eq!(log.append(event(i)).await.unwrap().seq, i as u64);
    }
    drop(log);
    writer.join();
    let files = sink::log_files(dir.path()).unwrap();
    assert!(files.len() > 2, "{files:?}");
    assert_eq!(verify(dir.path()).records, 60);
}

#[tokio::test]
async fn ten_thousand_concurrent_appends_make_one_valid_chain() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = AuditConfig {
        write_deadline_ms: 30_000,
        ..config(dir.path())
    };
    let (log, writer) = AuditLog::open(&cfg, &key(), None).unwrap();
    let tasks: Vec<_> = (0..10_000)
        .map(|i| {
            let log = log.clone();
            tokio::spawn(async move { log.append(event(i)).await.map(|r| r.seq) })
        })
        .collect();
    let mut seqs = Vec::new();
    for t in tasks {
        seqs.push(t.await.unwrap().unwrap());
    }
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=10_000).collect::<Vec<u64>>());
    drop(log);
    writer.join();
    assert_eq!(verify(dir.path()).records, 10_000);
}

#[tokio::test]
async fn an_unwritable_audit_directory_refuses_to_open() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, "x").unwrap();
    let err = AuditLog::open(&config(&blocker.join("audit")), &key(), None).unwrap_err();
    assert!(matches!(err, AuditError::Open { .. }), "{err}");
}

#[tokio::test]
async fn a_full_disk_fails_every_append_quickly() {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/dev/full", dir.path().join("audit.log")).unwrap();
    let (log, _writer) = AuditLog::open(&config(dir.path()), &key(), None).unwrap();
    let started = Instant::now();
    for i in 0..3 {
        let err = log.append(event(i)).await.unwrap_err();
        assert!(matches!(err, AuditError::Io(_)), "{err}");
        assert_eq!(
            err.to_airlock().code(),
            airlock_shared::ErrorCode::AuditUnavailable
        );
    }
    assert!(started.elapsed() < Duration::from_secs(2));
}

/// Recovery cuts a torn tail after the file sink has opened the file; a write that then fails
/// must roll back to the file's real end, not to the length the sink saw at open (which
/// would leave part of the failed batch, or zeros, in front of the next record).
#[tokio::test]
async fn a_failed_write_after_a_torn_tail_rolls_back_to_the_real_end() {
    let dir = tempfile::tempdir().unwrap();
    let (log, writer) = AuditLog::open(&config(dir.path()), &key(), None).unwrap();
    log.append(event(1)).await.unwrap();
    drop(log);
    writer.join();
    let path = dir.path().join("audit.log");
    let mut text = std::fs::read(&path).unwrap();
    text.extend_from_slice(br#"{"seq":2,"ts":"2026-11-26T10:00:00.000000Z","event":"tok"#);
    std::fs::write(&path, text).unwrap();
    // The order AuditLog::open uses: the sink opens the file, then recovery cuts the tail.
    let mut file = sink::FileSink::open(dir.path(), 1 << 20, FsyncPolicy::Always).unwrap();
    let end = recover::chain_end(dir.path()).unwrap();
    file.faults.write = true;
    let (log, writer) = start_over(file, end);
    assert!(log.append(event(2)).await.is_err(), "the injected failure");
    assert_eq!(log.append(event(3)).await.unwrap().seq, 2);
    drop(log);
    writer.join();
    assert_eq!(verify(dir.path()).records, 2);
}

/// A rotation that renamed audit.log but then failed (here: syncing the directory) must leave
/// the sink writing to the new file; retrying the rotation used to rename the new, empty
/// audit.log over the file just rotated, destroying acknowledged records.
#[tokio::test]
async fn a_rotation_that_fails_late_never_overwrites_the_rotated_file() {
    let dir = tempfile::tempdir().unwrap();
    let mut file = sink::FileSink::open(dir.path(), 4096, FsyncPolicy::Always).unwrap();
    file.faults.dir_sync = true;
    let (log, writer) = start_over(file, recover::ChainEnd::genesis());
    let (mut acknowledged, mut failed) = (0, 0);
    for i in 0..60 {
        match log.append(event(i)).await {
            Ok(_) => acknowledged += 1,
            Err(_) => failed += 1,
        }
    }
    drop(log);
    writer.join();
    assert_eq!(
        failed, 1,
        "only the batch of the failed rotation is refused"
    );
    let files = sink::log_files(dir.path()).unwrap();
    assert!(files.len() > 2, "rotated more than once: {}", files.len());
    assert_eq!(verify(dir.path()).records, acknowledged);
}

/// A sink that fails while `fail` is set, then recovers.
struct Flaky(Arc<Mutex<bool>>, Arc<Mutex<Vec<String>>>);

impl Sink for Flaky {
    fn write_batch(&mut self, _first: u64, lines: &[String]) -> io::Result<()> {
        if *self.0.lock().unwrap() {
            return Err(io::Error::new(
                io::ErrorKind::StorageFull,
                "No space left on device",
            ));
        }
        self.1.lock().unwrap().extend(lines.iter().cloned());
        Ok(())
    }
}

#[tokio::test]
async fn after_a_failure_the_chain_continues_without_a_gap() {
    let fail = Arc::new(Mutex::new(false));
    let lines = Arc::new(Mutex::new(vec![]));
    let (log, _w) = start_over(
        Flaky(fail.clone(), lines.clone()),
        recover::ChainEnd::genesis(),
    );
    log.append(event(1)).await.unwrap();
    *fail.lock().unwrap() = true;
    assert!(log.append(event(2)).await.is_err());
    *fail.lock().unwrap() = false;
    assert_eq!(
        log.append(event(3)).await.unwrap().seq,
        2,
        "the failed event took no seq"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("audit.log"),
        lines.lock().unwrap().join("\n") + "\n",
    )
    .unwrap();
    assert_eq!(verify(dir.path()).records, 2);
}

/// A gate test sinks wait at until the test opens it.
type Gate = Arc<(Mutex<bool>, Condvar)>;

fn wait_open(gate: &Gate) {
    let (lock, cv) = &**gate;
    let mut open = lock.lock().unwrap();
    while !*open {
        open = cv.wait(open).unwrap();
    }
}

fn open_gate(gate: &Gate) {
    let (lock, cv) = &**gate;
    *lock.lock().unwrap() = true;
    cv.notify_all();
}

/// A sink that blocks until released.
struct Blocking(Gate, Arc<Mutex<Vec<String>>>);

impl Sink for Blocking {
    fn write_batch(&mut self, _first: u64, lines: &[String]) -> io::Result<()> {
        wait_open(&self.0);
        self.1.lock().unwrap().extend(lines.iter().cloned());
        Ok(())
    }
}

#[tokio::test]
async fn a_blocked_sink_fails_requests_at_the_deadline_and_records_nothing_for_them() {
    let gate = Arc::new((Mutex::new(false), Condvar::new()));
    let lines = Arc::new(Mutex::new(vec![]));
    let deadline = Duration::from_millis(200);
    let (log, _w) = AuditLog::start(
        vec![Box::new(Blocking(gate.clone(), lines.clone()))],
        recover::ChainEnd::genesis(),
        None,
        writer::Timing::deadline(deadline),
        &key(),
    );
    let started = Instant::now();
    let first = log.append(event(1)).await.unwrap_err();
    assert!(matches!(first, AuditError::Deadline(_)), "{first}");
    // Queued behind the blocked write: also refused within the deadline, never hanging.
    let second = log.append(event(2)).await.unwrap_err();
    assert!(matches!(second, AuditError::Deadline(_)));
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    // Unblock: the first batch (already being written) lands, followed by an `audit.late`
    // record naming it (its caller was refused); the expired second is dropped.
    open_gate(&gate);
    log.append(event(3)).await.unwrap();
    let mut written = lines.lock().unwrap().clone();
    for _ in 0..100 {
        if written.len() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        written = lines.lock().unwrap().clone();
    }
    assert_eq!(written.len(), 3);
    let late: Vec<_> = written
        .iter()
        .filter(|l| l.contains(r#""event":"audit.late""#))
        .collect();
    assert_eq!(late.len(), 1);
    assert!(late[0].contains(r#""refused_seqs":"1""#), "{}", late[0]);
    assert!(
        written.iter().all(|l| !l.contains("job-2")),
        "an expired event was recorded"
    );
}

#[tokio::test]
async fn checkpoints_anchor_the_tail() {
    let dir = tempfile::tempdir().unwrap();
    let k = Arc::new(
        Ed25519KeyPair::from_pkcs8(
            Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                .unwrap()
                .as_ref(),
        )
        .unwrap(),
    );
    let (log, writer) = AuditLog::open(&config(dir.path()), &key(), Some(k)).unwrap();
    for i in 1..=5 {
        log.append(event(i)).await.unwrap();
    }
    drop(log);
    writer.join();
    let public = checkpoint::parse_public_key(
        &std::fs::read_to_string(dir.path().join("audit-checkpoint.pub")).unwrap(),
    )
    .unwrap();
    let line = std::fs::read_to_string(dir.path().join("audit.checkpoints")).unwrap();
    let cp = checkpoint::verify(line.lines().last().unwrap(), &public).unwrap();
    assert_eq!(cp.seq, 5);
    let anchors = Anchors {
        checkpoints: [(cp.seq, cp.hash)].into(),
        ..Default::default()
    };
    let path = dir.path().join("audit.log");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.lines().take(4).collect::<Vec<_>>().join("\n") + "\n",
    )
    .unwrap();
    let err = verify_files(&sink::log_files(dir.path()).unwrap(), &anchors).unwrap_err();
    assert!(err.problem.contains("truncated"), "{err}");
}

/// The checkpoints in `dir`'s `audit.checkpoints`, verified with its published key.
fn checkpoint_seqs(dir: &Path) -> Vec<u64> {
    let public = checkpoint::parse_public_key(
        &std::fs::read_to_string(dir.join("audit-checkpoint.pub")).unwrap(),
    )
    .unwrap();
    std::fs::read_to_string(dir.join("audit.checkpoints"))
        .unwrap_or_default()
        .lines()
        .map(|l| checkpoint::verify(l, &public).unwrap().seq)
        .collect()
}

#[tokio::test]
async fn an_idle_writer_checkpoints_the_tail_within_an_interval() {
    let dir = tempfile::tempdir().unwrap();
    let k = Arc::new(
        Ed25519KeyPair::from_pkcs8(
            Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
                .unwrap()
                .as_ref(),
        )
        .unwrap(),
    );
    let cfg = AuditConfig {
        checkpoint_interval_secs: 1,
        ..config(dir.path())
    };
    let (log, writer) = AuditLog::open(&cfg, &key(), Some(k)).unwrap();
    let started = Instant::now();
    let receipt = log.append(event(1)).await.unwrap();
    // No further event: the checkpoint for seq 1 must still appear (about 1 s after opening;
    // 10 s is a generous bound for a loaded machine).
    let mut seqs = checkpoint_seqs(dir.path());
    while seqs.is_empty() && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        seqs = checkpoint_seqs(dir.path());
    }
    assert_eq!(seqs, [receipt.seq], "no checkpoint while idle");
    // Nothing new: the ticks that follow write no further checkpoint.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(checkpoint_seqs(dir.path()), [1]);
    // Shutdown still checkpoints the new tail, and the writer exits once the log is dropped
    // (the ticking task does not keep it alive).
    log.append(event(2)).await.unwrap();
    drop(log);
    writer.join();
    let seqs = checkpoint_seqs(dir.path());
    assert_eq!(seqs, [1, 2]);
}

#[tokio::test]
async fn fingerprints_are_keyed_and_never_the_value() {
    let dir = tempfile::tempdir().unwrap();
    let (log, _w) = AuditLog::open(&config(dir.path()), &key(), None).unwrap();
    let fp = log.fingerprint(b"eyJ.secret.token");
    assert!(fp.starts_with("hmac-sha256:") && !fp.contains("secret"));
}

/// Records the size of every batch; holds writes while `gate` is closed; counts batches that
/// reached it.
struct Batches(
    Gate,
    Arc<Mutex<Vec<usize>>>,
    Arc<std::sync::atomic::AtomicUsize>,
);

impl Sink for Batches {
    fn write_batch(&mut self, _first: u64, lines: &[String]) -> io::Result<()> {
        self.2.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        wait_open(&self.0);
        self.1.lock().unwrap().push(lines.len());
        Ok(())
    }
}

/// Batch sizes for: one event (blocked) with 9 queued behind it, then two events 300 ms apart.
async fn batch_sizes(commit_delay: Duration) -> Vec<usize> {
    let gate: Gate = Arc::new((Mutex::new(false), Condvar::new()));
    let sizes = Arc::new(Mutex::new(vec![]));
    let entered = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let (log, _w) = AuditLog::start(
        vec![Box::new(Batches(
            gate.clone(),
            sizes.clone(),
            entered.clone(),
        ))],
        recover::ChainEnd::genesis(),
        None,
        writer::Timing {
            deadline: Duration::from_secs(10),
            commit_delay,
        },
        &key(),
    );
    let spawn = |i| {
        let log = log.clone();
        tokio::spawn(async move { log.append(event(i)).await.map(|r| r.seq) })
    };
    let mut calls = vec![spawn(0)];
    // The first reaches the (blocked) sink alone; then nine queue behind it.
    while entered.load(std::sync::atomic::Ordering::SeqCst) == 0 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    calls.extend((1..10).map(spawn));
    tokio::time::sleep(Duration::from_millis(200)).await;
    open_gate(&gate);
    for c in calls.drain(..) {
        c.await.unwrap().unwrap();
    }
    // The previous batch (nine) showed concurrent callers: with a delay, the writer waits
    // and the second event, 300 ms later, joins the first one's batch. (The gap leaves a
    // loaded machine time to write the first alone when there is no delay.)
    let a = spawn(10);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let b = spawn(11);
    a.await.unwrap().unwrap();
    b.await.unwrap().unwrap();
    sizes.lock().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_load_the_writer_waits_briefly_to_group_more_events() {
    assert_eq!(batch_sizes(Duration::from_secs(3)).await, [1, 9, 2]);
    assert_eq!(batch_sizes(Duration::ZERO).await, [1, 9, 1, 1]);
}

#[tokio::test]
async fn a_lone_caller_is_never_delayed_by_group_commit() {
    let lines = Arc::new(Mutex::new(vec![]));
    let (log, _w) = AuditLog::start(
        vec![Box::new(Flaky(Arc::new(Mutex::new(false)), lines.clone()))],
        recover::ChainEnd::genesis(),
        None,
        // A delay far beyond the deadline: any wait would fail the appends.
        writer::Timing {
            deadline: Duration::from_millis(500),
            commit_delay: Duration::from_secs(30),
        },
        &key(),
    );
    for i in 1..=20 {
        assert_eq!(log.append(event(i)).await.unwrap().seq, i as u64);
    }
    assert_eq!(lines.lock().unwrap().len(), 20);
}
