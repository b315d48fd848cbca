use std::os::unix::fs::PermissionsExt as _;

use x509_parser::{certificate::X509Certificate, extensions::GeneralName, prelude::FromDer as _};

use airlock_shared::identity::SpiffeId;

use super::*;

fn der(pem: &str) -> Vec<u8> {
    use rustls_pki_types::{CertificateDer, pem::PemObject as _};
    CertificateDer::from_pem_slice(pem.as_bytes())
        .unwrap()
        .to_vec()
}

fn sans(pem: &str) -> Vec<String> {
    let der = der(pem);
    let (_, cert) = X509Certificate::from_der(&der).unwrap();
    let san = cert.subject_alternative_name().unwrap().unwrap();
    san.value
        .general_names
        .iter()
        .map(|n| match n {
            GeneralName::URI(u) => format!("URI:{u}"),
            GeneralName::DNSName(d) => format!("DNS:{d}"),
            GeneralName::IPAddress(ip) => format!("IP:{}", ip.len()),
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn every_identity_carries_its_spiffe_id_and_the_proxy_serves_localhost() {
    let pki = DevPki::generate("airlock.local", 2).unwrap();
    let names: Vec<_> = pki.identities.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(
        names,
        ["proxy", "worker-1", "worker-2", "orchestrator", "admin"]
    );
    let expected = [
        "spiffe://airlock.local/proxy/main",
        "spiffe://airlock.local/worker/worker-1",
        "spiffe://airlock.local/worker/worker-2",
        "spiffe://airlock.local/orchestrator/main",
        "spiffe://airlock.local/admin/operator",
    ];
    for (identity, want) in pki.identities.iter().zip(expected) {
        let id = SpiffeId::from_certificate(&der(&identity.leaf.cert_pem)).unwrap();
        assert_eq!(id.as_str(), want);
        assert_eq!(identity.spiffe_id, want);
    }
    let proxy = sans(&pki.identities[0].leaf.cert_pem);
    assert!(proxy.contains(&"DNS:localhost".to_owned()), "{proxy:?}");
    assert!(proxy.contains(&"IP:4".to_owned()), "{proxy:?}");
    assert!(proxy.contains(&"URI:spiffe://airlock.local/proxy/main".to_owned()));
    let worker = sans(&pki.identities[1].leaf.cert_pem);
    assert!(worker.contains(&"DNS:worker-1".to_owned()), "{worker:?}");
    // Client-only identities carry no server names.
    assert_eq!(
        sans(&pki.identities[4].leaf.cert_pem),
        ["URI:spiffe://airlock.local/admin/operator"]
    );
}

#[test]
fn write_sets_key_modes_and_never_overwrites_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pki");
    let pki = DevPki::generate("example.org", 1).unwrap();
    let written = pki.write(&out, false).unwrap();
    assert_eq!(written.len(), 2 + 2 * 4 + 1);
    for path in &written {
        let mode = fs::metadata(path).unwrap().permissions().mode() & 0o777;
        let is_key = path.extension().is_some_and(|e| e == "key");
        assert_eq!(
            mode,
            if is_key { 0o600 } else { 0o644 },
            "{}",
            path.display()
        );
    }
    let policy = fs::read_to_string(out.join("policy.toml")).unwrap();
    airlock_shared::policy::RolePolicy::parse(&policy, "written").unwrap();
    assert!(policy.contains("spiffe://example.org/worker/*"));

    let before: Vec<Vec<u8>> = written.iter().map(|p| fs::read(p).unwrap()).collect();
    let again = DevPki::generate("example.org", 1).unwrap();
    let err = again.write(&out, false).unwrap_err();
    assert!(
        matches!(&err, PkiError::Exists(paths) if paths.len() == written.len()),
        "{err}"
    );
    assert!(err.to_string().contains("--force"));
    let after: Vec<Vec<u8>> = written.iter().map(|p| fs::read(p).unwrap()).collect();
    assert_eq!(before, after, "a refused run changed files");
    assert_eq!(
        fs::read_dir(&out).unwrap().count(),
        written.len(),
        "stray temporary files left behind"
    );

    again.write(&out, true).unwrap();
    assert_ne!(fs::read(out.join("ca.pem")).unwrap(), before[0]);
}

#[test]
fn one_existing_file_is_enough_to_refuse() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("admin.key"), "keep me").unwrap();
    let err = DevPki::generate("airlock.local", 1)
        .unwrap()
        .write(dir.path(), false)
        .unwrap_err();
    assert!(matches!(err, PkiError::Exists(ref p) if p.len() == 1));
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        1,
        "something was written"
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("admin.key")).unwrap(),
        "keep me"
    );
}

#[test]
fn bad_arguments_are_refused_with_a_remedy() {
    for td in [
        "",
        "Airlock.Local",
        "a b",
        "airlock.local/x",
        "airlock.local:1",
    ] {
        let err = DevPki::generate(td, 1).unwrap_err();
        assert!(matches!(err, PkiError::TrustDomain(_)), "{td:?}: {err}");
        assert!(err.to_string().contains("lower-case"));
    }
    assert!(matches!(
        DevPki::generate("airlock.local", 0),
        Err(PkiError::Workers(0))
    ));
    assert!(matches!(
        DevPki::generate("airlock.local", MAX_WORKERS + 1),
        Err(PkiError::Workers(_))
    ));
}

#[test]
fn debug_of_generated_material_hides_keys() {
    let pki = DevPki::generate("airlock.local", 1).unwrap();
    let printed = format!("{pki:?}");
    assert!(!printed.contains("PRIVATE KEY"), "{printed}");
    assert!(!printed.contains(pki.ca.key_pem().expose_secret()));
}
