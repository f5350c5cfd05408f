//! EC2's errors: the codes, messages and HTTP statuses EC2 answers with.
//!
//! EC2 sends every error as `<Response><Errors><Error><Code/><Message/></Error></Errors>
//! <RequestID/></Response>`. Client errors are 400, except the authorization family
//! (`UnauthorizedOperation` 403, `AuthFailure` 401) and `DryRunOperation` (412, the
//! "precondition" of a dry run: it would have succeeded). Capacity shortages are server
//! errors: EC2 lists `InsufficientInstanceCapacity` among its server error codes (500);
//! `Unavailable` is 503.

use http::StatusCode;

/// One EC2 error. The domain crate maps its own errors onto these; the API layer
/// renders them with [`crate::error_response`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Ec2Error {
    // --- Request shape -----------------------------------------------------------
    #[error("The request must contain the parameter {0}")]
    MissingParameter(String),
    #[error("The parameter {0} is not recognized")]
    UnknownParameter(String),
    /// A value that does not parse or is out of range; the message says which.
    #[error("{0}")]
    InvalidParameterValue(String),
    #[error("{0}")]
    InvalidParameterCombination(String),
    /// A parameter EC2 knows but nomuck does not offer (block device mappings, …).
    #[error("{0}")]
    Unsupported(String),
    #[error("The request is missing an action or a required parameter.")]
    MissingAction,
    #[error("The action {0} is not valid for this web service.")]
    InvalidAction(String),
    #[error("The requested version ({0}) of service AmazonEC2 does not exist")]
    NoSuchVersion(String),
    #[error("{0}")]
    InvalidPaginationToken(String),

    // --- Authorization -----------------------------------------------------------
    #[error("Request would have succeeded, but DryRun flag is set.")]
    DryRunOperation,
    #[error("You are not authorized to perform this operation.")]
    UnauthorizedOperation,
    #[error("{0}")]
    AuthFailure(String),
    #[error("{0}")]
    SignatureDoesNotMatch(String),
    #[error("{0}")]
    RequestExpired(String),

    // --- Resources ---------------------------------------------------------------
    #[error("Invalid id: \"{0}\"")]
    InvalidInstanceIdMalformed(String),
    /// Every id that does not exist, in request order.
    #[error("{}", not_found("instance ID", .0))]
    InvalidInstanceIdNotFound(Vec<String>),
    #[error("Invalid id: \"{0}\"")]
    InvalidAmiIdMalformed(String),
    #[error("{}", not_found("image id", .0))]
    InvalidAmiIdNotFound(Vec<String>),
    #[error("AMI name {0} is already in use by AMI {1}")]
    InvalidAmiNameDuplicate(String, String),
    /// `(instance id, its state, the action)`.
    #[error("The instance '{0}' is not in a state from which it can be {2}.")]
    IncorrectInstanceState(String, String, &'static str),
    #[error("The key pair '{0}' does not exist")]
    InvalidKeyPairNotFound(String),
    #[error("The keypair '{0}' already exists.")]
    InvalidKeyPairDuplicate(String),
    #[error("Key is not in valid OpenSSH public key format")]
    InvalidKeyFormat,
    #[error("{}", not_found("security group", .0))]
    InvalidGroupNotFound(Vec<String>),
    #[error("Invalid id: \"{0}\" (expecting \"sg-...\")")]
    InvalidGroupIdMalformed(String),
    #[error("The security group '{0}' already exists")]
    InvalidGroupDuplicate(String),
    #[error("The security group '{0}' is reserved")]
    InvalidGroupReserved(String),
    #[error("the specified rule \"{0}\" already exists")]
    InvalidPermissionDuplicate(String),
    #[error("The specified rule does not exist in this security group.")]
    InvalidPermissionNotFound,
    #[error("resource {0} has a dependent object")]
    DependencyViolation(String),
    #[error("the specified group: \"{0}\" name: \"default\" cannot be deleted by a user")]
    CannotDelete(String),
    #[error("The id '{0}' does not exist")]
    InvalidId(String),
    #[error("The following supplied instance types do not exist: [{0}]")]
    InvalidInstanceType(String),
    #[error("The vpc ID '{0}' does not exist")]
    InvalidVpcIdNotFound(String),
    #[error("Invalid availability zone: [{0}]")]
    InvalidZoneNotFound(String),
    #[error("Invalid region: {0}")]
    InvalidRegionNotFound(String),
    #[error("The client token {0} is already in use with different parameters.")]
    IdempotentParameterMismatch(String),
    #[error("{0}")]
    InvalidUserDataMalformed(String),
    #[error("{0}")]
    OperationNotPermitted(String),

    // --- Capacity and limits -----------------------------------------------------
    #[error(
        "You have requested more instances ({requested}) than your current instance limit of {limit} allows for the specified instance type."
    )]
    InstanceLimitExceeded { requested: u32, limit: u32 },
    /// `(instance type, availability zone)`.
    #[error(
        "We currently do not have sufficient {0} capacity in the Availability Zone you requested ({1})."
    )]
    InsufficientInstanceCapacity(String, String),
    #[error("{0}")]
    Unavailable(String),
    #[error("An internal error has occurred")]
    InternalError,
}

fn not_found(what: &str, ids: &[String]) -> String {
    match ids {
        [one] => format!("The {what} '{one}' does not exist"),
        many => format!("The {what}s '{}' do not exist", many.join(", ")),
    }
}

