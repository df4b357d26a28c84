//! The docker engine: a throwaway PostgreSQL container started through testcontainers.
//!
//! The image is the official `postgres:<pg-version>` unless `--image` names another with the same
//! environment interface (`POSTGRES_PASSWORD`, `POSTGRES_USER`, `POSTGRES_DB`). Readiness is a
//! successful connection and `SELECT 1`, never a log line. Every container carries pgrehearse labels
//! (owner pid and host) so that containers left by a run that was killed outright are removed at the
//! next start-up; only containers whose owner process is provably gone are removed (a process of
//! another user, which `kill(pid, 0)` cannot signal, is alive). With a daemon that shares this
//! machine's network and files, the container has no network at all (`none`): its server listens on a
//! unix socket in a directory mounted from `<tmp>/pgrehearse-docker-<pid>-…/socket`, whose parent only this
//! user can enter. Otherwise (a sibling container, a remote daemon) the superuser port is published on
//! one address only, the one pgrehearse connects to (see [`publish_address`]). The superuser password
//! is random for each run.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use testcontainers::bollard::Docker;
use testcontainers::bollard::models::PortBinding;
use testcontainers::bollard::query_parameters::{
    CreateImageOptionsBuilder, ListContainersOptionsBuilder, RemoveContainerOptionsBuilder,
};
use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{GenericImage, ImageExt};

use super::{Cleanup, Engine, EngineError, EngineKind, EngineOptions, Resource, Server};

const LABEL_MANAGED: &str = "dev.pgrehearse.managed";
const LABEL_PID: &str = "dev.pgrehearse.pid";
const LABEL_HOST: &str = "dev.pgrehearse.host";

pub struct DockerEngine {
    image: String,
    /// The volume holding the replay cache's cluster, when the container serves the cache.
    volume: Option<CacheVolume>,
}

/// A named volume that holds the replay cache's cluster for the docker engine (see `crate::cache`):
/// each check's container mounts it at `/var/lib/postgresql` and keeps its data directory in it
/// ([`VOLUME_PGDATA`]), so the snapshots outlive the container.
#[derive(Clone, Debug)]
pub struct CacheVolume {
    pub name: String,
    /// The superuser's password, set when the cluster is made (kept with the cache's index).
    pub password: String,
    /// Remove the volume first: the password it was made with is lost.
    pub reset: bool,
}

/// Where the cache's container keeps its data directory: inside the volume, mounted at the parent
/// that images declare (the official image's `VOLUME`), so a new volume is filled from the image
/// with that directory's owner.
pub const VOLUME_PGDATA: &str = "/var/lib/postgresql/pgrehearse";

impl DockerEngine {
    pub fn new(options: &EngineOptions) -> DockerEngine {
        DockerEngine {
            image: options.docker_image(),
            volume: None,
        }
    }

    /// Starts the container on the replay cache's `volume`; also says whether the volume is new
    /// (then the cluster in it is made anew, and nothing the cache lists is in it).
    pub async fn start_in_volume(
        options: &EngineOptions,
        volume: CacheVolume,
        cleanup: &Cleanup,
    ) -> Result<(Server, bool), EngineError> {
        let docker = daemon().await?;
        if volume.reset {
            remove_volume(&docker, &volume.name).await?;
        }
        let fresh = docker.inspect_volume(&volume.name).await.is_err();
        let name = volume.name.clone();
        let engine = DockerEngine {
            image: options.docker_image(),
            volume: Some(volume),
        };
        match engine.start(cleanup).await {
            // A cluster this image does not start (made by another major version under the same
            // tag, or damaged): the volume is made anew, and the cache starts empty.
            Err(EngineError::ContainerFailed {
                reason,
                exited: true,
                ..
            }) if !fresh => {
                eprintln!(
                    "pgrehearse: warning: the replay cache's volume {name} did not start ({}); it is made anew",
                    reason.lines().last().unwrap_or_default().trim()
                );
                remove_users_of(&docker, &name).await;
                remove_volume(&docker, &name).await?;
                Ok((engine.start(cleanup).await?, true))
            }
            started => Ok((started?, fresh)),
        }
    }
}

