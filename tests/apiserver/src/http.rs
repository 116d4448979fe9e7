//! HTTP: parse Kubernetes API paths and dispatch them to the store.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::faults::Verdict;
use crate::proto::Format;
use crate::resources::ResourceType;
use crate::selectors::{FieldSelector, LabelSelector};
use crate::server::Shared;
use crate::store::ListQuery;
use crate::writes::{Part, WriteOptions};

/// A request for a resource: `/api/v1/...` or `/apis/{group}/{version}/...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub plural: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

#[derive(Debug, PartialEq, Eq)]
enum Route {
    Version,
    Health,
    CoreVersions,
    GroupList,
    Group(String),
    Resources(String, String),
    OpenApiIndex,
    OpenApi(String, String),
    Resource(Target),
    Admin(String),
}

fn parse_path(path: &str) -> Option<Route> {
    let segments: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    match segments.as_slice() {
        ["version"] => Some(Route::Version),
        ["healthz" | "readyz" | "livez", ..] => Some(Route::Health),
        ["api"] => Some(Route::CoreVersions),
        ["api", v] => Some(Route::Resources(String::new(), v.to_string())),
        ["api", v, rest @ ..] => parse_resource("", v, rest).map(Route::Resource),
        ["apis"] => Some(Route::GroupList),
        ["apis", g] => Some(Route::Group(g.to_string())),
        ["apis", g, v] => Some(Route::Resources(g.to_string(), v.to_string())),
        ["apis", g, v, rest @ ..] => parse_resource(g, v, rest).map(Route::Resource),
        ["openapi", "v3"] => Some(Route::OpenApiIndex),
        ["openapi", "v3", "api", v] => Some(Route::OpenApi(String::new(), v.to_string())),
        ["openapi", "v3", "apis", g, v] => Some(Route::OpenApi(g.to_string(), v.to_string())),
        ["__admin", op] => Some(Route::Admin(op.to_string())),
        _ => None,
    }
}

fn parse_resource(group: &str, version: &str, rest: &[&str]) -> Option<Target> {
    let target = |namespace: Option<&str>, plural: &str, name: Option<&&str>, sub: Option<&&str>| Target {
        group: group.to_string(),
        version: version.to_string(),
        namespace: namespace.map(str::to_string),
        plural: plural.to_string(),
        name: name.map(|n| n.to_string()),
        subresource: sub.map(|s| s.to_string()),
    };
    match rest {
        ["namespaces", name] => Some(target(None, "namespaces", Some(name), None)),
        ["namespaces", name, sub @ ("status" | "finalize")] => Some(target(None, "namespaces", Some(name), Some(sub))),
        ["namespaces", ns, plural, tail @ ..] if tail.len() <= 2 => Some(target(Some(ns), plural, tail.first(), tail.get(1))),
        [plural, tail @ ..] if tail.len() <= 2 => Some(target(None, plural, tail.first(), tail.get(1))),
        _ => None,
    }
}

pub fn json_response(code: u16, value: &Value) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, [(header::CONTENT_TYPE, "application/json")], value.to_string()).into_response()
}

pub fn error_response(error: &ApiError) -> Response {
    let mut response = json_response(error.code, &error.to_status());
    if error.code == 429 {
        response.headers_mut().insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
    }
    response
}

/// The one handler behind every path.
pub async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let route = parse_path(uri.path());
    if !matches!(route, Some(Route::Admin(_))) {
        let latency = shared.faults.latency();
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        match shared.faults.verdict() {
            Verdict::Proceed => {}
            Verdict::Fail(error) => return error_response(&error),
            Verdict::Hang(duration) => {
                tokio::time::sleep(duration).await;
                return error_response(&ApiError::internal("injected timeout"));
            }
        }
    }
    if shared.rbac
        && !matches!(route, Some(Route::Admin(_)))
        && let Err(error) = check_access(&shared, route.as_ref(), uri.path(), &method, &query, &headers)
    {
        if let Ok(mut denials) = shared.denials.lock() {
            denials.push(error.message.clone());
        }
        return error_response(&error);
    }
    let result = match route {
        None => Err(ApiError::no_route(uri.path())),
        Some(route) => dispatch(&shared, route, &method, &query, &headers, body).await,
    };
    result.unwrap_or_else(|e| error_response(&e))
}

