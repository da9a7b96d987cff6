//! The validating scanner: a [`Cursor`] over a JSON text that reads the structure (objects, keys,
//! separators), skips values it is not asked for (checking them as serde would), and finds the end
//! of a string from [`Stops`], an index of the quote, backslash and control bytes built 64 bytes
//! at a time with vector comparisons (`wide`'s safe API).

use std::borrow::Cow;

use serde::de::DeserializeOwned;

use super::DecodeError;
use super::unescape::unescape;

/// `serde_json`'s nesting limit.
const MAX_DEPTH: u32 = 128;

/// Decoding failed; the cursor holds the details. A zero-sized error keeps the scanner's results
/// in registers.
pub(super) struct Fail;

pub(super) type R<T> = Result<T, Fail>;

/// A position in a JSON text.
pub(super) struct Cursor<'a> {
    pub(super) b: &'a [u8],
    pub(super) pos: usize,
    pub(super) depth: u32,
    /// Whether the last string scanned holds escapes.
    pub(super) escaped: bool,
    /// The unescaped text of the last map key that had escapes.
    pub(super) key_buf: String,
    error: Option<DecodeError>,
    stops: Stops,
    /// The member layouts learned per record type ([`Shape`]), by the record tables' slots.
    shapes: [Shape; SHAPE_SLOTS],
}

/// Record types that can be read by one cursor at once (a host and its nested `aws` record).
pub(super) const SHAPE_SLOTS: usize = 2;

/// The longest member text a [`Head`] holds (three vector compares).
const HEAD_MAX: usize = 48;

/// The field number a [`Shape`] gives a key that is none of the record's fields.
pub(super) const UNKNOWN_FIELD: u8 = u8::MAX;

/// What [`Cursor::predicted_key`] gives for a whole member it skipped, its comma included.
pub(super) const SKIPPED_MEMBER: u8 = u8::MAX - 1;

/// The layout of one record type as its first record (or the first after a record that strayed
/// from it) wrote it: for each member in order, the exact text from the member's start to its
/// value (key, colon, whitespace: the head) and the field it names; for a member of no field
/// that is not the last, the whole text up to and with the comma after its value. WEKA writes
/// every record of a list with the same keys in the same order, and many of the members it does
/// not model with the same values, so the next record's members are checked against it with a
/// few vector comparisons instead of scanning and matching each key and scanning the value.
/// Byte-for-byte the same text in the same place of the grammar, a matched head is exactly as
/// valid, and names the same field, as when it was read the first time; so is a matched whole
/// member, whose value (string, number, literal or container) ends where it ended then, at the
/// comma that is part of the match. Anything else goes through [`Cursor::key`].
#[derive(Default)]
struct Shape {
    heads: Vec<Head>,
}

/// One member of a [`Shape`]: its text (zero-padded), the length of its head (0: a head too long
/// to hold, which predicts nothing) and of the whole member (0: none), and the field it names.
#[derive(Clone, Copy)]
struct Head {
    text: [u8; HEAD_MAX],
    head: u8,
    whole: u8,
    field: u8,
}

/// Blocks of 64 input bytes indexed at once by [`Stops`] (4 KiB of input).
const WINDOW: usize = 64;

/// A sliding index of the "stop" bytes of the input (quote, backslash, control character): bit
/// `i` of `masks[k]` is set when byte `64 * (first + k) + i` is one. Built a window at a time with
/// vector comparisons, it lets a string be scanned to its end in a few
/// instructions instead of a loop over its bytes. Past the end of the input every byte is a stop.
struct Stops {
    first: usize,
    /// Whether a byte above 0x7F was seen in any window so far.
    non_ascii: bool,
    /// One extra block so that two consecutive masks are always at hand.
    masks: [u64; WINDOW + 1],
}

impl Stops {
    fn new() -> Self {
        Self {
            // Forces a fill on first use.
            first: usize::MAX / 2,
            non_ascii: false,
            masks: [0; WINDOW + 1],
        }
    }

