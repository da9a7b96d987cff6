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
//!
//! The parts: [`envelope`] finds a JSON-RPC response's members; [`lists`] reads the top-level
//! `{"HostId<N>": record}` maps (and cuts them in two for a second thread); [`records`] holds one
//! field table per record type, from which its decoder is generated; [`scan`] is the validating
//! cursor with its vector-built index of stop bytes and the record layouts it learns (a record's
//! member heads, and the whole text of the members no table names, checked against the next
//! records with vector compares: WEKA repeats keys, order and most ignored values); [`values`] reads the typed leaf values the
//! tables name; [`unescape`] resolves string escapes.

mod envelope;
mod lists;
mod records;
mod scan;
#[cfg(test)]
mod tests;
mod unescape;
mod values;

use std::borrow::Cow;

use super::model::{DrivesList, HostsList, NodesList};

pub use envelope::{RpcEnvelope, rpc_envelope};
use lists::List;
pub use lists::{ClusterLists, cluster_lists};

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
