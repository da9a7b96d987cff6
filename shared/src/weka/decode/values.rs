//! The typed leaf values the record tables name (strings, string enums, times, ids, booleans,
//! integers), each read as the model's serde implementation reads it, `null` included.

use std::borrow::Cow;

use chrono::{DateTime, Utc};

use super::super::model::{
    HostId, StringEnum, parse_datetime, parse_rfc3339_fast, parse_typed_id_bytes,
};
use super::scan::{Cursor, R};

impl<'a> Cursor<'a> {
    /// The next value, which must be a string: its raw contents.
    #[inline(always)]
    pub(super) fn raw(&mut self) -> R<&'a [u8]> {
        self.eat(b'"', "expected a string")?;
        self.raw_string()
    }

    /// Consumes `null` if it is next.
    #[inline(always)]
    pub(super) fn null(&mut self) -> R<bool> {
        if self.peek() == Some(b'n') {
            self.literal(b"null")?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// `null` as `None`, or the value `read` reads.
    #[inline(always)]
    pub(super) fn nullable<T>(&mut self, read: impl FnOnce(&mut Self) -> R<T>) -> R<Option<T>> {
        if self.null()? {
            return Ok(None);
        }
        read(self).map(Some)
    }

    /// A boolean, `null` giving `false`.
    #[inline]
    pub(super) fn bool_or_null(&mut self) -> R<bool> {
        Ok(!self.null()? && self.bool()?)
    }

    /// A string (a `String`, or a `CompactString` that holds a short one inline), `null` giving
    /// the empty string.
    #[inline]
    pub(super) fn string_or_null<S>(&mut self) -> R<S>
    where
        S: Default + From<Cow<'a, str>>,
    {
        if self.null()? {
            return Ok(S::default());
        }
        let raw = self.raw()?;
        let end = self.pos;
        self.text_of(raw, end).map(S::from)
    }

    /// A string enum, `null` giving its default (`Unknown`).
    #[inline]
    pub(super) fn enum_or_null<E: StringEnum>(&mut self) -> R<E> {
        if self.null()? {
            return Ok(E::default());
        }
        let raw = self.raw()?;
        if !self.escaped
            && let Some(e) = E::from_known_bytes(raw)
        {
            return Ok(e);
        }
        let end = self.pos;
        let text = self.text_of(raw, end)?;
        Ok(E::from_known_bytes(text.as_bytes()).unwrap_or_else(|| E::other(text.into_owned())))
    }

    #[inline]
    pub(super) fn opt_datetime(&mut self) -> R<Option<DateTime<Utc>>> {
        if self.null()? {
            return Ok(None);
        }
        let raw = self.raw()?;
        if !self.escaped
            && let Some(t) = parse_rfc3339_fast(raw)
        {
            return Ok(Some(t));
        }
        let end = self.pos;
        let text = self.text_of(raw, end)?;
        match parse_datetime(&text) {
            Ok(t) => Ok(Some(t)),
            Err(e) => {
                self.pos = end - raw.len() - 1;
                self.fail(e.to_string())
            }
        }
    }

    /// A `HostId<N>` string (not nullable).
    #[inline]
    pub(super) fn host_id(&mut self) -> R<HostId> {
        let raw = self.raw()?;
        let end = self.pos;
        let id = if self.escaped {
            let text = self.text_of(raw, end)?;
            parse_typed_id_bytes("HostId", text.as_bytes())
        } else {
            parse_typed_id_bytes("HostId", raw)
        };
        match id {
            Ok(id) => Ok(HostId(id)),
            Err(e) => {
                self.pos = end - raw.len() - 1;
                self.fail(e.to_string())
            }
        }
    }

    pub(super) fn bool(&mut self) -> R<bool> {
        match self.peek() {
            Some(b't') => self.literal(b"true").map(|()| true),
            Some(b'f') => self.literal(b"false").map(|()| false),
            _ => self.fail("expected a boolean"),
        }
    }

    /// An integer that fits `i64` (a fraction or exponent is refused, as serde does for `i64`).
    pub(super) fn i64(&mut self) -> R<i64> {
        let start = self.value_start();
        self.skip_number()?;
        let parsed = self
            .b
            .get(start..self.pos)
            .and_then(|t| std::str::from_utf8(t).ok())
            // serde_json reads `-0` as the float -0.0, which no i64 accepts.
            .filter(|t| !t.contains(['.', 'e', 'E']) && *t != "-0")
            .and_then(|t| t.parse::<i64>().ok());
        match parsed {
            Some(n) => Ok(n),
            None => {
                self.pos = start;
                self.fail("expected an integer that fits i64")
            }
        }
    }
}
