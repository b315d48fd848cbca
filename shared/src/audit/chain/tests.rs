use super::*;
use crate::audit::{Actor, Outcome};

fn event(n: u64) -> AuditEvent {
    let mut e = AuditEvent::new(
        "token.issued",
        Actor {
            spiffe_id: Some("spiffe://airlock.local/worker/worker-1".into()),
            role: Some("worker".into()),
            peer: Some("127.0.0.1:5000".into()),
        },
        Outcome::Allowed,
    );
    e.connection_id = Some("c1".into());
    e.job_id = Some(format!("job-{n}"));
    e.cmdlets = vec!["Get-Mailbox".into()];
    e
}

fn log(n: u64) -> Vec<String> {
    let mut prev = GENESIS.to_owned();
    (1..=n)
        .map(|seq| {
            let (line, hash) = seal(
                &event(seq),
                seq,
                format!("2026-11-26T04:00:{:02}.000000Z", seq % 60),
                &prev,
            );
            prev = hash;
            line
        })
        .collect()
}

fn write(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let path = dir.join(name);
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(&path, text).unwrap();
    path
}

fn check(lines: &[String], anchors: &Anchors) -> Result<Summary, Finding> {
    let dir = tempfile::tempdir().unwrap();
    verify_files(&[write(dir.path(), "audit.log", lines)], anchors)
}

/// Known answer: pins the line format and the hash rule. The expected hash was computed
/// independently (`sha256` of the line without its hash member, in Python).
#[test]
fn known_answer_pins_the_format() {
    let mut e = AuditEvent::new("proxy.started", Actor::default(), Outcome::Allowed);
    e.details.insert("version".into(), "0.1.0".into());
    let (line, hash) = seal(&e, 1, "2026-11-26T04:00:00.000001Z".into(), GENESIS);
    assert_eq!(
        line,
        concat!(
            r#"{"seq":1,"ts":"2026-11-26T04:00:00.000001Z","event":"proxy.started","#,
            r#""actor":{"spiffe_id":null,"role":null,"peer":null},"connection_id":null,"job_id":null,"#,
            r#""session_id":null,"cmdlets":[],"outcome":"allowed","reason":null,"fingerprints":{},"#,
            r#""details":{"version":"0.1.0"},"#,
            r#""prev":"0000000000000000000000000000000000000000000000000000000000000000","#,
            r#""hash":"KAT_HASH"}"#
        )
        .replace("KAT_HASH", &hash)
    );
    assert_eq!(hash, KAT_HASH);
}

/// The hand-framed line is exactly serde's serialization of the full record, for every
/// field filled in and values that need escaping.
#[test]
fn prepared_sealing_matches_the_record_serialization() {
    let mut e = event(7);
    e.session_id = Some("s-\"quoted\"\n\u{7}".into());
    e.reason = Some("HANDLE_REVOKED".into());
    e.cmdlets = vec!["Get-Mailbox".into(), "Set-Mailbox \\ ü".into()];
    e.fingerprints.insert("token".into(), "ab".repeat(32));
    e.details.insert("z".into(), "\u{2028}".into());
    e.details.insert("a".into(), String::new());
    let ts = "2026-11-26T04:00:07.000007Z";
    let (line, hash) = seal_prepared(&Prepared::new(&e), 7, ts, &"f".repeat(64));
    let record = AuditRecord {
        seq: 7,
        ts: ts.into(),
        event: e.event.clone(),
        actor: e.actor.clone(),
        connection_id: e.connection_id.clone(),
        job_id: e.job_id.clone(),
        session_id: e.session_id.clone(),
        cmdlets: e.cmdlets.clone(),
        outcome: e.outcome,
        reason: e.reason.clone(),
        fingerprints: e.fingerprints.clone(),
        details: e.details.clone(),
        prev: "f".repeat(64),
        hash: hash.clone(),
    };
    assert_eq!(line, serde_json::to_string(&record).unwrap());
    assert_eq!(open_line(&line).unwrap(), record);
    assert_eq!(seal(&e, 7, ts.into(), &"f".repeat(64)), (line, hash));
}

