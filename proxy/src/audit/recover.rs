//! Finding where the chain left off: the seq and hash of the last complete record, across
//! rotated files. A torn last line (the proxy died mid-write; its caller was never answered)
//! is moved aside to `audit.log.torn-<unix-time>` and cut off. A last record that fails its own
//! hash check stops the proxy: someone edited the log, and writing on would bury it.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, BufRead as _, BufReader, Read as _, Seek as _, SeekFrom},
    path::Path,
};

use airlock_shared::audit::{GENESIS, chain::open_line};

use super::{AuditError, sink};

/// The end of the chain: the next record gets `seq + 1` and `prev = hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainEnd {
    /// Seq of the last record (0 for an empty log).
    pub seq: u64,
    /// Its hash ([`GENESIS`] for an empty log).
    pub hash: String,
}

impl ChainEnd {
    /// An empty log.
    pub fn genesis() -> Self {
        Self {
            seq: 0,
            hash: GENESIS.to_owned(),
        }
    }
}

/// Reads the chain's end from the newest non-empty log file in `dir`.
pub fn chain_end(dir: &Path) -> Result<ChainEnd, AuditError> {
    let fail = |why: String| AuditError::Open {
        dir: dir.to_owned(),
        why,
    };
    let files = sink::log_files(dir).map_err(|e| fail(e.to_string()))?;
    for path in files.iter().rev() {
        cut_torn_tail(path).map_err(|e| {
            fail(format!(
                "cannot repair a torn tail of {}: {e}",
                path.display()
            ))
        })?;
        let Some(last) = last_line(path).map_err(|e| fail(e.to_string()))? else {
            continue;
        };
        let record = open_line(&last).map_err(|e| {
            fail(format!(
                "the last record of {} is invalid ({e}); run `airlockctl audit verify {}` and keep the evidence; \
                 to start a new chain, move the audit directory aside",
                path.display(),
                dir.display()
            ))
        })?;
        return Ok(ChainEnd {
            seq: record.seq,
            hash: record.hash,
        });
    }
    Ok(ChainEnd::genesis())
}

/// Seq of the first record in `path`, if any.
pub fn first_seq(path: &Path) -> io::Result<Option<u64>> {
    let Ok(file) = File::open(path) else {
        return Ok(None);
    };
    let mut first = String::new();
    // Bounded: a record is far smaller, and a device file (tests use /dev/full) never ends.
    BufReader::new(file.take(1 << 20)).read_line(&mut first)?;
    Ok(
        serde_json::from_str::<airlock_shared::audit::AuditRecord>(first.trim_end())
            .ok()
            .map(|r| r.seq),
    )
}

fn cut_torn_tail(path: &Path) -> io::Result<()> {
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(());
    }
    let keep = end_of_last_complete_line(&mut file, len)?;
    if keep == len {
        return Ok(());
    }
    let mut torn = Vec::new();
    file.seek(SeekFrom::Start(keep))?;
    file.read_to_end(&mut torn)?;
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    fs::write(
        path.with_file_name(format!("audit.log.torn-{stamp}")),
        &torn,
    )?;
    file.set_len(keep)?;
    file.sync_all()?;
    tracing::warn!(file = %path.display(), bytes = torn.len(), "audit log had a torn last line (crash during a write); moved it aside");
    Ok(())
}

/// Offset just after the last `\n` among the first `len` bytes of `file` (0 if none).
pub(crate) fn end_of_last_complete_line(file: &mut File, len: u64) -> io::Result<u64> {
    let mut pos = len;
    let mut buf = vec![0u8; 8192];
    while pos > 0 {
        let start = pos.saturating_sub(buf.len() as u64);
        let n = (pos - start) as usize;
        file.seek(SeekFrom::Start(start))?;
        file.read_exact(&mut buf[..n])?;
        if let Some(i) = buf[..n].iter().rposition(|&b| b == b'\n') {
            return Ok(start + i as u64 + 1);
        }
        pos = start;
    }
    Ok(0)
}

fn last_line(path: &Path) -> io::Result<Option<String>> {
    let mut file = File::open(path)?;
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(None);
    }
    let end = len - 1; // the trailing newline
    let start = {
        let mut probe = file.try_clone()?;
        end_of_last_complete_line(&mut probe, end)?
    };
    let mut line = vec![0u8; (end - start) as usize];
    file.seek(SeekFrom::Start(start))?;
    file.read_exact(&mut line)?;
    String::from_utf8(line)
        .map(Some)
        .map_err(|_| io::Error::other("last line is not UTF-8"))
}
