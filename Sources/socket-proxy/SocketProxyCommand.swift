// The socket-proxy command: its subcommands, with `serve` as the default.
import ArgumentParser

@main
struct SocketProxyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "socket-proxy",
        abstract: "A policy-checking proxy for the Docker Engine API socket.",
        discussion: """
            Clients speak HTTP to socket-proxy over TCP or a Unix socket; every request is checked against the \
            policy and only what is allowed reaches the Docker socket. Configure it with the environment \
            variables of the tecnativa/docker-socket-proxy image (CONTAINERS=1, POST=0, ...) or the matching \
            switches; a switch wins over its variable.
            """,
        subcommands: [Serve.self, Healthcheck.self, CheckConfig.self, Explain.self],
        defaultSubcommand: Serve.self
    )
}
