// Assay built-in rule pack: publicly documented backdoors and hidden access paths in router,
// camera and telecom firmware. Every rule carries `assay_id`, `severity`, `category`,
// `reference` (the public advisory, CVE record or write-up that documents the indicator) and
// `description`. Strings are the indicators as published; each rule combines them or bounds
// them so that ordinary Linux userland (busybox, dropbear, dnsmasq, lighttpd, openssl, glibc)
// never matches.

rule DLink_Alphanetworks_UserAgent_Auth_Bypass
{
    meta:
        assay_id = "ASSAY-BACKDOOR-001"
        severity = "critical"
        category = "backdoor"
        reference = "CVE-2013-6026; http://www.devttys0.com/2013/10/reverse-engineering-a-d-link-backdoor/"
        description = "D-Link/Planex (Alpha Networks thttpd) web server skips authentication for the User-Agent 'xmlset_roodkcableoj28840ybtide' ('edit by 04882 joel backdoor' reversed)."
    strings:
        $ua = "xmlset_roodkcableoj28840ybtide"
    condition:
        $ua
}

rule Tenda_MfgThread_UDP7329_Backdoor
{
    meta:
        assay_id = "ASSAY-BACKDOOR-002"
        severity = "critical"
        category = "backdoor"
        reference = "http://www.devttys0.com/2013/10/from-china-with-love/; Snort SID 28289"
        description = "Tenda W302R/W330R and Medialink GoAhead httpd MfgThread: a UDP 7329 packet starting with 'w302r_mfg' (variant 'rlink_mfg') followed by a command byte runs shell commands as root."
    strings:
        $w302r = "w302r_mfg"
        $rlink = "rlink_mfg"
    condition:
        filesize < 16MB and any of them
}

rule Netcore_Netis_igdmptd_UDP53413_Backdoor
{
    meta:
        assay_id = "ASSAY-BACKDOOR-003"
        severity = "critical"
        category = "backdoor"
        reference = "http://blog.trendmicro.com/trendlabs-security-intelligence/netis-routers-leave-wide-open-backdoor/"
        description = "Netcore/Netis igdmptd listens on UDP 53413 on the WAN, protected only by the fleet-wide password 'netcore'; after login it uploads, downloads and runs files."
    strings:
        $daemon = "igdmptd"
        $pw = "netcore" fullword
    condition:
        uint32(0) == 0x464c457f and filesize < 4MB and $daemon and $pw
}

rule Sercomm_TCP32764_ScMM_Backdoor
{
    meta:
        assay_id = "ASSAY-BACKDOOR-004"
        severity = "critical"
        category = "backdoor"
        reference = "CVE-2014-0659; https://github.com/elvanderb/TCP-32764"
        description = "Sercomm-built DSL gateways (Linksys, Netgear, Cisco, Diamond, LevelOne) run a TCP 32764 service whose messages start with the magic 0x53634D4D ('ScMM'/'MMcS'): dump configuration, set NVRAM, run shell commands. Matched as the MIPS lui/ori(addiu) pair that loads the magic, or the magic beside the scfgmgr name."
    strings:
        // lui $r, 0x5363 ; ... ; ori/addiu $r, $r, 0x4d4d (big-endian MIPS)
        $mips_be = { 3C (0? | 1?) 53 63 [0-16] (24 | 25 | 26 | 27 | 34 | 35 | 36 | 37) ?? 4D 4D }
        // the same in little-endian MIPS
        $mips_le = { 63 53 (0? | 1?) 3C [0-16] 4D 4D ?? (24 | 25 | 26 | 27 | 34 | 35 | 36 | 37) }
        $scmm = "ScMM"
        $mmcs = "MMcS"
        $name = "scfgmgr"
    condition:
        uint32(0) == 0x464c457f and filesize < 8MB and
        (($name and ($mips_be or $mips_le)) or ($name and ($scmm or $mmcs)))
}

rule Zyxel_zyfwp_Hardcoded_Admin
{
    meta:
        assay_id = "ASSAY-BACKDOOR-005"
        severity = "critical"
        category = "backdoor"
        reference = "CVE-2020-29583; https://nvd.nist.gov/vuln/detail/CVE-2020-29583"
        description = "Zyxel ATP/USG/USG FLEX/VPN and NXC firmware contains the undocumented administrator 'zyfwp' with the plaintext password 'PrOw!aN_fXp' (SSH and web UI)."
    strings:
        $pw = "PrOw!aN_fXp"
    condition:
        $pw
}

