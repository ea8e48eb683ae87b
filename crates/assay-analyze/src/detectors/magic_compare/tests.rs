use super::*;

fn fixture(name: &str) -> Vec<u8> {
    let p = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/binscan/");
    std::fs::read(format!("{p}{name}")).unwrap()
}

#[test]
fn debug_dump() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/binscan/");
    let mut names: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    for n in names {
        let b = fixture(&n);
        let lits = compared_literals(&b);
        let sus = suspicious_comparisons(&b);
        println!("== {n}: {} literals: {:?}", lits.len(), lits.iter().map(|l| (String::from_utf8_lossy(&l.text).into_owned(), l.compare.clone(), l.on_stack)).collect::<Vec<_>>());
        for s in sus {
            println!("   {} {:?} {:?} guards={:?} bypass={:?} {}", s.rule.id, s.severity, s.confidence, s.guards, s.bypasses, String::from_utf8_lossy(&s.literal.text));
        }
    }
}
