//! S3 request documents (DeleteObjects, CompleteMultipartUpload, Tagging,
//! CreateBucketConfiguration) from untrusted bytes: errors, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(doc) = nomuck_s3::xml::parse(data) {
        // Walk what was parsed the way the handlers do.
        let _ = doc.child_text("Quiet");
        for object in doc.children_named("Object") {
            let _ = object.child_text("Key");
        }
    }
    let _ = nomuck_s3::xml::parse_tagging(data);
});
