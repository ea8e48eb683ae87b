//! CPE 2.3 formatted names (`cpe:2.3:a:thekelleys:dnsmasq:2.89:*:*:*:*:*:*:*`): only the fields
//! matching needs, with the spec's backslash escapes honoured when splitting.

/// The fields of a CPE 2.3 name that vulnerability matching uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cpe {
    /// `a` application, `o` operating system, `h` hardware.
    pub part: String,
    /// Vendor, lower case (`thekelleys`).
    pub vendor: String,
    /// Product, lower case (`dnsmasq`).
    pub product: String,
    /// Version, `*` for any and `-` for not applicable.
    pub version: String,
    /// Update (`p1`, `rc1`), `*` or `-`.
    pub update: String,
}

impl Cpe {
    /// Parse a formatted CPE 2.3 name; `None` when it is not one.
    pub fn parse(s: &str) -> Option<Cpe> {
        let rest = s.strip_prefix("cpe:2.3:")?;
        let mut fields = Vec::with_capacity(11);
        let mut cur = String::new();
        let mut chars = rest.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => {
                    if let Some(n) = chars.next() {
                        cur.push(n);
                    }
                }
                ':' => {
                    fields.push(std::mem::take(&mut cur));
                    if fields.len() > 11 {
                        return None;
                    }
                }
                _ => cur.push(c),
            }
        }
        fields.push(cur);
        if fields.len() < 5 {
            return None;
        }
        let f = |i: usize| fields.get(i).map(|s| s.to_ascii_lowercase());
        Some(Cpe {
            part: f(0)?,
            vendor: f(1)?,
            product: f(2)?,
            version: f(3)?,
            update: f(4)?,
        })
    }
}

/// Whether a CPE field is a wildcard (`*`) or unset (`-`, empty).
pub fn is_unset(field: &str) -> bool {
    matches!(field, "*" | "-" | "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_with_escapes() {
        let c = Cpe::parse("cpe:2.3:a:thekelleys:dnsmasq:2.89:*:*:*:*:*:*:*").unwrap();
        assert_eq!(
            (c.vendor.as_str(), c.product.as_str()),
            ("thekelleys", "dnsmasq")
        );
        assert_eq!(c.version, "2.89");
        let c = Cpe::parse(r"cpe:2.3:a:nodejs:node.js:18.12.0:*:*:*:lts:*:*:*").unwrap();
        assert_eq!(c.product, "node.js");
        let c = Cpe::parse(r"cpe:2.3:a:x:a\:b:1\.0:p1:*:*:*:*:*:*").unwrap();
        assert_eq!(
            (c.product.as_str(), c.version.as_str(), c.update.as_str()),
            ("a:b", "1.0", "p1")
        );
        assert!(Cpe::parse("cpe:/a:x:y").is_none());
        assert!(Cpe::parse("cpe:2.3:a:x").is_none());
    }
}
