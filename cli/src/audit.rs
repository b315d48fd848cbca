//! `airlockctl audit verify` and `airlockctl audit query`: reading the proxy's audit log.

use std::{io::Write, path::PathBuf};

use airlock_shared::audit::{
    AuditRecord,
    chain::{self, Anchors, FindingKind},
    checkpoint, files,
};
use anyhow::Context as _;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

/// `audit verify` options.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// Audit log files, oldest first (rotated files, then the current one), or the proxy's
    /// audit directory (its files are then read in chain order).
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// An anchor copied off the box earlier: the record with this seq must still be present.
    /// Records after it are fine (the log kept growing); a log ending before it is truncated.
    #[arg(long, value_name = "SEQ")]
    pub expect_last_seq: Option<u64>,
    /// With --expect-last-seq: the record at that seq must have this hash. Alone: the log's
    /// last record must have this hash (the log must not have grown since).
    #[arg(long, value_name = "HEX", value_parser = parse_hash)]
    pub expect_last_hash: Option<String>,
    /// Signed checkpoint file written by the proxy (one checkpoint per line).
    #[arg(long, value_name = "FILE", requires = "checkpoint_key")]
    pub checkpoint: Option<PathBuf>,
    /// The proxy's checkpoint public key file (64 hex digits).
    #[arg(long, value_name = "FILE")]
    pub checkpoint_key: Option<PathBuf>,
}

/// A record hash as printed by `audit verify`: 64 hex digits (stored lower-case).
fn parse_hash(s: &str) -> Result<String, String> {
    if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(s.to_ascii_lowercase())
    } else {
        Err("expected 64 hex digits: copy the \"last hash\" printed by `airlockctl audit verify` (or a record's \"hash\")".into())
    }
}

/// Verifies the chain; prints a summary, or the first bad line and what is wrong.
pub fn verify(args: &VerifyArgs, out: &mut dyn Write) -> anyhow::Result<()> {
    let mut anchors = Anchors {
        last_seq: args.expect_last_seq,
        last_hash: args.expect_last_hash.clone(),
        ..Default::default()
    };
    if let (Some(file), Some(key_file)) = (&args.checkpoint, &args.checkpoint_key) {
        let key_text = std::fs::read_to_string(key_file)
            .with_context(|| format!("cannot read {}", key_file.display()))?;
        let key = checkpoint::parse_public_key(&key_text)
            .with_context(|| format!("{}", key_file.display()))?;
        let bytes =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        let text = String::from_utf8_lossy(&bytes);
        // A crash while the proxy appended a checkpoint leaves a last line without its newline
        // (the proxy cuts it off at its next start): skip it, the others still count.
        let torn_last = (!text.ends_with('\n'))
            .then(|| text.lines().count())
            .filter(|n| *n > 0);
        for (i, line) in text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
        {
            let cp = match checkpoint::verify(line, &key) {
                Ok(cp) => cp,
                Err(checkpoint::CheckpointError::Malformed(_)) if torn_last == Some(i + 1) => {
                    eprintln!(
                        "warning: {}:{}: the last checkpoint line is incomplete (a crash while writing it); skipped, verifying with the others",
                        file.display(),
                        i + 1
                    );
                    continue;
                }
                Err(e) => {
                    return Err(anyhow::Error::new(e).context(format!(
                        "{}:{}",
                        file.display(),
                        i + 1
                    )));
                }
            };
            anchors.checkpoints.insert(cp.seq, cp.hash);
        }
    }
    let files = expand(&args.files)?;
    match chain::verify_files(&files, &anchors) {
        Ok(summary) => {
            writeln!(
                out,
                "OK: {} records, seq {}..{}, last hash {}",
                summary.records, summary.first_seq, summary.last_seq, summary.last_hash
            )?;
            if summary.first_seq > 1 {
                writeln!(
                    out,
                    "note: the chain starts at seq {}; older files were not given",
                    summary.first_seq
                )?;
            }
            if let Some(seq) = anchors.last_seq
                && summary.last_seq > seq
            {
                writeln!(
                    out,
                    "note: the log grew by {} record(s) after the anchor (seq {seq}); take a new anchor to cover them",
                    summary.last_seq - seq
                )?;
            }
            if anchors.last_seq.is_none()
                && anchors.last_hash.is_none()
                && anchors.checkpoints.is_empty()
            {
                writeln!(
                    out,
                    "note: no anchor given; deleting the newest records cannot be detected without --expect-last-seq/--expect-last-hash or --checkpoint"
                )?;
            }
            Ok(())
        }
        // A torn last line is a crash, not tampering, but the log is not clean until the
        // proxy repairs it: still a failure.
        Err(finding) if finding.kind == FindingKind::TornTail => {
            anyhow::bail!("INCOMPLETE: {finding}")
        }
        Err(finding) => anyhow::bail!("TAMPERED: {finding}"),
    }
}

/// Replaces each directory by its audit files in chain order.
fn expand(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let found = files::log_files(path)
                .with_context(|| format!("cannot list {}", path.display()))?;
            anyhow::ensure!(
                !found.is_empty(),
                "{} holds no audit.log files",
                path.display()
            );
            files.extend(found);
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

/// Output format of `audit query`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned columns.
    Table,
    /// The matching records, one JSON object per line.
    Json,
}