/// Authenticate the request and authorize it with RBAC (kube-apiserver's 401 and 403).
fn check_access(
    shared: &Arc<Shared>,
    route: Option<&Route>,
    path: &str,
    method: &Method,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<(), ApiError> {
    let store = shared.store.lock().unwrap_or_else(|e| e.into_inner());
    let authorization = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let user = shared.tokens.lock().unwrap_or_else(|e| e.into_inner()).authenticate(authorization, &store)?;
    let Some(Route::Resource(t)) = route else {
        if crate::rbac::non_resource_allowed(&user, path) || user.groups.iter().any(|g| g == "system:masters") {
            return Ok(());
        }
        return Err(ApiError::forbidden(
            format!("forbidden: User \"{}\" cannot {} path \"{path}\"", user.name, method.as_str().to_ascii_lowercase()),
            serde_json::json!({}),
        ));
    };
    let watch = query.get("watch").is_some_and(|w| w == "true" || w == "1");
    let attributes = crate::rbac::Attributes {
        verb: crate::rbac::verb(method, t.name.is_some(), watch).to_string(),
        group: t.group.clone(),
        resource: t.plural.clone(),
        subresource: t.subresource.clone(),
        namespace: t.namespace.clone(),
        name: t.name.clone(),
    };
    crate::rbac::authorize(&store, &user, &attributes)
}

/// A TokenRequest for an existing ServiceAccount: the token and its status.
pub fn issue_token(shared: &Arc<Shared>, namespace: &str, name: &str) -> Result<String, ApiError> {
    let store = shared.store.lock().unwrap_or_else(|e| e.into_inner());
    let rt = store.resolve("", "v1", "serviceaccounts")?;
    let sa = store.get(&rt, namespace, name)?;
    let uid = sa.pointer("/metadata/uid").and_then(Value::as_str).unwrap_or("").to_string();
    Ok(shared.tokens.lock().unwrap_or_else(|e| e.into_inner()).issue(namespace, name, &uid))
}

async fn dispatch(
    shared: &Arc<Shared>,
    route: Route,
    method: &Method,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let store = || shared.store.lock().unwrap_or_else(|e| e.into_inner());
    let found = |doc: Option<Value>, what: &str| doc.map(|d| json_response(200, &d)).ok_or_else(|| ApiError::no_route(what));
    match route {
        Route::Version => Ok(json_response(200, &crate::discovery::version())),
        Route::Health => Ok((StatusCode::OK, "ok").into_response()),
        Route::CoreVersions => Ok(json_response(200, &crate::discovery::core_versions(&shared.address))),
        Route::GroupList => Ok(json_response(200, &crate::discovery::group_list(store().types.values()))),
        Route::Group(g) => found(crate::discovery::group(store().types.values(), &g), &g),
        Route::Resources(g, v) => found(crate::discovery::resource_list(store().types.values(), &g, &v), &format!("{g}/{v}")),
        Route::OpenApiIndex => Ok(json_response(200, &crate::discovery::openapi_index(store().types.values()))),
        Route::OpenApi(g, v) => found(crate::discovery::openapi_group_version(store().types.values(), &g, &v), "openapi"),
        Route::Admin(op) => crate::server::admin(shared, &op, query),
        Route::Resource(target) => resource(shared, target, method, query, headers, body).await,
    }
}

fn write_options(query: &HashMap<String, String>) -> WriteOptions {
    WriteOptions {
        field_manager: query.get("fieldManager").cloned(),
        dry_run: query.get("dryRun").is_some_and(|d| d == "All"),
        force: query.get("force").is_some_and(|f| f == "true"),
    }
}

async fn resource(
    shared: &Arc<Shared>,
    t: Target,
    method: &Method,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let rt = shared.store.lock().unwrap_or_else(|e| e.into_inner()).resolve(&t.group, &t.version, &t.plural)?;
    if rt.namespaced != t.namespace.is_some() && !(rt.namespaced && t.name.is_none() && *method == Method::GET) {
        if rt.namespaced && t.namespace.is_none() {
            return Err(ApiError::method_not_allowed(format!("{} is namespaced: use /namespaces/{{namespace}}/{}", rt.display(), rt.plural)));
        }
        return Err(ApiError::no_route(&format!("{} is not namespaced", rt.display())));
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json").to_string();
    if !body.is_empty() {
        shared.count_media("request", &content_type);
    }
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    if t.subresource.as_deref() == Some("token") && rt.kind == "ServiceAccount" && *method == Method::POST {
        let format = crate::proto::negotiate_message(accept, crate::proto::message_for("authentication.k8s.io", "v1", "TokenRequest"))?;
        let answer = token_request(shared, &t, &crate::proto::decode_any(&content_type, &body).unwrap_or(json!({})))?;
        shared.count_media("response", format.media_type());
        return crate::proto::respond(201, &answer, &format);
    }
    if rt.kind == "SelfSubjectAccessReview" && *method == Method::POST {
        let format = crate::proto::negotiate(accept, &rt, &t.version)?;
        let answer = crate::reviews::self_subject_access_review(shared, headers, crate::proto::decode_any(&content_type, &body)?)?;
        shared.count_media("response", format.media_type());
        return crate::proto::respond(201, &answer, &format);
    }
    let part = match t.subresource.as_deref() {
        None => Part::Main,
        Some("status") if rt.status_subresource => Part::Status,
        Some("finalize") if rt.kind == "Namespace" => Part::Main,
        Some(other) => return Err(ApiError::no_route(&format!("{}/{other}", rt.plural))),
    };
    let wants_table = accept.is_some_and(|a| a.contains("as=Table"));
    let format = if wants_table { Format::Json } else { crate::proto::negotiate(accept, &rt, &t.version)? };
    if *method == Method::GET && t.name.is_none() && query.get("watch").is_some_and(|w| w == "true" || w == "1") {
        shared.count_media("watch", format.media_type());
        return crate::watch::watch(shared.clone(), rt, t, query, wants_table, format).await;
    }
    shared.count_media("response", format.media_type());
    let request = Request { rt: &rt, t: &t, query, part, content_type: &content_type, body: &body, wants_table };
    let (code, value) = request.serve(&mut shared.store.lock().unwrap_or_else(|e| e.into_inner()), method)?;
    crate::proto::respond(code, &value, &format)
}

/// A TokenRequest (`POST .../serviceaccounts/NAME/token`): the token, valid for an hour.
fn token_request(shared: &Arc<Shared>, t: &Target, request: &Value) -> Result<Value, ApiError> {
    let name = t.name.clone().unwrap_or_default();
    let token = issue_token(shared, t.namespace.as_deref().unwrap_or(""), &name)?;
    let expiry = crate::time::rfc3339_in(3600);
    let mut answer = json!({"kind": "TokenRequest", "apiVersion": "authentication.k8s.io/v1", "metadata": {"name": name, "namespace": t.namespace}});
    answer["spec"] = request.get("spec").cloned().unwrap_or(json!({}));
    answer["status"] = json!({"token": token, "expirationTimestamp": expiry});
    Ok(answer)
}

/// One request on a resource, once routed and negotiated.
struct Request<'a> {
    rt: &'a ResourceType,
    t: &'a Target,
    query: &'a HashMap<String, String>,
    part: Part,
    content_type: &'a str,
    body: &'a [u8],
    wants_table: bool,
}

impl Request<'_> {
    /// The status code and the object (or list, or Table) to answer with.
    fn serve(&self, store: &mut crate::store::Store, method: &Method) -> Result<(u16, Value), ApiError> {
        let (rt, t, opts) = (self.rt, self.t, write_options(self.query));
        let ns = t.namespace.clone().unwrap_or_default();
        let present = |o: Value| present_value(rt, &t.version, o);
        match (method.clone(), t.name.as_deref()) {
            (Method::GET, None) => list(store, rt, t, self.query, self.wants_table).map(|doc| (200, doc)),
            (Method::GET, Some(name)) => {
                let object = store.get(rt, &ns, name)?.clone();
                Ok((200, if self.wants_table { table(rt, &t.version, vec![object], store.rv, None) } else { present(object) }))
            }
            (Method::POST, None) => Ok((201, present(store.create(rt, &ns, self.object()?, &opts)?))),
            (Method::PUT, Some(name)) => Ok((200, present(store.replace(rt, &ns, name, self.object()?, self.part, &opts)?))),
            (Method::PATCH, Some(name)) => {
                let existed = store.get_opt(rt, &ns, name).is_some();
                let patched = store.patch(rt, &ns, name, self.content_type, self.body, self.part, &opts)?;
                Ok((if existed { 200 } else { 201 }, present(patched)))
            }
            (Method::DELETE, Some(name)) => Ok((200, present(store.delete(rt, &ns, name, &opts)?))),
            (Method::DELETE, None) => delete_collection(store, rt, t, self.query, &opts).map(|doc| (200, doc)),
            (m, _) => Err(ApiError::method_not_allowed(format!("{m} is not supported on {}", rt.display()))),
        }
    }

    /// A create or update body: JSON, YAML, or protobuf for built-in kinds.
    fn object(&self) -> Result<Value, ApiError> {
        if self.content_type.starts_with(crate::proto::PROTOBUF) {
            return crate::proto::decode_body(self.rt, &self.t.version, self.body);
        }
        parse_body(self.body, self.content_type)
    }
}