/// Removes the containers that use the volume `name` (a failed container keeps it in use).
async fn remove_users_of(docker: &Docker, name: &str) {
    let filters = HashMap::from([("volume".to_string(), vec![name.to_string()])]);
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    for c in docker
        .list_containers(Some(options))
        .await
        .unwrap_or_default()
    {
        if let Some(id) = c.id {
            let _ = remove_container(&id).await;
        }
    }
}

/// Removes the volume `name` (a missing one is fine).
pub async fn remove_volume(docker: &Docker, name: &str) -> Result<(), EngineError> {
    use testcontainers::bollard::query_parameters::RemoveVolumeOptionsBuilder;
    match docker
        .remove_volume(
            name,
            Some(RemoveVolumeOptionsBuilder::new().force(true).build()),
        )
        .await
    {
        Ok(())
        | Err(testcontainers::bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }) => Ok(()),
        Err(e) => Err(EngineError::DockerUnavailable {
            reason: format!(
                "could not remove volume {name}: {e}; remove it with `docker volume rm {name}`"
            ),
        }),
    }
}

/// A Docker client that answered a ping within a second or two.
pub async fn daemon() -> Result<Docker, EngineError> {
    let unavailable = |reason: String| EngineError::DockerUnavailable { reason };
    let docker = tokio::time::timeout(
        Duration::from_secs(2),
        testcontainers::core::client::docker_client_instance(),
    )
    .await
    .map_err(|_| unavailable("timed out creating a client".into()))?
    .map_err(|e| unavailable(e.to_string()))?;
    tokio::time::timeout(Duration::from_millis(1500), docker.ping())
        .await
        .map_err(|_| unavailable("the daemon did not answer a ping within 1.5s".into()))?
        .map_err(|e| unavailable(e.to_string()))?;
    Ok(docker)
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default()
}

/// Splits `repo/name:tag` into name and tag (`latest` when absent).
fn split_image(image: &str) -> (String, String) {
    let slash = image.rfind('/').map(|i| i + 1).unwrap_or(0);
    match image[slash..].rfind(':') {
        Some(i) => (
            image[..slash + i].to_string(),
            image[slash + i + 1..].to_string(),
        ),
        None => (image.to_string(), "latest".to_string()),
    }
}

