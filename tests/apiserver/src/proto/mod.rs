//! `application/vnd.kubernetes.protobuf` for the built-in kinds, as kube-apiserver speaks it.
//!
//! A protobuf body is the magic `k8s\0` followed by a `runtime.Unknown` (field 1 `TypeMeta`
//! {apiVersion, kind}, field 2 the object's bytes, 3 contentEncoding, 4 contentType). A watch
//! (`;stream=watch`) is a sequence of frames, each a 4-byte big-endian length and a bare
//! `meta.v1.WatchEvent` {type, object: RawExtension} whose raw bytes are the enveloped object.
//! Objects convert through the JSON the store keeps ([`wire`]); custom resources speak JSON only
//! and refuse protobuf as kube-apiserver does (406 / 415).

pub mod schema;
pub mod wire;

use axum::body::Bytes;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::resources::ResourceType;

pub const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";
pub const PROTOBUF_WATCH: &str = "application/vnd.kubernetes.protobuf;stream=watch";
const MAGIC: &[u8] = b"k8s\0";
/// What kube-apiserver accepts and offers for a custom resource (CBOR is off by default).
const JSON_ONLY: &[&str] = &["application/json", "application/yaml"];
const META: &str = "apimachinery.pkg.apis.meta.v1";

/// How a response is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Format {
    Json,
    /// Protobuf, for a kind with this message (`api.core.v1.Service`).
    Protobuf(String),
}

impl Format {
    pub fn media_type(&self) -> &'static str {
        match self {
            Format::Json => "application/json",
            Format::Protobuf(_) => PROTOBUF,
        }
    }
}

/// The protobuf message of a kind, for built-in kinds this server has the schema of.
pub fn message_for(group: &str, version: &str, kind: &str) -> Option<String> {
    let package = if group.is_empty() { "core" } else { group.split('.').next().unwrap_or(group) };
    let name = format!("api.{package}.{version}.{kind}");
    schema::schema().message(&name).map(|_| name)
}

fn message_of(rt: &ResourceType, version: &str) -> Option<String> {
    if rt.builtin { message_for(&rt.group, version, &rt.kind) } else { None }
}

/// One entry of an `Accept` header: the media type, its parameters and `q`.
struct MediaRange<'a> {
    essence: &'a str,
    params: Vec<(&'a str, &'a str)>,
    q: f32,
}

fn media_ranges(accept: &str) -> Vec<MediaRange<'_>> {
    let mut ranges: Vec<MediaRange> = accept
        .split(',')
        .filter_map(|entry| {
            let mut parts = entry.split(';').map(str::trim);
            let essence = parts.next().filter(|e| !e.is_empty())?;
            let params: Vec<(&str, &str)> = parts.filter_map(|p| p.split_once('=')).map(|(k, v)| (k.trim(), v.trim())).collect();
            let q = params.iter().find(|(k, _)| *k == "q").and_then(|(_, v)| v.parse().ok()).unwrap_or(1.0);
            Some(MediaRange { essence, params, q })
        })
        .filter(|r| r.q > 0.0)
        .collect();
    // Highest q first; equal weights keep the client's order.
    ranges.sort_by(|a, b| b.q.partial_cmp(&a.q).unwrap_or(std::cmp::Ordering::Equal));
    ranges
}

/// Pick the response format from `Accept`: protobuf for built-in kinds when the client prefers it,
/// JSON otherwise; 406 when the client accepts nothing this kind can be written as.
pub fn negotiate(accept: Option<&str>, rt: &ResourceType, version: &str) -> Result<Format, ApiError> {
    negotiate_message(accept, message_of(rt, version))
}

/// [`negotiate`] for a response of the protobuf `message` (`None`: JSON only).
pub fn negotiate_message(accept: Option<&str>, message: Option<String>) -> Result<Format, ApiError> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else { return Ok(Format::Json) };
    for range in media_ranges(accept) {
        let other_params = range.params.iter().any(|(k, _)| !matches!(*k, "q" | "stream" | "charset"));
        match range.essence {
            PROTOBUF if !other_params => {
                if let Some(message) = &message {
                    return Ok(Format::Protobuf(message.clone()));
                }
            }
            // JSON (a Table request is JSON too); YAML is answered with JSON, which YAML parses.
            "application/json" | "application/yaml" | "application/*" | "*/*" => return Ok(Format::Json),
            _ => {}
        }
    }
    Err(ApiError::not_acceptable(JSON_ONLY))
}

/// `k8s\0` + `runtime.Unknown` around `raw`.
fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
    let mut type_meta = Vec::new();
    wire::put_bytes(&mut type_meta, 1, api_version.as_bytes());
    wire::put_bytes(&mut type_meta, 2, kind.as_bytes());
    let mut out = MAGIC.to_vec();
    wire::put_bytes(&mut out, 1, &type_meta);
    wire::put_bytes(&mut out, 2, raw);
    wire::put_bytes(&mut out, 3, b"");
    wire::put_bytes(&mut out, 4, b"");
    out
}

