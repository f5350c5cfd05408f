//! Cases for compute's part of the seam (see [`crate::compute`]): instances,
//! images, key pairs and security groups, their generation control, and their
//! commits shared with usage events and deliveries.

use std::sync::Arc;

use super::events::{delivery, topic};
use super::{account, all_usage, commit_ok, odd_callers_conflict_alone, usage_event};
use crate::compute::{
    ComputeMutation, ImagePart, ImageRecord, IngressRule, InstanceRecord, InstanceState,
    KeyPairRecord, PortForward, SecurityGroupRecord, StateReason,
};
use crate::{CommitReceipt, MetaError, MetaStore, Mutation, UsageEvent};

/// Expands to one `#[tokio::test]` per compute conformance case; the factory
/// is the one given to [`crate::metastore_conformance_tests!`].
#[macro_export]
macro_rules! compute_conformance_tests {
    ($factory:expr $(,)?) => {
        $crate::__metastore_conformance_cases!(($factory);
            compute_instance_round_trip,
            compute_instance_lists,
            compute_instance_generations,
            compute_active_instances,
            compute_client_tokens,
            compute_private_ip_uniqueness,
            compute_instance_delete,
            compute_images,
            compute_key_pairs,
            compute_security_groups,
            compute_commit_is_atomic_with_usage_and_delivery,
            compute_concurrent_failures_are_isolated,
            compute_invalid_mutations_rejected,
        );
    };
}

const A: &str = "000000000001";
const B: &str = "000000000002";

// ---------------------------------------------------------------- builders

/// A running instance `i-<n as 17 hex digits>` at generation 1.
pub fn instance_record(n: u32, account_id: &str, private_ip: &str) -> InstanceRecord {
    InstanceRecord {
        id: format!("i-{n:017x}"),
        account_id: account_id.into(),
        reservation_id: format!("r-{n:017x}"),
        launch_index: 0,
        image_id: "ami-00000000000000001".into(),
        kernel_id: None,
        ramdisk_id: None,
        instance_type: "t3.micro".into(),
        key_name: None,
        security_group_ids: vec![],
        user_data: None,
        client_token: None,
        tags: vec![],
        shutdown_behavior: "stop".into(),
        disable_api_termination: false,
        metadata_tokens_required: false,
        metadata_enabled: true,
        availability_zone: "nomuck-1a".into(),
        private_ip: private_ip.into(),
        mac: format!("02:00:00:00:{:02x}:{:02x}", (n >> 8) & 0xff, n & 0xff),
        state: InstanceState::Running,
        state_reason: None,
        state_transition_reason: String::new(),
        pending_action: None,
        accelerator: None,
        forwards: vec![],
        launch_time: 1_000 + i64::from(n),
        state_changed_at: 1_000 + i64::from(n),
        metered_from: Some(1_000 + i64::from(n)),
        generation: 1,
    }
}

/// An available machine image `ami-<n>` at generation 1.
pub fn image_record(n: u32, account_id: &str) -> ImageRecord {
    ImageRecord {
        id: format!("ami-{n:017x}"),
        account_id: account_id.into(),
        name: format!("image-{n}"),
        description: String::new(),
        image_type: "machine".into(),
        architecture: "x86_64".into(),
        location: format!("images/disk-{n}.raw"),
        part: None,
        disk_format: Some("raw".into()),
        kernel_id: None,
        ramdisk_id: None,
        kernel_cmdline: None,
        state: "available".into(),
        public: false,
        launch_accounts: vec![],
        tags: vec![],
        created_at: 10,
        generation: 1,
    }
}

pub fn key_pair_record(n: u32, account_id: &str, name: &str) -> KeyPairRecord {
    KeyPairRecord {
        id: format!("key-{n:017x}"),
        account_id: account_id.into(),
        name: name.into(),
        key_type: "ed25519".into(),
        public_key: format!("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAA{n} {name}"),
        fingerprint: format!("SHA256:{n}"),
        tags: vec![],
        created_at: 20,
    }
}

/// A group `sg-<n>` at generation 1 with no rules.
pub fn security_group_record(n: u32, account_id: &str, name: &str) -> SecurityGroupRecord {
    SecurityGroupRecord {
        id: format!("sg-{n:017x}"),
        account_id: account_id.into(),
        name: name.into(),
        description: format!("group {name}"),
        vpc_id: "vpc-00000000000000001".into(),
        ingress: vec![],
        tags: vec![],
        created_at: 30,
        generation: 1,
    }
}

pub fn put_instance(r: &InstanceRecord, expect_generation: Option<i64>) -> Mutation {
    Mutation::Compute(ComputeMutation::PutInstance {
        record: Box::new(r.clone()),
        expect_generation,
    })
}

pub fn put_image(r: &ImageRecord, expect_generation: Option<i64>) -> Mutation {
    Mutation::Compute(ComputeMutation::PutImage {
        record: Box::new(r.clone()),
        expect_generation,
    })
}

