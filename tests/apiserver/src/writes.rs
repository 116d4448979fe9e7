//! Writes: create, replace, patch, delete, with the semantics controllers rely on:
//! optimistic concurrency, the status subresource, generation, finalizers, namespace deletion,
//! ownerReference garbage collection, CRD schema validation, and CRDs that start serving kinds.

use serde_json::{Value, json};

use crate::error::ApiError;
use crate::patch::{self, PatchError};
use crate::resources::ResourceType;
use crate::store::Store;
use crate::time::now_rfc3339;

#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    pub field_manager: Option<String>,
    pub dry_run: bool,
    pub force: bool,
}

impl WriteOptions {
    fn manager(&self) -> &str {
        self.field_manager.as_deref().unwrap_or("unknown")
    }
}

/// Which part of an object a write may change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// The main resource: `.status` is kept as it was when the kind has a status subresource.
    Main,
    /// The `/status` subresource: only `.status` changes.
    Status,
}

fn name_of(object: &Value) -> String {
    object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string()
}

fn is_dns_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.')
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
}

/// `metadata.name` as kube-apiserver validates it: a DNS subdomain, or a path segment for RBAC
/// kinds (`system:basic-user`).
fn validate_name(rt: &ResourceType, name: &str) -> Result<(), ApiError> {
    if rt.group == "rbac.authorization.k8s.io" {
        // RBAC names are path segments (`system:basic-user`), as kube-apiserver validates them.
        return match name {
            "." | ".." => Err(ApiError::invalid(
                &rt.kind,
                name,
                vec![("metadata.name".into(), "FieldValueInvalid".into(), format!("Invalid value: {name:?}: may not be '{name}'"))],
            )),
            _ if name.contains('/') || name.contains('%') => {
                let message = format!("Invalid value: {name:?}: may not contain '{}'", if name.contains('/') { '/' } else { '%' });
                Err(ApiError::invalid(&rt.kind, name, vec![("metadata.name".into(), "FieldValueInvalid".into(), message)]))
            }
            _ => Ok(()),
        };
    }
    if !is_dns_subdomain(name) {
        let message = format!("Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'");
        return Err(ApiError::invalid(&rt.kind, name, vec![("metadata.name".into(), "FieldValueInvalid".into(), message)]));
    }
    Ok(())
}

impl Store {
    pub fn create(&mut self, rt: &ResourceType, namespace: &str, mut object: Value, opts: &WriteOptions) -> Result<Value, ApiError> {
        if !object.is_object() {
            return Err(ApiError::bad_request("the body must be a JSON object"));
        }
        check_type_meta(rt, &object)?;
        if name_of(&object).is_empty() {
            let prefix = object.pointer("/metadata/generateName").and_then(Value::as_str).unwrap_or("").to_string();
            if prefix.is_empty() {
                return Err(ApiError::invalid(
                    &rt.kind,
                    "",
                    vec![("metadata.name".into(), "FieldValueRequired".into(), "Required value: name or generateName is required".into())],
                ));
            }
            let suffix: String = uuid::Uuid::new_v4().simple().to_string().chars().filter(char::is_ascii_alphanumeric).take(5).collect();
            object["metadata"]["name"] = json!(format!("{prefix}{suffix}"));
        }
        let name = name_of(&object);
        self.check_namespace(rt, namespace, &name, &mut object)?;
        if self.get_opt(rt, namespace, &name).is_some() {
            return Err(ApiError::already_exists(&rt.display(), &name));
        }
        if rt.status_subresource
            && !rt.builtin
            && let Some(map) = object.as_object_mut()
        {
            map.remove("status");
        }
        self.validate(rt, &mut object, None)?;
        let now = now_rfc3339();
        let meta = &mut object["metadata"];
        meta["uid"] = json!(uuid::Uuid::new_v4().to_string());
        meta["creationTimestamp"] = json!(now);
        meta["generation"] = json!(1);
        for field in ["resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "managedFields"] {
            if let Some(m) = meta.as_object_mut() {
                m.remove(field);
            }
        }
        on_create_defaults(rt, &mut object);
        patch::record_update(None, &mut object, opts.manager(), &now);
        if opts.dry_run {
            return Ok(object);
        }
        let rv = self.next_rv();
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        if rt.kind == "CustomResourceDefinition" {
            self.register_crd(&mut object)?;
        }
        self.objects.entry(rt.key()).or_default().insert((namespace.to_string(), name), object.clone());
        self.emit(rt, "ADDED", &object);
        Ok(object)
    }

