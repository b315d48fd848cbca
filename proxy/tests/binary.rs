//! The thin binary: `init` creates files and refuses to overwrite; `serve --check-config`
//! accepts a good config and exits 64 on a bad one; `serve` with `[audit] stdout = true`
//! prints exactly the audit log on stdout.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

mod common;

use std::io::{BufRead as _, Read as _};
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use airlock_proto as pb;
use airlock_proto::audit_service_client::AuditServiceClient;
use airlock_shared::audit::AuditRecord;
use airlock_shared::audit::chain::{Anchors, verify_files};
use common::server::{ADMIN, W1};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_airlock-proxy"));
    c.env("AIRLOCK_LOG_FORMAT", "human");
    c
}

fn write_config(dir: &std::path::Path) -> std::path::PathBuf {
    write_config_with_pki(dir).0
}

/// The config and the PKI that issued the proxy's certificate (for client certificates).
fn write_config_with_pki(dir: &std::path::Path) -> (std::path::PathBuf, common::pki::TestPki) {
    let pki = common::pki::TestPki::new(dir);
    let tls = pki.leaf("proxy", "spiffe://airlock.local/proxy/p1", true);
    std::fs::write(
        dir.join("policy.toml"),
        airlock_shared::policy::default_policy_toml("airlock.local"),
    )
    .unwrap();
    let text = format!(
        "listen = \"127.0.0.1:0\"\npolicy_file = \"{d}/policy.toml\"\n[tls]\nca = \"{}\"\ncert = \"{}\"\nkey = \"{}\"\n[store]\npath = \"{d}/proxy.db\"\nmaster_key_file = \"{d}/master.key\"\n",
        tls.ca.display(),
        tls.cert.display(),
        tls.key.display(),
        d = dir.display()
    );
    let path = dir.join("proxy.toml");
    std::fs::write(&path, text).unwrap();
    (path, pki)
}

#[test]
fn init_then_check_config_and_refusals() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path());
    let out = bin().args(["init", "--config"]).arg(&cfg).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = std::fs::metadata(dir.path().join("master.key"))
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(
        std::fs::metadata(dir.path().join("master.key"))
            .unwrap()
            .len(),
        32
    );

    let again = bin().args(["init", "--config"]).arg(&cfg).output().unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("refusing to overwrite"));

    let check = bin()
        .args(["serve", "--check-config", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );

    std::fs::set_permissions(
        dir.path().join("master.key"),
        std::fs::Permissions::from_mode(0o644),
    )
    .unwrap();
    let loose = bin()
        .args(["serve", "--check-config", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(loose.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&loose.stderr).contains("chmod 600"));
}

#[test]
fn bad_config_exits_64_with_every_problem() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(dir.path());
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("policy.toml", "nope.toml")
        + "surprise = true\n";
    std::fs::write(&cfg, text).unwrap();
    let out = bin()
        .args(["serve", "--check-config", "--config"])
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(64));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("surprise") && err.contains("policy_file"),
        "{err}"
    );
}

/// A child process killed (and reaped) if the test fails before stopping it.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The address in the JSON log line `airlock-proxy serving`.
fn serving_addr(line: &str) -> Option<std::net::SocketAddr> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    let fields = v.get("fields")?;
    if fields.get("message")?.as_str()? != "airlock-proxy serving" {
        return None;
    }
    fields.get("addr")?.as_str()?.parse().ok()
}

/// An mTLS AuditService client for `spiffe` (certificate issued by `pki`).
async fn auditor(
    pki: &common::pki::TestPki,
    addr: std::net::SocketAddr,
    name: &str,
    spiffe: &str,
) -> AuditServiceClient<tonic::transport::Channel> {
    let cfg = airlock_shared::tls::client_config(&pki.leaf(name, spiffe, false)).unwrap();
    let url = format!("https://localhost:{}", addr.port());
    AuditServiceClient::new(airlock_shared::tls::connect(&url, cfg).await.unwrap())
}

