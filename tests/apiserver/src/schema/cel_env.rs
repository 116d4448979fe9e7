//! The CEL environment of `x-kubernetes-validations` rules, modelled on kube-apiserver's:
//! the standard library and macros, the strings extension, the Kubernetes functions the
//! Gateway API CRDs call (`isIP`, `format.dns1123Label().validate`), and the conversion of
//! JSON values into CEL values typed by their schema (property names escaped as Kubernetes
//! escapes them, so `namespace` is read as `__namespace__`).

use cel::extractors::This;
use cel::objects::{Key, Map as CelMap, OptionalValue};
use cel::{Context, Env, ExecutionError, Program};
use serde_json::Value;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, OnceLock};

/// The CEL function names, beyond the standard library and the strings extension, that rules
/// may call here. A rule calling any other function is refused when its CRD is created.
pub const KUBERNETES_FUNCTIONS: [&str; 4] = ["isIP", "format.dns1123Label", "dns1123Label", "validate"];

/// Functions and macros of the standard library and the strings extension that rules may call.
const STANDARD_FUNCTIONS: [&str; 52] = [
    "has",
    "all",
    "exists",
    "exists_one",
    "existsOne",
    "map",
    "filter",
    "size",
    "contains",
    "startsWith",
    "endsWith",
    "matches",
    "int",
    "uint",
    "double",
    "string",
    "bool",
    "bytes",
    "duration",
    "timestamp",
    "dyn",
    "type",
    "charAt",
    "indexOf",
    "lastIndexOf",
    "lowerAscii",
    "upperAscii",
    "trim",
    "replace",
    "split",
    "substring",
    "join",
    "format",
    "reverse",
    "strings.quote",
    "getHours",
    "getMinutes",
    "getSeconds",
    "getMilliseconds",
    "getFullYear",
    "getMonth",
    "getDayOfMonth",
    "getDayOfWeek",
    "getDayOfYear",
    "getDate",
    "optional.of",
    "optional.none",
    "optional.ofNonZeroValue",
    "hasValue",
    "value",
    "orValue",
    "or",
];

/// CEL words that Kubernetes escapes as `__word__` when they name a property.
const RESERVED: [&str; 21] = [
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// Operators as the parser names them; always available.
fn is_operator(name: &str) -> bool {
    name.starts_with('_') || name.starts_with('@') || name == "!_" || name == "-_"
}

/// Returns whether a rule may call `name` in this environment.
pub fn is_supported_function(name: &str) -> bool {
    is_operator(name) || STANDARD_FUNCTIONS.contains(&name) || KUBERNETES_FUNCTIONS.contains(&name)
}

/// The shared environment: standard library, macros and the strings extension.
fn env() -> Arc<Env> {
    static ENV: OnceLock<Arc<Env>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = Env::stdlib();
        // Registering a built-in extension on a fresh environment cannot conflict.
        let _ = env.add_extension(cel::extensions::strings);
        Arc::new(env)
    })
    .clone()
}

/// A compiled rule, or the reason it does not compile here.
pub type Compiled = Result<Arc<Program>, String>;

/// Compiles `source`, caching the result by source text; the error names what is wrong
/// (a syntax error or a function this environment does not have).
pub fn compile(source: &str) -> Compiled {
    static CACHE: OnceLock<Mutex<HashMap<String, Compiled>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Ok(guard) = cache.lock()
        && let Some(hit) = guard.get(source)
    {
        return hit.clone();
    }
    let compiled = compile_uncached(source);
    if let Ok(mut guard) = cache.lock() {
        if guard.len() >= 4096 {
            guard.clear();
        }
        guard.insert(source.to_owned(), compiled.clone());
    }
    compiled
}

/// Parses `source` and checks that every function it calls exists here.
fn compile_uncached(source: &str) -> Compiled {
    let program = env().compile(source).map_err(|errors| format!("compilation failed: {errors}"))?;
    let references = program.references();
    let mut unknown: Vec<&str> = references.functions().into_iter().filter(|name| !is_supported_function(name)).collect();
    unknown.sort_unstable();
    if let Some(name) = unknown.first() {
        return Err(format!("compilation failed: undeclared reference to '{name}' (not implemented by this API server)"));
    }
    Ok(Arc::new(program))
}

/// Returns whether the program reads `oldSelf` (a transition rule).
pub fn uses_old_self(program: &Program) -> bool {
    program.references().has_variable("oldSelf")
}

/// A root context with the Kubernetes functions; rules run in inner scopes of it.
pub fn root_context() -> Context<'static, 'static> {
    let mut context = Context::with_env(env());
    // Fresh names on a fresh context: registration cannot conflict.
    let _ = context.add_function("isIP", is_ip);
    let _ = context.add_function("format.dns1123Label", || cel::Value::Opaque(Arc::new(Format::Dns1123Label)));
    let _ = context.add_function("validate", format_validate);
    context
}

/// Kubernetes' `isIP(string)`: a valid IPv4 or IPv6 address without zone, not IPv4-mapped.
fn is_ip(text: Arc<String>) -> bool {
    match text.parse::<IpAddr>() {
        Ok(IpAddr::V6(address)) => address.to_ipv4_mapped().is_none(),
        Ok(IpAddr::V4(_)) => true,
        Err(_) => false,
    }
}

