//! Platform API calls made, by operation, for tests, benchmarks and metrics.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::BoxFuture;

/// Run independent calls with at most `limit` in flight; every call runs to its end, results in
/// completion order. The calls are boxed and collected by the caller first: a stream of
/// closures held across an await would make the caller's future not `Send`.
pub async fn bounded<T>(calls: Vec<BoxFuture<'_, T>>, limit: usize) -> Vec<T> {
    use futures_util::StreamExt as _;
    futures_util::stream::iter(calls).buffer_unordered(limit.max(1)).collect().await
}

/// Calls by operation (`elbv2:CreateRule`, `urlMaps.update`, ...).
#[derive(Debug, Default)]
pub struct CallCounts(Mutex<BTreeMap<String, u64>>);

impl CallCounts {
    pub fn record(&self, operation: &str) {
        if let Ok(mut counts) = self.0.lock() {
            *counts.entry(operation.to_string()).or_default() += 1;
        }
    }

    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.0.lock().map(|c| c.clone()).unwrap_or_default()
    }

    /// Whether an operation changes anything: everything but reads, whose verb (after the
    /// service's `:` or the collection's `.`) starts with Describe, List, Get or aggregatedList.
    pub fn is_mutating(operation: &str) -> bool {
        let verb = operation.rsplit([':', '.']).next().unwrap_or(operation).to_ascii_lowercase();
        !["describe", "list", "get", "aggregatedlist"].iter().any(|read| verb.starts_with(read))
    }

    pub fn mutating(&self) -> u64 {
        self.snapshot().iter().filter(|(op, _)| Self::is_mutating(op)).map(|(_, n)| n).sum()
    }

    pub fn total(&self) -> u64 {
        self.snapshot().values().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::CallCounts;

    #[test]
    fn reads_are_told_from_writes_for_both_naming_styles() {
        for read in
            ["elbv2:DescribeRules", "acm:ListTagsForCertificate", "urlMaps.aggregatedList", "globalAddresses.get", "networkEndpointGroups.listNetworkEndpoints"]
        {
            assert!(!CallCounts::is_mutating(read), "{read}");
        }
        for write in ["elbv2:CreateRule", "acm:ImportCertificate", "urlMaps.update", "networkEndpointGroups.attachNetworkEndpoints"] {
            assert!(CallCounts::is_mutating(write), "{write}");
        }
    }
}
