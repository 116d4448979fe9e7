//! Patch types and a simplified server-side apply for the in-memory API server.
//!
//! * [`merge_patch`]: RFC 7386 JSON merge patch (`application/merge-patch+json`).
//! * [`json_patch`]: RFC 6902 JSON patch (`application/json-patch+json`), atomic.
//! * [`strategic_merge_patch`]: strategic merge patch for the built-in kinds the server serves,
//!   driven by a small table of list merge keys (see `list_strategy`) instead of OpenAPI.
//!   Directives (`$patch`, `$retainKeys`, `$setElementOrder/…`, `$deleteFromPrimitiveList/…`)
//!   are interpreted and never stored. Unknown `$…` keys are dropped.
//! * [`server_side_apply`] and [`record_update`]: field ownership in `metadata.managedFields`.
//!
//! # Simplifications of server-side apply
//!
//! The real algorithm (structured-merge-diff) works on typed schemas. This one:
//! * tracks leaf field paths of maps only; every list is atomic (one leaf), including lists that
//!   a strategic merge patch would merge by key; an empty map is a leaf;
//! * never tracks `apiVersion`, `kind`, `status` and the server-owned `metadata` fields;
//! * detects conflicts only on identical paths (not on a path and its ancestor);
//! * treats entries of the applying manager itself (any operation) as never conflicting;
//! * keeps one entry per (manager, operation) and ignores `subresource`;
//! * writes `status` from the applied configuration on create only, never on update.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// Why a patch or an apply was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatchError {
    /// The patch is malformed or cannot be applied to the object.
    Invalid(String),
    /// Server-side apply conflicts: (field path such as `.spec.replicas`, manager owning it).
    Conflict(Vec<(String /*field path*/, String /*manager*/)>),
}

impl std::fmt::Display for PatchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PatchError::Invalid(message) => f.write_str(message),
            PatchError::Conflict(conflicts) => {
                write!(f, "Apply failed with {} conflict(s):", conflicts.len())?;
                conflicts.iter().try_for_each(|(path, manager)| write!(f, " conflict with \"{manager}\": {path};"))
            }
        }
    }
}

impl std::error::Error for PatchError {}

/// RFC 7386 JSON merge patch (`application/merge-patch+json`).
pub fn merge_patch(target: &mut Value, patch: &Value) {
    ::json_patch::merge(target, patch);
}

/// RFC 6902 JSON patch (`application/json-patch+json`); `patch` must be an array of operations.
/// The target is left unchanged when any operation fails.
pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    if !patch.is_array() {
        return Err(PatchError::Invalid("a JSON patch must be an array of operations".into()));
    }
    let operations: ::json_patch::Patch = serde_json::from_value(patch.clone()).map_err(|error| PatchError::Invalid(format!("invalid JSON patch: {error}")))?;
    let mut working = target.clone();
    ::json_patch::patch(&mut working, &operations).map_err(|error| PatchError::Invalid(format!("JSON patch failed: {error}")))?;
    *target = working;
    Ok(())
}

/// Strategic merge patch (`application/strategic-merge-patch+json`) for the built-in kinds the
/// server serves. `kind` is the object's kind (e.g. "Service").
/// The target is left unchanged when the patch is invalid.
pub fn strategic_merge_patch(kind: &str, target: &mut Value, patch: &Value) -> Result<(), PatchError> {
    let Value::Object(patch_map) = patch else {
        return Err(PatchError::Invalid("a strategic merge patch must be a JSON object".into()));
    };
    let mut working = target.clone();
    let Value::Object(working_map) = &mut working else {
        return Err(PatchError::Invalid("the patched object is not a JSON object".into()));
    };
    Strategic { kind }.merge_map(&mut Vec::new(), working_map, patch_map)?;
    *target = working;
    Ok(())
}

/// How a strategic merge patch combines a live list with a patch list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListStrategy {
    /// The patch list replaces the live list.
    Replace,
    /// Union of primitive values, live order first, no duplicates.
    MergePrimitives,
    /// Element-wise merge of maps identified by this key.
    MergeByKey(&'static str),
}

/// A JSON map, as stored in objects and patches.
type Object = Map<String, Value>;
/// The result of a step that edits in place.
type Outcome = Result<(), PatchError>;

