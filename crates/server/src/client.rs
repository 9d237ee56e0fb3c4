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
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split_whitespace().nth(1)).and_then(|s| s.parse().ok()).unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers.iter().any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
    let body = if chunked { dechunk(body) } else { body.to_owned() };
    Ok(Response { status, headers, body })
}

/// Decodes an HTTP/1.1 chunked body.
pub fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else { break };
        if size == 0 || rest.len() < size {
            break;
        }
        out.push_str(&rest[..size]);
        body = rest[size..].trim_start_matches("\r\n");
    }
    out
}
