//! The Compute API through Google's Rust client: clients, call counts, retries and how GCP
//! errors become [`ProviderError`]s whose messages name the resource and the cause.

pub mod apply;
mod calls;
pub mod observe;

use std::future::Future;
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use google_cloud_compute_v1::client;
use portico_provider::ProviderError;

/// How to reach GCP.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    pub cluster: String,
    /// Default project (parameters may name another).
    pub project: Option<String>,
    /// Default region of regional scopes.
    pub region: Option<String>,
    /// Another Compute endpoint (tests: the fake server). Default `https://compute.googleapis.com`.
    pub endpoint: Option<String>,
    /// Send no credentials (only for a local fake).
    pub anonymous: bool,
    /// Attempts per call for throttled or transient failures (default 5).
    pub max_attempts: Option<usize>,
    /// Steps of one wave (one operation on distinct resources) in flight at once (default 8).
    pub concurrent_calls: Option<usize>,
}

pub use portico_provider::CallCounts;

/// One client per Compute collection and scope.
pub struct Clients {
    pub(crate) addresses: client::Addresses,
    pub(crate) global_addresses: client::GlobalAddresses,
    pub(crate) forwarding_rules: client::ForwardingRules,
    pub(crate) global_forwarding_rules: client::GlobalForwardingRules,
    pub(crate) target_http_proxies: client::TargetHttpProxies,
    pub(crate) region_target_http_proxies: client::RegionTargetHttpProxies,
    pub(crate) target_https_proxies: client::TargetHttpsProxies,
    pub(crate) region_target_https_proxies: client::RegionTargetHttpsProxies,
    pub(crate) target_tcp_proxies: client::TargetTcpProxies,
    pub(crate) region_target_tcp_proxies: client::RegionTargetTcpProxies,
    pub(crate) url_maps: client::UrlMaps,
    pub(crate) region_url_maps: client::RegionUrlMaps,
    pub(crate) backend_services: client::BackendServices,
    pub(crate) region_backend_services: client::RegionBackendServices,
    pub(crate) health_checks: client::HealthChecks,
    pub(crate) region_health_checks: client::RegionHealthChecks,
    pub(crate) network_endpoint_groups: client::NetworkEndpointGroups,
    pub(crate) ssl_certificates: client::SslCertificates,
    pub(crate) region_ssl_certificates: client::RegionSslCertificates,
    pub(crate) firewalls: client::Firewalls,
    pub counts: CallCounts,
    /// Told about every call (e.g. the operator's metrics).
    pub on_call: Option<portico_provider::OnCall>,
    max_attempts: usize,
    pub(crate) concurrent_calls: usize,
}

macro_rules! build_client {
    ($kind:ident, $settings:expr) => {{
        let mut builder = client::$kind::builder().with_retry_policy(google_cloud_gax::retry_policy::NeverRetry).with_polling_backoff_policy(polling_backoff());
        if let Some(endpoint) = &$settings.endpoint {
            builder = builder.with_endpoint(endpoint.clone());
        }
        if $settings.anonymous {
            builder = builder.with_credentials(google_cloud_auth::credentials::anonymous::Builder::new().build());
        }
        builder.build().await.map_err(|e| format!("cannot build the {} client: {e}", stringify!($kind)))?
    }};
}

/// Operations are polled from 50 ms, doubling to 2 s.
fn polling_backoff() -> google_cloud_gax::exponential_backoff::ExponentialBackoff {
    google_cloud_gax::exponential_backoff::ExponentialBackoffBuilder::new()
        .with_initial_delay(Duration::from_millis(50))
        .with_maximum_delay(Duration::from_secs(2))
        .with_scaling(2.0)
        .build()
        .unwrap_or_default()
}

impl Clients {
    /// Clients with Application Default Credentials (or none, for a local fake).
    pub async fn connect(settings: &Settings) -> Result<Clients, String> {
        install_crypto_provider();
        Ok(Clients {
            addresses: build_client!(Addresses, settings),
            global_addresses: build_client!(GlobalAddresses, settings),
            forwarding_rules: build_client!(ForwardingRules, settings),
            global_forwarding_rules: build_client!(GlobalForwardingRules, settings),
            target_http_proxies: build_client!(TargetHttpProxies, settings),
            region_target_http_proxies: build_client!(RegionTargetHttpProxies, settings),
            target_https_proxies: build_client!(TargetHttpsProxies, settings),
            region_target_https_proxies: build_client!(RegionTargetHttpsProxies, settings),
            target_tcp_proxies: build_client!(TargetTcpProxies, settings),
            region_target_tcp_proxies: build_client!(RegionTargetTcpProxies, settings),
            url_maps: build_client!(UrlMaps, settings),
            region_url_maps: build_client!(RegionUrlMaps, settings),
            backend_services: build_client!(BackendServices, settings),
            region_backend_services: build_client!(RegionBackendServices, settings),
            health_checks: build_client!(HealthChecks, settings),
            region_health_checks: build_client!(RegionHealthChecks, settings),
            network_endpoint_groups: build_client!(NetworkEndpointGroups, settings),
            ssl_certificates: build_client!(SslCertificates, settings),
            region_ssl_certificates: build_client!(RegionSslCertificates, settings),
            firewalls: build_client!(Firewalls, settings),
            counts: CallCounts::default(),
            on_call: None,
            max_attempts: settings.max_attempts.unwrap_or(5).max(1),
            concurrent_calls: settings.concurrent_calls.unwrap_or(8).max(1),
        })
    }