pub fn put_security_group(r: &SecurityGroupRecord, expect_generation: Option<i64>) -> Mutation {
    Mutation::Compute(ComputeMutation::PutSecurityGroup {
        record: Box::new(r.clone()),
        expect_generation,
    })
}

fn compute(m: ComputeMutation) -> Mutation {
    Mutation::Compute(m)
}

/// The error of a commit that must fail.
pub(super) async fn commit_err(s: &Arc<dyn MetaStore>, muts: Vec<Mutation>) -> MetaError {
    match s.commit(muts.clone()).await {
        Ok(r) => panic!("commit {muts:?} unexpectedly succeeded: {r:?}"),
        Err(e) => e,
    }
}

fn ids<T>(records: &[T], id: impl Fn(&T) -> &str) -> Vec<String> {
    records.iter().map(|r| id(r).to_owned()).collect()
}

fn instance_ids(v: &[InstanceRecord]) -> Vec<String> {
    ids(v, |r| &r.id)
}

// ---------------------------------------------------------------- instances

/// Every field, including raw (non-UTF-8) user data, survives storage.
pub async fn compute_instance_round_trip(s: Arc<dyn MetaStore>) {
    let c = s.compute();
    assert_eq!(c.instance("i-00000000000000001").await.unwrap(), None);
    assert_eq!(c.instances(None).await.unwrap(), vec![]);
    let r = InstanceRecord {
        reservation_id: "r-0123456789abcdef0".into(),
        launch_index: u32::MAX,
        kernel_id: Some("aki-00000000000000002".into()),
        ramdisk_id: Some("ari-00000000000000003".into()),
        key_name: Some("Zoë's ☁️ key".into()),
        security_group_ids: vec!["sg-00000000000000009".into(), "sg-00000000000000001".into()],
        user_data: Some((0..=255u8).rev().collect()),
        client_token: Some("tok \"quoted\" ' ✓".into()),
        tags: vec![
            ("Name".into(), "web ☁️".into()),
            ("empty".into(), String::new()),
            ("a".into(), "z".into()),
        ],
        shutdown_behavior: "terminate".into(),
        disable_api_termination: true,
        metadata_tokens_required: true,
        metadata_enabled: false,
        state: InstanceState::ShuttingDown,
        state_reason: Some(StateReason {
            code: "Client.UserInitiatedShutdown".into(),
            message: "Client.UserInitiatedShutdown: User initiated shutdown".into(),
        }),
        state_transition_reason: "User initiated (2026-12-03 17:00:00 GMT)".into(),
        pending_action: Some("force-stop".into()),
        accelerator: Some("tcg".into()),
        forwards: vec![
            PortForward {
                guest_port: 22,
                host_port: 40022,
            },
            PortForward {
                guest_port: u16::MAX,
                host_port: 1,
            },
        ],
        launch_time: i64::MAX,
        state_changed_at: i64::MIN,
        metered_from: None,
        generation: i64::MAX - 1,
        ..instance_record(0xabc, A, "10.0.0.5")
    };
    commit_ok(&s, vec![put_instance(&r, None)]).await;
    assert_eq!(c.instance(&r.id).await.unwrap(), Some(r.clone()));
    assert_eq!(c.instances(Some(A)).await.unwrap(), vec![r.clone()]);

    // Each state and each absent option survive too.
    let states = [
        InstanceState::Pending,
        InstanceState::Running,
        InstanceState::Stopping,
        InstanceState::Stopped,
        InstanceState::ShuttingDown,
        InstanceState::Terminated,
    ];
    for (n, state) in (1..).zip(states) {
        let plain = InstanceRecord {
            state,
            user_data: Some(vec![]),
            ..instance_record(n, B, &format!("10.0.1.{n}"))
        };
        commit_ok(&s, vec![put_instance(&plain, None)]).await;
        assert_eq!(c.instance(&plain.id).await.unwrap(), Some(plain));
    }
}

/// Per-account and global lists, ordered by id whatever the insert order.
pub async fn compute_instance_lists(s: Arc<dyn MetaStore>) {
    let c = s.compute();
    let a3 = instance_record(3, A, "10.0.0.3");
    let b2 = instance_record(2, B, "10.0.0.3");
    let a1 = instance_record(1, A, "10.0.0.1");
    let b10 = instance_record(0x10, B, "10.0.0.16");
    commit_ok(&s, vec![put_instance(&a3, None), put_instance(&b2, None)]).await;
    commit_ok(&s, vec![put_instance(&b10, None), put_instance(&a1, None)]).await;
    assert_eq!(
        c.instances(Some(A)).await.unwrap(),
        vec![a1.clone(), a3.clone()]
    );
    assert_eq!(
        c.instances(Some(B)).await.unwrap(),
        vec![b2.clone(), b10.clone()]
    );
    assert_eq!(c.instances(Some("000000000099")).await.unwrap(), vec![]);
    assert_eq!(c.instances(None).await.unwrap(), vec![a1, b2, a3, b10]);
}

