//! Audit log file naming, shared by the proxy (which rotates) and `airlockctl audit` (which
//! reads a whole directory in chain order).

use std::{
    fs, io,
    path::{Path, PathBuf},
};

/// Name of the current log file.
pub const CURRENT: &str = "audit.log";

/// The rotated file name for a file whose first record is `first_seq`: zero-padded so that
/// name order is chronological (`audit.log.00000000000000000001`).
pub fn rotated_name(first_seq: u64) -> String {
    format!("{CURRENT}.{first_seq:020}")
}

/// The log files in `dir`, oldest first: rotated files by name, then `audit.log`.
pub fn log_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("audit.log."))
                .is_some_and(|s| s.len() == 20 && s.bytes().all(|b| b.is_ascii_digit()))
        })
        .collect();
    files.sort();
    let current = dir.join(CURRENT);
    if current.exists() {
        files.push(current);
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rotated_files_come_first_in_seq_order() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            CURRENT,
            &rotated_name(120),
            &rotated_name(7),
            "audit.log.torn-1",
            "other",
        ] {
            fs::write(dir.path().join(name), "").unwrap();
        }
        let names: Vec<String> = log_files(dir.path())
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [rotated_name(7), rotated_name(120), CURRENT.to_owned()]
        );
    }
}
