//! Sealing records into hash-chained lines, and verifying a log (possibly rotated over several
//! files) line by line, naming the first bad line and what is wrong with it.

use std::{
    collections::BTreeMap,
    fs::File,
    io::{BufRead, BufReader},
    iter::Peekable,
    path::{Path, PathBuf},
};

use ring::digest;

use super::{AuditEvent, AuditRecord, GENESIS};

/// Length of `,"hash":"<64 hex>"}`.
const HASH_SUFFIX_LEN: usize = 9 + 64 + 2;

/// Lower-case hex SHA-256.
fn sha256_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(64);
    super::push_hex(&mut out, digest::digest(&digest::SHA256, bytes).as_ref());
    out
}

/// The event-specific members of a record (`"event"` … `"details"`), serialized once, where
/// the event is created: callers prepare in parallel and the single writer only frames and
/// hashes. [`seal_prepared`] of a `Prepared` is byte-identical to [`seal`] of its event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared(String);

/// The borrowed middle of an [`AuditRecord`], in its field order.
#[derive(serde::Serialize)]
struct EventMembers<'a> {
    event: &'a str,
    actor: &'a super::Actor,
    connection_id: &'a Option<String>,
    job_id: &'a Option<String>,
    session_id: &'a Option<String>,
    cmdlets: &'a [String],
    outcome: super::Outcome,
    reason: &'a Option<String>,
    fingerprints: &'a BTreeMap<String, String>,
    details: &'a BTreeMap<String, String>,
}

impl Prepared {
    /// Serializes `event`'s members.
    pub fn new(event: &AuditEvent) -> Self {
        let members = EventMembers {
            event: &event.event,
            actor: &event.actor,
            connection_id: &event.connection_id,
            job_id: &event.job_id,
            session_id: &event.session_id,
            cmdlets: &event.cmdlets,
            outcome: event.outcome,
            reason: &event.reason,
            fingerprints: &event.fingerprints,
            details: &event.details,
        };
        // Serializing plain strings, maps and options cannot fail.
        let mut json = serde_json::to_string(&members).unwrap_or_else(|_| "{}".into());
        // `{members}` → `members`.
        json.pop();
        json.remove(0);
        Self(json)
    }
}

/// Appends `s` as a JSON string.
fn push_json_str(out: &mut String, s: &str) {
    // A string always serializes.
    out.push_str(&serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into()));
}

/// Seals `event` as record `seq` at time `ts` after the record whose hash is `prev`. Returns the
/// line (without newline) and its hash.
pub fn seal(event: &AuditEvent, seq: u64, ts: String, prev: &str) -> (String, String) {
    seal_prepared(&Prepared::new(event), seq, &ts, prev)
}

/// [`seal`] for an already [`Prepared`] event: the line is `{"seq":…,"ts":…,` + the event's
/// members + `,"prev":…}` hashed with SHA-256, then `,"hash":…` inserted before the final
/// brace.
pub fn seal_prepared(event: &Prepared, seq: u64, ts: &str, prev: &str) -> (String, String) {
    use std::fmt::Write as _;
    let mut line = String::with_capacity(event.0.len() + ts.len() + 2 * 64 + 48);
    let _ = write!(line, "{{\"seq\":{seq},\"ts\":");
    push_json_str(&mut line, ts);
    line.push(',');
    line.push_str(&event.0);
    line.push_str(",\"prev\":");
    push_json_str(&mut line, prev);
    line.push('}');
    let hash = sha256_hex(line.as_bytes());
    line.pop();
    line.push_str(",\"hash\":\"");
    line.push_str(&hash);
    line.push_str("\"}");
    (line, hash)
}

/// Why a single line is not a valid sealed record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// Not a JSON audit record.
    #[error("not a valid audit record ({0})")]
    Malformed(String),
    /// The content does not match the hash.
    #[error("edited: the record's content does not match its hash")]
    Edited,
}

