use super::*;
use crate::testutil::{tree, TestEntry::*};
use assay_model::Severity;

fn run(entries: &[crate::testutil::TestEntry]) -> Vec<Finding> {
    let t = tree(entries);
    let a = Analysis::new(&t);
    let mut out = crate::FindingSink::new();
    scan(&a, &mut out);
    out.held().to_vec()
}

#[test]
fn uci_script_json_xml_url_command_and_httpd() {
    let out = run(&[
        File("/upper/etc/config/tr069", b"config acs 'acs'\n\toption url 'http://198.51.100.23:7547/acs'\n\toption username 'acs-cpe'\n\toption password 'Acs#2024cpe'\n\noption other '1'\n", 0o644),
        File("/upgrade.sh", b"#!/bin/sh\nFTP_HOST=192.0.2.10\nFTP_USER=olt_upd\nFTP_PASS='Upd@te2019'\nftpget -u \"$FTP_USER\" -p \"$FTP_PASS\" $FTP_HOST x y\n", 0o755),
        File("/etc/app.json", b"{\n  \"user\": \"svc\",\n  \"password\": \"Hunter2!\"\n}\n", 0o644),
        File("/etc/app.xml", b"<cfg><Username>adm</Username>\n<Password>s3cr3t</Password></cfg>\n", 0o644),
        File("/etc/init.d/fetch", b"wget ftp://upd:Fw2020x@192.0.2.1/fw.bin\ncurl -u bob:B0bPass http://x.example/\n", 0o755),
        File("/etc/httpd.conf", b"H:/www\n/cgi-bin:admin:password\n", 0o644),
        File("/www/cgi-bin/login.cgi", b"#!/bin/sh\nif [ \"$user\" = \"super\" ] && [ \"$pass\" = \"Zx9!acme\" ]; then\n  echo ok\nfi\n", 0o755),
    ]);
    let has = |rule: &str, path: &str, pw: &str| {
        out.iter().any(|f| {
            f.rule == rule
                && f.path == path
                && f.context.get("password").map(String::as_str) == Some(pw)
        })
    };
    assert!(
        has("ASSAY-CRED-010", "/upper/etc/config/tr069", "Acs#2024cpe"),
        "{out:#?}"
    );
    assert!(has("ASSAY-CRED-010", "/upgrade.sh", "Upd@te2019"));
    assert!(has("ASSAY-CRED-010", "/etc/app.json", "Hunter2!"));
    assert!(has("ASSAY-CRED-010", "/etc/app.xml", "s3cr3t"));
    assert!(has("ASSAY-CRED-011", "/etc/init.d/fetch", "Fw2020x"));
    assert!(has("ASSAY-CRED-012", "/etc/init.d/fetch", "B0bPass"));
    assert!(has("ASSAY-CRED-013", "/etc/httpd.conf", "password"));
    assert!(has("ASSAY-CRED-014", "/www/cgi-bin/login.cgi", "Zx9!acme"));
    let tr = out
        .iter()
        .find(|f| f.path == "/upper/etc/config/tr069")
        .unwrap();
    assert_eq!(tr.context["username"], "acs-cpe");
    assert_eq!(tr.severity, Severity::High);
    assert_eq!(tr.evidence, "\\toption password 'Acs#2024cpe'");
}

#[test]
fn placeholders_comments_and_policies_are_quiet() {
    let out = run(&[
        File("/etc/sample.conf", b"# password=secret123\npassword=<your password>\npassword=\nadmin_password=${ADMIN_PW}\nPASS_MAX_DAYS 99999\npassword_file=/etc/pw\n", 0o644),
        File("/etc/login.defs", b"PASS_MIN_LEN 5\nPASS_WARN_AGE 7\n", 0o644),
        File("/usr/share/doc/x/README", b"password=example123\n", 0o644),
        File("/etc/init.d/s", b"if [ \"$pass\" = \"\" ]; then exit 1; fi\nwget --password=\"$PW\" http://x/\n", 0o755),
        File("/www/auth/login.php", b"<?\n\tif ($user == query(\"name\") && $passwd == query(\"password\"))\n?>\n", 0o644),
        File("/www/js/lang.js", b"gVarPassword = 'Password:';\nif (newPassword.value == \"\") {}\nwan_pppoe_pass=pppoe_passwd\nthis.Password = Password;\n", 0o644),
    ]);
    assert!(out.is_empty(), "{out:#?}");
}

