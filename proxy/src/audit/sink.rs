//! Where sealed lines go. A sink writes a whole batch or nothing: on failure it rolls back
//! what it wrote, so the chain on disk never holds a record whose caller was told it failed.

use std::{
    fs::{self, File, OpenOptions},
    io::{self, Write as _},
    os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _},
    path::{Path, PathBuf},
};

use super::{AuditError, FsyncPolicy};

pub use airlock_shared::audit::files::{CURRENT, log_files, rotated_name};

/// A destination for audit lines.
pub trait Sink: Send {
    /// Writes `lines` (each without newline) whose first record has `first_seq`, all or
    /// nothing.
    fn write_batch(&mut self, first_seq: u64, lines: &[String]) -> io::Result<()>;
}

/// `audit.log` in a directory, rotated by size.
pub struct FileSink {
    dir: PathBuf,
    file: File,
    len: u64,
    first_seq: Option<u64>,
    max_bytes: u64,
    fsync: FsyncPolicy,
    poisoned: Option<String>,
    /// Faults the tests inject.
    #[cfg(test)]
    pub(crate) faults: Faults,
}

/// Faults a test can inject into a [`FileSink`], each once.
#[cfg(test)]
#[derive(Debug, Default)]
pub(crate) struct Faults {
    /// The next write reaches the file, then reports an error (like a failed fsync).
    pub(crate) write: bool,
    /// The next rotation renames and reopens, then fails to sync the directory.
    pub(crate) dir_sync: bool,
}

impl FileSink {
    /// Opens `dir/audit.log` for appending (creating the directory with mode 0700).
    pub fn open(dir: &Path, max_bytes: u64, fsync: FsyncPolicy) -> Result<Self, AuditError> {
        let fail = |why: String| AuditError::Open {
            dir: dir.to_owned(),
            why,
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| fail(format!("cannot create the directory: {e}")))?;
        let path = dir.join(CURRENT);
        let file = OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| {
                fail(format!(
                    "cannot open {}: {e}; check the directory's owner and permissions",
                    path.display()
                ))
            })?;
        let len = file.metadata().map_err(|e| fail(e.to_string()))?.len();
        let first_seq = super::recover::first_seq(&path).map_err(|e| fail(e.to_string()))?;
        Ok(Self {
            dir: dir.to_owned(),
            file,
            len,
            first_seq,
            max_bytes: max_bytes.max(4096),
            fsync,
            poisoned: None,
            #[cfg(test)]
            faults: Faults::default(),
        })
    }

    fn rotate(&mut self) -> io::Result<()> {
        let Some(first) = self.first_seq else {
            return Ok(());
        };
        self.file.sync_all()?;
        let current = self.dir.join(CURRENT);
        let rotated = self.dir.join(rotated_name(first));
        // Acknowledged records are never replaced: a rotated file of this name means the
        // sink's idea of audit.log is wrong, so stop rather than overwrite.
        if fs::symlink_metadata(&rotated).is_ok() {
            let why = format!(
                "{} already exists, so audit.log cannot be rotated onto it; run `airlockctl audit verify {}` and restart the proxy",
                rotated.display(),
                self.dir.display()
            );
            self.poisoned = Some(why.clone());
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, why));
        }
        fs::rename(&current, &rotated)?;
        // audit.log now holds nothing of this sink's: whatever fails below, the next rotation
        // must not rename the new file over the one just rotated.
        self.len = 0;
        self.first_seq = None;
        match OpenOptions::new()
            .append(true)
            .create(true)
            .mode(0o600)
            .open(&current)
        {
            Ok(file) => self.file = file,
            Err(e) => {
                // The handle still points at the rotated file: never write there again.
                self.poisoned = Some(format!(
                    "cannot create a new {} after rotating ({e}); fix the directory and restart the proxy",
                    current.display()
                ));
                return Err(e);
            }
        }
        #[cfg(test)]
        if std::mem::take(&mut self.faults.dir_sync) {
            return Err(io::Error::other("injected: directory sync failed"));
        }
        File::open(&self.dir)?.sync_all()
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.file.write_all(bytes)?;
        #[cfg(test)]
        if std::mem::take(&mut self.faults.write) {
            return Err(io::Error::other(
                "injected: write failed after reaching the file",
            ));
        }
        match self.fsync {
            FsyncPolicy::Always => self.file.sync_data(),
            FsyncPolicy::Never => self.file.flush(),
        }
    }
}

impl Sink for FileSink {
    fn write_batch(&mut self, first_seq: u64, lines: &[String]) -> io::Result<()> {
        if let Some(why) = &self.poisoned {
            return Err(io::Error::other(why.clone()));
        }
        // The file's real length, not a cached one: recovery may have cut a torn tail after
        // this sink opened the file, and a rollback must return to the real end.
        self.len = self.file.metadata()?.len();
        if self.len == 0 {
            self.first_seq = None;
        }
        let mut bytes = Vec::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
        for line in lines {
            bytes.extend_from_slice(line.as_bytes());
            bytes.push(b'\n');
        }
        if self.len > 0 && self.len + bytes.len() as u64 > self.max_bytes {
            self.rotate()?;
        }
        let before = self.len;
        match self.write_all(&bytes) {
            Ok(()) => {
                self.len += bytes.len() as u64;
                self.first_seq.get_or_insert(first_seq);
                Ok(())
            }
            Err(e) => {
                // Roll back a partial write so the file ends at the last acknowledged record.
                if let Err(undo) = self
                    .file
                    .set_len(before)
                    .and_then(|()| self.file.sync_data())
                {
                    self.poisoned = Some(format!(
                        "a failed write could not be rolled back ({undo}); fix the disk, run `airlockctl audit verify`, and restart the proxy"
                    ));
                }
                Err(e)
            }
        }
    }
}

/// Every line also to stdout, for container log shipping.
#[derive(Debug, Default)]
pub struct StdoutSink;

impl Sink for StdoutSink {
    fn write_batch(&mut self, _first_seq: u64, lines: &[String]) -> io::Result<()> {
        let mut out = io::stdout().lock();
        for line in lines {
            out.write_all(line.as_bytes())?;
            out.write_all(b"\n")?;
        }
        out.flush()
    }
}
