//! Leader election with a `coordination.k8s.io/v1` Lease: only the holder reconciles and writes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use serde_json::json;

pub struct LeaderElection {
    pub api: Api<Lease>,
    pub name: String,
    pub identity: String,
    pub lease_duration: Duration,
}

fn now() -> MicroTime {
    MicroTime(k8s_openapi::jiff::Timestamp::now())
}

impl LeaderElection {
    pub fn new(client: &Client, namespace: &str, name: &str, identity: &str) -> Self {
        LeaderElection {
            api: Api::namespaced(client.clone(), namespace),
            name: name.to_string(),
            identity: identity.to_string(),
            lease_duration: Duration::from_secs(15),
        }
    }

    /// Try once to acquire or renew; true when we hold the lease afterwards.
    pub async fn try_acquire(&self) -> Result<bool, kube::Error> {
        let lease = match self.api.get_opt(&self.name).await? {
            Some(lease) => lease,
            None => {
                let lease: Lease = serde_json::from_value(json!({
                    "metadata": {"name": self.name},
                    "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": self.lease_duration.as_secs(), "acquireTime": now(), "renewTime": now(), "leaseTransitions": 0}
                }))
                .unwrap_or_default();
                return match self.api.create(&PostParams::default(), &lease).await {
                    Ok(_) => Ok(true),
                    Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
                    Err(e) => Err(e),
                };
            }
        };
        let spec = lease.spec.clone().unwrap_or_default();
        let holder = spec.holder_identity.clone().unwrap_or_default();
        let expired = spec.renew_time.as_ref().is_none_or(|renewed| {
            let age = k8s_openapi::jiff::Timestamp::now().duration_since(renewed.0);
            age.as_secs() as u64 > u64::try_from(spec.lease_duration_seconds.unwrap_or(15)).unwrap_or(15)
        });
        // An empty holder is a released lease (a leader that shut down): free at once.
        if holder != self.identity && !holder.is_empty() && !expired {
            return Ok(false);
        }
        let transitions = spec.lease_transitions.unwrap_or(0) + i32::from(holder != self.identity);
        let mut patch = json!({
            "metadata": {"resourceVersion": lease.metadata.resource_version},
            "spec": {"holderIdentity": self.identity, "renewTime": now(), "leaseDurationSeconds": self.lease_duration.as_secs(), "leaseTransitions": transitions}
        });
        if holder != self.identity {
            patch["spec"]["acquireTime"] = json!(now());
        }
        // The resourceVersion makes this a compare-and-swap: two candidates never both win.
        match self.api.patch(&self.name, &PatchParams::default(), &Patch::Merge(&patch)).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Give the lease up (on shutdown) if we hold it, as client-go's `ReleaseOnCancel` does: an
    /// empty holder and a 1 s duration, so a standby takes over on its next try, not after the
    /// lease would have expired.
    pub async fn release(&self) -> Result<bool, kube::Error> {
        let Some(lease) = self.api.get_opt(&self.name).await? else { return Ok(false) };
        if lease.spec.as_ref().and_then(|s| s.holder_identity.as_deref()) != Some(self.identity.as_str()) {
            return Ok(false);
        }
        let patch = json!({
            "metadata": {"resourceVersion": lease.metadata.resource_version},
            "spec": {"holderIdentity": "", "leaseDurationSeconds": 1, "renewTime": now()}
        });
        self.api.patch(&self.name, &PatchParams::default(), &Patch::Merge(&patch)).await.map(|_| true)
    }

    /// Keep trying to acquire and renew; `leading` reflects the current state.
    pub async fn run(self: Arc<Self>, leading: Arc<AtomicBool>, changed: Arc<super::stores::Changes>) {
        let retry = self.lease_duration / 3;
        loop {
            let holds = match self.try_acquire().await {
                Ok(holds) => holds,
                Err(error) => {
                    tracing::warn!(%error, "leader election: lease update failed");
                    false
                }
            };
            let was = leading.swap(holds, Ordering::SeqCst);
            if holds && !was {
                tracing::info!(identity = %self.identity, "became the leader");
                changed.notify_one();
            } else if !holds && was {
                tracing::warn!(identity = %self.identity, "lost the leader lease; stopping writes");
            }
            tokio::time::sleep(retry).await;
        }
    }
}
