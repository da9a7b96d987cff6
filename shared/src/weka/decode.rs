//! Fast decoding of WEKA's large list results (`hosts_list`, `disks_list`, `nodes_list`) straight
//! from the JSON bytes into the typed models of [`super::model`].
//!
//! A 10,000-machine cluster answers with ~80 MB of JSON, most of it fields scale-down never reads.
//! This decoder reads only the modelled fields and skips the rest with a validating scanner that
//! finds the end of a string from an index of its quote, backslash and control bytes, built a
//! window at a time; the kept strings are copied once from the input.
//! It gives the same values as the models' serde implementations through `serde_json`, and accepts
//! and rejects the same documents (only the error texts differ): like serde, it checks the UTF-8
//! of keys and of the strings it keeps, not of ignored strings; a record written as a JSON array
//! (serde's sequence form of a struct) is handed to serde. The input is read once.
//! [`cluster_lists`] decodes the three lists on the available cores.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::mpsc;

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;

use super::model::{
    AwsInfo, Drive, DriveId, DriveStatus, DrivesList, Host, HostId, HostMode, HostState,
    HostStatus, HostsList, Node, NodeId, NodeStatus, NodesList, parse_datetime, parse_rfc3339_fast,
    parse_typed_id_bytes,
};

/// A JSON text that is not a valid answer of the expected shape.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason} at byte {offset}")]
pub struct DecodeError {
    /// Byte offset in the input where decoding stopped.
    pub offset: usize,
    /// What was wrong.
    pub reason: Cow<'static, str>,
}

impl From<serde_json::Error> for DecodeError {
    fn from(e: serde_json::Error) -> Self {
        Self {
            offset: 0,
            reason: e.to_string().into(),
        }
    }
}

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

/// Decodes a `hosts_list` result.
pub fn hosts_list(json: &[u8]) -> Result<HostsList, DecodeError> {
    List::HOSTS.decode(json)
}

/// Decodes a `disks_list` result.
pub fn disks_list(json: &[u8]) -> Result<DrivesList, DecodeError> {
    List::DISKS.decode(json)
}

/// Decodes a `nodes_list` result.
pub fn nodes_list(json: &[u8]) -> Result<NodesList, DecodeError> {
    List::NODES.decode(json)
}

/// A WEKA result decoded from its JSON text: the large lists by this module, the others by serde.
pub trait FromResult: Sized {
    /// Decodes the JSON text of a `result`.
    fn from_result(json: &[u8]) -> Result<Self, DecodeError>;
}

impl FromResult for HostsList {
    fn from_result(json: &[u8]) -> Result<Self, DecodeError> {
        hosts_list(json)
    }
}

impl FromResult for DrivesList {
    fn from_result(json: &[u8]) -> Result<Self, DecodeError> {
        disks_list(json)
    }
}

impl FromResult for NodesList {
    fn from_result(json: &[u8]) -> Result<Self, DecodeError> {
        nodes_list(json)
    }
}

macro_rules! from_result_by_serde {
    ($($t:ty),+) => {
        $(impl FromResult for $t {
            fn from_result(json: &[u8]) -> Result<Self, DecodeError> {
                Ok(serde_json::from_slice(json)?)
            }
        })+
    };
}

from_result_by_serde!(
    super::model::ClusterStatus,
    super::model::ManualOverrideList,
    super::model::InterfaceGroupList
);

/// Results of [`cluster_lists`], one per list.
pub type ClusterLists = (
    Result<HostsList, DecodeError>,
    Result<DrivesList, DecodeError>,
    Result<NodesList, DecodeError>,
);

/// Decodes `hosts_list`, `disks_list` and `nodes_list` results. With more than one core, each list
/// is cut in two near its middle, at what looks like the start of an entry: a second thread parses
/// the second halves while this one parses the first halves, and a cut is used only if the first
/// half's parse ends exactly there (otherwise the parse goes on from where it stopped), so the
/// result is always the sequential one. Then the second thread builds the node map while this one
/// builds the host and drive maps (about as many entries on each side).
pub fn cluster_lists(hosts: &[u8], disks: &[u8], nodes: &[u8]) -> ClusterLists {
    let workers = std::thread::available_parallelism().map_or(1, usize::from);
    if workers < 2 {
        return (hosts_list(hosts), disks_list(disks), nodes_list(nodes));
    }
    let (h, d, n) = (
        List::HOSTS.cut(hosts),
        List::DISKS.cut(disks),
        List::NODES.cut(nodes),
    );
    std::thread::scope(|s| {
        let (tx_seconds, rx_seconds) = mpsc::channel();
        let (tx_nodes, rx_nodes) = mpsc::channel();
        let helper = s.spawn(move || {
            // A send fails only when the receiving side is gone; nothing is left to do then.
            let _ = tx_seconds.send((List::HOSTS.second_half(&h), List::DISKS.second_half(&d)));
            let n2 = List::NODES.second_half(&n);
            let n1 = rx_nodes.recv().ok()?;
            Some(List::NODES.join(&n, n1, n2))
        });
        let (h1, d1) = (List::HOSTS.first_half(&h), List::DISKS.first_half(&d));
        let n1 = List::NODES.first_half(&n);
        let (h2, d2) = rx_seconds.recv().unwrap_or((None, None));
        let helper_nodes = tx_nodes.send(n1);
        let (hosts, drives) = (List::HOSTS.join(&h, h1, h2), List::DISKS.join(&d, d1, d2));
        // Joined in every case: a scope whose thread panicked unjoined panics itself.
        let helped = helper.join().ok().flatten();
        let nodes = match (helper_nodes, helped) {
            (Ok(()), Some(nodes)) => nodes,
            // The helper panicked: decode the list here.
            (Ok(()), None) => nodes_list(nodes),
            (Err(mpsc::SendError(n1)), _) => List::NODES.join(&n, n1, None),
        };
        (hosts, drives, nodes)
    })
}

