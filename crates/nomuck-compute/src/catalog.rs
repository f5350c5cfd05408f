//! The instance types nomuck offers: EC2's first (m1.small, 2006), then sizes people
//! know. Each has a price class for billing.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceType {
    pub name: &'static str,
    pub vcpus: u32,
    pub memory_mib: u32,
    /// The billing meter's name for its running time (`BoxUsage:t3.micro`).
    pub price_class: &'static str,
    pub current_generation: bool,
}

const fn t(
    name: &'static str,
    vcpus: u32,
    memory_mib: u32,
    price_class: &'static str,
    current: bool,
) -> InstanceType {
    InstanceType {
        name,
        vcpus,
        memory_mib,
        price_class,
        current_generation: current,
    }
}

pub const TYPES: &[InstanceType] = &[
    t("m1.small", 1, 1740, "BoxUsage:m1.small", false),
    t("t2.nano", 1, 512, "BoxUsage:t2.nano", true),
    t("t2.micro", 1, 1024, "BoxUsage:t2.micro", true),
    t("t3.nano", 2, 512, "BoxUsage:t3.nano", true),
    t("t3.micro", 2, 1024, "BoxUsage:t3.micro", true),
    t("t3.small", 2, 2048, "BoxUsage:t3.small", true),
    t("t3.medium", 2, 4096, "BoxUsage:t3.medium", true),
    t("m5.large", 2, 8192, "BoxUsage:m5.large", true),
    t("m5.xlarge", 4, 16384, "BoxUsage:m5.xlarge", true),
];

/// EC2's default when RunInstances names no type.
pub const DEFAULT_TYPE: &str = "m1.small";

pub fn lookup(name: &str) -> Option<&'static InstanceType> {
    TYPES.iter().find(|t| t.name == name)
}
