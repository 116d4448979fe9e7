//! The AWS side: SDK clients (standard credential chain, adaptive retry, overridable region and
//! endpoint), per-operation call counts, and the mapping of AWS errors to [`ProviderError`].

pub mod apply;
pub mod convert;
pub mod observe;

use std::sync::Arc;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use aws_sdk_elasticloadbalancingv2::error::ProvideErrorMetadata;
use aws_smithy_http_client::tls;

/// The SDK error type shared by the three services.
pub type SdkError<E> = aws_sdk_elasticloadbalancingv2::error::SdkError<E, aws_sdk_elasticloadbalancingv2::config::http::HttpResponse>;
use portico_provider::ProviderError;

/// Where and how to reach AWS.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// Owner tag value: one Portico installation per cluster name.
    pub cluster: String,
    /// Region (else the standard chain: `AWS_REGION`, profile, IMDS).
    pub region: Option<String>,
    /// An endpoint for every service (moto, LocalStack, a VPC endpoint proxy).
    pub endpoint: Option<String>,
    /// Attempts per call for the SDK's adaptive retry (default 5).
    pub max_attempts: Option<u32>,
    /// Independent calls of one kind in flight at once (default 4; see `apply`).
    pub concurrent_calls: Option<usize>,
}

pub use portico_provider::CallCounts;

/// The three service clients and the call counter they report to.
#[derive(Clone)]
pub struct Clients {
    pub elb: aws_sdk_elasticloadbalancingv2::Client,
    pub ec2: aws_sdk_ec2::Client,
    pub acm: aws_sdk_acm::Client,
    pub calls: Arc<CallCounts>,
    pub on_call: Option<portico_provider::OnCall>,
    /// Independent calls of one kind in flight at once (target groups, targets, rules).
    pub concurrent_calls: usize,
}

impl std::fmt::Debug for Clients {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clients").field("calls", &self.calls).finish_non_exhaustive()
    }
}

impl Clients {
    pub async fn connect(settings: &Settings) -> Clients {
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .http_client(http_client())
            .retry_config(RetryConfig::adaptive().with_max_attempts(settings.max_attempts.unwrap_or(5)));
        if let Some(region) = &settings.region {
            loader = loader.region(Region::new(region.clone()));
        }
        if let Some(endpoint) = &settings.endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        let mut clients = Clients::from_config(&loader.load().await);
        clients.concurrent_calls = settings.concurrent_calls.unwrap_or(DEFAULT_CONCURRENT_CALLS).max(1);
        clients
    }

    /// Clients from a ready SDK configuration (tests give static credentials this way).
    pub fn from_config(config: &aws_config::SdkConfig) -> Clients {
        Clients {
            elb: aws_sdk_elasticloadbalancingv2::Client::new(config),
            ec2: aws_sdk_ec2::Client::new(config),
            acm: aws_sdk_acm::Client::new(config),
            calls: Arc::new(CallCounts::default()),
            on_call: None,
            concurrent_calls: DEFAULT_CONCURRENT_CALLS,
        }
    }

    /// Count one call (also reported to `on_call`, e.g. the operator's metrics).
    pub fn count(&self, operation: &str) {
        self.calls.record(operation);
        if let Some(callback) = &self.on_call {
            callback(operation);
        }
    }
}

/// ELBv2 throttles per account and region (token buckets per API); a few calls at once stay
/// within them, and the adaptive retry slows down when AWS says otherwise.
const DEFAULT_CONCURRENT_CALLS: usize = 4;

/// HTTPS (rustls with ring) or plain HTTP for local endpoints.
pub fn http_client() -> aws_sdk_elasticloadbalancingv2::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new().tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring)).build_https()
}

/// Error codes AWS uses for throttling.
const THROTTLING: &[&str] = &["Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException", "RequestThrottled", "SlowDown"];
/// Codes that clear up by themselves: a dependency still being torn down, eventual consistency.
const TRANSIENT: &[&str] =
    &["DependencyViolation", "ResourceInUse", "ResourceInUseException", "OperationNotPermitted", "InternalFailure", "ServiceUnavailable", "IncorrectState"];

/// Map an SDK error to a [`ProviderError`] that knows whether a retry can help.
pub fn error<E>(operation: &str, err: SdkError<E>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let platform = "AWS".to_string();
    let operation = operation.to_string();
    match &err {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("Unknown").to_string();
            let message = format!("{code}: {}", service.err().message().unwrap_or("no message"));
            let status = service.raw().status().as_u16();
            if THROTTLING.contains(&code.as_str()) || status == 429 {
                ProviderError::Throttled { platform, operation, message }
            } else if TRANSIENT.contains(&code.as_str()) || status >= 500 {
                ProviderError::Transient { platform, operation, message }
            } else {
                ProviderError::Rejected { platform, operation, message }
            }
        }
        SdkError::ConstructionFailure(_) => {
            ProviderError::Rejected { platform, operation, message: format!("{}", aws_smithy_types::error::display::DisplayErrorContext(&err)) }
        }
        _ => ProviderError::Transient { platform, operation, message: format!("{}", aws_smithy_types::error::display::DisplayErrorContext(&err)) },
    }
}

/// The AWS error code of a service error, if it is one.
pub fn code_of<E: ProvideErrorMetadata>(err: &SdkError<E>) -> Option<&str> {
    match err {
        SdkError::ServiceError(s) => s.err().code(),
        _ => None,
    }
}
