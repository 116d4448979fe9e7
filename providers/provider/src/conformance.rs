//! The behaviour every provider must show, as one suite each provider's tests run against its
//! own platform (or the platform's test double): applying is idempotent, an unchanged Gateway
//! plans nothing, deleting what does not exist succeeds, and deleting leaves nothing behind.

use portico_model::ir::ObjectRef;

use crate::{Desired, Provider};

/// A failed expectation, with what was seen.
pub type Outcome = Result<(), String>;

/// Apply `desired` from whatever exists, then once more: the second plan must be empty.
pub async fn apply_is_idempotent<P: Provider>(provider: &P, desired: &Desired) -> Outcome {
    let key = &desired.ir.gateway;
    let first = provider.plan(Some(desired), &observe(provider, key).await?);
    provider.apply(&first).await.map_err(|e| format!("first apply failed: {e}"))?;
    no_op_plan_is_empty(provider, desired).await?;
    provider.apply(&provider.plan(Some(desired), &observe(provider, key).await?)).await.map_err(|e| format!("second apply failed: {e}"))?;
    no_op_plan_is_empty(provider, desired).await
}

/// After an apply, observing again and planning the same desired state finds nothing to do.
pub async fn no_op_plan_is_empty<P: Provider>(provider: &P, desired: &Desired) -> Outcome {
    let plan = provider.plan(Some(desired), &observe(provider, &desired.ir.gateway).await?);
    if provider.plan_is_empty(&plan) {
        Ok(())
    } else {
        Err(format!("an unchanged Gateway still plans changes: {}", serde_json::to_string(&plan).unwrap_or_default()))
    }
}

/// Deleting a Gateway that was never programmed succeeds and changes nothing.
pub async fn delete_of_nothing_succeeds<P: Provider>(provider: &P, gateway: &ObjectRef) -> Outcome {
    provider.delete(gateway).await.map_err(|e| format!("deleting nothing failed: {e}"))?;
    removal_is_complete(provider, gateway).await
}

/// After `delete`, nothing is left to remove.
pub async fn removal_is_complete<P: Provider>(provider: &P, gateway: &ObjectRef) -> Outcome {
    let plan = provider.plan(None, &observe(provider, gateway).await?);
    if provider.plan_is_empty(&plan) { Ok(()) } else { Err(format!("resources remain after delete: {}", serde_json::to_string(&plan).unwrap_or_default())) }
}

/// Program, delete, and check that nothing is left.
pub async fn delete_removes_everything<P: Provider>(provider: &P, desired: &Desired) -> Outcome {
    let key = &desired.ir.gateway;
    provider.apply(&provider.plan(Some(desired), &observe(provider, key).await?)).await.map_err(|e| format!("apply failed: {e}"))?;
    provider.delete(key).await.map_err(|e| format!("delete failed: {e}"))?;
    removal_is_complete(provider, key).await
}

async fn observe<P: Provider>(provider: &P, gateway: &ObjectRef) -> Result<P::Observed, String> {
    provider.observe(gateway).await.map_err(|e| format!("observe failed: {e}"))
}
