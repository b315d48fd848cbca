//! `airlockctl audit verify|query` on logs sealed with the shared audit format.
#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::{path::Path, process::Command};

use airlock_shared::audit::{
    Actor, AuditEvent, GENESIS, Outcome,
    chain::seal,
    checkpoint::{self, Checkpoint},
};
use ring::{rand::SystemRandom, signature::Ed25519KeyPair};

fn airlockctl(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_airlockctl"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// Five records: two jobs, the first four on connection c1 and the last on c2, one denial.
fn write_log(path: &Path) -> Vec<(u64, String)> {
    let mut prev = GENESIS.to_owned();
    let mut lines = vec![];
    let mut hashes = vec![];
    for seq in 1..=5u64 {
        let denied = seq == 4;
        let mut e = AuditEvent::new(
            if denied {
                "token.denied"
            } else {
                "token.issued"
            },
            Actor {
                spiffe_id: Some(format!(
                    "spiffe://airlock.local/worker/worker-{}",
                    seq % 2 + 1
                )),
                role: Some("worker".into()),
                peer: None,
            },
            if denied {
                Outcome::Denied
            } else {
                Outcome::Allowed
            },
        );
        e.connection_id = Some(if seq == 5 { "c2" } else { "c1" }.into());
        e.job_id = Some(format!("job-{}", seq % 2));
        e.reason = denied.then(|| "HANDLE_EXPIRED".into());
        let (line, hash) = seal(&e, seq, format!("2026-11-26T04:0{seq}:00.000000Z"), &prev);
        prev = hash.clone();
        hashes.push((seq, hash));
        lines.push(line);
    }
    std::fs::write(path, lines.join("\n") + "\n").unwrap();
    hashes
}

#[test]
fn verify_reports_ok_then_names_the_tampered_line() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    let hashes = write_log(&log);
    let log_s = log.to_str().unwrap();
    let (ok, out, _) = airlockctl(&["audit", "verify", log_s]);
    assert!(ok, "{out}");
    assert!(out.starts_with("OK: 5 records, seq 1..5"), "{out}");

    let (ok, _, err) = airlockctl(&["audit", "verify", log_s, "--expect-last-seq", "6"]);
    assert!(!ok && err.contains("truncated"), "{err}");
    let (ok, out, _) = airlockctl(&["audit", "verify", log_s, "--expect-last-hash", &hashes[4].1]);
    assert!(ok, "{out}");

    // Downgrade the denial's reason: a one-field edit on line 4.
    let text = std::fs::read_to_string(&log)
        .unwrap()
        .replace("HANDLE_EXPIRED", "HANDLE_INVALID");
    std::fs::write(&log, text).unwrap();
    let (ok, _, err) = airlockctl(&["audit", "verify", log_s]);
    assert!(!ok);
    assert!(
        err.contains("TAMPERED") && err.contains("audit.log:4: edited"),
        "{err}"
    );
}

#[test]
fn verify_accepts_a_log_that_grew_past_its_anchor() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    let hashes = write_log(&log);
    let log_s = log.to_str().unwrap();
    // Anchor (3, hash of 3) copied off the box earlier; the log has grown to seq 5 since.
    let anchor = |seq: &str, hash: &str| {
        airlockctl(&[
            "audit",
            "verify",
            log_s,
            "--expect-last-seq",
            seq,
            "--expect-last-hash",
            hash,
        ])
    };
    let (ok, out, err) = anchor("3", &hashes[2].1);
    assert!(ok, "{out}{err}");
    assert!(out.starts_with("OK: 5 records, seq 1..5"), "{out}");
    assert!(
        out.contains("grew by 2 record(s) after the anchor (seq 3)"),
        "{out}"
    );
    // Record 3 does not have the anchored hash: reported at its line.
    let (ok, _, err) = anchor("3", &hashes[1].1);
    assert!(!ok);
    assert!(
        err.contains("TAMPERED") && err.contains("audit.log:3: does not have the anchored hash"),
        "{err}"
    );
    // Truncated below the anchor.
    let (ok, _, err) = anchor("7", &hashes[4].1);
    assert!(
        !ok && err.contains("truncated: the log ends at seq 5 but the anchor expects seq 7"),
        "{err}"
    );
    // A malformed hash is refused before reading the log.
    let (ok, _, err) = anchor("3", "not-a-hash");
    assert!(!ok && err.contains("64 hex digits"), "{err}");
}

