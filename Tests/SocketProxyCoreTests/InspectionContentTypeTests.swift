// Tests for the Content-Type check: Go's mime.ParseMediaType grammar and the daemon's application/json rule.
import Testing

@testable import SocketProxyCore

/// Content-Type values with and without a body.
struct InspectionContentTypeTests {
    static let body = #"{"Image":"busybox"}"#

    @Test(arguments: [
        "application/json", "application/json; charset=utf-8", "Application/JSON", "APPLICATION/JSON;CHARSET=UTF-8",
        #"application/json; charset="utf-8""#, "application/json;", "application/json ; charset=utf-8 ;",
        " application/json ", "application/json; charset=utf-16", #"application/json; a="" ; b=1"#,
        "application/json; a=1; a=1", #"application/json; a="x\"y""#,
    ])
    func jsonMediaTypesAreAccepted(contentType: String) {
        #expect(InspectionFixture.findings(Self.body, contentType: contentType) == .success([]))
    }

    @Test(arguments: [
        "text/plain", "application/x-www-form-urlencoded", "application/json-seq", "application/jsonx",
        "application", "text/json", "application/problem+json", "multipart/form-data; boundary=x",
    ])
    func otherMediaTypesAreUnsupported(contentType: String) {
        #expect(
            InspectionFixture.findings(Self.body, contentType: contentType)
                == .failure(
                    InspectionError(
                        status: 415,
                        reason: "unsupported Content-Type header (\(contentType)): must be 'application/json'")))
    }

    @Test(arguments: [
        "application/json; charset", "/json", "application/", "application/json/x", "application json",
        "application/json; a=1; a=2", #"application/json; charset="utf-8"#, "application/json; =x",
        "application/json; ;",
        "application/json; charset=utf 8", "applİcation/json", "application/json x", "@/json",
    ])
    func malformedMediaTypesAreBadRequests(contentType: String) {
        #expect(InspectionFixture.status(InspectionFixture.findings(Self.body, contentType: contentType)) == 400)
    }

    @Test(arguments: [nil, "", "  "] as [String?])
    func aBodyWithoutAContentTypeIsUnsupported(contentType: String?) {
        #expect(InspectionFixture.status(InspectionFixture.findings(Self.body, contentType: contentType)) == 415)
    }

    @Test(arguments: [nil, "", "application/json"] as [String?])
    func anEmptyBodyAsksForNothing(contentType: String?) {
        for endpoint in InspectedEndpoint.allCases {
            #expect(InspectionFixture.findings("", endpoint: endpoint, contentType: contentType) == .success([]))
        }
    }

    @Test func anEmptyBodyWithAnotherContentTypeIsStillRefusedAsTheDaemonDoes() {
        #expect(InspectionFixture.status(InspectionFixture.findings("", contentType: "text/plain")) == 415)
        #expect(InspectionFixture.status(InspectionFixture.findings("", contentType: "application/json; x")) == 400)
    }

    @Test func theVerdictCarriesTheStatus() {
        #expect(
            InspectionFixture.verdict(Self.body, contentType: "text/plain")
                == .invalid(
                    status: 415, reason: "unsupported Content-Type header (text/plain): must be 'application/json'"))
    }

    @Test(arguments: [
        ("application/json", "application/json"), ("Application/JSON; charset=utf-8", "application/json"),
        ("text/plain", "text/plain"), ("multipart/form-data; boundary=\"a b\"", "multipart/form-data"),
        ("application", "application"),
    ])
    func theMediaTypeIsLowerCasedWithoutParameters(value: String, mediaType: String) {
        #expect(MediaType.parse(value) == .success(mediaType))
    }
}
