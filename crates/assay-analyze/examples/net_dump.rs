//! Print what the network analysis finds in ELF files: sockets, binds (port, address),
//! service names, and magic comparisons of received bytes that reach a shell.
//!
//! `cargo run -p assay-analyze --example net_dump -- FILE...`

fn main() {
    for path in std::env::args().skip(1) {
        let Ok(bytes) = std::fs::read(&path) else {
            eprintln!("{path}: unreadable");
            continue;
        };
        let Some(p) = assay_analyze::detectors::magic_compare::network_program(&bytes) else {
            println!("{path}: no socket calls");
            continue;
        };
        println!(
            "{path}: {} static={} listens={}",
            p.arch, p.is_static, p.listens
        );
        for s in &p.sockets {
            println!("  socket {:?} at {:?}", s.protocol, s.range);
        }
        for b in &p.binds {
            println!(
                "  bind family={:?} port={:?} addr={:?} at {:?} port-store {:?}",
                b.family, b.port, b.address, b.range, b.port_range
            );
        }
        for s in &p.services {
            println!("  service {:?}", s.name);
        }
        for (n, r) in &p.api_calls {
            println!("  {n} at {r:?}");
        }
        for t in &p.triggers {
            println!(
                "  TRIGGER magic={:02x?} via {} at {:#x} -> {} ({}) in {:?} from {}",
                t.magic,
                t.compare,
                t.compare_at,
                t.sink,
                t.sink_kind,
                t.function_name,
                t.received_by
            );
        }
        println!("  network compares: {}", p.compared_from_network.len());
    }
}