/// Writers name the generation they read; the loser of a race learns it.
pub async fn compute_instance_generations(s: Arc<dyn MetaStore>) {
    let c = s.compute();
    let v1 = instance_record(1, A, "10.0.0.1");
    commit_ok(&s, vec![put_instance(&v1, None)]).await;
    // A second insert of the same id conflicts, even with other content.
    let again = InstanceRecord {
        private_ip: "10.0.0.2".into(),
        ..v1.clone()
    };
    let e = commit_err(&s, vec![put_instance(&again, None)]).await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");

    let v2 = InstanceRecord {
        state: InstanceState::Stopping,
        pending_action: Some("stop".into()),
        generation: 2,
        ..v1.clone()
    };
    commit_ok(&s, vec![put_instance(&v2, Some(1))]).await;
    assert_eq!(c.instance(&v1.id).await.unwrap(), Some(v2.clone()));

    // A writer that read generation 1 lost the race; nothing changes.
    let stale = InstanceRecord {
        state: InstanceState::Terminated,
        generation: 3,
        ..v1.clone()
    };
    let e = commit_err(&s, vec![put_instance(&stale, Some(1))]).await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    let e = commit_err(&s, vec![put_instance(&stale, Some(7))]).await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    assert_eq!(c.instance(&v1.id).await.unwrap(), Some(v2.clone()));

    // The new generation must move forward.
    for g in [2, 1, i64::MIN] {
        let same = InstanceRecord {
            generation: g,
            ..v2.clone()
        };
        let e = commit_err(&s, vec![put_instance(&same, Some(2))]).await;
        assert!(matches!(e, MetaError::Invalid(_)), "generation {g}: {e:?}");
    }
    assert_eq!(c.instance(&v1.id).await.unwrap(), Some(v2.clone()));

    // Generations may jump; the next writer names the stored one.
    let v9 = InstanceRecord {
        state: InstanceState::Stopped,
        pending_action: None,
        generation: 9,
        ..v2.clone()
    };
    commit_ok(&s, vec![put_instance(&v9, Some(2))]).await;
    assert_eq!(c.instance(&v1.id).await.unwrap(), Some(v9));

    // Updating what was never stored is NotFound, and stores nothing.
    let ghost = instance_record(2, A, "10.0.0.2");
    let e = commit_err(&s, vec![put_instance(&ghost, Some(1))]).await;
    assert!(matches!(e, MetaError::NotFound(_)), "{e:?}");
    assert_eq!(c.instance(&ghost.id).await.unwrap(), None);

    // Two writes of one record in one commit: the second names the first's.
    let i3 = instance_record(3, A, "10.0.0.3");
    let i3b = InstanceRecord {
        generation: 2,
        state: InstanceState::Stopping,
        ..i3.clone()
    };
    commit_ok(
        &s,
        vec![put_instance(&i3, None), put_instance(&i3b, Some(1))],
    )
    .await;
    assert_eq!(c.instance(&i3.id).await.unwrap(), Some(i3b));
}

/// What the worker must look after: live states and any pending request.
pub async fn compute_active_instances(s: Arc<dyn MetaStore>) {
    let c = s.compute();
    let with = |n: u32, state: InstanceState, action: Option<&str>| InstanceRecord {
        state,
        pending_action: action.map(str::to_owned),
        ..instance_record(n, A, &format!("10.0.0.{n}"))
    };
    let all = [
        with(1, InstanceState::Pending, None),
        with(2, InstanceState::Running, None),
        with(3, InstanceState::Stopping, None),
        with(4, InstanceState::ShuttingDown, None),
        with(5, InstanceState::Stopped, None),
        with(6, InstanceState::Terminated, None),
        with(7, InstanceState::Stopped, Some("start")),
        with(8, InstanceState::Terminated, Some("terminate")),
        with(9, InstanceState::Running, Some("reboot")),
    ];
    commit_ok(&s, all.iter().map(|r| put_instance(r, None)).collect()).await;
    let want = |ns: &[usize]| ns.iter().map(|n| all[n - 1].clone()).collect::<Vec<_>>();
    assert_eq!(
        c.active_instances().await.unwrap(),
        want(&[1, 2, 3, 4, 7, 8, 9])
    );

    // It follows updates both ways.
    let running_done = InstanceRecord {
        state: InstanceState::Stopped,
        generation: 2,
        ..all[1].clone()
    };
    let stopped_asked = InstanceRecord {
        pending_action: Some("start".into()),
        generation: 2,
        ..all[4].clone()
    };
    let start_done = InstanceRecord {
        state: InstanceState::Pending,
        pending_action: None,
        generation: 2,
        ..all[6].clone()
    };
    let terminate_done = InstanceRecord {
        pending_action: None,
        generation: 2,
        ..all[7].clone()
    };
    commit_ok(
        &s,
        vec![
            put_instance(&running_done, Some(1)),
            put_instance(&stopped_asked, Some(1)),
            put_instance(&start_done, Some(1)),
            put_instance(&terminate_done, Some(1)),
        ],
    )
    .await;
    let got = c.active_instances().await.unwrap();
    assert_eq!(
        instance_ids(&got),
        [1, 3, 4, 5, 7, 9].map(|n| format!("i-{n:017x}")).to_vec()
    );
    assert_eq!(got[3], stopped_asked);
    assert_eq!(got[4], start_done);
    // Deleting a record drops it from the worker's view too.
    commit_ok(
        &s,
        vec![compute(ComputeMutation::DeleteInstance {
            id: all[0].id.clone(),
        })],
    )
    .await;
    assert_eq!(c.active_instances().await.unwrap().len(), 5);
}

