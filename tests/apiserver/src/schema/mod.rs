//! Structural-schema handling for custom resources, modelled on kube-apiserver.
//!
//! Entry points work on a CRD version's `schema.openAPIV3Schema` and a custom resource as
//! JSON: [`apply_defaults`] fills absent fields from `default`, [`prune`] drops fields the
//! schema does not declare, [`validate`] reports every OpenAPI violation as a [`Cause`] shaped
//! like an entry of a Kubernetes Status `details.causes` list, and [`validate_rules`] runs the
//! `x-kubernetes-validations` CEL rules (see `cel.rs`). The API server runs them in the order
//! prune, default, validate, then the rules unless [`blocks_rules`] says a failure prevents
//! them (as kube-apiserver does). [`check_crd_schema`] refuses, at CRD creation, what
//! kube-apiserver refuses there too: rules that do not compile (here: also rules calling a
//! function this environment lacks) and `uniqueItems: true`.
//!
//! Limitations, on purpose:
//! - `pattern` uses the `regex` crate: look-around and back-references are not supported,
//!   and a pattern that fails to compile is skipped. `\d` and `\w` are Unicode-aware.
//! - `format` is checked for the formats of kube-apiserver's registry listed in
//!   `formats.rs`; `isbn*`, `creditcard`, `ssn`, `rgbcolor` and `password` are accepted as
//!   they are. As on kube-apiserver, `int32`/`int64` do not bound integers.
//! - When `anyOf`/`oneOf` fail, the failures of the alternative that visited the most schema
//!   nodes are added (kube-apiserver adds those of the alternative with the most checks run).
//! - Embedded resources (`x-kubernetes-embedded-resource`) only get `apiVersion`/`kind`
//!   (strings) and `metadata` (object) allowed; their metadata is not checked further.
//! - Nesting deeper than [`MAX_DEPTH`] levels is reported as invalid and not walked further.

mod cel;
mod cel_env;
mod formats;

pub use cel::validate_rules;

use regex::{Regex, RegexBuilder};
use serde_json::{Map, Number, Value};
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, OnceLock};

/// Deepest schema/object nesting that is walked; deeper values are not examined.
pub const MAX_DEPTH: usize = 128;

/// Keys of a Kubernetes object's envelope, allowed at the root and in embedded resources.
const META_KEYS: [&str; 3] = ["apiVersion", "kind", "metadata"];

const REQUIRED: &str = "FieldValueRequired";
const INVALID: &str = "FieldValueInvalid";
const TYPE_INVALID: &str = "FieldValueTypeInvalid";
const NOT_SUPPORTED: &str = "FieldValueNotSupported";
const TOO_LONG: &str = "FieldValueTooLong";
const TOO_MANY: &str = "FieldValueTooMany";
const DUPLICATE: &str = "FieldValueDuplicate";
const FORBIDDEN: &str = "FieldValueForbidden";

const PRESERVE_UNKNOWN: &str = "x-kubernetes-preserve-unknown-fields";
const EMBEDDED: &str = "x-kubernetes-embedded-resource";
const INT_OR_STRING: &str = "x-kubernetes-int-or-string";

/// One validation failure, as it goes into a Kubernetes Status `details.causes` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub field: String,
    pub reason: &'static str,
    pub message: String,
}

/// Validate `object` (a whole custom resource as JSON) against `schema` (the CRD version's
/// `schema.openAPIV3Schema`). Returns every failure found (empty = valid). apiVersion, kind and
/// metadata are not checked here beyond their JSON type.
pub fn validate(schema: &Value, object: &Value) -> Vec<Cause> {
    let mut validator = Validator::default();
    if object.is_object() {
        validator.node(schema, object, "", 0, true);
    } else {
        validator.type_error("", "object", object);
    }
    validator.causes
}

/// Apply `default` values from the schema to absent fields, recursively (object properties,
/// array items, additionalProperties), as the API server does before validation.
pub fn apply_defaults(schema: &Value, object: &mut Value) {
    default_node(schema, object, 0, true);
}