    /// Position of the first stop byte at or after `start` (`>= b.len()` when there is none).
    #[inline(always)]
    fn next(&mut self, b: &[u8], start: usize) -> usize {
        let block = start / 64;
        let mut k = block.wrapping_sub(self.first);
        if k >= WINDOW {
            self.fill(b, block);
            k = 0;
        }
        let (lo, hi) = (self.masks[k], self.masks[k + 1]);
        // Two blocks at once: a string that crosses a block boundary costs no extra branch.
        let pair = (u128::from(hi) << 64 | u128::from(lo)) >> (start % 64);
        if pair != 0 {
            return start + pair.trailing_zeros() as usize;
        }
        self.next_far(b, (block + 2) * 64)
    }

    /// [`Self::next`] for a stop that lies beyond the two blocks at hand.
    #[cold]
    #[inline(never)]
    fn next_far(&mut self, b: &[u8], mut start: usize) -> usize {
        loop {
            let block = start / 64;
            if block.wrapping_sub(self.first) >= WINDOW {
                self.fill(b, block);
            }
            let mask = self.masks[block - self.first];
            if mask != 0 {
                return block * 64 + mask.trailing_zeros() as usize;
            }
            start = (block + 1) * 64;
        }
    }

    #[inline(never)]
    fn fill(&mut self, b: &[u8], first: usize) {
        self.first = first;
        // Every byte of the window or-ed together, from the same vector loads.
        let mut high = wide::u8x16::ZERO;
        for (k, mask) in self.masks.iter_mut().enumerate() {
            let at = (first + k) * 64;
            *mask = match b
                .get(at..at + 64)
                .and_then(|s| <&[u8; 64]>::try_from(s).ok())
            {
                Some(chunk) => block_stops(chunk, &mut high),
                None => {
                    // The last partial block: zero bytes (control characters) pad it.
                    let mut tail = [0u8; 64];
                    let rest = b.get(at..).unwrap_or_default();
                    tail[..rest.len()].copy_from_slice(rest);
                    block_stops(&tail, &mut high)
                }
            };
        }
        self.non_ascii |= high.to_bitmask() != 0;
    }
}

/// Bit `i` set when byte `i` is a quote, a backslash or a control character: 16 bytes per
/// comparison and per mask (SSE2 on x86_64, NEON on aarch64), through `wide`'s safe API. The
/// bytes are or-ed into `high`, whose top bits then tell whether any was above 0x7F.
#[inline(always)]
fn block_stops(chunk: &[u8; 64], high: &mut wide::u8x16) -> u64 {
    use wide::u8x16;
    let flip = u8x16::splat(0x02);
    let backslash = u8x16::splat(b'\\');
    let space = u8x16::splat(b' ');
    let mut mask = 0u64;
    for (k, part) in chunk.chunks_exact(16).enumerate() {
        let v = u8x16::new(<[u8; 16]>::try_from(part).unwrap_or_default());
        // Flipping bit 1 swaps the quote (0x22) with the space (0x20) and keeps every control
        // character (0x00-0x1F) below 0x20: a byte is a quote or a control character exactly
        // when its flipped value is at most 0x20, i.e. its minimum with 0x20 is itself.
        let f = v ^ flip;
        let stops = f.min(space).simd_eq(f) | v.simd_eq(backslash);
        mask |= u64::from(stops.to_bitmask()) << (16 * k);
        *high |= v;
    }
    mask
}

impl<'a> Cursor<'a> {
    pub(super) fn new(b: &'a [u8]) -> Self {
        Self {
            b,
            pos: 0,
            depth: 0,
            escaped: false,
            key_buf: String::new(),
            error: None,
            stops: Stops::new(),
            shapes: Default::default(),
        }
    }

    /// Whether the record type of `slot` has no layout yet: its next record teaches one
    /// ([`Self::learn_head`]).
    #[inline(always)]
    pub(super) fn shape_unknown(&self, slot: usize) -> bool {
        self.shapes.get(slot).is_none_or(|s| s.heads.is_empty())
    }

    /// Whether the layout of `slot` has a head for member `member` (so that a member read
    /// without it strayed from the layout).
    #[inline(never)]
    pub(super) fn shape_holds(&self, slot: usize, member: usize) -> bool {
        self.shapes
            .get(slot)
            .is_some_and(|s| member < s.heads.len())
    }

