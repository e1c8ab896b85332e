// Listening sockets handed over by systemd (socket activation).
import CSystemd

import CSocketProxyLinux

#if canImport(Glibc)
import Glibc
#endif

/// Reads the sockets systemd passed to this process (`LISTEN_FDS`, `LISTEN_PID`, `LISTEN_FDNAMES`).
public enum SystemdActivation {
    /// The passed listening stream sockets, TCP and Unix, in the order systemd passed them, each made nonblocking
    /// and close-on-exec. Empty when the process was not socket-activated. The environment variables are removed,
    /// so children do not see them. A passed descriptor that is not a listening stream socket is an error.
    public static func listeners() throws(ConfigurationError) -> [ListenerConfiguration] {
        var names: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?
        let count = sd_listen_fds_with_names(1, &names)
        guard count > 0 else {
            if count < 0 {
                throw ConfigurationError("socket activation: \(String(cString: strerror(-count)))")
            }
            return []
        }
        defer {
            if let names {
                for index in 0..<Int(count) { free(names[index]) }
                free(names)
            }
        }
        var result: [ListenerConfiguration] = []
        for index in 0..<Int(count) {
            let fd = SD_LISTEN_FDS_START + Int32(index)
            guard sd_is_socket(fd, AF_UNSPEC, CSocketProxyLinux_SOCK_STREAM, 1) > 0 else {
                throw ConfigurationError(
                    "socket activation: descriptor \(fd) is not a listening stream socket (use ListenStream=)")
            }
            let flags = fcntl(fd, F_GETFL)
            _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            var name = names.flatMap { $0[index] }.map { String(cString: $0) } ?? ""
            let address = Socket.localAddress(FileDescriptor(rawValue: fd))
            if name.isEmpty || name == "unknown" { name = address.description }
            result.append(
                ListenerConfiguration(source: .inherited(FileDescriptor(rawValue: fd), name: "\(name) (\(address))")))
        }
        return result
    }
}