/// RunInstances' idempotency token: found per account; all instances of one
/// reservation share it, another reservation cannot take it.
pub async fn compute_client_tokens(s: Arc<dyn MetaStore>) {
    let c = s.compute();
    let with = |n: u32, account: &str, reservation: u32, token: Option<&str>| InstanceRecord {
        reservation_id: format!("r-{reservation:017x}"),
        launch_index: n,
        client_token: token.map(str::to_owned),
        ..instance_record(n, account, &format!("10.0.0.{n}"))
    };
    let r1 = [
        with(2, A, 1, Some("tok")),
        with(1, A, 1, Some("tok")),
        with(3, A, 1, Some("tok")),
    ];
    commit_ok(&s, r1.iter().map(|r| put_instance(r, None)).collect()).await;
    let other_account = with(4, B, 2, Some("tok"));
    let other_token = with(5, A, 3, Some("TOK"));
    let none = with(6, A, 4, None);
    commit_ok(
        &s,
        vec![
            put_instance(&other_account, None),
            put_instance(&other_token, None),
            put_instance(&none, None),
        ],
    )
    .await;
    assert_eq!(
        c.instances_by_client_token(A, "tok").await.unwrap(),
        vec![r1[1].clone(), r1[0].clone(), r1[2].clone()]
    );
    assert_eq!(
        c.instances_by_client_token(B, "tok").await.unwrap(),
        vec![other_account]
    );
    assert_eq!(
        c.instances_by_client_token(A, "TOK").await.unwrap(),
        vec![other_token]
    );
    assert_eq!(c.instances_by_client_token(A, "").await.unwrap(), vec![]);
    assert_eq!(c.instances_by_client_token(A, "x").await.unwrap(), vec![]);

    // Another reservation of the account may not reuse the token.
    let thief = with(7, A, 5, Some("tok"));
    let e = commit_err(&s, vec![put_instance(&thief, None)]).await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    let e = commit_err(
        &s,
        vec![put_instance(
            &InstanceRecord {
                client_token: Some("tok".into()),
                generation: 2,
                ..none.clone()
            },
            Some(1),
        )],
    )
    .await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    assert_eq!(
        c.instances_by_client_token(A, "tok").await.unwrap().len(),
        3
    );
    // Updating a holder keeps its token.
    let updated = InstanceRecord {
        state: InstanceState::Stopped,
        generation: 2,
        ..r1[0].clone()
    };
    commit_ok(&s, vec![put_instance(&updated, Some(1))]).await;
    assert_eq!(
        c.instances_by_client_token(A, "tok").await.unwrap()[1],
        updated
    );
}

/// One private address per account among live and stopped instances.
pub async fn compute_private_ip_uniqueness(s: Arc<dyn MetaStore>) {
    let c = s.compute();
    let holder = instance_record(1, A, "10.0.0.7");
    commit_ok(&s, vec![put_instance(&holder, None)]).await;
    let rival = instance_record(2, A, "10.0.0.7");
    let e = commit_err(&s, vec![put_instance(&rival, None)]).await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    // Moving another instance onto it conflicts too.
    let other = instance_record(3, A, "10.0.0.8");
    commit_ok(&s, vec![put_instance(&other, None)]).await;
    let moved = InstanceRecord {
        private_ip: "10.0.0.7".into(),
        generation: 2,
        ..other.clone()
    };
    let e = commit_err(&s, vec![put_instance(&moved, Some(1))]).await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    assert_eq!(c.instance(&other.id).await.unwrap(), Some(other.clone()));
    // Two claims in one commit: the second conflicts and the first is undone.
    let e = commit_err(
        &s,
        vec![
            put_instance(&instance_record(4, A, "10.0.0.9"), None),
            put_instance(&instance_record(5, A, "10.0.0.9"), None),
        ],
    )
    .await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    assert_eq!(c.instances(Some(A)).await.unwrap().len(), 2);

    // Another account has its own network.
    commit_ok(
        &s,
        vec![put_instance(&instance_record(2, B, "10.0.0.7"), None)],
    )
    .await;

    // A stopped instance keeps its address.
    let stopped = InstanceRecord {
        state: InstanceState::Stopped,
        metered_from: None,
        generation: 2,
        ..holder.clone()
    };
    commit_ok(&s, vec![put_instance(&stopped, Some(1))]).await;
    let e = commit_err(
        &s,
        vec![put_instance(&instance_record(6, A, "10.0.0.7"), None)],
    )
    .await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");

    // A terminated one frees it, and a terminated record may share it.
    let gone = InstanceRecord {
        state: InstanceState::Terminated,
        generation: 3,
        ..stopped
    };
    commit_ok(&s, vec![put_instance(&gone, Some(2))]).await;
    let heir = instance_record(6, A, "10.0.0.7");
    commit_ok(&s, vec![put_instance(&heir, None)]).await;
    let also_gone = InstanceRecord {
        state: InstanceState::Terminated,
        ..instance_record(7, A, "10.0.0.7")
    };
    commit_ok(&s, vec![put_instance(&also_gone, None)]).await;
    assert_eq!(
        instance_ids(&c.instances(Some(A)).await.unwrap()),
        instance_ids(&[holder, other, heir, also_gone])
    );
}

