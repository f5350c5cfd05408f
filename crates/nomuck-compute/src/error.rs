use nomuck_meta::MetaError;

/// What can go wrong in a compute operation, in the domain's words. The EC2 API
/// maps each to its error code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ComputeError {
    #[error("instances not found: {0:?}")]
    InstanceNotFound(Vec<String>),
    #[error("images not found: {0:?}")]
    ImageNotFound(Vec<String>),
    #[error("an image named {0:?} already exists ({1})")]
    ImageNameTaken(String, String),
    #[error("key pair {0:?} not found")]
    KeyPairNotFound(String),
    #[error("key pair {0:?} already exists")]
    KeyPairTaken(String),
    #[error("not an OpenSSH public key")]
    BadPublicKey,
    #[error("security groups not found: {0:?}")]
    GroupNotFound(Vec<String>),
    #[error("security group {0:?} already exists")]
    GroupTaken(String),
    #[error("security group name {0:?} is reserved")]
    GroupReserved(String),
    #[error("rule already exists: {0}")]
    RuleTaken(String),
    #[error("rule does not exist")]
    RuleNotFound,
    #[error("{0} is in use")]
    InUse(String),
    #[error("the default security group cannot be deleted: {0}")]
    CannotDeleteDefault(String),
    #[error("no such resource id {0}")]
    NoSuchId(String),
    /// `(instance, its state, what was asked: "stopped", "started", …)`.
    #[error("instance {0} is {1}; it cannot be {2}")]
    IncorrectState(String, String, &'static str),
    #[error("{0}")]
    InvalidValue(String),
    #[error("{0}")]
    InvalidCombination(String),
    #[error("client token {0} was used with other parameters")]
    TokenMismatch(String),
    #[error("{requested} instances requested; the limit is {limit}")]
    InstanceLimit { requested: u32, limit: u32 },
    /// `(instance type, availability zone)`.
    #[error("not enough capacity for {0} in {1}")]
    InsufficientCapacity(String, String),
    #[error("{0}")]
    Unsupported(String),
    #[error("{0}")]
    NotPermitted(String),
    /// A dry run found that the request would have succeeded.
    #[error("the request would have succeeded (dry run)")]
    DryRun,
    #[error("missing parameter {0}")]
    MissingParameter(String),
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<MetaError> for ComputeError {
    fn from(e: MetaError) -> Self {
        ComputeError::Internal(e.to_string())
    }
}
