//! The worker: carries out what the records ask for (launch, stop, terminate),
//! watches running guests (a guest that powered itself off, a QEMU that died),
//! meters running time at checkpoints and forgets long-terminated instances.
//!
//! It holds nothing of its own: each round reads the active records and starts
//! one step per instance that has none in flight, so work left by a crash is
//! simply picked up by the next round after a restart.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use nomuck_meta::Mutation;
use nomuck_meta::compute::{ComputeMutation, InstanceRecord, InstanceState, StateReason};

use crate::instances::Metering;
use crate::runtime::Health;
use crate::{Compute, ComputeError, now_millis, reason_time};

/// How often the worker looks even when nothing woke it (guest health, metering).
const ROUND: Duration = Duration::from_secs(1);

pub(crate) fn start(c: Arc<Compute>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let busy: Arc<Mutex<HashSet<String>>> = Arc::default();
        let mut last_purge = std::time::Instant::now() - Duration::from_secs(3600);
        loop {
            match c.records().active_instances().await {
                Ok(active) => {
                    for r in active {
                        let claimed = busy
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .insert(r.id.clone());
                        if !claimed {
                            continue;
                        }
                        let (c, busy) = (Arc::clone(&c), Arc::clone(&busy));
                        tokio::spawn(async move {
                            let id = r.id.clone();
                            if let Err(e) = step(&c, r).await {
                                tracing::warn!(instance = %id, %e, "instance step failed; retrying");
                            }
                            busy.lock()
                                .unwrap_or_else(std::sync::PoisonError::into_inner)
                                .remove(&id);
                        });
                    }
                }
                Err(e) => tracing::warn!(%e, "cannot read instances"),
            }
            if last_purge.elapsed() >= Duration::from_secs(60) {
                last_purge = std::time::Instant::now();
                if let Err(e) = purge(&c).await {
                    tracing::warn!(%e, "cannot purge terminated instances");
                }
            }
            tokio::select! {
                () = c.work.notified() => {}
                () = tokio::time::sleep(ROUND) => {}
            }
        }
    })
}

/// One step for one instance, by its state.
async fn step(c: &Arc<Compute>, r: InstanceRecord) -> Result<(), ComputeError> {
    match r.state {
        InstanceState::Pending => launch(c, &r).await,
        InstanceState::Running => watch(c, &r).await,
        InstanceState::Stopping => {
            let force = r.pending_action.as_deref() == Some("force-stop");
            c.runtime.stop(&r.id, force, c.opts.stop_grace).await;
            settle(c, &r.id, InstanceState::Stopping, InstanceState::Stopped).await
        }
        InstanceState::ShuttingDown => {
            c.runtime.terminate(&r.id).await;
            settle(
                c,
                &r.id,
                InstanceState::ShuttingDown,
                InstanceState::Terminated,
            )
            .await
        }
        // A pending action left on a resting instance has nothing left to do.
        InstanceState::Stopped | InstanceState::Terminated => c
            .update_instance(&r.id, Metering::Transitions, |r| {
                Ok(r.pending_action.take().is_some())
            })
            .await
            .map(|_| ()),
    }
}

/// `from` → `to` once the runtime has done its part (unless the record moved on).
async fn settle(
    c: &Compute,
    id: &str,
    from: InstanceState,
    to: InstanceState,
) -> Result<(), ComputeError> {
    c.update_instance(id, Metering::Transitions, |r| {
        if r.state != from {
            return Ok(false);
        }
        r.state = to;
        r.pending_action = None;
        Ok(true)
    })
    .await
    .map(|_| ())
}

