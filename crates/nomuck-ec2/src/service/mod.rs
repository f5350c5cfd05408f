//! The EC2 API on the edge (credential scope `ec2`): decode the request, run it on
//! the compute domain as the signing account, answer with EC2's XML. Only here do
//! the domain's errors become EC2's codes.

mod instances;
mod resources;

use std::sync::Arc;

use nomuck_compute::{Compute, ComputeError};
use nomuck_http::{Rejection, Request, RequestContext, Response, ServiceApi};

use crate::{Ec2Error, Ec2Request, MAX_BODY, Tag};

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
            other => resources::handle(self, ctx, account, other).await,
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