/// The path of the pod spec inside objects of `kind`, or an empty slice.
fn pod_spec_prefix(kind: &str) -> &'static [&'static str] {
    match kind {
        "Pod" => &["spec"],
        "PodTemplate" => &["template", "spec"],
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "ReplicationController" | "Job" => &["spec", "template", "spec"],
        "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
        _ => &[],
    }
}

/// The merge strategy of the list at `path` (map keys from the object root) in a `kind`.
fn list_strategy(kind: &str, path: &[String]) -> ListStrategy {
    use ListStrategy::{MergeByKey, MergePrimitives, Replace};
    let path: Vec<&str> = path.iter().map(String::as_str).collect();
    match (kind, path.as_slice()) {
        (_, ["metadata", "ownerReferences"]) => return MergeByKey("uid"),
        (_, ["metadata", "finalizers"]) | ("Namespace", ["spec", "finalizers"]) => return MergePrimitives,
        (_, ["status", "conditions"]) => return MergeByKey("type"),
        ("Service", ["spec", "ports"]) => return MergeByKey("port"),
        _ => {}
    }
    let prefix = pod_spec_prefix(kind);
    if prefix.is_empty() || !path.starts_with(prefix) {
        return Replace;
    }
    match &path[prefix.len()..] {
        ["containers" | "initContainers" | "ephemeralContainers"] | ["volumes" | "imagePullSecrets"] => MergeByKey("name"),
        ["containers" | "initContainers" | "ephemeralContainers", field] => match *field {
            "ports" => MergeByKey("containerPort"),
            "env" => MergeByKey("name"),
            "volumeMounts" => MergeByKey("mountPath"),
            _ => Replace,
        },
        _ => Replace,
    }
}

/// The dotted form of a field path, as in `.spec.replicas`.
fn dotted(path: &[String]) -> String {
    path.iter().map(|segment| format!(".{segment}")).collect()
}

/// An `Invalid` error about the field at `path`.
fn invalid(path: &[String], problem: &str) -> PatchError {
    PatchError::Invalid(format!("strategic merge patch at '{}': {problem}", dotted(path)))
}

/// The `$patch` directive of a patch element, if it is a map carrying one.
fn patch_directive(item: &Value) -> Option<&str> {
    item.get("$patch").and_then(Value::as_str)
}

/// True for a map made of directive keys only (such as `{"$patch": "replace"}`).
fn is_directive_only(item: &Value) -> bool {
    item.as_object().is_some_and(|map| map.keys().all(|key| key.starts_with('$')))
}

/// A strategic merge of patches into objects of one kind.
struct Strategic<'k> {
    kind: &'k str,
}