async fn launch(c: &Arc<Compute>, r: &InstanceRecord) -> Result<(), ComputeError> {
    let _permit = c
        .runtime
        .launching
        .acquire()
        .await
        .map_err(|e| ComputeError::Internal(e.to_string()))?;
    let launched = async {
        let boot = c.boot_files(r).await?;
        let ports = c.guest_ports(r).await?;
        c.runtime
            .launch(&c.opts, &c.store, c.accel, r, &boot, &ports)
            .await
    }
    .await;
    match launched {
        Ok((accel, forwards)) => {
            let accel = accel.to_string();
            let updated = c
                .update_instance(&r.id, Metering::Transitions, |rec| {
                    if rec.state != InstanceState::Pending {
                        return Ok(false);
                    }
                    rec.state = InstanceState::Running;
                    rec.accelerator = Some(accel.clone());
                    rec.forwards = forwards.clone();
                    Ok(true)
                })
                .await?;
            tracing::info!(instance = %r.id, %accel, "instance running");
            // Terminated or stopped while it booted: the next round takes it down.
            if updated.is_some_and(|(_, after)| after.state != InstanceState::Running) {
                c.work.notify_one();
            }
            Ok(())
        }
        Err(e) => {
            tracing::warn!(instance = %r.id, %e, "launch failed");
            c.runtime.terminate(&r.id).await;
            c.update_instance(&r.id, Metering::Transitions, |rec| {
                if rec.state != InstanceState::Pending {
                    return Ok(false);
                }
                rec.state = InstanceState::Terminated;
                rec.state_reason = Some(StateReason {
                    code: "Server.InternalError".into(),
                    message: format!("Server.InternalError: Internal error on launch: {e}"),
                });
                rec.state_transition_reason =
                    format!("Server error ({})", reason_time(now_millis()));
                Ok(true)
            })
            .await
            .map(|_| ())
        }
    }
}

/// A running instance: is its guest still there, did it power itself off? Also
/// meters its running time when a checkpoint is due.
async fn watch(c: &Arc<Compute>, r: &InstanceRecord) -> Result<(), ComputeError> {
    match c.runtime.health(&c.opts, &c.store, r).await {
        Health::Running => c
            .update_instance(&r.id, Metering::Checkpoint, |_| Ok(false))
            .await
            .map(|_| ()),
        Health::GuestShutdown => {
            let terminate = r.shutdown_behavior == "terminate";
            let reason = format!(
                "Client.InstanceInitiatedShutdown: Instance initiated shutdown ({})",
                reason_time(now_millis())
            );
            c.update_instance(&r.id, Metering::Transitions, |rec| {
                if rec.state != InstanceState::Running {
                    return Ok(false);
                }
                rec.state = if terminate {
                    InstanceState::ShuttingDown
                } else {
                    InstanceState::Stopping
                };
                rec.pending_action = Some(if terminate { "terminate" } else { "stop" }.into());
                rec.state_transition_reason = reason.clone();
                rec.state_reason = Some(StateReason {
                    code: "Client.InstanceInitiatedShutdown".into(),
                    message: "Client.InstanceInitiatedShutdown: Instance initiated shutdown".into(),
                });
                Ok(true)
            })
            .await
            .map(|_| ())
        }
        Health::Gone => {
            tracing::warn!(instance = %r.id, "its QEMU is gone; the instance is stopped");
            c.update_instance(&r.id, Metering::Transitions, |rec| {
                if rec.state != InstanceState::Running {
                    return Ok(false);
                }
                rec.state = InstanceState::Stopped;
                rec.state_transition_reason =
                    format!("Server error ({})", reason_time(now_millis()));
                rec.state_reason = Some(StateReason {
                    code: "Server.InternalError".into(),
                    message: "Server.InternalError: the instance's virtual machine exited".into(),
                });
                Ok(true)
            })
            .await
            .map(|_| ())
        }
    }
}

/// Forgets instances terminated longer ago than the retention (EC2 shows them
/// for about an hour).
async fn purge(c: &Compute) -> Result<(), ComputeError> {
    let cutoff =
        now_millis() - i64::try_from(c.opts.terminated_retention.as_millis()).unwrap_or(i64::MAX);
    for r in c.records().instances(None).await? {
        if r.state == InstanceState::Terminated && r.state_changed_at < cutoff {
            c.store
                .commit(vec![Mutation::Compute(ComputeMutation::DeleteInstance {
                    id: r.id.clone(),
                })])
                .await?;
            c.runtime.purge(&r.id);
        }
    }
    Ok(())
}
