//! TLS for the dataplane server and the API. Without `--tls-cert-file/--tls-key-file`, the first start
//! makes a CA and a server certificate signed by it into `<data-dir>/tls/` (`ca.crt`, which proxies and
//! the CLI are given with `--ca-cert-file`; `server.crt`, `server.key` at 0600). The CA's key is not
//! kept: nothing else is ever signed with it.
//!
//! ```text
//!  first start ─► rcgen: CA (ECDSA P-256) ─► server cert (SANs: localhost, 127.0.0.1, ::1, host name,
//!                 --address, --tls-san ...) ─► <data-dir>/tls
//!  every start ─► rustls ServerConfig (ALPN h2, http/1.1) ─► TlsAcceptor
//! ```

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub const TLS_DIR: &str = "tls";
pub const CA_FILE: &str = "ca.crt";
pub const CERT_FILE: &str = "server.crt";
pub const KEY_FILE: &str = "server.key";

/// The server's certificate chain and key, PEM.
pub struct ServerIdentity {
    pub cert_pem: Vec<u8>,
    pub key_pem: Vec<u8>,
    /// Where the CA certificate is, when meshroute made it.
    pub ca_file: Option<PathBuf>,
}

/// The identity in `cert`/`key` when given, else the generated one of `data_dir` (made on first start).
pub fn server_identity(
    given: Option<(&Path, &Path)>,
    data_dir: &Path,
    sans: &[String],
) -> Result<ServerIdentity, String> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    if let Some((cert, key)) = given {
        return Ok(ServerIdentity { cert_pem: read(cert)?, key_pem: read(key)?, ca_file: None });
    }
    let dir = data_dir.join(TLS_DIR);
    let (ca, cert, key) = (dir.join(CA_FILE), dir.join(CERT_FILE), dir.join(KEY_FILE));
    if !cert.exists() || !key.exists() || !ca.exists() {
        let made = generate(sans)?;
        support::private::private_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        for (path, bytes, mode) in [(&ca, &made.ca, 0o644), (&cert, &made.cert, 0o644), (&key, &made.key, 0o600)] {
            support::private::write_private(path, bytes.as_bytes(), mode)
                .map_err(|e| format!("{}: {e}", path.display()))?;
        }
        tracing::info!(
            "made a TLS certificate for {} in {} (give proxies and the CLI {})",
            sans.join(", "),
            dir.display(),
            ca.display()
        );
    }
    Ok(ServerIdentity { cert_pem: read(&cert)?, key_pem: read(&key)?, ca_file: Some(ca) })
}

/// The names a generated certificate covers: this machine's, and `extra`.
pub fn default_sans(address: &str, extra: &[String]) -> Vec<String> {
    let mut sans: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "::1".into()];
    if let Ok(host) = std::fs::read_to_string("/etc/hostname") {
        sans.push(host.trim().to_owned());
    }
    let unspecified = address.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_unspecified());
    if !unspecified {
        sans.push(address.to_owned());
    }
    sans.extend(extra.iter().cloned());
    sans.retain(|s| !s.is_empty());
    sans.sort();
    sans.dedup();
    sans
}

/// PEM texts of a generated CA, server certificate and server key.
struct Generated {
    ca: String,
    cert: String,
    key: String,
}

fn generate(sans: &[String]) -> Result<Generated, String> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let err = |e: rcgen::Error| format!("cannot make a TLS certificate: {e}");
    let ca_key = KeyPair::generate().map_err(err)?;
    let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.distinguished_name.push(DnType::CommonName, "meshroute control plane CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca_cert = ca.self_signed(&ca_key).map_err(err)?;
    let issuer = Issuer::new(ca, ca_key);
    let key = KeyPair::generate().map_err(err)?;
    let mut server = CertificateParams::new(sans.to_vec()).map_err(err)?;
    server.distinguished_name.push(DnType::CommonName, "meshroute control plane");
    server.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    server.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    let cert = server.signed_by(&key, &issuer).map_err(err)?;
    Ok(Generated { ca: ca_cert.pem(), cert: cert.pem(), key: key.serialize_pem() })
}

/// A TLS acceptor for `identity`, offering HTTP/2 (gRPC) and HTTP/1.1.
pub fn acceptor(identity: &ServerIdentity) -> Result<tokio_rustls::TlsAcceptor, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&identity.cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| format!("the TLS certificate is not PEM: {e}"))?;
    if certs.is_empty() {
        return Err("the TLS certificate file holds no certificate".to_owned());
    }
    let key = PrivateKeyDer::from_pem_slice(&identity.key_pem).map_err(|e| format!("the TLS key is not PEM: {e}"))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| format!("the TLS certificate and key do not go together: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}