impl Strategic<'_> {
    /// Merge a patch map into a live map at `path`, interpreting directives.
    fn merge_map(&self, path: &mut Vec<String>, target: &mut Object, patch: &Object) -> Outcome {
        match patch.get("$patch").map(|directive| (directive, directive.as_str())) {
            None | Some((_, Some("merge"))) => {}
            Some((_, Some("replace"))) => target.clear(),
            Some((other, _)) => return Err(invalid(path, &format!("unsupported $patch directive {other}"))),
        }
        delete_from_primitive_lists(path, target, patch)?;
        for (key, value) in patch.iter().filter(|(key, _)| !key.starts_with('$')) {
            path.push(key.clone());
            let result = self.merge_field(path, target, key, value);
            path.pop();
            result?;
        }
        self.set_element_orders(path, target, patch);
        retain_keys(path, target, patch)
    }

    /// Merge one patch field into `target` (`path` ends with `key`).
    fn merge_field(&self, path: &mut Vec<String>, target: &mut Object, key: &str, value: &Value) -> Outcome {
        match (value, target.get_mut(key)) {
            (Value::Null, _) => {
                target.remove(key);
            }
            (Value::Object(_), _) if patch_directive(value) == Some("delete") => {
                target.remove(key);
            }
            (Value::Object(patch_map), Some(Value::Object(live_map))) => self.merge_map(path, live_map, patch_map)?,
            (Value::Array(items), Some(Value::Array(live_items))) => self.merge_list(path, live_items, items)?,
            _ => {
                let fresh = self.materialize(path, value)?;
                target.insert(key.to_string(), fresh);
            }
        }
        Ok(())
    }

    /// A patch value merged into nothing: directives interpreted, nulls dropped.
    fn materialize(&self, path: &mut Vec<String>, value: &Value) -> Result<Value, PatchError> {
        match value {
            Value::Object(patch_map) => {
                let mut fresh = Object::new();
                self.merge_map(path, &mut fresh, patch_map)?;
                Ok(Value::Object(fresh))
            }
            Value::Array(items) => {
                let mut fresh = Vec::new();
                self.merge_list(path, &mut fresh, items)?;
                Ok(Value::Array(fresh))
            }
            other => Ok(other.clone()),
        }
    }

    /// Merge a patch list into the live list at `path` according to its strategy.
    fn merge_list(&self, path: &mut Vec<String>, live: &mut Vec<Value>, patch: &[Value]) -> Outcome {
        let strategy = list_strategy(self.kind, path);
        if strategy == ListStrategy::Replace || patch.iter().any(|item| patch_directive(item) == Some("replace")) {
            live.clear();
        }
        for item in patch.iter().filter(|item| !is_directive_only(item)) {
            match strategy {
                ListStrategy::Replace => live.push(self.materialize(path, item)?),
                ListStrategy::MergePrimitives if live.contains(item) => {}
                ListStrategy::MergePrimitives => live.push(item.clone()),
                ListStrategy::MergeByKey(key) => self.merge_keyed_element(path, live, item, key)?,
            }
        }
        Ok(())
    }

    /// Merge one patch element into a list of maps identified by `key`.
    fn merge_keyed_element(&self, path: &mut Vec<String>, live: &mut Vec<Value>, item: &Value, key: &str) -> Outcome {
        let (Value::Object(patch_map), Some(identity)) = (item, item.get(key).filter(|id| !id.is_null())) else {
            return Err(invalid(path, &format!("list element without its merge key '{key}'")));
        };
        if patch_directive(item) == Some("delete") {
            live.retain(|element| element.get(key) != Some(identity));
            return Ok(());
        }
        match live.iter_mut().find(|element| element.get(key) == Some(identity)) {
            Some(Value::Object(live_map)) => self.merge_map(path, live_map, patch_map)?,
            Some(other) => *other = self.materialize(path, item)?,
            None => live.push(self.materialize(path, item)?),
        }
        Ok(())
    }

    /// Apply `$setElementOrder/<field>: [..]` directives: listed elements first, in that order,
    /// then the others in their current order. Malformed orders are ignored.
    fn set_element_orders(&self, path: &mut Vec<String>, target: &mut Object, patch: &Object) {
        for (key, value) in patch {
            let Some(field) = key.strip_prefix("$setElementOrder/") else { continue };
            let (Value::Array(order), Some(Value::Array(items))) = (value, target.get_mut(field)) else { continue };
            path.push(field.to_string());
            let strategy = list_strategy(self.kind, path);
            path.pop();
            let identity = |element: &Value| match strategy {
                ListStrategy::MergeByKey(merge_key) => element.get(merge_key).cloned(),
                ListStrategy::MergePrimitives => Some(element.clone()),
                ListStrategy::Replace => None,
            };
            let wanted: Vec<Value> = order.iter().filter_map(identity).collect();
            if wanted.len() != order.len() {
                continue;
            }
            let mut remaining: Vec<Option<Value>> = items.drain(..).map(Some).collect();
            for id in &wanted {
                let slot = remaining.iter_mut().find(|slot| slot.as_ref().and_then(identity).as_ref() == Some(id));
                items.extend(slot.and_then(Option::take));
            }
            items.extend(remaining.into_iter().flatten());
        }
    }
}

/// Apply `$deleteFromPrimitiveList/<field>: [..]` directives of `patch` to `target`.
fn delete_from_primitive_lists(path: &[String], target: &mut Object, patch: &Object) -> Outcome {
    for (key, value) in patch {
        let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") else { continue };
        let Value::Array(doomed) = value else { return Err(invalid(path, &format!("{key} must be a list"))) };
        if let Some(Value::Array(items)) = target.get_mut(field) {
            items.retain(|item| !doomed.contains(item));
        }
    }
    Ok(())
}

