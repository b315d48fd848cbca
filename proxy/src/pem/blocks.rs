//! PEM text as users paste it, normalised and split into labelled blocks.
//!
//! Tolerates what reference §6.1 lists: CRLF, a UTF-8 BOM, indentation and trailing spaces,
//! "Bag Attributes" and other text outside blocks, literal `\n` escapes from an environment
//! value, and either order of certificate and key. Block bodies of keys are decoded into
//! zeroizing buffers.

use airlock_shared::SecretBytes;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

/// One `-----BEGIN <label>-----` … `-----END <label>-----` block.
pub struct Block {
    /// The label, e.g. `CERTIFICATE`, `PRIVATE KEY`, `RSA PRIVATE KEY`.
    pub label: String,
    /// RFC 1421 headers inside the block (`Proc-Type: 4,ENCRYPTED` marks a legacy encrypted key).
    pub headers: Vec<String>,
    /// The decoded body, zeroized on drop.
    pub der: SecretBytes,
}

impl std::fmt::Debug for Block {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Block({}, {} bytes)", self.label, self.der.len())
    }
}

/// Why the text could not be split into blocks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockError {
    /// A BEGIN line without its END line (or with another label).
    #[error("the {0} block has no matching END line")]
    Unterminated(String),
    /// The base64 body does not decode.
    #[error("the {0} block is not valid base64")]
    BadBase64(String),
    /// No BEGIN line at all.
    #[error("no PEM block found (no -----BEGIN line)")]
    Empty,
}

/// Normalises pasted text: BOM, literal `\n`/`\r\n` escapes, CRLF, indentation.
pub fn normalise(input: &str) -> Zeroizing<String> {
    let text = input.trim_start_matches('\u{feff}');
    let mut out = Zeroizing::new(String::with_capacity(text.len() + 1));
    let unescaped = if text.contains("\\n") && !text.contains('\n') {
        Zeroizing::new(text.replace("\\r\\n", "\n").replace("\\n", "\n"))
    } else {
        Zeroizing::new(text.to_owned())
    };
    for line in unescaped.split(['\n', '\r']) {
        let line = line.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}' || c == '"');
        if !line.is_empty() {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

fn begin_label(line: &str) -> Option<&str> {
    line.strip_prefix("-----BEGIN ")?.strip_suffix("-----")
}

/// Splits normalised text into blocks; text outside blocks is ignored.
pub fn split(normalised: &str) -> Result<Vec<Block>, BlockError> {
    let mut blocks = Vec::new();
    let mut lines = normalised.lines();
    while let Some(line) = lines.next() {
        let Some(label) = begin_label(line) else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut body = Zeroizing::new(String::with_capacity(normalised.len()));
        let mut headers = Vec::new();
        let mut closed = false;
        for inner in lines.by_ref() {
            if inner == end {
                closed = true;
                break;
            }
            if inner.starts_with("-----") {
                break;
            }
            if inner.contains(':') {
                headers.push(inner.to_owned());
            } else {
                body.push_str(inner);
            }
        }
        if !closed {
            return Err(BlockError::Unterminated(label.to_owned()));
        }
        let mut der = Zeroizing::new(Vec::with_capacity(body.len() / 4 * 3 + 3));
        STANDARD
            .decode_vec(body.as_bytes(), &mut der)
            .map_err(|_| BlockError::BadBase64(label.to_owned()))?;
        blocks.push(Block {
            label: label.to_owned(),
            headers,
            der: SecretBytes::copy_from(&der),
        });
    }
    if blocks.is_empty() {
        return Err(BlockError::Empty);
    }
    Ok(blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "TUlJQg==";

    #[test]
    fn tolerates_what_users_paste() {
        let plain = format!("-----BEGIN CERTIFICATE-----\n{BODY}\n-----END CERTIFICATE-----\n");
        let variants = [
            plain.clone(),
            plain.replace('\n', "\r\n"),
            format!("\u{feff}{plain}"),
            plain
                .lines()
                .map(|l| format!("    {l}  "))
                .collect::<Vec<_>>()
                .join("\n"),
            format!("Bag Attributes\n    localKeyID: 01 02\nsubject=/CN=x\n{plain}"),
            plain.replace('\n', "\\n"),
            format!("\"{}\"", plain.replace('\n', "\\n")),
        ];
        for v in variants {
            let blocks = split(&normalise(&v)).unwrap_or_else(|e| panic!("{e}: {v:?}"));
            assert_eq!(blocks.len(), 1);
            assert_eq!(blocks[0].label, "CERTIFICATE");
            assert_eq!(blocks[0].der.expose_secret(), b"MIIB");
        }
    }

    #[test]
    fn reports_broken_blocks() {
        assert_eq!(split(&normalise("hello")).unwrap_err(), BlockError::Empty);
        let open = "-----BEGIN PRIVATE KEY-----\nTUlJQg==\n";
        assert!(matches!(
            split(&normalise(open)),
            Err(BlockError::Unterminated(_))
        ));
        let bad = "-----BEGIN PRIVATE KEY-----\n@@@@\n-----END PRIVATE KEY-----";
        assert!(matches!(
            split(&normalise(bad)),
            Err(BlockError::BadBase64(_))
        ));
    }

    #[test]
    fn keeps_legacy_encryption_headers() {
        let text = "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00\n\nTUlJQg==\n-----END RSA PRIVATE KEY-----";
        let blocks = split(&normalise(text)).unwrap();
        assert!(blocks[0].headers.iter().any(|h| h.contains("ENCRYPTED")));
    }
}
