// Tests for the built-in presets: the calls each service really makes pass, the calls it must not make do not.
import Testing

@testable import SocketProxyCore

/// One request as a client sends it.
struct PresetCall: CustomStringConvertible, Sendable {
    var method: String
    var target: String

    init(_ method: String, _ target: String) {
        self.method = method
        self.target = target
    }

    var description: String { "\(method) \(target)" }

    func explain(_ profile: Profile) -> Explanation {
        Explanation(method: method, target: target, profile: profile)
    }
}

/// The presets as a whole.
struct PresetCatalogTests {
    @Test func namesEveryPresetOnceAndFindsItByName() {
        #expect(Presets.names == ["traefik", "watchtower", "portainer-readonly", "homepage", "read-only"])
        for preset in Presets.all {
            #expect(Presets.named(preset.name)?.profile.name == preset.name)
            #expect(preset.profile.name == preset.name)
            #expect(!preset.summary.isEmpty)
        }
        #expect(Presets.named("nope") == nil)
    }

    @Test(arguments: Presets.all.map(\.name))
    func allowsPingAndVersionForClientNegotiation(name: String) throws {
        let profile = try #require(Presets.named(name)).profile
        for call in [PresetCall("HEAD", "/_ping"), PresetCall("GET", "/_ping"), PresetCall("GET", "/v1.47/version")] {
            #expect(call.explain(profile).verdict == .allow, "\(call)")
        }
    }

    @Test(arguments: Presets.all.map(\.name))
    func onlyRulesThatAllowWritesInspectBodies(name: String) throws {
        let profile = try #require(Presets.named(name)).profile
        for rule in profile.rules {
            if rule.action == .allow && !MethodSet.read.isSuperset(of: rule.methods) {
                #expect(rule.inspection == .strict, "\(rule.name)")
            } else {
                #expect(rule.inspection == nil, "\(rule.name)")
            }
        }
    }
}

/// `traefik`: built from traefik's docker and swarm providers.
struct PresetTraefikTests {
    static let allowed: [PresetCall] = [
        PresetCall("GET", "/v1.24/version"),
        PresetCall("GET", "/v1.24/containers/json?all=1"),
        PresetCall("GET", "/v1.24/containers/3f2a9c1b7d4e/json"),
        PresetCall("GET", "/v1.24/events?filters=%7B%22type%22%3A%7B%22container%22%3Atrue%7D%7D"),
        PresetCall("GET", "/v1.24/services"),
        PresetCall("GET", "/v1.24/networks?filters=%7B%22scope%22%3A%7B%22swarm%22%3Atrue%7D%7D"),
        PresetCall("GET", "/v1.24/tasks?filters=%7B%22service%22%3A%7B%22abc%22%3Atrue%7D%7D"),
        PresetCall("GET", "/v1.24/nodes/n1"),
    ]

    static let denied: [PresetCall] = [
        PresetCall("POST", "/v1.24/containers/create"),
        PresetCall("POST", "/v1.24/containers/abc/start"),
        PresetCall("POST", "/v1.24/containers/abc/exec"),
        PresetCall("DELETE", "/v1.24/containers/abc"),
        PresetCall("GET", "/v1.24/containers/abc/logs"),
        PresetCall("GET", "/v1.24/containers/abc/archive?path=/etc"),
        PresetCall("GET", "/v1.24/containers/abc/export"),
        PresetCall("GET", "/v1.24/images/json"),
        PresetCall("GET", "/v1.24/secrets"),
        PresetCall("GET", "/v1.24/info"),
        PresetCall("POST", "/v1.24/events"),
        PresetCall("GET", "/v1.24/swarm"),
    ]

    @Test(arguments: allowed)
    func allowsWhatTraefikCalls(call: PresetCall) {
        #expect(call.explain(Presets.traefik).verdict == .allow)
    }

    @Test(arguments: denied)
    func deniesWhatTraefikNeverCalls(call: PresetCall) {
        #expect(call.explain(Presets.traefik).verdict == .deny)
    }
}