const KAT_HASH: &str = "2c01e9a9cc07d6588022d141c82042d27fc9d401a85fcc202eaef353761d9d8b";

#[test]
fn an_untouched_log_verifies_across_rotated_files() {
    let lines = log(10);
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "audit.log.1", &lines[..4]);
    let b = write(dir.path(), "audit.log", &lines[4..]);
    let summary = verify_files(&[a.clone(), b.clone()], &Anchors::default()).unwrap();
    assert_eq!(
        (summary.records, summary.first_seq, summary.last_seq),
        (10, 1, 10)
    );
    // The newer file alone verifies too (older files archived), starting at seq 5.
    assert_eq!(
        verify_files(std::slice::from_ref(&b), &Anchors::default())
            .unwrap()
            .first_seq,
        5
    );
    // Files given in the wrong order are caught.
    let err = verify_files(&[b, a], &Anchors::default()).unwrap_err();
    assert!(err.problem.contains("seq 1"), "{err}");
}

#[test]
fn an_edited_field_is_reported_at_its_line() {
    let mut lines = log(6);
    lines[2] = lines[2].replace("job-3", "job-X");
    let err = check(&lines, &Anchors::default()).unwrap_err();
    assert_eq!(err.line, 3);
    assert!(err.problem.starts_with("edited"), "{err}");
}

#[test]
fn an_edit_with_a_recomputed_hash_is_caught_by_the_next_link() {
    let mut lines = log(6);
    let rec = open_line(&lines[2]).unwrap();
    let mut e = event(3);
    e.job_id = Some("job-X".into());
    lines[2] = seal(&e, 3, rec.ts, &rec.prev).0;
    let err = check(&lines, &Anchors::default()).unwrap_err();
    assert_eq!(err.line, 3, "{err}");
    assert!(err.problem.starts_with("edited"), "{err}");
}

#[test]
fn a_deleted_middle_line_is_reported_as_missing() {
    let mut lines = log(6);
    lines.remove(3);
    let err = check(&lines, &Anchors::default()).unwrap_err();
    assert_eq!(err.line, 4);
    assert!(
        err.problem
            .starts_with("missing records: expected seq 4, found seq 5"),
        "{err}"
    );
}

#[test]
fn two_swapped_lines_are_reported_as_reordered() {
    let mut lines = log(6);
    lines.swap(2, 3);
    let err = check(&lines, &Anchors::default()).unwrap_err();
    assert_eq!(err.line, 3);
    assert!(
        err.problem
            .starts_with("reordered: seq 4 appears before seq 3"),
        "{err}"
    );
}

#[test]
fn an_inserted_line_is_reported_at_its_own_line() {
    let lines = log(6);
    // A forged record with a valid hash that links to record 3 and claims seq 4.
    let rec3 = open_line(&lines[2]).unwrap();
    let forged = seal(&event(99), 4, rec3.ts.clone(), &rec3.hash).0;
    let mut tampered = lines.clone();
    tampered.insert(3, forged);
    let err = check(&tampered, &Anchors::default()).unwrap_err();
    assert_eq!(err.line, 4, "{err}");
    assert!(err.problem.starts_with("inserted"), "{err}");
    // An inserted line with an arbitrary seq is reported the same way.
    let forged = seal(&event(99), 77, rec3.ts, &rec3.hash).0;
    let mut tampered = lines;
    tampered.insert(3, forged);
    let err = check(&tampered, &Anchors::default()).unwrap_err();
    assert_eq!(err.line, 4, "{err}");
    assert!(err.problem.starts_with("inserted"), "{err}");
}