    /// Count one call (also reported to `on_call`).
    pub fn count(&self, operation: &str) {
        self.counts.record(operation);
        if let Some(callback) = &self.on_call {
            callback(operation);
        }
    }

    /// Run one call, counted each attempt, retried with backoff while GCP throttles or fails
    /// transiently (100 ms doubling, jittered, `max_attempts` in all).
    pub(crate) async fn call<T, F, Fut>(&self, operation: &str, resource: &str, call: F) -> Result<T, ProviderError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, google_cloud_gax::error::Error>>,
    {
        let attempt = || async {
            self.count(operation);
            call().await.map_err(|e| (error(operation, resource, &e), e.http_status_code() == Some(412)))
        };
        let policy = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(100))
            .with_max_delay(Duration::from_secs(3))
            .with_max_times(self.max_attempts - 1)
            .with_jitter();
        // A stale fingerprint (412) is not retried here: the same body would fail again. The
        // next pass re-reads the resource and plans against what is there.
        attempt.retry(policy).when(|(e, stale)| e.retryable() && !stale).await.map_err(|(e, _)| e)
    }
}

/// The Google client's TLS needs a process-wide rustls crypto provider; ring is the one the
/// rest of Portico uses.
fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// A GCP error as a [`ProviderError`]: throttling (429, RESOURCE_EXHAUSTED but for quotas) and transient
/// failures (5xx, 409/412 races, resources still in use, I/O) are retryable; the rest is
/// GCP refusing the request, with its message.
pub fn error(operation: &str, resource: &str, err: &google_cloud_gax::error::Error) -> ProviderError {
    use google_cloud_gax::error::rpc::Code;
    let platform = "GCP".to_string();
    let status = err.status();
    let http = err.http_status_code();
    let detail = status.map(|s| s.message.clone()).filter(|m| !m.is_empty()).unwrap_or_else(|| err.to_string());
    let message = format!("{resource}: {detail}");
    let operation = operation.to_string();
    let code = status.map(|s| s.code);
    // A used-up project quota is also RESOURCE_EXHAUSTED, but only raising the quota helps:
    // it is reported as GCP's refusal, not retried as throttling.
    let quota = detail.to_ascii_lowercase().contains("quota");
    let rate_limited = detail.contains("rateLimitExceeded") || detail.contains("RATE_LIMIT_EXCEEDED") || detail.contains("Rate Limit Exceeded");
    if http == Some(429) || rate_limited || (code == Some(Code::ResourceExhausted) && !quota) {
        return ProviderError::Throttled { platform, operation, message };
    }
    let in_use = detail.contains("resourceInUseByAnotherResource") || detail.contains("is already being used by");
    let transient = http.is_some_and(|h| h >= 500 || h == 409 || h == 412)
        || matches!(code, Some(Code::Unavailable | Code::Internal | Code::DeadlineExceeded | Code::Aborted | Code::AlreadyExists | Code::FailedPrecondition))
        || err.is_io()
        || err.is_timeout()
        || err.is_connect()
        || in_use;
    if transient {
        ProviderError::Transient { platform, operation, message }
    } else if let Some(address) = refused_address(&operation, resource, &detail) {
        ProviderError::AddressNotUsable { address, message: format!("GCP refused it: {detail}") }
    } else {
        ProviderError::Rejected { platform, operation, message }
    }
}

/// A forwarding rule GCP refuses because of its address (an IP that is not reserved or not
/// usable here, a named address that does not exist): the Gateway's address is not usable,
/// which the spec reports as `Programmed=False/AddressNotUsable`, not as an invalid Gateway.
fn refused_address(operation: &str, resource: &str, detail: &str) -> Option<String> {
    if !operation.starts_with("forwardingRules.") {
        return None;
    }
    let lower = detail.to_ascii_lowercase();
    let about_address = lower.contains("ipaddress") || lower.contains("ip address") || lower.contains("/addresses/");
    about_address.then(|| {
        let mut quoted = detail.split('\'').skip(1).step_by(2).filter(|q| q.parse::<std::net::IpAddr>().is_ok() || q.contains("/addresses/"));
        let quoted = quoted.next();
        quoted.map(str::to_string).unwrap_or_else(|| resource.to_string())
    })
}

#[cfg(test)]
mod address_tests {
    #[test]
    fn forwarding_rule_address_refusals_are_address_not_usable() {
        let detail = "Invalid value for field 'resource.IPAddress': '203.0.113.7'. Specified IP address is not reserved in this project.";
        assert_eq!(super::refused_address("forwardingRules.insert", "fr-80", detail).as_deref(), Some("203.0.113.7"));
        let missing = "The resource 'projects/p/global/addresses/nope' was not found";
        assert_eq!(super::refused_address("forwardingRules.insert", "fr-80", missing).as_deref(), Some("projects/p/global/addresses/nope"));
        assert_eq!(super::refused_address("urlMaps.insert", "um", detail), None);
        assert_eq!(super::refused_address("forwardingRules.insert", "fr-80", "Quota exceeded"), None);
    }
}
