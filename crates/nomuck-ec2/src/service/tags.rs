//! Tags: CreateTags, DeleteTags, DescribeTags over every taggable resource.

use nomuck_compute::ComputeError;
use nomuck_compute::tags::{ResourceTag, TagRemoval};
use nomuck_http::{RequestContext, Response};

use super::{Ec2Api, dry_run_check, ec2_error, pairs_of};
use crate::filter::{FilterValues, Filterable};
use crate::request::{CreateTags, DeleteTags, DescribeTags};
use crate::response::{DescribeTagsOutput, ReturnTrue, TagDescription};
use crate::{Ec2Error, reply};

/// A resource CreateTags/DeleteTags cannot find is reported with the not-found code
/// of its kind, as EC2 does; an id of no known kind is `InvalidID`.
fn tag_error(e: ComputeError) -> Ec2Error {
    match e {
        ComputeError::NoSuchId(id) => match id.split('-').next().unwrap_or_default() {
            "i" => Ec2Error::InvalidInstanceIdNotFound(vec![id]),
            "ami" | "aki" | "ari" => Ec2Error::InvalidAmiIdNotFound(vec![id]),
            "sg" => Ec2Error::InvalidGroupNotFound(vec![id]),
            "key" => Ec2Error::InvalidKeyPairNotFound(id),
            _ => Ec2Error::InvalidId(id),
        },
        e => ec2_error(e),
    }
}

pub(super) async fn create(
    api: &Ec2Api,
    ctx: &RequestContext,
    account: &str,
    r: CreateTags,
) -> Result<Response, Ec2Error> {
    api.compute
        .change_tags(account, &r.resource_ids, &pairs_of(&r.tags), &[], r.dry_run)
        .await
        .map_err(tag_error)?;
    Ok(reply(ctx, &ReturnTrue("CreateTags")))
}

pub(super) async fn delete(
    api: &Ec2Api,
    ctx: &RequestContext,
    account: &str,
    r: DeleteTags,
) -> Result<Response, Ec2Error> {
    let remove: Vec<TagRemoval> = r
        .tags
        .into_iter()
        .map(|t| TagRemoval {
            key: t.key,
            value: t.value,
        })
        .collect();
    // Without tags, DeleteTags removes every tag of the resources.
    let everything = remove.is_empty();
    let remove = if everything {
        api.compute
            .all_tags(account)
            .await
            .map_err(ec2_error)?
            .into_iter()
            .filter(|t| r.resource_ids.contains(&t.resource_id))
            .map(|t| TagRemoval {
                key: t.key,
                value: None,
            })
            .collect()
    } else {
        remove
    };
    api.compute
        .change_tags(account, &r.resource_ids, &[], &remove, r.dry_run)
        .await
        .map_err(tag_error)?;
    Ok(reply(ctx, &ReturnTrue("DeleteTags")))
}

/// A tag with its page position (resource id, then key: unique and sortable).
struct Described {
    tag: TagDescription,
    cursor: String,
}

impl From<ResourceTag> for Described {
    fn from(t: ResourceTag) -> Self {
        Self {
            cursor: format!("{}\u{0}{}", t.resource_id, t.key),
            tag: TagDescription {
                resource_id: t.resource_id,
                resource_type: t.resource_type.to_owned(),
                key: t.key,
                value: t.value,
            },
        }
    }
}

impl Filterable for Described {
    fn filter_value(&self, name: &str) -> FilterValues {
        let t = &self.tag;
        match name {
            "key" => t.key.as_str().into(),
            "value" => t.value.as_str().into(),
            "resource-id" => t.resource_id.as_str().into(),
            "resource-type" => t.resource_type.as_str().into(),
            _ => FilterValues::none(),
        }
    }
}

pub(super) async fn describe(
    api: &Ec2Api,
    ctx: &RequestContext,
    account: &str,
    r: DescribeTags,
) -> Result<Response, Ec2Error> {
    dry_run_check(r.dry_run)?;
    let mut tags: Vec<Described> = api
        .compute
        .all_tags(account)
        .await
        .map_err(ec2_error)?
        .into_iter()
        .map(Described::from)
        .filter(|t| r.filters.matches(t))
        .collect();
    tags.sort_by(|a, b| a.cursor.cmp(&b.cursor));
    let (page, next_token) = r.page.apply(tags, |t| t.cursor.as_str());
    Ok(reply(
        ctx,
        &DescribeTagsOutput {
            tags: page.into_iter().map(|t| t.tag).collect(),
            next_token,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_errors_name_the_resource_kind() {
        let code = |id: &str| tag_error(ComputeError::NoSuchId(id.into())).code();
        assert_eq!(code("i-0123456789abcdef0"), "InvalidInstanceID.NotFound");
        assert_eq!(code("sg-0123456789abcdef0"), "InvalidGroup.NotFound");
        assert_eq!(code("ami-0123456789abcdef0"), "InvalidAMIID.NotFound");
        assert_eq!(code("key-0123456789abcdef0"), "InvalidKeyPair.NotFound");
        assert_eq!(code("vol-0123456789abcdef0"), "InvalidID");
    }

    #[test]
    fn described_tags_page_by_resource_then_key() {
        let t = |id: &str, key: &str| {
            Described::from(ResourceTag {
                resource_id: id.into(),
                resource_type: "instance",
                key: key.into(),
                value: String::new(),
            })
        };
        let mut tags = [t("i-2", "a"), t("i-1", "b"), t("i-1", "a")];
        tags.sort_by(|a, b| a.cursor.cmp(&b.cursor));
        let order: Vec<_> = tags
            .iter()
            .map(|d| (d.tag.resource_id.as_str(), d.tag.key.as_str()))
            .collect();
        assert_eq!(order, [("i-1", "a"), ("i-1", "b"), ("i-2", "a")]);
    }
}
