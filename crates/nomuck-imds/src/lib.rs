//! EC2's instance metadata service (IMDS), one instance per channel.
//!
//! A guest reaches 169.254.169.254:80 through QEMU's user-mode `guestfwd`, which runs
//! a small bridge per connection ([`bridge_stdio`], the future `nomuck imds-bridge`
//! subcommand) that copies the connection to its instance's unix socket
//! (`<instance dir>/imds.sock`). [`serve`] answers on that socket for exactly one
//! instance, whose facts a [`MetadataSource`] supplies; so an instance is known by
//! the socket its request arrived on, never by a source address a guest could forge.
//!
//! Served: IMDSv1 and IMDSv2 (`PUT /latest/api/token`, tokens bound to the instance by
//! an HMAC, optionally required), the `meta-data/` tree, `user-data` and
//! `dynamic/instance-identity/document`, under `latest` and EC2's dated versions.
//! Nothing here knows EC2's API, storage or the metadata store.

mod bridge;
mod facts;
mod server;
mod token;
mod tree;

pub use bridge::bridge_stdio;
pub use facts::{HttpTokens, InstanceFacts, MetadataSource, PublicKey, Subnet, ec2_hostname};
pub use server::{MAX_CONNECTIONS, TOKEN_HEADER, TTL_HEADER, answer, serve};
pub use token::{TTL_RANGE, TokenKey};
pub use tree::{VERSIONS, identity_document};