/// Checks one line's own hash and parses it.
pub fn open_line(line: &str) -> Result<AuditRecord, LineError> {
    let malformed = |why: &str| LineError::Malformed(why.to_owned());
    if line.len() < HASH_SUFFIX_LEN + 2 || !line.is_char_boundary(line.len() - HASH_SUFFIX_LEN) {
        return Err(malformed("too short or not ending with a hash"));
    }
    let (body, suffix) = line.split_at(line.len() - HASH_SUFFIX_LEN);
    let hash = suffix
        .strip_prefix(",\"hash\":\"")
        .and_then(|s| s.strip_suffix("\"}"))
        .filter(|h| {
            h.len() == 64
                && h.bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
        .ok_or_else(|| malformed("does not end with a \"hash\" member"))?;
    let record: AuditRecord =
        serde_json::from_str(line).map_err(|e| LineError::Malformed(e.to_string()))?;
    if sha256_hex(format!("{body}}}").as_bytes()) != hash {
        return Err(LineError::Edited);
    }
    Ok(record)
}

/// What kind of problem a [`Finding`] is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum FindingKind {
    /// The log is not intact (edited, missing, reordered, inserted or truncated records,
    /// malformed lines) or cannot be read.
    #[default]
    Invalid,
    /// Only the very last line is incomplete (no trailing newline and not a valid record): what
    /// a crash mid-write leaves. Its caller was never answered, the proxy moves it aside at its
    /// next start, and every record before it verified (anchors and checkpoints included). Not
    /// a pass: the file is not a clean log until the proxy repairs it.
    TornTail,
}

/// The first problem found, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}:{line}: {problem}", file.display())]
pub struct Finding {
    /// The file.
    pub file: PathBuf,
    /// 1-based line number in that file (0 when the problem is about the log as a whole).
    pub line: usize,
    /// What is wrong.
    pub problem: String,
    /// Tampering (or unreadable) versus a torn tail.
    pub kind: FindingKind,
}

/// External anchors: what the operator saw earlier (copied off the box), which the log must
/// still contain. The log keeps growing after an anchor is taken, so records after an anchored
/// seq are fine; a log ending before it was truncated.
#[derive(Debug, Clone, Default)]
pub struct Anchors {
    /// The record with this seq must be present: a log ending at a lower seq is truncated.
    /// (Seq 0 stands for the empty log, which every log extends.)
    pub last_seq: Option<u64>,
    /// With `last_seq`: the record at `last_seq` must have this hash (for seq 0, the genesis
    /// hash). Alone: the log's final record must have this hash, i.e. the log must not have
    /// grown since the anchor was taken.
    pub last_hash: Option<String>,
    /// Verified checkpoints: the record with each seq must have the given hash.
    pub checkpoints: BTreeMap<u64, String>,
}

/// What a successful verification saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Records checked.
    pub records: u64,
    /// Seq of the first record (1 unless older files were not given).
    pub first_seq: u64,
    /// Seq of the last record.
    pub last_seq: u64,
    /// Hash of the last record.
    pub last_hash: String,
}

struct Line {
    file: PathBuf,
    number: usize,
    text: String,
    /// Ended with a newline (every line but a torn last one does).
    complete: bool,
    /// Not UTF-8: the 0-based byte offset of the first bad byte, and whether the line merely
    /// ends inside a character (`text` is then lossy).
    bad_utf8: Option<(usize, bool)>,
}

/// Verifies files in order (oldest first) as one chain.
pub fn verify_files(paths: &[PathBuf], anchors: &Anchors) -> Result<Summary, Finding> {
    let mut lines = Vec::new();
    for path in paths {
        let file = File::open(path).map_err(|e| whole(path, &format!("cannot open: {e}")))?;
        lines.push(read_lines(path, BufReader::new(file)));
    }
    let all = lines.into_iter().flatten();
    verify_lines(
        all.peekable(),
        anchors,
        paths.last().map(PathBuf::as_path).unwrap_or(Path::new("-")),
    )
}

/// The lines of one file, each attributed to that file and its line number; a read error ends
/// the file with a finding at the line being read.
fn read_lines(
    path: &Path,
    mut reader: impl BufRead,
) -> impl Iterator<Item = Result<Line, Finding>> {
    let file = path.to_owned();
    let mut number = 0;
    let mut failed = false;
    std::iter::from_fn(move || {
        if failed {
            return None;
        }
        number += 1;
        let mut bytes = Vec::new();
        match reader.read_until(b'\n', &mut bytes) {
            Ok(0) => None,
            Ok(_) => {
                let complete = bytes.last() == Some(&b'\n');
                if complete {
                    bytes.pop();
                    if bytes.last() == Some(&b'\r') {
                        bytes.pop();
                    }
                }
                let (text, bad_utf8) = match String::from_utf8(bytes) {
                    Ok(text) => (text, None),
                    Err(e) => {
                        let bad = e.utf8_error();
                        let at = (bad.valid_up_to(), bad.error_len().is_none());
                        (String::from_utf8_lossy(e.as_bytes()).into_owned(), Some(at))
                    }
                };
                Some(Ok(Line {
                    file: file.clone(),
                    number,
                    text,
                    complete,
                    bad_utf8,
                }))
            }
            Err(e) => {
                failed = true;
                Some(Err(Finding {
                    file: file.clone(),
                    line: number,
                    problem: format!("cannot read: {e}"),
                    kind: FindingKind::Invalid,
                }))
            }
        }
    })
}