/// `watchtower`: built from containrrr/watchtower's `pkg/container/client.go`.
struct PresetWatchtowerTests {
    static let allowed: [PresetCall] = [
        PresetCall("GET", "/v1.25/containers/json?filters=%7B%22status%22%3A%7B%22running%22%3Atrue%7D%7D"),
        PresetCall("GET", "/v1.25/containers/abc/json"),
        PresetCall("GET", "/v1.25/images/containrrr/watchtower:latest/json"),
        PresetCall("GET", "/v1.25/images/ghcr.io/linuxserver/plex:latest/json"),
        PresetCall("GET", "/v1.25/images/sha256:4c1f/json"),
        PresetCall("POST", "/v1.25/images/create?fromImage=ghcr.io%2Flinuxserver%2Fplex&tag=latest"),
        PresetCall("POST", "/v1.25/containers/abc/kill?signal=SIGTERM"),
        PresetCall("POST", "/v1.25/containers/abc/stop?t=10"),
        PresetCall("DELETE", "/v1.25/containers/abc?force=1&v=1"),
        PresetCall("POST", "/v1.25/containers/create?name=plex"),
        PresetCall("POST", "/v1.25/networks/bridge/disconnect"),
        PresetCall("POST", "/v1.25/networks/proxy/connect"),
        PresetCall("POST", "/v1.25/containers/def/start"),
        PresetCall("POST", "/v1.25/containers/abc/rename?name=watchtower-old"),
        PresetCall("DELETE", "/v1.25/images/sha256:4c1f?force=1"),
    ]

    static let denied: [PresetCall] = [
        PresetCall("POST", "/v1.25/images/create?fromSrc=-&repo=evil"),
        PresetCall("POST", "/v1.25/images/create?fromImage=alpine&fromSrc=-"),
        PresetCall("POST", "/v1.25/images/create"),
        PresetCall("POST", "/v1.25/images/load"),
        PresetCall("POST", "/v1.25/containers/abc/exec"),
        PresetCall("POST", "/v1.25/exec/abc/start"),
        PresetCall("POST", "/v1.25/containers/abc/update"),
        PresetCall("PUT", "/v1.25/containers/abc/archive?path=/"),
        PresetCall("GET", "/v1.25/containers/abc/archive?path=/"),
        PresetCall("POST", "/v1.25/containers/abc/attach?stream=1"),
        PresetCall("POST", "/v1.25/build"),
        PresetCall("POST", "/v1.25/volumes/create"),
        PresetCall("POST", "/v1.25/plugins/pull?remote=x"),
        PresetCall("POST", "/v1.25/swarm/init"),
        PresetCall("GET", "/v1.25/secrets"),
        PresetCall("DELETE", "/v1.25/images/ghcr.io/team/app"),
        PresetCall("DELETE", "/v1.25/networks/proxy"),
        PresetCall("POST", "/v1.25/containers/prune"),
    ]

    @Test(arguments: allowed)
    func allowsWhatWatchtowerCalls(call: PresetCall) {
        #expect(call.explain(Presets.watchtower).verdict == .allow)
    }

    @Test(arguments: denied)
    func deniesWhatWatchtowerNeverCalls(call: PresetCall) {
        #expect(call.explain(Presets.watchtower).verdict == .deny)
    }

    @Test func inspectsTheBodiesOfCreatedContainersWithTheStrictDefault() {
        let create = PresetCall("POST", "/v1.25/containers/create?name=plex").explain(Presets.watchtower)
        #expect(create.ruleName == "container-create")
        #expect(create.inspection == .strict)
        #expect(create.inspection?.allowedBindPaths == [])
        #expect(create.inspection?.allowPrivileged == false)
        #expect(create.inspection?.allowHostNamespaces == false)
        #expect(create.inspection?.allowDevices == false)
    }
}

/// `portainer-readonly`: Portainer's snapshot and views, read only.
struct PresetPortainerReadOnlyTests {
    static let allowed: [PresetCall] = [
        PresetCall("GET", "/v1.41/info"),
        PresetCall("GET", "/v1.41/version"),
        PresetCall("GET", "/v1.41/containers/json?all=1"),
        PresetCall("GET", "/v1.41/containers/abc/json"),
        PresetCall("GET", "/v1.41/containers/abc/logs?stdout=1&stderr=1&tail=100"),
        PresetCall("GET", "/v1.41/containers/abc/stats?stream=false"),
        PresetCall("GET", "/v1.41/containers/abc/top"),
        PresetCall("GET", "/v1.41/containers/abc/changes"),
        PresetCall("GET", "/v1.41/images/json"),
        PresetCall("GET", "/v1.41/images/portainer/portainer-ce:latest/json"),
        PresetCall("GET", "/v1.41/images/sha256:abc/history"),
        PresetCall("GET", "/v1.41/volumes"),
        PresetCall("GET", "/v1.41/volumes/data"),
        PresetCall("GET", "/v1.41/networks"),
        PresetCall("GET", "/v1.41/networks/bridge"),
        PresetCall("GET", "/v1.41/services"),
        PresetCall("GET", "/v1.41/services/s1"),
        PresetCall("GET", "/v1.41/services/s1/logs?stdout=1"),
        PresetCall("GET", "/v1.41/tasks?filters=%7B%7D"),
        PresetCall("GET", "/v1.41/tasks/t1"),
        PresetCall("GET", "/v1.41/nodes"),
        PresetCall("GET", "/v1.41/nodes/n1"),
        PresetCall("GET", "/v1.41/plugins"),
        PresetCall("GET", "/v1.41/events?since=1"),
        PresetCall("GET", "/v1.41/system/df"),
    ]