/// A named format of Kubernetes' `format` library.
#[derive(Debug, PartialEq, Eq)]
enum Format {
    Dns1123Label,
}

impl cel::objects::Opaque for Format {
    fn runtime_type_name(&self) -> &str {
        "kubernetes.NamedFormat"
    }
}

/// `<format>.validate(string)`: `optional.none()` when valid, else `optional.of([errors])`.
fn format_validate(This(format): This<cel::Value>, text: Arc<String>) -> Result<cel::Value, ExecutionError> {
    let cel::Value::Opaque(opaque) = &format else {
        return Err(ExecutionError::function_error("validate", "receiver is not a format"));
    };
    if opaque.downcast_ref::<Format>().is_none() {
        return Err(ExecutionError::function_error("validate", "receiver is not a format"));
    }
    let errors = dns1123_label_errors(&text);
    let optional = if errors.is_empty() {
        OptionalValue::none()
    } else {
        OptionalValue::of(cel::Value::List(Arc::new(errors.into_iter().map(cel::Value::from).collect())))
    };
    Ok(cel::Value::Opaque(Arc::new(optional)))
}

/// The messages of Kubernetes' IsDNS1123Label for `text` (empty when valid).
fn dns1123_label_errors(text: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if text.len() > 63 {
        errors.push("must be no more than 63 characters".to_owned());
    }
    let bytes = text.as_bytes();
    let edge_ok = |b: Option<&u8>| b.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let body_ok = bytes.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-');
    if !body_ok || !edge_ok(bytes.first()) || !edge_ok(bytes.last()) {
        errors.push(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character"
                .to_owned(),
        );
    }
    errors
}

/// Escapes a property name as Kubernetes does for CEL field selection; `None` when the name
/// cannot be selected (it stays reachable through `self['name']` only in maps).
pub fn escape_property(name: &str) -> Option<String> {
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    if RESERVED.contains(&name) {
        return Some(format!("__{name}__"));
    }
    let mut escaped = String::with_capacity(name.len());
    let mut rest = name;
    while let Some(c) = rest.chars().next() {
        if rest.starts_with("__") {
            escaped.push_str("__underscores__");
            rest = &rest[2..];
            continue;
        }
        match c {
            '.' => escaped.push_str("__dot__"),
            '-' => escaped.push_str("__dash__"),
            '/' => escaped.push_str("__slash__"),
            c if c.is_ascii_alphanumeric() || c == '_' => escaped.push(c),
            _ => return None,
        }
        rest = &rest[c.len_utf8()..];
    }
    Some(escaped)
}

/// Converts a JSON value into a CEL value, guided by its schema: declared properties are
/// escaped, `additionalProperties` maps keep their keys, integers become `int` and numbers of
/// `type: number` become `double` (as kube-apiserver types them).
pub fn to_cel(schema: &Value, value: &Value, depth: usize) -> cel::Value {
    if depth > super::MAX_DEPTH {
        return cel::Value::Null;
    }
    match value {
        Value::Null => cel::Value::Null,
        Value::Bool(flag) => cel::Value::Bool(*flag),
        Value::Number(number) if schema_type(schema) == Some("number") => cel::Value::Float(number.as_f64().unwrap_or(0.0)),
        Value::Number(number) => match (number.as_i64(), number.as_u64(), number.as_f64()) {
            (Some(int), _, _) => cel::Value::Int(int),
            (None, Some(unsigned), _) => cel::Value::UInt(unsigned),
            (_, _, Some(float)) if schema_type(schema) == Some("integer") && float.fract() == 0.0 => cel::Value::Int(float as i64),
            (_, _, float) => cel::Value::Float(float.unwrap_or(0.0)),
        },
        Value::String(text) => cel::Value::String(Arc::new(text.clone())),
        Value::Array(items) => {
            let item_schema = schema.get("items").unwrap_or(&Value::Null);
            cel::Value::List(Arc::new(items.iter().map(|item| to_cel(item_schema, item, depth + 1)).collect()))
        }
        Value::Object(map) => object_to_cel(schema, map, depth),
    }
}

/// Converts an object: declared properties by their escaped names, other keys as they are.
fn object_to_cel(schema: &Value, map: &serde_json::Map<String, Value>, depth: usize) -> cel::Value {
    let declared = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties").filter(|a| a.is_object()).unwrap_or(&Value::Null);
    let mut entries: HashMap<Key, cel::Value> = HashMap::with_capacity(map.len());
    for (key, item) in map {
        match declared.and_then(|props| props.get(key)) {
            Some(property) => {
                if let Some(name) = escape_property(key) {
                    entries.insert(Key::String(Arc::new(name)), to_cel(property, item, depth + 1));
                }
            }
            None => {
                entries.insert(Key::String(Arc::new(key.clone())), to_cel(additional, item, depth + 1));
            }
        }
    }
    cel::Value::Map(CelMap { map: Arc::new(entries) })
}

/// Returns the `type` keyword of a schema node.
pub fn schema_type(schema: &Value) -> Option<&str> {
    schema.get("type").and_then(Value::as_str)
}