pub async fn compute_instance_delete(s: Arc<dyn MetaStore>) {
    let c = s.compute();
    let gone = InstanceRecord {
        state: InstanceState::Terminated,
        client_token: Some("t".into()),
        ..instance_record(1, A, "10.0.0.1")
    };
    let kept = instance_record(2, A, "10.0.0.2");
    commit_ok(
        &s,
        vec![put_instance(&gone, None), put_instance(&kept, None)],
    )
    .await;
    let delete = || {
        compute(ComputeMutation::DeleteInstance {
            id: gone.id.clone(),
        })
    };
    commit_ok(&s, vec![delete()]).await;
    assert_eq!(c.instance(&gone.id).await.unwrap(), None);
    assert_eq!(c.instances(None).await.unwrap(), vec![kept]);
    assert_eq!(c.instances_by_client_token(A, "t").await.unwrap(), vec![]);
    let e = commit_err(&s, vec![delete()]).await;
    assert!(matches!(e, MetaError::NotFound(_)), "{e:?}");
    // The id may be stored anew (a fresh insert, not an update).
    let e = commit_err(&s, vec![put_instance(&gone, Some(1))]).await;
    assert!(matches!(e, MetaError::NotFound(_)), "{e:?}");
    commit_ok(&s, vec![put_instance(&gone, None)]).await;
    assert_eq!(c.instance(&gone.id).await.unwrap(), Some(gone));
}

// ---------------------------------------------------------------- images

pub async fn compute_images(s: Arc<dyn MetaStore>) {
    let c = s.compute();
    assert_eq!(c.images().await.unwrap(), vec![]);
    let machine = ImageRecord {
        description: "Zoë's ☁️ image".into(),
        part: Some(ImagePart {
            bucket: "images".into(),
            key: "disk ☁️.qcow2".into(),
            version_id: Some("v1".into()),
            etag: "\"0123456789abcdef0123456789abcdef\"".into(),
            size: u64::MAX,
        }),
        disk_format: Some("qcow2".into()),
        kernel_id: Some("aki-00000000000000003".into()),
        ramdisk_id: Some("ari-00000000000000004".into()),
        kernel_cmdline: Some("console=ttyS0 quiet".into()),
        public: true,
        launch_accounts: vec![B.into(), "000000000003".into()],
        tags: vec![("k".into(), "v".into())],
        ..image_record(9, A)
    };
    let kernel = ImageRecord {
        id: "aki-00000000000000003".into(),
        image_type: "kernel".into(),
        disk_format: None,
        ..image_record(3, B)
    };
    let ramdisk = ImageRecord {
        id: "ari-00000000000000004".into(),
        image_type: "ramdisk".into(),
        state: "pending".into(),
        ..image_record(4, A)
    };
    commit_ok(
        &s,
        vec![
            put_image(&machine, None),
            put_image(&ramdisk, None),
            put_image(&kernel, None),
        ],
    )
    .await;
    assert_eq!(c.image(&machine.id).await.unwrap(), Some(machine.clone()));
    assert_eq!(c.image("ami-00000000000000077").await.unwrap(), None);
    // Every account's images, by id.
    assert_eq!(
        c.images().await.unwrap(),
        vec![kernel.clone(), machine.clone(), ramdisk.clone()]
    );

    // Generation control as for instances.
    let e = commit_err(&s, vec![put_image(&machine, None)]).await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    let failed = ImageRecord {
        state: "failed".into(),
        generation: 2,
        ..ramdisk.clone()
    };
    commit_ok(&s, vec![put_image(&failed, Some(1))]).await;
    let e = commit_err(&s, vec![put_image(&failed, Some(1))]).await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    let e = commit_err(&s, vec![put_image(&failed, Some(2))]).await;
    assert!(matches!(e, MetaError::Invalid(_)), "{e:?}");
    let e = commit_err(&s, vec![put_image(&image_record(5, A), Some(1))]).await;
    assert!(matches!(e, MetaError::NotFound(_)), "{e:?}");
    assert_eq!(c.image(&ramdisk.id).await.unwrap(), Some(failed));

    let delete = |id: &str| compute(ComputeMutation::DeleteImage { id: id.into() });
    commit_ok(&s, vec![delete(&kernel.id)]).await;
    assert_eq!(c.image(&kernel.id).await.unwrap(), None);
    assert_eq!(c.images().await.unwrap().len(), 2);
    let e = commit_err(&s, vec![delete(&kernel.id)]).await;
    assert!(matches!(e, MetaError::NotFound(_)), "{e:?}");
}