/// How to decode one list: its key prefix and its record decoder.
struct List<K, V> {
    prefix: &'static str,
    key: fn(i64) -> K,
    record: for<'a> fn(&mut Cursor<'a>) -> R<V>,
}

impl List<HostId, Host> {
    const HOSTS: Self = Self {
        prefix: "HostId",
        key: HostId,
        record: host,
    };
}

impl List<DriveId, Drive> {
    const DISKS: Self = Self {
        prefix: "DiskId",
        key: DriveId,
        record: drive,
    };
}

impl List<NodeId, Node> {
    const NODES: Self = Self {
        prefix: "NodeId",
        key: NodeId,
        record: node,
    };
}

/// A list's text and where a second thread may start parsing it.
#[derive(Clone, Copy)]
struct Cut<'a> {
    json: &'a [u8],
    /// Position of the opening quote of an entry's key, past the middle.
    at: Option<usize>,
}

/// Entries parsed from a part of a list, and where the parse stopped.
struct Part<K, V> {
    /// Keys and records, in the order of the text (records in options, to be taken in key order).
    keys: Vec<K>,
    records: Vec<Option<V>>,
    /// Whether the keys came in ascending order.
    sorted: bool,
    /// Unless `sorted`: (key, position) in ascending order, once [`Part::ordered`].
    order: Vec<(K, usize)>,
    /// Position of the first entry boundary at or after the cut (`None`: the object ended).
    stopped: Option<usize>,
}

impl<K: Ord + Copy, V> Part<K, V> {
    /// Sorts the key order (by the thread that parsed the part).
    fn ordered(mut self) -> Self {
        if !self.sorted {
            self.order = self.keys.iter().copied().zip(0..).collect();
            self.order.sort_unstable();
        }
        self
    }

    /// The entries in key order (equal keys in text order), each record moved out once.
    fn into_entries(self) -> impl Iterator<Item = (K, V)> {
        let Part {
            keys,
            mut records,
            sorted,
            order,
            ..
        } = self;
        let order = if sorted {
            keys.iter().copied().zip(0..).collect()
        } else {
            order
        };
        order
            .into_iter()
            .filter_map(move |(key, index)| Some((key, records.get_mut(index)?.take()?)))
    }
}

impl<K: Ord + Copy, V> List<K, V> {
    fn decode(&self, json: &[u8]) -> Result<BTreeMap<K, V>, DecodeError> {
        Ok(build(self.parse(json, None, usize::MAX)?.ordered(), None))
    }

