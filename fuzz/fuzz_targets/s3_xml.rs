//! S3 request documents (DeleteObjects, CompleteMultipartUpload, Tagging,
//! CreateBucketConfiguration, LifecycleConfiguration, NotificationConfiguration) from untrusted bytes: errors, never panics.
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
    // A lifecycle document that parses renders back to the same rules.
    if let Ok(lc) = nomuck_s3::lifecycle::parse_lifecycle(data) {
        let again = nomuck_s3::lifecycle::parse_lifecycle(
            nomuck_s3::lifecycle::render_lifecycle(&lc).as_bytes(),
        );
        assert_eq!(again.ok(), Some(lc));
    }
    // So does a notification configuration.
    if let Ok(n) = nomuck_s3::notification::parse_notifications(data) {
        let again = nomuck_s3::notification::parse_notifications(
            nomuck_s3::notification::render_notifications(&n).as_bytes(),
        );
        assert_eq!(again.ok(), Some(n));
    }
});