/// `audit query` filters.
#[derive(Debug, Clone, clap::Args)]
pub struct QueryArgs {
    /// Audit log files.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Only this job ID.
    #[arg(long)]
    pub job: Option<String>,
    /// Only this connection ID.
    #[arg(long)]
    pub connection: Option<String>,
    /// Only this actor (SPIFFE ID; a trailing * matches a prefix).
    #[arg(long)]
    pub actor: Option<String>,
    /// Only this event (e.g. token.issued; a trailing * matches a prefix, e.g. "token.*").
    #[arg(long)]
    pub event: Option<String>,
    /// Only this outcome.
    #[arg(long, value_parser = ["allowed", "denied", "error"])]
    pub outcome: Option<String>,
    /// Only records at or after this time (RFC 3339, e.g. 2026-11-26T04:00:00Z).
    #[arg(long, value_parser = parse_time)]
    pub since: Option<OffsetDateTime>,
    /// Only records before this time (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    pub until: Option<OffsetDateTime>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

fn parse_time(s: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|e| format!("{e}: use RFC 3339, e.g. 2026-11-26T04:00:00Z"))
}

fn matches_pattern(pattern: &Option<String>, value: Option<&str>) -> bool {
    match (pattern, value) {
        (None, _) => true,
        (Some(p), Some(v)) => p
            .strip_suffix('*')
            .map_or(p == v, |prefix| v.starts_with(prefix)),
        (Some(_), None) => false,
    }
}

impl QueryArgs {
    fn matches(&self, r: &AuditRecord) -> bool {
        let ts = OffsetDateTime::parse(&r.ts, &Rfc3339).ok();
        matches_pattern(&self.job, r.job_id.as_deref())
            && matches_pattern(&self.connection, r.connection_id.as_deref())
            && matches_pattern(&self.actor, r.actor.spiffe_id.as_deref())
            && matches_pattern(&self.event, Some(&r.event))
            && self
                .outcome
                .as_deref()
                .is_none_or(|o| o == r.outcome.as_str())
            && self.since.is_none_or(|s| ts.is_some_and(|t| t >= s))
            && self.until.is_none_or(|u| ts.is_some_and(|t| t < u))
    }
}

/// A table cell as text that cannot drive the terminal: control characters (C0, DEL, C1) and
/// bidirectional-text overrides are shown as `\u{..}` escapes. Callers choose some fields
/// (a refused mint records the job ID as sent), so a raw cell could erase rows or fake new ones.
fn cell(value: &str) -> std::borrow::Cow<'_, str> {
    let unsafe_char = |c: char| {
        c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !value.chars().any(unsafe_char) {
        return value.into();
    }
    value
        .chars()
        .map(|c| {
            if unsafe_char(c) {
                format!("\\u{{{:x}}}", u32::from(c))
            } else {
                c.to_string()
            }
        })
        .collect::<String>()
        .into()
}

/// Prints the records matching every filter. Query does not stop at a bad line (that is
/// `audit verify`'s job), but it checks each record's own hash and its link to the record
/// before it, and warns on stderr about every line that is not a record, not UTF-8, or does
/// not verify, ending with a summary, so an altered log is never shown without a warning.
pub fn query(args: &QueryArgs, out: &mut dyn Write) -> anyhow::Result<usize> {
    let mut shown = 0;
    if args.format == Format::Table {
        let header = [
            "SEQ",
            "TIME",
            "EVENT",
            "OUTCOME",
            "REASON",
            "ACTOR",
            "CONNECTION",
            "JOB",
        ];
        writeln!(
            out,
            "{:>6}  {:<27}  {:<20}  {:<7}  {:<18}  {:<40}  {:<36}  {}",
            header[0], header[1], header[2], header[3], header[4], header[5], header[6], header[7]
        )?;
    }
    let mut unverified = 0usize;
    // The previous record's (seq, hash); unknown before the first record read.
    let mut last: Option<(u64, String)> = None;
    for file in &expand(&args.files)? {
        let bytes =
            std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
        let lines = bytes.split(|&b| b == b'\n').enumerate();
        for (i, raw) in lines {
            if raw.is_empty() {
                continue;
            }
            let at = format!("{}:{}", file.display(), i + 1);
            let Ok(line) = std::str::from_utf8(raw) else {
                eprintln!("warning: {at}: not UTF-8 text; skipped");
                unverified += 1;
                continue;
            };
            let record = match chain::open_line(line) {
                Ok(record) => {
                    if let Some((seq, hash)) = &last
                        && (record.seq != seq + 1 || record.prev != *hash)
                    {
                        eprintln!(
                            "warning: {at}: seq {} does not follow seq {seq} in the chain (a record is missing, reordered or inserted)",
                            record.seq
                        );
                        unverified += 1;
                    }
                    record
                }
                Err(e) => {
                    unverified += 1;
                    let Ok(record) = serde_json::from_str::<AuditRecord>(line) else {
                        eprintln!("warning: {at}: not an audit record; skipped");
                        continue;
                    };
                    eprintln!("warning: {at}: shown, but it does not verify ({e})");
                    record
                }
            };
            last = Some((record.seq, record.hash.clone()));
            if !args.matches(&record) {
                continue;
            }
            shown += 1;
            match args.format {
                Format::Json => writeln!(out, "{line}")?,
                Format::Table => writeln!(
                    out,
                    "{:>6}  {:<27}  {:<20}  {:<7}  {:<18}  {:<40}  {:<36}  {}",
                    record.seq,
                    cell(&record.ts),
                    cell(&record.event),
                    record.outcome.as_str(),
                    cell(record.reason.as_deref().unwrap_or("-")),
                    cell(record.actor.spiffe_id.as_deref().unwrap_or("-")),
                    cell(record.connection_id.as_deref().unwrap_or("-")),
                    cell(record.job_id.as_deref().unwrap_or("-")),
                )?,
            }
        }
    }
    if unverified > 0 {
        eprintln!(
            "warning: {unverified} line(s) did not verify: the log may have been altered or cut by a crash; run `airlockctl audit verify` on the same files"
        );
    }
    Ok(shown)
}
