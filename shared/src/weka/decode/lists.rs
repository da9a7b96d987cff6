//! The top-level list objects (`{"HostId<N>": record, ...}`): parsed into their maps on one
//! thread, or cut in two near the middle for a second thread and joined back
//! ([`cluster_lists`]).

use std::collections::BTreeMap;
use std::sync::mpsc;

use super::super::model::{
    Drive, DriveId, DrivesList, Host, HostId, HostsList, Node, NodeId, NodesList,
    parse_typed_id_bytes,
};
use super::records;
use super::scan::{Cursor, R};
use super::{DecodeError, disks_list, hosts_list, nodes_list};

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
pub(super) struct List<K, V> {
    prefix: &'static str,
    key: fn(i64) -> K,
    record: for<'a> fn(&mut Cursor<'a>) -> R<V>,
}

impl List<HostId, Host> {
    pub(super) const HOSTS: Self = Self {
        prefix: "HostId",
        key: HostId,
        record: records::host::decode,
    };
}

impl List<DriveId, Drive> {
    pub(super) const DISKS: Self = Self {
        prefix: "DiskId",
        key: DriveId,
        record: records::drive::decode,
    };
}

impl List<NodeId, Node> {
    pub(super) const NODES: Self = Self {
        prefix: "NodeId",
        key: NodeId,
        record: records::node::decode,
    };
}

/// A list's text and where a second thread may start parsing it.
#[derive(Clone, Copy)]
pub(super) struct Cut<'a> {
    pub(super) json: &'a [u8],
    /// Position of the opening quote of an entry's key, past the middle.
    pub(super) at: Option<usize>,
}

/// Entries parsed from a part of a list, and where the parse stopped.
pub(super) struct Part<V> {
    /// Key numbers (`N` of `Prefix<N>`) and records, in the order of the text (records in
    /// options, to be taken in key order).
    ids: Vec<i64>,
    records: Vec<Option<V>>,
    /// Whether the keys came in ascending order.
    sorted: bool,
    /// Unless `sorted`: (key number, position) in ascending order, once [`Part::ordered`].
    order: Vec<(i64, usize)>,
    /// Position of the first entry boundary at or after the cut (`None`: the object ended).
    stopped: Option<usize>,
}

impl<V> Part<V> {
    /// Finds the key order (by the thread that parsed the part).
    fn ordered(mut self) -> Self {
        if !self.sorted {
            self.order = key_order(&self.ids);
        }
        self
    }

    /// (key number, position) in ascending order, and the records to take them from.
    fn into_order(self) -> (Vec<(i64, usize)>, Vec<Option<V>>) {
        let order = if self.sorted {
            self.ids.iter().copied().zip(0..).collect()
        } else {
            self.order
        };
        (order, self.records)
    }
}

/// (key number, position) of `ids` in ascending order of keys. Of equal keys the last one in text
/// order comes last, and the earlier ones may be left out (the map keeps the last).
fn key_order(ids: &[i64]) -> Vec<(i64, usize)> {
    // WEKA numbers the entries of a list densely but sends them in the order of their key texts
    // ("HostId<10>" before "HostId<2>"): a sort of the numbers is then a placement at each
    // number (the last position of a number wins), with no comparison.
    let (min, max) = ids
        .iter()
        .fold((i64::MAX, i64::MIN), |(lo, hi), &n| (lo.min(n), hi.max(n)));
    let dense = max
        .checked_sub(min)
        .and_then(|span| usize::try_from(span).ok())
        .filter(|&span| span / 16 <= ids.len());
    let (Some(span), Ok(_)) = (dense, u32::try_from(ids.len())) else {
        let mut order: Vec<(i64, usize)> = ids.iter().copied().zip(0..).collect();
        order.sort_unstable();
        return order;
    };
    let mut slots = vec![u32::MAX; span + 1];
    for (position, &n) in (0u32..).zip(ids) {
        // `n - min` is within `0..=span`: `min` and `max` bound every number.
        if let Some(slot) = usize::try_from(n.wrapping_sub(min))
            .ok()
            .and_then(|i| slots.get_mut(i))
        {
            *slot = position;
        }
    }
    (min..=max)
        .zip(slots)
        .filter(|&(_, position)| position != u32::MAX)
        .map(|(n, position)| (n, position as usize))
        .collect()
}