#[test]
fn verify_uses_signed_checkpoints_to_catch_a_cut_tail() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    let hashes = write_log(&log);
    let key = Ed25519KeyPair::from_pkcs8(
        Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .unwrap()
            .as_ref(),
    )
    .unwrap();
    let cp = checkpoint::sign(
        &Checkpoint {
            seq: 5,
            hash: hashes[4].1.clone(),
            ts: "2026-11-26T04:06:00.000000Z".into(),
        },
        &key,
    );
    std::fs::write(dir.path().join("checkpoints"), cp + "\n").unwrap();
    std::fs::write(
        dir.path().join("checkpoint.pub"),
        checkpoint::public_key_hex(&key),
    )
    .unwrap();
    let cps = dir.path().join("checkpoints");
    let pubkey = dir.path().join("checkpoint.pub");
    let args = |log: &str| -> Vec<String> {
        [
            "audit",
            "verify",
            log,
            "--checkpoint",
            cps.to_str().unwrap(),
            "--checkpoint-key",
            pubkey.to_str().unwrap(),
        ]
        .map(String::from)
        .to_vec()
    };
    let run = |log: &str| {
        let a = args(log);
        airlockctl(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let (ok, out, err) = run(log.to_str().unwrap());
    assert!(ok, "{out}{err}");
    let text = std::fs::read_to_string(&log).unwrap();
    let cut: Vec<&str> = text.lines().take(3).collect();
    std::fs::write(&log, cut.join("\n") + "\n").unwrap();
    let (ok, _, err) = run(log.to_str().unwrap());
    assert!(
        !ok && err.contains("checkpoint covers seq 5 but the log ends at seq 3"),
        "{err}"
    );
}

#[test]
fn verify_skips_a_torn_last_checkpoint_line_but_not_a_torn_middle_one() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    let hashes = write_log(&log);
    let key = Ed25519KeyPair::from_pkcs8(
        Ed25519KeyPair::generate_pkcs8(&SystemRandom::new())
            .unwrap()
            .as_ref(),
    )
    .unwrap();
    let sign = |seq: u64| {
        checkpoint::sign(
            &Checkpoint {
                seq,
                hash: hashes[seq as usize - 1].1.clone(),
                ts: "2026-11-26T04:06:00.000000Z".into(),
            },
            &key,
        )
    };
    let (cp4, cp5) = (sign(4), sign(5));
    let torn = &cp5[..cp5.len() / 2];
    let cps = dir.path().join("audit.checkpoints");
    let pubkey = dir.path().join("audit-checkpoint.pub");
    std::fs::write(&pubkey, checkpoint::public_key_hex(&key)).unwrap();
    let run = || {
        airlockctl(&[
            "audit",
            "verify",
            log.to_str().unwrap(),
            "--checkpoint",
            cps.to_str().unwrap(),
            "--checkpoint-key",
            pubkey.to_str().unwrap(),
        ])
    };
    // A crash mid-checkpoint: the last line has no newline and does not parse.
    std::fs::write(&cps, format!("{cp4}\n{torn}")).unwrap();
    let (ok, out, err) = run();
    assert!(ok, "{out}{err}");
    assert!(out.starts_with("OK: 5 records"), "{out}");
    let warning = format!(
        "warning: {}:2: the last checkpoint line is incomplete",
        cps.display()
    );
    assert!(err.contains(&warning), "{err}");
    // The checkpoints before it still count: a cut tail is caught.
    let text = std::fs::read_to_string(&log).unwrap();
    let cut: Vec<&str> = text.lines().take(3).collect();
    std::fs::write(&log, cut.join("\n") + "\n").unwrap();
    let (ok, _, err) = run();
    assert!(
        !ok && err.contains("checkpoint covers seq 4 but the log ends at seq 3"),
        "{err}"
    );
    // A torn line followed by more (the next checkpoint appended onto it) stays an error.
    std::fs::write(&cps, format!("{torn}{cp4}\n{cp5}\n")).unwrap();
    let (ok, _, err) = run();
    assert!(!ok && err.contains(":1: not a checkpoint line"), "{err}");
    assert!(!err.contains("incomplete"), "{err}");
}

#[test]
fn verify_reports_a_torn_log_tail_as_incomplete_not_tampered() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    write_log(&log);
    let text = std::fs::read_to_string(&log).unwrap();
    let last = text.trim_end().rsplit_once('\n').unwrap().1;
    // The last write stopped halfway through record 5.
    let torn = &text[..text.len() - 1 - last.len() / 2];
    std::fs::write(&log, torn).unwrap();
    let (ok, out, err) = airlockctl(&["audit", "verify", log.to_str().unwrap()]);
    assert!(!ok, "{out}");
    assert!(
        err.contains("INCOMPLETE: ")
            && err.contains(
                "audit.log:5: torn tail: the last line is incomplete (a crash mid-write)"
            )
            && err.contains("the 4 record(s) before it (seq 1..4) verify"),
        "{err}"
    );
    assert!(!err.contains("TAMPERED"), "{err}");
}