/// `[audit] stdout = true` (container log shipping): the real binary prints every audit line on
/// stdout, byte-identical to `audit.log` and in the same order. Logs go to stderr, so stdout
/// holds nothing else: the whole of it must equal the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_audit_stdout_prints_exactly_the_audit_lines() {
    let dir = tempfile::tempdir().unwrap();
    let (cfg, pki) = write_config_with_pki(dir.path());
    let audit_dir = dir.path().join("audit");
    let text = std::fs::read_to_string(&cfg).unwrap()
        + &format!(
            "[audit]\ndir = \"{}\"\nstdout = true\nfsync = \"never\"\ncheckpoint_interval_secs = 0\n",
            audit_dir.display()
        );
    std::fs::write(&cfg, text).unwrap();
    let init = bin().args(["init", "--config"]).arg(&cfg).output().unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );

    let mut proc = Proc(
        bin()
            .env("AIRLOCK_LOG_FORMAT", "json")
            .args(["serve", "--config"])
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Drain both pipes from the start: a full stdout pipe would block the audit writer.
    let mut stdout = proc.0.stdout.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        stdout.read_to_end(&mut bytes).unwrap();
        bytes
    });
    let stderr = proc.0.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let err = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr).lines() {
            let line = line.unwrap();
            if let Some(addr) = serving_addr(&line) {
                let _ = tx.send(addr);
            }
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let Ok(addr) = rx.recv_timeout(Duration::from_secs(60)) else {
        drop(proc);
        panic!("the proxy did not start serving:\n{}", err.join().unwrap());
    };

    // Two audited calls: an allowed AuditHash (audit.hash) and a refused one (access.denied).
    let mut admin = auditor(&pki, addr, "admin", ADMIN).await;
    let req = pb::AuditHashRequest {
        value: "TEST-ONLY audit stdout value".into(),
    };
    let allowed = admin.audit_hash(req.clone()).await;
    assert!(
        allowed.is_ok(),
        "AuditHash failed: {:?}",
        allowed.err().map(|s| s.code())
    );
    let mut worker = auditor(&pki, addr, "w1", W1).await;
    let refused = worker.audit_hash(req).await.map(drop).unwrap_err();
    assert_eq!(refused.code(), tonic::Code::PermissionDenied);
    drop((admin, worker));

    // Graceful stop: SIGTERM drains, writes proxy.stopped and exits 0.
    let pid = nix::unistd::Pid::from_raw(i32::try_from(proc.0.id()).unwrap());
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
    let started = Instant::now();
    let status = loop {
        if let Some(status) = proc.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the proxy did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    let stdout = out.join().unwrap();
    let stderr = err.join().unwrap();
    assert!(status.success(), "{status}:\n{stderr}");

    let files = airlock_shared::audit::files::log_files(&audit_dir).unwrap();
    let summary = verify_files(&files, &Anchors::default()).unwrap_or_else(|f| panic!("{f}"));
    let log: Vec<u8> = files
        .iter()
        .flat_map(|f| std::fs::read(f).unwrap())
        .collect();
    let events: Vec<String> = log
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice::<AuditRecord>(l).unwrap().event)
        .collect();
    assert_eq!(
        events,
        [
            "proxy.started",
            "audit.hash",
            "access.denied",
            "proxy.stopped"
        ]
    );
    assert_eq!(summary.records, 4);
    // Every stdout line is an audit record (nothing else is printed there) ...
    let stdout_lines: Vec<&[u8]> = stdout.split(|b| *b == b'\n').collect();
    for (i, line) in stdout_lines[..stdout_lines.len() - 1].iter().enumerate() {
        assert!(
            serde_json::from_slice::<AuditRecord>(line).is_ok(),
            "stdout line {} is not an audit record",
            i + 1
        );
    }
    // ... and together they are the log, byte for byte, in order, newline-terminated.
    assert!(
        stdout == log,
        "stdout ({} bytes, {} lines) differs from audit.log ({} bytes, {} lines)",
        stdout.len(),
        stdout_lines.len() - 1,
        log.len(),
        events.len()
    );
}

