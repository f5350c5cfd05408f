//! The image actions.

use nomuck_compute::ComputeError;
use nomuck_compute::images::{LaunchPermissionChange, RegisterRequest};
use nomuck_http::{RequestContext, Response};
use nomuck_meta::compute::ImageRecord;

use super::{Ec2Api, dry_run_check, ec2_error, hypervisor, spec_tags, tags_of};
use crate::filter::{FilterValues, Filterable};
use crate::request::{
    CreateImage, DeregisterImage, DescribeImageAttribute, DescribeImages, ImageAttributeChange,
    ImageAttributeName, ModifyImageAttribute, RegisterImage, ResetImageAttribute,
};
use crate::response::{
    DescribeImageAttributeOutput, DescribeImagesOutput, Image, ImageAttributeValue, ImageIdOutput,
    ReturnTrue,
};
use crate::{Ec2Error, LaunchPermission, Tag, reply};

/// The bucket CreateImage writes an account's disk images to. One per account, so
/// that the images are the account's own objects (billed and listed as its
/// storage, readable only by it); the storage side creates it on first use.
pub fn image_bucket(account: &str) -> String {
    format!("nomuck-images-{account}")
}

pub(super) async fn register(
    api: &Ec2Api,
    ctx: &RequestContext,
    account: &str,
    r: RegisterImage,
) -> Result<Response, Ec2Error> {
    if r.virtualization_type.as_deref().is_some_and(|v| v != "hvm") {
        return Err(Ec2Error::Unsupported(
            "nomuck runs hardware-virtualized guests only (VirtualizationType hvm)".into(),
        ));
    }
    let tags = spec_tags(&r.tag_specifications, "image")?;
    let image = api
        .compute
        .register_image(
            account,
            RegisterRequest {
                name: r.name,
                description: r.description,
                location: r.image_location,
                architecture: r.architecture,
                kernel_id: r.kernel_id,
                ramdisk_id: r.ramdisk_id,
                kernel_cmdline: None,
                tags,
                dry_run: r.dry_run,
            },
        )
        .await
        .map_err(ec2_error)?;
    Ok(reply(
        ctx,
        &ImageIdOutput {
            action: "RegisterImage",
            image_id: image.id,
        },
    ))
}

/// An image as `account` sees it: tags and launch permissions are the owner's
/// business, so others see an image untagged, as in EC2.
fn image_view(i: &ImageRecord, account: &str, hypervisor: &str) -> Image {
    let machine = i.image_type == "machine";
    Image {
        image_id: i.id.clone(),
        image_location: i.location.clone(),
        image_state: i.state.clone(),
        owner_id: i.account_id.clone(),
        owner_alias: None,
        is_public: i.public,
        architecture: i.architecture.clone(),
        image_type: i.image_type.clone(),
        kernel_id: i.kernel_id.clone(),
        ramdisk_id: i.ramdisk_id.clone(),
        name: i.name.clone(),
        description: Some(i.description.clone()).filter(|d| !d.is_empty()),
        root_device_type: "instance-store".into(),
        root_device_name: (machine && i.disk_format.is_some()).then(|| "/dev/vda".into()),
        virtualization_type: "hvm".into(),
        hypervisor: hypervisor.to_owned(),
        creation_date: nomuck_compute::millis_to_time(i.created_at),
        state_reason: None,
        tags: if i.account_id == account {
            tags_of(&i.tags)
        } else {
            Vec::new()
        },
    }
}

impl Filterable for Image {
    fn filter_value(&self, name: &str) -> FilterValues {
        match name {
            "architecture" => self.architecture.as_str().into(),
            "description" => self.description.as_deref().into(),
            "hypervisor" => self.hypervisor.as_str().into(),
            "image-id" => self.image_id.as_str().into(),
            "image-type" => self.image_type.as_str().into(),
            "is-public" => self.is_public.into(),
            "kernel-id" => self.kernel_id.as_deref().into(),
            "manifest-location" => self.image_location.as_str().into(),
            "name" => self.name.as_str().into(),
            "owner-alias" => self.owner_alias.as_deref().into(),
            "owner-id" => self.owner_id.as_str().into(),
            "ramdisk-id" => self.ramdisk_id.as_deref().into(),
            "root-device-name" => self.root_device_name.as_deref().into(),
            "root-device-type" => self.root_device_type.as_str().into(),
            "state" => self.image_state.as_str().into(),
            "virtualization-type" => self.virtualization_type.as_str().into(),
            _ => FilterValues::none(),
        }
    }

