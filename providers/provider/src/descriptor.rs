//! What each provider crate exports so the operator can offer it: one [`Descriptor`] (a
//! `static`), registered in one line of the `portico` binary. Nothing else in the operator
//! names a platform.

use std::path::PathBuf;
use std::sync::Arc;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;

use crate::{BoxFuture, Capabilities, DynProvider, Planner, ProviderKind};

/// Counts a platform call by operation (for metrics).
pub type OnCall = Arc<dyn Fn(&str) + Send + Sync>;

/// What a provider is given when the operator starts it.
#[derive(Clone)]
pub struct Context {
    /// The cluster name cloud resources are tagged with (see [`Descriptor::uses_cluster_name`]).
    pub cluster: String,
    /// This provider's own directory for local state (configuration files, sockets).
    pub state_dir: PathBuf,
    /// Counts every platform call by operation, for metrics.
    pub on_call: OnCall,
}

impl Context {
    /// A context for tests and offline tools: a cluster name and a state directory, calls not
    /// counted.
    pub fn new(cluster: impl Into<String>, state_dir: impl Into<PathBuf>) -> Context {
        Context { cluster: cluster.into(), state_dir: state_dir.into(), on_call: Arc::new(|_| {}) }
    }
}

/// Starts a configured provider (its flags already parsed).
pub type Connect = Box<dyn FnOnce(Context) -> BoxFuture<'static, Result<Arc<dyn DynProvider>, String>> + Send + Sync>;

/// One platform, as the operator and its tools see it.
pub struct Descriptor {
    pub kind: ProviderKind,
    pub capabilities: fn() -> Capabilities,
    /// The provider's parameters CRD (group `portico.dev`, kind `kind.parameters_kind()`).
    pub parameters_crd: fn() -> CustomResourceDefinition,
    /// Whether the provider's resources carry the cluster name (cloud platforms): the operator
    /// then insists on one (flag, or derived from the cluster), never a shared default.
    pub uses_cluster_name: bool,
    /// Adds the provider's command-line flags (its `clap::Args` struct) to `portico run`.
    pub args: fn(clap::Command) -> clap::Command,
    /// Reads the provider's flags back; the result starts the provider.
    pub configure: fn(&clap::ArgMatches) -> Result<Connect, String>,
    /// The pure part, for `portico plan`: checks and native plans for `cluster`, no client.
    pub planner: fn(cluster: &str) -> Box<dyn Planner>,
    /// The cloud permissions the provider's calls need, as the platform's own document (an AWS
    /// IAM policy, a Google Cloud custom role) for `cluster` (`portico permissions <provider>`);
    /// `None` for platforms without cloud identities.
    pub permissions: fn(cluster: &str) -> Option<String>,
}

/// For [`Descriptor::permissions`] of platforms without cloud identities.
pub fn no_permissions(_: &str) -> Option<String> {
    None
}

impl Descriptor {
    /// Start this provider from flags given on an otherwise empty command line (its defaults).
    pub fn configure_defaults(&self) -> Result<Connect, String> {
        let command = (self.args)(clap::Command::new("portico").no_binary_name(true));
        let matches = command.try_get_matches_from(Vec::<String>::new()).map_err(|e| e.to_string())?;
        (self.configure)(&matches)
    }
}

/// A provider the operator runs: its descriptor and how to start it.
pub struct Registered {
    pub descriptor: &'static Descriptor,
    pub connect: Connect,
}

impl Registered {
    pub fn new(descriptor: &'static Descriptor, connect: Connect) -> Registered {
        Registered { descriptor, connect }
    }

    /// An already started provider (tests hand the operator one they keep a handle to).
    pub fn started(descriptor: &'static Descriptor, provider: Arc<dyn DynProvider>) -> Registered {
        Registered { descriptor, connect: Box::new(move |_| Box::pin(async move { Ok(provider) })) }
    }
}
