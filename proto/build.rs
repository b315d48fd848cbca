//! Compiles `airlock/v1/*.proto` with protox (a pure-Rust protobuf compiler, so no system
//! `protoc` is needed) and generates the prost messages and tonic services.

use std::{env, fs, io, path::PathBuf};

use prost::Message as _;

/// Messages whose derived `Debug` would print a secret (client secret, PEM, handle, token,
/// audit-hash input). The crate implements a redacted `Debug` for each of them by hand.
const SECRET_BEARING: &[&str] = &[
    "airlock.v1.Credential",
    "airlock.v1.Credential.kind",
    "airlock.v1.CertificateCredential",
    "airlock.v1.MintSessionResponse",
    "airlock.v1.AcquireTokenRequest",
    "airlock.v1.AcquireTokenResponse",
    "airlock.v1.RunJobRequest",
    "airlock.v1.AuditHashRequest",
];

fn main() -> io::Result<()> {
    let files = [
        "airlock/v1/errors.proto",
        "airlock/v1/actions.proto",
        "airlock/v1/connection_admin.proto",
        "airlock/v1/session_broker.proto",
        "airlock/v1/token_broker.proto",
        "airlock/v1/worker.proto",
        "airlock/v1/audit.proto",
    ];
    for file in &files {
        println!("cargo:rerun-if-changed={file}");
    }
    let fds = protox::compile(files, ["."]).map_err(|e| io::Error::other(e.to_string()))?;
    let out_dir =
        PathBuf::from(env::var_os("OUT_DIR").ok_or_else(|| io::Error::other("OUT_DIR unset"))?);
    fs::write(
        out_dir.join("airlock_v1_descriptor.bin"),
        fds.encode_to_vec(),
    )?;
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .skip_debug(SECRET_BEARING)
        .compile_fds(fds)
}
