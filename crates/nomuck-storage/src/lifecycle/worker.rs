//! The lifecycle pass: for every bucket with rules, walk its versions and
//! multipart uploads once and delete what the enabled rules make due.
//!
//! Each deletion is the same mutation a client's delete would commit, pinned
//! to the row the pass looked at (`WriteCondition::version_row`): a version
//! written or promoted since is never the one deleted. A key's deletions go
//! in one commit; a refused commit (the key changed) is left for the next
//! pass. Lifecycle deletions meter stored bytes but are not billed as
//! requests, as in S3.

use nomuck_meta::{
    Bucket, Millis, Mutation, ObjectSummary, UploadListQuery, UploadStart, VersionListQuery,
    VersionStart, WriteCondition,
};

use super::{Clock, Expiration, Lifecycle, Rule};
use crate::auth::BucketAccess;
use crate::usage::byte_usage;
use crate::{Storage, StorageError, now_millis};

const PAGE: usize = 1000;

/// What one lifecycle pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LifecycleReport {
    /// Current versions expired (deleted, or hidden behind a delete marker).
    pub expired: usize,
    /// Noncurrent versions and expired delete markers removed.
    pub versions_removed: usize,
    pub uploads_aborted: usize,
}

impl std::ops::AddAssign for LifecycleReport {
    fn add_assign(&mut self, o: Self) {
        self.expired += o.expired;
        self.versions_removed += o.versions_removed;
        self.uploads_aborted += o.uploads_aborted;
    }
}

/// The longest prefix every rule's prefix starts with: the part of the
/// key space the pass must walk.
fn common_prefix<'a>(rules: &[&'a Rule]) -> &'a str {
    let Some(first) = rules.first() else {
        return "";
    };
    let mut prefix = first.filter.prefix();
    for r in rules.iter().skip(1) {
        let other = r.filter.prefix();
        let same = prefix
            .char_indices()
            .zip(other.chars())
            .find(|((_, a), b)| a != b)
            .map_or(prefix.len().min(other.len()), |((i, _), _)| i);
        prefix = prefix.get(..same).unwrap_or("");
    }
    prefix
}

/// Pins a deletion to the stored row the pass looked at.
fn pinned(row: i64) -> Option<WriteCondition> {
    Some(WriteCondition {
        version_row: Some(row),
        ..WriteCondition::default()
    })
}

/// Removes exactly version `v` (noncurrent, or a lone delete marker).
fn remove_version(b: &Bucket, v: &ObjectSummary, now: Millis) -> Mutation {
    Storage::delete_mutation(
        b,
        &v.key,
        Some(v.version_id.clone()),
        pinned(v.internal_id),
        now,
    )
    .0
}

impl Storage {
    /// Runs one lifecycle pass over every bucket now (the background task
    /// does the same every `lifecycle_interval`).
    pub async fn apply_lifecycle_now(&self) -> Result<LifecycleReport, StorageError> {
        let _one_at_a_time = self.lifecycle_lock.lock().await;
        let mut report = LifecycleReport::default();
        let now = now_millis();
        for name in self
            .meta
            .buckets_with_config(crate::access::kinds::LIFECYCLE)
            .await?
        {
            let (bucket, access) = match self.cached_bucket(&name).await {
                Ok(found) => found,
                Err(StorageError::NoSuchBucket(_)) => continue,
                Err(e) => return Err(e),
            };
            let Some(lifecycle) = access.lifecycle.clone() else {
                continue;
            };
            report += self
                .apply_to_bucket(&bucket, &access, &lifecycle, now)
                .await?;
        }
        if report != LifecycleReport::default() {
            tracing::debug!(?report, "lifecycle applied");
        }
        Ok(report)
    }

    async fn apply_to_bucket(
        &self,
        b: &Bucket,
        access: &BucketAccess,
        lifecycle: &Lifecycle,
        now: Millis,
    ) -> Result<LifecycleReport, StorageError> {
        let mut report = LifecycleReport::default();
        let object_rules: Vec<&Rule> = lifecycle
            .enabled()
            .filter(|r| r.expiration.is_some() || r.noncurrent.is_some())
            .collect();
        if !object_rules.is_empty() {
            self.walk_versions(b, access, &object_rules, now, &mut report)
                .await?;
        }
        let upload_rules: Vec<&Rule> = lifecycle
            .enabled()
            .filter(|r| r.abort_incomplete_after_days.is_some())
            .collect();
        if !upload_rules.is_empty() {
            self.abort_stale_uploads(b, &upload_rules, now, &mut report)
                .await?;
        }
        Ok(report)
    }

