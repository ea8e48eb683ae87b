use super::geometry::detect_peb_size;
use super::*;
use crate::cursor::be32;
use crate::format::Entry;
use crate::formats::testutil::hostile::{hostile_with, Hostile, Rng};
use crate::formats::testutil::{entry_bytes, sha_hex, unpack};

const IMG: &[u8] = include_bytes!("../../../tests/fixtures/ubi/three-volumes.ubi");
const VOLUMES: &str = include_str!("../../../tests/fixtures/ubi/volumes.txt");
const PEB: usize = 16384;

fn want(label: &str) -> &'static str {
    VOLUMES
        .lines()
        .find_map(|l| l.strip_prefix(label)?.strip_prefix(' '))
        .unwrap()
}

fn volume<'a>(u: &'a Unpacked, name: &str) -> &'a Entry {
    u.entries
        .iter()
        .find(|e| e.path == format!("volume:{name}"))
        .unwrap_or_else(|| panic!("volume {name} missing: {:?}", u.entries))
}

/// Rewrite the VID header CRC of the PEB at `peb`.
fn fix_vid_crc(img: &mut [u8], peb: usize) {
    let h = peb * PEB + 64;
    let crc = mtd_crc32(&img[h..h + 60]);
    img[h + 60..h + 64].copy_from_slice(&crc.to_be_bytes());
}

#[test]
fn crc_is_inverted_crc32() {
    // The fixture's first EC header, checked the way UBI does.
    assert_eq!(mtd_crc32(&IMG[..60]), be32(IMG, 60).unwrap());
}

#[test]
fn reads_three_volumes() {
    let p = Ubi.probe(IMG).unwrap();
    assert_eq!(p.length, Some(IMG.len() as u64));
    let u = unpack(&Ubi, IMG);
    assert!(u.warnings.is_empty(), "{:?}", u.warnings);
    assert_eq!(u.details["peb_size"], "16384");
    assert_eq!(u.details["leb_size"], "15872");
    assert_eq!(u.entries.len(), 3);

    let blob = volume(&u, "firmware-blob");
    assert_eq!(blob.details["type"], "static");
    assert_eq!(blob.details["vol_id"], "1");
    assert_eq!(
        sha_hex(&entry_bytes(IMG, blob).unwrap()),
        want("firmware-blob")
    );

    let raw = volume(&u, "raw");
    assert_eq!(raw.details["type"], "dynamic");
    let bytes = entry_bytes(IMG, raw).unwrap();
    assert_eq!(bytes.len(), 2 * 15872);
    assert_eq!(sha_hex(&bytes[..16000]), want("raw-prefix"));

    let fs = volume(&u, "data");
    let bytes = entry_bytes(IMG, fs).unwrap();
    assert_eq!(bytes.len(), 13 * 15872);
    assert_eq!(&bytes[..4], &[0x31, 0x18, 0x10, 0x06]);
}

#[test]
fn bad_vid_crc_loses_only_that_leb() {
    let mut img = IMG.to_vec();
    // PEB 16 holds LEB 0 of the `raw` volume.
    img[16 * PEB + 64 + 20] ^= 0x55;
    let u = unpack(&Ubi, &img);
    assert!(u.warnings.iter().any(|(_, w)| w.contains("bad volume-ID")));
    let raw = entry_bytes(&img, volume(&u, "raw")).unwrap();
    assert_eq!(raw.len(), 2 * 15872);
    assert!(raw[..15872].iter().all(|&b| b == 0xFF));
    assert_eq!(raw[15872..16000], IMG[17 * PEB + 512..17 * PEB + 512 + 128]);
    assert_eq!(
        sha_hex(&entry_bytes(&img, volume(&u, "firmware-blob")).unwrap()),
        want("firmware-blob")
    );
}