/// Runs `airlock-proxy serve` expecting it to fail on its own; returns its exit code and
/// stderr. Killed (and the test failed) if it is still running after 60 s.
fn serve_expecting_failure(cfg: &std::path::Path) -> (Option<i32>, String) {
    let mut proc = Proc(
        bin()
            .args(["serve", "--config"])
            .arg(cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let mut stderr = proc.0.stderr.take().unwrap();
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        stderr.read_to_string(&mut text).unwrap();
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = proc.0.try_wait().unwrap() {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the proxy kept running instead of refusing to start"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    (status.code(), err.join().unwrap())
}

/// The events in the audit directory, oldest first, after checking the chain (none if the log
/// was never created).
fn audit_events(audit_dir: &std::path::Path) -> Vec<String> {
    if !audit_dir.join("audit.log").exists() {
        return Vec::new();
    }
    let files = airlock_shared::audit::files::log_files(audit_dir).unwrap();
    verify_files(&files, &Anchors::default()).unwrap_or_else(|f| panic!("{f}"));
    files
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            text.lines()
                .map(|l| serde_json::from_str::<AuditRecord>(l).unwrap().event)
                .collect::<Vec<_>>()
        })
        .collect()
}

/// An init'ed config whose audit log lives in `dir/audit`; `edit` changes the config text.
fn init_config(dir: &std::path::Path, edit: impl FnOnce(String) -> String) -> std::path::PathBuf {
    let cfg = write_config(dir);
    let text = std::fs::read_to_string(&cfg).unwrap()
        + &format!(
            "[audit]\ndir = \"{}\"\nfsync = \"never\"\ncheckpoint_interval_secs = 0\n",
            dir.join("audit").display()
        );
    std::fs::write(&cfg, edit(text)).unwrap();
    let init = bin().args(["init", "--config"]).arg(&cfg).output().unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    cfg
}

/// Port already in use: `serve` exits 1 naming the address, and the audit log is untouched — the
/// port is bound before the log is opened, so there is no `proxy.stopped` without its
/// `proxy.started` (nor any other event).
#[test]
fn serve_on_a_taken_port_fails_and_writes_no_audit_event() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let cfg = init_config(dir.path(), |t| t.replace("127.0.0.1:0", &addr.to_string()));
    let (code, stderr) = serve_expecting_failure(&cfg);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on {addr}")),
        "{stderr}"
    );
    let events = audit_events(&dir.path().join("audit"));
    assert!(
        events.is_empty(),
        "a failed start wrote audit events: {events:?}"
    );
    drop(taken);
}

/// A role policy that does not parse: `serve` exits 1 naming the policy, before opening the
/// audit log (no writer is left to stop, nothing claims the proxy started).
#[test]
fn serve_with_a_bad_policy_fails_before_opening_the_audit_log() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = init_config(dir.path(), |t| t);
    std::fs::write(dir.path().join("policy.toml"), "roles = [not toml").unwrap();
    let (code, stderr) = serve_expecting_failure(&cfg);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("role policy"), "{stderr}");
    assert!(
        !dir.path().join("audit").join("audit.log").exists(),
        "the audit log was opened for a start that could not succeed"
    );
}

/// `airlock_proxy::serve` given an opened proxy and a bad policy or TLS key: it fails with that
/// error and closes the audit writer (later appends are refused) without writing any
/// `proxy.*` event; what the log holds verifies.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_bad_files_closes_the_audit_writer() {
    use airlock_proxy::StartError;
    use airlock_shared::audit::{Actor, AuditEvent, Outcome};
    type Break = fn(&mut airlock_proxy::ProxyConfig);
    type Expect = fn(&StartError) -> bool;
    let cases: [(&str, Break, Expect); 2] = [
        (
            "policy",
            |c| std::fs::write(&c.policy_file, "roles = [not toml").unwrap(),
            |e| matches!(e, StartError::Policy(_)) && e.to_string().contains("role policy"),
        ),
        (
            "TLS key",
            |c| std::fs::write(&c.tls.key, "not a PEM key\n").unwrap(),
            |e| matches!(e, StartError::Tls(_)),
        ),
    ];
    for (what, edit, expected) in cases {
        let env = common::server::Env::new(edit).await;
        let run = env.try_serve(None).await.unwrap();
        let err = run.task.await.unwrap().expect_err("refuses to serve");
        assert!(expected(&err), "{what}: {err}");
        let probe = AuditEvent::new("audit.hash", Actor::default(), Outcome::Allowed);
        assert!(
            run.proxy.audit.append(probe).await.is_err(),
            "{what}: the audit writer was left running"
        );
        let events: Vec<String> = env.records().into_iter().map(|r| r.event).collect();
        assert!(events.is_empty(), "{what}: {events:?}");
        env.verify();
    }
}
