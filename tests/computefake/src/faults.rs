//! One-shot fault injection, matched by API method name (`urlMaps.patch`, `*` for any).

/// A failure to inject into the next matching calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer the call with this HTTP status and error `reason` instead of serving it
    /// (e.g. 429 `rateLimitExceeded`, 503 `backendError`). Nothing is applied.
    Status { operation: String, status: u16, reason: String, times: u32 },
    /// Accept a mutating call but let its operation finish `DONE` with this error
    /// (`code` such as `QUOTA_EXCEEDED` or `RESOURCE_IN_USE_BY_ANOTHER_RESOURCE`).
    /// The change is not applied.
    OperationError { operation: String, code: String, message: String, times: u32 },
}

impl Fault {
    /// A `Status` fault firing once, with the reason GCP uses for that status.
    pub fn status(operation: &str, status: u16) -> Fault {
        let reason = match status {
            429 => "rateLimitExceeded",
            403 => "forbidden",
            404 => "notFound",
            409 => "alreadyExists",
            412 => "conditionNotMet",
            400 => "invalid",
            _ => "backendError",
        };
        Fault::Status { operation: operation.to_string(), status, reason: reason.to_string(), times: 1 }
    }

    /// An `OperationError` fault firing once.
    pub fn operation_error(operation: &str, code: &str, message: &str) -> Fault {
        Fault::OperationError { operation: operation.to_string(), code: code.to_string(), message: message.to_string(), times: 1 }
    }

    fn operation(&self) -> &str {
        match self {
            Fault::Status { operation, .. } | Fault::OperationError { operation, .. } => operation,
        }
    }

    fn times(&self) -> u32 {
        match self {
            Fault::Status { times, .. } | Fault::OperationError { times, .. } => *times,
        }
    }

    fn times_mut(&mut self) -> &mut u32 {
        match self {
            Fault::Status { times, .. } | Fault::OperationError { times, .. } => times,
        }
    }

    fn applies_to(&self, operation: &str) -> bool {
        self.operation() == "*" || self.operation() == operation
    }
}

/// Injected faults waiting for their calls, first queued first fired.
#[derive(Debug, Default)]
pub struct FaultQueue {
    waiting: Vec<Fault>,
}

/// What a `Status` fault turns a call into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusFault {
    pub status: u16,
    pub reason: String,
}

/// What an `OperationError` fault puts into the operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperationFault {
    pub code: String,
    pub message: String,
}

impl FaultQueue {
    pub fn push(&mut self, fault: Fault) {
        if fault.times() > 0 {
            self.waiting.push(fault);
        }
    }

    pub fn clear(&mut self) {
        self.waiting.clear();
    }

    pub fn take_status(&mut self, operation: &str) -> Option<StatusFault> {
        let fault = self.take(operation, |fault| matches!(fault, Fault::Status { .. }))?;
        match fault {
            Fault::Status { status, reason, .. } => Some(StatusFault { status, reason }),
            Fault::OperationError { .. } => None,
        }
    }

    pub fn take_operation_error(&mut self, operation: &str) -> Option<OperationFault> {
        let fault = self.take(operation, |fault| matches!(fault, Fault::OperationError { .. }))?;
        match fault {
            Fault::OperationError { code, message, .. } => Some(OperationFault { code, message }),
            Fault::Status { .. } => None,
        }
    }

    /// Use up one firing of the first waiting fault of the wanted type for this call.
    fn take(&mut self, operation: &str, wanted: impl Fn(&Fault) -> bool) -> Option<Fault> {
        let index = self.waiting.iter().position(|fault| wanted(fault) && fault.applies_to(operation))?;
        let fired = self.waiting[index].clone();
        let times = self.waiting[index].times_mut();
        *times -= 1;
        if *times == 0 {
            self.waiting.remove(index);
        }
        Some(fired)
    }
}

#[cfg(test)]
mod tests {
    use super::{Fault, FaultQueue};

    #[test]
    fn faults_fire_the_given_number_of_times_for_matching_calls() {
        let mut queue = FaultQueue::default();
        queue.push(Fault::Status { operation: "urlMaps.patch".into(), status: 503, reason: "backendError".into(), times: 2 });
        assert!(queue.take_status("urlMaps.get").is_none());
        assert_eq!(queue.take_status("urlMaps.patch").map(|fault| fault.status), Some(503));
        assert!(queue.take_operation_error("urlMaps.patch").is_none());
        assert!(queue.take_status("urlMaps.patch").is_some());
        assert!(queue.take_status("urlMaps.patch").is_none());
    }

    #[test]
    fn wildcard_and_zero_times() {
        let mut queue = FaultQueue::default();
        queue.push(Fault::OperationError { operation: "*".into(), code: "X".into(), message: "m".into(), times: 0 });
        assert!(queue.take_operation_error("firewalls.insert").is_none());
        queue.push(Fault::operation_error("*", "QUOTA_EXCEEDED", "no quota"));
        let fired = queue.take_operation_error("firewalls.insert").expect("fires");
        assert_eq!(fired.code, "QUOTA_EXCEEDED");
        assert_eq!(Fault::status("x.get", 429), Fault::Status { operation: "x.get".into(), status: 429, reason: "rateLimitExceeded".into(), times: 1 });
    }
}