impl Ec2Error {
    /// EC2's error code (`<Code>`).
    pub fn code(&self) -> &'static str {
        use Ec2Error as E;
        match self {
            E::MissingParameter(_) => "MissingParameter",
            E::UnknownParameter(_) => "UnknownParameter",
            E::InvalidParameterValue(_) => "InvalidParameterValue",
            E::InvalidParameterCombination(_) => "InvalidParameterCombination",
            E::Unsupported(_) => "Unsupported",
            E::MissingAction => "MissingAction",
            E::InvalidAction(_) => "InvalidAction",
            E::NoSuchVersion(_) => "NoSuchVersion",
            E::InvalidPaginationToken(_) => "InvalidPaginationToken",
            E::DryRunOperation => "DryRunOperation",
            E::UnauthorizedOperation => "UnauthorizedOperation",
            E::AuthFailure(_) => "AuthFailure",
            E::SignatureDoesNotMatch(_) => "SignatureDoesNotMatch",
            E::RequestExpired(_) => "RequestExpired",
            E::InvalidInstanceIdMalformed(_) => "InvalidInstanceID.Malformed",
            E::InvalidInstanceIdNotFound(_) => "InvalidInstanceID.NotFound",
            E::InvalidAmiIdMalformed(_) => "InvalidAMIID.Malformed",
            E::InvalidAmiIdNotFound(_) => "InvalidAMIID.NotFound",
            E::InvalidAmiNameDuplicate(..) => "InvalidAMIName.Duplicate",
            E::IncorrectInstanceState(..) => "IncorrectInstanceState",
            E::InvalidKeyPairNotFound(_) => "InvalidKeyPair.NotFound",
            E::InvalidKeyPairDuplicate(_) => "InvalidKeyPair.Duplicate",
            E::InvalidKeyFormat => "InvalidKey.Format",
            E::InvalidGroupNotFound(_) => "InvalidGroup.NotFound",
            E::InvalidGroupIdMalformed(_) => "InvalidGroupId.Malformed",
            E::InvalidGroupDuplicate(_) => "InvalidGroup.Duplicate",
            E::InvalidGroupReserved(_) => "InvalidGroup.Reserved",
            E::InvalidPermissionDuplicate(_) => "InvalidPermission.Duplicate",
            E::InvalidPermissionNotFound => "InvalidPermission.NotFound",
            E::DependencyViolation(_) => "DependencyViolation",
            E::CannotDelete(_) => "CannotDelete",
            E::InvalidId(_) => "InvalidID",
            E::InvalidInstanceType(_) => "InvalidInstanceType",
            E::InvalidVpcIdNotFound(_) => "InvalidVpcID.NotFound",
            E::InvalidZoneNotFound(_) => "InvalidZone.NotFound",
            E::InvalidRegionNotFound(_) => "InvalidRegion.NotFound",
            E::IdempotentParameterMismatch(_) => "IdempotentParameterMismatch",
            E::InvalidUserDataMalformed(_) => "InvalidUserData.Malformed",
            E::OperationNotPermitted(_) => "OperationNotPermitted",
            E::InstanceLimitExceeded { .. } => "InstanceLimitExceeded",
            E::InsufficientInstanceCapacity(..) => "InsufficientInstanceCapacity",
            E::Unavailable(_) => "Unavailable",
            E::InternalError => "InternalError",
        }
    }

    /// The HTTP status EC2 answers this error with.
    pub fn status(&self) -> StatusCode {
        use Ec2Error as E;
        match self {
            E::DryRunOperation => StatusCode::PRECONDITION_FAILED,
            E::UnauthorizedOperation => StatusCode::FORBIDDEN,
            E::AuthFailure(_) => StatusCode::UNAUTHORIZED,
            E::SignatureDoesNotMatch(_) => StatusCode::FORBIDDEN,
            E::InsufficientInstanceCapacity(..) | E::InternalError => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            E::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// Shorthand for the common "this value is wrong" error, in EC2's wording.
    pub fn invalid_value(parameter: &str, value: &str) -> Self {
        Self::InvalidParameterValue(format!(
            "Value ({value}) for parameter {parameter} is invalid."
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_ec2() {
        assert_eq!(Ec2Error::DryRunOperation.status(), 412);
        assert_eq!(Ec2Error::UnauthorizedOperation.status(), 403);
        assert_eq!(Ec2Error::AuthFailure("x".into()).status(), 401);
        assert_eq!(
            Ec2Error::InsufficientInstanceCapacity("m1.small".into(), "us-east-1a".into()).status(),
            500
        );
        assert_eq!(Ec2Error::Unavailable("x".into()).status(), 503);
        assert_eq!(Ec2Error::MissingParameter("ImageId".into()).status(), 400);
        assert_eq!(Ec2Error::InvalidInstanceIdNotFound(vec![]).status(), 400);
    }

    #[test]
    fn not_found_names_every_id() {
        let one = Ec2Error::InvalidInstanceIdNotFound(vec!["i-1".into()]);
        assert_eq!(one.to_string(), "The instance ID 'i-1' does not exist");
        assert_eq!(one.code(), "InvalidInstanceID.NotFound");
        let two = Ec2Error::InvalidInstanceIdNotFound(vec!["i-1".into(), "i-2".into()]);
        assert_eq!(two.to_string(), "The instance IDs 'i-1, i-2' do not exist");
    }
}