#[test]
fn a_truncated_tail_needs_an_anchor_and_is_then_caught() {
    let lines = log(8);
    let last = open_line(&lines[7]).unwrap();
    let truncated = &lines[..6];
    // Without an anchor the shorter chain is still a valid chain.
    assert_eq!(check(truncated, &Anchors::default()).unwrap().last_seq, 6);
    let by_seq = Anchors {
        last_seq: Some(8),
        ..Default::default()
    };
    assert!(
        check(truncated, &by_seq)
            .unwrap_err()
            .problem
            .starts_with("truncated")
    );
    let by_hash = Anchors {
        last_hash: Some(last.hash.clone()),
        ..Default::default()
    };
    assert!(
        check(truncated, &by_hash)
            .unwrap_err()
            .problem
            .contains("anchored hash")
    );
    let by_checkpoint = Anchors {
        checkpoints: [(8, last.hash.clone())].into(),
        ..Default::default()
    };
    assert!(
        check(truncated, &by_checkpoint)
            .unwrap_err()
            .problem
            .contains("checkpoint covers seq 8")
    );
    // The full log satisfies all three.
    let all = Anchors {
        last_seq: Some(8),
        last_hash: Some(last.hash.clone()),
        checkpoints: [(8, last.hash)].into(),
    };
    assert_eq!(check(&lines, &all).unwrap().records, 8);
}

#[test]
fn garbage_and_blank_lines_are_malformed() {
    let mut lines = log(3);
    lines[1] = "not json".into();
    assert!(
        check(&lines, &Anchors::default())
            .unwrap_err()
            .problem
            .contains("not a valid audit record")
    );
    let mut lines = log(3);
    lines[1] = String::new();
    assert!(
        check(&lines, &Anchors::default())
            .unwrap_err()
            .problem
            .contains("empty line")
    );
    let mut lines = log(3);
    lines[1] = lines[1].replace("\"cmdlets\"", "\"extra\":1,\"cmdlets\"");
    assert!(check(&lines, &Anchors::default()).is_err());
}

/// Anchors for "the record with `seq` had `hash` when the operator copied them off the box".
fn anchored(seq: u64, hash: &str) -> Anchors {
    Anchors {
        last_seq: Some(seq),
        last_hash: Some(hash.to_owned()),
        ..Default::default()
    }
}

#[test]
fn a_log_that_grew_past_the_anchor_verifies() {
    let lines = log(10);
    let rec6 = open_line(&lines[5]).unwrap();
    let summary = check(&lines, &anchored(6, &rec6.hash)).unwrap_or_else(|f| panic!("{f}"));
    assert_eq!((summary.records, summary.last_seq), (10, 10));
    // The seq alone, and the anchor on the very last record, verify too.
    let by_seq = Anchors {
        last_seq: Some(6),
        ..Default::default()
    };
    assert_eq!(check(&lines, &by_seq).unwrap().last_seq, 10);
    let rec10 = open_line(&lines[9]).unwrap();
    assert_eq!(
        check(&lines, &anchored(10, &rec10.hash)).unwrap().last_seq,
        10
    );
    // Across rotated files, with the anchored record in the older one.
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "audit.log.1", &lines[..7]);
    let b = write(dir.path(), "audit.log", &lines[7..]);
    assert!(verify_files(&[a, b], &anchored(6, &rec6.hash)).is_ok());
}

#[test]
fn a_log_truncated_below_the_anchor_is_reported_as_truncated() {
    let lines = log(8);
    let rec7 = open_line(&lines[6]).unwrap();
    let err = check(&lines[..5], &anchored(7, &rec7.hash)).unwrap_err();
    assert_eq!(err.line, 0, "{err}");
    assert_eq!(
        err.problem,
        "truncated: the log ends at seq 5 but the anchor expects seq 7 to be present"
    );
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("audit.log");
    std::fs::write(&empty, "").unwrap();
    let err = verify_files(&[empty], &anchored(7, &rec7.hash)).unwrap_err();
    assert!(
        err.problem
            .starts_with("truncated: the log is empty but the anchor expects seq 7"),
        "{err}"
    );
}

