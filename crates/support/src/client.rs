//! A small HTTP/1.1 client for the API: one request per connection, plain text or TLS over TCP. Used by the
//! `meshroute` CLI commands that talk to a control plane, and by tests.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// A response: status, lower-cased header names, body.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

/// Why a request got no response, in words a user can act on.
#[derive(Debug)]
pub struct ClientError(pub String);

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where requests go: a host and port, over TLS when `tls` is set (`https://`).
#[derive(Clone)]
pub struct Target {
    pub host: String,
    pub port: u16,
    pub tls: Option<std::sync::Arc<rustls::ClientConfig>>,
}

impl Target {
    pub fn plain(host: &str, port: u16) -> Self {
        Self { host: host.to_owned(), port, tls: None }
    }

    /// `http://host:port` or `https://host:port`; an https target verifies the server with the CA
    /// certificates (PEM) of `ca_cert`, else with none (and so fails: there is no system store here).
    pub fn parse(url: &str, ca_cert: Option<&[u8]>) -> Result<Self, ClientError> {
        let (tls, rest) = if let Some(rest) = url.strip_prefix("https://") {
            (true, rest)
        } else if let Some(rest) = url.strip_prefix("http://") {
            (false, rest)
        } else {
            return Err(ClientError(format!("{url}: use http://HOST:PORT or https://HOST:PORT")));
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = match rest.rsplit_once(':').filter(|(h, _)| !h.ends_with(':')) {
            Some((host, port)) => (host, port.parse().map_err(|_| ClientError(format!("{url}: bad port")))?),
            None => (rest, if tls { 443 } else { 80 }),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']').to_owned();
        let tls = if tls { Some(std::sync::Arc::new(tls_config(ca_cert.unwrap_or_default())?)) } else { None };
        Ok(Self { host, port, tls })
    }

    fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }
}

/// A TLS client configuration trusting the CA certificates (PEM) of `ca_pem`.
pub fn tls_config(ca_pem: &[u8]) -> Result<rustls::ClientConfig, ClientError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        let cert = cert.map_err(|e| ClientError(format!("the CA certificate file is not PEM: {e}")))?;
        roots.add(cert).map_err(|e| ClientError(format!("the CA certificate is not usable: {e}")))?;
    }
    if roots.is_empty() {
        return Err(ClientError(
            "an https:// address needs the control plane's CA certificate: pass --ca-cert-file".to_owned(),
        ));
    }
    rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError(e.to_string()))
        .map(|b| b.with_root_certificates(roots).with_no_client_auth())
}

/// `http://host:port` → (host, port).
pub fn parse_address(url: &str) -> Result<(String, u16), ClientError> {
    let target = Target::parse(url, None)?;
    if target.tls.is_some() {
        return Err(ClientError(format!("{url}: https needs a CA certificate")));
    }
    Ok((target.host, target.port))
}

/// A plaintext request to `host:port`.
pub fn request(
    host: &str,
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
    timeout: Duration,
) -> Result<Response, ClientError> {
    request_to(&Target::plain(host, port), method, path, headers, body, timeout)
}