    fn cut<'a>(&self, json: &'a [u8]) -> Cut<'a> {
        Cut {
            json,
            at: cut_point(json, self.prefix),
        }
    }

    /// The entries from the cut to the end, with their key order (none without a cut).
    fn second_half(&self, cut: &Cut<'_>) -> Option<Result<Part<K, V>, DecodeError>> {
        Some(
            self.parse(cut.json, Some(cut.at?), usize::MAX)
                .map(Part::ordered),
        )
    }

    /// The entries up to the cut (the whole list without a cut), with their key order.
    fn first_half(&self, cut: &Cut<'_>) -> Result<Part<K, V>, DecodeError> {
        self.parse(cut.json, None, cut.at.unwrap_or(usize::MAX))
            .map(Part::ordered)
    }

    /// The map of both halves: the second half is used if the first one stopped exactly at the
    /// cut; otherwise the list is parsed on from where the first half stopped.
    fn join(
        &self,
        cut: &Cut<'_>,
        first: Result<Part<K, V>, DecodeError>,
        second: Option<Result<Part<K, V>, DecodeError>>,
    ) -> Result<BTreeMap<K, V>, DecodeError> {
        let first = first?;
        let rest = match (first.stopped, cut.at, second) {
            // The object ended before the cut (or there was none).
            (None, _, _) => return Ok(build(first, None)),
            // The cut was an entry boundary: the second half is the rest of the list.
            (Some(stop), Some(at), Some(rest)) if stop == at => rest?,
            // The cut fell inside an entry: parse on from the boundary reached.
            (Some(stop), _, _) => self.parse(cut.json, Some(stop), usize::MAX)?.ordered(),
        };
        Ok(build(first, Some(rest)))
    }

    /// Parses the entries of the list object: from its start (`from = None`) or from the key that
    /// starts at `from`, to the end of the object, or to the first entry boundary at or after
    /// `until`.
    fn parse(
        &self,
        json: &[u8],
        from: Option<usize>,
        until: usize,
    ) -> Result<Part<K, V>, DecodeError> {
        let mut c = Cursor::new(json);
        let start = from.unwrap_or(0);
        let size = json.len().min(until).saturating_sub(start);
        let mut keys: Vec<K> = Vec::new();
        let mut records: Vec<Option<V>> = Vec::new();
        let mut sorted = true;
        let mut stopped = None;
        let done = (|| {
            match from {
                None => {
                    if !c.members()? {
                        return c.end();
                    }
                }
                Some(at) => {
                    c.pos = at;
                    c.depth = 1;
                }
            }
            loop {
                let k = c.key(&[])?;
                let raw = if c.escaped { c.key_buf.as_bytes() } else { k };
                let id = match parse_typed_id_bytes(self.prefix, raw) {
                    Ok(n) => (self.key)(n),
                    Err(e) => return c.fail(e.to_string()),
                };
                sorted &= keys.last().is_none_or(|last| *last < id);
                keys.push(id);
                records.push(Some((self.record)(&mut c)?));
                if keys.len() == 64 {
                    // Room for the whole part at the size of the first records, to spare the
                    // regrowth (and copies) of large vectors.
                    let per_record = c.pos.saturating_sub(start) / 64;
                    let guess = (size / per_record.max(1)) * 9 / 8;
                    keys.reserve(guess);
                    records.reserve(guess);
                }
                if !c.more()? {
                    return c.end();
                }
                if c.pos >= until {
                    stopped = Some(c.pos);
                    return Ok(());
                }
            }
        })();
        c.finish(done)?;
        Ok(Part {
            keys,
            records,
            sorted,
            order: Vec::new(),
            stopped,
        })
    }
}

/// The position of the first `"Prefix<` key that follows `},` past the middle of `json`, if any
/// within 64 KiB: a likely start of an entry of the top-level object (checked by the caller).
fn cut_point(json: &[u8], prefix: &str) -> Option<usize> {
    const MIN_SIZE: usize = 1 << 20;
    if json.len() < MIN_SIZE {
        return None;
    }
    let mid = json.len() / 2;
    let window = json.get(mid..json.len().min(mid + (64 << 10)))?;
    let needle_len = 3 + prefix.len() + 1;
    window
        .windows(needle_len)
        .position(|w| {
            w.starts_with(b"},\"")
                && w.get(3..3 + prefix.len()) == Some(prefix.as_bytes())
                && w.last() == Some(&b'<')
        })
        .map(|p| mid + p + 2)
}

/// The map of a list's entries from one part, or two consecutive ones (all [`Part::ordered`]):
/// the parts' entries are merged in key order straight into the map, whose bulk build keeps the
/// last of equal keys — the last record in text order, as serde does.
fn build<K: Ord + Copy, V>(first: Part<K, V>, rest: Option<Part<K, V>>) -> BTreeMap<K, V> {
    let mut a = first.into_entries().peekable();
    let Some(rest) = rest else {
        return a.collect();
    };
    let mut b = rest.into_entries().peekable();
    // On equal keys the first part's entries come first.
    std::iter::from_fn(|| match (a.peek(), b.peek()) {
        (Some(x), Some(y)) if y.0 < x.0 => b.next(),
        (Some(_), _) => a.next(),
        (None, _) => b.next(),
    })
    .collect()
}

/// Marks a known field as seen; serde refuses a field given twice.
#[inline(always)]
fn once(c: &mut Cursor<'_>, seen: &mut u32, bit: u32, name: &'static str) -> R<()> {
    if *seen & (1 << bit) != 0 {
        return c.fail(format!("duplicate field `{name}`"));
    }
    *seen |= 1 << bit;
    Ok(())
}

const HOST_FIELDS: &[&[u8]] = &[
    b"added_time",
    b"state_changed_time",
    b"state",
    b"status",
    b"host_ip",
    b"aws",
    b"container_name",
    b"mode",
    b"machine_identifier",
    b"auto_remove_timeout",
];
const AWS_FIELDS: &[&[u8]] = &[b"instance_id"];
const DRIVE_FIELDS: &[&[u8]] = &[b"host_id", b"status", b"uuid", b"should_be_active"];
const NODE_FIELDS: &[&[u8]] = &[b"host_id", b"status", b"last_fencing_time"];

