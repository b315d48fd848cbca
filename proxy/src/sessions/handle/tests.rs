use super::*;

/// RFC 8032 test 1 secret key, as PKCS#8 v1 (TEST ONLY).
fn kat_key() -> Ed25519KeyPair {
    let seed =
        hex::decode("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60").unwrap();
    let public =
        hex::decode("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a").unwrap();
    Ed25519KeyPair::from_seed_and_public_key(&seed, &public).unwrap()
}

fn claims() -> Claims {
    Claims {
        sid: "5f0c6f2e-2a55-4c8e-9a3b-0d6f0e1c2b3a".into(),
        conn: "0b7e2a4c-1d3f-4e5a-8b6c-7d8e9f0a1b2c".into(),
        job: "job-42".into(),
        cmdlets: vec!["Get-Mailbox".into(), "Set-Mailbox".into()],
        iat: 1_790_000_000,
        exp: 1_790_000_900,
        wrk: Some("spiffe://airlock.local/worker/w1".into()),
    }
}

/// Known answer: the exact bytes of a handle. Ed25519 is deterministic, so header, payload
/// and signature are pinned; the signature was checked independently with Python
/// `cryptography` (Ed25519PrivateKey.from_private_bytes(seed).sign(signing_input)).
#[test]
fn known_answer() {
    let handle = sign(&claims(), &kat_key());
    let (input, sig) = handle.rsplit_once('.').unwrap();
    let (header, payload) = input.split_once('.').unwrap();
    assert_eq!(header, HEADER_B64);
    assert_eq!(
        URL_SAFE_NO_PAD.decode(header).unwrap(),
        HEADER_JSON.as_bytes()
    );
    assert_eq!(
        String::from_utf8(URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap(),
        r#"{"sid":"5f0c6f2e-2a55-4c8e-9a3b-0d6f0e1c2b3a","conn":"0b7e2a4c-1d3f-4e5a-8b6c-7d8e9f0a1b2c","job":"job-42","cmdlets":["Get-Mailbox","Set-Mailbox"],"iat":1790000000,"exp":1790000900,"wrk":"spiffe://airlock.local/worker/w1"}"#
    );
    assert_eq!(sig, KAT_SIGNATURE);
    assert_eq!(verify(&handle, &public_key(&kat_key())).unwrap(), claims());
}

const KAT_SIGNATURE: &str =
    "i3D2Vt56Gn9BPn-MGFs4eMeSiuX5uNuv-WD2Kt12egWvbWMxGC3seXbH2pXdhIEnh83Sx6aPwp1aVu0evo56CQ";

#[test]
fn hostile_input_is_refused() {
    let key = kat_key();
    let pk = public_key(&key);
    let good = sign(&claims(), &key);
    let (input, sig) = good.rsplit_once('.').unwrap();
    let (_, payload) = input.split_once('.').unwrap();
    let none_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#);
    let hs_header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
    let cases: Vec<(String, FormatError)> = vec![
        (String::new(), FormatError::Size),
        ("a".repeat(MAX_HANDLE_BYTES + 1), FormatError::Size),
        ("abc".into(), FormatError::Malformed),
        (input.to_string(), FormatError::Malformed),
        (format!("{none_header}.{payload}."), FormatError::Malformed),
        (
            format!("{hs_header}.{payload}.{sig}"),
            FormatError::Malformed,
        ),
        (format!("{input}.{sig}="), FormatError::Malformed),
        (format!("{input}.{}", &sig[..85]), FormatError::Malformed),
        (format!("{good}.x"), FormatError::Malformed),
        (format!("{HEADER_B64}..{sig}"), FormatError::Malformed),
        (
            format!("{HEADER_B64}.{payload}!.{sig}"),
            FormatError::Malformed,
        ),
        (
            format!("{HEADER_B64} .{payload}.{sig}"),
            FormatError::Malformed,
        ),
    ];
    for (handle, want) in cases {
        assert_eq!(
            verify(&handle, &pk),
            Err(want),
            "case of length {}",
            handle.len()
        );
    }
}

#[test]
fn any_changed_byte_fails_the_signature() {
    let key = kat_key();
    let pk = public_key(&key);
    let good = sign(&claims(), &key);
    let mut other = claims();
    other.conn = "11111111-2222-4333-8444-555555555555".into();
    let forged_payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(&other).unwrap());
    let sig = good.rsplit_once('.').unwrap().1;
    let forged = format!("{HEADER_B64}.{forged_payload}.{sig}");
    assert_eq!(verify(&forged, &pk), Err(FormatError::Signature));
    let rng = ring::rand::SystemRandom::new();
    let other_key =
        Ed25519KeyPair::from_pkcs8(Ed25519KeyPair::generate_pkcs8(&rng).unwrap().as_ref()).unwrap();
    assert_eq!(
        verify(&sign(&claims(), &other_key), &pk),
        Err(FormatError::Signature)
    );
}

/// Every single-character change anywhere in a handle (including ones that keep it valid
/// base64url) is refused, never accepted and never a panic.
#[test]
fn every_one_character_mutation_is_refused() {
    let key = kat_key();
    let pk = public_key(&key);
    let good = sign(&claims(), &key);
    for i in 0..good.len() {
        for c in ['A', 'B', 'g', '_', '-', '.', '=', '\0', 'é'] {
            let mut chars: Vec<char> = good.chars().collect();
            if chars[i] == c {
                continue;
            }
            chars[i] = c;
            let mutated: String = chars.into_iter().collect();
            assert!(verify(&mutated, &pk).is_err(), "mutation at {i} accepted");
        }
    }
}
