//! Calls that change nothing: get, list (with `filter`, `maxResults`, `pageToken`),
//! aggregated list, and a network endpoint group's `listNetworkEndpoints`.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value, json};

use crate::collections;
use crate::errors::ApiError;
use crate::filter::Filter;
use crate::ops::Operations;
use crate::routes::Call;
use crate::store::{Key, Store, location_link};

/// GCP's largest (and default) page.
const MAX_PAGE: usize = 500;

/// The paging and filtering parameters of a list call.
struct ListParams {
    filter: Option<Filter>,
    max_results: usize,
    after: Option<String>,
}

impl ListParams {
    fn from_query(query: &HashMap<String, String>) -> Result<ListParams, ApiError> {
        let filter = query.get("filter").filter(|text| !text.trim().is_empty()).map(|text| Filter::parse(text)).transpose()?;
        let max_results = match query.get("maxResults") {
            None => MAX_PAGE,
            Some(text) => match text.parse::<usize>() {
                Ok(0) => MAX_PAGE,
                Ok(count) => count.min(MAX_PAGE),
                Err(_) => return Err(ApiError::Invalid(format!("Invalid value for field 'maxResults': '{text}'"))),
            },
        };
        let after = match query.get("pageToken").filter(|token| !token.is_empty()) {
            None => None,
            Some(token) => Some(decode_token(token).ok_or_else(|| ApiError::Invalid(format!("Invalid page token '{token}'.")))?),
        };
        Ok(ListParams { filter, max_results, after })
    }

    fn keeps(&self, resource: &Value) -> bool {
        self.filter.as_ref().is_none_or(|filter| filter.accepts(resource))
    }

    /// One page of `(sort key, item)` pairs (sorted by key), and the token for the next one.
    fn page(&self, mut items: Vec<(String, Value)>) -> (Vec<Value>, Option<String>) {
        items.sort_by(|(left, _), (right, _)| left.cmp(right));
        let mut rest = items.into_iter().filter(|(key, _)| self.after.as_ref().is_none_or(|after| key > after)).peekable();
        let mut page = Vec::new();
        let mut last_key = None;
        while page.len() < self.max_results {
            let Some((key, item)) = rest.next() else { break };
            page.push(item);
            last_key = Some(key);
        }
        let token = rest.peek().and(last_key).map(|key| encode_token(&key));
        (page, token)
    }
}

/// `GET .../{collection}/{name}`.
pub fn get(store: &Store, call: &Call) -> Result<Value, ApiError> {
    let key = call.key();
    store.get(&key).cloned().ok_or_else(|| ApiError::NotFound(format!("The resource '{}' was not found", key.path())))
}

/// `GET .../{collection}`.
pub fn list(store: &Store, call: &Call, query: &HashMap<String, String>) -> Result<Value, ApiError> {
    let params = ListParams::from_query(query)?;
    let items = store
        .in_location(&call.project, &call.location, &call.collection)
        .filter(|resource| params.keeps(resource))
        .map(|resource| (name_of(resource), resource.clone()))
        .collect();
    let (page, token) = params.page(items);
    let id = format!("projects/{}/{}/{}", call.project, call.location, call.collection);
    let self_link = format!("{}/{}", location_link(&store.base, &call.project, &call.location), call.collection);
    Ok(list_body(&format!("{}List", collections::kind(&call.collection)), &id, &self_link, page, token))
}

