import SwitchyardCore
import Testing

/// The pure parts of uploads and passthrough: the multipart prefix reader (at every split of
/// the body), WAV headers, media prices and passthrough path patterns.
@Suite struct MediaParsingTests {
    static let body = Array(
        ("preamble\r\n--b0undary\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nwhisper\r\n"
            + "--b0undary\r\nContent-Disposition: form-data; name=\"prompt\"\r\n\r\nline one\r\nline two\r\n"
            + "--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a b.wav\"\r\nContent-Type: audio/wav\r\n\r\nRIFFDATA").utf8)

    @Test func theMultipartPrefixIsReadAtEveryBoundaryOfTheBody() throws {
        #expect(MultipartPrefix.boundary(contentType: "multipart/form-data; boundary=\"b0undary\"") == "b0undary")
        #expect(MultipartPrefix.boundary(contentType: "application/json") == nil)
        #expect(MultipartPrefix.boundary(contentType: "multipart/form-data") == nil)
        let fileStart = Self.body.count - "RIFFDATA".utf8.count
        for split in 0...Self.body.count {
            var parser = MultipartPrefix(boundary: "b0undary")
            let outcome = try parser.parse(Array(Self.body[..<split]))
            if split >= fileStart {
                #expect(outcome == .file, "at \(split)")
                #expect(parser.fields == ["model": "whisper", "prompt": "line one\r\nline two"])
                #expect(parser.file == .init(field: "file", fileName: "a b.wav", contentType: "audio/wav", dataStart: fileStart))
                let range = try #require(parser.ranges["model"])
                #expect(String(decoding: Self.body[range], as: UTF8.self) == "whisper")
            } else {
                #expect(outcome == .needMore, "at \(split)")
            }
        }
    }

    @Test func brokenMultipartBodiesAreRefused() {
        var parser = MultipartPrefix(boundary: "b0undary")
        #expect(throws: GatewayError.self) { try parser.parse([UInt8](repeating: 65, count: 2000)) }
        let nameless = Array("--b0undary\r\nContent-Type: text/plain\r\n\r\nx\r\n--b0undary--".utf8)
        #expect(throws: GatewayError.self) { try parser.parse(nameless) }
        let ended = Array("--b0undary\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nm\r\n--b0undary--\r\n".utf8)
        #expect((try? parser.parse(ended)) == .ended)
    }

    @Test func wavHeadersGiveTheDuration() throws {
        let header = WAVHeader.pcm(sampleRate: 16000, dataSize: 64000)
        let parsed = try #require(WAVHeader(header))
        #expect(parsed.byteRate == 32000 && parsed.dataSize == 64000 && parsed.dataOffset == 44 && parsed.channels == 1)
        #expect(WAVHeader(Array(header.prefix(30))) == nil)
        #expect(WAVHeader(Array("RIFF....WAVEdata\u{0}\u{0}\u{0}\u{0}".utf8)) == nil, "no fmt chunk before data")
        #expect(WAVHeader(Array("ID3 not a wav at all".utf8)) == nil)
    }

    @Test func mediaPricesPickTheMostSpecificEntry() {
        var price = ModelPrice(input: 0, output: 0)
        price.perImage = ["1024x1024": 0.04, "1024x1024/hd": 0.08, "hd": 0.1, "*": 0.02]
        price.perSecond = 0.001
        price.perCharacter = 0.0001
        #expect(price.imagePrice(size: "1024x1024", quality: "HD") == 0.08)
        #expect(price.imagePrice(size: "1024x1024", quality: nil) == 0.04)
        #expect(price.imagePrice(size: "512x512", quality: "hd") == 0.1)
        #expect(price.imagePrice(size: "512x512", quality: "standard") == 0.02)
        #expect(price.cost(of: MediaUsage(images: 3, size: "1024x1024")) == 0.12)
        #expect(price.cost(of: MediaUsage(seconds: 90)) == 0.09)
        #expect(price.cost(of: MediaUsage(characters: 1000)) == 0.1)
        #expect(ModelPrice(input: 1, output: 1).cost(of: MediaUsage(images: 2)) == nil, "no media rate: nothing to add")
    }

    @Test func passthroughPatternsMatchSegmentsAndNeverClimb() {
        let route = PassthroughRoute(provider: "p", paths: ["/models", "/vector_stores/**", "/v1beta/models/*"])
        #expect(route.allows(path: "/models"))
        #expect(!route.allows(path: "/models/extra"))
        #expect(route.allows(path: "/vector_stores"))
        #expect(route.allows(path: "/vector_stores/vs_1/files"))
        #expect(route.allows(path: "/v1beta/models/gemini-2.5-flash:countTokens"))
        #expect(!route.allows(path: "/v1beta/models/a/b"))
        #expect(!route.allows(path: "/vector_stores/../files"))
        #expect(!route.allows(path: "/files"))
    }
}