// ---------------------------------------------------------------- key pairs

pub async fn compute_key_pairs(s: Arc<dyn MetaStore>) {
    let c = s.compute();
    let create = |k: &KeyPairRecord| compute(ComputeMutation::CreateKeyPair(k.clone()));
    let zed = KeyPairRecord {
        key_type: "rsa".into(),
        tags: vec![("Name".into(), "☁️".into())],
        ..key_pair_record(1, A, "zed")
    };
    let alpha = key_pair_record(2, A, "alpha");
    let upper = key_pair_record(3, A, "Beta");
    commit_ok(&s, vec![create(&zed), create(&alpha), create(&upper)]).await;
    assert_eq!(c.key_pair(A, "zed").await.unwrap(), Some(zed.clone()));
    assert_eq!(c.key_pair(A, "ZED").await.unwrap(), None);
    assert_eq!(c.key_pair(B, "zed").await.unwrap(), None);
    // By name, in byte order.
    assert_eq!(
        c.key_pairs(A).await.unwrap(),
        vec![upper.clone(), alpha.clone(), zed.clone()]
    );
    assert_eq!(c.key_pairs(B).await.unwrap(), vec![]);

    // A name is the account's once; another account may use it.
    let dup = key_pair_record(4, A, "zed");
    let e = commit_err(&s, vec![create(&dup)]).await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    let dup_id = key_pair_record(1, A, "fresh");
    let e = commit_err(&s, vec![create(&dup_id)]).await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    let theirs = key_pair_record(5, B, "zed");
    commit_ok(&s, vec![create(&theirs)]).await;
    assert_eq!(c.key_pair(B, "zed").await.unwrap(), Some(theirs.clone()));
    assert_eq!(c.key_pair(A, "zed").await.unwrap(), Some(zed.clone()));

    // Tags are replaced whole.
    let tags = vec![("a".into(), "1".into()), ("b".into(), String::new())];
    commit_ok(
        &s,
        vec![compute(ComputeMutation::SetKeyPairTags {
            id: zed.id.clone(),
            tags: tags.clone(),
        })],
    )
    .await;
    assert_eq!(
        c.key_pair(A, "zed").await.unwrap(),
        Some(KeyPairRecord {
            tags,
            ..zed.clone()
        })
    );
    let e = commit_err(
        &s,
        vec![compute(ComputeMutation::SetKeyPairTags {
            id: "key-00000000000000099".into(),
            tags: vec![],
        })],
    )
    .await;
    assert!(matches!(e, MetaError::NotFound(_)), "{e:?}");

    // Deleting frees the name.
    let delete = |id: &str| compute(ComputeMutation::DeleteKeyPair { id: id.into() });
    commit_ok(&s, vec![delete(&zed.id)]).await;
    assert_eq!(c.key_pair(A, "zed").await.unwrap(), None);
    assert_eq!(c.key_pairs(A).await.unwrap(), vec![upper, alpha]);
    let e = commit_err(&s, vec![delete(&zed.id)]).await;
    assert!(matches!(e, MetaError::NotFound(_)), "{e:?}");
    commit_ok(&s, vec![create(&dup)]).await;
    assert_eq!(c.key_pair(A, "zed").await.unwrap(), Some(dup));
}

// ---------------------------------------------------------------- security groups

