//! `assay keygen`: an ed25519 key pair for signing reports.

use super::{shown, usage};
use crate::flags::KeygenArgs;
use anyhow::{Context, Result};
use assay_report::dsse;
use std::io::Write;
use std::path::{Path, PathBuf};

pub fn run(args: KeygenArgs) -> Result<i32> {
    let output = &args.output;
    let public_path = {
        let mut p = output.as_os_str().to_owned();
        p.push(".pub");
        PathBuf::from(p)
    };
    if !args.force && (output.exists() || public_path.exists()) {
        return Err(usage(format!(
            "{} or its .pub exists; pass --force to replace them",
            shown(output)
        )));
    }
    let mut seed = [0u8; 32];
    getrandom::getrandom(&mut seed).context("reading random bytes from the system")?;
    let key = ed25519_dalek::SigningKey::from_bytes(&seed);
    write_secret(output, &dsse::signing_key_to_text(&key))?;
    std::fs::write(
        &public_path,
        dsse::verifying_key_to_text(&key.verifying_key()),
    )
    .with_context(|| format!("writing {}", public_path.display()))?;
    println!(
        "wrote {} (secret) and {}; keyid {}",
        shown(output),
        shown(&public_path),
        dsse::key_id(&key.verifying_key())
    );
    Ok(0)
}

/// Write a file only its owner can read.
pub(crate) fn write_secret(path: &Path, text: &str) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes())
        .with_context(|| format!("writing {}", path.display()))
}