#[test]
fn binaries_with_nvram_defaults_and_paired_literals() {
    let mut elf = b"\x7fELF\x01\x01\x01\0\0\0\0\0".to_vec();
    elf.extend_from_slice(b"\0lan_ipaddr=192.168.0.1\0http_username=admin\0http_passwd=admin\0remote_mgmt_user=support\0remote_mgmt_passwd=Supp0rt!AR934x\0");
    elf.extend_from_slice(
        b"\0http://acs.example/\0cwmp-cpe\0cwmp#Acme2016\0wget --user=%s --password=%s '%s'\0",
    );
    elf.extend_from_slice(b"\0OLT> \0enable\0Password: \0olt-enable-2019\0% Bad secret\0");
    let out = run(&[File("/usr/sbin/tool", &elf, 0o755)]);
    let pw = |p: &str| {
        out.iter()
            .find(|f| f.context.get("password").map(String::as_str) == Some(p))
    };
    assert_eq!(pw("admin").unwrap().severity, Severity::High);
    assert_eq!(pw("Supp0rt!AR934x").unwrap().context["username"], "support");
    assert_eq!(pw("cwmp#Acme2016").unwrap().context["username"], "cwmp-cpe");
    assert!(pw("olt-enable-2019").is_some(), "{out:#?}");
    assert!(out.iter().all(|f| f.rule == "ASSAY-CRED-015"));
}

#[test]
fn shell_parameter_expansions_are_no_credentials() {
    let out = run(&[File(
        "/lib/netifd/proto/qmi.sh",
        b"#!/bin/sh\nuqmi -s -d \"$device\" --start-network \\\n\t${username:+--username $username} \\\n\t${password:+--password $password} \\\n\t${auth:+--auth-type $auth}\nqcm ${password:+ $password}\n",
        0o755,
    )]);
    assert!(out.is_empty(), "{out:#?}");
}

/// A 32-bit little-endian shared object header (no sections): a library to `elf_facts`.
fn shared_object(strings: &[u8]) -> Vec<u8> {
    let mut h = vec![0u8; 52];
    h[..4].copy_from_slice(b"\x7fELF");
    h[4] = 1;
    h[5] = 1;
    h[6] = 1;
    h[16..18].copy_from_slice(&3u16.to_le_bytes());
    h[18..20].copy_from_slice(&8u16.to_le_bytes());
    h[20..24].copy_from_slice(&1u32.to_le_bytes());
    h[40..42].copy_from_slice(&52u16.to_le_bytes());
    h[42..44].copy_from_slice(&32u16.to_le_bytes());
    h[46..48].copy_from_slice(&40u16.to_le_bytes());
    h.extend_from_slice(strings);
    h
}

#[test]
fn settings_only_an_unloaded_library_reads_are_not_the_devices() {
    let lib = shared_object(b"\0/bin/cp /emu/nvram.override/* /emu/nvram/\0");
    let override_file: &[u8] = b"lan_ipaddr=192.168.0.1\nhttp_username=admin\nhttp_passwd=admin\n";
    let out = run(&[
        File("/emu/nvram.override", override_file, 0o644),
        File("/emu/libnvram.so", &lib, 0o755),
    ]);
    let f = out
        .iter()
        .find(|f| f.path == "/emu/nvram.override")
        .expect("still reported");
    assert_eq!(f.severity, Severity::Low, "{f:#?}");
    assert!(f.context["read_only_by_unloaded_libraries"].contains("/emu/libnvram.so"));
    // The same settings read by a boot script are the device's.
    let out = run(&[
        File("/etc/nvram.default", override_file, 0o644),
        File("/etc/inittab", b"::sysinit:/etc/rcS\n", 0o644),
        File(
            "/etc/rcS",
            b"#!/bin/sh\nnvram_load /etc/nvram.default\n",
            0o755,
        ),
    ]);
    let f = out
        .iter()
        .find(|f| f.path == "/etc/nvram.default")
        .expect("reported");
    assert_eq!(f.severity, Severity::High, "{f:#?}");
}

#[test]
fn fixed_width_ini_accounts_pair_user_and_password() {
    let out = run(&[File(
        "/mnt/mtd/ipc/conf/config_user.ini",
        b"[user0]                 \nusername      = \"admin     \"\npassword      = \"admin     \"\nauthtype      = \"15        \"\n[user1]                 \nusername      = \"operator  \"\npassword      = \"op3rat0r  \"\n[user2]                 \nusername      = \"          \"\npassword      = \"          \"\n",
        0o644,
    )]);
    let creds: Vec<_> = out
        .iter()
        .filter(|f| f.rule == "ASSAY-CRED-010")
        .map(|f| {
            (
                f.context.get("username").cloned().unwrap_or_default(),
                f.context["password"].clone(),
                f.severity,
            )
        })
        .collect();
    assert_eq!(
        creds,
        vec![
            ("admin".into(), "admin".into(), Severity::High),
            ("operator".into(), "op3rat0r".into(), Severity::High)
        ],
        "{out:#?}"
    );
}

#[test]
fn carrier_dial_up_profiles_are_not_device_credentials() {
    let out = run(&[
        File(
            "/etc/conf/config_run3g.ini",
            b"[run3gcfg]\nrunmode = \"1  \"\napn = \"3GNET  \"\ndnumber = \"*99#  \"\nusername = \"card\"\npassword = \"card\"\n[admin]\nusername = \"root\"\npassword = \"Zq8#mLx\"\n",
            0o644,
        ),
        File(
            "/etc/isp_presets.json",
            b"[\n {\n  \"name\": \"Carrier One\",\n  \"apn\": \"internet.one\",\n  \"username\": \"one\",\n  \"password\": \"one\"\n }\n]\n",
            0o644,
        ),
    ]);
    let carrier: Vec<_> = out
        .iter()
        .filter(|f| f.context.contains_key("carrier_profile"))
        .collect();
    assert_eq!(carrier.len(), 2, "{out:#?}");
    assert!(carrier.iter().all(|f| f.severity == Severity::Low));
    let admin = out
        .iter()
        .find(|f| f.context.get("password").map(String::as_str) == Some("Zq8#mLx"))
        .expect("device account");
    assert_eq!(admin.severity, Severity::High);
}

