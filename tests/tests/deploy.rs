//! The files a site deploys from `deploy/`: the systemd unit passes `systemd-analyze verify`
//! without a warning and keeps its sandbox; the Debian package `deploy/debian/build-deb.sh`
//! makes holds the server, its unit, its configuration and its maintainer scripts, and (with
//! `RELAIS_TEST_INSTALL_DEB=1`, as root on a machine of no value) installs, upgrades, removes
//! and purges cleanly.

#![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::SystemTime;

use relais_e2e::{relais_bin, temp_dir};

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("deploy")
        .join(path)
}

#[test]
fn the_systemd_unit_verifies_cleanly_and_is_sandboxed() {
    let unit = std::fs::read_to_string(deploy("systemd/relais.service")).unwrap();
    // Each sandboxing line that matters, once.
    for line in [
        "User=relais",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "PrivateDevices=yes",
        "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
        "AmbientCapabilities=CAP_NET_BIND_SERVICE",
        "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX",
        "SystemCallFilter=@system-service",
        "StateDirectory=relais",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ] {
        assert_eq!(
            unit.lines().filter(|l| l.trim() == line).count(),
            1,
            "the unit has `{line}` once"
        );
    }

    // systemd-analyze checks that the command exists: point it at the binary under test.
    let dir = temp_dir("systemd-unit");
    let checked = dir.join("relais.service");
    std::fs::write(
        &checked,
        unit.replace("/usr/bin/relais", &relais_bin().display().to_string()),
    )
    .unwrap();
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&checked)
        .output()
        .unwrap_or_else(|err| {
            panic!("cannot run systemd-analyze ({err}): install it with scripts/setup.sh --test (Debian package `systemd`)")
        });
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // It exits 0 even on a line it ignores: any output is a defect of the unit.
    assert!(output.status.success(), "{said}");
    assert!(
        !said.contains("relais.service"),
        "systemd-analyze verify complained:\n{said}"
    );
}

#[test]
fn a_unit_with_a_bad_line_is_caught() {
    // The check above is only worth something if systemd-analyze reports what it ignores.
    let unit = std::fs::read_to_string(deploy("systemd/relais.service")).unwrap();
    let dir = temp_dir("systemd-unit-bad");
    let checked = dir.join("relais.service");
    std::fs::write(
        &checked,
        unit.replace("/usr/bin/relais", &relais_bin().display().to_string())
            .replace("ProtectSystem=strict", "ProtectSystem=sometimes"),
    )
    .unwrap();
    let output = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&checked)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(
        said.contains("relais.service") && said.contains("ProtectSystem")
            || said.contains("protect system"),
        "{said}"
    );
}

fn workspace(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

/// Runs `command` and returns its stdout; a failure panics with what it said.
fn succeed(command: &mut Command) -> String {
    let output = command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|err| panic!("cannot run {command:?}: {err}"));
    assert!(
        output.status.success(),
        "{command:?} failed ({}):\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The package script, run from a directory of its own with `args`; no setting of the caller's
/// environment changes how it computes Depends unless `envs` says so.
fn build_deb(cwd: &Path, args: &[&std::ffi::OsStr], envs: &[(&str, &str)]) -> Command {
    let mut command = Command::new("bash");
    command
        .arg(deploy("debian/build-deb.sh"))
        .args(args)
        .current_dir(cwd)
        .env_remove("RELAIS_DEB_NO_SHLIBDEPS")
        .envs(envs.iter().copied());
    command
}

/// A `relais` command without the host's RELAIS_* settings.
fn relais_command(program: &Path) -> Command {
    let mut command = Command::new(program);
    for (name, _) in std::env::vars() {
        if name.starts_with("RELAIS_") {
            command.env_remove(name);
        }
    }
    command
}

/// The Debian form of the workspace version (the server crate inherits it, as this one does).
fn deb_version() -> String {
    env!("CARGO_PKG_VERSION").replace('-', "~")
}

fn deb_arch() -> String {
    succeed(Command::new("dpkg").arg("--print-architecture"))
        .trim()
        .to_owned()
}

/// Size and modification time: a binary the script only read has both unchanged.
fn fingerprint(path: &Path) -> (u64, SystemTime) {
    let meta = std::fs::metadata(path).unwrap();
    (meta.len(), meta.modified().unwrap())
}

struct Built {
    deb: PathBuf,
    input_before: (u64, SystemTime),
    input_after: (u64, SystemTime),
}

/// The package of the binary under test, built once for all the tests here.
fn package() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let dir = temp_dir("deb");
        let out = dir.join("out");
        let input_before = fingerprint(&relais_bin());
        let printed = succeed(&mut build_deb(
            &dir,
            &[
                "--binary".as_ref(),
                relais_bin().as_os_str(),
                "--out".as_ref(),
                "out".as_ref(),
            ],
            &[],
        ));
        let deb = out.join(format!("relais_{}_{}.deb", deb_version(), deb_arch()));
        assert_eq!(
            printed.trim(),
            deb.display().to_string(),
            "it prints the package's path"
        );
        assert!(deb.is_file(), "{} was not written", deb.display());
        Built {
            deb,
            input_before,
            input_after: fingerprint(&relais_bin()),
        }
    })
}