rule Fortinet_Fortimanager_Access_SSH_Backdoor
{
    meta:
        assay_id = "ASSAY-BACKDOOR-006"
        severity = "critical"
        category = "backdoor"
        reference = "CVE-2016-1909; https://seclists.org/fulldisclosure/2016/Jan/26"
        description = "FortiOS 4.3/5.0 SSH account 'Fortimanager_Access' answers a challenge with SHA1(challenge + the fixed secret 'FGTAbc11*xy+Qqz27' + constant bytes): anyone can compute the response."
    strings:
        $salt = "FGTAbc11*xy+Qqz27"
        $user = "Fortimanager_Access"
    condition:
        $salt or $user
}

rule Juniper_ScreenOS_Master_Password
{
    meta:
        assay_id = "ASSAY-BACKDOOR-007"
        severity = "critical"
        category = "backdoor"
        reference = "CVE-2015-7755; https://www.rapid7.com/blog/post/2015/12/20/cve-2015-7755-juniper-screenos-authentication-backdoor/"
        description = "Juniper ScreenOS 6.2.0r15-r18/6.3.0r12-r20: the password '<<< %s(un='%s') = %u', disguised as a debug format string, logs any user in as administrator over SSH and telnet."
    strings:
        $pw = "<<< %s(un='%s') = %u"
    condition:
        $pw
}

rule Xiongmai_HiSilicon_OpenTelnet_Port9530
{
    meta:
        assay_id = "ASSAY-BACKDOOR-008"
        severity = "critical"
        category = "backdoor"
        reference = "https://habr.com/en/post/486856/ (Vladislav Yarmak, HiSilicon DVR/NVR backdoor, 2020)"
        description = "Xiongmai/HiSilicon DVR, NVR and camera firmware (macGuarder, dvrHelper) accepts 'OpenTelnet:OpenOnce' on TCP 9530 after a fixed-key challenge and then starts telnetd with a root password shared by all devices."
    strings:
        $cmd = "OpenTelnet:OpenOnce"
    condition:
        $cmd
}

rule HiSilicon_DVR_Default_Root_Passwords
{
    meta:
        assay_id = "ASSAY-BACKDOOR-009"
        severity = "high"
        category = "backdoor"
        reference = "https://github.com/jgamblin/Mirai-Source-Code/blob/master/mirai/bot/scanner.c"
        description = "Several of the telnet root passwords of HiSilicon/Xiongmai DVRs and IP cameras published with the Mirai source (xc3511, vizxv, xmhdipc, klv123, klv1234, hi3518, jvbzd, 7ujMko0...) in one file: the device's own fleet password list or a scanner's credential list."
    strings:
        $p1 = "xc3511" fullword
        $p2 = "vizxv" fullword
        $p3 = "xmhdipc" fullword
        $p4 = "klv123" fullword
        $p5 = "klv1234" fullword
        $p6 = "hi3518" fullword
        $p7 = "jvbzd" fullword
        $p8 = "7ujMko0admin" fullword
        $p9 = "7ujMko0vizxv" fullword
        $p10 = "juantech" fullword
    condition:
        filesize < 16MB and 3 of them
}

rule Hikvision_Auth_Bypass_Token
{
    meta:
        assay_id = "ASSAY-BACKDOOR-010"
        severity = "high"
        category = "backdoor"
        reference = "CVE-2017-7921; https://nvd.nist.gov/vuln/detail/CVE-2017-7921"
        description = "The Hikvision camera magic query '?auth=YWRtaW46MTEK' (base64 'admin:11') that bypasses authentication on /Security/users and /System/configurationFile: present as an exploit string of a scanner or bot, or as the accepted token."
    strings:
        $tok = "auth=YWRtaW46MTEK"
    condition:
        $tok
}

