//! Structural-schema handling for custom resources, modelled on kube-apiserver.
//!
//! Three entry points work on a CRD version's `schema.openAPIV3Schema` and a custom
//! resource as JSON: [`apply_defaults`] fills absent fields from `default`, [`prune`] drops
//! fields the schema does not declare, and [`validate`] reports every violation as a
//! [`Cause`] shaped like an entry of a Kubernetes Status `details.causes` list. The API
//! server runs them in the order prune, default, validate.
//!
//! Limitations, on purpose:
//! - `x-kubernetes-validations` (CEL rules) are ignored entirely.
//! - `pattern` uses the `regex` crate: look-around and back-references are not supported,
//!   and a pattern that fails to compile is skipped. `\d` and `\w` are Unicode-aware.
//! - `format` is checked only for `int32`, `int64`, `date-time` (RFC 3339) and, loosely,
//!   `hostname`; other formats are accepted as they are.
//! - Embedded resources (`x-kubernetes-embedded-resource`) only get `apiVersion`/`kind`
//!   (strings) and `metadata` (object) allowed; their metadata is not checked further.
//! - Nesting deeper than [`MAX_DEPTH`] levels is reported as invalid and not walked further.

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
            let mut parts: Vec<String> =
                map.iter().map(|(key, item)| format!("{}:{}", render(&Value::String(key.clone())), canonical(item))).collect();
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

// ---- Formats ----

/// Returns whether a string satisfies a supported string `format` (others always pass).
fn string_format_ok(format: &str, text: &str) -> bool {
    match format {
        "date-time" => is_date_time(text),
        "hostname" => is_hostname(text),
        _ => true,
    }
}

/// Returns whether a number satisfies a supported numeric `format` (others always pass).
fn number_format_ok(format: &str, number: &Number) -> bool {
    let integral = number.as_f64().filter(|float| float.fract() == 0.0);
    match format {
        "int32" => integral.is_some_and(|float| (-2_147_483_648.0..=2_147_483_647.0).contains(&float)),
        "int64" => {
            number.is_i64()
                || (!number.is_u64() && integral.is_some_and(|f| (-9.223_372_036_854_775e18..9.223_372_036_854_775e18).contains(&f)))
        }
        _ => true,
    }
}

/// Returns the number of days in `month` of `year` (Gregorian calendar).
fn days_in_month(year: u32, month: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Returns whether `text` is an RFC 3339 date-time such as `2024-05-01T12:00:00.5Z`
/// (a `+HHMM` offset without colon is also accepted, as Go's parser does).
fn is_date_time(text: &str) -> bool {
    const LAYOUT: &str =
        r"^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(\.[0-9]+)?([Zz]|[+-]([0-9]{2}):?([0-9]{2}))$";
    let Some(parts) = compiled_pattern(LAYOUT).and_then(|layout| layout.captures(text)) else {
        return false;
    };
    let field = |index: usize, default: u32| parts.get(index).map_or(Some(default), |m| m.as_str().parse::<u32>().ok());
    let numbers: Option<Vec<u32>> = [1, 2, 3, 4, 5, 6, 9, 10].iter().map(|index| field(*index, 0)).collect();
    let Some([year, month, day, hour, minute, second, zone_hour, zone_minute]) = numbers.as_deref() else {
        return false;
    };
    (1..=12).contains(month)
        && (1..=days_in_month(*year, *month)).contains(day)
        && *hour <= 23
        && *minute <= 59
        && *second <= 60
        && *zone_hour <= 23
        && *zone_minute <= 59
}

/// Returns whether `text` loosely looks like an RFC 1123 host name.
fn is_hostname(text: &str) -> bool {
    let trimmed = text.strip_suffix('.').unwrap_or(text);
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    !trimmed.is_empty() && trimmed.len() <= 253 && trimmed.split('.').all(label_ok)
}

// ---- Validation ----

/// Walks an object alongside its schema and collects causes.
#[derive(Default)]
struct Validator {
    causes: Vec<Cause>,
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
            self.report(path, TOO_LONG, format!("Too long: may not be longer than {max}"));
        }
        if let Some(pattern) = schema.get("pattern").and_then(Value::as_str)
            && let Some(regex) = compiled_pattern(pattern)
            && !regex.is_match(text)
        {
            self.invalid(path, value, &format!("should match '{pattern}'"));
        }
        if let Some(format) = schema.get("format").and_then(Value::as_str)
            && !string_format_ok(format, text)
        {
            self.invalid(path, value, &format!("must be of type {format}: {}", render(value)));
        }
    }

    /// Checks `minimum`/`maximum` (with boolean or numeric exclusive bounds), `multipleOf`
    /// and the integer formats.
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
                self.invalid(path, value, &format!("should be a multiple of {}", render(&Value::from(factor))));
            }
        }
        if let Some(format) = schema.get("format").and_then(Value::as_str)
            && !number_format_ok(format, number)
        {
            self.invalid(path, value, &format!("must be of type {format}: \"{}\"", render(value)));
        }
    }

    /// Checks `minItems`, `maxItems`, `items` and `x-kubernetes-list-type`.
    fn check_array(&mut self, schema: &Value, value: &Value, items: &[Value], path: &str, depth: usize) {
        let length = items.len() as u64;
        if let Some(min) = count(schema, "minItems").filter(|min| length < *min) {
            self.invalid(path, value, &format!("should have at least {min} items"));
        }
        if let Some(max) = count(schema, "maxItems").filter(|max| length > *max) {
            self.report(path, TOO_MANY, format!("Too many: {length}: must have at most {max} items"));
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
                map_keys
                    .iter()
                    .map(|key| ((*key).to_owned(), object.get(*key).cloned().unwrap_or(Value::Null)))
                    .collect::<Map<_, _>>()
                    .into()
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
            self.report(path, TOO_MANY, format!("Too many: {length}: must have at most {max} items"));
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

    /// Checks `allOf` (all must pass), `anyOf` (at least one) and `oneOf` (exactly one).
    fn check_combinators(&mut self, schema: &Value, value: &Value, path: &str, depth: usize) {
        let members = |key: &str| schema.get(key).and_then(Value::as_array).map(Vec::as_slice);
        for member in members("allOf").unwrap_or_default() {
            self.node(member, value, path, depth + 1, false);
        }
        if let Some(any) = members("anyOf")
            && !any.is_empty()
            && !any.iter().any(|member| passes(member, value, path, depth))
        {
            self.invalid(path, value, "must validate at least one schema (anyOf)");
        }
        if let Some(one) = members("oneOf").filter(|one| !one.is_empty()) {
            let matched = one.iter().filter(|member| passes(member, value, path, depth)).count();
            if matched == 0 {
                self.invalid(path, value, "must validate one and only one schema (oneOf)");
            } else if matched > 1 {
                self.invalid(path, value, &format!("must validate one and only one schema (oneOf). Found {matched} valid alternatives"));
            }
        }
    }
}

/// Returns whether `value` validates against the value-validation schema `member`.
fn passes(member: &Value, value: &Value, path: &str, depth: usize) -> bool {
    let mut probe = Validator::default();
    probe.node(member, value, path, depth + 1, false);
    probe.causes.is_empty()
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
    broken.then(|| format!("should be {relation}{or_equal} {}", render(&Value::from(bound))))
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
    map.retain(|key, _| {
        keep_all || declared.is_some_and(|props| props.contains_key(key)) || (keeps_envelope && META_KEYS.contains(&key.as_str()))
    });
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
