//! Golden cases: every `testdata/<case>.in.yaml` is loaded and translated exactly as
//! `portico plan` does (HAProxy, AWS and GCP registered, their pure parts only), and the
//! statuses and IR are compared with `tests/snapshots/`. Inputs that cannot be loaded snapshot
//! the one-line error `portico plan` would print. The cases whose subject is a cloud platform's
//! native plan, quota or capabilities live beside that platform (`providers/*/testdata`).
//!
//! A case may carry a sidecar `<case>.outcome.yaml`: each Gateway's programming outcome, folded
//! into the statuses as the operator folds it after programming (`outcome::fold_all`). Those
//! cases keep their `lastTransitionTime`s (the clock is fixed); the others redact them.
//!
//! To add a case: write the input, run `cargo insta test --accept` (or `INSTA_UPDATE=always`),
//! and review the new snapshot as carefully as code.

use std::collections::BTreeMap;
use std::path::Path;

use portico_model::ir::{Address, ObjectRef, RouteKey};
use portico_provider::{Applied, ProviderError, RouteOverflow};
use portico_translate::document::Outcomes;
use portico_translate::golden;
use serde::Deserialize;

/// One Gateway's outcome in a sidecar: `applied` or `error`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Outcome {
    applied: Option<AppliedOutcome>,
    error: Option<Error>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct AppliedOutcome {
    #[serde(default)]
    addresses: Vec<Address>,
    ready: bool,
    #[serde(default)]
    rejected_routes: Vec<Rejected>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Rejected {
    route: RouteKey,
    message: String,
}

/// A `ProviderError`, by kind.
#[derive(Deserialize)]
#[serde(tag = "kind", deny_unknown_fields)]
enum Error {
    Throttled { platform: String, operation: String, message: String },
    Transient { platform: String, operation: String, message: String },
    Rejected { platform: String, operation: String, message: String },
    AddressNotUsable { address: String, message: String },
    NotOwned { resource: String },
}

impl From<Error> for ProviderError {
    fn from(error: Error) -> ProviderError {
        match error {
            Error::Throttled { platform, operation, message } => ProviderError::Throttled { platform, operation, message },
            Error::Transient { platform, operation, message } => ProviderError::Transient { platform, operation, message },
            Error::Rejected { platform, operation, message } => ProviderError::Rejected { platform, operation, message },
            Error::AddressNotUsable { address, message } => ProviderError::AddressNotUsable { address, message },
            Error::NotOwned { resource } => ProviderError::NotOwned { resource },
        }
    }
}

impl From<Outcome> for Result<Applied, ProviderError> {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome { applied: Some(a), error: None } => Ok(Applied {
                addresses: a.addresses,
                ready: a.ready,
                rejected_routes: a.rejected_routes.into_iter().map(|r| RouteOverflow { route: r.route, message: r.message }).collect(),
            }),
            Outcome { applied: None, error: Some(error) } => Err(error.into()),
            _ => panic!("an outcome is either `applied` or `error`"),
        }
    }
}

/// The outcomes in `<case>.outcome.yaml` beside `input`, keyed `namespace/name` (None: no sidecar).
fn sidecar(input: &Path) -> Option<Outcomes> {
    let name = input.file_name()?.to_str()?.strip_suffix(".in.yaml")?;
    let text = std::fs::read_to_string(input.with_file_name(format!("{name}.outcome.yaml"))).ok()?;
    let outcomes: BTreeMap<String, Outcome> = serde_yaml::from_str(&text).expect("a well-formed outcome sidecar");
    let key = |k: &str| {
        let (namespace, name) = k.split_once('/').expect("outcome keys are namespace/name");
        ObjectRef::new(namespace, name)
    };
    Some(outcomes.into_iter().map(|(k, o)| (key(&k), o.into())).collect())
}

#[test]
fn golden() {
    let planners = golden::planners(&[&portico_haproxy::DESCRIPTOR, &portico_aws::DESCRIPTOR, &portico_gcp::DESCRIPTOR]);
    insta::glob!("../testdata", "*.in.yaml", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let snapshot = match sidecar(path) {
            Some(outcomes) => golden::case(&text, &name, &planners, &outcomes, false),
            None => golden::case(&text, &name, &planners, &golden::no_outcomes(), true),
        };
        insta::assert_yaml_snapshot!(snapshot);
    });
}