/// Removes every container this process labelled (a run interrupted mid-start leaves one that is not
/// registered). After an interruption (`interrupted`), a create request already sent may still be
/// completing in the daemon, so the labels are listed again until none has appeared for a second;
/// after a run that finished, nothing is in flight and one listing is enough.
pub async fn remove_own_containers(interrupted: bool) {
    if !interrupted {
        remove_own_containers_once().await;
        return;
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    let mut quiet_since = std::time::Instant::now();
    while std::time::Instant::now() < deadline {
        if remove_own_containers_once().await > 0 {
            quiet_since = std::time::Instant::now();
        } else if quiet_since.elapsed() >= Duration::from_secs(1) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// One pass of [`remove_own_containers`]; returns how many containers it found.
async fn remove_own_containers_once() -> usize {
    let Ok(Ok(docker)) = tokio::time::timeout(
        Duration::from_secs(2),
        testcontainers::core::client::docker_client_instance(),
    )
    .await
    else {
        return 0;
    };
    let mut filters = HashMap::new();
    filters.insert(
        "label".to_string(),
        vec![format!("{LABEL_PID}={}", std::process::id())],
    );
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    let Ok(containers) = docker.list_containers(Some(options)).await else {
        return 0;
    };
    let found = containers.len();
    for c in containers {
        if let Some(id) = c.id {
            let _ = remove_container(&id).await;
        }
    }
    found
}

/// Removes containers labelled by pgrehearse runs on this host whose process is gone.
async fn remove_stale(docker: &Docker) {
    let mut filters = HashMap::new();
    filters.insert("label".to_string(), vec![LABEL_MANAGED.to_string()]);
    let options = ListContainersOptionsBuilder::new()
        .all(true)
        .filters(&filters)
        .build();
    let Ok(containers) = docker.list_containers(Some(options)).await else {
        return;
    };
    let host = hostname();
    for c in containers {
        let labels = c.labels.unwrap_or_default();
        if labels.get(LABEL_HOST).map(String::as_str) != Some(host.as_str()) {
            continue;
        }
        let owner_gone = labels
            .get(LABEL_PID)
            .and_then(|p| p.parse::<i32>().ok())
            .is_some_and(process_gone);
        if owner_gone && let Some(id) = c.id {
            let _ = remove_container(&id).await;
        }
    }
    // The socket directories of runs killed outright (`pgrehearse-docker-<pid>-…`).
    if let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().to_string();
            let owner_gone = name
                .strip_prefix("pgrehearse-docker-")
                .and_then(|rest| rest.split('-').next())
                .and_then(|pid| pid.parse::<i32>().ok())
                .is_some_and(process_gone);
            if owner_gone {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
}

/// Whether no process `pid` exists: `kill(pid, 0)` fails with ESRCH. A process of another user
/// (EPERM) is alive; a pid that is not a single process (0, negative) is never judged gone.
pub(crate) fn process_gone(pid: i32) -> bool {
    if pid <= 0 {
        return false;
    }
    // SAFETY: kill with signal 0 sends nothing; it only checks that the process exists.
    let result = unsafe { libc::kill(pid, 0) };
    result == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
}

async fn ensure_image(docker: &Docker, image: &str) -> Result<(), EngineError> {
    if docker.inspect_image(image).await.is_ok() {
        return Ok(());
    }
    let unavailable = |reason: String| EngineError::ImageUnavailable {
        image: image.to_string(),
        reason,
    };
    let timeout = std::env::var("PGREHEARSE_PULL_TIMEOUT")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .unwrap_or(120);
    let options = CreateImageOptionsBuilder::new().from_image(image).build();
    let pull = async {
        let mut stream = docker.create_image(Some(options), None, None);
        while let Some(item) = stream.next().await {
            item.map_err(|e| unavailable(e.to_string()))?;
        }
        Ok::<(), EngineError>(())
    };
    tokio::time::timeout(Duration::from_secs(timeout), pull)
        .await
        .map_err(|_| unavailable(format!("no answer from the registry within {timeout}s")))??;
    Ok(())
}

impl Engine for DockerEngine {
    fn kind(&self) -> EngineKind {
        EngineKind::Docker
    }

    async fn start(&self, cleanup: &Cleanup) -> Result<Server, EngineError> {
        let started = Instant::now();
        let docker = daemon().await?;
        cleanup.docker_used();
        remove_stale(&docker).await;
        ensure_image(&docker, &self.image).await?;
        let failed = |reason: String| EngineError::ContainerFailed {
            image: self.image.clone(),
            reason,
            exited: false,
        };
        let (name, tag) = split_image(&self.image);
        let address = publish_address(&docker).await;
        let bind_ip = address.bind.clone();
        // A daemon on this machine: no network at all (`none`: loopback only); the server's unix socket
        // is mounted from a directory only this user can reach.
        let socket_dir = if address.local {
            Some(socket_dir(cleanup).map_err(&failed)?)
        } else {
            None
        };
        let password = match &self.volume {
            Some(volume) => volume.password.clone(),
            None => crate::random::hex(16),
        };
        let mut request = GenericImage::new(name, tag);
        let mut cmd = vec![
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ];
        match socket_dir {
            // Where the directory is mounted, whatever the image's default.
            Some(_) => cmd.extend(["-c", "unix_socket_directories=/var/run/postgresql"]),
            None => request = request.with_exposed_port(5432.tcp()),
        }
        let mount = socket_dir.as_ref().map(|d| d.display().to_string());
        let volume = self
            .volume
            .as_ref()
            .map(|v| format!("{}:/var/lib/postgresql", v.name));
        let request = request
            .with_wait_for(WaitFor::Nothing)
            .with_env_var("POSTGRES_PASSWORD", password.clone())
            .with_env_var("POSTGRES_USER", super::ADMIN_ROLE)
            .with_env_var("POSTGRES_DB", "postgres")
            .with_label(LABEL_MANAGED, "true")
            .with_label(LABEL_PID, std::process::id().to_string())
            .with_label(LABEL_HOST, hostname())
            .with_cmd(cmd)
            .with_startup_timeout(Duration::from_secs(60))
            .with_host_config_modifier(move |host_config| {
                host_config.publish_all_ports = Some(false);
                if let Some(volume) = &volume {
                    host_config
                        .binds
                        .get_or_insert_with(Vec::new)
                        .push(volume.clone());
                }
                match &mount {
                    Some(dir) => {
                        host_config.network_mode = Some("none".into());
                        host_config.port_bindings = None;
                        host_config
                            .binds
                            .get_or_insert_with(Vec::new)
                            .push(format!("{dir}:/var/run/postgresql"));
                    }
                    // Otherwise the superuser port on the one address pgrehearse connects to, on a
                    // port Docker picks.
                    None => {
                        host_config.port_bindings = Some(HashMap::from([(
                            "5432/tcp".to_string(),
                            Some(vec![PortBinding {
                                host_ip: bind_ip.clone(),
                                host_port: Some(String::new()),
                            }]),
                        )]));
                    }
                }
            });
        // The image's own data directory, unless the cluster lives in the cache's volume.
        let request = match self.volume {
            Some(_) => request.with_env_var("PGDATA", VOLUME_PGDATA),
            None => request,
        };
        let container = request.start().await.map_err(|e| failed(e.to_string()))?;
        let id = container.id().to_string();
        cleanup.register(match self.volume {
            // Stopped before it is removed: its cluster is kept, shut down cleanly.
            Some(_) => Resource::CacheContainer { id: id.clone() },
            None => Resource::Container { id: id.clone() },
        });
        let (host, port) = match &socket_dir {
            Some(dir) => (dir.display().to_string(), 5432),
            None => (
                address.connect,
                container
                    .get_host_port_ipv4(5432.tcp())
                    .await
                    .map_err(|e| failed(e.to_string()))?,
            ),
        };
        // The cleanup registry owns removal from here on, on every path.
        std::mem::forget(container);

        let mut config = tokio_postgres::Config::new();
        match &socket_dir {
            Some(dir) => config.host_path(dir),
            None => config.host(&host),
        };
        config
            .port(port)
            .user(super::ADMIN_ROLE)
            .password(&password)
            .dbname("postgres");
        // Readiness is a successful `SELECT 1`; between attempts, a container that exited is reported at
        // once with the end of its log instead of waiting for the deadline.
        let deadline = Instant::now() + Duration::from_secs(60);
        let version = loop {
            match super::wait_ready(&config, Duration::from_millis(500), || Ok(())).await {
                Ok(v) => break v,
                Err(last) => {
                    let running = docker
                        .inspect_container(&id, None)
                        .await
                        .ok()
                        .and_then(|info| info.state.and_then(|s| s.running))
                        .unwrap_or(true);
                    if !running {
                        return Err(EngineError::ContainerFailed {
                            image: self.image.clone(),
                            reason: format!(
                                "the container exited: {}",
                                container_logs(&docker, &id).await
                            ),
                            exited: true,
                        });
                    }
                    if Instant::now() > deadline {
                        return Err(failed(last));
                    }
                }
            }
        };
        Ok(Server {
            kind: EngineKind::Docker,
            config,
            admin_db: "postgres".into(),
            version,
            description: format!("docker image {}", self.image),
            image: Some(self.image.clone()),
            startup: started.elapsed(),
            replay: None,
        })
    }
}

/// A directory for the container's unix socket: `<tmp>/pgrehearse-docker-…/` (this user only) holding
/// `socket/` (open to the container's server user), registered for removal after the container.
fn socket_dir(cleanup: &Cleanup) -> Result<std::path::PathBuf, String> {
    use std::os::unix::fs::PermissionsExt;
    let private = tempfile::Builder::new()
        .prefix(&format!("pgrehearse-docker-{}-", std::process::id()))
        .tempdir()
        .map_err(|e| format!("could not create a directory for the container's socket: {e}"))?;
    std::fs::set_permissions(private.path(), std::fs::Permissions::from_mode(0o700))
        .map_err(|e| format!("could not create a directory for the container's socket: {e}"))?;
    let socket = private.path().join("socket");
    std::fs::create_dir(&socket)
        .and_then(|()| std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o777)))
        .map_err(|e| format!("could not create a directory for the container's socket: {e}"))?;
    cleanup.register(Resource::Directory { dir: private });
    Ok(socket)
}

/// Where the container's port is published and where pgrehearse connects to it.
struct Address {
    /// The host address Docker binds the port to; `None` publishes on every interface of the daemon's
    /// host, which only a remote daemon (`DOCKER_HOST=tcp://…`) needs.
    bind: Option<String>,
    connect: String,
    /// Whether the daemon shares this machine's network namespace and file system: then the container
    /// gets no network at all and is reached through its unix socket, mounted from a private directory.
    local: bool,
}

/// Chooses the one address the superuser port is published on. A daemon reached over TCP is on another
/// machine: the port is published there and reached by the daemon's host name. A daemon behind a local
/// socket shares this machine's network unless pgrehearse itself runs in a container whose daemon is the
/// host's (socket mounted in): then the host's loopback is out of reach and the bridge gateway, which
/// is not an address of this network namespace, is the way to the published port.
async fn publish_address(docker: &Docker) -> Address {
    let loopback = || Address {
        bind: Some("127.0.0.1".into()),
        connect: "127.0.0.1".into(),
        local: true,
    };
    if let Some(host) = std::env::var("DOCKER_HOST")
        .ok()
        .and_then(|url| remote_host(&url))
    {
        return Address {
            bind: None,
            connect: host,
            local: false,
        };
    }
    let gateway = docker
        .inspect_network(
            "bridge",
            None::<testcontainers::bollard::query_parameters::InspectNetworkOptions>,
        )
        .await
        .ok()
        .and_then(|net| net.ipam)
        .and_then(|ipam| ipam.config)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|config| config.gateway)
        .find_map(|gateway| gateway.trim().parse::<std::net::IpAddr>().ok());
    match gateway {
        // An address that cannot be bound here belongs to another network namespace: the daemon's.
        Some(ip) if std::net::UdpSocket::bind((ip, 0)).is_err() => Address {
            bind: Some(ip.to_string()),
            connect: ip.to_string(),
            local: false,
        },
        _ => loopback(),
    }
}

/// The host of a `DOCKER_HOST` that names a daemon reached over the network (`tcp://host:2376`,
/// `https://[::1]:2376/`); `None` for a local socket.
fn remote_host(url: &str) -> Option<String> {
    let rest = ["tcp://", "http://", "https://"]
        .iter()
        .find_map(|scheme| url.strip_prefix(scheme))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => authority,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    (!host.is_empty()).then(|| host.to_string())
}

async fn container_logs(docker: &Docker, id: &str) -> String {
    use testcontainers::bollard::query_parameters::LogsOptionsBuilder;
    let options = LogsOptionsBuilder::new()
        .stdout(true)
        .stderr(true)
        .tail("20")
        .build();
    let mut stream = docker.logs(id, Some(options));
    let mut text = String::new();
    while let Some(Ok(chunk)) = stream.next().await {
        text.push_str(&chunk.to_string());
    }
    text.trim().to_string()
}

/// Stops the replay cache's container (a fast shutdown of its server, which checkpoints the cluster
/// in its volume), then removes it.
pub async fn stop_and_remove_container(id: &str) -> Result<(), String> {
    use testcontainers::bollard::query_parameters::StopContainerOptionsBuilder;
    if let Ok(docker) = testcontainers::core::client::docker_client_instance().await {
        let _ = docker
            .stop_container(id, Some(StopContainerOptionsBuilder::new().t(30).build()))
            .await;
    }
    remove_container(id).await
}

/// Force-removes a container and its anonymous volumes.
pub async fn remove_container(id: &str) -> Result<(), String> {
    let docker = testcontainers::core::client::docker_client_instance()
        .await
        .map_err(|e| format!("could not reach Docker to remove container {id}: {e}"))?;
    let options = RemoveContainerOptionsBuilder::new()
        .force(true)
        .v(true)
        .build();
    match docker.remove_container(id, Some(options)).await {
        Ok(()) => Ok(()),
        Err(testcontainers::bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }) => Ok(()),
        Err(e) => Err(format!(
            "could not remove container {id}: {e}; remove it with `docker rm -f {id}`"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::{process_gone, remote_host, split_image};

    #[test]
    fn only_a_missing_process_is_gone() {
        assert!(!process_gone(std::process::id() as i32));
        // pid 1 exists; signalling it may be refused (EPERM), which still means alive.
        assert!(!process_gone(1));
        assert!(!process_gone(0));
        assert!(!process_gone(-1));
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id() as i32;
        child.wait().unwrap();
        assert!(process_gone(pid));
    }

    /// Another user's live process cannot be signalled (EPERM): it is alive, not gone. Checked from a
    /// forked child that drops to `nobody` and looks at this (root-owned) process.
    #[test]
    fn another_users_process_is_not_gone() {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            // Unprivileged already: pid 1 belongs to another user.
            assert!(!process_gone(1));
            return;
        }
        let me = std::process::id() as i32;
        // SAFETY: the child only calls async-signal-safe functions (setgid, setuid, kill, _exit).
        let child = unsafe { libc::fork() };
        assert!(child >= 0, "fork failed");
        if child == 0 {
            // SAFETY: as above; 65534 is `nobody`.
            unsafe {
                if libc::setgid(65534) != 0 || libc::setuid(65534) != 0 {
                    libc::_exit(3);
                }
                let refused = libc::kill(me, 0) == -1;
                libc::_exit(match (refused, process_gone(me)) {
                    (true, false) => 0,
                    (false, _) => 2,
                    (true, true) => 1,
                });
            }
        }
        let mut status = 0;
        // SAFETY: waiting for our own child.
        unsafe { libc::waitpid(child, &mut status, 0) };
        assert!(libc::WIFEXITED(status));
        assert_eq!(
            libc::WEXITSTATUS(status),
            0,
            "1: an EPERM process was judged gone; 2: kill was not refused; 3: setuid failed"
        );
    }

    #[test]
    fn only_a_network_docker_host_is_remote() {
        assert_eq!(remote_host("unix:///var/run/docker.sock"), None);
        assert_eq!(remote_host("npipe:////./pipe/docker_engine"), None);
        assert_eq!(
            remote_host("tcp://build-box:2376"),
            Some("build-box".into())
        );
        assert_eq!(remote_host("tcp://10.0.0.7"), Some("10.0.0.7".into()));
        assert_eq!(remote_host("https://[::1]:2376/"), Some("::1".into()));
        assert_eq!(remote_host("tcp://"), None);
    }

    #[test]
    fn image_names_split_into_name_and_tag() {
        assert_eq!(split_image("postgres:17"), ("postgres".into(), "17".into()));
        assert_eq!(
            split_image("pgrehearse-ci/postgres:15"),
            ("pgrehearse-ci/postgres".into(), "15".into())
        );
        assert_eq!(
            split_image("localhost:5000/pg"),
            ("localhost:5000/pg".into(), "latest".into())
        );
        assert_eq!(
            split_image("localhost:5000/pg:16"),
            ("localhost:5000/pg".into(), "16".into())
        );
    }
}
