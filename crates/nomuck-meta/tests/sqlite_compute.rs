//! Compute's conformance cases on SQLite, plus durability across reopen.

use std::sync::Arc;

use nomuck_meta::compute::{ComputeMutation, InstanceRecord, InstanceState};
use nomuck_meta::conformance::{
    Fixture, image_record, instance_record, key_pair_record, put_image, put_instance,
    put_security_group, security_group_record,
};
use nomuck_meta::{MetaStore, Mutation, SqliteMetaStore};

mod conformance {
    use super::*;

    nomuck_meta::compute_conformance_tests!(async || {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteMetaStore::open(dir.path().join("meta.db")).unwrap();
        Fixture::with_guard(Arc::new(store), dir)
    });
}

const A: &str = "000000000001";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compute_records_survive_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let inst = InstanceRecord {
        user_data: Some(vec![0, 0xff, b'\n']),
        pending_action: Some("stop".into()),
        client_token: Some("tok".into()),
        ..instance_record(1, A, "10.0.0.1")
    };
    let image = image_record(2, A);
    let key = key_pair_record(3, A, "k");
    let group = security_group_record(4, A, "g");
    {
        let store = SqliteMetaStore::open(&path).unwrap();
        store
            .commit(vec![
                put_instance(&inst, None),
                put_image(&image, None),
                Mutation::Compute(ComputeMutation::CreateKeyPair(key.clone())),
                put_security_group(&group, None),
            ])
            .await
            .unwrap();
        store.close().unwrap();
    }
    let store = SqliteMetaStore::open(&path).unwrap();
    let c = store.compute();
    assert_eq!(c.instance(&inst.id).await.unwrap(), Some(inst.clone()));
    assert_eq!(c.active_instances().await.unwrap(), vec![inst.clone()]);
    assert_eq!(
        c.instances_by_client_token(A, "tok").await.unwrap(),
        vec![inst.clone()]
    );
    assert_eq!(c.image(&image.id).await.unwrap(), Some(image));
    assert_eq!(c.key_pair(A, "k").await.unwrap(), Some(key));
    assert_eq!(c.security_group(&group.id).await.unwrap(), Some(group));

    // Generation control and the address index carry on after reopen.
    let stopped = InstanceRecord {
        state: InstanceState::Stopped,
        pending_action: None,
        generation: 2,
        ..inst.clone()
    };
    assert!(
        store
            .commit(vec![put_instance(&stopped, None)])
            .await
            .is_err()
    );
    store
        .commit(vec![put_instance(&stopped, Some(1))])
        .await
        .unwrap();
    assert!(
        store
            .commit(vec![put_instance(&instance_record(5, A, "10.0.0.1"), None)])
            .await
            .is_err(),
        "a stopped instance keeps its address across reopen"
    );
    assert_eq!(c.active_instances().await.unwrap(), vec![]);
}
