//! Tags on instances, images, security groups and key pairs (CreateTags,
//! DeleteTags, DescribeTags). EC2's limits: 50 tags per resource, keys up to 128
//! characters, values up to 256; the `aws:` prefix is reserved.

use nomuck_meta::Mutation;
use nomuck_meta::compute::ComputeMutation;

use crate::instances::Metering;
use crate::{Compute, ComputeError};

pub const MAX_TAGS: usize = 50;

/// One tag of one resource, as DescribeTags lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceTag {
    pub resource_id: String,
    /// `instance`, `image`, `security-group`, `key-pair`.
    pub resource_type: &'static str,
    pub key: String,
    pub value: String,
}

/// A tag to delete: any value, or only this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagRemoval {
    pub key: String,
    pub value: Option<String>,
}

fn resource_type(id: &str) -> Option<&'static str> {
    let prefix = id.split('-').next()?;
    Some(match prefix {
        "i" => "instance",
        "ami" | "aki" | "ari" => "image",
        "sg" => "security-group",
        "key" => "key-pair",
        _ => return None,
    })
}

pub fn check_tags(tags: &[(String, String)]) -> Result<(), ComputeError> {
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(ComputeError::InvalidValue(format!(
                "Tag key '{k}' must be 1 to 128 characters"
            )));
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(ComputeError::InvalidValue(format!(
                "Tag keys starting with 'aws:' are reserved for internal use: {k}"
            )));
        }
        if v.chars().count() > 256 {
            return Err(ComputeError::InvalidValue(format!(
                "Tag value for '{k}' exceeds 256 characters"
            )));
        }
    }
    Ok(())
}

fn apply(
    tags: &mut Vec<(String, String)>,
    set: &[(String, String)],
    remove: &[TagRemoval],
) -> Result<(), ComputeError> {
    for (k, v) in set {
        match tags.iter_mut().find(|(key, _)| key == k) {
            Some(t) => t.1 = v.clone(),
            None => tags.push((k.clone(), v.clone())),
        }
    }
    tags.retain(|(k, v)| {
        !remove
            .iter()
            .any(|r| &r.key == k && r.value.as_ref().is_none_or(|x| x == v))
    });
    if tags.len() > MAX_TAGS {
        return Err(ComputeError::InvalidValue(format!(
            "A resource may have at most {MAX_TAGS} tags"
        )));
    }
    Ok(())
}

impl Compute {
    /// Sets (`set`) and removes (`remove`) tags on the account's resources.
    pub async fn change_tags(
        &self,
        account: &str,
        resources: &[String],
        set: &[(String, String)],
        remove: &[TagRemoval],
        dry_run: bool,
    ) -> Result<(), ComputeError> {
        check_tags(set)?;
        for id in resources {
            self.check_owned(account, id).await?;
        }
        if dry_run {
            return Err(ComputeError::DryRun);
        }
        for id in resources {
            match resource_type(id) {
                Some("instance") => {
                    self.update_instance(id, Metering::Transitions, |r| {
                        apply(&mut r.tags, set, remove)?;
                        Ok(true)
                    })
                    .await?;
                }
                Some("image") => {
                    self.update_image(account, id, |i| apply(&mut i.tags, set, remove))
                        .await?;
                }
                Some("security-group") => {
                    let mut g = self
                        .security_group(account, &crate::groups::GroupRef::Id(id.clone()))
                        .await?;
                    let expect = g.generation;
                    apply(&mut g.tags, set, remove)?;
                    g.generation += 1;
                    self.store
                        .commit(vec![Mutation::Compute(ComputeMutation::PutSecurityGroup {
                            record: Box::new(g),
                            expect_generation: Some(expect),
                        })])
                        .await?;
                }
                Some("key-pair") => {
                    let mut k = self
                        .records()
                        .key_pairs(account)
                        .await?
                        .into_iter()
                        .find(|k| &k.id == id)
                        .ok_or_else(|| ComputeError::NoSuchId(id.clone()))?;
                    apply(&mut k.tags, set, remove)?;
                    self.store
                        .commit(vec![Mutation::Compute(ComputeMutation::SetKeyPairTags {
                            id: k.id,
                            tags: k.tags,
                        })])
                        .await?;
                }
                _ => return Err(ComputeError::NoSuchId(id.clone())),
            }
        }
        Ok(())
    }

    async fn check_owned(&self, account: &str, id: &str) -> Result<(), ComputeError> {
        let owned = match resource_type(id) {
            Some("instance") => self
                .records()
                .instance(id)
                .await?
                .is_some_and(|r| r.account_id == account),
            Some("image") => self
                .records()
                .image(id)
                .await?
                .is_some_and(|i| i.account_id == account),
            Some("security-group") => self
                .records()
                .security_group(id)
                .await?
                .is_some_and(|g| g.account_id == account),
            Some("key-pair") => self
                .records()
                .key_pairs(account)
                .await?
                .iter()
                .any(|k| k.id == id),
            _ => false,
        };
        if owned {
            Ok(())
        } else {
            Err(ComputeError::NoSuchId(id.to_owned()))
        }
    }

    /// Every tag on the account's resources.
    pub async fn all_tags(&self, account: &str) -> Result<Vec<ResourceTag>, ComputeError> {
        let mut out = Vec::new();
        let mut add = |id: &str, ty: &'static str, tags: &[(String, String)]| {
            for (k, v) in tags {
                out.push(ResourceTag {
                    resource_id: id.to_owned(),
                    resource_type: ty,
                    key: k.clone(),
                    value: v.clone(),
                });
            }
        };
        for r in self.records().instances(Some(account)).await? {
            add(&r.id, "instance", &r.tags);
        }
        for i in self
            .records()
            .images()
            .await?
            .into_iter()
            .filter(|i| i.account_id == account)
        {
            add(&i.id, "image", &i.tags);
        }
        for g in self.records().security_groups(account).await? {
            add(&g.id, "security-group", &g.tags);
        }
        for k in self.records().key_pairs(account).await? {
            add(&k.id, "key-pair", &k.tags);
        }
        Ok(out)
    }
}
