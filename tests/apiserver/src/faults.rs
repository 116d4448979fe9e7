//! Fault injection for reliability tests: fail the next N requests, add latency, drop every
//! watch stream, or forget the watch history so resuming watches get `410 Gone`.

use std::sync::atomic::{AtomicU16, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use crate::error::ApiError;

/// How the next failing requests fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    TooManyRequests,
    InternalError,
    /// Hold the request for `hang` without answering (the client times out).
    Timeout,
}

#[derive(Debug, Default)]
pub struct Faults {
    fail_remaining: AtomicU32,
    /// 429, 500, or 0 for a timeout.
    fail_code: AtomicU16,
    latency_ms: AtomicU64,
    hang_ms: AtomicU64,
    pub(crate) served: AtomicU64,
}

/// What to do with one incoming request.
pub enum Verdict {
    Proceed,
    Fail(ApiError),
    Hang(Duration),
}

impl Faults {
    /// Answer the next `count` requests with `failure` (admin requests are never affected).
    pub fn fail_next(&self, count: u32, failure: Failure) {
        let code = match failure {
            Failure::TooManyRequests => 429,
            Failure::InternalError => 500,
            Failure::Timeout => 0,
        };
        self.fail_code.store(code, Ordering::SeqCst);
        self.fail_remaining.store(count, Ordering::SeqCst);
        if self.hang_ms.load(Ordering::SeqCst) == 0 {
            self.hang_ms.store(30_000, Ordering::SeqCst);
        }
    }

    /// How long a `Timeout` failure holds the request.
    pub fn set_hang(&self, hang: Duration) {
        self.hang_ms.store(hang.as_millis() as u64, Ordering::SeqCst);
    }

    /// Delay every request by `latency`.
    pub fn set_latency(&self, latency: Duration) {
        self.latency_ms.store(latency.as_millis() as u64, Ordering::SeqCst);
    }

    pub fn latency(&self) -> Duration {
        Duration::from_millis(self.latency_ms.load(Ordering::SeqCst))
    }

    /// Requests answered so far (admin requests excluded).
    pub fn requests_served(&self) -> u64 {
        self.served.load(Ordering::Relaxed)
    }

    pub fn clear(&self) {
        self.fail_remaining.store(0, Ordering::SeqCst);
        self.latency_ms.store(0, Ordering::SeqCst);
    }

    pub(crate) fn verdict(&self) -> Verdict {
        self.served.fetch_add(1, Ordering::Relaxed);
        let taken = self.fail_remaining.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
        if !taken {
            return Verdict::Proceed;
        }
        match self.fail_code.load(Ordering::SeqCst) {
            429 => Verdict::Fail(ApiError::too_many_requests()),
            500 => Verdict::Fail(ApiError::internal("injected fault")),
            _ => Verdict::Hang(Duration::from_millis(self.hang_ms.load(Ordering::SeqCst))),
        }
    }
}