    fn check_namespace(&self, rt: &ResourceType, namespace: &str, name: &str, object: &mut Value) -> Result<(), ApiError> {
        if !rt.namespaced {
            if let Some(m) = object["metadata"].as_object_mut() {
                m.remove("namespace");
            }
        } else {
            let ns_type = self.types[&(String::new(), "namespaces".to_string())].clone();
            match self.get_opt(&ns_type, "", namespace) {
                None => return Err(ApiError::not_found("namespaces", namespace)),
                Some(ns) if ns.pointer("/metadata/deletionTimestamp").is_some() => return Err(ApiError::forbidden_terminating(namespace)),
                Some(_) => {}
            }
            let declared = object.pointer("/metadata/namespace").and_then(Value::as_str);
            if declared.is_some_and(|d| d != namespace) {
                return Err(ApiError::bad_request("the namespace of the provided object does not match the namespace sent on the request"));
            }
            object["metadata"]["namespace"] = json!(namespace);
        }
        validate_name(rt, name)
    }

    /// Defaults, pruning, schema validation and CEL rules for custom resources; `old` is the
    /// stored object on updates (for transition rules).
    fn validate(&self, rt: &ResourceType, object: &mut Value, old: Option<&Value>) -> Result<(), ApiError> {
        let version = object.get("apiVersion").and_then(Value::as_str).and_then(|v| v.rsplit('/').next()).unwrap_or("").to_string();
        let Some(schema) = rt.schemas.get(&version).or_else(|| rt.schemas.get(rt.storage_version())) else { return Ok(()) };
        crate::schema::prune(schema, object);
        crate::schema::apply_defaults(schema, object);
        let mut causes = crate::schema::validate(schema, object);
        match crate::schema::blocks_rules(&causes) {
            Some(blocked) => causes.push(blocked),
            None => causes.extend(crate::schema::validate_rules(schema, object, old)),
        }
        if causes.is_empty() {
            return Ok(());
        }
        let causes = causes.into_iter().map(|c| (c.field, c.reason.to_string(), c.message)).collect();
        let qualified = if rt.group.is_empty() { rt.kind.clone() } else { format!("{}.{}", rt.kind, rt.group) };
        Err(ApiError::invalid(&qualified, &name_of(object), causes))
    }

    /// Replace an object (PUT), on the main resource or the status subresource.
    pub fn replace(&mut self, rt: &ResourceType, namespace: &str, name: &str, body: Value, part: Part, opts: &WriteOptions) -> Result<Value, ApiError> {
        check_type_meta(rt, &body)?;
        if body.pointer("/metadata/name").and_then(Value::as_str).is_some_and(|n| n != name) {
            return Err(ApiError::bad_request("the name of the object does not match the name on the URL"));
        }
        let before = self.get(rt, namespace, name)?.clone();
        let wanted_rv = body.pointer("/metadata/resourceVersion").and_then(Value::as_str).unwrap_or("");
        if !wanted_rv.is_empty() && Some(wanted_rv) != before.pointer("/metadata/resourceVersion").and_then(Value::as_str) {
            return Err(ApiError::conflict(&rt.display(), name));
        }
        let after = merge_part(rt, &before, body, part);
        self.commit(rt, namespace, name, before, after, opts)
    }

