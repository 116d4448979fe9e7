//! The resources: one map keyed by (project, location, collection, name), the endpoints of
//! network endpoint groups beside it, counters for ids and fingerprints, and the rules that
//! decide when one resource references another.

use std::collections::BTreeMap;
use std::hash::{DefaultHasher, Hash, Hasher};

use serde_json::Value;

/// Where a resource lives. `location` is `global`, `regions/{region}` or `zones/{zone}`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Key {
    pub project: String,
    pub location: String,
    pub collection: String,
    pub name: String,
}

impl Key {
    pub fn new(project: &str, location: &str, collection: &str, name: &str) -> Key {
        Key { project: project.to_string(), location: location.to_string(), collection: collection.to_string(), name: name.to_string() }
    }

    /// `projects/p/global/urlMaps/x`, the form GCP's messages use.
    pub fn path(&self) -> String {
        format!("projects/{}/{}/{}/{}", self.project, self.location, self.collection, self.name)
    }

    pub fn self_link(&self, base: &str) -> String {
        format!("{base}/compute/v1/{}", self.path())
    }
}

/// The full URL of a location: `{base}/compute/v1/projects/p/regions/r`.
pub fn location_link(base: &str, project: &str, location: &str) -> String {
    format!("{base}/compute/v1/projects/{project}/{location}")
}

/// Every stored resource, plus counters.
#[derive(Debug)]
pub struct Store {
    pub base: String,
    resources: BTreeMap<Key, Value>,
    endpoints: BTreeMap<Key, Vec<Value>>,
    counter: u64,
}

impl Store {
    pub fn new(base: &str) -> Store {
        Store { base: base.to_string(), resources: BTreeMap::new(), endpoints: BTreeMap::new(), counter: 0 }
    }

    pub fn get(&self, key: &Key) -> Option<&Value> {
        self.resources.get(key)
    }

    pub fn put(&mut self, key: Key, resource: Value) {
        self.resources.insert(key, resource);
    }

    /// Remove a resource and, for a network endpoint group, its endpoints.
    pub fn remove(&mut self, key: &Key) -> Option<Value> {
        self.endpoints.remove(key);
        self.resources.remove(key)
    }

    pub fn endpoints(&self, key: &Key) -> &[Value] {
        self.endpoints.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn set_endpoints(&mut self, key: Key, endpoints: Vec<Value>) {
        self.endpoints.insert(key, endpoints);
    }

    /// The resources of one collection in one location, in name order.
    pub fn in_location<'a>(&'a self, project: &'a str, location: &'a str, collection: &'a str) -> impl Iterator<Item = &'a Value> {
        self.resources
            .iter()
            .filter(move |(key, _)| key.project == project && key.location == location && key.collection == collection)
            .map(|(_, resource)| resource)
    }

    /// The resources of one collection in every location of a project.
    pub fn in_project<'a>(&'a self, project: &'a str, collection: &'a str) -> impl Iterator<Item = (&'a Key, &'a Value)> {
        self.resources.iter().filter(move |(key, _)| key.project == project && key.collection == collection)
    }

    /// The resources of one collection anywhere, ordered by name, then project and location.
    pub fn everywhere(&self, collection: &str) -> Vec<(&Key, &Value)> {
        let mut found: Vec<(&Key, &Value)> = self.resources.iter().filter(|(key, _)| key.collection == collection).collect();
        found.sort_by(|(left, _), (right, _)| (&left.name, left).cmp(&(&right.name, right)));
        found
    }

    /// The first stored resource with this location, collection and name, in any project.
    pub fn find(&self, location: &str, collection: &str, name: &str) -> Option<&Value> {
        self.resources.iter().find(|(key, _)| key.location == location && key.collection == collection && key.name == name).map(|(_, resource)| resource)
    }

    /// A fresh number for ids, fingerprints and addresses.
    pub fn next_number(&mut self) -> u64 {
        self.counter += 1;
        self.counter
    }

    /// A decimal id in the range GCP's ids fall in.
    pub fn next_id(&mut self) -> String {
        (1_000_000_000_000_000_000 + self.next_number() * 7_919).to_string()
    }

    /// A new opaque fingerprint: 16 hex digits, which is valid base64 in both the standard
    /// and the URL-safe alphabet (Google's Rust client decodes fingerprints as URL-safe base64
    /// and rejects `+` and `/`).
    pub fn next_fingerprint(&mut self) -> String {
        let number = self.next_number();
        format!("{:016x}", hash_of(&("fingerprint", number)))
    }

    /// Another stored resource that references `key`, if any.
    pub fn first_referrer(&self, key: &Key) -> Option<&Key> {
        self.resources.iter().filter(|(other, _)| *other != key).find_map(|(other, resource)| {
            let mut strings = Vec::new();
            collect_strings(resource, &mut strings);
            strings.iter().any(|text| resolve_reference(text, &other.project).as_ref() == Some(key)).then_some(other)
        })
    }
}

