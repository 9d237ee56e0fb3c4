//! A small HTTP/1.1 client for the API: one request per connection, plain text over TCP. Used by the
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

/// `http://host:port` → (host, port).
pub fn parse_address(url: &str) -> Result<(String, u16), ClientError> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| ClientError(format!("{url}: only http:// addresses are supported")))?;
    let rest = rest.trim_end_matches('/');
    match rest.rsplit_once(':') {
        Some((host, port)) => {
            port.parse().map(|p| (host.to_owned(), p)).map_err(|_| ClientError(format!("{url}: bad port")))
        }
        None => Ok((rest.to_owned(), 80)),
    }
}

pub fn request(
    host: &str,
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
    timeout: Duration,
) -> Result<Response, ClientError> {
    let target = format!("{host}:{port}");
    let address = target
        .to_socket_addrs()
        .map_err(|e| ClientError(format!("cannot resolve {target}: {e}")))?
        .next()
        .ok_or_else(|| ClientError(format!("cannot resolve {target}")))?;
    let mut stream = TcpStream::connect_timeout(&address, timeout).map_err(|e| match e.kind() {
        std::io::ErrorKind::ConnectionRefused => ClientError(format!(
            "cannot reach the control plane at http://{target}: connection refused (is `meshroute run` running?)"
        )),
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => ClientError(format!(
            "cannot reach the control plane at http://{target}: timed out after {} s",
            timeout.as_secs()
        )),
        _ => ClientError(format!("cannot reach the control plane at http://{target}: {e}")),
    })?;
    stream.set_read_timeout(Some(timeout)).map_err(|e| ClientError(e.to_string()))?;
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
        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock => {
            ClientError(format!("the control plane at http://{target} did not answer within {} s", timeout.as_secs()))
        }
        _ => ClientError(format!("talking to http://{target}: {e}")),
    };
    stream.write_all(head.as_bytes()).map_err(io)?;
    stream.write_all(body.as_bytes()).map_err(io)?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).map_err(io)?;
    Ok(parse_response(&raw))
}

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