    /// Patch an object (PATCH) with any of the four patch types.
    #[expect(clippy::too_many_arguments, reason = "one argument per part of the HTTP request, as the other verbs take them")]
    pub fn patch(
        &mut self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        content_type: &str,
        body: &[u8],
        part: Part,
        opts: &WriteOptions,
    ) -> Result<Value, ApiError> {
        let media = content_type.split(';').next().unwrap_or("").trim();
        if media == "application/apply-patch+yaml" || media == "application/apply-patch+cbor" {
            return self.apply(rt, namespace, name, body, part, opts);
        }
        let patch: Value = serde_json::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid patch body: {e}")))?;
        let before = self.get(rt, namespace, name)?.clone();
        let mut after = before.clone();
        let result = match media {
            "application/merge-patch+json" | "application/json" => {
                patch::merge_patch(&mut after, &patch);
                Ok(())
            }
            "application/json-patch+json" => patch::json_patch(&mut after, &patch),
            "application/strategic-merge-patch+json" if rt.builtin => patch::strategic_merge_patch(&rt.kind, &mut after, &patch),
            other => return Err(ApiError::unsupported_media_type(other)),
        };
        result.map_err(|e| patch_error(rt, name, e))?;
        let wanted_rv = patch.pointer("/metadata/resourceVersion").and_then(Value::as_str).unwrap_or("");
        if !wanted_rv.is_empty() && Some(wanted_rv) != before.pointer("/metadata/resourceVersion").and_then(Value::as_str) {
            return Err(ApiError::conflict(&rt.display(), name));
        }
        let after = merge_part(rt, &before, after, part);
        self.commit(rt, namespace, name, before, after, opts)
    }

    /// Server-side apply: creates the object when it does not exist.
    fn apply(&mut self, rt: &ResourceType, namespace: &str, name: &str, body: &[u8], part: Part, opts: &WriteOptions) -> Result<Value, ApiError> {
        let applied: Value = serde_yaml::from_slice(body).map_err(|e| ApiError::bad_request(format!("invalid apply configuration: {e}")))?;
        let Some(manager) = opts.field_manager.as_deref() else {
            return Err(ApiError::bad_request("PATCH with apply-patch requires the fieldManager parameter"));
        };
        let before = self.get_opt(rt, namespace, name).cloned();
        let now = now_rfc3339();
        let merged = patch::server_side_apply(before.as_ref(), &applied, manager, opts.force, &now).map_err(|e| patch_error(rt, name, e))?;
        match before {
            None => {
                let mut create = merged;
                create["metadata"]["name"] = json!(name);
                let managed = create.pointer("/metadata/managedFields").cloned();
                let mut created = self.create(rt, namespace, create, &WriteOptions { field_manager: Some(manager.to_string()), ..opts.clone() })?;
                if let Some(managed) = managed {
                    created["metadata"]["managedFields"] = managed.clone();
                    if let Some(stored) = self.objects.get_mut(&rt.key()).and_then(|m| m.get_mut(&(namespace.to_string(), name.to_string()))) {
                        stored["metadata"]["managedFields"] = managed;
                    }
                }
                Ok(created)
            }
            Some(before) => {
                let after = merge_part(rt, &before, merged, part);
                let opts = WriteOptions { field_manager: None, ..opts.clone() };
                self.commit_with(rt, namespace, name, before, after, &opts, false)
            }
        }
    }

    fn commit(&mut self, rt: &ResourceType, namespace: &str, name: &str, before: Value, after: Value, opts: &WriteOptions) -> Result<Value, ApiError> {
        self.commit_with(rt, namespace, name, before, after, opts, true)
    }