fn host(c: &mut Cursor<'_>) -> R<Host> {
    if c.peek() == Some(b'[') {
        return c.by_serde();
    }
    let mut h = Host::default();
    let mut seen = 0u32;
    if c.members()? {
        loop {
            match c.key(HOST_FIELDS)? {
                b"added_time" => {
                    once(c, &mut seen, 1, "added_time")?;
                    h.added_time = c.opt_datetime()?;
                }
                b"state_changed_time" => {
                    once(c, &mut seen, 2, "state_changed_time")?;
                    h.state_changed_time = c.opt_datetime()?;
                }
                b"state" => {
                    once(c, &mut seen, 3, "state")?;
                    h.state = c.enum_or_null(HostState::from_known_bytes, HostState::Other)?;
                }
                b"status" => {
                    once(c, &mut seen, 4, "status")?;
                    h.status = c.enum_or_null(HostStatus::from_known_bytes, HostStatus::Other)?;
                }
                b"host_ip" => {
                    once(c, &mut seen, 5, "host_ip")?;
                    h.host_ip = c.string_or_null()?;
                }
                b"aws" => {
                    once(c, &mut seen, 7, "aws")?;
                    h.aws = if c.null()? { None } else { Some(aws(c)?) };
                }
                b"container_name" => {
                    once(c, &mut seen, 8, "container_name")?;
                    h.container_name = c.string_or_null()?;
                }
                b"mode" => {
                    once(c, &mut seen, 9, "mode")?;
                    h.mode = c.enum_or_null(HostMode::from_known_bytes, HostMode::Other)?;
                }
                b"machine_identifier" => {
                    once(c, &mut seen, 10, "machine_identifier")?;
                    h.machine_identifier = c.string_or_null()?;
                }
                b"auto_remove_timeout" => {
                    once(c, &mut seen, 11, "auto_remove_timeout")?;
                    h.auto_remove_timeout = if c.null()? { None } else { Some(c.i64()?) };
                }
                _ => c.skip_value()?,
            }
            if !c.more()? {
                break;
            }
        }
    }
    Ok(h)
}

fn aws(c: &mut Cursor<'_>) -> R<AwsInfo> {
    if c.peek() == Some(b'[') {
        return c.by_serde();
    }
    let mut a = AwsInfo::default();
    let mut seen = 0u32;
    if c.members()? {
        loop {
            match c.key(AWS_FIELDS)? {
                b"instance_id" => {
                    once(c, &mut seen, 0, "instance_id")?;
                    a.instance_id = c.string_or_null()?;
                }
                _ => c.skip_value()?,
            }
            if !c.more()? {
                break;
            }
        }
    }
    Ok(a)
}

fn drive(c: &mut Cursor<'_>) -> R<Drive> {
    if c.peek() == Some(b'[') {
        return c.by_serde();
    }
    let mut d = Drive {
        host_id: HostId::INVALID,
        status: DriveStatus::Unknown,
        uuid: String::new(),
        should_be_active: false,
    };
    let mut seen = 0u32;
    if c.members()? {
        loop {
            match c.key(DRIVE_FIELDS)? {
                b"host_id" => {
                    once(c, &mut seen, 0, "host_id")?;
                    d.host_id = c.host_id()?;
                }
                b"status" => {
                    once(c, &mut seen, 1, "status")?;
                    d.status = c.enum_or_null(DriveStatus::from_known_bytes, DriveStatus::Other)?;
                }
                b"uuid" => {
                    once(c, &mut seen, 2, "uuid")?;
                    d.uuid = c.string_or_null()?;
                }
                b"should_be_active" => {
                    once(c, &mut seen, 3, "should_be_active")?;
                    d.should_be_active = !c.null()? && c.bool()?;
                }
                _ => c.skip_value()?,
            }
            if !c.more()? {
                break;
            }
        }
    }
    Ok(d)
}

fn node(c: &mut Cursor<'_>) -> R<Node> {
    if c.peek() == Some(b'[') {
        return c.by_serde();
    }
    let mut n = Node {
        host_id: HostId::INVALID,
        status: NodeStatus::Unknown,
        last_fencing_time: None,
    };
    let mut seen = 0u32;
    if c.members()? {
        loop {
            match c.key(NODE_FIELDS)? {
                b"host_id" => {
                    once(c, &mut seen, 0, "host_id")?;
                    n.host_id = c.host_id()?;
                }
                b"status" => {
                    once(c, &mut seen, 1, "status")?;
                    n.status = c.enum_or_null(NodeStatus::from_known_bytes, NodeStatus::Other)?;
                }
                b"last_fencing_time" => {
                    once(c, &mut seen, 2, "last_fencing_time")?;
                    n.last_fencing_time = c.opt_datetime()?;
                }
                _ => c.skip_value()?,
            }
            if !c.more()? {
                break;
            }
        }
    }
    Ok(n)
}

