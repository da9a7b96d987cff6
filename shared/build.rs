//! Writes Mozilla's root certificates (webpki-root-certs) as one PEM text into `OUT_DIR`: the
//! SDK's HTTPS client takes custom roots only as PEM, and encoding the ~120 certificates at
//! compile time keeps that work out of every cold start (`adapters/tls.rs` includes the file).

use std::error::Error;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn Error>> {
    use base64::Engine as _;
    let mut pem = String::with_capacity(260 * 1024);
    for der in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        base64::engine::general_purpose::STANDARD.encode_string(der, &mut pem);
        pem.push_str("\n-----END CERTIFICATE-----\n");
    }
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("cargo sets OUT_DIR")?);
    std::fs::write(out_dir.join("mozilla_roots.pem"), pem)?;
    println!("cargo::rerun-if-changed=build.rs");
    Ok(())
}
