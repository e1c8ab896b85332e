// Tests for PathTemplate: parsing errors that name the problem, and matching on normalised paths.
import Testing

@testable import SocketProxyCore

/// `PathTemplate` parsing and matching.
struct PathTemplateTests {
    /// Templates and the problem the error names after `path template "<text>": `.
    static let invalid: [(String, String)] = [
        ("", "must start with \"/\""),
        ("containers", "must start with \"/\""),
        ("/containers//json", "has an empty segment (\"//\" or a trailing \"/\")"),
        ("/containers/", "has an empty segment (\"//\" or a trailing \"/\")"),
        ("/containers/../x", "has a dot segment, which never matches a normalised path"),
        ("/./x", "has a dot segment, which never matches a normalised path"),
        ("/containers/{}", "has a variable without a name"),
        ("/containers/{...}", "has a variable without a name"),
        ("/containers/{rest...}/x", "{rest...} must be the last segment"),
        ("/containers/x{id}", "a variable must be a whole segment, written {name} or {name...}"),
        ("/containers/{id}x", "a variable must be a whole segment, written {name} or {name...}"),
        ("/containers/{id", "a variable must be a whole segment, written {name} or {name...}"),
        ("/containers/id}", "a variable must be a whole segment, written {name} or {name...}"),
        ("/containers/{{id}}", "a variable must be a whole segment, written {name} or {name...}"),
        ("/containers/{a b}", "variable name \"a b\" must be letters, digits or \"_\""),
        ("/containers/{id..}", "variable name \"id..\" must be letters, digits or \"_\""),
        ("/containers/{id}/{id}", "names the variable \"id\" twice"),
        ("/x/{id}/{id...}", "names the variable \"id\" twice"),
        ("/v1.41/containers", "starts with a version prefix; paths are matched without it"),
        ("/v1", "starts with a version prefix; paths are matched without it"),
        ("/a\u{01}", "has a control character"),
    ]

    @Test(arguments: invalid)
    func refusesATemplateNamingTheProblem(text: String, problem: String) {
        #expect(throws: ConfigurationError("path template \"\(text)\": \(problem)")) { try PathTemplate(parsing: text) }
    }

    static let matching: [(String, String, Bool)] = [
        ("/_ping", "/_ping", true),
        ("/_ping", "/_ping/x", false),
        ("/_ping", "/_pin", false),
        ("/_ping", "/_pingx", false),
        ("/_ping", "/_PING", false),
        ("/_ping", "/", false),
        ("/", "/", true),
        ("/", "/x", false),
        ("/containers/{id}/start", "/containers/abc/start", true),
        ("/containers/{id}/start", "/containers/a.b_c-d/start", true),
        ("/containers/{id}/start", "/containers/abc/start/x", false),
        ("/containers/{id}/start", "/containers/abc/startx", false),
        ("/containers/{id}/start", "/containers/abc", false),
        ("/containers/{id}/start", "/containers/start", false),
        ("/containers/{id}/start", "/containers/a/b/start", false),
        ("/containers/{id}/start", "/containers//start", false),
        ("/containers/{id}", "/containers/", false),
        ("/containers/{id}", "/containers", false),
        ("/containers/{rest...}", "/containers", true),
        ("/containers/{rest...}", "/containers/json", true),
        ("/containers/{rest...}", "/containers/a/b/c", true),
        ("/containers/{rest...}", "/containersX/json", false),
        ("/containers/{rest...}", "/containersX", false),
        ("/containers/{rest...}", "/container", false),
        ("/containers/{rest...}", "/Containers/json", false),
        ("/containers/{rest...}", "/", false),
        ("/containers/{rest...}", "", false),
        ("/containers/{rest...}", "containers", false),
        ("/{rest...}", "/", true),
        ("/{rest...}", "/anything/at/all", true),
        ("/{id}", "/", false),
        ("/{id}", "/x", true),
        ("/containers/{id}/attach/ws", "/containers/x/attach/ws", true),
        ("/containers/{id}/attach", "/containers/x/attach/ws", false),
        ("/containers/{id}/attach/ws", "/containers/x/attach", false),
        ("/images/{name...}", "/images/registry.example/team/app/json", true),
    ]

    @Test(arguments: matching)
    func matchesNormalisedPaths(template: String, path: String, expected: Bool) throws {
        let parsed = try PathTemplate(parsing: template)
        let matched = Array(path.utf8).withUnsafeBytes { parsed.matches($0) }
        #expect(matched == expected)
    }

    static let sections: [(String, Section?)] = [
        ("/containers/{id}/start", .containers),
        ("/containers", .containers),
        ("/_ping", .ping),
        ("/exec/{id}/start", .exec),
        ("/{rest...}", nil),
        ("/{section}/json", nil),
        ("/containersX/json", nil),
        ("/Containers/json", nil),
        ("/", nil),
    ]

    @Test(arguments: sections)
    func namesTheSectionOfALiteralFirstSegment(template: String, section: Section?) throws {
        #expect(try PathTemplate(parsing: template).section == section)
    }

    @Test func describesItselfAsWritten() throws {
        #expect(try PathTemplate(parsing: "/containers/{id}/start").description == "/containers/{id}/start")
    }

    @Test func equalTemplatesCompareEqual() throws {
        #expect(try PathTemplate(parsing: "/a/{id}") == PathTemplate(parsing: "/a/{id}"))
        #expect(try PathTemplate(parsing: "/a/{id}") != PathTemplate(parsing: "/a/{rest...}"))
    }
}