pub async fn compute_security_groups(s: Arc<dyn MetaStore>) {
    let c = s.compute();
    let web = SecurityGroupRecord {
        ingress: vec![
            IngressRule {
                protocol: "tcp".into(),
                from_port: Some(22),
                to_port: Some(22),
                cidrs: vec!["0.0.0.0/0".into(), "10.1.0.0/16".into()],
                groups: vec![],
            },
            IngressRule {
                protocol: "-1".into(),
                from_port: None,
                to_port: None,
                cidrs: vec![],
                groups: vec!["sg-00000000000000002".into()],
            },
            IngressRule {
                protocol: "icmp".into(),
                from_port: Some(-1),
                to_port: Some(-1),
                cidrs: vec!["192.0.2.0/24".into()],
                groups: vec![],
            },
        ],
        tags: vec![("Name".into(), "web ☁️".into())],
        ..security_group_record(3, A, "web")
    };
    let default = security_group_record(2, A, "default");
    let theirs = security_group_record(1, B, "default");
    commit_ok(
        &s,
        vec![
            put_security_group(&web, None),
            put_security_group(&default, None),
            put_security_group(&theirs, None),
        ],
    )
    .await;
    assert_eq!(c.security_group(&web.id).await.unwrap(), Some(web.clone()));
    assert_eq!(
        c.security_group("sg-00000000000000099").await.unwrap(),
        None
    );
    assert_eq!(
        c.security_groups(A).await.unwrap(),
        vec![default.clone(), web.clone()]
    );
    assert_eq!(c.security_groups(B).await.unwrap(), vec![theirs.clone()]);

    // Names are unique per account, on insert and on rename.
    let dup = security_group_record(4, A, "web");
    let e = commit_err(&s, vec![put_security_group(&dup, None)]).await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    let onto_web = SecurityGroupRecord {
        name: "web".into(),
        generation: 2,
        ..default.clone()
    };
    let e = commit_err(&s, vec![put_security_group(&onto_web, Some(1))]).await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    assert_eq!(
        c.security_groups(A).await.unwrap(),
        vec![default.clone(), web.clone()],
        "a refused rename must leave both groups alone"
    );
    let renamed = SecurityGroupRecord {
        name: "web-old".into(),
        generation: 2,
        ..web.clone()
    };
    commit_ok(&s, vec![put_security_group(&renamed, Some(1))]).await;
    // The old name is free again.
    commit_ok(&s, vec![put_security_group(&dup, None)]).await;
    assert_eq!(
        c.security_groups(A).await.unwrap(),
        vec![default.clone(), renamed.clone(), dup.clone()]
    );

    // Generation control.
    let stale = SecurityGroupRecord {
        description: "stale".into(),
        generation: 3,
        ..renamed.clone()
    };
    let e = commit_err(&s, vec![put_security_group(&stale, Some(1))]).await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    let e = commit_err(&s, vec![put_security_group(&renamed, Some(2))]).await;
    assert!(matches!(e, MetaError::Invalid(_)), "{e:?}");
    let e = commit_err(
        &s,
        vec![put_security_group(
            &security_group_record(9, A, "nine"),
            Some(1),
        )],
    )
    .await;
    assert!(matches!(e, MetaError::NotFound(_)), "{e:?}");
    let e = commit_err(&s, vec![put_security_group(&renamed, None)]).await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    assert_eq!(
        c.security_group(&web.id).await.unwrap(),
        Some(renamed.clone())
    );

    let delete = |id: &str| compute(ComputeMutation::DeleteSecurityGroup { id: id.into() });
    commit_ok(&s, vec![delete(&renamed.id)]).await;
    assert_eq!(c.security_group(&renamed.id).await.unwrap(), None);
    assert_eq!(c.security_groups(A).await.unwrap(), vec![default, dup]);
    assert_eq!(c.security_groups(B).await.unwrap(), vec![theirs]);
    let e = commit_err(&s, vec![delete(&renamed.id)]).await;
    assert!(matches!(e, MetaError::NotFound(_)), "{e:?}");
}

// ---------------------------------------------------------------- atomicity

fn instance_hours(key: &str) -> UsageEvent {
    UsageEvent {
        service: "ec2".into(),
        meter: "instance.seconds".into(),
        quantity: 3600,
        unit: "seconds".into(),
        ..usage_event(A, 5_000, key)
    }
}

/// A state change, its usage event and its delivery land together or not at
/// all: a worker retrying a transition after a crash meters it exactly once.
pub async fn compute_commit_is_atomic_with_usage_and_delivery(s: Arc<dyn MetaStore>) {
    let c = s.compute();
    commit_ok(
        &s,
        vec![
            Mutation::CreateAccount(account(1, "alice", 1)),
            Mutation::PutTopic(topic(A, "events", "http://127.0.0.1:9/hook")),
        ],
    )
    .await;
    let running = instance_record(1, A, "10.0.0.1");
    let neighbour = instance_record(2, A, "10.0.0.2");
    commit_ok(
        &s,
        vec![put_instance(&running, None), put_instance(&neighbour, None)],
    )
    .await;
    let stopped = InstanceRecord {
        state: InstanceState::Stopped,
        metered_from: None,
        generation: 2,
        ..running.clone()
    };
    let transition = |change: Mutation| {
        vec![
            Mutation::RecordUsage(instance_hours("i-1/run-1")),
            delivery(A, "events", b"stopped", 5_000),
            change,
        ]
    };
    let failures = [
        // The generation moved (another writer won).
        put_instance(&stopped, Some(7)),
        // A new generation that does not move forward.
        put_instance(
            &InstanceRecord {
                generation: 1,
                ..stopped.clone()
            },
            Some(1),
        ),
        // The record is gone.
        put_instance(&instance_record(3, A, "10.0.0.3"), Some(1)),
        // The address is taken.
        put_instance(
            &InstanceRecord {
                private_ip: neighbour.private_ip.clone(),
                ..stopped.clone()
            },
            Some(1),
        ),
        compute(ComputeMutation::DeleteInstance {
            id: "i-00000000000000077".into(),
        }),
    ];
    for change in failures {
        let r = s.commit(transition(change.clone())).await;
        assert!(r.is_err(), "commit ending in {change:?} must fail");
        // The compute mutation may also come first: same outcome.
        let mut first = transition(change.clone());
        first.rotate_right(1);
        let r = s.commit(first).await;
        assert!(r.is_err(), "commit starting with {change:?} must fail");
        assert_eq!(all_usage(&s).await, vec![]);
        assert_eq!(s.due_deliveries(i64::MAX, 10).await.unwrap(), vec![]);
        assert_eq!(
            c.instance(&running.id).await.unwrap(),
            Some(running.clone())
        );
    }

    assert_eq!(
        commit_ok(&s, transition(put_instance(&stopped, Some(1)))).await,
        CommitReceipt::default()
    );
    assert_eq!(
        c.instance(&running.id).await.unwrap(),
        Some(stopped.clone())
    );
    let usage = all_usage(&s).await;
    assert_eq!(usage.len(), 1);
    assert_eq!(usage[0].event, instance_hours("i-1/run-1"));
    let due = s.due_deliveries(i64::MAX, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].payload, b"stopped");

    // Replaying the same transition (a crash before the worker saw `Ok`)
    // fails on the generation: no second event, no second delivery.
    let e = commit_err(&s, transition(put_instance(&stopped, Some(1)))).await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    assert_eq!(all_usage(&s).await.len(), 1);
    assert_eq!(s.due_deliveries(i64::MAX, 10).await.unwrap().len(), 1);
}