    /// Forgets the layout of `slot` (a record strayed from it): the next record teaches a new one.
    #[cold]
    pub(super) fn forget_shape(&mut self, slot: usize) {
        if let Some(shape) = self.shapes.get_mut(slot) {
            shape.heads.clear();
        }
    }

    /// Appends to the layout of `slot` the head of member `member`, read from `start` to the
    /// cursor by [`Self::key`] and naming `field`, when it is the layout's next member. A head
    /// longer than a [`Head`] holds is kept as an empty one, which predicts nothing, so that the
    /// members after it keep their places.
    #[inline(never)]
    pub(super) fn learn_head(&mut self, slot: usize, member: usize, start: usize, field: u8) {
        let Some(shape) = self.shapes.get_mut(slot) else {
            return;
        };
        if shape.heads.len() != member {
            return;
        }
        let head = self
            .b
            .get(start..self.pos)
            .filter(|head| head.len() <= HEAD_MAX)
            .unwrap_or_default();
        let mut entry = Head {
            text: [0; HEAD_MAX],
            head: 0,
            whole: 0,
            field,
        };
        if let Ok(len) = u8::try_from(head.len()) {
            entry.head = len;
            entry.text[..head.len()].copy_from_slice(head);
        }
        shape.heads.push(entry);
    }

    /// After the value of member `member` (of no field) of the record teaching the layout of
    /// `slot`, which started at `start`: keeps the whole member, its comma included, if a comma
    /// follows the value right away and the text fits in a [`Head`] (else only its head stays).
    #[inline(never)]
    pub(super) fn learn_whole(&mut self, slot: usize, member: usize, start: usize) {
        let b = self.b;
        let Some(entry) = self
            .shapes
            .get_mut(slot)
            .and_then(|shape| shape.heads.get_mut(member))
        else {
            return;
        };
        let end = self.pos + 1;
        let whole = b
            .get(start..end)
            .filter(|text| text.len() <= HEAD_MAX && text.ends_with(b","));
        if let (Some(text), true) = (whole, entry.head != 0) {
            entry.text = [0; HEAD_MAX];
            entry.text[..text.len()].copy_from_slice(text);
            entry.whole = u8::try_from(text.len()).unwrap_or(0);
        }
    }

    /// What the layout of `slot` predicts for member `member` at the cursor: its field, if its
    /// head is the one the layout holds (the cursor then moves to the value), [`SKIPPED_MEMBER`]
    /// if the whole member is (the cursor then moves past its comma), else `None` (the cursor
    /// stays).
    #[inline(always)]
    pub(super) fn predicted_key(&mut self, slot: usize, member: usize) -> Option<u8> {
        use wide::u8x16;
        let head = self.shapes.get(slot)?.heads.get(member)?;
        if head.head == 0 {
            return None;
        }
        let at: &[u8; HEAD_MAX] = self.b.get(self.pos..self.pos + HEAD_MAX)?.try_into().ok()?;
        let part = |a: &[u8; HEAD_MAX], k: usize| {
            u8x16::new(<[u8; 16]>::try_from(&a[16 * k..16 * k + 16]).unwrap_or_default())
        };
        // Bit `i` set when byte `i` is the layout's.
        let equal = u64::from(part(at, 0).simd_eq(part(&head.text, 0)).to_bitmask())
            | u64::from(part(at, 1).simd_eq(part(&head.text, 1)).to_bitmask()) << 16
            | u64::from(part(at, 2).simd_eq(part(&head.text, 2)).to_bitmask()) << 32;
        let whole = (1u64 << head.whole) - 1;
        if head.whole != 0 && equal & whole == whole {
            self.pos += usize::from(head.whole);
            return Some(SKIPPED_MEMBER);
        }
        let needed = (1u64 << head.head) - 1;
        if equal & needed != needed {
            return None;
        }
        self.pos += usize::from(head.head);
        Some(head.field)
    }

    /// Records the first error, at the current position.
    #[cold]
    #[inline(never)]
    pub(super) fn fail<T>(&mut self, reason: impl Into<Cow<'static, str>>) -> R<T> {
        if self.error.is_none() {
            self.error = Some(DecodeError {
                offset: self.pos,
                reason: reason.into(),
            });
        }
        Err(Fail)
    }

