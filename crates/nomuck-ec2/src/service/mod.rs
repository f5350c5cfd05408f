//! The EC2 API on the edge (credential scope `ec2`): decode the request, run it on
//! the compute domain as the signing account, answer with EC2's XML. Only here do
//! the domain's errors become EC2's codes.

mod account;
mod images;
mod instances;
mod keys_groups;
mod tags;

use std::sync::Arc;

use nomuck_compute::{Compute, ComputeError};
use nomuck_http::{Rejection, Request, RequestContext, Response, ServiceApi};

use crate::{Ec2Error, Ec2Request, MAX_BODY, Tag, TagSpecification};

pub struct Ec2Api {
    compute: Arc<Compute>,
}

impl Ec2Api {
    pub fn new(compute: Arc<Compute>) -> Self {
        Self { compute }
    }

    async fn run(
        &self,
        ctx: &RequestContext,
        account: &str,
        request: Ec2Request,
    ) -> Result<Response, Ec2Error> {
        use Ec2Request as R;
        match request {
            R::RunInstances(r) => instances::run(self, ctx, account, r).await,
            R::DescribeInstances(r) => instances::describe(self, ctx, account, r).await,
            R::DescribeInstanceStatus(r) => instances::status(self, ctx, account, r).await,
            R::DescribeInstanceAttribute(r) => {
                instances::describe_attribute(self, ctx, account, r).await
            }
            R::ModifyInstanceAttribute(r) => {
                instances::modify_attribute(self, ctx, account, r).await
            }
            R::TerminateInstances(r) => instances::terminate(self, ctx, account, r).await,
            R::StopInstances(r) => instances::stop(self, ctx, account, r).await,
            R::StartInstances(r) => instances::start(self, ctx, account, r).await,
            R::RebootInstances(r) => instances::reboot(self, ctx, account, r).await,
            R::GetConsoleOutput(r) => instances::console(self, ctx, account, r).await,
            R::DescribeInstanceTypes(r) => account::instance_types(self, ctx, r),
            R::CreateKeyPair(r) => keys_groups::create_key(self, ctx, account, r).await,
            R::ImportKeyPair(r) => keys_groups::import_key(self, ctx, account, r).await,
            R::DescribeKeyPairs(r) => keys_groups::describe_keys(self, ctx, account, r).await,
            R::DeleteKeyPair(r) => keys_groups::delete_key(self, ctx, account, r).await,
            R::CreateSecurityGroup(r) => keys_groups::create_group(self, ctx, account, r).await,
            R::DescribeSecurityGroups(r) => {
                keys_groups::describe_groups(self, ctx, account, r).await
            }
            R::DeleteSecurityGroup(r) => keys_groups::delete_group(self, ctx, account, r).await,
            R::AuthorizeSecurityGroupIngress(r) => {
                keys_groups::authorize(self, ctx, account, r).await
            }
            R::RevokeSecurityGroupIngress(r) => keys_groups::revoke(self, ctx, account, r).await,
            R::CreateTags(r) => tags::create(self, ctx, account, r).await,
            R::DeleteTags(r) => tags::delete(self, ctx, account, r).await,
            R::DescribeTags(r) => tags::describe(self, ctx, account, r).await,
            R::DescribeRegions(r) => account::regions(self, ctx, r),
            R::DescribeAvailabilityZones(r) => account::zones(self, ctx, r),
            R::DescribeAccountAttributes(r) => account::attributes(self, ctx, account, r),
            R::RegisterImage(r) => images::register(self, ctx, account, r).await,
            R::DescribeImages(r) => images::describe(self, ctx, account, r).await,
            R::DeregisterImage(r) => images::deregister(self, ctx, account, r).await,
            R::ModifyImageAttribute(r) => images::modify_attribute(self, ctx, account, r).await,
            R::DescribeImageAttribute(r) => images::describe_attribute(self, ctx, account, r).await,
            R::ResetImageAttribute(r) => images::reset_attribute(self, ctx, account, r).await,
            R::CreateImage(r) => images::create(self, ctx, account, r).await,
        }
    }
}

/// A describe action with `DryRun`: every signed caller may describe.
fn dry_run_check(dry_run: bool) -> Result<(), Ec2Error> {
    if dry_run {
        Err(Ec2Error::DryRunOperation)
    } else {
        Ok(())
    }
}

fn tags_of(tags: &[(String, String)]) -> Vec<Tag> {
    tags.iter().map(|(k, v)| Tag::new(k, v)).collect()
}