/// `serde_json`'s nesting limit.
const MAX_DEPTH: u32 = 128;

/// Decoding failed; the cursor holds the details. A zero-sized error keeps the scanner's results
/// in registers.
struct Fail;

type R<T> = Result<T, Fail>;

/// A position in a JSON text.
struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
    depth: u32,
    /// Whether the last string scanned holds escapes.
    escaped: bool,
    /// The unescaped text of the last map key that had escapes.
    key_buf: String,
    error: Option<DecodeError>,
    stops: Stops,
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
        let window = b.get(first * 64..).unwrap_or_default();
        let window = window.get(..(WINDOW + 1) * 64).unwrap_or(window);
        self.non_ascii |= window.iter().fold(0, |acc, &c| acc | c) >= 0x80;
        for (k, mask) in self.masks.iter_mut().enumerate() {
            let at = (first + k) * 64;
            *mask = match b
                .get(at..at + 64)
                .and_then(|s| <&[u8; 64]>::try_from(s).ok())
            {
                Some(chunk) => block_stops(chunk),
                None => {
                    // The last partial block: zero bytes (control characters) pad it.
                    let mut tail = [0u8; 64];
                    let rest = b.get(at..).unwrap_or_default();
                    tail[..rest.len()].copy_from_slice(rest);
                    block_stops(&tail)
                }
            };
        }
    }
}

/// Bit `i` set when byte `i` is a quote, a backslash or a control character: 16 bytes per
/// comparison and per mask (SSE2 on x86_64, NEON on aarch64), through `wide`'s safe API.
#[inline(always)]
fn block_stops(chunk: &[u8; 64]) -> u64 {
    use wide::u8x16;
    let quote = u8x16::splat(b'"');
    let backslash = u8x16::splat(b'\\');
    let last_control = u8x16::splat(0x1F);
    let mut mask = 0u64;
    for (k, part) in chunk.chunks_exact(16).enumerate() {
        let v = u8x16::new(<[u8; 16]>::try_from(part).unwrap_or_default());
        // A control character is at most 0x1F: its minimum with 0x1F is itself.
        let stops = v.simd_eq(quote) | v.simd_eq(backslash) | v.min(last_control).simd_eq(v);
        mask |= u64::from(stops.to_bitmask()) << (16 * k);
    }
    mask
}

impl<'a> Cursor<'a> {
    fn new(b: &'a [u8]) -> Self {
        Self {
            b,
            pos: 0,
            depth: 0,
            escaped: false,
            key_buf: String::new(),
            error: None,
            stops: Stops::new(),
        }
    }

    /// Records the first error, at the current position.
    #[cold]
    #[inline(never)]
    fn fail<T>(&mut self, reason: impl Into<Cow<'static, str>>) -> R<T> {
        if self.error.is_none() {
            self.error = Some(DecodeError {
                offset: self.pos,
                reason: reason.into(),
            });
        }
        Err(Fail)
    }

    fn finish<T>(&mut self, result: R<T>) -> Result<T, DecodeError> {
        result.map_err(|Fail| {
            self.error.take().unwrap_or(DecodeError {
                offset: self.pos,
                reason: "invalid JSON".into(),
            })
        })
    }

    /// The next non-whitespace byte (not consumed).
    #[inline(always)]
    fn peek(&mut self) -> Option<u8> {
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
    fn eat(&mut self, byte: u8, what: &'static str) -> R<()> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            self.fail(what)
        }
    }

    /// Only whitespace may follow the top-level value.
    fn end(&mut self) -> R<()> {
        match self.peek() {
            None => Ok(()),
            Some(_) => self.fail("trailing characters"),
        }
    }

    fn value_start(&mut self) -> usize {
        self.peek();
        self.pos
    }