    fn tags(&self) -> &[Tag] {
        &self.tags
    }
}

/// `Owner.N`: account ids, `self`, or `amazon` (nomuck ships no images, so none).
fn owned_by(i: &ImageRecord, owners: &[String], account: &str) -> bool {
    owners.is_empty()
        || owners.iter().any(|o| match o.as_str() {
            "self" => i.account_id == account,
            "amazon" | "aws-marketplace" | "aws-backup-vault" => false,
            id => i.account_id == id,
        })
}

/// `ExecutableBy.N`: `all` (public images), `self` or the caller's id (images it
/// owns or that are shared with it), or another account's id (the caller's images
/// shared with that account: only an owner knows whom it shared with).
fn executable_by(i: &ImageRecord, users: &[String], account: &str) -> bool {
    users.is_empty()
        || users.iter().any(|u| match u.as_str() {
            "all" => i.public,
            "self" => i.account_id == account || i.launch_accounts.iter().any(|a| a == account),
            id if id == account => {
                i.account_id == account || i.launch_accounts.iter().any(|a| a == account)
            }
            id => i.account_id == account && i.launch_accounts.iter().any(|a| a == id),
        })
}

pub(super) async fn describe(
    api: &Ec2Api,
    ctx: &RequestContext,
    account: &str,
    r: DescribeImages,
) -> Result<Response, Ec2Error> {
    dry_run_check(r.dry_run)?;
    let mut visible = api
        .compute
        .visible_images(account)
        .await
        .map_err(ec2_error)?;
    visible.sort_by(|a, b| a.id.cmp(&b.id));
    let missing: Vec<String> = r
        .image_ids
        .iter()
        .filter(|id| !visible.iter().any(|i| &i.id == *id))
        .cloned()
        .collect();
    if !missing.is_empty() {
        return Err(Ec2Error::InvalidAmiIdNotFound(missing));
    }
    let hv = hypervisor(api);
    let images: Vec<Image> = visible
        .iter()
        .filter(|i| r.image_ids.is_empty() || r.image_ids.contains(&i.id))
        .filter(|i| owned_by(i, &r.owners, account))
        .filter(|i| executable_by(i, &r.executable_users, account))
        .map(|i| image_view(i, account, &hv))
        .filter(|i| r.filters.matches(i))
        .collect();
    let (images, next_token) = r.page.apply(images, |i| i.image_id.as_str());
    Ok(reply(ctx, &DescribeImagesOutput { images, next_token }))
}

pub(super) async fn deregister(
    api: &Ec2Api,
    ctx: &RequestContext,
    account: &str,
    r: DeregisterImage,
) -> Result<Response, Ec2Error> {
    owned_image(api, account, &r.image_id).await?;
    api.compute
        .deregister_image(account, &r.image_id, r.dry_run)
        .await
        .map_err(ec2_error)?;
    Ok(reply(ctx, &ReturnTrue("DeregisterImage")))
}

/// A launch-permission change in the domain's terms.
fn permission_change(
    add: &[LaunchPermission],
    remove: &[LaunchPermission],
) -> LaunchPermissionChange {
    let accounts = |list: &[LaunchPermission]| {
        list.iter()
            .filter_map(|p| match p {
                LaunchPermission::UserId(id) => Some(id.clone()),
                LaunchPermission::All => None,
            })
            .collect()
    };
    let public = if add.contains(&LaunchPermission::All) {
        Some(true)
    } else if remove.contains(&LaunchPermission::All) {
        Some(false)
    } else {
        None
    };
    LaunchPermissionChange {
        add_accounts: accounts(add),
        remove_accounts: accounts(remove),
        public,
    }
}