    /// Feeds the bucket's versions to [`Storage::apply_to_key`] one key at a
    /// time (a key's versions are listed together, newest first).
    async fn walk_versions(
        &self,
        b: &Bucket,
        access: &BucketAccess,
        rules: &[&Rule],
        now: Millis,
        report: &mut LifecycleReport,
    ) -> Result<(), StorageError> {
        let mut query = VersionListQuery {
            bucket: b.name.clone(),
            prefix: common_prefix(rules).to_owned(),
            start: VersionStart::Beginning,
            limit: PAGE,
        };
        let mut key_versions: Vec<ObjectSummary> = Vec::new();
        loop {
            let page = self.meta.list_object_versions(&query).await?;
            let done = page.len() < PAGE;
            if let Some(last) = page.last() {
                query.start = VersionStart::AfterVersion {
                    key: last.key.clone(),
                    version_id: last.version_id.clone(),
                };
            }
            for v in page {
                if key_versions.first().is_some_and(|first| first.key != v.key) {
                    self.apply_to_key(b, access, rules, &key_versions, now, report)
                        .await?;
                    key_versions.clear();
                }
                key_versions.push(v);
            }
            if done {
                break;
            }
        }
        if !key_versions.is_empty() {
            self.apply_to_key(b, access, rules, &key_versions, now, report)
                .await?;
        }
        Ok(())
    }

    async fn version_tags(
        &self,
        b: &Bucket,
        v: &ObjectSummary,
    ) -> Result<Vec<(String, String)>, StorageError> {
        Ok(self
            .meta
            .object(&b.name, &v.key, Some(&v.version_id))
            .await?
            .map(|o| o.tags)
            .unwrap_or_default())
    }

    /// Whether `rule` selects version `v`; tags are read only when the
    /// rule's other conditions hold and it names any.
    async fn selects(
        &self,
        b: &Bucket,
        rule: &Rule,
        v: &ObjectSummary,
    ) -> Result<bool, StorageError> {
        if !rule.filter.matches(&v.key, v.size) {
            return Ok(false);
        }
        if rule.filter.tags.is_empty() {
            return Ok(true);
        }
        Ok(rule.filter.tags_match(&self.version_tags(b, v).await?))
    }

