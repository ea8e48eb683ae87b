// Assay built-in rule pack: generic backdoor shapes of our own (ASSAY-BACKDOOR-05x), not tied
// to one vendor. Each rule names the shape in its description; `reference` points to the
// documented cases the shape generalises.

rule Generic_Magic_Packet_Shell_Listener
{
    meta:
        assay_id = "ASSAY-BACKDOOR-050"
        severity = "high"
        category = "backdoor"
        reference = "Tenda MfgThread (devttys0 2013), Netcore igdmptd (Trend Micro 2014), Xiongmai OpenTelnet (2020)"
        description = "An executable that receives datagrams or raw packets (imports recvfrom) and holds a literal command line that starts a telnet daemon or an interactive shell ('telnetd -l', 'telnetd -p', '/bin/sh -i', 'busybox telnetd'): the shape of a magic-packet listener that opens a shell."
    strings:
        $spawn1 = "telnetd -l"
        $spawn2 = "telnetd -p"
        $spawn3 = "/bin/sh -i"
        $spawn4 = "busybox telnetd"
        $spawn5 = "utelnetd -l"
        $recv = "recvfrom" fullword
        $run1 = "system" fullword
        $run2 = "popen" fullword
        $run3 = "execl" fullword
        $run4 = "execve" fullword
        $run5 = "execlp" fullword
        $run6 = "execv" fullword
    condition:
        uint32(0) == 0x464c457f and filesize < 16MB and any of ($spawn*) and $recv and any of ($run*)
}

rule Generic_Netcat_Exec_Shell
{
    meta:
        assay_id = "ASSAY-BACKDOOR-051"
        severity = "critical"
        category = "backdoor"
        reference = "https://attack.mitre.org/techniques/T1059/004/"
        description = "A netcat command line that hands a shell to whoever connects or is connected to ('nc -l -p PORT -e /bin/sh', 'nc HOST PORT -e /bin/sh'): a bind or reverse shell compiled into a binary or written in a script."
    strings:
        $nc = /\b(nc|ncat|netcat)( [^\n\x00;|&]{0,80})? -e ?\/bin\/(ba|a)?sh\b/
    condition:
        filesize < 32MB and $nc
}

rule Generic_Script_Appends_Root_Account
{
    meta:
        assay_id = "ASSAY-BACKDOOR-052"
        severity = "critical"
        category = "backdoor"
        reference = "https://attack.mitre.org/techniques/T1136/001/"
        description = "A script appends a passwd line with UID 0 to /etc/passwd (echo or printf 'name:...:0:N:...' >> /etc/passwd): a hidden root account created at run time, which a look at the shipped passwd file misses."
    strings:
        $add = /(echo|printf) +["']?[A-Za-z0-9_.\-]{1,32}:[^:\n]{0,128}:0:[0-9]{1,6}:[^\n]{0,200}>> ?\/etc\/passwd/
    condition:
        filesize < 4MB and $add
}

rule Generic_Script_Sets_Literal_Password
{
    meta:
        assay_id = "ASSAY-BACKDOOR-053"
        severity = "high"
        category = "credential"
        reference = "https://attack.mitre.org/techniques/T1098/"
        description = "A script sets an account's password to a literal with chpasswd ('echo user:password | chpasswd', 'chpasswd <<< user:password'): every device gets the same known password at run time."
    strings:
        $pipe = /echo +(-e +)?["']?[A-Za-z0-9_.\-]{1,32}:[^$\s"'|:`]{1,64}["']? *\| *chpasswd/
        $here = /chpasswd *<<< *["']?[A-Za-z0-9_.\-]{1,32}:[^$\s"'|:`]{1,64}/
    condition:
        filesize < 4MB and ($pipe or $here)
}
