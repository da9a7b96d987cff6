//! JSON string escapes resolved into text (the rare path: WEKA's strings seldom hold any).

/// Resolves the escapes of a raw string (already checked by [`Cursor::raw_string`]).
pub(super) fn unescape(raw: &[u8]) -> Result<String, &'static str> {
    fn hex4(b: &[u8]) -> Option<u32> {
        let s = std::str::from_utf8(b.get(..4)?).ok()?;
        u32::from_str_radix(s, 16).ok()
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while let Some(&c) = raw.get(i) {
        if c != b'\\' {
            out.push(c);
            i += 1;
            continue;
        }
        let simple = match raw.get(i + 1) {
            Some(b'"') => Some(b'"'),
            Some(b'\\') => Some(b'\\'),
            Some(b'/') => Some(b'/'),
            Some(b'b') => Some(0x08),
            Some(b'f') => Some(0x0c),
            Some(b'n') => Some(b'\n'),
            Some(b'r') => Some(b'\r'),
            Some(b't') => Some(b'\t'),
            _ => None,
        };
        if let Some(byte) = simple {
            out.push(byte);
            i += 2;
            continue;
        }
        let unit = raw
            .get(i + 2..)
            .and_then(hex4)
            .ok_or("invalid unicode escape")?;
        i += 6;
        let ch = match unit {
            0xD800..=0xDBFF => {
                let low = (raw.get(i) == Some(&b'\\') && raw.get(i + 1) == Some(&b'u'))
                    .then(|| raw.get(i + 2..).and_then(hex4))
                    .flatten()
                    .filter(|l| (0xDC00..=0xDFFF).contains(l))
                    .ok_or("lone leading surrogate in hex escape")?;
                i += 6;
                char::from_u32(0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00))
            }
            0xDC00..=0xDFFF => None,
            _ => char::from_u32(unit),
        }
        .ok_or("invalid unicode code point")?;
        let mut buf = [0u8; 4];
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
    }
    String::from_utf8(out).map_err(|_| "invalid UTF-8 in string")
}
