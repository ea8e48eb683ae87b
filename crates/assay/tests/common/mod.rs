//! What every test that runs the binary shares.

use std::process::Command;

/// The `assay` binary with `ASSAY_VULNDB` naming a file that does not exist, so that no test
/// reads the vulnerability database of the user who runs it (`$ASSAY_VULNDB` or
/// `~/.local/share/assay/vulndb.sqlite`): scans report "no vulnerability database" unless
/// the test gives `--vulndb`.
pub fn assay() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_assay"));
    command.env("ASSAY_VULNDB", "/nonexistent/assay-tests/vulndb.sqlite");
    command
}