/// The control fields `dpkg-deb --info` shows (first lines only).
fn control_fields(info: &str) -> BTreeMap<String, String> {
    info.lines()
        .filter(|line| line.starts_with(' ') && !line.starts_with("  "))
        .filter_map(|line| line.trim_start().split_once(": "))
        .filter(|(key, _)| !key.contains(' '))
        .map(|(key, value)| (key.to_owned(), value.to_owned()))
        .collect()
}

/// The package names a Depends field names, alternatives included.
fn depends_names(depends: &str) -> BTreeSet<String> {
    depends
        .split([',', '|'])
        .map(|item| {
            item.split(['(', ' '])
                .find(|s| !s.is_empty())
                .unwrap_or("")
                .to_owned()
        })
        .collect()
}

#[test]
fn the_debian_package_holds_the_server_its_unit_and_its_configuration() {
    let built = package();
    let deb = &built.deb;

    // The control fields.
    let info = succeed(Command::new("dpkg-deb").arg("--info").arg(deb));
    let fields = control_fields(&info);
    assert_eq!(
        fields.get("Package").map(String::as_str),
        Some("relais"),
        "{info}"
    );
    assert_eq!(fields.get("Version"), Some(&deb_version()), "{info}");
    assert_eq!(fields.get("Architecture"), Some(&deb_arch()), "{info}");
    assert_eq!(
        fields.get("Section").map(String::as_str),
        Some("net"),
        "{info}"
    );
    assert_eq!(
        fields.get("Priority").map(String::as_str),
        Some("optional"),
        "{info}"
    );
    assert_eq!(
        fields.get("Recommends").map(String::as_str),
        Some("coturn"),
        "{info}"
    );
    assert!(
        fields
            .get("Maintainer")
            .is_some_and(|m| m.contains('<') && m.ends_with('>')),
        "{info}"
    );
    let depends = fields
        .get("Depends")
        .unwrap_or_else(|| panic!("no Depends:\n{info}"));
    assert!(
        depends.split(", ").any(|d| d.starts_with("libc6 (>= 2.")),
        "libc6 with the glibc version the binary needs: {depends}"
    );
    assert!(
        depends.contains("adduser | passwd"),
        "the postinst creates a user: {depends}"
    );
    for name in depends_names(depends) {
        // Every name is a real package: this machine has them all, it runs the binary.
        succeed(Command::new("dpkg-query").args(["-W", &name]));
    }
    let installed_kib: u64 = fields["Installed-Size"].parse().unwrap();
    let long_description = info.lines().filter(|l| l.starts_with("  ")).count();
    assert!(long_description >= 3, "a long description:\n{info}");

    // The control archive: the maintainer scripts, executable, valid sh.
    for member in ["postinst", "prerm", "postrm"] {
        assert!(
            info.lines().any(|l| {
                let words: Vec<&str> = l.split_whitespace().collect();
                words.get(4) == Some(&"*") && words.get(5) == Some(&member)
            }),
            "{member} is in the control archive and executable:\n{info}"
        );
    }
    let dir = temp_dir("deb-contents");
    let control = dir.join("DEBIAN");
    succeed(
        Command::new("dpkg-deb")
            .arg("--control")
            .arg(deb)
            .arg(&control),
    );
    let conffiles = std::fs::read_to_string(control.join("conffiles")).unwrap();
    assert_eq!(
        conffiles.lines().collect::<Vec<_>>(),
        ["/etc/relais/relais.toml"]
    );
    for script in ["postinst", "prerm", "postrm"] {
        let path = control.join(script);
        let text = std::fs::read_to_string(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777;
        assert_eq!(mode, 0o755, "{script}");
        assert_eq!(text.lines().next(), Some("#!/bin/sh"), "{script}");
        assert!(
            text.lines().any(|l| l.trim() == "set -e"),
            "{script} stops on errors"
        );
        assert!(
            text.contains("case \"$1\" in"),
            "{script} looks at its action"
        );
        succeed(Command::new("sh").arg("-n").arg(&path));
    }
    // A first install leaves the service stopped: the postinst never starts or enables it.
    let postinst = std::fs::read_to_string(control.join("postinst")).unwrap();
    for line in postinst.lines().map(str::trim) {
        if line.starts_with("systemctl") {
            assert!(
                line.starts_with("systemctl daemon-reload")
                    || line.starts_with("systemctl try-restart"),
                "the postinst runs `{line}`"
            );
        }
    }

    // The files: exactly these, owned by root, with these modes.
    let listing = succeed(Command::new("dpkg-deb").arg("--contents").arg(deb));
    let mut files = BTreeMap::new();
    for line in listing.lines() {
        let words: Vec<&str> = line.split_whitespace().collect();
        assert!(words.len() >= 6, "unexpected listing line: {line}");
        assert_eq!(words[1], "root/root", "{line}");
        let path = words[5..].join(" ");
        let path = path.trim_start_matches("./").trim_end_matches('/');
        if words[0].starts_with('d') {
            assert_eq!(words[0], "drwxr-xr-x", "{line}");
        } else {
            files.insert(path.to_owned(), words[0].to_owned());
        }
    }
    // Each file with its mode and, for a plain copy, the workspace file it copies.
    const FILE: &str = "-rw-r--r--";
    let mut expected: BTreeMap<String, (&str, Option<PathBuf>)> = BTreeMap::from([
        ("usr/bin/relais".to_owned(), ("-rwxr-xr-x", None)),
        (
            "usr/share/relais/make-prompts.sh".to_owned(),
            ("-rwxr-xr-x", Some(workspace("scripts/make-prompts.sh"))),
        ),
        ("etc/relais/relais.toml".to_owned(), (FILE, None)),
        ("usr/share/doc/relais/copyright".to_owned(), (FILE, None)),
    ]);
    let mut copies = vec![
        (
            "lib/systemd/system/relais.service",
            "deploy/systemd/relais.service",
        ),
        ("usr/share/doc/relais/README.md", "README.md"),
        ("usr/share/doc/relais/deployment.md", "docs/deployment.md"),
        (
            "usr/share/relais/grafana/relais.json",
            "deploy/grafana/relais.json",
        ),
    ];
    if workspace("docs/protocol.md").exists() {
        copies.push(("usr/share/doc/relais/protocol.md", "docs/protocol.md"));
    }
    for (packaged, source) in copies {
        expected.insert(packaged.to_owned(), (FILE, Some(workspace(source))));
    }
    let mut rules = 0;
    for entry in std::fs::read_dir(deploy("prometheus")).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".yml") {
            rules += 1;
            expected.insert(
                format!("usr/share/relais/prometheus/{name}"),
                (FILE, Some(deploy(&format!("prometheus/{name}")))),
            );
        }
    }
    assert!(rules >= 2, "the alerting rules and their tests");
    let packaged_modes: BTreeMap<&str, &str> = files
        .iter()
        .map(|(path, mode)| (path.as_str(), mode.as_str()))
        .collect();
    let expected_modes: BTreeMap<&str, &str> = expected
        .iter()
        .map(|(path, (mode, _))| (path.as_str(), *mode))
        .collect();
    assert_eq!(
        packaged_modes, expected_modes,
        "the package's files:\n{listing}"
    );

    // Extracted: the copies are the workspace's files, the configuration differs by its
    // data_dir only, and every checksum matches.
    let root = dir.join("root");
    succeed(Command::new("dpkg-deb").arg("-x").arg(deb).arg(&root));
    for (packaged, (_, source)) in &expected {
        if let Some(source) = source {
            assert!(
                std::fs::read(root.join(packaged)).unwrap() == std::fs::read(source).unwrap(),
                "{packaged} is a copy of {}",
                source.display()
            );
        }
    }
    let example = std::fs::read_to_string(workspace("config/relais.example.toml")).unwrap();
    let config = std::fs::read_to_string(root.join("etc/relais/relais.toml")).unwrap();
    let differing: Vec<(&str, &str)> = example
        .lines()
        .zip(config.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(example.lines().count(), config.lines().count());
    assert_eq!(
        differing,
        [(r#"data_dir = "./data""#, r#"data_dir = "/var/lib/relais""#)],
        "the packaged configuration keeps its data in the unit's StateDirectory"
    );
    let copyright = std::fs::read_to_string(root.join("usr/share/doc/relais/copyright")).unwrap();
    assert!(copyright.starts_with("Relais"), "{copyright}");
    assert!(
        copyright.contains(&format!("License: {}", env!("CARGO_PKG_LICENSE"))),
        "{copyright}"
    );
    succeed(
        Command::new("md5sum")
            .args(["--check", "--quiet", "--strict"])
            .arg(control.join("md5sums"))
            .current_dir(&root),
    );
    let summed = std::fs::read_to_string(control.join("md5sums"))
        .unwrap()
        .lines()
        .count();
    assert_eq!(
        summed,
        expected.len() - 1,
        "every file but the conffile has its checksum"
    );

    // The packaged binary runs and accepts the packaged configuration.
    let binary = root.join("usr/bin/relais");
    let version = succeed(relais_command(&binary).arg("--version"));
    assert_eq!(
        version.trim(),
        format!("relais {}", env!("CARGO_PKG_VERSION"))
    );
    let effective = succeed(
        relais_command(&binary)
            .arg("check-config")
            .arg(root.join("etc/relais/relais.toml")),
    );
    assert!(
        effective.contains(r#"data_dir = "/var/lib/relais""#),
        "{effective}"
    );

    // A stripped copy, the input untouched.
    assert_eq!(
        built.input_before, built.input_after,
        "the script changed its input binary"
    );
    let packaged_len = std::fs::metadata(&binary).unwrap().len();
    assert!(packaged_len <= built.input_before.0);
    assert!(
        installed_kib >= packaged_len / 1024,
        "Installed-Size {installed_kib} KiB"
    );
    if Command::new("strip")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
    {
        // The symbol table and the debug information go (`.debug_gdb_scripts`, loaded with
        // the program, stays).
        let sections = succeed(Command::new("readelf").args(["-S", "-W"]).arg(&binary));
        for section in [".symtab", ".debug_info", ".debug_line"] {
            assert!(
                !sections.contains(&format!(" {section} ")),
                "the packaged binary is stripped of {section}:\n{sections}"
            );
        }
    }
}

#[test]
fn without_dpkg_shlibdeps_the_package_depends_on_the_same_packages() {
    // A machine without dpkg-dev derives Depends from objdump and dpkg -S: it must find what
    // dpkg-shlibdeps finds.
    let dir = temp_dir("deb-objdump");
    succeed(&mut build_deb(
        &dir,
        &[
            "--binary".as_ref(),
            relais_bin().as_os_str(),
            "--out".as_ref(),
            dir.as_os_str(),
        ],
        &[("RELAIS_DEB_NO_SHLIBDEPS", "1")],
    ));
    let deb = dir.join(format!("relais_{}_{}.deb", deb_version(), deb_arch()));
    let field = |deb: &Path| {
        succeed(
            Command::new("dpkg-deb")
                .arg("--field")
                .arg(deb)
                .arg("Depends"),
        )
        .trim()
        .to_owned()
    };
    let fallback = field(&deb);
    let reference = field(&package().deb);
    assert_eq!(
        depends_names(&fallback),
        depends_names(&reference),
        "{fallback} / {reference}"
    );
    let libc = |depends: &str| {
        depends
            .split(", ")
            .find(|d| d.starts_with("libc6 "))
            .map(str::to_owned)
    };
    assert!(
        libc(&fallback).is_some_and(|d| d.starts_with("libc6 (>= 2.")),
        "{fallback}"
    );
    assert_eq!(libc(&fallback), libc(&reference));
}

#[test]
fn the_package_script_refuses_a_missing_or_wrong_binary() {
    let dir = temp_dir("deb-refused");
    let out = dir.join("out");
    let fake = dir.join("relais");
    std::fs::write(&fake, "#!/bin/sh\necho relais 0.0.0\n").unwrap();
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let missing = dir.join("nowhere/relais");
    for (args, code, said) in [
        (
            vec![missing.as_os_str()],
            1,
            format!("no binary at {}", missing.display()),
        ),
        (
            vec![fake.as_os_str()],
            1,
            format!("{} is not an ELF binary", fake.display()),
        ),
        // An ELF binary that is not this version of relais.
        (
            vec!["/bin/echo".as_ref()],
            1,
            "the workspace is relais".to_owned(),
        ),
        (vec![], 2, "--binary needs a path".to_owned()),
    ] {
        let mut all: Vec<&std::ffi::OsStr> =
            vec!["--out".as_ref(), out.as_os_str(), "--binary".as_ref()];
        all.extend(args);
        let output = build_deb(&dir, &all, &[])
            .stdin(Stdio::null())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(code), "{all:?}: {stderr}");
        assert!(stderr.contains(&said), "{all:?}: {stderr}");
        assert!(!out.exists(), "{all:?} left {}", out.display());
    }
    let output = build_deb(&dir, &["--bianry".as_ref()], &[])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown argument: --bianry"));
}

/// Purges the package and its data when the install test ends, passed or not.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["--purge", "relais"]).output();
        let _ = std::fs::remove_dir_all("/var/lib/relais");
    }
}