/// Apply a `$retainKeys: [..]` directive: keep only the listed keys of `target`.
fn retain_keys(path: &[String], target: &mut Object, patch: &Object) -> Outcome {
    let Some(value) = patch.get("$retainKeys") else { return Ok(()) };
    let keys: Option<Vec<&str>> = value.as_array().and_then(|list| list.iter().map(Value::as_str).collect());
    let Some(keys) = keys else { return Err(invalid(path, "$retainKeys must be a list of strings")) };
    target.retain(|key, _| keys.contains(&key.as_str()));
    Ok(())
}

/// A field path: map keys from the object root.
type FieldPath = Vec<String>;
/// A set of leaf field paths owned by one managedFields entry.
type FieldSet = BTreeSet<FieldPath>;

/// `metadata` fields set by the server, never owned by a manager.
#[rustfmt::skip]
const UNTRACKED_METADATA: [&str; 10] = ["name", "namespace", "uid", "resourceVersion", "generation", "selfLink",
    "creationTimestamp", "managedFields", "deletionTimestamp", "deletionGracePeriodSeconds"];

/// True for fields that managedFields never records.
fn is_untracked(path: &[String]) -> bool {
    match path.first().map(String::as_str) {
        Some("apiVersion" | "kind" | "status") => true,
        Some("metadata") => path.get(1).is_some_and(|key| UNTRACKED_METADATA.contains(&key.as_str())),
        _ => false,
    }
}

/// Collect the tracked leaf paths under `value` (lists and empty maps are leaves; nulls skipped).
fn collect_leaves(value: &Value, path: &mut FieldPath, out: &mut FieldSet) {
    match value {
        Value::Null => {}
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                path.push(key.clone());
                if !is_untracked(path) {
                    collect_leaves(child, path, out);
                }
                path.pop();
            }
        }
        _ => {
            if !path.is_empty() && path.as_slice() != ["metadata"] {
                out.insert(path.clone());
            }
        }
    }
}

/// The tracked leaf paths of an object.
fn leaf_paths(object: &Value) -> FieldSet {
    let mut out = FieldSet::new();
    collect_leaves(object, &mut Vec::new(), &mut out);
    out
}

/// The value at `path`, if every step exists.
fn get_path<'v>(value: &'v Value, path: &[String]) -> Option<&'v Value> {
    path.iter().try_fold(value, |node, key| node.get(key))
}

/// Set `value` at `path`, creating (or replacing non-map values by) maps on the way.
fn set_path(target: &mut Value, path: &[String], value: Value) {
    let Some((first, rest)) = path.split_first() else { return };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(map) = target else { return };
    if rest.is_empty() {
        map.insert(first.clone(), value);
    } else {
        set_path(map.entry(first.clone()).or_insert(Value::Null), rest, value);
    }
}

/// Remove the field at `path`, then maps left empty below the top level.
fn remove_path(target: &mut Value, path: &[String], depth: usize) {
    let Some((first, rest)) = path.split_first() else { return };
    let Some(map) = target.as_object_mut() else { return };
    if rest.is_empty() {
        map.remove(first);
        return;
    }
    if let Some(child) = map.get_mut(first) {
        remove_path(child, rest, depth + 1);
        if depth > 0 && child.as_object().is_some_and(Map::is_empty) {
            map.remove(first);
        }
    }
}

/// True when one path is a prefix of (or equal to) the other.
fn overlaps(left: &[String], right: &[String]) -> bool {
    left.starts_with(right) || right.starts_with(left)
}

/// Read a FieldsV1 tree into leaf paths; list item keys (`k:`, `v:`, `i:`) make the list a leaf.
fn fields_to_paths(fields: &Value, path: &mut FieldPath, out: &mut FieldSet) {
    let Some(map) = fields.as_object() else { return };
    if map.is_empty() && !path.is_empty() {
        out.insert(path.clone());
    }
    for (key, child) in map {
        if let Some(name) = key.strip_prefix("f:") {
            path.push(name.to_string());
            fields_to_paths(child, path, out);
            path.pop();
        } else if !path.is_empty() {
            out.insert(path.clone());
        }
    }
}

/// Write leaf paths as a FieldsV1 tree (`"."` marks a leaf that also has children).
fn paths_to_fields(paths: &FieldSet) -> Value {
    let mut root = Value::Object(Map::new());
    for path in paths {
        let keys: Vec<String> = path.iter().map(|key| format!("f:{key}")).collect();
        if get_path(&root, &keys).is_none() {
            set_path(&mut root, &keys, Value::Object(Map::new()));
        }
    }
    for path in paths {
        let keys: Vec<String> = path.iter().map(|key| format!("f:{key}")).collect();
        if get_path(&root, &keys).and_then(Value::as_object).is_some_and(|node| !node.is_empty()) {
            let mut marker = keys;
            marker.push(".".to_string());
            set_path(&mut root, &marker, Value::Object(Map::new()));
        }
    }
    root
}