/// Remove fields not declared in the schema (structural pruning), except under
/// `x-kubernetes-preserve-unknown-fields: true` and except apiVersion/kind/metadata at the root.
pub fn prune(schema: &Value, object: &mut Value) {
    prune_node(schema, object, 0, true);
}

// ---- Schema and path helpers ----

/// Returns whether the boolean schema keyword `key` is present and true.
fn flag(schema: &Value, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool).unwrap_or(false)
}

/// Returns the non-negative integer value of a count keyword such as `maxItems`.
fn count(schema: &Value, key: &str) -> Option<u64> {
    schema.get(key).and_then(Value::as_u64)
}

/// Returns the `properties` map of a schema node, if it has one.
fn properties(schema: &Value) -> Option<&Map<String, Value>> {
    schema.get("properties").and_then(Value::as_object)
}

/// Returns a sub-schema keyword (`items`, `additionalProperties`) when it is a schema object.
fn sub_schema<'a>(schema: &'a Value, key: &str) -> Option<&'a Value> {
    schema.get(key).filter(|sub| sub.is_object())
}

/// Returns the type name a schema node demands, taking int-or-string and embedded resources
/// into account; `None` means any type is accepted.
fn expected_type(schema: &Value) -> Option<&str> {
    if flag(schema, INT_OR_STRING) {
        return Some("integer,string");
    }
    match schema.get("type").and_then(Value::as_str) {
        Some(name) => Some(name),
        None if flag(schema, EMBEDDED) => Some("object"),
        None => None,
    }
}

/// Returns whether `value` (not null) has the JSON type named by `expected`.
fn type_matches(expected: &str, value: &Value) -> bool {
    match expected {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "number" => value.is_number(),
        "integer" => is_integral(value),
        "integer,string" => value.is_string() || is_integral(value),
        _ => true,
    }
}

/// Returns whether `value` is a JSON integer, or a float without a fractional part.
fn is_integral(value: &Value) -> bool {
    match value {
        Value::Number(number) => number.is_i64() || number.is_u64() || number.as_f64().is_some_and(|f| f.fract() == 0.0),
        _ => false,
    }
}

/// Returns the JSON type name of a value, as used in "must be of type" messages.
fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) if is_integral(value) => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Returns the path of property `name` below `path` (`spec` + `port` = `spec.port`).
fn child_path(path: &str, name: &str) -> String {
    if path.is_empty() { name.to_owned() } else { format!("{path}.{name}") }
}

/// Returns the path of array element `index` below `path` (`spec.listeners[0]`).
fn index_path(path: &str, index: usize) -> String {
    format!("{path}[{index}]")
}

/// Returns the path of map entry `key` below `path` (`spec.labels[app]`).
fn key_path(path: &str, key: &str) -> String {
    format!("{path}[{key}]")
}

/// Formats a number the way Go prints it: integral floats without a trailing `.0`.
fn format_number(number: &Number) -> String {
    match number.as_f64().filter(|float| number.is_f64() && float.fract() == 0.0 && float.abs() < 9.0e15) {
        Some(integral) => (integral as i64).to_string(),
        None => number.to_string(),
    }
}

/// Formats a schema bound (a float64 in kube-apiserver) as Go's `%v` does: shortest digits,
/// exponent notation from 1e+06 up and below 1e-04 (`65535`, `1e+06`, `0.5`).
fn go_float(value: f64) -> String {
    let scientific = format!("{value:e}");
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return scientific;
    };
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if value == 0.0 || (-4..6).contains(&exponent) {
        return format!("{value}");
    }
    let sign = if exponent < 0 { '-' } else { '+' };
    format!("{mantissa}e{sign}{:02}", exponent.abs())
}