    static let denied: [(PresetCall, String)] = [
        (PresetCall("GET", "/v1.41/containers/abc/archive?path=/etc/shadow"), "deny-archive"),
        (PresetCall("HEAD", "/v1.41/containers/abc/archive?path=/"), "deny-archive"),
        (PresetCall("GET", "/v1.41/containers/web/db/archive?path=/"), "deny-archive"),
        (PresetCall("GET", "/v1.41/containers/abc/export"), "deny-export"),
        (PresetCall("POST", "/v1.41/containers/abc/attach?stream=1&stdin=1"), "deny-attach"),
        (PresetCall("GET", "/v1.41/containers/abc/attach/ws?stdin=1"), "deny-attach"),
        (PresetCall("GET", "/v1.41/images/get?names=alpine"), "deny-image-save"),
        (PresetCall("GET", "/v1.41/images/ghcr.io/team/app:1/get"), "deny-image-save"),
        (PresetCall("GET", "/v1.41/secrets"), "deny-secrets"),
        (PresetCall("GET", "/v1.41/configs/c1"), "deny-configs"),
        (PresetCall("GET", "/v1.41/swarm/unlockkey"), "deny-swarm-unlock-key"),
        (PresetCall("GET", "/v1.41/swarm"), "deny-swarm-join-tokens"),
        (PresetCall("POST", "/v1.41/containers/abc/start"), "default-deny"),
        (PresetCall("POST", "/v1.41/containers/abc/exec"), "default-deny"),
        (PresetCall("POST", "/v1.41/containers/create"), "default-deny"),
        (PresetCall("DELETE", "/v1.41/containers/abc"), "default-deny"),
        (PresetCall("POST", "/v1.41/images/create?fromImage=alpine"), "default-deny"),
        (PresetCall("GET", "/v1.41/exec/e1/json"), "default-deny"),
        (PresetCall("GET", "/v1.41/distribution/alpine/json"), "default-deny"),
    ]

    @Test(arguments: allowed)
    func allowsWhatPortainerReads(call: PresetCall) {
        #expect(call.explain(Presets.portainerReadOnly).verdict == .allow)
    }

    @Test(arguments: denied)
    func deniesWritesAndEverythingThatCopiesDataOut(call: PresetCall, rule: String) {
        let explanation = call.explain(Presets.portainerReadOnly)
        #expect(explanation.verdict == .deny)
        #expect(explanation.ruleName == rule)
    }
}

/// `homepage`: gethomepage/homepage's docker integration.
struct PresetHomepageTests {
    static let allowed: [PresetCall] = [
        PresetCall("GET", "/containers/json?all=true"),
        PresetCall("GET", "/containers/jellyfin/json"),
        PresetCall("GET", "/containers/jellyfin/stats?stream=false"),
        PresetCall("GET", "/services"),
        PresetCall("GET", "/services/web"),
        PresetCall("GET", "/tasks?filters=%7B%22desired-state%22%3A%5B%22running%22%5D%7D"),
        PresetCall("HEAD", "/_ping"),
    ]

    static let denied: [PresetCall] = [
        PresetCall("GET", "/containers/jellyfin/logs?follow=1"),
        PresetCall("POST", "/containers/jellyfin/restart"),
        PresetCall("POST", "/containers/jellyfin/stop"),
        PresetCall("POST", "/containers/jellyfin/start"),
        PresetCall("GET", "/containers/jellyfin/archive?path=/"),
        PresetCall("GET", "/images/json"),
        PresetCall("GET", "/info"),
        PresetCall("GET", "/secrets"),
        PresetCall("GET", "/events"),
    ]

    @Test(arguments: allowed)
    func allowsWhatHomepageCalls(call: PresetCall) {
        #expect(call.explain(Presets.homepage).verdict == .allow)
    }