/// An image `account` owns. One it may only launch (shared with it, or public) is
/// `AuthFailure` ("Not authorized for image"), as EC2 answers a non-owner's change;
/// one it cannot see does not exist for it.
async fn owned_image(api: &Ec2Api, account: &str, id: &str) -> Result<ImageRecord, Ec2Error> {
    match api.compute.own_image(account, id).await {
        Ok(image) => Ok(image),
        Err(ComputeError::ImageNotFound(_))
            if api.compute.visible_image(account, id).await.is_ok() =>
        {
            Err(Ec2Error::AuthFailure(format!(
                "Not authorized for image:{id}"
            )))
        }
        Err(e) => Err(ec2_error(e)),
    }
}

/// Changing a description needs only the owner; a dry run stops after that check.
async fn owner_check(
    api: &Ec2Api,
    account: &str,
    image_id: &str,
    dry_run: bool,
) -> Result<(), Ec2Error> {
    owned_image(api, account, image_id).await?;
    dry_run_check(dry_run)
}

pub(super) async fn modify_attribute(
    api: &Ec2Api,
    ctx: &RequestContext,
    account: &str,
    r: ModifyImageAttribute,
) -> Result<Response, Ec2Error> {
    match r.change {
        ImageAttributeChange::LaunchPermission { add, remove } => {
            if let Some(bad) = add.iter().chain(&remove).find_map(|p| match p {
                LaunchPermission::UserId(id) if !is_account_id(id) => Some(id),
                _ => None,
            }) {
                return Err(Ec2Error::InvalidParameterValue(format!(
                    "Invalid value '{bad}' for userId: an account id is 12 digits"
                )));
            }
            owned_image(api, account, &r.image_id).await?;
            api.compute
                .modify_launch_permission(
                    account,
                    &r.image_id,
                    permission_change(&add, &remove),
                    r.dry_run,
                )
                .await
                .map_err(ec2_error)?;
        }
        ImageAttributeChange::Description(text) => {
            owner_check(api, account, &r.image_id, r.dry_run).await?;
            api.compute
                .update_image(account, &r.image_id, |i| {
                    i.description = text.clone();
                    Ok(())
                })
                .await
                .map_err(ec2_error)?;
        }
    }
    Ok(reply(ctx, &ReturnTrue("ModifyImageAttribute")))
}

fn is_account_id(id: &str) -> bool {
    id.len() == 12 && id.bytes().all(|b| b.is_ascii_digit())
}

pub(super) async fn describe_attribute(
    api: &Ec2Api,
    ctx: &RequestContext,
    account: &str,
    r: DescribeImageAttribute,
) -> Result<Response, Ec2Error> {
    dry_run_check(r.dry_run)?;
    use ImageAttributeName as N;
    use ImageAttributeValue as V;
    // Whom an image is shared with is the owner's to know (EC2 refuses others).
    let image = if r.attribute == N::LaunchPermission {
        owned_image(api, account, &r.image_id).await?
    } else {
        api.compute
            .visible_image(account, &r.image_id)
            .await
            .map_err(ec2_error)?
    };
    let value = match r.attribute {
        N::LaunchPermission => {
            let mut list: Vec<LaunchPermission> = image
                .launch_accounts
                .iter()
                .cloned()
                .map(LaunchPermission::UserId)
                .collect();
            if image.public {
                list.insert(0, LaunchPermission::All);
            }
            V::LaunchPermissions(list)
        }
        N::Description => V::Text(Some(image.description.clone()).filter(|d| !d.is_empty())),
        N::Kernel => V::Text(image.kernel_id.clone()),
        N::Ramdisk => V::Text(image.ramdisk_id.clone()),
        N::ProductCodes | N::BlockDeviceMapping => V::EmptyList,
    };
    Ok(reply(
        ctx,
        &DescribeImageAttributeOutput {
            image_id: image.id,
            attribute: r.attribute,
            value,
        },
    ))
}

/// Resets launch permissions (the only resettable attribute): private again.
pub(super) async fn reset_attribute(
    api: &Ec2Api,
    ctx: &RequestContext,
    account: &str,
    r: ResetImageAttribute,
) -> Result<Response, Ec2Error> {
    owner_check(api, account, &r.image_id, r.dry_run).await?;
    api.compute
        .update_image(account, &r.image_id, |i| {
            i.public = false;
            i.launch_accounts.clear();
            Ok(())
        })
        .await
        .map_err(ec2_error)?;
    Ok(reply(ctx, &ReturnTrue("ResetImageAttribute")))
}

