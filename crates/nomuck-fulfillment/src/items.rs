//! The seller's SKUs: sellerSku → fnSku, minted once per (account, SKU).
//!
//! The fnSku is what a center scans and what the ledger is keyed by, so it is
//! fixed forever once minted and unique across accounts. It is derived from
//! a hash of (account, sellerSku) so that two racing registrations of the
//! same SKU mint the same value; a salt is bumped only if another item
//! already holds the candidate (checked against the store, which also refuses
//! a duplicate fnSku at commit).

use std::collections::{BTreeMap, BTreeSet};

use nomuck_meta::fulfillment::ItemDimensions;
use serde_json::json;

use crate::book::{Book, Tx};
use crate::error::{FulfillmentError, Result};
use crate::{Fulfillment, events};

/// A registered SKU, as the store keeps it.
pub type Item = nomuck_meta::fulfillment::ItemRecord;

/// The longest seller SKU: Amazon's listings limit SKUs to 40 characters.
pub const MAX_SELLER_SKU_CHARS: usize = 40;

/// What a seller says about a SKU (`PUT /fws/v1/items/{sellerSku}`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ItemSpec {
    pub dimensions: Option<ItemDimensions>,
    /// Weight of one unit in milligrams.
    pub weight_mg: Option<i64>,
    pub tracks_lots: bool,
    pub tracks_expiry: bool,
}

/// Refuses an empty, over-long or control-character seller SKU.
pub fn check_seller_sku(field: &str, sku: &str) -> Result<()> {
    let chars = sku.chars().count();
    if chars == 0 || chars > MAX_SELLER_SKU_CHARS {
        return Err(FulfillmentError::invalid(
            field,
            format!("a seller SKU has 1 to {MAX_SELLER_SKU_CHARS} characters, not {chars}"),
        ));
    }
    if sku.chars().any(char::is_control) {
        return Err(FulfillmentError::invalid(
            field,
            "a seller SKU has no control characters",
        ));
    }
    Ok(())
}

fn check_spec(spec: &ItemSpec) -> Result<()> {
    if let Some(d) = spec.dimensions {
        for (name, v) in [
            ("length", d.length_um),
            ("width", d.width_um),
            ("height", d.height_um),
        ] {
            if v <= 0 {
                return Err(FulfillmentError::invalid(
                    format!("dimensions.{name}"),
                    "must be positive",
                ));
            }
        }
    }
    if spec.weight_mg.is_some_and(|w| w <= 0) {
        return Err(FulfillmentError::invalid("weight", "must be positive"));
    }
    Ok(())
}

/// 64-bit FNV-1a: small, stable across releases and platforms (std's
/// hasher is neither), which a stored identifier needs.
pub(crate) fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.iter().chain(&[0xff]) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// The candidate fnSku for (account, sku) with `salt`: `X00` and 7 base-36
/// characters, the shape of Amazon's own fnSkus.
fn fn_sku_candidate(account_id: &str, sku: &str, salt: u32) -> String {
    const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let mut n = fnv1a(&[account_id.as_bytes(), sku.as_bytes(), &salt.to_be_bytes()]);
    let mut out = [b'0'; 7];
    for slot in out.iter_mut().rev() {
        *slot = DIGITS.get((n % 36) as usize).copied().unwrap_or(b'0');
        n /= 36;
    }
    format!("X00{}", String::from_utf8_lossy(&out))
}

/// Registers `seller_sku` without dimensions unless it exists: for SKUs first
/// named in an inbound shipment. `minted` holds the fnSku chosen before the
/// write (see [`Fulfillment::mint_fn_skus`]).
pub(crate) fn ensure_item(
    book: &mut Book,
    tx: &mut Tx,
    seller_sku: &str,
    minted: &BTreeMap<String, String>,
) -> Result<String> {
    if let Some(item) = book.items.get(seller_sku) {
        return Ok(item.fn_sku.clone());
    }
    let fn_sku = minted
        .get(seller_sku)
        .cloned()
        .ok_or_else(|| FulfillmentError::Internal(format!("no fnSku minted for {seller_sku}")))?;
    let item = Item {
        account_id: book.account_id.clone(),
        seller_sku: seller_sku.to_owned(),
        fn_sku: fn_sku.clone(),
        dimensions: None,
        weight_mg: None,
        tracks_lots: false,
        tracks_expiry: false,
        created_at: tx.now,
        generation: 1,
    };
    put(book, tx, item, None);
    Ok(fn_sku)
}

fn put(book: &mut Book, tx: &mut Tx, item: Item, expect_generation: Option<i64>) {
    tx.event(events::ITEM_REGISTERED, &item.seller_sku, item_json(&item));
    book.fn_skus
        .insert(item.fn_sku.clone(), item.seller_sku.clone());
    book.items.insert(item.seller_sku.clone(), item.clone());
    tx.save_item(item, expect_generation);
}

