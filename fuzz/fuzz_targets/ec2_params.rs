//! EC2 query parameters from untrusted bytes: a form body decoded into a typed request
//! must give a request or an EC2 error, never a panic, and every error must render as
//! EC2's error XML carrying its code.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let params = form_urlencoded::parse(data).into_owned().collect();
    if let Err(err) = nomuck_ec2::decode_params(params) {
        let xml = err.to_xml("req");
        assert!(xml.contains(&format!("<Code>{}</Code>", err.code())));
    }
});