/// Failing compute mutations batched with other callers' commits fail alone.
pub async fn compute_concurrent_failures_are_isolated(s: Arc<dyn MetaStore>) {
    let taken = instance_record(999, A, "10.0.9.9");
    commit_ok(&s, vec![put_instance(&taken, None)]).await;
    let odd_taken = taken.clone();
    odd_callers_conflict_alone(&s, move |i| {
        let record = if i % 2 == 0 {
            instance_record(i, A, &format!("10.0.0.{i}"))
        } else {
            // Odd callers insert an id that exists.
            InstanceRecord {
                private_ip: format!("10.0.0.{i}"),
                ..odd_taken.clone()
            }
        };
        put_instance(&record, None)
    })
    .await;
    let c = s.compute();
    assert_eq!(c.instances(Some(A)).await.unwrap().len(), 51);
    assert_eq!(c.instance(&taken.id).await.unwrap(), Some(taken));
}

// ---------------------------------------------------------------- validation

/// Malformed ids, owners, names and addresses are `Invalid` before any
/// backend work: nothing else in the commit lands.
pub async fn compute_invalid_mutations_rejected(s: Arc<dyn MetaStore>) {
    let good = put_instance(&instance_record(1, A, "10.0.0.1"), None);
    let inst = |id: &str, ip: &str| {
        put_instance(
            &InstanceRecord {
                id: id.into(),
                ..instance_record(2, A, ip)
            },
            None,
        )
    };
    let mut bad = vec![];
    for id in ["x-123", "i-", "i-zz", "i", "", "i-12 3", "ami-1", "i--1"] {
        bad.push(inst(id, "10.0.0.2"));
        bad.push(compute(ComputeMutation::DeleteInstance { id: id.into() }));
    }
    for ip in [
        "10.0.0.256",
        "",
        "fe80::1",
        "10.0.0",
        "10.0.0.2/24",
        " 10.0.0.2",
    ] {
        bad.push(inst("i-00000000000000002", ip));
    }
    bad.push(put_instance(&instance_record(2, "", "10.0.0.2"), None));
    for id in ["i-00000000000000001", "ami-", "ami-xyz", "sg-1"] {
        bad.push(put_image(
            &ImageRecord {
                id: id.into(),
                ..image_record(1, A)
            },
            None,
        ));
        bad.push(compute(ComputeMutation::DeleteImage { id: id.into() }));
    }
    bad.push(put_image(&image_record(1, ""), None));
    bad.push(compute(ComputeMutation::CreateKeyPair(key_pair_record(
        1, A, "",
    ))));
    bad.push(compute(ComputeMutation::CreateKeyPair(key_pair_record(
        1, "", "k",
    ))));
    for id in ["key-", "kp-1", "key-g"] {
        bad.push(compute(ComputeMutation::CreateKeyPair(KeyPairRecord {
            id: id.into(),
            ..key_pair_record(1, A, "k")
        })));
        bad.push(compute(ComputeMutation::SetKeyPairTags {
            id: id.into(),
            tags: vec![],
        }));
        bad.push(compute(ComputeMutation::DeleteKeyPair { id: id.into() }));
    }
    bad.push(put_security_group(&security_group_record(1, A, ""), None));
    bad.push(put_security_group(&security_group_record(1, "", "g"), None));
    for id in ["sg-", "sg-x", "i-00000000000000001"] {
        bad.push(put_security_group(
            &SecurityGroupRecord {
                id: id.into(),
                ..security_group_record(1, A, "g")
            },
            None,
        ));
        bad.push(compute(ComputeMutation::DeleteSecurityGroup {
            id: id.into(),
        }));
    }
    for m in bad {
        let r = s.commit(vec![good.clone(), m.clone()]).await;
        assert!(matches!(r, Err(MetaError::Invalid(_))), "{m:?}: {r:?}");
    }
    let c = s.compute();
    assert_eq!(c.instances(None).await.unwrap(), vec![]);
    assert_eq!(c.images().await.unwrap(), vec![]);
    assert_eq!(c.key_pairs(A).await.unwrap(), vec![]);
    assert_eq!(c.security_groups(A).await.unwrap(), vec![]);
}