pub fn parse_body(body: &[u8], content_type: &str) -> Result<Value, ApiError> {
    if content_type.contains("protobuf") || content_type.contains("cbor") {
        // Protobuf is decoded before this, for the kinds that speak it; CBOR is not spoken.
        return Err(ApiError::unsupported_media_type(content_type));
    }
    let parsed = if content_type.contains("yaml") {
        serde_yaml::from_slice(body).map_err(|e| e.to_string())
    } else {
        serde_json::from_slice(body).map_err(|e| e.to_string())
    };
    parsed.map_err(|e| ApiError::bad_request(format!("the body could not be decoded: {e}")))
}

/// An object as a client asked for it: in the requested version.
pub fn present_value(rt: &ResourceType, version: &str, mut object: Value) -> Value {
    object["apiVersion"] = json!(rt.api_version(version));
    object
}

fn list_query(rt: &ResourceType, t: &Target, query: &HashMap<String, String>) -> Result<ListQuery, ApiError> {
    let continue_after = match query.get("continue").filter(|c| !c.is_empty()) {
        None => None,
        Some(token) => {
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token).map_err(|_| ApiError::bad_request("invalid continue token"))?;
            let pair: (String, String) = serde_json::from_slice(&bytes).map_err(|_| ApiError::bad_request("invalid continue token"))?;
            Some(pair)
        }
    };
    Ok(ListQuery {
        namespace: t.namespace.clone(),
        labels: LabelSelector::parse(query.get("labelSelector").map(String::as_str).unwrap_or(""))?,
        fields: FieldSelector::parse_for(&rt.kind, query.get("fieldSelector").map(String::as_str).unwrap_or(""))?,
        limit: query.get("limit").and_then(|l| l.parse().ok()),
        continue_after,
    })
}

