//! Nothing is left behind: no container, no temporary cluster, no scratch database, no role, after a
//! normal run and after Ctrl-C.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{Engine, command, containers_of, engine_args, fixture, local_dirs_of};

fn leftovers(engine: Engine, pid: u32) -> Vec<String> {
    match engine {
        Engine::Docker => containers_of(pid),
        Engine::Local => local_dirs_of(pid)
            .into_iter()
            .map(|p| p.display().to_string())
            .collect(),
    }
}

fn finished_run_leaves_nothing(engine: Engine) {
    let child = command()
        .arg("check")
        .arg(fixture("psql-partial"))
        .args(engine_args(engine))
        .args(["-q"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let pid = child.id();
    let out = child.wait_with_output().expect("waits");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(leftovers(engine, pid), Vec::<String>::new());
}

/// Waits until the child's stderr says the engine is ready; returns the stderr read so far.
pub(crate) fn wait_until_ready(child: &mut Child) -> String {
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut seen = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            seen.push_str(&line);
            seen.push('\n');
            let _ = tx.send(seen.clone());
        }
    });
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut seen = String::new();
    while Instant::now() < deadline {
        if let Ok(s) = rx.recv_timeout(Duration::from_millis(200)) {
            seen = s;
            if seen.contains(" ready in ") {
                return seen;
            }
        }
    }
    panic!("the engine never became ready; stderr:\n{seen}");
}

fn ctrl_c_leaves_nothing(engine: Engine) {
    let mut child = command()
        .arg("check")
        .arg(fixture("slow"))
        .args(engine_args(engine))
        .args(["-v"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let pid = child.id();
    wait_until_ready(&mut child);
    // Give it a moment to be inside the 120 s statement.
    std::thread::sleep(Duration::from_millis(500));
    let status = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(60);
    let code = loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            break status.code();
        }
        assert!(
            Instant::now() < deadline,
            "pgrehearse did not stop after Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(code, Some(2));
    assert_eq!(leftovers(engine, pid), Vec::<String>::new());
}

#[test]
fn local_finished_run_leaves_nothing() {
    finished_run_leaves_nothing(Engine::Local);
}

#[test]
fn docker_finished_run_leaves_nothing() {
    if crate::harness::skip_docker() {
        return;
    }
    finished_run_leaves_nothing(Engine::Docker);
}

#[test]
fn local_ctrl_c_leaves_nothing() {
    ctrl_c_leaves_nothing(Engine::Local);
}

#[test]
fn docker_ctrl_c_leaves_nothing() {
    if crate::harness::skip_docker() {
        return;
    }
    ctrl_c_leaves_nothing(Engine::Docker);
}

fn panic_leaves_nothing(engine: Engine) {
    let child = command()
        .env("PGREHEARSE_FAULT", "panic-after-engine-start")
        .arg("check")
        .arg(fixture("psql-partial"))
        .args(engine_args(engine))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let pid = child.id();
    let out = child.wait_with_output().expect("waits");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("internal error"), "{err}");
    assert!(err.contains("please file an issue"), "{err}");
    assert_eq!(leftovers(engine, pid), Vec::<String>::new());
}

#[test]
fn local_panic_leaves_nothing() {
    panic_leaves_nothing(Engine::Local);
}

#[test]
fn docker_panic_leaves_nothing() {
    if crate::harness::skip_docker() {
        return;
    }
    panic_leaves_nothing(Engine::Docker);
}