rule TOTOLINK_skt_Magic_Commands
{
    meta:
        assay_id = "ASSAY-BACKDOOR-011"
        severity = "critical"
        category = "backdoor"
        reference = "CVE-2015-9550; https://pierrekim.github.io/blog/2015-08-13-TOTOLINK-how-to-NOT-handle-security-issues.html"
        description = "TOTOLINK /bin/skt listens on port 5555; the magic commands 'hel,xasf' and 'oki,xasf' open and close the web administration on the WAN with iptables."
    strings:
        $open = "hel,xasf"
        $close = "oki,xasf"
        $hello = "gvr,xasf"
        $bye = "bye,xasf"
    condition:
        $open or $close or ($hello and $bye)
}

rule Arris_Password_Of_The_Day_Seed
{
    meta:
        assay_id = "ASSAY-BACKDOOR-012"
        severity = "critical"
        category = "backdoor"
        reference = "https://w00tsec.blogspot.com/2015/11/arris-cable-modem-has-backdoor-in.html"
        description = "Arris cable modems (libarris_password.so): the 'password of the day' for the technician console is derived from the default seed 'MPSJKMDHAI'; a second password derived from the serial number gives a root shell."
    strings:
        $seed = "MPSJKMDHAI"
    condition:
        $seed
}

rule WD_MyCloud_nas_sharing_Hardcoded_Login
{
    meta:
        assay_id = "ASSAY-BACKDOOR-013"
        severity = "critical"
        category = "backdoor"
        reference = "https://gulftech.org/advisories/WDMyCloud%20Multiple%20Vulnerabilities/125"
        description = "WD My Cloud (code shared with D-Link ShareCenter) nas_sharing.cgi logs in the hard-coded user 'mydlinkBRionyg' with the password 'abc12345cba'."
    strings:
        $user = "mydlinkBRionyg"
        $pw = "abc12345cba"
        $pw64 = "YWJjMTIzNDVjYmE"
    condition:
        $user and ($pw or $pw64)
}

rule DLink_DNS_nas_sharing_messagebus
{
    meta:
        assay_id = "ASSAY-BACKDOOR-014"
        severity = "high"
        category = "backdoor"
        reference = "CVE-2024-3273; https://nvd.nist.gov/vuln/detail/CVE-2024-3273"
        description = "D-Link DNS-320L/325/327L/340L nas_sharing.cgi accepts the account 'messagebus' with an empty password, then runs the base64 'system' parameter: the request string of the exploit."
    strings:
        $req = "nas_sharing.cgi?user=messagebus&passwd="
    condition:
        $req
}

rule Huawei_HG532_DeviceUpgrade_Exploit
{
    meta:
        assay_id = "ASSAY-BACKDOOR-015"
        severity = "high"
        category = "backdoor"
        reference = "CVE-2017-17215; https://research.checkpoint.com/2017/good-zero-day-skiddie/"
        description = "Exploit of the Huawei HG532 UPnP service (TCP 37215, /ctrlt/DeviceUpgrade_1 with command injection in NewStatusURL), used by Satori and Mirai variants: an IoT bot inside the image."
    strings:
        $url = "/ctrlt/DeviceUpgrade_1"
        $arg1 = "NewStatusURL"
        $arg2 = "NewDownloadURL"
    condition:
        $url and ($arg1 or $arg2)
}

rule Realtek_miniigd_AddPortMapping_Exploit
{
    meta:
        assay_id = "ASSAY-BACKDOOR-016"
        severity = "high"
        category = "backdoor"
        reference = "CVE-2014-8361; https://www.exploit-db.com/exploits/37169"
        description = "Exploit of the Realtek SDK miniigd SOAP service: an AddPortMapping request whose NewInternalClient holds a shell command in backquotes or $(), spread by Mirai and Hajime variants."
    strings:
        $action = "AddPortMapping"
        $inj1 = "<NewInternalClient>`"
        $inj2 = "<NewInternalClient>$("
    condition:
        $action and ($inj1 or $inj2)
}

rule Mirai_Bot_Table_Strings
{
    meta:
        assay_id = "ASSAY-BACKDOOR-017"
        severity = "critical"
        category = "backdoor"
        reference = "https://github.com/jgamblin/Mirai-Source-Code/blob/master/mirai/bot/table.c"
        description = "Strings of the Mirai bot's obfuscated table ('/bin/busybox MIRAI', 'MIRAI: applet not found'), plain or XOR-encoded as in the leaked source: a Mirai-family bot inside the image."
    strings:
        $bb = "/bin/busybox MIRAI" xor
        $applet = "MIRAI: applet not found" xor
    condition:
        filesize < 16MB and any of them
}