#[test]
fn truncated_image_keeps_earlier_volumes() {
    let cut = &IMG[..17 * PEB + 3000];
    let u = unpack(&Ubi, cut);
    assert!(u
        .warnings
        .iter()
        .any(|(k, w)| *k == WarningKind::Truncated && w.contains("truncated")));
    assert_eq!(u.entries.len(), 3);
    assert_eq!(
        sha_hex(&entry_bytes(cut, volume(&u, "firmware-blob")).unwrap()),
        want("firmware-blob")
    );
}

#[test]
fn newer_copy_of_a_leb_wins_unless_its_copy_crc_fails() {
    // Append a copy of PEB 16 (raw LEB 0) with a higher sqnum and changed data.
    let mut img = IMG.to_vec();
    let mut copy = IMG[16 * PEB..17 * PEB].to_vec();
    copy[512..516].copy_from_slice(b"NEW!");
    copy[64 + 40..64 + 48].copy_from_slice(&100u64.to_be_bytes());
    img.extend_from_slice(&copy);
    fix_vid_crc(&mut img, 18);
    let u = unpack(&Ubi, &img);
    assert_eq!(&entry_bytes(&img, volume(&u, "raw")).unwrap()[..4], b"NEW!");

    // The same copy flagged as a wear-levelling copy whose data CRC is wrong loses.
    img[18 * PEB + 64 + 6] = 1;
    img[18 * PEB + 64 + 20..18 * PEB + 64 + 24].copy_from_slice(&15872u32.to_be_bytes());
    fix_vid_crc(&mut img, 18);
    let u = unpack(&Ubi, &img);
    assert_eq!(
        &entry_bytes(&img, volume(&u, "raw")).unwrap()[..4],
        &IMG[16 * PEB + 512..16 * PEB + 516]
    );
}

#[test]
fn detects_peb_when_second_peb_is_erased() {
    let mut img = IMG.to_vec();
    img[PEB..2 * PEB].fill(0xFF);
    let first = parse_ec_header(&img).unwrap();
    assert_eq!(detect_peb_size(&img, &first), Some(PEB));
}

#[test]
fn a_lone_erase_counter_header_is_a_ubi_device_without_volumes() {
    // The first PEB's header, then nothing UBI wrote (a cut or empty device, as blkid's
    // sample): recognised, the header area claimed, and why nothing more is read.
    let mut img = IMG[..PEB].to_vec();
    img[64..].fill(0);
    img.resize(PEB * 3 + 4096, 0);
    let p = Ubi.probe(&img).expect("probe");
    assert_eq!(
        p.length,
        Some(parse_ec_header(&img).unwrap().data_offset as u64)
    );
    assert!(
        p.description.contains("PEB size unknown"),
        "{}",
        p.description
    );
    let u = unpack(&Ubi, &img);
    assert!(u.entries.is_empty());
    assert!(u
        .warnings
        .iter()
        .any(|(k, w)| *k == WarningKind::Truncated && w.contains("PEB size is unknown")));
    // A damaged header is still nothing.
    img[10] ^= 1;
    assert!(Ubi.probe(&img).is_none());
}

#[test]
fn rejects_random_magic() {
    let mut d = b"UBI#".to_vec();
    d.extend(std::iter::repeat_n(0u8, 200));
    assert!(Ubi.probe(&d).is_none());
}

#[test]
fn hostile_inputs_do_not_panic() {
    // Aim most flips at headers, where they matter, and often fix the VID header CRC.
    let damage = |img: &mut Vec<u8>, rng: &mut Rng| {
        let peb = rng.below(18);
        let off = if rng.below(4) == 0 {
            rng.below(img.len())
        } else {
            peb * PEB + rng.below(1024)
        };
        img[off] ^= 1 << rng.below(8);
        if rng.below(2) == 0 {
            fix_vid_crc(img, peb);
        }
        true
    };
    let how = Hostile {
        damage: Some(&damage),
        ..Hostile::default()
    };
    hostile_with(&Ubi, IMG, &how);
}
