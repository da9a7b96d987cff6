//! The JSON-RPC 2.0 envelope: where `result` and `error` lie in a response, found without
//! decoding them.

use std::ops::Range;

use super::DecodeError;
use super::scan::Cursor;

/// Where the members of a JSON-RPC 2.0 response lie in its text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RpcEnvelope {
    /// Span of the raw JSON of `result`, if present.
    pub result: Option<Range<usize>>,
    /// Span of the raw JSON of `error`, if present and not `null`.
    pub error: Option<Range<usize>>,
}

/// Finds the raw `result` and `error` members of a JSON-RPC response without decoding them; the
/// other members are skipped. The JSON structure is validated, not the UTF-8 of skipped strings.
/// A valid JSON text that is not an object has neither member.
pub fn rpc_envelope(body: &[u8]) -> Result<RpcEnvelope, DecodeError> {
    let mut c = Cursor::new(body);
    let mut env = RpcEnvelope::default();
    let done = (|| {
        if c.peek() != Some(b'{') {
            c.skip_value()?;
            return c.end();
        }
        if c.members()? {
            loop {
                let key = c.key(&[b"result", b"error"])?;
                let start = c.value_start();
                c.skip_value()?;
                let span = start..c.pos;
                match key {
                    b"result" => env.result = Some(span),
                    b"error" => {
                        env.error = (body.get(span.clone()) != Some(b"null")).then_some(span)
                    }
                    _ => {}
                }
                if !c.more()? {
                    break;
                }
            }
        }
        c.end()
    })();
    c.finish(done).map(|()| env)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn rpc_envelope_finds_result_and_error() {
        let body = br#"{"jsonrpc": "2.0", "id": 3, "result": {"a": [1, "}"]}}"#;
        let env = rpc_envelope(body).unwrap();
        assert_eq!(&body[env.result.unwrap()], br#"{"a": [1, "}"]}"#);
        assert_eq!(env.error, None);
        let body = br#"{"error": {"code": -32601, "message": "x"}, "result": null}"#;
        let env = rpc_envelope(body).unwrap();
        assert_eq!(&body[env.result.unwrap()], b"null");
        assert_eq!(
            &body[env.error.unwrap()],
            br#"{"code": -32601, "message": "x"}"#
        );
        assert_eq!(
            rpc_envelope(br#"{"error": null}"#).unwrap(),
            RpcEnvelope::default()
        );
        assert_eq!(rpc_envelope(b" [1] ").unwrap(), RpcEnvelope::default());
        assert!(rpc_envelope(br#"{"result": [1, 2}"#).is_err());
        assert!(rpc_envelope(b"[1").is_err());
        assert!(rpc_envelope(br#"{"result": 1} 2"#).is_err());
    }
}
