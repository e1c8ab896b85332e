// Built-in profiles for services that commonly get the Docker socket, each built from the calls the service makes.

/// A built-in profile with a name a policy file can use (`preset: traefik`) and a one-line summary.
public struct Preset: Sendable {
    /// The name a policy file uses.
    public let name: String
    /// What the preset is for, in one line.
    public let summary: String
    /// The rules.
    public let profile: Profile
}

/// The built-in presets. Each lists, in its doc comment, the Docker API calls it allows and the code they come from;
/// the paths are those of moby's `api/swagger.yaml`. Anything not listed is denied by the profile's default deny.
///
/// Every preset allows `GET`/`HEAD` on `/_ping` and `/version`: Docker's Go client pings to negotiate the API
/// version, and health checks use both.
public enum Presets {
    /// Every preset, in the order the documentation lists them.
    public static let all: [Preset] = [
        Preset(
            name: "traefik", summary: "Traefik's docker and swarm providers: read containers, services and events.",
            profile: traefik),
        Preset(
            name: "watchtower",
            summary: "Watchtower: pull images and recreate containers, bodies inspected (no privileged, no binds).",
            profile: watchtower),
        Preset(
            name: "portainer-readonly",
            summary: "Portainer's dashboard and views, read only, without file copies, secrets or join tokens.",
            profile: portainerReadOnly),
        Preset(
            name: "homepage",
            summary: "gethomepage/homepage's docker integration: container status and stats, swarm services.",
            profile: homepage),
        Preset(
            name: "read-only",
            summary: "Every GET and HEAD except those that copy data out: archives, exports, attach, image save, "
                + "secrets, configs, swarm keys.",
            profile: readOnly),
    ]

    /// The names of every preset.
    public static var names: [String] { all.map(\.name) }

    /// The preset with this name, or nil.
    public static func named(_ name: String) -> Preset? {
        all.first { $0.name == name }
    }

    /// `traefik`: what Traefik's providers read to build routes from container and service labels.
    ///
    /// Built from traefik `pkg/provider/docker`: `pdocker.go` (`ServerVersion`, `ContainerList` with `All`,
    /// `Events` filtered to containers), `shared.go` (`ContainerInspect`, also of the container a
    /// `network_mode: container:...` points to), `pswarm.go` (`ServiceList`, `NetworkList` with a scope or driver
    /// filter, `TaskList` per service, `NodeInspect` for a task's node).
    ///
    /// Allows GET and HEAD on `/_ping`, `/version`, `/containers/json`, `/containers/{id}/json`, `/events`,
    /// `/services`, `/tasks`, `/networks` and `/nodes/{id}`. Nothing that changes anything.
    public static let traefik = Profile(
        name: "traefik",
        rules: common + [
            read("containers-list", "/containers/json"),
            read("container-inspect", "/containers/{id}/json"),
            read("events", "/events"),
            read("services-list", "/services"),
            read("tasks-list", "/tasks"),
            read("networks-list", "/networks"),
            read("node-inspect", "/nodes/{id}"),
        ])

