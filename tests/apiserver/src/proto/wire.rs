//! Protobuf wire format <-> the JSON the store keeps, driven by [`super::schema`].
//!
//! Kubernetes' messages are proto2 with only strings, varints, doubles, bytes, messages and
//! `map<string, _>`; a few apimachinery types have a JSON form of their own ([`Opaque`]).

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::schema::{Field, Scalar, Shape, schema};
use crate::error::ApiError;

const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const LEN: u8 = 2;
const FIXED32: u8 = 5;
/// Go's zero `time.Time` (year 1) as Unix seconds: written for an unset non-pointer Time.
const GO_ZERO_TIME: i64 = -62_135_596_800;

fn malformed(what: &str) -> ApiError {
    ApiError::bad_request(format!("the body could not be decoded: malformed protobuf ({what})"))
}

fn unencodable(field: &str, value: &Value) -> ApiError {
    ApiError::internal(format!("cannot encode {field}={value} as protobuf"))
}

pub fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn put_key(out: &mut Vec<u8>, tag: u32, wire: u8) {
    put_varint(out, (u64::from(tag) << 3) | u64::from(wire));
}

pub fn put_bytes(out: &mut Vec<u8>, tag: u32, bytes: &[u8]) {
    put_key(out, tag, LEN);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn put_int(out: &mut Vec<u8>, tag: u32, value: i64) {
    put_key(out, tag, VARINT);
    put_varint(out, value as u64);
}

/// One field read off the wire.
pub enum Wire<'a> {
    Varint(u64),
    Fixed(u64),
    Bytes(&'a [u8]),
}

/// Iterates over the fields of one encoded message.
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    fn varint(&mut self) -> Result<u64, ApiError> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&byte, rest) = self.buf.split_first().ok_or_else(|| malformed("truncated varint"))?;
            self.buf = rest;
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(malformed("varint too long"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], ApiError> {
        if self.buf.len() < n {
            return Err(malformed("truncated field"));
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    pub fn next_field(&mut self) -> Result<Option<(u32, Wire<'a>)>, ApiError> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let key = self.varint()?;
        let tag = u32::try_from(key >> 3).map_err(|_| malformed("field number"))?;
        let value = match (key & 7) as u8 {
            VARINT => Wire::Varint(self.varint()?),
            FIXED64 => Wire::Fixed(u64::from_le_bytes(self.take(8)?.try_into().map_err(|_| malformed("fixed64"))?)),
            LEN => {
                let n = usize::try_from(self.varint()?).map_err(|_| malformed("length"))?;
                Wire::Bytes(self.take(n)?)
            }
            FIXED32 => Wire::Fixed(u64::from(u32::from_le_bytes(self.take(4)?.try_into().map_err(|_| malformed("fixed32"))?))),
            other => return Err(malformed(&format!("wire type {other}"))),
        };
        Ok(Some((tag, value)))
    }
}

/// The apimachinery messages whose JSON is a scalar or raw JSON, not an object of their fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opaque {
    Time,
    MicroTime,
    IntOrString,
    Quantity,
    RawExtension,
    FieldsV1,
}

impl Opaque {
    pub fn of(message: &str) -> Option<Opaque> {
        Some(match message {
            "apimachinery.pkg.apis.meta.v1.Time" => Opaque::Time,
            "apimachinery.pkg.apis.meta.v1.MicroTime" => Opaque::MicroTime,
            "apimachinery.pkg.util.intstr.IntOrString" => Opaque::IntOrString,
            "apimachinery.pkg.api.resource.Quantity" => Opaque::Quantity,
            "apimachinery.pkg.runtime.RawExtension" => Opaque::RawExtension,
            "apimachinery.pkg.apis.meta.v1.FieldsV1" => Opaque::FieldsV1,
            _ => return None,
        })
    }

    fn encode(self, value: &Value) -> Result<Vec<u8>, ApiError> {
        let mut out = Vec::new();
        match (self, value) {
            (Opaque::Time | Opaque::MicroTime, Value::String(text)) => {
                let (seconds, nanos) = crate::time::parse_rfc3339(text).ok_or_else(|| unencodable("time", value))?;
                put_int(&mut out, 1, seconds);
                put_int(&mut out, 2, i64::from(nanos));
            }
            (Opaque::IntOrString, Value::Number(n)) => {
                put_int(&mut out, 1, 0);
                put_int(&mut out, 2, n.as_i64().ok_or_else(|| unencodable("int-or-string", value))?);
            }
            (Opaque::IntOrString, Value::String(text)) => {
                put_int(&mut out, 1, 1);
                put_bytes(&mut out, 3, text.as_bytes());
            }
            (Opaque::Quantity, Value::String(text)) => put_bytes(&mut out, 1, text.as_bytes()),
            (Opaque::Quantity, Value::Number(n)) => put_bytes(&mut out, 1, n.to_string().as_bytes()),
            (Opaque::RawExtension | Opaque::FieldsV1, raw) => put_bytes(&mut out, 1, raw.to_string().as_bytes()),
            _ => return Err(unencodable("value", value)),
        }
        Ok(out)
    }

    /// The JSON value, or `None` for a value JSON leaves out (Go's zero time).
    fn decode(self, bytes: &[u8]) -> Result<Option<Value>, ApiError> {
        let mut ints = [0i64; 4];
        let mut text = None;
        let mut reader = Reader::new(bytes);
        while let Some((tag, wire)) = reader.next_field()? {
            match wire {
                Wire::Varint(v) if (tag as usize) < ints.len() => ints[tag as usize] = v as i64,
                Wire::Bytes(b) => text = Some(b),
                _ => {}
            }
        }
        let string = |b: Option<&[u8]>| String::from_utf8_lossy(b.unwrap_or_default()).into_owned();
        Ok(match self {
            Opaque::Time | Opaque::MicroTime if ints[1] == GO_ZERO_TIME || (ints[1] == 0 && ints[2] == 0 && bytes.is_empty()) => None,
            Opaque::Time => Some(json!(crate::time::format_unix_fraction(ints[1], 0, 0))),
            Opaque::MicroTime => Some(json!(crate::time::format_unix_fraction(ints[1], ints[2] as u32, 6))),
            Opaque::IntOrString if ints[1] == 1 => Some(json!(string(text))),
            Opaque::IntOrString => Some(json!(ints[2] as i32)),
            Opaque::Quantity => Some(json!(string(text))),
            Opaque::RawExtension | Opaque::FieldsV1 => match text {
                None => None,
                Some(raw) => Some(serde_json::from_slice(raw).map_err(|_| malformed("embedded JSON"))?),
            },
        })
    }
}

/// Encode the JSON object `object` as the message `name`. JSON fields the schema lacks are left out.
pub fn encode(name: &str, object: &Value) -> Result<Vec<u8>, ApiError> {
    let fields = schema().message(name).ok_or_else(|| ApiError::internal(format!("no protobuf schema for {name}")))?;
    let mut out = Vec::new();
    for field in fields {
        let Some(json_name) = &field.json else {
            if let Scalar::Message(inner) = &field.scalar {
                put_bytes(&mut out, field.tag, &encode(inner, object)?);
            }
            continue;
        };
        match (field.shape, object.get(json_name)) {
            (_, None | Some(Value::Null)) => {}
            (Shape::Single, Some(value)) => put_value(&mut out, field, value)?,
            (Shape::Repeated, Some(Value::Array(items))) => {
                for item in items {
                    put_value(&mut out, field, item)?;
                }
            }
            (Shape::Map, Some(Value::Object(entries))) => {
                for (key, value) in entries {
                    let mut entry = Vec::new();
                    put_bytes(&mut entry, 1, key.as_bytes());
                    put_value(&mut entry, &Field { tag: 2, ..field.clone() }, value)?;
                    put_bytes(&mut out, field.tag, &entry);
                }
            }
            (_, Some(other)) => return Err(unencodable(json_name, other)),
        }
    }
    Ok(out)
}

fn put_value(out: &mut Vec<u8>, field: &Field, value: &Value) -> Result<(), ApiError> {
    let name = field.json.as_deref().unwrap_or("");
    let bad = || unencodable(name, value);
    match &field.scalar {
        Scalar::String => put_bytes(out, field.tag, value.as_str().ok_or_else(bad)?.as_bytes()),
        Scalar::Int32 | Scalar::Int64 => put_int(out, field.tag, value.as_i64().ok_or_else(bad)?),
        Scalar::Bool => put_int(out, field.tag, i64::from(value.as_bool().ok_or_else(bad)?)),
        Scalar::Double => {
            put_key(out, field.tag, FIXED64);
            out.extend_from_slice(&value.as_f64().ok_or_else(bad)?.to_le_bytes());
        }
        Scalar::Bytes => {
            let bytes = base64::engine::general_purpose::STANDARD.decode(value.as_str().ok_or_else(bad)?).map_err(|_| bad())?;
            put_bytes(out, field.tag, &bytes);
        }
        Scalar::Message(inner) => match Opaque::of(inner) {
            Some(opaque) => put_bytes(out, field.tag, &opaque.encode(value)?),
            None if value.is_object() => put_bytes(out, field.tag, &encode(inner, value)?),
            None => return Err(bad()),
        },
    }
    Ok(())
}

/// Fields whose zero value means something (Go pointers: `replicas: 0` is not "unset"); every
/// other singular zero (`""`, `0`, `false`) is left out of the JSON, as Go's `omitempty` leaves it
/// out: Go writes every non-pointer field to protobuf, set or not, and a `status.observedGeneration:
/// 0` read back from a create would make `kubectl wait` think the object is stale.
const MEANINGFUL_ZEROS: &[&str] = &[
    "replicas",
    "revisionHistoryLimit",
    "progressDeadlineSeconds",
    "terminationGracePeriodSeconds",
    "activeDeadlineSeconds",
    "deletionGracePeriodSeconds",
    "automountServiceAccountToken",
    "enableServiceLinks",
    "shareProcessNamespace",
    "hostUsers",
    "immutable",
    "optional",
    "defaultMode",
    "mode",
    "privileged",
    "allowPrivilegeEscalation",
    "readOnlyRootFilesystem",
    "runAsNonRoot",
    "runAsUser",
    "runAsGroup",
    "fsGroup",
    "allocateLoadBalancerNodePorts",
    "ready",
    "serving",
    "terminating",
    "controller",
    "blockOwnerDeletion",
    "leaseDurationSeconds",
    "leaseTransitions",
    "expirationSeconds",
    "allowed",
    "denied",
];

fn is_go_zero(value: &Value) -> bool {
    match value {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

/// Decode the message `name` into a JSON object. Unknown field numbers are skipped, as Go skips
/// them; singular zero values are left out unless they mean something ([`MEANINGFUL_ZEROS`]).
pub fn decode(name: &str, bytes: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let fields = schema().message(name).ok_or_else(|| malformed(&format!("no schema for {name}")))?;
    let mut object = Map::new();
    let mut reader = Reader::new(bytes);
    while let Some((tag, wire)) = reader.next_field()? {
        let Some(field) = fields.iter().find(|f| f.tag == tag) else { continue };
        let Some(json_name) = &field.json else {
            if let (Scalar::Message(inner), Wire::Bytes(b)) = (&field.scalar, &wire) {
                object.extend(decode(inner, b)?);
            }
            continue;
        };
        match field.shape {
            Shape::Single => match value(field, wire)? {
                Some(v) if is_go_zero(&v) && (v.is_string() || !MEANINGFUL_ZEROS.contains(&json_name.as_str())) => {}
                Some(v) => {
                    object.insert(json_name.clone(), v);
                }
                None => {}
            },
            Shape::Repeated => {
                let items = object.entry(json_name.clone()).or_insert_with(|| json!([]));
                if let (Some(v), Some(items)) = (value(field, wire)?, items.as_array_mut()) {
                    items.push(v);
                }
            }
            Shape::Map => {
                let Wire::Bytes(entry) = wire else { return Err(malformed("map entry")) };
                let (key, v) = map_entry(field, entry)?;
                if let Some(map) = object.entry(json_name.clone()).or_insert_with(|| json!({})).as_object_mut() {
                    map.insert(key, v);
                }
            }
        }
    }
    Ok(object)
}

fn map_entry(field: &Field, entry: &[u8]) -> Result<(String, Value), ApiError> {
    let mut key = String::new();
    let mut out = Value::Null;
    let mut reader = Reader::new(entry);
    while let Some((tag, wire)) = reader.next_field()? {
        match (tag, wire) {
            (1, Wire::Bytes(k)) => key = String::from_utf8_lossy(k).into_owned(),
            (2, wire) => out = value(field, wire)?.unwrap_or(Value::Null),
            _ => {}
        }
    }
    if out.is_null() {
        // An entry without a value holds the type's zero value.
        out = match field.scalar {
            Scalar::String | Scalar::Bytes => json!(""),
            Scalar::Message(_) => json!({}),
            _ => json!(0),
        };
    }
    Ok((key, out))
}

fn value(field: &Field, wire: Wire<'_>) -> Result<Option<Value>, ApiError> {
    Ok(Some(match (&field.scalar, wire) {
        (Scalar::String, Wire::Bytes(b)) => json!(String::from_utf8_lossy(b)),
        (Scalar::Int32, Wire::Varint(v)) => json!(v as i32),
        (Scalar::Int64, Wire::Varint(v)) => json!(v as i64),
        (Scalar::Bool, Wire::Varint(v)) => json!(v != 0),
        (Scalar::Double, Wire::Fixed(v)) => json!(f64::from_bits(v)),
        (Scalar::Bytes, Wire::Bytes(b)) => json!(base64::engine::general_purpose::STANDARD.encode(b)),
        (Scalar::Message(inner), Wire::Bytes(b)) => match Opaque::of(inner) {
            Some(opaque) => return opaque.decode(b),
            None => Value::Object(decode(inner, b)?),
        },
        _ => return Err(malformed(&format!("field {} has the wrong wire type", field.tag))),
    }))
}
