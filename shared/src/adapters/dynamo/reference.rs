//! WEKA's own module's state items (`<hash key> = <prefix>-<cluster>-state`, `Locked`, and the
//! state as a `Value` map), read with one consistent `GetItem` when adopting a cluster.

use super::codec::{Item, get_bool, get_n, get_s};
use super::store_error;
use crate::adapters::LazyClient;
use crate::config::ReferenceStateConfig;
use crate::domain::adoption::ReferenceState;
use crate::domain::state::Group;
use crate::ports::{ReferenceStates, StoreError};
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::get_item::GetItemError;
use aws_sdk_dynamodb::types::AttributeValue;
use std::collections::HashMap;

const ATTR_VALUE: &str = "Value";

/// WEKA's module's state table, read only.
#[derive(Debug, Clone)]
pub struct DynamoReferenceStates {
    client: LazyClient<Client>,
    config: ReferenceStateConfig,
}

impl DynamoReferenceStates {
    /// A reader of `config.table` through `client`.
    pub fn new(client: impl Into<LazyClient<Client>>, config: ReferenceStateConfig) -> Self {
        Self {
            client: client.into(),
            config,
        }
    }

    /// A reader built from the shared SDK configuration.
    pub fn from_sdk_config(sdk: &aws_config::SdkConfig, config: ReferenceStateConfig) -> Self {
        Self::from_clients(&crate::adapters::AwsClients::new(sdk.clone()), config)
    }

    /// A reader on the process's DynamoDB client.
    pub fn from_clients(
        clients: &crate::adapters::AwsClients,
        config: ReferenceStateConfig,
    ) -> Self {
        Self::new(clients.dynamodb(), config)
    }

    fn key(&self, group: Group) -> &str {
        match group {
            Group::Backend => &self.config.state_key,
            Group::Nfs => &self.config.nfs_state_key,
        }
    }

    fn missing(&self, group: Group) -> StoreError {
        StoreError::StateMissing {
            table: self.config.table.clone(),
            key: self.key(group).to_owned(),
        }
    }
}

impl ReferenceStates for DynamoReferenceStates {
    async fn reference_state(&self, group: Group) -> Result<ReferenceState, StoreError> {
        let key = self.key(group).to_owned();
        let result = self
            .client
            .get_item()
            .table_name(&self.config.table)
            .key(&self.config.hash_key, AttributeValue::S(key.clone()))
            .consistent_read(true)
            .send()
            .await;
        let item = match result {
            Ok(out) => out.item.ok_or_else(|| self.missing(group))?,
            Err(SdkError::ServiceError(e))
                if matches!(e.err(), GetItemError::ResourceNotFoundException(_)) =>
            {
                return Err(self.missing(group));
            }
            Err(e) => return Err(store_error("get_item reference state", e)),
        };
        decode_reference(&item).map_err(|reason| StoreError::Corrupt { key, reason })
    }
}

/// Decodes the `Value` map of a reference state item (its Go encoder writes JSON field names,
/// NULL for empty lists and maps).
pub fn decode_reference(item: &Item) -> Result<ReferenceState, String> {
    let value: &HashMap<String, AttributeValue> = match item.get(ATTR_VALUE) {
        Some(AttributeValue::M(map)) => map,
        Some(other) => {
            return Err(format!(
                "attribute {ATTR_VALUE} should be a map, found {other:?}"
            ));
        }
        None => return Err(format!("the item has no {ATTR_VALUE} attribute")),
    };
    let instances = match value.get("instances") {
        None | Some(AttributeValue::Null(_)) => Vec::new(),
        Some(AttributeValue::L(list)) => list
            .iter()
            .map(|vm| match vm {
                AttributeValue::M(vm) => get_s(vm, "name")
                    .filter(|name| !name.is_empty())
                    .ok_or_else(|| "an entry of instances has no name".to_owned()),
                other => Err(format!(
                    "an entry of instances should be a map, found {other:?}"
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(format!("instances should be a list, found {other:?}")),
    };
    let initial_size = get_n(value, "initial_size")?.unwrap_or(0);
    Ok(ReferenceState {
        clusterized: get_bool(value, "clusterized")?,
        initial_size,
        desired_size: get_n(value, "desired_size")?.unwrap_or(initial_size),
        clusterization_target: get_n(value, "clusterization_target")?.unwrap_or(initial_size),
        instances,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn n(v: &str) -> AttributeValue {
        AttributeValue::N(v.to_owned())
    }

    fn item(value: Vec<(&str, AttributeValue)>) -> Item {
        HashMap::from([
            ("Key".to_owned(), AttributeValue::S("p-c-state".to_owned())),
            ("Locked".to_owned(), AttributeValue::Bool(false)),
            (
                ATTR_VALUE.to_owned(),
                AttributeValue::M(value.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()),
            ),
        ])
    }

    #[test]
    fn the_item_weka_s_module_writes_decodes() {
        let got = decode_reference(&item(vec![
            ("initial_size", n("6")),
            ("desired_size", n("8")),
            ("clusterization_target", n("6")),
            ("instances", AttributeValue::L(Vec::new())),
            ("clusterized", AttributeValue::Bool(true)),
            ("progress", AttributeValue::Null(true)),
        ]))
        .unwrap();
        assert_eq!(
            got,
            ReferenceState {
                clusterized: true,
                initial_size: 6,
                desired_size: 8,
                clusterization_target: 6,
                instances: Vec::new(),
            }
        );
    }

    #[test]
    fn registrations_are_read_by_name() {
        let vm = AttributeValue::M(HashMap::from([
            ("name".to_owned(), AttributeValue::S("i-1".to_owned())),
            ("protocol".to_owned(), AttributeValue::S(String::new())),
            ("container_uid".to_owned(), AttributeValue::Null(true)),
        ]));
        let got =
            decode_reference(&item(vec![("instances", AttributeValue::L(vec![vm]))])).unwrap();
        assert_eq!(got.instances, ["i-1"]);
        assert!(!got.clusterized);
    }

    #[test]
    fn another_shape_is_reported() {
        let mut not_reference = item(Vec::new());
        not_reference.remove(ATTR_VALUE);
        assert!(
            decode_reference(&not_reference)
                .unwrap_err()
                .contains("Value")
        );
        let wrong = item(vec![("clusterized", AttributeValue::S("yes".to_owned()))]);
        assert!(
            decode_reference(&wrong)
                .unwrap_err()
                .contains("clusterized")
        );
    }
}