/// `GET .../aggregated/{collection}`: items grouped by location (`global`, `regions/r`, ...).
pub fn aggregated_list(store: &Store, call: &Call, query: &HashMap<String, String>) -> Result<Value, ApiError> {
    let params = ListParams::from_query(query)?;
    let items = store
        .in_project(&call.project, &call.collection)
        .filter(|(_, resource)| params.keeps(resource))
        .map(|(key, resource)| {
            let sort_key = format!("{}\u{1}{}", key.location, key.name);
            (sort_key, json!({"location": key.location, "resource": resource}))
        })
        .collect();
    let (page, token) = params.page(items);
    let mut grouped: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for entry in page {
        let location = entry["location"].as_str().unwrap_or_default().to_string();
        grouped.entry(location).or_default().push(entry["resource"].clone());
    }
    let items: Map<String, Value> = grouped.into_iter().map(|(location, resources)| (location, json!({ call.collection.as_str(): resources }))).collect();
    let mut body = json!({
        "kind": format!("{}AggregatedList", collections::kind(&call.collection)),
        "id": format!("projects/{}/aggregated/{}", call.project, call.collection),
        "items": items,
        "selfLink": format!("{}/compute/v1/projects/{}/aggregated/{}", store.base, call.project, call.collection),
    });
    if let Some(token) = token {
        body["nextPageToken"] = json!(token);
    }
    Ok(body)
}

/// `POST .../networkEndpointGroups/{name}/listNetworkEndpoints`.
pub fn list_network_endpoints(store: &Store, call: &Call, query: &HashMap<String, String>) -> Result<Value, ApiError> {
    let key: Key = call.key();
    if store.get(&key).is_none() {
        return Err(ApiError::NotFound(format!("The resource '{}' was not found", key.path())));
    }
    let params = ListParams::from_query(query)?;
    let items = store.endpoints(&key).iter().map(|endpoint| (endpoint.to_string(), json!({"networkEndpoint": endpoint, "healths": []}))).collect();
    let (page, token) = params.page(items);
    let mut body = json!({"kind": "compute#networkEndpointGroupsListNetworkEndpoints"});
    if !page.is_empty() {
        body["items"] = json!(page);
    }
    if let Some(token) = token {
        body["nextPageToken"] = json!(token);
    }
    Ok(body)
}

/// `GET .../operations`.
pub fn list_operations(operations: &Operations, base: &str, call: &Call, query: &HashMap<String, String>) -> Result<Value, ApiError> {
    let params = ListParams::from_query(query)?;
    let items = operations
        .in_location(&call.project, &call.location)
        .into_iter()
        .filter(|operation| params.keeps(operation))
        .map(|operation| (name_of(&operation), operation))
        .collect();
    let (page, token) = params.page(items);
    let id = format!("projects/{}/{}/operations", call.project, call.location);
    let self_link = format!("{}/operations", location_link(base, &call.project, &call.location));
    Ok(list_body("compute#operationList", &id, &self_link, page, token))
}

fn list_body(kind: &str, id: &str, self_link: &str, items: Vec<Value>, token: Option<String>) -> Value {
    let mut body = json!({"kind": kind, "id": id, "selfLink": self_link});
    // GCP leaves `items` out of an empty list.
    if !items.is_empty() {
        body["items"] = json!(items);
    }
    if let Some(token) = token {
        body["nextPageToken"] = json!(token);
    }
    body
}

fn name_of(resource: &Value) -> String {
    resource.get("name").and_then(Value::as_str).unwrap_or_default().to_string()
}

/// Page tokens are the hex of the last key served: opaque, and safe in a query string.
fn encode_token(key: &str) -> String {
    key.bytes().map(|byte| format!("{byte:02x}")).collect()
}

fn decode_token(token: &str) -> Option<String> {
    if !token.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..token.len()).step_by(2).map(|index| u8::from_str_radix(token.get(index..index + 2)?, 16).ok()).collect();
    String::from_utf8(bytes?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        assert_eq!(decode_token(&encode_token("zones/z\u{1}neg-1")), Some("zones/z\u{1}neg-1".into()));
        assert_eq!(decode_token("zz"), None);
        assert_eq!(decode_token("abc"), None);
    }

    #[test]
    fn pages_follow_key_order() {
        let query: HashMap<String, String> = [("maxResults".to_string(), "2".to_string())].into();
        let params = ListParams::from_query(&query).expect("params");
        let items = ["c", "a", "b"].iter().map(|name| (name.to_string(), json!(name))).collect();
        let (page, token) = params.page(items);
        assert_eq!(page, vec![json!("a"), json!("b")]);
        assert_eq!(token.as_deref().and_then(decode_token), Some("b".into()));
    }
}