/// One `metadata.managedFields` entry being edited.
struct ManagedEntry {
    manager: String,
    operation: String,
    /// The entry as stored, to keep fields this module does not manage.
    raw: Object,
    fields: FieldSet,
    /// Whether this write changed the entry (its time and apiVersion are then refreshed).
    touched: bool,
}

impl ManagedEntry {
    /// Parse a stored entry, dropping untracked paths.
    fn parse(raw: &Object) -> Self {
        let text = |key: &str| raw.get(key).and_then(Value::as_str).unwrap_or_default().to_string();
        let mut fields = FieldSet::new();
        fields_to_paths(raw.get("fieldsV1").unwrap_or(&Value::Null), &mut Vec::new(), &mut fields);
        fields.retain(|path| !is_untracked(path));
        ManagedEntry { manager: text("manager"), operation: text("operation"), raw: raw.clone(), fields, touched: false }
    }

    /// True for the entry of (manager, operation).
    fn is(&self, manager: &str, operation: &str) -> bool {
        self.manager == manager && self.operation == operation
    }

    /// The stored form of the entry; `now` and `api_version` are written only if it was touched.
    fn render(self, now: &str, api_version: Option<&Value>) -> Value {
        let mut raw = self.raw;
        raw.insert("manager".into(), Value::String(self.manager));
        raw.insert("operation".into(), Value::String(self.operation));
        if self.touched {
            raw.extend(api_version.map(|version| ("apiVersion".to_string(), version.clone())));
            raw.insert("time".into(), Value::String(now.to_string()));
        }
        raw.insert("fieldsType".into(), Value::String("FieldsV1".into()));
        raw.insert("fieldsV1".into(), paths_to_fields(&self.fields));
        Value::Object(raw)
    }
}

/// Parse `metadata.managedFields` of an object.
fn read_entries(object: &Value) -> Vec<ManagedEntry> {
    let stored = object.pointer("/metadata/managedFields").and_then(Value::as_array);
    stored.into_iter().flatten().filter_map(Value::as_object).map(ManagedEntry::parse).collect()
}

/// The entry for (manager, operation), created empty if missing.
fn entry_for<'e>(entries: &'e mut Vec<ManagedEntry>, manager: &str, operation: &str) -> &'e mut ManagedEntry {
    if let Some(index) = entries.iter().position(|entry| entry.is(manager, operation)) {
        return &mut entries[index];
    }
    let (manager, operation, raw, fields) = (manager.to_string(), operation.to_string(), Object::new(), FieldSet::new());
    entries.push(ManagedEntry { manager, operation, raw, fields, touched: true });
    let last = entries.len() - 1;
    &mut entries[last]
}

/// Store entries as `metadata.managedFields`, dropping empty ones (and the key when none remain).
fn write_entries(object: &mut Value, entries: Vec<ManagedEntry>, now: &str) {
    let api_version = object.get("apiVersion").cloned();
    let kept = entries.into_iter().filter(|entry| !entry.fields.is_empty());
    let stored: Vec<Value> = kept.map(|entry| entry.render(now, api_version.as_ref())).collect();
    let location = ["metadata".to_string(), "managedFields".to_string()];
    if stored.is_empty() {
        remove_path(object, &location, 0);
    } else {
        set_path(object, &location, Value::Array(stored));
    }
}