    /// Applies the rules to one key's versions (newest first).
    async fn apply_to_key(
        &self,
        b: &Bucket,
        access: &BucketAccess,
        rules: &[&Rule],
        versions: &[ObjectSummary],
        now: Millis,
        report: &mut LifecycleReport,
    ) -> Result<(), StorageError> {
        let clock = self.lifecycle_clock();
        let Some(latest) = versions.first().filter(|v| v.is_latest) else {
            return Ok(());
        };
        let mut muts = Vec::new();
        let mut events = Vec::new();

        // The current version, first: the noncurrent removals' pins do not
        // depend on which version is latest.
        let mut current_expires = false;
        if !latest.is_delete_marker {
            for rule in rules {
                let due = match rule.expiration {
                    Some(Expiration::Days(d)) => clock.after_days(latest.last_modified, d) <= now,
                    Some(Expiration::Date(at)) => at <= now,
                    _ => false,
                };
                if due && self.selects(b, rule, latest).await? {
                    // As a client's delete: gone when unversioned, a delete
                    // marker on top when versioned.
                    let (m, marker) = Self::delete_mutation(
                        b,
                        &latest.key,
                        None,
                        pinned(latest.internal_id),
                        now,
                    );
                    events.extend(
                        self.delete_events(
                            b,
                            access,
                            None,
                            &latest.key,
                            crate::objects::removed_by(&m),
                            marker.as_ref(),
                            now,
                        )
                        .await?,
                    );
                    muts.push(m);
                    current_expires = true;
                    break;
                }
            }
        }
        // A suspended bucket's delete replaces its null version with a null
        // marker, so that version is not also removed as noncurrent.
        let null_taken = current_expires && b.versioning == nomuck_meta::Versioning::Suspended;

        // Noncurrent versions: a version stopped being current when the next
        // newer one was written.
        let mut removed = vec![false; versions.len()];
        for (i, pair) in versions.windows(2).enumerate() {
            let [newer, v] = pair else { continue };
            if null_taken && v.version_id == nomuck_meta::NULL_VERSION {
                continue;
            }
            for rule in rules {
                let Some(nc) = &rule.noncurrent else { continue };
                let due = clock.after_days(newer.last_modified, nc.days) <= now;
                let kept = nc.newer_versions_kept.unwrap_or(0) as usize;
                // A locked version stays; lifecycle never breaks a lock.
                if due
                    && i >= kept
                    && self.selects(b, rule, v).await?
                    && !self
                        .version_locked(access, &b.name, &v.key, &v.version_id, false)
                        .await?
                {
                    muts.push(remove_version(b, v, now));
                    events.extend(
                        self.delete_events(b, access, None, &v.key, Some(&v.version_id), None, now)
                            .await?,
                    );
                    if let Some(slot) = removed.get_mut(i + 1) {
                        *slot = true;
                    }
                    break;
                }
            }
        }
        let only_version_left = removed.iter().skip(1).all(|r| *r);

        // A delete marker with nothing behind it hides nothing: removed by
        // ExpiredObjectDeleteMarker, or by an age rule once it is due.
        if latest.is_delete_marker && only_version_left {
            let lone_marker_expires = rules.iter().any(|r| {
                r.filter.tags.is_empty()
                    && latest.key.starts_with(r.filter.prefix())
                    && match r.expiration {
                        Some(Expiration::ExpiredObjectDeleteMarker) => true,
                        Some(Expiration::Days(d)) => {
                            clock.after_days(latest.last_modified, d) <= now
                        }
                        Some(Expiration::Date(at)) => at <= now,
                        None => false,
                    }
            });
            if lone_marker_expires {
                muts.push(remove_version(b, latest, now));
                events.extend(
                    self.delete_events(
                        b,
                        access,
                        None,
                        &latest.key,
                        Some(&latest.version_id),
                        None,
                        now,
                    )
                    .await?,
                );
            }
        }
        let expired = usize::from(current_expires);
        if muts.is_empty() {
            return Ok(());
        }
        let count = muts.len();
        muts.extend(events);
        match self.commit(&b.name, muts).await {
            Ok(_) => {
                report.expired += expired;
                report.versions_removed += count - expired;
                Ok(())
            }
            // The key changed since it was listed (or a version was locked
            // since); the next pass sees it anew.
            Err(
                StorageError::PreconditionFailed
                | StorageError::NoSuchKey { .. }
                | StorageError::ObjectLocked,
            ) => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn abort_stale_uploads(
        &self,
        b: &Bucket,
        rules: &[&Rule],
        now: Millis,
        report: &mut LifecycleReport,
    ) -> Result<(), StorageError> {
        let clock = self.lifecycle_clock();
        let mut query = UploadListQuery {
            bucket: b.name.clone(),
            prefix: common_prefix(rules).to_owned(),
            start: UploadStart::Beginning,
            limit: PAGE,
        };
        loop {
            let page = self.meta.list_uploads(&query).await?;
            let done = page.len() < PAGE;
            for u in &page {
                let stale = rules.iter().any(|r| {
                    u.key.starts_with(r.filter.prefix())
                        && r.abort_incomplete_after_days
                            .is_some_and(|d| clock.after_days(u.initiated, d) <= now)
                });
                if !stale {
                    continue;
                }
                let abort = Mutation::AbortMultipartUpload {
                    upload_id: u.upload_id.clone(),
                    bucket: b.name.clone(),
                    key: u.key.clone(),
                    usage: Some(byte_usage(&b.owner, now)),
                };
                match self.commit(&b.name, vec![abort]).await {
                    Ok(_) => report.uploads_aborted += 1,
                    // Completed or aborted meanwhile.
                    Err(StorageError::NoSuchUpload(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            match page.last() {
                Some(last) if !done => {
                    query.start = UploadStart::AfterUpload {
                        key: last.key.clone(),
                        upload_id: last.upload_id.clone(),
                    }
                }
                _ => return Ok(()),
            }
        }
    }

    pub(crate) fn lifecycle_clock(&self) -> Clock {
        Clock::new(self.opts.lifecycle_day)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::Filter;

    fn with_prefix(p: &str) -> Rule {
        Rule {
            id: p.into(),
            enabled: true,
            filter: Filter {
                prefix: Some(p.into()),
                ..Filter::default()
            },
            expiration: Some(Expiration::Days(1)),
            noncurrent: None,
            abort_incomplete_after_days: None,
        }
    }

    #[test]
    fn walk_covers_every_rule_prefix() {
        let (a, b, c) = (
            with_prefix("logs/a"),
            with_prefix("logs/b"),
            with_prefix("tmp"),
        );
        assert_eq!(common_prefix(&[&a, &b]), "logs/");
        assert_eq!(common_prefix(&[&a, &b, &c]), "");
        assert_eq!(common_prefix(&[&a]), "logs/a");
        let (x, y) = (with_prefix("é1"), with_prefix("é2"));
        assert_eq!(common_prefix(&[&x, &y]), "é");
    }
}
