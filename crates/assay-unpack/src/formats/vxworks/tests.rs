use super::*;

#[test]
fn version_strings_are_whole_c_strings_with_a_version() {
    let d = b"\0VxWorks\x005.5.1\0VxWorks5.5.1\0\0\0\0Aug 24 2011, 18:58:12\0";
    let v = version_string(d).expect("version");
    assert_eq!(v.version, "5.5.1");
    assert_eq!(v.text, "VxWorks5.5.1");
    assert_eq!(v.offset, 15);
    assert_eq!(v.build_date.as_deref(), Some("Aug 24 2011, 18:58:12"));
    let d = b"xx\0VxWorks 6.7\0\0Mar  1 2012, 10:01:48\0";
    let v = version_string(d).expect("version");
    assert_eq!(v.version, "6.7");
    assert_eq!(v.build_date.as_deref(), Some("Mar  1 2012, 10:01:48"));
    // Text about VxWorks, not a version string of an image.
    assert_eq!(version_string(b"\0VxWorks 6.7 is great\0"), None);
    assert_eq!(version_string(b"aVxWorks 6.7\0"), None);
    assert_eq!(version_string(b"\0VxWorks 6.\0"), None);
}

#[test]
fn kernel_version_and_corroboration() {
    let d = b"\0WIND version 2.12\0";
    assert_eq!(kernel_version(d), Some(("2.12".into(), 1)));
    assert!(identify(d).is_some());
    // A lone version string is not enough; with the copyright it is.
    assert!(identify(b"\0VxWorks 6.7\0").is_none());
    assert!(identify(b"\0VxWorks 6.7\0Copyright Wind River Systems, Inc.\0").is_some());
}

#[test]
fn creation_date_may_follow_the_runtime_version() {
    let d = b"\0VxWorks\0VxWorks 6.7\x006.7\0Mar 01 2012, 10:01:48\0";
    let v = version_string(d).expect("version");
    assert_eq!(v.version, "6.7");
    assert_eq!(v.build_date.as_deref(), Some("Mar 01 2012, 10:01:48"));
}