#[test]
fn fragments_included_only_by_commented_out_lines_are_not_in_effect() {
    let fragment: &[u8] =
        b"server.modules += ( \"mod_db_vhost\" )\ndb-vhost.user = \"web\"\ndb-vhost.pass = \"Sq1-Pw9x\"\n";
    let main_off: &[u8] =
        b"## - mod_db_vhost -> conf.d/db_vhost.conf\n#include \"conf.d/db_vhost.conf\"\ninclude \"conf.d/access.conf\"\n";
    let out = run(&[
        File("/etc/httpd/modules.conf", main_off, 0o644),
        File("/etc/httpd/conf.d/db_vhost.conf", fragment, 0o644),
    ]);
    let f = out
        .iter()
        .find(|f| f.path == "/etc/httpd/conf.d/db_vhost.conf")
        .expect("still reported");
    assert_eq!(f.severity, Severity::Low, "{f:#?}");
    assert_eq!(f.context["included_only_by"], "/etc/httpd/modules.conf:2");
    // Included by a live line (or by a wildcard of its directory): in effect.
    for main_on in [
        &b"include \"conf.d/db_vhost.conf\"\n"[..],
        &b"#include \"conf.d/db_vhost.conf\"\ninclude \"conf.d/*.conf\"\n"[..],
    ] {
        let out = run(&[
            File("/etc/httpd/modules.conf", main_on, 0o644),
            File("/etc/httpd/conf.d/db_vhost.conf", fragment, 0o644),
        ]);
        let f = out
            .iter()
            .find(|f| f.path == "/etc/httpd/conf.d/db_vhost.conf")
            .expect("reported");
        assert_eq!(f.severity, Severity::High, "{f:#?}");
    }
}

#[test]
fn stand_ins_a_page_tests_its_password_fields_for_are_no_password() {
    let page: &[u8] = b"function Wan(UserName, PasswordIsNull)\n{\nthis.UserName = UserName;\nif (PasswordIsNull == 1)\n{\nthis.Password = '';\n}\nelse\n{\nthis.Password = '*#Kq7!zv';\n}\n}\nfunction Submit()\n{\nif ('*#Kq7!zv' != PageData.Password)\n{\nForm.addParameter('y.Password', PageData.Password);\n}\n}\n";
    let out = run(&[File("/etc/webpages", page, 0o644)]);
    assert!(out.iter().all(|f| f.rule != "ASSAY-CRED-010"), "{out:#?}");
    // A password set in a page that tests the field for another value stays a finding.
    let page: &[u8] = b"this.UserName = 'admin';\nthis.Password = 'Hx7_pq2z';\nif (Password.value == '')\n{\nalert('empty');\n}\n";
    let out = run(&[File("/etc/webpages", page, 0o644)]);
    assert!(
        out.iter()
            .any(|f| f.rule == "ASSAY-CRED-010" && f.context["password"] == "Hx7_pq2z"),
        "{out:#?}"
    );
}

#[test]
fn captions_of_a_string_table_are_no_passwords() {
    let table: &[u8] = b"share.enabled=\"Geactiveerd\";\nshare.disabled=\"Gedeactiveerd\";\nshare.usrname=\"Gebruikersnaam\";\nshare.passwd=\"Wachtwoord\";\nshare.hostname=\"Host Naam\";\nshare.compression=\"PPP Compressie\";\n";
    let out = run(&[File("/www/lang_pack/share.js", table, 0o644)]);
    assert!(out.iter().all(|f| f.rule != "ASSAY-CRED-010"), "{out:#?}");
    // A password among settings of its own namespace that are not captions stays one.
    let conf: &[u8] = b"db.host=\"localhost\";\ndb.name=\"web\";\ndb.user=\"web\";\ndb.passwd=\"Tornado\";\ndb.port=\"3306\";\n";
    let out = run(&[File("/etc/app/db.conf", conf, 0o644)]);
    assert!(out.iter().any(|f| f.rule == "ASSAY-CRED-010"), "{out:#?}");
}

#[test]
fn field_descriptions_and_name_service_sources_are_no_passwords() {
    let out = run(&[
        File(
            "/etc/openssl.cnf",
            b"[ req_attributes ]\nchallengePassword\t\t= A challenge password\nchallengePassword_min\t\t= 4\n",
            0o644,
        ),
        File("/etc/nsswitch.conf", b"passwd:\t\tcompat\ngroup:\t\tcompat\nhosts:\t\tfiles dns\n", 0o644),
    ]);
    assert!(out.iter().all(|f| f.rule != "ASSAY-CRED-010"), "{out:#?}");
}