/// Server-side apply (`application/apply-patch+yaml`, body already parsed to JSON).
/// `live` is the current object (None: it will be created), `applied` the applied configuration,
/// `manager` the fieldManager, `force` the `force=true` query flag, `now` an RFC 3339 time for
/// managedFields entries. Returns the new object, including its updated `metadata.managedFields`.
pub fn server_side_apply(live: Option<&Value>, applied: &Value, manager: &str, force: bool, now: &str) -> Result<Value, PatchError> {
    if !applied.is_object() {
        return Err(PatchError::Invalid("an applied configuration must be a JSON object".into()));
    }
    let applied_paths = leaf_paths(applied);
    let (mut result, mut entries) = match live {
        None => (applied.clone(), Vec::new()),
        Some(live) => {
            let contested = applied_paths.iter().filter(|path| get_path(live, path) != get_path(applied, path));
            let mut entries = read_entries(live);
            take_contested_fields(&mut entries, &contested.cloned().collect(), manager, force)?;
            let mut result = live.clone();
            remove_abandoned_fields(&mut result, &applied_paths, &entries, manager);
            set_applied_values(&mut result, applied, &applied_paths);
            (result, entries)
        }
    };
    for entry in entries.iter_mut().filter(|entry| entry.manager == manager) {
        entry.fields.retain(|path| !applied_paths.contains(path));
    }
    let own = entry_for(&mut entries, manager, "Apply");
    own.fields = applied_paths;
    own.touched = true;
    write_entries(&mut result, entries, now);
    Ok(result)
}

/// Conflicts are `contested` paths (applied with a value different from the live one) owned by
/// other managers: fail unless `force`, in which case those paths are taken from their owners.
fn take_contested_fields(entries: &mut [ManagedEntry], contested: &FieldSet, manager: &str, force: bool) -> Outcome {
    let others = || entries.iter().filter(|entry| entry.manager != manager);
    let mut conflicts: Vec<(String, String)> =
        others().flat_map(|entry| entry.fields.intersection(contested).map(|path| (dotted(path), entry.manager.clone()))).collect();
    if !conflicts.is_empty() && !force {
        conflicts.sort();
        conflicts.dedup();
        return Err(PatchError::Conflict(conflicts));
    }
    for entry in entries.iter_mut().filter(|entry| entry.manager != manager) {
        entry.fields.retain(|path| !contested.contains(path));
    }
    Ok(())
}

/// Set every applied leaf value into the object.
fn set_applied_values(object: &mut Value, applied: &Value, applied_paths: &FieldSet) {
    for path in applied_paths {
        let Some(value) = get_path(applied, path) else { continue };
        // An applied empty map owns the map but does not clear what others put in it.
        let live_map = get_path(object, path).is_some_and(Value::is_object);
        if !(live_map && value.as_object().is_some_and(Map::is_empty)) {
            set_path(object, path, value.clone());
        }
    }
}

/// Remove fields the manager applied before, no longer applies, and nobody else owns.
fn remove_abandoned_fields(object: &mut Value, applied_paths: &FieldSet, entries: &[ManagedEntry], manager: &str) {
    let Some(own) = entries.iter().find(|entry| entry.is(manager, "Apply")) else { return };
    let others: Vec<&ManagedEntry> = entries.iter().filter(|entry| !entry.is(manager, "Apply")).collect();
    for path in own.fields.difference(applied_paths) {
        let owned_elsewhere = others.iter().any(|entry| entry.fields.iter().any(|other| overlaps(other, path)));
        if !owned_elsewhere {
            remove_path(object, path, 0);
        }
    }
}

/// Record an ordinary write (create/update/patch) in managedFields: the fields whose values the
/// write set or changed become owned by `manager` with operation "Update" (and are removed from
/// other managers' sets). Call after the write is applied; `before` is None for a create.
///
/// The entries come from `after` when it carries a non-empty `managedFields`, else from
/// `before`. Paths that no longer exist in `after` are dropped from every entry.
pub fn record_update(before: Option<&Value>, after: &mut Value, manager: &str, now: &str) {
    let carried = after.pointer("/metadata/managedFields").and_then(Value::as_array).is_some_and(|list| !list.is_empty());
    let mut entries = match (carried, before) {
        (false, Some(before)) => read_entries(before),
        _ => read_entries(after),
    };
    let changed: FieldSet = leaf_paths(after).into_iter().filter(|path| before.is_none_or(|before| get_path(before, path) != get_path(after, path))).collect();
    for entry in entries.iter_mut() {
        entry.fields.retain(|path| get_path(after, path).is_some());
        if !entry.is(manager, "Update") {
            entry.fields.retain(|path| !changed.contains(path));
        }
    }
    if !changed.is_empty() {
        let own = entry_for(&mut entries, manager, "Update");
        own.fields.extend(changed);
        own.touched = true;
    }
    write_entries(after, entries, now);
}

#[cfg(test)]
mod tests;
