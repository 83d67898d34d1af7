//! The server reaches the postgres plugin's database with a password full of URL-special
//! characters: a real PostgreSQL server (Debian's package, started here) and Prefect's own
//! settings code (Prefect 3.9.1 from PyPI, see [`crate::prefect`]) turn the environment of the
//! rendered server Deployment into a connection, exactly as the server does at start.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
};

use serde_json::Value;

use crate::harness::{TempDir, prefectctl_in};

/// A password with every character that breaks a naively built connection URL.
const PASSWORD: &str = "p@ss:w/rd%25?#&=+ ,;'\"\\ü";

/// A PostgreSQL server in a temporary folder, stopped when dropped.
struct Postgres {
    dir: TempDir,
    bin: PathBuf,
    port: u16,
}

impl Postgres {
    fn start() -> Postgres {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|versions| versions.filter_map(Result::ok).map(|v| v.path().join("bin")).find(|b| b.join("initdb").is_file()))
            .unwrap_or_else(|| panic!("no PostgreSQL server in /usr/lib/postgresql: install Debian's `postgresql` package (cargo xtask ci does)"));
        let dir = TempDir::new("postgres");
        let port = crate::prefect::free_port();
        let data = dir.path().join("data");
        let postgres = Postgres { dir, bin, port };
        // The server refuses to run as root: run it as Debian's `postgres` user then.
        if is_root() {
            let status = Command::new("chown")
                .args(["-R", "postgres:postgres"])
                .arg(postgres.dir.path())
                .status();
            assert!(status.is_ok_and(|s| s.success()), "chown of the data folder failed");
        }
        postgres.run(
            "initdb",
            &[
                "-D",
                path(&data),
                "-U",
                "postgres",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ],
        );
        let options =
            format!("-p {} -k {} -c listen_addresses=127.0.0.1", port, path(postgres.dir.path()));
        postgres.run(
            "pg_ctl",
            &[
                "-D",
                path(&data),
                "-o",
                &options,
                "-l",
                path(&postgres.dir.path().join("log")),
                "-w",
                "start",
            ],
        );
        postgres
    }

    /// Runs a PostgreSQL program, as `postgres` when we are root.
    fn run(&self, program: &str, args: &[&str]) -> String {
        let program = self.bin.join(program);
        let mut command = if is_root() {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&program);
            c
        } else {
            Command::new(&program)
        };
        let out = command
            .args(args)
            .current_dir(self.dir.path())
            .output()
            .expect("a PostgreSQL program runs");
        assert!(
            out.status.success(),
            "{} failed:\n{}",
            program.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs SQL as the superuser, over the Unix socket.
    fn sql(&self, statement: &str) {
        let port = self.port.to_string();
        self.run(
            "psql",
            &[
                "-h",
                path(self.dir.path()),
                "-p",
                &port,
                "-U",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                statement,
            ],
        );
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.dir.path().join("data");
        let _ = std::panic::catch_unwind(|| {
            self.run("pg_ctl", &["-D", path(&data), "-m", "immediate", "stop"])
        });
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|out| out.stdout.starts_with(b"0\n"))
}

fn path(p: &Path) -> &str {
    p.to_str().expect("temporary paths are UTF-8")
}

/// Prefect's settings from `env`, turned into a connection: prints `current_user`.
const CONNECT: &str = r#"
import asyncio
from prefect.settings import get_current_settings
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

async def main():
    url = get_current_settings().server.database.connection_url.get_secret_value()
    engine = create_async_engine(url)
    async with engine.connect() as connection:
        print((await connection.execute(text("select current_user"))).scalar())
    await engine.dispose()

asyncio.run(main())
"#;

/// The server container's environment in `rendered` (a JSON List), with each secretKeyRef
/// resolved from the rendered Secrets.
fn server_env(rendered: &Value) -> BTreeMap<String, String> {
    let items = rendered["items"].as_array().expect("a List");
    let find = |kind: &str, name: &str| {
        items
            .iter()
            .find(|i| i["kind"] == kind && i["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no {kind} {name}"))
    };
    let container =
        &find("Deployment", "prefect-server")["spec"]["template"]["spec"]["containers"][0];
    let mut env = BTreeMap::new();
    for var in container["env"].as_array().expect("env") {
        let name = var["name"].as_str().unwrap().to_owned();
        let value = match var.get("value") {
            Some(value) => value.as_str().unwrap().to_owned(),
            None => {
                let from = &var["valueFrom"]["secretKeyRef"];
                let secret = find("Secret", from["name"].as_str().unwrap());
                let encoded = secret["data"][from["key"].as_str().unwrap()].as_str().unwrap();
                String::from_utf8(crate::harness::base64_decode(encoded)).expect("UTF-8 secret")
            }
        };
        env.insert(name, value);
    }
    env
}