#[test]
fn an_anchored_record_with_another_hash_is_reported_at_its_line() {
    let lines = log(10);
    let rec6 = open_line(&lines[5]).unwrap();
    // Records 6.. rewritten and re-chained: a valid chain, but record 6 is not the anchored one.
    let mut forged = lines[..5].to_vec();
    let mut prev = open_line(&lines[4]).unwrap().hash;
    for seq in 6..=10 {
        let mut e = event(seq);
        e.job_id = Some(format!("forged-{seq}"));
        let (line, hash) = seal(&e, seq, "2026-11-26T04:00:30.000000Z".into(), &prev);
        prev = hash;
        forged.push(line);
    }
    assert!(check(&forged, &Anchors::default()).is_ok());
    let err = check(&forged, &anchored(6, &rec6.hash)).unwrap_err();
    assert_eq!(err.line, 6, "{err}");
    assert!(
        err.problem
            .starts_with("does not have the anchored hash for seq 6"),
        "{err}"
    );
}

#[test]
fn a_hash_anchor_alone_pins_the_final_record() {
    let lines = log(8);
    let rec6 = open_line(&lines[5]).unwrap();
    assert_eq!(
        check(
            &lines[..6],
            &Anchors {
                last_hash: Some(rec6.hash.clone()),
                ..Default::default()
            }
        )
        .unwrap()
        .last_seq,
        6
    );
    // The log grew: without the seq, the anchor cannot be located, and the message says so.
    let err = check(
        &lines,
        &Anchors {
            last_hash: Some(rec6.hash),
            ..Default::default()
        },
    )
    .unwrap_err();
    assert!(
        err.problem.contains("anchored hash") && err.problem.contains("anchor its seq too"),
        "{err}"
    );
}

#[test]
fn an_anchor_before_the_given_files_asks_for_the_older_files() {
    let lines = log(10);
    let rec3 = open_line(&lines[2]).unwrap();
    let err = check(&lines[5..], &anchored(3, &rec3.hash)).unwrap_err();
    assert!(
        err.problem
            .contains("seq 3 is before the first given record (seq 6)"),
        "{err}"
    );
    // Seq 0 is the empty log: every log extends it, with the genesis hash.
    assert!(check(&lines, &anchored(0, GENESIS)).is_ok());
    assert!(check(&lines, &anchored(0, &rec3.hash)).is_err());
}