    @Test(arguments: denied)
    func deniesLogsControlsAndEverythingElse(call: PresetCall) {
        #expect(call.explain(Presets.homepage).verdict == .deny)
    }
}

/// `read-only`: every GET and HEAD except exfiltration.
struct PresetReadOnlyTests {
    static let allowed: [PresetCall] = [
        PresetCall("GET", "/v1.47/containers/json?all=1"),
        PresetCall("HEAD", "/v1.47/containers/abc/json"),
        PresetCall("GET", "/v1.47/containers/abc/logs?follow=1"),
        PresetCall("GET", "/v1.47/containers/abc/stats"),
        PresetCall("GET", "/v1.47/images/ghcr.io/team/app:1/json"),
        PresetCall("GET", "/v1.47/images/get/json"),
        PresetCall("GET", "/v1.47/info"),
        PresetCall("GET", "/v1.47/events"),
        PresetCall("GET", "/v1.47/volumes"),
        PresetCall("GET", "/v1.47/networks/n1"),
        PresetCall("GET", "/v1.47/exec/e1/json"),
        PresetCall("GET", "/v1.47/distribution/alpine/json"),
        PresetCall("GET", "/v1.47/system/df"),
        PresetCall("GET", "/v1.47/swarmish"),
        PresetCall("GET", "/"),
    ]

    static let denied: [(PresetCall, String)] = [
        (PresetCall("GET", "/v1.47/containers/abc/archive?path=/"), "deny-archive"),
        (PresetCall("HEAD", "/v1.47/containers/abc/archive?path=/"), "deny-archive"),
        (PresetCall("PUT", "/v1.47/containers/abc/archive?path=/"), "deny-archive"),
        (PresetCall("GET", "/v1.47/containers/web/db/archive?path=/"), "deny-archive"),
        (PresetCall("GET", "/v1.47/containers/abc%2Farchive?path=/"), "deny-archive"),
        (PresetCall("GET", "/v1.47/containers/abc/export"), "deny-export"),
        (PresetCall("GET", "/v1.47/containers/web/db/export"), "deny-export"),
        (PresetCall("POST", "/v1.47/containers/abc/attach?stream=1"), "deny-attach"),
        (PresetCall("GET", "/v1.47/containers/abc/attach/ws?stream=1"), "deny-attach"),
        (PresetCall("GET", "/v1.47/images/get?names=alpine"), "deny-image-save"),
        (PresetCall("GET", "/v1.47/images/alpine/get"), "deny-image-save"),
        (PresetCall("GET", "/v1.47/images/ghcr.io/team/app:1/get"), "deny-image-save"),
        (PresetCall("GET", "/v1.47/secrets"), "deny-secrets"),
        (PresetCall("GET", "/v1.47/secrets/s1"), "deny-secrets"),
        (PresetCall("GET", "/v1.47/configs"), "deny-configs"),
        (PresetCall("GET", "/v1.47/configs/c1"), "deny-configs"),
        (PresetCall("GET", "/v1.47/swarm/unlockkey"), "deny-swarm-unlock-key"),
        (PresetCall("GET", "/v1.47/swarm"), "deny-swarm-join-tokens"),
        (PresetCall("POST", "/v1.47/containers/create"), "default-deny"),
        (PresetCall("POST", "/v1.47/containers/abc/exec"), "default-deny"),
        (PresetCall("DELETE", "/v1.47/containers/abc"), "default-deny"),
        (PresetCall("POST", "/v1.47/build"), "default-deny"),
        (PresetCall("OPTIONS", "/v1.47/containers/json"), "default-deny"),
        (PresetCall("GET", "/v1.47/containers/../secrets"), "invalid-target"),
    ]

    @Test(arguments: allowed)
    func allowsEveryOtherRead(call: PresetCall) {
        let explanation = call.explain(Presets.readOnly)
        #expect(explanation.verdict == .allow)
        #expect(explanation.ruleName == "read")
    }

    @Test(arguments: denied)
    func deniesWritesAndEverythingThatCopiesDataOut(call: PresetCall, rule: String) {
        let explanation = call.explain(Presets.readOnly)
        #expect(explanation.verdict == .deny)
        #expect(explanation.ruleName == rule)
    }

    @Test func explainsTheReasonOfAnExfiltrationDenial() {
        let explanation = PresetCall("GET", "/containers/abc/export").explain(Presets.readOnly)
        #expect(explanation.reason == "exporting a container's filesystem is not read-only access")
    }
}
