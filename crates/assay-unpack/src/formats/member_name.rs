//! Member names of the archive formats (tar, cpio, zip, 7z), made absolute the same way:
//! trailing separators dropped, a leading `./` dropped where the format writes one, and a
//! leading `/` added. `..` is kept verbatim: the driver checks and reports it.

/// Make a member name absolute without resolving `..`. `separators` are the characters
/// trimmed from the end (`/`, and `\` for formats written on Windows); with `dot_prefix`, a
/// leading `./` is dropped and `.` names the root.
pub(crate) fn absolute(name: &str, separators: &[char], dot_prefix: bool) -> String {
    let mut trimmed = name.trim_end_matches(separators);
    if dot_prefix {
        trimmed = trimmed.strip_prefix("./").unwrap_or(trimmed);
        if trimmed == "." {
            return "/".into();
        }
    }
    if trimmed.starts_with('/') {
        trimmed.to_string()
    } else {
        format!("/{trimmed}")
    }
}

#[cfg(test)]
mod tests {
    use super::absolute;

    #[test]
    fn names_become_absolute() {
        assert_eq!(absolute("./etc/passwd", &['/'], true), "/etc/passwd");
        assert_eq!(absolute("./", &['/'], true), "/");
        assert_eq!(absolute("", &['/'], true), "/");
        assert_eq!(absolute("bin\\", &['/', '\\'], false), "/bin");
        assert_eq!(absolute("./x", &['/', '\\'], false), "/./x");
        assert_eq!(absolute("../../etc/x", &['/'], true), "/../../etc/x");
    }
}
