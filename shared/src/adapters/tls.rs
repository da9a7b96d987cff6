//! What the HTTPS clients trust: Mozilla's root certificates, compiled in (webpki-root-certs and
//! webpki-roots, one set), with rustls' WebPKI verification (chain to a root, validity, name) on
//! aws-lc. Nothing is read from the image's certificate files, parsed or encoded at init: loading
//! and parsing /etc/ssl/certs was most of a function's cold start (tests/bench/coldstart.py).

use std::sync::Arc;

/// Mozilla's roots as rustls trust anchors, extracted at compile time (webpki-roots): nothing is
/// parsed at init. The same set as [`MOZILLA_ROOTS_PEM`] (a test holds them equal).
pub(crate) fn mozilla_roots() -> rustls::RootCertStore {
    rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

/// A rustls client configuration trusting `roots` and nothing else, speaking HTTP/1.1 (all the
/// JSON-RPC client speaks): what reqwest builds for `tls_certs_only` with its default
/// provider and protocol versions.
pub(crate) fn http1_client_config(
    roots: rustls::RootCertStore,
) -> Result<rustls::ClientConfig, rustls::Error> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Mozilla's roots as PEM, the only form the SDK's HTTPS client takes custom roots in
/// (`aws_smithy_http_client::tls::TrustStore`), encoded at compile time by `build.rs`.
pub(crate) const MOZILLA_ROOTS_PEM: &str =
    include_str!(concat!(env!("OUT_DIR"), "/mozilla_roots.pem"));

#[cfg(test)]
pub(crate) mod test_server {
    //! A TLS server on loopback presenting `tests/fixtures/tls/server.pem` (issued by a test CA
    //! trusted nowhere, for `weka.test` and `localhost`), answering each request with a 400.
    #![allow(clippy::unwrap_used)]

    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use std::io::{Read as _, Write as _};
    use std::sync::Arc;

    pub(crate) const CA_PEM: &str = include_str!("../../tests/fixtures/tls/ca.pem");
    const SERVER_PEM: &str = include_str!("../../tests/fixtures/tls/server.pem");
    const SERVER_KEY: &str = include_str!("../../tests/fixtures/tls/server.key");

    /// The test CA as a root store.
    pub(crate) fn ca_roots() -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(CA_PEM.as_bytes()) {
            roots.add(cert.unwrap()).unwrap();
        }
        roots
    }

    /// Serves up to `connections` connections on a thread, then stops; returns the port. The
    /// receiver gets, per connection, whether the TLS handshake completed.
    pub(crate) fn start(connections: usize) -> (u16, std::sync::mpsc::Receiver<bool>) {
        let certs = CertificateDer::pem_slice_iter(SERVER_PEM.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(SERVER_KEY.as_bytes()).unwrap();
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let config = Arc::new(
            rustls::ServerConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .unwrap()
                .with_no_client_auth()
                .with_single_cert(certs, key)
                .unwrap(),
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (handshakes, received) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(connections) {
                let Ok(mut tcp) = stream else { continue };
                let timeout = Some(std::time::Duration::from_secs(5));
                tcp.set_read_timeout(timeout).unwrap();
                let mut tls = rustls::ServerConnection::new(Arc::clone(&config)).unwrap();
                let mut ok = true;
                while tls.is_handshaking() {
                    if tls.complete_io(&mut tcp).is_err() {
                        ok = false;
                        break;
                    }
                }
                let _ = handshakes.send(ok);
                if !ok {
                    continue;
                }
                let mut stream = rustls::Stream::new(&mut tls, &mut tcp);
                let mut request = Vec::new();
                let mut buf = [0_u8; 4096];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let _ = stream.write_all(
                    b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
                let _ = stream.flush();
                tls.send_close_notify();
                let _ = tls.complete_io(&mut tcp);
            }
        });
        (port, received)
    }

    /// Whether `error` or anything in its chain is a rustls error that is `expected`.
    pub(crate) fn caused_by(
        error: &(dyn std::error::Error + 'static),
        expected: impl Fn(&rustls::Error) -> bool,
    ) -> bool {
        let mut next = Some(error);
        while let Some(error) = next {
            if error.downcast_ref::<rustls::Error>().is_some_and(&expected) {
                return true;
            }
            next = match error.downcast_ref::<std::io::Error>() {
                Some(io) => io
                    .get_ref()
                    .map(|inner| inner as &(dyn std::error::Error + 'static)),
                None => error.source(),
            };
        }
        false
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_roots_are_mozillas() {
        let roots = mozilla_roots();
        assert!(roots.len() > 100, "{} roots", roots.len());
        // The compile-time anchors are what parsing every compiled-in certificate gives (same
        // subjects and keys, in order, none dropped as unparsable): the two crates hold one set,
        // so the JSON-RPC client and the SDK trust the same roots. The anchors may add the name
        // constraints Mozilla imposes on a root outside its certificate (stricter, never looser).
        let mut parsed = rustls::RootCertStore::empty();
        let (added, ignored) = parsed
            .add_parsable_certificates(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
        assert_eq!(
            (added, ignored),
            (webpki_root_certs::TLS_SERVER_ROOT_CERTS.len(), 0)
        );
        assert_eq!(roots.roots.len(), parsed.roots.len());
        for (anchor, from_certificate) in roots.roots.iter().zip(&parsed.roots) {
            assert_eq!(anchor.subject, from_certificate.subject);
            assert_eq!(
                anchor.subject_public_key_info,
                from_certificate.subject_public_key_info
            );
            if from_certificate.name_constraints.is_some() {
                assert_eq!(anchor.name_constraints, from_certificate.name_constraints);
            }
        }
        let subjects: Vec<_> = roots.subjects();
        let isrg = b"ISRG Root X1";
        assert!(
            subjects
                .iter()
                .any(|s| s.as_ref().windows(isrg.len()).any(|w| w == isrg)),
            "Let's Encrypt's root is trusted"
        );
        let amazon = b"Amazon Root CA 1";
        assert!(
            subjects
                .iter()
                .any(|s| s.as_ref().windows(amazon.len()).any(|w| w == amazon)),
            "the root AWS endpoints chain to is trusted"
        );
    }

    #[test]
    fn the_pem_holds_every_root() {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject as _;
        let parsed = CertificateDer::pem_slice_iter(MOZILLA_ROOTS_PEM.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        assert_eq!(parsed, webpki_root_certs::TLS_SERVER_ROOT_CERTS);
    }
}