    /// `watchtower`: what Watchtower needs to update containers to their image's newest version.
    ///
    /// Built from containrrr/watchtower `pkg/container/client.go`: `ContainerList` with status filters,
    /// `ContainerInspect` (also of a network container), `ImageInspectWithRaw` by name or id, `ImagePull`
    /// (`POST /images/create?fromImage=`), `ContainerKill` with the stop signal, `ContainerRemove` with force,
    /// `ContainerCreate` with the old container's configuration, `NetworkDisconnect` and `NetworkConnect` to restore
    /// every network, `ContainerStart`, `ContainerRename` (for its own update), `ImageRemove` by id (cleanup).
    ///
    /// Allows: GET and HEAD on `/_ping`, `/version`, `/containers/json`, `/containers/{id}/json`,
    /// `/images/{name+}/json`; POST `/images/create` only with `fromImage` and without `fromSrc` (a pull, never an
    /// import of a tarball from the body or a URL); POST `/containers/{id}/kill`, `/stop`, `/start`, `/rename`;
    /// DELETE `/containers/{id}`; POST `/containers/create`; POST `/networks/{id}/connect` and `/disconnect`;
    /// DELETE `/images/{id}`.
    ///
    /// Not allowed: execs, which Watchtower uses only for lifecycle hooks (`--enable-lifecycle-hooks`); add
    /// POST `/containers/{id}/exec`, POST `/exec/{id}/start` and GET `/exec/{id}/json` after the preset for those.
    ///
    /// The trade-off of recreating containers: Watchtower sends each container's original configuration back to
    /// `/containers/create`. A client that may create containers with any configuration is root on the host, so
    /// the create rule inspects bodies with the strict default: no privileged containers, devices, host namespaces
    /// (nor `container:<name>` network sharing), added capabilities, unconfined profiles, sysctls, other runtimes
    /// or cgroup parents, and no bind mounts at all. A bind mount of `/` alone would give a container the host, so
    /// the preset does not guess which host paths are safe. Containers whose configuration needs any of these are
    /// refused at create time, after Watchtower has already removed the old container: such a container stays
    /// down until it is recreated by hand. Before relying on this preset, list the host paths your containers bind
    /// with a profile-level `inspect: { bind_mounts: [...] }` (it replaces the preset's inspection), exclude the
    /// privileged ones from Watchtower (label `com.centurylinklabs.watchtower.enable=false`), and run in audit mode
    /// first to see what would be refused.
    public static let watchtower = Profile(
        name: "watchtower",
        rules: common + [
            read("containers-list", "/containers/json"),
            read("container-inspect", "/containers/{id}/json"),
            read("image-inspect", "/images/{name+}/json"),
            write(
                "image-pull", .post, "/images/create",
                query: [QueryConstraint(name: "fromImage", .anyValue), QueryConstraint(name: "fromSrc", .absent)]),
            write("container-kill", .post, "/containers/{id}/kill"),
            write("container-stop", .post, "/containers/{id}/stop"),
            write("container-remove", .delete, "/containers/{id}"),
            write("container-create", .post, "/containers/create"),
            write("network-connect", .post, "/networks/{id}/connect"),
            write("network-disconnect", .post, "/networks/{id}/disconnect"),
            write("container-start", .post, "/containers/{id}/start"),
            write("container-rename", .post, "/containers/{id}/rename"),
            write("image-remove", .delete, "/images/{id}"),
        ])

    /// `portainer-readonly`: Portainer's dashboard and list and detail views, for a read-only environment.
    ///
    /// Built from portainer `api/docker/snapshot.go` (`Ping`, `Info`, `ServiceList` and `NodeList` in swarm mode,
    /// `ContainerList` with `All`, `ImageList`, `VolumeList`, `NetworkList`, `ServerVersion`) and the read endpoints
    /// its UI calls through its Docker proxy (`api/http/proxy/factory/docker`, `app/docker/rest`): inspect, logs,
    /// stats, top and changes of containers, inspect and history of images, inspect of volumes, networks,
    /// services, tasks and nodes, service and task logs, plugins, events and disk usage.
    ///
    /// First denies what copies data out of the host, as ``readOnly`` does (so these are refused with a reason even
    /// though the allow list below does not name them), then allows GET and HEAD on exactly the endpoints above.
    /// Portainer's write actions (start, stop, create, exec consoles, file browsing) and its secret, config and swarm
    /// cluster views are refused. Container and service inspect show environment variables, which often hold
    /// passwords.
    public static let portainerReadOnly = Profile(
        name: "portainer-readonly",
        rules: exfiltrationDenials + common + [
            read("info", "/info"),
            read("events", "/events"),
            read("disk-usage", "/system/df"),
            read("containers-list", "/containers/json"),
            read("container-inspect", "/containers/{id}/json"),
            read("container-logs", "/containers/{id}/logs"),
            read("container-stats", "/containers/{id}/stats"),
            read("container-top", "/containers/{id}/top"),
            read("container-changes", "/containers/{id}/changes"),
            read("images-list", "/images/json"),
            read("image-inspect", "/images/{name+}/json"),
            read("image-history", "/images/{name+}/history"),
            read("volumes-list", "/volumes"),
            read("volume-inspect", "/volumes/{name}"),
            read("networks-list", "/networks"),
            read("network-inspect", "/networks/{id}"),
            read("services-list", "/services"),
            read("service-inspect", "/services/{id}"),
            read("service-logs", "/services/{id}/logs"),
            read("tasks-list", "/tasks"),
            read("task-inspect", "/tasks/{id}"),
            read("task-logs", "/tasks/{id}/logs"),
            read("nodes-list", "/nodes"),
            read("node-inspect", "/nodes/{id}"),
            read("plugins-list", "/plugins"),
        ])