/// The resource a string names, if it names one: a full URL, `projects/p/{location}/{collection}/{name}`,
/// or `{location}/{collection}/{name}` (in `default_project`).
pub fn resolve_reference(text: &str, default_project: &str) -> Option<Key> {
    let (project, rest) = if let Some(index) = find_projects_segment(text) {
        let after = &text[index + "projects/".len()..];
        let (project, rest) = after.split_once('/')?;
        (project, rest)
    } else if text.starts_with("global/") || text.starts_with("regions/") || text.starts_with("zones/") {
        (default_project, text)
    } else {
        return None;
    };
    let segments: Vec<&str> = rest.split('/').collect();
    let (location, collection, name) = match segments.as_slice() {
        ["global", collection, name] => ("global".to_string(), *collection, *name),
        [scope @ ("regions" | "zones"), place, collection, name] => (format!("{scope}/{place}"), *collection, *name),
        _ => return None,
    };
    let well_formed = [project, collection, name].iter().all(|part| !part.is_empty());
    well_formed.then(|| Key::new(project, &location, collection, name))
}

/// Where `projects/` starts as a whole path segment.
fn find_projects_segment(text: &str) -> Option<usize> {
    if text.starts_with("projects/") {
        return Some(0);
    }
    text.find("/projects/").map(|index| index + 1)
}

/// Every string anywhere inside a JSON value.
pub fn collect_strings<'a>(value: &'a Value, into: &mut Vec<&'a str>) {
    match value {
        Value::String(text) => into.push(text),
        Value::Array(items) => items.iter().for_each(|item| collect_strings(item, into)),
        Value::Object(fields) => fields.values().for_each(|field| collect_strings(field, into)),
        _ => {}
    }
}

/// The `labelFingerprint` for a set of labels: stable for equal labels, as in GCP.
pub fn label_fingerprint(labels: Option<&Value>) -> String {
    let mut pairs: Vec<(String, String)> =
        labels.and_then(Value::as_object).map(|labels| labels.iter().map(|(key, value)| (key.clone(), value.to_string())).collect()).unwrap_or_default();
    pairs.sort();
    // Hex digits: valid in both base64 alphabets (see `next_fingerprint`).
    format!("{:016x}", hash_of(&("labels", pairs)))
}

/// Fingerprints compared the way GCP compares bytes: URL-safe or standard, padded or not.
pub fn same_fingerprint(left: &str, right: &str) -> bool {
    let canonical = |text: &str| text.trim_end_matches('=').replace('-', "+").replace('_', "/");
    canonical(left) == canonical(right)
}

fn hash_of(value: &impl Hash) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn references_resolve_in_every_spelling() {
        let key = Key::new("p", "global", "urlMaps", "m");
        for text in [
            "http://127.0.0.1:1/compute/v1/projects/p/global/urlMaps/m",
            "https://www.googleapis.com/compute/v1/projects/p/global/urlMaps/m",
            "projects/p/global/urlMaps/m",
            "global/urlMaps/m",
        ] {
            assert_eq!(resolve_reference(text, "p"), Some(key.clone()), "{text}");
        }
        assert_eq!(resolve_reference("global/urlMaps/m", "other").map(|k| k.project), Some("other".into()));
        let zonal = resolve_reference("zones/z1/networkEndpointGroups/n", "p").expect("resolves");
        assert_eq!(zonal.location, "zones/z1");
        for text in ["m", "10.0.0.1", "projects/p/regions/r", "//certificatemanager.googleapis.com/projects/p/locations/global/certificateMaps/c"] {
            assert_eq!(resolve_reference(text, "p"), None, "{text}");
        }
    }

    #[test]
    fn referrers_are_found_across_nested_fields() {
        let mut store = Store::new("http://fake");
        let map = Key::new("p", "global", "urlMaps", "m");
        store.put(map.clone(), json!({"name": "m", "selfLink": map.self_link("http://fake")}));
        assert_eq!(store.first_referrer(&map), None);
        let proxy = Key::new("p", "global", "targetHttpProxies", "t");
        store.put(proxy.clone(), json!({"name": "t", "nested": [{"urlMap": "global/urlMaps/m"}]}));
        assert_eq!(store.first_referrer(&map), Some(&proxy));
    }

    #[test]
    fn fingerprints_compare_across_encodings() {
        assert!(same_fingerprint("ab+/cd==", "ab-_cd"));
        assert!(!same_fingerprint("abcd", "abce"));
        assert_eq!(label_fingerprint(Some(&json!({"a": "1"}))), label_fingerprint(Some(&json!({"a": "1"}))));
        assert_ne!(label_fingerprint(Some(&json!({"a": "1"}))), label_fingerprint(None));
        assert_eq!(label_fingerprint(Some(&json!({}))), label_fingerprint(None));
    }
}