/// One request to `target`, one connection, plaintext or TLS.
pub fn request_to(
    to: &Target,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
    timeout: Duration,
) -> Result<Response, ClientError> {
    let (scheme, host, port) = (to.scheme(), to.host.as_str(), to.port);
    let target = if host.contains(':') { format!("[{host}]:{port}") } else { format!("{host}:{port}") };
    let address = target
        .to_socket_addrs()
        .map_err(|e| ClientError(format!("cannot resolve {target}: {e}")))?
        .next()
        .ok_or_else(|| ClientError(format!("cannot resolve {target}")))?;
    let tcp = TcpStream::connect_timeout(&address, timeout).map_err(|e| match e.kind() {
        std::io::ErrorKind::ConnectionRefused => ClientError(format!(
            "cannot reach the control plane at {scheme}://{target}: connection refused (is `meshroute run` running?)"
        )),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => ClientError(format!(
            "cannot reach the control plane at {scheme}://{target}: timed out after {} s",
            timeout.as_secs()
        )),
        _ => ClientError(format!("cannot reach the control plane at {scheme}://{target}: {e}")),
    })?;
    tcp.set_read_timeout(Some(timeout)).map_err(|e| ClientError(e.to_string()))?;
    tcp.set_write_timeout(Some(timeout)).map_err(|e| ClientError(e.to_string()))?;
    let mut stream: Box<dyn ReadWrite> = match &to.tls {
        None => Box::new(tcp),
        Some(config) => {
            let name = rustls::pki_types::ServerName::try_from(host.to_owned())
                .map_err(|e| ClientError(format!("{host}: not a server name: {e}")))?;
            let connection = rustls::ClientConnection::new(config.clone(), name)
                .map_err(|e| ClientError(format!("TLS to {target}: {e}")))?;
            Box::new(rustls::StreamOwned::new(connection, tcp))
        }
    };
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {target}\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    if !body.is_empty() {
        head.push_str("Content-Type: application/json\r\n");
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => ClientError(format!(
            "the control plane at {scheme}://{target} did not answer within {} s",
            timeout.as_secs()
        )),
        _ => ClientError(format!("talking to {scheme}://{target}: {e}")),
    };
    stream.write_all(head.as_bytes()).map_err(io)?;
    stream.write_all(body.as_bytes()).map_err(io)?;
    let mut raw = Vec::new();
    match stream.read_to_end(&mut raw) {
        Ok(_) => {}
        // A TLS server that closes without close_notify still sent a whole response.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => return Err(io(e)),
    }
    Ok(parse_response(&raw))
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// A raw HTTP/1.1 response. The body is decoded (chunked or not) as bytes and only then read as text,
/// so no byte count is ever applied to text.
fn parse_response(raw: &[u8]) -> Response {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n");
    let (head, body) = match split {
        Some(i) => (&raw[..i], &raw[i + 4..]),
        None => (raw, &[][..]),
    };
    let head = String::from_utf8_lossy(head);
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked { dechunk(body) } else { body.to_vec() };
    Response { status, headers, body: String::from_utf8_lossy(&body).into_owned() }
}

/// Decodes an HTTP/1.1 chunked body; a truncated or malformed one gives what came before the fault.
pub fn dechunk(mut body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = body.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&body[..line_end]).ok().and_then(|s| usize::from_str_radix(s.trim(), 16).ok());
        let rest = &body[line_end + 2..];
        let Some(size) = size.filter(|s| *s > 0 && rest.len() >= *s) else { break };
        out.extend_from_slice(&rest[..size]);
        body = rest[size..].strip_prefix(b"\r\n").unwrap_or(&rest[size..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: the body was decoded lossily first and then cut at chunk sizes counted in bytes, which
    /// panics when a chunk ends inside a multi-byte character (and miscounts after a replaced byte).
    #[test]
    fn chunks_that_split_a_character_decode_without_panicking() {
        // "é" is two bytes (c3 a9); the first chunk ends between them.
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\na\xc3\r\n2\r\n\xa9b\r\n0\r\n\r\n";
        let response = parse_response(raw);
        assert_eq!((response.status, response.body.as_str()), (200, "aéb"));
        // An invalid byte counts as one byte, not as the three of its replacement character.
        let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n\xffx\r\n1\r\ny\r\n0\r\n\r\n";
        assert_eq!(parse_response(raw).body, "\u{fffd}xy");
        // Truncated: what came whole is kept.
        assert_eq!(dechunk(b"3\r\nabc\r\n9\r\nde"), b"abc");
    }

    #[test]
    fn plain_bodies_and_headers() {
        let response = parse_response(b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\n\r\nnope");
        assert_eq!(response.status, 404);
        assert_eq!(response.headers, vec![("content-type".to_owned(), "text/plain".to_owned())]);
        assert_eq!(response.body, "nope");
    }
}