fn getent(database: &str, key: &str) -> Option<Vec<String>> {
    let output = Command::new("getent")
        .args([database, key])
        .output()
        .unwrap();
    output.status.success().then(|| {
        String::from_utf8_lossy(&output.stdout)
            .trim()
            .split(':')
            .map(str::to_owned)
            .collect()
    })
}

fn package_status() -> String {
    let output = Command::new("dpkg-query")
        .args(["-W", "-f", "${Status}", "relais"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[test]
fn the_package_installs_upgrades_removes_and_purges_cleanly() {
    if std::env::var("RELAIS_TEST_INSTALL_DEB").as_deref() != Ok("1") {
        eprintln!(
            "not installing the package: set RELAIS_TEST_INSTALL_DEB=1 (root, a throwaway machine)"
        );
        return;
    }
    assert_eq!(
        succeed(Command::new("id").arg("-u")).trim(),
        "0",
        "installing needs root"
    );
    let status = package_status();
    assert!(
        status.is_empty() || status.ends_with("not-installed"),
        "relais is already on this machine ({status}): not replacing it"
    );
    for path in ["/etc/relais", "/var/lib/relais", "/usr/bin/relais"] {
        assert!(
            !Path::new(path).exists(),
            "{path} exists: not a machine to test on"
        );
    }
    assert!(
        getent("passwd", "relais").is_none(),
        "a user relais exists already"
    );
    let deb = &package().deb;
    let _installed = Installed;
    let conf = Path::new("/etc/relais/relais.toml");

    // A first install: a system user, the configuration readable by its group only, the
    // service left stopped.
    let said = succeed(Command::new("dpkg").arg("-i").arg(deb));
    assert!(said.contains("systemctl enable --now relais"), "{said}");
    assert_eq!(package_status(), "install ok installed");
    let user = getent("passwd", "relais").expect("the postinst creates the user relais");
    let group = getent("group", "relais").expect("and its group");
    assert!(
        user[2].parse::<u32>().unwrap() < 1000,
        "a system user: {user:?}"
    );
    assert_eq!(user[3], group[2], "its primary group is relais");
    assert_eq!(user[5], "/var/lib/relais");
    assert!(user[6].ends_with("nologin"), "{user:?}");
    let gid: u32 = group[2].parse().unwrap();
    let uid: u32 = user[2].parse().unwrap();
    let check_conf = || {
        let meta = std::fs::metadata(conf).unwrap();
        assert_eq!(
            (meta.uid(), meta.gid(), meta.mode() & 0o7777),
            (0, gid, 0o640)
        );
    };
    check_conf();
    let data = std::fs::metadata("/var/lib/relais").unwrap();
    assert_eq!(
        (data.uid(), data.gid(), data.mode() & 0o7777),
        (uid, gid, 0o750)
    );
    // The service's user reads its configuration; another does not.
    succeed(
        relais_command(Path::new("runuser"))
            .args(["-u", "relais", "--", "/usr/bin/relais", "check-config"])
            .arg(conf),
    );
    let other = Command::new("runuser")
        .args(["-u", "nobody", "--", "cat"])
        .arg(conf)
        .output()
        .unwrap();
    assert!(!other.status.success(), "nobody reads the configuration");
    let verify = succeed(Command::new("dpkg").args(["--verify", "relais"]));
    assert_eq!(
        verify, "",
        "dpkg --verify: every installed file matches its checksum"
    );
    if Path::new("/run/systemd/system").is_dir() {
        let enabled = Command::new("systemctl")
            .args(["is-enabled", "relais"])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&enabled.stdout).trim(), "disabled");
        let active = Command::new("systemctl")
            .args(["is-active", "relais"])
            .output()
            .unwrap();
        assert_ne!(String::from_utf8_lossy(&active.stdout).trim(), "active");
    } else {
        eprintln!("systemd is not running here: the unit's state is not checked");
    }

    // Installed again over itself (an upgrade): the administrator's edit and the
    // permissions stay, no second user.
    let edited = format!(
        "{}\n# edited on site\n",
        std::fs::read_to_string(conf).unwrap()
    );
    std::fs::write(conf, &edited).unwrap();
    let said = succeed(Command::new("dpkg").arg("-i").arg(deb));
    assert!(
        !said.contains("systemctl enable --now"),
        "only a first install says it: {said}"
    );
    assert_eq!(std::fs::read_to_string(conf).unwrap(), edited);
    check_conf();
    assert_eq!(getent("passwd", "relais").unwrap()[2], user[2]);

    // Removed: the program goes, the configuration, the data and the user stay.
    succeed(Command::new("dpkg").args(["--remove", "relais"]));
    assert_eq!(package_status(), "deinstall ok config-files");
    assert!(!Path::new("/usr/bin/relais").exists());
    assert!(!Path::new("/lib/systemd/system/relais.service").exists());
    assert_eq!(std::fs::read_to_string(conf).unwrap(), edited);
    assert!(getent("passwd", "relais").is_some());

    // Purged: the configuration and the user go; the records stay, given to root.
    let said = succeed(Command::new("dpkg").args(["--purge", "relais"]));
    assert!(
        said.contains("/var/lib/relais"),
        "the purge says where the records are: {said}"
    );
    let status = package_status();
    assert!(
        status.is_empty() || status.ends_with("not-installed"),
        "{status}"
    );
    assert!(!Path::new("/etc/relais").exists());
    assert!(getent("passwd", "relais").is_none(), "the user is deleted");
    assert!(getent("group", "relais").is_none(), "the group is deleted");
    let data = std::fs::metadata("/var/lib/relais").unwrap();
    assert_eq!(
        (data.uid(), data.gid(), data.mode() & 0o7777),
        (0, 0, 0o700)
    );
}