fn pairs_of(tags: &[Tag]) -> Vec<(String, String)> {
    tags.iter()
        .map(|t| (t.key.clone(), t.value.clone()))
        .collect()
}

/// The tags a Create* action puts on its new resource: those of the specifications
/// for `resource_type`. A specification for any other type is refused, as EC2 does.
fn spec_tags(
    specs: &[TagSpecification],
    resource_type: &str,
) -> Result<Vec<(String, String)>, Ec2Error> {
    if let Some(other) = specs.iter().find(|s| s.resource_type != resource_type) {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "'{}' is not a valid taggable resource type for this operation.",
            other.resource_type
        )));
    }
    Ok(pairs_of(&TagSpecification::tags_for(specs, resource_type)))
}

/// The accelerator's name, which nomuck reports where EC2 says `xen` or `nitro`.
/// The accelerator guests run under (`kvm` or `tcg`), as EC2's `Hypervisor`.
fn hypervisor(api: &Ec2Api) -> String {
    api.compute.accelerator().to_string()
}

/// The domain's errors in EC2's words.
fn ec2_error(e: ComputeError) -> Ec2Error {
    use ComputeError as C;
    use Ec2Error as E;
    match e {
        C::InstanceNotFound(ids) => E::InvalidInstanceIdNotFound(ids),
        C::ImageNotFound(ids) => E::InvalidAmiIdNotFound(ids),
        C::ImageNameTaken(name, id) => E::InvalidAmiNameDuplicate(name, id),
        C::KeyPairNotFound(name) => E::InvalidKeyPairNotFound(name),
        C::KeyPairTaken(name) => E::InvalidKeyPairDuplicate(name),
        C::BadPublicKey => E::InvalidKeyFormat,
        C::GroupNotFound(ids) => E::InvalidGroupNotFound(ids),
        C::GroupTaken(name) => E::InvalidGroupDuplicate(name),
        C::GroupReserved(name) => E::InvalidGroupReserved(name),
        C::RuleTaken(rule) => E::InvalidPermissionDuplicate(rule),
        C::RuleNotFound => E::InvalidPermissionNotFound,
        C::InUse(id) => E::DependencyViolation(id),
        C::CannotDeleteDefault(id) => E::CannotDelete(id),
        C::NoSuchId(id) => E::InvalidId(id),
        C::IncorrectState(id, state, what) => E::IncorrectInstanceState(id, state, what),
        C::InvalidValue(m) => E::InvalidParameterValue(m),
        C::InvalidCombination(m) => E::InvalidParameterCombination(m),
        C::TokenMismatch(t) => E::IdempotentParameterMismatch(t),
        C::InstanceLimit { requested, limit } => E::InstanceLimitExceeded { requested, limit },
        C::InsufficientCapacity(ty, zone) => E::InsufficientInstanceCapacity(ty, zone),
        C::Unsupported(m) => E::Unsupported(m),
        C::NotPermitted(m) => E::OperationNotPermitted(m),
        C::DryRun => E::DryRunOperation,
        C::MissingParameter(p) => E::MissingParameter(p),
        C::Internal(m) => {
            tracing::error!(error = %m, "compute failed");
            E::InternalError
        }
    }
}

#[async_trait::async_trait]
impl ServiceApi for Ec2Api {
    fn scope_names(&self) -> &'static [&'static str] {
        &["ec2"]
    }

    fn body_limit(&self, _head: &http::request::Parts) -> u64 {
        MAX_BODY
    }

    async fn handle(&self, ctx: RequestContext, request: Request) -> Response {
        let (head, body) = request.into_parts();
        let params = match nomuck_http::query::read_params(&head, body, MAX_BODY).await {
            Ok(params) => params,
            Err(rejection) => return self.reject(&ctx, rejection),
        };
        let Some(account) = ctx.principal.as_ref().map(|p| p.account_id.clone()) else {
            return crate::error_response(
                &ctx,
                &Ec2Error::AuthFailure(
                    "AWS was not able to validate the provided access credentials".into(),
                ),
            );
        };
        let outcome = match crate::decode_params(params) {
            Ok(request) => self.run(&ctx, &account, request).await,
            Err(e) => Err(e),
        };
        match outcome {
            Ok(response) => response,
            Err(e) => crate::error_response(&ctx, &e),
        }
    }

    fn reject(&self, ctx: &RequestContext, rejection: Rejection) -> Response {
        crate::reject(ctx, rejection)
    }
}