/// What an envelope holds: apiVersion, kind and the object's bytes.
pub struct Unknown<'a> {
    pub api_version: String,
    pub kind: String,
    pub raw: &'a [u8],
}

pub fn open_envelope(body: &[u8]) -> Result<Unknown<'_>, ApiError> {
    let inner = body.strip_prefix(MAGIC).ok_or_else(|| ApiError::bad_request("the body could not be decoded: protobuf without the k8s\\0 prefix"))?;
    let mut unknown = Unknown { api_version: String::new(), kind: String::new(), raw: &[] };
    let mut reader = wire::Reader::new(inner);
    while let Some((tag, value)) = reader.next_field()? {
        match (tag, value) {
            (1, wire::Wire::Bytes(type_meta)) => {
                let mut fields = wire::Reader::new(type_meta);
                while let Some((tag, value)) = fields.next_field()? {
                    if let wire::Wire::Bytes(text) = value {
                        let text = String::from_utf8_lossy(text).into_owned();
                        if tag == 1 {
                            unknown.api_version = text
                        } else if tag == 2 {
                            unknown.kind = text
                        }
                    }
                }
            }
            (2, wire::Wire::Bytes(raw)) => unknown.raw = raw,
            _ => {}
        }
    }
    Ok(unknown)
}

/// An object (or list, with `items`) of the message's kind, enveloped.
pub fn encode_object(message: &str, object: &Value) -> Result<Vec<u8>, ApiError> {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    let message = if kind.ends_with("List") && !message.ends_with("List") { format!("{message}List") } else { message.to_string() };
    Ok(envelope(api_version, kind, &wire::encode(&message, object)?))
}

/// A `meta.v1.Status` (a watch ERROR event's object), enveloped.
pub fn encode_status(status: &Value) -> Result<Vec<u8>, ApiError> {
    Ok(envelope("v1", "Status", &wire::encode(&format!("{META}.Status"), status)?))
}

/// One frame of a protobuf watch stream.
pub fn watch_frame(event_type: &str, enveloped_object: &[u8]) -> Bytes {
    let mut raw_extension = Vec::new();
    wire::put_bytes(&mut raw_extension, 1, enveloped_object);
    let mut event = Vec::new();
    wire::put_bytes(&mut event, 1, event_type.as_bytes());
    wire::put_bytes(&mut event, 2, &raw_extension);
    let mut frame = (event.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(&event);
    Bytes::from(frame)
}

/// Decode an enveloped object of any kind the schema knows (the envelope names its kind) to JSON.
pub fn decode_object(body: &[u8]) -> Result<Value, ApiError> {
    let unknown = open_envelope(body)?;
    let (group, version) = unknown.api_version.rsplit_once('/').unwrap_or(("", &unknown.api_version));
    let base = unknown.kind.strip_suffix("List").filter(|_| unknown.kind != "List").unwrap_or(&unknown.kind);
    let message = match message_for(group, version, base) {
        Some(m) if base != unknown.kind => format!("{m}List"),
        Some(m) => m,
        None if unknown.kind == "Status" => format!("{META}.Status"),
        None => return Err(ApiError::bad_request(format!("the body could not be decoded: no protobuf schema for {} {}", unknown.api_version, unknown.kind))),
    };
    let mut object = wire::decode(&message, unknown.raw)?;
    object.insert("apiVersion".into(), json!(unknown.api_version));
    object.insert("kind".into(), json!(unknown.kind));
    Ok(Value::Object(object))
}

/// A request body in JSON, YAML, or protobuf (for the kinds the schema knows).
pub fn decode_any(content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    if content_type.starts_with(PROTOBUF) {
        return decode_object(body);
    }
    crate::http::parse_body(body, content_type)
}

/// A create/update body in protobuf: decoded for built-in kinds, 415 for custom resources.
pub fn decode_body(rt: &ResourceType, version: &str, body: &[u8]) -> Result<Value, ApiError> {
    if message_of(rt, version).is_none() {
        return Err(ApiError::unsupported_media_type_of(JSON_ONLY));
    }
    decode_object(body)
}

/// A response in the negotiated format.
pub fn respond(code: u16, value: &Value, format: &Format) -> Result<Response, ApiError> {
    let Format::Protobuf(message) = format else { return Ok(crate::http::json_response(code, value)) };
    let body = encode_object(message, value)?;
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
    Ok((status, [(header::CONTENT_TYPE, PROTOBUF)], body).into_response())
}

#[cfg(test)]
mod tests;