fn whole(path: &Path, problem: &str) -> Finding {
    Finding {
        file: path.to_owned(),
        line: 0,
        problem: problem.to_owned(),
        kind: FindingKind::Invalid,
    }
}

fn at(line: &Line, problem: String) -> Finding {
    Finding {
        file: line.file.clone(),
        line: line.number,
        problem,
        kind: FindingKind::Invalid,
    }
}

/// Whether `line` (the last one, without a newline) is a record cut short by a crash: not a
/// valid record, but a prefix of a JSON object, possibly ending inside a UTF-8 character. A
/// complete object that fails its checks (an edited last record whose newline was also
/// removed) is not torn.
fn cut_short(line: &Line) -> bool {
    let text = match line.bad_utf8 {
        None => line.text.as_str(),
        Some((valid, true)) => &line.text[..valid],
        Some((_, false)) => return false,
    };
    !text.trim().is_empty()
        && open_line(text).is_err()
        && serde_json::from_str::<serde::de::IgnoredAny>(text).is_err_and(|e| e.is_eof())
}

/// The finding for a torn last line, once every record before it verified (`summary`).
fn torn_tail(line: &Line, summary: &Summary) -> Finding {
    let before = if summary.records == 0 {
        "no complete record precedes it".to_owned()
    } else {
        format!(
            "the {} record(s) before it (seq {}..{}) verify",
            summary.records, summary.first_seq, summary.last_seq
        )
    };
    Finding {
        kind: FindingKind::TornTail,
        ..at(
            line,
            format!(
                "torn tail: the last line is incomplete (a crash mid-write); the proxy moves it aside at its next start; {before}"
            ),
        )
    }
}

/// The chain state while walking the log.
struct Walk {
    records: u64,
    first_seq: u64,
    last: Option<(AuditRecord, PathBuf, usize)>,
    before_last_hash: String,
}

fn verify_lines<I>(
    mut lines: Peekable<I>,
    anchors: &Anchors,
    last_file: &Path,
) -> Result<Summary, Finding>
where
    I: Iterator<Item = Result<Line, Finding>>,
{
    let mut walk = Walk {
        records: 0,
        first_seq: 0,
        last: None,
        before_last_hash: GENESIS.to_owned(),
    };
    while let Some(line) = lines.next() {
        let line = line?;
        // A crash mid-write leaves the last line without its newline (and possibly cut inside
        // a UTF-8 character): check everything before it, then report it as torn.
        // A whole record missing only its newline is torn too: the proxy writes each record
        // with its newline in one write, so it was never acknowledged, and the proxy moves it
        // aside at its next start (an anchor taken from it would not hold).
        if !line.complete
            && lines.peek().is_none()
            && (cut_short(&line) || (line.bad_utf8.is_none() && open_line(&line.text).is_ok()))
        {
            let summary = finish(walk, anchors, last_file)?;
            return Err(torn_tail(&line, &summary));
        }
        if let Some((byte, _)) = line.bad_utf8 {
            return Err(at(
                &line,
                format!(
                    "not UTF-8 text (byte {} of the line is invalid): the file was edited or corrupted",
                    byte + 1
                ),
            ));
        }
        if line.text.trim().is_empty() {
            return Err(at(
                &line,
                "empty line (a record was removed or the file was edited)".into(),
            ));
        }
        let record = open_line(&line.text).map_err(|e| at(&line, e.to_string()))?;
        let next = match lines.peek() {
            Some(Ok(next)) if next.bad_utf8.is_none() => open_line(&next.text).ok(),
            _ => None,
        };
        link(&mut walk, &line, &record, next.as_ref())?;
        if let Some(expected) = anchors.checkpoints.get(&record.seq)
            && *expected != record.hash
        {
            return Err(at(
                &line,
                format!(
                    "does not match the signed checkpoint for seq {}: the record was replaced",
                    record.seq
                ),
            ));
        }
        if anchors.last_seq == Some(record.seq)
            && let Some(expected) = &anchors.last_hash
            && *expected != record.hash
        {
            return Err(at(
                &line,
                format!(
                    "does not have the anchored hash for seq {}: the record (and the chain after it) was rewritten",
                    record.seq
                ),
            ));
        }
        walk.before_last_hash = walk
            .last
            .as_ref()
            .map_or(record.prev.clone(), |(r, ..)| r.hash.clone());
        walk.records += 1;
        walk.last = Some((record, line.file, line.number));
    }
    finish(walk, anchors, last_file)
}

