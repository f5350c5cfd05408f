//! Rebuilding an account's [`Book`] from the store: at first use after a
//! start, and after a failed commit.

use nomuck_ledger::{Bucket, Entry, Ledger, Movement, Reason};
use nomuck_meta::MetaStore;
use nomuck_meta::fulfillment::LedgerEntryRecord;

use crate::book::Book;
use crate::error::{FulfillmentError, Result};
use crate::record::{Record, decode};

const PAGE: usize = 10_000;

pub(crate) async fn book(store: &dyn MetaStore, account_id: &str) -> Result<Book> {
    let f = store.fulfillment();
    let mut book = Book::new(account_id);
    let mut after: Option<String> = None;
    loop {
        let page = f.items(account_id, after.as_deref(), PAGE).await?;
        let done = page.len() < PAGE;
        for item in page {
            after = Some(item.seller_sku.clone());
            book.fn_skus
                .insert(item.fn_sku.clone(), item.seller_sku.clone());
            book.items.insert(item.seller_sku.clone(), item);
        }
        if done {
            break;
        }
    }
    let mut entries = Vec::new();
    let mut seq = 0;
    loop {
        let page = f.ledger_after(account_id, seq, PAGE).await?;
        let done = page.len() < PAGE;
        for r in page {
            seq = r.seq;
            entries.push(entry(r)?);
        }
        if done {
            break;
        }
    }
    book.ledger = Ledger::replay(entries)?;
    book.inbound = records(store, account_id).await?;
    book.bins = records(store, account_id).await?;
    book.orders = records(store, account_id).await?;
    book.returns = records(store, account_id).await?;
    book.storage = records::<crate::storage_fees::StorageCursor, Vec<_>>(store, account_id)
        .await?
        .into_iter()
        .map(|(_, cursor)| cursor)
        .next();
    book.packages = book
        .orders
        .values()
        .flat_map(|o| o.package_numbers().map(|p| (p, o.id().to_owned())))
        .collect();
    book.pack_keys = book
        .orders
        .values()
        .flat_map(|o| &o.shipments)
        .flat_map(|s| {
            s.packages.iter().filter_map(|p| {
                let key = p.key.as_ref()?;
                let id = crate::stock::center_key(&s.fulfillment_center_id, &key.key);
                Some((id, p.package_number))
            })
        })
        .collect();
    book.put_aways = records(store, account_id).await?;
    book.event_head = f.event_head(account_id).await?;
    Ok(book)
}

async fn records<R: Record, C: FromIterator<(String, R)>>(
    store: &dyn MetaStore,
    account_id: &str,
) -> Result<C> {
    let mut out = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = store
            .fulfillment()
            .docs(account_id, R::KIND, after.as_deref(), false, PAGE)
            .await?;
        let done = page.len() < PAGE;
        for doc in page {
            after = Some(doc.id.clone());
            out.push((doc.id.clone(), decode::<R>(&doc)?));
        }
        if done {
            break;
        }
    }
    Ok(out.into_iter().collect())
}

fn bucket(name: &Option<String>) -> Result<Option<Bucket>> {
    name.as_deref()
        .map(|n| {
            Bucket::from_name(n).ok_or_else(|| {
                FulfillmentError::Internal(format!("stored bucket {n:?} is unknown"))
            })
        })
        .transpose()
}

fn entry(r: LedgerEntryRecord) -> Result<Entry> {
    let m = r.movement;
    Ok(Entry {
        seq: u64::try_from(r.seq).map_err(|_| FulfillmentError::Internal("negative seq".into()))?,
        at: r.at,
        movement: Movement {
            from: bucket(&m.from_bucket)?,
            to: bucket(&m.to_bucket)?,
            quantity: u64::try_from(m.quantity)
                .map_err(|_| FulfillmentError::Internal("negative quantity".into()))?,
            reason: Reason::from_name(&m.reason).ok_or_else(|| {
                FulfillmentError::Internal(format!("stored reason {:?} is unknown", m.reason))
            })?,
            sku: m.fn_sku,
            center: m.center_id,
            reference: m.reference,
            idempotency_key: m.idempotency_key,
        },
    })
}