/// The native JSON of an item (events; the API crate has its own shape).
pub fn item_json(item: &Item) -> serde_json::Value {
    json!({
        "sellerSku": item.seller_sku,
        "fnSku": item.fn_sku,
        "dimensions": item.dimensions.map(|d| json!({
            "lengthUm": d.length_um, "widthUm": d.width_um, "heightUm": d.height_um,
        })),
        "weightMg": item.weight_mg,
        "tracksLots": item.tracks_lots,
        "tracksExpiry": item.tracks_expiry,
    })
}

impl Fulfillment {
    /// Chooses an fnSku for each of `skus` the account has not registered:
    /// the first candidate no other item holds. Read before the write because
    /// the store is async and the writer's closure is not.
    pub(crate) async fn mint_fn_skus(
        &self,
        account_id: &str,
        skus: &BTreeSet<String>,
    ) -> Result<BTreeMap<String, String>> {
        let known: BTreeSet<String> = self
            .read(account_id, |b| {
                skus.iter()
                    .filter(|s| b.items.contains_key(*s))
                    .cloned()
                    .collect()
            })
            .await?;
        let mut out = BTreeMap::new();
        for sku in skus.iter().filter(|s| !known.contains(*s)) {
            let mut salt = 0u32;
            loop {
                let candidate = fn_sku_candidate(account_id, sku, salt);
                let holder = self
                    .store()
                    .fulfillment()
                    .item_by_fn_sku(&candidate)
                    .await?;
                if holder.is_none_or(|h| h.account_id == account_id && h.seller_sku == *sku)
                    && !out.values().any(|v| *v == candidate)
                {
                    out.insert(sku.clone(), candidate);
                    break;
                }
                salt = salt
                    .checked_add(1)
                    .ok_or_else(|| FulfillmentError::Internal("fnSku space exhausted".into()))?;
            }
        }
        Ok(out)
    }

    /// Creates or updates the SKU (PUT semantics). The fnSku is minted on
    /// creation and never changes.
    pub async fn register_item(
        &self,
        account_id: &str,
        seller_sku: &str,
        spec: ItemSpec,
    ) -> Result<Item> {
        check_seller_sku("sellerSku", seller_sku)?;
        check_spec(&spec)?;
        let minted = self
            .mint_fn_skus(account_id, &BTreeSet::from([seller_sku.to_owned()]))
            .await?;
        let seller_sku = seller_sku.to_owned();
        self.write(account_id, move |book, tx| {
            let existing = book.items.get(&seller_sku).cloned();
            let item = match &existing {
                Some(old) => Item {
                    dimensions: spec.dimensions,
                    weight_mg: spec.weight_mg,
                    tracks_lots: spec.tracks_lots,
                    tracks_expiry: spec.tracks_expiry,
                    generation: old.generation + 1,
                    ..old.clone()
                },
                None => Item {
                    account_id: book.account_id.clone(),
                    seller_sku: seller_sku.clone(),
                    fn_sku: minted.get(&seller_sku).cloned().ok_or_else(|| {
                        FulfillmentError::Internal(format!("no fnSku minted for {seller_sku}"))
                    })?,
                    dimensions: spec.dimensions,
                    weight_mg: spec.weight_mg,
                    tracks_lots: spec.tracks_lots,
                    tracks_expiry: spec.tracks_expiry,
                    created_at: tx.now,
                    generation: 1,
                },
            };
            // A PUT that changes nothing writes nothing: retries are free.
            if let Some(old) = existing {
                let unchanged = Item {
                    generation: old.generation,
                    ..item.clone()
                } == old;
                if unchanged {
                    return Ok(old);
                }
                put(book, tx, item.clone(), Some(old.generation));
            } else {
                put(book, tx, item.clone(), None);
            }
            Ok(item)
        })
        .await
    }

    pub async fn item(&self, account_id: &str, seller_sku: &str) -> Result<Item> {
        self.read(account_id, |b| b.items.get(seller_sku).cloned())
            .await?
            .ok_or_else(|| FulfillmentError::NotFound(format!("item {seller_sku:?}")))
    }

    /// The account's items with a seller SKU after `after`, in byte order.
    pub async fn items(
        &self,
        account_id: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Item>> {
        self.read(account_id, |b| {
            let range = match after {
                Some(a) => b
                    .items
                    .range::<str, _>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded)),
                None => b.items.range::<str, _>(..),
            };
            range.take(limit).map(|(_, i)| i.clone()).collect()
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fn_sku_shape_is_stable() {
        let a = fn_sku_candidate("000000000001", "SKU-1", 0);
        assert_eq!(a, fn_sku_candidate("000000000001", "SKU-1", 0));
        assert_eq!(a.len(), 10);
        assert!(a.starts_with("X00"));
        assert_ne!(a, fn_sku_candidate("000000000002", "SKU-1", 0));
        assert_ne!(a, fn_sku_candidate("000000000001", "SKU-1", 1));
    }

    #[test]
    fn seller_sku_limits() {
        assert!(check_seller_sku("s", "a").is_ok());
        assert!(check_seller_sku("s", &"é".repeat(40)).is_ok());
        assert!(check_seller_sku("s", &"a".repeat(41)).is_err());
        assert!(check_seller_sku("s", "").is_err());
        assert!(check_seller_sku("s", "a\nb").is_err());
    }
}