#[test]
fn the_server_connects_with_a_password_full_of_url_characters() {
    if !crate::tier::runs(&[crate::tier::Tier::Postgres, crate::tier::Tier::Python]) {
        return;
    }
    let postgres = Postgres::start();
    let quoted = PASSWORD.replace('\'', "''");
    postgres.sql(&format!("CREATE ROLE prefect LOGIN PASSWORD '{quoted}'"));
    postgres.sql("CREATE DATABASE prefect OWNER prefect");

    let dir = TempDir::new("database");
    let values = serde_json::json!({ "postgres": { "auth": { "password": PASSWORD } } });
    dir.write("values.yaml", &values.to_string());
    let rendered = prefectctl_in(
        dir.path(),
        &["render", "-o", "json", "--plugin", "postgres", "-f", "values.yaml"],
    )
    .ok();
    let mut env = server_env(&serde_json::from_str(&rendered).expect("JSON output"));
    assert_eq!(env["PREFECT_SERVER_DATABASE_PASSWORD"], PASSWORD);
    assert!(
        !env.contains_key("PREFECT_SERVER_DATABASE_CONNECTION_URL"),
        "no URL holds the password"
    );
    // The Service's DNS name exists in a cluster only: point host and port at this server.
    env.insert("PREFECT_SERVER_DATABASE_HOST".to_owned(), "127.0.0.1".to_owned());
    env.insert("PREFECT_SERVER_DATABASE_PORT".to_owned(), postgres.port.to_string());

    let connect = |env: &BTreeMap<String, String>| {
        Command::new(crate::prefect::bin().join("python"))
            .args(["-c", CONNECT])
            .env_clear()
            .env("PREFECT_HOME", dir.path().join("prefect-home"))
            .envs(env.iter().filter(|(name, _)| name.starts_with("PREFECT_SERVER_DATABASE_")))
            .output()
            .expect("python runs")
    };
    let out = connect(&env);
    assert!(
        out.status.success(),
        "Prefect could not connect:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "prefect");

    // The check can fail: a wrong password is refused.
    env.insert("PREFECT_SERVER_DATABASE_PASSWORD".to_owned(), format!("{PASSWORD}x"));
    let refused = connect(&env);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("password authentication failed"));
}

#[test]
fn an_external_database_given_in_parts_is_joined_by_prefect_itself() {
    if !crate::tier::runs(&[crate::tier::Tier::Postgres, crate::tier::Tier::Python]) {
        return;
    }
    let postgres = Postgres::start();
    let quoted = PASSWORD.replace('\'', "''");
    postgres.sql(&format!("CREATE ROLE prefect LOGIN PASSWORD '{quoted}'"));
    postgres.sql("CREATE DATABASE prefect OWNER prefect");

    let dir = TempDir::new("database-parts");
    let values = serde_json::json!({ "server": { "externalDatabase": {
        "host": "127.0.0.1",
        "port": postgres.port,
        "name": "prefect",
        "username": "prefect",
        "password": PASSWORD,
    } } });
    dir.write("values.yaml", &values.to_string());
    let rendered = prefectctl_in(dir.path(), &["render", "-o", "json", "-f", "values.yaml"]).ok();
    let env = server_env(&serde_json::from_str(&rendered).expect("JSON output"));
    assert!(
        !env.contains_key("PREFECT_SERVER_DATABASE_CONNECTION_URL"),
        "no URL holds the password"
    );
    assert!(!rendered.contains(PASSWORD), "the password is only in the Secret, encoded");

    let out = Command::new(crate::prefect::bin().join("python"))
        .args(["-c", CONNECT])
        .env_clear()
        .env("PREFECT_HOME", dir.path().join("prefect-home"))
        .envs(env.iter().filter(|(name, _)| name.starts_with("PREFECT_SERVER_DATABASE_")))
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "Prefect could not connect:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "prefect");
}