pub(super) async fn create(
    api: &Ec2Api,
    ctx: &RequestContext,
    account: &str,
    r: CreateImage,
) -> Result<Response, Ec2Error> {
    // EC2 tags the image and its snapshots; nomuck images have no snapshots, so
    // snapshot tags have nothing to go on and are refused like any other type.
    let tags = spec_tags(&r.tag_specifications, "image")?;
    if r.no_reboot {
        // The domain images stopped instances only, so there is nothing to reboot.
        tracing::debug!(instance = %r.instance_id, "CreateImage NoReboot: the instance is stopped");
    }
    let image = api
        .compute
        .create_image(
            account,
            &r.instance_id,
            &r.name,
            r.description,
            &image_bucket(account),
            r.dry_run,
        )
        .await
        .map_err(ec2_error)?;
    if !tags.is_empty() {
        api.compute
            .change_tags(account, std::slice::from_ref(&image.id), &tags, &[], false)
            .await
            .map_err(ec2_error)?;
    }
    Ok(reply(
        ctx,
        &ImageIdOutput {
            action: "CreateImage",
            image_id: image.id,
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(owner: &str) -> ImageRecord {
        ImageRecord {
            id: "ami-0123456789abcdef0".into(),
            account_id: owner.into(),
            name: "web".into(),
            description: String::new(),
            image_type: "machine".into(),
            architecture: "x86_64".into(),
            location: "b/k".into(),
            part: None,
            disk_format: Some("qcow2".into()),
            kernel_id: None,
            ramdisk_id: None,
            kernel_cmdline: None,
            state: "available".into(),
            public: false,
            launch_accounts: Vec::new(),
            tags: vec![("team".into(), "a".into())],
            created_at: 0,
            generation: 1,
        }
    }

    fn v(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn owners_and_executable_by_select_as_ec2_does() {
        let mine = image("111111111111");
        let mut shared = image("222222222222");
        shared.launch_accounts.push("111111111111".into());
        let mut public = image("333333333333");
        public.public = true;
        let me = "111111111111";
        assert!(owned_by(&mine, &v(&["self"]), me));
        assert!(!owned_by(&shared, &v(&["self"]), me));
        assert!(owned_by(&shared, &v(&["222222222222"]), me));
        assert!(!owned_by(&public, &v(&["amazon"]), me));
        assert!(owned_by(&public, &[], me));

        assert!(executable_by(&public, &v(&["all"]), me));
        assert!(!executable_by(&shared, &v(&["all"]), me));
        assert!(executable_by(&shared, &v(&["self"]), me));
        assert!(executable_by(&mine, &v(&[me]), me));
        assert!(!executable_by(&public, &v(&["self"]), me));
        // Another account id: my images shared with it.
        let mut lent = image(me);
        lent.launch_accounts.push("444444444444".into());
        assert!(executable_by(&lent, &v(&["444444444444"]), me));
        assert!(!executable_by(&mine, &v(&["444444444444"]), me));
    }

    #[test]
    fn only_the_owner_sees_an_images_tags() {
        let i = image("111111111111");
        assert_eq!(image_view(&i, "111111111111", "kvm").tags.len(), 1);
        assert!(image_view(&i, "222222222222", "kvm").tags.is_empty());
        let view = image_view(&i, "111111111111", "kvm");
        assert_eq!(view.description, None);
        assert_eq!(view.root_device_name.as_deref(), Some("/dev/vda"));
    }

    #[test]
    fn launch_permission_changes_split_accounts_from_public() {
        let c = permission_change(
            &[LaunchPermission::All, LaunchPermission::UserId("1".into())],
            &[LaunchPermission::UserId("2".into())],
        );
        assert_eq!(c.public, Some(true));
        assert_eq!(c.add_accounts, vec!["1".to_string()]);
        assert_eq!(c.remove_accounts, vec!["2".to_string()]);
        assert_eq!(
            permission_change(&[], &[LaunchPermission::All]).public,
            Some(false)
        );
        assert_eq!(permission_change(&[], &[]).public, None);
    }
}
