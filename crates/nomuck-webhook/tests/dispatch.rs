//! Topics and deliveries on SQLite, against a real HTTP endpoint on loopback.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use nomuck_iam::{Iam, SecretSealer};
use nomuck_meta::events::NewDelivery;
use nomuck_meta::{MetaStore, Mutation, SqliteMetaStore};
use nomuck_webhook::{DeliveryReport, DispatchOptions, Dispatcher, Topics, WebhookError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A receiver answering with the given statuses in turn (then 200), keeping
/// each request's headers and body.
async fn receiver(statuses: Vec<u16>) -> (String, Arc<Mutex<Vec<(String, Vec<u8>)>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        let mut statuses = statuses.into_iter();
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let (head, body) = loop {
                let mut chunk = [0u8; 4096];
                let n = sock.read(&mut chunk).await.unwrap();
                buf.extend_from_slice(&chunk[..n]);
                let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .map_or(0, |v| v.trim().parse().unwrap());
                if buf.len() >= end + 4 + len {
                    break (head, buf[end + 4..end + 4 + len].to_vec());
                }
            };
            log.lock().unwrap().push((head, body));
            let status = statuses.next().unwrap_or(200);
            let reply =
                format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            sock.write_all(reply.as_bytes()).await.unwrap();
        }
    });
    (url, seen)
}

async fn setup() -> (tempfile::TempDir, Arc<dyn MetaStore>, Arc<Topics>, String) {
    let dir = tempfile::tempdir().unwrap();
    let meta: Arc<dyn MetaStore> =
        Arc::new(SqliteMetaStore::open(dir.path().join("meta.db")).unwrap());
    let iam = Arc::new(Iam::new(
        Arc::clone(&meta),
        &SecretSealer::generate_master_key(),
    ));
    let account = iam.create_account("dev", false).await.unwrap();
    let topics = Arc::new(Topics::new(Arc::clone(&meta), iam, "us-east-1"));
    (dir, meta, topics, account.id)
}

fn fast() -> DispatchOptions {
    DispatchOptions {
        first_retry: Duration::from_millis(50),
        max_attempts: 3,
        timeout: Duration::from_secs(5),
        ..DispatchOptions::default()
    }
}