fn list(store: &crate::store::Store, rt: &ResourceType, t: &Target, query: &HashMap<String, String>, wants_table: bool) -> Result<Value, ApiError> {
    let result = store.list(rt, &list_query(rt, t, query)?);
    let token = result.next.map(|key| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&key).unwrap_or_default()));
    if wants_table {
        return Ok(table(rt, &t.version, result.items, result.resource_version, token));
    }
    let mut metadata = json!({"resourceVersion": result.resource_version.to_string()});
    if let Some(token) = token {
        metadata["continue"] = json!(token);
        metadata["remainingItemCount"] = json!(result.remaining);
    }
    let items: Vec<Value> = result.items.into_iter().map(|o| present_value(rt, &t.version, o)).collect();
    Ok(json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(&t.version), "metadata": metadata, "items": items}))
}

/// `meta.k8s.io/v1` Table, as `kubectl get` asks for: name, age, and the objects.
pub fn table(rt: &ResourceType, version: &str, items: Vec<Value>, rv: u64, token: Option<String>) -> Value {
    let rows: Vec<Value> = items
        .into_iter()
        .map(|o| {
            let name = o.pointer("/metadata/name").cloned().unwrap_or(Value::Null);
            let created = o.pointer("/metadata/creationTimestamp").cloned().unwrap_or(Value::Null);
            json!({"cells": [name, created], "object": present_value(rt, version, o)})
        })
        .collect();
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if let Some(token) = token {
        metadata["continue"] = json!(token);
    }
    json!({
        "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": metadata,
        "columnDefinitions": [
            {"name": "Name", "type": "string", "format": "name", "description": "Name of the object", "priority": 0},
            {"name": "Created At", "type": "date", "format": "", "description": "When the object was created", "priority": 0},
        ],
        "rows": rows,
    })
}

