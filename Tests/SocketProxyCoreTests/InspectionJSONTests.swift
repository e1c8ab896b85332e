// Tests for reading bodies as the daemon's Go decoder does: folded names, escapes, duplicates, strict JSON.
import Testing

@testable import SocketProxyCore

/// JSON tricks a client could use to hide a field from a naive inspector.
struct InspectionJSONTests {
    typealias Kind = InspectionFinding.Kind

    /// Keys Go matches to a field although they are spelled differently.
    static let foldedKeys: [(body: String, field: String, kind: Kind)] = [
        (#"{"HostConfig":{"PRIVILEGED":true}}"#, "HostConfig.Privileged", .privileged),
        (#"{"HostConfig":{"privileged":true}}"#, "HostConfig.Privileged", .privileged),
        (#"{"hostconfig":{"pRiViLeGeD":true}}"#, "HostConfig.Privileged", .privileged),
        (#"{"HostConfig":{"\u0050rivileged":true}}"#, "HostConfig.Privileged", .privileged),
        (#"{"Ho\u0073tConfig":{"Privileged":true}}"#, "HostConfig.Privileged", .privileged),
        (#"{"HostConfig":{"Bind\u017f":["/:/host"]}}"#, "HostConfig.Binds[0]", .bindMount(hostPath: "/")),
        ("{\"HostConfig\":{\"Bind\u{17F}\":[\"/:/host\"]}}", "HostConfig.Binds[0]", .bindMount(hostPath: "/")),
        (#"{"Hoſtconfig":{"ſysctlſ":{"kernel.shmmax":"1"}}}"#, "HostConfig.Sysctls", .sysctl("kernel.shmmax")),
        (#"{"HostConfig":{"Networ\u212aMode":"host"}}"#, "HostConfig.NetworkMode", .hostNamespace("NetworkMode=host")),
        (
            "{\"HostConfig\":{\"Networ\u{212A}Mode\":\"host\"}}", "HostConfig.NetworkMode",
            .hostNamespace("NetworkMode=host")
        ),
        (#"{"HostConfig":{"Mas\u212aedPaths":[]}}"#, "HostConfig.MaskedPaths", .unconfined("MaskedPaths")),
        (
            #"{"HostConfig":{"\u0043\u0061\u0070\u0041\u0064\u0064":["NET_RAW"]}}"#, "HostConfig.CapAdd[0]",
            .capability("NET_RAW")
        ),
    ]

    @Test(arguments: foldedKeys)
    func keysThatGoFoldsToAFieldAreThatField(body: String, field: String, kind: Kind) {
        #expect(InspectionFixture.findings(body) == .success([InspectionFixture.finding(field, kind)]))
    }

    /// Keys Go does not match to any field: no finding, as the daemon ignores them too.
    static let unmatchedKeys = [
        #"{"HostConfig":{"Pr\u0131vileged":true}}"#,  // dotless i folds only to itself in Go
        #"{"HostConfig":{"Pr\u0130vileged":true}}"#,  // dotted capital I likewise
        #"{"HostConfig":{"Ｐrivileged":true}}"#,  // fullwidth P
        #"{"HostConfig":{"Privileged ":true}}"#,
        #"{"HostConfig":{"Privileged\u0000":true}}"#,
        #"{"Host_Config":{"Privileged":true}}"#,
    ]

    @Test(arguments: unmatchedKeys)
    func keysThatGoDoesNotFoldToAFieldAreIgnored(body: String) {
        #expect(InspectionFixture.findings(body) == .success([]))
    }

    /// Repeated keys: the last scalar wins as in Go, where null leaves the earlier value; anything Go would merge,
    /// or two spellings of one field, is refused.
    static let repeatedKeys: [(body: String, privileged: Bool?)] = [
        (#"{"HostConfig":{"Privileged":true,"Privileged":false}}"#, false),
        (#"{"HostConfig":{"Privileged":false,"Privileged":true}}"#, true),
        (#"{"HostConfig":{"Privileged":true,"Privileged":null}}"#, true),
        (#"{"HostConfig":{"Privileged":true,"\u0050rivileged":false}}"#, false),
        (#"{"HostConfig":{"Privileged":false,"privileged":false}}"#, nil),
        (#"{"HostConfig":{"Privileged":true,"PRIVILEGED":false}}"#, nil),
        (#"{"HostConfig":{"Privileged":true},"hostConfig":{}}"#, nil),
        (#"{"HostConfig":{"Privileged":true},"HostConfig":{}}"#, nil),
        (#"{"HostConfig":{"Privileged":true},"HostConfig":null}"#, nil),
        (#"{"HostConfig":{"Privileged":"yes","Privileged":false}}"#, nil),
    ]

    @Test(arguments: repeatedKeys)
    func repeatedKeysResolveAsGoDoesOrAreRefused(body: String, privileged: Bool?) {
        switch privileged {
        case .some(true):
            #expect(
                InspectionFixture.findings(body)
                    == .success([InspectionFixture.finding("HostConfig.Privileged", .privileged)]))
        case .some(false):
            #expect(InspectionFixture.findings(body) == .success([]))
        case .none:
            #expect(InspectionFixture.status(InspectionFixture.findings(body)) == 400)
        }
    }

    @Test func aRepeatedArrayIsRefusedBecauseGoMergesItElementByElement() {
        // Go decodes the second array into the first one's elements: [null] leaves "/:/h" in place.
        let result = InspectionFixture.findings(#"{"HostConfig":{"Binds":["/:/h"],"Binds":[null]}}"#)
        #expect(InspectionFixture.status(result) == 400)
    }

    @Test func theAmbiguityErrorNamesBothSpellings() {
        #expect(
            InspectionFixture.findings(#"{"HostConfig":{"Privileged":false,"privileged":true}}"#)
                == .failure(
                    InspectionError(
                        status: 400,
                        reason:
                            #"ambiguous: duplicate keys differing only by case: "Privileged" and "privileged" in HostConfig"#
                    )))
    }

    @Test func aRepeatedMapKeyResolvesToTheLastValue() {
        let bind = #"{"Driver":"local","DriverOpts":{"o":"size=1m","o":"bind","type":"none","device":"/etc"}}"#
        let tmpfs = #"{"Driver":"local","DriverOpts":{"o":"bind","o":"size=1m","type":"tmpfs","device":"/etc"}}"#
        #expect(
            InspectionFixture.findings(bind, endpoint: .volumeCreate)
                == .success([InspectionFixture.finding("DriverOpts.device", .bindMount(hostPath: "/etc"))]))
        #expect(InspectionFixture.findings(tmpfs, endpoint: .volumeCreate) == .success([]))
    }

    @Test func mapKeysAreNotFoldedIntoFields() {
        let body = #"""
            {"Image":"busybox","Labels":{"Privileged":"true","HostConfig":"{\"Privileged\":true}","Binds":"/:/host","NetworkMode":"host"},
             "Config":{"HostConfig":{"Privileged":true}},
             "HostConfig":{"LogConfig":{"Type":"json-file","Config":{"Privileged":"true","CapAdd":"ALL"}},
                           "StorageOpt":{"Binds":"/"},"Annotations":{"Privileged":"true"},
                           "Resources":{"Devices":[{"PathOnHost":"/dev/sda"}]},
                           "Unknown":{"Privileged":true,"Binds":["/:/host"]}}}
            """#
        #expect(InspectionFixture.findings(body) == .success([]))
        #expect(
            InspectionFixture.findings(#"{"Labels":{"o":"bind","device":"/"}}"#, endpoint: .volumeCreate)
                == .success([]))
    }

    @Test(arguments: [
        #"{"HostConfig":null,"Privileged":null,"Binds":null}"#,
        #"{"HostConfig":{"Binds":null,"CapAdd":null,"Sysctls":null,"Mounts":null,"SecurityOpt":null,"MaskedPaths":null,"Devices":null,"NetworkMode":null,"Runtime":null}}"#,
        #"{"HostConfig":{"Binds":[null],"Mounts":[null],"CapAdd":[],"SecurityOpt":[null]}}"#,
    ])
    func nullMeansAbsent(body: String) {
        #expect(InspectionFixture.findings(body) == .success([]))
    }

    @Test func escapesAndSurrogatePairsAreDecodedInValues() {
        let body = #"{"HostConfig":{"Binds":["\/srv\/\ud83d\ude00:\/x"],"NetworkMode":"\u0068ost"}}"#
        #expect(
            InspectionFixture.findings(body)
                == .success([
                    InspectionFixture.finding("HostConfig.Binds[0]", .bindMount(hostPath: "/srv/\u{1F600}")),
                    InspectionFixture.finding("HostConfig.NetworkMode", .hostNamespace("NetworkMode=host")),
                ]))
    }

    @Test(arguments: [
        #"{"Image":"\ud83d"}"#, #"{"Image":"\ude00"}"#, #"{"Image":"\ud83d\u0041"}"#, #"{"Image":"\ud83dx"}"#,
        #"{"\ud83d":1}"#,
    ])
    func loneSurrogateEscapesAreRefused(body: String) {
        #expect(InspectionFixture.status(InspectionFixture.findings(body)) == 400)
    }

    /// Byte sequences that are not UTF-8 (Go would turn each into U+FFFD).
    static let invalidUTF8: [[UInt8]] = [
        [0xFF], [0xC0, 0xAF], [0xC1, 0xBF], [0xE0, 0x80, 0xAF], [0xED, 0xA0, 0x80], [0xE2, 0x82],
        [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0x80], [0xC3],
    ]

    @Test(arguments: invalidUTF8)
    func invalidUTF8InAValueOrKeyIsRefused(sequence: [UInt8]) {
        let value = Array(#"{"Image":""#.utf8) + sequence + Array(#""}"#.utf8)
        let key = Array(#"{""#.utf8) + sequence + Array(#"":1}"#.utf8)
        #expect(InspectionFixture.status(InspectionFixture.findings(bytes: value)) == 400)
        #expect(InspectionFixture.status(InspectionFixture.findings(bytes: key)) == 400)
    }

    @Test func wellFormedUTF8IsAccepted() {
        #expect(InspectionFixture.findings(#"{"Image":"é€😀\u00e9","Labels":{"ключ":"值"}}"#) == .success([]))
    }

    @Test(arguments: [
        #"{}{}"#, #"{} x"#, #"{}]"#, #"{}}"#, #"{"HostConfig":{}}{"HostConfig":{"Privileged":true}}"#, "{}\u{0}",
    ])
    func dataAfterTheValueIsRefused(body: String) {
        #expect(InspectionFixture.status(InspectionFixture.findings(body)) == 400)
    }

    @Test(arguments: ["{}", " {} ", "\n\t{}\r\n"])
    func whitespaceAroundTheValueIsFine(body: String) {
        #expect(InspectionFixture.findings(body) == .success([]))
    }

    static func nested(depth: Int) -> String {
        #"{"Labels":{},"Nest":"# + String(repeating: "[", count: depth - 1) + String(repeating: "]", count: depth - 1)
            + "}"
    }

    @Test func nestingUpToTheLimitIsFine() {
        #expect(InspectionFixture.findings(Self.nested(depth: JSONParser.maximumDepth)) == .success([]))
    }

    @Test func nestingBeyondTheLimitIsRefused() {
        #expect(
            InspectionFixture.status(InspectionFixture.findings(Self.nested(depth: JSONParser.maximumDepth + 1))) == 400
        )
        #expect(InspectionFixture.status(InspectionFixture.findings(String(repeating: "[", count: 100_000))) == 400)
    }

    @Test(arguments: ["[]", #""x""#, "1", "null", "true", #"[{"Privileged":true}]"#])
    func aTopLevelOtherThanAnObjectIsRefused(body: String) {
        for endpoint in [
            InspectedEndpoint.containerCreate, .containerUpdate, .execCreate, .volumeCreate, .serviceCreate,
        ] {
            #expect(InspectionFixture.status(InspectionFixture.findings(body, endpoint: endpoint)) == 400)
        }
    }

    @Test(arguments: [
        #"{"HostConfig":{"Privileged":"true"}}"#, #"{"HostConfig":{"Privileged":1}}"#, #"{"HostConfig":[]}"#,
        #"{"HostConfig":"x"}"#, #"{"HostConfig":{"Binds":"/:/host"}}"#, #"{"HostConfig":{"Binds":[1]}}"#,
        #"{"HostConfig":{"Sysctls":{"a":1}}}"#, #"{"HostConfig":{"Mounts":[1]}}"#,
        #"{"HostConfig":{"NetworkMode":true}}"#,
        #"{"HostConfig":{"CapAdd":{"a":"b"}}}"#, #"{"HostConfig":{"MaskedPaths":"x"}}"#,
    ])
    func aWrongTypeInAnInspectedFieldIsRefused(body: String) {
        #expect(InspectionFixture.status(InspectionFixture.findings(body)) == 400)
    }

    /// Text that is not RFC 8259 JSON.
    static let notJSON = [
        #"{"a":01}"#, #"{"a":1.}"#, #"{"a":-}"#, #"{"a":+1}"#, #"{"a":.5}"#, #"{"a":1e}"#, #"{"a":NaN}"#,
        #"{"a":tru}"#, #"{"a":nul}"#, #"{"a":True}"#, "{\"a\":\"x\ty\"}", "{\"a\":\"x\ny\"}", #"{"a":"\x"}"#,
        #"{"a":"\u12"}"#, #"{'a':1}"#, #"{"a":1,}"#, #"{"a":[1,]}"#, #"{"a" 1}"#, #"{"a":1 "b":2}"#, "{", #"""#,
        #"{"a":"x}"#, "\u{FEFF}{}", #"{"a":1}/**/"#, #"{a:1}"#, " ", "\t\n",
    ]

    @Test(arguments: notJSON)
    func textThatIsNotJSONIsRefused(body: String) {
        #expect(InspectionFixture.status(InspectionFixture.findings(body)) == 400)
    }

    @Test func everyJSONValueKindParses() {
        let body =
            #"{"a":-0.5e+10,"b":[],"c":{},"d":"\"\\\/\b\f\n\r\t\u00e9","e":true,"f":false,"g":null,"h":0,"i":1E-2,"":[[{}]]}"#
        #expect(InspectionFixture.findings(body) == .success([]))
    }
}
