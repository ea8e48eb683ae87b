//! Library functions of programs linked statically and stripped, where no symbol names them:
//! a function whose body makes one network or exec system call is that call's wrapper
//! (`li v0, 4183; syscall` is `socket` on MIPS o32, `mov r7, #281; svc 0` on ARM EABI, the
//! i386 `socketcall` with its sub-call in `ebx`), and a function that loads the string
//! `/bin/sh` runs a shell (glibc's `do_system`, uClibc's and musl's `system`, `popen`).
//! Symbol names of static programs that keep them (`__libc_recv`, `__bind`) are brought to the
//! same plain names.

use super::image::{Arch, Image};
use super::lower::Function;
use std::collections::HashMap;

/// `(number, name)` of the system calls worth naming, per architecture.
fn syscall_table(arch: Arch, is_64: bool) -> &'static [(u64, &'static str)] {
    match (arch, is_64) {
        (Arch::X86_64, _) => &[
            (0, "read"),
            (41, "socket"),
            (42, "connect"),
            (43, "accept"),
            (45, "recvfrom"),
            (47, "recvmsg"),
            (49, "bind"),
            (50, "listen"),
            (59, "execve"),
            (288, "accept4"),
        ],
        (Arch::X86, _) => &[
            (3, "read"),
            (11, "execve"),
            (359, "socket"),
            (361, "bind"),
            (362, "connect"),
            (363, "listen"),
            (364, "accept4"),
            (371, "recvfrom"),
            (372, "recvmsg"),
        ],
        (Arch::Arm, _) => &[
            (3, "read"),
            (11, "execve"),
            (281, "socket"),
            (282, "bind"),
            (283, "connect"),
            (284, "listen"),
            (285, "accept"),
            (291, "recv"),
            (292, "recvfrom"),
            (297, "recvmsg"),
            (366, "accept4"),
        ],
        (Arch::Aarch64, _) => &[
            (63, "read"),
            (198, "socket"),
            (200, "bind"),
            (201, "listen"),
            (202, "accept"),
            (203, "connect"),
            (207, "recvfrom"),
            (212, "recvmsg"),
            (221, "execve"),
            (242, "accept4"),
        ],
        (Arch::Mips, false) => &[
            (4003, "read"),
            (4011, "execve"),
            (4168, "accept"),
            (4169, "bind"),
            (4170, "connect"),
            (4174, "listen"),
            (4175, "recv"),
            (4176, "recvfrom"),
            (4177, "recvmsg"),
            (4183, "socket"),
            (4334, "accept4"),
        ],
        (Arch::Mips, true) => &[
            (5000, "read"),
            (5040, "socket"),
            (5041, "connect"),
            (5042, "accept"),
            (5044, "recvfrom"),
            (5046, "recvmsg"),
            (5048, "bind"),
            (5049, "listen"),
            (5057, "execve"),
            (5293, "accept4"),
        ],
    }
}

/// The i386 `socketcall` multiplexer: its number and sub-calls.
const SOCKETCALL: u64 = 102;
const SOCKETCALL_SUBS: &[(u64, &str)] = &[
    (1, "socket"),
    (2, "bind"),
    (3, "connect"),
    (4, "listen"),
    (5, "accept"),
    (10, "recv"),
    (12, "recvfrom"),
    (17, "recvmsg"),
    (18, "accept4"),
];

/// Names for the functions of a static program that its symbols do not give: system call
/// wrappers by the call they make, shell runners by the `/bin/sh` they load.
pub fn static_names(image: &Image, functions: &[Function]) -> HashMap<u64, String> {
    let mut out = HashMap::new();
    if !image.is_static {
        return out;
    }
    let table = syscall_table(image.arch, image.is_64);
    for f in functions {
        if f.name.is_some() {
            continue;
        }
        // The first system call the function makes names it: a wrapper's body comes first,
        // and a stripped program's function may run on into the next wrapper when nothing
        // calls that one directly.
        let mut name = None;
        for sc in &f.syscalls {
            let Some(nr) = sc.nr else { continue };
            let known = table.iter().any(|(k, _)| *k == nr)
                || (image.arch == Arch::X86 && nr == SOCKETCALL);
            if !known {
                continue;
            }
            if image.arch == Arch::X86 && nr == SOCKETCALL {
                name = sc
                    .arg0
                    .and_then(|sub| SOCKETCALL_SUBS.iter().find(|(k, _)| *k == sub))
                    .map(|(_, n)| *n);
            } else {
                name = table.iter().find(|(k, _)| *k == nr).map(|(_, n)| *n);
            }
            break;
        }
        match name {
            Some(n) => {
                out.insert(f.start, n.to_string());
            }
            None if !f.watched.is_empty() => {
                out.insert(f.start, "system".to_string());
            }
            None => {}
        }
    }
    out
}

/// The plain name of a library function under its internal aliases (`__libc_recv`,
/// `__GI___bind`, `__socket`).
pub fn plain_name(name: &str) -> &str {
    let mut n = super::base_name(name);
    loop {
        let t = n.trim_start_matches('_');
        let t = t
            .strip_prefix("libc_")
            .or_else(|| t.strip_prefix("GI_"))
            .unwrap_or(t);
        if t == n {
            return n;
        }
        n = t;
    }
}

#[cfg(test)]
mod tests {
    use super::plain_name;

    #[test]
    fn internal_aliases_become_plain_names() {
        assert_eq!(plain_name("__libc_recv"), "recv");
        assert_eq!(plain_name("__GI___bind"), "bind");
        assert_eq!(plain_name("__socket"), "socket");
        assert_eq!(plain_name("recvfrom@GLIBC_2.4"), "recvfrom");
        assert_eq!(plain_name("system"), "system");
    }
}