/// Checks that `record` continues the chain; on a break, decides what happened.
fn link(
    walk: &mut Walk,
    line: &Line,
    record: &AuditRecord,
    next: Option<&AuditRecord>,
) -> Result<(), Finding> {
    let Some((last, last_file, last_line)) = &walk.last else {
        walk.first_seq = record.seq;
        if record.seq == 1 && record.prev != GENESIS {
            return Err(at(
                line,
                "the first record (seq 1) does not start from the genesis hash".into(),
            ));
        }
        return Ok(());
    };
    let expected = last.seq + 1;
    if record.seq == expected && record.prev == last.hash {
        return Ok(());
    }
    if record.seq == last.seq && record.prev == walk.before_last_hash {
        let inserted = Line {
            file: last_file.clone(),
            number: *last_line,
            text: String::new(),
            complete: true,
            bad_utf8: None,
        };
        return Err(at(&inserted, "inserted: this record is not part of the chain (the next record links to the one before it)".into()));
    }
    if let Some(next) = next.filter(|n| n.seq == expected && n.prev == last.hash) {
        let problem = if record.prev == next.hash {
            format!(
                "reordered: seq {} appears before seq {}",
                record.seq, next.seq
            )
        } else {
            format!(
                "inserted: seq {} does not belong here (the next record continues the chain)",
                record.seq
            )
        };
        return Err(at(line, problem));
    }
    if record.seq > expected {
        return Err(at(
            line,
            format!(
                "missing records: expected seq {expected}, found seq {} ({} record(s) deleted before this line)",
                record.seq,
                record.seq - expected
            ),
        ));
    }
    if record.seq < expected {
        return Err(at(
            line,
            format!(
                "reordered or duplicated: seq {} appears after seq {}",
                record.seq, last.seq
            ),
        ));
    }
    let previous = Line {
        file: last_file.clone(),
        number: *last_line,
        text: String::new(),
        complete: true,
        bad_utf8: None,
    };
    Err(at(&previous, "edited: the next record's prev does not match this record's hash (content and hash were both rewritten)".into()))
}

fn finish(walk: Walk, anchors: &Anchors, last_file: &Path) -> Result<Summary, Finding> {
    // The anchored seq 0 is the empty log: its "record" is the genesis hash.
    if anchors.last_seq == Some(0)
        && let Some(hash) = &anchors.last_hash
        && hash != GENESIS
    {
        return Err(whole(
            last_file,
            "the anchor names seq 0 (the empty log) with a hash other than the genesis hash: check the anchor",
        ));
    }
    let Some((last, ..)) = walk.last else {
        if let Some(seq) = anchors.last_seq.filter(|s| *s > 0) {
            return Err(whole(
                last_file,
                &format!("truncated: the log is empty but the anchor expects seq {seq}"),
            ));
        }
        if let Some(seq) = anchors.checkpoints.keys().next_back() {
            return Err(whole(
                last_file,
                &format!("truncated: the log is empty but a signed checkpoint covers seq {seq}"),
            ));
        }
        if anchors.last_seq.is_none()
            && let Some(hash) = &anchors.last_hash
            && hash != GENESIS
        {
            return Err(whole(
                last_file,
                "truncated: the log is empty but the anchor expects a last record with the anchored hash",
            ));
        }
        return Ok(Summary {
            records: 0,
            first_seq: 0,
            last_seq: 0,
            last_hash: GENESIS.to_owned(),
        });
    };
    if let Some((&seq, _)) = anchors
        .checkpoints
        .iter()
        .next_back()
        .filter(|(s, _)| **s > last.seq)
    {
        return Err(whole(
            last_file,
            &format!(
                "truncated: a signed checkpoint covers seq {seq} but the log ends at seq {}",
                last.seq
            ),
        ));
    }
    match (anchors.last_seq, &anchors.last_hash) {
        // Records after the anchored one are fine: the log grew since the anchor was taken.
        // A hash anchor on a record that was reached was checked at its line.
        (Some(seq), _) if seq > last.seq => {
            return Err(whole(
                last_file,
                &format!(
                    "truncated: the log ends at seq {} but the anchor expects seq {seq} to be present",
                    last.seq
                ),
            ));
        }
        (Some(seq), _) if seq > 0 && seq < walk.first_seq => {
            return Err(whole(
                last_file,
                &format!(
                    "cannot check the anchor: seq {seq} is before the first given record (seq {}); give the older rotated files too",
                    walk.first_seq
                ),
            ));
        }
        (None, Some(hash)) if *hash != last.hash => {
            return Err(whole(
                last_file,
                &format!(
                    "the last record (seq {}) does not have the anchored hash: the tail was rewritten, or the log grew since the anchor was taken (anchor its seq too)",
                    last.seq
                ),
            ));
        }
        _ => {}
    }
    Ok(Summary {
        records: walk.records,
        first_seq: walk.first_seq,
        last_seq: last.seq,
        last_hash: last.hash,
    })
}

#[cfg(test)]
mod tests;