fn delete_collection(
    store: &mut crate::store::Store,
    rt: &ResourceType,
    t: &Target,
    query: &HashMap<String, String>,
    opts: &WriteOptions,
) -> Result<Value, ApiError> {
    let result = store.list(rt, &list_query(rt, t, query)?);
    let mut deleted = Vec::new();
    for object in result.items {
        let ns = object.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("").to_string();
        let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
        deleted.push(present_value(rt, &t.version, store.delete(rt, &ns, &name, opts)?));
    }
    Ok(
        json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(&t.version), "metadata": {"resourceVersion": store.rv.to_string()}, "items": deleted}),
    )
}

/// A chunked response body fed from a channel (watch streams).
pub fn streaming_body(rx: tokio::sync::mpsc::Receiver<Bytes>) -> Body {
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|b| (Ok::<_, std::convert::Infallible>(b), rx)) });
    Body::from_stream(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        let t = |p: &str| match parse_path(p) {
            Some(Route::Resource(t)) => (t.group, t.namespace, t.plural, t.name, t.subresource),
            other => panic!("{p}: {other:?}"),
        };
        assert_eq!(t("/api/v1/namespaces"), ("".into(), None, "namespaces".into(), None, None));
        assert_eq!(t("/api/v1/namespaces/a"), ("".into(), None, "namespaces".into(), Some("a".into()), None));
        assert_eq!(t("/api/v1/namespaces/a/status"), ("".into(), None, "namespaces".into(), Some("a".into()), Some("status".into())));
        assert_eq!(t("/api/v1/namespaces/a/services"), ("".into(), Some("a".into()), "services".into(), None, None));
        assert_eq!(
            t("/apis/gateway.networking.k8s.io/v1/namespaces/a/gateways/g/status"),
            ("gateway.networking.k8s.io".into(), Some("a".into()), "gateways".into(), Some("g".into()), Some("status".into()))
        );
        assert_eq!(
            t("/apis/gateway.networking.k8s.io/v1/gatewayclasses/c"),
            ("gateway.networking.k8s.io".into(), None, "gatewayclasses".into(), Some("c".into()), None)
        );
        assert_eq!(parse_path("/apis"), Some(Route::GroupList));
        assert_eq!(parse_path("/api/v1"), Some(Route::Resources(String::new(), "v1".into())));
    }
}