rule Mirai_Credential_Table_Encoded
{
    meta:
        assay_id = "ASSAY-BACKDOOR-018"
        severity = "critical"
        category = "backdoor"
        reference = "https://github.com/jgamblin/Mirai-Source-Code/blob/master/mirai/bot/scanner.c"
        description = "Five or more telnet passwords of the Mirai scanner table, XOR-encoded with 0x22 exactly as the bot stores them: the credential list of a Mirai-family scanner."
    strings:
        $c1 = "xc3511" xor(0x22)
        $c2 = "vizxv" xor(0x22)
        $c3 = "xmhdipc" xor(0x22)
        $c4 = "juantech" xor(0x22)
        $c5 = "klv123" xor(0x22)
        $c6 = "Zte521" xor(0x22)
        $c7 = "hi3518" xor(0x22)
        $c8 = "jvbzd" xor(0x22)
        $c9 = "7ujMko0admin" xor(0x22)
        $c10 = "smcadmin" xor(0x22)
        $c11 = "meinsm" xor(0x22)
        $c12 = "dreambox" xor(0x22)
        $c13 = "realtek" xor(0x22)
        $c14 = "supervisor" xor(0x22)
    condition:
        filesize < 16MB and 5 of them
}

rule Gafgyt_Bashlite_Bot_Commands
{
    meta:
        assay_id = "ASSAY-BACKDOOR-019"
        severity = "critical"
        category = "backdoor"
        reference = "https://en.wikipedia.org/wiki/BASHLITE"
        description = "Command words of the Gafgyt/BASHLITE IoT bot (LOLNOGTFO kill switch, KILLATTK, GETLOCALIP) in one file: a bot inside the image."
    strings:
        $k1 = "LOLNOGTFO"
        $k2 = "KILLATTK"
        $k3 = "GETLOCALIP"
    condition:
        filesize < 16MB and 2 of them
}

rule TPLink_start_art_Debug_Page
{
    meta:
        assay_id = "ASSAY-BACKDOOR-020"
        severity = "critical"
        category = "backdoor"
        reference = "https://mrpogson.com/2013/03/14/backdoorinsider-disaster-for-some-users-of-tp-link-routers/ (Sekurak finding, TL-WDR4300, 2013)"
        description = "TP-Link unauthenticated debug URL /userRpmNatDebugRpm26525557/start_art.html: the router fetches the 'art' test tool from the requester over TFTP and runs it as root."
    strings:
        $url = "userRpmNatDebugRpm26525557"
        $page = "start_art.html"
    condition:
        $url or ($page and uint32(0) == 0x464c457f)
}

rule Netgear_telnetenable_Magic_Packet
{
    meta:
        assay_id = "ASSAY-BACKDOOR-021"
        severity = "high"
        category = "backdoor"
        reference = "https://openwrt.org/toh/netgear/telnet.console"
        description = "Netgear telnetenabled: a magic packet on port 23, Blowfish-encrypted with the key 'AMBIT_TELNET_ENABLE+' plus the password, starts an undocumented telnet console."
    strings:
        $key = "AMBIT_TELNET_ENABLE+"
    condition:
        $key
}

rule Netgear_Gearguy_Geardog_Telnet_Login
{
    meta:
        assay_id = "ASSAY-BACKDOOR-022"
        severity = "critical"
        category = "backdoor"
        reference = "https://openwrt.org/toh/netgear/telnet.console"
        description = "The hard-coded telnet console login 'Gearguy'/'Geardog' of older Netgear firmware, opened by telnetenable."
    strings:
        $user = "Gearguy"
        $pw = "Geardog"
    condition:
        $user and $pw
}

rule Linksys_TheMoon_tmUnblock_Exploit
{
    meta:
        assay_id = "ASSAY-BACKDOOR-023"
        severity = "critical"
        category = "backdoor"
        reference = "https://isc.sans.edu/diary/Linksys+Worm+%22TheMoon%22+Summary%3A+What+we+know+so+far/17633"
        description = "TheMoon worm: exploit of the Linksys E-series tmUnblock.cgi command injection (ttcp_ip parameter): the worm inside the image."
    strings:
        $cgi = "tmUnblock.cgi"
        $param = "ttcp_ip=-h"
    condition:
        $cgi and $param
}

