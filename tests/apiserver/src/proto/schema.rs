//! The protobuf wire schema of the built-in kinds (`schema.txt`, written by
//! `tools/proto_schema.py` from the `k8s-pb` and `k8s-openapi` crates): field numbers, wire types
//! and JSON names, one line per message.

use std::collections::HashMap;
use std::sync::OnceLock;

/// What one field holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scalar {
    String,
    Int32,
    Int64,
    Bool,
    Double,
    Bytes,
    /// A message, by its full name (`api.core.v1.ServiceSpec`).
    Message(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Single,
    Repeated,
    /// `map<string, _>`: entries are messages with the key as field 1 and the value as field 2.
    Map,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub tag: u32,
    /// The JSON name; `None` for an embedded message whose fields are inlined in the parent's JSON.
    pub json: Option<String>,
    pub shape: Shape,
    pub scalar: Scalar,
}

#[derive(Debug, Default)]
pub struct Schema {
    pub messages: HashMap<String, Vec<Field>>,
}

impl Schema {
    pub fn parse(text: &str) -> Result<Schema, String> {
        let mut messages = HashMap::new();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let mut cells = line.split(' ');
            let name = cells.next().unwrap_or_default().to_string();
            let fields = cells.map(|cell| parse_field(cell).ok_or_else(|| format!("{name}: bad field {cell:?}"))).collect::<Result<Vec<_>, _>>()?;
            messages.insert(name, fields);
        }
        Ok(Schema { messages })
    }

    pub fn message(&self, name: &str) -> Option<&[Field]> {
        self.messages.get(name).map(Vec::as_slice)
    }
}

fn parse_field(cell: &str) -> Option<Field> {
    let mut parts = cell.splitn(3, ':');
    let tag = parts.next()?.parse().ok()?;
    let json = parts.next()?;
    let ty = parts.next()?;
    let (shape, ty) = if let Some(rest) = ty.strip_prefix('*') {
        (Shape::Repeated, rest)
    } else if let Some(rest) = ty.strip_prefix("{}") {
        (Shape::Map, rest)
    } else {
        (Shape::Single, ty)
    };
    let scalar = match ty {
        "s" => Scalar::String,
        "i32" => Scalar::Int32,
        "i64" => Scalar::Int64,
        "b" => Scalar::Bool,
        "d" => Scalar::Double,
        "y" => Scalar::Bytes,
        other => Scalar::Message(other.strip_prefix("m=")?.to_string()),
    };
    let json = (json != "-").then(|| json.to_string());
    Some(Field { tag, json, shape, scalar })
}

/// The schema compiled into the server.
pub fn schema() -> &'static Schema {
    static SCHEMA: OnceLock<Schema> = OnceLock::new();
    // A malformed table fails the `table_parses` test; at run time it serves no protobuf.
    SCHEMA.get_or_init(|| Schema::parse(include_str!("schema.txt")).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_parses_and_every_message_it_names_is_known_or_written_by_the_codec() {
        let schema = Schema::parse(include_str!("schema.txt")).expect("schema.txt parses");
        assert!(schema.messages.len() > 200, "{} messages", schema.messages.len());
        for (name, fields) in &schema.messages {
            for field in fields {
                if let Scalar::Message(target) = &field.scalar {
                    let opaque = crate::proto::wire::Opaque::of(target).is_some();
                    assert!(opaque || schema.messages.contains_key(target), "{name}.{}: {target} is missing", field.tag);
                }
            }
        }
        let port = schema.message("api.core.v1.ServicePort").unwrap();
        assert!(port.contains(&Field {
            tag: 4,
            json: Some("targetPort".into()),
            shape: Shape::Single,
            scalar: Scalar::Message("apimachinery.pkg.util.intstr.IntOrString".into())
        }));
        let spec = schema.message("api.core.v1.ServiceSpec").unwrap();
        assert!(spec.iter().any(|f| f.tag == 3 && f.json.as_deref() == Some("clusterIP")), "acronyms keep their JSON case");
        let volume = schema.message("api.core.v1.Volume").unwrap();
        assert!(volume.iter().any(|f| f.json.is_none()), "VolumeSource is inlined in Volume");
    }
}
