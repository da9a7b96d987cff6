//! A small HTTP/1.1 server and client on tokio (Content-Length bodies, keep-alive,
//! `Expect: 100-continue`). Hand-rolled so the workspace's hyper keeps its client-only feature
//! set: enabling hyper's server would rebuild every AWS SDK crate.

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Largest accepted header block.
const MAX_HEAD: usize = 64 * 1024;
/// Largest accepted body.
const MAX_BODY: usize = 16 * 1024 * 1024;

/// HTTP-level failures.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// Socket error.
    #[error("http i/o failed")]
    Io(#[from] std::io::Error),
    /// The peer sent something this server does not accept.
    #[error("malformed http message: {0}")]
    Malformed(String),
}

/// A parsed request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path without the query string.
    pub path: String,
    /// Headers with lowercase names.
    pub headers: Vec<(String, String)>,
    /// Body bytes.
    pub body: Vec<u8>,
}

impl Request {
    /// First header with this (lowercase) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The token of an `Authorization: Bearer <token>` header.
    pub fn bearer(&self) -> Option<&str> {
        self.header("authorization")
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
    }
}

/// A response, or closing the connection without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Status and JSON body.
    Json(u16, Vec<u8>),
    /// Drop the connection (an unreachable backend).
    Close,
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Payload Too Large",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// Reads one request; `None` when the peer closed the connection before sending one.
pub async fn read_request(reader: &mut BufReader<TcpStream>) -> Result<Option<Request>, HttpError> {
    let mut head = Vec::new();
    let mut line = String::new();
    loop {
        line.clear();
        let n = reader.read_line(&mut line).await?;
        if n == 0 {
            return if head.is_empty() {
                Ok(None)
            } else {
                Err(HttpError::Malformed(
                    "connection closed mid-header".to_owned(),
                ))
            };
        }
        if head.is_empty() && line.trim().is_empty() {
            continue;
        }
        if line == "\r\n" || line == "\n" {
            break;
        }
        head.push(line.trim_end().to_owned());
        if head.iter().map(String::len).sum::<usize>() > MAX_HEAD {
            return Err(HttpError::Malformed("header block too large".to_owned()));
        }
    }
    let mut parts = head[0].split_whitespace();
    let (Some(method), Some(target)) = (parts.next(), parts.next()) else {
        return Err(HttpError::Malformed(format!("request line {:?}", head[0])));
    };
    let path = target.split('?').next().unwrap_or(target).to_owned();
    let headers: Vec<(String, String)> = head[1..]
        .iter()
        .filter_map(|h| h.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut request = Request {
        method: method.to_owned(),
        path,
        headers,
        body: Vec::new(),
    };
    if request
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        return Err(HttpError::Malformed(
            "chunked bodies are not supported".to_owned(),
        ));
    }
    let length = match request.header("content-length") {
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| HttpError::Malformed(format!("content-length {v:?}")))?,
        None => 0,
    };
    if length > MAX_BODY {
        return Err(HttpError::Malformed(format!("body of {length} bytes")));
    }
    if length > 0
        && request
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        reader
            .get_mut()
            .write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
            .await?;
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).await?;
    request.body = body;
    Ok(Some(request))
}

/// Writes a JSON response.
pub async fn write_json(
    stream: &mut TcpStream,
    status: u16,
    body: &[u8],
    close: bool,
) -> Result<(), HttpError> {
    let head = format!(
        "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n",
        reason(status),
        body.len(),
        if close { "close" } else { "keep-alive" }
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    stream.flush().await?;
    Ok(())
}

/// One-shot `POST` of a JSON body to `http://host:port/path`; returns status and body.
pub async fn post_json(
    base_url: &str,
    path: &str,
    body: &[u8],
) -> Result<(u16, Vec<u8>), HttpError> {
    let authority = base_url
        .strip_prefix("http://")
        .ok_or_else(|| HttpError::Malformed(format!("not an http:// url: {base_url}")))?
        .trim_end_matches('/');
    let mut stream = TcpStream::connect(authority).await?;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| HttpError::Malformed("no header terminator in answer".to_owned()))?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| HttpError::Malformed(format!("status line {head:?}")))?;
    Ok((status, raw[split + 4..].to_vec()))
}