/// Renders a value for an error message: JSON, with numbers printed as by [`format_number`].
fn render(value: &Value) -> String {
    match value {
        Value::Number(number) => format_number(number),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// Returns a canonical text form of a value (sorted keys, normalised numbers) so that two
/// values are equal exactly when their canonical forms are equal.
fn canonical(value: &Value) -> String {
    match value {
        Value::Number(number) => format_number(number),
        Value::Array(items) => {
            let parts: Vec<String> = items.iter().map(canonical).collect();
            format!("[{}]", parts.join(","))
        }
        Value::Object(map) => {
            let mut parts: Vec<String> = map.iter().map(|(key, item)| format!("{}:{}", render(&Value::String(key.clone())), canonical(item))).collect();
            parts.sort();
            format!("{{{}}}", parts.join(","))
        }
        other => render(other),
    }
}

/// Compiles `pattern`, caching the result; `None` when the pattern is not supported.
fn compiled_pattern(pattern: &str) -> Option<Regex> {
    static CACHE: OnceLock<Mutex<HashMap<String, Option<Regex>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
    if let Ok(guard) = cache.lock()
        && let Some(hit) = guard.get(pattern)
    {
        return hit.clone();
    }
    let compiled = RegexBuilder::new(pattern).size_limit(1 << 22).build().ok();
    if let Ok(mut guard) = cache.lock() {
        if guard.len() >= 512 {
            guard.clear();
        }
        guard.insert(pattern.to_owned(), compiled.clone());
    }
    compiled
}

// ---- Validation ----

/// Walks an object alongside its schema and collects causes.
#[derive(Default)]
struct Validator {
    causes: Vec<Cause>,
    /// Schema nodes visited: picks the closest failing alternative of `anyOf`/`oneOf`, as
    /// kube-openapi's match count does.
    visited: usize,
}

impl Validator {
    /// Records one cause.
    fn report(&mut self, field: &str, reason: &'static str, message: String) {
        self.causes.push(Cause { field: field.to_owned(), reason, message });
    }

    /// Records a "must be of type" failure for `value` at `path`.
    fn type_error(&mut self, path: &str, expected: &str, value: &Value) {
        let actual = type_name(value);
        self.report(path, TYPE_INVALID, format!("Invalid value: \"{actual}\": {path} in body must be of type {expected}: \"{actual}\""));
    }

    /// Records a FieldValueInvalid failure: `Invalid value: <value>: <path> in body <detail>`.
    fn invalid(&mut self, path: &str, value: &Value, detail: &str) {
        self.report(path, INVALID, format!("Invalid value: {}: {path} in body {detail}", render(value)));
    }

    /// Validates one value against one schema node; `root` marks the resource itself.
    fn node(&mut self, schema: &Value, value: &Value, path: &str, depth: usize, root: bool) {
        self.visited += 1;
        if depth > MAX_DEPTH {
            self.invalid(path, &Value::Null, &format!("exceeds the maximum nesting depth of {MAX_DEPTH}"));
            return;
        }
        if !schema.is_object() {
            return;
        }
        let expected = expected_type(schema);
        if value.is_null() {
            if let Some(expected) = expected.filter(|_| !flag(schema, "nullable")) {
                self.type_error(path, expected, value);
            }
            return;
        }
        if let Some(expected) = expected.filter(|expected| !type_matches(expected, value)) {
            self.type_error(path, expected, value);
            return;
        }
        self.check_enum(schema, value, path);
        match value {
            Value::String(text) => self.check_string(schema, value, text, path),
            Value::Number(number) => self.check_number(schema, value, number, path),
            Value::Array(items) => self.check_array(schema, value, items, path, depth),
            Value::Object(map) => self.check_object(schema, value, map, path, depth, root),
            _ => {}
        }
        self.check_combinators(schema, value, path, depth);
    }

    /// Checks `enum`: the value must equal one of the listed values.
    fn check_enum(&mut self, schema: &Value, value: &Value, path: &str) {
        let Some(options) = schema.get("enum").and_then(Value::as_array) else {
            return;
        };
        let wanted = canonical(value);
        if options.iter().any(|option| canonical(option) == wanted) {
            return;
        }
        let supported: Vec<String> = options.iter().map(render).collect();
        let message = format!("Unsupported value: {}: supported values: {}", render(value), supported.join(", "));
        self.report(path, NOT_SUPPORTED, message);
    }

    /// Checks `minLength`, `maxLength` (in Unicode characters), `pattern` and `format`.
    fn check_string(&mut self, schema: &Value, value: &Value, text: &str, path: &str) {
        let length = text.chars().count() as u64;
        if let Some(min) = count(schema, "minLength").filter(|min| length < *min) {
            self.invalid(path, value, &format!("should be at least {min} chars long"));
        }
        if let Some(max) = count(schema, "maxLength").filter(|max| length > *max) {
            self.report(path, TOO_LONG, format!("Too long: may not be more than {max} {}", if max == 1 { "byte" } else { "bytes" }));
        }
        if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
            && let Some(regex) = compiled_pattern(pattern)
            && !regex.is_match(text)
        {
            self.invalid(path, value, &format!("should match '{pattern}'"));
        }
        if let Some(format) = schema.get("format").and_then(Value::as_str)
            && !formats::string_format_ok(format, text)
        {
            let message = format!("Invalid value: {0}: {path} in body must be of type {format}: {0}", render(value));
            self.report(path, TYPE_INVALID, message);
        }
    }

    /// Checks `minimum`/`maximum` (with boolean or numeric exclusive bounds) and `multipleOf`.
    fn check_number(&mut self, schema: &Value, value: &Value, number: &Number, path: &str) {
        let Some(actual) = number.as_f64() else {
            return;
        };
        for (bound_key, exclusive_key, lower) in [("minimum", "exclusiveMinimum", true), ("maximum", "exclusiveMaximum", false)] {
            if let Some(detail) = bound_violation(schema, actual, bound_key, exclusive_key, lower) {
                self.invalid(path, value, &detail);
            }
        }
        if let Some(factor) = schema.get("multipleOf").and_then(Value::as_f64).filter(|factor| *factor > 0.0) {
            let ratio = actual / factor;
            if (ratio - ratio.round()).abs() > 1e-9 {
                self.invalid(path, value, &format!("should be a multiple of {}", go_float(factor)));
            }
        }
    }

    /// Checks `minItems`, `maxItems`, `items` and `x-kubernetes-list-type`.
    fn check_array(&mut self, schema: &Value, value: &Value, items: &[Value], path: &str, depth: usize) {
        let length = items.len() as u64;
        if let Some(min) = count(schema, "minItems").filter(|min| length < *min) {
            self.invalid(path, value, &format!("should have at least {min} items"));
        }
        if let Some(max) = count(schema, "maxItems").filter(|max| length > *max) {
            self.report(path, TOO_MANY, format!("Too many: {length}: must have at most {max} {}", if max == 1 { "item" } else { "items" }));
        }
        if let Some(item_schema) = sub_schema(schema, "items") {
            for (index, item) in items.iter().enumerate() {
                self.node(item_schema, item, &index_path(path, index), depth + 1, false);
            }
        }
        self.check_list_type(schema, items, path);
    }

    /// Reports duplicates in `x-kubernetes-list-type: set` and `map` lists.
    fn check_list_type(&mut self, schema: &Value, items: &[Value], path: &str) {
        let map_keys: Vec<&str> = match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
            Some("set") => Vec::new(),
            Some("map") => schema
                .get("x-kubernetes-list-map-keys")
                .and_then(Value::as_array)
                .map(|keys| keys.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default(),
            _ => return,
        };
        let mut seen = HashSet::new();
        for (index, item) in items.iter().enumerate() {
            let identity = if map_keys.is_empty() {
                item.clone()
            } else if let Some(object) = item.as_object() {
                map_keys.iter().map(|key| ((*key).to_owned(), object.get(*key).cloned().unwrap_or(Value::Null))).collect::<Map<_, _>>().into()
            } else {
                continue;
            };
            if !seen.insert(canonical(&identity)) {
                self.report(&index_path(path, index), DUPLICATE, format!("Duplicate value: {}", render(&identity)));
            }
        }
    }

    /// Checks `required`, `minProperties`, `maxProperties` and every present property.
    fn check_object(&mut self, schema: &Value, value: &Value, map: &Map<String, Value>, path: &str, depth: usize, root: bool) {
        let required = schema.get("required").and_then(Value::as_array);
        for name in required.into_iter().flatten().filter_map(Value::as_str) {
            let exempt = root && META_KEYS.contains(&name);
            if !exempt && !map.contains_key(name) {
                self.report(&child_path(path, name), REQUIRED, "Required value".to_owned());
            }
        }
        let length = map.len() as u64;
        if let Some(min) = count(schema, "minProperties").filter(|min| length < *min) {
            self.invalid(path, value, &format!("should have at least {min} properties"));
        }
        if let Some(max) = count(schema, "maxProperties").filter(|max| length > *max) {
            self.report(path, TOO_MANY, format!("Too many: {length}: must have at most {max} {}", if max == 1 { "item" } else { "items" }));
        }
        self.check_properties(schema, map, path, depth, root);
    }

    /// Validates each present property against `properties` or `additionalProperties`.
    fn check_properties(&mut self, schema: &Value, map: &Map<String, Value>, path: &str, depth: usize, root: bool) {
        let declared = properties(schema);
        let additional = schema.get("additionalProperties");
        let embedded = flag(schema, EMBEDDED);
        for (key, item) in map {
            let property = declared.and_then(|props| props.get(key));
            if META_KEYS.contains(&key.as_str()) && (root || (embedded && property.is_none())) {
                let expected = if key == "metadata" { "object" } else { "string" };
                if !type_matches(expected, item) {
                    self.type_error(&child_path(path, key), expected, item);
                }
            } else if let Some(property) = property {
                self.node(property, item, &child_path(path, key), depth + 1, false);
            } else if let Some(additional) = additional.filter(|additional| additional.is_object()) {
                self.node(additional, item, &key_path(path, key), depth + 1, false);
            } else if additional == Some(&Value::Bool(false)) && !flag(schema, PRESERVE_UNKNOWN) {
                let field = child_path(path, key);
                self.report(&field, FORBIDDEN, format!("Forbidden: {field} in body is a forbidden property"));
            }
        }
    }

    /// Checks `allOf` (all must pass), `anyOf` (at least one), `oneOf` (exactly one) and
    /// `not` (must fail). As on kube-apiserver, the combination's own failure is reported
    /// without a field (`<nil>`), naming the path in its message, followed by the failures of
    /// the closest alternative.
    fn check_combinators(&mut self, schema: &Value, value: &Value, path: &str, depth: usize) {
        let members = |key: &str| schema.get(key).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
        let all = members("allOf");
        let before = self.causes.len();
        for member in all {
            self.node(member, value, path, depth + 1, false);
        }
        if self.causes.len() > before {
            let none = all.iter().all(|member| !probe(member, value, path, depth).causes.is_empty());
            let suffix = if none { ". None validated" } else { "" };
            self.composite(format!("{path:?} must validate all the schemas (allOf){suffix}"));
        }
        let any = members("anyOf");
        if !any.is_empty() {
            let results: Vec<Validator> = any.iter().map(|member| probe(member, value, path, depth)).collect();
            if results.iter().all(|result| !result.causes.is_empty()) {
                self.composite(format!("{path:?} must validate at least one schema (anyOf)"));
                self.causes.extend(closest(results));
            }
        }
        let one = members("oneOf");
        if !one.is_empty() {
            let results: Vec<Validator> = one.iter().map(|member| probe(member, value, path, depth)).collect();
            match results.iter().filter(|result| result.causes.is_empty()).count() {
                1 => {}
                0 => {
                    self.composite(format!("{path:?} must validate one and only one schema (oneOf). Found none valid"));
                    self.causes.extend(closest(results));
                }
                matched => self.composite(format!("{path:?} must validate one and only one schema (oneOf). Found {matched} valid alternatives")),
            }
        }
        if let Some(not) = sub_schema(schema, "not")
            && probe(not, value, path, depth).causes.is_empty()
        {
            self.composite(format!("{path:?} must not validate the schema (not)"));
        }
    }

    /// Records the failure of a combination: no field, an empty value, the message.
    fn composite(&mut self, message: String) {
        self.report(NO_FIELD, INVALID, format!("Invalid value: \"\": {message}"));
    }
}

/// The field of causes that kube-apiserver reports without a path.
pub const NO_FIELD: &str = "<nil>";

/// Validates `value` against the value-validation schema `member` on its own.
fn probe(member: &Value, value: &Value, path: &str, depth: usize) -> Validator {
    let mut probe = Validator::default();
    probe.node(member, value, path, depth + 1, false);
    probe
}

/// The failures of the failing alternative that came closest: the one that visited the most
/// schema nodes (the first of equals).
fn closest(results: Vec<Validator>) -> Vec<Cause> {
    let failing = results.into_iter().filter(|result| !result.causes.is_empty());
    failing.rev().max_by_key(|result| result.visited).map(|result| result.causes).unwrap_or_default()
}

/// Reasons of OpenAPI failures that keep kube-apiserver from running the CEL rules.
const BLOCKING: [&str; 5] = [NOT_SUPPORTED, REQUIRED, TOO_LONG, TOO_MANY, TYPE_INVALID];

/// Returns the cause kube-apiserver adds instead of running the CEL rules when one of
/// `causes` is blocking (a wrong type, a missing required field, an unsupported enum value,
/// a string, list or map too long); `None` when the rules are to be run.
pub fn blocks_rules(causes: &[Cause]) -> Option<Cause> {
    causes.iter().any(|cause| BLOCKING.contains(&cause.reason)).then(|| Cause {
        field: NO_FIELD.to_owned(),
        reason: INVALID,
        message:
            "Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation"
                .to_owned(),
    })
}

/// Checks a CRD version's schema as kube-apiserver does at CRD creation, for what this
/// server relies on: every `x-kubernetes-validations` rule and `messageExpression` compiles
/// (and only calls functions implemented here), and no `uniqueItems: true`. Returns
/// `(field, message)` pairs below `path` (the schema's field path in the CRD).
pub fn check_crd_schema(schema: &Value, path: &str) -> Vec<(String, String)> {
    let mut rules = Vec::new();
    cel::collect_rules(schema, path, 0, &mut rules);
    let mut failures = Vec::new();
    for (field, rule, message_expression) in rules {
        if let Err(error) = cel_env::compile(&rule) {
            failures.push((format!("{field}.rule"), format!("Invalid value: {rule:?}: {error}")));
        }
        if let Some(expression) = message_expression
            && let Err(error) = cel_env::compile(&expression)
        {
            failures.push((format!("{field}.messageExpression"), format!("Invalid value: {expression:?}: {error}")));
        }
    }
    unique_items(schema, path, 0, &mut failures);
    failures
}

/// The source of every `x-kubernetes-validations` rule in a schema.
pub fn rules(schema: &Value) -> Vec<String> {
    let mut rules = Vec::new();
    cel::collect_rules(schema, "", 0, &mut rules);
    rules.into_iter().map(|(_, rule, _)| rule).collect()
}

/// Reports every `uniqueItems: true` below `schema` (forbidden in structural schemas).
fn unique_items(schema: &Value, path: &str, depth: usize, failures: &mut Vec<(String, String)>) {
    if depth > MAX_DEPTH || !schema.is_object() {
        return;
    }
    if flag(schema, "uniqueItems") {
        let message = "Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic".to_owned();
        failures.push((format!("{path}.uniqueItems"), message));
    }
    for (name, property) in properties(schema).into_iter().flatten() {
        unique_items(property, &format!("{path}.properties[{name}]"), depth + 1, failures);
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(sub) = sub_schema(schema, key) {
            unique_items(sub, &format!("{path}.{key}"), depth + 1, failures);
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        for (index, member) in schema.get(key).and_then(Value::as_array).into_iter().flatten().enumerate() {
            unique_items(member, &format!("{path}.{key}[{index}]"), depth + 1, failures);
        }
    }
}

/// Returns the failure detail when `actual` breaks the bound `bound_key` of the schema; the
/// exclusive flag may be an OpenAPI 3.0 boolean or a 3.1-style numeric bound.
fn bound_violation(schema: &Value, actual: f64, bound_key: &str, exclusive_key: &str, lower: bool) -> Option<String> {
    let (bound, exclusive) = match (schema.get(bound_key).and_then(Value::as_f64), schema.get(exclusive_key)) {
        (Some(bound), exclusive) => (bound, exclusive.and_then(Value::as_bool).unwrap_or(false)),
        (None, Some(Value::Number(bound))) => (bound.as_f64()?, true),
        _ => return None,
    };
    let broken = match (lower, exclusive) {
        (true, false) => actual < bound,
        (true, true) => actual <= bound,
        (false, false) => actual > bound,
        (false, true) => actual >= bound,
    };
    let relation = if lower { "greater than" } else { "less than" };
    let or_equal = if exclusive { "" } else { " or equal to" };
    broken.then(|| format!("should be {relation}{or_equal} {}", go_float(bound)))
}

// ---- Defaulting ----

/// Applies defaults below one value; `root` marks the resource itself, whose
/// apiVersion/kind/metadata are left alone.
fn default_node(schema: &Value, value: &mut Value, depth: usize, root: bool) {
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        Value::Object(map) => default_object(schema, map, depth, root),
        Value::Array(items) => {
            if let Some(item_schema) = sub_schema(schema, "items") {
                for item in items.iter_mut() {
                    replace_null_with_default(item_schema, item);
                    default_node(item_schema, item, depth + 1, false);
                }
            }
        }
        _ => {}
    }
}

/// Fills absent (or non-nullable null) properties from their defaults, then recurses into
/// declared properties and `additionalProperties` values.
fn default_object(schema: &Value, map: &mut Map<String, Value>, depth: usize, root: bool) {
    let declared = properties(schema);
    for (name, property) in declared.into_iter().flatten() {
        if root && META_KEYS.contains(&name.as_str()) {
            continue;
        }
        if let Some(default) = property.get("default")
            && !map.contains_key(name)
        {
            map.insert(name.clone(), default.clone());
        }
        if let Some(child) = map.get_mut(name) {
            replace_null_with_default(property, child);
            default_node(property, child, depth + 1, false);
        }
    }
    if let Some(additional) = sub_schema(schema, "additionalProperties") {
        for (key, child) in map.iter_mut() {
            if !declared.is_some_and(|props| props.contains_key(key)) {
                replace_null_with_default(additional, child);
                default_node(additional, child, depth + 1, false);
            }
        }
    }
}

/// Replaces a null value by the schema's default when the schema is not nullable.
fn replace_null_with_default(schema: &Value, slot: &mut Value) {
    if slot.is_null()
        && !flag(schema, "nullable")
        && let Some(default) = schema.get("default")
    {
        *slot = default.clone();
    }
}

// ---- Pruning ----

/// Prunes unknown fields below one value; `root` marks the resource itself.
fn prune_node(schema: &Value, value: &mut Value, depth: usize, root: bool) {
    if depth > MAX_DEPTH {
        return;
    }
    match value {
        Value::Object(map) => prune_object(schema, map, depth, root),
        Value::Array(items) => {
            if let Some(item_schema) = sub_schema(schema, "items") {
                for item in items.iter_mut() {
                    prune_node(item_schema, item, depth + 1, false);
                }
            }
        }
        _ => {}
    }
}

/// Drops undeclared keys of an object (unless preserved) and prunes declared children.
/// An object under a schema of a scalar or array type is left for validation to reject.
fn prune_object(schema: &Value, map: &mut Map<String, Value>, depth: usize, root: bool) {
    if expected_type(schema).is_some_and(|expected| expected != "object") {
        return;
    }
    let declared = properties(schema);
    let additional = schema.get("additionalProperties");
    let keeps_envelope = root || flag(schema, EMBEDDED);
    let keep_all = flag(schema, PRESERVE_UNKNOWN) || additional.is_some_and(|a| a.is_object() || a == &Value::Bool(true));
    map.retain(|key, _| keep_all || declared.is_some_and(|props| props.contains_key(key)) || (keeps_envelope && META_KEYS.contains(&key.as_str())));
    for (key, child) in map.iter_mut() {
        if root && META_KEYS.contains(&key.as_str()) {
            continue;
        }
        if let Some(property) = declared.and_then(|props| props.get(key)) {
            prune_node(property, child, depth + 1, false);
        } else if let Some(additional) = sub_schema(schema, "additionalProperties") {
            prune_node(additional, child, depth + 1, false);
        }
    }
}

#[cfg(test)]
mod tests;