    /// `homepage`: the docker integration of gethomepage/homepage, a dashboard.
    ///
    /// Built from homepage `src/utils/docker/status.js` and `stats.js`, `src/pages/api/docker/status` and
    /// `stats` (dockerode's `listContainers({all: true})`, `container.inspect()` in earlier versions,
    /// `container.stats({stream: false})`, and in swarm mode `listServices`, `getService().inspect()` and
    /// `listTasks` filtered to running tasks) and `src/utils/config/service-helpers.js` (label discovery through
    /// `listContainers`).
    ///
    /// Allows GET and HEAD on `/_ping`, `/version`, `/containers/json`, `/containers/{id}/json`,
    /// `/containers/{id}/stats`, `/services`, `/services/{id}` and `/tasks`. Homepage's newer log viewer
    /// (`/containers/{id}/logs`) and its start, stop and restart buttons are not allowed: a dashboard many people
    /// see should neither read logs, which often hold secrets, nor stop services; add rules after the preset to
    /// turn them on.
    public static let homepage = Profile(
        name: "homepage",
        rules: common + [
            read("containers-list", "/containers/json"),
            read("container-inspect", "/containers/{id}/json"),
            read("container-stats", "/containers/{id}/stats"),
            read("services-list", "/services"),
            read("service-inspect", "/services/{id}"),
            read("tasks-list", "/tasks"),
        ])

    /// `read-only`: every GET and HEAD, except the endpoints that copy data out of the host.
    ///
    /// Denied, for any method: `/containers/{id+}/archive` (copying files out), `/containers/{id+}/export` (a
    /// container's whole filesystem), `/containers/{id+}/attach` and `/containers/{id+}/attach/ws` (a container's
    /// live input and output; the websocket form is a GET that writes stdin), `/images/get` and
    /// `/images/{name+}/get` (saving images, with every layer), `/secrets` and `/configs` and everything under them
    /// (swarm secrets; config inspect returns the config's data), `/swarm/unlockkey` (the key that decrypts the
    /// swarm's Raft log), and `/swarm` itself: its inspect answer carries the join tokens, with which any machine
    /// can join the swarm as a manager.
    ///
    /// Then allows GET and HEAD on every path. `{id+}` and `{name+}` match names with slashes, which the daemon
    /// routes to the same endpoints (image references; container names made by legacy links). Still readable, by
    /// design of "read-only": container and service inspect (with environment variables, which often hold
    /// passwords), logs, and events.
    public static let readOnly = Profile(
        name: "read-only",
        rules: exfiltrationDenials + [
            Rule(name: "read", methods: .read, path: template("/{rest...}"), action: .allow)
        ])

    // MARK: - Building rules

    /// GET and HEAD on `/_ping` and `/version`.
    private static let common: [Rule] = [
        read("ping", "/_ping"),
        read("version", "/version"),
    ]

    /// The endpoints that copy data out of the host, denied for every method.
    private static let exfiltrationDenials: [Rule] = [
        deny("deny-archive", "/containers/{id+}/archive", "copying files out of a container is not read-only access"),
        deny("deny-export", "/containers/{id+}/export", "exporting a container's filesystem is not read-only access"),
        deny("deny-attach", "/containers/{id+}/attach", "attaching to a container is not read-only access"),
        deny("deny-attach", "/containers/{id+}/attach/ws", "attaching to a container is not read-only access"),
        deny("deny-image-save", "/images/get", "saving images is not read-only access"),
        deny("deny-image-save", "/images/{name+}/get", "saving images is not read-only access"),
        deny("deny-secrets", "/secrets/{rest...}", "swarm secrets are not readable through this profile"),
        deny("deny-configs", "/configs/{rest...}", "swarm configs hold their data; not readable through this profile"),
        deny("deny-swarm-unlock-key", "/swarm/unlockkey", "the swarm unlock key is not readable through this profile"),
        deny(
            "deny-swarm-join-tokens", "/swarm",
            "swarm inspect returns the join tokens; not readable through this profile"),
    ]

    /// GET and HEAD on one path; bodies are not inspected (reads have none).
    private static func read(_ name: String, _ path: String) -> Rule {
        Rule(name: name, methods: .read, path: template(path), action: .allow)
    }

    /// One writing method on one path, with the strict body inspection.
    private static func write(
        _ name: String, _ methods: MethodSet, _ path: String, query: [QueryConstraint] = []
    ) -> Rule {
        Rule(name: name, methods: methods, path: template(path), action: .allow, query: query, inspection: .strict)
    }

    /// Every method on one path, refused with a reason.
    private static func deny(_ name: String, _ path: String, _ reason: String) -> Rule {
        Rule(name: name, methods: .all, path: template(path), action: .deny, reason: reason)
    }

    /// A template written in this file; failing to parse is a bug here, not a configuration error.
    private static func template(_ text: String) -> PathTemplate {
        do {
            return try PathTemplate(parsing: text)
        } catch {
            preconditionFailure("built-in \(error)")
        }
    }
}
