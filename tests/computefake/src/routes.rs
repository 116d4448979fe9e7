//! Paths and HTTP methods to API calls.
//!
//! `/compute/v1/projects/{p}/{location}/{collection}[/{name}[/{verb}]]` with location
//! `global`, `regions/{r}` or `zones/{z}`; `/compute/v1/projects/{p}/aggregated/{collection}`;
//! and the global setters GCP serves without a `global/` segment, such as
//! `/compute/v1/projects/{p}/targetHttpProxies/{name}/setUrlMap`.

use axum::http::Method;

use crate::errors::ApiError;
use crate::store::Key;

/// One API call, named like GCP's methods: `urlMaps.insert`, `zoneOperations.get`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    pub project: String,
    /// `global`, `regions/{r}`, `zones/{z}`; empty for aggregated lists.
    pub location: String,
    pub collection: String,
    pub name: Option<String>,
    /// `insert`, `get`, `list`, `patch`, `update`, `delete`, `aggregatedList`, `wait` or a
    /// custom verb such as `setUrlMap`.
    pub method: String,
}

/// Methods that change nothing.
const READ_METHODS: &[&str] = &["get", "list", "aggregatedList", "listNetworkEndpoints", "wait"];

impl Call {
    /// The name calls are counted and faults matched under.
    pub fn api_name(&self) -> String {
        let resource = if self.is_operations() {
            match self.location.split('/').next() {
                Some("regions") => "regionOperations",
                Some("zones") => "zoneOperations",
                _ => "globalOperations",
            }
        } else {
            &self.collection
        };
        format!("{resource}.{}", self.method)
    }

    pub fn is_operations(&self) -> bool {
        self.collection == "operations"
    }

    pub fn is_mutating(&self) -> bool {
        !self.is_operations() && !READ_METHODS.contains(&self.method.as_str())
    }

    /// The resource this call is about (name empty for collection-level calls).
    pub fn key(&self) -> Key {
        Key::new(&self.project, &self.location, &self.collection, self.name.as_deref().unwrap_or(""))
    }
}

/// Recognize a path and method, or say why not.
pub fn parse_call(method: &Method, path: &str) -> Result<Call, ApiError> {
    let segments: Vec<&str> = path.split('/').filter(|segment| !segment.is_empty()).collect();
    let no_route = || ApiError::NotFound(format!("The requested URL {method} {path} was not found on the Compute fake."));
    let ["compute", "v1", "projects", project, rest @ ..] = segments.as_slice() else {
        return Err(no_route());
    };
    let (location, tail): (String, &[&str]) = match rest {
        ["aggregated", collection] if method == Method::GET => {
            return Ok(call(project, "", collection, None, "aggregatedList"));
        }
        ["global", tail @ ..] => ("global".into(), tail),
        ["regions", region, tail @ ..] => (format!("regions/{region}"), tail),
        ["zones", zone, tail @ ..] => (format!("zones/{zone}"), tail),
        [_, _, _] if method == Method::POST => ("global".into(), rest),
        _ => return Err(no_route()),
    };
    let (collection, name, api_method) = method_for(method, tail).ok_or_else(no_route)?;
    Ok(call(project, &location, collection, name, &api_method))
}

/// The API method for an HTTP method on a path below the location.
fn method_for<'a>(method: &Method, tail: &[&'a str]) -> Option<(&'a str, Option<&'a str>, String)> {
    let (collection, name, verb) = match tail {
        [collection] => (*collection, None, None),
        [collection, name] => (*collection, Some(*name), None),
        [collection, name, verb] => (*collection, Some(*name), Some(*verb)),
        _ => return None,
    };
    let api_method = match (method.as_str(), name, verb) {
        ("GET", None, None) => "list".to_string(),
        ("POST", None, None) if collection != "operations" => "insert".to_string(),
        ("GET", Some(_), None) => "get".to_string(),
        ("PATCH", Some(_), None) if collection != "operations" => "patch".to_string(),
        ("PUT", Some(_), None) if collection != "operations" => "update".to_string(),
        ("DELETE", Some(_), None) if collection != "operations" => "delete".to_string(),
        ("POST", Some(_), Some("wait")) if collection == "operations" => "wait".to_string(),
        ("POST", Some(_), Some(verb)) if collection != "operations" => verb.to_string(),
        _ => return None,
    };
    Some((collection, name, api_method))
}

fn call(project: &str, location: &str, collection: &str, name: Option<&str>, method: &str) -> Call {
    Call {
        project: project.to_string(),
        location: location.to_string(),
        collection: collection.to_string(),
        name: name.map(str::to_string),
        method: method.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use axum::http::Method;

    use super::parse_call;

    fn api_name(method: Method, path: &str) -> String {
        parse_call(&method, path).map(|call| call.api_name()).unwrap_or_else(|error| format!("error: {error}"))
    }

    #[test]
    fn resource_paths_in_every_location() {
        let base = "/compute/v1/projects/p";
        assert_eq!(api_name(Method::POST, &format!("{base}/global/urlMaps")), "urlMaps.insert");
        assert_eq!(api_name(Method::GET, &format!("{base}/regions/r/urlMaps")), "urlMaps.list");
        assert_eq!(api_name(Method::PATCH, &format!("{base}/global/urlMaps/m")), "urlMaps.patch");
        assert_eq!(api_name(Method::PUT, &format!("{base}/global/urlMaps/m")), "urlMaps.update");
        assert_eq!(api_name(Method::DELETE, &format!("{base}/zones/z/networkEndpointGroups/n")), "networkEndpointGroups.delete");
        assert_eq!(
            api_name(Method::POST, &format!("{base}/zones/z/networkEndpointGroups/n/attachNetworkEndpoints")),
            "networkEndpointGroups.attachNetworkEndpoints"
        );
        assert_eq!(api_name(Method::GET, &format!("{base}/aggregated/forwardingRules")), "forwardingRules.aggregatedList");
    }

    #[test]
    fn global_setters_without_the_global_segment() {
        let call = parse_call(&Method::POST, "/compute/v1/projects/p/targetHttpProxies/t/setUrlMap").expect("route");
        assert_eq!((call.location.as_str(), call.api_name().as_str()), ("global", "targetHttpProxies.setUrlMap"));
        assert!(call.is_mutating());
    }

    #[test]
    fn operations_are_named_by_location() {
        let base = "/compute/v1/projects/p";
        assert_eq!(api_name(Method::GET, &format!("{base}/global/operations/o")), "globalOperations.get");
        assert_eq!(api_name(Method::GET, &format!("{base}/regions/r/operations/o")), "regionOperations.get");
        assert_eq!(api_name(Method::POST, &format!("{base}/zones/z/operations/o/wait")), "zoneOperations.wait");
        assert!(api_name(Method::DELETE, &format!("{base}/global/operations/o")).starts_with("error"));
    }

    #[test]
    fn unknown_paths_are_not_found() {
        for path in ["/", "/compute/v1/projects/p", "/compute/v2/projects/p/global/urlMaps", "/compute/v1/projects/p/global/urlMaps/m/x/y"] {
            assert!(api_name(Method::GET, path).starts_with("error"), "{path}");
        }
    }
}