rule Zyxel_PK5001Z_zyad5001
{
    meta:
        assay_id = "ASSAY-BACKDOOR-024"
        severity = "critical"
        category = "backdoor"
        reference = "CVE-2016-10401; https://nvd.nist.gov/vuln/detail/CVE-2016-10401"
        description = "Zyxel PK5001Z (CenturyLink) hard-coded su password 'zyad5001' (root from any telnet login); its telnet logins admin/CenturyL1nk and admin/QwestM0dem."
    strings:
        $su = "zyad5001"
        $t1 = "CenturyL1nk"
        $t2 = "QwestM0dem"
    condition:
        $su or ($t1 and $t2)
}

rule ZTE_sync_agent_Root_Password
{
    meta:
        assay_id = "ASSAY-BACKDOOR-025"
        severity = "critical"
        category = "backdoor"
        reference = "CVE-2012-2949; https://nvd.nist.gov/vuln/detail/CVE-2012-2949"
        description = "ZTE Score M / Skate setuid /system/bin/sync_agent gives a root shell for the hard-coded argument 'ztex1609523'."
    strings:
        $pw = "ztex1609523"
    condition:
        $pw
}

rule DBLTek_GoIP_dbladm_Challenge
{
    meta:
        assay_id = "ASSAY-BACKDOOR-026"
        severity = "critical"
        category = "backdoor"
        reference = "https://www.trustwave.com/en-us/resources/blogs/spiderlabs-blog/undocumented-backdoor-account-in-dbltek-goip/"
        description = "DBLTek GoIP GSM gateways: undocumented telnet user 'dbladm' with a root shell behind a challenge-response computable without any secret, beside the documented users ctlcmd and limitsh."
    strings:
        $bd = "dbladm" fullword
        $u1 = "limitsh" fullword
        $u2 = "ctlcmd" fullword
    condition:
        $bd and ($u1 or $u2)
}

rule XZ_Liblzma_Backdoor
{
    meta:
        assay_id = "ASSAY-BACKDOOR-027"
        severity = "critical"
        category = "backdoor"
        reference = "CVE-2024-3094; https://www.openwall.com/lists/oss-security/2024/03/29/4"
        description = "The backdoored liblzma of xz 5.6.0/5.6.1 (reaches sshd through libsystemd): its embedded string table marker or its hook function prologue."
    strings:
        $str = "yolAbejyiejuvnup=Evjtgvsh5okmkAvj"
        $prologue = { F3 0F 1E FA 55 48 89 F5 4C 89 CE 53 89 FB 81 E7 00 00 00 80 48 83 EC 28 48 89 54 24 18 48 89 4C 24 10 }
    condition:
        $str or (uint32(0) == 0x464c457f and $prologue)
}

rule Huawei_telecomadmin_Default_Superuser
{
    meta:
        assay_id = "ASSAY-BACKDOOR-028"
        severity = "high"
        category = "credential"
        reference = "https://wingdingstranslator.com/how-to-change-the-user-telecomadmin-and-its-password-on-a-huawei-modem-router/"
        description = "Huawei HG/EchoLife ONT and gateway operator super-administrator 'telecomadmin' with its well-known default password 'admintelecom' in a configuration or binary."
    strings:
        $user = "telecomadmin" fullword
        $pw = "admintelecom" fullword
    condition:
        $user and $pw
}

rule Ubiquiti_AirOS_Default_ubnt_Root
{
    meta:
        assay_id = "ASSAY-BACKDOOR-029"
        severity = "high"
        category = "credential"
        reference = "https://github.com/jgamblin/Mirai-Source-Code/blob/master/mirai/bot/scanner.c (ubnt:ubnt)"
        description = "Ubiquiti AirOS default administrator 'ubnt' with the DES-crypt hash VvpvCwhccFv6Q of the password 'ubnt', UID 0 in a passwd file: the fleet-wide default that Mirai tries."
    strings:
        $line = "ubnt:VvpvCwhccFv6Q:"
    condition:
        $line
}