/// Writes `lines` (each with its newline) then `tail` with none, as a crash mid-write leaves.
fn write_torn(dir: &Path, name: &str, lines: &[String], tail: &[u8]) -> PathBuf {
    let path = write(dir, name, lines);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(tail);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// A last line cut short by a crash is reported as a torn tail once everything before it
/// verified; an unterminated line that is a complete (edited) object, or that is not the last
/// line, is not.
#[test]
fn a_torn_last_line_is_reported_as_torn_not_tampered() {
    let lines = log(6);
    let dir = tempfile::tempdir().unwrap();
    let torn = &lines[5].as_bytes()[..lines[5].len() / 2];
    let path = write_torn(dir.path(), "audit.log", &lines[..5], torn);
    let err = verify_files(std::slice::from_ref(&path), &Anchors::default()).unwrap_err();
    assert_eq!((err.kind, err.line), (FindingKind::TornTail, 6), "{err}");
    assert!(
        err.problem.starts_with(
            "torn tail: the last line is incomplete (a crash mid-write); the proxy moves it aside at its next start"
        ) && err.problem.contains("the 5 record(s) before it (seq 1..5) verify"),
        "{err}"
    );
    assert!(!err.problem.contains("too short"), "{err}");
    // Only the record's first byte made it.
    let path = write_torn(dir.path(), "audit.log.b", &lines[..5], b"{");
    let err = verify_files(&[path], &Anchors::default()).unwrap_err();
    assert_eq!(err.kind, FindingKind::TornTail, "{err}");
    // Cut inside a multi-byte character.
    let mut e = event(6);
    e.job_id = Some("job-ü".into());
    let prev = open_line(&lines[4]).unwrap().hash;
    let (line6, _) = seal(&e, 6, "2026-11-26T04:00:06.000000Z".into(), &prev);
    let cut = line6.find('ü').unwrap() + 1;
    let path = write_torn(
        dir.path(),
        "audit.log.c",
        &lines[..5],
        &line6.as_bytes()[..cut],
    );
    let err = verify_files(&[path], &Anchors::default()).unwrap_err();
    assert_eq!((err.kind, err.line), (FindingKind::TornTail, 6), "{err}");
    // The records before it are still checked against the anchors first.
    let path = write_torn(dir.path(), "audit.log.d", &lines[..5], torn);
    let rec5 = open_line(&lines[4]).unwrap();
    let covered = Anchors {
        checkpoints: [(5, rec5.hash.clone()), (6, "ab".repeat(32))].into(),
        ..Default::default()
    };
    let err = verify_files(std::slice::from_ref(&path), &covered).unwrap_err();
    assert_eq!(err.kind, FindingKind::Invalid, "{err}");
    assert!(err.problem.starts_with("truncated"), "{err}");
    // Tampering before the torn line is reported as such.
    let mut lines_edited = lines[..5].to_vec();
    lines_edited[1] = lines_edited[1].replace("job-2", "job-X");
    let path = write_torn(dir.path(), "audit.log.e", &lines_edited, torn);
    let err = verify_files(&[path], &Anchors::default()).unwrap_err();
    assert_eq!((err.kind, err.line), (FindingKind::Invalid, 2), "{err}");
    // An edited last record whose newline was removed too: a complete object, so not torn.
    let edited = lines[5].replace("job-6", "job-X");
    let path = write_torn(dir.path(), "audit.log.f", &lines[..5], edited.as_bytes());
    let err = verify_files(&[path], &Anchors::default()).unwrap_err();
    assert_eq!((err.kind, err.line), (FindingKind::Invalid, 6), "{err}");
    assert!(err.problem.starts_with("edited"), "{err}");
    // A whole record missing only its newline is torn too: the proxy writes record and
    // newline in one write (so it was never acknowledged) and moves it aside at its next start.
    let path = write_torn(dir.path(), "audit.log.g", &lines[..5], lines[5].as_bytes());
    let err = verify_files(&[path], &Anchors::default()).unwrap_err();
    assert_eq!((err.kind, err.line), (FindingKind::TornTail, 6), "{err}");
    // A cut line that is not the last one (a newer file follows) is not a torn tail.
    let a = write_torn(
        dir.path(),
        "audit.log.1",
        &lines[..3],
        &lines[3].as_bytes()[..20],
    );
    let b = write(dir.path(), "audit.log.h", &lines[4..]);
    let err = verify_files(&[a.clone(), b], &Anchors::default()).unwrap_err();
    assert_eq!((&err.file, err.line), (&a, 4), "{err}");
    assert_eq!(err.kind, FindingKind::Invalid, "{err}");
}

#[test]
fn non_utf8_bytes_are_reported_at_their_own_file_and_line() {
    let lines = log(6);
    let dir = tempfile::tempdir().unwrap();
    let a = write(dir.path(), "audit.log.1", &lines[..4]);
    let mut bytes = std::fs::read(&a).unwrap();
    let second = lines[0].len() + 1 + 10;
    bytes[second] = 0xff;
    std::fs::write(&a, bytes).unwrap();
    let b = write(dir.path(), "audit.log", &lines[4..]);
    let err = verify_files(&[a.clone(), b], &Anchors::default()).unwrap_err();
    assert_eq!((&err.file, err.line), (&a, 2), "{err}");
    assert_eq!(err.kind, FindingKind::Invalid, "{err}");
    assert!(
        err.problem
            .starts_with("not UTF-8 text (byte 11 of the line is invalid)"),
        "{err}"
    );
}