    /// Store `after` in place of `before`: keeps identity fields, bumps resourceVersion and
    /// generation, finishes a deletion whose last finalizer went away, emits the event.
    #[allow(clippy::too_many_arguments)]
    fn commit_with(
        &mut self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        before: Value,
        mut after: Value,
        opts: &WriteOptions,
        record: bool,
    ) -> Result<Value, ApiError> {
        if rt.kind == "Secret" {
            fold_string_data(&mut after);
        }
        for field in ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation", "resourceVersion", "namespace", "name"] {
            match before["metadata"].get(field) {
                Some(v) => after["metadata"][field] = v.clone(),
                None => {
                    if let Some(m) = after["metadata"].as_object_mut() {
                        m.remove(field);
                    }
                }
            }
        }
        after["apiVersion"] = before["apiVersion"].clone();
        after["kind"] = before["kind"].clone();
        self.validate(rt, &mut after, Some(&before))?;
        if record {
            patch::record_update(Some(&before), &mut after, opts.manager(), &now_rfc3339());
        }
        if without_volatile(&before) == without_volatile(&after) {
            return Ok(before);
        }
        if spec_of(&before) != spec_of(&after) {
            let generation = before.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(1);
            after["metadata"]["generation"] = json!(generation + 1);
        }
        if opts.dry_run {
            return Ok(after);
        }
        let rv = self.next_rv();
        after["metadata"]["resourceVersion"] = json!(rv.to_string());
        let finalizers_left = after.pointer("/metadata/finalizers").and_then(Value::as_array).is_some_and(|f| !f.is_empty());
        if after.pointer("/metadata/deletionTimestamp").is_some() && !finalizers_left {
            self.remove(rt, namespace, name, after.clone());
            return Ok(after);
        }
        if rt.kind == "CustomResourceDefinition" {
            self.register_crd(&mut after)?;
        }
        self.objects.entry(rt.key()).or_default().insert((namespace.to_string(), name.to_string()), after.clone());
        self.emit(rt, "MODIFIED", &after);
        Ok(after)
    }

    /// DELETE: objects with finalizers get a deletionTimestamp and stay until they are gone.
    pub fn delete(&mut self, rt: &ResourceType, namespace: &str, name: &str, opts: &WriteOptions) -> Result<Value, ApiError> {
        let object = self.get(rt, namespace, name)?.clone();
        if opts.dry_run {
            return Ok(object);
        }
        let finalizers = object.pointer("/metadata/finalizers").and_then(Value::as_array).is_some_and(|f| !f.is_empty());
        let namespace_with_content = rt.kind == "Namespace" && rt.group.is_empty();
        if finalizers || namespace_with_content {
            if object.pointer("/metadata/deletionTimestamp").is_some() {
                return Ok(object);
            }
            let mut marked = object.clone();
            marked["metadata"]["deletionTimestamp"] = json!(now_rfc3339());
            marked["metadata"]["deletionGracePeriodSeconds"] = json!(0);
            if namespace_with_content {
                marked["status"] = json!({"phase": "Terminating"});
                if let Some(spec) = marked.get_mut("spec").and_then(Value::as_object_mut) {
                    spec.remove("finalizers");
                }
                let rv = self.next_rv();
                marked["metadata"]["resourceVersion"] = json!(rv.to_string());
                self.objects.entry(rt.key()).or_default().insert((namespace.to_string(), name.to_string()), marked.clone());
                self.emit(rt, "MODIFIED", &marked);
                self.empty_namespace(name);
                return Ok(self.get_opt(rt, namespace, name).cloned().unwrap_or(marked));
            }
            let rv = self.next_rv();
            marked["metadata"]["resourceVersion"] = json!(rv.to_string());
            self.objects.entry(rt.key()).or_default().insert((namespace.to_string(), name.to_string()), marked.clone());
            self.emit(rt, "MODIFIED", &marked);
            return Ok(marked);
        }
        let rv = self.next_rv();
        let mut gone = object;
        gone["metadata"]["resourceVersion"] = json!(rv.to_string());
        self.remove(rt, namespace, name, gone.clone());
        Ok(gone)
    }

    /// Take an object out of the store and run what follows from it being gone.
    fn remove(&mut self, rt: &ResourceType, namespace: &str, name: &str, last: Value) {
        if let Some(m) = self.objects.get_mut(&rt.key()) {
            m.remove(&(namespace.to_string(), name.to_string()));
        }
        self.emit(rt, "DELETED", &last);
        if rt.kind == "CustomResourceDefinition" {
            self.unregister_crd(&last);
        }
        if rt.namespaced {
            self.finish_namespace_if_empty(namespace);
        }
        self.collect_garbage();
    }

    /// Delete everything in a terminating namespace (finalizers are respected).
    fn empty_namespace(&mut self, namespace: &str) {
        let types: Vec<ResourceType> = self.types.values().filter(|t| t.namespaced).cloned().collect();
        for rt in types {
            let names: Vec<String> =
                self.objects.get(&rt.key()).map(|m| m.keys().filter(|(ns, _)| ns == namespace).map(|(_, n)| n.clone()).collect()).unwrap_or_default();
            for name in names {
                let _ = self.delete(&rt, namespace, &name, &WriteOptions::default());
            }
        }
        self.finish_namespace_if_empty(namespace);
    }

    fn finish_namespace_if_empty(&mut self, namespace: &str) {
        let ns_type = self.types[&(String::new(), "namespaces".to_string())].clone();
        let terminating = self.get_opt(&ns_type, "", namespace).is_some_and(|ns| ns.pointer("/metadata/deletionTimestamp").is_some());
        let empty =
            self.objects.iter().all(|(key, objects)| !self.types.get(key).is_some_and(|t| t.namespaced) || !objects.keys().any(|(ns, _)| ns == namespace));
        if terminating && empty {
            let mut last = self.get_opt(&ns_type, "", namespace).cloned().unwrap_or_default();
            let rv = self.next_rv();
            last["metadata"]["resourceVersion"] = json!(rv.to_string());
            self.remove(&ns_type, "", namespace, last);
        }
    }

    /// Background garbage collection: delete objects whose every owner is gone.
    fn collect_garbage(&mut self) {
        let alive: std::collections::HashSet<String> =
            self.objects.values().flat_map(|m| m.values()).filter_map(|o| o.pointer("/metadata/uid").and_then(Value::as_str).map(str::to_string)).collect();
        let mut orphans = Vec::new();
        for (key, objects) in &self.objects {
            for ((ns, name), object) in objects {
                let owners = object.pointer("/metadata/ownerReferences").and_then(Value::as_array);
                let Some(owners) = owners.filter(|o| !o.is_empty()) else { continue };
                let all_gone = owners.iter().all(|o| o.get("uid").and_then(Value::as_str).is_none_or(|uid| !alive.contains(uid)));
                let deleting = object.pointer("/metadata/deletionTimestamp").is_some();
                if all_gone && !deleting {
                    orphans.push((key.clone(), ns.clone(), name.clone()));
                }
            }
        }
        for (key, ns, name) in orphans {
            if let Some(rt) = self.types.get(&key).cloned() {
                let _ = self.delete(&rt, &ns, &name, &WriteOptions::default());
            }
        }
    }

    /// A CRD write: serve (or update) the kind it declares, and report it Established.
    fn register_crd(&mut self, crd: &mut Value) -> Result<(), ApiError> {
        let rt = ResourceType::from_crd(crd)
            .map_err(|m| ApiError::invalid("CustomResourceDefinition", &name_of(crd), vec![("spec".into(), "FieldValueInvalid".into(), m)]))?;
        let versions = crd.pointer("/spec/versions").and_then(Value::as_array).cloned().unwrap_or_default();
        let mut failures: Vec<(String, String, String)> = versions
            .iter()
            .enumerate()
            .filter_map(|(index, version)| version.pointer("/schema/openAPIV3Schema").map(|schema| (index, schema)))
            .flat_map(|(index, schema)| crate::schema::check_crd_schema(schema, &format!("spec.versions[{index}].schema.openAPIV3Schema")))
            .map(|(field, message)| {
                let reason = if message.starts_with("Forbidden") { "FieldValueForbidden" } else { "FieldValueInvalid" };
                (field, reason.to_string(), message)
            })
            .collect();
        if let Some(missing) = protected_group_unapproved(crd, &rt.group) {
            failures.push(missing);
        }
        if !failures.is_empty() {
            return Err(ApiError::invalid("CustomResourceDefinition", &name_of(crd), failures));
        }
        let names = crd.pointer("/spec/names").cloned().unwrap_or(Value::Null);
        crd["status"] = json!({
            "acceptedNames": names,
            "storedVersions": [rt.storage_version()],
            "conditions": [
                {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found", "lastTransitionTime": now_rfc3339()},
                {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted", "lastTransitionTime": now_rfc3339()},
            ],
        });
        self.objects.entry(rt.key()).or_default();
        self.types.insert(rt.key(), rt);
        Ok(())
    }

    fn unregister_crd(&mut self, crd: &Value) {
        let Ok(rt) = ResourceType::from_crd(crd) else { return };
        let objects: Vec<Value> = self.objects.remove(&rt.key()).map(|m| m.into_values().collect()).unwrap_or_default();
        for mut object in objects {
            let rv = self.next_rv();
            object["metadata"]["resourceVersion"] = json!(rv.to_string());
            self.emit(&rt, "DELETED", &object);
        }
        self.types.remove(&rt.key());
    }
}

fn check_type_meta(rt: &ResourceType, object: &Value) -> Result<(), ApiError> {
    let kind = object.get("kind").and_then(Value::as_str).unwrap_or(&rt.kind);
    if kind != rt.kind {
        return Err(ApiError::bad_request(format!("the kind {kind} does not match the resource {}", rt.display())));
    }
    Ok(())
}

/// Status-subresource rules: a main-resource write keeps the old status; a status write keeps
/// everything but the status.
fn merge_part(rt: &ResourceType, before: &Value, mut after: Value, part: Part) -> Value {
    match part {
        Part::Main if rt.status_subresource => {
            match before.get("status") {
                Some(status) => after["status"] = status.clone(),
                None => {
                    if let Some(m) = after.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
            after
        }
        Part::Main => after,
        Part::Status => {
            let mut kept = before.clone();
            match after.get("status") {
                Some(status) => kept["status"] = status.clone(),
                None => {
                    if let Some(m) = kept.as_object_mut() {
                        m.remove("status");
                    }
                }
            }
            kept
        }
    }
}

/// The object without fields that change on every write, to detect no-op writes.
fn without_volatile(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(meta) = copy.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("resourceVersion");
        meta.remove("managedFields");
    }
    copy
}

/// Everything but metadata and status: a change here bumps `metadata.generation`.
fn spec_of(object: &Value) -> Value {
    let mut copy = object.clone();
    if let Some(map) = copy.as_object_mut() {
        map.remove("metadata");
        map.remove("status");
    }
    copy
}

fn on_create_defaults(rt: &ResourceType, object: &mut Value) {
    if rt.kind == "Namespace" && rt.group.is_empty() {
        object["status"] = json!({"phase": "Active"});
        let labels = &mut object["metadata"]["labels"];
        if !labels.is_object() {
            *labels = json!({});
        }
        let name = object["metadata"]["name"].clone();
        object["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
    }
    if rt.kind == "Secret" && object.get("type").is_none() {
        object["type"] = json!("Opaque");
    }
    if rt.kind == "Secret" {
        fold_string_data(object);
    }
}

/// `stringData` is write-only: it is encoded into `data`.
fn fold_string_data(object: &mut Value) {
    use base64::Engine as _;
    let Some(Value::Object(string_data)) = object.as_object_mut().and_then(|m| m.remove("stringData")) else { return };
    if !object.get("data").is_some_and(Value::is_object) {
        object["data"] = json!({});
    }
    for (key, value) in string_data {
        let encoded = base64::engine::general_purpose::STANDARD.encode(value.as_str().unwrap_or_default());
        object["data"][key] = json!(encoded);
    }
}

fn patch_error(rt: &ResourceType, name: &str, error: PatchError) -> ApiError {
    match error {
        PatchError::Invalid(message) => ApiError::invalid(&rt.kind, name, vec![(String::new(), "FieldValueInvalid".into(), message)]),
        PatchError::Conflict(conflicts) => ApiError::apply_conflict(&rt.display(), name, &conflicts),
    }
}

/// kube-apiserver refuses CRDs in the protected `*.k8s.io` / `*.kubernetes.io` groups without the
/// `api-approved.kubernetes.io` annotation (KEP 1111).
fn protected_group_unapproved(crd: &Value, group: &str) -> Option<(String, String, String)> {
    let protected = ["k8s.io", "kubernetes.io"].iter().any(|g| group == *g || group.ends_with(&format!(".{g}")));
    let annotated = crd.pointer("/metadata/annotations/api-approved.kubernetes.io").and_then(Value::as_str).is_some_and(|v| !v.is_empty());
    (protected && !annotated).then(|| {
        (
            "metadata.annotations[api-approved.kubernetes.io]".to_string(),
            "FieldValueRequired".to_string(),
            "Required value: protected groups must have approval annotation \"api-approved.kubernetes.io\", see https://github.com/kubernetes/enhancements/pull/1111".to_string(),
        )
    })
}