    /// Opens an object (a record must be one; serde's sequence form is not accepted): whether it
    /// has members.
    #[inline(always)]
    fn members(&mut self) -> R<bool> {
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
    fn key(&mut self, known: &[&'static [u8]]) -> R<&'a [u8]> {
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
    fn by_serde<T: DeserializeOwned>(&mut self) -> R<T> {
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
    fn more(&mut self) -> R<bool> {
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

    #[inline(never)]
    fn more_slow(&mut self) -> R<bool> {
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(b'}') => {
                self.pos += 1;
                self.depth -= 1;
                Ok(false)
            }
            _ => self.fail("expected `,` or `}`"),
        }
    }

    /// Scans a string whose opening quote was consumed and leaves the cursor after the closing
    /// quote. Returns the raw contents; [`Self::escaped`] tells whether they hold escapes.
    #[inline(always)]
    fn raw_string(&mut self) -> R<&'a [u8]> {
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
    fn text_of(&mut self, raw: &'a [u8], end: usize) -> R<Cow<'a, str>> {
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

    /// The next value, which must be a string: its raw contents.
    #[inline(always)]
    fn raw(&mut self) -> R<&'a [u8]> {
        self.eat(b'"', "expected a string")?;
        self.raw_string()
    }

    /// Consumes `null` if it is next.
    #[inline(always)]
    fn null(&mut self) -> R<bool> {
        if self.peek() == Some(b'n') {
            self.literal(b"null")?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// A string, `null` giving the empty string.
    #[inline]
    fn string_or_null(&mut self) -> R<String> {
        if self.null()? {
            return Ok(String::new());
        }
        let raw = self.raw()?;
        let end = self.pos;
        self.text_of(raw, end).map(Cow::into_owned)
    }

    /// A string enum, `null` giving its default (`Unknown`).
    #[inline]
    fn enum_or_null<E: Default>(
        &mut self,
        known: fn(&[u8]) -> Option<E>,
        other: fn(String) -> E,
    ) -> R<E> {
        if self.null()? {
            return Ok(E::default());
        }
        let raw = self.raw()?;
        if !self.escaped
            && let Some(e) = known(raw)
        {
            return Ok(e);
        }
        let end = self.pos;
        let text = self.text_of(raw, end)?;
        Ok(known(text.as_bytes()).unwrap_or_else(|| other(text.into_owned())))
    }

    #[inline]
    fn opt_datetime(&mut self) -> R<Option<DateTime<Utc>>> {
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
    fn host_id(&mut self) -> R<HostId> {
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

    fn bool(&mut self) -> R<bool> {
        match self.peek() {
            Some(b't') => self.literal(b"true").map(|()| true),
            Some(b'f') => self.literal(b"false").map(|()| false),
            _ => self.fail("expected a boolean"),
        }
    }

    /// An integer that fits `i64` (a fraction or exponent is refused, as serde does for `i64`).
    fn i64(&mut self) -> R<i64> {
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

    #[inline(always)]
    fn literal(&mut self, word: &'static [u8]) -> R<()> {
        if self.b.get(self.pos..self.pos + word.len()) == Some(word) {
            self.pos += word.len();
            Ok(())
        } else {
            self.fail("invalid literal")
        }
    }

    /// Validates and skips one number (JSON grammar).
    #[inline(always)]
    fn skip_number(&mut self) -> R<()> {
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
    fn skip_value(&mut self) -> R<()> {
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

/// Resolves the escapes of a raw string (already checked by [`Cursor::raw_string`]).
fn unescape(raw: &[u8]) -> Result<String, &'static str> {
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

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::{Value, json};
    use std::fmt::Debug;

    fn fixture(name: &str) -> Vec<u8> {
        std::fs::read(format!(
            "{}/tests/fixtures/weka/{name}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    }

    /// Ours and serde agree: same value, or both refuse.
    fn agree<T: DeserializeOwned + PartialEq + Debug>(
        json: &[u8],
        ours: fn(&[u8]) -> Result<T, DecodeError>,
    ) -> bool {
        let theirs = serde_json::from_slice::<T>(json);
        let mine = ours(json);
        match (&theirs, &mine) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{}", String::from_utf8_lossy(json)),
            (Err(_), Err(_)) => {}
            _ => panic!(
                "serde {:?} but ours {:?} on {}",
                theirs.as_ref().err(),
                mine.as_ref().err(),
                String::from_utf8_lossy(json)
            ),
        }
        theirs.is_ok()
    }

    fn all_agree(json: &[u8]) {
        agree(json, hosts_list);
        agree(json, disks_list);
        agree(json, nodes_list);
    }

    #[test]
    fn fixtures_decode_as_serde_does_pretty_and_compact() {
        fn both<T: DeserializeOwned + PartialEq + Debug>(
            name: &str,
            ours: fn(&[u8]) -> Result<T, DecodeError>,
        ) {
            let pretty = fixture(name);
            assert!(agree(&pretty, ours));
            let compact =
                serde_json::to_vec(&serde_json::from_slice::<Value>(&pretty).unwrap()).unwrap();
            assert!(agree(&compact, ours));
        }
        both("hosts_list.json", hosts_list);
        both("disks_list.json", disks_list);
        both("nodes_list.json", nodes_list);
    }

    fn host_with(field: &str, value: &str) -> Vec<u8> {
        format!(r#"{{"HostId<1>": {{"uid": "u", "{field}": {value}, "status": "UP"}}}}"#)
            .into_bytes()
    }

    #[test]
    fn field_values_decode_or_fail_as_serde_does() {
        let values = [
            "null",
            "true",
            "false",
            "0",
            "-0",
            "12",
            "1.5",
            "1e3",
            "01",
            "-",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            r#""""#,
            r#""ACTIVE""#,
            r#""\u0041CTIVE""#,
            r#""weird""#,
            r#""HostId<3>""#,
            r#""HostId<INVALID>""#,
            r#""HostId\u003c4>""#,
            r#""HostId<-4>""#,
            r#""HostId<+4>""#,
            r#""HostId<007>""#,
            r#""NodeId<4>""#,
            r#""2026-11-01T09:28:53.407011Z""#,
            r#""2026-11-01T09:28:53+05:30""#,
            r#""2026-11-01T09:28:60Z""#,
            r#""2026-11-01 09:28:53Z""#,
            r#""2026-02-30T00:00:00Z""#,
            r#""2026-11-01T09:28:53\u005a""#,
            r#""a\"b\\c\/\b\f\n\r\t\u00e9\ud83d\ude00""#,
            r#""\ud800""#,
            r#""\udc00x""#,
            r#""\x""#,
            r#""\u12""#,
            "\"tab\there\"",
            "\"é ü 漢\"",
            "{}",
            r#"{"instance_id": "i-1", "instance_type": null, "x": [1, {"y": "}"}]}"#,
            r#"{"instance_id": "i-1", "instance_id": "i-2"}"#,
            r#"{"instance_id": 5}"#,
            "[]",
            "[1, 2",
            r#"["a", "b"]"#,
            "nul",
            "tru",
            "\"unterminated",
        ];
        let fields = [
            "uid",
            "added_time",
            "state_changed_time",
            "state",
            "status",
            "host_ip",
            "aws",
            "mode",
            "auto_remove_timeout",
            "host_id",
            "uuid",
            "should_be_active",
            "last_fencing_time",
            "up_since",
            "unknown",
        ];
        let mut ok = 0;
        for field in fields {
            for value in values {
                let json = host_with(field, value);
                ok += usize::from(agree(&json, hosts_list));
                agree(&json.replace_key("HostId<1>", "DiskId<1>"), disks_list);
                agree(&json.replace_key("HostId<1>", "NodeId<1>"), nodes_list);
            }
        }
        assert!(ok > 300, "{ok}");
    }

    trait ReplaceKey {
        fn replace_key(&self, from: &str, to: &str) -> Vec<u8>;
    }

    impl ReplaceKey for Vec<u8> {
        fn replace_key(&self, from: &str, to: &str) -> Vec<u8> {
            String::from_utf8_lossy(self).replace(from, to).into_bytes()
        }
    }

    #[test]
    fn documents_decode_or_fail_as_serde_does() {
        let docs: [&[u8]; 24] = [
            b"{}",
            b" \n{ } \t",
            b"",
            b"null",
            b"[]",
            b"{} x",
            b"{}}",
            br#"{"HostId<1>": null}"#,
            br#"{"HostId<1>": {}}"#,
            br#"{"HostId<1>": []}"#,
            br#"{"HostId<1>": {"uid": "a"}, "HostId<1>": {"uid": "b"}}"#,
            br#"{"HostId<2>": {"uid": "a"}, "HostId<1>": {"uid": "b"}, "HostId<2>": {}}"#,
            br#"{"HostId<1>": {"uid": "a", "uid": "b"}}"#,
            br#"{"HostId<1>": {"ui\u0064": "a"}}"#,
            br#"{"HostId\u003c1>": {"uid": "a"}}"#,
            br#"{"HostId<x>": {}}"#,
            br#"{"DiskId<1>": {}}"#,
            br#"{"HostId<1>": {"uid": "a",}}"#,
            br#"{"HostId<1>": {"uid" "a"}}"#,
            br#"{"HostId<1>": {"uid": "a"} "HostId<2>": {}}"#,
            b"{\"HostId<1>\": {\"uid\": \"\xff\"}}",
            b"{\"HostId<1>\": {\"x\": \"\xff\xfe\"}}",
            b"{\"HostId<1>\": {\"x\": \"a\x01\"}}",
            b"{\"HostId<1>\": {\"x\"\n:\n[ 1 ,\n2 ] , \"uid\" : \"u\" }\n}",
        ];
        for doc in docs {
            all_agree(doc);
        }
        let deep = |n: usize| {
            format!(
                r#"{{"HostId<1>": {{"x": {}{}}}}}"#,
                "[".repeat(n),
                "]".repeat(n)
            )
        };
        // serde has no nesting limit for ignored values.
        for n in [10, 127, 128, 129, 200, 300] {
            assert!(agree(deep(n).as_bytes(), hosts_list));
        }
        let mixed = format!(
            r#"{{"HostId<1>": {{"x": {}1{}, "uid": "u"}}}}"#,
            r#"[{"a":"#.repeat(150),
            "}]".repeat(150)
        );
        assert!(agree(mixed.as_bytes(), hosts_list));
        let unbalanced = format!(
            r#"{{"HostId<1>": {{"x": {}1{}]}}}}"#,
            "[".repeat(140),
            "]".repeat(138)
        );
        assert!(!agree(unbalanced.as_bytes(), hosts_list));
    }

    fn sample_hosts(n: usize) -> Value {
        let mut map = serde_json::Map::new();
        for i in 0..n {
            let state = ["ACTIVE", "INACTIVE", "DEACTIVATING", "PHASING"][i % 4];
            map.insert(
                format!("HostId<{i}>"),
                json!({
                    "uid": format!("uid-{i}"), "mode": if i % 7 == 0 { "client" } else { "backend" },
                    "container_name": "drives0", "host_ip": format!("10.0.{}.{}", i / 256, i % 256),
                    "added_time": "2026-11-01T09:28:53.407011Z", "state_changed_time": null,
                    "state": state,
                    "status": "UP", "auto_remove_timeout": if i % 5 == 0 { json!(3600) } else { json!(null) },
                    "aws": if i % 3 == 0 { json!(null) } else { json!({"instance_id": format!("i-{i}"), "zone": "a"}) },
                    "ips": [format!("10.0.0.{}", i % 256)], "os_info": {"kernel": "6.1", "x": [1, 2.5e3, true]},
                    "text": "quote \" backslash \\ brace } bracket ] comma , colon :"
                }),
            );
        }
        Value::Object(map)
    }

    #[test]
    fn truncations_and_mutations_agree_with_serde() {
        let doc = serde_json::to_vec(&sample_hosts(3)).unwrap();
        for end in 0..doc.len() {
            assert!(!agree(&doc[..end], hosts_list) || end == doc.len());
        }
        // Deterministic byte mutations (a small LCG).
        let alphabet = b"{}[]:,\"\\ nu0123456789.eE-+tfalsrHostId<>x\x01\xc3";
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            usize::try_from(state >> 33).unwrap()
        };
        for _ in 0..20_000 {
            let mut m = doc.clone();
            for _ in 0..1 + next() % 3 {
                let at = next() % m.len();
                match next() % 3 {
                    0 => m[at] = alphabet[next() % alphabet.len()],
                    1 => {
                        m.remove(at);
                    }
                    _ => m.insert(at, alphabet[next() % alphabet.len()]),
                }
            }
            agree(&m, hosts_list);
        }
    }

    #[test]
    fn large_lists_cut_in_two_give_the_sequential_result() {
        let mut value = sample_hosts(4_000);
        // Entries whose nested objects are followed by a member that looks like a list key: the
        // cut may land there and must then be refused.
        if let Value::Object(map) = &mut value {
            for i in 1_900..2_100 {
                if let Some(Value::Object(host)) = map.get_mut(&format!("HostId<{i}>")) {
                    host.insert("HostId<7>".to_owned(), json!({"y": {}}));
                    host.insert("z".to_owned(), json!({}));
                }
            }
        }
        let mut hosts = serde_json::to_vec(&value).unwrap();
        // Keys repeated across the halves: the last entry wins.
        hosts.pop();
        hosts.extend_from_slice(br#","HostId<5>":{"uid":"again"},"HostId<3999>":null}"#);
        assert!(cluster_lists(&hosts, b"{}", b"{}").0.is_err());
        hosts.truncate(hosts.len() - br#","HostId<3999>":null}"#.len());
        hosts.extend_from_slice(br#","HostId<3999>":{"uid":"last"}}"#);
        assert!(hosts.len() > 1 << 20);
        let disks = br#"{"DiskId<1>": {"host_id": "HostId<1>", "status": "ACTIVE"}}"#;
        let nodes = br#"{"NodeId<0>": {"host_id": "HostId<1>", "status": "DOWN"}}"#;
        let (h, d, n) = cluster_lists(&hosts, disks, nodes);
        assert_eq!(
            h.unwrap(),
            serde_json::from_slice::<HostsList>(&hosts).unwrap()
        );
        assert_eq!(
            d.unwrap(),
            serde_json::from_slice::<DrivesList>(disks).unwrap()
        );
        assert_eq!(
            n.unwrap(),
            serde_json::from_slice::<NodesList>(nodes).unwrap()
        );
        // Every cut position, true boundary or not, gives the same map.
        let whole = hosts_list(&hosts).unwrap();
        let mut boundaries = 0;
        for at in (0..hosts.len()).filter(|&i| hosts[i] == b'"').step_by(997) {
            let cut = Cut {
                json: &hosts,
                at: Some(at),
            };
            let first = List::HOSTS.first_half(&cut);
            let got = List::HOSTS
                .join(&cut, first, List::HOSTS.second_half(&cut))
                .unwrap();
            assert_eq!(got, whole, "cut at {at}");
            boundaries += usize::from(at >= 2 && hosts.get(at - 2..at) == Some(b"},"));
        }
        assert!(boundaries > 0);
        // A broken second half is reported.
        let mut broken = hosts;
        let last = broken.len() - 2;
        broken[last] = b'x';
        let (h, _, _) = cluster_lists(&broken, disks, nodes);
        assert!(h.is_err());
    }

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
