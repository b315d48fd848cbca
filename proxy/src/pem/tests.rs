//! The PEM corpus (tests/fixtures/pem, TEST ONLY, made by gen.sh the way users make them),
//! each with its expected outcome.

use super::*;

macro_rules! fixture {
    ($name:literal) => {
        include_str!(concat!("../../tests/fixtures/pem/", $name))
    };
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn ok(text: &str) -> ParsedPem {
    parse(text, AssertionAlg::Ps256, now()).unwrap_or_else(|e| panic!("{e}"))
}

fn err(text: &str) -> PemError {
    parse(text, AssertionAlg::Ps256, now()).unwrap_err()
}

#[test]
fn accepted_corpus() {
    let seed = ok(fixture!("combined.pem"));
    assert_eq!(seed.meta.subject, "CN=ServalExchangeOnline");
    assert_eq!(seed.meta.key_bits, 2048);
    assert!(matches!(
        seed.key,
        Credential::PrivateKey {
            format: KeyFormat::Pkcs8,
            ..
        }
    ));
    assert!(seed.warnings.is_empty());
    for text in [
        fixture!("key-first.pem"),
        fixture!("crlf.pem"),
        fixture!("bag-attributes.pem"),
    ] {
        assert_eq!(ok(text).meta.sha1_thumbprint, seed.meta.sha1_thumbprint);
    }
    let pkcs1 = ok(fixture!("pkcs1.pem"));
    assert!(matches!(
        pkcs1.key,
        Credential::PrivateKey {
            format: KeyFormat::Pkcs1,
            ..
        }
    ));
    assert_eq!(pkcs1.meta.sha256_thumbprint, seed.meta.sha256_thumbprint);
    assert_eq!(ok(fixture!("rsa4096.pem")).meta.key_bits, 4096);
}

#[test]
fn pasted_forms_are_normalised() {
    let text = fixture!("combined.pem");
    let escaped = text.replace('\n', "\\n");
    let indented: String = text.lines().map(|l| format!("\t  {l}\n")).collect();
    let bom = format!("\u{feff}{text}");
    for v in [escaped, indented, bom] {
        assert_eq!(ok(&v).meta.subject, "CN=ServalExchangeOnline");
    }
}

#[test]
fn chain_picks_the_certificate_matching_the_key() {
    let chain = ok(fixture!("chain.pem"));
    assert_eq!(chain.meta.subject, "CN=ChainLeaf");
    assert_eq!(chain.meta.issuer, "CN=TestIntermediateCA");
    assert_eq!(chain.meta.key_bits, 3072);
}

#[test]
fn thumbprints_match_openssl() {
    let p = ok(fixture!("combined.pem"));
    assert_eq!(p.meta.sha1_thumbprint.len(), 40);
    assert_eq!(p.meta.sha256_thumbprint.len(), 64);
    assert_eq!(
        p.meta.sha1_thumbprint,
        p.meta.sha1_thumbprint.to_ascii_uppercase()
    );
    // openssl x509 -noout -fingerprint -sha1 -in cert.pem, recomputed from the DER
    let der = blocks::split(&blocks::normalise(fixture!("cert.pem"))).unwrap();
    let expect = hex::encode_upper(digest::digest(
        &digest::SHA1_FOR_LEGACY_USE_ONLY,
        der[0].der.expose_secret(),
    ));
    assert_eq!(p.meta.sha1_thumbprint, expect);
}

#[test]
fn no_private_key_uses_the_seed_words_and_remedy() {
    for text in [fixture!("cert-only.pem"), "", "just some text"] {
        let e = err(text);
        assert_eq!(e, PemError::NoPrivateKey);
        assert_eq!(e.to_string(), "PEM must contain a private key");
        assert!(e.remedy().contains("cat cert.pem key.pem > combined.pem"));
    }
}

#[test]
fn rejected_corpus_has_distinct_errors() {
    assert_eq!(err(fixture!("key.pem")), PemError::NoCertificate);
    assert_eq!(err(fixture!("encrypted.pem")), PemError::EncryptedKey);
    assert_eq!(
        err(fixture!("encrypted-legacy.pem")),
        PemError::EncryptedKey
    );
    assert!(matches!(err(fixture!("ec-sec1.pem")), PemError::NotRsa(_)));
    assert!(matches!(err(fixture!("ec-pkcs8.pem")), PemError::NotRsa(_)));
    assert!(matches!(
        err(fixture!("mismatch.pem")),
        PemError::Mismatch(_)
    ));
    assert!(matches!(err(fixture!("rsa1024.pem")), PemError::BadKey(m) if m.contains("2048")));
    let two_keys = format!("{}{}", fixture!("combined.pem"), fixture!("other-key.pem"));
    assert_eq!(err(&two_keys), PemError::SeveralKeys(2));
    assert_eq!(err(&"A".repeat(MAX_PEM_BYTES + 1)), PemError::TooLarge);
    let broken = fixture!("combined.pem").replace("-----END PRIVATE KEY-----", "");
    assert!(matches!(err(&broken), PemError::Malformed(_)));
    for e in [
        PemError::EncryptedKey,
        PemError::NotRsa("EC"),
        PemError::Mismatch(String::new()),
    ] {
        assert_ne!(e.remedy(), airlock_shared::catalogue::REMEDY_PEM);
    }
}

#[test]
fn validity_window_and_expiry_warning() {
    let p = ok(fixture!("combined.pem"));
    let (nb, na) = (p.meta.not_before, p.meta.not_after);
    let at = |t| parse(fixture!("combined.pem"), AssertionAlg::Rs256, t);
    assert!(matches!(
        at(na + Duration::days(1)),
        Err(PemError::Expired(_))
    ));
    assert!(matches!(
        at(nb - Duration::days(1)),
        Err(PemError::NotYetValid(_))
    ));
    let soon = at(na - Duration::days(10)).unwrap();
    assert_eq!(soon.warnings.len(), 1);
    assert!(soon.warnings[0].contains("expires"));
    assert_eq!(soon.meta.algorithm, AssertionAlg::Rs256);
}

#[test]
fn debug_never_shows_the_key() {
    let p = ok(fixture!("combined.pem"));
    let printed = format!("{p:?}");
    let key_line = fixture!("key.pem").lines().nth(1).unwrap();
    assert!(!printed.contains(key_line));
    assert!(printed.contains("redacted"));
}

/// Hostile input: thousands of mutated PEMs (truncated, bytes replaced, lines dropped or
/// duplicated) never panic and never yield a key that does not match its certificate.
#[test]
fn mutated_pems_never_panic() {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move |n: usize| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state % n.max(1) as u64) as usize
    };
    let base = fixture!("combined.pem");
    let lines: Vec<&str> = base.lines().collect();
    for round in 0..600 {
        let text = match round % 4 {
            0 => base[..next(base.len())].to_owned(),
            1 => {
                let mut b = base.as_bytes().to_vec();
                for _ in 0..1 + next(8) {
                    let i = next(b.len());
                    let alphabet = b" -=+/\\nABCxyz019\r\n";
                    b[i] = alphabet[next(alphabet.len())];
                }
                String::from_utf8_lossy(&b).into_owned()
            }
            2 => {
                let drop = next(lines.len());
                lines
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != drop)
                    .map(|(_, l)| format!("{l}\n"))
                    .collect()
            }
            _ => {
                let dup = next(lines.len());
                let mut l = lines.clone();
                l.insert(dup, lines[dup]);
                l.join("\n")
            }
        };
        if let Ok(p) = parse(&text, AssertionAlg::Ps256, now()) {
            let Credential::PrivateKey { format, der } = &p.key else {
                panic!("not a key")
            };
            let pair = load_rsa(*format, der).unwrap();
            let (_, cert) = X509Certificate::from_der(&p.meta.der).unwrap();
            assert_eq!(
                cert.public_key().subject_public_key.data.as_ref(),
                pair.public().as_ref()
            );
        }
    }
}
