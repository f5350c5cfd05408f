//! Key pairs, security groups, tags, images and the account's view of the region.

use nomuck_http::{RequestContext, Response};

use super::Ec2Api;
use crate::{Ec2Error, Ec2Request};

pub(super) async fn handle(
    _api: &Ec2Api,
    _ctx: &RequestContext,
    _account: &str,
    request: Ec2Request,
) -> Result<Response, Ec2Error> {
    Err(Ec2Error::Unsupported(format!(
        "{} is not available yet",
        request.action()
    )))
}