    pub(super) fn finish<T>(&mut self, result: R<T>) -> Result<T, DecodeError> {
        result.map_err(|Fail| {
            self.error.take().unwrap_or(DecodeError {
                offset: self.pos,
                reason: "invalid JSON".into(),
            })
        })
    }

    /// The next non-whitespace byte (not consumed).
    #[inline(always)]
    pub(super) fn peek(&mut self) -> Option<u8> {
        match self.b.get(self.pos) {
            Some(&c) if c > b' ' => Some(c),
            _ => self.peek_after_space(),
        }
    }

    #[cold]
    fn peek_after_space(&mut self) -> Option<u8> {
        while let Some(&c) = self.b.get(self.pos) {
            if !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(c);
            }
            self.pos += 1;
        }
        None
    }

    #[inline(always)]
    pub(super) fn eat(&mut self, byte: u8, what: &'static str) -> R<()> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            self.fail(what)
        }
    }

    /// Only whitespace may follow the top-level value.
    pub(super) fn end(&mut self) -> R<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => self.fail("trailing characters"),
        }
    }

    pub(super) fn value_start(&mut self) -> usize {
        self.peek();
        self.pos
    }

    /// Opens an object (a record must be one; serde's sequence form is not accepted): whether it
    /// has members.
    #[inline(always)]
    pub(super) fn members(&mut self) -> R<bool> {
        self.eat(b'{', "expected an object")?;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.fail("recursion limit exceeded");
        }
        if self.peek() == Some(b'}') {
            self.pos += 1;
            self.depth -= 1;
            return Ok(false);
        }
        Ok(true)
    }

    /// A member's key and its colon. A key with escapes is returned as the entry of `known` it
    /// spells, or as `b"\\"` (matching no field) when it is none of them.
    #[inline(always)]
    pub(super) fn key(&mut self, known: &[&'static [u8]]) -> R<&'a [u8]> {
        // Fast path for compact JSON: `"key":` without escapes or whitespace.
        let b = self.b;
        let open = self.pos;
        if b.get(open) == Some(&b'"') {
            let close = self.stops.next(b, open + 1);
            if b.get(close) == Some(&b'"') && b.get(close + 1) == Some(&b':') {
                let key = b.get(open + 1..close).unwrap_or_default();
                // serde reads keys as text: one with a non-ASCII byte must be UTF-8.
                if self.stops.non_ascii && std::str::from_utf8(key).is_err() {
                    self.pos = open;
                    return self.fail("invalid UTF-8 in key");
                }
                self.pos = close + 2;
                self.escaped = false;
                return Ok(key);
            }
        }
        self.key_slow(known)
    }

    /// A key of an ignored object: checked like any string, not read.
    #[inline(always)]
    fn skip_key(&mut self) -> R<()> {
        self.eat(b'"', "expected a key")?;
        self.raw_string()?;
        self.eat(b':', "expected `:`")
    }

    #[inline(never)]
    fn key_slow(&mut self, known: &[&'static [u8]]) -> R<&'a [u8]> {
        self.eat(b'"', "expected a key")?;
        let open = self.pos - 1;
        let mut key = self.raw_string()?;
        if self.escaped {
            key = self.escaped_key(key, known)?;
        } else if std::str::from_utf8(key).is_err() {
            self.pos = open;
            return self.fail("invalid UTF-8 in key");
        }
        self.eat(b':', "expected `:`")?;
        Ok(key)
    }

    #[cold]
    #[inline(never)]
    fn escaped_key(&mut self, raw: &'a [u8], known: &[&'static [u8]]) -> R<&'a [u8]> {
        let end = self.pos;
        let text = self.unescaped(raw, end)?;
        if known.is_empty() {
            // Map keys (typed ids) are read by value: keep the unescaped text for them.
            self.key_buf = text.into_owned();
            return Ok(b"\\\\");
        }
        Ok(known
            .iter()
            .copied()
            .find(|k| *k == text.as_bytes())
            .unwrap_or(b"\\"))
    }

    /// A value decoded by serde: a record in serde's sequence form (a JSON array).
    #[cold]
    #[inline(never)]
    pub(super) fn by_serde<T: DeserializeOwned>(&mut self) -> R<T> {
        let start = self.value_start();
        self.skip_value()?;
        let raw = self.b.get(start..self.pos).unwrap_or_default();
        match serde_json::from_slice(raw) {
            Ok(value) => Ok(value),
            Err(e) => {
                self.pos = start;
                self.fail(e.to_string())
            }
        }
    }

    /// After a member's value: whether another member follows (`,`) or the object ends (`}`).
    #[inline(always)]
    pub(super) fn more(&mut self) -> R<bool> {
        match self.b.get(self.pos) {
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(b'}') => {
                self.pos += 1;
                self.depth -= 1;
                Ok(false)
            }
            _ => self.more_slow(),
        }
    }

    /// [`Self::more`] after whitespace.
    #[inline(never)]
    fn more_slow(&mut self) -> R<bool> {
        match self.peek() {
            Some(b',' | b'}') => self.more(),
            _ => self.fail("expected `,` or `}`"),
        }
    }

    /// Scans a string whose opening quote was consumed and leaves the cursor after the closing
    /// quote. Returns the raw contents; [`Self::escaped`] tells whether they hold escapes.
    #[inline(always)]
    pub(super) fn raw_string(&mut self) -> R<&'a [u8]> {
        let b = self.b;
        let start = self.pos;
        // Fast path: the first quote, backslash or control character from the stop index; a quote
        // ends a string without escapes.
        let i = self.stops.next(b, start);
        if b.get(i) == Some(&b'"') {
            self.pos = i + 1;
            self.escaped = false;
            return Ok(b.get(start..i).unwrap_or_default());
        }
        self.raw_string_slow(start)
    }

    /// [`Self::raw_string`] byte by byte: escapes, errors and the last bytes of the input.
    #[cold]
    #[inline(never)]
    fn raw_string_slow(&mut self, start: usize) -> R<&'a [u8]> {
        let b = self.b;
        let mut i = start;
        let mut escaped = false;
        loop {
            match b.get(i) {
                Some(b'"') => {
                    self.pos = i + 1;
                    self.escaped = escaped;
                    return Ok(b.get(start..i).unwrap_or_default());
                }
                Some(b'\\') => {
                    escaped = true;
                    match b.get(i + 1) {
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                        Some(b'u') => {
                            let hex = b.get(i + 2..i + 6).unwrap_or_default();
                            if hex.len() != 4 || !hex.iter().all(u8::is_ascii_hexdigit) {
                                self.pos = i;
                                return self.fail("invalid unicode escape");
                            }
                            i += 6;
                        }
                        _ => {
                            self.pos = i;
                            return self.fail("invalid escape");
                        }
                    }
                }
                Some(&c) if c < 0x20 => {
                    self.pos = i;
                    return self.fail("control character in string");
                }
                Some(_) => i += 1,
                None => {
                    self.pos = i;
                    return self.fail("end of input in string");
                }
            }
        }
    }

    /// The text of a string just scanned by [`Self::raw_string`] (which ended before `end`).
    #[inline(always)]
    pub(super) fn text_of(&mut self, raw: &'a [u8], end: usize) -> R<Cow<'a, str>> {
        if self.escaped {
            return self.unescaped(raw, end);
        }
        match std::str::from_utf8(raw) {
            Ok(text) => Ok(Cow::Borrowed(text)),
            Err(_) => self.fail("invalid UTF-8 in string"),
        }
    }

    #[cold]
    fn unescaped(&mut self, raw: &[u8], end: usize) -> R<Cow<'a, str>> {
        match unescape(raw) {
            Ok(text) => Ok(Cow::Owned(text)),
            Err(reason) => {
                self.pos = end - raw.len() - 1;
                self.fail(reason)
            }
        }
    }

    #[inline(always)]
    pub(super) fn literal(&mut self, word: &'static [u8]) -> R<()> {
        if self.b.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(())
        } else {
            self.fail("invalid literal")
        }
    }

    /// Validates and skips one number (JSON grammar).
    #[inline(always)]
    pub(super) fn skip_number(&mut self) -> R<()> {
        let b = self.b;
        let mut i = self.pos;
        let digits = |mut i: usize| {
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            i
        };
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => i = digits(i + 1),
            _ => {
                self.pos = i;
                return self.fail("invalid number");
            }
        }
        if b.get(i) == Some(&b'.') {
            let after = digits(i + 1);
            if after == i + 1 {
                self.pos = after;
                return self.fail("invalid number");
            }
            i = after;
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let after = digits(i);
            if after == i {
                self.pos = after;
                return self.fail("invalid number");
            }
            i = after;
        }
        self.pos = i;
        Ok(())
    }

    /// Validates and skips one value of any type.
    #[inline(always)]
    pub(super) fn skip_value(&mut self) -> R<()> {
        match self.peek() {
            Some(b'"') => {
                self.pos += 1;
                self.raw_string().map(|_| ())
            }
            Some(b'-' | b'0'..=b'9') => self.skip_number(),
            Some(b'n') => self.literal(b"null"),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            _ => self.skip_container(),
        }
    }

    /// Validates and skips an object or an array, iteratively and without a nesting limit, as
    /// serde skips ignored values (the nesting is kept as a bit stack, one bit per level: 1 for
    /// an object; 128 levels in `stack`, deeper ones spilled to `spilled`).
    #[inline(never)]
    fn skip_container(&mut self) -> R<()> {
        let mut stack = 0u128;
        let mut spilled: Vec<u128> = Vec::new();
        let mut levels = 0usize;
        loop {
            // A value.
            match self.peek() {
                Some(open @ (b'{' | b'[')) => {
                    self.pos += 1;
                    if levels > 0 && levels.is_multiple_of(128) {
                        spilled.push(stack);
                        stack = 0;
                    }
                    levels += 1;
                    let object = open == b'{';
                    stack = (stack << 1) | u128::from(object);
                    let close = if object { b'}' } else { b']' };
                    if self.peek() == Some(close) {
                        self.pos += 1;
                        pop(&mut stack, &mut spilled, &mut levels);
                    } else {
                        if object {
                            self.skip_key()?;
                        }
                        continue;
                    }
                }
                Some(b'"') => {
                    self.pos += 1;
                    self.raw_string()?;
                }
                Some(b'-' | b'0'..=b'9') => self.skip_number()?,
                Some(b'n') => self.literal(b"null")?,
                Some(b't') => self.literal(b"true")?,
                Some(b'f') => self.literal(b"false")?,
                _ => return self.fail("expected a value"),
            }
            // After a value: close containers until one continues.
            loop {
                if levels == 0 {
                    return Ok(());
                }
                let object = stack & 1 == 1;
                match (self.peek(), object) {
                    (Some(b','), _) => {
                        self.pos += 1;
                        if object {
                            self.skip_key()?;
                        }
                        break;
                    }
                    (Some(b'}'), true) | (Some(b']'), false) => {
                        self.pos += 1;
                        pop(&mut stack, &mut spilled, &mut levels);
                    }
                    _ => {
                        return self.fail(if object {
                            "expected `,` or `}`"
                        } else {
                            "expected `,` or `]`"
                        });
                    }
                }
            }
        }
    }
}

/// Leaves a level of [`Cursor::skip_container`]'s bit stack.
#[inline(always)]
fn pop(stack: &mut u128, spilled: &mut Vec<u128>, levels: &mut usize) {
    *stack >>= 1;
    *levels -= 1;
    if *levels > 0 && levels.is_multiple_of(128) {
        *stack = spilled.pop().unwrap_or(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The vector classification against the scalar definition, for every byte value at every
    /// position of a block (both ends of each 16-byte part and of the block included).
    #[test]
    fn block_stops_flags_exactly_quotes_backslashes_and_control_characters() {
        for byte in 0..=u8::MAX {
            let stop = byte == b'"' || byte == b'\\' || byte < 0x20;
            for at in 0..64 {
                let mut chunk = [b'a'; 64];
                chunk[at] = byte;
                let mut high = wide::u8x16::ZERO;
                let mask = block_stops(&chunk, &mut high);
                assert_eq!(mask, u64::from(stop) << at, "byte {byte:#x} at {at}");
                assert_eq!(
                    high.to_bitmask() != 0,
                    byte > 0x7F,
                    "byte {byte:#x} at {at}"
                );
            }
        }
    }
}