impl<K: Ord, V> List<K, V> {
    pub(super) fn decode(&self, json: &[u8]) -> Result<BTreeMap<K, V>, DecodeError> {
        Ok(self.build(self.parse(json, None, usize::MAX)?.ordered(), None))
    }

    fn cut<'a>(&self, json: &'a [u8]) -> Cut<'a> {
        Cut {
            json,
            at: cut_point(json, self.prefix),
        }
    }

    /// The entries from the cut to the end, with their key order (none without a cut).
    pub(super) fn second_half(&self, cut: &Cut<'_>) -> Option<Result<Part<V>, DecodeError>> {
        Some(
            self.parse(cut.json, Some(cut.at?), usize::MAX)
                .map(Part::ordered),
        )
    }

    /// The entries up to the cut (the whole list without a cut), with their key order.
    pub(super) fn first_half(&self, cut: &Cut<'_>) -> Result<Part<V>, DecodeError> {
        self.parse(cut.json, None, cut.at.unwrap_or(usize::MAX))
            .map(Part::ordered)
    }

    /// The map of both halves: the second half is used if the first one stopped exactly at the
    /// cut; otherwise the list is parsed on from where the first half stopped.
    pub(super) fn join(
        &self,
        cut: &Cut<'_>,
        first: Result<Part<V>, DecodeError>,
        second: Option<Result<Part<V>, DecodeError>>,
    ) -> Result<BTreeMap<K, V>, DecodeError> {
        let first = first?;
        let rest = match (first.stopped, cut.at, second) {
            // The object ended before the cut (or there was none).
            (None, _, _) => return Ok(self.build(first, None)),
            // The cut was an entry boundary: the second half is the rest of the list.
            (Some(stop), Some(at), Some(rest)) if stop == at => rest?,
            // The cut fell inside an entry: parse on from the boundary reached.
            (Some(stop), _, _) => self.parse(cut.json, Some(stop), usize::MAX)?.ordered(),
        };
        Ok(self.build(first, Some(rest)))
    }

    /// The map of a list's entries from one part, or two consecutive ones (all [`Part::ordered`]):
    /// the parts' key orders are merged, and each record is moved once from its part straight
    /// into the map, whose bulk build keeps the last of equal keys — the last record in text
    /// order, as serde does.
    fn build(&self, first: Part<V>, rest: Option<Part<V>>) -> BTreeMap<K, V> {
        let (a, mut a_records) = first.into_order();
        let (b, mut b_records) = rest.map_or_else(Default::default, Part::into_order);
        let (mut i, mut j) = (0, 0);
        std::iter::from_fn(|| {
            // On equal keys the first part's entries come first.
            let from_b = match (a.get(i), b.get(j)) {
                (Some(x), Some(y)) => y.0 < x.0,
                (Some(_), None) => false,
                (None, _) => true,
            };
            let (&(n, position), records) = if from_b {
                j += 1;
                (b.get(j - 1)?, &mut b_records)
            } else {
                i += 1;
                (a.get(i - 1)?, &mut a_records)
            };
            Some((
                (self.key)(n),
                records.get_mut(position).and_then(Option::take),
            ))
        })
        .filter_map(|(key, record)| Some((key, record?)))
        .collect()
    }

    /// Parses the entries of the list object: from its start (`from = None`) or from the key that
    /// starts at `from`, to the end of the object, or to the first entry boundary at or after
    /// `until`.
    fn parse(
        &self,
        json: &[u8],
        from: Option<usize>,
        until: usize,
    ) -> Result<Part<V>, DecodeError> {
        let mut c = Cursor::new(json);
        let start = from.unwrap_or(0);
        let size = json.len().min(until).saturating_sub(start);
        let mut ids: Vec<i64> = Vec::new();
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
                    Ok(n) => n,
                    Err(e) => return c.fail(e.to_string()),
                };
                sorted &= ids.last().is_none_or(|last| *last < id);
                ids.push(id);
                records.push(Some((self.record)(&mut c)?));
                if ids.len() == 64 {
                    // Room for the whole part at the size of the first records, to spare the
                    // regrowth (and copies) of large vectors.
                    let per_record = c.pos.saturating_sub(start) / 64;
                    let guess = (size / per_record.max(1)) * 9 / 8;
                    ids.reserve(guess);
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
            ids,
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
