//! Budgets' part of the persistence seam: an account's budgets and which of
//! their alerts have gone out, with their own trait ([`BudgetStore`], reached
//! through [`crate::MetaStore::budgets`]), their own mutations
//! ([`BudgetMutation`], committed through [`crate::MetaStore::commit`] so that
//! an alert's "sent" mark and its delivery (`EnqueueDelivery`) share one
//! transaction), their own migration and their own conformance cases.
//!
//! A budget is stored whole as the Budgets API's own serialization: the store
//! keys it by `(account, name)` and compares generations, but never looks
//! inside `body`.
//!
//! **Alerts.** An alert is one notification of one budget crossing its
//! threshold in one budget period. Recording the same alert twice is a
//! `Conflict` and the whole commit applies nothing, so an evaluator that
//! commits the mark with the delivery sends each crossing once, even if two
//! evaluators race or one retries after a crash.

use serde::{Deserialize, Serialize};

use crate::model::{check_account_id, non_empty};
use crate::{MetaError, Millis};

/// A budget as the API serialized it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BudgetRecord {
    pub account_id: String,
    /// Unique per account.
    pub name: String,
    pub created_at: Millis,
    pub updated_at: Millis,
    pub generation: i64,
    pub body: Vec<u8>,
}

/// One notification of a budget that went out for one period.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BudgetAlertRecord {
    pub account_id: String,
    pub budget_name: String,
    /// Which notification (the API's key for it: type, operator, threshold).
    pub notification: String,
    /// Which budget period (`2026-12` for a monthly budget).
    pub period: String,
    pub at: Millis,
}

/// Budgets' writes. Committed with [`crate::Mutation::Budgets`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BudgetMutation {
    /// Insert (`expect_generation: None`: the name must be new, else
    /// `Conflict`) or replace the budget stored at `expect_generation`
    /// (`NotFound` if there is none, `Conflict` if it moved); the new
    /// generation must be greater.
    Put {
        record: Box<BudgetRecord>,
        expect_generation: Option<i64>,
    },
    /// Removes a budget and its alerts; `NotFound` if absent.
    Delete { account_id: String, name: String },
    /// Marks an alert sent; `Conflict` if it already was, `NotFound` if the
    /// budget is gone.
    RecordAlert(BudgetAlertRecord),
}

/// Budgets' reads, each scoped to one account except [`BudgetStore::all_budgets`]
/// (the evaluator's walk over every account).
#[async_trait::async_trait]
pub trait BudgetStore: Send + Sync {
    async fn budget(&self, account_id: &str, name: &str)
    -> Result<Option<BudgetRecord>, MetaError>;
    /// The account's budgets named after `after_name` (byte order), at most `limit`.
    async fn budgets(
        &self,
        account_id: &str,
        after_name: Option<&str>,
        limit: usize,
    ) -> Result<Vec<BudgetRecord>, MetaError>;
    /// Every account's budgets after `(account, name)` in that order, at most `limit`.
    async fn all_budgets(
        &self,
        after: Option<(&str, &str)>,
        limit: usize,
    ) -> Result<Vec<BudgetRecord>, MetaError>;
    /// The alerts sent for a budget, ordered by `(notification, period)`.
    async fn budget_alerts(
        &self,
        account_id: &str,
        budget_name: &str,
    ) -> Result<Vec<BudgetAlertRecord>, MetaError>;
}

impl BudgetMutation {
    /// Rejects malformed records before they reach a backend.
    pub(crate) fn validate(&self) -> Result<(), MetaError> {
        match self {
            Self::Put { record, .. } => {
                check_account_id(&record.account_id)?;
                non_empty("budget name", &record.name)
            }
            Self::Delete { account_id, name } => {
                check_account_id(account_id)?;
                non_empty("budget name", name)
            }
            Self::RecordAlert(a) => {
                check_account_id(&a.account_id)?;
                non_empty("budget name", &a.budget_name)?;
                non_empty("alert notification", &a.notification)?;
                non_empty("alert period", &a.period)
            }
        }
    }
}