#[test]
fn query_filters_by_job_outcome_event_and_time() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    write_log(&log);
    let log_s = log.to_str().unwrap();
    let (ok, out, _) = airlockctl(&[
        "audit", "query", log_s, "--job", "job-1", "--format", "json",
    ]);
    assert!(ok);
    assert_eq!(out.lines().count(), 3, "{out}");
    let (_, out, _) = airlockctl(&["audit", "query", log_s, "--outcome", "denied"]);
    assert!(
        out.contains("HANDLE_EXPIRED") && out.lines().count() == 2,
        "{out}"
    );
    let (_, out, _) = airlockctl(&[
        "audit",
        "query",
        log_s,
        "--event",
        "token.*",
        "--since",
        "2026-11-26T04:02:00Z",
        "--until",
        "2026-11-26T04:04:00Z",
        "--format",
        "json",
    ]);
    assert_eq!(out.lines().count(), 2, "{out}");
    let (_, out, _) = airlockctl(&[
        "audit",
        "query",
        log_s,
        "--actor",
        "spiffe://airlock.local/worker/worker-2",
        "--format",
        "json",
    ]);
    assert_eq!(out.lines().count(), 3, "{out}");
    let (ok, out, _) = airlockctl(&[
        "audit",
        "query",
        log_s,
        "--connection",
        "c2",
        "--format",
        "json",
    ]);
    assert!(ok);
    let seqs: Vec<u64> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, [5], "{out}");
    let (_, out, _) = airlockctl(&[
        "audit",
        "query",
        log_s,
        "--connection",
        "c1",
        "--format",
        "json",
    ]);
    assert_eq!(out.lines().count(), 4, "{out}");
    let (ok, _, err) = airlockctl(&["audit", "query", log_s, "--since", "yesterday"]);
    assert!(!ok && err.contains("RFC 3339"), "{err}");
}

/// A caller-chosen field (a refused mint records the job ID as sent) must not drive the
/// operator's terminal: control characters and bidi overrides are escaped in the table.
#[test]
fn query_table_escapes_control_characters() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    let mut e = AuditEvent::new("session.minted", Actor::default(), Outcome::Denied);
    e.job_id = Some("job-7\r\u{1b}[2K\u{1b}[1A\n    9  fake row\u{7}\u{202e}".into());
    let (line, _) = seal(&e, 1, "2026-11-26T04:00:00.000000Z".into(), GENESIS);
    std::fs::write(&log, line + "\n").unwrap();
    let (ok, out, _) = airlockctl(&["audit", "query", log.to_str().unwrap()]);
    assert!(ok);
    assert_eq!(out.lines().count(), 2, "header and one row: {out:?}");
    assert!(
        !out.chars()
            .any(|c| (c.is_control() && c != '\n') || c == '\u{202e}'),
        "{out:?}"
    );
    assert!(out.contains(r"job-7\u{d}\u{1b}[2K"), "{out:?}");
    // JSON output keeps the record exactly as logged (JSON-escaped).
    let (_, json, _) = airlockctl(&["audit", "query", log.to_str().unwrap(), "--format", "json"]);
    assert_eq!(json, std::fs::read_to_string(&log).unwrap());
}

/// Query is not verify, but it never shows an altered or damaged log silently: a line that is
/// not UTF-8 is skipped, an edited record is shown with a warning, and a summary says to run
/// `audit verify`.
#[test]
fn query_warns_about_lines_that_do_not_verify() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    write_log(&log);
    let text = std::fs::read_to_string(&log).unwrap();
    let edited = text.replacen("\"job_id\":\"job-1\"", "\"job_id\":\"job-X\"", 1);
    assert_ne!(edited, text);
    let mut bytes = edited.into_bytes();
    bytes.extend_from_slice(b"{\"seq\":6,\"ts\":\"\xff\xfe\"}\n");
    std::fs::write(&log, bytes).unwrap();
    let (ok, out, err) = airlockctl(&["audit", "query", log.to_str().unwrap(), "--format", "json"]);
    assert!(ok, "{err}");
    assert_eq!(
        out.lines().count(),
        5,
        "every record, the edited one too: {out}"
    );
    assert!(
        err.contains("audit.log:1: shown, but it does not verify (edited"),
        "{err}"
    );
    assert!(
        err.contains("audit.log:6: not UTF-8 text; skipped"),
        "{err}"
    );
    assert!(err.contains("2 line(s) did not verify"), "{err}");
    // A clean log gets no warning.
    write_log(&log);
    let (_, _, err) = airlockctl(&["audit", "query", log.to_str().unwrap()]);
    assert!(!err.contains("warning"), "{err}");
}
