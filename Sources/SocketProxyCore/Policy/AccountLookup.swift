// User and group names to ids for policy files, from the system's account database or from a table in tests.
#if canImport(Glibc)
    import Glibc
#endif

/// Turns user and group names into ids. The policy file accepts either; names are looked up once, when it is read.
public struct AccountLookup: Sendable {
    /// The id of a user name, or nil when there is no such user.
    public var user: @Sendable (String) -> UInt32?
    /// The id of a group name, or nil when there is no such group.
    public var group: @Sendable (String) -> UInt32?

    /// Creates a lookup from two functions.
    public init(user: @escaping @Sendable (String) -> UInt32?, group: @escaping @Sendable (String) -> UInt32?) {
        self.user = user
        self.group = group
    }

    /// A lookup that knows exactly these names; for tests and for systems without the names of the host.
    public static func table(users: [String: UInt32], groups: [String: UInt32]) -> AccountLookup {
        AccountLookup(user: { users[$0] }, group: { groups[$0] })
    }

    /// The system's account database (`getpwnam_r`, `getgrnam_r`: /etc/passwd, /etc/group, NSS).
    public static let system = AccountLookup(user: systemUser, group: systemGroup)

    private static func systemUser(_ name: String) -> UInt32? {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>? = nil
        var buffer = [CChar](repeating: 0, count: 16384)
        let status = getpwnam_r(name, &entry, &buffer, buffer.count, &result)
        guard status == 0, result != nil else { return nil }
        return entry.pw_uid
    }

    private static func systemGroup(_ name: String) -> UInt32? {
        var entry = Glibc.group()
        var result: UnsafeMutablePointer<Glibc.group>? = nil
        // Groups with many members need a large buffer for the member list.
        var buffer = [CChar](repeating: 0, count: 65536)
        let status = getgrnam_r(name, &entry, &buffer, buffer.count, &result)
        guard status == 0, result != nil else { return nil }
        return entry.gr_gid
    }
}
