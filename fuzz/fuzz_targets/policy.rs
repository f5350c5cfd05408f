//! Bucket policies and browser POST policies from untrusted bytes: parsed,
//! and when valid evaluated, without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use nomuck_policy::{Action, ConditionContext, Policy, PostPolicy, Principal, Request};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(policy) = Policy::parse(text, "bucket") {
        let mut ctx = ConditionContext::new();
        ctx.insert("aws:SourceIp", "127.0.0.1");
        ctx.insert("s3:prefix", "a/");
        let principal = Principal::Account("123456789012".into());
        let _ = policy.is_public();
        let _ = policy.evaluate(&Request {
            principal: &principal,
            action: Action::GetObject,
            bucket: "bucket",
            key: Some("a/b"),
            context: &ctx,
        });
    }
    let _ = PostPolicy::parse(text);
});