async fn enqueue(meta: &Arc<dyn MetaStore>, account: &str, topic: &str, payload: &[u8]) {
    meta.commit(vec![Mutation::EnqueueDelivery(NewDelivery {
        account_id: account.into(),
        topic: topic.into(),
        payload: payload.to_vec(),
        at: nomuck_iam::now_millis(),
    })])
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_are_signed_and_retried_until_accepted() {
    let (_dir, meta, topics, account) = setup().await;
    let (url, seen) = receiver(vec![503]).await;
    let topic = topics
        .create(&account, "uploads", vec![("push-endpoint".into(), url)])
        .await
        .unwrap();
    assert_eq!(
        topic.arn,
        format!("arn:aws:sns:us-east-1:{account}:uploads")
    );
    // Creating again keeps the secret.
    let again = topics
        .create(
            &account,
            "uploads",
            topic
                .attributes
                .iter()
                .cloned()
                .chain([("push-endpoint".to_string(), topic.push_endpoint.clone())])
                .collect(),
        )
        .await
        .unwrap();
    assert_eq!(again.signing_secret, topic.signing_secret);

    let dispatcher = Dispatcher::new(Arc::clone(&meta), Arc::clone(&topics), fast());
    enqueue(&meta, &account, "uploads", b"{\"n\":1}").await;
    let first = dispatcher.deliver_due_now().await.unwrap();
    assert_eq!(
        first,
        DeliveryReport {
            retried: 1,
            ..DeliveryReport::default()
        }
    );
    tokio::time::sleep(Duration::from_millis(80)).await;
    let second = dispatcher.deliver_due_now().await.unwrap();
    assert_eq!(
        second,
        DeliveryReport {
            delivered: 1,
            ..DeliveryReport::default()
        }
    );
    assert_eq!(
        dispatcher.deliver_due_now().await.unwrap(),
        DeliveryReport::default()
    );

    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 2);
    for (head, body) in &seen {
        assert_eq!(body, b"{\"n\":1}");
        let sig = head
            .lines()
            .find_map(|l| l.strip_prefix("x-nomuck-signature: "))
            .unwrap();
        assert!(nomuck_webhook::verify(&topic.signing_secret, sig, body));
        assert!(head.contains(&format!("x-nomuck-topic-arn: {}", topic.arn.to_lowercase())));
    }
    // The same delivery id on the retry, so receivers can deduplicate.
    let id = |h: &str| {
        h.lines()
            .find(|l| l.starts_with("x-nomuck-delivery"))
            .unwrap()
            .to_owned()
    };
    assert_eq!(id(&seen[0].0), id(&seen[1].0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_endpoint_is_given_up_and_topics_are_private() {
    let (_dir, meta, topics, account) = setup().await;
    // Nothing listens on this port once the listener is dropped.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let topic = topics
        .create(
            &account,
            "dead",
            vec![("push-endpoint".into(), format!("http://127.0.0.1:{port}/"))],
        )
        .await
        .unwrap();
    let dispatcher = Dispatcher::new(Arc::clone(&meta), Arc::clone(&topics), fast());
    enqueue(&meta, &account, "dead", b"x").await;
    let mut total = DeliveryReport::default();
    for _ in 0..20 {
        let r = dispatcher.deliver_due_now().await.unwrap();
        total.retried += r.retried;
        total.gave_up += r.gave_up;
        if total.gave_up == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    assert_eq!((total.retried, total.gave_up), (2, 1));

    assert!(matches!(
        topics.get("999999999999", &topic.arn).await,
        Err(WebhookError::Forbidden(_))
    ));
    let no_such = topic.arn.replace(":dead", ":none");
    assert!(matches!(
        topics.get(&account, &no_such).await,
        Err(WebhookError::NotFound(_))
    ));
    // A topic may exist without an endpoint (it then takes no deliveries).
    let quiet = topics.create(&account, "quiet", vec![]).await.unwrap();
    assert_eq!(quiet.push_endpoint, "");
    assert!(matches!(
        topics
            .create(
                &account,
                "bad name",
                vec![("push-endpoint".into(), "http://x/".into())]
            )
            .await,
        Err(WebhookError::InvalidParameter(_))
    ));
    assert!(matches!(
        topics
            .create(
                &account,
                "tls",
                vec![("push-endpoint".into(), "https://x/".into())]
            )
            .await,
        Err(WebhookError::InvalidParameter(_))
    ));
    topics.delete(&account, &topic.arn).await.unwrap();
    topics.delete(&account, &quiet.arn).await.unwrap();
    assert!(topics.list(&account).await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_notified_dispatcher_delivers_without_waiting_for_its_poll() {
    let (_dir, meta, topics, account) = setup().await;
    let (url, seen) = receiver(vec![]).await;
    topics
        .create(&account, "fast", vec![("push-endpoint".into(), url)])
        .await
        .unwrap();
    let dispatcher = Dispatcher::new(
        Arc::clone(&meta),
        Arc::clone(&topics),
        DispatchOptions {
            interval: Duration::from_secs(3600),
            ..fast()
        },
    );
    let queued = Arc::new(tokio::sync::Notify::new());
    let task = dispatcher.start(Arc::clone(&queued));
    // The first tick fires at once; let it pass with nothing queued.
    tokio::time::sleep(Duration::from_millis(100)).await;
    enqueue(&meta, &account, "fast", b"now").await;
    queued.notify_one();
    let started = std::time::Instant::now();
    while seen.lock().unwrap().is_empty() && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert!(started.elapsed() < Duration::from_secs(5));
    task.abort();
}
